/* The engine's private state, shared by engine.c (operations, timers, completion) and
 * engine_conn.c (connections, handshake, configs, buckets). Not installed, not for drivers.
 *
 * Ownership in one picture:
 *   dv_engine ─┬─ buckets: name, config, node slots (one per KV node of the config), the
 *              │           bootstrap connection while it has no config, collection-id cache
 *              ├─ conns:   every connection, live or dead-but-still-named-by-an-op
 *              ├─ pending: every accepted operation not completed yet (intrusive list)
 *              ├─ batches: operations taken out of pending to be processed (see drain)
 *              ├─ inflight: opaque -> operation, for the operations written and not answered
 *              └─ pings:   dv_engine_ping calls not answered yet (their NOOPs are ctls) */
#ifndef DV_CLIENT_ENGINE_INT_H
#define DV_CLIENT_ENGINE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "client/engine.h"
#include "client/http.h"
#include "client/op.h"
#include "client/rowsplit.h"
#include "mcbp/errmap.h"
#include "mcbp/frame.h"
#include "sasl/sasl.h"
#include "topology/config.h"
#include "topology/connstr.h"

/* The earlier of two times, where 0 means "none". */
static inline uint64_t earliest(uint64_t a, uint64_t b)
{
    return !a || (b && b < a) ? b : a;
}

typedef enum conn_state {
    CONN_CONNECTING, /* hooks.connect asked, waiting for dv_engine_connected */
    CONN_HANDSHAKE,  /* HELLO, SASL, error map, SELECT_BUCKET, GET_CLUSTER_CONFIG; or, for an
                        HTTP connection, the request is out and the response is being read */
    CONN_READY,      /* operations may be written */
    CONN_DEAD,       /* closed; kept only while an operation still names it (refs) */
} conn_state;

/* A request the engine sends for itself. */
typedef enum ctl_kind {
    CTL_HELLO,
    CTL_LIST_MECHS,
    CTL_AUTH,
    CTL_STEP,
    CTL_ERRMAP,
    CTL_SELECT,
    CTL_CONFIG, /* the handshake's GET_CLUSTER_CONFIG: its reply completes the handshake */
    CTL_POLL,   /* periodic GET_CLUSTER_CONFIG on a ready connection */
    CTL_CID,    /* GET_COLLECTION_ID */
    CTL_PING,   /* NOOP of dv_engine_ping */
} ctl_kind;

typedef struct ctl {
    uint32_t opaque;
    ctl_kind kind;
    uint64_t sent_at;
} ctl;

struct bucket;

typedef struct conn {
    uint32_t id;
    struct bucket *b;
    char *host;
    uint16_t port;
    char *name; /* "host:port" for error contexts */
    conn_state state;
    dv_features features; /* acked by HELLO */
    dv_sasl_client *sasl;
    dv_errmap errmap;
    int has_errmap;
    dv_buf in, out;
    ctl *ctls;
    size_t nctl, capctl;
    uint64_t connect_deadline; /* CONNECTING: connect_timeout */
    uint64_t ready_deadline;   /* CONNECTING/HANDSHAKE: bootstrap_timeout */
    unsigned refs;             /* operations whose op->conn is this id */
    uint64_t last_activity;    /* last bytes in or out (ns), for diagnostics */
    char local[64];            /* our end's "ip:port", as the driver reported it */
    char tls_why[160];         /* why its TLS handshake failed ("": it did not) */
    uint64_t opened_at;        /* when hooks.connect was asked */
    /* An HTTP bootstrap connection (GET /pools/default/b/<bucket> on a management port)
     * instead of a KV one: it only ever reads one response, then closes. */
    int http;
    dv_http_resp resp;
    struct conn *next;
} conn;

/* One KV node of the bucket's config (index = node index of the config). */
typedef struct slot {
    char *host; /* NULL: the node has no KV service */
    uint16_t port;
    conn *c;               /* NULL while waiting to reconnect */
    unsigned attempts;     /* failed connects in a row */
    uint64_t reconnect_at; /* when c is NULL */
} slot;

