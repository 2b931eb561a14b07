/* SQL++ functions (query-service.md 10.4) and aggregates. Rules: a MISSING argument gives
 * MISSING, a NULL or mistyped one NULL, except for the conditional functions, which look at
 * MISSING and NULL themselves. Positions are 0-based unless the name ends in 1. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/base64.h"
#include "base/clock.h"
#include "query/func.h"

typedef json_t *(*qfn)(q_ctx *c, json_t **v, size_t n);

enum { F_RAW = 1 }; /* sees MISSING arguments itself */

#define STR(v)  json_string_value(v)
#define SLEN(v) json_string_length(v)
#define NUM(v)  json_number_value(v)

static json_t *str_n(const char *s, size_t n)
{
    return json_stringn_nocheck(s, n);
}

static int all_strings(json_t **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!json_is_string(v[i])) return 0;
    return 1;
}
static int all_numbers(json_t **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!json_is_number(v[i])) return 0;
    return 1;
}

/* ---- Strings ------------------------------------------------------------------------------ */

static json_t *f_case(json_t **v, int upper)
{
    if (!json_is_string(v[0])) return json_null();
    size_t n = SLEN(v[0]);
    char *s = malloc(n + 1);
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++)
        s[i] = (char)(upper ? toupper((unsigned char)STR(v[0])[i])
                            : tolower((unsigned char)STR(v[0])[i]));
    json_t *r = str_n(s, n);
    free(s);
    return r;
}
static json_t *f_lower(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return f_case(v, 0);
}
static json_t *f_upper(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return f_case(v, 1);
}
static json_t *f_title(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!json_is_string(v[0])) return json_null();
    size_t len = SLEN(v[0]);
    char *s = malloc(len + 1);
    if (!s) return NULL;
    int start = 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)STR(v[0])[i];
        s[i] = (char)(start ? toupper(ch) : tolower(ch));
        start = isspace(ch);
    }
    json_t *r = str_n(s, len);
    free(s);
    return r;
}
static json_t *f_length(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return json_is_string(v[0]) ? json_integer((json_int_t)SLEN(v[0])) : json_null();
}
static json_t *f_concat(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    if (!all_strings(v, n)) return json_null();
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += SLEN(v[i]);
    char *s = malloc(total + 1);
    if (!s) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(s + o, STR(v[i]), SLEN(v[i]));
        o += SLEN(v[i]);
    }
    json_t *r = str_n(s, total);
    free(s);
    return r;
}
static json_t *substr(json_t **v, size_t n, int base)
{
    if (!json_is_string(v[0]) || !all_numbers(v + 1, n - 1)) return json_null();
    json_int_t len = (json_int_t)SLEN(v[0]);
    double pd = NUM(v[1]);
    if (pd != floor(pd) || fabs(pd) > 1e15) return json_null();
    json_int_t pos = (json_int_t)pd - base;
    if (base && pd == 0) pos = 0;
    if (pos < 0) pos += len + (base ? 1 - 1 : 0);
    if (pos < 0 || pos > len) return json_null();
    json_int_t cnt = len - pos;
    if (n > 2) {
        double ld = NUM(v[2]);
        if (ld < 0 || ld != floor(ld)) return json_null();
        if (ld > 1e15) ld = 1e15;
        if ((json_int_t)ld < cnt) cnt = (json_int_t)ld;
    }
    return str_n(STR(v[0]) + pos, (size_t)cnt);
}
static json_t *f_substr(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    return substr(v, n, 0);
}
static json_t *f_substr1(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    return substr(v, n, 1);
}
static const char *find(const char *h, size_t hn, const char *nd, size_t nn)
{
    if (nn == 0) return h;
    for (size_t i = 0; i + nn <= hn; i++)
        if (!memcmp(h + i, nd, nn)) return h + i;
    return NULL;
}
static json_t *f_position(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!all_strings(v, 2)) return json_null();
    const char *p = find(STR(v[0]), SLEN(v[0]), STR(v[1]), SLEN(v[1]));
    return json_integer(p ? (json_int_t)(p - STR(v[0])) : -1);
}
static json_t *f_position1(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!all_strings(v, 2)) return json_null();
    const char *p = find(STR(v[0]), SLEN(v[0]), STR(v[1]), SLEN(v[1]));
    return json_integer(p ? (json_int_t)(p - STR(v[0])) + 1 : 0);
}
static json_t *f_contains(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!all_strings(v, 2)) return json_null();
    return json_boolean(find(STR(v[0]), SLEN(v[0]), STR(v[1]), SLEN(v[1])) != NULL);
}
static json_t *f_replace(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    if (!all_strings(v, 3) || (n > 3 && !json_is_integer(v[3]))) return json_null();
    json_int_t limit = n > 3 ? json_integer_value(v[3]) : -1;
    const char *s = STR(v[0]), *old = STR(v[1]), *nw = STR(v[2]);
    size_t sn = SLEN(v[0]), on = SLEN(v[1]), nn = SLEN(v[2]);
    if (on == 0) return json_incref(v[0]);
    size_t cap = sn + 16, o = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t i = 0;
    while (i < sn) {
        if (limit != 0 && i + on <= sn && !memcmp(s + i, old, on)) {
            if (o + nn + 1 > cap) {
                cap = (o + nn + 1) * 2;
                char *no = realloc(out, cap);
                if (!no) {
                    free(out);
                    return NULL;
                }
                out = no;
            }
            memcpy(out + o, nw, nn);
            o += nn;
            i += on;
            if (limit > 0) limit--;
        } else {
            if (o + 2 > cap) {
                cap *= 2;
                char *no = realloc(out, cap);
                if (!no) {
                    free(out);
                    return NULL;
                }
                out = no;
            }
            out[o++] = s[i++];
        }
    }
    json_t *r = str_n(out, o);
    free(out);
    return r;
}
static json_t *f_split(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    if (!all_strings(v, n)) return json_null();
    json_t *r = json_array();
    const char *s = STR(v[0]), *e = s + SLEN(v[0]);
    if (n == 1) {
        while (s < e) {
            while (s < e && isspace((unsigned char)*s)) s++;
            const char *w = s;
            while (s < e && !isspace((unsigned char)*s)) s++;
            if (s > w) json_array_append_new(r, str_n(w, (size_t)(s - w)));
        }
        return r;
    }
    const char *sep = STR(v[1]);
    size_t sn = SLEN(v[1]);
    if (sn == 0) {
        for (; s < e; s++) json_array_append_new(r, str_n(s, 1));
        return r;
    }
    while (1) {
        const char *p = find(s, (size_t)(e - s), sep, sn);
        if (!p) {
            json_array_append_new(r, str_n(s, (size_t)(e - s)));
            return r;
        }
        json_array_append_new(r, str_n(s, (size_t)(p - s)));
        s = p + sn;
    }
}
static json_t *trim(json_t **v, size_t n, int left, int right)
{
    if (!all_strings(v, n)) return json_null();
    const char *set = n > 1 ? STR(v[1]) : " \t\n\r\f\v";
    const char *s = STR(v[0]), *e = s + SLEN(v[0]);
    while (left && s < e && strchr(set, *s) && *s) s++;
    while (right && e > s && strchr(set, e[-1]) && e[-1]) e--;
    return str_n(s, (size_t)(e - s));
}
static json_t *f_trim(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    return trim(v, n, 1, 1);
}
static json_t *f_ltrim(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    return trim(v, n, 1, 0);
}
static json_t *f_rtrim(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    return trim(v, n, 0, 1);
}
static json_t *f_reverse(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!json_is_string(v[0])) return json_null();
    size_t len = SLEN(v[0]);
    const char *s = STR(v[0]);
    char *o = malloc(len + 1);
    if (!o) return NULL;
    /* reverse by UTF-8 sequences */
    size_t i = 0, w = len;
    while (i < len) {
        size_t k = 1;
        while (i + k < len && ((unsigned char)s[i + k] & 0xc0) == 0x80) k++;
        w -= k;
        memcpy(o + w, s + i, k);
        i += k;
    }
    json_t *r = str_n(o, len);
    free(o);
    return r;
}
static json_t *f_repeat(q_ctx *c, json_t **v, size_t n)
{
    (void)n;
    if (!json_is_string(v[0]) || !json_is_integer(v[1]) || json_integer_value(v[1]) < 0)
        return json_null();
    size_t len = SLEN(v[0]), k = (size_t)json_integer_value(v[1]);
    if (len == 0) return json_string("");
    if (len && k > (16u << 20) / len) return q_fail(c, 5500, "Request has exceeded memory quota");
    char *o = malloc(len * k + 1);
    if (!o) return NULL;
    for (size_t i = 0; i < k; i++) memcpy(o + i * len, STR(v[0]), len);
    json_t *r = str_n(o, len * k);
    free(o);
    return r;
}

