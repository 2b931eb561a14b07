/* A blocking KV client over real sockets for the server tests, and an in-process server (the
 * net layer with real sessions) to point it at. Every receive has a guard timeout so that a
 * server bug fails the test instead of hanging it. */
#ifndef DV_TEST_KVCLIENT_H
#define DV_TEST_KVCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mcbp/frame.h"
#include "server/net.h"
#include "server/session.h"

/* An in-process server with its own users (Administrator:password, admin) and cluster (the
 * default bucket); a test may add users and buckets before or while it runs. */
typedef struct kv_server {
    dv_users *users;
    dv_cluster *cluster;
    dv_session_ctx *ctx;
    dv_net *net;
    int port;
} kv_server;

void kv_server_start(kv_server *srv, const dv_net_options *opt);
/* Stop it and free its users and cluster. */
void kv_server_stop(kv_server *srv);

/* Received bytes per socket: frames are read one at a time, and a read may hold several. */
typedef struct kv_rx {
    dv_buf b;
    size_t last; /* size of the frame returned last, consumed on the next call */
} kv_rx;

void kv_rx_free(kv_rx *x);

/* A connection to 127.0.0.1:port with a 10 s receive guard. */
int kv_dial(int port);
/* The same from the local address src ("127.0.0.2": another loopback client); NULL: any. */
int kv_dial_from(int port, const char *src);
void kv_send_all(int fd, const void *p, size_t n);
/* Encode and send f (magic 0x80 unless set). */
void kv_send_frame(int fd, dv_frame f);
/* The next whole frame from fd, valid until the next call; fails the test on EOF. */
dv_frame kv_recv_frame(int fd, kv_rx *x);
/* The next frame into *f: 1, or 0 if the server closed the connection first. */
int kv_try_recv_frame(int fd, kv_rx *x, dv_frame *f);
/* 1 if the server closed (or reset) the connection, after any replies; 0 on the guard
 * timeout. */
int kv_closed_by_server(int fd);
/* HELLO (XATTR, XERROR, JSON, DUPLEX, clustermap pushes, COLLECTIONS: keys carry their
 * collection prefix, 0x00 for the default collection), PLAIN as user unless NULL, then
 * SELECT_BUCKET bucket unless NULL; each must succeed. */
int kv_login(int port, const char *user, const char *password, const char *bucket);

#endif
