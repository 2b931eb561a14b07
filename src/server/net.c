#include "server/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/log.h"

#define READ_CHUNK  (64 * 1024)
#define SERVE_CHUNK (16u << 10) /* reply bytes written at a time from a long pipeline */
/* A written buffer larger than this is freed rather than kept for the next write, so that an
 * idle connection does not hold the memory of its largest reply. */
#define KEEP_WBUF (256 * 1024)

typedef struct worker worker;

typedef struct conn {
    uv_tcp_t tcp;
    worker *w;
    void *session;
    char peer[INET6_ADDRSTRLEN];
    dv_buf in, out, wbuf; /* wbuf: the bytes of the write in flight */
    dv_tls_conn *tls;     /* NULL: plain TCP */
    dv_buf raw, tout;     /* TLS: ciphertext read, and ciphertext to write */
    int secured;          /* TLS: the handshake is done and the session told */
    uv_write_t wreq;
    int writing, closing, reading;
    int paused;          /* not served: its unsent replies are over a limit */
    int preauth;         /* counted in the worker's connections awaiting authentication */
    size_t accounted;    /* out + wbuf as last added to the server-wide total */
    uint64_t opened_ms;  /* loop time of the accept */
    uint64_t partial_ms; /* loop time since which `in` holds an incomplete request; 0: none */
    int held;            /* its replies wait for the session's release (durable writes) */
    struct conn *prev, *next;
    struct conn *held_next; /* in the worker's held list */
} conn;

struct worker {
    dv_net *net;
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t sweep;  /* closes connections past their timeouts */
    uv_check_t settle; /* after each loop iteration's reads: releases the held replies */
    conn *held;        /* connections whose replies wait, newest first */
    pthread_mutex_t mu;
    int *fds; /* accepted sockets waiting to be adopted */
    size_t nfds, capfds;
    atomic_uint notify_gen;
    unsigned seen_gen;
    atomic_int stop;
    conn *conns;
    unsigned npreauth, max_preauth;
};

struct dv_net {
    int listen_fd;
    int port;
    pthread_t acceptor;
    worker *workers;
    int nworkers, next;
    dv_net_handlers h;
    void *ud;
    dv_tls *tls;
    size_t max_out, max_total;
    uint32_t preauth_timeout_ms, frame_timeout_ms;
    atomic_size_t pending_total; /* every connection's unsent reply bytes */
    atomic_int stopping;
};

static void flush(conn *c);
static void process(conn *c);

/* The connection's unsent bytes. */
static size_t pending(const conn *c)
{
    return dv_buf_size(&c->out) + dv_buf_size(&c->tout) + dv_buf_size(&c->wbuf);
}

/* Keep the server-wide total in step with this connection's unsent bytes. */
static void account(conn *c)
{
    size_t now = pending(c);
    if (now >= c->accounted)
        atomic_fetch_add(&c->w->net->pending_total, now - c->accounted);
    else
        atomic_fetch_sub(&c->w->net->pending_total, c->accounted - now);
    c->accounted = now;
}

static void preauth_done(conn *c)
{
    if (!c->preauth) return;
    c->preauth = 0;
    c->w->npreauth--;
}

static void on_close(uv_handle_t *h)
{
    conn *c = h->data;
    worker *w = c->w;
    if (c->held)
        for (conn **pp = &w->held; *pp; pp = &(*pp)->held_next)
            if (*pp == c) {
                *pp = c->held_next;
                break;
            }
    if (c->session) w->net->h.close(c->session);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    preauth_done(c);
    dv_buf_free(&c->in);
    dv_buf_free(&c->out);
    dv_buf_free(&c->wbuf);
    dv_buf_free(&c->raw);
    dv_buf_free(&c->tout);
    dv_tls_conn_free(c->tls);
    account(c);
    dv_free(c);
}