static int re_compile(regex_t *re, json_t *pat, int anchored)
{
    size_t n = SLEN(pat);
    char *p = malloc(n + 3);
    if (!p) return -1;
    size_t o = 0;
    if (anchored) p[o++] = '^';
    memcpy(p + o, STR(pat), n);
    o += n;
    if (anchored) p[o++] = '$';
    p[o] = '\0';
    int rc = regcomp(re, p, REG_EXTENDED | (anchored ? 0 : 0));
    free(p);
    return rc ? -1 : 0;
}
static json_t *regexp_match(json_t **v, int anchored)
{
    if (!all_strings(v, 2)) return json_null();
    if (strlen(STR(v[0])) != SLEN(v[0])) return json_null();
    regex_t re;
    if (re_compile(&re, v[1], anchored) < 0) return json_null();
    int m = regexec(&re, STR(v[0]), 0, NULL, 0) == 0;
    regfree(&re);
    return json_boolean(m);
}
static json_t *f_regexp_contains(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return regexp_match(v, 0);
}
static json_t *f_regexp_like(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return regexp_match(v, 1);
}
static json_t *f_regexp_replace(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    if (!all_strings(v, 3) || (n > 3 && !json_is_integer(v[3]))) return json_null();
    if (strlen(STR(v[0])) != SLEN(v[0])) return json_null();
    json_int_t limit = n > 3 ? json_integer_value(v[3]) : -1;
    regex_t re;
    if (re_compile(&re, v[1], 0) < 0) return json_null();
    const char *s = STR(v[0]);
    size_t cap = SLEN(v[0]) + 16, o = 0, rn = SLEN(v[2]);
    char *out = malloc(cap);
    if (!out) {
        regfree(&re);
        return NULL;
    }
    regmatch_t m;
    int flags = 0;
    while (*s && limit != 0 && regexec(&re, s, 1, &m, flags) == 0) {
        size_t pre = (size_t)m.rm_so, ml = (size_t)(m.rm_eo - m.rm_so);
        if (o + pre + rn + 2 > cap) {
            cap = (o + pre + rn + 2) * 2;
            char *no = realloc(out, cap);
            if (!no) break;
            out = no;
        }
        memcpy(out + o, s, pre);
        o += pre;
        memcpy(out + o, STR(v[2]), rn);
        o += rn;
        if (ml == 0) {
            out[o++] = s[pre];
            s += pre + 1;
        } else {
            s += pre + ml;
        }
        flags = REG_NOTBOL;
        if (limit > 0) limit--;
    }
    size_t rest = strlen(s);
    if (o + rest + 1 > cap) {
        char *no = realloc(out, o + rest + 1);
        if (!no) {
            free(out);
            regfree(&re);
            return NULL;
        }
        out = no;
    }
    memcpy(out + o, s, rest);
    o += rest;
    json_t *r = str_n(out, o);
    free(out);
    regfree(&re);
    return r;
}

static json_t *to_string(json_t *v)
{
    if (json_is_string(v)) return json_incref(v);
    if (json_is_null(v)) return json_null();
    if (json_is_boolean(v)) return json_string(json_is_true(v) ? "true" : "false");
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!s) return NULL;
    json_t *r = json_string(s);
    free(s);
    return r;
}
static json_t *f_tostring(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return to_string(v[0]);
}

/* ---- Numbers ------------------------------------------------------------------------------ */

