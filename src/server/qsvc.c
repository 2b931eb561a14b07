/* divan-server's query service: HTTP in, the SQL++ engine over the stores, the real service's
 * response shape out. See qsvc.h. */
#include "server/qsvc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/errmsg.h"
#include "base/log.h"
#include "mcbp/protocol.h"
#include "server/kv.h"
#include "server/listen.h"
#include "server/persist.h"
#include "server/rest_form.h"
#include "topology/manifest.h"
#include "topology/vbucket.h"

#define MAX_BODY   (32u << 20)
#define AUTH_MAX   1024
#define AUTH_CACHE 16

/* ---- Parameters (query-service.md 4) ------------------------------------------------------ */

int64_t dv_qsvc_duration(const char *s)
{
    if (!s) return -1;
    if (!*s) return 0;
    double total = 0;
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    if (!strcmp(p, "0")) return 0;
    while (*p) {
        char *end;
        if (!isdigit((unsigned char)*p) && *p != '.') return -1;
        double v = strtod(p, &end);
        if (end == p) return -1;
        p = end;
        double unit;
        if (!strncmp(p, "ns", 2))
            unit = 1, p += 2;
        else if (!strncmp(p, "us", 2))
            unit = 1e3, p += 2;
        else if (!strncmp(p, "\xc2\xb5s", 3))
            unit = 1e3, p += 3;
        else if (!strncmp(p, "ms", 2))
            unit = 1e6, p += 2;
        else if (*p == 's')
            unit = 1e9, p += 1;
        else if (*p == 'm')
            unit = 60e9, p += 1;
        else if (*p == 'h')
            unit = 3600e9, p += 1;
        else
            return -1;
        total += v * unit;
        if (total > 9e18) return -1;
    }
    return (int64_t)(neg ? -total : total);
}

static const char *const known_params[] = {
    "statement",         "prepared",        "encoded_plan",
    "client_context_id", "timeout",         "args",
    "query_context",     "readonly",        "metrics",
    "scan_consistency",  "scan_vector",     "scan_vectors",
    "scan_wait",         "profile",         "pipeline_batch",
    "pipeline_cap",      "scan_cap",        "max_parallelism",
    "use_fts",           "preserve_expiry", "use_replica",
    "auto_execute",      "namespace",       "pretty",
    "signature",         "format",          "encoding",
    "compression",       "creds",           "controls",
    "sort_projection",   "use_cbo",         "memory_quota",
    "auto_prepare",      "kvtimeout",       NULL};

static const char *const bool_params[] = {
    "readonly",  "metrics",  "use_fts",         "preserve_expiry", "auto_execute", "pretty",
    "signature", "controls", "sort_projection", "use_cbo",         "auto_prepare", NULL};

static int in_list(const char *const *list, const char *s)
{
    for (int i = 0; list[i]; i++)
        if (!strcasecmp(list[i], s)) return 1;
    return 0;
}

/* A form or GET value as the JSON value it stands for. */
static json_t *from_string(const char *name, const char *v)
{
    if (name[0] == '$' || name[0] == '@' || !strcasecmp(name, "args") ||
        !strcasecmp(name, "scan_vectors") || !strcasecmp(name, "scan_vector") ||
        !strcasecmp(name, "creds")) {
        json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
        return j ? j : json_string(v);
    }
    if (in_list(bool_params, name)) {
        if (!strcasecmp(v, "true")) return json_true();
        if (!strcasecmp(v, "false")) return json_false();
    }
    return json_string(v);
}

void dv_qsvc_params_clear(dv_qsvc_params *p)
{
    json_decref(p->named);
    json_decref(p->positional);
    json_decref(p->converted);
    memset(p, 0, sizeof *p);
}

static int perr(char *msg, size_t n, int code, const char *fmt, const char *arg)
{
    snprintf(msg, n, fmt, arg);
    return code;
}

