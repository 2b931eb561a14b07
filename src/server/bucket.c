#include "server/bucket.h"
#include "server/rwlock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/endian.h"
#include "base/errmsg.h"
#include "base/log.h"
#include "server/persist.h"
#include "topology/config.h"
#include "topology/manifest.h"

#define FIRST_USER_ID 8

struct dv_bucket {
    atomic_uint refs;
    atomic_int deleted;
    char name[DV_BUCKET_NAME_MAX + 1];
    char uuid[33];
    dv_store *store;
    dv_scans *scans;       /* range scans; thread-safe */
    pthread_rwlock_t lock; /* guards everything below */
    dv_bucket_settings settings;
    dv_manifest *manifest;
    uint32_t next_sid, next_cid;
    int64_t rev;
    dv_persist *persist; /* NULL: in memory only (ephemeral, or no data directory) */
};

struct dv_cluster {
    char *name;
    char uuid[33];
    char node_uuid[33];
    pthread_rwlock_t lock; /* guards everything below */
    uint16_t kv_port, mgmt_port, query_port;
    uint16_t kv_tls_port, mgmt_tls_port, query_tls_port; /* 0: no TLS listener */
    int64_t rev;
    dv_bucket **buckets; /* one reference each, creation order */
    size_t nbuckets;
    char *data_dir; /* NULL: buckets live in memory only */
    uint32_t flush_ms;
    int data_lockfd;
};

/* ---- Random identities ------------------------------------------------------------------- */

static void random_bytes(uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    if (got == n) return;
    /* No entropy source: a clock-seeded xorshift still gives distinct ids per process. */
    static atomic_uint_fast64_t counter;
    uint64_t x =
        dv_clock_now_ns() ^ ((uint64_t)atomic_fetch_add(&counter, 1) << 32) ^ 0x9e3779b97f4a7c15u;
    for (; got < n; got++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[got] = (uint8_t)x;
    }
}

static void random_hex32(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[16];
    random_bytes(raw, sizeof raw);
    for (size_t i = 0; i < 16; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[32] = '\0';
}

/* ---- Names and settings -------------------------------------------------------------------- */

typedef struct name_entry {
    const char *name;
    int value;
} name_entry;

static const name_entry type_names[] = {
    {"couchbase", DV_BUCKET_COUCHBASE},
    {"membase", DV_BUCKET_COUCHBASE},
    {"ephemeral", DV_BUCKET_EPHEMERAL},
};
static const name_entry durability_names[] = {
    {"none", DV_DURABILITY_NONE},
    {"majority", DV_DURABILITY_MAJORITY},
    {"majorityAndPersistActive", DV_DURABILITY_MAJORITY_AND_PERSIST_TO_ACTIVE},
    {"persistToMajority", DV_DURABILITY_PERSIST_TO_MAJORITY},
};
static const name_entry eviction_names[] = {
    {"valueOnly", DV_EVICTION_VALUE_ONLY},
    {"fullEviction", DV_EVICTION_FULL},
    {"noEviction", DV_EVICTION_NO},
    {"nruEviction", DV_EVICTION_NRU},
};
static const name_entry compression_names[] = {
    {"off", DV_COMPRESSION_OFF},
    {"passive", DV_COMPRESSION_PASSIVE},
    {"active", DV_COMPRESSION_ACTIVE},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const name_entry *t, size_t n, int v)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].value == v) return t[i].name;
    return "unknown";
}

static int parse_name(const name_entry *t, size_t n, const char *s, size_t len, int *out)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(t[i].name) == len && memcmp(t[i].name, s, len) == 0) {
            *out = t[i].value;
            return 0;
        }
    }
    return -1;
}

const char *dv_bucket_type_name(dv_bucket_type t)
{
    return t == DV_BUCKET_EPHEMERAL ? "ephemeral" : "couchbase";
}

int dv_bucket_type_parse(const char *s, size_t len, dv_bucket_type *out)
{
    int v;
    if (parse_name(type_names, NELEM(type_names), s, len, &v) != 0) return -1;
    *out = (dv_bucket_type)v;
    return 0;
}

const char *dv_durability_level_name(dv_durability_level l)
{
    return name_of(durability_names, NELEM(durability_names), (int)l);
}

int dv_durability_level_parse(const char *s, size_t len, dv_durability_level *out)
{
    int v;
    if (parse_name(durability_names, NELEM(durability_names), s, len, &v) != 0) return -1;
    *out = (dv_durability_level)v;
    return 0;
}

const char *dv_eviction_policy_name(dv_eviction_policy p)
{
    return name_of(eviction_names, NELEM(eviction_names), (int)p);
}

int dv_eviction_policy_parse(const char *s, size_t len, dv_eviction_policy *out)
{
    int v;
    if (parse_name(eviction_names, NELEM(eviction_names), s, len, &v) != 0) return -1;
    *out = (dv_eviction_policy)v;
    return 0;
}

const char *dv_compression_mode_name(dv_compression_mode m)
{
    return name_of(compression_names, NELEM(compression_names), (int)m);
}

int dv_compression_mode_parse(const char *s, size_t len, dv_compression_mode *out)
{
    int v;
    if (parse_name(compression_names, NELEM(compression_names), s, len, &v) != 0) return -1;
    *out = (dv_compression_mode)v;
    return 0;
}

int dv_bucket_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > DV_BUCKET_NAME_MAX || name[0] == '.') return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                 ch == '.' || ch == '_' || ch == '%' || ch == '-';
        if (!ok) return 0;
    }
    return 1;
}

void dv_bucket_settings_default(dv_bucket_settings *s, const char *name)
{
    memset(s, 0, sizeof *s);
    if (name) {
        size_t n = strlen(name);
        if (n > DV_BUCKET_NAME_MAX) n = DV_BUCKET_NAME_MAX;
        memcpy(s->name, name, n);
    }
    s->type = DV_BUCKET_COUCHBASE;
    s->ram_quota_mb = 100;
    s->num_replicas = 0;
    s->max_ttl = 0;
    s->flush_enabled = 0;
    s->durability_min_level = DV_DURABILITY_NONE;
    s->eviction_policy = DV_EVICTION_VALUE_ONLY;
    s->compression_mode = DV_COMPRESSION_PASSIVE;
    s->history_default = 1;
}