static json_t *num1(json_t **v, double (*f)(double))
{
    if (!json_is_number(v[0])) return json_null();
    if (json_is_integer(v[0]) && (f == floor || f == ceil || f == trunc || f == round))
        return json_incref(v[0]);
    return q_number(f(NUM(v[0])));
}
static json_t *f_abs(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (json_is_integer(v[0]) && json_integer_value(v[0]) != INT64_MIN)
        return json_integer(llabs(json_integer_value(v[0])));
    return num1(v, fabs);
}
static json_t *f_ceil(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return num1(v, ceil);
}
static json_t *f_floor(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return num1(v, floor);
}
static json_t *f_sqrt(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return num1(v, sqrt);
}
static json_t *f_exp(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return num1(v, exp);
}
static json_t *f_ln(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return num1(v, log);
}
static json_t *f_log(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return num1(v, log10);
}
static json_t *round_to(json_t **v, size_t n, int truncate)
{
    if (!all_numbers(v, n)) return json_null();
    double dd = n > 1 ? NUM(v[1]) : 0;
    if (dd > 300 || dd < -300) return json_null();
    int digits = (int)dd;
    if (digits == 0 && json_is_integer(v[0])) return json_incref(v[0]);
    double m = pow(10, digits), x = NUM(v[0]) * m;
    /* round half to even, as the real service does */
    double r;
    if (truncate)
        r = trunc(x);
    else {
        r = round(x);
        if (fabs(x - trunc(x)) == 0.5) r = 2.0 * round(x / 2.0);
    }
    return q_number(r / m);
}
static json_t *f_round(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    return round_to(v, n, 0);
}
static json_t *f_trunc(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    return round_to(v, n, 1);
}
static json_t *f_power(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!all_numbers(v, 2)) return json_null();
    return q_number(pow(NUM(v[0]), NUM(v[1])));
}
static json_t *f_mod(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!all_numbers(v, 2) || NUM(v[1]) == 0) return json_null();
    if (json_is_integer(v[0]) && json_is_integer(v[1])) {
        if (json_integer_value(v[1]) == -1) return json_integer(0);
        return json_integer(json_integer_value(v[0]) % json_integer_value(v[1]));
    }
    return q_number(fmod(NUM(v[0]), NUM(v[1])));
}
static json_t *f_sign(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!json_is_number(v[0])) return json_null();
    double x = NUM(v[0]);
    return json_integer(x > 0 ? 1 : x < 0 ? -1 : 0);
}
static json_t *f_pi(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)v, (void)n;
    return json_real(M_PI);
}
static json_t *f_random(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)v, (void)n;
    return json_real((double)random() / ((double)RAND_MAX + 1.0));
}
static json_t *extreme(q_ctx *c, json_t **v, size_t n, int greatest)
{
    (void)c;
    json_t *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!v[i] || json_is_null(v[i])) continue;
        if (!best || (greatest ? q_collate(v[i], best) > 0 : q_collate(v[i], best) < 0))
            best = v[i];
    }
    return best ? json_incref(best) : json_null();
}
static json_t *f_greatest(q_ctx *c, json_t **v, size_t n)
{
    return extreme(c, v, n, 1);
}
static json_t *f_least(q_ctx *c, json_t **v, size_t n)
{
    return extreme(c, v, n, 0);
}
static json_t *f_tonumber(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    json_t *x = v[0];
    if (json_is_number(x)) return json_incref(x);
    if (json_is_boolean(x)) return json_integer(json_is_true(x));
    if (json_is_string(x)) {
        const char *s = STR(x);
        while (isspace((unsigned char)*s)) s++;
        if (!*s) return json_null();
        char *end;
        errno = 0;
        long long ll = strtoll(s, &end, 10);
        while (isspace((unsigned char)*end)) end++;
        if (!*end && !errno) return json_integer(ll);
        double d = strtod(s, &end);
        while (isspace((unsigned char)*end)) end++;
        if (*end || isnan(d) || (int)(end - s) == 0) return json_null();
        return q_number(d);
    }
    return json_null();
}
static json_t *f_toboolean(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (json_is_null(v[0])) return json_null();
    if (json_is_string(v[0])) {
        if (!strcasecmp(STR(v[0]), "true")) return json_true();
        if (!strcasecmp(STR(v[0]), "false") || SLEN(v[0]) == 0) return json_false();
        return json_true();
    }
    return json_boolean(q_truthy(v[0]));
}
static json_t *f_toarray(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (json_is_array(v[0]) || json_is_null(v[0])) return json_incref(v[0]);
    json_t *a = json_array();
    json_array_append(a, v[0]);
    return a;
}
static json_t *f_toobject(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return json_is_object(v[0]) ? json_incref(v[0]) : json_object();
}

/* ---- Types -------------------------------------------------------------------------------- */

static json_t *f_type(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return json_string(q_type_name(v[0]));
}
#define IS_FN(name, test)                                                                          \
    static json_t *name(q_ctx *c, json_t **v, size_t n)                                            \
    {                                                                                              \
        (void)c, (void)n;                                                                          \
        if (json_is_null(v[0])) return json_null();                                                \
        return json_boolean(test);                                                                 \
    }
IS_FN(f_is_array, json_is_array(v[0]))
IS_FN(f_is_boolean, json_is_boolean(v[0]))
IS_FN(f_is_number, json_is_number(v[0]))
IS_FN(f_is_object, json_is_object(v[0]))
IS_FN(f_is_string, json_is_string(v[0]))
IS_FN(f_is_atom, json_is_boolean(v[0]) || json_is_number(v[0]) || json_is_string(v[0]))

/* ---- Conditionals (F_RAW) ----------------------------------------------------------------- */

static json_t *first_where(json_t **v, size_t n, int skip_missing, int skip_null)
{
    for (size_t i = 0; i < n; i++) {
        if (!v[i] && skip_missing) continue;
        if (v[i] && json_is_null(v[i]) && skip_null) continue;
        return v[i] ? json_incref(v[i]) : NULL;
    }
    return skip_missing && !skip_null ? NULL : json_null();
}
static json_t *f_ifmissing(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    for (size_t i = 0; i < n; i++)
        if (v[i]) return json_incref(v[i]);
    return NULL;
}
static json_t *f_ifnull(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    for (size_t i = 0; i < n; i++) {
        if (!v[i]) return NULL;
        if (!json_is_null(v[i])) return json_incref(v[i]);
    }
    return json_null();
}
static json_t *f_ifmissingornull(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    return first_where(v, n, 1, 1);
}
static json_t *f_nvl(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (v[0] && !json_is_null(v[0])) return json_incref(v[0]);
    return v[1] ? json_incref(v[1]) : NULL;
}
static json_t *f_nvl2(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    json_t *r = (v[0] && !json_is_null(v[0])) ? v[1] : v[2];
    return r ? json_incref(r) : NULL;
}
static json_t *f_missingif(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!v[0] || !v[1]) return NULL;
    if (json_is_null(v[0]) || json_is_null(v[1])) return json_null();
    return q_equal(v[0], v[1]) ? NULL : json_incref(v[0]);
}
static json_t *f_nullif(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!v[0] || !v[1]) return NULL;
    if (json_is_null(v[0]) || json_is_null(v[1])) return json_null();
    return q_equal(v[0], v[1]) ? json_null() : json_incref(v[0]);
}

/* ---- Arrays ------------------------------------------------------------------------------- */

