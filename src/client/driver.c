/* The native driver of client.h: one libuv loop on a thread of its own runs one sans-I/O engine
 * (engine.h). The engine's hooks become libuv calls: a uv_tcp_t per engine connection id, one
 * uv_timer_t for the engine's timer, uv_hrtime for its clock. A uv_prepare_t flushes the engine
 * once per loop iteration, just before the loop blocks, so everything one iteration issued goes
 * out in one write per connection.
 *
 * Other threads never touch the engine: dv_client_submit checks and copies the request in the
 * caller's thread (dv_op_new, so an invalid request fails synchronously), queues it under a mutex
 * and wakes the loop with a uv_async_t. Completions that submit again run on the loop thread and
 * go straight to the engine. */
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/log.h"
#include "client/engine.h"
#include "client/op.h"

#define READ_CHUNK (64 * 1024)

typedef struct conn conn;

/* A queued request from another thread. */
typedef enum cmd_kind {
    CMD_SUBMIT,
    CMD_OPEN,
    CMD_CONNECT,
    CMD_PING,
    CMD_DIAG,
    CMD_CREDS,
    CMD_CLOSE_BUCKET,
    CMD_HTTP,
    CMD_CANCEL, /* an HTTP request's id */
    CMD_RESUME
} cmd_kind;

typedef struct cmd {
    cmd_kind kind;
    dv_op *op;        /* a submit: the request, checked and copied */
    char *bucket;     /* an open-bucket, a ping (NULL: the cluster connection); CREDS: the user */
    char *password;   /* CREDS */
    dv_http_req http; /* HTTP: its strings and body point into the same allocation as m */
    uint64_t id;      /* HTTP, CANCEL, RESUME */
    dv_res_cb cb;
    void *ud;
    struct cmd *next;
} cmd;

struct dv_client {
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t timer;
    uv_prepare_t prepare;
    uv_idle_t idle; /* runs while failures wait to be reported to the engine */
    uv_thread_t thread;
    dv_engine *e;       /* NULL once shutting down */
    int shutting;       /* loop thread only: the engine is being freed */
    conn *conns;        /* open connections, by engine id */
    conn *failed;       /* connections whose failure is reported from the idle callback */
    pthread_mutex_t mu; /* guards the queue and stopping */
    cmd *head, *tail;
    int stopping;
    uint64_t http_ids;        /* under mu: the ids of dv_client_http (with DV_ENGINE_CALLER_ID) */
    uint8_t rbuf[READ_CHUNK]; /* one read buffer: reads never overlap on one loop */
};

/* The client whose loop runs on this thread, if any. */
static _Thread_local dv_client *loop_client;

/* ---- Connections ----------------------------------------------------------------------------- */

struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_getaddrinfo_t gai;
    dv_client *c;
    uint32_t id;
    uint16_t port;
    int refs;      /* the handle, a resolve in flight, a place in the failed list */
    int connected; /* reads started, the engine told */
    int dead;      /* the engine no longer knows this connection */
    dv_error fail; /* what to report from the idle callback */
    conn *next, *next_failed;
};

/* A write that did not fit in the socket buffer: the rest of the bytes, copied. */
typedef struct wreq {
    uv_write_t req;
    size_t n;
    uint8_t data[];
} wreq;

static void conn_unref(conn *k)
{
    if (--k->refs == 0) dv_free(k);
}

static void on_conn_closed(uv_handle_t *h)
{
    conn_unref(h->data);
}

static conn *conn_find(dv_client *c, uint32_t id)
{
    for (conn *k = c->conns; k; k = k->next)
        if (k->id == id) return k;
    return NULL;
}

/* Forget k (the engine is told by the caller, or told us to close it) and close its handle. */
static void conn_drop(conn *k)
{
    if (k->dead) return;
    k->dead = 1;
    for (conn **pp = &k->c->conns; *pp; pp = &(*pp)->next)
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    if (!uv_is_closing((uv_handle_t *)&k->tcp)) uv_close((uv_handle_t *)&k->tcp, on_conn_closed);
}

/* Report a failed or closed connection to the engine (never from within a hook). */
static void conn_report(conn *k, dv_error err)
{
    if (k->dead) return;
    dv_client *c = k->c;
    uint32_t id = k->id;
    conn_drop(k);
    if (c->e && !c->shutting) dv_engine_closed(c->e, id, err);
}

