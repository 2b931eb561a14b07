/* Collections manifests: parse, render, look up. JSON through jansson. */
#include "topology/manifest.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/errmsg.h"

#define DEFAULT_NAME "_default"

int dv_manifest_name_valid(const char *name, size_t len, int user_created)
{
    if (!name || len == 0 || len > DV_MANIFEST_NAME_MAX) return 0;
    if (user_created && (name[0] == '_' || name[0] == '%')) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '%'))
            return 0;
    }
    return 1;
}

/* ---- model ------------------------------------------------------------------------------ */

void dv_manifest_free(dv_manifest *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nscopes; i++) {
        dv_scope *s = &m->scopes[i];
        for (size_t k = 0; k < s->ncollections; k++) dv_free(s->collections[k].name);
        dv_free(s->collections);
        dv_free(s->name);
    }
    dv_free(m->scopes);
    dv_free(m);
}

/* Grow an array of n elements of size sz by one zeroed element; NULL on failure. */
static void *grow(void **arr, size_t *n, size_t sz)
{
    if (*n >= SIZE_MAX / sz - 1) return NULL;
    char *p = dv_realloc(*arr, (*n + 1) * sz);
    if (!p) return NULL;
    *arr = p;
    memset(p + *n * sz, 0, sz);
    return p + (*n)++ * sz;
}

dv_scope *dv_manifest_add_scope(dv_manifest *m, const char *name, uint32_t uid)
{
    char *copy = dv_strdup(name);
    dv_scope *s = copy ? grow((void **)&m->scopes, &m->nscopes, sizeof *s) : NULL;
    if (!s) {
        dv_free(copy);
        return NULL;
    }
    s->name = copy;
    s->uid = uid;
    return s;
}

dv_collection *dv_manifest_add_collection(dv_scope *scope, const char *name, uint32_t uid)
{
    char *copy = dv_strdup(name);
    dv_collection *c =
        copy ? grow((void **)&scope->collections, &scope->ncollections, sizeof *c) : NULL;
    if (!c) {
        dv_free(copy);
        return NULL;
    }
    c->name = copy;
    c->uid = uid;
    return c;
}

dv_manifest *dv_manifest_new_default(void)
{
    dv_manifest *m = dv_calloc(1, sizeof *m);
    if (!m) return NULL;
    dv_scope *s = dv_manifest_add_scope(m, DEFAULT_NAME, 0);
    if (!s || !dv_manifest_add_collection(s, DEFAULT_NAME, 0)) {
        dv_manifest_free(m);
        return NULL;
    }
    return m;
}

int dv_manifest_equal(const dv_manifest *a, const dv_manifest *b)
{
    if (a->uid != b->uid || a->nscopes != b->nscopes) return 0;
    for (size_t i = 0; i < a->nscopes; i++) {
        const dv_scope *x = &a->scopes[i], *y = &b->scopes[i];
        if (x->uid != y->uid || strcmp(x->name, y->name) != 0 || x->ncollections != y->ncollections)
            return 0;
        for (size_t k = 0; k < x->ncollections; k++) {
            const dv_collection *c = &x->collections[k], *d = &y->collections[k];
            if (c->uid != d->uid || strcmp(c->name, d->name) != 0 ||
                c->has_max_ttl != d->has_max_ttl || (c->has_max_ttl && c->max_ttl != d->max_ttl) ||
                c->has_history != d->has_history || (c->has_history && !c->history != !d->history))
                return 0;
        }
    }
    return 1;
}

const dv_scope *dv_manifest_find_scope(const dv_manifest *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->nscopes; i++)
        if (strlen(m->scopes[i].name) == len && memcmp(m->scopes[i].name, name, len) == 0)
            return &m->scopes[i];
    return NULL;
}

dv_error dv_manifest_lookup(const dv_manifest *m, const char *path, size_t len, uint32_t *cid)
{
    const char *dot = path ? memchr(path, '.', len) : NULL;
    if (!dot || memchr(dot + 1, '.', len - (size_t)(dot + 1 - path)))
        return DV_ERR_INVALID_ARGUMENT;
    const char *sname = path, *cname = dot + 1;
    size_t slen = (size_t)(dot - path), clen = len - slen - 1;
    if (slen == 0) sname = DEFAULT_NAME, slen = strlen(DEFAULT_NAME);
    if (clen == 0) cname = DEFAULT_NAME, clen = strlen(DEFAULT_NAME);
    const dv_scope *s = dv_manifest_find_scope(m, sname, slen);
    if (!s) return DV_ERR_SCOPE_NOT_FOUND;
    for (size_t k = 0; k < s->ncollections; k++) {
        const dv_collection *c = &s->collections[k];
        if (strlen(c->name) == clen && memcmp(c->name, cname, clen) == 0) {
            *cid = c->uid;
            return DV_ERR_OK;
        }
    }
    return DV_ERR_COLLECTION_NOT_FOUND;
}

