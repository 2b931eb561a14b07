/* The SQL++ evaluator: values, MISSING and NULL, collation, operators (functions: func.c). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "query/eval.h"
#include "query/func.h"

json_t *q_fail(q_ctx *c, int code, const char *fmt, ...)
{
    if (c->code) return NULL;
    c->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    return NULL;
}

int q_charge(q_ctx *c, size_t n)
{
    c->values += n;
    if (c->values > c->max_values) {
        q_fail(c, 5500, "Request has exceeded memory quota: it holds more than %zu values at once",
               c->max_values);
        return -1;
    }
    return 0;
}

int q_tick(q_ctx *c)
{
    if (c->code) return -1;
    if ((++c->ticks & 1023) != 0 || !c->rq->deadline_ns) return 0;
    if (dv_clock_now_ns() > c->rq->deadline_ns) {
        q_fail(c, 1080, "Timeout %s exceeded", c->rq->timeout_text ? c->rq->timeout_text : "");
        return -1;
    }
    return 0;
}

/* ---- Values ------------------------------------------------------------------------------- */

int q_truthy(const json_t *v)
{
    if (!v) return 0;
    switch (json_typeof(v)) {
    case JSON_TRUE:
        return 1;
    case JSON_FALSE:
    case JSON_NULL:
        return 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0;
    case JSON_STRING:
        return json_string_length(v) != 0;
    case JSON_ARRAY:
        return json_array_size(v) != 0;
    case JSON_OBJECT:
        return json_object_size(v) != 0;
    }
    return 0;
}

static int rank(const json_t *v)
{
    if (!v) return 0;
    switch (json_typeof(v)) {
    case JSON_NULL:
        return 1;
    case JSON_FALSE:
    case JSON_TRUE:
        return 2;
    case JSON_INTEGER:
    case JSON_REAL:
        return 3;
    case JSON_STRING:
        return 4;
    case JSON_ARRAY:
        return 5;
    case JSON_OBJECT:
        return 6;
    }
    return 7;
}

const char *q_type_name(const json_t *v)
{
    static const char *const names[] = {"missing", "null",  "boolean", "number",
                                        "string",  "array", "object",  "binary"};
    return names[rank(v)];
}

static int cmp_num(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    double x = json_number_value(a), y = json_number_value(b);
    return x < y ? -1 : x > y;
}

static int cmp_str(const json_t *a, const json_t *b)
{
    size_t na = json_string_length(a), nb = json_string_length(b);
    int r = memcmp(json_string_value(a), json_string_value(b), na < nb ? na : nb);
    if (r) return r < 0 ? -1 : 1;
    return na < nb ? -1 : na > nb;
}

static int cmp_keys(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

int q_collate(const json_t *a, const json_t *b)
{
    int ra = rank(a), rb = rank(b);
    if (ra != rb) return ra < rb ? -1 : 1;
    switch (ra) {
    case 2:
        return json_is_true(a) - json_is_true(b);
    case 3:
        return cmp_num(a, b);
    case 4:
        return cmp_str(a, b);
    case 5: {
        size_t na = json_array_size(a), nb = json_array_size(b);
        for (size_t i = 0; i < na && i < nb; i++) {
            int r = q_collate(json_array_get(a, i), json_array_get(b, i));
            if (r) return r;
        }
        return na < nb ? -1 : na > nb;
    }
    case 6: {
        size_t na = json_object_size(a), nb = json_object_size(b);
        if (na != nb) return na < nb ? -1 : 1;
        const char **ka = malloc((na + 1) * sizeof *ka), **kb = malloc((nb + 1) * sizeof *kb);
        if (!ka || !kb) {
            free(ka);
            free(kb);
            return 0;
        }
        size_t i = 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) ka[i++] = k;
        i = 0;
        json_object_foreach((json_t *)b, k, v) kb[i++] = k;
        qsort(ka, na, sizeof *ka, cmp_keys);
        qsort(kb, nb, sizeof *kb, cmp_keys);
        int r = 0;
        for (i = 0; i < na && !r; i++) {
            int s = strcmp(ka[i], kb[i]);
            if (s) r = s < 0 ? -1 : 1;
        }
        for (i = 0; i < na && !r; i++)
            r = q_collate(json_object_get(a, ka[i]), json_object_get(b, ka[i]));
        free(ka);
        free(kb);
        return r;
    }
    default:
        return 0;
    }
}