dv_error dv_bucket_settings_validate(const dv_bucket_settings *s, char *errbuf, size_t errlen)
{
    size_t n = strnlen(s->name, sizeof s->name);
    if (!dv_bucket_name_valid(s->name, n))
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                         "bucket name \"%.*s\" is not valid: 1..100 characters of A-Z a-z 0-9 . _ "
                         "%% -, not starting with '.'",
                         (int)n, s->name);
    if (s->type != DV_BUCKET_COUCHBASE && s->type != DV_BUCKET_EPHEMERAL)
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT, "unknown bucket type");
    if (s->ram_quota_mb < 100)
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                         "RAM quota cannot be less than 100 MB (got %u)", s->ram_quota_mb);
    if (s->num_replicas > 3)
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                         "replica number must be 0..3 (got %u)", s->num_replicas);
    if (s->max_ttl > DV_BUCKET_MAX_TTL)
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                         "maxTTL must be 0..2147483647 (got %u)", s->max_ttl);
    if ((unsigned)s->durability_min_level > DV_DURABILITY_PERSIST_TO_MAJORITY)
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT, "unknown durability level");
    if ((unsigned)s->compression_mode > DV_COMPRESSION_ACTIVE)
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT, "unknown compression mode");
    int ephemeral_policy =
        s->eviction_policy == DV_EVICTION_NO || s->eviction_policy == DV_EVICTION_NRU;
    int couchbase_policy =
        s->eviction_policy == DV_EVICTION_VALUE_ONLY || s->eviction_policy == DV_EVICTION_FULL;
    if (s->type == DV_BUCKET_EPHEMERAL ? !ephemeral_policy : !couchbase_policy)
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                         "eviction policy %s is not valid for a %s bucket",
                         dv_eviction_policy_name(s->eviction_policy), dv_bucket_type_name(s->type));
    if (s->type == DV_BUCKET_EPHEMERAL && s->durability_min_level > DV_DURABILITY_MAJORITY)
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                         "durability minimum level %s is not valid for an ephemeral bucket",
                         dv_durability_level_name(s->durability_min_level));
    return DV_ERR_OK;
}

/* An unsigned decimal of len bytes in lo..hi. */
static int parse_uint(const char *s, size_t len, uint32_t lo, uint32_t hi, uint32_t *out)
{
    if (len == 0 || len > 10) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v < lo || v > hi) return -1;
    *out = (uint32_t)v;
    return 0;
}

static int key_is(const char *k, size_t klen, const char *name)
{
    return strlen(name) == klen && memcmp(k, name, klen) == 0;
}

static dv_error parse_option(dv_bucket_settings *s, const char *k, size_t klen, const char *v,
                             size_t vlen, char *errbuf, size_t errlen)
{
    int bad = 0;
    if (key_is(k, klen, "ramQuotaMB")) {
        bad = parse_uint(v, vlen, 100, 1u << 30, &s->ram_quota_mb) != 0;
    } else if (key_is(k, klen, "replicas") || key_is(k, klen, "numReplicas")) {
        bad = parse_uint(v, vlen, 0, 3, &s->num_replicas) != 0;
    } else if (key_is(k, klen, "type")) {
        bad = dv_bucket_type_parse(v, vlen, &s->type) != 0;
        if (!bad)
            s->eviction_policy =
                s->type == DV_BUCKET_EPHEMERAL ? DV_EVICTION_NO : DV_EVICTION_VALUE_ONLY;
    } else if (key_is(k, klen, "flush")) {
        if (key_is(v, vlen, "1") || key_is(v, vlen, "true"))
            s->flush_enabled = 1;
        else if (key_is(v, vlen, "0") || key_is(v, vlen, "false"))
            s->flush_enabled = 0;
        else
            bad = 1;
    } else if (key_is(k, klen, "durabilityMinLevel")) {
        bad = dv_durability_level_parse(v, vlen, &s->durability_min_level) != 0;
    } else if (key_is(k, klen, "maxTTL")) {
        bad = parse_uint(v, vlen, 0, DV_BUCKET_MAX_TTL, &s->max_ttl) != 0;
    } else {
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                         "--bucket: unknown option \"%.*s\" (expected ramQuotaMB, replicas, type, "
                         "flush, durabilityMinLevel or maxTTL)",
                         (int)klen, k);
    }
    if (bad)
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                         "--bucket: bad value \"%.*s\" for %.*s", (int)vlen, v, (int)klen, k);
    return DV_ERR_OK;
}

dv_error dv_bucket_settings_parse_flag(const char *arg, dv_bucket_settings *out, char *errbuf,
                                       size_t errlen)
{
    const char *colon = strchr(arg, ':');
    size_t nlen = colon ? (size_t)(colon - arg) : strlen(arg);
    if (!dv_bucket_name_valid(arg, nlen))
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                         "--bucket: bucket name \"%.*s\" is not valid: 1..100 characters of A-Z "
                         "a-z 0-9 . _ %% -, not starting with '.'",
                         (int)nlen, arg);
    dv_bucket_settings s;
    dv_bucket_settings_default(&s, NULL);
    memcpy(s.name, arg, nlen);
    s.flush_enabled = 1;
    if (colon) {
        const char *p = colon + 1;
        for (;;) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            const char *eq = memchr(p, '=', len);
            if (!eq || eq == p)
                return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                                 "--bucket: expected key=value, got \"%.*s\"", (int)len, p);
            dv_error rc = parse_option(&s, p, (size_t)(eq - p), eq + 1, len - (size_t)(eq - p) - 1,
                                       errbuf, errlen);
            if (rc != DV_ERR_OK) return rc;
            if (!end) break;
            p = end + 1;
        }
    }
    dv_error rc = dv_bucket_settings_validate(&s, errbuf, errlen);
    if (rc != DV_ERR_OK) return rc;
    *out = s;
    return DV_ERR_OK;
}

/* ---- Buckets ------------------------------------------------------------------------------- */

