/* The query catalog: index definitions (system:indexes) and prepared statements. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "query/ast.h"
#include "query/catalog.h"
#include "query/eval.h"
#include "query/sorted.h"

struct dv_query_catalog {
    pthread_mutex_t mu;
    q_index *v;
    size_t n, cap;
    json_t *prepared;   /* name -> {text, query_context} */
    atomic_uint nbuilt; /* built secondary indexes: writes are ignored while there are none */
    unsigned long next_id;
    void (*changed)(void *ud, const char *bucket); /* index definitions or states changed */
    void *changed_ud;
};

void dv_query_catalog_on_change(dv_query_catalog *c, void (*fn)(void *ud, const char *bucket),
                                void *ud)
{
    pthread_mutex_lock(&c->mu);
    c->changed = fn;
    c->changed_ud = ud;
    pthread_mutex_unlock(&c->mu);
}

/* Unlock, then tell the listener (outside the mutex: it reads the catalog). */
static void unlock_changed(dv_query_catalog *c, const char *bucket)
{
    void (*fn)(void *, const char *) = c->changed;
    void *ud = c->changed_ud;
    pthread_mutex_unlock(&c->mu);
    if (fn) fn(ud, bucket);
}

#define MAX_PREPARED 16384

dv_query_catalog *dv_query_catalog_new(void)
{
    dv_query_catalog *c = dv_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->prepared = json_object();
    if (!c->prepared) {
        dv_free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void index_clear(q_index *ix)
{
    if (ix->arena) {
        q_arena_free(ix->arena);
        dv_free(ix->arena);
    }
    q_sorted_free(ix->sorted); /* before fwd, whose entries it borrows */
    json_decref(ix->fwd);
    json_decref(ix->rev);
    dv_free(ix->id);
    dv_free(ix->name);
    dv_free(ix->bucket);
    dv_free(ix->scope);
    dv_free(ix->collection);
    dv_free(ix->condition);
    dv_free(ix->partition);
    json_decref(ix->keys);
    json_decref(ix->with);
}

void dv_query_catalog_free(dv_query_catalog *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) index_clear(&c->v[i]);
    dv_free(c->v);
    json_decref(c->prepared);
    pthread_mutex_destroy(&c->mu);
    dv_free(c);
}

static int same_ks(const q_index *ix, const char *b, const char *s, const char *k)
{
    return !strcmp(ix->bucket, b) && !strcmp(ix->scope, s) && !strcmp(ix->collection, k);
}

static char *dup_or_null(const char *s)
{
    return s ? dv_strdup(s) : NULL;
}

int q_catalog_add(dv_query_catalog *c, const q_index *ix)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++)
        if (same_ks(&c->v[i], ix->bucket, ix->scope, ix->collection) &&
            !strcmp(c->v[i].name, ix->name)) {
            pthread_mutex_unlock(&c->mu);
            return 1;
        }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        q_index *nv = dv_realloc(c->v, cap * sizeof *nv);
        if (!nv) {
            pthread_mutex_unlock(&c->mu);
            return -1;
        }
        c->v = nv;
        c->cap = cap;
    }
    q_index *d = &c->v[c->n];
    memset(d, 0, sizeof *d);
    char id[32];
    snprintf(id, sizeof id, "%016lx", 0x5eed0000ul + ++c->next_id);
    d->id = dv_strdup(id);
    d->name = dv_strdup(ix->name);
    d->bucket = dv_strdup(ix->bucket);
    d->scope = dv_strdup(ix->scope);
    d->collection = dv_strdup(ix->collection);
    d->condition = dup_or_null(ix->condition);
    d->partition = dup_or_null(ix->partition);
    d->primary = ix->primary;
    d->legacy = ix->legacy;
    d->keys = ix->keys ? json_deep_copy(ix->keys) : json_array();
    d->with = ix->with ? json_deep_copy(ix->with) : NULL;
    snprintf(d->state, sizeof d->state, "%s", ix->state);
    if (!ix->primary && json_array_size(d->keys)) {
        /* the leading key and the condition, parsed back from their canonical texts */
        d->arena = dv_calloc(1, sizeof(q_arena));
        if (d->arena) {
            q_error err;
            char text[1200];
            snprintf(text, sizeof text, "SELECT RAW %s",
                     json_string_value(json_array_get(d->keys, 0)));
            q_stmt *st = q_parse(d->arena, text, strlen(text), &err);
            if (st) d->kx = st->projs[0].e;
            if (d->condition) {
                snprintf(text, sizeof text, "SELECT RAW %s", d->condition);
                st = q_parse(d->arena, text, strlen(text), &err);
                d->cx = st ? st->projs[0].e : NULL;
                if (!d->cx) d->kx = NULL; /* an unparsable condition: never maintained */
            }
        }
    }
    if (!d->id || !d->name || !d->bucket || !d->scope || !d->collection || !d->keys ||
        (ix->condition && !d->condition) || (ix->partition && !d->partition)) {
        index_clear(d);
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    c->n++;
    unlock_changed(c, ix->bucket);
    return 0;
}