static void on_idle(uv_idle_t *h)
{
    dv_client *c = h->data;
    while (c->failed) {
        conn *k = c->failed;
        c->failed = k->next_failed;
        conn_report(k, k->fail);
        conn_unref(k);
    }
    uv_idle_stop(h);
}

/* A failure found inside a hook: reported from the idle callback, outside the engine. */
static void conn_fail_later(conn *k, dv_error err)
{
    if (k->dead || k->fail != DV_ERR_OK) return;
    k->fail = err;
    k->refs++;
    k->next_failed = k->c->failed;
    k->c->failed = k;
    uv_idle_start(&k->c->idle, on_idle);
}

static dv_error connect_error(int uverr)
{
    if (uverr == UV_ENOMEM || uverr == UV_ENOBUFS) return DV_ERR_NO_MEMORY;
    if (uverr <= UV_EAI_ADDRFAMILY && uverr >= UV_EAI_PROTOCOL) return DV_ERR_RESOLVE_FAILURE;
    return DV_ERR_SERVICE_NOT_AVAILABLE;
}

static dv_error io_error(int uverr)
{
    if (uverr == UV_EOF) return DV_ERR_OK; /* an orderly close by the peer */
    if (uverr == UV_ENOMEM || uverr == UV_ENOBUFS) return DV_ERR_NO_MEMORY;
    return DV_ERR_END_OF_STREAM;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    conn *k = h->data;
    *buf = uv_buf_init((char *)k->c->rbuf, sizeof k->c->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn *k = s->data;
    if (n > 0) {
        if (k->c->e && !k->dead)
            dv_engine_data(k->c->e, k->id, (const uint8_t *)buf->base, (size_t)n);
    } else if (n < 0) {
        dv_log(DV_LOG_DEBUG, "client", "connection %u: %s", k->id, uv_strerror((int)n));
        conn_report(k, io_error((int)n));
    }
}

/* "ip:port" ("[ip]:port" for IPv6) of the socket's own end; 0 if unknown. */
static int local_address(uv_tcp_t *tcp, char *out, size_t n)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[INET6_ADDRSTRLEN];
    if (uv_tcp_getsockname(tcp, (struct sockaddr *)&ss, &len) < 0) return 0;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        if (uv_ip6_name(a, ip, sizeof ip) < 0) return 0;
        snprintf(out, n, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        if (uv_ip4_name(a, ip, sizeof ip) < 0) return 0;
        snprintf(out, n, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    }
    return 1;
}

static void on_connect(uv_connect_t *req, int status)
{
    conn *k = req->data;
    if (k->dead) return;
    if (status < 0) {
        dv_log(DV_LOG_INFO, "client", "connection %u: connect: %s", k->id, uv_strerror(status));
        conn_report(k, connect_error(status));
        return;
    }
    uv_tcp_nodelay(&k->tcp, 1); /* again, now that the socket surely exists */
    int rc = uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read);
    if (rc < 0) {
        conn_report(k, io_error(rc));
        return;
    }
    k->connected = 1;
    if (!k->c->e) return;
    char local[64];
    if (local_address(&k->tcp, local, sizeof local)) dv_engine_local_address(k->c->e, k->id, local);
    dv_engine_connected(k->c->e, k->id);
}

static int conn_start(conn *k, const struct sockaddr *sa)
{
    uv_tcp_nodelay(&k->tcp, 1); /* applied when the socket is created */
    k->creq.data = k;
    return uv_tcp_connect(&k->creq, &k->tcp, sa, on_connect);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    conn *k = req->data;
    if (!k->dead) {
        if (status < 0) {
            dv_log(DV_LOG_DEBUG, "client", "connection %u: resolve: %s", k->id,
                   uv_strerror(status));
            conn_report(k, DV_ERR_RESOLVE_FAILURE);
        } else {
            /* IPv4 first: divan-server listens on 127.0.0.1 while "localhost" may be ::1 too. */
            struct addrinfo *pick = res;
            for (struct addrinfo *a = res; a; a = a->ai_next)
                if (a->ai_family == AF_INET) {
                    pick = a;
                    break;
                }
            struct sockaddr_storage ss;
            memcpy(&ss, pick->ai_addr, pick->ai_addrlen);
            if (ss.ss_family == AF_INET)
                ((struct sockaddr_in *)&ss)->sin_port = htons(k->port);
            else
                ((struct sockaddr_in6 *)&ss)->sin6_port = htons(k->port);
            int rc = conn_start(k, (struct sockaddr *)&ss);
            if (rc < 0) conn_report(k, connect_error(rc));
        }
    }
    uv_freeaddrinfo(res);
    conn_unref(k);
}

