/* JSON scanning and sub-document paths: see jsonpath.h. */
#include "server/jsonpath.h"

#include <string.h>

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

size_t dv_json_ws(const char *p, size_t n, size_t i)
{
    while (i < n && is_ws(p[i])) i++;
    return i;
}

/* Length of the well-formed UTF-8 sequence (2..4 bytes) at p, 0 if there is none. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; /* up to U+10FFFF */
    } else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if ((p[k] & 0xC0) != 0x80) return 0;
    return len;
}

int dv_json_utf8_valid(const char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        if ((unsigned char)p[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = utf8_len((const unsigned char *)p + i, n - i);
        if (!len) return 0;
        i += len;
    }
    return 1;
}

/* The string whose opening quote is p[*i]; *i moves past the closing quote. */
static int scan_string(const char *p, size_t n, size_t *i)
{
    size_t k = *i + 1;
    while (k < n) {
        unsigned char c = (unsigned char)p[k];
        if (c == '"') {
            *i = k + 1;
            return DV_JSON_OK;
        }
        if (c < 0x20) return DV_JSON_EINVAL;
        if (c == '\\') {
            if (++k >= n) return DV_JSON_EINVAL;
            c = (unsigned char)p[k];
            if (c == 'u') {
                if (n - k < 5) return DV_JSON_EINVAL;
                for (size_t h = 1; h <= 4; h++)
                    if (!is_hex(p[k + h])) return DV_JSON_EINVAL;
                k += 5;
            } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                       c == 'r' || c == 't') {
                k++;
            } else {
                return DV_JSON_EINVAL;
            }
        } else if (c < 0x80) {
            k++;
        } else {
            size_t len = utf8_len((const unsigned char *)p + k, n - k);
            if (!len) return DV_JSON_EINVAL;
            k += len;
        }
    }
    return DV_JSON_EINVAL;
}

/* The number at p[*i]; *integer is set when it has no fraction and no exponent. */
static int scan_number(const char *p, size_t n, size_t *i, int *integer)
{
    size_t k = *i;
    *integer = 1;
    if (k < n && p[k] == '-') k++;
    if (k >= n) return DV_JSON_EINVAL;
    if (p[k] == '0')
        k++;
    else if (p[k] >= '1' && p[k] <= '9')
        while (k < n && is_digit(p[k])) k++;
    else
        return DV_JSON_EINVAL;
    if (k < n && p[k] == '.') {
        *integer = 0;
        if (++k >= n || !is_digit(p[k])) return DV_JSON_EINVAL;
        while (k < n && is_digit(p[k])) k++;
    }
    if (k < n && (p[k] == 'e' || p[k] == 'E')) {
        *integer = 0;
        if (++k < n && (p[k] == '+' || p[k] == '-')) k++;
        if (k >= n || !is_digit(p[k])) return DV_JSON_EINVAL;
        while (k < n && is_digit(p[k])) k++;
    }
    *i = k;
    return DV_JSON_OK;
}

static int scan_literal(const char *p, size_t n, size_t *i, const char *lit, size_t len)
{
    if (n - *i < len || memcmp(p + *i, lit, len) != 0) return DV_JSON_EINVAL;
    *i += len;
    return DV_JSON_OK;
}

/* A primitive (string, number, literal) at p[*i]. */
static int scan_primitive(const char *p, size_t n, size_t *i)
{
    int integer;
    switch (p[*i]) {
    case '"':
        return scan_string(p, n, i);
    case 't':
        return scan_literal(p, n, i, "true", 4);
    case 'f':
        return scan_literal(p, n, i, "false", 5);
    case 'n':
        return scan_literal(p, n, i, "null", 4);
    default:
        return scan_number(p, n, i, &integer);
    }
}

