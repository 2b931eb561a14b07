/* An in-memory dv_query_source over a JSON object, for unit tests and the fuzzer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "query/query.h"

typedef struct mks {
    json_t *docs;
    char bucket[256];
    uint32_t id;
} mks;

static int m_open(void *ud, const char *bucket, const char *scope, const char *collection,
                  void **ks, char *msg, size_t msglen)
{
    dv_query_memsource *m = ud;
    char name[800];
    snprintf(name, sizeof name, "%s.%s.%s", bucket, scope, collection);
    json_t *k = json_object_get(m->data, name);
    if (!k) {
        int bucket_known = 0, scope_known = 0;
        const char *key;
        json_t *v;
        size_t bl = strlen(bucket), sl = strlen(scope);
        json_object_foreach(m->data, key, v)
        {
            if (!strncmp(key, bucket, bl) && key[bl] == '.') {
                bucket_known = 1;
                if (!strncmp(key + bl + 1, scope, sl) && key[bl + 1 + sl] == '.') scope_known = 1;
            }
        }
        if (bucket_known && !scope_known) {
            snprintf(msg, msglen, "Scope not found in CB datastore default:%s.%s", bucket, scope);
            return 12021;
        }
        if (!strcmp(scope, "_default") && !strcmp(collection, "_default"))
            snprintf(msg, msglen, "Keyspace not found in CB datastore: default:%s", bucket);
        else
            snprintf(msg, msglen, "Keyspace not found in CB datastore: default:%s.%s.%s", bucket,
                     scope, collection);
        return 12003;
    }
    mks *h = dv_calloc(1, sizeof *h);
    if (!h) {
        snprintf(msg, msglen, "out of memory");
        return 5000;
    }
    h->docs = k;
    snprintf(h->bucket, sizeof h->bucket, "%s", bucket);
    uint32_t id = 2166136261u;
    for (const char *p = name; *p; p++) id = (id ^ (uint8_t)*p) * 16777619u;
    h->id = id;
    *ks = h;
    return 0;
}

static void m_close(void *ud, void *ks)
{
    (void)ud;
    dv_free(ks);
}

static uint32_t m_keyspace_id(void *ud, void *ks)
{
    (void)ud;
    return ((mks *)ks)->id;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const dv_query_doc *)a)->key, ((const dv_query_doc *)b)->key);
}

static void fill(dv_query_doc *d, const char *key, json_t *v)
{
    d->key = dv_strdup(key);
    json_t *val = json_object_get(v, "value");
    d->value = val ? json_incref(val) : NULL;
    d->is_json = 1;
    d->cas = (uint64_t)json_integer_value(json_object_get(v, "cas"));
    d->exptime = (uint32_t)json_integer_value(json_object_get(v, "exptime"));
}

static int m_scan(void *ud, void *h, dv_query_doc **docs, size_t *n)
{
    (void)ud;
    json_t *ks = ((mks *)h)->docs;
    size_t cnt = json_object_size(ks), i = 0;
    *docs = dv_calloc(cnt + 1, sizeof **docs);
    if (!*docs) return -1;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)ks, key, v) fill(&(*docs)[i++], key, v);
    qsort(*docs, cnt, sizeof **docs, cmp_key);
    *n = cnt;
    return 0;
}

static int m_get(void *ud, void *h, const char *key, dv_query_doc *doc)
{
    (void)ud;
    json_t *ks = ((mks *)h)->docs;
    json_t *v = json_object_get(ks, key);
    if (!v) return 0;
    fill(doc, key, v);
    return 1;
}

static int m_write(void *ud, void *h, dv_query_write_op op, const char *key, json_t *value,
                   uint64_t cas, uint32_t expiry, int preserve_expiry, uint64_t *cas_out, char *msg,
                   size_t msglen)
{
    dv_query_memsource *m = ud;
    mks *mh = h;
    json_t *ks = mh->docs;
    json_t *cur = json_object_get(ks, key);
    if (op == DV_QUERY_INSERT && cur) {
        snprintf(msg, msglen, "Duplicate Key: %s", key);
        return 17012;
    }
    if ((op == DV_QUERY_REPLACE || op == DV_QUERY_DELETE) && !cur) {
        snprintf(msg, msglen, "Key not found: %s", key);
        return 17014;
    }
    if (cas && cur && (uint64_t)json_integer_value(json_object_get(cur, "cas")) != cas) {
        snprintf(msg, msglen, "CAS mismatch");
        return 12033;
    }
    if (op == DV_QUERY_DELETE) {
        json_object_del(ks, key);
        *cas_out = ++m->next_cas;
        if (m->cat) dv_query_catalog_index_doc(m->cat, mh->bucket, mh->id, key, NULL, 1);
        return 0;
    }
    json_int_t exp = preserve_expiry && cur ? json_integer_value(json_object_get(cur, "exptime"))
                                            : (json_int_t)expiry;
    *cas_out = ++m->next_cas;
    json_object_set_new(
        ks, key,
        json_pack("{s:O,s:I,s:I}", "value", value, "cas", (json_int_t)*cas_out, "exptime", exp));
    if (m->cat) dv_query_catalog_index_doc(m->cat, mh->bucket, mh->id, key, value, 0);
    return 0;
}

static int m_allow(void *ud, dv_query_priv priv, const char *bucket, const char *scope,
                   const char *collection)
{
    (void)bucket, (void)scope, (void)collection;
    dv_query_memsource *m = ud;
    return !(m->deny & (1u << priv));
}

static json_t *m_keyspaces(void *ud)
{
    dv_query_memsource *m = ud;
    json_t *out = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(m->data, key, v)
    {
        char b[256], s[256], c[256];
        if (sscanf(key, "%255[^.].%255[^.].%255s", b, s, c) == 3)
            json_array_append_new(
                out, json_pack("{s:s,s:s,s:s}", "bucket", b, "scope", s, "collection", c));
    }
    return out;
}

void dv_query_memsource_init(dv_query_source *src, dv_query_memsource *m)
{
    memset(src, 0, sizeof *src);
    src->ud = m;
    src->open = m_open;
    src->close = m_close;
    src->scan = m_scan;
    src->get = m_get;
    src->write = m_write;
    src->allow = m_allow;
    src->keyspaces = m_keyspaces;
    src->keyspace_id = m_keyspace_id;
    src->datastore = "http://127.0.0.1:8091";
}