int q_catalog_drop(dv_query_catalog *c, const char *bucket, const char *scope,
                   const char *collection, const char *name)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++)
        if (same_ks(&c->v[i], bucket, scope, collection) && !strcmp(c->v[i].name, name)) {
            if (c->v[i].built) atomic_fetch_sub(&c->nbuilt, 1);
            index_clear(&c->v[i]);
            memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof c->v[0]);
            c->n--;
            unlock_changed(c, bucket);
            return 0;
        }
    pthread_mutex_unlock(&c->mu);
    return 1;
}

void dv_query_catalog_drop_bucket(dv_query_catalog *c, const char *bucket)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n;) {
        if (!strcmp(c->v[i].bucket, bucket)) {
            if (c->v[i].built) atomic_fetch_sub(&c->nbuilt, 1);
            index_clear(&c->v[i]);
            memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof c->v[0]);
            c->n--;
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

int q_catalog_set_state(dv_query_catalog *c, const char *bucket, const char *scope,
                        const char *collection, const char *name, const char *state)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++)
        if (same_ks(&c->v[i], bucket, scope, collection) && !strcmp(c->v[i].name, name)) {
            int same = !strcmp(c->v[i].state, state);
            snprintf(c->v[i].state, sizeof c->v[i].state, "%s", state);
            if (same)
                pthread_mutex_unlock(&c->mu);
            else
                unlock_changed(c, bucket);
            return 0;
        }
    pthread_mutex_unlock(&c->mu);
    return 1;
}

json_t *dv_query_catalog_definitions(dv_query_catalog *c, const char *bucket)
{
    json_t *out = json_array();
    if (!out) return NULL;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++) {
        const q_index *ix = &c->v[i];
        if (strcmp(ix->bucket, bucket)) continue;
        json_t *d = json_pack("{s:s,s:s,s:s,s:b,s:b,s:O,s:s}", "name", ix->name, "scope", ix->scope,
                              "collection", ix->collection, "primary", ix->primary, "legacy",
                              ix->legacy, "keys", ix->keys, "state", ix->state);
        if (d && ix->condition) json_object_set_new(d, "condition", json_string(ix->condition));
        if (d && ix->partition) json_object_set_new(d, "partition", json_string(ix->partition));
        if (d && ix->with) json_object_set(d, "with", ix->with);
        if (!d || json_array_append_new(out, d) < 0) {
            json_decref(out);
            out = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return out;
}

int dv_query_catalog_restore(dv_query_catalog *c, const char *bucket, const json_t *def)
{
    q_index ix = {0};
    const char *name = json_string_value(json_object_get(def, "name"));
    const char *scope = json_string_value(json_object_get(def, "scope"));
    const char *collection = json_string_value(json_object_get(def, "collection"));
    const char *state = json_string_value(json_object_get(def, "state"));
    json_t *keys = json_object_get(def, "keys");
    json_t *cond = json_object_get(def, "condition"), *part = json_object_get(def, "partition");
    json_t *with = json_object_get(def, "with");
    if (!name || !scope || !collection || !state || strlen(state) >= sizeof ix.state ||
        !json_is_array(keys) || (cond && !json_is_string(cond)) ||
        (part && !json_is_string(part)) || (with && !json_is_object(with)))
        return -2;
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) if (!json_is_string(k)) return -2;
    ix.name = (char *)name;
    ix.bucket = (char *)bucket;
    ix.scope = (char *)scope;
    ix.collection = (char *)collection;
    ix.primary = json_is_true(json_object_get(def, "primary"));
    ix.legacy = json_is_true(json_object_get(def, "legacy"));
    ix.keys = keys;
    ix.condition = (char *)json_string_value(cond);
    ix.partition = (char *)json_string_value(part);
    ix.with = with;
    /* a built secondary index comes back deferred: the caller builds it from the documents */
    snprintf(ix.state, sizeof ix.state, "%s", ix.primary ? state : "deferred");
    return q_catalog_add(c, &ix);
}

