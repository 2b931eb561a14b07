/* divan-server's management REST API on libmicrohttpd; see rest.h.
 *
 * A request goes: on_request collects the body (at most 1 MiB), then handle() splits and decodes
 * the path, matches a route (404, 405), authenticates (401), and the route's handler checks the
 * permission (403), finds the bucket (404), does the work and fills a reply that send_reply()
 * hands to libmicrohttpd. Streaming routes hand over a `stream` instead, read by the connection
 * thread until the client leaves or the server stops. */
#include "server/rest.h"

#include "server/http_limits.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/buf.h"
#include "base/errmsg.h"
#include "base/log.h"
#include "mcbp/protocol.h"
#include "server/kv.h"
#include "server/listen.h"
#include "server/rest_form.h"
#include "server/ui.h"
#include "topology/manifest.h"
#include "topology/vbucket.h"

#define BODY_MAX           (1u << 20)
#define REALM_HEADER       "Basic realm=\"Couchbase Server Admin / REST\""
#define MAX_SEGMENTS       10
#define AUTH_SLOTS         32
#define AUTH_HEADER_MAX    4096
#define STREAM_DELIMITER   "\n\n\n\n"
#define STOP_GRACE_SECONDS 2
#define NOT_FOUND_TEXT     "Requested resource not found.\r\n"
#define FORBIDDEN_TEXT     "Forbidden. User needs the following permissions"
#define NAME_CHARS_TEXT                                                                            \
    "Can only contain characters A-Z, a-z, 0-9 and the following "                                 \
    "symbols _ - %"

/* ---- state ----------------------------------------------------------------------------------- */

/* One cached successful basic-auth check: the keyed hash of (user, password), the users
 * generation it was made in, and the user it found. */
typedef struct auth_slot {
    unsigned char key[32];
    uint64_t gen;
    dv_user *user; /* NULL: empty */
} auth_slot;

typedef struct stream stream;

/* The index service's settings as /settings/indexes takes them (ns_server's defaults). */
typedef struct index_settings {
    int redistribute, page_bloom_filter;
    uint32_t num_replica, indexer_threads, max_rollback_points;
    uint64_t memory_snapshot_interval, stable_snapshot_interval;
    char log_level[16];
    char storage_mode[24]; /* "" until set */
} index_settings;

#define DV_REST_QUOTAS 6

/* What the cluster-initialisation calls set. */
typedef struct cluster_settings {
    uint32_t quota[DV_REST_QUOTAS]; /* MiB, in the order of quota_defs */
    char cluster_name[256];         /* "" = the server's own */
    char admin[DV_USER_MAX_NAME + 1];
    index_settings index;
} cluster_settings;

/* The memory quotas of POST /pools/default, in MiB, by the names ns_server gives them. */
static const struct quota_def {
    const char *field, *service;
    unsigned min;
} quota_defs[DV_REST_QUOTAS] = {
    {"memoryQuota", "Data", 256},
    {"indexMemoryQuota", "Index", 256},
    {"ftsMemoryQuota", "Search", 256},
    {"cbasMemoryQuota", "Analytics", 1024},
    {"eventingMemoryQuota", "Eventing", 256},
    {"queryMemoryQuota", "Query", 0},
};

struct dv_rest {
    dv_cluster *cluster;
    dv_users *users;
    void (*changed)(void *ud);
    void *ud;
    struct MHD_Daemon *mhd;
    dv_http_guard *guard; /* connection limits and the header timeout */
    int port;
    char os[80];

    pthread_mutex_t mu;     /* guards streams and stopping */
    pthread_cond_t drained; /* signalled when the last stream goes */
    stream *streams;
    int stopping;

    pthread_mutex_t auth_mu; /* guards auth and auth_next */
    auth_slot auth[AUTH_SLOTS];
    unsigned auth_next;
    unsigned char auth_secret[32];

    pthread_mutex_t set_mu; /* guards set */
    cluster_settings set;
};

/* A streaming response: the connection thread sleeps in poll() on wake[0] and the client's
 * socket; dv_rest_notify and dv_rest_stop write a byte to wake[1]. */
struct stream {
    dv_rest *r;
    stream *prev, *next;
    int wake[2];
    int sock;
    char *bucket; /* NULL: the cluster-level config */
    size_t bucket_len;
    char host[DV_REST_HOST_MAX + 1];
    dv_buf pending; /* bytes not yet handed to libmicrohttpd */
    dv_buf last;    /* the config sent last, to skip repeats */
};

/* Per-request state kept by libmicrohttpd between calls (its con_cls). */
typedef struct request {
    dv_buf body;
    int too_large; /* the body passed BODY_MAX: dropped, answered 413 */
    int answered;  /* a reply was queued before the body (a declared oversized body) */
} request;

enum {
    M_GET = 1,
    M_HEAD = 2,
    M_POST = 4,
    M_PUT = 8,
    M_DELETE = 16,
    M_PATCH = 32,
    M_OTHER = 64,
};

typedef enum route {
    R_NONE,
    R_ROOT,
    R_POOLS,
    R_POOL_DEFAULT,
    R_POOL_NODES,
    R_NODE_SERVICES,
    R_NODE_SERVICES_STREAM,
    R_TERSE,
    R_TERSE_STREAM,
    R_BUCKETS,
    R_BUCKET,
    R_FLUSH,
    R_SCOPES,
    R_SCOPE,
    R_COLLECTIONS,
    R_COLLECTION,
    R_WHOAMI,
    R_SETTINGS_WEB,
    R_SETTINGS_INDEXES,
    R_SETUP_SERVICES,
    R_RBAC_USERS,
    R_RBAC_USER,
    R_RBAC_GROUPS,
    R_RBAC_GROUP,
    R_RBAC_ROLES,
    R_DOCS,
    R_DOC,
    R_QUERY_PROXY,
} route;

/* Path positions of the names: /pools/default/buckets/B/scopes/S/collections/C. */
enum { SEG_BUCKET = 3, SEG_SCOPE = 5, SEG_COLLECTION = 7 };

/* One request being handled and its reply. */
typedef struct ctx {
    dv_rest *r;
    struct MHD_Connection *conn;
    unsigned method;
    char *path; /* the decoded segments live here */
    const char *seg[MAX_SEGMENTS];
    size_t seglen[MAX_SEGMENTS];
    size_t nseg;
    const request *q;
    dv_user *user;
    char host[DV_REST_HOST_MAX + 1]; /* how the client reached us, brackets kept */
    char host_bare[DV_REST_HOST_MAX + 1];

    unsigned status; /* 0: no reply yet (answered 500) */
    const char *ctype;
    dv_buf out;
    const char *allow;
    char location[24 + 3 * DV_BUCKET_NAME_MAX + 1];
    int challenge;
    stream *stream;
    const dv_ui_file *ui; /* a console file: its bytes are the body (not for a 304) */
} ctx;

/* ---- small helpers --------------------------------------------------------------------------- */

static int seg_is(const ctx *x, size_t i, const char *lit)
{
    return i < x->nseg && strcmp(x->seg[i], lit) == 0;
}

/* A printable copy of untrusted bytes for messages: bytes outside 0x20..0x7e and '"' become
 * '?', at most cap - 1 of them. */
static const char *printable(const char *s, size_t len, char *buf, size_t cap)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
    }
    buf[n] = '\0';
    return buf;
}

/* s with '%' written as "%25" (bucket names may hold '%'; nothing else they hold needs it). */
static void uri_escape(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 4 <= cap; s++) {
        if (*s == '%') {
            memcpy(out + o, "%25", 3);
            o += 3;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

static int json_to_buf(const char *p, size_t n, void *ud)
{
    return dv_buf_append(ud, p, n);
}

/* Append the text of in to out with every "$HOST" replaced by host (kv-protocol.md 7.3: an HTTP
 * client gets the host it reached us by). */
static int replace_host(const dv_buf *in, const char *host, dv_buf *out)
{
    static const char marker[] = "$HOST";
    const char *p = (const char *)dv_buf_head(in);
    size_t n = dv_buf_size(in), hl = strlen(host);
    size_t i = 0, from = 0;
    while (i + sizeof marker - 1 <= n) {
        if (memcmp(p + i, marker, sizeof marker - 1) == 0) {
            if (dv_buf_append(out, p + from, i - from) != 0 || dv_buf_append(out, host, hl) != 0)
                return -1;
            i += sizeof marker - 1;
            from = i;
        } else {
            i++;
        }
    }
    return dv_buf_append(out, p + from, n - from);
}

/* ---- replies --------------------------------------------------------------------------------- */

static void reply_json(ctx *x, unsigned status, json_t *j)
{
    dv_buf_reset(&x->out);
    if (!j || json_dump_callback(j, json_to_buf, &x->out, JSON_COMPACT) != 0) {
        dv_buf_reset(&x->out);
        x->status = 0;
    } else {
        x->status = status;
        x->ctype = "application/json";
    }
    json_decref(j);
}

static void reply_text(ctx *x, unsigned status, const char *ctype, const char *text)
{
    dv_buf_reset(&x->out);
    if (dv_buf_append(&x->out, text, strlen(text)) != 0) {
        x->status = 0;
        return;
    }
    x->status = status;
    x->ctype = ctype;
}

/* Take over the JSON text in buf (already made) as the reply. */
static void reply_buf(ctx *x, unsigned status, dv_buf *buf)
{
    dv_buf_free(&x->out);
    x->out = *buf;
    dv_buf_init(buf);
    x->status = status;
    x->ctype = "application/json";
}

static void reply_empty(ctx *x, unsigned status)
{
    dv_buf_reset(&x->out);
    x->status = status;
    x->ctype = NULL;
}

/* {"errors":{field:msg}}, the shape of Couchbase's validation errors. */
static void reply_error(ctx *x, unsigned status, const char *field, const char *msg)
{
    reply_json(x, status, json_pack("{s:{s:s}}", "errors", field, msg));
}

static void reply_errorf(ctx *x, unsigned status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reply_errorf(ctx *x, unsigned status, const char *field, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_error(x, status, field, msg);
}

static void reply_not_found(ctx *x)
{
    reply_text(x, 404, "text/plain", NOT_FOUND_TEXT);
}

static void reply_forbidden(ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply_forbidden(ctx *x, const char *fmt, ...)
{
    char perm[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(perm, sizeof perm, fmt, ap);
    va_end(ap);
    reply_json(x, 403, json_pack("{s:s,s:[s]}", "message", FORBIDDEN_TEXT, "permissions", perm));
}

static void reply_oom(ctx *x)
{
    x->status = 0;
}

/* ---- changes and streams --------------------------------------------------------------------- */

static void wake(stream *s)
{
    char c = 1;
    ssize_t n = write(s->wake[1], &c, 1); /* a full pipe is already awake */
    (void)n;
}

void dv_rest_notify(dv_rest *r)
{
    pthread_mutex_lock(&r->mu);
    for (stream *s = r->streams; s; s = s->next) wake(s);
    pthread_mutex_unlock(&r->mu);
}

/* A REST change succeeded: tell the server and the streams. */
static void changed(ctx *x)
{
    if (x->r->changed) x->r->changed(x->r->ud);
    dv_rest_notify(x->r);
}

static void stream_free(void *cls)
{
    stream *s = cls;
    dv_rest *r = s->r;
    pthread_mutex_lock(&r->mu);
    if (s->prev)
        s->prev->next = s->next;
    else if (r->streams == s)
        r->streams = s->next;
    if (s->next) s->next->prev = s->prev;
    if (!r->streams) pthread_cond_broadcast(&r->drained);
    pthread_mutex_unlock(&r->mu);
    if (s->wake[0] >= 0) close(s->wake[0]);
    if (s->wake[1] >= 0) close(s->wake[1]);
    dv_free(s->bucket);
    dv_buf_free(&s->pending);
    dv_buf_free(&s->last);
    dv_free(s);
}

/* Queue the current config if it differs from the last one sent: 1 queued, 0 unchanged, -1 the
 * stream is over (bucket deleted, allocation failure). */
static int stream_build(stream *s)
{
    dv_cluster *c = s->r->cluster;
    dv_buf cfg = DV_BUF_INIT;
    dv_error rc;
    if (s->bucket) {
        dv_bucket *b = dv_cluster_get_bucket(c, s->bucket, s->bucket_len);
        if (!b) return -1;
        rc = dv_cluster_bucket_config_json(c, b, &cfg);
        dv_bucket_release(b);
    } else {
        rc = dv_cluster_config_json(c, &cfg);
    }
    if (rc != DV_ERR_OK) {
        dv_buf_free(&cfg);
        return -1;
    }
    if (dv_buf_size(&cfg) == dv_buf_size(&s->last) &&
        memcmp(dv_buf_head(&cfg), dv_buf_head(&s->last), dv_buf_size(&cfg)) == 0) {
        dv_buf_free(&cfg);
        return 0;
    }
    if (replace_host(&cfg, s->host, &s->pending) != 0 ||
        dv_buf_append(&s->pending, STREAM_DELIMITER, 4) != 0) {
        dv_buf_free(&cfg);
        return -1;
    }
    dv_buf_free(&s->last);
    s->last = cfg;
    return 1;
}

/* 1 if the client hung up (or sent anything: a streaming connection takes no more requests). */
static int peer_gone(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0) return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    return 1;
}

/* libmicrohttpd's content reader, on the connection's own thread: hand out queued bytes, else
 * build the next config, else sleep until woken or the client leaves. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *s = cls;
    (void)pos;
    for (;;) {
        size_t have = dv_buf_size(&s->pending);
        if (have > 0) {
            size_t n = have < max ? have : max;
            memcpy(buf, dv_buf_head(&s->pending), n);
            dv_buf_consume(&s->pending, n);
            return (ssize_t)n;
        }
        /* Drain before looking: a wake-up after this point leaves the pipe readable. */
        char junk[64];
        while (read(s->wake[0], junk, sizeof junk) > 0) {
        }
        pthread_mutex_lock(&s->r->mu);
        int stopping = s->r->stopping;
        pthread_mutex_unlock(&s->r->mu);
        if (stopping) return MHD_CONTENT_READER_END_OF_STREAM;
        int rc = stream_build(s);
        if (rc < 0) return MHD_CONTENT_READER_END_OF_STREAM;
        if (rc > 0) continue;
        struct pollfd p[2] = {{s->wake[0], POLLIN, 0}, {s->sock, POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR) return MHD_CONTENT_READER_END_WITH_ERROR;
        if ((p[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) && peer_gone(s->sock))
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
}

/* Start a streaming reply of the config of bucket (NULL: the cluster config). */
static void start_stream(ctx *x, const char *bucket, size_t bucket_len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(x->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    stream *s = dv_calloc(1, sizeof *s);
    if (!s || !ci) {
        dv_free(s);
        reply_oom(x);
        return;
    }
    s->r = x->r;
    s->sock = ci->connect_fd;
    s->wake[0] = s->wake[1] = -1;
    memcpy(s->host, x->host, sizeof s->host);
    if (bucket) {
        s->bucket = dv_strndup(bucket, bucket_len);
        s->bucket_len = bucket_len;
    }
    if ((bucket && !s->bucket) || pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        stream_free(s); /* not linked yet: unlinking is a no-op */
        reply_oom(x);
        return;
    }
    pthread_mutex_lock(&x->r->mu);
    s->next = x->r->streams;
    if (s->next) s->next->prev = s;
    x->r->streams = s;
    pthread_mutex_unlock(&x->r->mu);
    x->stream = s;
    x->status = 200;
    x->ctype = "application/json";
}

/* ---- authentication -------------------------------------------------------------------------- */

/* The cache key: HMAC-SHA256 under a per-process secret of (user length, user, password). */
static int auth_key(dv_rest *r, const char *user, size_t ulen, const char *pw, size_t plen,
                    unsigned char key[32])
{
    unsigned char msg[8 + DV_USER_MAX_NAME + AUTH_HEADER_MAX];
    if (ulen > DV_USER_MAX_NAME || plen > AUTH_HEADER_MAX) return -1;
    uint64_t ul = ulen;
    memcpy(msg, &ul, 8);
    memcpy(msg + 8, user, ulen);
    memcpy(msg + 8 + ulen, pw, plen);
    unsigned int klen = 0;
    unsigned char *ok = HMAC(EVP_sha256(), r->auth_secret, (int)sizeof r->auth_secret, msg,
                             8 + ulen + plen, key, &klen);
    OPENSSL_cleanse(msg, 8 + ulen + plen);
    return ok && klen == 32 ? 0 : -1;
}

static dv_user *auth_check(dv_rest *r, const char *user, size_t ulen, const char *pw, size_t plen)
{
    /* Read the generation first: a change racing with the check then only makes a stale
     * entry that no later lookup matches. */
    uint64_t gen = dv_users_generation(r->users);
    unsigned char key[32];
    int keyed = auth_key(r, user, ulen, pw, plen, key) == 0;
    dv_user *u = NULL;
    if (keyed) {
        pthread_mutex_lock(&r->auth_mu);
        for (size_t i = 0; i < AUTH_SLOTS && !u; i++) {
            auth_slot *a = &r->auth[i];
            if (a->user && a->gen == gen && CRYPTO_memcmp(a->key, key, sizeof key) == 0)
                u = dv_user_ref(a->user);
        }
        pthread_mutex_unlock(&r->auth_mu);
        if (u) return u;
    }
    u = dv_users_check_password(r->users, user, ulen, pw, plen);
    if (u && keyed) {
        pthread_mutex_lock(&r->auth_mu);
        auth_slot *a = NULL;
        for (size_t i = 0; i < AUTH_SLOTS && !a; i++)
            if (!r->auth[i].user || r->auth[i].gen != gen) a = &r->auth[i];
        if (!a) a = &r->auth[r->auth_next++ % AUTH_SLOTS];
        dv_user *old = a->user;
        memcpy(a->key, key, sizeof key);
        a->gen = gen;
        a->user = dv_user_ref(u);
        pthread_mutex_unlock(&r->auth_mu);
        dv_user_release(old);
    }
    OPENSSL_cleanse(key, sizeof key);
    return u;
}

static dv_user *authenticate(ctx *x)
{
    const char *h =
        MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h) return NULL;
    size_t hl = strlen(h);
    if (hl > AUTH_HEADER_MAX) return NULL;
    char buf[AUTH_HEADER_MAX];
    const char *user, *pw;
    size_t ulen, plen;
    dv_user *u = NULL;
    if (dv_rest_basic_auth(h, hl, buf, sizeof buf, &user, &ulen, &pw, &plen) == 0)
        u = auth_check(x->r, user, ulen, pw, plen);
    OPENSSL_cleanse(buf, sizeof buf);
    return u;
}

/* The host the client reached us by: the Host header's host, else the local address of the
 * connection. */
static void find_host(ctx *x)
{
    const char *h = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!h || dv_rest_host_parse(h, strlen(h), x->host, sizeof x->host) <= 0) {
        snprintf(x->host, sizeof x->host, "127.0.0.1");
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(x->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        char ip[INET6_ADDRSTRLEN];
        if (ci && getsockname(ci->connect_fd, (struct sockaddr *)&ss, &sl) == 0) {
            if (ss.ss_family == AF_INET) {
                const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
                if (inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip))
                    snprintf(x->host, sizeof x->host, "%s", ip);
            } else if (ss.ss_family == AF_INET6) {
                const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
                if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
                    if (inet_ntop(AF_INET, a->sin6_addr.s6_addr + 12, ip, sizeof ip))
                        snprintf(x->host, sizeof x->host, "%s", ip);
                } else if (inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip)) {
                    snprintf(x->host, sizeof x->host, "[%s]", ip);
                }
            }
        }
    }
    size_t n = strlen(x->host);
    if (n >= 2 && x->host[0] == '[')
        snprintf(x->host_bare, sizeof x->host_bare, "%.*s", (int)(n - 2), x->host + 1);
    else
        memcpy(x->host_bare, x->host, n + 1);
}

/* ---- cluster documents ----------------------------------------------------------------------- */

static json_t *node_json(ctx *x)
{
    dv_cluster *c = x->r->cluster;
    uint16_t kv, mgmt;
    dv_cluster_ports(c, &kv, &mgmt);
    char hostname[DV_REST_HOST_MAX + 8], otp[DV_REST_HOST_MAX + 8];
    snprintf(hostname, sizeof hostname, "%s:%u", x->host, (unsigned)mgmt);
    snprintf(otp, sizeof otp, "ns_1@%s", x->host_bare);
    /* configuredHostname: the address the node was set up with (official tooling reads it). */
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:[s],s:{s:i}}", "hostname",
                     hostname, "configuredHostname", hostname, "otpNode", otp, "version",
                     DV_REST_VERSION, "os", x->r->os, "status", "healthy", "clusterMembership",
                     "active", "recoveryType", "none", "thisNode", 1, "nodeUUID",
                     dv_cluster_node_uuid(c), "services", "kv", "ports", "direct", (int)kv);
}

