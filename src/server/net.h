/* divan-server's network layer: one accepting thread hands connections to worker threads,
 * each running its own libuv loop over its own connections. The protocol lives elsewhere: the
 * net layer moves bytes between sockets and sessions through dv_net_handlers, and writes what a
 * session produced for one read in one write.
 *
 * Limits (dv_net_options; what a client sees at each is in docs/server.md):
 *   - a connection stops being served (its requests wait unread in its buffer, and the socket
 *     is not read) once its unsent replies pass max_pending_out, and resumes when they drain
 *     to half of it; a request is never cut short, so one reply may overshoot the cap;
 *   - once every connection's unsent replies together pass max_pending_total, a connection
 *     with unsent replies is not served until they are all written, and one without is served
 *     one reply at a time: a client that reads is still answered, a client that does not read
 *     holds at most one reply beyond the budget;
 *   - a connection not authenticated within preauth_timeout_ms is closed, and at most
 *     max_preauth connections wait for authentication (per worker: max_preauth / threads);
 *     past that the oldest waiting connection is closed to make room;
 *   - a connection that holds an incomplete request for frame_timeout_ms is closed.
 * With a TLS context every connection is TLS from its first byte: the limits count request and
 * reply bytes in the clear, and the ciphertext waits in buffers of its own.
 * Every close the layer decides is logged with its reason (WARN). */
#ifndef DV_SERVER_NET_H
#define DV_SERVER_NET_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "server/tls.h"

typedef struct dv_net dv_net;

typedef struct dv_net_handlers {
    /* A connection was accepted on a worker; returns its session (NULL refuses it). peer is the
     * client's address as text. */
    void *(*open)(void *ud, const char *peer, const char *local_ip);
    /* Bytes arrived: consume whole requests from p[0..n), append replies to out, and stop
     * before the next request once out holds at least limit bytes. Returns the number of
     * bytes consumed, or -1 to close the connection once out is written. */
    long (*data)(void *session, const uint8_t *p, size_t n, dv_buf *out, size_t limit);
    /* dv_net_broadcast() was called: append any push to out. */
    void (*notify)(void *session, dv_buf *out);
    void (*close)(void *session);
    /* 1 once the session authenticated; NULL: every connection counts as authenticated. */
    int (*authenticated)(void *session);
    /* A TLS connection finished its handshake, before any request is read: returns -1 to close
     * it. NULL: nothing to do. */
    int (*secured)(void *session, const dv_tls_conn *tls);
} dv_net_handlers;

typedef struct dv_net_options {
    const char *host;            /* address to bind, e.g. "127.0.0.1" or "0.0.0.0" */
    int port;                    /* 0 picks a free port */
    int threads;                 /* worker threads, >= 1 */
    size_t max_pending_out;      /* per connection (default DV_NET_DEFAULT_MAX_PENDING_OUT) */
    size_t max_pending_total;    /* server-wide (default DV_NET_DEFAULT_MAX_PENDING_TOTAL) */
    unsigned max_preauth;        /* connections awaiting authentication (DV_NET_DEFAULT_...) */
    uint32_t preauth_timeout_ms; /* default DV_NET_DEFAULT_PREAUTH_TIMEOUT_MS */
    uint32_t frame_timeout_ms;   /* default DV_NET_DEFAULT_FRAME_TIMEOUT_MS */
    dv_tls *tls;                 /* non-NULL: every connection speaks TLS (not owned) */
} dv_net_options;

/* Defaults for the options left 0. */
#define DV_NET_DEFAULT_MAX_PENDING_OUT    (64u << 20)
#define DV_NET_DEFAULT_MAX_PENDING_TOTAL  (256u << 20)
#define DV_NET_DEFAULT_MAX_PREAUTH        1000u
#define DV_NET_DEFAULT_PREAUTH_TIMEOUT_MS 30000u
#define DV_NET_DEFAULT_FRAME_TIMEOUT_MS   60000u

/* Bind, listen and start the threads. NULL with a message in err on failure. */
dv_net *dv_net_start(const dv_net_options *opt, const dv_net_handlers *h, void *ud, char *err,
                     size_t errlen);
int dv_net_port(const dv_net *n);
/* Ask every worker to call notify() on each of its sessions (thread-safe). */
void dv_net_broadcast(dv_net *n);
/* Stop accepting, close every connection, join the threads, free. */
void dv_net_stop(dv_net *n);

#endif
