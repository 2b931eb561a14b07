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

#define READ_CHUNK (64 * 1024)

typedef struct worker worker;

typedef struct conn {
    uv_tcp_t tcp;
    worker *w;
    void *session;
    dv_buf in, out, wbuf; /* wbuf: the bytes of the write in flight */
    uv_write_t wreq;
    int writing, closing, reading;
    struct conn *prev, *next;
} conn;

struct worker {
    dv_net *net;
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    pthread_mutex_t mu;
    int *fds; /* accepted sockets waiting to be adopted */
    size_t nfds, capfds;
    atomic_uint notify_gen;
    unsigned seen_gen;
    atomic_int stop;
    conn *conns;
};

struct dv_net {
    int listen_fd;
    int port;
    pthread_t acceptor;
    worker *workers;
    int nworkers, next;
    dv_net_handlers h;
    void *ud;
    size_t max_out;
    atomic_int stopping;
};

static void flush(conn *c);

static void on_close(uv_handle_t *h)
{
    conn *c = h->data;
    worker *w = c->w;
    if (c->session) w->net->h.close(c->session);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    dv_buf_free(&c->in);
    dv_buf_free(&c->out);
    dv_buf_free(&c->wbuf);
    dv_free(c);
}

static void conn_close(conn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp)) return;
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    conn *c = h->data;
    uint8_t *p = dv_buf_reserve(&c->in, READ_CHUNK);
    *buf = uv_buf_init((char *)p, p ? READ_CHUNK : 0);
}

static void backpressure(conn *c)
{
    size_t pending = dv_buf_size(&c->out) + dv_buf_size(&c->wbuf);
    if (c->reading && pending > c->w->net->max_out) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void resume_reading(conn *c)
{
    if (!c->reading && !c->closing) {
        c->reading = 1;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    conn *c = s->data;
    if (nread < 0) {
        /* EOF, a socket error, or no memory for the read (UV_ENOBUFS): drop the connection. */
        c->closing = 1;
        conn_close(c);
        return;
    }
    if (nread == 0) return;
    dv_buf_commit(&c->in, (size_t)nread);
    if (c->closing) {
        dv_buf_reset(&c->in);
        return;
    }
    long used = c->w->net->h.data(c->session, dv_buf_head(&c->in), dv_buf_size(&c->in), &c->out);
    if (used < 0) {
        c->closing = 1;
        uv_read_stop(s);
        c->reading = 0;
        dv_buf_reset(&c->in);
    } else {
        dv_buf_consume(&c->in, (size_t)used);
    }
    flush(c);
    backpressure(c);
}

static void on_write(uv_write_t *req, int status)
{
    conn *c = req->data;
    c->writing = 0;
    dv_buf_reset(&c->wbuf);
    if (status < 0) {
        conn_close(c);
        return;
    }
    flush(c);
    if (!c->writing && c->closing) {
        conn_close(c);
        return;
    }
    if (dv_buf_size(&c->out) + dv_buf_size(&c->wbuf) <= c->w->net->max_out / 2) resume_reading(c);
}

static void flush(conn *c)
{
    if (c->writing || uv_is_closing((uv_handle_t *)&c->tcp)) return;
    if (dv_buf_size(&c->out) == 0) {
        if (c->closing) conn_close(c);
        return;
    }
    dv_buf t = c->wbuf;
    c->wbuf = c->out;
    c->out = t;
    uv_buf_t b = uv_buf_init((char *)dv_buf_head(&c->wbuf), (unsigned)dv_buf_size(&c->wbuf));
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        conn_close(c);
        return;
    }
    c->writing = 1;
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
    if (uv_tcp_init(&w->loop, &c->tcp) < 0 || uv_tcp_open(&c->tcp, fd) < 0) {
        close(fd);
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
    c->session = w->net->h.open(w->net->ud, ptxt, ltxt);
    if (!c->session) {
        conn_close(c);
        return;
    }
    resume_reading(c);
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
    n->max_out = opt->max_pending_out ? opt->max_pending_out : 64u << 20;
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