static dv_bucket *bucket_new(const dv_bucket_settings *s)
{
    dv_bucket *b = dv_calloc(1, sizeof *b);
    if (!b) return NULL;
    uint64_t seed;
    random_bytes((uint8_t *)&seed, sizeof seed);
    b->store = dv_store_new(DV_BUCKET_NVB, seed);
    b->manifest = dv_manifest_new_default();
    b->scans = dv_scans_new();
    if (!b->store || !b->manifest || !b->scans || dv_rwlock_init_writer_first(&b->lock) != 0) {
        dv_scans_free(b->scans);
        if (b->store) dv_store_free(b->store);
        if (b->manifest) dv_manifest_free(b->manifest);
        dv_free(b);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    atomic_init(&b->deleted, 0);
    memcpy(b->name, s->name, sizeof b->name);
    random_hex32(b->uuid);
    b->settings = *s;
    b->next_sid = FIRST_USER_ID;
    b->next_cid = FIRST_USER_ID;
    b->rev = 1;
    return b;
}

dv_bucket *dv_bucket_ref(dv_bucket *b)
{
    atomic_fetch_add(&b->refs, 1);
    return b;
}

void dv_bucket_release(dv_bucket *b)
{
    if (!b || atomic_fetch_sub(&b->refs, 1) != 1) return;
    dv_persist_free(b->persist); /* a last commit before the store goes */
    pthread_rwlock_destroy(&b->lock);
    dv_manifest_free(b->manifest);
    dv_scans_free(b->scans);
    dv_store_free(b->store);
    dv_free(b);
}

dv_scans *dv_bucket_scans(dv_bucket *b)
{
    return b->scans;
}

const char *dv_bucket_name(const dv_bucket *b)
{
    return b->name;
}

const char *dv_bucket_uuid(const dv_bucket *b)
{
    return b->uuid;
}

dv_store *dv_bucket_store(dv_bucket *b)
{
    return b->store;
}

dv_persist *dv_bucket_persist(dv_bucket *b)
{
    return b->persist;
}

/* ---- Bucket persistence ------------------------------------------------------------------- */

/* The settings as kept on disk (a JSON object), with the bucket's uuid. */
static char *settings_json(const dv_bucket *b, const dv_bucket_settings *s)
{
    json_t *o = json_pack(
        "{s:i, s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:s, s:s, s:s, s:b, s:b, s:I, s:I}", "format", 1,
        "name", s->name, "uuid", b->uuid, "type", dv_bucket_type_name(s->type), "ramQuotaMB",
        (json_int_t)s->ram_quota_mb, "numReplicas", (json_int_t)s->num_replicas, "maxTTL",
        (json_int_t)s->max_ttl, "flush", s->flush_enabled, "durabilityMinLevel",
        dv_durability_level_name(s->durability_min_level), "evictionPolicy",
        dv_eviction_policy_name(s->eviction_policy), "compressionMode",
        dv_compression_mode_name(s->compression_mode), "magma", s->magma, "historyDefault",
        s->history_default, "historyBytes", (json_int_t)s->history_bytes, "historySeconds",
        (json_int_t)s->history_seconds);
    if (!o) return NULL;
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static int json_name(json_t *o, const char *key, int (*parse)(const char *, size_t, void *),
                     void *out)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && parse(v, strlen(v), out) == 0 ? 0 : -1;
}

static int parse_type(const char *s, size_t n, void *out)
{
    return dv_bucket_type_parse(s, n, out);
}
static int parse_dur(const char *s, size_t n, void *out)
{
    return dv_durability_level_parse(s, n, out);
}
static int parse_evict(const char *s, size_t n, void *out)
{
    return dv_eviction_policy_parse(s, n, out);
}
static int parse_compr(const char *s, size_t n, void *out)
{
    return dv_compression_mode_parse(s, n, out);
}

static int settings_parse(const char *text, size_t len, dv_bucket_settings *s, char uuid[33])
{
    json_t *o = json_loadb(text, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *id = json_string_value(json_object_get(o, "uuid"));
    int bad =
        !name || !id || strlen(id) != 32 || json_integer_value(json_object_get(o, "format")) != 1;
    if (!bad) {
        dv_bucket_settings_default(s, name);
        snprintf(uuid, 33, "%s", id);
        bad = json_name(o, "type", parse_type, &s->type) ||
              json_name(o, "durabilityMinLevel", parse_dur, &s->durability_min_level) ||
              json_name(o, "evictionPolicy", parse_evict, &s->eviction_policy) ||
              json_name(o, "compressionMode", parse_compr, &s->compression_mode);
        s->ram_quota_mb = (uint32_t)json_integer_value(json_object_get(o, "ramQuotaMB"));
        s->num_replicas = (uint32_t)json_integer_value(json_object_get(o, "numReplicas"));
        s->max_ttl = (uint32_t)json_integer_value(json_object_get(o, "maxTTL"));
        s->flush_enabled = json_is_true(json_object_get(o, "flush"));
        s->magma = json_is_true(json_object_get(o, "magma"));
        s->history_default = json_is_true(json_object_get(o, "historyDefault"));
        s->history_bytes = (uint64_t)json_integer_value(json_object_get(o, "historyBytes"));
        s->history_seconds = (uint32_t)json_integer_value(json_object_get(o, "historySeconds"));
    }
    json_decref(o);
    return bad || dv_bucket_settings_validate(s, NULL, 0) != DV_ERR_OK ? -1 : 0;
}

/* Under the bucket's write lock (so that an older state never overwrites a newer one). */
static void save_settings(dv_bucket *b)
{
    if (!b->persist) return;
    char *text = settings_json(b, &b->settings);
    if (!text || dv_persist_meta_put(b->persist, "settings", text, strlen(text)) != DV_ERR_OK)
        dv_log(DV_LOG_WARN, "persist", "%s: the bucket settings were not saved", b->name);
    free(text);
}

static void save_manifest(dv_bucket *b)
{
    if (!b->persist) return;
    dv_buf j;
    dv_buf_init(&j);
    uint8_t ids[8];
    dv_store_be32(ids, b->next_sid);
    dv_store_be32(ids + 4, b->next_cid);
    if (dv_manifest_write_json(b->manifest, &j) != DV_ERR_OK ||
        dv_persist_meta_put(b->persist, "manifest", dv_buf_head(&j), dv_buf_size(&j)) !=
            DV_ERR_OK ||
        dv_persist_meta_put(b->persist, "ids", ids, sizeof ids) != DV_ERR_OK)
        dv_log(DV_LOG_WARN, "persist", "%s: the collections manifest was not saved", b->name);
    dv_buf_free(&j);
}

static int keep_collection(void *ud, uint32_t cid)
{
    dv_bucket *b = ud;
    return dv_bucket_collection_find(b, cid, NULL, NULL, NULL) == DV_ERR_OK;
}

int dv_bucket_deleted(const dv_bucket *b)
{
    return atomic_load(&b->deleted);
}

void dv_bucket_settings_get(dv_bucket *b, dv_bucket_settings *out)
{
    pthread_rwlock_rdlock(&b->lock);
    *out = b->settings;
    pthread_rwlock_unlock(&b->lock);
}

dv_error dv_bucket_update(dv_bucket *b, const dv_bucket_settings *s, char *errbuf, size_t errlen)
{
    dv_error rc = dv_bucket_settings_validate(s, errbuf, errlen);
    if (rc != DV_ERR_OK) return rc;
    pthread_rwlock_wrlock(&b->lock);
    if (strcmp(s->name, b->name) != 0)
        rc = dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT, "bucket name cannot be changed");
    else if (s->type != b->settings.type)
        rc = dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT, "bucket type cannot be changed");
    if (rc == DV_ERR_OK) {
        b->settings = *s;
        b->rev++;
        save_settings(b);
    }
    pthread_rwlock_unlock(&b->lock);
    return rc;
}

