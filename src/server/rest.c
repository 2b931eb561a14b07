/* divan-server's management REST API on libmicrohttpd; see rest.h.
 *
 * A request goes: on_request collects the body (at most 1 MiB), then handle() splits and decodes
 * the path, matches a route (404, 405), authenticates (401), and the route's handler checks the
 * permission (403), finds the bucket (404), does the work and fills a reply that send_reply()
 * hands to libmicrohttpd. Streaming routes hand over a `stream` instead, read by the connection
 * thread until the client leaves or the server stops. */
#include "server/rest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
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
#include "base/buf.h"
#include "base/errmsg.h"
#include "base/log.h"
#include "server/listen.h"
#include "server/rest_form.h"
#include "topology/manifest.h"

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

struct dv_rest {
    dv_cluster *cluster;
    dv_users *users;
    void (*changed)(void *ud);
    void *ud;
    struct MHD_Daemon *mhd;
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
} ctx;

/* ---- small helpers --------------------------------------------------------------------------- */

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
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:[s],s:{s:i}}", "hostname", hostname,
                     "otpNode", otp, "version", DV_REST_VERSION, "os", x->r->os, "status",
                     "healthy", "clusterMembership", "active", "recoveryType", "none", "thisNode",
                     1, "nodeUUID", dv_cluster_node_uuid(c), "services", "kv", "ports", "direct",
                     (int)kv);
}