static void conn_close(conn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp)) return;
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* Close a connection for a reason the client did not ask for, and say so. */
static void conn_drop(conn *c, const char *why)
{
    dv_log(DV_LOG_WARN, "net", "%s: closing the connection: %s", c->peer, why);
    c->closing = 1;
    conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    conn *c = h->data;
    uint8_t *p = dv_buf_reserve(c->tls ? &c->raw : &c->in, READ_CHUNK);
    *buf = uv_buf_init((char *)p, p ? READ_CHUNK : 0);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void set_reading(conn *c, int on)
{
    if (on && !c->reading && !c->closing) {
        c->reading = 1;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    } else if (!on && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

/* How many more reply bytes the connection may produce now; 0: it is not served. */
static size_t room(const conn *c)
{
    const dv_net *n = c->w->net;
    size_t pending = dv_buf_size(&c->out) + dv_buf_size(&c->tout) + dv_buf_size(&c->wbuf);
    if (pending >= n->max_out || (c->paused && pending > n->max_out / 2)) return 0;
    size_t total = atomic_load(&n->pending_total);
    if (total >= n->max_total) return pending ? 0 : 1;
    /* Within the budget too: a batch stops where either limit is reached. */
    size_t own = n->max_out - pending, all = n->max_total - total;
    return own < all ? own : all;
}

/* Write what was answered, and read on only while the connection may be served. */
static void written(conn *c)
{
    account(c);
    flush(c);
    if (c->closing || c->held) return;
    size_t r = room(c);
    c->paused = r == 0;
    /* Unserved requests wait in `in`; a partial one starts the frame timeout. */
    if (!dv_buf_size(&c->in))
        c->partial_ms = 0;
    else if (!c->partial_ms && !c->paused)
        c->partial_ms = uv_now(&c->w->loop);
    set_reading(c, !c->paused);
}

/* Serve the complete requests buffered, as far as the limits allow, then write (at the end of
 * the loop iteration when the session holds its replies). */
static void process(conn *c)
{
    if (c->closing) return;
    dv_net *n = c->w->net;
    size_t r;
    while ((r = room(c)) && dv_buf_size(&c->in)) {
        /* Replies go out every SERVE_CHUNK bytes: the client reads the first ones while the
         * rest are being served (a long pipeline is not answered in one lump). */
        size_t limit = dv_buf_size(&c->out) + (r < SERVE_CHUNK ? r : SERVE_CHUNK);
        long used = n->h.data(c->session, dv_buf_head(&c->in), dv_buf_size(&c->in), &c->out, limit);
        if (used < 0) {
            c->closing = 1;
            set_reading(c, 0);
            dv_buf_reset(&c->in);
        } else {
            dv_buf_consume(&c->in, (size_t)used);
        }
        if (c->preauth && n->h.authenticated && n->h.authenticated(c->session)) preauth_done(c);
        if (!c->held && n->h.held && n->h.held(c->session)) {
            c->held = 1;
            c->held_next = c->w->held;
            c->w->held = c;
        }
        if (used <= 0 || c->closing || c->held) break;
        /* Out once a chunk is ready, or when the room ran out (the budget may be spent: what
         * the socket takes now frees it, and the rest of `in` is served, not left waiting) */
        if (dv_buf_size(&c->out) >= SERVE_CHUNK || r < SERVE_CHUNK) flush(c);
    }
    written(c);
}

/* The loop iteration's reads are done: the sessions that hold replies release them (the first
 * waits for the commit their durable writes share), and they are written. */
static void on_settle(uv_check_t *h)
{
    worker *w = h->data;
    conn *list = w->held;
    w->held = NULL;
    /* Oldest first, as they were read. */
    conn *rev = NULL;
    while (list) {
        conn *next = list->held_next;
        list->held_next = rev;
        rev = list;
        list = next;
    }
    while (rev) {
        conn *c = rev;
        rev = c->held_next;
        c->held = 0;
        c->held_next = NULL;
        w->net->h.release(c->session, &c->out);
        if (uv_is_closing((uv_handle_t *)&c->tcp)) continue;
        written(c);
    }
}

/* TLS: the ciphertext read becomes request bytes in `in`; once the handshake is done the
 * session hears of it before its first request. -1: the connection is being dropped. */
static int tls_in(conn *c)
{
    char err[256];
    int rc = dv_tls_conn_feed(c->tls, dv_buf_head(&c->raw), dv_buf_size(&c->raw), &c->in, &c->tout,
                              err, sizeof err);
    if (rc < 0) {
        flush(c); /* the alert, if any */
        conn_drop(c, err);
        return -1;
    }
    if (rc == 1) c->closing = 1; /* close_notify: answer what was read, then close */
    if (!c->secured && dv_tls_conn_ready(c->tls)) {
        c->secured = 1;
        const dv_net_handlers *h = &c->w->net->h;
        if (h->secured && h->secured(c->session, c->tls) < 0) {
            flush(c);
            conn_drop(c, "the client certificate names no user");
            return -1;
        }
    }
    return 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    conn *c = s->data;
    if (nread < 0) {
        /* EOF, a socket error, or no memory for the read (UV_ENOBUFS): drop the connection. */
        if (nread != UV_EOF && nread != UV_ECONNRESET)
            dv_log(DV_LOG_WARN, "net", "%s: closing the connection: read: %s", c->peer,
                   uv_strerror((int)nread));
        c->closing = 1;
        conn_close(c);
        return;
    }
    if (nread == 0) return;
    if (c->tls) {
        dv_buf_commit(&c->raw, (size_t)nread);
        if (!c->closing && tls_in(c) < 0) return;
        dv_buf_reset(&c->raw);
    } else {
        dv_buf_commit(&c->in, (size_t)nread);
    }
    if (c->closing) {
        dv_buf_reset(&c->in);
        return;
    }
    process(c);
}

static void on_write(uv_write_t *req, int status)
{
    conn *c = req->data;
    c->writing = 0;
    if (c->wbuf.cap > KEEP_WBUF)
        dv_buf_free(&c->wbuf);
    else
        dv_buf_reset(&c->wbuf);
    account(c);
    if (status < 0) {
        if (status != UV_EPIPE && status != UV_ECONNRESET)
            dv_log(DV_LOG_WARN, "net", "%s: closing the connection: write: %s", c->peer,
                   uv_strerror(status));
        conn_close(c);
        return;
    }
    flush(c);
    if (!c->writing && c->closing) {
        conn_close(c);
        return;
    }
    process(c);
}

static void flush(conn *c)
{
    if (c->held || c->writing || uv_is_closing((uv_handle_t *)&c->tcp)) return;
    dv_buf *wire = &c->out;
    if (c->tls) {
        if (dv_buf_size(&c->out) && dv_tls_conn_seal(c->tls, &c->out, &c->tout) < 0) {
            conn_drop(c, "TLS: cannot encrypt the reply");
            return;
        }
        wire = &c->tout;
    }
    if (dv_buf_size(wire) == 0) {
        if (c->closing) conn_close(c);
        return;
    }
    /* Straight to the socket while it takes the bytes: only what it cannot take now waits for
     * writability (uv_write), so a reply that fits costs no poll registration. */
    uv_buf_t now = uv_buf_init((char *)dv_buf_head(wire), (unsigned)dv_buf_size(wire));
    int n = uv_try_write((uv_stream_t *)&c->tcp, &now, 1);
    if (n < 0 && n != UV_EAGAIN) {
        if (n == UV_EPIPE || n == UV_ECONNRESET) { /* the client went away */
            c->closing = 1;
            conn_close(c);
        } else {
            conn_drop(c, uv_strerror(n));
        }
        return;
    }
    if (n > 0) {
        dv_buf_consume(wire, (size_t)n);
        account(c);
    }
    if (dv_buf_size(wire) == 0) {
        if (wire->cap > KEEP_WBUF) dv_buf_free(wire);
        if (c->closing) conn_close(c);
        return;
    }
    dv_buf t = c->wbuf;
    c->wbuf = *wire;
    *wire = t;
    uv_buf_t b = uv_buf_init((char *)dv_buf_head(&c->wbuf), (unsigned)dv_buf_size(&c->wbuf));
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        conn_drop(c, "write failed");
        return;
    }
    c->writing = 1;
}

static void on_sweep(uv_timer_t *t)
{
    worker *w = t->data;
    const dv_net *n = w->net;
    uint64_t now = uv_now(&w->loop);
    for (conn *c = w->conns; c; c = c->next) {
        if (uv_is_closing((uv_handle_t *)&c->tcp)) continue;
        if (c->preauth && now - c->opened_ms >= n->preauth_timeout_ms)
            conn_drop(c, "not authenticated in time");
        else if (c->partial_ms && !c->paused && now - c->partial_ms >= n->frame_timeout_ms)
            conn_drop(c, "an incomplete request held too long");
    }
}

/* Make room for one more connection awaiting authentication: close the oldest. */
static void preauth_evict(worker *w)
{
    conn *oldest = NULL;
    for (conn *c = w->conns; c; c = c->next)
        if (c->preauth && !uv_is_closing((uv_handle_t *)&c->tcp)) oldest = c;
    if (oldest) {
        conn_drop(oldest, "too many connections awaiting authentication");
        preauth_done(oldest);
    }
}

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t n)
{
    if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, out, (socklen_t)n);
    else
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)n);
}