int q_equal(const json_t *a, const json_t *b)
{
    return q_collate(a, b) == 0;
}

static json_t *ref(json_t *v)
{
    return v ? json_incref(v) : NULL;
}

static json_t *boolean(int b)
{
    return b ? json_true() : json_false();
}

/* A number from a double: an integer when it is one. */
json_t *q_number(double d)
{
    if (d == floor(d) && fabs(d) < 9007199254740992.0) return json_integer((json_int_t)d);
    if (isnan(d) || isinf(d)) return json_null();
    return json_real(d);
}

/* ---- Names -------------------------------------------------------------------------------- */

static json_t *lookup(const q_env *env, const char *name, int *found)
{
    for (const q_env *e = env; e; e = e->outer) {
        for (const q_var *v = e->vars; v; v = v->next)
            if (!strcmp(v->name, name)) {
                *found = 1;
                return v->val;
            }
        if (e->row) {
            json_t *v = json_object_get(e->row, name);
            if (v) {
                *found = 1;
                return v;
            }
        }
        if (e->proj) {
            json_t *v = json_object_get(e->proj, name);
            if (v) {
                *found = 1;
                return v;
            }
        }
        if (e->row && e->dflt) {
            json_t *d = json_object_get(e->row, e->dflt);
            if (json_is_object(d)) {
                *found = 1;
                return json_object_get(d, name);
            }
            if (d) {
                *found = 1;
                return NULL;
            }
        }
        if (e->row && json_object_size(e->row)) {
            *found = 1; /* names do not leak out of a query with a FROM */
            return NULL;
        }
    }
    *found = 0;
    return NULL;
}

/* META(alias): the alias's metadata object, or MISSING. */
static json_t *meta_of(const q_env *env, const char *alias)
{
    for (const q_env *e = env; e; e = e->outer) {
        if (!e->metas) continue;
        if (alias) {
            json_t *m = json_object_get(e->metas, alias);
            if (m) return m;
            continue;
        }
        if (e->dflt) {
            json_t *m = json_object_get(e->metas, e->dflt);
            if (m) return m;
        }
        if (json_object_size(e->metas) == 1) {
            void *it = json_object_iter(e->metas);
            return json_object_iter_value(it);
        }
    }
    return NULL;
}

/* ---- Operators ---------------------------------------------------------------------------- */

static json_t *arith(q_ctx *c, char op, json_t *a, json_t *b)
{
    (void)c;
    if (!a || !b) return NULL;
    if (!json_is_number(a) || !json_is_number(b)) return json_null();
    if (json_is_integer(a) && json_is_integer(b) && op != '/') {
        json_int_t x = json_integer_value(a), y = json_integer_value(b), r;
        switch (op) {
        case '+':
            if (__builtin_add_overflow(x, y, &r)) break;
            return json_integer(r);
        case '-':
            if (__builtin_sub_overflow(x, y, &r)) break;
            return json_integer(r);
        case '*':
            if (__builtin_mul_overflow(x, y, &r)) break;
            return json_integer(r);
        case '%':
            if (y == 0) return json_null();
            if (y == -1) return json_integer(0);
            return json_integer(x % y);
        }
    }
    double x = json_number_value(a), y = json_number_value(b);
    switch (op) {
    case '+':
        return q_number(x + y);
    case '-':
        return q_number(x - y);
    case '*':
        return q_number(x * y);
    case '/':
        return y == 0 ? json_null() : q_number(x / y);
    case '%':
        return y == 0 ? json_null() : q_number(fmod(x, y));
    }
    return json_null();
}

static json_t *compare_op(const char *op, json_t *a, json_t *b)
{
    if (!a || !b) return NULL;
    if (json_is_null(a) || json_is_null(b)) return json_null();
    if (!strcmp(op, "=")) return boolean(q_equal(a, b));
    if (!strcmp(op, "!=")) return boolean(!q_equal(a, b));
    /* ordering across types follows the collation; within a type, the natural order */
    int r = q_collate(a, b);
    if (!strcmp(op, "<")) return boolean(r < 0);
    if (!strcmp(op, "<=")) return boolean(r <= 0);
    if (!strcmp(op, ">")) return boolean(r > 0);
    return boolean(r >= 0);
}

