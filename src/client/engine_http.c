/* The engine's HTTP service requests (dv_engine_http): query and management, as the official
 * core's http_command, kept small:
 *
 *  - the node: round-robin over the nodes whose services in the config list the service's
 *    port (its TLS twin under TLS; the cluster connection's config first, else any open
 *    bucket's); none:
 *    SERVICE_NOT_AVAILABLE at once. No config yet: the request waits for one (and the
 *    cluster-level connection is opened if nothing is being opened), within its deadline;
 *  - a connection per attempt, asked for with hooks.connect like the KV ones, with an id from
 *    the same counter, unless one kept alive to that node is idle (the response said nothing
 *    of closing and was delimited by length or chunks); idle ones close after the connection
 *    string's idle_http_connection_timeout (1 s, the official core's default), at most 16 are
 *    kept; the response is read with http.c's parser;
 *  - an attempt that fails before its request was written (connect refused, reset), or any
 *    failure of an idempotent request, or a kept-alive connection that the server closed
 *    before answering (it had closed it as idle), is tried again with the KV backoff;
 *  - a request with a rows callback has its body's top-level "results" elements split out as
 *    they arrive (rowsplit.c) and handed over one by one; a callback that returns nonzero
 *    pauses the connection's reads (hooks.pause) until dv_engine_http_resume, the deadline
 *    frozen meanwhile; once a row was handed over the request is not tried again;
 *  - one deadline: AMBIGUOUS_TIMEOUT, or UNAMBIGUOUS_TIMEOUT for an idempotent request (the
 *    official query's read_only rule); cancellation and closing give REQUEST_CANCELED.
 * Completions never run while a list is being walked: each one restarts the walk. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "client/engine_int.h"

#define DEFAULT_HTTP_TIMEOUT_MS 75000
#define IDLE_HTTP_MS            1000 /* the official core's idle_http_connection_timeout */
#define MAX_IDLE_HTTP           16

static dv_service svc_port(const dv_engine *e, dv_http_service s)
{
    return eng_svc(e, s == DV_HTTP_QUERY ? DV_SVC_N1QL : DV_SVC_MGMT);
}

static const char *svc_name_short(dv_http_service s)
{
    return s == DV_HTTP_QUERY ? "query" : "mgmt";
}

static const char *svc_name(dv_http_service s)
{
    return s == DV_HTTP_QUERY ? "query" : "management";
}

static void hreq_free(hreq *h)
{
    dv_free(h->method);
    dv_free(h->path);
    dv_free(h->ctype);
    dv_free(h->body);
    dv_buf_free(&h->out);
    dv_http_resp_free(&h->resp);
    if (h->split) {
        dv_rowsplit_free(h->split);
        dv_free(h->split);
    }
    dv_free(h);
}

/* Keep the connection of a finished request for the next one to the same node. */
static void idle_put(dv_engine *e, uint32_t id, const char *node, dv_http_service svc)
{
    size_t n = 0;
    hidle **pp = &e->idle;
    for (; *pp; pp = &(*pp)->next)
        if (++n >= MAX_IDLE_HTTP) break;
    if (*pp) { /* full: the oldest goes */
        hidle *old = *pp;
        *pp = old->next;
        e->h.close(e->h.ud, old->conn);
        dv_free(old);
    }
    hidle *k = dv_calloc(1, sizeof *k);
    if (!k) {
        e->h.close(e->h.ud, id);
        return;
    }
    k->conn = id;
    k->svc = svc;
    k->last = eng_now(e);
    snprintf(k->node, sizeof k->node, "%s", node);
    uint64_t ms = e->cs->options.idle_http_connection_timeout_ms;
    k->until = eng_now(e) + (ms ? ms : IDLE_HTTP_MS) * DV_NS_PER_MS;
    k->next = e->idle;
    e->idle = k;
    eng_arm(e, k->until);
}

/* Take an idle connection to node out of the pool: its id, or 0. */
static uint32_t idle_take(dv_engine *e, const char *node)
{
    for (hidle **pp = &e->idle; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->node, node)) {
            hidle *k = *pp;
            uint32_t id = k->conn;
            *pp = k->next;
            dv_free(k);
            return id;
        }
    return 0;
}