static json_t *index_row(const q_index *ix, const dv_query_source *src)
{
    json_t *r = json_object();
    if (!r) return NULL;
    json_object_set_new(r, "id", json_string(ix->id));
    json_object_set_new(r, "name", json_string(ix->name));
    json_object_set_new(r, "namespace_id", json_string("default"));
    json_object_set_new(r, "namespace", json_string("default"));
    json_object_set_new(
        r, "datastore_id",
        json_string(src && src->datastore ? src->datastore : "http://127.0.0.1:8091"));
    if (ix->legacy) {
        json_object_set_new(r, "keyspace_id", json_string(ix->bucket));
    } else {
        json_object_set_new(r, "bucket_id", json_string(ix->bucket));
        json_object_set_new(r, "scope_id", json_string(ix->scope));
        json_object_set_new(r, "keyspace_id", json_string(ix->collection));
    }
    json_object_set(r, "index_key", ix->keys);
    if (ix->condition) json_object_set_new(r, "condition", json_string(ix->condition));
    if (ix->partition) json_object_set_new(r, "partition", json_string(ix->partition));
    if (ix->primary) json_object_set_new(r, "is_primary", json_true());
    json_object_set_new(r, "using", json_string("gsi"));
    json_object_set_new(r, "state", json_string(ix->state));
    if (ix->with) json_object_set(r, "with", ix->with);
    return r;
}