int64_t dv_bucket_rev(dv_bucket *b)
{
    pthread_rwlock_rdlock(&b->lock);
    int64_t rev = b->rev;
    pthread_rwlock_unlock(&b->lock);
    return rev;
}

dv_error dv_bucket_flush(dv_bucket *b)
{
    pthread_rwlock_rdlock(&b->lock);
    int enabled = b->settings.flush_enabled;
    pthread_rwlock_unlock(&b->lock);
    if (!enabled) return DV_ERR_BUCKET_NOT_FLUSHABLE;
    dv_store_drop_collection(b->store, UINT32_MAX);
    return DV_ERR_OK;
}

dv_status dv_bucket_durability(const dv_bucket_settings *s, unsigned requested,
                               dv_durability_level *effective)
{
    if (effective) *effective = DV_DURABILITY_NONE;
    if (requested > DV_DURABILITY_PERSIST_TO_MAJORITY) return DV_STATUS_DURABILITY_INVALID_LEVEL;
    unsigned level = requested;
    if ((unsigned)s->durability_min_level > level) level = (unsigned)s->durability_min_level;
    if (level == DV_DURABILITY_NONE) return DV_STATUS_SUCCESS;
    /* An ephemeral bucket has nothing to persist: only majority is a valid level. */
    if (s->type == DV_BUCKET_EPHEMERAL && level > DV_DURABILITY_MAJORITY)
        return DV_STATUS_DURABILITY_INVALID_LEVEL;
    /* 11.2: a chain of numReplicas + 1 slots of which this one node fills one must reach a
     * majority, and kv_engine allows at most two replicas. */
    unsigned chain = s->num_replicas + 1, placed = 1;
    if (placed < chain / 2 + 1 || s->num_replicas > 2) return DV_STATUS_DURABILITY_IMPOSSIBLE;
    if (effective) *effective = (dv_durability_level)level;
    return DV_STATUS_SUCCESS;
}

/* ---- Scopes and collections ---------------------------------------------------------------- */

static dv_scope *find_scope(dv_manifest *m, const char *name)
{
    for (size_t i = 0; i < m->nscopes; i++)
        if (strcmp(m->scopes[i].name, name) == 0) return &m->scopes[i];
    return NULL;
}

static dv_collection *find_collection(dv_scope *s, const char *name)
{
    for (size_t i = 0; i < s->ncollections; i++)
        if (strcmp(s->collections[i].name, name) == 0) return &s->collections[i];
    return NULL;
}

/* After a change under the write lock. */
static void bump(dv_bucket *b, uint64_t *uid)
{
    b->manifest->uid++;
    b->rev++;
    if (uid) *uid = b->manifest->uid;
    save_manifest(b); /* next_sid and next_cid are final by now */
}

dv_error dv_bucket_create_scope(dv_bucket *b, const char *scope, uint64_t *uid)
{
    dv_error rc = DV_ERR_OK;
    pthread_rwlock_wrlock(&b->lock);
    if (find_scope(b->manifest, scope))
        rc = DV_ERR_SCOPE_EXISTS;
    else if (!dv_manifest_name_valid(scope, strlen(scope), 1))
        rc = DV_ERR_INVALID_ARGUMENT;
    else if (!dv_manifest_add_scope(b->manifest, scope, b->next_sid))
        rc = DV_ERR_NO_MEMORY;
    if (rc == DV_ERR_OK) {
        b->next_sid++;
        bump(b, uid);
    }
    pthread_rwlock_unlock(&b->lock);
    return rc;
}

dv_error dv_bucket_drop_scope(dv_bucket *b, const char *scope, uint64_t *uid)
{
    if (strcmp(scope, "_default") == 0) return DV_ERR_INVALID_ARGUMENT;
    pthread_rwlock_wrlock(&b->lock);
    dv_manifest *m = b->manifest;
    dv_scope *s = find_scope(m, scope);
    if (!s) {
        pthread_rwlock_unlock(&b->lock);
        return DV_ERR_SCOPE_NOT_FOUND;
    }
    uint32_t *cids = NULL;
    size_t ncids = s->ncollections;
    if (ncids && !(cids = dv_malloc(ncids * sizeof *cids))) {
        pthread_rwlock_unlock(&b->lock);
        return DV_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < ncids; i++) {
        cids[i] = s->collections[i].uid;
        dv_free(s->collections[i].name);
    }
    dv_free(s->collections);
    dv_free(s->name);
    size_t idx = (size_t)(s - m->scopes);
    memmove(&m->scopes[idx], &m->scopes[idx + 1], (m->nscopes - idx - 1) * sizeof *m->scopes);
    m->nscopes--;
    bump(b, uid);
    pthread_rwlock_unlock(&b->lock);
    /* Ids are never reused, so a write racing with the drop leaves only unreachable items. */
    for (size_t i = 0; i < ncids; i++) dv_store_drop_collection(b->store, cids[i]);
    dv_free(cids);
    return DV_ERR_OK;
}

dv_error dv_bucket_create_collection(dv_bucket *b, const char *scope, const char *collection,
                                     const dv_collection_spec *spec, uint64_t *uid)
{
    if (spec && spec->has_max_ttl && spec->max_ttl < -1) return DV_ERR_INVALID_ARGUMENT;
    dv_error rc = DV_ERR_OK;
    pthread_rwlock_wrlock(&b->lock);
    dv_scope *s = find_scope(b->manifest, scope);
    dv_collection *c = NULL;
    if (!s)
        rc = DV_ERR_SCOPE_NOT_FOUND;
    else if (find_collection(s, collection))
        rc = DV_ERR_COLLECTION_EXISTS;
    else if (!dv_manifest_name_valid(collection, strlen(collection), 1))
        rc = DV_ERR_INVALID_ARGUMENT;
    else if (!(c = dv_manifest_add_collection(s, collection, b->next_cid)))
        rc = DV_ERR_NO_MEMORY;
    if (rc == DV_ERR_OK) {
        if (spec) {
            c->has_max_ttl = spec->has_max_ttl;
            c->max_ttl = spec->has_max_ttl ? spec->max_ttl : 0;
            c->has_history = spec->has_history;
            c->history = spec->has_history ? !!spec->history : 0;
        }
        b->next_cid++;
        bump(b, uid);
    }
    pthread_rwlock_unlock(&b->lock);
    return rc;
}