static void serve_root(ctx *x)
{
    /* A browser opening the REST port gets the console, as Couchbase's redirects to /ui/. */
    const char *accept = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, "Accept");
    if (accept && strstr(accept, "text/html")) {
        snprintf(x->location, sizeof x->location, "/ui/index.html");
        reply_empty(x, 302);
        return;
    }
    reply_json(
        x, 200,
        json_pack("{s:s,s:s}", "server", "divan-server", "implementationVersion", DV_REST_VERSION));
}

static void serve_pools(ctx *x)
{
    const char *uuid = dv_cluster_uuid(x->r->cluster);
    char uri[96], suri[96];
    snprintf(uri, sizeof uri, "/pools/default?uuid=%s", uuid);
    snprintf(suri, sizeof suri, "/poolsStreaming/default?uuid=%s", uuid);
    int admin = dv_user_allow(x->user, DV_PERM_CLUSTER_ADMIN, NULL, NULL, NULL);
    int ro = !admin && dv_user_allow(x->user, DV_PERM_CLUSTER_READ, NULL, NULL, NULL);
    reply_json(x, 200,
               json_pack("{s:b,s:b,s:b,s:s,s:{s:s},s:s,s:[{s:s,s:s,s:s}]}", "isAdminCreds", admin,
                         "isROAdminCreds", ro, "isEnterprise", 1, "implementationVersion",
                         DV_REST_VERSION, "componentsVersion", "ns_server", DV_REST_VERSION, "uuid",
                         uuid, "pools", "name", "default", "uri", uri, "streamingUri", suri));
}