static json_t *f_array_length(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return json_is_array(v[0]) ? json_integer((json_int_t)json_array_size(v[0])) : json_null();
}
static json_t *f_array_contains(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!json_is_array(v[0])) return json_null();
    size_t i;
    json_t *x;
    json_array_foreach(v[0], i, x)
    {
        if (q_equal(x, v[1])) return json_true();
    }
    return json_false();
}
static json_t *f_array_position(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!json_is_array(v[0])) return json_null();
    size_t i;
    json_t *x;
    json_array_foreach(v[0], i, x)
    {
        if (q_equal(x, v[1])) return json_integer((json_int_t)i);
    }
    return json_integer(-1);
}
static json_t *f_array_append(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    if (!json_is_array(v[0])) return json_null();
    json_t *r = json_copy(v[0]);
    for (size_t i = 1; i < n; i++) json_array_append(r, v[i]);
    return r;
}
static json_t *f_array_prepend(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    if (!json_is_array(v[n - 1])) return json_null();
    json_t *r = json_array();
    for (size_t i = 0; i + 1 < n; i++) json_array_append(r, v[i]);
    json_array_extend(r, v[n - 1]);
    return r;
}
static json_t *f_array_concat(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    for (size_t i = 0; i < n; i++)
        if (!json_is_array(v[i])) return json_null();
    json_t *r = json_array();
    for (size_t i = 0; i < n; i++) json_array_extend(r, v[i]);
    return r;
}
static json_t *distinct_of(json_t *a)
{
    json_t *r = json_array();
    size_t i, j;
    json_t *x, *y;
    json_array_foreach(a, i, x)
    {
        int dup = 0;
        json_array_foreach(r, j, y)
        {
            if (q_equal(x, y)) {
                dup = 1;
                break;
            }
        }
        if (!dup) json_array_append(r, x);
    }
    return r;
}
static json_t *f_array_distinct(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return json_is_array(v[0]) ? distinct_of(v[0]) : json_null();
}
static void flatten(json_t *out, json_t *a, json_int_t depth)
{
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        if (json_is_array(x) && depth != 0)
            flatten(out, x, depth - 1);
        else
            json_array_append(out, x);
    }
}
static json_t *f_array_flatten(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!json_is_array(v[0]) || !json_is_integer(v[1])) return json_null();
    json_int_t d = json_integer_value(v[1]);
    if (d > 64) d = 64;
    json_t *r = json_array();
    flatten(r, v[0], d < 0 ? 64 : d);
    return r;
}
static json_t *f_array_remove(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    if (!json_is_array(v[0])) return json_null();
    json_t *r = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(v[0], i, x)
    {
        int drop = 0;
        for (size_t k = 1; k < n; k++)
            if (q_equal(x, v[k])) drop = 1;
        if (!drop) json_array_append(r, x);
    }
    return r;
}
static int cmp_values(const void *a, const void *b)
{
    return q_collate(*(json_t *const *)a, *(json_t *const *)b);
}
static json_t *sorted_copy(json_t *a)
{
    size_t n = json_array_size(a);
    json_t **tmp = malloc((n + 1) * sizeof *tmp);
    if (!tmp) return NULL;
    for (size_t i = 0; i < n; i++) tmp[i] = json_array_get(a, i);
    qsort(tmp, n, sizeof *tmp, cmp_values);
    json_t *r = json_array();
    for (size_t i = 0; i < n; i++) json_array_append(r, tmp[i]);
    free(tmp);
    return r;
}
static json_t *f_array_sort(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return json_is_array(v[0]) ? sorted_copy(v[0]) : json_null();
}
static json_t *f_array_reverse(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!json_is_array(v[0])) return json_null();
    json_t *r = json_array();
    for (size_t i = json_array_size(v[0]); i > 0; i--)
        json_array_append(r, json_array_get(v[0], i - 1));
    return r;
}
static json_t *array_fold(json_t **v, int what)
{
    if (!json_is_array(v[0])) return json_null();
    double sum = 0;
    json_int_t isum = 0;
    int all_int = 1, overflow = 0;
    size_t cnt = 0;
    json_t *best = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(v[0], i, x)
    {
        if (json_is_null(x)) continue;
        if (what == 'm' || what == 'M') {
            if (!best || (what == 'M' ? q_collate(x, best) > 0 : q_collate(x, best) < 0)) best = x;
            continue;
        }
        if (what == 'c') {
            cnt++;
            continue;
        }
        if (!json_is_number(x)) continue;
        cnt++;
        sum += NUM(x);
        if (json_is_integer(x)) {
            if (__builtin_add_overflow(isum, json_integer_value(x), &isum)) overflow = 1;
        } else {
            all_int = 0;
        }
    }
    switch (what) {
    case 'm':
    case 'M':
        return best ? json_incref(best) : json_null();
    case 'c':
        return json_integer((json_int_t)cnt);
    case 's':
        return all_int && !overflow ? json_integer(isum) : q_number(sum);
    case 'a':
        return cnt ? q_number(sum / (double)cnt) : json_null();
    }
    return json_null();
}
static json_t *f_array_sum(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return array_fold(v, 's');
}
static json_t *f_array_avg(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return array_fold(v, 'a');
}
static json_t *f_array_min(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return array_fold(v, 'm');
}
static json_t *f_array_max(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return array_fold(v, 'M');
}
static json_t *f_array_count(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return array_fold(v, 'c');
}
static json_t *f_array_range(q_ctx *c, json_t **v, size_t n)
{
    if (!all_numbers(v, n)) return json_null();
    double s = NUM(v[0]), e = NUM(v[1]), step = n > 2 ? NUM(v[2]) : 1;
    if (step == 0) return json_array();
    double cnt = ceil((e - s) / step);
    if (cnt <= 0) return json_array();
    if (cnt > 1e7 || q_charge(c, (size_t)cnt) < 0)
        return q_fail(c, 5500, "Request has exceeded memory quota: ARRAY_RANGE of %.0f elements",
                      cnt);
    json_t *r = json_array();
    for (size_t i = 0; i < (size_t)cnt; i++)
        json_array_append_new(r, q_number(s + step * (double)i));
    return r;
}

/* ---- Objects ------------------------------------------------------------------------------ */

