/* divan-server's network layer: one accepting thread hands connections to worker threads,
 * each running its own libuv loop over its own connections. The protocol lives elsewhere: the
 * net layer moves bytes between sockets and sessions through dv_net_handlers, and writes what a
 * session produced for one read in one write. */
#ifndef DV_SERVER_NET_H
#define DV_SERVER_NET_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef struct dv_net dv_net;

typedef struct dv_net_handlers {
    /* A connection was accepted on a worker; returns its session (NULL refuses it). peer is the
     * client's address as text. */
    void *(*open)(void *ud, const char *peer, const char *local_ip);
    /* Bytes arrived: consume whole requests from p[0..n), append replies to out. Returns the
     * number of bytes consumed, or -1 to close the connection once out is written. */
    long (*data)(void *session, const uint8_t *p, size_t n, dv_buf *out);
    /* dv_net_broadcast() was called: append any push to out. */
    void (*notify)(void *session, dv_buf *out);
    void (*close)(void *session);
} dv_net_handlers;

typedef struct dv_net_options {
    const char *host;       /* address to bind, e.g. "127.0.0.1" or "0.0.0.0" */
    int port;               /* 0 picks a free port */
    int threads;            /* worker threads, >= 1 */
    size_t max_pending_out; /* stop reading from a client whose unsent replies exceed this */
} dv_net_options;

/* Bind, listen and start the threads. NULL with a message in err on failure. */
dv_net *dv_net_start(const dv_net_options *opt, const dv_net_handlers *h, void *ud, char *err,
                     size_t errlen);
int dv_net_port(const dv_net *n);
/* Ask every worker to call notify() on each of its sessions (thread-safe). */
void dv_net_broadcast(dv_net *n);
/* Stop accepting, close every connection, join the threads, free. */
void dv_net_stop(dv_net *n);

#endif