/* /pools/default and /pools/nodes: the node list and the buckets the user may see. */
static void serve_pool(ctx *x, const char *name)
{
    dv_cluster *c = x->r->cluster;
    dv_bucket **list = NULL;
    size_t n = 0;
    if (dv_cluster_list_buckets(c, &list, &n) != DV_ERR_OK) {
        reply_oom(x);
        return;
    }
    json_t *names = json_array();
    for (size_t i = 0; i < n && names; i++) {
        const char *bn = dv_bucket_name(list[i]);
        if (!dv_user_allow(x->user, DV_PERM_SELECT, bn, NULL, NULL)) continue;
        if (json_array_append_new(names, json_pack("{s:s,s:s}", "bucketName", bn, "uuid",
                                                   dv_bucket_uuid(list[i]))) != 0) {
            json_decref(names);
            names = NULL;
        }
    }
    dv_cluster_list_free(list, n);
    const char *uuid = dv_cluster_uuid(c);
    char buckets[96], services[96];
    snprintf(buckets, sizeof buckets, "/pools/default/buckets?uuid=%s", uuid);
    snprintf(services, sizeof services, "/pools/default/nodeServices?uuid=%s", uuid);
    cluster_settings set;
    pthread_mutex_lock(&x->r->set_mu);
    set = x->r->set;
    pthread_mutex_unlock(&x->r->set_mu);
    json_t *o =
        json_pack("{s:s,s:s,s:[o],s:o,s:{s:s,s:s,s:s},s:s,s:b,s:s}", "name", name, "clusterName",
                  set.cluster_name[0] ? set.cluster_name : dv_cluster_name(c), "nodes",
                  node_json(x), "bucketNames", names, "buckets", "uri", buckets, "terseBucketsBase",
                  "/pools/default/b/", "terseStreamingBucketsBase", "/pools/default/bs/",
                  "nodeServicesUri", services, "balanced", 1, "rebalanceStatus", "none");
    for (size_t i = 0; o && i < DV_REST_QUOTAS; i++) {
        if (json_object_set_new(o, quota_defs[i].field, json_integer(set.quota[i])) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    reply_json(x, 200, o);
}

static void reply_config(ctx *x, dv_error rc, dv_buf *cfg)
{
    dv_buf out = DV_BUF_INIT;
    if (rc != DV_ERR_OK || replace_host(cfg, x->host, &out) != 0) {
        dv_buf_free(&out);
        reply_oom(x);
        return;
    }
    reply_buf(x, 200, &out);
}

static void serve_node_services(ctx *x)
{
    dv_buf cfg = DV_BUF_INIT;
    dv_error rc = dv_cluster_config_json(x->r->cluster, &cfg);
    reply_config(x, rc, &cfg);
    dv_buf_free(&cfg);
}

/* The bucket named by path segment i if the user holds perms on it (else 403 with the
 * permission Couchbase would name) and it exists (else 404). */
static dv_bucket *bucket_for(ctx *x, unsigned perms, const char *perm_fmt)
{
    const char *name = x->seg[SEG_BUCKET];
    if (!dv_user_allow(x->user, perms, name, NULL, NULL)) {
        char safe[128];
        reply_forbidden(x, perm_fmt, printable(name, x->seglen[SEG_BUCKET], safe, sizeof safe));
        return NULL;
    }
    dv_bucket *b = dv_cluster_get_bucket(x->r->cluster, name, x->seglen[SEG_BUCKET]);
    if (!b) reply_not_found(x);
    return b;
}

static void serve_terse(ctx *x)
{
    dv_bucket *b = bucket_for(x, DV_PERM_SELECT, "cluster.bucket[%s].settings!read");
    if (!b) return;
    dv_buf cfg = DV_BUF_INIT;
    dv_error rc = dv_cluster_bucket_config_json(x->r->cluster, b, &cfg);
    dv_bucket_release(b);
    reply_config(x, rc, &cfg);
    dv_buf_free(&cfg);
}

static void serve_terse_stream(ctx *x)
{
    dv_bucket *b = bucket_for(x, DV_PERM_SELECT, "cluster.bucket[%s].settings!read");
    if (!b) return;
    dv_bucket_release(b);
    start_stream(x, x->seg[SEG_BUCKET], x->seglen[SEG_BUCKET]);
}

/* ---- buckets --------------------------------------------------------------------------------- */

/* The capabilities the bucket's config lists (one source of truth: bucket.c). */
static json_t *bucket_caps(dv_cluster *c, dv_bucket *b)
{
    dv_buf cfg = DV_BUF_INIT;
    json_t *caps = NULL;
    if (dv_cluster_bucket_config_json(c, b, &cfg) == DV_ERR_OK) {
        json_t *j = json_loadb((const char *)dv_buf_head(&cfg), dv_buf_size(&cfg), 0, NULL);
        caps = json_object_get(j, "bucketCapabilities");
        json_incref(caps);
        json_decref(j);
    }
    dv_buf_free(&cfg);
    return caps ? caps : json_array();
}

/* The bucket object of kv-protocol.md 8.2, with every field the official core requires. */
/* Mutations since the bucket was made: the sum of its vbuckets' high seqnos. The console draws
 * ops/s from its change between two reads. */
static uint64_t bucket_mutations(dv_bucket *b)
{
    dv_store *st = dv_bucket_store(b);
    uint64_t sum = 0;
    for (unsigned i = 0; i < dv_store_nvb(st); i++) {
        dv_vbucket *vb = dv_store_lock(st, (uint16_t)i);
        sum += dv_vbucket_high_seqno(vb);
        dv_vbucket_unlock(vb);
    }
    return sum;
}

static json_t *bucket_json(ctx *x, dv_bucket *b)
{
    dv_bucket_settings s;
    dv_bucket_settings_get(b, &s);
    const char *name = dv_bucket_name(b), *uuid = dv_bucket_uuid(b);
    char esc[3 * DV_BUCKET_NAME_MAX + 1], uri[512], suri[512], flush[512], muid[20];
    uri_escape(name, esc, sizeof esc);
    snprintf(uri, sizeof uri, "/pools/default/buckets/%s?bucket_uuid=%s", esc, uuid);
    snprintf(suri, sizeof suri, "/pools/default/bucketsStreaming/%s?bucket_uuid=%s", esc, uuid);
    snprintf(flush, sizeof flush, "/pools/default/buckets/%s/controller/doFlush", esc);
    snprintf(muid, sizeof muid, "%llx", (unsigned long long)dv_bucket_manifest_uid(b));
    dv_store_stats st;
    dv_store_stats_get(dv_bucket_store(b), &st);
    json_int_t quota = (json_int_t)s.ram_quota_mb << 20;
    json_t *controllers = s.flush_enabled ? json_pack("{s:s}", "flush", flush) : json_object();
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:I,s:I},s:i,s:b,s:I,s:s,s:s,s:s,s:s,s:o,s:[o],s:o,s:s,"
        "s:i,s:s,s:{s:f,s:i,s:i,s:I,s:i,s:I,s:I}}",
        "name", name, "uuid", uuid, "bucketType",
        s.type == DV_BUCKET_EPHEMERAL ? "ephemeral" : "membase", "nodeLocator", "vbucket", "uri",
        uri, "streamingUri", suri, "quota", "ram", quota, "rawRAM", quota, "replicaNumber",
        (int)s.num_replicas, "replicaIndex", 0, "maxTTL", (json_int_t)s.max_ttl, "evictionPolicy",
        dv_eviction_policy_name(s.eviction_policy), "conflictResolutionType", "seqno",
        "compressionMode", dv_compression_mode_name(s.compression_mode), "durabilityMinLevel",
        dv_durability_level_name(s.durability_min_level), "controllers", controllers, "nodes",
        node_json(x), "bucketCapabilities", bucket_caps(x->r->cluster, b), "bucketCapabilitiesVer",
        "", "numVBuckets", DV_BUCKET_NVB, "collectionsManifestUid", muid, "basicStats",
        "quotaPercentUsed", quota ? (double)st.bytes * 100.0 / (double)quota : 0.0, "opsPerSec", 0,
        "diskFetches", 0, "itemCount", (json_int_t)st.items, "diskUsed", 0, "dataUsed",
        (json_int_t)st.bytes, "memUsed", (json_int_t)st.bytes);
    if (o && json_object_set_new(json_object_get(o, "basicStats"), "mutations",
                                 json_integer((json_int_t)bucket_mutations(b))) != 0) {
        json_decref(o);
        return NULL;
    }
    if (o && s.type == DV_BUCKET_COUCHBASE &&
        (json_object_set_new(o, "storageBackend", json_string(s.magma ? "magma" : "couchstore")) ||
         (s.magma && (json_object_set_new(o, "historyRetentionCollectionDefault",
                                          json_boolean(s.history_default)) ||
                      json_object_set_new(o, "historyRetentionBytes",
                                          json_integer((json_int_t)s.history_bytes)) ||
                      json_object_set_new(o, "historyRetentionSeconds",
                                          json_integer((json_int_t)s.history_seconds)))))) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

static void serve_buckets(ctx *x)
{
    dv_bucket **list = NULL;
    size_t n = 0;
    if (dv_cluster_list_buckets(x->r->cluster, &list, &n) != DV_ERR_OK) {
        reply_oom(x);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n && arr; i++) {
        if (!dv_user_allow(x->user, DV_PERM_SELECT, dv_bucket_name(list[i]), NULL, NULL)) continue;
        if (json_array_append_new(arr, bucket_json(x, list[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    dv_cluster_list_free(list, n);
    reply_json(x, 200, arr);
}

static void serve_bucket(ctx *x)
{
    dv_bucket *b = bucket_for(x, DV_PERM_SELECT, "cluster.bucket[%s].settings!read");
    if (!b) return;
    reply_json(x, 200, bucket_json(x, b));
    dv_bucket_release(b);
}

/* Parse the body as a form; on failure answer 400 and return -1. */
static int read_form(ctx *x, dv_form *f)
{
    char err[128];
    dv_error rc = dv_form_parse(f, (const char *)dv_buf_head(&x->q->body), dv_buf_size(&x->q->body),
                                err, sizeof err);
    if (rc == DV_ERR_NO_MEMORY) {
        reply_oom(x);
        return -1;
    }
    if (rc != DV_ERR_OK) {
        reply_error(x, 400, "_", err);
        return -1;
    }
    const dv_form_field *dup = dv_form_duplicate(f);
    if (dup) {
        char safe[128];
        reply_error(x, 400, printable(dup->name, dup->name_len, safe, sizeof safe),
                    "Key specified more than once");
        dv_form_clear(f);
        return -1;
    }
    return 0;
}

static void add_error(json_t *errs, const char *field, const char *msg)
{
    json_object_set_new(errs, field, json_string(msg));
}

/* An unsigned decimal in lo..hi. */
static int form_u32(const dv_form_field *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
    if (v->value_len == 0 || v->value_len > 10) return -1;
    uint64_t n = 0;
    for (size_t i = 0; i < v->value_len; i++) {
        if (v->value[i] < '0' || v->value[i] > '9') return -1;
        n = n * 10 + (uint64_t)(v->value[i] - '0');
    }
    if (n < lo || n > hi) return -1;
    *out = (uint32_t)n;
    return 0;
}

static int value_is(const dv_form_field *v, const char *s)
{
    size_t n = strlen(s);
    return v->value_len == n && memcmp(v->value, s, n) == 0;
}

/* "0"/"1" (and "false"/"true"). */
static int form_flag(const dv_form_field *v, int *out)
{
    if (value_is(v, "1") || value_is(v, "true"))
        *out = 1;
    else if (value_is(v, "0") || value_is(v, "false"))
        *out = 0;
    else
        return -1;
    return 0;
}

/* Apply the bucket form fields of kv-protocol.md 8.2 to s (creating: a new bucket; else an
 * update of the bucket whose settings s started from), collecting errors by field. Fields divan
 * cannot vary are accepted with the one value it has; unknown fields are ignored. */
static void apply_bucket_form(const dv_form *f, dv_bucket_settings *s, int creating, json_t *errs)
{
    const dv_form_field *v;
    uint32_t u;
    int flag;
    if ((v = dv_form_get(f, "name"))) {
        if (creating) {
            if (v->value_len == 0)
                add_error(errs, "name", "Bucket name cannot be empty");
            else if (v->value_len > DV_BUCKET_NAME_MAX)
                add_error(errs, "name", "Bucket name cannot exceed 100 characters");
            else if (v->value[0] == '.')
                add_error(errs, "name", "Bucket name cannot start with dot.");
            else if (!dv_bucket_name_valid(v->value, v->value_len) ||
                     strlen(v->value) != v->value_len)
                add_error(errs, "name",
                          "Bucket name can only contain characters in range A-Z, a-z, 0-9 as "
                          "well as underscore, period, dash & percent. Consult the "
                          "documentation.");
            else
                memcpy(s->name, v->value, v->value_len + 1);
        } else if (strlen(s->name) != v->value_len || memcmp(s->name, v->value, v->value_len)) {
            add_error(errs, "name", "Bucket name cannot be changed");
        }
    } else if (creating) {
        add_error(errs, "name", "Bucket name needs to be specified");
    }
    int type_ok = 1;
    if ((v = dv_form_get(f, "bucketType"))) {
        dv_bucket_type t;
        if (value_is(v, "memcached")) {
            add_error(errs, "bucketType", "memcached buckets are not supported by divan-server");
            type_ok = 0;
        } else if (dv_bucket_type_parse(v->value, v->value_len, &t) != 0) {
            add_error(errs, "bucketType", "invalid bucket type");
            type_ok = 0;
        } else if (!creating && t != s->type) {
            add_error(errs, "bucketType", "Cannot change bucket type.");
            type_ok = 0;
        } else {
            s->type = t;
        }
    }
    /* ns_server reads "ramQuota" (MiB) first and "ramQuotaMB" for backward compatibility,
     * and reports either under "ramQuota". */
    const char *quota_field = dv_form_get(f, "ramQuota") ? "ramQuota" : "ramQuotaMB";
    if ((v = dv_form_get(f, quota_field))) {
        if (form_u32(v, 0, UINT32_MAX, &u) != 0)
            add_error(errs, "ramQuota",
                      "The RAM Quota must be specified and must be a positive integer.");
        else if (u < 100)
            add_error(errs, "ramQuota", "RAM quota cannot be less than 100 MiB");
        else
            s->ram_quota_mb = u;
    }
    if ((v = dv_form_get(f, "replicaNumber"))) {
        if (form_u32(v, 0, UINT32_MAX, &u) != 0)
            add_error(errs, "replicaNumber",
                      "The replica number must be specified and must be a non-negative "
                      "integer.");
        else if (u > 3)
            add_error(errs, "replicaNumber", "Replica number larger than 3 is not supported.");
        else
            s->num_replicas = u;
    }
    if ((v = dv_form_get(f, "replicaIndex")) && form_flag(v, &flag) != 0)
        add_error(errs, "replicaIndex", "replicaIndex can only be 1 or 0");
    if ((v = dv_form_get(f, "maxTTL"))) {
        if (form_u32(v, 0, DV_BUCKET_MAX_TTL, &u) != 0)
            add_error(errs, "maxTTL", "Max TTL must be an integer between 0 and 2147483647");
        else
            s->max_ttl = u;
    }
    if ((v = dv_form_get(f, "flushEnabled"))) {
        if (form_flag(v, &flag) != 0)
            add_error(errs, "flushEnabled", "flushEnabled can only be 1 or 0");
        else
            s->flush_enabled = flag;
    }
    int eviction_given = 0;
    if ((v = dv_form_get(f, "evictionPolicy"))) {
        if (dv_eviction_policy_parse(v->value, v->value_len, &s->eviction_policy) != 0)
            add_error(errs, "evictionPolicy",
                      "Eviction policy must be one of valueOnly, fullEviction (couchbase) or "
                      "noEviction, nruEviction (ephemeral)");
        else
            eviction_given = 1;
    }
    if ((v = dv_form_get(f, "compressionMode")) &&
        dv_compression_mode_parse(v->value, v->value_len, &s->compression_mode) != 0)
        add_error(errs, "compressionMode",
                  "compressionMode can be set to 'off', 'passive' or 'active'");
    if ((v = dv_form_get(f, "durabilityMinLevel")) &&
        dv_durability_level_parse(v->value, v->value_len, &s->durability_min_level) != 0)
        add_error(errs, "durabilityMinLevel",
                  "Durability minimum level must be one of none, majority, "
                  "majorityAndPersistActive or persistToMajority");
    if ((v = dv_form_get(f, "conflictResolutionType"))) {
        if (value_is(v, "lww") || value_is(v, "custom"))
            add_error(errs, "conflictResolutionType",
                      "divan-server supports only seqno conflict resolution");
        else if (!value_is(v, "seqno"))
            add_error(errs, "conflictResolutionType",
                      "Conflict resolution type must be 'seqno', 'lww' or 'custom'");
    }
    if ((v = dv_form_get(f, "storageBackend"))) {
        if (value_is(v, "magma") || value_is(v, "couchstore"))
            s->magma = value_is(v, "magma");
        else
            add_error(errs, "storageBackend", "storageBackend must be couchstore or magma");
    }
    if ((v = dv_form_get(f, "numVBuckets")) &&
        (form_u32(v, 0, UINT32_MAX, &u) != 0 || u != DV_BUCKET_NVB))
        add_error(errs, "numVBuckets", "divan-server buckets have 1024 vbuckets");
    /* History retention (Couchbase Server 7.2+): magma buckets only; on couchstore only the
     * values that change nothing are taken. */
    int magma = s->magma && s->type == DV_BUCKET_COUCHBASE;
    if ((v = dv_form_get(f, "historyRetentionCollectionDefault"))) {
        if (!value_is(v, "true") && !value_is(v, "false"))
            add_error(errs, "historyRetentionCollectionDefault",
                      "historyRetentionCollectionDefault must be true or false");
        else if (!magma && value_is(v, "true"))
            add_error(errs, "historyRetentionCollectionDefault",
                      "History retention is supported only on magma buckets");
        else
            s->history_default = value_is(v, "true");
    }
    static const char *const history[] = {"historyRetentionBytes", "historyRetentionSeconds"};
    for (size_t i = 0; i < 2; i++) {
        if (!(v = dv_form_get(f, history[i]))) continue;
        if (form_u32(v, 0, UINT32_MAX, &u) != 0)
            add_error(errs, history[i], "The value must be a non-negative integer");
        else if (!magma && u != 0)
            add_error(errs, history[i], "History retention is supported only on magma buckets");
        else if (i == 0)
            s->history_bytes = u;
        else
            s->history_seconds = u;
    }
    /* Fields divan-server has no use for (those of other services, auto-compaction, ...) are
     * ignored, as ns_server ignores the ones it does not read, but not silently: each is
     * logged. */
    static const char *const known[] = {"name",
                                        "bucketType",
                                        "ramQuota",
                                        "ramQuotaMB",
                                        "replicaNumber",
                                        "replicaIndex",
                                        "maxTTL",
                                        "flushEnabled",
                                        "evictionPolicy",
                                        "compressionMode",
                                        "durabilityMinLevel",
                                        "conflictResolutionType",
                                        "storageBackend",
                                        "numVBuckets",
                                        "historyRetentionCollectionDefault",
                                        "historyRetentionBytes",
                                        "historyRetentionSeconds"};
    for (size_t i = 0; i < f->n; i++) {
        int used = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0] && !used; k++)
            used = strcmp(f->v[i].name, known[k]) == 0;
        char shown[128];
        if (!used)
            dv_log(DV_LOG_WARN, "rest", "bucket %s: the field %s is not used by divan-server",
                   s->name[0] ? s->name : "(new)",
                   printable(f->v[i].name, f->v[i].name_len, shown, sizeof shown));
    }
    if (creating && type_ok && s->type == DV_BUCKET_EPHEMERAL && !eviction_given)
        s->eviction_policy = DV_EVICTION_NO;
    /* The cross-field rules, under the field a user would change. */
    if (json_object_size(errs) == 0) {
        char msg[256];
        if (dv_bucket_settings_validate(s, msg, sizeof msg) != DV_ERR_OK)
            add_error(errs, eviction_given ? "evictionPolicy" : "_", msg);
    }
}

static void create_bucket(ctx *x)
{
    if (!dv_user_allow(x->user, DV_PERM_CLUSTER_ADMIN, NULL, NULL, NULL)) {
        reply_forbidden(x, "cluster.buckets!create");
        return;
    }
    dv_form f;
    if (read_form(x, &f) != 0) return;
    dv_bucket_settings s;
    dv_bucket_settings_default(&s, "");
    s.num_replicas = 1; /* ns_server's default when replicaNumber is not given */
    json_t *errs = json_object();
    if (!errs) {
        dv_form_clear(&f);
        reply_oom(x);
        return;
    }
    apply_bucket_form(&f, &s, 1, errs);
    dv_form_clear(&f);
    if (json_object_size(errs) > 0) {
        reply_json(x, 400, json_pack("{s:o}", "errors", errs));
        return;
    }
    json_decref(errs);
    char msg[256] = "";
    dv_error rc = dv_cluster_create_bucket(x->r->cluster, &s, NULL, msg, sizeof msg);
    if (rc == DV_ERR_BUCKET_EXISTS) {
        reply_error(x, 400, "name", "Bucket with given name already exists");
        return;
    }
    if (rc == DV_ERR_INVALID_ARGUMENT) {
        reply_error(x, 400, "_", msg);
        return;
    }
    if (rc != DV_ERR_OK) {
        reply_oom(x);
        return;
    }
    char esc[3 * DV_BUCKET_NAME_MAX + 1];
    uri_escape(s.name, esc, sizeof esc);
    snprintf(x->location, sizeof x->location, "/pools/default/buckets/%s", esc);
    reply_empty(x, 202);
    changed(x);
}

static void update_bucket(ctx *x)
{
    dv_bucket *b = bucket_for(x, DV_PERM_CLUSTER_ADMIN, "cluster.bucket[%s].settings!write");
    if (!b) return;
    dv_form f;
    json_t *errs = NULL;
    if (read_form(x, &f) != 0) goto out;
    errs = json_object();
    if (!errs) {
        dv_form_clear(&f);
        reply_oom(x);
        goto out;
    }
    dv_bucket_settings s;
    dv_bucket_settings_get(b, &s);
    apply_bucket_form(&f, &s, 0, errs);
    dv_form_clear(&f);
    if (json_object_size(errs) > 0) {
        reply_json(x, 400, json_pack("{s:O}", "errors", errs));
        goto out;
    }
    char msg[256] = "";
    dv_error rc = dv_bucket_update(b, &s, msg, sizeof msg);
    if (rc == DV_ERR_INVALID_ARGUMENT) {
        reply_error(x, 400, "_", msg);
    } else if (rc != DV_ERR_OK) {
        reply_oom(x);
    } else {
        reply_empty(x, 200);
        changed(x);
    }
out:
    json_decref(errs);
    dv_bucket_release(b);
}

static void delete_bucket(ctx *x)
{
    const char *name = x->seg[SEG_BUCKET];
    char safe[128];
    if (!dv_user_allow(x->user, DV_PERM_CLUSTER_ADMIN, name, NULL, NULL)) {
        reply_forbidden(x, "cluster.bucket[%s]!delete",
                        printable(name, x->seglen[SEG_BUCKET], safe, sizeof safe));
        return;
    }
    if (dv_cluster_delete_bucket(x->r->cluster, name) != DV_ERR_OK) {
        /* ns_server since MB-60487: the bucket routes answer a missing bucket alike. */
        reply_not_found(x);
        return;
    }
    reply_empty(x, 200);
    changed(x);
}

static void flush_bucket(ctx *x)
{
    dv_bucket *b = bucket_for(x, DV_PERM_MANAGE, "cluster.bucket[%s]!flush");
    if (!b) return;
    dv_error rc = dv_bucket_flush(b);
    dv_bucket_release(b);
    if (rc == DV_ERR_BUCKET_NOT_FLUSHABLE) {
        reply_json(x, 400, json_pack("{s:s}", "_", "Flush is disabled for the bucket"));
        return;
    }
    if (rc != DV_ERR_OK) {
        reply_oom(x);
        return;
    }
    reply_empty(x, 200);
}

/* ---- scopes and collections ------------------------------------------------------------------ */

static void reply_uid(ctx *x, uint64_t uid)
{
    char hex[20];
    snprintf(hex, sizeof hex, "%llx", (unsigned long long)uid);
    reply_json(x, 200, json_pack("{s:s}", "uid", hex));
    changed(x);
}

/* The answers of Couchbase's collections API to a failed change. */
static void reply_manifest_error(ctx *x, dv_error rc, const char *scope, const char *collection)
{
    char s[128], c[128] = "";
    printable(scope, strlen(scope), s, sizeof s);
    if (collection) printable(collection, strlen(collection), c, sizeof c);
    if (rc == DV_ERR_SCOPE_EXISTS)
        reply_errorf(x, 400, "_", "Scope with name \"%s\" already exists", s);
    else if (rc == DV_ERR_COLLECTION_EXISTS)
        reply_errorf(x, 400, "_", "Collection with name \"%s\" in scope \"%s\" already exists", c,
                     s);
    else if (rc == DV_ERR_SCOPE_NOT_FOUND)
        reply_errorf(x, 404, "_", "Scope with name \"%s\" is not found", s);
    else if (rc == DV_ERR_COLLECTION_NOT_FOUND)
        reply_errorf(x, 404, "_", "Collection with name \"%s\" in scope \"%s\" is not found", c, s);
    else if (rc == DV_ERR_NO_MEMORY)
        reply_oom(x);
    else
        reply_errorf(x, 400, "_", "Unknown error %s", dv_strerror(rc));
}

/* Couchbase's checks of a new scope or collection name; NULL if it is fine. */
static const char *name_problem(const dv_form_field *v, char *buf, size_t cap)
{
    if (v->value_len < 1 || v->value_len > DV_MANIFEST_NAME_MAX) {
        snprintf(buf, cap, "Name length (%zu) must be in the range from 1 to 251, inclusive",
                 v->value_len);
        return buf;
    }
    if (!dv_manifest_name_valid(v->value, v->value_len, 0)) return NAME_CHARS_TEXT;
    if (v->value[0] == '_' || v->value[0] == '%') return "First character must not be _ or %";
    return NULL;
}

/* What a collections request is: a new scope, a new collection, or a collection's update. */
enum { FORM_SCOPE, FORM_COLLECTION, FORM_UPDATE };

/* Check the form against the fields a collections request takes: the name (required, except in
 * an update, whose name is the path's) and, for collections, maxTTL and history (history=true
 * only on a magma bucket, as Couchbase Server 7.2+). Fills spec; answers 400 and returns -1 on
 * any problem. */
static int collections_form(ctx *x, dv_bucket *b, const dv_form *f, int kind,
                            dv_collection_spec *spec)
{
    int collection = kind != FORM_SCOPE;
    json_t *errs = json_object();
    if (!errs) {
        reply_oom(x);
        return -1;
    }
    char buf[128];
    const dv_form_field *v = dv_form_get(f, "name");
    if (kind != FORM_UPDATE) {
        const char *problem = v ? name_problem(v, buf, sizeof buf) : "The value must be supplied";
        if (problem) add_error(errs, "name", problem);
    }
    memset(spec, 0, sizeof *spec);
    dv_bucket_settings bs;
    dv_bucket_settings_get(b, &bs);
    int magma = bs.magma && bs.type == DV_BUCKET_COUCHBASE;
    for (size_t i = 0; i < f->n; i++) {
        const dv_form_field *fl = &f->v[i];
        if (kind != FORM_UPDATE && strcmp(fl->name, "name") == 0 && fl->name_len == 4) continue;
        if (collection && fl->name_len == 6 && strcmp(fl->name, "maxTTL") == 0) {
            char *end = NULL;
            errno = 0;
            int digits = fl->value_len > 0 &&
                         (fl->value[0] == '-' || (fl->value[0] >= '0' && fl->value[0] <= '9'));
            long long t = digits ? strtoll(fl->value, &end, 10) : 0;
            if (!end || *end || errno || strlen(fl->value) != fl->value_len)
                add_error(errs, "maxTTL", "The value must be an integer");
            else if (t < -1 || t > DV_BUCKET_MAX_TTL)
                add_error(errs, "maxTTL", "The value must be in range from -1 to 2147483647");
            spec->has_max_ttl = 1;
            spec->max_ttl = (int32_t)(t < -1 || t > DV_BUCKET_MAX_TTL ? 0 : t);
        } else if (collection && fl->name_len == 7 && strcmp(fl->name, "history") == 0) {
            if (!magma && value_is(fl, "true")) {
                add_error(errs, "history", "History retention is supported only on magma buckets");
            } else if (value_is(fl, "true") || value_is(fl, "false")) {
                spec->has_history = 1;
                spec->history = value_is(fl, "true");
            } else {
                add_error(errs, "history", "The value must be one of the following: [true,false]");
            }
        } else {
            add_error(errs, printable(fl->name, fl->name_len, buf, sizeof buf), "Unsupported key");
        }
    }
    if (json_object_size(errs) == 0) {
        json_decref(errs);
        /* A new collection of a magma bucket takes the bucket's history default. */
        if (kind == FORM_COLLECTION && magma && !spec->has_history) {
            spec->has_history = 1;
            spec->history = bs.history_default;
        }
        return 0;
    }
    reply_json(x, 400, json_pack("{s:o}", "errors", errs));
    return -1;
}

static void serve_scopes(ctx *x)
{
    dv_bucket *b = bucket_for(x, DV_PERM_SELECT, "cluster.collection[%s:.:.].collections!read");
    if (!b) return;
    dv_buf out = DV_BUF_INIT;
    if (dv_bucket_manifest_json(b, &out) == DV_ERR_OK)
        reply_buf(x, 200, &out);
    else
        reply_oom(x);
    dv_buf_free(&out);
    dv_bucket_release(b);
}

static void create_scope(ctx *x)
{
    dv_bucket *b = bucket_for(x, DV_PERM_MANAGE, "cluster.collection[%s:.:.].collections!write");
    if (!b) return;
    dv_form f;
    dv_collection_spec spec;
    if (read_form(x, &f) == 0) {
        if (collections_form(x, b, &f, FORM_SCOPE, &spec) == 0) {
            const char *name = dv_form_get(&f, "name")->value;
            uint64_t uid = 0;
            dv_error rc = dv_bucket_create_scope(b, name, &uid);
            if (rc == DV_ERR_OK)
                reply_uid(x, uid);
            else
                reply_manifest_error(x, rc, name, NULL);
        }
        dv_form_clear(&f);
    }
    dv_bucket_release(b);
}

static void drop_scope(ctx *x)
{
    dv_bucket *b = bucket_for(x, DV_PERM_MANAGE, "cluster.collection[%s:.:.].collections!write");
    if (!b) return;
    const char *scope = x->seg[SEG_SCOPE];
    uint64_t uid = 0;
    dv_error rc = DV_ERR_OK;
    if (strcmp(scope, "_default") == 0)
        reply_error(x, 400, "_", "Deleting _default scope is not allowed");
    else if ((rc = dv_bucket_drop_scope(b, scope, &uid)) == DV_ERR_OK)
        reply_uid(x, uid);
    else
        reply_manifest_error(x, rc, scope, NULL);
    dv_bucket_release(b);
}

/* Collections need DV_PERM_MANAGE on their scope (a scope_admin may manage its own scope). */
static dv_bucket *bucket_for_scope(ctx *x)
{
    const char *name = x->seg[SEG_BUCKET], *scope = x->seg[SEG_SCOPE];
    if (!dv_user_allow(x->user, DV_PERM_MANAGE, name, scope, NULL)) {
        char sb[128], ss[128];
        reply_forbidden(x, "cluster.collection[%s:%s:.].collections!write",
                        printable(name, x->seglen[SEG_BUCKET], sb, sizeof sb),
                        printable(scope, x->seglen[SEG_SCOPE], ss, sizeof ss));
        return NULL;
    }
    dv_bucket *b = dv_cluster_get_bucket(x->r->cluster, name, x->seglen[SEG_BUCKET]);
    if (!b) reply_not_found(x);
    return b;
}

/* A new collection (the form's name), or the path's collection updated. */
static void change_collection(ctx *x, int kind)
{
    dv_bucket *b = bucket_for_scope(x);
    if (!b) return;
    const char *scope = x->seg[SEG_SCOPE];
    dv_form f;
    dv_collection_spec spec;
    if (read_form(x, &f) == 0) {
        if (collections_form(x, b, &f, kind, &spec) == 0) {
            const char *name =
                kind == FORM_UPDATE ? x->seg[SEG_COLLECTION] : dv_form_get(&f, "name")->value;
            uint64_t uid = 0;
            dv_error rc = kind == FORM_UPDATE
                              ? dv_bucket_update_collection(b, scope, name, &spec, &uid)
                              : dv_bucket_create_collection(b, scope, name, &spec, &uid);
            if (rc == DV_ERR_OK)
                reply_uid(x, uid);
            else
                reply_manifest_error(x, rc, scope, name);
        }
        dv_form_clear(&f);
    }
    dv_bucket_release(b);
}

static void drop_collection(ctx *x)
{
    dv_bucket *b = bucket_for_scope(x);
    if (!b) return;
    const char *scope = x->seg[SEG_SCOPE], *name = x->seg[SEG_COLLECTION];
    uint64_t uid = 0;
    dv_error rc = dv_bucket_drop_collection(b, scope, name, &uid);
    if (rc == DV_ERR_OK)
        reply_uid(x, uid);
    else
        reply_manifest_error(x, rc, scope, name);
    dv_bucket_release(b);
}

/* ---- who am I, and the cluster-initialisation calls ------------------------------------------ */

/* GET /whoami: the authenticated user as ns_server describes one. A user holding exactly the
 * admin role is reported in the "admin" domain (Couchbase's built-in administrator), any other
 * in "local". */
static void serve_whoami(ctx *x)
{
    const dv_roles *rs = dv_user_roles(x->user);
    json_t *roles = json_array();
    for (size_t i = 0; roles && i < rs->n; i++) {
        const dv_role *r = &rs->v[i];
        json_t *o = json_pack("{s:s}", "role", dv_role_name(r->kind));
        if (!o || (r->bucket && json_object_set_new(o, "bucket_name", json_string(r->bucket))) ||
            (r->scope && json_object_set_new(o, "scope_name", json_string(r->scope))) ||
            (r->collection &&
             json_object_set_new(o, "collection_name", json_string(r->collection))) ||
            json_array_append_new(roles, o) != 0) {
            json_decref(roles);
            roles = NULL;
        }
    }
    int admin = rs->n == 1 && rs->v[0].kind == DV_ROLE_ADMIN;
    const char *display = dv_user_display_name(x->user);
    reply_json(x, 200,
               json_pack("{s:s,s:s,s:o,s:s}", "id", dv_user_name(x->user), "domain",
                         admin ? "admin" : "local", "roles", roles, "name",
                         display ? display : ""));
}

/* Validation as ns_server's validator does it: every problem is collected by field and answered
 * together as {"errors":{field:msg}} with 400. */
static void add_errorf(json_t *errs, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_errorf(json_t *errs, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    add_error(errs, field, msg);
}

/* A decimal integer (optional '-') of at most 18 digits; -1 if it is not one. */
static int form_int(const dv_form_field *v, long long *out)
{
    size_t i = v->value_len && v->value[0] == '-' ? 1 : 0;
    if (v->value_len == i || v->value_len - i > 18) return -1;
    long long n = 0;
    for (; i < v->value_len; i++) {
        if (v->value[i] < '0' || v->value[i] > '9') return -1;
        n = n * 10 + (v->value[i] - '0');
    }
    *out = v->value[0] == '-' ? -n : n;
    return 0;
}

/* validator:integer(Name, Min, Max): 1 with *out set when the field is there and valid. */
static int check_int(const dv_form *f, const char *name, long long lo, long long hi,
                     const char *hi_text, json_t *errs, long long *out)
{
    const dv_form_field *v = dv_form_get(f, name);
    if (!v) return 0;
    if (form_int(v, out) != 0) {
        add_error(errs, name, "The value must be an integer");
        return 0;
    }
    if (*out < lo || *out > hi) {
        add_errorf(errs, name, "The value must be in range from %lld to %s", lo, hi_text);
        return 0;
    }
    return 1;
}

/* validator:one_of with a comma-separated list of the values. */
static int check_one_of(const dv_form *f, const char *name, const char *list, json_t *errs,
                        const dv_form_field **out)
{
    const dv_form_field *v = dv_form_get(f, name);
    if (!v) return 0;
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == v->value_len && memcmp(p, v->value, n) == 0) {
            *out = v;
            return 1;
        }
        p += n + (end ? 1 : 0);
    }
    add_errorf(errs, name, "The value must be one of the following: [%s]", list);
    return 0;
}

/* validator:unsupported: every field not in known (NULL-ended). */
static void check_unsupported(const dv_form *f, const char *const *known, json_t *errs)
{
    for (size_t i = 0; i < f->n; i++) {
        const dv_form_field *v = &f->v[i];
        int ok = 0;
        for (size_t k = 0; known[k] && !ok; k++)
            ok = strlen(known[k]) == v->name_len && memcmp(known[k], v->name, v->name_len) == 0;
        char safe[128];
        if (!ok)
            add_error(errs, printable(v->name, v->name_len, safe, sizeof safe), "Unsupported key");
    }
}

/* Answer errs (taking it) if it holds any: 1 answered, 0 nothing to say. */
static int reply_errors(ctx *x, json_t *errs)
{
    if (json_object_size(errs) == 0) {
        json_decref(errs);
        return 0;
    }
    reply_json(x, 400, json_pack("{s:o}", "errors", errs));
    return 1;
}

static int is_admin(ctx *x, const char *perm)
{
    if (dv_user_allow(x->user, DV_PERM_CLUSTER_ADMIN, NULL, NULL, NULL)) return 1;
    reply_forbidden(x, "%s", perm);
    return 0;
}

/* The start of an administrator's form: the permission (else 403), the form (else 400) and an
 * empty error collection; NULL when a reply was made (f is then empty). */
static json_t *admin_form(ctx *x, const char *perm, dv_form *f)
{
    if (!is_admin(x, perm) || read_form(x, f) != 0) return NULL;
    json_t *errs = json_object();
    if (!errs) {
        dv_form_clear(f);
        reply_oom(x);
    }
    return errs;
}

/* The sum of the buckets' RAM quotas, MiB. */
static uint64_t buckets_quota(dv_cluster *c)
{
    dv_bucket **list = NULL;
    size_t n = 0;
    uint64_t sum = 0;
    if (dv_cluster_list_buckets(c, &list, &n) != DV_ERR_OK) return 0;
    for (size_t i = 0; i < n; i++) {
        dv_bucket_settings s;
        dv_bucket_settings_get(list[i], &s);
        sum += s.ram_quota_mb;
    }
    dv_cluster_list_free(list, n);
    return sum;
}

/* The quota this node allows for its services: 80% of its memory, or all but 1 GiB if more. */
static uint64_t node_quota_max(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || size <= 0) return UINT64_MAX;
    uint64_t mb = (uint64_t)pages * (uint64_t)size >> 20;
    uint64_t a = mb * 4 / 5, b = mb > 1024 ? mb - 1024 : 0;
    return a > b ? a : b;
}

/* POST /pools/default: the cluster's name and memory quotas. Only the Data quota bounds what
 * this node runs; the others are recorded and shown, as divan serves only the Data service. */
static void update_pool(ctx *x)
{
    dv_form f;
    json_t *errs = admin_form(x, "cluster.pools!write", &f);
    if (!errs) return;
    if (f.n == 0) add_error(errs, "_", "Request should have parameters");
    long long q[DV_REST_QUOTAS];
    int given[DV_REST_QUOTAS];
    for (size_t i = 0; i < DV_REST_QUOTAS; i++)
        given[i] = check_int(&f, quota_defs[i].field, LLONG_MIN, LLONG_MAX, "", errs, &q[i]);
    uint64_t kv_min = buckets_quota(x->r->cluster);
    if (kv_min < 256) kv_min = 256;
    for (size_t i = 0; i < DV_REST_QUOTAS; i++) {
        unsigned long long min = i == 0 ? kv_min : quota_defs[i].min;
        if (given[i] && q[i] < (long long)min) {
            add_errorf(errs, quota_defs[i].field,
                       "The %s service quota (%lldMB) cannot be less than %lluMB%s.",
                       quota_defs[i].service, q[i], min,
                       i == 0 ? " (current total buckets quota, or at least 256MB)" : "");
            given[i] = 0;
        }
    }
    if (given[0] && (uint64_t)q[0] > node_quota_max())
        add_errorf(errs, "_",
                   "Total quota (%lldMB) exceeds the maximum allowed quota (%lluMB) on node "
                   "'ns_1@%s'",
                   q[0], (unsigned long long)node_quota_max(), x->host_bare);
    const dv_form_field *name = dv_form_get(&f, "clusterName");
    static const char *const known[] = {
        "memoryQuota",         "indexMemoryQuota", "ftsMemoryQuota", "cbasMemoryQuota",
        "eventingMemoryQuota", "queryMemoryQuota", "clusterName",    NULL};
    check_unsupported(&f, known, errs);
    if (reply_errors(x, errs)) {
        dv_form_clear(&f);
        return;
    }
    pthread_mutex_lock(&x->r->set_mu);
    for (size_t i = 0; i < DV_REST_QUOTAS; i++)
        if (given[i]) x->r->set.quota[i] = (uint32_t)q[i];
    if (name)
        snprintf(x->r->set.cluster_name, sizeof x->r->set.cluster_name, "%.*s",
                 (int)name->value_len, name->value);
    pthread_mutex_unlock(&x->r->set_mu);
    dv_form_clear(&f);
    reply_empty(x, 200);
}

/* ns_server's rules for a username and a password (menelaus_web_rbac). */
static const char *cred_problem(const dv_form_field *v, int password)
{
    if (password) {
        if (v->value_len < 6) return "The password must be at least 6 characters long.";
        for (size_t i = 0; i < v->value_len; i++)
            if ((unsigned char)v->value[i] < 32 || v->value[i] == 127)
                return "The password must not contain control characters";
        return NULL;
    }
    if (v->value_len == 0) return "Username must not be empty";
    if (v->value_len > 128) return "Username may not exceed 128 characters";
    if (v->value[0] == '@') return "Username cannot start with '@'";
    for (size_t i = 0; i < v->value_len; i++) {
        unsigned char c = (unsigned char)v->value[i];
        if (c <= 32 || c == 127 || strchr("()<>,;:\\\"/[]?={}", c))
            return "Username must not contain spaces, control or any of ()<>,;:\\\"/[]?={} "
                   "characters and must be valid utf8";
    }
    return NULL;
}

/* GET /settings/web: the REST port and the administrator's name. */
static void serve_settings_web(ctx *x)
{
    uint16_t kv, mgmt;
    dv_cluster_ports(x->r->cluster, &kv, &mgmt);
    char admin[DV_USER_MAX_NAME + 1];
    pthread_mutex_lock(&x->r->set_mu);
    snprintf(admin, sizeof admin, "%s", x->r->set.admin);
    pthread_mutex_unlock(&x->r->set_mu);
    if (!admin[0] && dv_user_allow(x->user, DV_PERM_CLUSTER_ADMIN, NULL, NULL, NULL))
        snprintf(admin, sizeof admin, "%s", dv_user_name(x->user));
    reply_json(x, 200, json_pack("{s:i,s:s}", "port", (int)mgmt, "username", admin));
}

/* POST /settings/web: the administrator's credentials (the user is created or its password and
 * role replaced) and the port, which must stay the one divan-server listens on. */
static void update_settings_web(ctx *x)
{
    dv_form f;
    json_t *errs = admin_form(x, "cluster.admin.settings!write", &f);
    if (!errs) return;
    static const char *const need[] = {"port", "username", "password"};
    for (size_t i = 0; i < 3; i++)
        if (!dv_form_get(&f, need[i])) add_error(errs, need[i], "The value must be supplied");
    uint16_t kv, mgmt;
    dv_cluster_ports(x->r->cluster, &kv, &mgmt);
    const dv_form_field *port = dv_form_get(&f, "port"), *user = dv_form_get(&f, "username"),
                        *pw = dv_form_get(&f, "password");
    uint32_t p = mgmt;
    if (port && !value_is(port, "SAME")) {
        if (form_u32(port, 1024, 65535, &p) != 0)
            add_error(errs, "port",
                      "The port number must be greater than 1023 and less than 65536.");
        else if (p == kv)
            add_error(errs, "port", "Port is already in use");
        else if (p != mgmt)
            add_errorf(errs, "port",
                       "divan-server cannot move its REST port while running (it listens on %u; "
                       "use --http-port)",
                       (unsigned)mgmt);
    }
    const char *why;
    if (user && (why = cred_problem(user, 0))) add_error(errs, "username", why);
    if (pw && (why = cred_problem(pw, 1))) add_error(errs, "password", why);
    if (reply_errors(x, errs)) {
        dv_form_clear(&f);
        return;
    }
    dv_roles roles;
    char err[256];
    if (dv_roles_parse(&roles, "admin", 5, err, sizeof err) != DV_ERR_OK ||
        dv_users_set(x->r->users, user->value, user->value_len, pw->value, pw->value_len, &roles,
                     err, sizeof err) != DV_ERR_OK) {
        dv_roles_clear(&roles);
        dv_form_clear(&f);
        reply_error(x, 400, "_", err);
        return;
    }
    dv_roles_clear(&roles);
    pthread_mutex_lock(&x->r->set_mu);
    snprintf(x->r->set.admin, sizeof x->r->set.admin, "%.*s", (int)user->value_len, user->value);
    pthread_mutex_unlock(&x->r->set_mu);
    dv_form_clear(&f);
    char uri[DV_REST_HOST_MAX + 32];
    snprintf(uri, sizeof uri, "http://%s:%u/", x->host, (unsigned)p);
    reply_json(x, 200, json_pack("{s:s}", "newBaseUri", uri));
}

/* POST /node/controller/setupServices: divan-server is one node with the Data service, so the
 * only list it takes is "kv"; errors are a JSON list of messages, as ns_server answers here. */
static void setup_services(ctx *x)
{
    if (!is_admin(x, "cluster.admin.setup!write")) return;
    dv_form f;
    if (read_form(x, &f) != 0) return;
    const dv_form_field *v = dv_form_get(&f, "services"),
                        *d = dv_form_get(&f, "setDefaultMemQuotas");
    static const char *const known[] = {"kv", "n1ql", "index", "fts", "cbas", "eventing", "backup"};
    const char *problem = NULL;
    char msg[512];
    int kv = 0, other = 0;
    const char *s = v ? v->value : "", *end = s + (v ? v->value_len : 0);
    if (s == end) problem = "At least one service has to be selected";
    while (!problem && s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        size_t n = comma ? (size_t)(comma - s) : (size_t)(end - s);
        size_t k = 0;
        while (k < 7 && !(strlen(known[k]) == n && memcmp(known[k], s, n) == 0)) k++;
        if (k == 7) {
            char safe[128];
            snprintf(msg, sizeof msg, "Unknown services: [\"%s\"]",
                     printable(s, n, safe, sizeof safe));
            problem = msg;
        }
        kv |= k == 0;
        other |= k > 0 && k < 7;
        s += n + 1;
    }
    if (!problem && !kv) problem = "cannot setup first cluster node without kv service";
    if (!problem && other)
        problem = "divan-server serves only the kv service; other services cannot be set up";
    if (!problem && d && !value_is(d, "true") && !value_is(d, "false"))
        problem = "setDefaultMemQuotas must be true or false";
    dv_form_clear(&f);
    if (problem) {
        reply_json(x, 400, json_pack("[s]", problem));
        return;
    }
    reply_empty(x, 200);
}

/* GET /settings/indexes: the index settings (recorded: divan-server runs no index service). */
static json_t *index_settings_json(dv_rest *r)
{
    pthread_mutex_lock(&r->set_mu);
    const index_settings *s = &r->set.index;
    json_t *j =
        json_pack("{s:b,s:i,s:i,s:I,s:I,s:i,s:s,s:b,s:s}", "redistributeIndexes", s->redistribute,
                  "numReplica", (int)s->num_replica, "indexerThreads", (int)s->indexer_threads,
                  "memorySnapshotInterval", (json_int_t)s->memory_snapshot_interval,
                  "stableSnapshotInterval", (json_int_t)s->stable_snapshot_interval,
                  "maxRollbackPoints", (int)s->max_rollback_points, "logLevel", s->log_level,
                  "enablePageBloomFilter", s->page_bloom_filter, "storageMode", s->storage_mode);
    pthread_mutex_unlock(&r->set_mu);
    return j;
}

static void serve_index_settings(ctx *x)
{
    reply_json(x, 200, index_settings_json(x->r));
}

static void update_index_settings(ctx *x)
{
    dv_form f;
    json_t *errs = admin_form(x, "cluster.settings.indexes!write", &f);
    if (!errs) return;
    index_settings n;
    pthread_mutex_lock(&x->r->set_mu);
    n = x->r->set.index;
    pthread_mutex_unlock(&x->r->set_mu);
    long long v;
    const long long inf = 1LL << 62;
    if (check_int(&f, "indexerThreads", 0, 1024, "1024", errs, &v)) n.indexer_threads = (uint32_t)v;
    if (check_int(&f, "memorySnapshotInterval", 1, inf, "infinity", errs, &v))
        n.memory_snapshot_interval = (uint64_t)v;
    if (check_int(&f, "stableSnapshotInterval", 1, inf, "infinity", errs, &v))
        n.stable_snapshot_interval = (uint64_t)v;
    if (check_int(&f, "maxRollbackPoints", 1, inf, "infinity", errs, &v))
        n.max_rollback_points = (uint32_t)(v > UINT32_MAX ? UINT32_MAX : v);
    if (check_int(&f, "numReplica", 0, 16, "16", errs, &v)) n.num_replica = (uint32_t)v;
    const dv_form_field *fv;
    if (check_one_of(&f, "redistributeIndexes", "true,false", errs, &fv))
        n.redistribute = value_is(fv, "true");
    if (check_one_of(&f, "enablePageBloomFilter", "true,false", errs, &fv))
        n.page_bloom_filter = value_is(fv, "true");
    if (check_one_of(&f, "logLevel", "silent,fatal,error,warn,info,verbose,timing,debug,trace",
                     errs, &fv))
        snprintf(n.log_level, sizeof n.log_level, "%.*s", (int)fv->value_len, fv->value);
    if ((fv = dv_form_get(&f, "storageMode")) && value_is(fv, "forestdb"))
        add_error(errs, "storageMode",
                  "Storage mode cannot be set to 'forestdb' in 5.0 enterprise edition.");
    else if (check_one_of(&f, "storageMode", "plasma,memory_optimized", errs, &fv))
        snprintf(n.storage_mode, sizeof n.storage_mode, "%.*s", (int)fv->value_len, fv->value);
    if (f.n == 0) add_error(errs, "_", "Request should have parameters");
    static const char *const known[] = {"indexerThreads",
                                        "memorySnapshotInterval",
                                        "stableSnapshotInterval",
                                        "maxRollbackPoints",
                                        "numReplica",
                                        "redistributeIndexes",
                                        "enablePageBloomFilter",
                                        "logLevel",
                                        "storageMode",
                                        NULL};
    check_unsupported(&f, known, errs);
    dv_form_clear(&f);
    if (reply_errors(x, errs)) return;
    pthread_mutex_lock(&x->r->set_mu);
    x->r->set.index = n;
    pthread_mutex_unlock(&x->r->set_mu);
    reply_json(x, 200, index_settings_json(x->r));
}

/* ---- users, groups and roles (ns_server's /settings/rbac) ------------------------------------ */

#define SECURITY_READ_PERM  "cluster.admin.security.local!read"
#define SECURITY_WRITE_PERM "cluster.admin.security.local!write"
#define GROUPS_READ_PERM    "cluster.admin.security!read"
#define GROUPS_WRITE_PERM   "cluster.admin.security!write"

/* The roles as GET /settings/rbac/roles lists them: display name and description. */
static const struct role_doc {
    dv_role_kind kind;
    const char *name, *desc;
} role_docs[] = {
    {DV_ROLE_ADMIN, "Full Admin", "Can manage all cluster features, including security."},
    {DV_ROLE_RO_ADMIN, "Read-Only Admin", "Can view cluster settings, but not change them."},
    {DV_ROLE_CLUSTER_ADMIN, "Cluster Admin", "Can manage all cluster features except security."},
    {DV_ROLE_SECURITY_ADMIN, "Security Admin", "Can manage users, groups and roles."},
    {DV_ROLE_REPLICATION_ADMIN, "XDCR Admin", "Can administer XDCR features."},
    {DV_ROLE_EXTERNAL_STATS_READER, "External Stats Reader", "Can read the cluster's statistics."},
    {DV_ROLE_QUERY_SYSTEM_CATALOG, "Query System Catalog", "Can look up the system catalog."},
    {DV_ROLE_QUERY_EXTERNAL_ACCESS, "Query CURL Access", "Can run the CURL() function."},
    {DV_ROLE_ANALYTICS_READER, "Analytics Reader", "Can query analytics datasets."},
    {DV_ROLE_ANALYTICS_ADMIN, "Analytics Admin", "Can manage analytics."},
    {DV_ROLE_EVENTING_ADMIN, "Eventing Full Admin", "Can manage eventing functions."},
    {DV_ROLE_BUCKET_ADMIN, "Bucket Admin",
     "Can manage the bucket's settings, scopes and collections."},
    {DV_ROLE_BUCKET_FULL_ACCESS, "Application Access", "Full access to the bucket's data."},
    {DV_ROLE_VIEWS_ADMIN, "Views Admin", "Can manage views."},
    {DV_ROLE_VIEWS_READER, "Views Reader", "Can read views."},
    {DV_ROLE_DATA_BACKUP, "Data Backup & Restore", "Can back up and restore the bucket's data."},
    {DV_ROLE_FTS_ADMIN, "Search Admin", "Can manage search indexes."},
    {DV_ROLE_MOBILE_SYNC_GATEWAY, "Sync Gateway",
     "Full access to the bucket's data for Sync Gateway."},
    {DV_ROLE_REPLICATION_TARGET, "XDCR Inbound", "Can write replicated data into the bucket."},
    {DV_ROLE_ANALYTICS_MANAGER, "Analytics Manager", "Can manage analytics links of the bucket."},
    {DV_ROLE_SCOPE_ADMIN, "Manage Scopes", "Can create and drop scopes and collections."},
    {DV_ROLE_DATA_READER, "Data Reader", "Can read documents."},
    {DV_ROLE_DATA_WRITER, "Data Writer", "Can insert, change and remove documents."},
    {DV_ROLE_DATA_DM_WRITER, "Data DCP Writer", "Can write documents, without reading them."},
    {DV_ROLE_DATA_MONITORING, "Data Monitor", "Can read the statistics of the data."},
    {DV_ROLE_FTS_SEARCHER, "Search Reader", "Can run search queries."},
    {DV_ROLE_QUERY_SELECT, "Query Select", "Can run SQL++ SELECT statements."},
    {DV_ROLE_QUERY_UPDATE, "Query Update", "Can run SQL++ UPDATE statements."},
    {DV_ROLE_QUERY_INSERT, "Query Insert", "Can run SQL++ INSERT statements."},
    {DV_ROLE_QUERY_DELETE, "Query Delete", "Can run SQL++ DELETE statements."},
    {DV_ROLE_QUERY_MANAGE_INDEX, "Query Manage Index", "Can create and drop indexes."},
    {DV_ROLE_ANALYTICS_SELECT, "Analytics Select", "Can query analytics collections."},
};

/* {"role":..., "bucket_name":...} with the parameters the role has. */
static json_t *role_json(const dv_role *r)
{
    json_t *o = json_pack("{s:s}", "role", dv_role_name(r->kind));
    if (!o) return NULL;
    if ((r->bucket && json_object_set_new(o, "bucket_name", json_string(r->bucket))) ||
        (r->scope && json_object_set_new(o, "scope_name", json_string(r->scope))) ||
        (r->collection && json_object_set_new(o, "collection_name", json_string(r->collection)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *roles_json(const dv_roles *rs)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < rs->n; i++) {
        if (json_array_append_new(a, role_json(&rs->v[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

static int roles_have(const dv_roles *rs, const dv_role *r)
{
    char a[3 * (DV_ROLE_MAX_NAME + 1) + 64], b[sizeof a];
    dv_roles one = {(dv_role *)r, 1};
    dv_roles_format(&one, a, sizeof a);
    for (size_t i = 0; i < rs->n; i++) {
        dv_roles x = {&rs->v[i], 1};
        dv_roles_format(&x, b, sizeof b);
        if (strcmp(a, b) == 0) return 1;
    }
    return 0;
}

/* The user object of ns_server: id, domain, name, groups, password_change_date and the
 * effective roles, each with its origins (the user itself, its groups). */
static json_t *user_json(dv_rest *r, dv_user *u)
{
    size_t ng;
    const char *const *groups = dv_user_groups(u, &ng);
    dv_group *gv = ng ? dv_calloc(ng, sizeof *gv) : NULL;
    if (ng && !gv) return NULL;
    for (size_t i = 0; i < ng; i++)
        if (dv_users_group_get(r->users, groups[i], &gv[i]) != DV_ERR_OK) gv[i].name = NULL;
    json_t *o = json_pack("{s:s,s:s,s:[],s:[],s:[]}", "id", dv_user_name(u), "domain", "local",
                          "roles", "groups", "external_groups");
    json_t *roles = json_object_get(o, "roles"), *gl = json_object_get(o, "groups");
    const dv_roles *eff = dv_user_roles(u), *own = dv_user_own_roles(u);
    int fail = !o;
    for (size_t i = 0; !fail && i < eff->n; i++) {
        json_t *rj = role_json(&eff->v[i]);
        json_t *origins = json_array();
        if (roles_have(own, &eff->v[i]))
            json_array_append_new(origins, json_pack("{s:s}", "type", "user"));
        for (size_t g = 0; g < ng; g++)
            if (gv[g].name && roles_have(&gv[g].roles, &eff->v[i]))
                json_array_append_new(origins,
                                      json_pack("{s:s,s:s}", "type", "group", "name", gv[g].name));
        fail = !rj || !origins || json_object_set_new(rj, "origins", origins) != 0 ||
               json_array_append_new(roles, rj) != 0;
    }
    for (size_t i = 0; !fail && i < ng; i++)
        fail = json_array_append_new(gl, json_string(groups[i]));
    const char *display = dv_user_display_name(u);
    if (!fail && display) fail = json_object_set_new(o, "name", json_string(display));
    int64_t ms = dv_user_password_changed(u);
    if (!fail && ms > 0) {
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        char when[40];
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        size_t n = strlen(when);
        snprintf(when + n, sizeof when - n, ".%03dZ", (int)(ms % 1000));
        fail = json_object_set_new(o, "password_change_date", json_string(when));
    }
    if (gv) dv_group_list_free(gv, ng);
    if (fail) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* A JSON string body, as ns_server answers a missing user or group. */
static void reply_json_string(ctx *x, unsigned status, const char *s)
{
    char q[128];
    snprintf(q, sizeof q, "\"%s\"", s); /* fixed texts without quotes or escapes */
    reply_text(x, status, "application/json", q);
}

static int allow_users(ctx *x, int write, int groups)
{
    if (dv_user_allow(x->user, DV_PERM_USER_ADMIN, NULL, NULL, NULL)) return 1;
    reply_forbidden(x, "%s",
                    groups ? (write ? GROUPS_WRITE_PERM : GROUPS_READ_PERM)
                           : (write ? SECURITY_WRITE_PERM : SECURITY_READ_PERM));
    return 0;
}

/* 1 for "local", 0 for "external", -1 (answered 404) for any other domain. */
static int user_domain(ctx *x, size_t seg)
{
    if (seg_is(x, seg, "local")) return 1;
    if (seg_is(x, seg, "external")) return 0;
    reply_json_string(x, 404, "Unknown user domain.");
    return -1;
}

static void serve_rbac_users(ctx *x)
{
    if (!allow_users(x, 0, 0)) return;
    int local = 1;
    if (x->nseg == 4 && (local = user_domain(x, 3)) < 0) return;
    json_t *a = json_array();
    dv_user **v = NULL;
    size_t n = 0;
    if (!a || (local && dv_users_list(x->r->users, &v, &n) != DV_ERR_OK)) {
        json_decref(a);
        reply_oom(x);
        return;
    }
    int fail = 0;
    for (size_t i = 0; i < n && !fail; i++)
        fail = json_array_append_new(a, user_json(x->r, v[i])) != 0;
    dv_users_list_free(v, n);
    if (fail) {
        json_decref(a);
        a = NULL;
    }
    reply_json(x, 200, a);
}

static void serve_rbac_user(ctx *x)
{
    if (!allow_users(x, 0, 0)) return;
    int local = user_domain(x, 3);
    if (local < 0) return;
    dv_user *u = local ? dv_users_get(x->r->users, x->seg[4], x->seglen[4]) : NULL;
    if (!u) {
        reply_json_string(x, 404, "Unknown user.");
        return;
    }
    reply_json(x, 200, user_json(x->r, u));
    dv_user_release(u);
}

/* A form's role list ("admin,data_reader[b:s:c]") into out, checked against the buckets,
 * scopes and collections that exist; problems go to errs under "roles" in ns_server's words.
 * An absent or empty list is no roles. */
static void form_roles(ctx *x, const dv_form_field *v, dv_roles *out, json_t *errs)
{
    out->v = NULL;
    out->n = 0;
    if (!v || v->value_len == 0) return;
    char bad[1024] = "";
    size_t badlen = 0;
    dv_buf good;
    dv_buf_init(&good);
    const char *s = v->value, *end = v->value + v->value_len;
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *stop = comma ? comma : end;
        const char *a = s, *b = stop;
        while (a < b && *a == ' ') a++;
        while (b > a && b[-1] == ' ') b--;
        dv_roles one;
        char err[256];
        int ok = b > a && dv_roles_parse(&one, a, (size_t)(b - a), err, sizeof err) == DV_ERR_OK;
        if (ok) {
            const dv_role *r = &one.v[0];
            if (r->bucket && strcmp(r->bucket, "*") != 0) {
                dv_bucket *bk = dv_cluster_get_bucket(x->r->cluster, r->bucket, strlen(r->bucket));
                uint32_t id;
                if (!bk) {
                    ok = 0;
                } else if (r->scope && !r->collection) {
                    ok = dv_bucket_lookup_scope(bk, r->scope, strlen(r->scope), &id, NULL) ==
                         DV_ERR_OK;
                } else if (r->scope) {
                    char path[2 * DV_ROLE_MAX_NAME + 2];
                    int pn = snprintf(path, sizeof path, "%s.%s", r->scope, r->collection);
                    ok = dv_bucket_lookup_collection(bk, path, (size_t)pn, &id, NULL) == DV_ERR_OK;
                }
                dv_bucket_release(bk);
            }
            if (ok && ((dv_buf_size(&good) && dv_buf_append(&good, ",", 1) != 0) ||
                       dv_buf_append(&good, a, (size_t)(b - a)) != 0)) {
                dv_roles_clear(&one);
                dv_buf_free(&good);
                add_error(errs, "_", "out of memory");
                return;
            }
            dv_roles_clear(&one);
        }
        if (!ok && b > a) {
            int k = snprintf(bad + badlen, sizeof bad - badlen, "%s%.*s", badlen ? "," : "",
                             (int)(b - a), a);
            if (k > 0 && badlen + (size_t)k < sizeof bad) badlen += (size_t)k;
        }
        s = stop + 1;
    }
    if (badlen) {
        char safe[1024];
        add_errorf(errs, "roles",
                   "Cannot assign roles to user because the following roles are unknown, "
                   "malformed or role parameters are undefined: [%s]",
                   printable(bad, badlen, safe, sizeof safe));
        dv_buf_free(&good);
        return;
    }
    char err[256];
    if (dv_buf_size(&good) && dv_roles_parse(out, (const char *)dv_buf_head(&good),
                                             dv_buf_size(&good), err, sizeof err) != DV_ERR_OK)
        add_error(errs, "roles", err);
    dv_buf_free(&good);
}

/* A comma-separated list of group names, split into names[] (pointers into buf, at most cap);
 * their count, or -1 if there are more. */
static long split_names(char *buf, const char **names, size_t cap)
{
    size_t n = 0;
    for (char *p = buf; p && *p;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        while (*p == ' ') p++;
        size_t l = strlen(p);
        while (l > 0 && p[l - 1] == ' ') p[--l] = '\0';
        if (l > 0) {
            if (n == cap) return -1;
            names[n++] = p;
        }
        p = comma ? comma + 1 : NULL;
    }
    return (long)n;
}

#define MAX_USER_GROUPS 64

static void put_rbac_user(ctx *x)
{
    if (!allow_users(x, 1, 0)) return;
    int local = user_domain(x, 3);
    if (local < 0) return;
    const char *name = x->seg[4];
    size_t nlen = x->seglen[4];
    dv_form_field fake = {.name = "_", .name_len = 1, .value = name, .value_len = nlen};
    const char *problem = cred_problem(&fake, 0);
    if (problem) {
        reply_error(x, 400, "_", problem);
        return;
    }
    if (!local) {
        reply_error(x, 400, "_", "divan-server has no external (LDAP) users");
        return;
    }
    dv_form f = DV_FORM_INIT;
    if (read_form(x, &f) != 0) return;
    json_t *errs = json_object();
    if (!errs) {
        dv_form_clear(&f);
        reply_oom(x);
        return;
    }
    static const char *const known[] = {"name", "password", "roles", "groups", NULL};
    check_unsupported(&f, known, errs);
    const dv_form_field *pw = dv_form_get(&f, "password");
    if (pw && (problem = cred_problem(pw, 1))) add_error(errs, "password", problem);
    dv_roles roles;
    form_roles(x, dv_form_get(&f, "roles"), &roles, errs);
    const dv_form_field *gf = dv_form_get(&f, "groups");
    char *gbuf = dv_strndup(gf ? gf->value : "", gf ? gf->value_len : 0);
    const char *groups[MAX_USER_GROUPS];
    long ng = gbuf ? split_names(gbuf, groups, MAX_USER_GROUPS) : 0;
    if (ng < 0) {
        add_errorf(errs, "groups", "A user may be in at most %d groups", MAX_USER_GROUPS);
    } else {
        char missing[512] = "";
        size_t ml = 0;
        for (long i = 0; i < ng; i++) {
            dv_group g;
            if (dv_users_group_get(x->r->users, groups[i], &g) == DV_ERR_OK) {
                dv_group_clear(&g);
                continue;
            }
            int k = snprintf(missing + ml, sizeof missing - ml, "%s%s", ml ? "," : "", groups[i]);
            if (k > 0 && ml + (size_t)k < sizeof missing) ml += (size_t)k;
        }
        if (ml) {
            char safe[512];
            add_errorf(errs, "groups", "Groups do not exist: %s",
                       printable(missing, ml, safe, sizeof safe));
        }
    }
    if (!reply_errors(x, errs)) {
        const dv_form_field *disp = dv_form_get(&f, "name");
        dv_user_info info = {.name = name,
                             .name_len = nlen,
                             .display = disp && disp->value_len ? disp->value : NULL,
                             .password = pw ? pw->value : NULL,
                             .password_len = pw ? pw->value_len : 0,
                             .groups = groups,
                             .ngroups = ng > 0 ? (size_t)ng : 0,
                             .roles = &roles};
        char err[256];
        int rc = gbuf ? dv_users_upsert(x->r->users, &info, err, sizeof err) : DV_ERR_NO_MEMORY;
        if (rc == DV_ERR_OK)
            reply_text(x, 200, "application/json", "\"\"");
        else if (rc == DV_ERR_NO_MEMORY)
            reply_oom(x);
        else
            reply_error(x, 400, pw ? "_" : "password", err);
    }
    dv_free(gbuf);
    dv_roles_clear(&roles);
    if (pw) OPENSSL_cleanse((void *)pw->value, pw->value_len);
    dv_form_clear(&f);
}

static void delete_rbac_user(ctx *x)
{
    if (!allow_users(x, 1, 0)) return;
    int local = user_domain(x, 3);
    if (local < 0) return;
    if (local && dv_users_remove(x->r->users, x->seg[4], x->seglen[4]) == DV_ERR_OK)
        reply_text(x, 200, "application/json", "\"\"");
    else
        reply_json_string(x, 404, "User was not found.");
}

static json_t *group_json(const dv_group *g)
{
    json_t *o = json_pack("{s:s,s:o}", "id", g->name, "roles", roles_json(&g->roles));
    if (o && g->description) json_object_set_new(o, "description", json_string(g->description));
    if (o && g->ldap_ref) json_object_set_new(o, "ldap_group_ref", json_string(g->ldap_ref));
    return o;
}

static void serve_rbac_groups(ctx *x)
{
    if (!allow_users(x, 0, 1)) return;
    dv_group *v;
    size_t n;
    json_t *a = json_array();
    if (!a || dv_users_group_list(x->r->users, &v, &n) != DV_ERR_OK) {
        json_decref(a);
        reply_oom(x);
        return;
    }
    int fail = 0;
    for (size_t i = 0; i < n && !fail; i++) fail = json_array_append_new(a, group_json(&v[i]));
    dv_group_list_free(v, n);
    if (fail) {
        json_decref(a);
        a = NULL;
    }
    reply_json(x, 200, a);
}

static void serve_rbac_group(ctx *x)
{
    if (!allow_users(x, 0, 1)) return;
    dv_group g;
    int rc = dv_users_group_get(x->r->users, x->seg[3], &g);
    if (rc == DV_ERR_GROUP_NOT_FOUND) {
        reply_json_string(x, 404, "Unknown group.");
        return;
    }
    if (rc != DV_ERR_OK) {
        reply_oom(x);
        return;
    }
    reply_json(x, 200, group_json(&g));
    dv_group_clear(&g);
}

static void put_rbac_group(ctx *x)
{
    if (!allow_users(x, 1, 1)) return;
    dv_form f = DV_FORM_INIT;
    if (read_form(x, &f) != 0) return;
    json_t *errs = json_object();
    if (!errs) {
        dv_form_clear(&f);
        reply_oom(x);
        return;
    }
    static const char *const known[] = {"description", "roles", "ldap_group_ref", NULL};
    check_unsupported(&f, known, errs);
    dv_roles roles;
    form_roles(x, dv_form_get(&f, "roles"), &roles, errs);
    if (!reply_errors(x, errs)) {
        const dv_form_field *d = dv_form_get(&f, "description"),
                            *l = dv_form_get(&f, "ldap_group_ref");
        char err[256];
        int rc = dv_users_group_set(x->r->users, x->seg[3], d && d->value_len ? d->value : NULL,
                                    l && l->value_len ? l->value : NULL, &roles, err, sizeof err);
        if (rc == DV_ERR_OK)
            reply_text(x, 200, "application/json", "\"\"");
        else if (rc == DV_ERR_NO_MEMORY)
            reply_oom(x);
        else
            reply_error(x, 400, "_", err);
    }
    dv_roles_clear(&roles);
    dv_form_clear(&f);
}

static void delete_rbac_group(ctx *x)
{
    if (!allow_users(x, 1, 1)) return;
    if (dv_users_group_remove(x->r->users, x->seg[3]) == DV_ERR_OK)
        reply_text(x, 200, "application/json", "\"\"");
    else
        reply_json_string(x, 404, "Group was not found.");
}

/* Every role; a role with parameters is listed once with "*" for each (as ns_server does). */
static void serve_rbac_roles(ctx *x)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < sizeof role_docs / sizeof role_docs[0]; i++) {
        const struct role_doc *d = &role_docs[i];
        unsigned np = dv_role_params(d->kind);
        json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "role", dv_role_name(d->kind), "name", d->name,
                              "desc", d->desc, "ce", 1);
        static const char *const params[] = {"bucket_name", "scope_name", "collection_name"};
        for (unsigned k = 0; o && k < np; k++) json_object_set_new(o, params[k], json_string("*"));
        if (!o || json_array_append_new(a, o) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    reply_json(x, 200, a);
}

/* ---- documents (the console's document editor) ----------------------------------------------- */

#define DOCS_LIMIT_DEFAULT 10
#define DOCS_LIMIT_MAX     1000
#define DOC_KEY_MAX        250
#define FLAGS_JSON         0x02000006u /* the SDKs' common flags for JSON */
#define FLAGS_STRING       0x04000006u

/* A query-string parameter, percent-decoded into out (cap bytes); its length, or -1 when absent
 * or malformed or too long. */
static long query_arg(ctx *x, const char *name, char *out, size_t cap)
{
    const char *v = MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND, name);
    if (!v) return -1;
    size_t n = strlen(v);
    if (n >= cap) return -1;
    return dv_url_decode(v, n, 1, out);
}

static int query_u64(ctx *x, const char *name, uint64_t hi, uint64_t *out)
{
    char v[32];
    long n = query_arg(x, name, v, sizeof v);
    if (n < 0) return MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND, name) ? -1 : 0;
    char *end;
    errno = 0;
    unsigned long long u = strtoull(v, &end, 10);
    if (n == 0 || *end || errno || v[0] == '-' || u > hi) return -1;
    *out = u;
    return 1;
}

/* The collection of /pools/default/buckets/B/scopes/S/collections/C/docs[/ID] after the
 * permission check (perms on B:S:C, perm the ns_server permission named in a 403); NULL when a
 * reply was made. */
static dv_bucket *docs_collection(ctx *x, unsigned perms, const char *perm, uint32_t *cid)
{
    const char *b = x->seg[SEG_BUCKET], *s = x->seg[SEG_SCOPE], *c = x->seg[SEG_COLLECTION];
    if (!dv_user_allow(x->user, perms, b, s, c)) {
        char sb[128], ss[128], sc[128];
        reply_forbidden(x, "cluster.collection[%s:%s:%s].data.docs!%s",
                        printable(b, x->seglen[SEG_BUCKET], sb, sizeof sb),
                        printable(s, x->seglen[SEG_SCOPE], ss, sizeof ss),
                        printable(c, x->seglen[SEG_COLLECTION], sc, sizeof sc), perm);
        return NULL;
    }
    dv_bucket *bk = dv_cluster_get_bucket(x->r->cluster, b, x->seglen[SEG_BUCKET]);
    if (!bk) {
        reply_not_found(x);
        return NULL;
    }
    char path[2 * 256 + 2];
    int n = snprintf(path, sizeof path, "%s.%s", s, c);
    dv_error rc = n > 0 && (size_t)n < sizeof path
                      ? dv_bucket_lookup_collection(bk, path, (size_t)n, cid, NULL)
                      : DV_ERR_COLLECTION_NOT_FOUND;
    if (rc != DV_ERR_OK) {
        reply_manifest_error(x, rc == DV_ERR_SCOPE_NOT_FOUND ? rc : DV_ERR_COLLECTION_NOT_FOUND, s,
                             c);
        dv_bucket_release(bk);
        return NULL;
    }
    return bk;
}

static char *cas_text(uint64_t cas, char *buf, size_t cap)
{
    snprintf(buf, cap, "%llu", (unsigned long long)cas);
    return buf;
}

/* The user xattrs of an item (names not starting with '_'), as an object of parsed values. */
static json_t *item_xattrs(const dv_item *it)
{
    json_t *o = json_object();
    const unsigned char *p = (const unsigned char *)dv_item_xattr(it);
    size_t n = it->nxattr;
    if (!o || n < 4) return o;
    size_t off = 4;
    while (off + 4 <= n) {
        uint32_t len = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 |
                       (uint32_t)p[off + 2] << 8 | p[off + 3];
        off += 4;
        if (len > n - off) break;
        const char *k = (const char *)p + off;
        size_t kl = strnlen(k, len);
        if (kl + 1 < len && k[0] != '_') {
            const char *v = k + kl + 1;
            size_t vl = strnlen(v, len - kl - 1);
            json_t *j = json_loadb(v, vl, JSON_DECODE_ANY, NULL);
            json_object_setn_new(o, k, kl, j ? j : json_stringn(v, vl));
        }
        off += len;
    }
    return o;
}

/* {"meta":{...},"json":value} (or "base64" for a value that is not JSON), with xattrs when the
 * user may read them. */
static json_t *doc_json(ctx *x, const dv_item *it, int xattrs)
{
    char cas[24];
    int is_json = (it->datatype & DV_DATATYPE_JSON) != 0;
    json_t *meta = json_pack("{s:s%,s:s,s:I,s:I,s:s,s:I}", "id", dv_item_key(it), (size_t)it->nkey,
                             "cas", cas_text(it->cas, cas, sizeof cas), "flags",
                             (json_int_t)it->flags, "expiration", (json_int_t)it->exptime, "type",
                             is_json ? "json" : "base64", "seqno", (json_int_t)it->seqno);
    json_t *o = json_pack("{s:o}", "meta", meta);
    if (!o) return NULL;
    json_t *v = is_json ? json_loadb(dv_item_value(it), it->nvalue, JSON_DECODE_ANY, NULL) : NULL;
    if (v) {
        json_object_set_new(o, "json", v);
    } else {
        dv_buf b;
        dv_buf_init(&b);
        if (dv_base64_encode(&b, dv_item_value(it), it->nvalue) == 0)
            json_object_set_new(o, "base64",
                                json_stringn((const char *)dv_buf_head(&b), dv_buf_size(&b)));
        dv_buf_free(&b);
    }
    if (xattrs && it->nxattr) json_object_set_new(o, "xattrs", item_xattrs(it));
    (void)x;
    return o;
}

typedef struct doc_list {
    dv_item **v;
    size_t n, cap;
    const char *prefix;
    size_t prefix_len;
    int oom;
} doc_list;

static int collect_doc(void *ud, dv_item *it)
{
    doc_list *l = ud;
    if (it->nkey < l->prefix_len || memcmp(dv_item_key(it), l->prefix, l->prefix_len) != 0)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        dv_item **v = dv_realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = 1;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = dv_item_ref(it);
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    const dv_item *x = *(dv_item *const *)a, *y = *(dv_item *const *)b;
    size_t n = x->nkey < y->nkey ? x->nkey : y->nkey;
    int c = memcmp(dv_item_key(x), dv_item_key(y), n);
    return c ? c : (x->nkey > y->nkey) - (x->nkey < y->nkey);
}

/* GET .../docs?skip=&limit=&prefix=&include_docs=: the collection's live documents in key
 * order, a page at a time; total_rows counts every match. */
static void list_docs(ctx *x)
{
    uint32_t cid;
    dv_bucket *b = docs_collection(x, DV_PERM_READ, "read", &cid);
    if (!b) return;
    uint64_t skip = 0, limit = DOCS_LIMIT_DEFAULT;
    char prefix[DOC_KEY_MAX + 1] = "", inc[8] = "";
    long plen = query_arg(x, "prefix", prefix, sizeof prefix);
    if (query_u64(x, "skip", UINT32_MAX, &skip) < 0 ||
        query_u64(x, "limit", DOCS_LIMIT_MAX, &limit) < 0 ||
        (plen < 0 && MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND, "prefix"))) {
        reply_error(x, 400, "_", "skip must be a count, limit 0 to 1000, prefix at most 250 bytes");
        dv_bucket_release(b);
        return;
    }
    int include = query_arg(x, "include_docs", inc, sizeof inc) >= 0 && strcmp(inc, "true") == 0;
    doc_list l = {.prefix = prefix, .prefix_len = plen > 0 ? (size_t)plen : 0};
    dv_store *st = dv_bucket_store(b);
    uint32_t now = (uint32_t)time(NULL);
    for (unsigned vb = 0; vb < dv_store_nvb(st) && !l.oom; vb++) {
        dv_vbucket *v = dv_store_lock(st, (uint16_t)vb);
        dv_vbucket_each(v, cid, now, collect_doc, &l);
        dv_vbucket_unlock(v);
    }
    json_t *rows = l.oom ? NULL : json_array();
    if (rows) {
        qsort(l.v, l.n, sizeof *l.v, key_cmp);
        int xattrs = dv_user_allow(x->user, DV_PERM_XATTR_READ, x->seg[SEG_BUCKET],
                                   x->seg[SEG_SCOPE], x->seg[SEG_COLLECTION]);
        for (uint64_t i = skip; i < l.n && i < skip + limit; i++) {
            const dv_item *it = l.v[i];
            json_t *row = include ? doc_json(x, it, xattrs) : json_object();
            if (!row ||
                json_object_set_new(row, "id", json_stringn(dv_item_key(it), it->nkey)) != 0 ||
                json_array_append_new(rows, row) != 0) {
                json_decref(rows);
                rows = NULL;
                break;
            }
        }
    }
    for (size_t i = 0; i < l.n; i++) dv_item_release(l.v[i]);
    dv_free(l.v);
    dv_bucket_release(b);
    if (!rows) {
        reply_oom(x);
        return;
    }
    reply_json(x, 200,
               json_pack("{s:I,s:I,s:I,s:o}", "total_rows", (json_int_t)l.n, "skip",
                         (json_int_t)skip, "limit", (json_int_t)limit, "rows", rows));
}

static int doc_key(ctx *x, const char **key, size_t *nkey)
{
    *key = x->seg[SEG_COLLECTION + 2];
    *nkey = x->seglen[SEG_COLLECTION + 2];
    if (*nkey == 0 || *nkey > DOC_KEY_MAX) {
        reply_error(x, 400, "_", "A document key is 1 to 250 bytes");
        return -1;
    }
    return 0;
}

static void kv_run(dv_bucket *b, dv_kv_req *rq, dv_kv_res *res, const char *key, size_t nkey,
                   uint32_t cid)
{
    dv_store *st = dv_bucket_store(b);
    rq->key = key;
    rq->nkey = nkey;
    rq->cid = cid;
    rq->vbucket = dv_vbucket_of(key, nkey, dv_store_nvb(st));
    rq->now = (uint32_t)time(NULL);
    memset(res, 0, sizeof *res);
    dv_kv_execute(st, rq, res);
}

/* A KV status that is not success, as the REST answer the console shows. */
static void reply_kv_status(ctx *x, uint16_t status)
{
    switch (status) {
    case DV_STATUS_KEY_ENOENT:
        reply_error(x, 404, "_", "Document not found.");
        break;
    case DV_STATUS_KEY_EEXISTS:
        reply_error(x, 409, "_", "The document was changed since it was read (CAS mismatch).");
        break;
    case DV_STATUS_LOCKED:
        reply_error(x, 409, "_", "The document is locked.");
        break;
    case DV_STATUS_E2BIG:
        reply_error(x, 400, "value", "The value is too large.");
        break;
    default: {
        char msg[64];
        snprintf(msg, sizeof msg, "The data service answered status 0x%02x.", status);
        reply_error(x, 500, "_", msg);
    }
    }
}

static void get_doc(ctx *x)
{
    const char *key;
    size_t nkey;
    uint32_t cid;
    if (doc_key(x, &key, &nkey) != 0) return;
    dv_bucket *b = docs_collection(x, DV_PERM_READ, "read", &cid);
    if (!b) return;
    dv_kv_req rq = {.opcode = DV_OP_GET};
    dv_kv_res res;
    kv_run(b, &rq, &res, key, nkey, cid);
    if (res.status == DV_STATUS_SUCCESS && res.item) {
        int xattrs = dv_user_allow(x->user, DV_PERM_XATTR_READ, x->seg[SEG_BUCKET],
                                   x->seg[SEG_SCOPE], x->seg[SEG_COLLECTION]);
        /* GET answers the value only: read the item itself for the metadata and xattrs. */
        reply_json(x, 200, doc_json(x, res.item, xattrs));
    } else {
        reply_kv_status(x, res.status);
    }
    if (res.item) dv_item_release(res.item);
    dv_bucket_release(b);
}

/* POST .../docs/ID, form: value (required), flags, expiry (seconds; absent keeps the
 * document's), cas (replace only that version), insert=true (create only). */
static void set_doc(ctx *x)
{
    const char *key;
    size_t nkey;
    uint32_t cid;
    if (doc_key(x, &key, &nkey) != 0) return;
    dv_bucket *b = docs_collection(x, DV_PERM_WRITE, "upsert", &cid);
    if (!b) return;
    dv_form f = DV_FORM_INIT;
    if (read_form(x, &f) != 0) {
        dv_bucket_release(b);
        return;
    }
    json_t *errs = json_object();
    static const char *const known[] = {"value", "flags", "expiry", "cas", "insert", NULL};
    if (errs) check_unsupported(&f, known, errs);
    const dv_form_field *value = dv_form_get(&f, "value"), *flags = dv_form_get(&f, "flags"),
                        *expiry = dv_form_get(&f, "expiry"), *cas = dv_form_get(&f, "cas"),
                        *insert = dv_form_get(&f, "insert");
    if (errs && !value) add_error(errs, "value", "The value is missing.");
    json_t *parsed =
        value ? json_loadb(value->value, value->value_len, JSON_DECODE_ANY, NULL) : NULL;
    uint32_t fl = parsed ? FLAGS_JSON : FLAGS_STRING, exp = 0;
    if (errs && flags && form_u32(flags, 0, UINT32_MAX, &fl) != 0)
        add_error(errs, "flags", "The flags must be an unsigned 32-bit number.");
    if (errs && expiry && form_u32(expiry, 0, UINT32_MAX, &exp) != 0)
        add_error(errs, "expiry", "The expiry must be a number of seconds.");
    uint64_t c = 0;
    if (errs && cas && cas->value_len) {
        char *end;
        errno = 0;
        c = strtoull(cas->value, &end, 10);
        if (*end || errno || cas->value[0] == '-' || c == 0)
            add_error(errs, "cas",
                      "The CAS must be the decimal number the document was read with.");
    }
    int ins = insert && value_is(insert, "true");
    if (errs && ins && c) add_error(errs, "cas", "A new document has no CAS.");
    if (!errs) {
        reply_oom(x);
    } else if (!reply_errors(x, errs)) {
        dv_kv_req rq = {.opcode = ins ? DV_OP_ADD : c ? DV_OP_REPLACE : DV_OP_SET};
        rq.value = value->value;
        rq.nvalue = value->value_len;
        rq.datatype = parsed ? DV_DATATYPE_JSON : 0;
        rq.cas = c;
        rq.flags = fl;
        rq.expiry = exp;
        rq.preserve_ttl = !expiry && !ins;
        dv_kv_res res;
        kv_run(b, &rq, &res, key, nkey, cid);
        if (res.item) dv_item_release(res.item);
        char ct[24];
        if (res.status == DV_STATUS_SUCCESS)
            reply_json(x, 200, json_pack("{s:s}", "cas", cas_text(res.cas, ct, sizeof ct)));
        else if (res.status == DV_STATUS_KEY_EEXISTS && ins)
            reply_error(x, 409, "_", "A document with this key already exists.");
        else if (res.status == DV_STATUS_KEY_EEXISTS)
            reply_error(x, 409, "_", "The document was changed since it was read (CAS mismatch).");
        else
            reply_kv_status(x, res.status);
    }
    json_decref(parsed);
    dv_form_clear(&f);
    dv_bucket_release(b);
}

/* DELETE .../docs/ID[?cas=N]. */
static void delete_doc(ctx *x)
{
    const char *key;
    size_t nkey;
    uint32_t cid;
    if (doc_key(x, &key, &nkey) != 0) return;
    dv_bucket *b = docs_collection(x, DV_PERM_WRITE, "delete", &cid);
    if (!b) return;
    uint64_t c = 0;
    if (query_u64(x, "cas", UINT64_MAX, &c) < 0) {
        reply_error(x, 400, "cas",
                    "The CAS must be the decimal number the document was read with.");
    } else {
        dv_kv_req rq = {.opcode = DV_OP_DELETE, .cas = c};
        dv_kv_res res;
        kv_run(b, &rq, &res, key, nkey, cid);
        if (res.item) dv_item_release(res.item);
        if (res.status == DV_STATUS_SUCCESS)
            reply_text(x, 200, "application/json", "{}");
        else if (res.status == DV_STATUS_KEY_EEXISTS)
            reply_error(x, 409, "_", "The document was changed since it was read (CAS mismatch).");
        else
            reply_kv_status(x, res.status);
    }
    dv_bucket_release(b);
}

/* ---- the query workbench's proxy (as Couchbase's UI reaches the query service) -------------- */

#define PROXY_REPLY_MAX    (64u << 20)
#define PROXY_TIMEOUT_SECS 300

static int send_all_fd(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Undo chunked transfer coding in place; the decoded length, or -1 if malformed. */
static long dechunk(char *p, size_t n)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        if (in >= n) return -1;
        unsigned long k = strtoul(p + in, &end, 16);
        char *crlf = memchr(p + in, '\n', n - in);
        if (!crlf || end == p + in) return -1;
        in = (size_t)(crlf - p) + 1;
        if (k == 0) return (long)out;
        if (k > n - in) return -1;
        memmove(p + out, p + in, k);
        out += k;
        in += k;
        if (in + 2 <= n && p[in] == '\r') in++;
        if (in < n && p[in] == '\n') in++;
    }
}

/* POST /_p/query/query/service: the request goes to the query service of this server with the
 * client's own credentials (the query service checks them and every privilege), the answer
 * comes back as it is. */
static void proxy_query(ctx *x)
{
    uint16_t port = dv_cluster_query_port(x->r->cluster);
    if (port == 0) {
        reply_error(x, 503, "_", "The query service is not running.");
        return;
    }
    const char *auth =
        MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *ctype =
        MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ctype || strlen(ctype) > 128 || strpbrk(ctype, "\r\n")) ctype = "application/json";
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        reply_error(x, 503, "_", "Cannot reach the query service.");
        return;
    }
    struct timeval tv = {PROXY_TIMEOUT_SECS, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char head[AUTH_HEADER_MAX + 512];
    size_t body_len = dv_buf_size(&x->q->body);
    int hn = snprintf(head, sizeof head,
                      "POST /query/service HTTP/1.0\r\nHost: 127.0.0.1:%u\r\n"
                      "Authorization: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                      (unsigned)port, auth ? auth : "", ctype, body_len);
    dv_buf in;
    dv_buf_init(&in);
    int ok = hn > 0 && (size_t)hn < sizeof head &&
             connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
             send_all_fd(fd, head, (size_t)hn) == 0 &&
             (body_len == 0 || send_all_fd(fd, dv_buf_head(&x->q->body), body_len) == 0);
    OPENSSL_cleanse(head, sizeof head);
    char chunk[16384];
    while (ok) {
        ssize_t k = recv(fd, chunk, sizeof chunk, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) ok = 0;
        if (k <= 0) break;
        if (dv_buf_size(&in) + (size_t)k > PROXY_REPLY_MAX || dv_buf_append(&in, chunk, (size_t)k))
            ok = 0;
    }
    close(fd);
    char *p = (char *)dv_buf_head(&in);
    size_t n = dv_buf_size(&in);
    char *sep = ok && n > 12 ? memmem(p, n, "\r\n\r\n", 4) : NULL;
    unsigned status = sep && memcmp(p, "HTTP/1.", 7) == 0 ? (unsigned)atoi(p + 9) : 0;
    if (status < 100 || status > 599) {
        dv_buf_free(&in);
        reply_error(x, 502, "_", "The query service did not answer.");
        return;
    }
    size_t hlen = (size_t)(sep - p) + 4;
    int chunked = memmem(p, hlen, "chunked", 7) != NULL;
    dv_buf_consume(&in, hlen);
    long blen = (long)(n - hlen);
    if (chunked && blen > 0) blen = dechunk((char *)dv_buf_head(&in), n - hlen);
    if (blen < 0) {
        dv_buf_free(&in);
        reply_error(x, 502, "_", "The query service's answer was cut off.");
        return;
    }
    in.len = in.off + (size_t)blen;
    reply_buf(x, status, &in);
}

/* ---- the web console (ui.h) ------------------------------------------------------------------ */

static void serve_ui(ctx *x, const char *rest)
{
    if (x->method != M_GET && x->method != M_HEAD) {
        x->allow = "GET, HEAD";
        reply_text(x, 405, "text/plain", "Method Not Allowed\r\n");
        return;
    }
    const char *q = strchr(rest, '?');
    size_t len = q ? (size_t)(q - rest) : strlen(rest);
    const char *inm =
        MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    dv_ui_reply u = dv_ui_lookup(rest, len, inm);
    if (u.status == 301) {
        snprintf(x->location, sizeof x->location, "%s", u.location);
        reply_empty(x, 301);
    } else if (u.status == 404) {
        reply_text(x, 404, "text/plain", "Not found.\r\n");
    } else {
        x->ui = u.file;
        x->status = u.status;
        x->ctype = u.status == 200 ? u.file->ctype : NULL;
    }
}

/* ---- routing --------------------------------------------------------------------------------- */

static unsigned method_of(const char *m)
{
    static const struct {
        const char *name;
        unsigned bit;
    } methods[] = {{"GET", M_GET}, {"HEAD", M_HEAD},     {"POST", M_POST},
                   {"PUT", M_PUT}, {"DELETE", M_DELETE}, {"PATCH", M_PATCH}};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(m, methods[i].name) == 0) return methods[i].bit;
    return M_OTHER;
}

static void allow_header(ctx *x, unsigned allowed)
{
    static const char *const names[] = {
        "GET, HEAD", "GET, HEAD, POST", "GET, HEAD, POST, DELETE", "POST", "DELETE",
        "GET",       "DELETE, PATCH",   "GET, HEAD, PUT, DELETE",
    };
    static const unsigned masks[] = {
        M_GET | M_HEAD,
        M_GET | M_HEAD | M_POST,
        M_GET | M_HEAD | M_POST | M_DELETE,
        M_POST,
        M_DELETE,
        M_GET,
        M_DELETE | M_PATCH,
        M_GET | M_HEAD | M_PUT | M_DELETE,
    };
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++)
        if (masks[i] == allowed) x->allow = names[i];
}

/* Split the path on '/', dropping empty segments (as Couchbase does), and percent-decode each
 * segment in place. -1 for a path that cannot name anything here. */
static int split_path(ctx *x, const char *url)
{
    if (url[0] != '/') return -1;
    size_t len = strlen(url);
    x->path = dv_strndup(url, len);
    if (!x->path) return -1;
    char *p = x->path;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && p[j] != '/') j++;
        if (j > i) {
            if (x->nseg == MAX_SEGMENTS) return -1;
            long n = dv_url_decode(p + i, j - i, 0, p + i);
            if (n <= 0 || strlen(p + i) != (size_t)n) return -1;
            x->seg[x->nseg] = p + i;
            x->seglen[x->nseg++] = (size_t)n;
        }
        i = j + 1;
    }
    return 0;
}

static route match(const ctx *x, unsigned *allowed)
{
    const unsigned get = M_GET | M_HEAD;
    size_t n = x->nseg;
    *allowed = get;
    if (n == 0) return R_ROOT;
    if (n == 1 && seg_is(x, 0, "whoami")) return R_WHOAMI;
    if (n == 2 && seg_is(x, 0, "settings") && (seg_is(x, 1, "web") || seg_is(x, 1, "indexes"))) {
        *allowed = get | M_POST;
        return seg_is(x, 1, "web") ? R_SETTINGS_WEB : R_SETTINGS_INDEXES;
    }
    if (n == 4 && seg_is(x, 0, "_p") && seg_is(x, 1, "query") && seg_is(x, 2, "query") &&
        seg_is(x, 3, "service")) {
        *allowed = M_POST;
        return R_QUERY_PROXY;
    }
    if (n >= 3 && seg_is(x, 0, "settings") && seg_is(x, 1, "rbac")) {
        if (seg_is(x, 2, "users") && n <= 4) return R_RBAC_USERS;
        if (seg_is(x, 2, "users") && n == 5) {
            *allowed = get | M_PUT | M_DELETE;
            return R_RBAC_USER;
        }
        if (seg_is(x, 2, "groups") && n == 3) return R_RBAC_GROUPS;
        if (seg_is(x, 2, "groups") && n == 4) {
            *allowed = get | M_PUT | M_DELETE;
            return R_RBAC_GROUP;
        }
        if (seg_is(x, 2, "roles") && n == 3) return R_RBAC_ROLES;
        return R_NONE;
    }
    if (n == 3 && seg_is(x, 0, "node") && seg_is(x, 1, "controller") &&
        seg_is(x, 2, "setupServices")) {
        *allowed = M_POST;
        return R_SETUP_SERVICES;
    }
    if (!seg_is(x, 0, "pools")) return R_NONE;
    if (n == 1) return R_POOLS;
    if (n == 2 && seg_is(x, 1, "nodes")) return R_POOL_NODES;
    if (!seg_is(x, 1, "default")) return R_NONE;
    if (n == 2) {
        *allowed = get | M_POST;
        return R_POOL_DEFAULT;
    }
    if (n == 3 && seg_is(x, 2, "nodeServices")) return R_NODE_SERVICES;
    if (n == 3 && seg_is(x, 2, "nodeServicesStreaming")) {
        *allowed = M_GET;
        return R_NODE_SERVICES_STREAM;
    }
    if (n == 4 && seg_is(x, 2, "b")) return R_TERSE;
    /* The bucket's streamingUri: the same stream of its config as /bs/. */
    if (n == 4 && (seg_is(x, 2, "bs") || seg_is(x, 2, "bucketsStreaming"))) {
        *allowed = M_GET;
        return R_TERSE_STREAM;
    }
    if (!seg_is(x, 2, "buckets")) return R_NONE;
    if (n == 3) {
        *allowed = get | M_POST;
        return R_BUCKETS;
    }
    if (n == 4) {
        *allowed = get | M_POST | M_DELETE;
        return R_BUCKET;
    }
    if (n == 6 && seg_is(x, 4, "controller") && seg_is(x, 5, "doFlush")) {
        *allowed = M_POST;
        return R_FLUSH;
    }
    if (!seg_is(x, 4, "scopes")) return R_NONE;
    if (n == 5) {
        *allowed = get | M_POST;
        return R_SCOPES;
    }
    if (n == 6) {
        *allowed = M_DELETE;
        return R_SCOPE;
    }
    if (!seg_is(x, 6, "collections")) return R_NONE;
    if (n == 7) {
        *allowed = M_POST;
        return R_COLLECTIONS;
    }
    if (n == 8) {
        *allowed = M_DELETE | M_PATCH; /* PATCH: maxTTL, history */
        return R_COLLECTION;
    }
    if (!seg_is(x, 8, "docs")) return R_NONE;
    if (n == 9) return R_DOCS;
    *allowed = get | M_POST | M_DELETE;
    return R_DOC;
}

static void dispatch(ctx *x, route rt)
{
    int post = x->method == M_POST, del = x->method == M_DELETE;
    switch (rt) {
    case R_POOLS:
        serve_pools(x);
        break;
    case R_POOL_DEFAULT:
        if (post)
            update_pool(x);
        else
            serve_pool(x, "default");
        break;
    case R_WHOAMI:
        serve_whoami(x);
        break;
    case R_SETTINGS_WEB:
        if (post)
            update_settings_web(x);
        else
            serve_settings_web(x);
        break;
    case R_SETTINGS_INDEXES:
        if (post)
            update_index_settings(x);
        else
            serve_index_settings(x);
        break;
    case R_SETUP_SERVICES:
        setup_services(x);
        break;
    case R_RBAC_USERS:
        serve_rbac_users(x);
        break;
    case R_RBAC_USER:
        if (x->method == M_PUT)
            put_rbac_user(x);
        else if (del)
            delete_rbac_user(x);
        else
            serve_rbac_user(x);
        break;
    case R_RBAC_GROUPS:
        serve_rbac_groups(x);
        break;
    case R_RBAC_GROUP:
        if (x->method == M_PUT)
            put_rbac_group(x);
        else if (del)
            delete_rbac_group(x);
        else
            serve_rbac_group(x);
        break;
    case R_RBAC_ROLES:
        serve_rbac_roles(x);
        break;
    case R_DOCS:
        list_docs(x);
        break;
    case R_QUERY_PROXY:
        proxy_query(x);
        break;
    case R_DOC:
        if (post)
            set_doc(x);
        else if (del)
            delete_doc(x);
        else
            get_doc(x);
        break;
    case R_POOL_NODES:
        serve_pool(x, "nodes");
        break;
    case R_NODE_SERVICES:
        serve_node_services(x);
        break;
    case R_NODE_SERVICES_STREAM:
        start_stream(x, NULL, 0);
        break;
    case R_TERSE:
        serve_terse(x);
        break;
    case R_TERSE_STREAM:
        serve_terse_stream(x);
        break;
    case R_BUCKETS:
        if (post)
            create_bucket(x);
        else
            serve_buckets(x);
        break;
    case R_BUCKET:
        if (post)
            update_bucket(x);
        else if (del)
            delete_bucket(x);
        else
            serve_bucket(x);
        break;
    case R_FLUSH:
        flush_bucket(x);
        break;
    case R_SCOPES:
        if (post)
            create_scope(x);
        else
            serve_scopes(x);
        break;
    case R_SCOPE:
        drop_scope(x);
        break;
    case R_COLLECTIONS:
        change_collection(x, FORM_COLLECTION);
        break;
    case R_COLLECTION:
        if (x->method == M_PATCH)
            change_collection(x, FORM_UPDATE);
        else
            drop_collection(x);
        break;
    case R_ROOT: /* answered before authentication */
    case R_NONE:
        reply_not_found(x);
        break;
    }
}

static enum MHD_Result send_reply(ctx *x)
{
    struct MHD_Response *resp;
    if (x->status == 0) {
        /* Only allocation failures get here. */
        if (x->stream) {
            stream_free(x->stream);
            x->stream = NULL;
        }
        reply_text(x, 500, "application/json", "{\"errors\":{\"_\":\"out of memory\"}}");
        if (x->status == 0) return MHD_NO;
    }
    if (x->stream) {
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read,
                                                 x->stream, stream_free);
        if (!resp) stream_free(x->stream);
        x->stream = NULL; /* the response owns it now */
    } else if (x->ui && x->status == 200) {
        resp = MHD_create_response_from_buffer(x->ui->len, (void *)x->ui->data,
                                               MHD_RESPMEM_PERSISTENT);
    } else {
        const void *body = dv_buf_size(&x->out) ? (const void *)dv_buf_head(&x->out) : "";
        resp = MHD_create_response_from_buffer(dv_buf_size(&x->out), (void *)body,
                                               MHD_RESPMEM_MUST_COPY);
    }
    if (!resp) return MHD_NO;
    if (x->ui) {
        int hok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, x->ui->etag) == MHD_YES;
        for (size_t i = 0; hok && dv_ui_headers[i]; i += 2)
            hok = MHD_add_response_header(resp, dv_ui_headers[i], dv_ui_headers[i + 1]) == MHD_YES;
        if (!hok) {
            MHD_destroy_response(resp);
            return MHD_NO;
        }
    }
    int ok = MHD_add_response_header(resp, "Cache-Control", "no-cache") == MHD_YES;
    if (x->ctype)
        ok = ok && MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, x->ctype) == MHD_YES;
    if (x->challenge)
        ok = ok && MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, REALM_HEADER) ==
                       MHD_YES;
    if (x->allow)
        ok = ok && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, x->allow) == MHD_YES;
    if (x->location[0])
        ok = ok && MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, x->location) == MHD_YES;
    enum MHD_Result rc = ok ? MHD_queue_response(x->conn, x->status, resp) : MHD_NO;
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result handle(dv_rest *r, struct MHD_Connection *conn, const char *url,
                              const char *method, const request *q)
{
    ctx x;
    memset(&x, 0, sizeof x);
    x.r = r;
    x.conn = conn;
    x.q = q;
    x.method = method_of(method);
    dv_buf_init(&x.out);
    unsigned allowed = 0;
    route rt = R_NONE;
    if (strncmp(url, "/ui", 3) == 0 && (url[3] == '\0' || url[3] == '/')) {
        serve_ui(&x, url + 3);
        goto send;
    }
    if (split_path(&x, url) == 0) rt = match(&x, &allowed);
    if (rt == R_NONE) {
        reply_text(&x, 404, "text/plain", "Not found.\r\n");
    } else if (!(allowed & x.method)) {
        allow_header(&x, allowed);
        reply_text(&x, 405, "text/plain", "Method Not Allowed\r\n");
    } else if (rt == R_ROOT) {
        serve_root(&x);
    } else if (!(x.user = authenticate(&x))) {
        /* The console asks without the challenge, so that the browser shows its own login
         * form rather than a basic-auth dialog (as Couchbase's UI does with this header). */
        x.challenge = !MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "ns-server-ui");
        reply_empty(&x, 401);
    } else {
        find_host(&x);
        dispatch(&x, rt);
    }