/* The rules a manifest must satisfy; NULL if it does, else what is wrong (into buf). */
static const char *check(const dv_manifest *m, char *buf, size_t buflen)
{
    for (size_t i = 0; i < m->nscopes; i++) {
        const dv_scope *s = &m->scopes[i];
        if (!s->name || !dv_manifest_name_valid(s->name, strlen(s->name), 0)) {
            snprintf(buf, buflen, "scopes[%zu].name must be 1..%d characters of A-Za-z0-9_-%%", i,
                     DV_MANIFEST_NAME_MAX);
            return buf;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(m->scopes[j].name, s->name) == 0) {
                snprintf(buf, buflen, "scopes[%zu]: duplicate scope name", i);
                return buf;
            }
            if (m->scopes[j].uid == s->uid) {
                snprintf(buf, buflen, "scopes[%zu]: duplicate scope uid", i);
                return buf;
            }
        }
        for (size_t k = 0; k < s->ncollections; k++) {
            const dv_collection *c = &s->collections[k];
            if (!c->name || !dv_manifest_name_valid(c->name, strlen(c->name), 0)) {
                snprintf(buf, buflen,
                         "scopes[%zu].collections[%zu].name must be 1..%d characters of "
                         "A-Za-z0-9_-%%",
                         i, k, DV_MANIFEST_NAME_MAX);
                return buf;
            }
            if (c->has_max_ttl && c->max_ttl < -1) {
                snprintf(buf, buflen, "scopes[%zu].collections[%zu].maxTTL must be >= -1", i, k);
                return buf;
            }
            for (size_t l = 0; l < k; l++)
                if (strcmp(s->collections[l].name, c->name) == 0) {
                    snprintf(buf, buflen, "scopes[%zu].collections[%zu]: duplicate name", i, k);
                    return buf;
                }
            /* Collection ids are unique in the whole bucket, not per scope. */
            for (size_t j = 0; j <= i; j++) {
                const dv_scope *t = &m->scopes[j];
                size_t end = j == i ? k : t->ncollections;
                for (size_t l = 0; l < end; l++)
                    if (t->collections[l].uid == c->uid) {
                        snprintf(buf, buflen, "scopes[%zu].collections[%zu]: duplicate uid", i, k);
                        return buf;
                    }
            }
        }
    }
    return NULL;
}

/* ---- parsing ---------------------------------------------------------------------------- */

typedef struct parser {
    char *err;
    size_t errlen;
} parser;

#define perr(p, ...)                                                                               \
    ((dv_error)dv_errmsg((p)->err, (p)->errlen, DV_ERR_PARSING_FAILURE, __VA_ARGS__))
#define oom(p) ((dv_error)dv_errmsg((p)->err, (p)->errlen, DV_ERR_NO_MEMORY, "out of memory"))

/* A uid member: a string of hex digits without 0x, at most max. */
static dv_error get_uid(parser *p, const json_t *obj, const char *what, uint64_t max, uint64_t *out)
{
    const json_t *v = json_object_get(obj, "uid");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    uint64_t u = 0;
    int ok = v && json_is_string(v) && n > 0;
    for (size_t i = 0; ok && i < n; i++) {
        int d;
        char c = s[i];
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            d = -1;
        if (d < 0 || u > (max >> 4) || (u << 4 | (uint64_t)d) > max)
            ok = 0;
        else
            u = u << 4 | (uint64_t)d;
    }
    if (!v) return perr(p, "%suid is missing", what);
    if (!ok)
        return perr(p, "%suid must be a hex string (at most %llx)", what, (unsigned long long)max);
    *out = u;
    return DV_ERR_OK;
}

static dv_error get_name(parser *p, const json_t *obj, const char *what, const char **name)
{
    const json_t *v = json_object_get(obj, "name");
    if (!v) return perr(p, "%sname is missing", what);
    if (!json_is_string(v) ||
        !dv_manifest_name_valid(json_string_value(v), json_string_length(v), 0))
        return perr(p, "%sname must be 1..%d characters of A-Za-z0-9_-%%", what,
                    DV_MANIFEST_NAME_MAX);
    *name = json_string_value(v);
    return DV_ERR_OK;
}

static dv_error parse_collection(parser *p, const json_t *o, const char *what, dv_scope *s)
{
    const char *name;
    uint64_t uid;
    dv_error rc;
    if (!json_is_object(o)) return perr(p, "%s must be an object", what);
    char pre[112];
    snprintf(pre, sizeof pre, "%s.", what);
    if ((rc = get_name(p, o, pre, &name)) != DV_ERR_OK) return rc;
    if ((rc = get_uid(p, o, pre, UINT32_MAX, &uid)) != DV_ERR_OK) return rc;
    const json_t *ttl = json_object_get(o, "maxTTL");
    if (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < -1 ||
                json_integer_value(ttl) > INT32_MAX))
        return perr(p, "%smaxTTL must be an integer -1..%d", pre, INT32_MAX);
    const json_t *hist = json_object_get(o, "history");
    if (hist && !json_is_boolean(hist)) return perr(p, "%shistory must be a boolean", pre);
    dv_collection *c = dv_manifest_add_collection(s, name, (uint32_t)uid);
    if (!c) return oom(p);
    if (ttl) {
        c->has_max_ttl = 1;
        c->max_ttl = (int32_t)json_integer_value(ttl);
    }
    if (hist) {
        c->has_history = 1;
        c->history = json_is_true(hist);
    }
    return DV_ERR_OK;
}

