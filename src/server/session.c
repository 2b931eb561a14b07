/* divan-server's KV sessions; see session.h. */
#include "server/session.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/endian.h"
#include "base/log.h"
#include "mcbp/compress.h"
#include "mcbp/errmap.h"
#include "mcbp/extras.h"
#include "mcbp/frame.h"
#include "mcbp/hello.h"
#include "mcbp/leb128.h"
#include "mcbp/opcode.h"
#include "mcbp/rscan.h"
#include "sasl/sasl.h"
#include "server/kv.h"
#include "server/persist.h"
#include "server/stat.h"
#include "server/subdoc.h"

#define SERVER_VERSION "7.6.2"

/* The HELLO features divan-server implements (kv-protocol.md §4.4). */
#define F(name) DV_FEATURE_BIT(DV_FEATURE_##name)
static const dv_features implemented =
    F(TCP_NODELAY) | F(MUTATION_SEQNO) | F(XATTR) | F(XERROR) | F(SELECT_BUCKET) | F(SNAPPY) |
    F(JSON) | F(DUPLEX) | F(CLUSTERMAP_CHANGE_NOTIFICATION) | F(UNORDERED_EXECUTION) |
    F(ALT_REQUEST_SUPPORT) | F(SYNC_REPLICATION) | F(COLLECTIONS) | F(PRESERVE_TTL) | F(VATTR) |
    F(SUBDOC_CREATE_AS_DELETED) | F(SUBDOC_DOCUMENT_MACRO_SUPPORT) |
    F(SUBDOC_REPLACE_BODY_WITH_XATTR) | F(DEDUPE_NOT_MY_VBUCKET_CLUSTERMAP) |
    F(CLUSTERMAP_CHANGE_NOTIFICATION_BRIEF);

struct dv_session_ctx {
    dv_cluster *cluster;
    dv_users *users;
    dv_buf errmap[DV_ERRMAP_VERSION]; /* the GET_ERROR_MAP answers, version 1 up, built once */
    uint32_t fixed_now;
    uint64_t started_ns; /* for STAT's uptime */
    dv_session_limits limits;
};

struct dv_session {
    dv_session_ctx *ctx;
    uint32_t batch_now; /* the wall clock's second for the requests of one read; 0: not read */
    char peer[64];
    dv_features features;
    dv_user *user; /* authenticated user; NULL before SASL succeeds */
    dv_sasl_server *sasl;
    dv_sasl_mech sasl_mech;
    dv_bucket *bucket;
    unsigned bucket_perms;  /* DV_PERM_* the user holds on the whole bucket */
    uint64_t perms_gen;     /* users generation bucket_perms was computed at */
    dv_bucket_settings set; /* the bucket's settings at revision set_rev */
    int64_t set_rev;
    int64_t seen_bucket_rev, seen_cluster_rev; /* configs the client has */
    dv_buf scratch;                            /* decompressed values, config bodies */
    dv_sd_res sd;
    unsigned auth_failures; /* failed SASL attempts on this connection */
    int tls;                /* the connection is TLS */
    /* Replies to persist-durable writes of this batch, acknowledged once their commit is on
     * disk (finish_durable); all of one bucket. */
    struct durable *dw;
    size_t ndw, capdw;
    uint64_t dw_ticket;
    uint32_t dw_timeout_ms; /* the longest durability timeout among them */
    dv_bucket *dw_bucket;
};

/* A reply in the output buffer that waits for the commit of (vbucket, seqno). */
typedef struct durable {
    size_t off; /* of the reply in the output buffer; SIZE_MAX for a quiet one (none) */
    uint16_t vb;
    uint64_t seqno;
    uint8_t opcode; /* a quiet one's, for the error reply it gets if the write fails */
    uint32_t opaque;
} durable;

/* kv_engine's default when a request gives no durability timeout. */
#define DURABILITY_TIMEOUT_MS 30000u

/* ---- Context ---------------------------------------------------------------------------- */