send:;
    enum MHD_Result rc = send_reply(&x);
    dv_user_release(x.user);
    dv_buf_free(&x.out);
    dv_free(x.path);
    return rc;
}

/* ---- libmicrohttpd callbacks ----------------------------------------------------------------- */

static enum MHD_Result send_too_large(struct MHD_Connection *conn)
{
    static const char body[] = "{\"errors\":{\"_\":\"Request body is larger than 1 MiB\"}}";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, 413, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    request *q = *con_cls;
    if (!q) {
        dv_http_guard_headers_done(((dv_rest *)cls)->guard, conn);
        /* Headers are in: refuse a declared oversized body before reading it. */
        q = dv_calloc(1, sizeof *q);
        if (!q) return MHD_NO;
        *con_cls = q;
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && (strlen(cl) > 9 || strtoul(cl, NULL, 10) > BODY_MAX)) {
            q->too_large = q->answered = 1;
            return send_too_large(conn);
        }
        return MHD_YES;
    }
    if (q->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!q->too_large) {
            if (dv_buf_size(&q->body) + *upload_data_size > BODY_MAX) {
                q->too_large = 1; /* read and drop the rest, then answer 413 */
                dv_buf_free(&q->body);
            } else if (dv_buf_append(&q->body, upload_data, *upload_data_size) != 0) {
                return MHD_NO;
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (q->too_large) return send_too_large(conn);
    return handle(cls, conn, url, method, q);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    request *q = *con_cls;
    if (!q) return;
    dv_buf_free(&q->body);
    dv_free(q);
    *con_cls = NULL;
}

/* Paths are decoded segment by segment in split_path, after splitting, so that an encoded '/'
 * stays inside its segment; query strings are not used. */
static size_t no_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    dv_log(DV_LOG_WARN, "rest", "%s", line);
}