/* ---- Engine hooks (called from within engine calls, on the loop thread) ---------------------- */

static uint64_t hook_now(void *ud)
{
    (void)ud;
    return uv_hrtime();
}

static void hook_connect(void *ud, uint32_t id, const char *host, uint16_t port)
{
    dv_client *c = ud;
    conn *k = dv_calloc(1, sizeof *k);
    if (!k) return; /* the engine's connect deadline fails it */
    k->c = c;
    k->id = id;
    k->port = port;
    if (uv_tcp_init(&c->loop, &k->tcp) < 0) {
        dv_free(k);
        return;
    }
    k->refs = 1;
    k->tcp.data = k;
    k->next = c->conns;
    c->conns = k;

    struct sockaddr_storage ss;
    int rc;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0) {
        rc = conn_start(k, (struct sockaddr *)&ss);
        if (rc < 0) conn_fail_later(k, connect_error(rc));
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    k->gai.data = k;
    k->refs++;
    rc = uv_getaddrinfo(&c->loop, &k->gai, on_resolved, host, NULL, &hints);
    if (rc < 0) {
        k->refs--;
        conn_fail_later(k, DV_ERR_RESOLVE_FAILURE);
    }
}

static void on_write(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    conn *k = req->handle->data;
    dv_free(w);
    if (status < 0 && status != UV_ECANCELED) conn_report(k, io_error(status));
}

static void hook_write(void *ud, uint32_t id, const uint8_t *p, size_t n)
{
    conn *k = conn_find(ud, id);
    if (!k || !k->connected || n == 0) return;
    /* Straight into the socket when it has room; copy only what is left. */
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int rc = uv_try_write((uv_stream_t *)&k->tcp, &b, 1);
    if (rc < 0 && rc != UV_EAGAIN) {
        conn_fail_later(k, io_error(rc));
        return;
    }
    size_t done = rc > 0 ? (size_t)rc : 0;
    if (done == n) return;
    wreq *w = dv_malloc(sizeof *w + (n - done));
    if (!w) {
        conn_fail_later(k, DV_ERR_NO_MEMORY);
        return;
    }
    w->n = n - done;
    memcpy(w->data, p + done, w->n);
    b = uv_buf_init((char *)w->data, (unsigned)w->n);
    rc = uv_write(&w->req, (uv_stream_t *)&k->tcp, &b, 1, on_write);
    if (rc < 0) {
        dv_free(w);
        conn_fail_later(k, io_error(rc));
    }
}

static void hook_close(void *ud, uint32_t id)
{
    conn *k = conn_find(ud, id);
    if (k) conn_drop(k);
}

static void hook_pause(void *ud, uint32_t id, int paused)
{
    conn *k = conn_find(ud, id);
    if (!k || !k->connected) return;
    int rc = paused ? uv_read_stop((uv_stream_t *)&k->tcp)
                    : uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read);
    if (rc < 0) conn_fail_later(k, io_error(rc));
}

static void on_timer(uv_timer_t *t)
{
    dv_client *c = t->data;
    if (c->e) dv_engine_timer(c->e);
}