static json_t *obj_sorted(json_t *o, int what)
{
    size_t n = json_object_size(o);
    const char **keys = malloc((n + 1) * sizeof *keys);
    if (!keys) return NULL;
    size_t i = 0;
    const char *k;
    json_t *x;
    json_object_foreach(o, k, x) keys[i++] = k;
    for (size_t a = 1; a < n; a++) /* insertion sort: names are few */
        for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
            const char *t = keys[b];
            keys[b] = keys[b - 1];
            keys[b - 1] = t;
        }
    json_t *r = json_array();
    for (i = 0; i < n; i++) {
        json_t *val = json_object_get(o, keys[i]);
        if (what == 'n')
            json_array_append_new(r, json_string(keys[i]));
        else if (what == 'v')
            json_array_append(r, val);
        else
            json_array_append_new(r, json_pack("{s:s,s:O}", "name", keys[i], "val", val));
    }
    free(keys);
    return r;
}
static json_t *f_object_names(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return json_is_object(v[0]) ? obj_sorted(v[0], 'n') : json_null();
}
static json_t *f_object_values(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return json_is_object(v[0]) ? obj_sorted(v[0], 'v') : json_null();
}
static json_t *f_object_pairs(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return json_is_object(v[0]) ? obj_sorted(v[0], 'p') : json_null();
}
static json_t *f_object_length(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    return json_is_object(v[0]) ? json_integer((json_int_t)json_object_size(v[0])) : json_null();
}
static json_t *f_object_add(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!json_is_object(v[0]) || !json_is_string(v[1])) return json_null();
    if (json_object_get(v[0], STR(v[1]))) return json_incref(v[0]);
    json_t *r = json_copy(v[0]);
    json_object_set(r, STR(v[1]), v[2]);
    return r;
}
static json_t *f_object_put(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!json_is_object(v[0]) || !json_is_string(v[1])) return json_null();
    json_t *r = json_copy(v[0]);
    json_object_set(r, STR(v[1]), v[2]);
    return r;
}
static json_t *f_object_remove(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    if (!json_is_object(v[0])) return json_null();
    json_t *r = json_copy(v[0]);
    for (size_t i = 1; i < n; i++)
        if (json_is_string(v[i])) json_object_del(r, STR(v[i]));
    return r;
}

/* ---- Dates -------------------------------------------------------------------------------- */

/* ISO-8601 "YYYY-MM-DD[( |T)hh:mm[:ss[.fff]]][Z|+hh:mm|-hh:mm]" to Unix milliseconds. */
static int parse_date(const char *s, int64_t *ms, int *date_only)
{
    int Y, M, D, h = 0, m = 0, sec = 0, used = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &Y, &M, &D, &used) != 3 || used != 10) return -1;
    s += used;
    double frac = 0;
    int tz = 0;
    *date_only = 1;
    if (*s == 'T' || *s == ' ') {
        *date_only = 0;
        s++;
        if (sscanf(s, "%2d:%2d%n", &h, &m, &used) != 2 || used != 5) return -1;
        s += used;
        if (*s == ':') {
            if (sscanf(s + 1, "%2d%n", &sec, &used) != 1 || used != 2) return -1;
            s += 3;
            if (*s == '.') {
                const char *f = ++s;
                double scale = 0.1;
                while (*s >= '0' && *s <= '9') {
                    frac += (*s - '0') * scale;
                    scale /= 10;
                    s++;
                }
                if (s == f) return -1;
            }
        }
        if (*s == 'Z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            int th, tm2;
            if (sscanf(s + 1, "%2d:%2d%n", &th, &tm2, &used) != 2 || used != 5) return -1;
            tz = (th * 60 + tm2) * (*s == '+' ? 1 : -1);
            s += 6;
        }
    }
    if (*s) return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return -1;
    struct tm t = {0};
    t.tm_year = Y - 1900;
    t.tm_mon = M - 1;
    t.tm_mday = D;
    t.tm_hour = h;
    t.tm_min = m;
    t.tm_sec = sec;
    time_t secs = timegm(&t);
    *ms = (int64_t)secs * 1000 + (int64_t)llround(frac * 1000) - (int64_t)tz * 60000;
    return 0;
}

static json_t *format_date(int64_t ms, int date_only)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int msec = (int)(ms - (int64_t)secs * 1000);
    struct tm t;
    if (!gmtime_r(&secs, &t)) return json_null();
    char buf[64];
    if (date_only)
        snprintf(buf, sizeof buf, "%04d-%02d-%02d", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday);
    else if (msec)
        snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900,
                 t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, msec);
    else
        snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", t.tm_year + 1900, t.tm_mon + 1,
                 t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
    return json_string(buf);
}

static int64_t now_ms(void)
{
    return (int64_t)(dv_clock_wall_ns() / 1000000u);
}
static int fmt_date_only(json_t **v, size_t n, size_t i)
{
    return n > i && json_is_string(v[i]) && SLEN(v[i]) == 10;
}
static json_t *f_now_millis(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)v, (void)n;
    return json_integer(now_ms());
}
static json_t *f_now_str(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    return format_date(now_ms(), fmt_date_only(v, n, 0));
}
static json_t *f_str_to_millis(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    int64_t ms;
    int d;
    if (!json_is_string(v[0]) || parse_date(STR(v[0]), &ms, &d) < 0) return json_null();
    return json_integer(ms);
}
static json_t *f_millis_to_str(q_ctx *c, json_t **v, size_t n)
{
    (void)c;
    if (!json_is_number(v[0]) || fabs(NUM(v[0])) > 1e17) return json_null();
    return format_date((int64_t)NUM(v[0]), fmt_date_only(v, n, 1));
}
static json_t *f_str_to_utc(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    int64_t ms;
    int d;
    if (!json_is_string(v[0]) || parse_date(STR(v[0]), &ms, &d) < 0) return json_null();
    return format_date(ms, d);
}

static const char *const parts[] = {"millisecond", "second",     "minute",  "hour", "day",
                                    "week",        "month",      "quarter", "year", "decade",
                                    "century",     "millennium", NULL};
static int part_of(json_t *p)
{
    if (!json_is_string(p)) return -1;
    for (int i = 0; parts[i]; i++)
        if (!strcasecmp(STR(p), parts[i])) return i;
    return -1;
}
static const int64_t part_ms[] = {1, 1000, 60000, 3600000, 86400000, 604800000};

