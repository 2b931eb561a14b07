/* libdivan's engine: a sans-I/O state machine for one cluster (the official core's behaviour,
 * kv-protocol.md §10). It owns no loop, socket, thread or clock: it is driven by events and asks
 * for actions through a hook table, so that any event loop can run it (the libuv driver of
 * client.h, the Python extension on asyncio or Twisted) and tests can run it on a simulated
 * cluster with a fake clock.
 *
 * Driving it, all on one thread:
 *   - create with hooks; dv_engine_open_bucket / dv_engine_submit operations;
 *   - when a connection asked for by hooks.connect is up: dv_engine_connected; bytes:
 *     dv_engine_data; closed or failed: dv_engine_closed; the timer fired: dv_engine_timer;
 *   - at the end of each loop iteration: dv_engine_flush, which hands each connection's batched
 *     output to hooks.write (one call per connection per iteration).
 * Hooks may be called from within any engine call (never re-entrantly into the engine from a
 * hook: a hook must not call dv_engine_*; completions (dv_res_cb) may submit new operations).
 *
 * Connections are named by ids the engine chooses (never reused). A hook reports failure only
 * by a later dv_engine_closed for that id.
 *
 * Behaviour (the official core's, kv-protocol.md §10; details in engine.c / engine_conn.c):
 *   - bootstrap on the connection string's hosts in the order written (no shuffle); out of hosts,
 *     start again after 500 ms until bootstrap_timeout; then one connection per KV node;
 *   - the HTTP fall-back: when no host gave the bucket's config over KV (GET_CLUSTER_CONFIG) for
 *     a reason other than authentication or a missing bucket, each host is then asked for
 *     GET /pools/default/b/<bucket> on its management port (8091), on a connection asked for
 *     with hooks.connect like any other (the driver need not know: ids just name connections);
 *     bootstrap_on=http does only that, bootstrap_on=cccp never; a host written "host:port=http"
 *     is asked only over HTTP, on that port. 401 fails the open with AUTHENTICATION_FAILURE, 404
 *     with BUCKET_NOT_FOUND; other answers move on to the next host. The KV connections of a
 *     bucket bootstrapped so work even if their nodes give no config over KV;
 *   - timeouts: dv_client_opts fields when non-zero, else the connection string's options, else
 *     2500 / 10000 (durable) / 10000 (connect) / 10000 (bootstrap) ms;
 *   - a dropped connection: reads in flight are resent after reconnecting (retry reason
 *     "socket_closed_while_in_flight"), writes in flight fail with REQUEST_CANCELED;
 *   - a deadline: AMBIGUOUS_TIMEOUT for a non-idempotent operation that was written at least
 *     once (reads: GET, GET_REPLICA, EXISTS, LOOKUP_IN, NOOP are idempotent), else
 *     UNAMBIGUOUS_TIMEOUT. */
#ifndef DV_CLIENT_ENGINE_H
#define DV_CLIENT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "divan/client.h"

typedef struct dv_engine_hooks {
    void *ud;
    /* Monotonic time in nanoseconds. */
    uint64_t (*now)(void *ud);
    /* Open a TCP connection to host:port for connection id; report with dv_engine_connected or
     * dv_engine_closed. */
    void (*connect)(void *ud, uint32_t id, const char *host, uint16_t port);
    /* Send these bytes on id (copy them or send before returning; they are borrowed). */
    void (*write)(void *ud, uint32_t id, const uint8_t *p, size_t n);
    /* Close id; no dv_engine_closed is expected after this. */
    void (*close)(void *ud, uint32_t id);
    /* Arm the one timer at this monotonic time (ns); 0 disarms. Re-arming replaces. */
    void (*timer)(void *ud, uint64_t at_ns);
    /* Stop (paused 1) or start again (0) reading id: a streaming response whose reader is
     * behind. NULL: never paused (the rows then wait in memory). */
    void (*pause)(void *ud, uint32_t id, int paused);
} dv_engine_hooks;

typedef struct dv_engine dv_engine;

/* Parse the options (connection string, credentials, timeouts). NULL with a message in err (and
 * *rc set if not NULL) on a bad option or no memory. No hook is called before this returns. */
dv_engine *dv_engine_new(const dv_client_opts *opts, const dv_engine_hooks *hooks, dv_error *rc,
                         char *err, size_t errlen);
/* Fail every pending operation and open-bucket with REQUEST_CANCELED (callbacks run now; a
 * submit from them returns REQUEST_CANCELED), close every connection (hooks.close), free. Not
 * from within a callback. */
void dv_engine_free(dv_engine *e);

/* cb gets OK once the bucket has a config, or AUTHENTICATION_FAILURE, BUCKET_NOT_FOUND,
 * UNAMBIGUOUS_TIMEOUT (bootstrap_timeout), ... For a bucket already open, cb runs before this
 * returns. After a failure, opening it again (or submitting to it) starts a new bootstrap. */