static void hook_timer(void *ud, uint64_t at_ns)
{
    dv_client *c = ud;
    if (c->shutting) return;
    if (at_ns == 0) {
        uv_timer_stop(&c->timer);
        return;
    }
    uint64_t now = uv_hrtime();
    /* Rounded up, against the loop's fresh time, so the timer never fires before at_ns. */
    uint64_t ms = at_ns > now ? (at_ns - now + 999999) / 1000000 : 0;
    uv_update_time(&c->loop);
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* ---- The loop thread ------------------------------------------------------------------------- */

static void on_prepare(uv_prepare_t *h)
{
    dv_client *c = h->data;
    if (c->e) dv_engine_flush(c->e);
}

/* Complete an operation the engine never accepted (it never calls back for those). */
static void fail_now(dv_res_cb cb, void *ud, dv_error err, const dv_req *req, uint8_t opcode)
{
    if (!cb) return;
    dv_error_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.opcode = opcode;
    ctx.status = 0xffff;
    ctx.key = req ? req->key : "";
    ctx.key_len = req ? req->key_len : 0;
    ctx.bucket = req && req->bucket ? req->bucket : "";
    ctx.scope = req && req->scope ? req->scope : "_default";
    ctx.collection = req && req->collection ? req->collection : "_default";
    ctx.node = "";
    ctx.retry_reasons = "";
    ctx.message = "";
    dv_res res;
    memset(&res, 0, sizeof res);
    res.err = err;
    res.ctx = &ctx;
    cb(ud, &res);
}

/* A connect, ping or diagnostics straight to the engine (on the loop thread). */
static dv_error engine_cmd(dv_engine *e, cmd_kind kind, const char *bucket, dv_res_cb cb, void *ud)
{
    switch (kind) {
    case CMD_OPEN:
        return dv_engine_open_bucket(e, bucket, cb, ud);
    case CMD_CONNECT:
        return dv_engine_connect(e, cb, ud);
    case CMD_PING:
        return dv_engine_ping(e, bucket, cb, ud);
    case CMD_DIAG:
        return dv_engine_diagnostics(e, cb, ud);
    case CMD_SUBMIT:
    case CMD_CREDS:
    case CMD_CLOSE_BUCKET:
    case CMD_HTTP:
    case CMD_CANCEL:
    case CMD_RESUME:
        break;
    }
    return DV_ERR_INVALID_ARGUMENT;
}

static void run_cmd(dv_client *c, cmd *m)
{
    if (m->kind == CMD_SUBMIT) {
        dv_error rc = c->e ? dv_engine_submit(c->e, &m->op->req, m->cb, m->ud, NULL)
                           : DV_ERR_REQUEST_CANCELED;
        if (rc != DV_ERR_OK) fail_now(m->cb, m->ud, rc, &m->op->req, m->op->opcode);
        dv_op_free(m->op);
    } else if (m->kind == CMD_HTTP) {
        dv_error rc =
            c->e ? dv_engine_http_as(c->e, &m->http, m->cb, m->ud, m->id) : DV_ERR_REQUEST_CANCELED;
        if (rc != DV_ERR_OK) fail_now(m->cb, m->ud, rc, NULL, 0);
    } else if (m->kind == CMD_CANCEL || m->kind == CMD_RESUME) {
        if (c->e && m->kind == CMD_CANCEL) dv_engine_cancel(c->e, m->id);
        if (c->e && m->kind == CMD_RESUME) dv_engine_http_resume(c->e, m->id);
    } else if (m->kind == CMD_CREDS || m->kind == CMD_CLOSE_BUCKET) {
        if (c->e && m->kind == CMD_CREDS) dv_engine_set_credentials(c->e, m->bucket, m->password);
        if (c->e && m->kind == CMD_CLOSE_BUCKET) dv_engine_close_bucket(c->e, m->bucket);
        dv_free(m->bucket);
        dv_free(m->password);
    } else {
        dv_error rc =
            c->e ? engine_cmd(c->e, m->kind, m->bucket, m->cb, m->ud) : DV_ERR_REQUEST_CANCELED;
        if (rc != DV_ERR_OK) fail_now(m->cb, m->ud, rc, NULL, 0);
        dv_free(m->bucket);
    }
    dv_free(m);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (uv_is_closing(h)) return;
    if (h->type == UV_TCP) {
        conn_drop(h->data);
    } else {
        uv_close(h, NULL);
    }
}

/* Fail what is pending, close every handle; the loop then ends. */
static void shutdown_loop(dv_client *c)
{
    c->shutting = 1;
    dv_engine *e = c->e;
    dv_engine_free(e); /* completions may still run here: submissions are refused */
    c->e = NULL;
    while (c->failed) {
        conn *k = c->failed;
        c->failed = k->next_failed;
        conn_unref(k);
    }
    uv_walk(&c->loop, close_walk, NULL);
}

static void on_wake(uv_async_t *a)
{
    dv_client *c = a->data;
    pthread_mutex_lock(&c->mu);
    cmd *m = c->head;
    c->head = c->tail = NULL;
    int stop = c->stopping;
    pthread_mutex_unlock(&c->mu);
    while (m) {
        cmd *next = m->next;
        run_cmd(c, m);
        m = next;
    }
    if (stop && !c->shutting) shutdown_loop(c);
}

static void loop_main(void *arg)
{
    dv_client *c = arg;
    /* A write to a peer that has gone returns EPIPE instead of killing the process. */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    loop_client = c;
    uv_run(&c->loop, UV_RUN_DEFAULT);
    loop_client = NULL;
}

/* ---- Public API -------------------------------------------------------------------------------
 */

dv_error dv_client_new(const dv_client_opts *opts, dv_client **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    if (!opts) {
        if (err && errlen) snprintf(err, errlen, "no options");
        return DV_ERR_INVALID_ARGUMENT;
    }
    dv_client *c = dv_calloc(1, sizeof *c);
    if (!c) {
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return DV_ERR_NO_MEMORY;
    }
    dv_engine_hooks h = {c, hook_now, hook_connect, hook_write, hook_close, hook_timer, hook_pause};
    dv_error rc = DV_ERR_INVALID_ARGUMENT;
    char msg[256] = "";
    c->e = dv_engine_new(opts, &h, &rc, msg, sizeof msg);
    if (!c->e) {
        if (err && errlen) snprintf(err, errlen, "%s", msg);
        dv_free(c);
        return rc != DV_ERR_OK ? rc : DV_ERR_INVALID_ARGUMENT;
    }
    int urc = uv_loop_init(&c->loop);
    if (urc == 0) {
        uv_async_init(&c->loop, &c->wake, on_wake);
        uv_timer_init(&c->loop, &c->timer);
        uv_prepare_init(&c->loop, &c->prepare);
        uv_idle_init(&c->loop, &c->idle);
        c->wake.data = c->timer.data = c->prepare.data = c->idle.data = c;
        uv_prepare_start(&c->prepare, on_prepare);
        pthread_mutex_init(&c->mu, NULL);
        urc = uv_thread_create(&c->thread, loop_main, c);
        if (urc != 0) {
            /* Nothing ran on the loop yet: free the engine here and unwind the handles. */
            dv_engine_free(c->e);
            c->e = NULL;
            uv_walk(&c->loop, close_walk, NULL);
            uv_run(&c->loop, UV_RUN_DEFAULT);
            uv_loop_close(&c->loop);
            pthread_mutex_destroy(&c->mu);
        }
    }
    if (urc != 0) {
        if (c->e) dv_engine_free(c->e);
        if (err && errlen) snprintf(err, errlen, "cannot start the driver: %s", uv_strerror(urc));
        dv_free(c);
        return DV_ERR_INTERNAL_SDK;
    }
    *out = c;
    return DV_ERR_OK;
}

static dv_error enqueue(dv_client *c, cmd *m)
{
    pthread_mutex_lock(&c->mu);
    if (c->stopping) {
        pthread_mutex_unlock(&c->mu);
        return DV_ERR_CLUSTER_CLOSED;
    }
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
    /* Under the lock: once the loop has seen stopping, nobody touches the handle again. */
    uv_async_send(&c->wake);
    pthread_mutex_unlock(&c->mu);
    return DV_ERR_OK;
}

/* Open-bucket, connect, ping, diagnostics: to the engine from the loop thread, else queued. */
static dv_error client_cmd(dv_client *c, cmd_kind kind, const char *bucket, dv_res_cb cb, void *ud)
{
    if (loop_client == c) {
        if (c->shutting || !c->e) return DV_ERR_CLUSTER_CLOSED;
        return engine_cmd(c->e, kind, bucket, cb, ud);
    }
    cmd *m = dv_calloc(1, sizeof *m);
    if (!m || (bucket && !(m->bucket = dv_strdup(bucket)))) {
        dv_free(m);
        return DV_ERR_NO_MEMORY;
    }
    m->kind = kind;
    m->cb = cb;
    m->ud = ud;
    dv_error rc = enqueue(c, m);
    if (rc != DV_ERR_OK) {
        dv_free(m->bucket);
        dv_free(m);
    }
    return rc;
}

dv_error dv_client_open_bucket(dv_client *c, const char *bucket, dv_res_cb cb, void *ud)
{
    if (!c || !bucket || !*bucket || !cb) return DV_ERR_INVALID_ARGUMENT;
    return client_cmd(c, CMD_OPEN, bucket, cb, ud);
}

dv_error dv_client_connect(dv_client *c, dv_res_cb cb, void *ud)
{
    if (!c || !cb) return DV_ERR_INVALID_ARGUMENT;
    return client_cmd(c, CMD_CONNECT, NULL, cb, ud);
}

dv_error dv_client_ping(dv_client *c, const char *bucket, dv_res_cb cb, void *ud)
{
    if (!c || !cb || (bucket && !*bucket)) return DV_ERR_INVALID_ARGUMENT;
    return client_cmd(c, CMD_PING, bucket, cb, ud);
}

dv_error dv_client_diagnostics(dv_client *c, dv_res_cb cb, void *ud)
{
    if (!c || !cb) return DV_ERR_INVALID_ARGUMENT;
    return client_cmd(c, CMD_DIAG, NULL, cb, ud);
}

/* A command without a callback (credentials, close a bucket): to the engine from the loop
 * thread, else queued with copies of its two strings. */
static dv_error client_set(dv_client *c, cmd_kind kind, const char *s1, const char *s2)
{
    if (loop_client == c) {
        if (c->shutting || !c->e) return DV_ERR_CLUSTER_CLOSED;
        return kind == CMD_CREDS ? dv_engine_set_credentials(c->e, s1, s2)
                                 : dv_engine_close_bucket(c->e, s1);
    }
    cmd *m = dv_calloc(1, sizeof *m);
    if (!m || !(m->bucket = dv_strdup(s1)) || (s2 && !(m->password = dv_strdup(s2)))) {
        if (m) dv_free(m->bucket);
        dv_free(m);
        return DV_ERR_NO_MEMORY;
    }
    m->kind = kind;
    dv_error rc = enqueue(c, m);
    if (rc != DV_ERR_OK) {
        dv_free(m->bucket);
        dv_free(m->password);
        dv_free(m);
    }
    return rc;
}

dv_error dv_client_set_credentials(dv_client *c, const char *username, const char *password)
{
    if (!c || !username || !*username) return DV_ERR_INVALID_ARGUMENT;
    return client_set(c, CMD_CREDS, username, password ? password : "");
}

dv_error dv_client_close_bucket(dv_client *c, const char *bucket)
{
    if (!c || !bucket || !*bucket) return DV_ERR_INVALID_ARGUMENT;
    return client_set(c, CMD_CLOSE_BUCKET, bucket, NULL);
}

dv_error dv_client_submit(dv_client *c, const dv_req *req, dv_res_cb cb, void *ud)
{
    if (!c || !req) return DV_ERR_INVALID_ARGUMENT;
    /* From a completion on the loop thread: straight to the engine, which copies. */
    if (loop_client == c) {
        if (c->shutting || !c->e) return DV_ERR_CLUSTER_CLOSED;
        return dv_engine_submit(c->e, req, cb, ud, NULL);
    }
    cmd *m = dv_calloc(1, sizeof *m);
    if (!m) return DV_ERR_NO_MEMORY;
    char msg[256];
    dv_error rc = dv_op_new(req, &m->op, msg, sizeof msg);
    if (rc != DV_ERR_OK) {
        dv_log(DV_LOG_DEBUG, "client", "submit: %s", msg);
        dv_free(m);
        return rc;
    }
    m->cb = cb;
    m->ud = ud;
    rc = enqueue(c, m);
    if (rc != DV_ERR_OK) {
        dv_op_free(m->op);
        dv_free(m);
    }
    return rc;
}

/* A copy of s at *at, advancing it (s may be NULL). */
static const char *put_str(char **at, const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    memcpy(*at, s, n);
    const char *r = *at;
    *at += n;
    return r;
}

dv_error dv_client_http(dv_client *c, const dv_http_req *req, dv_res_cb cb, void *ud, uint64_t *id)
{
    if (!c || !req || !cb || !req->method || !req->path || (req->body_len && !req->body))
        return DV_ERR_INVALID_ARGUMENT;
    pthread_mutex_lock(&c->mu);
    uint64_t my = DV_ENGINE_CALLER_ID | ++c->http_ids;
    pthread_mutex_unlock(&c->mu);
    if (id) *id = my;
    if (loop_client == c) {
        if (c->shutting || !c->e) return DV_ERR_CLUSTER_CLOSED;
        return dv_engine_http_as(c->e, req, cb, ud, my);
    }
    size_t extra = strlen(req->method) + 1 + strlen(req->path) + 1 +
                   (req->content_type ? strlen(req->content_type) + 1 : 0) + req->body_len;
    cmd *m = dv_calloc(1, sizeof *m + extra);
    if (!m) return DV_ERR_NO_MEMORY;
    char *at = (char *)(m + 1);
    m->kind = CMD_HTTP;
    m->id = my;
    m->http = *req;
    m->http.method = put_str(&at, req->method);
    m->http.path = put_str(&at, req->path);
    m->http.content_type = put_str(&at, req->content_type);
    if (req->body_len) {
        memcpy(at, req->body, req->body_len);
        m->http.body = at;
    } else {
        m->http.body = NULL;
    }
    m->cb = cb;
    m->ud = ud;
    dv_error rc = enqueue(c, m);
    if (rc != DV_ERR_OK) dv_free(m);
    return rc;
}

/* Cancel or resume an HTTP request: at once on the loop thread, else queued. */
static dv_error client_http_ctl(dv_client *c, cmd_kind kind, uint64_t id)
{
    if (!c || !(id & DV_ENGINE_CALLER_ID)) return DV_ERR_INVALID_ARGUMENT;
    if (loop_client == c) {
        if (c->shutting || !c->e) return DV_ERR_CLUSTER_CLOSED;
        if (kind == CMD_CANCEL)
            dv_engine_cancel(c->e, id);
        else
            dv_engine_http_resume(c->e, id);
        return DV_ERR_OK;
    }
    cmd *m = dv_calloc(1, sizeof *m);
    if (!m) return DV_ERR_NO_MEMORY;
    m->kind = kind;
    m->id = id;
    dv_error rc = enqueue(c, m);
    if (rc != DV_ERR_OK) dv_free(m);
    return rc;
}

dv_error dv_client_cancel(dv_client *c, uint64_t id)
{
    return client_http_ctl(c, CMD_CANCEL, id);
}

dv_error dv_client_http_resume(dv_client *c, uint64_t id)
{
    return client_http_ctl(c, CMD_RESUME, id);
}

/* dv_client_run: the caller waits on its own condition variable under the client's mutex. */
typedef struct waiter {
    dv_client *c;
    dv_res_cb cb;
    void *ud;
    int done;
    pthread_cond_t cv;
} waiter;

static void on_run_done(void *ud, const dv_res *res)
{
    waiter *w = ud;
    if (w->cb) w->cb(w->ud, res);
    pthread_mutex_lock(&w->c->mu);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->c->mu); /* w may be gone from here on */
}