static int64_t add_months(int64_t ms, int64_t months)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm t;
    gmtime_r(&secs, &t);
    int64_t mon = t.tm_mon + months;
    t.tm_year += (int)(mon >= 0 ? mon / 12 : (mon - 11) / 12);
    t.tm_mon = (int)(((mon % 12) + 12) % 12);
    return (int64_t)timegm(&t) * 1000 + ms % 1000;
}
static json_t *f_date_add_str(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    int64_t ms;
    int d, p = part_of(v[2]);
    if (!json_is_string(v[0]) || !json_is_integer(v[1]) || p < 0 ||
        parse_date(STR(v[0]), &ms, &d) < 0)
        return json_null();
    int64_t k = json_integer_value(v[1]);
    if (k > 1000000000 || k < -1000000000 || (p > 5 && (k > 100000 || k < -100000)))
        return json_null();
    static const int64_t months[] = {0, 0, 0, 0, 0, 0, 1, 3, 12, 120, 1200, 12000};
    if (p <= 5)
        ms += k * part_ms[p];
    else
        ms = add_months(ms, k * months[p]);
    return format_date(ms, d && p >= 4);
}
static json_t *f_date_diff_str(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    int64_t a, b;
    int d, p = part_of(v[2]);
    if (!all_strings(v, 2) || p < 0 || parse_date(STR(v[0]), &a, &d) < 0 ||
        parse_date(STR(v[1]), &b, &d) < 0)
        return json_null();
    if (p <= 5) return json_integer((a - b) / part_ms[p]);
    time_t sa = (time_t)(a / 1000), sb = (time_t)(b / 1000);
    struct tm ta, tb;
    gmtime_r(&sa, &ta);
    gmtime_r(&sb, &tb);
    int64_t months = (int64_t)(ta.tm_year - tb.tm_year) * 12 + (ta.tm_mon - tb.tm_mon);
    static const int64_t div[] = {0, 0, 0, 0, 0, 0, 1, 3, 12, 120, 1200, 12000};
    return json_integer(months / div[p]);
}
static json_t *f_date_part_str(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    int64_t ms;
    int d;
    if (!all_strings(v, 2) || parse_date(STR(v[0]), &ms, &d) < 0) return json_null();
    time_t secs = (time_t)(ms / 1000);
    struct tm t;
    gmtime_r(&secs, &t);
    const char *p = STR(v[1]);
    if (!strcasecmp(p, "year")) return json_integer(t.tm_year + 1900);
    if (!strcasecmp(p, "month")) return json_integer(t.tm_mon + 1);
    if (!strcasecmp(p, "day")) return json_integer(t.tm_mday);
    if (!strcasecmp(p, "hour")) return json_integer(t.tm_hour);
    if (!strcasecmp(p, "minute")) return json_integer(t.tm_min);
    if (!strcasecmp(p, "second")) return json_integer(t.tm_sec);
    if (!strcasecmp(p, "millisecond")) return json_integer(ms % 1000);
    if (!strcasecmp(p, "day_of_week") || !strcasecmp(p, "dow")) return json_integer(t.tm_wday);
    if (!strcasecmp(p, "day_of_year") || !strcasecmp(p, "doy")) return json_integer(t.tm_yday + 1);
    if (!strcasecmp(p, "quarter")) return json_integer(t.tm_mon / 3 + 1);
    return json_null();
}
static json_t *f_date_trunc_str(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    int64_t ms;
    int d, p = part_of(v[1]);
    if (!json_is_string(v[0]) || p < 0 || parse_date(STR(v[0]), &ms, &d) < 0) return json_null();
    if (p <= 4 && p != 5) return format_date(ms - ((ms % part_ms[p]) + part_ms[p]) % part_ms[p], d);
    time_t secs = (time_t)(ms / 1000);
    struct tm t;
    gmtime_r(&secs, &t);
    t.tm_hour = t.tm_min = t.tm_sec = 0;
    t.tm_mday = 1;
    if (p == 7) t.tm_mon -= t.tm_mon % 3;
    if (p >= 8) t.tm_mon = 0;
    if (p == 5) return json_null();
    return format_date((int64_t)timegm(&t) * 1000, d);
}

/* ---- Misc --------------------------------------------------------------------------------- */

static json_t *f_uuid(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)v, (void)n;
    unsigned char b[16];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(b, 1, sizeof b, f) : 0;
    if (f) fclose(f);
    for (size_t i = got; i < sizeof b; i++) b[i] = (unsigned char)random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    char s[40];
    snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return json_string(s);
}

/* BASE64_ENCODE(v): the base64 of v's JSON text; BASE64_DECODE(s): the JSON value whose text s
 * encodes (padding optional), NULL when s is not that. */
static json_t *f_base64_encode(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    char *s = json_dumps(v[0], JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!s) return json_null();
    dv_buf out = DV_BUF_INIT;
    json_t *r = dv_base64_encode(&out, s, strlen(s)) == 0
                    ? str_n((const char *)dv_buf_head(&out), dv_buf_size(&out))
                    : NULL;
    dv_buf_free(&out);
    free(s);
    return r;
}
static json_t *f_base64_decode(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!json_is_string(v[0])) return json_null();
    size_t len = SLEN(v[0]), max = dv_base64_decoded_max(len), got = 0;
    uint8_t *out = malloc(max ? max : 1);
    if (!out) return NULL;
    json_t *r = dv_base64_decode(STR(v[0]), len, DV_BASE64_LOOSE, out, max, &got) == 0
                    ? json_loadb((const char *)out, got, JSON_DECODE_ANY, NULL)
                    : NULL;
    free(out);
    return r ? r : json_null();
}
static json_t *f_encode_json(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    char *s = json_dumps(v[0], JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!s) return json_null();
    json_t *r = json_string(s);
    free(s);
    return r;
}
static json_t *f_decode_json(q_ctx *c, json_t **v, size_t n)
{
    (void)c, (void)n;
    if (!json_is_string(v[0])) return json_null();
    json_t *r = json_loadb(STR(v[0]), SLEN(v[0]), JSON_DECODE_ANY, NULL);
    return r ? r : json_null();
}

/* ---- The table ---------------------------------------------------------------------------- */