dv_error dv_bucket_update_collection(dv_bucket *b, const char *scope, const char *collection,
                                     const dv_collection_spec *spec, uint64_t *uid)
{
    if (spec->has_max_ttl && spec->max_ttl < -1) return DV_ERR_INVALID_ARGUMENT;
    pthread_rwlock_wrlock(&b->lock);
    dv_scope *s = find_scope(b->manifest, scope);
    dv_collection *c = s ? find_collection(s, collection) : NULL;
    if (!c) {
        pthread_rwlock_unlock(&b->lock);
        return s ? DV_ERR_COLLECTION_NOT_FOUND : DV_ERR_SCOPE_NOT_FOUND;
    }
    if (spec->has_max_ttl) {
        c->has_max_ttl = 1;
        c->max_ttl = spec->max_ttl;
    }
    if (spec->has_history) {
        c->has_history = 1;
        c->history = !!spec->history;
    }
    bump(b, uid);
    pthread_rwlock_unlock(&b->lock);
    return DV_ERR_OK;
}

dv_error dv_bucket_drop_collection(dv_bucket *b, const char *scope, const char *collection,
                                   uint64_t *uid)
{
    pthread_rwlock_wrlock(&b->lock);
    dv_scope *s = find_scope(b->manifest, scope);
    dv_collection *c = s ? find_collection(s, collection) : NULL;
    if (!c) {
        pthread_rwlock_unlock(&b->lock);
        return s ? DV_ERR_COLLECTION_NOT_FOUND : DV_ERR_SCOPE_NOT_FOUND;
    }
    uint32_t cid = c->uid;
    dv_free(c->name);
    size_t idx = (size_t)(c - s->collections);
    memmove(&s->collections[idx], &s->collections[idx + 1],
            (s->ncollections - idx - 1) * sizeof *s->collections);
    s->ncollections--;
    bump(b, uid);
    pthread_rwlock_unlock(&b->lock);
    dv_store_drop_collection(b->store, cid);
    return DV_ERR_OK;
}

dv_error dv_bucket_lookup_collection(dv_bucket *b, const char *path, size_t len, uint32_t *cid,
                                     uint64_t *manifest_uid)
{
    pthread_rwlock_rdlock(&b->lock);
    dv_error rc = dv_manifest_lookup(b->manifest, path, len, cid);
    if (manifest_uid) *manifest_uid = b->manifest->uid;
    pthread_rwlock_unlock(&b->lock);
    return rc;
}

dv_error dv_bucket_collection_find(dv_bucket *b, uint32_t cid, int32_t *max_ttl, char *scope,
                                   char *collection)
{
    dv_error rc = DV_ERR_COLLECTION_NOT_FOUND;
    pthread_rwlock_rdlock(&b->lock);
    const dv_manifest *m = b->manifest;
    for (size_t i = 0; i < m->nscopes && rc != DV_ERR_OK; i++) {
        const dv_scope *s = &m->scopes[i];
        for (size_t k = 0; k < s->ncollections; k++) {
            const dv_collection *c = &s->collections[k];
            if (c->uid != cid) continue;
            if (max_ttl) *max_ttl = c->has_max_ttl ? c->max_ttl : 0;
            if (scope) snprintf(scope, DV_MANIFEST_NAME_MAX + 1, "%s", s->name);
            if (collection) snprintf(collection, DV_MANIFEST_NAME_MAX + 1, "%s", c->name);
            rc = DV_ERR_OK;
            break;
        }
    }
    pthread_rwlock_unlock(&b->lock);
    return rc;
}

dv_error dv_bucket_collection_max_ttl(dv_bucket *b, uint32_t cid, int32_t *max_ttl)
{
    return dv_bucket_collection_find(b, cid, max_ttl, NULL, NULL);
}

dv_error dv_bucket_lookup_scope(dv_bucket *b, const char *name, size_t len, uint32_t *sid,
                                uint64_t *manifest_uid)
{
    pthread_rwlock_rdlock(&b->lock);
    const dv_scope *s = dv_manifest_find_scope(b->manifest, name, len);
    if (s) *sid = s->uid;
    if (manifest_uid) *manifest_uid = b->manifest->uid;
    pthread_rwlock_unlock(&b->lock);
    return s ? DV_ERR_OK : DV_ERR_SCOPE_NOT_FOUND;
}

uint64_t dv_bucket_manifest_uid(dv_bucket *b)
{
    pthread_rwlock_rdlock(&b->lock);
    uint64_t uid = b->manifest->uid;
    pthread_rwlock_unlock(&b->lock);
    return uid;
}

dv_error dv_bucket_manifest_json(dv_bucket *b, dv_buf *out)
{
    pthread_rwlock_rdlock(&b->lock);
    dv_error rc = dv_manifest_write_json(b->manifest, out);
    pthread_rwlock_unlock(&b->lock);
    return rc;
}

/* ---- The cluster ----------------------------------------------------------------------------- */

dv_cluster *dv_cluster_new(const char *name, uint16_t kv_port, uint16_t mgmt_port)
{
    dv_cluster *c = dv_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->name = dv_strdup(name ? name : "divan");
    if (!c->name || dv_rwlock_init_writer_first(&c->lock) != 0) {
        dv_free(c->name);
        dv_free(c);
        return NULL;
    }
    random_hex32(c->uuid);
    random_hex32(c->node_uuid);
    c->kv_port = kv_port;
    c->mgmt_port = mgmt_port;
    c->rev = 1;
    c->data_lockfd = -1;
    return c;
}

void dv_cluster_free(dv_cluster *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        atomic_store(&c->buckets[i]->deleted, 1);
        dv_bucket_release(c->buckets[i]);
    }
    dv_free(c->buckets);
    pthread_rwlock_destroy(&c->lock);
    if (c->data_lockfd >= 0) close(c->data_lockfd);
    dv_free(c->data_dir);
    dv_free(c->name);
    dv_free(c);
}

