/* The SQL++ planner and executor: keyspaces, scans, joins, grouping, projection, ordering,
 * DML, index DDL, EXPLAIN, PREPARE/EXECUTE; and dv_query_run, which shapes the result. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "query/catalog.h"
#include "query/eval.h"
#include "query/func.h"
#include "query/lex.h"

void dv_query_doc_clear(dv_query_doc *d)
{
    dv_free(d->key);
    json_decref(d->value);
    memset(d, 0, sizeof *d);
}

/* ---- Rows --------------------------------------------------------------------------------- */

typedef struct q_rows {
    q_item *v;
    size_t n, cap;
} q_rows;

static void rows_free(q_rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        json_decref(r->v[i].row);
        json_decref(r->v[i].metas);
    }
    dv_free(r->v);
    memset(r, 0, sizeof *r);
}

/* Append (taking over the references). */
static int rows_push(q_ctx *c, q_rows *r, json_t *row, json_t *metas)
{
    if (!row || !metas || q_charge(c, 1 + json_object_size(row)) < 0 || q_tick(c) < 0) {
        json_decref(row);
        json_decref(metas);
        if (!c->code) q_fail(c, 5000, "out of memory");
        return -1;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        q_item *nv = dv_realloc(r->v, cap * sizeof *nv);
        if (!nv) {
            json_decref(row);
            json_decref(metas);
            q_fail(c, 5000, "out of memory");
            return -1;
        }
        r->v = nv;
        r->cap = cap;
    }
    r->v[r->n++] = (q_item){row, metas};
    return 0;
}

static json_t *meta_json(const dv_query_doc *d, const char *keyspace)
{
    json_t *m = json_object();
    if (!m) return NULL;
    json_object_set_new(m, "cas", json_integer((json_int_t)d->cas));
    json_object_set_new(m, "expiration", json_integer(d->exptime));
    json_object_set_new(m, "flags", json_integer(d->flags));
    json_object_set_new(m, "id", json_string(d->key));
    if (keyspace) json_object_set_new(m, "keyspace", json_string(keyspace));
    json_object_set_new(m, "type", json_string(d->is_json ? "json" : "base64"));
    return m;
}

/* ---- Keyspaces ---------------------------------------------------------------------------- */

typedef struct q_ks {
    int system; /* 1 indexes, 2 keyspaces, 0 a collection */
    char bucket[256], scope[256], collection[256];
    int legacy; /* named by the bucket alone */
    char path[800];
    void *h;
} q_ks;

static void ks_close(q_ctx *c, q_ks *ks)
{
    if (ks->h && c->src->close) c->src->close(c->src->ud, ks->h);
    ks->h = NULL;
}

/* Resolve a path through the query context (query-service.md 10.2). 0 or -1 (error set). */
static int ks_resolve(q_ctx *c, const q_path *p, q_ks *ks)
{
    memset(ks, 0, sizeof *ks);
    if (p->ns && !strcasecmp(p->ns, "system")) {
        if (p->nparts == 1 && !strcmp(p->parts[0], "indexes"))
            ks->system = 1;
        else if (p->nparts == 1 && !strcmp(p->parts[0], "keyspaces"))
            ks->system = 2;
        else {
            q_fail(c, 12003, "Keyspace not found in CB datastore: system:%s", p->parts[0]);
            return -1;
        }
        snprintf(ks->path, sizeof ks->path, "system:%s", p->parts[0]);
        return 0;
    }
    if (p->ns && strcmp(p->ns, "default")) {
        q_fail(c, 12002, "Namespace not found in CB datastore: %s", p->ns);
        return -1;
    }
    const char *b, *s = "_default", *k = "_default";
    if (p->nparts == 3) {
        b = p->parts[0];
        s = p->parts[1];
        k = p->parts[2];
    } else if (p->nparts == 1 && c->has_ctx && c->ctx_scope[0] && !p->ns) {
        b = c->ctx_bucket;
        s = c->ctx_scope;
        k = p->parts[0];
    } else if (p->nparts == 2 && c->has_ctx && !p->ns) {
        b = c->ctx_bucket;
        s = p->parts[0];
        k = p->parts[1];
    } else if (p->nparts == 1) {
        b = p->parts[0];
        ks->legacy = 1;
    } else {
        q_fail(c, 3000, "syntax error - invalid keyspace path %s.%s", p->parts[0], p->parts[1]);
        return -1;
    }
    snprintf(ks->bucket, sizeof ks->bucket, "%s", b);
    snprintf(ks->scope, sizeof ks->scope, "%s", s);
    snprintf(ks->collection, sizeof ks->collection, "%s", k);
    if (ks->legacy)
        snprintf(ks->path, sizeof ks->path, "default:%s", b);
    else
        snprintf(ks->path, sizeof ks->path, "default:%s.%s.%s", b, s, k);
    return 0;
}

static int ks_open(q_ctx *c, const q_path *p, q_ks *ks, dv_query_priv priv)
{
    if (ks_resolve(c, p, ks) < 0) return -1;
    if (ks->system) return 0;
    char msg[400] = "";
    int code =
        c->src->open(c->src->ud, ks->bucket, ks->scope, ks->collection, &ks->h, msg, sizeof msg);
    if (code) {
        q_fail(c, code, "%s", msg);
        return -1;
    }
    if (c->src->allow && !c->src->allow(c->src->ud, priv, ks->bucket, ks->scope, ks->collection)) {
        static const char *const pn[] = {"select", "insert", "update", "delete", "create index"};
        char what[64];
        snprintf(what, sizeof what, "%s", pn[priv]);
        ks_close(c, ks);
        q_fail(c, 13014,
               "User does not have credentials to run %s queries on the %s keyspace. Add role "
               "query_%s on %s to allow the statement to run.",
               priv == DV_QUERY_PRIV_MANAGE_INDEX ? "index" : what, ks->path,
               priv == DV_QUERY_PRIV_MANAGE_INDEX ? "manage_index" : what, ks->path);
        return -1;
    }
    return 0;
}

/* ---- Planning ----------------------------------------------------------------------------- */

typedef enum { P_KEYS, P_PRIMARY, P_INDEX, P_SYSTEM, P_EXPR, P_DUMMY } q_scan;

static int format_text(const q_expr *e, char *out, size_t n)
{
    dv_buf b = DV_BUF_INIT;
    int rc = q_expr_format(e, &b);
    if (rc == 0) snprintf(out, n, "%.*s", (int)dv_buf_size(&b), (const char *)dv_buf_head(&b));
    dv_buf_free(&b);
    return rc;
}

/* Strip the alias from a.f so that it compares with an index key `f`. */
static const q_expr *unalias(const q_expr *e, const char *alias, q_expr *tmp)
{
    if (e->kind == E_FIELD && e->a->kind == E_IDENT && alias && !strcmp(e->a->name, alias)) {
        memset(tmp, 0, sizeof *tmp);
        tmp->kind = E_IDENT;
        tmp->name = e->name;
        return tmp;
    }
    return e;
}

/* Does a conjunct of where constrain the expression with text key? */
static int sargable(const q_expr *w, const char *key, const char *alias)
{
    if (!w) return 0;
    if (w->kind == E_AND) {
        for (size_t i = 0; i < w->nargs; i++)
            if (sargable(w->args[i], key, alias)) return 1;
        return 0;
    }
    const q_expr *operand = NULL;
    if (w->kind == E_BIN && strchr("=<>!", w->op[0]))
        operand = w->a;
    else if (w->kind == E_LIKE || w->kind == E_IN || w->kind == E_BETWEEN ||
             (w->kind == E_IS && (w->is == 'V' || (w->neg && w->is != 'V'))))
        operand = w->a;
    if (!operand) return 0;
    q_expr tmp;
    char text[512];
    if (format_text(unalias(operand, alias, &tmp), text, sizeof text) < 0) return 0;
    if (!strcmp(text, key)) return 1;
    if (w->kind == E_BIN && !strcmp(w->op, "=")) {
        if (format_text(unalias(w->b, alias, &tmp), text, sizeof text) < 0) return 0;
        return !strcmp(text, key);
    }
    return 0;
}

/* The scan for the first FROM term; *index names the index used. */
static q_scan plan_scan_key(q_ctx *c, const q_from *f, const q_ks *ks, const q_expr *where,
                            char *index, size_t nindex, char *key, size_t nkey);

static q_scan plan_scan(q_ctx *c, const q_from *f, const q_ks *ks, const q_expr *where, char *index,
                        size_t nindex)
{
    char key[512];
    return plan_scan_key(c, f, ks, where, index, nindex, key, sizeof key);
}

static q_scan plan_scan_key(q_ctx *c, const q_from *f, const q_ks *ks, const q_expr *where,
                            char *index, size_t nindex, char *key, size_t nkey)
{
    index[0] = '\0';
    key[0] = '\0';
    if (!f) return P_DUMMY;
    if (!f->is_path) return P_EXPR;
    if (ks->system) return P_SYSTEM;
    if (f->use_keys) return P_KEYS;
    json_t *rows = q_catalog_rows(c->cat, c->src, ks->bucket, ks->scope, ks->collection);
    if (!rows) {
        q_fail(c, 5000, "out of memory");
        return P_DUMMY;
    }
    q_scan best = P_DUMMY;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "state")), "online")) continue;
        const char *name = json_string_value(json_object_get(r, "name"));
        if (json_is_true(json_object_get(r, "is_primary"))) {
            if (best == P_DUMMY) {
                best = P_PRIMARY;
                snprintf(index, nindex, "%s", name);
            }
            continue;
        }
        json_t *key0 = json_array_get(json_object_get(r, "index_key"), 0);
        json_t *cond = json_object_get(r, "condition");
        if (!json_is_string(key0) || !sargable(where, json_string_value(key0), f->alias)) continue;
        if (cond) { /* a partial index answers only queries that repeat its condition */
            char text[512] = "";
            int found = 0;
            if (where && where->kind == E_AND) {
                for (size_t k = 0; k < where->nargs && !found; k++)
                    if (format_text(where->args[k], text, sizeof text) == 0 &&
                        !strcmp(text, json_string_value(cond)))
                        found = 1;
            }
            if (where && format_text(where, text, sizeof text) == 0 &&
                !strcmp(text, json_string_value(cond)))
                found = 1;
            if (!found) continue;
        }
        best = P_INDEX;
        snprintf(index, nindex, "%s", name);
        snprintf(key, nkey, "%s", json_string_value(key0));
        break;
    }
    json_decref(rows);
    if (best == P_DUMMY)
        q_fail(c, 4000,
               "No index available on keyspace %s that matches your query. Use CREATE PRIMARY "
               "INDEX ON %s to create a primary index, or check that your expected index is "
               "online.",
               ks->path, ks->path);
    return best;
}

/* An expression that does not depend on the row (literals, parameters, operators on them). */
static int is_constant(const q_expr *e)
{
    if (!e) return 1;
    switch (e->kind) {
    case E_IDENT:
    case E_SUBQ:
    case E_ANY:
    case E_EVERY:
    case E_ANYEVERY:
    case E_ARRAYFOR:
    case E_FIRSTFOR:
    case E_OBJFOR:
        return 0;
    case E_FUNC:
        if (e->agg || !strcasecmp(e->name, "META") || !strcasecmp(e->name, "RANDOM") ||
            !strcasecmp(e->name, "UUID"))
            return 0;
        break;
    default:
        break;
    }
    if (!is_constant(e->a) || !is_constant(e->b) || !is_constant(e->c)) return 0;
    for (size_t i = 0; i < e->nargs; i++)
        if (!is_constant(e->args[i])) return 0;
    return 1;
}