int dv_qsvc_params_parse(json_t *params, int from_strings, dv_qsvc_params *p, char *msg,
                         size_t msglen)
{
    memset(p, 0, sizeof *p);
    p->metrics = 1;
    p->named = json_object();
    if (!p->named) return perr(msg, msglen, 5000, "%s", "out of memory");
    if (!json_is_object(params))
        return perr(msg, msglen, 1050, "%s", "No statement or prepared value");
    const char *k;
    json_t *v;
    int has_statement = 0, has_prepared = 0;
    json_t *converted = NULL;
    if (from_strings) {
        converted = json_object();
        json_object_foreach(params, k, v)
        {
            json_object_set_new(converted, k,
                                json_is_string(v) ? from_string(k, json_string_value(v))
                                                  : json_incref(v));
        }
        params = converted;
    }
    int rc = 0;
    json_object_foreach(params, k, v)
    {
        if (rc) break;
        if (k[0] == '$' || k[0] == '@') {
            if (!k[1]) {
                rc = perr(msg, msglen, 1065, "Unrecognized parameter in request: %s", k);
                break;
            }
            if (json_object_get(p->named, k + 1)) {
                rc = perr(msg, msglen, 1060, "Multiple values for %s.", k + 1);
                break;
            }
            json_object_set(p->named, k + 1, v);
            continue;
        }
        if (!in_list(known_params, k)) {
            rc = perr(msg, msglen, 1065, "Unrecognized parameter in request: %s", k);
            break;
        }
        if (in_list(bool_params, k) && !json_is_boolean(v)) {
            rc = perr(msg, msglen, 1070, "Type mismatch for parameter %s: expected a boolean", k);
            break;
        }
        if (!strcasecmp(k, "statement")) {
            if (!json_is_string(v)) {
                rc = perr(msg, msglen, 1070, "%s", "Type mismatch for parameter statement");
                break;
            }
            has_statement = 1;
            p->rq.statement = json_string_value(v);
            p->rq.len = json_string_length(v);
        } else if (!strcasecmp(k, "prepared")) {
            if (!json_is_string(v)) {
                rc = perr(msg, msglen, 1070, "%s", "Type mismatch for parameter prepared");
                break;
            }
            has_prepared = 1;
            p->rq.prepared = json_string_value(v);
            /* "[host:port]name" from a cluster's node: the name is after the prefix */
            if (p->rq.prepared[0] == '[') {
                const char *e = strchr(p->rq.prepared, ']');
                if (e) p->rq.prepared = e + 1;
            }
        } else if (!strcasecmp(k, "client_context_id")) {
            if (!json_is_string(v)) continue;
            const char *s = json_string_value(v);
            if (strpbrk(s, "\"\\")) {
                rc = perr(msg, msglen, 1110, "%s",
                          "The client_context_id must not contain \" or \\ characters");
                break;
            }
            snprintf(p->client_context_id, sizeof p->client_context_id, "%s", s);
            p->has_client_context_id = 1;
        } else if (!strcasecmp(k, "timeout")) {
            int64_t d = json_is_string(v) ? dv_qsvc_duration(json_string_value(v)) : -1;
            if (d < 0) {
                rc = perr(msg, msglen, 1040, "Invalid value for timeout: %s",
                          json_is_string(v) ? json_string_value(v) : "(not a string)");
                break;
            }
            p->timeout_ns = (uint64_t)d;
            snprintf(p->timeout_text, sizeof p->timeout_text, "%s", json_string_value(v));
        } else if (!strcasecmp(k, "args")) {
            if (!json_is_array(v)) {
                rc = perr(msg, msglen, 1070, "%s",
                          "Type mismatch for parameter args: expected an array");
                break;
            }
            p->positional = json_incref(v);
        } else if (!strcasecmp(k, "query_context")) {
            if (json_is_string(v)) p->rq.query_context = json_string_value(v);
        } else if (!strcasecmp(k, "readonly")) {
            p->rq.readonly = json_is_true(v);
        } else if (!strcasecmp(k, "metrics")) {
            p->metrics = json_is_true(v);
        } else if (!strcasecmp(k, "preserve_expiry")) {
            p->rq.preserve_expiry = json_is_true(v);
        } else if (!strcasecmp(k, "auto_execute")) {
            p->rq.auto_execute = json_is_true(v);
        } else if (!strcasecmp(k, "profile")) {
            const char *s = json_is_string(v) ? json_string_value(v) : "";
            if (!strcasecmp(s, "off") || !*s)
                p->profile = 0;
            else if (!strcasecmp(s, "phases"))
                p->profile = 1;
            else if (!strcasecmp(s, "timings"))
                p->profile = 2;
            else
                rc = perr(msg, msglen, 1040, "Invalid value for profile: %s", s);
        } else if (!strcasecmp(k, "scan_consistency")) {
            const char *s = json_is_string(v) ? json_string_value(v) : "";
            if (!strcasecmp(s, "at_plus") && !json_object_get(params, "scan_vectors") &&
                !json_object_get(params, "scan_vector"))
                rc = perr(msg, msglen, 1050, "%s",
                          "No scan_vector value for scan_consistency at_plus");
            else if (strcasecmp(s, "not_bounded") && strcasecmp(s, "request_plus") &&
                     strcasecmp(s, "statement_plus") && strcasecmp(s, "at_plus") && *s)
                rc = perr(msg, msglen, 1040, "Invalid value for scan_consistency: %s", s);
        } else if (!strcasecmp(k, "scan_wait")) {
            if (!json_is_string(v) || dv_qsvc_duration(json_string_value(v)) < 0)
                rc = perr(msg, msglen, 1040, "%s", "Invalid value for scan_wait");
        } else if (!strcasecmp(k, "max_parallelism") || !strcasecmp(k, "scan_cap") ||
                   !strcasecmp(k, "pipeline_cap") || !strcasecmp(k, "pipeline_batch")) {
            if (!json_is_integer(v) &&
                !(json_is_string(v) && *json_string_value(v) &&
                  strspn(json_string_value(v), "-0123456789") == json_string_length(v)))
                rc =
                    perr(msg, msglen, 1070, "Type mismatch for parameter %s: expected a number", k);
        }
        /* the rest (namespace, pretty, use_replica, ...) is accepted and has no effect here */
    }
    p->converted = converted; /* the statement may point into it */
    if (rc) return rc;
    if (has_statement && has_prepared)
        return perr(msg, msglen, 1060, "%s", "Multiple values for statement and prepared.");
    if (!has_statement && !has_prepared)
        return perr(msg, msglen, 1050, "%s", "No statement or prepared value");
    p->rq.named = p->named;
    p->rq.positional = p->positional;
    if (p->timeout_ns) {
        p->rq.deadline_ns = dv_clock_now_ns() + p->timeout_ns;
        p->rq.timeout_text = p->timeout_text;
    }
    return 0;
}

/* ---- The source over the stores ----------------------------------------------------------- */

typedef struct qsrc {
    dv_cluster *cluster;
    dv_user *user;
    dv_qsvc *svc; /* installs the index-maintenance hook on the stores it opens; may be NULL */
} qsrc;

static void ensure_hook(dv_qsvc *q, dv_bucket *b);

typedef struct qks {
    dv_bucket *b;
    uint32_t cid;
} qks;

size_t dv_qsvc_source_size(void)
{
    return sizeof(qsrc);
}

static uint32_t now_s(void)
{
    return (uint32_t)(dv_clock_wall_ns() / 1000000000u);
}

static int s_open(void *ud, const char *bucket, const char *scope, const char *collection,
                  void **ks, char *msg, size_t msglen)
{
    qsrc *q = ud;
    dv_bucket *b = dv_cluster_get_bucket(q->cluster, bucket, strlen(bucket));
    if (!b) {
        if (!strcmp(scope, "_default") && !strcmp(collection, "_default"))
            snprintf(msg, msglen,
                     "Keyspace not found in CB datastore: default:%s - cause: No bucket named %s",
                     bucket, bucket);
        else
            snprintf(
                msg, msglen,
                "Keyspace not found in CB datastore: default:%s.%s.%s - cause: No bucket named %s",
                bucket, scope, collection, bucket);
        return 12003;
    }
    uint32_t sid;
    if (dv_bucket_lookup_scope(b, scope, strlen(scope), &sid, NULL) != DV_ERR_OK) {
        snprintf(msg, msglen, "Scope not found in CB datastore default:%s.%s", bucket, scope);
        dv_bucket_release(b);
        return 12021;
    }
    char path[2 * DV_MANIFEST_NAME_MAX + 4];
    snprintf(path, sizeof path, "%s.%s", scope, collection);
    uint32_t cid;
    if (dv_bucket_lookup_collection(b, path, strlen(path), &cid, NULL) != DV_ERR_OK) {
        snprintf(msg, msglen,
                 "Keyspace not found in CB datastore: default:%s.%s.%s - cause: missing_collection",
                 bucket, scope, collection);
        dv_bucket_release(b);
        return 12003;
    }
    qks *k = dv_malloc(sizeof *k);
    if (!k) {
        dv_bucket_release(b);
        snprintf(msg, msglen, "out of memory");
        return 5000;
    }
    k->b = b;
    k->cid = cid;
    *ks = k;
    if (q->svc) ensure_hook(q->svc, b);
    return 0;
}

static uint32_t s_keyspace_id(void *ud, void *ks)
{
    (void)ud;
    return ((qks *)ks)->cid;
}

static void s_close(void *ud, void *ks)
{
    (void)ud;
    qks *k = ks;
    if (!k) return;
    dv_bucket_release(k->b);
    dv_free(k);
}

static int item_doc(const dv_item *it, dv_query_doc *d)
{
    memset(d, 0, sizeof *d);
    d->key = dv_malloc(it->nkey + 1);
    if (!d->key) return -1;
    memcpy(d->key, dv_item_key(it), it->nkey);
    d->key[it->nkey] = '\0';
    d->cas = it->cas;
    d->flags = it->flags;
    d->exptime = it->exptime;
    if (it->datatype & DV_DATATYPE_JSON) {
        d->value = json_loadb(dv_item_value(it), it->nvalue, JSON_DECODE_ANY, NULL);
        d->is_json = d->value != NULL;
    }
    return 0;
}

typedef struct collect {
    dv_item **v;
    size_t n, cap;
    int oom;
} collect;