static void adopt(worker *w, int fd)
{
    conn *c = dv_calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->w = w;
    if (w->net->tls && !(c->tls = dv_tls_conn_new(w->net->tls))) {
        close(fd);
        dv_free(c);
        return;
    }
    if (uv_tcp_init(&w->loop, &c->tcp) < 0 || uv_tcp_open(&c->tcp, fd) < 0) {
        close(fd);
        dv_tls_conn_free(c->tls);
        dv_free(c);
        return;
    }
    c->tcp.data = c;
    c->next = w->conns;
    if (w->conns) w->conns->prev = c;
    w->conns = c;
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage peer, local;
    socklen_t pl = sizeof peer, ll = sizeof local;
    char ptxt[INET6_ADDRSTRLEN] = "?", ltxt[INET6_ADDRSTRLEN] = "?";
    if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0) addr_text(&peer, ptxt, sizeof ptxt);
    if (getsockname(fd, (struct sockaddr *)&local, &ll) == 0) addr_text(&local, ltxt, sizeof ltxt);
    snprintf(c->peer, sizeof c->peer, "%s", ptxt);
    c->opened_ms = uv_now(&w->loop);
    c->session = w->net->h.open(w->net->ud, ptxt, ltxt);
    if (!c->session) {
        conn_close(c);
        return;
    }
    if (w->net->h.authenticated) {
        if (w->npreauth >= w->max_preauth) preauth_evict(w);
        c->preauth = 1;
        w->npreauth++;
    }
    set_reading(c, 1);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, h->type == UV_TCP ? on_close : NULL);
}