const char *dv_cluster_name(const dv_cluster *c)
{
    return c->name;
}

const char *dv_cluster_uuid(const dv_cluster *c)
{
    return c->uuid;
}

const char *dv_cluster_node_uuid(const dv_cluster *c)
{
    return c->node_uuid;
}

void dv_cluster_ports(dv_cluster *c, uint16_t *kv_port, uint16_t *mgmt_port)
{
    pthread_rwlock_rdlock(&c->lock);
    if (kv_port) *kv_port = c->kv_port;
    if (mgmt_port) *mgmt_port = c->mgmt_port;
    pthread_rwlock_unlock(&c->lock);
}

static void bump_revs(dv_cluster *c);

void dv_cluster_set_query_port(dv_cluster *c, uint16_t query_port)
{
    pthread_rwlock_wrlock(&c->lock);
    c->query_port = query_port;
    bump_revs(c);
    pthread_rwlock_unlock(&c->lock);
}

void dv_cluster_set_tls_ports(dv_cluster *c, uint16_t kv, uint16_t mgmt, uint16_t query)
{
    pthread_rwlock_wrlock(&c->lock);
    c->kv_tls_port = kv;
    c->mgmt_tls_port = mgmt;
    c->query_tls_port = query;
    bump_revs(c);
    pthread_rwlock_unlock(&c->lock);
}

uint16_t dv_cluster_query_port(dv_cluster *c)
{
    pthread_rwlock_rdlock(&c->lock);
    uint16_t p = c->query_port;
    pthread_rwlock_unlock(&c->lock);
    return p;
}

void dv_cluster_set_ports(dv_cluster *c, uint16_t kv_port, uint16_t mgmt_port)
{
    pthread_rwlock_wrlock(&c->lock);
    c->kv_port = kv_port;
    c->mgmt_port = mgmt_port;
    bump_revs(c);
    pthread_rwlock_unlock(&c->lock);
}

/* Under the cluster's write lock: a port changed. */
static void bump_revs(dv_cluster *c)
{
    c->rev++;
    for (size_t i = 0; i < c->nbuckets; i++) {
        dv_bucket *b = c->buckets[i];
        pthread_rwlock_wrlock(&b->lock);
        b->rev++;
        pthread_rwlock_unlock(&b->lock);
    }
}

int64_t dv_cluster_rev(dv_cluster *c)
{
    pthread_rwlock_rdlock(&c->lock);
    int64_t rev = c->rev;
    pthread_rwlock_unlock(&c->lock);
    return rev;
}

/* Under the cluster lock: the index of the bucket named name, or -1. */
static long find_bucket(const dv_cluster *c, const char *name, size_t len)
{
    for (size_t i = 0; i < c->nbuckets; i++) {
        const char *bn = c->buckets[i]->name;
        if (strlen(bn) == len && memcmp(bn, name, len) == 0) return (long)i;
    }
    return -1;
}

/* The bucket's directory under the data directory. */
static void bucket_dir(const dv_cluster *c, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/buckets/%s", c->data_dir, name);
}

/* Give a new bucket its storage: a new directory, its settings and manifest, the writer. */
static dv_error bucket_persist_new(dv_cluster *c, dv_bucket *b, char *errbuf, size_t errlen)
{
    char dir[4096];
    bucket_dir(c, b->name, dir, sizeof dir);
    struct stat st;
    if (stat(dir, &st) == 0)
        return dv_errmsg(errbuf, errlen, DV_ERR_INTERNAL_SERVER_FAILURE,
                         "%s exists already (left over from a bucket deleted earlier?)", dir);
    dv_error rc = dv_persist_open(dir, &b->persist, errbuf, errlen);
    if (rc != DV_ERR_OK) return rc;
    pthread_rwlock_wrlock(&b->lock);
    save_settings(b);
    save_manifest(b);
    pthread_rwlock_unlock(&b->lock);
    uint32_t now = (uint32_t)(dv_clock_wall_ns() / DV_NS_PER_SEC);
    rc = dv_persist_attach(b->persist, b->store, c->flush_ms, now, NULL, NULL, errbuf, errlen);
    if (rc != DV_ERR_OK) {
        dv_persist_close(b->persist, 1);
        dv_persist_free(b->persist);
        b->persist = NULL;
    }
    return rc;
}

dv_error dv_cluster_create_bucket(dv_cluster *c, const dv_bucket_settings *s, dv_bucket **out,
                                  char *errbuf, size_t errlen)
{
    dv_error rc = dv_bucket_settings_validate(s, errbuf, errlen);
    if (rc != DV_ERR_OK) return rc;
    pthread_rwlock_wrlock(&c->lock);
    if (find_bucket(c, s->name, strlen(s->name)) >= 0) {
        pthread_rwlock_unlock(&c->lock);
        return dv_errmsg(errbuf, errlen, DV_ERR_BUCKET_EXISTS,
                         "Bucket with given name already exists");
    }
    dv_bucket **list = dv_realloc(c->buckets, (c->nbuckets + 1) * sizeof *list);
    dv_bucket *b = list ? bucket_new(s) : NULL;
    if (list) c->buckets = list;
    if (!b) {
        pthread_rwlock_unlock(&c->lock);
        return dv_errmsg(errbuf, errlen, DV_ERR_NO_MEMORY, "out of memory");
    }
    if (c->data_dir && s->type != DV_BUCKET_EPHEMERAL &&
        (rc = bucket_persist_new(c, b, errbuf, errlen)) != DV_ERR_OK) {
        pthread_rwlock_unlock(&c->lock);
        dv_bucket_release(b);
        return rc;
    }
    c->buckets[c->nbuckets++] = b;
    c->rev++;
    if (out) *out = dv_bucket_ref(b);
    pthread_rwlock_unlock(&c->lock);
    return DV_ERR_OK;
}