/* The keys an index lookup gives for the first conjunct of where that is key = constant or
 * key IN constant; NULL when there is none or the index is not built (then: scan). */
static json_t *index_lookup_eq(q_ctx *c, const q_from *f, const q_ks *ks, const q_expr *where,
                               const char *index, const char *key)
{
    if (!where) return NULL;
    if (where->kind == E_AND) {
        for (size_t i = 0; i < where->nargs; i++) {
            json_t *r = index_lookup_eq(c, f, ks, where->args[i], index, key);
            if (r || c->code) return r;
        }
        return NULL;
    }
    const q_expr *side = NULL, *other = NULL;
    int in = 0;
    if (where->kind == E_BIN && !strcmp(where->op, "=")) {
        side = where->a;
        other = where->b;
    } else if (where->kind == E_IN && !where->neg) {
        side = where->a;
        other = where->b;
        in = 1;
    } else {
        return NULL;
    }
    q_expr tmp;
    char text[512];
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            if (in) return NULL;
            const q_expr *t = side;
            side = other;
            other = t;
        }
        if (!is_constant(other)) continue;
        if (format_text(unalias(side, f->alias, &tmp), text, sizeof text) < 0 || strcmp(text, key))
            continue;
        q_env env = {0};
        json_t *v = q_eval(c, other, &env);
        if (c->code || !v) {
            json_decref(v);
            return NULL;
        }
        json_t *vals = v;
        if (!in) {
            vals = json_array();
            json_array_append_new(vals, v);
        } else if (!json_is_array(v)) {
            json_decref(v);
            return json_array(); /* IN a non-array: nothing matches */
        }
        json_t *keys = json_array(), *seen = json_object();
        size_t i;
        json_t *x;
        json_array_foreach(vals, i, x)
        {
            json_t *k = q_catalog_lookup(c->cat, ks->bucket, ks->scope, ks->collection, index, x);
            if (!k) {
                json_decref(keys);
                json_decref(seen);
                json_decref(vals);
                return NULL;
            }
            size_t j;
            json_t *y;
            json_array_foreach(k, j, y)
            {
                if (json_object_get(seen, json_string_value(y))) continue;
                json_object_set_new(seen, json_string_value(y), json_true());
                json_array_append(keys, y);
            }
            json_decref(k);
        }
        json_decref(seen);
        json_decref(vals);
        return keys;
    }
    return NULL;
}

/* Is e (after its alias) the index key text? */
static int is_key(const q_expr *e, const char *alias, const char *key)
{
    q_expr tmp;
    char text[512];
    return format_text(unalias(e, alias, &tmp), text, sizeof text) == 0 && !strcmp(text, key);
}

typedef struct bounds {
    json_t *lo, *hi;
    int lo_incl, hi_incl;
} bounds;

/* Tighten b with bound v (taken over): lower when lower is set, else upper. */
static void tighten(bounds *b, int lower, json_t *v, int incl)
{
    json_t **cur = lower ? &b->lo : &b->hi;
    int *ci = lower ? &b->lo_incl : &b->hi_incl;
    int r = *cur ? q_collate(v, *cur) : 0;
    if (!*cur || (lower ? r > 0 : r < 0) || (r == 0 && !incl)) {
        json_decref(*cur);
        *cur = v;
        *ci = incl;
    } else {
        json_decref(v);
    }
}

/* The range of the key that the conjuncts of where (comparisons with constants, BETWEEN)
 * allow; 0 when none constrains it. */
static int key_range(q_ctx *c, const q_from *f, const q_expr *where, const char *key, bounds *b)
{
    const q_expr *const *conj = &where;
    size_t n = 1, found = 0;
    if (where->kind == E_AND) {
        conj = (const q_expr *const *)where->args;
        n = where->nargs;
    }
    q_env env = {0};
    for (size_t i = 0; i < n && !c->code; i++) {
        const q_expr *w = conj[i];
        if (w->kind == E_BETWEEN && !w->neg && is_key(w->a, f->alias, key) && is_constant(w->b) &&
            is_constant(w->c)) {
            json_t *lo = q_eval(c, w->b, &env), *hi = q_eval(c, w->c, &env);
            if (lo && hi) {
                tighten(b, 1, lo, 1);
                tighten(b, 0, hi, 1);
                found = 1;
            } else {
                json_decref(lo);
                json_decref(hi);
            }
            continue;
        }
        if (w->kind != E_BIN || (w->op[0] != '<' && w->op[0] != '>')) continue;
        int lower = w->op[0] == '>', incl = w->op[1] == '=';
        const q_expr *other;
        if (is_key(w->a, f->alias, key))
            other = w->b;
        else if (is_key(w->b, f->alias, key)) {
            other = w->a;
            lower = !lower; /* c < key: a lower bound */
        } else
            continue;
        if (!is_constant(other)) continue;
        json_t *v = q_eval(c, other, &env);
        if (!v || json_is_null(v)) {
            json_decref(v);
            continue;
        }
        tighten(b, lower, v, incl);
        found = 1;
    }
    return (int)found;
}

static json_t *index_lookup(q_ctx *c, const q_from *f, const q_ks *ks, const q_expr *where,
                            const char *index, const char *key)
{
    if (!where) return NULL;
    json_t *r = index_lookup_eq(c, f, ks, where, index, key);
    if (r || c->code) return r;
    bounds b = {0};
    if (key_range(c, f, where, key, &b) && !c->code)
        r = q_catalog_range(c->cat, ks->bucket, ks->scope, ks->collection, index, b.lo, b.lo_incl,
                            b.hi, b.hi_incl);
    json_decref(b.lo);
    json_decref(b.hi);
    return r;
}

/* ---- Reading keyspaces -------------------------------------------------------------------- */

static int add_doc(q_ctx *c, q_rows *out, const char *alias, dv_query_doc *d, const char *ksname,
                   json_t *base_row, json_t *base_meta)
{
    json_t *row = base_row ? json_copy(base_row) : json_object();
    json_t *metas;
    if (c->no_meta) {
        metas = base_meta ? json_incref(base_meta) : json_object();
    } else {
        metas = base_meta ? json_copy(base_meta) : json_object();
        if (metas) json_object_set_new(metas, alias, meta_json(d, ksname));
    }
    if (row && metas) json_object_set(row, alias, d->value ? d->value : json_null());
    return rows_push(c, out, row, metas);
}

static json_t *keys_of(q_ctx *c, const q_expr *e, const q_env *env)
{
    json_t *k = q_eval(c, e, env);
    if (!k || c->code) return NULL;
    if (json_is_string(k)) {
        json_t *a = json_array();
        json_array_append_new(a, k);
        return a;
    }
    if (json_is_array(k)) return k;
    json_decref(k);
    return json_array();
}

static int fetch_keys(q_ctx *c, q_ks *ks, json_t *keys, const char *alias, q_rows *out,
                      json_t *base_row, json_t *base_meta)
{
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        if (!json_is_string(k)) continue;
        dv_query_doc d = {0};
        if (c->src->get(c->src->ud, ks->h, json_string_value(k), &d) == 1) {
            int rc = add_doc(c, out, alias, &d, ks->collection, base_row, base_meta);
            dv_query_doc_clear(&d);
            if (rc < 0) return -1;
        }
    }
    return 0;
}

static json_t *system_rows(q_ctx *c, const q_ks *ks)
{
    if (ks->system == 1) return q_catalog_rows(c->cat, c->src, NULL, NULL, NULL);
    json_t *list = c->src->keyspaces ? c->src->keyspaces(c->src->ud) : json_array();
    json_t *out = json_array();
    size_t i;
    json_t *k;
    json_array_foreach(list, i, k)
    {
        const char *b = json_string_value(json_object_get(k, "bucket"));
        const char *s = json_string_value(json_object_get(k, "scope"));
        const char *n = json_string_value(json_object_get(k, "collection"));
        if (!b || !s || !n) continue;
        json_t *r = json_object();
        json_object_set_new(
            r, "datastore_id",
            json_string(c->src->datastore ? c->src->datastore : "http://127.0.0.1:8091"));
        json_object_set_new(r, "namespace_id", json_string("default"));
        json_object_set_new(r, "namespace", json_string("default"));
        char path[800];
        if (!strcmp(s, "_default") && !strcmp(n, "_default")) {
            json_object_set_new(r, "id", json_string(b));
            json_object_set_new(r, "name", json_string(b));
            snprintf(path, sizeof path, "default:`%s`", b);
        } else {
            json_object_set_new(r, "bucket", json_string(b));
            json_t *u = json_object_get(k, "bucket_uuid");
            if (u) json_object_set(r, "bucket_uuid", u);
            json_object_set_new(r, "scope", json_string(s));
            json_object_set_new(r, "id", json_string(n));
            json_object_set_new(r, "name", json_string(n));
            snprintf(path, sizeof path, "default:%s.%s.%s", b, s, n);
        }
        json_object_set_new(r, "path", json_string(path));
        json_array_append_new(out, r);
    }
    json_decref(list);
    return out;
}

/* Does e call META() (or hold a subquery, which might)? */
static int uses_meta(const q_expr *e)
{
    if (!e) return 0;
    if (e->kind == E_SUBQ) return 1;
    if (e->kind == E_FUNC && !strcasecmp(e->name, "META")) return 1;
    if (uses_meta(e->a) || uses_meta(e->b) || uses_meta(e->c)) return 1;
    for (size_t i = 0; i < e->nargs; i++)
        if (uses_meta(e->args[i])) return 1;
    for (size_t i = 0; i < e->nbinds; i++)
        if (uses_meta(e->binds[i].e)) return 1;
    return 0;
}

/* One row per element of arr (borrowed), binding it to alias. */
static int push_values(q_ctx *c, q_rows *out, const char *alias, json_t *arr)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        json_t *row = json_object();
        if (row) json_object_set(row, alias, x);
        if (rows_push(c, out, row, json_object()) < 0) break;
    }
    return c->code ? -1 : 0;
}

