/* libdivan's client API: operations on a Couchbase cluster (or divan-server).
 *
 * Two ways to drive the same engine:
 *  - dv_client (below): the native driver. It owns a libuv loop on a thread of its own; any
 *    thread may submit operations; completions are called on the driver's thread. A blocking
 *    convenience layer (dv_client_run) waits for one operation.
 *  - the sans-I/O engine (src/client/engine.h), for event loops that are not libuv (the Python
 *    extension drives it from asyncio's or Twisted's own thread).
 *
 * Ownership: a dv_req and everything it points to are borrowed only for the duration of the
 * submit call (the engine copies what it keeps). A dv_res and everything it points to are
 * borrowed for the duration of the completion callback. Every submitted operation completes
 * exactly once: a result, an error, a timeout, a cancellation or a shutdown. A submit that
 * fails (returns an error) never calls back. */
#ifndef DIVAN_CLIENT_H
#define DIVAN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "divan/base.h"
#include "divan/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Operations --------------------------------------------------------------------------- */

typedef enum dv_op_kind {
    DV_KV_GET,           /* value, flags, cas; with_expiry adds the expiry */
    DV_KV_GET_AND_TOUCH, /* expiry */
    DV_KV_GET_AND_LOCK,  /* lock_time */
    DV_KV_GET_REPLICA,   /* replica_index 1..3 (the official core's get_all_replicas) */
    DV_KV_EXISTS,        /* GET_META: exists, deleted, cas */
    DV_KV_INSERT,        /* value, flags, datatype, expiry, durability */
    DV_KV_UPSERT,        /* + preserve_expiry */
    DV_KV_REPLACE,       /* + cas */
    DV_KV_REMOVE,        /* cas, durability */
    DV_KV_TOUCH,         /* expiry */
    DV_KV_UNLOCK,        /* cas */
    DV_KV_APPEND,        /* value, cas, durability */
    DV_KV_PREPEND,       /* value, cas, durability */
    DV_KV_INCREMENT,     /* delta, initial (has_initial), expiry, durability */
    DV_KV_DECREMENT,     /* same */
    DV_KV_LOOKUP_IN,     /* specs (lookup opcodes), access_deleted */
    DV_KV_MUTATE_IN,     /* specs (mutation opcodes), store semantics, cas, expiry, ... */
    DV_KV_NOOP,          /* ping one KV node (the one vbucket 0 lives on) */
    DV_KV_OBSERVE_SEQNO, /* the seqnos of key's vbucket (vbucket_uuid) on its active copy or a
                            replica (replica_index 1..3): res persisted_seqno, current_seqno */
    /* KV range scans of one vbucket (req.vbucket, req.scan; no key). See dv_scan_req. */
    DV_KV_RANGE_SCAN_CREATE,   /* res value: the 16-byte scan id */
    DV_KV_RANGE_SCAN_CONTINUE, /* res value: records (flags 0 keys only, 1 documents) */
    DV_KV_RANGE_SCAN_CANCEL,
    DV_KV_OP_KIND_COUNT
} dv_op_kind;

typedef enum dv_store_semantics {
    DV_STORE_REPLACE = 0, /* the document must exist */
    DV_STORE_UPSERT = 1,  /* create it if missing (doc flag MKDOC) */
    DV_STORE_INSERT = 2,  /* it must not exist (doc flag ADD) */
} dv_store_semantics;

/* One sub-document spec: opcode and path flags as on the wire (mcbp/protocol.h, e.g. 0xc5
 * SUBDOC_GET with 0x04 XATTR_PATH); value only for mutations. */
typedef struct dv_subdoc_op {
    uint8_t opcode;
    uint8_t flags;
    const char *path;
    size_t path_len;
    const void *value;
    size_t value_len;
} dv_subdoc_op;

#define DV_MAX_SPECS 16

/* What a range-scan request asks (the wire format: docs/server.md, Range scans).
 *  - CREATE: a range (start..end, each inclusive unless excl_*) or, with sampling, samples
 *    documents chosen with seed; ids_only for keys without documents; has_snapshot: the
 *    vbucket must have uuid vb_uuid and have reached seqno (else MUTATION_TOKEN_OUTDATED, or
 *    a retry while the seqno is ahead). The collection id is the engine's.
 *  - CONTINUE: id, and at most item_limit records / byte_limit bytes / time_limit_ms (0: none).
 *    Its callback runs once per response frame: res->partial is 1 for every frame but the last
 *    (the operation stays pending); the last says res->scan_more (1: RANGE_SCAN_MORE, continue
 *    again; 0: RANGE_SCAN_COMPLETE, the scan is gone). A cancelled scan: REQUEST_CANCELED.
 *  - CANCEL: id. */