/* Load the bucket kept in dir: settings, manifest, documents. */
static dv_error bucket_load(dv_cluster *c, const char *dir, char *errbuf, size_t errlen)
{
    dv_persist *p;
    dv_error rc = dv_persist_open(dir, &p, errbuf, errlen);
    if (rc != DV_ERR_OK) return rc;
    dv_buf j;
    dv_buf_init(&j);
    dv_bucket_settings s;
    char uuid[33];
    dv_bucket *b = NULL;
    if (dv_persist_meta_get(p, "settings", &j) != DV_ERR_OK ||
        settings_parse((const char *)dv_buf_head(&j), dv_buf_size(&j), &s, uuid) != 0) {
        rc = dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                       "%s: the bucket settings are missing or not valid", dir);
        goto out;
    }
    const char *base = strrchr(dir, '/');
    if (strcmp(base ? base + 1 : dir, s.name) != 0) {
        rc = dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                       "%s: holds the bucket \"%s\", not the one its name says", dir, s.name);
        goto out;
    }
    if (find_bucket(c, s.name, strlen(s.name)) >= 0) {
        rc = dv_errmsg(errbuf, errlen, DV_ERR_BUCKET_EXISTS, "%s: loaded twice", dir);
        goto out;
    }
    b = bucket_new(&s);
    if (!b) {
        rc = DV_ERR_NO_MEMORY;
        goto out;
    }
    memcpy(b->uuid, uuid, sizeof b->uuid);
    dv_buf_reset(&j);
    if (dv_persist_meta_get(p, "manifest", &j) == DV_ERR_OK) {
        dv_manifest *m;
        dv_buf ids;
        dv_buf_init(&ids);
        char why[128];
        if (dv_manifest_parse((const char *)dv_buf_head(&j), dv_buf_size(&j), &m, why,
                              sizeof why) != DV_ERR_OK ||
            dv_persist_meta_get(p, "ids", &ids) != DV_ERR_OK || dv_buf_size(&ids) != 8) {
            dv_buf_free(&ids);
            rc = dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                           "%s: the collections manifest is not valid", dir);
            goto out;
        }
        dv_manifest_free(b->manifest);
        b->manifest = m;
        b->next_sid = dv_load_be32(dv_buf_head(&ids));
        b->next_cid = dv_load_be32(dv_buf_head(&ids) + 4);
        dv_buf_free(&ids);
    }
    uint32_t now = (uint32_t)(dv_clock_wall_ns() / DV_NS_PER_SEC);
    rc = dv_persist_attach(p, b->store, c->flush_ms, now, keep_collection, b, errbuf, errlen);
    if (rc != DV_ERR_OK) goto out;
    b->persist = p;
    p = NULL;
    dv_bucket **list = dv_realloc(c->buckets, (c->nbuckets + 1) * sizeof *list);
    if (!list) {
        rc = DV_ERR_NO_MEMORY;
        goto out;
    }
    c->buckets = list;
    c->buckets[c->nbuckets++] = b;
    c->rev++;
    b = NULL;
out:
    dv_buf_free(&j);
    if (p) dv_persist_free(p);
    dv_bucket_release(b);
    return rc;
}

#define DATA_MARKER "divan-server.json"