/* The rows of the first FROM term. */
static int scan_first(q_ctx *c, const q_stmt *s, const q_env *outer, q_rows *out, q_ks *ks,
                      size_t limit_hint)
{
    const q_from *f = &s->from[0];
    q_env env = {0};
    env.outer = outer;
    if (!f->is_path) {
        json_t *v = q_eval(c, f->expr, &env);
        if (c->code) return -1;
        if (!v) return 0;
        json_t *arr = v;
        if (!json_is_array(v)) {
            arr = json_array();
            json_array_append_new(arr, v);
        }
        int rc = push_values(c, out, f->alias, arr);
        json_decref(arr);
        return rc;
    }
    /* a path that starts with an enclosing query's alias is an expression (a correlated
     * subquery's FROM o.lines) */
    if (!f->path.ns && outer) {
        int found = 0;
        q_expr parts[3];
        memset(parts, 0, sizeof parts);
        parts[0].kind = E_IDENT;
        parts[0].name = f->path.parts[0];
        for (const q_env *e = outer; e && !found; e = e->outer) {
            for (const q_var *v = e->vars; v && !found; v = v->next)
                found = !strcmp(v->name, parts[0].name);
            if (e->row && json_object_get(e->row, parts[0].name)) found = 1;
        }
        if (found) {
            for (int i = 1; i < f->path.nparts; i++) {
                parts[i].kind = E_FIELD;
                parts[i].a = &parts[i - 1];
                parts[i].name = f->path.parts[i];
            }
            q_from ef = *f;
            ef.is_path = 0;
            ef.expr = &parts[f->path.nparts - 1];
            ef.use_keys = NULL;
            q_stmt one = *s;
            one.from = &ef;
            one.nfrom = 1;
            return scan_first(c, &one, outer, out, ks, limit_hint);
        }
    }
    if (ks_open(c, &f->path, ks, DV_QUERY_PRIV_SELECT) < 0) return -1;
    char index[256], key[512];
    q_scan scan = plan_scan_key(c, f, ks, s->where, index, sizeof index, key, sizeof key);
    if (c->code) return -1;
    if (scan == P_INDEX) {
        json_t *keys = index_lookup(c, f, ks, s->where, index, key);
        if (c->code) return -1;
        if (keys) { /* the index answers: fetch only its documents (WHERE still applies) */
            int rc = fetch_keys(c, ks, keys, f->alias, out, NULL, NULL);
            json_decref(keys);
            return rc;
        }
    }
    if (scan == P_SYSTEM) {
        json_t *rows = system_rows(c, ks);
        int rc = rows ? push_values(c, out, f->alias, rows) : -1;
        json_decref(rows);
        if (!rows) q_fail(c, 5000, "out of memory");
        return rc;
    }
    if (scan == P_KEYS) {
        json_t *keys = keys_of(c, f->use_keys, &env);
        if (c->code) return -1;
        int rc = keys ? fetch_keys(c, ks, keys, f->alias, out, NULL, NULL) : 0;
        json_decref(keys);
        return rc;
    }
    dv_query_doc *docs = NULL;
    size_t n = 0;
    if (c->src->scan(c->src->ud, ks->h, &docs, &n) < 0) {
        q_fail(c, 5000, "out of memory scanning %s", ks->path);
        return -1;
    }
    int rc = 0;
    /* A single-keyspace WHERE that reads no META() is tried on each document before its row is
     * built (rows that pass are checked again by the caller). */
    int prefilter = s->where && s->nfrom == 1 && !s->nlet && !uses_meta(s->where);
    q_env env1 = {0};
    env1.outer = outer;
    env1.dflt = f->alias;
    json_t *probe = prefilter ? json_object() : NULL;
    for (size_t i = 0; i < n; i++) {
        int keep = 1;
        if (!rc && probe) {
            json_object_set(probe, f->alias, docs[i].value ? docs[i].value : json_null());
            env1.row = probe;
            json_t *w = q_eval(c, s->where, &env1);
            keep = q_truthy(w);
            json_decref(w);
            if (c->code) rc = -1;
            if (q_tick(c) < 0) rc = -1;
        }
        if (!rc && keep && (!limit_hint || out->n < limit_hint))
            rc = add_doc(c, out, f->alias, &docs[i], ks->collection, NULL, NULL);
        dv_query_doc_clear(&docs[i]);
    }
    json_decref(probe);
    dv_free(docs);
    return rc;
}

/* The environment of one row in flight. */
static q_env item_env(const q_item *it, const char *dflt, const q_env *outer)
{
    q_env env = {0};
    env.row = it->row;
    env.metas = it->metas;
    env.dflt = dflt;
    env.outer = outer;
    return env;
}

/* Does e mention alias (as an identifier or through META(alias))? */
static int mentions(const q_expr *e, const char *alias)
{
    if (!e) return 0;
    if (e->kind == E_IDENT && !strcmp(e->name, alias)) return 1;
    if (e->kind == E_SUBQ) return 1;
    if (mentions(e->a, alias) || mentions(e->b, alias) || mentions(e->c, alias)) return 1;
    for (size_t i = 0; i < e->nargs; i++)
        if (mentions(e->args[i], alias)) return 1;
    return 0;
}

/* The right-side candidates of an ANSI join for one left row, in found (rows binding only the
 * right alias), already filtered by the ON condition evaluated over left and right together.
 * An online secondary index on the right answers "right.key = <expr of the left>"; else the
 * primary index lets the right keyspace be read once (into *right) and joined by nested loop;
 * else the real service's "No index available". */
static int ansi_candidates(q_ctx *c, const q_from *f, q_ks *ks, const q_env *left, q_rows *right,
                           int *right_loaded, q_rows *found)
{
    const q_expr *on = f->on;
    const q_expr *const *conj = &on;
    size_t nconj = 1;
    if (on->kind == E_AND) {
        conj = (const q_expr *const *)on->args;
        nconj = on->nargs;
    }
    json_t *rows = q_catalog_rows(c->cat, c->src, ks->bucket, ks->scope, ks->collection);
    json_t *keys = NULL;
    int have_primary = 0;
    size_t ri;
    json_t *r;
    json_array_foreach(rows, ri, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "state")), "online")) continue;
        if (json_is_true(json_object_get(r, "is_primary"))) {
            have_primary = 1;
            continue;
        }
        const char *key0 = json_string_value(json_array_get(json_object_get(r, "index_key"), 0));
        if (!key0 || keys) continue;
        for (size_t i = 0; i < nconj && !keys; i++) {
            const q_expr *w = conj[i];
            if (w->kind != E_BIN || strcmp(w->op, "=")) continue;
            for (int side = 0; side < 2 && !keys; side++) {
                const q_expr *mine = side ? w->b : w->a, *theirs = side ? w->a : w->b;
                q_expr tmp;
                char text[512];
                if (mentions(theirs, f->alias)) continue;
                if (format_text(unalias(mine, f->alias, &tmp), text, sizeof text) < 0 ||
                    strcmp(text, key0) || mine == unalias(mine, f->alias, &tmp))
                    continue;
                json_t *v = q_eval(c, theirs, left);
                if (v) {
                    keys = q_catalog_lookup(c->cat, ks->bucket, ks->scope, ks->collection,
                                            json_string_value(json_object_get(r, "name")), v);
                } else if (!c->code) {
                    keys = json_array(); /* MISSING matches nothing */
                }
                json_decref(v);
            }
        }
    }
    json_decref(rows);
    if (c->code) {
        json_decref(keys);
        return -1;
    }
    q_rows cand = {0};
    const q_rows *pool;
    if (keys) {
        fetch_keys(c, ks, keys, f->alias, &cand, NULL, NULL);
        json_decref(keys);
        pool = &cand;
    } else if (have_primary) {
        if (!*right_loaded) {
            q_stmt one = {0};
            q_from rf = *f;
            rf.join = J_NONE;
            rf.on = NULL;
            one.kind = S_SELECT;
            one.from = &rf;
            one.nfrom = 1;
            q_ks tmpks;
            memset(&tmpks, 0, sizeof tmpks);
            if (scan_first(c, &one, NULL, right, &tmpks, 0) < 0) {
                ks_close(c, &tmpks);
                return -1;
            }
            ks_close(c, &tmpks);
            *right_loaded = 1;
        }
        pool = right;
    } else {
        q_fail(c, 4000,
               "No index available for ANSI join term %s on keyspace %s. Create an index on "
               "the join condition's field of %s, or CREATE PRIMARY INDEX ON %s.",
               f->alias, ks->path, ks->path, ks->path);
        return -1;
    }
    for (size_t i = 0; i < pool->n && !c->code; i++) {
        json_t *row = json_copy(left->row), *m = json_copy(left->metas);
        json_object_update(row, pool->v[i].row);
        json_object_update(m, pool->v[i].metas);
        q_env env = *left;
        env.row = row;
        env.metas = m;
        json_t *t = q_eval(c, on, &env);
        int keep = q_truthy(t);
        json_decref(t);
        json_decref(row);
        json_decref(m);
        if (keep) rows_push(c, found, json_incref(pool->v[i].row), json_incref(pool->v[i].metas));
        if (q_tick(c) < 0) break;
    }
    rows_free(&cand);
    return c->code ? -1 : 0;
}

/* Joins, nests, unnests and comma terms after the first. */
static int join_terms(q_ctx *c, const q_stmt *s, const q_env *outer, q_rows *rows)
{
    for (size_t t = 1; t < s->nfrom && !c->code; t++) {
        const q_from *f = &s->from[t];
        q_rows next = {0};
        if (f->join == J_NONE) { /* cross product with an independent term */
            q_stmt one = *s;
            one.from = (q_from *)f;
            one.nfrom = 1;
            one.where = NULL;
            q_rows right = {0};
            q_ks ks;
            memset(&ks, 0, sizeof ks);
            if (scan_first(c, &one, outer, &right, &ks, 0) == 0) {
                for (size_t i = 0; i < rows->n && !c->code; i++)
                    for (size_t j = 0; j < right.n && !c->code; j++) {
                        json_t *row = json_copy(rows->v[i].row), *m = json_copy(rows->v[i].metas);
                        json_object_update(row, right.v[j].row);
                        json_object_update(m, right.v[j].metas);
                        rows_push(c, &next, row, m);
                    }
            }
            ks_close(c, &ks);
            rows_free(&right);
        } else if (f->join == J_UNNEST) {
            for (size_t i = 0; i < rows->n && !c->code; i++) {
                q_env env = item_env(&rows->v[i], s->from[0].alias, outer);
                json_t *arr = q_eval(c, f->expr, &env);
                size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
                for (size_t k = 0; k < n && !c->code; k++) {
                    json_t *row = json_copy(rows->v[i].row);
                    json_object_set(row, f->alias, json_array_get(arr, k));
                    rows_push(c, &next, row, json_copy(rows->v[i].metas));
                }
                if (n == 0 && f->left)
                    rows_push(c, &next, json_copy(rows->v[i].row), json_copy(rows->v[i].metas));
                json_decref(arr);
            }
        } else {
            q_ks ks;
            if (ks_open(c, &f->path, &ks, DV_QUERY_PRIV_SELECT) < 0) {
                rows_free(&next);
                return -1;
            }
            if (ks.system) {
                q_fail(c, 3000, "system keyspaces cannot be joined by key");
                rows_free(&next);
                return -1;
            }
            q_rows right = {0}; /* ANSI joins without a usable index: the right side, once */
            int right_loaded = 0;
            for (size_t i = 0; i < rows->n && !c->code; i++) {
                q_env env = item_env(&rows->v[i], s->from[0].alias, outer);
                q_rows found = {0};
                if (f->on) {
                    if (ansi_candidates(c, f, &ks, &env, &right, &right_loaded, &found) < 0) break;
                } else {
                    json_t *keys = keys_of(c, f->on_keys, &env);
                    if (c->code) break;
                    if (keys) fetch_keys(c, &ks, keys, f->alias, &found, NULL, NULL);
                    json_decref(keys);
                }
                if (f->join == J_JOIN) {
                    for (size_t k = 0; k < found.n && !c->code; k++) {
                        json_t *row = json_copy(rows->v[i].row), *m = json_copy(rows->v[i].metas);
                        json_object_update(row, found.v[k].row);
                        json_object_update(m, found.v[k].metas);
                        rows_push(c, &next, row, m);
                    }
                    if (!found.n && f->left)
                        rows_push(c, &next, json_copy(rows->v[i].row), json_copy(rows->v[i].metas));
                } else { /* NEST: the matches as one array */
                    if (found.n || f->left) {
                        json_t *row = json_copy(rows->v[i].row);
                        if (found.n) {
                            json_t *arr = json_array();
                            for (size_t k = 0; k < found.n; k++)
                                json_array_append(arr, json_object_get(found.v[k].row, f->alias));
                            json_object_set_new(row, f->alias, arr);
                        }
                        rows_push(c, &next, row, json_copy(rows->v[i].metas));
                    }
                }
                rows_free(&found);
            }
            rows_free(&right);
            ks_close(c, &ks);
        }
        rows_free(rows);
        *rows = next;
    }
    return c->code ? -1 : 0;
}