/* The per-bucket collection-id cache entry for "scope.collection". */
typedef struct coll {
    char *scope, *name;
    uint32_t cid;
    int known;             /* 0: a GET_COLLECTION_ID is in flight: */
    uint32_t conn, opaque; /* on this connection, with this opaque (a reply must match both), */
    uint64_t sent_at;      /* since then (forgotten after kv_timeout: asked again) */
    struct coll *next;
} coll;

typedef struct waiter {
    dv_res_cb cb;
    void *ud;
    struct waiter *next;
} waiter;

typedef enum bucket_state {
    B_BOOT,   /* bootstrapping: no config yet */
    B_READY,  /* has a config */
    B_FAILED, /* the open failed (err); a new open or operation starts again */
} bucket_state;

/* The cluster-level (bucket-less, GCCCP) connection of dv_engine_connect is a bucket named ""
 * (no bucket can be named so): it bootstraps like one but sends no SELECT_BUCKET, takes a
 * config without a vBucketMap (or fabricates one on NO_BUCKET), never falls back to HTTP, keeps
 * one connection (its one slot) and is not polled (it relies on pushes, as the official core). */
typedef struct bucket {
    char *name;
    int cluster; /* name is "" */
    bucket_state state;
    dv_error err;
    dv_config *cfg;
    slot *slots;
    size_t nslots;
    /* Bootstrap: hosts of the connection string in turn, over KV, then (the fall-back, or
     * bootstrap_on=http, or hosts given with =http) over HTTP. */
    conn *boot;
    size_t boot_host;
    int boot_http; /* the HTTP round; still 1 once ready: the config came over HTTP */
    uint64_t boot_deadline, boot_retry_at;
    dv_error boot_err; /* the last non-transient failure (authentication, handshake) */
    /* What each bootstrap attempt came to, per host of the connection string and round (index
     * 2 * host + http), for the error of a failed open; boot_msg holds the text made of it. */
    struct boot_try {
        unsigned attempts;
        uint64_t waited_ms; /* the longest wait for an answer that did not come */
        char why[200];
    } * tries;
    dv_buf boot_msg;
    uint64_t poll_at;
    size_t poll_rr;
    coll *colls;
    waiter *waiters; /* open_bucket callbacks not called yet */
    struct bucket *next;
} bucket;

/* A dv_engine_ping in progress: one NOOP per endpoint. */
typedef struct ping {
    dv_res_cb cb;
    void *ud;
    char *bucket; /* NULL: the cluster connection */
    dv_endpoint *ep;
    uint32_t *conn, *opaque; /* per endpoint; conn 0: not sent (ep.err set) */
    int *done;
    size_t n, left;
    uint64_t sent_at, deadline;
    struct ping *next;
} ping;

/* An HTTP service request (dv_engine_http, engine_http.c): one connection of its own per
 * attempt, named by an id from the same counter as the KV connections. */
typedef enum hreq_state {
    HREQ_WAIT,    /* no config yet, or backing off before the next attempt (retry_at) */
    HREQ_CONNECT, /* hooks.connect asked */
    HREQ_SENT,    /* the request is written (or batched for the next flush), reading */
    HREQ_DRAIN,   /* streaming: the response is in, the connection let go, rows wait */
} hreq_state;

typedef struct hreq {
    uint64_t id;
    dv_http_service svc;
    char *method, *path, *ctype;
    uint8_t *body;
    size_t body_len;
    int idempotent;
    hreq_state state;
    uint32_t conn; /* 0: none */
    int written;   /* the request went out at least once */
    char node[128];
    uint64_t submitted, deadline, retry_at;
    unsigned retries;
    unsigned gen; /* http_wake's pass that last tried it */
    int reused;   /* this attempt runs on a kept-alive connection */
    dv_buf out;
    dv_http_resp resp;
    dv_res_cb cb;
    void *ud;
    /* Streaming (dv_http_req.rows): the body goes through split as it comes. */
    int (*rows)(void *rows_ud, const char *row, size_t len);
    void *rows_ud;
    dv_rowsplit *split;
    int paused;         /* the rows callback asked to pause: nothing more is split */
    int sock_paused;    /* hooks.pause(conn, 1) was called */
    uint64_t paused_at; /* when; the deadline moves on by the time paused */
    struct hreq *next;
} hreq;