static const struct fdef {
    const char *name;
    int min, max; /* max -1: any */
    int flags;
    qfn fn;
} fdefs[] = {
    {"LOWER", 1, 1, 0, f_lower},
    {"UPPER", 1, 1, 0, f_upper},
    {"LENGTH", 1, 1, 0, f_length},
    {"CONCAT", 2, -1, 0, f_concat},
    {"SUBSTR", 2, 3, 0, f_substr},
    {"SUBSTR1", 2, 3, 0, f_substr1},
    {"POSITION", 2, 2, 0, f_position},
    {"POSITION1", 2, 2, 0, f_position1},
    {"CONTAINS", 2, 2, 0, f_contains},
    {"REPLACE", 3, 4, 0, f_replace},
    {"SPLIT", 1, 2, 0, f_split},
    {"TRIM", 1, 2, 0, f_trim},
    {"LTRIM", 1, 2, 0, f_ltrim},
    {"RTRIM", 1, 2, 0, f_rtrim},
    {"TITLE", 1, 1, 0, f_title},
    {"INITCAP", 1, 1, 0, f_title},
    {"REVERSE", 1, 1, 0, f_reverse},
    {"REPEAT", 2, 2, 0, f_repeat},
    {"REGEXP_CONTAINS", 2, 2, 0, f_regexp_contains},
    {"REGEXP_LIKE", 2, 2, 0, f_regexp_like},
    {"REGEXP_REPLACE", 3, 4, 0, f_regexp_replace},
    {"TOSTRING", 1, 1, 0, f_tostring},
    {"TO_STRING", 1, 1, 0, f_tostring},
    {"TO_STR", 1, 1, 0, f_tostring},
    {"ABS", 1, 1, 0, f_abs},
    {"CEIL", 1, 1, 0, f_ceil},
    {"FLOOR", 1, 1, 0, f_floor},
    {"ROUND", 1, 2, 0, f_round},
    {"TRUNC", 1, 2, 0, f_trunc},
    {"POWER", 2, 2, 0, f_power},
    {"SQRT", 1, 1, 0, f_sqrt},
    {"EXP", 1, 1, 0, f_exp},
    {"LN", 1, 1, 0, f_ln},
    {"LOG", 1, 1, 0, f_log},
    {"SIGN", 1, 1, 0, f_sign},
    {"PI", 0, 0, 0, f_pi},
    {"MOD", 2, 2, 0, f_mod},
    {"RANDOM", 0, 1, F_RAW, f_random},
    {"GREATEST", 1, -1, 0, f_greatest},
    {"LEAST", 1, -1, 0, f_least},
    {"TO_NUMBER", 1, 1, 0, f_tonumber},
    {"TONUMBER", 1, 1, 0, f_tonumber},
    {"TO_NUM", 1, 1, 0, f_tonumber},
    {"TO_BOOLEAN", 1, 1, 0, f_toboolean},
    {"TOBOOLEAN", 1, 1, 0, f_toboolean},
    {"TO_ARRAY", 1, 1, 0, f_toarray},
    {"TOARRAY", 1, 1, 0, f_toarray},
    {"TO_OBJECT", 1, 1, 0, f_toobject},
    {"TOOBJECT", 1, 1, 0, f_toobject},
    {"TYPE", 1, 1, F_RAW, f_type},
    {"TYPENAME", 1, 1, F_RAW, f_type},
    {"IS_ARRAY", 1, 1, 0, f_is_array},
    {"ISARRAY", 1, 1, 0, f_is_array},
    {"IS_BOOLEAN", 1, 1, 0, f_is_boolean},
    {"ISBOOLEAN", 1, 1, 0, f_is_boolean},
    {"IS_BOOL", 1, 1, 0, f_is_boolean},
    {"IS_NUMBER", 1, 1, 0, f_is_number},
    {"ISNUMBER", 1, 1, 0, f_is_number},
    {"IS_NUM", 1, 1, 0, f_is_number},
    {"IS_OBJECT", 1, 1, 0, f_is_object},
    {"ISOBJECT", 1, 1, 0, f_is_object},
    {"IS_OBJ", 1, 1, 0, f_is_object},
    {"IS_STRING", 1, 1, 0, f_is_string},
    {"ISSTRING", 1, 1, 0, f_is_string},
    {"IS_STR", 1, 1, 0, f_is_string},
    {"IS_ATOM", 1, 1, 0, f_is_atom},
    {"ISATOM", 1, 1, 0, f_is_atom},
    {"IFMISSING", 1, -1, F_RAW, f_ifmissing},
    {"IFNULL", 1, -1, F_RAW, f_ifnull},
    {"IFMISSINGORNULL", 1, -1, F_RAW, f_ifmissingornull},
    {"COALESCE", 1, -1, F_RAW, f_ifmissingornull},
    {"NVL", 2, 2, F_RAW, f_nvl},
    {"NVL2", 3, 3, F_RAW, f_nvl2},
    {"MISSINGIF", 2, 2, F_RAW, f_missingif},
    {"NULLIF", 2, 2, F_RAW, f_nullif},
    {"ARRAY_LENGTH", 1, 1, 0, f_array_length},
    {"ARRAY_CONTAINS", 2, 2, 0, f_array_contains},
    {"ARRAY_POSITION", 2, 2, 0, f_array_position},
    {"ARRAY_APPEND", 2, -1, 0, f_array_append},
    {"ARRAY_PREPEND", 2, -1, 0, f_array_prepend},
    {"ARRAY_CONCAT", 2, -1, 0, f_array_concat},
    {"ARRAY_DISTINCT", 1, 1, 0, f_array_distinct},
    {"ARRAY_FLATTEN", 2, 2, 0, f_array_flatten},
    {"ARRAY_REMOVE", 2, -1, 0, f_array_remove},
    {"ARRAY_SORT", 1, 1, 0, f_array_sort},
    {"ARRAY_REVERSE", 1, 1, 0, f_array_reverse},
    {"ARRAY_SUM", 1, 1, 0, f_array_sum},
    {"ARRAY_AVG", 1, 1, 0, f_array_avg},
    {"ARRAY_MIN", 1, 1, 0, f_array_min},
    {"ARRAY_MAX", 1, 1, 0, f_array_max},
    {"ARRAY_COUNT", 1, 1, 0, f_array_count},
    {"ARRAY_RANGE", 2, 3, 0, f_array_range},
    {"OBJECT_NAMES", 1, 1, 0, f_object_names},
    {"OBJECT_VALUES", 1, 1, 0, f_object_values},
    {"OBJECT_PAIRS", 1, 1, 0, f_object_pairs},
    {"OBJECT_LENGTH", 1, 1, 0, f_object_length},
    {"OBJECT_ADD", 3, 3, 0, f_object_add},
    {"OBJECT_PUT", 3, 3, 0, f_object_put},
    {"OBJECT_REMOVE", 2, -1, 0, f_object_remove},
    {"NOW_MILLIS", 0, 0, 0, f_now_millis},
    {"CLOCK_MILLIS", 0, 0, 0, f_now_millis},
    {"NOW_STR", 0, 1, 0, f_now_str},
    {"CLOCK_STR", 0, 1, 0, f_now_str},
    {"NOW_UTC", 0, 1, 0, f_now_str},
    {"CLOCK_UTC", 0, 1, 0, f_now_str},
    {"STR_TO_MILLIS", 1, 2, 0, f_str_to_millis},
    {"MILLIS", 1, 2, 0, f_str_to_millis},
    {"MILLIS_TO_STR", 1, 2, 0, f_millis_to_str},
    {"MILLIS_TO_UTC", 1, 2, 0, f_millis_to_str},
    {"STR_TO_UTC", 1, 1, 0, f_str_to_utc},
    {"DATE_ADD_STR", 3, 3, 0, f_date_add_str},
    {"DATE_DIFF_STR", 3, 3, 0, f_date_diff_str},
    {"DATE_PART_STR", 2, 2, 0, f_date_part_str},
    {"DATE_TRUNC_STR", 2, 2, 0, f_date_trunc_str},
    {"UUID", 0, 0, 0, f_uuid},
    {"BASE64", 1, 1, 0, f_base64_encode},
    {"BASE64_ENCODE", 1, 1, 0, f_base64_encode},
    {"BASE64_DECODE", 1, 1, 0, f_base64_decode},
    {"ENCODE_JSON", 1, 1, 0, f_encode_json},
    {"DECODE_JSON", 1, 1, 0, f_decode_json},
};