static int collect_item(void *ud, dv_item *it)
{
    collect *c = ud;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        dv_item **nv = dv_realloc(c->v, cap * sizeof *nv);
        if (!nv) {
            c->oom = 1;
            return 1;
        }
        c->v = nv;
        c->cap = cap;
    }
    c->v[c->n++] = dv_item_ref(it);
    return 0;
}

static int cmp_docs(const void *a, const void *b)
{
    return strcmp(((const dv_query_doc *)a)->key, ((const dv_query_doc *)b)->key);
}

static int s_scan(void *ud, void *ks, dv_query_doc **docs, size_t *n)
{
    (void)ud;
    qks *k = ks;
    dv_store *st = dv_bucket_store(k->b);
    collect c = {0};
    uint32_t now = now_s();
    for (unsigned i = 0; i < dv_store_nvb(st) && !c.oom; i++) {
        dv_vbucket *vb = dv_store_lock(st, (uint16_t)i);
        dv_vbucket_each(vb, k->cid, now, collect_item, &c);
        dv_vbucket_unlock(vb);
    }
    *docs = dv_calloc(c.n + 1, sizeof **docs);
    int rc = (*docs && !c.oom) ? 0 : -1;
    size_t m = 0;
    for (size_t i = 0; i < c.n; i++) {
        if (rc == 0 && item_doc(c.v[i], &(*docs)[m]) == 0) m++;
        dv_item_release(c.v[i]);
    }
    dv_free(c.v);
    if (rc == 0) qsort(*docs, m, sizeof **docs, cmp_docs);
    *n = m;
    return rc;
}

static int s_get(void *ud, void *ks, const char *key, dv_query_doc *doc)
{
    (void)ud;
    qks *k = ks;
    dv_store *st = dv_bucket_store(k->b);
    size_t nkey = strlen(key);
    uint16_t vbid = dv_vbucket_of(key, nkey, dv_store_nvb(st));
    dv_vbucket *vb = dv_store_lock(st, vbid);
    dv_item *it = dv_vbucket_find(vb, k->cid, key, nkey, now_s());
    if (it && !it->deleted)
        it = dv_item_ref(it);
    else
        it = NULL;
    dv_vbucket_unlock(vb);
    if (!it) return 0;
    int rc = item_doc(it, doc) == 0;
    dv_item_release(it);
    return rc;
}

static int s_write(void *ud, void *ks, dv_query_write_op op, const char *key, json_t *value,
                   uint64_t cas, uint32_t expiry, int preserve_expiry, uint64_t *cas_out, char *msg,
                   size_t msglen)
{
    (void)ud;
    qks *k = ks;
    dv_store *st = dv_bucket_store(k->b);
    static const uint8_t ops[] = {DV_OP_ADD, DV_OP_SET, DV_OP_REPLACE, DV_OP_DELETE};
    char *text =
        value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)) : NULL;
    if (value && !text) {
        snprintf(msg, msglen, "out of memory");
        return 12009;
    }
    dv_kv_req rq = {0};
    rq.opcode = ops[op];
    rq.key = key;
    rq.nkey = strlen(key);
    rq.vbucket = dv_vbucket_of(key, rq.nkey, dv_store_nvb(st));
    rq.cid = k->cid;
    rq.value = text;
    rq.nvalue = text ? strlen(text) : 0;
    rq.datatype = DV_DATATYPE_JSON;
    rq.cas = cas;
    rq.expiry = expiry;
    rq.preserve_ttl = preserve_expiry;
    rq.now = now_s();
    dv_kv_res res = {0};
    dv_kv_execute(st, &rq, &res);
    free(text);
    if (res.item) dv_item_release(res.item);
    if (res.status == DV_STATUS_SUCCESS) {
        *cas_out = res.cas;
        return 0;
    }
    if (res.status == DV_STATUS_KEY_EEXISTS && op == DV_QUERY_INSERT) {
        snprintf(msg, msglen, "Duplicate Key: %s", key);
        return 17012;
    }
    if (res.status == DV_STATUS_KEY_EEXISTS) {
        snprintf(msg, msglen, "CAS mismatch");
        return 12033;
    }
    if (res.status == DV_STATUS_KEY_ENOENT) {
        snprintf(msg, msglen, "Key not found: %s", key);
        return 17014;
    }
    if (res.status == DV_STATUS_LOCKED)
        snprintf(msg, msglen, "Document %s is locked", key);
    else
        snprintf(msg, msglen, "KV status 0x%02x", res.status);
    return 12009;
}

static int s_allow(void *ud, dv_query_priv priv, const char *bucket, const char *scope,
                   const char *collection)
{
    qsrc *q = ud;
    if (!q->user) return 1;
    static const unsigned perms[] = {DV_PERM_QUERY_SELECT, DV_PERM_QUERY_INSERT,
                                     DV_PERM_QUERY_UPDATE, DV_PERM_QUERY_DELETE,
                                     DV_PERM_QUERY_INDEX};
    return dv_user_allow(q->user, perms[priv], bucket, scope, collection);
}

static json_t *s_keyspaces(void *ud)
{
    qsrc *q = ud;
    json_t *out = json_array();
    dv_bucket **list;
    size_t n;
    if (!out || dv_cluster_list_buckets(q->cluster, &list, &n) != DV_ERR_OK) return out;
    for (size_t i = 0; i < n; i++) {
        const char *bn = dv_bucket_name(list[i]);
        if (q->user && !dv_user_allow(q->user, DV_PERM_SELECT, bn, NULL, NULL)) continue;
        dv_buf m = DV_BUF_INIT;
        if (dv_bucket_manifest_json(list[i], &m) == DV_ERR_OK) {
            json_t *j = json_loadb((const char *)dv_buf_head(&m), dv_buf_size(&m), 0, NULL);
            size_t si, ci;
            json_t *s, *c;
            json_array_foreach(json_object_get(j, "scopes"), si, s)
            {
                json_array_foreach(json_object_get(s, "collections"), ci, c)
                {
                    json_array_append_new(out, json_pack("{s:s,s:O,s:O,s:s}", "bucket", bn, "scope",
                                                         json_object_get(s, "name"), "collection",
                                                         json_object_get(c, "name"), "bucket_uuid",
                                                         dv_bucket_uuid(list[i])));
                }
            }
            json_decref(j);
        }
        dv_buf_free(&m);
    }
    dv_cluster_list_free(list, n);
    return out;
}

void dv_qsvc_source(dv_query_source *src, void *ctx_storage, dv_cluster *c, dv_user *u,
                    const char *datastore, dv_qsvc *svc)
{
    qsrc *q = ctx_storage;
    q->cluster = c;
    q->user = u;
    q->svc = svc;
    memset(src, 0, sizeof *src);
    src->ud = q;
    src->open = s_open;
    src->close = s_close;
    src->scan = s_scan;
    src->get = s_get;
    src->write = s_write;
    src->allow = s_allow;
    src->keyspaces = s_keyspaces;
    src->keyspace_id = svc ? s_keyspace_id : NULL;
    src->datastore = datastore;
}

/* ---- The service -------------------------------------------------------------------------- */