dv_error dv_cluster_open_data_dir(dv_cluster *c, const char *dir, uint32_t flush_ms, int *fresh,
                                  char *errbuf, size_t errlen)
{
    *fresh = 0;
    char path[4200];
    if (dv_persist_mkdirs(dir) != 0)
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                         "--data-dir %s: cannot create it: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/" DATA_MARKER, dir);
    FILE *f = fopen(path, "r");
    if (f) {
        char text[256];
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        json_t *o = json_loads(text, 0, NULL);
        json_int_t format = json_integer_value(json_object_get(o, "format"));
        json_decref(o);
        if (format != DV_PERSIST_FORMAT)
            return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                             "--data-dir %s: data format %lld, this divan-server reads format "
                             "%d%s",
                             dir, (long long)format, DV_PERSIST_FORMAT,
                             format > DV_PERSIST_FORMAT ? " (written by a newer divan-server)"
                                                        : "");
    } else {
        DIR *d = opendir(dir);
        if (!d)
            return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT, "--data-dir %s: %s", dir,
                             strerror(errno));
        struct dirent *e;
        int empty = 1;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
        closedir(d);
        if (!empty)
            return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                             "--data-dir %s: not a divan data directory (it holds other files "
                             "and no " DATA_MARKER ")",
                             dir);
        *fresh = 1;
    }
    snprintf(path, sizeof path, "%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT, "--data-dir %s: %s", path,
                         strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                         "--data-dir %s: in use by another divan-server", dir);
    }
    snprintf(path, sizeof path, "%s/buckets", dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        close(fd);
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT, "--data-dir %s: %s", path,
                         strerror(errno));
    }
    if (*fresh) {
        snprintf(path, sizeof path, "%s/" DATA_MARKER, dir);
        f = fopen(path, "w");
        if (!f || fprintf(f, "{\"format\": %d}\n", DV_PERSIST_FORMAT) < 0 || fflush(f) != 0 ||
            fsync(fileno(f)) != 0) {
            if (f) fclose(f);
            close(fd);
            return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                             "--data-dir %s: cannot write: %s", path, strerror(errno));
        }
        fclose(f);
    }
    pthread_rwlock_wrlock(&c->lock);
    c->data_dir = dv_strdup(dir);
    c->flush_ms = flush_ms;
    c->data_lockfd = fd;
    pthread_rwlock_unlock(&c->lock);
    if (!c->data_dir) return DV_ERR_NO_MEMORY;
    /* The buckets, in name order (creation order is not kept). */
    snprintf(path, sizeof path, "%s/buckets", dir);
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0)
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT, "--data-dir %s: %s", path,
                         strerror(errno));
    dv_error rc = DV_ERR_OK;
    for (int i = 0; i < n; i++) {
        if (rc == DV_ERR_OK && names[i]->d_name[0] != '.') {
            char bdir[4600];
            snprintf(bdir, sizeof bdir, "%s/%s", path, names[i]->d_name);
            pthread_rwlock_wrlock(&c->lock);
            rc = bucket_load(c, bdir, errbuf, errlen);
            pthread_rwlock_unlock(&c->lock);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int dv_cluster_persistent(const dv_cluster *c)
{
    return c->data_dir != NULL;
}

dv_error dv_cluster_create_default_bucket(dv_cluster *c)
{
    dv_bucket_settings s;
    dv_bucket_settings_default(&s, "default");
    s.flush_enabled = 1;
    return dv_cluster_create_bucket(c, &s, NULL, NULL, 0);
}

dv_bucket *dv_cluster_get_bucket(dv_cluster *c, const char *name, size_t len)
{
    pthread_rwlock_rdlock(&c->lock);
    long i = find_bucket(c, name, len);
    dv_bucket *b = i >= 0 ? dv_bucket_ref(c->buckets[i]) : NULL;
    pthread_rwlock_unlock(&c->lock);
    return b;
}

dv_error dv_cluster_delete_bucket(dv_cluster *c, const char *name)
{
    pthread_rwlock_wrlock(&c->lock);
    long i = find_bucket(c, name, strlen(name));
    if (i < 0) {
        pthread_rwlock_unlock(&c->lock);
        return DV_ERR_BUCKET_NOT_FOUND;
    }
    dv_bucket *b = c->buckets[i];
    memmove(&c->buckets[i], &c->buckets[i + 1], (c->nbuckets - (size_t)i - 1) * sizeof *c->buckets);
    c->nbuckets--;
    c->rev++;
    atomic_store(&b->deleted, 1);
    /* Its data goes with it (under the cluster lock, so that a bucket of the same name created
     * next finds the directory gone). */
    dv_persist_close(b->persist, 1);
    pthread_rwlock_unlock(&c->lock);
    dv_bucket_release(b);
    return DV_ERR_OK;
}

dv_error dv_cluster_list_buckets(dv_cluster *c, dv_bucket ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_rwlock_rdlock(&c->lock);
    if (c->nbuckets) {
        dv_bucket **list = dv_malloc(c->nbuckets * sizeof *list);
        if (!list) {
            pthread_rwlock_unlock(&c->lock);
            return DV_ERR_NO_MEMORY;
        }
        for (size_t i = 0; i < c->nbuckets; i++) list[i] = dv_bucket_ref(c->buckets[i]);
        *out = list;
        *n = c->nbuckets;
    }
    pthread_rwlock_unlock(&c->lock);
    return DV_ERR_OK;
}

void dv_cluster_list_free(dv_bucket **list, size_t n)
{
    for (size_t i = 0; i < n; i++) dv_bucket_release(list[i]);
    dv_free(list);
}

/* Under the cluster's read lock: the common part of both configs. */
static dv_error config_base(const dv_cluster *c, dv_config *cfg)
{
    cfg->has_rev_epoch = 1;
    cfg->rev_epoch = 1;
    cfg->has_rev = 1;
    dv_config_node *node = dv_config_add_node(cfg);
    if (!node) return DV_ERR_NO_MEMORY;
    node->this_node = 1;
    node->ports[DV_SVC_KV] = c->kv_port;
    node->ports[DV_SVC_MGMT] = c->mgmt_port;
    node->ports[DV_SVC_KV_SSL] = c->kv_tls_port;
    node->ports[DV_SVC_MGMT_SSL] = c->mgmt_tls_port;
    if (c->query_port) {
        node->ports[DV_SVC_N1QL] = c->query_port;
        node->ports[DV_SVC_N1QL_SSL] = c->query_tls_port;
        if (dv_config_add_cluster_cap(cfg, "n1ql", "enhancedPreparedStatements") != DV_ERR_OK)
            return DV_ERR_NO_MEMORY;
    }
    if (dv_config_set_string(&node->node_uuid, c->node_uuid) != DV_ERR_OK ||
        dv_config_set_string(&cfg->cluster_name, c->name) != DV_ERR_OK ||
        dv_config_set_string(&cfg->cluster_uuid, c->uuid) != DV_ERR_OK)
        return DV_ERR_NO_MEMORY;
    return DV_ERR_OK;
}

/* subdoc.ReplicaRead: lookups carry the REPLICA_READ doc flag to replica copies; with this one
 * node holding only active copies, clients send them no such lookup. */
static const char *const bucket_caps[] = {
    "collections", "durableWrite", "rangeScan", "tombstonedUserXAttrs", "xattr",
    "cccp",        "nodesExt",     "touch",     "subdoc.ReplicaRead",
};

dv_error dv_cluster_bucket_config_json(dv_cluster *c, dv_bucket *b, dv_buf *out)
{
    dv_config *cfg = dv_config_new();
    if (!cfg) return DV_ERR_NO_MEMORY;
    pthread_rwlock_rdlock(&c->lock);
    dv_error rc = config_base(c, cfg);
    pthread_rwlock_unlock(&c->lock);
    pthread_rwlock_rdlock(&b->lock);
    cfg->rev = b->rev;
    cfg->has_manifest_uid = 1;
    cfg->manifest_uid = b->manifest->uid;
    cfg->num_replicas = b->settings.num_replicas;
    int ephemeral = b->settings.type == DV_BUCKET_EPHEMERAL;
    pthread_rwlock_unlock(&b->lock);
    cfg->locator = DV_LOCATOR_VBUCKET;
    if (rc == DV_ERR_OK) rc = dv_config_set_string(&cfg->name, b->name);
    if (rc == DV_ERR_OK) rc = dv_config_set_string(&cfg->uuid, b->uuid);
    for (size_t i = 0; i < NELEM(bucket_caps) && rc == DV_ERR_OK; i++)
        rc = dv_config_add_bucket_cap(cfg, bucket_caps[i]);
    /* Couchbase lists "couchapi" for its couchbase buckets and not for ephemeral ones, and SDKs
     * tell the two apart by it (the Java SDK refuses PersistTo on a bucket without it); divan
     * serves no views, which is all the capability would offer beyond that. */
    if (rc == DV_ERR_OK && !ephemeral) rc = dv_config_add_bucket_cap(cfg, "couchapi");
    /* Couchbase Server 7.2+ lists nonDedupedHistory for its couchbase buckets; the official
     * core asks for it before a collection update or a collection with history. */
    if (rc == DV_ERR_OK && !ephemeral) rc = dv_config_add_bucket_cap(cfg, "nonDedupedHistory");
    if (rc == DV_ERR_OK) rc = dv_vbmap_spread(&cfg->vbmap, DV_BUCKET_NVB, 1, cfg->num_replicas);
    if (rc == DV_ERR_OK) rc = dv_config_write_json(cfg, 0, out);
    dv_config_free(cfg);
    return rc;
}

dv_error dv_cluster_config_json(dv_cluster *c, dv_buf *out)
{
    dv_config *cfg = dv_config_new();
    if (!cfg) return DV_ERR_NO_MEMORY;
    pthread_rwlock_rdlock(&c->lock);
    dv_error rc = config_base(c, cfg);
    cfg->rev = c->rev;
    pthread_rwlock_unlock(&c->lock);
    if (rc == DV_ERR_OK) rc = dv_config_write_json(cfg, 0, out);
    dv_config_free(cfg);
    return rc;
}