int dv_json_scan(const char *p, size_t n, size_t i, unsigned level, unsigned max_level, size_t *end)
{
    /* One bit per open container: 1 = object. */
    uint8_t objects[DV_JSON_MAX_LEVELS / 8];
    unsigned d = 0; /* open containers */
    enum { VALUE, KEY, AFTER } st = VALUE;
    if (max_level > DV_JSON_MAX_LEVELS) max_level = DV_JSON_MAX_LEVELS;
    if (level == 0) level = 1;
    for (;;) {
        if (st == VALUE) {
            if (i >= n) return DV_JSON_EINVAL;
            if (level + d > max_level) return DV_JSON_EDEPTH;
            char c = p[i];
            if (c == '{' || c == '[') {
                if (c == '{')
                    objects[d / 8] |= (uint8_t)(1u << (d % 8));
                else
                    objects[d / 8] &= (uint8_t) ~(1u << (d % 8));
                d++;
                i = dv_json_ws(p, n, i + 1);
                if (i >= n) return DV_JSON_EINVAL;
                if (p[i] == (c == '{' ? '}' : ']')) {
                    i++;
                    d--;
                    st = AFTER;
                } else {
                    st = c == '{' ? KEY : VALUE;
                }
                continue;
            }
            int rc = scan_primitive(p, n, &i);
            if (rc != DV_JSON_OK) return rc;
            st = AFTER;
        } else if (st == KEY) {
            if (i >= n || p[i] != '"') return DV_JSON_EINVAL;
            int rc = scan_string(p, n, &i);
            if (rc != DV_JSON_OK) return rc;
            i = dv_json_ws(p, n, i);
            if (i >= n || p[i] != ':') return DV_JSON_EINVAL;
            i = dv_json_ws(p, n, i + 1);
            st = VALUE;
        } else {
            if (d == 0) {
                *end = i;
                return DV_JSON_OK;
            }
            int obj = (objects[(d - 1) / 8] >> ((d - 1) % 8)) & 1;
            i = dv_json_ws(p, n, i);
            if (i >= n) return DV_JSON_EINVAL;
            if (p[i] == ',') {
                i = dv_json_ws(p, n, i + 1);
                st = obj ? KEY : VALUE;
            } else if (p[i] == (obj ? '}' : ']')) {
                i++;
                d--;
            } else {
                return DV_JSON_EINVAL;
            }
        }
    }
}

int dv_json_validate(const char *p, size_t n, unsigned max_level, size_t *start, size_t *end)
{
    size_t i = dv_json_ws(p, n, 0), e;
    int rc = dv_json_scan(p, n, i, 1, max_level, &e);
    if (rc != DV_JSON_OK) return rc;
    if (dv_json_ws(p, n, e) != n) return DV_JSON_EINVAL;
    if (start) *start = i;
    if (end) *end = e;
    return DV_JSON_OK;
}

int dv_json_validate_list(const char *p, size_t n, unsigned max_level)
{
    size_t i = dv_json_ws(p, n, 0);
    for (;;) {
        size_t e;
        int rc = dv_json_scan(p, n, i, 1, max_level, &e);
        if (rc != DV_JSON_OK) return rc;
        i = dv_json_ws(p, n, e);
        if (i == n) return DV_JSON_OK;
        if (p[i] != ',') return DV_JSON_EINVAL;
        i = dv_json_ws(p, n, i + 1);
    }
}

/* Iterator states. */
enum { IT_FIRST, IT_NEED_CHILD, IT_IN_CHILD, IT_AT_CLOSE, IT_END };

void dv_json_iter_init(dv_json_iter *it, const char *p, size_t n, size_t start, unsigned level)
{
    it->p = p;
    it->n = n;
    it->i = start + 1;
    it->count = 0;
    it->level = level;
    it->close = start < n && p[start] == '{' ? '}' : ']';
    it->state = IT_FIRST;
}

int dv_json_iter_next(dv_json_iter *it, dv_json_child *c)
{
    const char *p = it->p;
    size_t n = it->n;
    if (it->state == IT_END) return 0;
    if (it->state == IT_IN_CHILD) return DV_JSON_EINVAL; /* not skipped */
    size_t i = dv_json_ws(p, n, it->i);
    if (i >= n) return DV_JSON_EINVAL;
    if (it->state == IT_AT_CLOSE || (it->state == IT_FIRST && p[i] == it->close)) {
        it->i = i + 1;
        it->state = IT_END;
        return 0;
    }
    if (it->close == '}') {
        if (p[i] != '"') return DV_JSON_EINVAL;
        c->kstart = i;
        int rc = scan_string(p, n, &i);
        if (rc != DV_JSON_OK) return rc;
        c->kend = i;
        i = dv_json_ws(p, n, i);
        if (i >= n || p[i] != ':') return DV_JSON_EINVAL;
        i = dv_json_ws(p, n, i + 1);
        if (i >= n) return DV_JSON_EINVAL;
    } else {
        c->kstart = c->kend = i;
    }
    c->vstart = i;
    it->i = i;
    it->count++;
    it->state = IT_IN_CHILD;
    return 1;
}