json_t *q_catalog_rows(dv_query_catalog *c, const dv_query_source *src, const char *bucket,
                       const char *scope, const char *collection)
{
    json_t *out = json_array();
    if (!out) return NULL;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++) {
        if (bucket && !same_ks(&c->v[i], bucket, scope, collection)) continue;
        json_t *r = index_row(&c->v[i], src);
        if (!r || json_array_append_new(out, r) < 0) {
            json_decref(out);
            out = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return out;
}

int q_catalog_prepare(dv_query_catalog *c, const char *name, const char *text,
                      const char *query_context)
{
    json_t *e =
        json_pack("{s:s,s:s}", "text", text, "query_context", query_context ? query_context : "");
    if (!e) return -1;
    pthread_mutex_lock(&c->mu);
    if (json_object_size(c->prepared) >= MAX_PREPARED) json_object_clear(c->prepared);
    int rc = json_object_set_new(c->prepared, name, e);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

json_t *q_catalog_prepared(dv_query_catalog *c, const char *name)
{
    pthread_mutex_lock(&c->mu);
    json_t *e = json_object_get(c->prepared, name);
    if (e) json_incref(e);
    pthread_mutex_unlock(&c->mu);
    return e;
}

/* ---- Maintenance -------------------------------------------------------------------------- */

/* A value as the index keys it: integral reals as integers, so that 1 and 1.0 meet. */
static json_t *normalise(json_t *v)
{
    if (json_is_real(v) && json_real_value(v) == (double)(json_int_t)json_real_value(v) &&
        json_real_value(v) < 9e15 && json_real_value(v) > -9e15) {
        json_t *i = json_integer((json_int_t)json_real_value(v));
        json_decref(v);
        return i;
    }
    return v;
}

static char *encode(json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
}

/* The leading-key value of doc for ix (a new reference), or NULL when the document is not
 * indexed (the key is MISSING or the condition does not hold). */
static json_t *index_value(const q_index *ix, json_t *doc)
{
    if (!ix->kx || !doc) return NULL;
    static const dv_query_request none;
    q_ctx c;
    memset(&c, 0, sizeof c);
    c.rq = &none;
    c.max_values = 100000;
    json_t *row = json_object();
    json_object_set(row, "$doc", doc);
    q_env env = {0};
    env.row = row;
    env.dflt = "$doc";
    json_t *v = NULL;
    int ok = 1;
    if (ix->cx) {
        json_t *t = q_eval(&c, ix->cx, &env);
        ok = q_truthy(t) && !c.code;
        json_decref(t);
    }
    if (ok) v = q_eval(&c, ix->kx, &env);
    if (c.code) {
        json_decref(v);
        v = NULL;
    }
    json_decref(row);
    return v ? normalise(v) : NULL;
}

/* fwd: encoded value -> {"v": value, "k": {doc key: true}}; rev: doc key -> encoded value. */
static void index_remove(q_index *ix, const char *key)
{
    json_t *old = json_object_get(ix->rev, key);
    if (!old) return;
    json_t *e = json_object_get(ix->fwd, json_string_value(old));
    json_t *set = json_object_get(e, "k");
    json_object_del(set, key);
    if (e && json_object_size(set) == 0) {
        q_sorted_remove(ix->sorted, json_object_get(e, "v"), e);
        json_object_del(ix->fwd, json_string_value(old));
    }
    json_object_del(ix->rev, key);
}

static void index_put(q_index *ix, const char *key, json_t *doc)
{
    index_remove(ix, key);
    json_t *v = index_value(ix, doc);
    char *enc = v ? encode(v) : NULL;
    if (!enc) {
        json_decref(v);
        return;
    }
    json_t *e = json_object_get(ix->fwd, enc);
    if (!e) {
        e = json_pack("{s:O,s:{}}", "v", v, "k");
        if (!e || q_sorted_insert(ix->sorted, json_object_get(e, "v"), e)) {
            json_decref(e);
            free(enc);
            json_decref(v);
            return; /* out of memory: the document stays out of the index */
        }
        json_object_set_new(ix->fwd, enc, e);
    }
    json_object_set_new(json_object_get(e, "k"), key, json_true());
    json_object_set_new(ix->rev, key, json_string(enc));
    free(enc);
    json_decref(v);
}

int dv_query_catalog_watches(dv_query_catalog *c, const char *bucket, uint32_t ks_id)
{
    if (atomic_load(&c->nbuilt) == 0) return 0;
    pthread_mutex_lock(&c->mu);
    int w = 0;
    for (size_t i = 0; i < c->n && !w; i++)
        w = c->v[i].built && c->v[i].ks_id == ks_id && !strcmp(c->v[i].bucket, bucket);
    pthread_mutex_unlock(&c->mu);
    return w;
}

void dv_query_catalog_index_doc(dv_query_catalog *c, const char *bucket, uint32_t ks_id,
                                const char *key, json_t *doc, int removed)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++) {
        q_index *ix = &c->v[i];
        if (!ix->built || ix->ks_id != ks_id || strcmp(ix->bucket, bucket)) continue;
        if (removed)
            index_remove(ix, key);
        else
            index_put(ix, key, doc);
    }
    pthread_mutex_unlock(&c->mu);
}