/* LIKE: % any run, _ one character (a UTF-8 sequence), esc escapes the next one. */
static int like_match(const char *s, const char *se, const char *p, const char *pe, int esc)
{
    while (p < pe) {
        char pc = *p;
        if (esc >= 0 && pc == (char)esc && p + 1 < pe) {
            p++;
            if (s >= se || *s != *p) return 0;
            s++;
            p++;
        } else if (pc == '%') {
            while (p < pe && *p == '%') p++;
            if (p == pe) return 1;
            for (const char *t = s; t <= se; t++)
                if (like_match(t, se, p, pe, esc)) return 1;
            return 0;
        } else if (pc == '_') {
            if (s >= se) return 0;
            s++;
            while (s < se && ((unsigned char)*s & 0xc0) == 0x80) s++;
            p++;
        } else {
            if (s >= se || *s != pc) return 0;
            s++;
            p++;
        }
    }
    return s == se;
}

static json_t *like(json_t *a, json_t *b, json_t *esc)
{
    if (!a || !b) return NULL;
    if (!json_is_string(a) || !json_is_string(b)) return json_null();
    int e = '\\';
    if (esc) {
        if (!json_is_string(esc) || json_string_length(esc) != 1) return json_null();
        e = (unsigned char)json_string_value(esc)[0];
    }
    const char *s = json_string_value(a), *p = json_string_value(b);
    return boolean(like_match(s, s + json_string_length(a), p, p + json_string_length(b), e));
}

/* The elements of v and every nested array or object value, for WITHIN. */
static int within(const json_t *needle, const json_t *hay)
{
    size_t i;
    json_t *x;
    const char *k;
    if (json_is_array(hay)) {
        json_array_foreach((json_t *)hay, i, x)
        {
            if (q_equal(needle, x) || within(needle, x)) return 1;
        }
    } else if (json_is_object(hay)) {
        json_object_foreach((json_t *)hay, k, x)
        {
            if (q_equal(needle, x) || within(needle, x)) return 1;
        }
    }
    return 0;
}

static json_t *in_op(json_t *a, json_t *b, int is_within)
{
    if (!a || !b) return NULL;
    if (json_is_null(a)) return json_null();
    if (!json_is_array(b) && !(is_within && json_is_object(b))) return json_null();
    if (is_within) return boolean(within(a, b));
    size_t i;
    json_t *x;
    json_array_foreach(b, i, x)
    {
        if (q_equal(a, x)) return json_true();
    }
    return json_false();
}

/* AND, OR over already evaluated truth values (query-service.md 10.1). */
static json_t *logic(q_ctx *c, const q_expr *e, const q_env *env)
{
    int is_and = e->kind == E_AND;
    int any_missing = 0, any_null = 0;
    for (size_t i = 0; i < e->nargs; i++) {
        json_t *v = q_eval(c, e->args[i], env);
        if (c->code) {
            json_decref(v);
            return NULL;
        }
        if (!v) {
            any_missing = 1;
            continue;
        }
        int null = json_is_null(v), t = q_truthy(v);
        json_decref(v);
        if (null) {
            any_null = 1;
            continue;
        }
        if (is_and && !t) return json_false();
        if (!is_and && t) return json_true();
    }
    if (is_and) {
        if (any_missing) return NULL;
        if (any_null) return json_null();
        return json_true();
    }
    if (any_null) return json_null();
    if (any_missing) return NULL;
    return json_false();
}

/* Iterate the bindings of ANY/EVERY/ARRAY FOR: calls body for each element with the vars
 * bound; returns the array driving the loop (borrowed via *arr) or signals MISSING/NULL. */
typedef int (*each_fn)(q_ctx *c, const q_expr *e, const q_env *env, void *st);