static const struct fdef *fdef_find(const char *name)
{
    for (size_t i = 0; i < sizeof fdefs / sizeof fdefs[0]; i++)
        if (!strcasecmp(fdefs[i].name, name)) return &fdefs[i];
    return NULL;
}

int q_func_known(const char *name)
{
    static const char *const aggs[] = {"COUNT",  "SUM",       "AVG",      "MIN",
                                       "MAX",    "ARRAY_AGG", "COUNTN",   "MEAN",
                                       "MEDIAN", "STDDEV",    "VARIANCE", NULL};
    for (int i = 0; aggs[i]; i++)
        if (!strcasecmp(name, aggs[i])) return 1;
    return fdef_find(name) != NULL;
}

/* ---- Aggregates --------------------------------------------------------------------------- */

static json_t *aggregate(q_ctx *c, const q_expr *e, const q_env *env)
{
    for (size_t i = 0; i < env->naggs; i++)
        if (env->aggs[i].e == e) return env->aggs[i].v ? json_incref(env->aggs[i].v) : NULL;
    if (!env->group) return q_fail(c, 4000, "Aggregate %s() used outside a group", e->name);
    const char *name = e->name;
    if (e->star) {
        if (strcasecmp(name, "COUNT")) return q_fail(c, 3000, "%s(*) is not valid", name);
        return json_integer((json_int_t)env->ngroup);
    }
    if (e->nargs != 1) return q_fail(c, 3000, "%s() takes one argument", name);
    json_t *vals = json_array();
    if (!vals) return q_fail(c, 5000, "out of memory");
    for (size_t i = 0; i < env->ngroup; i++) {
        q_env row = *env;
        row.row = env->group[i].row;
        row.metas = env->group[i].metas;
        row.group = NULL;
        row.ngroup = 0;
        json_t *v = q_eval(c, e->args[0], &row);
        if (c->code) {
            json_decref(v);
            json_decref(vals);
            return NULL;
        }
        if (!v || json_is_null(v)) {
            json_decref(v);
            continue;
        }
        json_array_append_new(vals, v);
    }
    if (e->distinct) {
        json_t *d = distinct_of(vals);
        json_decref(vals);
        vals = d;
    }
    size_t n = json_array_size(vals);
    json_t *r = NULL;
    if (!strcasecmp(name, "COUNT")) {
        r = json_integer((json_int_t)n);
    } else if (!strcasecmp(name, "COUNTN")) {
        size_t k = 0, i;
        json_t *x;
        json_array_foreach(vals, i, x) k += json_is_number(x);
        r = json_integer((json_int_t)k);
    } else if (!strcasecmp(name, "ARRAY_AGG")) {
        r = n ? json_incref(vals) : json_null();
    } else if (!strcasecmp(name, "MIN") || !strcasecmp(name, "MAX")) {
        json_t *a[1] = {vals};
        r = array_fold(a, !strcasecmp(name, "MIN") ? 'm' : 'M');
    } else {
        /* numeric: SUM, AVG, MEAN, MEDIAN, STDDEV, VARIANCE over the numbers */
        json_t *nums = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(vals, i, x) if (json_is_number(x)) json_array_append(nums, x);
        size_t k = json_array_size(nums);
        json_t *a[1] = {nums};
        if (k == 0) {
            r = json_null();
        } else if (!strcasecmp(name, "SUM")) {
            r = array_fold(a, 's');
        } else if (!strcasecmp(name, "AVG") || !strcasecmp(name, "MEAN")) {
            r = array_fold(a, 'a');
        } else if (!strcasecmp(name, "MEDIAN")) {
            json_t *s = sorted_copy(nums);
            r = k % 2
                    ? json_incref(json_array_get(s, k / 2))
                    : q_number((NUM(json_array_get(s, k / 2 - 1)) + NUM(json_array_get(s, k / 2))) /
                               2);
            json_decref(s);
        } else {
            double mean = 0, var = 0;
            json_array_foreach(nums, i, x) mean += NUM(x);
            mean /= (double)k;
            json_array_foreach(nums, i, x) var += (NUM(x) - mean) * (NUM(x) - mean);
            var = k > 1 ? var / (double)(k - 1) : 0;
            r = q_number(!strcasecmp(name, "STDDEV") ? sqrt(var) : var);
        }
        json_decref(nums);
    }
    json_decref(vals);
    return r;
}

#define MAX_ARGS 64

json_t *q_call(q_ctx *c, const q_expr *e, const q_env *env)
{
    if (e->agg) return aggregate(c, e, env);
    const struct fdef *f = fdef_find(e->name);
    if (!f) return q_fail(c, 3000, "Invalid function %s", e->name);
    if (e->star || e->distinct) return q_fail(c, 3000, "Invalid arguments to %s", e->name);
    if ((int)e->nargs < f->min || (f->max >= 0 && (int)e->nargs > f->max) || e->nargs > MAX_ARGS)
        return q_fail(c, 3000, "Number of arguments to function %s must be %s %d", e->name,
                      f->max == f->min ? "" : "at least", f->min);
    json_t *v[MAX_ARGS];
    int missing = 0;
    for (size_t i = 0; i < e->nargs; i++) {
        v[i] = q_eval(c, e->args[i], env);
        if (!v[i]) missing = 1;
    }
    json_t *r = NULL;
    if (!c->code && (!missing || (f->flags & F_RAW))) {
        r = f->fn(c, v, e->nargs);
        if (!r && !c->code && !(f->flags & F_RAW) && !missing) r = json_null();
    }
    for (size_t i = 0; i < e->nargs; i++) json_decref(v[i]);
    return r;
}