dv_error dv_engine_open_bucket(dv_engine *e, const char *bucket, dv_res_cb cb, void *ud);
/* Close the bucket's connections; what is pending on it fails with REQUEST_CANCELED. A later
 * operation or open on it opens it again (as the official SDK's Bucket.close). */
dv_error dv_engine_close_bucket(dv_engine *e, const char *bucket);
/* The cluster-level connection (kv-protocol.md §10.1, "GCCCP"), which Python's Cluster opens in
 * its constructor: one bucket-less connection to the first host that completes HELLO, SASL,
 * GET_ERROR_MAP and GET_CLUSTER_CONFIG (without SELECT_BUCKET), hosts in turn as for a bucket
 * (KV only, no HTTP round), until bootstrap_timeout. NO_BUCKET or KEY_ENOENT on that
 * GET_CLUSTER_CONFIG: a one-node config is fabricated, as the official core does. cb once with
 * OK, AUTHENTICATION_FAILURE (wrong credentials on every host that answered), UNAMBIGUOUS_TIMEOUT
 * (no host by bootstrap_timeout), PROTOCOL_ERROR, ... Once connected, cb runs before this
 * returns. The connection is kept (reconnected if lost); its config takes pushes without a
 * bucket name only (§10.2). Buckets opened later share nothing with it but the credentials. */
dv_error dv_engine_connect(dv_engine *e, dv_res_cb cb, void *ud);
/* New credentials for the connections opened from now on (open ones keep theirs). */
dv_error dv_engine_set_credentials(dv_engine *e, const char *username, const char *password);
/* NOOP on every KV connection of the bucket (NULL: the cluster connection); cb once, with
 * res->endpoints (one per KV node: remote, state, err OK / UNAMBIGUOUS_TIMEOUT after kv_timeout /
 * REQUEST_CANCELED when the connection is lost / SERVICE_NOT_AVAILABLE when not connected, and
 * latency_us). A bucket never opened (or no connection): cb runs before this returns, with no
 * endpoints. */
dv_error dv_engine_ping(dv_engine *e, const char *bucket_name, dv_res_cb cb, void *ud);
/* The state of every KV connection (buckets and the cluster connection, bootstrap connections
 * included), then of the HTTP ones (kept-alive idle ones and those of requests, with service
 * "query" or "mgmt"): cb runs before this returns with res->endpoints (id, remote, bucket (NULL:
 * the cluster connection), state, last_activity_us, local address of KV connections). */
dv_error dv_engine_diagnostics(dv_engine *e, dv_res_cb cb, void *ud);
/* Accept an operation: DV_ERR_OK and *id (may be NULL) for dv_engine_cancel, or an error for a
 * request that cannot be sent (INVALID_ARGUMENT with no callback). An operation on a bucket not
 * opened yet opens it (without an open callback) and waits for it; operations on a bucket whose
 * open fails complete with the open's error. *id is set before the callback can run: for an
 * operation that cannot be sent at all (e.g. FEATURE_NOT_AVAILABLE: a named collection on a node
 * without collections) it runs before this returns. */
dv_error dv_engine_submit(dv_engine *e, const dv_req *req, dv_res_cb cb, void *ud, uint64_t *id);
/* An HTTP service request (client.h's dv_http_req; the request is copied): DV_ERR_OK and *id
 * (for dv_engine_cancel), or INVALID_ARGUMENT (no method or path), NO_MEMORY. */
dv_error dv_engine_http(dv_engine *e, const dv_http_req *req, dv_res_cb cb, void *ud, uint64_t *id);
/* The same under an id the caller chose (the native driver's, with DV_ENGINE_CALLER_ID set:
 * the engine's own ids never have it), so that another thread can name it at once. */
#define DV_ENGINE_CALLER_ID ((uint64_t)1 << 63)
dv_error dv_engine_http_as(dv_engine *e, const dv_http_req *req, dv_res_cb cb, void *ud,
                           uint64_t id);
/* Read again on the streaming HTTP request id that its rows callback paused (the rows already
 * read are handed out first, maybe from within this call). 0, or -1 if not paused or gone. */
int dv_engine_http_resume(dv_engine *e, uint64_t id);
/* Complete the operation (or HTTP request) with REQUEST_CANCELED now (its reply, if one comes, is
 * dropped). 0, or -1 if it already completed. */
int dv_engine_cancel(dv_engine *e, uint64_t id);

void dv_engine_connected(dv_engine *e, uint32_t id);
/* The local "ip:port" of connection id, for ping and diagnostics (optional, before or after
 * dv_engine_connected). */
void dv_engine_local_address(dv_engine *e, uint32_t id, const char *addr);
void dv_engine_data(dv_engine *e, uint32_t id, const uint8_t *p, size_t n);
/* err: DV_ERR_OK for an orderly close by the peer, else why it failed. */
void dv_engine_closed(dv_engine *e, uint32_t id, dv_error err);
void dv_engine_timer(dv_engine *e);
void dv_engine_flush(dv_engine *e);

/* Operations accepted and not completed yet. */
size_t dv_engine_pending(const dv_engine *e);

#endif