/* ---- SELECT ------------------------------------------------------------------------------- */

static const char *implicit_name(const q_expr *e)
{
    if (!e) return NULL;
    if (e->kind == E_IDENT || e->kind == E_FIELD) return e->name;
    return NULL;
}

/* The output name of projection i: its alias, a path's last name, else "$<i+1>" (in tmp). */
static const char *proj_name(const q_proj *p, size_t i, char *tmp, size_t ntmp)
{
    const char *name = p->alias ? p->alias : implicit_name(p->e);
    if (name) return name;
    snprintf(tmp, ntmp, "$%zu", i + 1);
    return tmp;
}

/* The projection of one row (a new reference; MISSING for a RAW row that is missing). */
static json_t *project(q_ctx *c, const q_stmt *s, const q_proj *projs, size_t nprojs, int raw,
                       const q_env *env)
{
    if (raw) return q_eval(c, projs[0].e, env);
    json_t *out = json_object();
    if (!out) return q_fail(c, 5000, "out of memory");
    for (size_t i = 0; i < nprojs && !c->code; i++) {
        const q_proj *p = &projs[i];
        if (p->star && !p->e) {
            for (size_t t = 0; t < s->nfrom; t++) {
                json_t *v = env->row ? json_object_get(env->row, s->from[t].alias) : NULL;
                if (v) json_object_set(out, s->from[t].alias, v);
            }
            continue;
        }
        json_t *v = q_eval(c, p->e, env);
        if (p->star) {
            if (json_is_object(v)) json_object_update(out, v);
            json_decref(v);
            continue;
        }
        char tmp[24];
        const char *name = proj_name(p, i, tmp, sizeof tmp);
        if (v) json_object_set_new(out, name, v);
    }
    return out;
}

static json_t *signature(const q_proj *projs, size_t n, int raw)
{
    if (raw) return json_string("json");
    json_t *sig = json_object();
    for (size_t i = 0; i < n; i++) {
        const q_proj *p = &projs[i];
        if (p->star) {
            json_object_set_new(sig, "*", json_string("*"));
            continue;
        }
        char tmp[24];
        const char *name = proj_name(p, i, tmp, sizeof tmp);
        const char *type = "json";
        if (p->e->kind == E_BIN && strchr("=<>!", p->e->op[0]))
            type = "boolean";
        else if (p->e->kind == E_AND || p->e->kind == E_OR || p->e->kind == E_NOT ||
                 p->e->kind == E_IS || p->e->kind == E_LIKE || p->e->kind == E_IN)
            type = "boolean";
        else if (p->e->kind == E_FUNC && p->e->agg && !strcasecmp(p->e->name, "COUNT"))
            type = "number";
        json_object_set_new(sig, name, json_string(type));
    }
    return sig;
}

static int eval_count(q_ctx *c, const q_expr *e, const char *what, size_t *out)
{
    q_env env = {0};
    json_t *v = q_eval(c, e, &env);
    if (c->code) return -1;
    if (!v) {
        *out = SIZE_MAX;
        return 0;
    }
    double d = json_is_number(v) ? json_number_value(v) : -1;
    if (d < 0 || d != floor(d)) {
        char *t = json_dumps(v, JSON_ENCODE_ANY);
        q_fail(c, 5030, "Invalid %s value %s", what, t ? t : "");
        free(t);
        json_decref(v);
        return -1;
    }
    *out = d >= 1e18 ? SIZE_MAX - 1 : (size_t)d;
    json_decref(v);
    return 0;
}

typedef struct sort_item {
    json_t *out;
    json_t **keys;
    size_t idx;
} sort_item;

static const q_order *g_order; /* qsort has no context argument */
static size_t g_norder;