static void on_wake(uv_async_t *a)
{
    worker *w = a->data;
    pthread_mutex_lock(&w->mu);
    int *fds = w->fds;
    size_t n = w->nfds;
    w->fds = NULL;
    w->nfds = w->capfds = 0;
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < n; i++) {
        if (atomic_load(&w->stop))
            close(fds[i]);
        else
            adopt(w, fds[i]);
    }
    dv_free(fds);
    if (atomic_load(&w->stop)) {
        uv_walk(&w->loop, close_walk, NULL);
        return;
    }
    unsigned gen = atomic_load(&w->notify_gen);
    if (gen != w->seen_gen) {
        w->seen_gen = gen;
        for (conn *c = w->conns; c; c = c->next) {
            if (c->closing) continue;
            w->net->h.notify(c->session, &c->out);
            account(c);
            flush(c);
        }
    }
}

static void worker_main(void *arg)
{
    worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

static void *acceptor_main(void *arg)
{
    dv_net *n = arg;
    for (;;) {
        int fd = accept4(n->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (atomic_load(&n->stopping)) break;
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                dv_log(DV_LOG_WARN, "net", "accept: %s", strerror(errno));
                usleep(10000); /* out of descriptors: let connections close */
                continue;
            }
            break;
        }
        worker *w = &n->workers[n->next++ % n->nworkers];
        pthread_mutex_lock(&w->mu);
        int ok = 1;
        if (w->nfds == w->capfds) {
            size_t cap = w->capfds ? w->capfds * 2 : 16;
            int *p = dv_realloc(w->fds, cap * sizeof *p);
            if (p) {
                w->fds = p;
                w->capfds = cap;
            } else
                ok = 0;
        }
        if (ok) w->fds[w->nfds++] = fd;
        pthread_mutex_unlock(&w->mu);
        if (!ok)
            close(fd);
        else
            uv_async_send(&w->wake);
    }
    return NULL;
}