dv_session_ctx *dv_session_ctx_new(dv_cluster *cluster, dv_users *users)
{
    dv_session_ctx *ctx = dv_calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->cluster = cluster;
    ctx->users = users;
    ctx->started_ns = dv_clock_now_ns();
    dv_session_ctx_set_limits(ctx, NULL);
    for (unsigned v = 1; v <= DV_ERRMAP_VERSION; v++) {
        dv_buf_init(&ctx->errmap[v - 1]);
        if (dv_errmap_build(&ctx->errmap[v - 1], v, 1) != DV_ERR_OK) {
            dv_session_ctx_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

void dv_session_ctx_free(dv_session_ctx *ctx)
{
    if (!ctx) return;
    for (unsigned v = 0; v < DV_ERRMAP_VERSION; v++) dv_buf_free(&ctx->errmap[v]);
    dv_free(ctx);
}

void dv_session_ctx_set_limits(dv_session_ctx *ctx, const dv_session_limits *l)
{
    dv_session_limits d = {0};
    if (l) d = *l;
    if (!d.preauth_max_body) d.preauth_max_body = DV_SESSION_DEFAULT_PREAUTH_MAX_BODY;
    if (!d.max_auth_failures) d.max_auth_failures = DV_SESSION_DEFAULT_MAX_AUTH_FAILURES;
    ctx->limits = d;
}

void dv_session_ctx_set_now(dv_session_ctx *ctx, uint32_t now)
{
    ctx->fixed_now = now;
}

/* Unix seconds now: read once for the requests that arrived together (one clock read per
 * batch, not per request). */
static uint32_t now_s(dv_session *s)
{
    if (s->ctx->fixed_now) return s->ctx->fixed_now;
    if (!s->batch_now) s->batch_now = (uint32_t)(dv_clock_wall_ns() / 1000000000u);
    return s->batch_now;
}

/* ---- Session ---------------------------------------------------------------------------- */

dv_session *dv_session_new(dv_session_ctx *ctx, const char *peer)
{
    dv_session *s = dv_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ctx = ctx;
    snprintf(s->peer, sizeof s->peer, "%s", peer ? peer : "?");
    dv_buf_init(&s->scratch);
    dv_buf_init(&s->sd.body);
    return s;
}

static void drop_bucket(dv_session *s)
{
    if (s->bucket) dv_scans_drop_owner(dv_bucket_scans(s->bucket), s);
    dv_bucket_release(s->bucket);
    s->bucket = NULL;
    s->seen_bucket_rev = 0;
}

void dv_session_free(dv_session *s)
{
    if (!s) return;
    dv_bucket_release(s->dw_bucket);
    dv_free(s->dw);
    drop_bucket(s);
    dv_user_release(s->user);
    dv_sasl_server_free(s->sasl);
    dv_buf_free(&s->scratch);
    dv_buf_free(&s->sd.body);
    dv_free(s);
}

void dv_session_set_tls(dv_session *s)
{
    s->tls = 1;
}

void dv_session_authenticate(dv_session *s, dv_user *u)
{
    dv_user_release(s->user);
    s->user = dv_user_ref(u);
    s->perms_gen = UINT64_MAX;
    drop_bucket(s);
}

static int has(const dv_session *s, unsigned feature)
{
    return dv_features_has(s->features, feature);
}

/* ---- Replies ------------------------------------------------------------------------------ */

/* One reply being built: the request it answers and what goes back. */
typedef struct reply {
    const dv_frame *req;
    uint16_t status;
    uint64_t cas;
    const void *extras;
    size_t extras_len;
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    uint8_t datatype;
} reply;

/* Statuses a client without XERROR does not know, remapped as kv_engine does. */
static uint16_t legacy_status(uint8_t opcode, uint16_t status)
{
    switch (status) {
    case DV_STATUS_LOCKED:
        return opcode == DV_OP_GET_LOCKED ? DV_STATUS_ETMPFAIL : DV_STATUS_KEY_EEXISTS;
    case DV_STATUS_NOT_LOCKED:
        return DV_STATUS_ETMPFAIL;
    default:
        return status;
    }
}

/* Append the reply; 0, or -1 when out of memory. */
static int send_reply(dv_session *s, dv_buf *out, const reply *r)
{
    dv_frame f = {0};
    f.magic = DV_MAGIC_RES;
    f.opcode = r->req->opcode;
    f.status = has(s, DV_FEATURE_XERROR) ? r->status : legacy_status(r->req->opcode, r->status);
    f.opaque = r->req->opaque;
    f.cas = r->cas;
    f.datatype = r->datatype;
    if (!has(s, DV_FEATURE_JSON)) f.datatype &= (uint8_t)~DV_DATATYPE_JSON;
    f.extras = r->extras;
    f.extras_len = r->extras_len;
    f.key = r->key;
    f.key_len = r->key_len;
    f.value = r->value;
    f.value_len = r->value_len;
    return dv_frame_encode(out, &f) == DV_MCBP_OK ? 0 : -1;
}

static int send_status(dv_session *s, dv_buf *out, const dv_frame *req, uint16_t status)
{
    reply r = {.req = req, .status = status};
    return send_reply(s, out, &r);
}

/* An error with an XERROR body carrying a context (and a manifest uid), for clients that
 * negotiated XERROR; others get the bare status. */
static int send_error(dv_session *s, dv_buf *out, const dv_frame *req, uint16_t status,
                      const char *context, int has_uid, uint64_t uid)
{
    if (!has(s, DV_FEATURE_XERROR)) return send_status(s, out, req, status);
    dv_buf_reset(&s->scratch);
    if (dv_xerror_build(&s->scratch, context, NULL, has_uid, uid) != DV_ERR_OK)
        return send_status(s, out, req, status);
    reply r = {.req = req, .status = status};
    r.value = dv_buf_head(&s->scratch);
    r.value_len = dv_buf_size(&s->scratch);
    r.datatype = r.value_len ? DV_DATATYPE_JSON : 0;
    return send_reply(s, out, &r);
}

/* A success reply with a JSON document built in scratch. */
static int send_json(dv_session *s, dv_buf *out, const dv_frame *req)
{
    reply r = {.req = req, .status = DV_STATUS_SUCCESS, .datatype = DV_DATATYPE_JSON};
    r.value = dv_buf_head(&s->scratch);
    r.value_len = dv_buf_size(&s->scratch);
    return send_reply(s, out, &r);
}

/* The config this session should see (bucket or cluster level) into scratch, with its rev. */
static dv_error config_json(dv_session *s, int64_t *rev)
{
    dv_buf_reset(&s->scratch);
    if (s->bucket) {
        *rev = dv_bucket_rev(s->bucket);
        return dv_cluster_bucket_config_json(s->ctx->cluster, s->bucket, &s->scratch);
    }
    *rev = dv_cluster_rev(s->ctx->cluster);
    return dv_cluster_config_json(s->ctx->cluster, &s->scratch);
}

static void mark_seen(dv_session *s, int64_t rev)
{
    if (s->bucket)
        s->seen_bucket_rev = rev;
    else
        s->seen_cluster_rev = rev;
}

/* ---- Durable writes ------------------------------------------------------------------------ */

/* Wait for the commit the batch's persist-durable writes are in, then turn the reply of every
 * one that is not on disk into an error: ETMPFAIL when its commit failed (nothing is on disk),
 * SYNC_WRITE_AMBIGUOUS when the commit did not end within the durability timeout (it may yet).
 * The status field, at offset 6 of the header, is rewritten in place; a quiet write, which had
 * no reply, gets one. */
static void finish_durable(dv_session *s, dv_buf *out)
{
    if (!s->dw_bucket) return;
    dv_persist *p = dv_bucket_persist(s->dw_bucket);
    dv_store *store = dv_bucket_store(s->dw_bucket);
    uint16_t status = DV_STATUS_ETMPFAIL;
    if (p && dv_persist_wait(p, s->dw_ticket, s->dw_timeout_ms) != 0)
        status = DV_STATUS_SYNC_WRITE_AMBIGUOUS;
    for (size_t i = 0; i < s->ndw; i++) {
        const durable *d = &s->dw[i];
        if (dv_vbucket_persisted_seqno(dv_store_vbucket(store, d->vb)) >= d->seqno) continue;
        if (d->off == SIZE_MAX) {
            dv_frame f = {0};
            f.magic = DV_MAGIC_REQ;
            f.opcode = d->opcode;
            f.opaque = d->opaque;
            send_status(s, out, &f, status);
        } else if (d->off + 8 <= dv_buf_size(out)) {
            dv_store_be16((uint8_t *)dv_buf_head(out) + d->off + 6, status);
        }
    }
    s->ndw = 0;
    s->dw_ticket = 0; /* tickets are per bucket: the next batch may be another bucket's */
    s->dw_timeout_ms = 0;
    dv_bucket_release(s->dw_bucket);
    s->dw_bucket = NULL;
}

/* Note a persist-durable write of request f whose reply starts at off. 0, or -1 on no memory
 * (the caller answers ENOMEM instead). */
static int add_durable(dv_session *s, size_t off, const dv_frame *f, uint16_t timeout_ms,
                       uint64_t seqno)
{
    if (s->ndw == s->capdw) {
        size_t cap = s->capdw ? s->capdw * 2 : 16;
        durable *d = dv_realloc(s->dw, cap * sizeof *d);
        if (!d) return -1;
        s->dw = d;
        s->capdw = cap;
    }
    if (!s->dw_bucket) s->dw_bucket = dv_bucket_ref(s->bucket);
    s->dw[s->ndw++] = (durable){off, f->vbucket, seqno, f->opcode, f->opaque};
    uint32_t tmo = timeout_ms ? timeout_ms : DURABILITY_TIMEOUT_MS;
    if (tmo > s->dw_timeout_ms) s->dw_timeout_ms = tmo;
    uint64_t t = dv_persist_ticket(dv_bucket_persist(s->bucket));
    if (t > s->dw_ticket) s->dw_ticket = t;
    return 0;
}

/* ---- Connection commands ------------------------------------------------------------------- */

static int do_hello(dv_session *s, const dv_frame *f, dv_buf *out)
{
    dv_features ack;
    dv_status st = dv_hello_answer(f->value, f->value_len, implemented, &ack);
    if (st != DV_STATUS_SUCCESS) return send_error(s, out, f, st, "bad HELLO feature list", 0, 0);
    s->features = ack;
    uint8_t v[2 * 64];
    size_t n = 0;
    for (unsigned code = 0; code < 64; code++) {
        if (!dv_features_has(ack, code)) continue;
        dv_store_be16(v + n, (uint16_t)code);
        n += 2;
    }
    reply r = {.req = f, .status = DV_STATUS_SUCCESS, .value = v, .value_len = n};
    return send_reply(s, out, &r);
}

static void sasl_reset(dv_session *s)
{
    dv_sasl_server_free(s->sasl);
    s->sasl = NULL;
}

static int do_sasl(dv_session *s, const dv_frame *f, dv_buf *out)
{
    dv_sasl_mech mech;
    if (dv_sasl_mech_parse((const char *)f->key, f->key_len, &mech) != 0) {
        sasl_reset(s);
        return send_error(s, out, f, DV_STATUS_AUTH_ERROR, "unknown SASL mechanism", 0, 0);
    }
    if (mech == DV_SASL_PLAIN && s->ctx->limits.plain_needs_tls && !s->tls) {
        sasl_reset(s);
        return send_error(s, out, f, DV_STATUS_AUTH_ERROR, "PLAIN is only accepted over TLS", 0, 0);
    }
    if (f->opcode == DV_OP_SASL_AUTH) {
        sasl_reset(s);
        size_t keylen;
        dv_sasl_server_config cfg = {0};
        cfg.lookup = dv_users_sasl_lookup;
        cfg.lookup_ud = s->ctx->users;
        cfg.fake_salt_key = dv_users_fake_salt_key(s->ctx->users, &keylen);
        cfg.fake_salt_key_len = keylen;
        s->sasl = dv_sasl_server_new(mech, &cfg);
        s->sasl_mech = mech;
        if (!s->sasl) return send_status(s, out, f, DV_STATUS_ENOMEM);
    } else if (!s->sasl || s->sasl_mech != mech) {
        sasl_reset(s);
        return send_error(s, out, f, DV_STATUS_AUTH_ERROR, "SASL_STEP without SASL_AUTH", 0, 0);
    }
    const uint8_t *v = NULL;
    size_t vlen = 0;
    dv_sasl_result res = dv_sasl_server_step(s->sasl, f->value, f->value_len, &v, &vlen);
    reply r = {.req = f, .value = v, .value_len = vlen};
    if (res == DV_SASL_CONTINUE) {
        r.status = DV_STATUS_AUTH_CONTINUE;
        return send_reply(s, out, &r);
    }
    if (res == DV_SASL_SUCCESS) {
        const char *name = dv_sasl_server_user(s->sasl);
        dv_user *u = dv_users_get(s->ctx->users, name, strlen(name));
        if (u) {
            dv_user_release(s->user);
            s->user = u;
            drop_bucket(s);
            r.status = DV_STATUS_SUCCESS;
            int rc = send_reply(s, out, &r);
            sasl_reset(s);
            return rc;
        }
    }
    /* A failed attempt leaves the connection unauthenticated. The reason stays in the log: it
     * tells unknown users from wrong passwords. */
    int err = s->sasl ? dv_sasl_server_error(s->sasl) : DV_ERR_AUTHENTICATION_FAILURE;
    /* kv_engine answers AUTH_ERROR, counts and audits the failure and keeps the connection;
     * divan logs it (WARN, its audit trail) and closes the connection after
     * max_auth_failures of them, so that guessing costs a new connection each time. */
    s->auth_failures++;
    int last = s->auth_failures >= s->ctx->limits.max_auth_failures;
    dv_log(DV_LOG_WARN, "session", "%s: authentication failed (%s)%s", s->peer,
           s->sasl ? dv_sasl_server_reason(s->sasl) : "user removed",
           last ? "; closing the connection: too many failures" : "");
    sasl_reset(s);
    dv_user_release(s->user);
    s->user = NULL;
    drop_bucket(s);
    int rc =
        send_status(s, out, f, err == DV_ERR_NO_MEMORY ? DV_STATUS_ENOMEM : DV_STATUS_AUTH_ERROR);
    return last ? -1 : rc;
}

static int do_error_map(dv_session *s, const dv_frame *f, dv_buf *out)
{
    if (f->value_len != 2 || dv_load_be16(f->value) == 0)
        return send_error(s, out, f, DV_STATUS_EINVAL, "expected a u16 version above 0", 0, 0);
    /* kv_engine's rule: the highest version it has that is no higher than the one asked for
     * (libcouchbase 3.x asks for 1 and refuses anything higher). */
    unsigned v = dv_load_be16(f->value);
    const dv_buf *map = &s->ctx->errmap[(v < DV_ERRMAP_VERSION ? v : DV_ERRMAP_VERSION) - 1];
    reply r = {.req = f, .status = DV_STATUS_SUCCESS, .datatype = DV_DATATYPE_JSON};
    r.value = dv_buf_head(map);
    r.value_len = dv_buf_size(map);
    return send_reply(s, out, &r);
}

/* The user's permissions on the selected bucket as a whole, refreshed when users change. */
static unsigned bucket_perms(dv_session *s)
{
    uint64_t gen = dv_users_generation(s->ctx->users);
    if (gen != s->perms_gen) {
        dv_user *u =
            dv_users_get(s->ctx->users, dv_user_name(s->user), strlen(dv_user_name(s->user)));
        dv_user_release(s->user);
        s->user = u;
        s->perms_gen = gen;
        s->bucket_perms = 0;
        if (u && s->bucket) {
            static const unsigned each[] = {
                DV_PERM_SELECT,     DV_PERM_READ,        DV_PERM_WRITE,       DV_PERM_MANAGE,
                DV_PERM_XATTR_READ, DV_PERM_XATTR_WRITE, DV_PERM_SXATTR_READ, DV_PERM_SXATTR_WRITE};
            for (size_t i = 0; i < sizeof each / sizeof each[0]; i++) {
                if (dv_user_allow(u, each[i], dv_bucket_name(s->bucket), NULL, NULL))
                    s->bucket_perms |= each[i];
            }
        }
    }
    return s->bucket_perms;
}

static void refresh_settings(dv_session *s)
{
    int64_t rev = dv_bucket_rev(s->bucket);
    if (rev != s->set_rev) {
        dv_bucket_settings_get(s->bucket, &s->set);
        s->set_rev = rev;
    }
}

static int do_select_bucket(dv_session *s, const dv_frame *f, dv_buf *out)
{
    finish_durable(s, out);
    drop_bucket(s);
    static const char none[] = "@no bucket@";
    if (f->key_len == sizeof none - 1 && memcmp(f->key, none, f->key_len) == 0)
        return send_status(s, out, f, DV_STATUS_SUCCESS);
    /* Unknown and forbidden buckets get the same answer, so names do not leak; EACCESS makes
     * the official SDKs fail at once with bucket_not_found (§14.12). */
    dv_bucket *b = dv_cluster_get_bucket(s->ctx->cluster, (const char *)f->key, f->key_len);
    if (!b) return send_error(s, out, f, DV_STATUS_EACCESS, "no such bucket", 0, 0);
    s->bucket = b;
    s->perms_gen = UINT64_MAX;
    if (!(bucket_perms(s) & DV_PERM_SELECT) &&
        !dv_user_allow(s->user, DV_PERM_SELECT, dv_bucket_name(b), NULL, NULL)) {
        drop_bucket(s);
        return send_error(s, out, f, DV_STATUS_EACCESS, "no such bucket", 0, 0);
    }
    s->set_rev = 0;
    refresh_settings(s);
    return send_status(s, out, f, DV_STATUS_SUCCESS);
}

static int do_cluster_config(dv_session *s, const dv_frame *f, dv_buf *out)
{
    int64_t rev;
    if (config_json(s, &rev) != DV_ERR_OK) return send_status(s, out, f, DV_STATUS_ENOMEM);
    mark_seen(s, rev);
    return send_json(s, out, f);
}

static int do_manifest(dv_session *s, const dv_frame *f, dv_buf *out)
{
    dv_buf_reset(&s->scratch);
    if (dv_bucket_manifest_json(s->bucket, &s->scratch) != DV_ERR_OK)
        return send_status(s, out, f, DV_STATUS_ENOMEM);
    return send_json(s, out, f);
}

static int do_collection_id(dv_session *s, const dv_frame *f, dv_buf *out)
{
    /* The path travels in the value (the official core) or in the key (older clients). */
    const char *path = (const char *)(f->value_len ? f->value : f->key);
    size_t len = f->value_len ? f->value_len : f->key_len;
    uint32_t id = 0;
    uint64_t uid = 0;
    dv_error rc;
    if (f->opcode == DV_OP_GET_SCOPE_ID) {
        if (len && path[len - 1] == '.') len--; /* "scope." is accepted too */
        rc = len ? dv_bucket_lookup_scope(s->bucket, path, len, &id, &uid)
                 : dv_bucket_lookup_scope(s->bucket, "_default", 8, &id, &uid);
    } else {
        rc = dv_bucket_lookup_collection(s->bucket, path, len, &id, &uid);
    }
    switch (rc) {
    case DV_ERR_OK: {
        uint8_t x[DV_EXTRAS_COLLECTION_ID_LEN];
        dv_extras_collection_id_encode(x, uid, id);
        reply r = {.req = f, .status = DV_STATUS_SUCCESS, .extras = x, .extras_len = sizeof x};
        return send_reply(s, out, &r);
    }
    case DV_ERR_SCOPE_NOT_FOUND:
        return send_error(s, out, f, DV_STATUS_UNKNOWN_SCOPE, NULL, 1, uid);
    case DV_ERR_COLLECTION_NOT_FOUND:
        return send_error(s, out, f, DV_STATUS_UNKNOWN_COLLECTION, NULL, 1, uid);
    default:
        return send_error(s, out, f, DV_STATUS_EINVAL, "expected scope.collection", 0, 0);
    }
}

static int do_observe_seqno(dv_session *s, const dv_frame *f, dv_buf *out)
{
    uint64_t uuid;
    if (dv_value_u64_decode(f->value, f->value_len, &uuid) != DV_MCBP_OK)
        return send_error(s, out, f, DV_STATUS_EINVAL, "expected a u64 vbucket uuid", 0, 0);
    dv_vbucket *vb = dv_store_lock(dv_bucket_store(s->bucket), f->vbucket);
    dv_observe_seqno o = {0};
    o.vbucket = f->vbucket;
    o.vbucket_uuid = dv_vbucket_uuid(vb);
    o.current_seqno = dv_vbucket_high_seqno(vb);
    o.last_persisted_seqno = dv_vbucket_persisted_seqno(vb);
    dv_vbucket_unlock(vb);
    /* A client polling for persistence gets the next commit now, not at the next window. */
    if (o.last_persisted_seqno < o.current_seqno && dv_bucket_persist(s->bucket))
        dv_persist_kick(dv_bucket_persist(s->bucket));
    if (uuid != o.vbucket_uuid) {
        /* A uuid this vbucket never had: report it as the failover branch the client saw. */
        o.format = 1;
        o.old_vbucket_uuid = uuid;
        o.last_received_seqno = o.current_seqno;
    }
    dv_buf_reset(&s->scratch);
    if (dv_observe_seqno_encode(&s->scratch, &o) != DV_MCBP_OK)
        return send_status(s, out, f, DV_STATUS_ENOMEM);
    reply r = {.req = f, .status = DV_STATUS_SUCCESS};
    r.value = dv_buf_head(&s->scratch);
    r.value_len = dv_buf_size(&s->scratch);
    return send_reply(s, out, &r);
}

/* Legacy OBSERVE: the state and CAS of each key of the request, in one response. Every key's
 * vbucket, collection and read permission are checked first; the first failure answers for all,
 * as kv_engine does. */
static int do_observe(dv_session *s, const dv_frame *f, dv_buf *out)
{
    dv_store *store = dv_bucket_store(s->bucket);
    int collections = has(s, DV_FEATURE_COLLECTIONS);
    int full = (bucket_perms(s) & DV_PERM_READ) == DV_PERM_READ;
    uint32_t now = now_s(s);
    dv_buf_reset(&s->scratch);
    dv_observe_key k;
    size_t pos = 0;
    int rc;
    while ((rc = dv_observe_next(f->value, f->value_len, 0, &pos, &k)) == 1) {
        if (k.vbucket >= dv_store_nvb(store))
            return send_status(s, out, f, DV_STATUS_NOT_MY_VBUCKET);
        uint32_t cid = 0;
        const uint8_t *key = k.key;
        size_t nkey = k.key_len;
        if (collections && dv_key_split(k.key, k.key_len, &cid, &key, &nkey) != DV_MCBP_OK)
            return send_error(s, out, f, DV_STATUS_EINVAL, "bad collection id in a key", 0, 0);
        if (nkey == 0 || nkey > DV_MAX_KEY_LEN)
            return send_error(s, out, f, DV_STATUS_EINVAL, "bad key length", 0, 0);
        char scope[DV_MANIFEST_NAME_MAX + 1], coll[DV_MANIFEST_NAME_MAX + 1];
        int32_t ttl;
        if (dv_bucket_collection_find(s->bucket, cid, &ttl, full ? NULL : scope,
                                      full ? NULL : coll) != DV_ERR_OK) {
            uint64_t uid = dv_bucket_manifest_uid(s->bucket);
            return send_error(s, out, f, DV_STATUS_UNKNOWN_COLLECTION, NULL, 1, uid);
        }
        if (!full && !dv_user_allow(s->user, DV_PERM_READ, dv_bucket_name(s->bucket), scope, coll))
            return send_error(s, out, f, DV_STATUS_EACCESS, "no access to this collection", 0, 0);
        k.state = dv_kv_observe(store, k.vbucket, cid, key, nkey, now, &k.cas);
        if (dv_observe_append(&s->scratch, 1, &k) != DV_MCBP_OK)
            return send_status(s, out, f, DV_STATUS_ENOMEM);
    }
    if (rc < 0 || f->value_len == 0)
        return send_error(s, out, f, DV_STATUS_EINVAL, "expected vbucket, key length, key", 0, 0);
    /* The CAS field would carry persist and replicate time estimates: both 0. */
    reply r = {.req = f, .status = DV_STATUS_SUCCESS};
    r.value = dv_buf_head(&s->scratch);
    r.value_len = dv_buf_size(&s->scratch);
    return send_reply(s, out, &r);
}

/* STAT: one response per statistic, then an empty one (the terminator clients wait for). */
typedef struct stat_out {
    dv_session *s;
    dv_buf *out;
    const dv_frame *req;
} stat_out;

static int stat_emit(void *ud, const char *name, const char *value)
{
    stat_out *so = ud;
    reply r = {.req = so->req, .status = DV_STATUS_SUCCESS};
    r.key = name;
    r.key_len = strlen(name);
    r.value = value;
    r.value_len = strlen(value);
    return send_reply(so->s, so->out, &r);
}

static int do_stat(dv_session *s, const dv_frame *f, dv_buf *out)
{
    size_t mark = dv_buf_size(out);
    dv_stat_process p = {SERVER_VERSION, (dv_clock_now_ns() - s->ctx->started_ns) / 1000000000u,
                         now_s(s)};
    stat_out so = {s, out, f};
    int st = dv_stat_group(s->bucket, (const char *)f->key, f->key_len, &p, stat_emit, &so);
    if (st < 0) {
        out->len = out->off + mark; /* drop the partial answer */
        return send_status(s, out, f, DV_STATUS_ENOMEM);
    }
    if (st != DV_STATUS_SUCCESS) return send_status(s, out, f, (uint16_t)st);
    return send_status(s, out, f, DV_STATUS_SUCCESS);
}

/* ---- Privileges -------------------------------------------------------------------------- */

/* What the privilege check learned about a document request's target. */
typedef struct grant {
    char scope[DV_MANIFEST_NAME_MAX + 1], coll[DV_MANIFEST_NAME_MAX + 1]; /* once named */
    int32_t coll_ttl; /* the collection's maxTTL */
    uint32_t cid;
    int named; /* scope and coll are filled (only a scoped role needs them) */
} grant;

/* perms (DV_PERM_*) on the request's collection: bucket-wide, or through a scoped role. */
static int allowed(dv_session *s, grant *g, unsigned perms)
{
    if ((bucket_perms(s) & perms) == perms) return 1;
    if (!s->user) return 0;
    if (!g->named) {
        if (dv_bucket_collection_find(s->bucket, g->cid, NULL, g->scope, g->coll) != DV_ERR_OK)
            g->scope[0] = g->coll[0] = '\0'; /* dropped meanwhile: no scoped role matches */
        g->named = 1;
    }
    return dv_user_allow(s->user, perms, dv_bucket_name(s->bucket), g->scope, g->coll);
}

/* The opcode table's privilege column, checked before any handler runs (kv_engine's order: a
 * request the user may not make gets EACCESS whatever its target's state). Returns 0 to
 * dispatch, 1 when a reply was sent, -1 to close the connection. */
static int authorize(dv_session *s, const dv_frame *f, const dv_request_info *ri, grant *g,
                     dv_buf *out)
{
    dv_privilege p = dv_opcode_privilege(f->opcode);
    if (p == DV_PRIV_NONE) return 0;
    if (p == DV_PRIV_UNSET || !s->user) return send_status(s, out, f, DV_STATUS_EACCESS) ? -1 : 1;
    if (p == DV_PRIV_CONNECTION) return 0;
    if (!s->bucket) return send_status(s, out, f, DV_STATUS_NO_BUCKET) ? -1 : 1;
    /* kv_engine disconnects the clients of a deleted bucket. */
    if (dv_bucket_deleted(s->bucket)) return -1;
    unsigned need = 0;
    switch (p) {
    case DV_PRIV_BUCKET:
        return 0;
    case DV_PRIV_ADMIN:
        /* Node administration: only the full admin holds both cluster and user admin. */
        if (dv_user_allow(s->user, DV_PERM_CLUSTER_ADMIN | DV_PERM_USER_ADMIN, NULL, NULL, NULL))
            return 0;
        return send_status(s, out, f, DV_STATUS_EACCESS) ? -1 : 1;
    case DV_PRIV_READ_ANY:
        if ((bucket_perms(s) & DV_PERM_READ) ||
            (s->user && dv_roles_allow_somewhere(dv_user_roles(s->user), DV_PERM_READ,
                                                 dv_bucket_name(s->bucket))))
            return 0;
        return send_status(s, out, f, DV_STATUS_EACCESS) ? -1 : 1;
    case DV_PRIV_READ:
        need = DV_PERM_READ;
        break;
    case DV_PRIV_WRITE:
        need = DV_PERM_WRITE;
        break;
    default:
        need = DV_PERM_READ | DV_PERM_WRITE;
        break;
    }
    int full = (bucket_perms(s) & need) == need;
    if (!s->user) return send_status(s, out, f, DV_STATUS_EACCESS) ? -1 : 1;
    g->cid = ri->cid;
    g->named = 0;
    if (dv_bucket_collection_find(s->bucket, ri->cid, &g->coll_ttl, NULL, NULL) != DV_ERR_OK) {
        uint64_t uid = dv_bucket_manifest_uid(s->bucket);
        return send_error(s, out, f, DV_STATUS_UNKNOWN_COLLECTION, NULL, 1, uid) ? -1 : 1;
    }
    if (!full && !allowed(s, g, need))
        return send_error(s, out, f, DV_STATUS_EACCESS, "no access to this collection", 0, 0) ? -1
                                                                                              : 1;
    return 0;
}

/* What sub-document specs need on top of the command's privilege: user xattr paths
 * XATTR_READ/WRITE, system ones ('_' first) SXATTR_READ/WRITE, by whether the command reads or
 * mutates (kv_engine's rule); virtual xattrs ('$') none. A COUNTER spec in a multi-mutation
 * needs Read as SUBDOC_COUNTER does, since its result returns the value (kv_engine asks only
 * Upsert there; divan is stricter). */
static int specs_allowed(dv_session *s, grant *g, const dv_subdoc_spec *specs, size_t n, int lookup)
{
    unsigned need = 0;
    for (size_t i = 0; i < n; i++) {
        const dv_subdoc_spec *sp = &specs[i];
        if (sp->opcode == DV_OP_SUBDOC_COUNTER) need |= DV_PERM_READ;
        if (!(sp->flags & DV_SUBDOC_PATH_XATTR) || !sp->path_len || sp->path[0] == '$') continue;
        if (sp->path[0] == '_')
            need |= lookup ? DV_PERM_SXATTR_READ : DV_PERM_SXATTR_WRITE;
        else
            need |= lookup ? DV_PERM_XATTR_READ : DV_PERM_XATTR_WRITE;
    }
    return !need || allowed(s, g, need);
}

/* What $XTOC may list for this user: user xattr names with xattr read, system ones with
 * system-xattr read (kv_engine's XTOC semantics). */
static uint8_t xtoc_hide(dv_session *s, grant *g, const dv_subdoc_spec *specs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(specs[i].flags & DV_SUBDOC_PATH_XATTR) || specs[i].path_len < 5 ||
            memcmp(specs[i].path, "$XTOC", 5) != 0)
            continue;
        return (uint8_t)((allowed(s, g, DV_PERM_XATTR_READ) ? 0 : DV_SD_XTOC_HIDE_USER) |
                         (allowed(s, g, DV_PERM_SXATTR_READ) ? 0 : DV_SD_XTOC_HIDE_SYSTEM));
    }
    return 0;
}

/* ---- Data commands ----------------------------------------------------------------------- */

/* The memcached opcode a quiet variant stands for, and whether its reply is suppressed on
 * success (mutations) or on a miss (reads). */
static uint8_t base_opcode(uint8_t op)
{
    switch (op) {
    case DV_OP_GETQ:
    case DV_OP_GETK:
    case DV_OP_GETKQ:
        return DV_OP_GET;
    case DV_OP_SETQ:
        return DV_OP_SET;
    case DV_OP_ADDQ:
        return DV_OP_ADD;
    case DV_OP_REPLACEQ:
        return DV_OP_REPLACE;
    case DV_OP_DELETEQ:
        return DV_OP_DELETE;
    case DV_OP_INCREMENTQ:
        return DV_OP_INCREMENT;
    case DV_OP_DECREMENTQ:
        return DV_OP_DECREMENT;
    case DV_OP_APPENDQ:
        return DV_OP_APPEND;
    case DV_OP_PREPENDQ:
        return DV_OP_PREPEND;
    case DV_OP_GATQ:
        return DV_OP_GAT;
    default:
        return op;
    }
}

/* The bucket's or the collection's maxTTL applied to an expiry as on the wire (kv_engine: a
 * collection's maxTTL wins over the bucket's; -1 disables it). */
static uint32_t cap_expiry(const dv_session *s, int32_t coll_ttl, uint32_t expiry, uint32_t now)
{
    int64_t ttl = coll_ttl ? coll_ttl : (int64_t)s->set.max_ttl;
    if (ttl <= 0) return expiry;
    uint32_t limit = now + (uint32_t)ttl;
    uint32_t abs = dv_kv_expiry_abs(expiry, now);
    return abs == 0 || abs > limit ? limit : expiry;
}

/* The checks every document command shares once its privilege held. Returns 0 to go on, 1 when
 * a reply was sent, -1 on no memory. */
static int doc_checks(dv_session *s, const dv_frame *f, const dv_request_info *ri, dv_buf *out,
                      int *persist)
{
    if (persist) *persist = 0;
    if (f->vbucket >= dv_store_nvb(dv_bucket_store(s->bucket))) {
        int64_t rev;
        if (config_json(s, &rev) != DV_ERR_OK) return send_status(s, out, f, DV_STATUS_ENOMEM);
        reply r = {.req = f, .status = DV_STATUS_NOT_MY_VBUCKET, .datatype = DV_DATATYPE_JSON};
        r.value = dv_buf_head(&s->scratch);
        r.value_len = dv_buf_size(&s->scratch);
        return send_reply(s, out, &r) ? -1 : 1;
    }
    dv_privilege p = dv_opcode_privilege(f->opcode);
    if (p == DV_PRIV_WRITE || p == DV_PRIV_READ_WRITE) {
        refresh_settings(s);
        if (ri->fr.durability_level || s->set.durability_min_level) {
            dv_durability_level eff;
            dv_status st = dv_bucket_durability(&s->set, ri->fr.durability_level, &eff);
            /* Levels that persist are acknowledged once on disk; a bucket without storage
             * (no data directory) refuses them as an ephemeral bucket does. */
            if (st == DV_STATUS_SUCCESS && eff >= DV_DURABILITY_MAJORITY_AND_PERSIST_TO_ACTIVE) {
                if (!dv_bucket_persist(s->bucket))
                    st = DV_STATUS_DURABILITY_INVALID_LEVEL;
                else if (persist)
                    *persist = 1;
            }
            if (st != DV_STATUS_SUCCESS) return send_status(s, out, f, st) ? -1 : 1;
        }
    }
    return 0;
}

/* The request value, uncompressed: 0 with v and n set, or 1 when a reply was sent. */
static int request_value(dv_session *s, const dv_frame *f, const uint8_t **v, size_t *n,
                         uint8_t *datatype, dv_buf *out, int *rc)
{
    *v = f->value;
    *n = f->value_len;
    *datatype = f->datatype;
    if (f->datatype & DV_DATATYPE_XATTR) {
        *rc = send_error(s, out, f, DV_STATUS_EINVAL,
                         "values with extended attributes are not accepted here", 0, 0);
        return 1;
    }
    if (f->datatype & DV_DATATYPE_SNAPPY) {
        if (!has(s, DV_FEATURE_SNAPPY)) {
            *rc = send_error(s, out, f, DV_STATUS_EINVAL, "snappy was not negotiated", 0, 0);
            return 1;
        }
        dv_buf_reset(&s->scratch);
        int zrc =
            dv_snappy_decompress(f->value, f->value_len, DV_MAX_VALUE_LEN, &s->scratch, datatype);
        if (zrc != DV_MCBP_OK) {
            *rc = zrc == DV_MCBP_ETOOBIG
                      ? send_status(s, out, f, DV_STATUS_E2BIG)
                      : send_error(s, out, f, DV_STATUS_EINVAL, "corrupt snappy value", 0, 0);
            return 1;
        }
        *v = dv_buf_head(&s->scratch);
        *n = dv_buf_size(&s->scratch);
    }
    if (*n > DV_MAX_VALUE_LEN) {
        *rc = send_status(s, out, f, DV_STATUS_E2BIG);
        return 1;
    }
    *datatype &= DV_DATATYPE_JSON;
    return 0;
}

static int do_kv(dv_session *s, const dv_frame *f, const dv_request_info *ri, grant *g, dv_buf *out)
{
    uint8_t op = base_opcode(f->opcode);
    int quiet = (dv_opcode_info_get(f->opcode)->flags & DV_OPF_QUIET) != 0;
    int32_t coll_ttl = g->coll_ttl;
    int persist;
    int rc = doc_checks(s, f, ri, out, &persist);
    if (rc) return rc < 0 ? -1 : 0;

    dv_kv_req req = {0};
    req.opcode = op;
    req.vbucket = f->vbucket;
    req.cid = ri->cid;
    req.key = ri->user_key;
    req.nkey = ri->user_key_len;
    req.cas = f->cas;
    req.preserve_ttl = ri->fr.preserve_ttl;
    req.now = now_s(s);
    int sets_expiry = 0;
    switch (op) {
    case DV_OP_SET:
    case DV_OP_ADD:
    case DV_OP_REPLACE:
        dv_extras_store_decode(f->extras, f->extras_len, &req.flags, &req.expiry);
        sets_expiry = 1;
        /* fall through */
    case DV_OP_APPEND:
    case DV_OP_PREPEND: {
        const uint8_t *v;
        size_t n;
        if (request_value(s, f, &v, &n, &req.datatype, out, &rc)) return rc;
        req.value = v;
        req.nvalue = n;
        break;
    }
    case DV_OP_INCREMENT:
    case DV_OP_DECREMENT: {
        dv_counter_extras c;
        dv_extras_counter_decode(f->extras, f->extras_len, &c);
        req.delta = c.delta;
        req.initial = c.initial;
        req.expiry = c.expiry;
        sets_expiry = c.expiry != DV_COUNTER_NO_CREATE;
        break;
    }
    case DV_OP_TOUCH:
    case DV_OP_GAT:
        dv_extras_u32_decode(f->extras, f->extras_len, &req.expiry);
        sets_expiry = 1;
        break;
    case DV_OP_GET_LOCKED:
        dv_extras_u32_decode(f->extras, f->extras_len, &req.lock_time);
        break;
    default:
        break;
    }
    if (sets_expiry && !req.preserve_ttl) req.expiry = cap_expiry(s, coll_ttl, req.expiry, req.now);

    dv_kv_res res = {0};
    dv_kv_execute(dv_bucket_store(s->bucket), &req, &res);
    int durable_ok = persist && res.status == DV_STATUS_SUCCESS && res.seqno;
    if (quiet && (res.status == DV_STATUS_SUCCESS ? op != DV_OP_GET && op != DV_OP_GAT
                                                  : (op == DV_OP_GET || op == DV_OP_GAT) &&
                                                        res.status == DV_STATUS_KEY_ENOENT)) {
        dv_item_release(res.item);
        if (durable_ok && add_durable(s, SIZE_MAX, f, ri->fr.durability_timeout, res.seqno) != 0)
            return send_status(s, out, f, DV_STATUS_ENOMEM);
        return 0;
    }
    reply r = {.req = f, .status = res.status, .cas = res.cas};
    uint8_t x[DV_EXTRAS_GET_META_LEN];
    uint8_t num[8];
    if (res.status != DV_STATUS_SUCCESS) {
        if (res.status == DV_STATUS_NOT_MY_VBUCKET) r.cas = 0;
        rc = send_reply(s, out, &r);
        dv_item_release(res.item);
        return rc;
    }
    switch (op) {
    case DV_OP_GET:
    case DV_OP_GAT:
    case DV_OP_GET_LOCKED:
        dv_extras_u32_encode(x, res.item->flags);
        r.extras = x;
        r.extras_len = 4;
        r.value = dv_item_value(res.item);
        r.value_len = res.item->nvalue;
        r.datatype = res.item->datatype;
        if (f->opcode == DV_OP_GETK || f->opcode == DV_OP_GETKQ) {
            r.key = f->key;
            r.key_len = f->key_len;
        }
        break;
    case DV_OP_GET_META: {
        dv_get_meta m = {res.deleted, res.flags, res.exptime, res.seqno, res.datatype};
        dv_extras_get_meta_encode(x, &m);
        r.extras = x;
        r.extras_len = f->extras_len == 1 && f->extras[0] >= 2 ? 21 : 20;
        break;
    }
    case DV_OP_INCREMENT:
    case DV_OP_DECREMENT:
        dv_value_u64_encode(num, res.counter);
        r.value = num;
        r.value_len = sizeof num;
        break;
    default:
        break;
    }
    /* The opcode table says which successes carry a mutation token. */
    if ((dv_opcode_info_get(op)->flags & DV_OPF_MUTATION) && has(s, DV_FEATURE_MUTATION_SEQNO)) {
        dv_mutation_token t = {res.vb_uuid, res.seqno};
        dv_extras_token_encode(x, &t);
        r.extras = x;
        r.extras_len = DV_EXTRAS_TOKEN_LEN;
    }
    if (durable_ok &&
        add_durable(s, dv_buf_size(out), f, ri->fr.durability_timeout, res.seqno) != 0) {
        dv_item_release(res.item);
        return send_status(s, out, f, DV_STATUS_ENOMEM);
    }
    rc = send_reply(s, out, &r);
    dv_item_release(res.item);
    return rc;
}

/* Sub-document commands: multi-path (0xd0, 0xd1) and single-path (0xc5..0xcf, 0xd2, 0xd3). */
static int do_subdoc(dv_session *s, const dv_frame *f, const dv_request_info *ri, grant *g,
                     dv_buf *out)
{
    int32_t coll_ttl = g->coll_ttl;
    int persist;
    int rc = doc_checks(s, f, ri, out, &persist);
    if (rc) return rc < 0 ? -1 : 0;
    dv_subdoc_spec specs[DV_SUBDOC_MAX_SPECS];
    size_t n = 0;
    const char *why = NULL;
    dv_status st;
    uint8_t doc_flags = 0;
    dv_subdoc_extras x = {0};
    int single = f->opcode != DV_OP_SUBDOC_MULTI_LOOKUP && f->opcode != DV_OP_SUBDOC_MULTI_MUTATION;
    int lookup;
    if (single) {
        dv_subdoc_single one;
        st = dv_subdoc_single_decode(f->opcode, f->extras, f->extras_len, f->value, f->value_len,
                                     &one, &why);
        specs[0] = one.spec;
        n = 1;
        x = one.x;
        doc_flags = x.doc_flags;
        lookup = dv_subdoc_is_lookup_op(f->opcode);
    } else if (f->opcode == DV_OP_SUBDOC_MULTI_LOOKUP) {
        lookup = 1;
        st = dv_subdoc_lookup_extras_decode(f->extras, f->extras_len, &doc_flags, &why);
        if (st == DV_STATUS_SUCCESS)
            st = dv_subdoc_lookup_decode(f->value, f->value_len, specs, &n, &why);
    } else {
        lookup = 0;
        st = dv_subdoc_mutation_extras_decode(f->extras, f->extras_len, &x, &why);
        if (st == DV_STATUS_SUCCESS)
            st = dv_subdoc_mutation_decode(f->value, f->value_len, specs, &n, &why);
    }
    if (st != DV_STATUS_SUCCESS) return send_error(s, out, f, st, why, 0, 0);
    if (!specs_allowed(s, g, specs, n, lookup))
        return send_error(s, out, f, DV_STATUS_EACCESS, "no access to these paths", 0, 0);

    dv_sd_res *res = &s->sd;
    dv_buf_reset(&res->body);
    res->status = DV_STATUS_SUCCESS;
    res->cas = res->vb_uuid = res->seqno = 0;
    res->datatype = 0;
    uint32_t now = now_s(s);
    if (lookup) {
        dv_sd_lookup_req q = {0};
        q.vbucket = f->vbucket;
        q.cid = ri->cid;
        q.key = ri->user_key;
        q.nkey = ri->user_key_len;
        q.doc_flags = doc_flags;
        q.specs = specs;
        q.nspecs = n;
        q.now = now;
        q.single = single;
        q.xtoc_hide = xtoc_hide(s, g, specs, n);
        dv_sd_lookup(dv_bucket_store(s->bucket), &q, res);
    } else {
        dv_sd_mutate_req q = {0};
        q.vbucket = f->vbucket;
        q.cid = ri->cid;
        q.key = ri->user_key;
        q.nkey = ri->user_key_len;
        q.cas = f->cas;
        q.x = x;
        if (!ri->fr.preserve_ttl && (x.has_expiry || coll_ttl || s->set.max_ttl)) {
            q.x.expiry = cap_expiry(s, coll_ttl, x.has_expiry ? x.expiry : 0, now);
            q.x.has_expiry = q.x.expiry != 0;
        }
        q.preserve_ttl = ri->fr.preserve_ttl;
        q.specs = specs;
        q.nspecs = n;
        q.now = now;
        q.single = single;
        dv_sd_mutate(dv_bucket_store(s->bucket), &q, res);
    }
    reply r = {.req = f, .status = res->status, .cas = res->cas, .datatype = res->datatype};
    r.value = dv_buf_head(&res->body);
    r.value_len = dv_buf_size(&res->body);
    uint8_t tok[DV_EXTRAS_TOKEN_LEN];
    if (!lookup && has(s, DV_FEATURE_MUTATION_SEQNO) &&
        (res->status == DV_STATUS_SUCCESS || res->status == DV_STATUS_SUBDOC_SUCCESS_DELETED)) {
        dv_mutation_token t = {res->vb_uuid, res->seqno};
        dv_extras_token_encode(tok, &t);
        r.extras = tok;
        r.extras_len = sizeof tok;
    }
    if (!lookup && persist && res->seqno &&
        (res->status == DV_STATUS_SUCCESS || res->status == DV_STATUS_SUBDOC_SUCCESS_DELETED) &&
        add_durable(s, dv_buf_size(out), f, ri->fr.durability_timeout, res->seqno) != 0)
        return send_status(s, out, f, DV_STATUS_ENOMEM);
    return send_reply(s, out, &r);
}

/* ---- Range scans ------------------------------------------------------------------------- */

/* A continue's records go out in frames of about this size. */
#define SCAN_CHUNK (64u * 1024u)

/* Read on the scanned collection (the opcode's READ_ANY only said "somewhere"). 0 to go on, 1
 * when a reply was sent, -1 on no memory. */
static int scan_allowed(dv_session *s, const dv_frame *f, uint32_t cid, dv_buf *out)
{
    grant g = {{0}, {0}, 0, cid, 1};
    if (dv_bucket_collection_find(s->bucket, cid, &g.coll_ttl, g.scope, g.coll) != DV_ERR_OK) {
        uint64_t uid = dv_bucket_manifest_uid(s->bucket);
        return send_error(s, out, f, DV_STATUS_UNKNOWN_COLLECTION, NULL, 1, uid) ? -1 : 1;
    }
    if (!allowed(s, &g, DV_PERM_READ))
        return send_error(s, out, f, DV_STATUS_EACCESS, "no access to this collection", 0, 0) ? -1
                                                                                              : 1;
    return 0;
}

static int do_scan_create(dv_session *s, const dv_frame *f, const dv_request_info *ri, dv_buf *out)
{
    int rc = doc_checks(s, f, ri, out, NULL);
    if (rc) return rc < 0 ? -1 : 0;
    const uint8_t *v;
    size_t n;
    uint8_t datatype;
    if (request_value(s, f, &v, &n, &datatype, out, &rc)) return rc;
    dv_rscan_create spec;
    char why[96];
    if (dv_rscan_create_parse(v, n, &spec, why, sizeof why) != 0)
        return send_error(s, out, f, DV_STATUS_EINVAL, why, 0, 0);
    rc = scan_allowed(s, f, spec.cid, out);
    if (rc) return rc < 0 ? -1 : 0;
    uint8_t id[DV_RSCAN_ID_LEN];
    uint16_t st = dv_scans_create(dv_bucket_scans(s->bucket), dv_bucket_store(s->bucket),
                                  f->vbucket, &spec, s, &s->ctx->limits.scans, now_s(s), id);
    if (st != DV_STATUS_SUCCESS) return send_status(s, out, f, st);
    reply r = {.req = f, .status = DV_STATUS_SUCCESS, .value = id, .value_len = sizeof id};
    return send_reply(s, out, &r);
}

static int do_scan_continue(dv_session *s, const dv_frame *f, const dv_request_info *ri,
                            dv_buf *out)
{
    int rc = doc_checks(s, f, ri, out, NULL);
    if (rc) return rc < 0 ? -1 : 0;
    dv_rscan_continue c;
    dv_rscan_continue_decode(f->extras, &c);
    dv_scans *t = dv_bucket_scans(s->bucket);
    uint32_t now = now_s(s);
    dv_scan *sc;
    uint16_t st = dv_scans_acquire(t, c.id, s, &s->ctx->limits.scans, now, &sc);
    if (st != DV_STATUS_SUCCESS) return send_status(s, out, f, st);
    if (dv_scan_vbucket(sc) != f->vbucket) {
        dv_scans_release(t, sc, 0, now);
        return send_status(s, out, f, DV_STATUS_KEY_ENOENT);
    }
    /* The collection may have gone, or the user's roles changed, since the create. */
    rc = scan_allowed(s, f, dv_scan_cid(sc), out);
    if (rc) {
        dv_scans_release(t, sc, 1, now);
        return rc < 0 ? -1 : 0;
    }
    dv_scan_run run = {.item_limit = c.item_limit, .byte_limit = c.byte_limit};
    if (!run.byte_limit || run.byte_limit > DV_SCAN_CONTINUE_MAX_BYTES)
        run.byte_limit = DV_SCAN_CONTINUE_MAX_BYTES;
    if (c.time_limit_ms) run.deadline_ns = dv_clock_now_ns() + (uint64_t)c.time_limit_ms * 1000000u;
    uint8_t x[4];
    dv_store_be32(x, dv_scan_key_only(sc) ? 0 : 1);
    reply r = {.req = f, .status = DV_STATUS_SUCCESS, .extras = x, .extras_len = sizeof x};
    for (;;) {
        dv_buf_reset(&s->scratch);
        int fill = dv_scan_fill(sc, &run, now, &s->scratch, SCAN_CHUNK);
        if (fill == DV_SCAN_NOMEM) {
            dv_scans_release(t, sc, 1, now);
            return send_status(s, out, f, DV_STATUS_ENOMEM);
        }
        r.value = dv_buf_head(&s->scratch);
        r.value_len = dv_buf_size(&s->scratch);
        if (fill == DV_SCAN_CHUNK) {
            if (send_reply(s, out, &r)) {
                dv_scans_release(t, sc, 1, now);
                return -1;
            }
            continue;
        }
        int done = fill == DV_SCAN_COMPLETE;
        int cancelled = dv_scans_release(t, sc, done, now);
        r.status = cancelled ? DV_STATUS_RANGE_SCAN_CANCELLED
                   : done    ? DV_STATUS_RANGE_SCAN_COMPLETE
                             : DV_STATUS_RANGE_SCAN_MORE;
        return send_reply(s, out, &r);
    }
}

static int do_scan_cancel(dv_session *s, const dv_frame *f, const dv_request_info *ri, dv_buf *out)
{
    int rc = doc_checks(s, f, ri, out, NULL);
    if (rc) return rc < 0 ? -1 : 0;
    uint16_t st =
        dv_scans_cancel(dv_bucket_scans(s->bucket), f->extras, s, &s->ctx->limits.scans, now_s(s));
    return send_status(s, out, f, st);
}

/* ---- Dispatch ---------------------------------------------------------------------------- */

/* Handle one request; 0 to go on, -1 to close the connection. */
static int dispatch(dv_session *s, const dv_frame *f, dv_buf *out)
{
    dv_request_info ri;
    dv_status st = dv_request_check(f, has(s, DV_FEATURE_COLLECTIONS), &ri);
    if (st != DV_STATUS_SUCCESS) return send_status(s, out, f, st);
    grant g; /* its names are filled only when a scoped role needs them */
    g.coll_ttl = 0;
    g.cid = 0;
    g.named = 0;
    int rc = authorize(s, f, &ri, &g, out);
    if (rc) return rc < 0 ? -1 : 0;
    uint8_t op = f->opcode;
    switch (op) {
    case DV_OP_HELLO:
        return do_hello(s, f, out);
    case DV_OP_SASL_LIST_MECHS: {
        const char *m = dv_sasl_mech_list();
        /* The list ends in PLAIN; a connection that may not use it is not offered it. */
        size_t mlen = strlen(m);
        if (s->ctx->limits.plain_needs_tls && !s->tls) mlen -= strlen(" PLAIN");
        reply r = {.req = f, .status = DV_STATUS_SUCCESS, .value = m, .value_len = mlen};
        return send_reply(s, out, &r);
    }
    case DV_OP_SASL_AUTH:
    case DV_OP_SASL_STEP:
        return do_sasl(s, f, out);
    case DV_OP_GET_ERROR_MAP:
        return do_error_map(s, f, out);
    case DV_OP_SELECT_BUCKET:
        return do_select_bucket(s, f, out);
    case DV_OP_GET_CLUSTER_CONFIG:
        return do_cluster_config(s, f, out);
    case DV_OP_NOOP:
        return send_status(s, out, f, DV_STATUS_SUCCESS);
    case DV_OP_VERSION: {
        reply r = {.req = f, .status = DV_STATUS_SUCCESS};
        r.value = SERVER_VERSION;
        r.value_len = sizeof SERVER_VERSION - 1;
        return send_reply(s, out, &r);
    }
    case DV_OP_QUIT:
        send_status(s, out, f, DV_STATUS_SUCCESS);
        return -1;
    case DV_OP_QUITQ:
        return -1;
    case DV_OP_GET_COLLECTIONS_MANIFEST:
        return do_manifest(s, f, out);
    case DV_OP_GET_COLLECTION_ID:
    case DV_OP_GET_SCOPE_ID:
        return do_collection_id(s, f, out);
    case DV_OP_OBSERVE_SEQNO:
        if (f->vbucket >= dv_store_nvb(dv_bucket_store(s->bucket)))
            return send_status(s, out, f, DV_STATUS_NOT_MY_VBUCKET);
        return do_observe_seqno(s, f, out);
    case DV_OP_OBSERVE:
        return do_observe(s, f, out);
    case DV_OP_STAT:
        return do_stat(s, f, out);
    case DV_OP_GET_REPLICA:
        /* This node holds no replicas: the replica rows of its configs are -1. */
        return send_status(s, out, f, DV_STATUS_NOT_MY_VBUCKET);
    case DV_OP_GET:
    case DV_OP_GETQ:
    case DV_OP_GETK:
    case DV_OP_GETKQ:
    case DV_OP_SET:
    case DV_OP_SETQ:
    case DV_OP_ADD:
    case DV_OP_ADDQ:
    case DV_OP_REPLACE:
    case DV_OP_REPLACEQ:
    case DV_OP_DELETE:
    case DV_OP_DELETEQ:
    case DV_OP_APPEND:
    case DV_OP_APPENDQ:
    case DV_OP_PREPEND:
    case DV_OP_PREPENDQ:
    case DV_OP_INCREMENT:
    case DV_OP_INCREMENTQ:
    case DV_OP_DECREMENT:
    case DV_OP_DECREMENTQ:
    case DV_OP_TOUCH:
    case DV_OP_GAT:
    case DV_OP_GATQ:
    case DV_OP_GET_LOCKED:
    case DV_OP_UNLOCK_KEY:
    case DV_OP_GET_META:
        return do_kv(s, f, &ri, &g, out);
    case DV_OP_SUBDOC_MULTI_LOOKUP:
    case DV_OP_SUBDOC_MULTI_MUTATION:
    case DV_OP_SUBDOC_GET:
    case DV_OP_SUBDOC_EXISTS:
    case DV_OP_SUBDOC_DICT_ADD:
    case DV_OP_SUBDOC_DICT_UPSERT:
    case DV_OP_SUBDOC_DELETE:
    case DV_OP_SUBDOC_REPLACE:
    case DV_OP_SUBDOC_ARRAY_PUSH_LAST:
    case DV_OP_SUBDOC_ARRAY_PUSH_FIRST:
    case DV_OP_SUBDOC_ARRAY_INSERT:
    case DV_OP_SUBDOC_ARRAY_ADD_UNIQUE:
    case DV_OP_SUBDOC_COUNTER:
    case DV_OP_SUBDOC_GET_COUNT:
    case DV_OP_SUBDOC_REPLACE_BODY_WITH_XATTR:
        return do_subdoc(s, f, &ri, &g, out);
    case DV_OP_RANGE_SCAN_CREATE:
        return do_scan_create(s, f, &ri, out);
    case DV_OP_RANGE_SCAN_CONTINUE:
        return do_scan_continue(s, f, &ri, out);
    case DV_OP_RANGE_SCAN_CANCEL:
        return do_scan_cancel(s, f, &ri, out);
    default:
        return send_status(s, out, f, DV_STATUS_UNKNOWN_COMMAND);
    }
}

int dv_session_authenticated(const dv_session *s)
{
    return s->user != NULL;
}

static long session_data(dv_session *s, const uint8_t *p, size_t n, dv_buf *out, size_t limit);

long dv_session_data(dv_session *s, const uint8_t *p, size_t n, dv_buf *out, size_t limit)
{
    long rc = session_data(s, p, n, out, limit);
    s->batch_now = 0; /* later calls (timers, notifications) read the clock again */
    finish_durable(s, out);
    return rc;
}

long dv_session_read(dv_session *s, const uint8_t *p, size_t n, dv_buf *out, size_t limit)
{
    long rc = session_data(s, p, n, out, limit);
    s->batch_now = 0;
    return rc;
}

int dv_session_held(const dv_session *s)
{
    return s->dw_bucket != NULL;
}

void dv_session_release(dv_session *s, dv_buf *out)
{
    finish_durable(s, out);
}

static long session_data(dv_session *s, const uint8_t *p, size_t n, dv_buf *out, size_t limit)
{
    size_t pos = 0;
    s->batch_now = 0;
    for (;;) {
        if (limit && dv_buf_size(out) >= limit) return (long)pos;
        dv_frame f;
        size_t used;
        /* Until SASL succeeds only small frames: HELLO, SASL and the error map fit. */
        size_t max = s->user ? DV_FRAME_DEFAULT_MAX_BODY : s->ctx->limits.preauth_max_body;
        int rc = dv_frame_decode(p + pos, n - pos, max, &f, &used);
        if (rc == DV_MCBP_NEED_MORE) return (long)pos;
        if (rc != DV_MCBP_OK) {
            dv_log(DV_LOG_WARN, "session", "%s: closing the connection: %s%s", s->peer,
                   dv_mcbp_strerror(rc),
                   rc == DV_MCBP_ETOOBIG && !s->user ? " (before authentication)" : "");
            return -1;
        }
        pos += used;
        /* Answers to server pushes are not expected (the official core sends none); a client
         * sending other responses is confused but harmless. */
        if (dv_magic_is_response(f.magic) || f.magic == DV_MAGIC_SERVER_REQ) continue;
        if (dispatch(s, &f, out) < 0) return -1;
    }
}

void dv_session_notify(dv_session *s, dv_buf *out)
{
    if (!s->user || !has(s, DV_FEATURE_DUPLEX)) return;
    int brief = has(s, DV_FEATURE_CLUSTERMAP_CHANGE_NOTIFICATION_BRIEF);
    if (!brief && !has(s, DV_FEATURE_CLUSTERMAP_CHANGE_NOTIFICATION)) return;
    if (s->bucket && dv_bucket_deleted(s->bucket)) return;
    /* Only clients that fetched a config get pushes, and only of newer ones. */
    int64_t seen = s->bucket ? s->seen_bucket_rev : s->seen_cluster_rev;
    if (seen == 0) return;
    int64_t rev;
    if (config_json(s, &rev) != DV_ERR_OK || rev <= seen) return;
    dv_config_version v = {1, rev};
    uint8_t x[DV_EXTRAS_CONFIG_VERSION_LEN];
    dv_extras_config_version_encode(x, &v);
    dv_frame f = {0};
    f.magic = DV_MAGIC_SERVER_REQ;
    f.opcode = DV_SERVER_OP_CLUSTERMAP_CHANGE;
    f.extras = x;
    f.extras_len = sizeof x;
    if (s->bucket) {
        f.key = (const uint8_t *)dv_bucket_name(s->bucket);
        f.key_len = strlen(dv_bucket_name(s->bucket));
    }
    if (!brief) {
        f.datatype = has(s, DV_FEATURE_JSON) ? DV_DATATYPE_JSON : 0;
        f.value = dv_buf_head(&s->scratch);
        f.value_len = dv_buf_size(&s->scratch);
    }
    if (dv_frame_encode(out, &f) == DV_MCBP_OK) mark_seen(s, rev);
}