/* The write hook of one bucket's store: reports its writes to the index catalog. It holds a
 * reference to the bucket, so the store outlives the hook. */
typedef struct bucket_hook {
    dv_store_hook h;
    dv_qsvc *q;
    dv_bucket *b;
    struct bucket_hook *next;
} bucket_hook;

/* A recent successful Authorization header, kept as a keyed hash (never the password). */
typedef struct auth_entry {
    unsigned char mac[32];
    int used;
    uint64_t gen;
    dv_user *user;
} auth_entry;

struct dv_qsvc {
    dv_cluster *cluster;
    dv_users *users;
    dv_query_catalog *catalog;
    struct MHD_Daemon *mhd;
    dv_http_guard *guard; /* connection limits and the header timeout, as the REST listener's */
    int port;
    char datastore[64];
    pthread_mutex_t auth_mu;
    auth_entry auth[AUTH_CACHE];
    unsigned auth_next;
    unsigned char auth_key[32];
    pthread_mutex_t hook_mu;
    bucket_hook *hooks;
    dv_qsvc *base;           /* owner of the catalog and hooks: itself, or the service shared */
    pthread_mutex_t save_mu; /* orders the writes of index definitions to disk */
    int stopping;            /* dv_qsvc_stop has begun: streaming queries stop (atomic) */
    /* The producer threads (see "Producer threads"): queued requests, idle and live threads. */
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_work, pool_left;
    struct qstream *queue_head, *queue_tail;
    size_t queued, idle, threads;
    int pool_stopping;
};

static void on_store_write(void *ud, const dv_item *it)
{
    bucket_hook *bh = ud;
    const char *bucket = dv_bucket_name(bh->b);
    if (!dv_query_catalog_watches(bh->q->catalog, bucket, it->cid)) return;
    char key[512];
    if (it->nkey >= sizeof key) return;
    memcpy(key, dv_item_key(it), it->nkey);
    key[it->nkey] = '\0';
    json_t *doc = NULL;
    if (!it->deleted && (it->datatype & DV_DATATYPE_JSON))
        doc = json_loadb(dv_item_value(it), it->nvalue, JSON_DECODE_ANY, NULL);
    dv_query_catalog_index_doc(bh->q->catalog, bucket, it->cid, key, doc, it->deleted);
    json_decref(doc);
}

/* Buckets deleted since the last request take their indexes with them (as in Couchbase): the
 * catalog forgets them and their stores lose the hook. */
static void prune_deleted(dv_qsvc *q)
{
    q = q->base;
    pthread_mutex_lock(&q->hook_mu);
    for (bucket_hook **pp = &q->hooks; *pp;) {
        bucket_hook *bh = *pp;
        if (!dv_bucket_deleted(bh->b)) {
            pp = &bh->next;
            continue;
        }
        *pp = bh->next;
        dv_store_set_hook(dv_bucket_store(bh->b), NULL);
        dv_query_catalog_drop_bucket(q->catalog, dv_bucket_name(bh->b));
        dv_bucket_release(bh->b);
        dv_free(bh);
    }
    pthread_mutex_unlock(&q->hook_mu);
}

static void ensure_hook(dv_qsvc *q, dv_bucket *b)
{
    q = q->base;
    dv_store *st = dv_bucket_store(b);
    if (dv_store_get_hook(st)) return;
    pthread_mutex_lock(&q->hook_mu);
    if (!dv_store_get_hook(st)) {
        bucket_hook *bh = dv_calloc(1, sizeof *bh);
        if (bh) {
            bh->h.fn = on_store_write;
            bh->h.ud = bh;
            bh->q = q;
            bh->b = dv_bucket_ref(b);
            bh->next = q->hooks;
            q->hooks = bh;
            dv_store_set_hook(st, &bh->h);
        }
    }
    pthread_mutex_unlock(&q->hook_mu);
}

typedef struct req {
    dv_buf body;
    int too_large;
} req;

static dv_user *auth_user(dv_qsvc *q, struct MHD_Connection *conn)
{
    const char *h =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h) return NULL;
    size_t hl = strlen(h);
    if (hl >= AUTH_MAX) return NULL;
    unsigned char mac[32];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), q->auth_key, sizeof q->auth_key, (const unsigned char *)h, hl, mac,
              &maclen) ||
        maclen != sizeof mac)
        return NULL;
    uint64_t gen = dv_users_generation(q->users);
    pthread_mutex_lock(&q->auth_mu);
    for (int i = 0; i < AUTH_CACHE; i++) {
        auth_entry *a = &q->auth[i];
        if (a->used && a->gen == gen && CRYPTO_memcmp(a->mac, mac, sizeof mac) == 0) {
            dv_user *u = dv_user_ref(a->user);
            pthread_mutex_unlock(&q->auth_mu);
            return u;
        }
    }
    pthread_mutex_unlock(&q->auth_mu);
    char buf[AUTH_MAX];
    const char *user, *pw;
    size_t ulen, plen;
    dv_user *u = NULL;
    if (dv_rest_basic_auth(h, hl, buf, sizeof buf, &user, &ulen, &pw, &plen) == 0)
        u = dv_users_check_password(q->users, user, ulen, pw, plen);
    OPENSSL_cleanse(buf, sizeof buf);
    if (u) {
        pthread_mutex_lock(&q->auth_mu);
        auth_entry *a = &q->auth[q->auth_next++ % AUTH_CACHE];
        dv_user *old = a->used ? a->user : NULL;
        memcpy(a->mac, mac, sizeof mac);
        a->used = 1;
        a->gen = gen;
        a->user = dv_user_ref(u);
        pthread_mutex_unlock(&q->auth_mu);
        dv_user_release(old);
    }
    return u;
}