static int listen_on(const char *host, int port, int *out_port, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0) break;
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) return -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

dv_net *dv_net_start(const dv_net_options *opt, const dv_net_handlers *h, void *ud, char *err,
                     size_t errlen)
{
    int threads = opt->threads > 0 ? opt->threads : 1;
    dv_net *n = dv_calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    n->h = *h;
    n->ud = ud;
    n->tls = opt->tls;
    n->max_out = opt->max_pending_out ? opt->max_pending_out : DV_NET_DEFAULT_MAX_PENDING_OUT;
    n->max_total =
        opt->max_pending_total ? opt->max_pending_total : DV_NET_DEFAULT_MAX_PENDING_TOTAL;
    n->preauth_timeout_ms =
        opt->preauth_timeout_ms ? opt->preauth_timeout_ms : DV_NET_DEFAULT_PREAUTH_TIMEOUT_MS;
    n->frame_timeout_ms =
        opt->frame_timeout_ms ? opt->frame_timeout_ms : DV_NET_DEFAULT_FRAME_TIMEOUT_MS;
    unsigned max_preauth = opt->max_preauth ? opt->max_preauth : DV_NET_DEFAULT_MAX_PREAUTH;
    /* The sweep runs often enough that a timeout is late by at most a quarter of itself. */
    uint32_t tick =
        n->preauth_timeout_ms < n->frame_timeout_ms ? n->preauth_timeout_ms : n->frame_timeout_ms;
    tick = tick / 4 < 10 ? 10 : tick / 4 > 1000 ? 1000 : tick / 4;
    n->listen_fd = listen_on(opt->host, opt->port, &n->port, err, errlen);
    if (n->listen_fd < 0) {
        dv_free(n);
        return NULL;
    }
    n->workers = dv_calloc((size_t)threads, sizeof *n->workers);
    if (!n->workers) {
        close(n->listen_fd);
        dv_free(n);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    n->nworkers = threads;
    for (int i = 0; i < threads; i++) {
        worker *w = &n->workers[i];
        w->net = n;
        pthread_mutex_init(&w->mu, NULL);
        uv_loop_init(&w->loop);
        uv_async_init(&w->loop, &w->wake, on_wake);
        w->wake.data = w;
        w->max_preauth = (max_preauth + (unsigned)threads - 1) / (unsigned)threads;
        uv_timer_init(&w->loop, &w->sweep);
        w->sweep.data = w;
        uv_timer_start(&w->sweep, on_sweep, tick, tick);
        if (h->held && h->release) {
            uv_check_init(&w->loop, &w->settle);
            w->settle.data = w;
            uv_check_start(&w->settle, on_settle);
        }
        uv_thread_create(&w->thread, worker_main, w);
    }
    pthread_create(&n->acceptor, NULL, acceptor_main, n);
    return n;
}

int dv_net_port(const dv_net *n)
{
    return n->port;
}

void dv_net_broadcast(dv_net *n)
{
    for (int i = 0; i < n->nworkers; i++) {
        atomic_fetch_add(&n->workers[i].notify_gen, 1);
        uv_async_send(&n->workers[i].wake);
    }
}

void dv_net_stop(dv_net *n)
{
    if (!n) return;
    atomic_store(&n->stopping, 1);
    shutdown(n->listen_fd, SHUT_RDWR);
    pthread_join(n->acceptor, NULL);
    close(n->listen_fd);
    for (int i = 0; i < n->nworkers; i++) {
        worker *w = &n->workers[i];
        atomic_store(&w->stop, 1);
        uv_async_send(&w->wake);
        uv_thread_join(&w->thread);
        uv_run(&w->loop, UV_RUN_DEFAULT); /* finish close callbacks */
        uv_loop_close(&w->loop);
        pthread_mutex_destroy(&w->mu);
        for (size_t j = 0; j < w->nfds; j++) close(w->fds[j]);
        dv_free(w->fds);
    }
    dv_free(n->workers);
    dv_free(n);
}