typedef struct dv_scan_req {
    int sampling;
    const void *start, *end;
    size_t start_len, end_len; /* 1..DV_SCAN_TERM_MAX bytes each */
    int excl_start, excl_end;
    uint64_t samples, seed;
    int ids_only;
    int has_snapshot;
    uint64_t vb_uuid, seqno;
    uint8_t id[16];
    uint32_t item_limit, byte_limit, time_limit_ms;
} dv_scan_req;

#define DV_SCAN_TERM_MAX 256

typedef struct dv_req {
    dv_op_kind kind;
    const char *bucket;     /* required (NUL-terminated) */
    const char *scope;      /* NULL: _default */
    const char *collection; /* NULL: _default */
    const void *key;
    size_t key_len;
    const void *value; /* document bytes as the transcoder produced them */
    size_t value_len;
    uint32_t flags;   /* stored with the document (the SDK's common flags) */
    uint8_t datatype; /* DV_DATATYPE_JSON (0x01) or 0; the engine may compress (snappy) */
    uint32_t expiry;  /* as on the wire: 0, relative seconds <= 30 days, or absolute */
    int preserve_expiry;
    uint64_t cas;       /* 0: no compare */
    uint8_t durability; /* 0 none, 1 majority, 2 majority + persist active, 3 persist majority */
    /* Client (observe-based) durability instead: once the mutation succeeded, OBSERVE_SEQNO
     * polls its vbucket until persist_to nodes have it on disk and replicate_to replicas have
     * it (the official core's rules and its 5 s limit: then AMBIGUOUS_TIMEOUT; more than the
     * bucket's replicas: DURABILITY_IMPOSSIBLE, the mutation made). */
    uint8_t persist_to;    /* 0 none, 1 the active, 2..5 one to four nodes */
    uint8_t replicate_to;  /* 0..3 replicas */
    uint64_t vbucket_uuid; /* DV_KV_OBSERVE_SEQNO */
    uint64_t delta;
    uint64_t initial;
    int has_initial;       /* 0: a missing counter is DOCUMENT_NOT_FOUND */
    uint32_t lock_time;    /* seconds */
    uint8_t replica_index; /* DV_KV_GET_REPLICA (1..3), DV_KV_LOOKUP_IN (0 = active, 1..3) */
    int with_expiry;       /* DV_KV_GET */
    const dv_subdoc_op *specs;
    size_t nspecs;
    dv_store_semantics store_semantics; /* DV_KV_MUTATE_IN */
    int access_deleted;
    uint64_t timeout_ms;     /* 0: the cluster's default (KV or durable KV); DV_TIMEOUT_EXPIRED */
    uint16_t vbucket;        /* DV_KV_RANGE_SCAN_*: the vbucket asked (INVALID_ARGUMENT if the
                                bucket has fewer) */
    const dv_scan_req *scan; /* DV_KV_RANGE_SCAN_* */
} dv_req;

/* timeout_ms of an operation whose time is up before it starts (the official SDK's timeout
 * below a millisecond): it completes with UNAMBIGUOUS_TIMEOUT and nothing is sent. */
#define DV_TIMEOUT_EXPIRED UINT64_MAX

typedef struct dv_token {
    uint64_t partition_uuid;
    uint64_t sequence_number;
    uint16_t partition_id;
    const char *bucket_name;
} dv_token;

typedef struct dv_subdoc_res {
    dv_error err; /* the spec's own outcome (PATH_NOT_FOUND, ...) */
    uint16_t status;
    const void *value;
    size_t value_len;
} dv_subdoc_res;

/* What an operation's failure looked like: enough for an error message and the SDK's error
 * context. Strings are NUL-terminated. */
typedef struct dv_error_context {
    uint8_t opcode;
    uint16_t status; /* last server status, 0xffff if none */
    const char *key; /* the user key (may hold any bytes; key_len says how many) */
    size_t key_len;
    const char *bucket, *scope, *collection;
    const char *node;          /* "host:port" of the last node tried, "" if none */
    uint64_t elapsed_us;       /* from submit to completion */
    unsigned retries;          /* how many times it was resent */
    const char *retry_reasons; /* comma-separated official names ("key_value_locked"), "" */
    const char *message;       /* from the server's XERROR context, "" if none */
} dv_error_context;

/* One endpoint (KV connection) in a ping or diagnostics report. */
typedef enum dv_endpoint_state {
    DV_ENDPOINT_DISCONNECTED = 0, /* waiting to reconnect */
    DV_ENDPOINT_CONNECTING = 1,   /* TCP connect or handshake under way */
    DV_ENDPOINT_CONNECTED = 2,
} dv_endpoint_state;