static void uuid4(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) memset(b, 0x5a, sizeof b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* A duration as Go prints it ("3.517ms", "1.2s", "850.3µs"). */
static void go_duration(uint64_t ns, char *out, size_t n)
{
    const char *unit;
    double v;
    if (ns < 1000) {
        snprintf(out, n, "%lluns", (unsigned long long)ns);
        return;
    }
    if (ns < 1000000)
        v = (double)ns / 1e3, unit = "\xc2\xb5s";
    else if (ns < 1000000000)
        v = (double)ns / 1e6, unit = "ms";
    else
        v = (double)ns / 1e9, unit = "s";
    snprintf(out, n, "%.6f", v);
    size_t l = strlen(out);
    while (l && out[l - 1] == '0') out[--l] = '\0';
    if (l && out[l - 1] == '.') out[--l] = '\0';
    snprintf(out + l, n - l, "%s", unit);
}

static void put_json(dv_buf *o, const char *name, const json_t *v, int last)
{
    char *s = json_dumps(v, DV_QUERY_JSON_FLAGS);
    dv_buf_printf(o, "\"%s\": %s%s\n", name, s ? s : "null", last ? "" : ",");
    free(s);
}

/* The body's first fields (query-service.md 5.1): requestID, clientContextID, prepared. */
static void put_ids(dv_buf *o, const char *request_id, const dv_qsvc_params *p,
                    const char *prepared)
{
    dv_buf_printf(o, "{\n\"requestID\": \"%s\",\n", request_id);
    if (p->has_client_context_id)
        dv_buf_printf(o, "\"clientContextID\": \"%s\",\n", p->client_context_id);
    if (prepared) dv_buf_printf(o, "\"prepared\": \"%s\",\n", prepared);
}

/* Then, but for the fatal shape, the signature and the start of "results". The signature line
 * is "null" when the statement has none and null_signature is set. */
static void put_results(dv_buf *o, const json_t *signature, int null_signature)
{
    if (signature)
        put_json(o, "signature", signature, 0);
    else if (null_signature)
        dv_buf_printf(o, "\"signature\": null,\n");
    dv_buf_printf(o, "\"results\": [");
}

/* The body after its rows: the end of "results" (when it was opened), errors, warnings,
 * status, metrics and profile. count and size: the rows written and their bytes. */
static void put_tail(dv_buf *o, const dv_qsvc_params *p, const dv_query_result *res, int results,
                     size_t count, size_t size, uint64_t t0, uint64_t t1)
{
    if (results) dv_buf_printf(o, "],\n");
    if (res->errors) put_json(o, "errors", res->errors, 0);
    if (res->warnings) put_json(o, "warnings", res->warnings, 0);
    dv_buf_printf(o, "\"status\": \"%s\"", res->status);
    char el[32], ex[32];
    go_duration(t1 - t0 ? t1 - t0 : 1, el, sizeof el);
    go_duration(t1 - t0 ? t1 - t0 : 1, ex, sizeof ex);
    if (p->metrics) {
        dv_buf_printf(o,
                      ",\n\"metrics\": {\"elapsedTime\": \"%s\",\"executionTime\": \"%s\","
                      "\"resultCount\": %zu,\"resultSize\": %zu,\"serviceLoad\": 1",
                      el, ex, count, size);
        if (res->mutation_count)
            dv_buf_printf(o, ",\"mutationCount\": %llu", (unsigned long long)res->mutation_count);
        if (res->sort_count)
            dv_buf_printf(o, ",\"sortCount\": %llu", (unsigned long long)res->sort_count);
        if (res->errors) dv_buf_printf(o, ",\"errorCount\": %zu", json_array_size(res->errors));
        dv_buf_printf(o, "}");
    }
    if (p->profile)
        dv_buf_printf(o,
                      ",\n\"profile\": {\"phaseTimes\": {\"run\": \"%s\"},\"phaseCounts\": "
                      "{\"fetch\": %zu},\"phaseOperators\": {\"fetch\": 1},\"requestTime\": \"\","
                      "\"servicingHost\": \"127.0.0.1\"}",
                      el, count);
    dv_buf_printf(o, "\n}\n");
}

/* The whole body of a finished request and its HTTP status. rows: the count rows (size bytes
 * of JSON) as written between "[" and "]", separated by ",\n"; left out of the fatal shape. */
static int respond(dv_buf *o, const char *request_id, const dv_qsvc_params *p,
                   const dv_query_result *res, const void *rows, size_t rows_len, size_t count,
                   size_t size, uint64_t t0, uint64_t t1)
{
    put_ids(o, request_id, p, res->prepared);
    if (res->results) {
        put_results(o, res->signature, res->status[0] == 's' || res->status[0] == 'e');
        if (rows_len) dv_buf_append(o, rows, rows_len);
    } else {
        count = size = 0;
    }
    put_tail(o, p, res, res->results != NULL, count, size, t0, t1);
    return res->http_status ? res->http_status : 200;
}

/* A request that failed before it ran: the failedJSON shape. */
static int respond_error(dv_buf *o, const char *request_id, const dv_qsvc_params *p, int code,
                         const char *msg, int http)
{
    dv_query_result res = {0};
    res.status = "fatal";
    res.errors = json_pack("[{s:i,s:s}]", "code", code, "msg", msg);
    res.http_status = http;
    uint64_t t = dv_clock_now_ns();
    int st = respond(o, request_id, p, &res, NULL, 0, 0, 0, t, t + 1000);
    json_decref(res.errors);
    return st;
}

static int http_for_param_error(int code)
{
    if (code == 1010) return 405;
    if (code == 1110 || (code >= 1020 && code <= 1070)) return 400;
    if (code == 13014 || code == 2120 || code == 10000) return 401;
    return 500;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    json_object_set_new(cls, key, json_string(value ? value : ""));
    return MHD_YES;
}

static void add_headers(struct MHD_Response *r, int status)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; version=7.6.2");
    if (status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Basic realm=\"Couchbase Query Service\"");
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, int status, dv_buf *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        dv_buf_size(body), (void *)dv_buf_head(body), MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    add_headers(r, status);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

/* ---- Streaming the response ----------------------------------------------------------------
 * A query runs on a producer thread (see "Producer threads") that writes the response, row by row
 * through the engine's sink, into a bounded buffer: it waits while OUT_CAP bytes are unread (until
 * the request's deadline at most). serve() waits until OUT_START bytes are there or the query is
 * done. Done: one buffer with the result's HTTP status, byte for byte what a buffered run
 * writes (so errors known before output keep their codes). Otherwise the response is chunked,
 * HTTP 200, as the real service's is once it flushes its buffer: the connection's thread reads
 * the buffer as the producer fills it (stream_read), and the response's end, complete or with
 * the client gone, stops the producer and waits for it (stream_end). */
#define OUT_START (64u << 10)
#define OUT_CAP   (256u << 10)

typedef struct qstream {
    dv_qsvc *q;
    struct qstream *next; /* in the producers' queue */
    pthread_mutex_t mu;
    pthread_cond_t more; /* bytes (want of them) or the end, for serve() and the reader */
    pthread_cond_t room; /* the reader took bytes or went away */
    size_t want;         /* what the waiter on more waits for; 0 = nobody waits */
    int producer_waits;
    dv_buf out; /* the response as written; the buffer's offset is what was read */
    int done, gone, streaming;
    int status; /* HTTP status of the one-buffer response */
    /* the request (owned) */
    char rid[37];
    uint64_t t0;
    dv_qsvc_params p;
    json_t *params;
    dv_user *u;
    /* the producer's: the sink's begin (borrowed for the run), rows written, one row's JSON */
    const json_t *signature;
    const char *prepared;
    size_t rows_at, count, size;
    dv_buf row;
} qstream;

static int stream_begin(void *ud, const json_t *signature, const char *prepared)
{
    qstream *st = ud;
    st->signature = signature;
    st->prepared = prepared;
    return 0;
}

static int append_json(const char *s, size_t n, void *ud)
{
    return dv_buf_append(ud, s, n);
}

/* One row into the buffer (the head first); nonzero stops the query: the client went away,
 * the deadline passed while the buffer was full, or the service is stopping. */
static int stream_row(void *ud, const json_t *row)
{
    qstream *st = ud;
    dv_buf_reset(&st->row);
    if (json_dump_callback(row, append_json, &st->row, DV_QUERY_JSON_FLAGS) < 0) return 0;
    uint64_t deadline = st->p.rq.deadline_ns;
    int stop = 0;
    pthread_mutex_lock(&st->mu);
    while (!st->gone && !stop && dv_buf_size(&st->out) >= OUT_CAP) {
        st->producer_waits = 1;
        if (!deadline) {
            pthread_cond_wait(&st->room, &st->mu);
        } else {
            struct timespec ts = {(time_t)(deadline / DV_NS_PER_SEC),
                                  (long)(deadline % DV_NS_PER_SEC)};
            stop = pthread_cond_timedwait(&st->room, &st->mu, &ts) == ETIMEDOUT;
        }
        st->producer_waits = 0;
    }
    stop = stop || st->gone || __atomic_load_n(&st->q->stopping, __ATOMIC_RELAXED);
    if (!stop) {
        if (!st->count) {
            put_ids(&st->out, st->rid, &st->p, st->prepared);
            put_results(&st->out, st->signature, 1);
            st->rows_at = dv_buf_size(&st->out);
        } else {
            stop = dv_buf_append(&st->out, ",\n", 2) < 0;
        }
        stop = stop || dv_buf_append(&st->out, dv_buf_head(&st->row), dv_buf_size(&st->row)) < 0;
        st->count++;
        st->size += dv_buf_size(&st->row);
        if (st->want && dv_buf_size(&st->out) >= st->want) pthread_cond_signal(&st->more);
    }
    pthread_mutex_unlock(&st->mu);
    return stop;
}

/* Run the query (on a producer thread). Once done is set, st belongs to the other side. */
static void stream_run(qstream *st)
{
    dv_qsvc *q = st->q;
    char storage[64];
    _Static_assert(sizeof(qsrc) <= 64, "qsrc storage");
    dv_query_source src;
    dv_qsvc_source(&src, storage, q->cluster, st->u, q->datastore, q);
    dv_query_result res;
    dv_query_run(&st->p.rq, &src, q->catalog, &res);
    uint64_t t1 = dv_clock_now_ns();
    pthread_mutex_lock(&st->mu);
    if (st->streaming) {
        put_tail(&st->out, &st->p, &res, 1, st->count, st->size, st->t0, t1);
    } else { /* nothing was read yet: the body as one, shaped by the final result */
        dv_buf body = DV_BUF_INIT;
        const uint8_t *rows = st->count ? dv_buf_head(&st->out) + st->rows_at : NULL;
        size_t len = st->count ? dv_buf_size(&st->out) - st->rows_at : 0;
        st->status =
            respond(&body, st->rid, &st->p, &res, rows, len, st->count, st->size, st->t0, t1);
        dv_buf_free(&st->out);
        st->out = body;
    }
    st->done = 1;
    pthread_cond_broadcast(&st->more);
    pthread_mutex_unlock(&st->mu);
    dv_query_result_clear(&res);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    qstream *st = cls;
    pthread_mutex_lock(&st->mu);
    size_t want = max < OUT_START ? max : OUT_START;
    while (!st->done && dv_buf_size(&st->out) < want) {
        st->want = want;
        pthread_cond_wait(&st->more, &st->mu);
    }
    st->want = 0;
    size_t n = dv_buf_size(&st->out);
    if (n > max) n = max;
    if (n) {
        memcpy(buf, dv_buf_head(&st->out), n);
        dv_buf_consume(&st->out, n);
    }
    if (st->producer_waits) pthread_cond_signal(&st->room);
    pthread_mutex_unlock(&st->mu);
    return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void stream_free(qstream *st)
{
    pthread_cond_destroy(&st->room);
    pthread_cond_destroy(&st->more);
    pthread_mutex_destroy(&st->mu);
    dv_buf_free(&st->out);
    dv_buf_free(&st->row);
    dv_user_release(st->u);
    dv_qsvc_params_clear(&st->p);
    json_decref(st->params);
    dv_free(st);
}

static void stream_end(void *cls)
{
    qstream *st = cls;
    pthread_mutex_lock(&st->mu);
    st->gone = 1;
    pthread_cond_broadcast(&st->room);
    while (!st->done) pthread_cond_wait(&st->more, &st->mu);
    pthread_mutex_unlock(&st->mu);
    stream_free(st);
}

/* A new stream that takes over *p, params and u (left cleared), or NULL (nothing taken). */
static qstream *stream_new(dv_qsvc *q, const char *rid, uint64_t t0, dv_qsvc_params *p,
                           json_t **params, dv_user **u)
{
    qstream *st = dv_calloc(1, sizeof *st);
    if (!st) return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the clock of deadline_ns */
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->more, NULL);
    pthread_cond_init(&st->room, &ca);
    pthread_condattr_destroy(&ca);
    dv_buf_init(&st->out);
    dv_buf_init(&st->row);
    st->q = q;
    snprintf(st->rid, sizeof st->rid, "%s", rid);
    st->t0 = t0;
    st->p = *p;
    if (st->p.rq.timeout_text) st->p.rq.timeout_text = st->p.timeout_text;
    st->p.rq.begin = stream_begin;
    st->p.rq.row = stream_row;
    st->p.rq.sink_ud = st;
    st->params = *params;
    st->u = *u;
    memset(p, 0, sizeof *p);
    *params = NULL;
    *u = NULL;
    return st;
}

/* ---- Producer threads ----------------------------------------------------------------------
 * Queries run on threads that outlive their requests (starting a thread costs more than
 * answering a small query): a request is queued for an idle thread, or a new one is started
 * for it. A thread that finishes a query while POOL_IDLE others wait leaves; dv_qsvc_stop
 * waits until every thread has left. */
#define POOL_IDLE 8

static void *pool_thread(void *arg)
{
    dv_qsvc *q = arg;
    pthread_mutex_lock(&q->pool_mu);
    for (;;) {
        while (!q->queue_head && !q->pool_stopping) {
            q->idle++;
            pthread_cond_wait(&q->pool_work, &q->pool_mu);
            q->idle--;
        }
        qstream *st = q->queue_head;
        if (!st) break;
        q->queue_head = st->next;
        if (!q->queue_head) q->queue_tail = NULL;
        q->queued--;
        pthread_mutex_unlock(&q->pool_mu);
        stream_run(st);
        pthread_mutex_lock(&q->pool_mu);
        if (q->idle >= POOL_IDLE) break;
    }
    q->threads--;
    pthread_cond_broadcast(&q->pool_left);
    pthread_mutex_unlock(&q->pool_mu);
    return NULL;
}

/* Queue st for a producer thread. 0, or -1 when no thread runs and none can be started. */
static int pool_submit(dv_qsvc *q, qstream *st)
{
    pthread_mutex_lock(&q->pool_mu);
    st->next = NULL;
    if (q->queue_tail)
        q->queue_tail->next = st;
    else
        q->queue_head = st;
    q->queue_tail = st;
    q->queued++;
    int rc = 0;
    if (q->idle >= q->queued) {
        pthread_cond_signal(&q->pool_work);
    } else {
        pthread_attr_t at;
        pthread_t th;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &at, pool_thread, q) == 0) {
            q->threads++;
        } else if (!q->threads) { /* nobody would take it: st is the queue's only entry */
            q->queue_head = q->queue_tail = NULL;
            q->queued = 0;
            rc = -1;
        }
        pthread_attr_destroy(&at);
    }
    pthread_mutex_unlock(&q->pool_mu);
    return rc;
}