int dv_json_iter_skip(dv_json_iter *it, size_t *vend)
{
    if (it->state != IT_IN_CHILD) return DV_JSON_EINVAL;
    size_t e;
    int rc = dv_json_scan(it->p, it->n, it->i, it->level + 1, DV_JSON_DOC_LEVELS, &e);
    if (rc != DV_JSON_OK) return rc;
    if (vend) *vend = e;
    size_t i = dv_json_ws(it->p, it->n, e);
    if (i >= it->n) return DV_JSON_EINVAL;
    if (it->p[i] == ',') {
        it->i = i + 1;
        it->state = IT_NEED_CHILD;
    } else if (it->p[i] == it->close) {
        it->i = i;
        it->state = IT_AT_CLOSE;
    } else {
        return DV_JSON_EINVAL;
    }
    return DV_JSON_OK;
}

/* ---- paths ---- */

static int add_index(dv_path *path, int64_t index)
{
    if (path->n == DV_PATH_MAX_COMPONENTS) return DV_PATH_E2BIG;
    dv_path_comp *c = &path->c[path->n++];
    c->key = NULL;
    c->nkey = 0;
    c->index = index;
    c->is_index = 1;
    return DV_PATH_OK;
}

/* A bracketed index: the digits (or "-1") between '[' and ']'. */
static int add_num(dv_path *path, const char *s, size_t n)
{
    if (n == 2 && s[0] == '-' && s[1] == '1') return add_index(path, -1);
    if (n == 0) return DV_PATH_EINVAL;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) return DV_PATH_EINVAL;
        if (v > (INT64_MAX - (s[i] - '0')) / 10) return DV_PATH_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    return add_index(path, v);
}

/* A name; nbt is the number of backticks in it. A name quoted as a whole loses its quotes,
 * then `` becomes ` and lone backticks (quoting a part) disappear. */
static int add_name(dv_path *path, const char *s, size_t n, int nbt)
{
    if (n > 1 && s[0] == '`' && s[n - 1] == '`') {
        s++;
        n -= 2;
        nbt -= 2;
    }
    if (path->n == DV_PATH_MAX_COMPONENTS) return DV_PATH_E2BIG;
    if (n == 0) return DV_PATH_EINVAL;
    if (nbt > 0) {
        if (n > DV_PATH_BUF - path->used) return DV_PATH_E2BIG;
        char *out = path->buf + path->used;
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i] != '`')
                out[o++] = s[i];
            else if (i + 1 < n && s[i + 1] == '`')
                out[o++] = s[i++];
        }
        path->used += o;
        s = out;
        n = o;
    }
    dv_path_comp *c = &path->c[path->n++];
    c->key = s;
    c->nkey = n;
    c->index = 0;
    c->is_index = 0;
    return DV_PATH_OK;
}

/* A name starting at s: up to '.', '[' or the end, outside backticks. *used is how much of s
 * it took (a terminating '.' included). */
static int parse_name(dv_path *path, const char *s, size_t n, size_t *used)
{
    int in_quote = 0, in_escape = 0, nbt = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (in_escape) {
            /* JSON escapes are kept as written; \u is not supported in paths */
            if (!(c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                  c == 'r' || c == 't'))
                return DV_PATH_EINVAL;
            in_escape = 0;
        } else if (c == '\\') {
            in_escape = 1;
        } else if (c == '"' || c < 0x20) {
            return DV_PATH_EINVAL;
        }
        if (c == '`') {
            nbt++;
            in_quote = !in_quote;
        }
        if (in_quote) continue;
        if (c == ']') return DV_PATH_EINVAL;
        if (c == '[' || c == '.') {
            if (in_escape) return DV_PATH_EINVAL;
            *used = i + (c == '.');
            return add_name(path, s, i, nbt);
        }
    }
    if (in_quote || in_escape) return DV_PATH_EINVAL;
    *used = n;
    return add_name(path, s, n, nbt);
}