/* ---- start and stop -------------------------------------------------------------------------- */

dv_rest *dv_rest_start(dv_cluster *c, dv_users *users, const dv_rest_options *o, char *err,
                       size_t errlen)
{
    static const dv_rest_options defaults = {.host = NULL};
    if (!o) o = &defaults;
    if (o->port < 0 || o->port > 65535) {
        dv_errmsg(err, errlen, 0, "REST port %d out of range", o->port);
        return NULL;
    }
    dv_rest *r = dv_calloc(1, sizeof *r);
    if (!r) {
        dv_errmsg(err, errlen, 0, "out of memory");
        return NULL;
    }
    r->cluster = c;
    r->users = users;
    r->changed = o->changed;
    r->ud = o->ud;
    struct utsname u;
    if (uname(&u) == 0) {
        char sys[32];
        size_t i = 0;
        for (; u.sysname[i] && i < sizeof sys - 1; i++)
            sys[i] = (char)(u.sysname[i] >= 'A' && u.sysname[i] <= 'Z' ? u.sysname[i] + 32
                                                                       : u.sysname[i]);
        sys[i] = '\0';
        snprintf(r->os, sizeof r->os, "%.20s-unknown-%s%s", u.machine, sys,
                 strcmp(sys, "linux") == 0 ? "-gnu" : "");
    } else {
        snprintf(r->os, sizeof r->os, "unknown");
    }
    if (RAND_bytes(r->auth_secret, sizeof r->auth_secret) != 1) {
        dv_errmsg(err, errlen, 0, "no randomness for the REST auth cache");
        dv_free(r);
        return NULL;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->drained, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->auth_mu, NULL);
    pthread_mutex_init(&r->set_mu, NULL);
    static const uint32_t quotas[DV_REST_QUOTAS] = {1024, 512, 512, 1024, 256, 0};
    memcpy(r->set.quota, quotas, sizeof quotas);
    r->set.index.max_rollback_points = 2;
    r->set.index.memory_snapshot_interval = 200;
    r->set.index.stable_snapshot_interval = 5000;
    snprintf(r->set.index.log_level, sizeof r->set.index.log_level, "info");
    r->guard = dv_http_guard_new(&o->limits, "REST");
    if (!r->guard) {
        dv_errmsg(err, errlen, 0, "cannot start the REST connection guard");
        goto fail;
    }
    int family = AF_INET;
    int fd = dv_listen_tcp("REST", o->host, o->port, &family, err, errlen);
    if (fd < 0) goto fail;
    r->port = dv_listen_port(fd);
    struct MHD_OptionItem limits[DV_HTTP_GUARD_OPTIONS];
    dv_http_guard_options(r->guard, limits);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (family == AF_INET6) flags |= MHD_USE_IPv6;
    flags |= dv_http_guard_flags(r->guard);
    r->mhd = MHD_start_daemon(
        flags, 0, dv_http_guard_accept, r->guard, on_request, r, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, r, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, r,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_ARRAY, limits, MHD_OPTION_END);
    if (!r->mhd) {
        close(fd);
        dv_errmsg(err, errlen, 0, "cannot start the REST server (libmicrohttpd)");
        goto fail;
    }
    return r;
fail:
    dv_http_guard_free(r->guard);
    pthread_cond_destroy(&r->drained);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->auth_mu);
    pthread_mutex_destroy(&r->set_mu);
    dv_free(r);
    return NULL;
}

int dv_rest_port(const dv_rest *r)
{
    return r->port;
}

void dv_rest_stop(dv_rest *r)
{
    if (!r) return;
    /* Streams see stopping and end with a proper last chunk; give them a moment to send it
     * (a client that does not read is cut off by the daemon's stop below). */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += STOP_GRACE_SECONDS;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    for (stream *s = r->streams; s; s = s->next) wake(s);
    while (r->streams && pthread_cond_timedwait(&r->drained, &r->mu, &until) == 0) {
    }
    pthread_mutex_unlock(&r->mu);
    /* Take the listening socket back first (libmicrohttpd then leaves it to us), then wait for
     * every connection thread. */
    MHD_socket fd = MHD_quiesce_daemon(r->mhd);
    MHD_stop_daemon(r->mhd);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    dv_http_guard_free(r->guard);
    for (size_t i = 0; i < AUTH_SLOTS; i++) dv_user_release(r->auth[i].user);
    OPENSSL_cleanse(r->auth, sizeof r->auth);
    pthread_cond_destroy(&r->drained);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->auth_mu);
    pthread_mutex_destroy(&r->set_mu);
    dv_free(r);
}