/* Run the stream's query and answer: one buffer when it ends early, else chunked. */
static enum MHD_Result stream_serve(struct MHD_Connection *conn, qstream *st)
{
    pthread_mutex_lock(&st->mu);
    while (!st->done && dv_buf_size(&st->out) < OUT_START) {
        st->want = OUT_START;
        pthread_cond_wait(&st->more, &st->mu);
    }
    st->want = 0;
    int done = st->done;
    st->streaming = !done;
    pthread_mutex_unlock(&st->mu);
    if (done) {
        enum MHD_Result rc = send_reply(conn, st->status, &st->out);
        stream_free(st);
        return rc;
    }
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, OUT_START, stream_read, st, stream_end);
    if (!r) {
        stream_end(st);
        return MHD_NO;
    }
    add_headers(r, 200);
    enum MHD_Result rc = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result serve(dv_qsvc *q, struct MHD_Connection *conn, const char *url,
                             const char *method, req *rq)
{
    dv_buf out = DV_BUF_INIT;
    char rid[37];
    uuid4(rid);
    uint64_t t0 = dv_clock_now_ns();
    dv_qsvc_params p;
    memset(&p, 0, sizeof p);
    p.metrics = 1;
    int status;
    json_t *params = NULL;
    dv_user *u = NULL;
    int is_get = !strcmp(method, "GET");
    if (!strcmp(url, "/admin/ping")) {
        dv_buf_printf(&out, "{}\n");
        status = 200;
        goto send;
    }
    if (strcmp(url, "/query/service") && strcmp(url, "/query")) {
        status = respond_error(&out, rid, &p, 1010, "Unsupported path", 404);
        goto send;
    }
    if (!is_get && strcmp(method, "POST")) {
        status = respond_error(&out, rid, &p, 1010, "Unsupported http method: ", 405);
        goto send;
    }
    if (rq->too_large) {
        status = respond_error(&out, rid, &p, 1193, "Request size exceeds the limit", 413);
        goto send;
    }
    const char *ct =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    int strings = 1;
    if (is_get) {
        params = json_object();
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, params);
    } else if (ct && !strncasecmp(ct, "application/json", 16)) {
        json_error_t je;
        params = json_loadb((const char *)dv_buf_head(&rq->body), dv_buf_size(&rq->body), 0, &je);
        strings = 0;
        if (!params || !json_is_object(params)) {
            char m[256];
            snprintf(m, sizeof m, "Error processing JSON request body: %s",
                     params ? "not an object" : je.text);
            status = respond_error(&out, rid, &p, 1100, m, 400);
            goto send;
        }
    } else {
        dv_form f = DV_FORM_INIT;
        char ferr[128];
        if (dv_form_parse(&f, (const char *)dv_buf_head(&rq->body), dv_buf_size(&rq->body), ferr,
                          sizeof ferr) != DV_ERR_OK) {
            status = respond_error(&out, rid, &p, 1040, ferr, 400);
            goto send;
        }
        params = json_object();
        for (size_t i = 0; i < f.n; i++)
            json_object_set_new(params, f.v[i].name, json_stringn(f.v[i].value, f.v[i].value_len));
        dv_form_clear(&f);
    }
    char msg[300];
    int code = dv_qsvc_params_parse(params, strings, &p, msg, sizeof msg);
    if (code) {
        status = respond_error(&out, rid, &p, code, msg, http_for_param_error(code));
        goto send;
    }
    u = auth_user(q, conn);
    if (!u) {
        status =
            respond_error(&out, rid, &p, 2120,
                          "Error authorizing against cluster: invalid or missing credentials", 401);
        goto send;
    }
    if (is_get) {
        if (p.rq.statement && !dv_query_is_readonly(p.rq.statement, p.rq.len)) {
            status = respond_error(&out, rid, &p, 1000,
                                   "The server or request is read-only and cannot accept this "
                                   "write statement.",
                                   403);
            goto send;
        }
        p.rq.readonly = 1;
    }
    prune_deleted(q);
    qstream *st = stream_new(q, rid, t0, &p, &params, &u);
    if (st && pool_submit(q, st) == 0) {
        dv_buf_free(&out);
        return stream_serve(conn, st);
    }
    status = respond_error(&out, rid, st ? &st->p : &p, 5000,
                           "cannot start the request: out of memory or threads", 500);
    if (st) stream_free(st);