dv_error dv_client_run(dv_client *c, const dv_req *req, dv_res_cb cb, void *ud)
{
    if (!c || !req) return DV_ERR_INVALID_ARGUMENT;
    if (loop_client == c) return DV_ERR_INVALID_ARGUMENT; /* would wait for itself */
    waiter w = {c, cb, ud, 0, PTHREAD_COND_INITIALIZER};
    dv_error rc = dv_client_submit(c, req, on_run_done, &w);
    if (rc == DV_ERR_OK) {
        pthread_mutex_lock(&c->mu);
        while (!w.done) pthread_cond_wait(&w.cv, &c->mu);
        pthread_mutex_unlock(&c->mu);
    }
    pthread_cond_destroy(&w.cv);
    return rc;
}

void dv_client_close(dv_client *c)
{
    if (!c) return;
    if (loop_client == c) { /* the thread would wait for itself */
        dv_log(DV_LOG_ERROR, "client", "dv_client_close called from a completion: ignored");
        return;
    }
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    uv_async_send(&c->wake);
    pthread_mutex_unlock(&c->mu);
    uv_thread_join(&c->thread);
    /* Requests queued after the loop's last wake-up: none can be, stopping refuses them. */
    for (cmd *m = c->head, *next; m; m = next) {
        next = m->next;
        if (m->op) dv_op_free(m->op);
        dv_free(m->bucket);
        dv_free(m);
    }
    uv_loop_close(&c->loop);
    pthread_mutex_destroy(&c->mu);
    dv_free(c);
}