typedef struct dv_endpoint {
    uint32_t id;        /* the engine's connection id, 0 if none */
    const char *remote; /* "host:port" */
    char local[64];     /* "ip:port" of this end of the connection, "" if not known */
    const char *bucket; /* NULL: the cluster-level connection */
    dv_endpoint_state state;
    uint64_t last_activity_us; /* diagnostics: since the last bytes in or out (0: none yet) */
    dv_error err;              /* ping: OK, UNAMBIGUOUS_TIMEOUT, REQUEST_CANCELED (lost),
                                  SERVICE_NOT_AVAILABLE (not connected) */
    uint64_t latency_us;       /* ping: round trip of the NOOP when err is OK */
    const char *service;       /* NULL: a KV connection; "query", "mgmt": an HTTP one
                                  (diagnostics), a static string */
} dv_endpoint;

typedef struct dv_res {
    dv_error err;
    const dv_error_context *ctx; /* always set */
    uint64_t cas;
    uint32_t flags;
    uint8_t datatype; /* of value, decompressed */
    const void *value;
    size_t value_len;
    uint32_t expiry; /* with_expiry: absolute Unix seconds, 0 = none */
    int exists;      /* DV_KV_EXISTS */
    int deleted;
    uint64_t counter;           /* INCREMENT, DECREMENT */
    int has_token;              /* mutations: always (uuid and seqno 0 when not negotiated) */
    dv_token token;             /* mutations */
    const dv_subdoc_res *specs; /* LOOKUP_IN (one per spec), MUTATE_IN (one per spec) */
    size_t nspecs;
    const dv_endpoint *endpoints; /* ping, diagnostics */
    size_t nendpoints;
    uint64_t persisted_seqno, current_seqno; /* DV_KV_OBSERVE_SEQNO */
    int partial;        /* DV_KV_RANGE_SCAN_CONTINUE: more frames of this response follow */
    int scan_more;      /* DV_KV_RANGE_SCAN_CONTINUE's last frame: the scan has more */
    uint16_t nvbuckets; /* DV_KV_RANGE_SCAN_*: the vbuckets of the bucket's config */
    int http_status;    /* an HTTP service request: the response's status (body in value) */
} dv_res;

typedef void (*dv_res_cb)(void *ud, const dv_res *res);

/* ---- HTTP service requests (query, management) ------------------------------------------------
 */

typedef enum dv_http_service {
    DV_HTTP_MGMT = 0,  /* the management REST API (the config's "mgmt" port, 8091) */
    DV_HTTP_QUERY = 1, /* the query service ("n1ql", 8093) */
} dv_http_service;

/* One HTTP request to a node that offers the service in the cluster config (round-robin over
 * those nodes, as the official core). It completes once: err OK with res->http_status and the
 * body in res->value/value_len, whatever the status; SERVICE_NOT_AVAILABLE when no node of the
 * config has the service; at its deadline AMBIGUOUS_TIMEOUT (UNAMBIGUOUS_TIMEOUT when
 * idempotent); REQUEST_CANCELED when cancelled or closed; DECODING_FAILURE for a malformed
 * response. A connection that fails before the request was written (or for an idempotent one,
 * at any time) is retried on the next node with the KV backoff, within the deadline. Without a
 * config yet it waits for one (and opens the cluster-level connection if nothing is open). */
typedef struct dv_http_req {
    dv_http_service service;
    const char *method; /* "GET", "POST", "PUT", "DELETE" */
    const char *path;   /* with its query string, written as given */
    const void *body;   /* NULL: none */
    size_t body_len;
    const char *content_type; /* NULL: no Content-Type header */
    uint64_t timeout_ms;      /* 0: 75000 (the official query and management timeouts) */
    int idempotent;           /* a read: retried after a failure, timeout unambiguous */
    /* Streaming (a query's response): each element of the body's top-level "results" array
     * is handed to rows as soon as it is complete (its JSON text, on the driver thread; do not
     * call into the client from it), and the completion's body is the rest, with "results"
     * empty. rows returns nonzero to pause: the response is not read further (TCP holds the
     * server back; the time paused does not count against the timeout) until
     * dv_client_http_resume. After the rows of one read it is called once with row NULL and
     * len 0 (its return value then ignored): the moment to wake a reader, once per read
     * rather than per row. NULL: the whole body comes with the completion. */
    int (*rows)(void *rows_ud, const char *row, size_t len);
    void *rows_ud;
} dv_http_req;

/* A copy of res (everything it points to included) that outlives the callback, in one
 * allocation; NULL when out of memory. Free with dv_res_free. */
DV_API dv_res *dv_res_dup(const dv_res *res);
DV_API void dv_res_free(dv_res *res);