static int cmp_sort(const void *x, const void *y)
{
    const sort_item *a = x, *b = y;
    for (size_t i = 0; i < g_norder; i++) {
        const json_t *ka = a->keys[i], *kb = b->keys[i];
        int r;
        int a_nm = !ka || json_is_null(ka), b_nm = !kb || json_is_null(kb);
        if (g_order[i].nulls && (a_nm != b_nm))
            r = (g_order[i].nulls == 1) ? (a_nm ? -1 : 1) : (a_nm ? 1 : -1);
        else {
            r = q_collate(ka, kb);
            if (g_order[i].desc) r = -r;
        }
        if (r) return r;
    }
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct group_key {
    json_t **k;
    size_t idx;
} group_key;
static size_t g_ngroup;
static int cmp_group(const void *x, const void *y)
{
    const group_key *a = x, *b = y;
    for (size_t i = 0; i < g_ngroup; i++) {
        int r = q_collate(a->k[i], b->k[i]);
        if (r) return r;
    }
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Evaluate LET bindings into the row (visible by name, not in SELECT *). */
static int apply_let(q_ctx *c, const q_binding *b, size_t n, q_item *it, const q_env *base)
{
    for (size_t i = 0; i < n; i++) {
        q_env env = *base;
        env.row = it->row;
        env.metas = it->metas;
        json_t *v = q_eval(c, b[i].e, &env);
        if (c->code) return -1;
        if (v)
            json_object_set_new(it->row, b[i].var, v);
        else
            json_object_del(it->row, b[i].var);
    }
    return 0;
}

/* One output per group (or the single group of an aggregate query without GROUP BY). */
static int group_rows(q_ctx *c, const q_stmt *s, const q_env *outer, q_rows *rows, q_rows *out,
                      q_item **gstart, size_t **gsize, size_t *ngroups)
{
    size_t n = rows->n;
    *ngroups = 0;
    if (s->ngroup == 0) {
        /* one group of everything, even of nothing */
        *gstart = dv_malloc(sizeof **gstart);
        *gsize = dv_malloc(sizeof **gsize);
        if (!*gstart || !*gsize) return -1;
        (*gstart)[0] = (q_item){NULL, NULL};
        (*gsize)[0] = n;
        *ngroups = 1;
        *out = *rows;
        memset(rows, 0, sizeof *rows);
        return 0;
    }
    group_key *keys = dv_calloc(n + 1, sizeof *keys);
    json_t **vals = dv_calloc(n * s->ngroup + 1, sizeof *vals);
    if (!keys || !vals) {
        dv_free(keys);
        dv_free(vals);
        q_fail(c, 5000, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n && !c->code; i++) {
        q_env env = {0};
        env.row = rows->v[i].row;
        env.metas = rows->v[i].metas;
        env.dflt = s->nfrom ? s->from[0].alias : NULL;
        env.outer = outer;
        keys[i].k = vals + i * s->ngroup;
        keys[i].idx = i;
        for (size_t g = 0; g < s->ngroup; g++) keys[i].k[g] = q_eval(c, s->group[g], &env);
    }
    if (c->code) {
        for (size_t i = 0; i < n * s->ngroup; i++) json_decref(vals[i]);
        dv_free(vals);
        dv_free(keys);
        return -1;
    }
    pthread_mutex_lock(&sort_mu);
    g_ngroup = s->ngroup;
    qsort(keys, n, sizeof *keys, cmp_group);
    pthread_mutex_unlock(&sort_mu);
    /* rows in group order; group boundaries */
    *gsize = dv_calloc(n + 1, sizeof **gsize);
    *gstart = NULL;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n && !c->code; i++) {
        q_item it = rows->v[keys[i].idx];
        rows_push(c, out, json_incref(it.row), json_incref(it.metas));
        int same = i > 0;
        for (size_t g = 0; same && g < s->ngroup; g++)
            if (q_collate(keys[i].k[g], keys[i - 1].k[g])) same = 0;
        if (!same) (*ngroups)++;
        (*gsize)[*ngroups - 1]++;
    }
    for (size_t i = 0; i < n * s->ngroup; i++) json_decref(vals[i]);
    dv_free(vals);
    dv_free(keys);
    rows_free(rows);
    return c->code ? -1 : 0;
}

/* ---- Streaming aggregates over cross products ----------------------------------------------
 * SELECT COUNT(1) FROM ARRAY_RANGE(0,110) AS a, ARRAY_RANGE(0,110) AS b, ...: the product is
 * never built; each combination is checked against WHERE and folded into the aggregates. */

#define MAX_STREAM_AGGS 16

static int has_agg_expr(const q_expr *e)
{
    if (!e || e->kind == E_SUBQ) return 0;
    if (e->kind == E_FUNC && e->agg) return 1;
    if (has_agg_expr(e->a) || has_agg_expr(e->b) || has_agg_expr(e->c)) return 1;
    for (size_t i = 0; i < e->nargs; i++)
        if (has_agg_expr(e->args[i])) return 1;
    return 0;
}

typedef struct acc {
    const q_expr *e;
    size_t count;
    double sum;
    json_int_t isum;
    int all_int, overflow;
    json_t *best;
} acc;

static int collect_aggs(const q_expr *e, acc *a, size_t *n)
{
    if (!e) return 0;
    if (e->kind == E_SUBQ) return 0;
    if (e->kind == E_FUNC && e->agg) {
        static const char *const ok[] = {"COUNT", "SUM", "AVG", "MIN", "MAX", NULL};
        int known = 0;
        for (int i = 0; ok[i]; i++) known |= !strcasecmp(e->name, ok[i]);
        if (!known || e->distinct || (!e->star && e->nargs != 1) || *n >= MAX_STREAM_AGGS ||
            (e->nargs && (has_agg_expr(e->args[0]))))
            return -1;
        memset(&a[*n], 0, sizeof a[*n]);
        a[*n].e = e;
        a[*n].all_int = 1;
        (*n)++;
        return 0;
    }
    if (collect_aggs(e->a, a, n) < 0 || collect_aggs(e->b, a, n) < 0 ||
        collect_aggs(e->c, a, n) < 0)
        return -1;
    for (size_t i = 0; i < e->nargs; i++)
        if (collect_aggs(e->args[i], a, n) < 0) return -1;
    return 0;
}

static void fold(q_ctx *c, acc *a, const q_env *env)
{
    if (a->e->star) {
        a->count++;
        return;
    }
    json_t *v = q_eval(c, a->e->args[0], env);
    if (!v || json_is_null(v)) {
        json_decref(v);
        return;
    }
    const char *name = a->e->name;
    if (!strcasecmp(name, "MIN") || !strcasecmp(name, "MAX")) {
        int r = a->best ? q_collate(v, a->best) : 0;
        if (!a->best || (!strcasecmp(name, "MIN") ? r < 0 : r > 0)) {
            json_decref(a->best);
            a->best = v;
            return;
        }
    } else if (!strcasecmp(name, "COUNT")) {
        a->count++;
    } else if (json_is_number(v)) {
        a->count++;
        a->sum += json_number_value(v);
        if (json_is_integer(v)) {
            if (__builtin_add_overflow(a->isum, json_integer_value(v), &a->isum)) a->overflow = 1;
        } else {
            a->all_int = 0;
        }
    }
    json_decref(v);
}

static json_t *acc_value(const acc *a)
{
    const char *name = a->e->name;
    if (!strcasecmp(name, "COUNT")) return json_integer((json_int_t)a->count);
    if (!strcasecmp(name, "MIN") || !strcasecmp(name, "MAX"))
        return a->best ? json_incref(a->best) : json_null();
    if (!a->count) return json_null();
    if (!strcasecmp(name, "SUM"))
        return a->all_int && !a->overflow ? json_integer(a->isum) : q_number(a->sum);
    return q_number(a->sum / (double)a->count);
}

typedef struct stream {
    const q_stmt *s;
    q_rows *terms;
    json_t *row, *metas;
    acc *accs;
    size_t naccs;
    json_t *first_row, *first_metas;
    q_env base;
} stream;

static void stream_level(q_ctx *c, stream *st, size_t t)
{
    if (t == st->s->nfrom) {
        q_env env = st->base;
        env.row = st->row;
        env.metas = st->metas;
        if (q_tick(c) < 0) return;
        if (st->s->where) {
            json_t *w = q_eval(c, st->s->where, &env);
            int keep = q_truthy(w);
            json_decref(w);
            if (!keep || c->code) return;
        }
        if (!st->first_row) {
            st->first_row = json_deep_copy(st->row);
            st->first_metas = json_deep_copy(st->metas);
        }
        for (size_t i = 0; i < st->naccs && !c->code; i++) fold(c, &st->accs[i], &env);
        return;
    }
    const q_rows *r = &st->terms[t];
    const char *alias = st->s->from[t].alias;
    for (size_t i = 0; i < r->n && !c->code; i++) {
        json_object_set(st->row, alias, json_object_get(r->v[i].row, alias));
        json_t *m = json_object_get(r->v[i].metas, alias);
        if (m)
            json_object_set(st->metas, alias, m);
        else
            json_object_del(st->metas, alias);
        stream_level(c, st, t + 1);
    }
}

/* 1 and *out (the one result row) when s was answered by streaming; 0 when s does not qualify;
 * -1 on error. */
static int stream_aggregate(q_ctx *c, const q_stmt *s, const q_env *outer, json_t **out)
{
    if (!s->has_agg || s->ngroup || s->nfrom < 2 || s->nlet || s->nletting || s->distinct ||
        s->raw > 1)
        return 0;
    for (size_t t = 0; t < s->nfrom; t++)
        if (s->from[t].join != J_NONE) return 0;
    acc accs[MAX_STREAM_AGGS];
    size_t naccs = 0;
    for (size_t i = 0; i < s->nprojs; i++)
        if (collect_aggs(s->projs[i].e, accs, &naccs) < 0) return 0;
    if (collect_aggs(s->having, accs, &naccs) < 0) return 0;
    for (size_t i = 0; i < s->norder; i++)
        if (collect_aggs(s->order[i].e, accs, &naccs) < 0) return 0;
    stream st = {0};
    st.s = s;
    st.accs = accs;
    st.naccs = naccs;
    st.base.outer = outer;
    st.base.vars = outer ? outer->vars : NULL;
    st.base.dflt = s->from[0].alias;
    st.terms = dv_calloc(s->nfrom, sizeof *st.terms);
    st.row = json_object();
    st.metas = json_object();
    int rc = st.terms && st.row && st.metas ? 1 : -1;
    if (rc < 0) q_fail(c, 5000, "out of memory");
    for (size_t t = 0; rc > 0 && t < s->nfrom; t++) {
        q_stmt one = *s;
        one.from = (q_from *)&s->from[t];
        one.nfrom = 1;
        one.where = NULL;
        q_ks ks;
        memset(&ks, 0, sizeof ks);
        if (scan_first(c, &one, outer, &st.terms[t], &ks, 0) < 0) rc = -1;
        ks_close(c, &ks);
    }
    if (rc > 0) stream_level(c, &st, 0);
    if (c->code) rc = -1;
    if (rc > 0) {
        q_aggval vals[MAX_STREAM_AGGS];
        for (size_t i = 0; i < naccs; i++) vals[i] = (q_aggval){accs[i].e, acc_value(&accs[i])};
        q_env env = st.base;
        env.aggs = vals;
        env.naggs = naccs;
        env.row = st.first_row ? st.first_row : st.row;
        env.metas = st.first_metas ? st.first_metas : st.metas;
        static const q_item none = {NULL, NULL};
        env.group = &none;
        int keep = 1;
        if (s->having) {
            json_t *h = q_eval(c, s->having, &env);
            keep = q_truthy(h);
            json_decref(h);
        }
        json_t *arr = json_array();
        if (keep && !c->code) {
            json_t *o = project(c, s, s->projs, s->nprojs, s->raw, &env);
            size_t limit = SIZE_MAX, offset = 0;
            if (s->limit) eval_count(c, s->limit, "LIMIT", &limit);
            if (s->offset) eval_count(c, s->offset, "OFFSET", &offset);
            if (!c->code && offset == 0 && limit > 0) json_array_append(arr, o ? o : json_null());
            json_decref(o);
        }
        for (size_t i = 0; i < naccs; i++) json_decref(vals[i].v);
        if (c->code) {
            json_decref(arr);
            rc = -1;
        } else {
            *out = arr;
        }
    }
    for (size_t i = 0; i < naccs; i++) json_decref(accs[i].best);
    for (size_t t = 0; st.terms && t < s->nfrom; t++) rows_free(&st.terms[t]);
    dv_free(st.terms);
    json_decref(st.row);
    json_decref(st.metas);
    json_decref(st.first_row);
    json_decref(st.first_metas);
    return rc;
}

/* Hand one row of the final result to the request's sink. 0, or -1 when the sink stopped the
 * request (the timeout error when the deadline has passed, else Q_STOPPED). */
static int emit(q_ctx *c, const json_t *row)
{
    if (!c->rq->row(c->rq->sink_ud, row)) return 0;
    if (c->rq->deadline_ns && dv_clock_now_ns() >= c->rq->deadline_ns)
        q_fail(c, 1080, "Timeout %s exceeded", c->rq->timeout_text ? c->rq->timeout_text : "");
    else if (!c->code)
        c->code = Q_STOPPED;
    return -1;
}

/* Every row of arr to the sink; arr is released and an empty array returned (NULL if
 * stopped). */
static json_t *emit_all(q_ctx *c, json_t *arr)
{
    size_t i;
    json_t *row;
    json_array_foreach(arr, i, row)
    {
        if (emit(c, row) < 0) break;
    }
    json_decref(arr);
    return c->code ? NULL : json_array();
}

/* A SELECT: a new array of its rows, or with sink set an empty one, the rows having gone to
 * the request's sink (as they are projected when nothing needs them all first). */
static json_t *select_rows(q_ctx *c, const q_stmt *s, const q_env *outer, int sink)
{
    if (c->code) return NULL;
    {
        json_t *streamed = NULL;
        int sr = stream_aggregate(c, s, outer, &streamed);
        if (sr < 0) return NULL;
        if (sr > 0) return sink ? emit_all(c, streamed) : streamed;
    }
    q_rows rows = {0};
    q_ks ks;
    memset(&ks, 0, sizeof ks);
    json_t *result = NULL;
    sort_item *items = NULL;
    size_t nitems = 0;
    q_item *gstart = NULL;
    size_t *gsize = NULL;
    /* WITH bindings are evaluated once, as variables */
    q_var withv[32];
    const q_var *chain = outer ? outer->vars : NULL;
    size_t nwith = 0;
    q_env wenv = {0};
    wenv.outer = outer;
    for (size_t i = 0; i < s->nlet && !s->nfrom && i < 32; i++) {
        wenv.vars = chain;
        json_t *v = q_eval(c, s->let[i].e, &wenv);
        withv[nwith] = (q_var){s->let[i].var, v, chain};
        chain = &withv[nwith++];
    }
    q_env base = {0};
    base.outer = outer;
    base.vars = chain;
    base.dflt = s->nfrom ? s->from[0].alias : NULL;

    size_t limit = SIZE_MAX, offset = 0;
    if (s->limit && eval_count(c, s->limit, "LIMIT", &limit) < 0) goto done;
    if (s->offset && eval_count(c, s->offset, "OFFSET", &offset) < 0) goto done;
    if (offset == SIZE_MAX) offset = 0;

    if (s->nfrom) {
        size_t hint = 0;
        if (!s->where && !s->norder && !s->ngroup && !s->has_agg && !s->distinct && s->nfrom == 1 &&
            limit != SIZE_MAX && !s->nlet)
            hint = limit + offset;
        if (scan_first(c, s, outer, &rows, &ks, hint) < 0) goto done;
        if (join_terms(c, s, outer, &rows) < 0) goto done;
    } else {
        rows_push(c, &rows, json_object(), json_object());
    }
    if (c->code) goto done;
    /* LET, WHERE */
    if (s->nfrom && s->nlet) {
        for (size_t i = 0; i < rows.n && !c->code; i++)
            apply_let(c, s->let, s->nlet, &rows.v[i], &base);
    }
    if (s->where) {
        size_t w = 0;
        for (size_t i = 0; i < rows.n; i++) {
            q_env env = base;
            env.row = rows.v[i].row;
            env.metas = rows.v[i].metas;
            json_t *v = c->code ? NULL : q_eval(c, s->where, &env);
            int keep = q_truthy(v) && !c->code;
            json_decref(v);
            if (keep) {
                rows.v[w++] = rows.v[i];
            } else {
                json_decref(rows.v[i].row);
                json_decref(rows.v[i].metas);
            }
        }
        rows.n = w;
        if (c->code) goto done;
    }
    /* GROUP BY / aggregates: rows become one representative per group */
    size_t ngroups = 0;
    int grouped = s->ngroup || s->has_agg;
    if (grouped) {
        q_rows sorted;
        if (group_rows(c, s, outer, &rows, &sorted, &gstart, &gsize, &ngroups) < 0) goto done;
        rows = sorted;
    }
    size_t nout = grouped ? ngroups : rows.n;
    /* Without ORDER BY or DISTINCT the first offset + limit projected rows are the result:
     * projection stops there, and with a sink each row goes out as it is projected. */
    int in_order = !s->norder && !s->distinct;
    int direct = sink && in_order;
    size_t want = limit > SIZE_MAX - offset ? SIZE_MAX : offset + limit, emitted = 0;
    items = dv_calloc(direct ? 1 : nout + 1, sizeof *items);
    if (!items) {
        q_fail(c, 5000, "out of memory");
        goto done;
    }
    size_t first = 0;
    if (in_order && !want) nout = 0;
    for (size_t i = 0; i < nout && !c->code; i++) {
        q_env env = base;
        json_t *grow = NULL, *gmeta = NULL;
        if (grouped) {
            size_t gn = gsize[i];
            static const q_item none = {NULL, NULL};
            env.group = gn ? &rows.v[first] : &none; /* non-NULL even when empty */
            env.ngroup = gn;
            grow = gn ? json_copy(rows.v[first].row) : json_object();
            gmeta = gn ? json_incref(rows.v[first].metas) : json_object();
            first += gn;
            env.row = grow;
            env.metas = gmeta;
            if (!gn && s->ngroup) {
                json_decref(grow);
                json_decref(gmeta);
                continue;
            }
            if (s->nletting) {
                q_item it = {grow, gmeta};
                apply_let(c, s->letting, s->nletting, &it, &env);
            }
            if (s->having) {
                json_t *h = q_eval(c, s->having, &env);
                int keep = q_truthy(h);
                json_decref(h);
                if (!keep) {
                    json_decref(grow);
                    json_decref(gmeta);
                    continue;
                }
            }
        } else {
            env.row = rows.v[i].row;
            env.metas = rows.v[i].metas;
        }
        json_t *o = project(c, s, s->projs, s->nprojs, s->raw, &env);
        if (direct) {
            if (!c->code && emitted >= offset) emit(c, o ? o : json_null());
            emitted++;
            json_decref(o);
        } else {
            sort_item *it = &items[nitems];
            it->out = o ? o : json_null();
            it->idx = nitems;
            if (s->norder) {
                it->keys = dv_calloc(s->norder, sizeof *it->keys);
                q_env oenv = env;
                oenv.proj = json_is_object(o) ? o : NULL;
                for (size_t k = 0; it->keys && k < s->norder; k++)
                    it->keys[k] = q_eval(c, s->order[k].e, &oenv);
            }
            nitems++;
        }
        json_decref(grow);
        json_decref(gmeta);
        if (!grouped) { /* the projection and sort keys hold what they need of the row */
            json_decref(rows.v[i].row);
            json_decref(rows.v[i].metas);
            rows.v[i].row = rows.v[i].metas = NULL;
        }
        if ((in_order && (direct ? emitted : nitems) >= want) || q_tick(c) < 0) break;
    }
    if (c->code) goto done;
    if (s->distinct) {
        size_t w = 0;
        for (size_t i = 0; i < nitems; i++) {
            int dup = 0;
            for (size_t j = 0; j < w && !dup; j++) dup = q_equal(items[j].out, items[i].out);
            if ((i & 255) == 0 && q_tick(c) < 0) break;
            if (dup) {
                json_decref(items[i].out);
                for (size_t k = 0; items[i].keys && k < s->norder; k++)
                    json_decref(items[i].keys[k]);
                dv_free(items[i].keys);
            } else {
                items[w++] = items[i];
            }
        }
        nitems = w;
    }
    if (s->norder) {
        pthread_mutex_lock(&sort_mu);
        g_order = s->order;
        g_norder = s->norder;
        qsort(items, nitems, sizeof *items, cmp_sort);
        pthread_mutex_unlock(&sort_mu);
        c->sorts += nitems;
    }
    result = json_array();
    for (size_t i = offset; result && i < nitems && i - offset < limit && !c->code; i++)
        if (sink)
            emit(c, items[i].out);
        else
            json_array_append(result, items[i].out);
done:
    for (size_t i = 0; i < nitems; i++) {
        json_decref(items[i].out);
        for (size_t k = 0; items[i].keys && k < s->norder; k++) json_decref(items[i].keys[k]);
        dv_free(items[i].keys);
    }
    for (size_t i = 0; i < nwith; i++) json_decref(withv[i].val);
    dv_free(items);
    dv_free(gstart);
    dv_free(gsize);
    rows_free(&rows);
    ks_close(c, &ks);
    if (c->code) {
        json_decref(result);
        return NULL;
    }
    return result;
}

json_t *q_select(q_ctx *c, const q_stmt *s, const q_env *outer)
{
    return select_rows(c, s, outer, 0);
}

/* ---- DML ---------------------------------------------------------------------------------- */

static const char *const op_names[] = {"INSERT", "UPSERT", "UPDATE", "DELETE"};

static int dml_write(q_ctx *c, q_ks *ks, dv_query_write_op op, const char *verb, const char *key,
                     json_t *value, uint64_t cas, uint32_t expiry, uint64_t *cas_out)
{
    char msg[300] = "";
    int preserve = c->rq->preserve_expiry && op == DV_QUERY_REPLACE;
    int code = c->src->write(c->src->ud, ks->h, op, key, value, cas, expiry, preserve, cas_out, msg,
                             sizeof msg);
    if (!code) {
        c->mutations++;
        return 0;
    }
    if (c->code) return -1;
    c->code = 12009;
    snprintf(c->msg, sizeof c->msg,
             "DML Error, possible causes include concurrent modification. Failed to perform %s "
             "on key %s - cause: %s",
             verb, key, msg);
    c->reason = json_pack("{s:s,s:i,s:s,s:s}", "caller", "divan", "code", code, "key",
                          "datastore.couchbase.DML_error", "message", msg);
    return -1;
}

/* RETURNING over the document written (alias -> value, META from the write). */
static int returning_row(q_ctx *c, const q_stmt *s, const char *alias, const char *key,
                         json_t *value, uint64_t cas, uint32_t exptime, json_t *out)
{
    if (!s->nreturning) return 0;
    dv_query_doc d = {(char *)key, NULL, 1, cas, 0, exptime};
    json_t *row = json_object(), *metas = json_object();
    json_object_set(row, alias, value ? value : json_null());
    json_object_set_new(metas, alias, meta_json(&d, NULL));
    q_env env = {0};
    env.row = row;
    env.metas = metas;
    env.dflt = alias;
    json_t *o = project(c, s, s->returning, s->nreturning, s->returning_raw, &env);
    json_array_append_new(out, o ? o : json_null());
    json_decref(row);
    json_decref(metas);
    return c->code ? -1 : 0;
}

static json_t *insert_rows(q_ctx *c, const q_stmt *s)
{
    q_ks ks;
    dv_query_priv priv = s->kind == S_INSERT ? DV_QUERY_PRIV_INSERT : DV_QUERY_PRIV_UPDATE;
    if (ks_open(c, &s->from[0].path, &ks, priv) < 0) return NULL;
    if (s->kind == S_UPSERT && c->src->allow &&
        !c->src->allow(c->src->ud, DV_QUERY_PRIV_INSERT, ks.bucket, ks.scope, ks.collection)) {
        ks_close(c, &ks);
        q_fail(c, 13014,
               "User does not have credentials to run INSERT queries on the %s "
               "keyspace. Add role query_insert on %s to allow the statement to run.",
               ks.path, ks.path);
        return NULL;
    }
    if (ks.system) {
        q_fail(c, 5000, "system keyspaces cannot be written to");
        return NULL;
    }
    json_t *out = json_array();
    dv_query_write_op op = s->kind == S_INSERT ? DV_QUERY_INSERT : DV_QUERY_UPSERT;
    const char *verb = op_names[s->kind == S_INSERT ? 0 : 1];
    q_env empty = {0};
    json_t *sel = NULL;
    size_t n = s->nvalues;
    if (s->insert_select) {
        sel = q_select(c, s->insert_select, NULL);
        n = json_array_size(sel);
    }
    for (size_t i = 0; i < n && !c->code; i++) {
        json_t *k, *v, *opts = NULL;
        if (sel) {
            q_env env = {0};
            json_t *r = json_array_get(sel, i);
            json_t *wrap = json_object();
            env.proj = json_is_object(r) ? r : NULL;
            env.row = wrap;
            k = q_eval(c, s->ins_key, &env);
            v = s->ins_value ? q_eval(c, s->ins_value, &env) : json_incref(r);
            json_decref(wrap);
        } else {
            k = q_eval(c, s->keys[i], &empty);
            v = q_eval(c, s->values[i], &empty);
            opts = s->options[i] ? q_eval(c, s->options[i], &empty) : NULL;
        }
        if (!c->code && !json_is_string(k)) {
            char *t = json_dumps(k ? k : json_null(), JSON_ENCODE_ANY);
            q_fail(c, 5070, "Cannot %s non-string key %s of type %s.", verb, t ? t : "",
                   q_type_name(k));
            free(t);
        }
        if (!c->code && !v)
            q_fail(c, 5070, "Cannot %s a MISSING value for key %s.", verb, json_string_value(k));
        uint32_t exp = 0;
        json_t *e = json_object_get(opts, "expiration");
        if (json_is_integer(e) && json_integer_value(e) > 0) exp = (uint32_t)json_integer_value(e);
        uint64_t cas = 0;
        if (!c->code && dml_write(c, &ks, op, verb, json_string_value(k), v, 0, exp, &cas) == 0)
            returning_row(c, s, s->from[0].alias, json_string_value(k), v, cas, 0, out);
        json_decref(k);
        json_decref(v);
        json_decref(opts);
    }
    json_decref(sel);
    ks_close(c, &ks);
    if (c->code) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* The steps of a SET/UNSET path below the document: names (json strings) and indexes. */
static int path_steps(const q_expr *p, const char *alias, json_t *steps)
{
    if (p->kind == E_IDENT) {
        if (alias && !strcmp(p->name, alias)) return 0;
        return json_array_append_new(steps, json_string(p->name));
    }
    if (p->kind == E_FIELD) {
        if (path_steps(p->a, alias, steps) < 0) return -1;
        return json_array_append_new(steps, json_string(p->name));
    }
    if (p->kind == E_ELEM && p->b->kind == E_LIT) {
        if (path_steps(p->a, alias, steps) < 0) return -1;
        return json_array_append(steps, p->b->lit);
    }
    return -1;
}

static void path_apply(json_t *doc, json_t *steps, json_t *value)
{
    size_t n = json_array_size(steps);
    json_t *cur = doc;
    for (size_t i = 0; i < n && cur; i++) {
        json_t *st = json_array_get(steps, i);
        int last = i + 1 == n;
        if (json_is_string(st) && json_is_object(cur)) {
            const char *name = json_string_value(st);
            if (last) {
                if (value)
                    json_object_set(cur, name, value);
                else
                    json_object_del(cur, name);
                return;
            }
            json_t *next = json_object_get(cur, name);
            if (!next || (!json_is_object(next) && !json_is_array(next))) {
                if (!value) return;
                next = json_object();
                json_object_set_new(cur, name, next);
            }
            cur = next;
        } else if (json_is_integer(st) && json_is_array(cur)) {
            json_int_t k = json_integer_value(st), len = (json_int_t)json_array_size(cur);
            if (k < 0) k += len;
            if (k < 0 || k >= len) return;
            if (last) {
                if (value)
                    json_array_set(cur, (size_t)k, value);
                else
                    json_array_remove(cur, (size_t)k);
                return;
            }
            cur = json_array_get(cur, (size_t)k);
        } else {
            return;
        }
    }
}

static json_t *update_delete(q_ctx *c, const q_stmt *s)
{
    int del = s->kind == S_DELETE;
    q_rows rows = {0};
    q_ks ks;
    memset(&ks, 0, sizeof ks);
    json_t *out = NULL;
    if (scan_first(c, s, NULL, &rows, &ks, 0) < 0) goto done;
    if (c->src->allow && !ks.system &&
        !c->src->allow(c->src->ud, del ? DV_QUERY_PRIV_DELETE : DV_QUERY_PRIV_UPDATE, ks.bucket,
                       ks.scope, ks.collection)) {
        q_fail(c, 13014,
               "User does not have credentials to run %s queries on the %s keyspace. Add role "
               "query_%s on %s to allow the statement to run.",
               del ? "DELETE" : "UPDATE", ks.path, del ? "delete" : "update", ks.path);
        goto done;
    }
    if (ks.system) {
        q_fail(c, 5000, "system keyspaces cannot be written to");
        goto done;
    }
    size_t limit = SIZE_MAX;
    if (s->limit && eval_count(c, s->limit, "LIMIT", &limit) < 0) goto done;
    out = json_array();
    const char *alias = s->from[0].alias;
    size_t done_n = 0;
    for (size_t i = 0; i < rows.n && !c->code && done_n < limit; i++) {
        q_env env = {0};
        env.row = rows.v[i].row;
        env.metas = rows.v[i].metas;
        env.dflt = alias;
        if (s->where) {
            json_t *w = q_eval(c, s->where, &env);
            int keep = q_truthy(w);
            json_decref(w);
            if (!keep) continue;
        }
        json_t *meta = json_object_get(rows.v[i].metas, alias);
        const char *key = json_string_value(json_object_get(meta, "id"));
        uint64_t cas = (uint64_t)json_integer_value(json_object_get(meta, "cas"));
        uint32_t exptime = (uint32_t)json_integer_value(json_object_get(meta, "expiration"));
        json_t *doc = json_object_get(rows.v[i].row, alias);
        uint64_t ncas = 0;
        if (del) {
            if (s->nreturning) returning_row(c, s, alias, key, doc, cas, exptime, out);
            if (!c->code) dml_write(c, &ks, DV_QUERY_DELETE, "DELETE", key, NULL, cas, 0, &ncas);
        } else {
            json_t *nd = json_deep_copy(doc);
            for (size_t k = 0; k < s->nset && !c->code; k++) {
                json_t *steps = json_array();
                json_t *v = q_eval(c, s->set_vals[k], &env);
                if (path_steps(s->set_paths[k], alias, steps) < 0 || !json_array_size(steps)) {
                    if (json_array_size(steps) == 0 && v && json_is_object(v)) {
                        json_decref(nd);
                        nd = json_incref(v);
                    }
                } else if (json_is_object(nd)) {
                    path_apply(nd, steps, v ? v : NULL);
                }
                json_decref(v);
                json_decref(steps);
            }
            for (size_t k = 0; k < s->nunset && !c->code; k++) {
                json_t *steps = json_array();
                if (path_steps(s->unset_paths[k], alias, steps) == 0 && json_is_object(nd))
                    path_apply(nd, steps, NULL);
                json_decref(steps);
            }
            if (!c->code &&
                dml_write(c, &ks, DV_QUERY_REPLACE, "UPDATE", key, nd, cas, 0, &ncas) == 0)
                returning_row(c, s, alias, key, nd, ncas, c->rq->preserve_expiry ? exptime : 0,
                              out);
            json_decref(nd);
        }
        done_n++;
    }
done:
    rows_free(&rows);
    ks_close(c, &ks);
    if (c->code) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* ---- Index DDL ---------------------------------------------------------------------------- */

static char *format_dup(const q_expr *e)
{
    dv_buf b = DV_BUF_INIT;
    char *s = NULL;
    if (q_expr_format(e, &b) == 0 && (s = dv_malloc(dv_buf_size(&b) + 1))) {
        memcpy(s, dv_buf_head(&b), dv_buf_size(&b));
        s[dv_buf_size(&b)] = '\0';
    }
    dv_buf_free(&b);
    return s;
}

/* Fill a secondary index from a scan of its open keyspace; it is kept up to date from then on
 * (a source without keyspace ids keeps definitions only). */
static int build_from_scan(q_ctx *c, q_ks *ks, const char *name)
{
    if (!c->src->keyspace_id || ks->system) return 0;
    uint32_t id = c->src->keyspace_id(c->src->ud, ks->h);
    /* mark it built first so that writes during the scan are reported to it */
    if (q_catalog_build(c->cat, ks->bucket, ks->scope, ks->collection, name, id, NULL, 0) != 0)
        return 0;
    dv_query_doc *docs = NULL;
    size_t n = 0;
    if (c->src->scan(c->src->ud, ks->h, &docs, &n) < 0) {
        q_fail(c, 5000, "out of memory building index %s", name);
        return -1;
    }
    int rc = q_catalog_build(c->cat, ks->bucket, ks->scope, ks->collection, name, id, docs, n);
    for (size_t i = 0; i < n; i++) dv_query_doc_clear(&docs[i]);
    dv_free(docs);
    if (rc < 0) q_fail(c, 5000, "out of memory building index %s", name);
    return rc < 0 ? -1 : 0;
}

static json_t *create_index(q_ctx *c, const q_stmt *s)
{
    q_ks ks;
    if (ks_open(c, &s->from[0].path, &ks, DV_QUERY_PRIV_MANAGE_INDEX) < 0) return NULL;
    if (ks.system) return q_fail(c, 5000, "indexes cannot be created on system keyspaces");
    q_index ix = {0};
    ix.name = (char *)(s->index_name ? s->index_name : "#primary");
    ix.bucket = ks.bucket;
    ix.scope = ks.scope;
    ix.collection = ks.collection;
    ix.legacy = ks.legacy;
    ix.primary = s->primary;
    snprintf(ix.state, sizeof ix.state, "online");
    if (s->with_e) {
        q_env env = {0};
        ix.with = q_eval(c, s->with_e, &env);
        if (!json_is_object(ix.with)) {
            json_decref(ix.with);
            return q_fail(c, 5000, "WITH takes an object");
        }
        if (json_is_true(json_object_get(ix.with, "defer_build")))
            snprintf(ix.state, sizeof ix.state, "deferred");
    }
    ix.keys = json_array();
    for (size_t i = 0; i < s->nindex_keys; i++) {
        char *t = format_dup(s->index_keys[i]);
        json_array_append_new(ix.keys, json_string(t ? t : ""));
        dv_free(t);
    }
    if (s->index_where) ix.condition = format_dup(s->index_where);
    if (s->npartition) {
        dv_buf b = DV_BUF_INIT;
        dv_buf_printf(&b, "HASH(");
        for (size_t i = 0; i < s->npartition; i++) {
            if (i) dv_buf_printf(&b, ", ");
            q_expr_format(s->partition[i], &b);
        }
        dv_buf_append(&b, ")", 2);
        ix.partition = dv_strdup((const char *)dv_buf_head(&b));
        dv_buf_free(&b);
    }
    int rc = q_catalog_add(c->cat, &ix);
    json_decref(ix.keys);
    json_decref(ix.with);
    dv_free(ix.condition);
    dv_free(ix.partition);
    if (rc == 0 && !s->primary && !strcmp(ix.state, "online")) build_from_scan(c, &ks, ix.name);
    ks_close(c, &ks);
    if (c->code) return NULL;
    if (rc < 0) return q_fail(c, 5000, "out of memory");
    if (rc == 1 && !s->if_not_exists)
        return q_fail(c, 4300, "The index %s already exists.", ix.name);
    return json_array();
}

static json_t *drop_index(q_ctx *c, const q_stmt *s)
{
    q_ks ks;
    if (ks_open(c, &s->from[0].path, &ks, DV_QUERY_PRIV_MANAGE_INDEX) < 0) return NULL;
    ks_close(c, &ks);
    const char *name = s->index_name ? s->index_name : "#primary";
    if (q_catalog_drop(c->cat, ks.bucket, ks.scope, ks.collection, name) && !s->if_exists)
        return q_fail(c, 12016, "Index Not Found - cause: GSI index %s not found.", name);
    return json_array();
}

static int build_one(q_ctx *c, const q_ks *ks, json_t *name)
{
    if (json_is_array(name)) {
        size_t i;
        json_t *x;
        json_array_foreach(name, i, x) if (build_one(c, ks, x) < 0) return -1;
        return 0;
    }
    if (!json_is_string(name)) {
        q_fail(c, 5000, "BUILD INDEX takes index names");
        return -1;
    }
    if (q_catalog_set_state(c->cat, ks->bucket, ks->scope, ks->collection, json_string_value(name),
                            "online")) {
        q_fail(c, 12016, "Index Not Found - cause: GSI index %s not found.",
               json_string_value(name));
        return -1;
    }
    return build_from_scan(c, (q_ks *)ks, json_string_value(name));
}

static json_t *build_index(q_ctx *c, const q_stmt *s)
{
    q_ks ks;
    if (ks_open(c, &s->from[0].path, &ks, DV_QUERY_PRIV_MANAGE_INDEX) < 0) return NULL;
    for (size_t i = 0; i < s->nindex_keys && !c->code; i++) {
        const q_expr *e = s->index_keys[i];
        json_t *name;
        if (e->kind == E_IDENT) {
            name = json_string(e->name);
        } else {
            q_env env = {0};
            name = q_eval(c, e, &env);
        }
        build_one(c, &ks, name);
        json_decref(name);
    }
    ks_close(c, &ks);
    return c->code ? NULL : json_array();
}

/* ---- EXPLAIN ------------------------------------------------------------------------------ */

static json_t *explain(q_ctx *c, const q_stmt *s)
{
    json_t *children = json_array();
    if ((s->kind == S_SELECT || s->kind == S_UPDATE || s->kind == S_DELETE) && s->nfrom) {
        const q_from *f = &s->from[0];
        q_ks ks;
        memset(&ks, 0, sizeof ks);
        q_scan scan = P_EXPR;
        char index[256] = "";
        if (f->is_path) {
            if (ks_resolve(c, &f->path, &ks) == 0)
                scan = plan_scan(c, f, &ks, s->where, index, sizeof index);
        }
        if (c->code) {
            json_decref(children);
            return NULL;
        }
        static const char *const ops[] = {"KeyScan",    "PrimaryScan3",   "IndexScan3",
                                          "IndexScan3", "ExpressionScan", "DummyScan"};
        json_t *op = json_pack("{s:s}", "#operator", ops[scan]);
        if (index[0]) json_object_set_new(op, "index", json_string(index));
        if (f->is_path) {
            json_object_set_new(op, "keyspace",
                                json_string(ks.system ? f->path.parts[0] : ks.collection));
            json_object_set_new(op, "namespace", json_string(ks.system ? "system" : "default"));
            if (!ks.system && !ks.legacy) {
                json_object_set_new(op, "bucket", json_string(ks.bucket));
                json_object_set_new(op, "scope", json_string(ks.scope));
            }
        }
        json_array_append_new(children, op);
        if (f->is_path && scan != P_SYSTEM)
            json_array_append_new(children,
                                  json_pack("{s:s,s:s}", "#operator", "Fetch", "as", f->alias));
        for (size_t t = 1; t < s->nfrom; t++)
            json_array_append_new(children,
                                  json_pack("{s:s}", "#operator",
                                            s->from[t].join == J_UNNEST ? "Unnest"
                                            : s->from[t].join == J_NEST ? "Nest"
                                            : s->from[t].join == J_JOIN ? "Join"
                                                                        : "NestedLoopJoin"));
    } else {
        json_array_append_new(children, json_pack("{s:s}", "#operator",
                                                  s->kind == S_SELECT   ? "DummyScan"
                                                  : s->kind == S_INSERT ? "SendInsert"
                                                  : s->kind == S_UPSERT ? "SendUpsert"
                                                                        : "Other"));
    }
    if (s->where) json_array_append_new(children, json_pack("{s:s}", "#operator", "Filter"));
    if (s->ngroup || s->has_agg)
        json_array_append_new(children, json_pack("{s:s}", "#operator", "InitialGroup"));
    if (s->kind == S_SELECT) {
        json_array_append_new(children, json_pack("{s:s}", "#operator", "InitialProject"));
        if (s->norder) json_array_append_new(children, json_pack("{s:s}", "#operator", "Order"));
        if (s->offset) json_array_append_new(children, json_pack("{s:s}", "#operator", "Offset"));
        if (s->limit) json_array_append_new(children, json_pack("{s:s}", "#operator", "Limit"));
    }
    return json_pack("{s:s,s:o}", "#operator", "Sequence", "~children", children);
}

/* ---- Running ------------------------------------------------------------------------------ */

static int is_write(const q_stmt *s)
{
    switch (s->kind) {
    case S_SELECT:
        return 0;
    case S_EXPLAIN:
        return 0;
    case S_PREPARE:
        return is_write(s->inner);
    default:
        return 1;
    }
}

int dv_query_is_readonly(const char *statement, size_t len)
{
    q_arena a = {0};
    q_error err;
    q_stmt *s = q_parse(&a, statement, len, &err);
    int ro = !s || (!is_write(s) && s->kind != S_EXECUTE);
    q_arena_free(&a);
    return ro;
}

typedef struct run_out {
    json_t *results;
    json_t *signature;
    char *prepared;
} run_out;

static void run_text(q_ctx *c, const char *text, size_t len, run_out *out, int depth);

/* The sink's begin, once. 0, or -1 when it stopped the request. */
static int begin(q_ctx *c, const run_out *out)
{
    if (c->begun) return 0;
    c->begun = 1;
    if (!c->rq->begin || !c->rq->begin(c->rq->sink_ud, out->signature, out->prepared)) return 0;
    if (!c->code) c->code = Q_STOPPED;
    return -1;
}

static json_t *prepared_name(const char *text)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = text; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    char name[40];
    snprintf(name, sizeof name, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(h >> 32),
             (unsigned)(h >> 16) & 0xffff, (unsigned)h & 0xffff, (unsigned)((h * 31) >> 48),
             (unsigned long long)((h * 0x9e3779b97f4a7c15ull) & 0xffffffffffffull));
    return json_string(name);
}

/* Whether a statement's text holds "meta" in any case: where it does not, no META() can be
 * evaluated, and its SELECT reads documents without building their metadata objects. */
static int mentions_meta(const char *text)
{
    for (const char *p = text; *p; p++)
        if ((p[0] | 0x20) == 'm' && (p[1] | 0x20) == 'e' && (p[2] | 0x20) == 't' &&
            (p[3] | 0x20) == 'a')
            return 1;
    return 0;
}

static void run_stmt(q_ctx *c, const q_stmt *s, const char *text, run_out *out, int depth)
{
    if (c->rq->readonly && is_write(s) && s->kind != S_PREPARE) {
        q_fail(c, 1000,
               "The server or request is read-only and cannot accept this write "
               "statement.");
        return;
    }
    switch (s->kind) {
    case S_SELECT: {
        int no_meta = c->no_meta;
        c->no_meta = !mentions_meta(text);
        out->signature = signature(s->projs, s->nprojs, s->raw);
        int sink = c->rq->row != NULL;
        if (sink && begin(c, out) < 0) return;
        out->results = select_rows(c, s, NULL, sink);
        c->no_meta = no_meta;
        return;
    }
    case S_INSERT:
    case S_UPSERT:
        out->results = insert_rows(c, s);
        if (s->nreturning)
            out->signature = signature(s->returning, s->nreturning, s->returning_raw);
        return;
    case S_UPDATE:
    case S_DELETE:
        out->results = update_delete(c, s);
        if (s->nreturning)
            out->signature = signature(s->returning, s->nreturning, s->returning_raw);
        return;
    case S_CREATE_INDEX:
        out->results = create_index(c, s);
        return;
    case S_DROP_INDEX:
        out->results = drop_index(c, s);
        return;
    case S_BUILD_INDEX:
        out->results = build_index(c, s);
        return;
    case S_EXPLAIN: {
        json_t *plan = explain(c, s->inner);
        if (!plan) return;
        out->results = json_array();
        json_array_append_new(out->results, json_pack("{s:o,s:s}", "plan", plan, "text", text));
        out->signature = json_string("json");
        return;
    }
    case S_PREPARE: {
        json_t *name = s->prep_name ? json_string(s->prep_name) : prepared_name(s->inner_text);
        if (q_catalog_prepare(c->cat, json_string_value(name), s->inner_text,
                              c->rq->query_context) < 0) {
            json_decref(name);
            q_fail(c, 5000, "out of memory");
            return;
        }
        if (c->rq->auto_execute) {
            out->prepared = dv_strdup(json_string_value(name));
            run_stmt(c, s->inner, s->inner_text, out, depth + 1);
        } else {
            out->results = json_array();
            json_array_append_new(out->results, json_pack("{s:O,s:s,s:s,s:s}", "name", name,
                                                          "encoded_plan", "divan", "text",
                                                          s->inner_text, "namespace", "default"));
            out->signature = json_string("json");
        }
        json_decref(name);
        return;
    }
    case S_EXECUTE: {
        json_t *p = q_catalog_prepared(c->cat, s->prep_name);
        if (!p) {
            q_fail(c, 4040, "No such prepared statement: %s", s->prep_name);
            return;
        }
        const char *t = json_string_value(json_object_get(p, "text"));
        if (depth > 4)
            q_fail(c, 4040, "prepared statement %s nests too deeply", s->prep_name);
        else
            run_text(c, t, strlen(t), out, depth + 1);
        json_decref(p);
        return;
    }
    case S_UNSUPPORTED:
        q_fail(c, 1020, "%s statements are not supported by divan's query service", s->unsupported);
        return;
    }
}

static void run_text(q_ctx *c, const char *text, size_t len, run_out *out, int depth)
{
    q_arena a = {0};
    q_error err;
    q_stmt *s = q_parse(&a, text, len, &err);
    if (!s) {
        c->code = err.code;
        snprintf(c->msg, sizeof c->msg, "%s", err.msg);
        if (err.line) c->reason = json_pack("{s:i,s:i}", "line", err.line, "column", err.col);
    } else {
        char *t = q_strndup(&a, text, len);
        run_stmt(c, s, t ? t : "", out, depth);
    }
    q_arena_free(&a);
}

/* [default:]bucket[.scope], parts optionally back-ticked. */
static int parse_context(q_ctx *c, const char *qc)
{
    if (!qc || !*qc) return 0;
    const char *p = qc;
    if (!strncmp(p, "default:", 8)) p += 8;
    char *parts[2] = {c->ctx_bucket, c->ctx_scope};
    int n = 0;
    while (*p && n < 2) {
        size_t o = 0;
        if (*p == '`') {
            p++;
            while (*p && *p != '`' && o < 255) parts[n][o++] = *p++;
            if (*p != '`') return -1;
            p++;
        } else {
            while (*p && *p != '.' && o < 255) parts[n][o++] = *p++;
        }
        parts[n][o] = '\0';
        n++;
        if (*p == '.')
            p++;
        else if (*p)
            return -1;
    }
    if (*p || !c->ctx_bucket[0]) return -1;
    c->has_ctx = 1;
    return 0;
}

static int http_status_of(int code)
{
    if (code == 0) return 200;
    if (code == 1000) return 403;
    if (code == 1010) return 405;
    if ((code >= 1020 && code <= 1070) || code == 3000) return 400;
    if (code == 1080) return 500;
    if (code >= 1191 && code <= 1192) return 429;
    if (code >= 1193 && code <= 1194) return 413;
    if (code == 2120 || code == 10000 || code == 13014) return 401;
    if (code == 4000 || code == 4040) return 404;
    if (code == 4300) return 409;
    if (code == 12002 || code == 12003 || code == 12020 || code == 12021) return 424;
    return 500;
}

/* Errors found before any row could be produced: the real service's "fatal" shape. */
static int before_execution(int code)
{
    return code == 3000 || (code >= 1000 && code < 1100) || code == 1194 || code == 13014 ||
           (code >= 4000 && code < 5000) || code == 12002 || code == 12003 || code == 12021;
}

void dv_query_run(const dv_query_request *rq, const dv_query_source *src, dv_query_catalog *cat,
                  dv_query_result *res)
{
    memset(res, 0, sizeof *res);
    q_ctx c;
    memset(&c, 0, sizeof c);
    c.rq = rq;
    c.src = src;
    c.cat = cat;
    c.max_values = rq->max_values ? rq->max_values : DV_QUERY_DEFAULT_MAX_VALUES;
    run_out out = {0};
    if (parse_context(&c, rq->query_context) < 0) {
        q_fail(&c, 1050, "Invalid query_context %s", rq->query_context);
    } else if (rq->prepared) {
        json_t *p = q_catalog_prepared(cat, rq->prepared);
        if (!p) {
            q_fail(&c, 4040, "No such prepared statement: %s", rq->prepared);
        } else {
            const char *qc = json_string_value(json_object_get(p, "query_context"));
            if ((!rq->query_context || !*rq->query_context) && qc && *qc) parse_context(&c, qc);
            const char *t = json_string_value(json_object_get(p, "text"));
            run_text(&c, t, strlen(t), &out, 0);
            json_decref(p);
        }
    } else if (!rq->statement) {
        q_fail(&c, 1050, "No statement or prepared value");
    } else {
        run_text(&c, rq->statement, rq->len, &out, 0);
    }
    /* with a sink, the rows of statements other than SELECT go to it once they are known */
    if (rq->row && !c.code && out.results && json_array_size(out.results)) {
        if (begin(&c, &out) == 0) out.results = emit_all(&c, out.results);
    }
    res->mutation_count = c.mutations;
    res->sort_count = c.sorts;
    if (c.code == Q_STOPPED) {
        res->status = "stopped";
        res->results = json_array();
        res->signature = out.signature;
        res->http_status = 200;
        json_decref(out.results);
        dv_free(out.prepared);
        return;
    }
    if (!c.code) {
        res->status = "success";
        res->results = out.results ? out.results : json_array();
        res->signature = out.signature;
        res->prepared = out.prepared;
        res->http_status = 200;
        return;
    }
    json_t *e = json_pack("{s:i,s:s}", "code", c.code, "msg", c.msg);
    if (c.reason) {
        if (c.code == 3000) {
            json_object_update(e, c.reason);
            json_decref(c.reason);
        } else {
            json_object_set_new(e, "reason", c.reason);
        }
    }
    res->errors = json_array();
    json_array_append_new(res->errors, e);
    res->http_status = http_status_of(c.code);
    if (c.code == 1080) {
        res->status = "timeout";
        res->results = json_array();
        res->signature = out.signature;
        out.signature = NULL;
    } else if (before_execution(c.code)) {
        res->status = "fatal";
    } else {
        res->status = "errors";
        res->results = json_array();
        res->signature = out.signature;
        out.signature = NULL;
        res->http_status = 200;
        if (c.code == 12009 || c.code == 5500) res->http_status = 500;
    }
    json_decref(out.results);
    json_decref(out.signature);
    dv_free(out.prepared);
}

void dv_query_result_clear(dv_query_result *res)
{
    json_decref(res->signature);
    json_decref(res->results);
    json_decref(res->errors);
    json_decref(res->warnings);
    dv_free(res->prepared);
    memset(res, 0, sizeof *res);
}