static void serve_root(ctx *x)
{
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
    reply_json(x, 200,
               json_pack("{s:s,s:s,s:[o],s:o,s:{s:s,s:s,s:s},s:s,s:b,s:s}", "name", name,
                         "clusterName", dv_cluster_name(c), "nodes", node_json(x), "bucketNames",
                         names, "buckets", "uri", buckets, "terseBucketsBase", "/pools/default/b/",
                         "terseStreamingBucketsBase", "/pools/default/bs/", "nodeServicesUri",
                         services, "balanced", 1, "rebalanceStatus", "none"));
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
    if (o && s.type == DV_BUCKET_COUCHBASE &&
        json_object_set_new(o, "storageBackend", json_string("couchstore")) != 0) {
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
    if ((v = dv_form_get(f, "ramQuotaMB"))) {
        if (form_u32(v, 0, UINT32_MAX, &u) != 0)
            add_error(errs, "ramQuotaMB",
                      "The RAM Quota must be specified and must be a positive integer.");
        else if (u < 100)
            add_error(errs, "ramQuotaMB", "RAM quota cannot be less than 100 MiB");
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
        if (value_is(v, "magma"))
            add_error(errs, "storageBackend",
                      "divan-server supports only the couchstore storage backend");
        else if (!value_is(v, "couchstore"))
            add_error(errs, "storageBackend", "storageBackend must be couchstore or magma");
    }
    if ((v = dv_form_get(f, "numVBuckets")) &&
        (form_u32(v, 0, UINT32_MAX, &u) != 0 || u != DV_BUCKET_NVB))
        add_error(errs, "numVBuckets", "divan-server buckets have 1024 vbuckets");
    if ((v = dv_form_get(f, "historyRetentionCollectionDefault")) && form_flag(v, &flag) != 0)
        add_error(errs, "historyRetentionCollectionDefault",
                  "historyRetentionCollectionDefault must be true or false");
    static const char *const history[] = {"historyRetentionBytes", "historyRetentionSeconds"};
    for (size_t i = 0; i < 2; i++)
        if ((v = dv_form_get(f, history[i])) && (form_u32(v, 0, UINT32_MAX, &u) != 0 || u != 0))
            add_error(errs, history[i], "History retention is supported only on magma buckets");
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
        reply_text(x, 404, "text/plain", "The bucket to be deleted was not found.\r\n");
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

/* Check the form against the fields a collections request takes: the name (required) and, for
 * collections, maxTTL and history. Fills spec; answers 400 and returns -1 on any problem. */
static int collections_form(ctx *x, const dv_form *f, int collection, dv_collection_spec *spec)
{
    json_t *errs = json_object();
    if (!errs) {
        reply_oom(x);
        return -1;
    }
    char buf[128];
    const dv_form_field *v = dv_form_get(f, "name");
    const char *problem = v ? name_problem(v, buf, sizeof buf) : "The value must be supplied";
    if (problem) add_error(errs, "name", problem);
    memset(spec, 0, sizeof *spec);
    for (size_t i = 0; i < f->n; i++) {
        const dv_form_field *fl = &f->v[i];
        if (strcmp(fl->name, "name") == 0 && fl->name_len == 4) continue;
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
            if (value_is(fl, "true") || value_is(fl, "false")) {
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
        if (collections_form(x, &f, 0, &spec) == 0) {
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

static void create_collection(ctx *x)
{
    dv_bucket *b = bucket_for_scope(x);
    if (!b) return;
    const char *scope = x->seg[SEG_SCOPE];
    dv_form f;
    dv_collection_spec spec;
    if (read_form(x, &f) == 0) {
        if (collections_form(x, &f, 1, &spec) == 0) {
            const char *name = dv_form_get(&f, "name")->value;
            uint64_t uid = 0;
            dv_error rc = dv_bucket_create_collection(b, scope, name, &spec, &uid);
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
        "GET, HEAD", "GET, HEAD, POST", "GET, HEAD, POST, DELETE", "POST", "DELETE", "GET",
    };
    static const unsigned masks[] = {
        M_GET | M_HEAD,
        M_GET | M_HEAD | M_POST,
        M_GET | M_HEAD | M_POST | M_DELETE,
        M_POST,
        M_DELETE,
        M_GET,
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

static int seg_is(const ctx *x, size_t i, const char *lit)
{
    return i < x->nseg && strcmp(x->seg[i], lit) == 0;
}

static route match(const ctx *x, unsigned *allowed)
{
    const unsigned get = M_GET | M_HEAD;
    size_t n = x->nseg;
    *allowed = get;
    if (n == 0) return R_ROOT;
    if (!seg_is(x, 0, "pools")) return R_NONE;
    if (n == 1) return R_POOLS;
    if (n == 2 && seg_is(x, 1, "nodes")) return R_POOL_NODES;
    if (!seg_is(x, 1, "default")) return R_NONE;
    if (n == 2) return R_POOL_DEFAULT;
    if (n == 3 && seg_is(x, 2, "nodeServices")) return R_NODE_SERVICES;
    if (n == 3 && seg_is(x, 2, "nodeServicesStreaming")) {
        *allowed = M_GET;
        return R_NODE_SERVICES_STREAM;
    }
    if (n == 4 && seg_is(x, 2, "b")) return R_TERSE;
    if (n == 4 && seg_is(x, 2, "bs")) {
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
        /* PATCH (maxTTL, history) waits for a collection update in bucket.h. */
        *allowed = M_DELETE;
        return R_COLLECTION;
    }
    return R_NONE;
}

static void dispatch(ctx *x, route rt)
{
    int post = x->method == M_POST, del = x->method == M_DELETE;
    switch (rt) {
    case R_POOLS:
        serve_pools(x);
        break;
    case R_POOL_DEFAULT:
        serve_pool(x, "default");
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
        create_collection(x);
        break;
    case R_COLLECTION:
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
    } else {
        const void *body = dv_buf_size(&x->out) ? (const void *)dv_buf_head(&x->out) : "";
        resp = MHD_create_response_from_buffer(dv_buf_size(&x->out), (void *)body,
                                               MHD_RESPMEM_MUST_COPY);
    }
    if (!resp) return MHD_NO;
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
    if (split_path(&x, url) == 0) rt = match(&x, &allowed);
    if (rt == R_NONE) {
        reply_text(&x, 404, "text/plain", "Not found.\r\n");
    } else if (!(allowed & x.method)) {
        allow_header(&x, allowed);
        reply_text(&x, 405, "text/plain", "Method Not Allowed\r\n");
    } else if (rt == R_ROOT) {
        serve_root(&x);
    } else if (!(x.user = authenticate(&x))) {
        x.challenge = 1;
        reply_empty(&x, 401);
    } else {
        find_host(&x);
        dispatch(&x, rt);
    }
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
    static const dv_rest_options defaults = {NULL, 0, NULL, NULL};
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
    int family = AF_INET;
    int fd = dv_listen_tcp("REST", o->host, o->port, &family, err, errlen);
    if (fd < 0) goto fail;
    r->port = dv_listen_port(fd);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (family == AF_INET6) flags |= MHD_USE_IPv6;
    r->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, r, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, r,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, r,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 120u,
        MHD_OPTION_CONNECTION_LIMIT, 1000u, MHD_OPTION_END);
    if (!r->mhd) {
        close(fd);
        dv_errmsg(err, errlen, 0, "cannot start the REST server (libmicrohttpd)");
        goto fail;
    }
    return r;
fail:
    pthread_cond_destroy(&r->drained);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->auth_mu);
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
    for (size_t i = 0; i < AUTH_SLOTS; i++) dv_user_release(r->auth[i].user);
    OPENSSL_cleanse(r->auth, sizeof r->auth);
    pthread_cond_destroy(&r->drained);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->auth_mu);
    dv_free(r);
}