size_t http_endpoints(dv_engine *e, dv_endpoint *ep, size_t cap)
{
    size_t k = 0;
    uint64_t now = eng_now(e);
    for (const hidle *i = e->idle; i && k < cap; i = i->next, k++) {
        memset(&ep[k], 0, sizeof ep[k]);
        ep[k].id = i->conn;
        ep[k].remote = i->node;
        ep[k].state = DV_ENDPOINT_CONNECTED;
        ep[k].service = svc_name_short(i->svc);
        ep[k].last_activity_us = now > i->last ? (now - i->last) / 1000 : 0;
    }
    for (const hreq *h = e->hreqs; h && k < cap; h = h->next) {
        if (h->state == HREQ_WAIT || !h->conn) continue;
        memset(&ep[k], 0, sizeof ep[k]);
        ep[k].id = h->conn;
        ep[k].remote = h->node;
        ep[k].state = h->state == HREQ_SENT ? DV_ENDPOINT_CONNECTED : DV_ENDPOINT_CONNECTING;
        ep[k].service = svc_name_short(h->svc);
        k++;
    }
    return k;
}

size_t http_endpoint_count(const dv_engine *e)
{
    size_t n = 0;
    for (const hidle *i = e->idle; i; i = i->next) n++;
    for (const hreq *h = e->hreqs; h; h = h->next)
        if (h->state != HREQ_WAIT && h->conn) n++;
    return n;
}

int http_idle_event(dv_engine *e, uint32_t id)
{
    for (hidle **pp = &e->idle; *pp; pp = &(*pp)->next)
        if ((*pp)->conn == id) {
            hidle *k = *pp;
            *pp = k->next;
            dv_free(k);
            return 1;
        }
    return 0;
}

hreq *http_by_conn(dv_engine *e, uint32_t id)
{
    for (hreq *h = e->hreqs; h; h = h->next)
        if (h->conn == id && h->state != HREQ_WAIT) return h;
    return NULL;
}

/* Close the attempt's connection, if one is open. */
static void drop_conn(dv_engine *e, hreq *h)
{
    if (h->conn && h->state != HREQ_WAIT && h->state != HREQ_DRAIN) e->h.close(e->h.ud, h->conn);
    h->conn = 0;
    h->state = HREQ_WAIT;
}