static dv_error parse_scope(parser *p, const json_t *o, size_t i, dv_manifest *m)
{
    char what[96];
    const char *name;
    uint64_t uid;
    dv_error rc;
    snprintf(what, sizeof what, "scopes[%zu]", i);
    if (!json_is_object(o)) return perr(p, "%s must be an object", what);
    snprintf(what, sizeof what, "scopes[%zu].", i);
    if ((rc = get_name(p, o, what, &name)) != DV_ERR_OK) return rc;
    if ((rc = get_uid(p, o, what, UINT32_MAX, &uid)) != DV_ERR_OK) return rc;
    const json_t *list = json_object_get(o, "collections");
    if (!list) return perr(p, "%scollections is missing", what);
    if (!json_is_array(list)) return perr(p, "%scollections must be an array", what);
    dv_scope *s = dv_manifest_add_scope(m, name, (uint32_t)uid);
    if (!s) return oom(p);
    for (size_t k = 0; k < json_array_size(list); k++) {
        snprintf(what, sizeof what, "scopes[%zu].collections[%zu]", i, k);
        if ((rc = parse_collection(p, json_array_get(list, k), what, s)) != DV_ERR_OK) return rc;
    }
    return DV_ERR_OK;
}

static dv_error parse_root(parser *p, const json_t *root, dv_manifest *m)
{
    dv_error rc;
    if (!json_is_object(root)) return perr(p, "manifest must be a JSON object");
    if ((rc = get_uid(p, root, "", UINT64_MAX, &m->uid)) != DV_ERR_OK) return rc;
    const json_t *scopes = json_object_get(root, "scopes");
    if (!scopes) return perr(p, "scopes is missing");
    if (!json_is_array(scopes)) return perr(p, "scopes must be an array");
    for (size_t i = 0; i < json_array_size(scopes); i++)
        if ((rc = parse_scope(p, json_array_get(scopes, i), i, m)) != DV_ERR_OK) return rc;
    char buf[160];
    const char *bad = check(m, buf, sizeof buf);
    return bad ? perr(p, "%s", bad) : DV_ERR_OK;
}

dv_error dv_manifest_parse(const char *json, size_t len, dv_manifest **out, char *errbuf,
                           size_t errlen)
{
    parser p = {errbuf, errlen};
    *out = NULL;
    if (errbuf && errlen) errbuf[0] = 0;
    if (!json) return perr(&p, "no manifest");
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_out_of_memory) return oom(&p);
        return perr(&p, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                    jerr.text);
    }
    dv_manifest *m = dv_calloc(1, sizeof *m);
    dv_error rc = m ? parse_root(&p, root, m) : oom(&p);
    json_decref(root);
    if (rc != DV_ERR_OK) {
        dv_manifest_free(m);
        return rc;
    }
    *out = m;
    return DV_ERR_OK;
}

/* ---- rendering -------------------------------------------------------------------------- */

/* Names are checked to be plain ASCII, so every string here is valid JSON as is. */
static int put_uid(dv_buf *b, uint64_t uid)
{
    return dv_buf_printf(b, "\"uid\":\"%llx\"", (unsigned long long)uid);
}

/* Append in order, stopping at the first allocation failure. */
#define PUT(expr)                                                                                  \
    do {                                                                                           \
        if (!bad && (expr) != 0) bad = 1;                                                          \
    } while (0)

dv_error dv_manifest_write_json(const dv_manifest *m, dv_buf *out)
{
    char buf[160];
    if (check(m, buf, sizeof buf)) return DV_ERR_INVALID_ARGUMENT;
    size_t mark = out->len;
    int bad = 0;
    PUT(dv_buf_append_u8(out, '{'));
    PUT(put_uid(out, m->uid));
    PUT(dv_buf_printf(out, ",\"scopes\":["));
    for (size_t i = 0; i < m->nscopes && !bad; i++) {
        const dv_scope *s = &m->scopes[i];
        PUT(dv_buf_printf(out, "%s{\"name\":\"%s\",", i ? "," : "", s->name));
        PUT(put_uid(out, s->uid));
        PUT(dv_buf_printf(out, ",\"collections\":["));
        for (size_t k = 0; k < s->ncollections && !bad; k++) {
            const dv_collection *c = &s->collections[k];
            PUT(dv_buf_printf(out, "%s{\"name\":\"%s\",", k ? "," : "", c->name));
            PUT(put_uid(out, c->uid));
            if (c->has_max_ttl) PUT(dv_buf_printf(out, ",\"maxTTL\":%d", (int)c->max_ttl));
            if (c->has_history)
                PUT(dv_buf_printf(out, ",\"history\":%s", c->history ? "true" : "false"));
            PUT(dv_buf_append_u8(out, '}'));
        }
        PUT(dv_buf_printf(out, "]}"));
    }
    PUT(dv_buf_printf(out, "]}"));
    if (bad) {
        out->len = mark;
        return DV_ERR_NO_MEMORY;
    }
    return DV_ERR_OK;
}