int q_catalog_build(dv_query_catalog *c, const char *bucket, const char *scope,
                    const char *collection, const char *name, uint32_t ks_id,
                    const dv_query_doc *docs, size_t n)
{
    pthread_mutex_lock(&c->mu);
    q_index *ix = NULL;
    for (size_t i = 0; i < c->n && !ix; i++)
        if (same_ks(&c->v[i], bucket, scope, collection) && !strcmp(c->v[i].name, name))
            ix = &c->v[i];
    if (!ix) {
        pthread_mutex_unlock(&c->mu);
        return 1;
    }
    if (ix->primary || !ix->kx) {
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    if (!ix->fwd) ix->fwd = json_object();
    if (!ix->rev) ix->rev = json_object();
    if (!ix->sorted) ix->sorted = q_sorted_new();
    if (!ix->fwd || !ix->rev || !ix->sorted) {
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    ix->ks_id = ks_id;
    if (!ix->built) atomic_fetch_add(&c->nbuilt, 1);
    ix->built = 1;
    /* writes reported while the caller scanned are newer than its copies: they win */
    for (size_t i = 0; i < n; i++)
        if (!json_object_get(ix->rev, docs[i].key)) index_put(ix, docs[i].key, docs[i].value);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The doc keys of the entries (of ix's fwd, or the one entry `only`) accepted by want, sorted,
 * as a new array. */
static json_t *keys_where(json_t *entries, int (*want)(json_t *v, void *ud), void *ud)
{
    size_t cap = 64, m = 0;
    const char **keys = dv_malloc(cap * sizeof *keys);
    if (!keys) return NULL;
    const char *enc, *key;
    json_t *e, *t;
    json_object_foreach(entries, enc, e)
    {
        if (!want(json_object_get(e, "v"), ud)) continue;
        json_object_foreach(json_object_get(e, "k"), key, t)
        {
            if (m == cap) {
                const char **nk = dv_realloc(keys, (cap *= 2) * sizeof *keys);
                if (!nk) {
                    dv_free(keys);
                    return NULL;
                }
                keys = nk;
            }
            keys[m++] = key;
        }
    }
    qsort(keys, m, sizeof *keys, cmp_str);
    json_t *out = json_array();
    for (size_t k = 0; out && k < m; k++) json_array_append_new(out, json_string(keys[k]));
    dv_free(keys);
    return out;
}

static q_index *built_index(dv_query_catalog *c, const char *bucket, const char *scope,
                            const char *collection, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (same_ks(&c->v[i], bucket, scope, collection) && !strcmp(c->v[i].name, name) &&
            c->v[i].built)
            return &c->v[i];
    return NULL;
}

typedef struct range {
    json_t *lo, *hi;
    int lo_incl, hi_incl;
} range;

/* The entries from lo to hi, in order, gathered into an object (encoded value -> entry, as
 * fwd holds them) for keys_where. */
static json_t *entries_in(const q_index *ix, const range *r)
{
    json_t *out = json_object();
    if (!out) return NULL;
    for (q_sorted_node *n = q_sorted_seek(ix->sorted, r->lo, r->lo_incl); n; n = q_sorted_next(n)) {
        if (r->hi) {
            int c = q_collate(q_sorted_value(n), r->hi);
            if (c > 0 || (c == 0 && !r->hi_incl)) break;
        }
        char key[32];
        snprintf(key, sizeof key, "%zu", json_object_size(out));
        if (json_object_set(out, key, q_sorted_entry(n))) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static int any(json_t *v, void *ud)
{
    (void)v;
    (void)ud;
    return 1;
}

json_t *q_catalog_range(dv_query_catalog *c, const char *bucket, const char *scope,
                        const char *collection, const char *name, json_t *lo, int lo_incl,
                        json_t *hi, int hi_incl)
{
    range r = {lo, hi, lo_incl, hi_incl};
    json_t *out = NULL;
    pthread_mutex_lock(&c->mu);
    q_index *ix = built_index(c, bucket, scope, collection, name);
    json_t *entries = ix ? entries_in(ix, &r) : NULL;
    if (entries) out = keys_where(entries, any, NULL);
    json_decref(entries);
    pthread_mutex_unlock(&c->mu);
    return out;
}

static int equal_to(json_t *v, void *ud)
{
    return q_collate(v, ud) == 0;
}

json_t *q_catalog_lookup(dv_query_catalog *c, const char *bucket, const char *scope,
                         const char *collection, const char *name, json_t *value)
{
    json_t *v = normalise(json_incref(value));
    char *enc = encode(v);
    json_t *out = NULL;
    pthread_mutex_lock(&c->mu);
    q_index *ix = built_index(c, bucket, scope, collection, name);
    if (ix && enc) {
        json_t *e = json_object_get(ix->fwd, enc), *one = json_object();
        if (e && one) json_object_set(one, enc, e);
        out = one ? keys_where(one, equal_to, v) : NULL;
        json_decref(one);
    }
    pthread_mutex_unlock(&c->mu);
    free(enc);
    json_decref(v);
    return out;
}