static int for_each(q_ctx *c, const q_expr *e, const q_env *env, each_fn fn, void *st,
                    int *missing_or_null)
{
    size_t nb = e->nbinds;
    json_t *arrs[8];
    if (nb > 8) {
        q_fail(c, 3000, "too many range bindings");
        return -1;
    }
    size_t len = 0;
    *missing_or_null = 0;
    for (size_t i = 0; i < nb; i++) {
        arrs[i] = q_eval(c, e->binds[i].e, env);
        if (c->code || !arrs[i] || !json_is_array(arrs[i])) {
            *missing_or_null = arrs[i] ? 2 : 1;
            for (size_t j = 0; j <= i; j++) json_decref(arrs[j]);
            return c->code ? -1 : 0;
        }
        if (i == 0 || json_array_size(arrs[i]) < len) len = json_array_size(arrs[i]);
    }
    q_var vars[16];
    json_t *posv[8] = {0};
    int rc = 0;
    for (size_t k = 0; k < len && !rc; k++) {
        const q_var *chain = env->vars;
        size_t nv = 0;
        for (size_t i = 0; i < nb; i++) {
            vars[nv] = (q_var){e->binds[i].var, json_array_get(arrs[i], k), chain};
            chain = &vars[nv++];
            if (e->binds[i].pos) {
                json_decref(posv[i]);
                posv[i] = json_integer((json_int_t)k);
                vars[nv] = (q_var){e->binds[i].pos, posv[i], chain};
                chain = &vars[nv++];
            }
        }
        q_env inner = *env;
        inner.vars = chain;
        rc = fn(c, e, &inner, st);
        if (q_tick(c) < 0) rc = -1;
    }
    for (size_t i = 0; i < nb; i++) {
        json_decref(arrs[i]);
        json_decref(posv[i]);
    }
    return rc < 0 ? -1 : 0;
}

typedef struct quant_st {
    size_t n, yes;
    int stop_on; /* 1: stop at the first true (ANY); 0: at the first false (EVERY) */
} quant_st;

static int quant_body(q_ctx *c, const q_expr *e, const q_env *env, void *p)
{
    quant_st *st = p;
    json_t *v = q_eval(c, e->a, env);
    if (c->code) {
        json_decref(v);
        return -1;
    }
    int t = q_truthy(v);
    json_decref(v);
    st->n++;
    st->yes += t;
    if (st->stop_on == 1 && t) return 1;
    if (st->stop_on == 0 && !t) return 1;
    return 0;
}

typedef struct collect_st {
    json_t *out;
    int first;
} collect_st;

static int collect_body(q_ctx *c, const q_expr *e, const q_env *env, void *p)
{
    collect_st *st = p;
    if (e->c) {
        json_t *w = q_eval(c, e->c, env);
        int t = q_truthy(w);
        json_decref(w);
        if (c->code) return -1;
        if (!t) return 0;
    }
    json_t *v = q_eval(c, e->a, env);
    if (c->code) {
        json_decref(v);
        return -1;
    }
    if (e->kind == E_OBJFOR) {
        json_t *name = q_eval(c, e->b, env);
        if (json_is_string(name) && v) json_object_set(st->out, json_string_value(name), v);
        json_decref(name);
        json_decref(v);
        return 0;
    }
    if (st->first) {
        st->out = v;
        return 1;
    }
    if (!v) return 0; /* MISSING elements are dropped from ARRAY ... FOR */
    if (q_charge(c, 1) < 0) {
        json_decref(v);
        return -1;
    }
    json_array_append_new(st->out, v);
    return 0;
}

static json_t *slice(json_t *base, json_t *from, json_t *to)
{
    if (!base || !from) return NULL;
    if (!json_is_array(base) || !json_is_integer(from) || (to && !json_is_integer(to)))
        return json_null();
    json_int_t n = (json_int_t)json_array_size(base);
    json_int_t s = json_integer_value(from), e = to ? json_integer_value(to) : n;
    if (s < 0) s += n;
    if (e < 0) e += n;
    if (s < 0 || e > n || s > e) return json_null();
    json_t *out = json_array();
    for (json_int_t i = s; i < e; i++) json_array_append(out, json_array_get(base, (size_t)i));
    return out;
}