int dv_path_parse(dv_path *path, const char *s, size_t n)
{
    path->n = 0;
    path->used = 0;
    /* Names are copied into documents as keys: they must be valid UTF-8. */
    if (!dv_json_utf8_valid(s, n)) return DV_PATH_EINVAL;
    size_t i = 0;
    while (i < n) {
        int rc;
        if (s[i] == '[') {
            size_t j = i + 1;
            while (j < n && s[j] != ']') j++;
            if (j >= n) return DV_PATH_EINVAL;
            rc = add_num(path, s + i + 1, j - i - 1);
            if (rc != DV_PATH_OK) return rc;
            i = j + 1;
            if (i < n) {
                if (s[i] == '.')
                    i++;
                else if (s[i] != '[')
                    return DV_PATH_EINVAL;
            }
        } else {
            size_t used = 0;
            rc = parse_name(path, s + i, n - i, &used);
            if (rc != DV_PATH_OK) return rc;
            i += used;
        }
    }
    return DV_PATH_OK;
}

/* ---- finding ---- */

int dv_json_find(const char *p, size_t n, size_t root, const dv_path *path, size_t ncomp,
                 dv_json_hit *hit)
{
    memset(hit, 0, sizeof *hit);
    size_t cur = root, kstart = root;
    unsigned level = 1;
    if (ncomp > path->n) ncomp = path->n;
    if (cur >= n) return DV_JSON_EINVAL;
    for (size_t k = 0; k < ncomp; k++) {
        const dv_path_comp *comp = &path->c[k];
        char t = p[cur];
        if (t != '{' && t != '[') return DV_JSON_MISMATCH;
        if ((t == '[') != (comp->is_index != 0)) return DV_JSON_MISMATCH;
        dv_json_iter it;
        dv_json_iter_init(&it, p, n, cur, level);
        dv_json_child c = {0, 0, 0}, last = {0, 0, 0};
        int rc, got = 0, have_last = 0;
        while ((rc = dv_json_iter_next(&it, &c)) == 1) {
            if (t == '{') {
                size_t nk = c.kend - c.kstart - 2;
                if (nk == comp->nkey && memcmp(p + c.kstart + 1, comp->key, nk) == 0) got = 1;
            } else if (comp->index >= 0) {
                if ((uint64_t)comp->index == it.count - 1) got = 1;
            } else {
                last = c;
                have_last = 1;
            }
            if (got) break;
            if ((rc = dv_json_iter_skip(&it, NULL)) != DV_JSON_OK) return rc;
        }
        if (rc < 0) return rc;
        if (!got && have_last) {
            c = last;
            got = 1;
        }
        if (!got) {
            hit->depth = k;
            hit->cstart = cur;
            hit->cend = it.i;
            hit->ccount = it.count;
            hit->clevel = level;
            hit->ctype = t;
            return DV_JSON_OK;
        }
        kstart = c.kstart;
        cur = c.vstart;
        level++;
    }
    hit->found = 1;
    hit->depth = ncomp;
    hit->vstart = cur;
    hit->kstart = kstart;
    hit->vlevel = level;
    return DV_JSON_OK;
}

int dv_json_int64(const char *p, size_t n, size_t i, int64_t *out)
{
    size_t e = i;
    int integer;
    if (i >= n || (p[i] != '-' && !is_digit(p[i]))) return DV_JSON_MISMATCH;
    if (scan_number(p, n, &e, &integer) != DV_JSON_OK || !integer) return DV_JSON_MISMATCH;
    int neg = p[i] == '-';
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (size_t k = i + (size_t)neg; k < e; k++) {
        uint64_t d = (uint64_t)(p[k] - '0');
        if (v > (lim - d) / 10) return DV_JSON_ERANGE;
        v = v * 10 + d;
    }
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return DV_JSON_OK;
}