send:;
    enum MHD_Result rc = send_reply(conn, status, &out);
    dv_user_release(u);
    dv_qsvc_params_clear(&p);
    json_decref(params);
    dv_buf_free(&out);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    dv_qsvc *q = cls;
    req *r = *con_cls;
    if (!r) {
        dv_http_guard_headers_done(q->guard, conn);
        r = dv_calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        dv_buf_init(&r->body);
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > MAX_BODY) r->too_large = 1;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_large && dv_buf_size(&r->body) + *upload_size <= MAX_BODY) {
            if (dv_buf_append(&r->body, upload_data, *upload_size) < 0) r->too_large = 1;
        } else {
            r->too_large = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return serve(q, conn, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    req *r = *con_cls;
    if (!r) return;
    dv_buf_free(&r->body);
    dv_free(r);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    dv_log(DV_LOG_WARN, "query", "%s", line);
}

/* ---- Index definitions on disk -----------------------------------------------------------
 * A persisted bucket keeps its index definitions in its storage's "indexes" record (a JSON
 * array of dv_query_catalog_definitions' objects), rewritten after every change; at start they
 * come back and the built ones are built again from the documents. */

static void save_indexes(void *ud, const char *bucket)
{
    dv_qsvc *q = ud;
    dv_bucket *b = dv_cluster_get_bucket(q->cluster, bucket, strlen(bucket));
    if (!b) return;
    struct dv_persist *ps = dv_bucket_persist(b);
    if (ps && !dv_bucket_deleted(b)) {
        pthread_mutex_lock(&q->save_mu); /* the last change's definitions are written last */
        json_t *defs = dv_query_catalog_definitions(q->catalog, bucket);
        char *text = defs ? json_dumps(defs, JSON_COMPACT) : NULL;
        if (!text || dv_persist_meta_put(ps, "indexes", text, strlen(text)) != DV_ERR_OK)
            dv_log(DV_LOG_ERROR, "query", "bucket %s: cannot write its index definitions", bucket);
        free(text);
        json_decref(defs);
        pthread_mutex_unlock(&q->save_mu);
    }
    dv_bucket_release(b);
}

static void backtick(dv_buf *o, const char *name)
{
    dv_buf_append(o, "`", 1);
    for (const char *p = name; *p; p++) dv_buf_append(o, *p == '`' ? "``" : p, *p == '`' ? 2 : 1);
    dv_buf_append(o, "`", 1);
}

/* Build a restored index: BUILD INDEX, with every privilege, over the stores. */
static void rebuild_index(dv_qsvc *q, const char *bucket, const json_t *def)
{
    dv_buf st = DV_BUF_INIT;
    dv_buf_printf(&st, "BUILD INDEX ON ");
    backtick(&st, bucket);
    dv_buf_append(&st, ".", 1);
    backtick(&st, json_string_value(json_object_get(def, "scope")));
    dv_buf_append(&st, ".", 1);
    backtick(&st, json_string_value(json_object_get(def, "collection")));
    dv_buf_append(&st, "(", 1);
    backtick(&st, json_string_value(json_object_get(def, "name")));
    dv_buf_append(&st, ")", 1);
    dv_query_request rq = {0};
    rq.statement = (const char *)dv_buf_head(&st);
    rq.len = dv_buf_size(&st);
    char storage[64];
    dv_query_source src;
    dv_qsvc_source(&src, storage, q->cluster, NULL, q->datastore, q);
    dv_query_result res;
    dv_query_run(&rq, &src, q->catalog, &res);
    if (strcmp(res.status, "success"))
        dv_log(DV_LOG_WARN, "query", "bucket %s: index %s not rebuilt: %s", bucket,
               json_string_value(json_object_get(def, "name")),
               json_string_value(json_object_get(json_array_get(res.errors, 0), "msg")));
    dv_query_result_clear(&res);
    dv_buf_free(&st);
}

static void restore_indexes(dv_qsvc *q)
{
    dv_bucket **list;
    size_t n;
    if (dv_cluster_list_buckets(q->cluster, &list, &n) != DV_ERR_OK) return;
    for (size_t i = 0; i < n; i++) {
        struct dv_persist *ps = dv_bucket_persist(list[i]);
        const char *bucket = dv_bucket_name(list[i]);
        dv_buf j = DV_BUF_INIT;
        if (!ps || dv_persist_meta_get(ps, "indexes", &j) != DV_ERR_OK) {
            dv_buf_free(&j);
            continue;
        }
        json_t *defs = json_loadb((const char *)dv_buf_head(&j), dv_buf_size(&j), 0, NULL);
        dv_buf_free(&j);
        if (!json_is_array(defs))
            dv_log(DV_LOG_WARN, "query", "bucket %s: its index definitions do not parse", bucket);
        size_t k;
        json_t *d;
        json_array_foreach(defs, k, d)
        {
            int rc = dv_query_catalog_restore(q->catalog, bucket, d);
            if (rc == -2)
                dv_log(DV_LOG_WARN, "query", "bucket %s: an index definition is not one", bucket);
            else if (rc == 0 && !json_is_true(json_object_get(d, "primary")) &&
                     !strcmp(json_string_value(json_object_get(d, "state")), "online"))
                rebuild_index(q, bucket, d);
        }
        json_decref(defs);
    }
    dv_cluster_list_free(list, n);
}

dv_qsvc *dv_qsvc_start(dv_cluster *c, dv_users *users, const dv_qsvc_options *o, char *err,
                       size_t errlen)
{
    dv_qsvc *q = dv_calloc(1, sizeof *q);
    if (!q) {
        dv_errmsg(err, errlen, 0, "out of memory");
        return NULL;
    }
    q->cluster = c;
    q->users = users;
    q->base = o && o->share ? o->share : q;
    q->catalog = q->base == q ? dv_query_catalog_new() : q->base->catalog;
    pthread_mutex_init(&q->auth_mu, NULL);
    pthread_mutex_init(&q->hook_mu, NULL);
    pthread_mutex_init(&q->save_mu, NULL);
    pthread_mutex_init(&q->pool_mu, NULL);
    pthread_cond_init(&q->pool_work, NULL);
    pthread_cond_init(&q->pool_left, NULL);
    uint16_t mgmt;
    dv_cluster_ports(c, NULL, &mgmt);
    snprintf(q->datastore, sizeof q->datastore, "http://127.0.0.1:%u", mgmt ? mgmt : 8091);
    int family = AF_INET, fd = -1;
    if (!q->catalog) {
        dv_errmsg(err, errlen, 0, "out of memory");
        goto fail;
    }
    if (RAND_bytes(q->auth_key, sizeof q->auth_key) != 1) {
        dv_errmsg(err, errlen, 0, "no randomness for the query auth cache");
        goto fail;
    }
    fd = dv_listen_tcp("query", o ? o->host : NULL, o ? o->port : 0, &family, err, errlen);
    if (fd < 0) goto fail;
    q->port = dv_listen_port(fd);
    q->guard = dv_http_guard_new(o ? &o->limits : NULL, "query");
    if (!q->guard) {
        dv_errmsg(err, errlen, 0, "cannot start the query service's connection guard");
        goto fail;
    }
    if (q->base == q) {
        restore_indexes(q); /* before the first request, and before changes are written */
        dv_query_catalog_on_change(q->catalog, save_indexes, q);
    }
    struct MHD_OptionItem limits[DV_HTTP_GUARD_OPTIONS];
    dv_http_guard_options(q->guard, limits);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (family == AF_INET6) flags |= MHD_USE_IPv6;
    flags |= dv_http_guard_flags(q->guard);
    q->mhd = MHD_start_daemon(flags, 0, dv_http_guard_accept, q->guard, on_request, q,
                              MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, q, MHD_OPTION_LISTEN_SOCKET,
                              fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, q, MHD_OPTION_ARRAY,
                              limits, MHD_OPTION_END);
    if (!q->mhd) {
        dv_errmsg(err, errlen, 0, "query service: cannot start the HTTP daemon");
        goto fail;
    }
    return q;
fail:
    if (fd >= 0) close(fd);
    q->mhd = NULL;
    dv_qsvc_stop(q);
    return NULL;
}

int dv_qsvc_port(const dv_qsvc *q)
{
    return q->port;
}

void dv_qsvc_stop(dv_qsvc *q)
{
    if (!q) return;
    __atomic_store_n(&q->stopping, 1, __ATOMIC_RELAXED);
    if (q->mhd) {
        MHD_socket fd = MHD_quiesce_daemon(q->mhd);
        MHD_stop_daemon(q->mhd); /* every response ended: every query done */
        if (fd != MHD_INVALID_SOCKET) close(fd);
    }
    pthread_mutex_lock(&q->pool_mu);
    q->pool_stopping = 1;
    pthread_cond_broadcast(&q->pool_work);
    while (q->threads) pthread_cond_wait(&q->pool_left, &q->pool_mu);
    pthread_mutex_unlock(&q->pool_mu);
    pthread_cond_destroy(&q->pool_left);
    pthread_cond_destroy(&q->pool_work);
    pthread_mutex_destroy(&q->pool_mu);
    dv_http_guard_free(q->guard);
    for (bucket_hook *bh = q->hooks, *next; bh; bh = next) {
        next = bh->next;
        dv_store_set_hook(dv_bucket_store(bh->b), NULL);
        dv_bucket_release(bh->b);
        dv_free(bh);
    }
    pthread_mutex_destroy(&q->hook_mu);
    for (int i = 0; i < AUTH_CACHE; i++)
        if (q->auth[i].used) dv_user_release(q->auth[i].user);
    if (q->base == q) dv_query_catalog_free(q->catalog);
    pthread_mutex_destroy(&q->auth_mu);
    pthread_mutex_destroy(&q->save_mu);
    dv_free(q);
}