static json_t *element(json_t *base, json_t *idx)
{
    if (!base || !idx) return NULL;
    if (json_is_array(base)) {
        if (!json_is_number(idx)) return NULL;
        double d = json_number_value(idx);
        if (d != floor(d) || fabs(d) > 1e15) return NULL;
        json_int_t i = (json_int_t)d, n = (json_int_t)json_array_size(base);
        if (i < 0) i += n;
        if (i < 0 || i >= n) return NULL;
        return ref(json_array_get(base, (size_t)i));
    }
    if (json_is_object(base) && json_is_string(idx))
        return ref(json_object_get(base, json_string_value(idx)));
    return NULL;
}

json_t *q_eval(q_ctx *c, const q_expr *e, const q_env *env)
{
    if (c->code) return NULL;
    json_t *a, *b, *r, *x;
    switch (e->kind) {
    case E_LIT:
        return json_incref(e->lit);
    case E_MISSING:
        return NULL;
    case E_IDENT: {
        int found;
        return ref(lookup(env, e->name, &found));
    }
    case E_FIELD:
        a = q_eval(c, e->a, env);
        r = json_is_object(a) ? ref(json_object_get(a, e->name)) : NULL;
        json_decref(a);
        return r;
    case E_ELEM:
        a = q_eval(c, e->a, env);
        b = q_eval(c, e->b, env);
        r = element(a, b);
        json_decref(a);
        json_decref(b);
        return r;
    case E_SLICE:
        a = q_eval(c, e->a, env);
        b = q_eval(c, e->b, env);
        x = e->c ? q_eval(c, e->c, env) : NULL;
        r = (e->c && !x) ? NULL : slice(a, b, x);
        json_decref(a);
        json_decref(b);
        json_decref(x);
        return r;
    case E_NPARAM:
        return c->rq->named ? ref(json_object_get(c->rq->named, e->name)) : NULL;
    case E_PPARAM:
        return c->rq->positional ? ref(json_array_get(c->rq->positional, (size_t)e->pos - 1))
                                 : NULL;
    case E_BIN:
        a = q_eval(c, e->a, env);
        b = q_eval(c, e->b, env);
        if (!strcmp(e->op, "||")) {
            if (!a || !b)
                r = NULL;
            else if (!json_is_string(a) || !json_is_string(b))
                r = json_null();
            else {
                size_t na = json_string_length(a), nb = json_string_length(b);
                char *buf = malloc(na + nb + 1);
                if (buf) {
                    memcpy(buf, json_string_value(a), na);
                    memcpy(buf + na, json_string_value(b), nb);
                    r = json_stringn_nocheck(buf, na + nb);
                    free(buf);
                } else {
                    r = q_fail(c, 5000, "out of memory");
                }
            }
        } else if (strchr("+-*/%", e->op[0]) && !e->op[1]) {
            r = arith(c, e->op[0], a, b);
        } else {
            r = compare_op(e->op, a, b);
        }
        json_decref(a);
        json_decref(b);
        return r;
    case E_NEG:
        a = q_eval(c, e->a, env);
        if (!a) return NULL;
        if (json_is_integer(a) && json_integer_value(a) != INT64_MIN)
            r = json_integer(-json_integer_value(a));
        else if (json_is_number(a))
            r = q_number(-json_number_value(a));
        else
            r = json_null();
        json_decref(a);
        return r;
    case E_NOT:
        a = q_eval(c, e->a, env);
        if (!a) return NULL;
        r = json_is_null(a) ? json_null() : boolean(!q_truthy(a));
        json_decref(a);
        return r;
    case E_AND:
    case E_OR:
        return logic(c, e, env);
    case E_IS: {
        a = q_eval(c, e->a, env);
        int t;
        if (e->is == 'N') {
            if (!a) return NULL; /* MISSING IS [NOT] NULL is MISSING */
            t = json_is_null(a);
        } else if (e->is == 'M') {
            t = !a;
        } else {
            t = a && !json_is_null(a);
        }
        json_decref(a);
        return boolean(e->neg ? !t : t);
    }
    case E_LIKE:
        a = q_eval(c, e->a, env);
        b = q_eval(c, e->b, env);
        x = e->c ? q_eval(c, e->c, env) : NULL;
        r = (e->c && !x) ? NULL : like(a, b, x);
        goto negate;
    case E_IN:
    case E_WITHIN:
        a = q_eval(c, e->a, env);
        b = q_eval(c, e->b, env);
        x = NULL;
        r = in_op(a, b, e->kind == E_WITHIN);
        goto negate;
    case E_BETWEEN: {
        a = q_eval(c, e->a, env);
        b = q_eval(c, e->b, env);
        x = q_eval(c, e->c, env);
        json_t *lo = compare_op(">=", a, b), *hi = compare_op("<=", a, x);
        if (!lo || !hi)
            r = NULL;
        else if (json_is_false(lo) || json_is_false(hi))
            r = json_false();
        else if (json_is_null(lo) || json_is_null(hi))
            r = json_null();
        else
            r = json_true();
        json_decref(lo);
        json_decref(hi);
        goto negate;
    }
    negate:
        json_decref(a);
        json_decref(b);
        json_decref(x);
        if (e->neg && r && json_is_boolean(r)) {
            int t = json_is_true(r);
            json_decref(r);
            r = boolean(!t);
        }
        return r;
    case E_FUNC:
        if (!strcasecmp(e->name, "META")) {
            const char *alias = NULL;
            if (e->nargs == 1 && e->args[0]->kind == E_IDENT)
                alias = e->args[0]->name;
            else if (e->nargs)
                return q_fail(c, 3000, "META() takes a keyspace alias");
            return ref(meta_of(env, alias));
        }
        return q_call(c, e, env);
    case E_CASE: {
        a = e->a ? q_eval(c, e->a, env) : NULL;
        for (size_t i = 0; i + 1 < e->nargs; i += 2) {
            json_t *w = q_eval(c, e->args[i], env);
            int hit = e->a ? (a && w && q_equal(a, w)) : q_truthy(w);
            json_decref(w);
            if (c->code) break;
            if (hit) {
                json_decref(a);
                return q_eval(c, e->args[i + 1], env);
            }
        }
        json_decref(a);
        if (c->code) return NULL;
        return e->b ? q_eval(c, e->b, env) : json_null();
    }
    case E_ARRAY:
        r = json_array();
        if (!r) return q_fail(c, 5000, "out of memory");
        for (size_t i = 0; i < e->nargs; i++) {
            x = q_eval(c, e->args[i], env);
            json_array_append_new(r, x ? x : json_null());
        }
        if (q_charge(c, e->nargs) < 0) {
            json_decref(r);
            return NULL;
        }
        return r;
    case E_OBJECT:
        r = json_object();
        if (!r) return q_fail(c, 5000, "out of memory");
        for (size_t i = 0; i < e->nargs; i++) {
            x = q_eval(c, e->args[i], env);
            if (x) json_object_set_new(r, e->names[i], x);
        }
        return r;
    case E_ANY:
    case E_EVERY:
    case E_ANYEVERY: {
        quant_st st = {0, 0, e->kind == E_ANY ? 1 : 0};
        int mn;
        if (for_each(c, e, env, quant_body, &st, &mn) < 0) return NULL;
        if (mn) return mn == 1 ? NULL : json_null();
        if (e->kind == E_ANY) return boolean(st.yes > 0);
        if (e->kind == E_EVERY) return boolean(st.yes == st.n);
        return boolean(st.n > 0 && st.yes == st.n);
    }
    case E_ARRAYFOR:
    case E_FIRSTFOR:
    case E_OBJFOR: {
        collect_st st = {e->kind == E_FIRSTFOR ? NULL
                         : e->kind == E_OBJFOR ? json_object()
                                               : json_array(),
                         e->kind == E_FIRSTFOR};
        int mn;
        if (for_each(c, e, env, collect_body, &st, &mn) < 0 || mn) {
            json_decref(st.out);
            if (c->code) return NULL;
            return mn == 1 ? NULL : json_null();
        }
        return st.out;
    }
    case E_SUBQ:
        return q_select(c, e->sub, env);
    case E_EXISTS:
        a = q_eval(c, e->a, env);
        if (!a) return NULL;
        r = json_is_array(a) ? boolean(json_array_size(a) > 0) : json_null();
        json_decref(a);
        return r;
    }
    return q_fail(c, 5000, "unknown expression");
}