/* A kept-alive HTTP connection between requests (to "host:port"), closed after 1 s idle. */
typedef struct hidle {
    uint32_t conn;
    dv_http_service svc;
    char node[128];
    uint64_t last, until; /* its response came at last; closed at until */
    struct hidle *next;
} hidle;

typedef struct oplist {
    dv_op *head, *tail;
    size_t n;
} oplist;

/* A batch of operations taken out of pending to be processed one by one (on the C stack; a
 * callback may start another one, hence the chain for dv_engine_cancel to search). */
typedef struct batch {
    oplist l;
    struct batch *up;
} batch;

struct dv_engine {
    dv_engine_hooks h;     /* with TLS: engine_tls.c's, which call outer */
    dv_engine_hooks outer; /* the driver's hooks under TLS */
    struct eng_tls *tls;   /* NULL: plain TCP */
    int cert_auth;         /* a client certificate authenticates: no SASL */
    dv_connstr *cs;
    char *user, *pass;
    uint64_t kv_timeout_ns, durable_timeout_ns, connect_timeout_ns, bootstrap_timeout_ns;
    uint64_t poll_interval_ns;
    uint32_t next_conn_id, next_opaque;
    uint64_t next_op_id;
    bucket *buckets;
    conn *conns;
    oplist pending;
    batch *batches; /* innermost batch being processed */
    /* inflight: open addressing on opaque, linear probing, backward-shift deletion */
    dv_op **slots;
    size_t cap, used;
    uint64_t timer_at; /* armed time, 0: none */
    int in_timer;      /* dv_engine_timer re-arms once at its end */
    int depth;         /* nesting of API calls (callbacks may call in): reap at depth 0 only */
    int closing;
    dv_buf scratch; /* dv_op_decode's */
    ping *pings;
    hreq *hreqs;      /* HTTP service requests not completed yet */
    uint32_t http_rr; /* round-robin over the nodes of a service */
    unsigned http_gen;
    hidle *idle; /* kept-alive HTTP connections, most recent first */
};

/* ---- engine_tls.c: TLS between the engine and the driver's hooks ---- */
/* Set up TLS for e (couchbases://): the client context from the options, and e->h replaced by
 * hooks that encrypt and decrypt around the driver's (kept in e->outer). */
dv_error eng_tls_new(dv_engine *e, const dv_client_opts *o, char *err, size_t errlen);
void eng_tls_free(dv_engine *e);
/* host is Capella's: cloud.couchbase.com or a name under it (any case, one trailing dot). */
int eng_is_capella_host(const char *host);
/* The service's port key in configs: its TLS twin under TLS. */
static inline dv_service eng_svc(const dv_engine *e, dv_service plain)
{
    return (dv_service)(plain + (e->tls ? 1 : 0));
}

/* ---- engine_conn.c: the connection events once TLS is done with them ---- */
void eng_on_connected(dv_engine *e, uint32_t id);
void eng_on_data(dv_engine *e, uint32_t id, const uint8_t *p, size_t n);
void eng_on_closed(dv_engine *e, uint32_t id, dv_error err);
/* Record why the TLS handshake of connection id failed, for the bootstrap's report. */
void eng_conn_tls_failed(dv_engine *e, uint32_t id, const char *why);

/* ---- engine.c ---- */
uint64_t eng_now(dv_engine *e);
/* Make sure the timer fires no later than at (0: nothing). */
void eng_arm(dv_engine *e, uint64_t at);
uint32_t eng_opaque(dv_engine *e);
/* Every operation of b that waits (not in flight, not backing off) is tried again. */
void eng_redispatch(dv_engine *e, bucket *b);
/* Complete every operation of b that has not been written with err (the open failed). */
void eng_fail_bucket_ops(dv_engine *e, bucket *b, dv_error err);
/* The operations in flight on c: reads are retried, writes fail with REQUEST_CANCELED. */
void eng_conn_lost(dv_engine *e, conn *c);
/* Operations waiting for the id of k: UNKNOWN_COLLECTION -> retry after 500 ms; another
 * status -> complete with its error. */