/* ---- Options --------------------------------------------------------------------------------- */

typedef struct dv_client_opts {
    const char *connstr;  /* couchbase[s]://h1,h2:port?options */
    const char *username; /* NULL or "" with a client certificate */
    const char *password;
    /* Timeouts in milliseconds; 0 = the official core's default. */
    uint64_t kv_timeout_ms;         /* 2500 */
    uint64_t kv_durable_timeout_ms; /* 10000 */
    uint64_t connect_timeout_ms;    /* 10000 */
    uint64_t bootstrap_timeout_ms;  /* 10000 */
    /* TLS (couchbases://). NULL / 0: the connection string's tls_verify and trust_certificate,
     * else peer verification against the system's CAs. */
    const char *trust_store_path; /* PEM CAs to trust instead of the system's */
    int tls_verify;               /* DV_CLIENT_TLS_VERIFY_* */
    /* A client certificate (PEM chain and key): it authenticates, instead of SASL. */
    const char *cert_path, *key_path;
} dv_client_opts;

enum {
    DV_CLIENT_TLS_VERIFY_DEFAULT = 0,
    DV_CLIENT_TLS_VERIFY_PEER = 1,
    DV_CLIENT_TLS_VERIFY_NONE = 2
};

/* ---- The native driver ---------------------------------------------------------------------- */

typedef struct dv_client dv_client;

/* Parse the options, start the driver thread and begin bootstrapping (asynchronously). On
 * failure (bad connection string, no memory) returns the error, with a message in err, and
 * *out is NULL. */
DV_API dv_error dv_client_new(const dv_client_opts *opts, dv_client **out, char *err,
                              size_t errlen);
/* Open a bucket: cb is called once the bucket has a config (err OK) or failed (e.g.
 * BUCKET_NOT_FOUND, AUTHENTICATION_FAILURE, UNAMBIGUOUS_TIMEOUT). Operations on a bucket that is
 * still opening wait for it (within their own timeouts). */
DV_API dv_error dv_client_open_bucket(dv_client *c, const char *bucket, dv_res_cb cb, void *ud);
/* The cluster-level connection (Python's Cluster constructor): cb once with OK,
 * AUTHENTICATION_FAILURE, UNAMBIGUOUS_TIMEOUT (bootstrap_timeout), ...; at once when already
 * connected. Buckets opened later do not depend on it. */
DV_API dv_error dv_client_connect(dv_client *c, dv_res_cb cb, void *ud);
/* NOOP on every KV connection of bucket (NULL: the cluster connection); cb once with one
 * res->endpoints entry per node (err, latency_us), within the KV timeout. */
DV_API dv_error dv_client_ping(dv_client *c, const char *bucket, dv_res_cb cb, void *ud);
/* The state of every KV connection (res->endpoints: remote, bucket, state, last_activity_us). */
DV_API dv_error dv_client_diagnostics(dv_client *c, dv_res_cb cb, void *ud);
/* Close the bucket's connections; its pending operations fail with REQUEST_CANCELED; a later
 * operation or open on it opens it again. From any thread. */
DV_API dv_error dv_client_close_bucket(dv_client *c, const char *bucket);
/* New credentials for the connections opened from now on; open connections keep theirs (as the
 * official SDK's set_authenticator). From any thread. */
DV_API dv_error dv_client_set_credentials(dv_client *c, const char *username, const char *password);
/* Submit an operation from any thread; cb runs on the driver thread. */
DV_API dv_error dv_client_submit(dv_client *c, const dv_req *req, dv_res_cb cb, void *ud);
/* An HTTP service request (see dv_http_req) from any thread; cb runs on the driver thread.
 * *id (id may be NULL) names it for dv_client_cancel and dv_client_http_resume. */
DV_API dv_error dv_client_http(dv_client *c, const dv_http_req *req, dv_res_cb cb, void *ud,
                               uint64_t *id);
/* Complete HTTP request id with REQUEST_CANCELED (its connection is closed), from any thread;
 * nothing if it has completed. */
DV_API dv_error dv_client_cancel(dv_client *c, uint64_t id);
/* Read on the streaming request id that its rows callback paused, from any thread. */
DV_API dv_error dv_client_http_resume(dv_client *c, uint64_t id);
/* Blocking: submit and wait; cb runs on the driver thread before this returns. */
DV_API dv_error dv_client_run(dv_client *c, const dv_req *req, dv_res_cb cb, void *ud);
/* Fail every pending operation with REQUEST_CANCELED, close the connections, stop the thread,
 * free. Not from within a callback. */
DV_API void dv_client_close(dv_client *c);

#ifdef __cplusplus
}
#endif
#endif