static void complete(dv_engine *e, hreq *h, dv_error err, const char *msg)
{
    for (hreq **pp = &e->hreqs; *pp; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    drop_conn(e, h);
    uint64_t now = eng_now(e);
    int st = h->resp.status;
    dv_error_context ctx = {
        .status = st > 0 && st < 0xffff ? (uint16_t)st : 0xffff,
        .key = "",
        .bucket = "",
        .scope = "",
        .collection = "",
        .node = h->node,
        .elapsed_us = now > h->submitted ? (now - h->submitted) / 1000 : 0,
        .retries = h->retries,
        .retry_reasons = h->retries ? "socket_not_available" : "",
        .message = msg ? msg : "",
    };
    dv_res res;
    memset(&res, 0, sizeof res);
    res.err = err;
    res.ctx = &ctx;
    if (err == DV_ERR_OK) {
        const dv_buf *body = h->split ? &h->split->meta : &h->resp.body;
        res.http_status = st;
        res.value = dv_buf_head(body);
        res.value_len = dv_buf_size(body);
        if (!res.value) res.value = "";
    }
    h->cb(h->ud, &res);
    hreq_free(h);
}

/* A config to pick nodes from: the cluster connection's, else an open bucket's. */
static const dv_config *any_config(dv_engine *e)
{
    const dv_config *best = NULL;
    for (bucket *b = e->buckets; b; b = b->next) {
        if (b->state != B_READY || !b->cfg) continue;
        if (b->cluster) return b->cfg;
        if (!best) best = b->cfg;
    }
    return best;
}

static int any_booting(dv_engine *e)
{
    for (bucket *b = e->buckets; b; b = b->next)
        if (b->state == B_BOOT) return 1;
    return 0;
}

/* Start an attempt: pick a node and connect, or wait for a config, or fail. */
static void dispatch(dv_engine *e, hreq *h)
{
    h->retry_at = 0;
    const dv_config *cfg = any_config(e);
    if (!cfg) {
        h->state = HREQ_WAIT;
        if (any_booting(e)) return;
        bucket *cl = eng_bucket(e, "", 0);
        if (cl && cl->state == B_FAILED) {
            complete(e, h, cl->err, "the cluster connection failed");
            return;
        }
        if (!cl && !eng_bucket(e, "", 1)) complete(e, h, DV_ERR_NO_MEMORY, "");
        return;
    }
    dv_service port = svc_port(e, h->svc);
    size_t n = 0;
    for (size_t i = 0; i < cfg->nnodes; i++)
        if (cfg->nodes[i].ports[port] && cfg->nodes[i].hostname) n++;
    if (!n) {
        char msg[96];
        snprintf(msg, sizeof msg, "no node of the cluster has the %s service", svc_name(h->svc));
        complete(e, h, DV_ERR_SERVICE_NOT_AVAILABLE, msg);
        return;
    }
    size_t pick = e->http_rr++ % n;
    const dv_config_node *node = NULL;
    for (size_t i = 0; i < cfg->nnodes; i++)
        if (cfg->nodes[i].ports[port] && cfg->nodes[i].hostname && pick-- == 0) {
            node = &cfg->nodes[i];
            break;
        }
    const char *host = node->hostname;
    uint16_t p = node->ports[port];
    snprintf(h->node, sizeof h->node, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, (unsigned)p);
    dv_buf_reset(&h->out);
    dv_http_resp_free(&h->resp);
    dv_http_resp_init(&h->resp);
    h->resp.max_body = DV_HTTP_MAX_SERVICE_BODY;
    if (h->split) {
        dv_rowsplit_free(h->split);
        dv_rowsplit_init(h->split);
    }
    if (dv_http_request_ex(&h->out, h->method, host, p, h->path, e->user, e->pass, h->ctype,
                           h->body, h->body_len, 1)) {
        complete(e, h, DV_ERR_NO_MEMORY, "");
        return;
    }
    uint32_t kept = idle_take(e, h->node);
    h->reused = kept != 0;
    if (kept) { /* the request goes out with the next flush */
        h->conn = kept;
        h->state = HREQ_SENT;
        return;
    }
    if (++e->next_conn_id == 0) e->next_conn_id = 1;
    h->conn = e->next_conn_id;
    h->state = HREQ_CONNECT;
    e->h.connect(e->h.ud, h->conn, host, p);
}

/* The attempt's connection failed or closed early: another attempt, or the end. */
static void attempt_failed(dv_engine *e, hreq *h, dv_error err)
{
    h->conn = 0; /* gone already: no hooks.close */
    h->state = HREQ_WAIT;
    /* A kept-alive connection the server closed in an orderly way before a byte of answer
     * came: it closed the idle connection, it did not take the request; sent again. */
    int stale =
        h->reused && err == DV_ERR_REQUEST_CANCELED && h->resp.status == 0 && h->resp.hdr_used == 0;
    if ((h->written && !h->idempotent && !stale) || (h->split && h->split->rows)) {
        complete(e, h, DV_ERR_REQUEST_CANCELED,
                 "the connection closed before the response was complete");
        return;
    }
    dv_log(DV_LOG_DEBUG, "client", "%s: %s request failed (%s), trying again", h->node,
           svc_name(h->svc), dv_strerror(err));
    h->written = 0;
    h->retry_at = eng_now(e) + dv_op_backoff_ms(h->retries++) * DV_NS_PER_MS;
    eng_arm(e, h->retry_at);
}

void http_connected(dv_engine *e, hreq *h)
{
    (void)e;
    if (h->state != HREQ_CONNECT) return;
    h->state = HREQ_SENT; /* the request goes out with the next flush */
}

static int on_split_row(void *ud, const char *row, size_t len)
{
    hreq *h = ud;
    if (h->rows(h->rows_ud, row, len)) h->paused = 1;
    return h->paused;
}

/* Hand what was read of the body to the splitter until it is all taken or the reader pauses
 * (then the connection is paused too while more is to come). 0, or -1 when the request
 * completed with an error. */
static int drain(dv_engine *e, hreq *h)
{
    int fed = 0;
    while (!h->paused && dv_buf_size(&h->resp.body)) {
        fed = 1;
        long k = dv_rowsplit_feed(h->split, dv_buf_head(&h->resp.body), dv_buf_size(&h->resp.body),
                                  on_split_row, h);
        if (k < 0) {
            complete(e, h, DV_ERR_DECODING_FAILURE, "the query response is over its limits");
            return -1;
        }
        dv_buf_consume(&h->resp.body, (size_t)k);
    }
    if (fed) h->rows(h->rows_ud, NULL, 0); /* the end of this read's rows */
    if (h->paused) {
        h->paused_at = eng_now(e);
        if (h->state == HREQ_SENT && !h->sock_paused && e->h.pause) {
            h->sock_paused = 1;
            e->h.pause(e->h.ud, h->conn, 1);
        }
    }
    return 0;
}

/* The whole response is in and its connection let go (kept alive or closed): complete now, or
 * once the reader has taken the rows. */
static void response_in(dv_engine *e, hreq *h)
{
    h->conn = 0;
    h->sock_paused = 0;
    h->state = HREQ_DRAIN;
    if (h->paused) return;
    if (h->split && dv_rowsplit_end(h->split) < 0) {
        complete(e, h, DV_ERR_DECODING_FAILURE, "the query response ends inside a row");
        return;
    }
    complete(e, h, DV_ERR_OK, "");
}

void http_on_data(dv_engine *e, hreq *h, const uint8_t *p, size_t n)
{
    if (h->state != HREQ_SENT) return;
    dv_http_rc rc = dv_http_resp_feed(&h->resp, p, n);
    if (rc == DV_HTTP_ERROR) {
        complete(e, h, DV_ERR_DECODING_FAILURE, "malformed HTTP response");
        return;
    }
    if (h->split && drain(e, h) < 0) return;
    if (rc == DV_HTTP_DONE) {
        if (!h->resp.close && !h->resp.trailing) { /* kept for the next request */
            if (h->sock_paused) e->h.pause(e->h.ud, h->conn, 0);
            idle_put(e, h->conn, h->node, h->svc);
        } else {
            e->h.close(e->h.ud, h->conn);
        }
        response_in(e, h);
    }
}

void http_on_closed(dv_engine *e, hreq *h, dv_error err)
{
    if (h->state == HREQ_SENT && err == DV_ERR_OK && dv_http_resp_eof(&h->resp) == DV_HTTP_DONE) {
        if (h->split && drain(e, h) < 0) return;
        response_in(e, h);
        return;
    }
    attempt_failed(e, h, err != DV_ERR_OK ? err : DV_ERR_REQUEST_CANCELED);
}

int dv_engine_http_resume(dv_engine *e, uint64_t id)
{
    hreq *h = e->hreqs;
    while (h && h->id != id) h = h->next;
    if (!h || !h->paused) return -1;
    eng_enter(e);
    uint64_t now = eng_now(e);
    h->paused = 0;
    h->deadline += now - h->paused_at;
    eng_arm(e, h->deadline);
    if (drain(e, h) == 0 && !h->paused) {
        if (h->state == HREQ_DRAIN) {
            response_in(e, h);
        } else if (h->sock_paused) {
            h->sock_paused = 0;
            e->h.pause(e->h.ud, h->conn, 0);
        }
    }
    eng_leave(e);
    return 0;
}

void http_flush(dv_engine *e)
{
    for (hreq *h = e->hreqs; h; h = h->next)
        if (h->state == HREQ_SENT && dv_buf_size(&h->out)) {
            h->written = 1;
            e->h.write(e->h.ud, h->conn, dv_buf_head(&h->out), dv_buf_size(&h->out));
            dv_buf_reset(&h->out);
        }
}

void http_tick(dv_engine *e, uint64_t now)
{
    for (hidle **pp = &e->idle; *pp;) {
        hidle *k = *pp;
        if (k->until <= now) {
            *pp = k->next;
            e->h.close(e->h.ud, k->conn);
            dv_free(k);
        } else {
            pp = &k->next;
        }
    }
    for (hreq *h = e->hreqs; h;) {
        if (h->deadline <= now && !h->paused) {
            complete(e, h, h->idempotent ? DV_ERR_UNAMBIGUOUS_TIMEOUT : DV_ERR_AMBIGUOUS_TIMEOUT,
                     "");
            h = e->hreqs; /* the list may have changed in the callback */
        } else if (h->state == HREQ_WAIT && h->retry_at && h->retry_at <= now) {
            dispatch(e, h);
            h = e->hreqs;
        } else {
            h = h->next;
        }
    }
}

uint64_t http_next(const dv_engine *e)
{
    uint64_t next = 0;
    for (const hidle *k = e->idle; k; k = k->next) next = earliest(next, k->until);
    for (const hreq *h = e->hreqs; h; h = h->next) {
        if (!h->paused) next = earliest(next, h->deadline);
        if (h->state == HREQ_WAIT) next = earliest(next, h->retry_at);
    }
    return next;
}

void http_wake(dv_engine *e)
{
    if (!e->hreqs || e->closing) return;
    int waiting = 0;
    for (hreq *h = e->hreqs; h && !waiting; h = h->next)
        waiting = h->state == HREQ_WAIT && !h->retry_at;
    if (!waiting || (!any_config(e) && any_booting(e))) return;
    unsigned gen = ++e->http_gen;
    for (hreq *h = e->hreqs; h;) {
        if (h->state == HREQ_WAIT && !h->retry_at && h->gen != gen) {
            h->gen = gen;
            dispatch(e, h);
            h = e->hreqs;
        } else {
            h = h->next;
        }
    }
}

int http_cancel(dv_engine *e, uint64_t id)
{
    for (hreq *h = e->hreqs; h; h = h->next)
        if (h->id == id) {
            complete(e, h, DV_ERR_REQUEST_CANCELED, "");
            return 0;
        }
    return -1;
}

void http_fail_all(dv_engine *e)
{
    while (e->hreqs) complete(e, e->hreqs, DV_ERR_REQUEST_CANCELED, "");
    while (e->idle) {
        hidle *k = e->idle;
        e->idle = k->next;
        e->h.close(e->h.ud, k->conn);
        dv_free(k);
    }
}

static char *dup_or_null(const char *s, int *oom)
{
    if (!s) return NULL;
    char *d = dv_strdup(s);
    if (!d) *oom = 1;
    return d;
}

static dv_error http_new(dv_engine *e, const dv_http_req *req, dv_res_cb cb, void *ud,
                         uint64_t given, uint64_t *id)
{
    if (!req || !cb || !req->method || !*req->method || !req->path || req->path[0] != '/' ||
        (req->service != DV_HTTP_MGMT && req->service != DV_HTTP_QUERY) ||
        (req->body_len && !req->body))
        return DV_ERR_INVALID_ARGUMENT;
    if (e->closing) return DV_ERR_REQUEST_CANCELED;
    hreq *h = dv_calloc(1, sizeof *h);
    if (!h) return DV_ERR_NO_MEMORY;
    int oom = 0;
    h->method = dup_or_null(req->method, &oom);
    h->path = dup_or_null(req->path, &oom);
    h->ctype = dup_or_null(req->content_type, &oom);
    if (req->body_len) {
        h->body = dv_malloc(req->body_len);
        if (h->body)
            memcpy(h->body, req->body, req->body_len);
        else
            oom = 1;
    }
    if (req->rows) {
        h->rows = req->rows;
        h->rows_ud = req->rows_ud;
        h->split = dv_malloc(sizeof *h->split);
        if (h->split)
            dv_rowsplit_init(h->split);
        else
            oom = 1;
    }
    if (oom) {
        hreq_free(h);
        return DV_ERR_NO_MEMORY;
    }
    h->body_len = req->body_len;
    h->svc = req->service;
    h->idempotent = req->idempotent;
    dv_http_resp_init(&h->resp);
    h->cb = cb;
    h->ud = ud;
    eng_enter(e);
    uint64_t now = eng_now(e);
    h->id = given ? given : ++e->next_op_id;
    if (id) *id = h->id;
    h->submitted = now;
    uint64_t ms = req->timeout_ms ? req->timeout_ms : DEFAULT_HTTP_TIMEOUT_MS;
    h->deadline = ms == DV_TIMEOUT_EXPIRED ? now : now + ms * DV_NS_PER_MS;
    h->state = HREQ_WAIT;
    h->next = e->hreqs;
    e->hreqs = h;
    eng_arm(e, h->deadline);
    if (h->deadline <= now)
        complete(e, h, h->idempotent ? DV_ERR_UNAMBIGUOUS_TIMEOUT : DV_ERR_AMBIGUOUS_TIMEOUT, "");
    else
        dispatch(e, h);
    eng_leave(e);
    return DV_ERR_OK;
}

dv_error dv_engine_http(dv_engine *e, const dv_http_req *req, dv_res_cb cb, void *ud, uint64_t *id)
{
    return http_new(e, req, cb, ud, 0, id);
}

dv_error dv_engine_http_as(dv_engine *e, const dv_http_req *req, dv_res_cb cb, void *ud,
                           uint64_t id)
{
    if (!(id & DV_ENGINE_CALLER_ID)) return DV_ERR_INVALID_ARGUMENT;
    return http_new(e, req, cb, ud, id, NULL);
}