void eng_cid_failed(dv_engine *e, bucket *b, coll *k, uint16_t status);
/* Find or start opening a bucket. */
bucket *eng_bucket(dv_engine *e, const char *name, int create);
/* A dead connection's id, still named by operations, or a live one. */
conn *eng_conn_by_id(dv_engine *e, uint32_t id);
/* The operation in flight with this opaque, or NULL. */
dv_op *eng_inflight(dv_engine *e, uint32_t opaque);
/* A reply to op (in flight on c) arrived. */
void eng_op_reply(dv_engine *e, conn *c, dv_op *op, const dv_frame *f);

/* A ping's NOOP on c was answered / c was lost: record it. The complete pings are called back
 * when the outermost API call ends (eng_leave), never while a list is being walked. */
void ping_answered(dv_engine *e, conn *c, uint32_t opaque);
void ping_conn_lost(dv_engine *e, conn *c);

/* ---- engine_http.c ---- */
/* The HTTP request on connection id, if any (the events of engine_conn.c ask first). */
hreq *http_by_conn(dv_engine *e, uint32_t id);
void http_connected(dv_engine *e, hreq *h);
void http_on_data(dv_engine *e, hreq *h, const uint8_t *p, size_t n);
void http_on_closed(dv_engine *e, hreq *h, dv_error err);
void http_flush(dv_engine *e);
/* Deadlines and retries due at now; the next time due (0: none). */
void http_tick(dv_engine *e, uint64_t now);
uint64_t http_next(const dv_engine *e);
/* Requests waiting for a config: sent once there is one (at the end of the outermost call). */
void http_wake(dv_engine *e);
/* Complete one request with REQUEST_CANCELED: 0, or -1 if id is not an HTTP request. */
int http_cancel(dv_engine *e, uint64_t id);
/* Fail every request with REQUEST_CANCELED and close the idle connections (closing). */
void http_fail_all(dv_engine *e);
/* An event for connection id that no request has: an idle kept-alive connection closed by the
 * peer (closed) or sending bytes (it is closed): 1 if id was one. */
int http_idle_event(dv_engine *e, uint32_t id);
/* Diagnostics: the HTTP connections (idle kept-alive ones, then those of requests), at most
 * cap into ep (remote points into the engine's state: valid until the next engine call). */
size_t http_endpoint_count(const dv_engine *e);
size_t http_endpoints(dv_engine *e, dv_endpoint *ep, size_t cap);

/* ---- engine_conn.c ---- */
void bucket_boot_start(dv_engine *e, bucket *b);
/* While b has no config: which seeds its bootstrap tried and why each failed ("" before any
 * failure); NULL once it has one. Valid until the next engine call. */
const char *bucket_boot_report(dv_engine *e, bucket *b);
/* Timed work of a bucket / a connection due at now, and when the next is due (0: none). */
void bucket_tick(dv_engine *e, bucket *b, uint64_t now);
uint64_t bucket_next(const bucket *b, uint64_t kv_timeout_ns);
void conn_tick(dv_engine *e, conn *c, uint64_t now);
uint64_t conn_next(const conn *c);
void bucket_free(dv_engine *e, bucket *b);
void conn_frame(dv_engine *e, conn *c, const dv_frame *f);
/* Close c (hooks.close if we_close), fail or retry what is in flight on it, reconnect. */
void conn_down(dv_engine *e, conn *c, dv_error err, int we_close);
/* Free dead connections no operation names any more (only when no API call is running). */
void conn_reap(dv_engine *e);
/* Every API entry point: enter first, leave last (leave reaps at the outermost level). */
void eng_enter(dv_engine *e);
void eng_leave(dv_engine *e);
/* Append a request of ours to c's output; its opaque goes to *opaque if not NULL. 0 or -1. */
int conn_send_ctl(dv_engine *e, conn *c, ctl_kind kind, uint8_t opcode, const void *key,
                  size_t keylen, const void *value, size_t vlen, uint32_t *opaque);
/* Forget k (unlink from b's cache, free). */
void coll_drop(bucket *b, coll *k);
/* Ask c for the config now (GET_CLUSTER_CONFIG) unless a request is already out. */
void conn_poll(dv_engine *e, conn *c);
/* Apply a config that arrived on c (parsed with c's host for $HOST); pushed: a 0x82 push. */
void bucket_take_config(dv_engine *e, bucket *b, conn *c, const uint8_t *json, size_t len,
                        int pushed);

#endif
