/* The engine: operations, their lifetime and the one timer. Connections, handshakes, configs
 * and buckets are in engine_conn.c; the shared state is described in engine_int.h.
 *
 * An operation is always in e->pending (or, briefly, in a batch being processed). It is "in
 * flight" when e->slots maps its opaque to it; otherwise it waits: for a config, a ready
 * connection, a collection id, or its backoff (retry_at_ns). Waiting operations are tried again
 * on the events that may unblock them (config applied, connection ready, id resolved, backoff
 * over). Every path to the user's callback goes through op_complete, which takes the operation
 * out of every structure first: exactly one completion.
 *
 * Batches (timeouts, a lost connection, a failed bucket, shutdown) are taken out of pending
 * first and processed one by one, so that callbacks, which may submit or cancel, never run while
 * a list is being walked; dead connections are freed only when the outermost API call ends. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/errmsg.h"
#include "base/log.h"
#include "client/engine_int.h"
#include "mcbp/opcode.h"

#define DEFAULT_KV_TIMEOUT_MS         2500
#define DEFAULT_DURABLE_TIMEOUT_MS    10000
#define DEFAULT_CONNECT_TIMEOUT_MS    10000
#define DEFAULT_BOOTSTRAP_TIMEOUT_MS  10000
#define UNKNOWN_COLLECTION_BACKOFF_MS 500

/* ---- small helpers ------------------------------------------------------------------------ */

uint64_t eng_now(dv_engine *e)
{
    return e->h.now(e->h.ud);
}

void eng_arm(dv_engine *e, uint64_t at)
{
    if (!at || e->in_timer) return; /* dv_engine_timer re-arms once when it is done */
    if (e->timer_at && e->timer_at <= at) return;
    e->timer_at = at;
    e->h.timer(e->h.ud, at);
}

uint32_t eng_opaque(dv_engine *e)
{
    if (++e->next_opaque == 0) e->next_opaque = 1;
    return e->next_opaque;
}

static void list_push(oplist *l, dv_op *op)
{
    op->next = NULL;
    op->prev = l->tail;
    if (l->tail)
        l->tail->next = op;
    else
        l->head = op;
    l->tail = op;
    l->n++;
}

static void list_unlink(oplist *l, dv_op *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        l->head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else
        l->tail = op->prev;
    op->next = op->prev = NULL;
    l->n--;
}

void eng_enter(dv_engine *e)
{
    e->depth++;
}

static void ping_finish(dv_engine *e);

void eng_leave(dv_engine *e)
{
    if (e->depth == 1) {
        ping_finish(e);
        if (e->hreqs) http_wake(e);
    }
    if (--e->depth == 0) conn_reap(e);
}

static void batch_begin(dv_engine *e, batch *bt)
{
    memset(bt, 0, sizeof *bt);
    bt->up = e->batches;
    e->batches = bt;
}

/* Move op from pending into the batch. */
static void take(dv_engine *e, batch *bt, dv_op *op)
{
    list_unlink(&e->pending, op);
    list_push(&bt->l, op);
}

/* ---- in-flight table: opaque -> op ------------------------------------------------------- */

static size_t home(uint32_t opaque, size_t mask)
{
    return (size_t)(opaque * 2654435761u) & mask;
}

static dv_op *inflight_get(const dv_engine *e, uint32_t opaque)
{
    if (!e->cap || !opaque) return NULL;
    size_t mask = e->cap - 1;
    for (size_t i = home(opaque, mask); e->slots[i]; i = (i + 1) & mask)
        if (e->slots[i]->opaque == opaque) return e->slots[i];
    return NULL;
}

dv_op *eng_inflight(dv_engine *e, uint32_t opaque)
{
    return inflight_get(e, opaque);
}

static int op_inflight(const dv_engine *e, const dv_op *op)
{
    return op->opaque && inflight_get(e, op->opaque) == op;
}

static void inflight_insert(dv_engine *e, dv_op *op)
{
    size_t mask = e->cap - 1, i = home(op->opaque, mask);
    while (e->slots[i]) i = (i + 1) & mask;
    e->slots[i] = op;
    e->used++;
}

/* Room for one more entry (load <= 1/2); -1 on allocation failure. */
static int inflight_reserve(dv_engine *e)
{
    if ((e->used + 1) * 2 <= e->cap) return 0;
    size_t ncap = e->cap ? e->cap * 2 : 64;
    dv_op **old = e->slots;
    size_t ocap = e->cap;
    e->slots = dv_calloc(ncap, sizeof *e->slots);
    if (!e->slots) {
        e->slots = old;
        return -1;
    }
    e->cap = ncap;
    e->used = 0;
    for (size_t i = 0; i < ocap; i++)
        if (old[i]) inflight_insert(e, old[i]);
    dv_free(old);
    return 0;
}

static void inflight_remove(dv_engine *e, dv_op *op)
{
    if (!e->cap || !op->opaque) return;
    size_t mask = e->cap - 1, i = home(op->opaque, mask);
    while (e->slots[i] && e->slots[i] != op) i = (i + 1) & mask;
    if (!e->slots[i]) return;
    e->slots[i] = NULL;
    e->used--;
    /* Backward-shift deletion: pull later members of the probe run into the hole. */
    for (size_t j = (i + 1) & mask; e->slots[j]; j = (j + 1) & mask) {
        size_t k = home(e->slots[j]->opaque, mask);
        if (((j - k) & mask) >= ((j - i) & mask)) {
            e->slots[i] = e->slots[j];
            e->slots[j] = NULL;
            i = j;
        }
    }
}

/* ---- operations ----------------------------------------------------------------------------- */

conn *eng_conn_by_id(dv_engine *e, uint32_t id)
{
    for (conn *c = e->conns; c; c = c->next)
        if (c->id == id) return c;
    return NULL;
}

static const char *op_scope(const dv_op *op)
{
    return op->req.scope ? op->req.scope : "_default";
}

static const char *op_collection(const dv_op *op)
{
    return op->req.collection ? op->req.collection : "_default";
}

/* Reads may be sent again after a lost connection and time out unambiguously. */
static int op_idempotent(const dv_op *op)
{
    switch (op->req.kind) {
    case DV_KV_GET:
    case DV_KV_GET_REPLICA:
    case DV_KV_EXISTS:
    case DV_KV_LOOKUP_IN:
    case DV_KV_NOOP:
    case DV_KV_RANGE_SCAN_CREATE: /* a scan whose create is lost goes with its connection */
    case DV_KV_RANGE_SCAN_CANCEL:
        return 1;
    default:
        return 0;
    }
}

/* Record a retry reason once (the official core keeps a set). */
static void add_reason(dv_op *op, const char *r)
{
    size_t n = strlen(op->retry_reasons), rl = strlen(r);
    for (const char *p = op->retry_reasons; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == rl && memcmp(p, r, rl) == 0) return;
        p += len + (end ? 1 : 0);
    }
    if (n + (n ? 1 : 0) + rl + 1 > sizeof op->retry_reasons) return;
    if (n) op->retry_reasons[n++] = ',';
    memcpy(op->retry_reasons + n, r, rl + 1);
}

static void set_conn(dv_engine *e, dv_op *op, conn *c)
{
    if (op->conn == c->id) return;
    conn *old = op->conn ? eng_conn_by_id(e, op->conn) : NULL;
    if (old) old->refs--;
    op->conn = c->id;
    c->refs++;
}

static void dur_detach(dv_op *op);

/* Take op out of everything and call its callback once. res may be NULL (an error only). */
static void op_complete(dv_engine *e, dv_op *op, dv_error err, dv_res *res, const char *msg)
{
    if (op->dw) dur_detach(op); /* a durable wait ended otherwise (timeout, cancel, close) */
    list_unlink(&e->pending, op);
    inflight_remove(e, op);
    dv_res local;
    if (!res) {
        memset(&local, 0, sizeof local);
        res = &local;
    }
    res->err = err;
    conn *c = op->conn ? eng_conn_by_id(e, op->conn) : NULL;
    uint64_t now = eng_now(e);
    dv_error_context ctx = {
        .opcode = op->opcode,
        .status = op->last_status,
        .key = op->req.key,
        .key_len = op->req.key_len,
        .bucket = op->req.bucket,
        .scope = op_scope(op),
        .collection = op_collection(op),
        .node = c ? c->name : "",
        .elapsed_us = now > op->submitted_ns ? (now - op->submitted_ns) / 1000 : 0,
        .retries = op->retries,
        .retry_reasons = op->retry_reasons,
        .message = msg ? msg : "",
    };
    res->ctx = &ctx;
    if (c) c->refs--; /* c is reaped only at the end of the engine call */
    op->cb(op->ud, res);
    dv_op_free(op);
}

static dv_error op_timeout_error(const dv_op *op)
{
    /* The official core: ambiguous only for a non-idempotent request that was dispatched. */
    return !op_idempotent(op) && op->opaque ? DV_ERR_AMBIGUOUS_TIMEOUT : DV_ERR_UNAMBIGUOUS_TIMEOUT;
}

static void op_retry(dv_engine *e, dv_op *op, const char *reason, uint64_t delay_ms)
{
    add_reason(op, reason);
    op->retries++;
    op->retry_at_ns = eng_now(e) + delay_ms * DV_NS_PER_MS;
    if (op->retry_at_ns == 0) op->retry_at_ns = 1;
    eng_arm(e, op->retry_at_ns);
}

static int is_default_collection(const dv_op *op)
{
    return strcmp(op_scope(op), "_default") == 0 && strcmp(op_collection(op), "_default") == 0;
}

static coll *coll_find(bucket *b, const char *scope, const char *name)
{
    for (coll *k = b->colls; k; k = k->next)
        if (strcmp(k->scope, scope) == 0 && strcmp(k->name, name) == 0) return k;
    return NULL;
}

/* Ask c for the id of the op's collection (one request per name at a time). */
static dv_error coll_resolve(dv_engine *e, bucket *b, conn *c, const dv_op *op)
{
    coll *k = dv_calloc(1, sizeof *k);
    if (!k) return DV_ERR_NO_MEMORY;
    k->scope = dv_strdup(op_scope(op));
    k->name = dv_strdup(op_collection(op));
    dv_buf v = DV_BUF_INIT;
    if (!k->scope || !k->name || dv_buf_printf(&v, "%s.%s", k->scope, k->name) ||
        conn_send_ctl(e, c, CTL_CID, DV_OP_GET_COLLECTION_ID, NULL, 0, dv_buf_head(&v),
                      dv_buf_size(&v), &k->opaque)) {
        dv_buf_free(&v);
        dv_free(k->scope);
        dv_free(k->name);
        dv_free(k);
        return DV_ERR_NO_MEMORY;
    }
    dv_buf_free(&v);
    k->conn = c->id;
    k->sent_at = eng_now(e);
    eng_arm(e, k->sent_at + e->kv_timeout_ns);
    k->next = b->colls;
    b->colls = k;
    return DV_ERR_OK;
}

/* Write op to the connection of its node if everything it needs is there; otherwise leave it
 * waiting. An error means it cannot be sent at all (the caller completes it). */
static dv_error op_dispatch(dv_engine *e, dv_op *op)
{
    if (op_inflight(e, op) || op->dw) return DV_ERR_OK; /* sent, or done and polled */
    if (op->retry_at_ns) {
        if (op->retry_at_ns > eng_now(e)) return DV_ERR_OK;
        op->retry_at_ns = 0;
    }
    bucket *b = eng_bucket(e, op->req.bucket, 0);
    if (!b || b->state != B_READY || !b->cfg) return DV_ERR_OK;
    uint16_t vb = 0;
    int node;
    /* Only these read from replicas; the field is ignored elsewhere. */
    dv_op_kind kind = op->req.kind;
    unsigned replica =
        kind == DV_KV_GET_REPLICA || kind == DV_KV_LOOKUP_IN || kind == DV_KV_OBSERVE_SEQNO
            ? op->req.replica_index
            : 0;
    int scan = kind == DV_KV_RANGE_SCAN_CREATE || kind == DV_KV_RANGE_SCAN_CONTINUE ||
               kind == DV_KV_RANGE_SCAN_CANCEL;
    if (op->req.kind == DV_KV_NOOP) {
        node = dv_vbmap_get(&b->cfg->vbmap, 0, 0);
    } else if (scan) {
        if (op->req.vbucket >= b->cfg->vbmap.nvb) return DV_ERR_INVALID_ARGUMENT;
        vb = op->req.vbucket;
        node = dv_vbmap_get(&b->cfg->vbmap, vb, 0);
    } else
        node = dv_config_route(b->cfg, op->req.key, op->req.key_len, replica, &vb);
    /* No such replica in the map (numReplicas too small, or not placed): nothing to ask. */
    if (node < 0 && replica) return DV_ERR_DOCUMENT_IRRETRIEVABLE;
    if (node < 0 || (size_t)node >= b->nslots) return DV_ERR_OK; /* no node: wait for a config */
    conn *c = b->slots[node].c;
    if (!c || c->state != CONN_READY) return DV_ERR_OK; /* (re)connecting */
    if (!op->cid_known) {
        if (is_default_collection(op) || kind == DV_KV_OBSERVE_SEQNO) { /* no key is sent */
            op->cid = 0;
            op->cid_known = 1;
        } else {
            if (!dv_features_has(c->features, DV_FEATURE_COLLECTIONS))
                return DV_ERR_FEATURE_NOT_AVAILABLE; /* as dv_op_encode says */
            coll *k = coll_find(b, op_scope(op), op_collection(op));
            if (!k) return coll_resolve(e, b, c, op);
            if (!k->known) return DV_ERR_OK;
            op->cid = k->cid;
            op->cid_known = 1;
        }
    }
    if (inflight_reserve(e)) return DV_ERR_NO_MEMORY;
    uint64_t now = eng_now(e);
    dv_op_route r = {.vbucket = vb, .cid = op->cid, .features = c->features};
    r.remaining_ms = op->deadline_ns > now ? (op->deadline_ns - now) / DV_NS_PER_MS : 0;
    if (r.remaining_ms == 0) r.remaining_ms = 1;
    r.opaque = eng_opaque(e);
    dv_error rc = dv_op_encode(op, &r, &c->out);
    if (rc != DV_ERR_OK) return rc;
    op->opaque = r.opaque;
    op->vbucket = vb;
    set_conn(e, op, c);
    inflight_insert(e, op);
    return DV_ERR_OK;
}

/* What to do with each operation of a batch. */
typedef enum batch_act {
    ACT_DISPATCH, /* try to send; complete on a hard error */
    ACT_TIMEOUT,  /* the deadline passed */
    ACT_FAIL,     /* complete with err */
    ACT_LOST,     /* its connection closed while it was in flight */
    ACT_CID,      /* its collection id lookup failed with status */
} batch_act;

/* For an operation that was never sent: why its bucket has no config yet (the seeds the
 * bootstrap tried and what each came to), else "". */
static const char *boot_message(dv_engine *e, const dv_op *op)
{
    bucket *b = op->opaque ? NULL : eng_bucket(e, op->req.bucket, 0);
    const char *m = b ? bucket_boot_report(e, b) : NULL;
    return m ? m : "";
}

/* Process the batch (started with batch_begin), one operation at a time: each goes back to
 * pending first, so that whatever its callback does sees consistent lists. */
static void drain(dv_engine *e, batch *bt, batch_act act, dv_error err, uint16_t status)
{
    dv_op *op;
    while ((op = bt->l.head) != NULL) {
        list_unlink(&bt->l, op);
        list_push(&e->pending, op);
        switch (act) {
        case ACT_DISPATCH: {
            dv_error rc = op_dispatch(e, op);
            if (rc != DV_ERR_OK) op_complete(e, op, rc, NULL, "");
            break;
        }
        case ACT_TIMEOUT:
            op_complete(e, op, op_timeout_error(op), NULL, boot_message(e, op));
            break;
        case ACT_FAIL:
            op_complete(e, op, err, NULL, boot_message(e, op));
            break;
        case ACT_LOST:
            /* The official core: reads are retried, writes fail (their outcome is unknown). */
            if (op_idempotent(op))
                op_retry(e, op, "socket_closed_while_in_flight", dv_op_backoff_ms(op->retries));
            else
                op_complete(e, op, DV_ERR_REQUEST_CANCELED, NULL,
                            "socket closed while the request was in flight");
            break;
        case ACT_CID:
            if (status == DV_STATUS_UNKNOWN_COLLECTION) {
                op->cid_known = 0;
                op->last_status = status;
                op_retry(e, op, dv_retry_name(DV_RETRY_COLLECTION_OUTDATED),
                         UNKNOWN_COLLECTION_BACKOFF_MS);
            } else {
                op->last_status = status;
                op_complete(e, op, dv_mcbp_status_error(DV_OP_GET_COLLECTION_ID, status), NULL, "");
            }
            break;
        }
    }
    e->batches = bt->up;
}

static int op_of_bucket(const dv_op *op, const bucket *b)
{
    return strcmp(op->req.bucket, b->name) == 0;
}

void eng_redispatch(dv_engine *e, bucket *b)
{
    uint64_t now = eng_now(e);
    batch bt;
    batch_begin(e, &bt);
    for (dv_op *op = e->pending.head, *nx; op; op = nx) {
        nx = op->next;
        if (op_of_bucket(op, b) && !op_inflight(e, op) &&
            (!op->retry_at_ns || op->retry_at_ns <= now))
            take(e, &bt, op);
    }
    drain(e, &bt, ACT_DISPATCH, DV_ERR_OK, 0);
}

void eng_fail_bucket_ops(dv_engine *e, bucket *b, dv_error err)
{
    batch bt;
    batch_begin(e, &bt);
    for (dv_op *op = e->pending.head, *nx; op; op = nx) {
        nx = op->next;
        if (op_of_bucket(op, b) && !op_inflight(e, op)) take(e, &bt, op);
    }
    drain(e, &bt, ACT_FAIL, err, 0);
}

void eng_conn_lost(dv_engine *e, conn *c)
{
    batch bt;
    batch_begin(e, &bt);
    for (dv_op *op = e->pending.head, *nx; op; op = nx) {
        nx = op->next;
        if (op->conn == c->id && op_inflight(e, op)) {
            inflight_remove(e, op);
            take(e, &bt, op);
        }
    }
    drain(e, &bt, ACT_LOST, DV_ERR_OK, 0);
}

void eng_cid_failed(dv_engine *e, bucket *b, coll *k, uint16_t status)
{
    batch bt;
    batch_begin(e, &bt);
    for (dv_op *op = e->pending.head, *nx; op; op = nx) {
        nx = op->next;
        if (op_of_bucket(op, b) && !op->cid_known && !op_inflight(e, op) &&
            strcmp(op_scope(op), k->scope) == 0 && strcmp(op_collection(op), k->name) == 0)
            take(e, &bt, op);
    }
    drain(e, &bt, ACT_CID, DV_ERR_OK, status);
}

/* A reply to op arrived on c. */
static void dur_start(dv_engine *e, dv_op *op, const dv_res *res);

/* A range-scan continue's frame before the last: handed over, the operation stays in flight
 * (the callback may cancel it). */
static int scan_partial(dv_engine *e, conn *c, dv_op *op, const dv_frame *f)
{
    if (op->req.kind != DV_KV_RANGE_SCAN_CONTINUE || f->status != DV_STATUS_SUCCESS) return 0;
    dv_res res;
    memset(&res, 0, sizeof res);
    dv_retry why = DV_RETRY_NONE;
    dv_buf_reset(&e->scratch);
    dv_op_decode(op, f, &res, &e->scratch, &why);
    if (res.err != DV_ERR_OK || !res.partial) return 0;
    bucket *b = c->b;
    res.nvbuckets = b && b->cfg ? (uint16_t)b->cfg->vbmap.nvb : 0;
    dv_error_context ctx = {
        .opcode = op->opcode,
        .status = f->status,
        .bucket = op->req.bucket,
        .scope = op->req.scope ? op->req.scope : "_default",
        .collection = op->req.collection ? op->req.collection : "_default",
        .node = c->name,
        .retry_reasons = "",
        .message = "",
    };
    res.ctx = &ctx;
    op->cb(op->ud, &res);
    return 1;
}

void eng_op_reply(dv_engine *e, conn *c, dv_op *op, const dv_frame *f)
{
    if (scan_partial(e, c, op, f)) return;
    inflight_remove(e, op);
    op->last_status = f->status;
    dv_res res;
    memset(&res, 0, sizeof res);
    dv_retry why = DV_RETRY_NONE;
    dv_buf_reset(&e->scratch);
    switch (dv_op_decode(op, f, &res, &e->scratch, &why)) {
    case DV_OP_DONE: {
        if (op->req.kind >= DV_KV_RANGE_SCAN_CREATE && c->b && c->b->cfg)
            res.nvbuckets = (uint16_t)c->b->cfg->vbmap.nvb;
        if (res.err == DV_ERR_OK && (op->req.persist_to || op->req.replicate_to)) {
            dur_start(e, op, &res);
            return;
        }
        char msg[256];
        dv_op_error_message(f, msg, sizeof msg);
        op_complete(e, op, res.err, &res, msg);
        /* The official core drops a connection whose authentication went stale. */
        if (f->status == DV_STATUS_AUTH_STALE) conn_down(e, c, DV_ERR_AUTHENTICATION_FAILURE, 1);
        return;
    }
    case DV_OP_RETRY:
        op_retry(e, op, dv_retry_name(why), dv_op_backoff_ms(op->retries));
        if (why == DV_RETRY_CONFIG_ONLY) conn_poll(e, c); /* fetch a config before resending */
        return;
    case DV_OP_NOT_MY_VBUCKET:
        /* Back off first, so that applying the config does not resend it at once. */
        op_retry(e, op, dv_retry_name(DV_RETRY_NOT_MY_VBUCKET), dv_op_backoff_ms(op->retries));
        if ((f->datatype & DV_DATATYPE_JSON) && f->value_len)
            bucket_take_config(e, c->b, c, f->value, f->value_len, 0);
        return;
    case DV_OP_UNKNOWN_COLLECTION: {
        /* Forget the id (unless someone already refreshed it) and resolve it again. */
        bucket *b = c->b;
        coll *k = coll_find(b, op_scope(op), op_collection(op));
        if (k && k->known && k->cid == op->cid) coll_drop(b, k);
        op->cid_known = 0;
        op_retry(e, op, dv_retry_name(DV_RETRY_COLLECTION_OUTDATED), UNKNOWN_COLLECTION_BACKOFF_MS);
        return;
    }
    }
}

/* ---- ping -------------------------------------------------------------------------------- */

static void ping_free(ping *p)
{
    for (size_t i = 0; i < p->n; i++) dv_free((char *)p->ep[i].remote);
    dv_free(p->ep);
    dv_free(p->conn);
    dv_free(p->opaque);
    dv_free(p->done);
    dv_free(p->bucket);
    dv_free(p);
}

static void ping_settle(ping *p, size_t i, dv_error err, uint64_t latency_ns)
{
    p->done[i] = 1;
    p->left--;
    p->ep[i].err = err;
    p->ep[i].latency_us = latency_ns / 1000;
}

void ping_answered(dv_engine *e, conn *c, uint32_t opaque)
{
    for (ping *p = e->pings; p; p = p->next)
        for (size_t i = 0; i < p->n; i++)
            if (!p->done[i] && p->conn[i] == c->id && p->opaque[i] == opaque) {
                ping_settle(p, i, DV_ERR_OK, eng_now(e) - p->sent_at);
                return;
            }
}

void ping_conn_lost(dv_engine *e, conn *c)
{
    for (ping *p = e->pings; p; p = p->next)
        for (size_t i = 0; i < p->n; i++)
            if (!p->done[i] && p->conn[i] == c->id) {
                ping_settle(p, i, DV_ERR_REQUEST_CANCELED, 0);
                p->ep[i].state = DV_ENDPOINT_DISCONNECTED;
            }
}

/* Call back the complete pings, one at a time (a callback may start another ping). */
static void ping_finish(dv_engine *e)
{
    for (;;) {
        ping **pp = &e->pings;
        while (*pp && (*pp)->left) pp = &(*pp)->next;
        ping *p = *pp;
        if (!p) return;
        *pp = p->next;
        dv_error_context ctx = {.opcode = DV_OP_NOOP,
                                .status = 0xffff,
                                .bucket = p->bucket ? p->bucket : "",
                                .node = "",
                                .retry_reasons = "",
                                .message = ""};
        dv_res res = {.err = DV_ERR_OK, .ctx = &ctx, .endpoints = p->ep, .nendpoints = p->n};
        p->cb(p->ud, &res);
        ping_free(p);
    }
}

static dv_endpoint_state conn_ep_state(const conn *c)
{
    if (!c || c->state == CONN_DEAD) return DV_ENDPOINT_DISCONNECTED;
    return c->state == CONN_READY ? DV_ENDPOINT_CONNECTED : DV_ENDPOINT_CONNECTING;
}

/* "host:port" of a slot, owned. */
static char *slot_name(const slot *s)
{
    if (s->c) return dv_strdup(s->c->name);
    dv_buf nb = DV_BUF_INIT;
    int v6 = strchr(s->host, ':') != NULL;
    if (dv_buf_printf(&nb, v6 ? "[%s]:%u" : "%s:%u", s->host, (unsigned)s->port) ||
        dv_buf_append_u8(&nb, 0)) {
        dv_buf_free(&nb);
        return NULL;
    }
    return (char *)nb.data;
}

/* ---- the timer ------------------------------------------------------------------------------ */

static void rearm(dv_engine *e)
{
    uint64_t next = 0;
    for (dv_op *op = e->pending.head; op; op = op->next) {
        next = earliest(next, op->deadline_ns);
        if (op->retry_at_ns && !op_inflight(e, op)) next = earliest(next, op->retry_at_ns);
    }
    for (bucket *b = e->buckets; b; b = b->next)
        next = earliest(next, bucket_next(b, e->kv_timeout_ns));
    for (conn *c = e->conns; c; c = c->next) next = earliest(next, conn_next(c));
    for (ping *p = e->pings; p; p = p->next)
        if (p->left) next = earliest(next, p->deadline);
    next = earliest(next, http_next(e));
    if (next != e->timer_at) {
        e->timer_at = next;
        e->h.timer(e->h.ud, next);
    }
}

void dv_engine_timer(dv_engine *e)
{
    eng_enter(e);
    uint64_t now = eng_now(e);
    int outer = !e->in_timer;
    e->in_timer = 1;
    e->timer_at = 0; /* it fired */
    batch bt;
    batch_begin(e, &bt);
    for (dv_op *op = e->pending.head, *nx; op; op = nx) {
        nx = op->next;
        if (op->deadline_ns <= now) {
            inflight_remove(e, op); /* a late reply is dropped */
            take(e, &bt, op);
        }
    }
    drain(e, &bt, ACT_TIMEOUT, DV_ERR_OK, 0);
    for (conn *c = e->conns; c; c = c->next) conn_tick(e, c, now);
    for (bucket *b = e->buckets; b; b = b->next) bucket_tick(e, b, now);
    for (ping *p = e->pings; p; p = p->next)
        if (p->left && p->deadline <= now)
            for (size_t i = 0; i < p->n; i++)
                if (!p->done[i]) ping_settle(p, i, DV_ERR_UNAMBIGUOUS_TIMEOUT, 0);
    batch_begin(e, &bt);
    for (dv_op *op = e->pending.head, *nx; op; op = nx) {
        nx = op->next;
        if (op->retry_at_ns && op->retry_at_ns <= now && !op_inflight(e, op)) take(e, &bt, op);
    }
    drain(e, &bt, ACT_DISPATCH, DV_ERR_OK, 0);
    http_tick(e, now);
    if (outer) {
        e->in_timer = 0;
        rearm(e);
    }
    eng_leave(e);
}

/* ---- the API -------------------------------------------------------------------------------- */

dv_engine *dv_engine_new(const dv_client_opts *opts, const dv_engine_hooks *hooks, dv_error *rc,
                         char *err, size_t errlen)
{
    dv_error r = DV_ERR_OK;
    dv_engine *e = NULL;
    dv_connstr *cs = NULL;
    if (!opts || !hooks || !hooks->now || !hooks->connect || !hooks->write || !hooks->close ||
        !hooks->timer) {
        r = dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "options and every hook are required");
        goto fail;
    }
    const char *s = opts->connstr ? opts->connstr : "couchbase://localhost";
    r = dv_connstr_parse(s, strlen(s), &cs, err, errlen);
    if (r != DV_ERR_OK) goto fail;
    if (cs->scheme == DV_SCHEME_COUCHBASE2 || cs->scheme == DV_SCHEME_COUCHBASE_DNSSRV) {
        r = dv_errmsg(err, errlen, DV_ERR_UNSUPPORTED_OPERATION,
                      "the %s:// scheme is not supported", cs->scheme_name);
        goto fail;
    }
    if ((!opts->username || !*opts->username) && !opts->cert_path) {
        r = dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "a username is required");
        goto fail;
    }
    if ((opts->cert_path || opts->key_path) && !cs->tls) {
        r = dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                      "a client certificate needs TLS (couchbases://)");
        goto fail;
    }
    e = dv_calloc(1, sizeof *e);
    if (!e) {
        r = dv_errmsg(err, errlen, DV_ERR_NO_MEMORY, "out of memory");
        goto fail;
    }
    e->h = *hooks;
    e->cs = cs;
    cs = NULL;
    e->user = dv_strdup(opts->username ? opts->username : "");
    e->pass = dv_strdup(opts->password ? opts->password : "");
    if (!e->user || !e->pass) {
        r = dv_errmsg(err, errlen, DV_ERR_NO_MEMORY, "out of memory");
        goto fail;
    }
    /* Explicit options win over the connection string's, which default to the official core's. */
    const dv_connstr_options *o = &e->cs->options;
    e->kv_timeout_ns =
        (opts->kv_timeout_ms ? opts->kv_timeout_ms : o->kv_timeout_ms) * DV_NS_PER_MS;
    e->durable_timeout_ns =
        (opts->kv_durable_timeout_ms ? opts->kv_durable_timeout_ms : o->kv_durable_timeout_ms) *
        DV_NS_PER_MS;
    e->connect_timeout_ns =
        (opts->connect_timeout_ms ? opts->connect_timeout_ms : o->connect_timeout_ms) *
        DV_NS_PER_MS;
    e->bootstrap_timeout_ns =
        (opts->bootstrap_timeout_ms ? opts->bootstrap_timeout_ms : o->bootstrap_timeout_ms) *
        DV_NS_PER_MS;
    if (!e->kv_timeout_ns) e->kv_timeout_ns = DEFAULT_KV_TIMEOUT_MS * DV_NS_PER_MS;
    if (!e->durable_timeout_ns) e->durable_timeout_ns = DEFAULT_DURABLE_TIMEOUT_MS * DV_NS_PER_MS;
    if (!e->connect_timeout_ns) e->connect_timeout_ns = DEFAULT_CONNECT_TIMEOUT_MS * DV_NS_PER_MS;
    if (!e->bootstrap_timeout_ns)
        e->bootstrap_timeout_ns = DEFAULT_BOOTSTRAP_TIMEOUT_MS * DV_NS_PER_MS;
    e->poll_interval_ns =
        (o->config_poll_interval_ms ? o->config_poll_interval_ms : 2500) * DV_NS_PER_MS;
    if (e->cs->tls && (r = eng_tls_new(e, opts, err, errlen)) != DV_ERR_OK) goto fail;
    for (size_t i = 0; !e->cs->tls && i < e->cs->nhosts; i++)
        if (eng_is_capella_host(e->cs->hosts[i].host)) {
            /* The official core's warning; it then tries the plain ports, as here. */
            dv_log(DV_LOG_WARN, "client", "TLS is required when connecting to Couchbase Capella");
            break;
        }
    if (rc) *rc = DV_ERR_OK;
    return e;
fail:
    dv_connstr_free(cs);
    if (e) {
        eng_tls_free(e);
        dv_connstr_free(e->cs);
        dv_free(e->user);
        dv_free(e->pass);
        dv_free(e);
    }
    if (rc) *rc = r;
    return NULL;
}

void dv_engine_free(dv_engine *e)
{
    if (!e) return;
    e->closing = 1; /* submits from the callbacks below are refused */
    eng_enter(e);
    while (e->pending.head) {
        batch bt;
        batch_begin(e, &bt);
        while (e->pending.head) take(e, &bt, e->pending.head);
        drain(e, &bt, ACT_FAIL, DV_ERR_REQUEST_CANCELED, 0);
    }
    for (bucket *b = e->buckets; b; b = b->next) {
        while (b->waiters) {
            waiter *w = b->waiters;
            b->waiters = w->next;
            dv_error_context ctx = {.status = 0xffff,
                                    .bucket = b->name,
                                    .node = "",
                                    .retry_reasons = "",
                                    .message = ""};
            dv_res res = {.err = DV_ERR_REQUEST_CANCELED, .ctx = &ctx};
            w->cb(w->ud, &res);
            dv_free(w);
        }
    }
    for (ping *p = e->pings; p; p = p->next)
        for (size_t i = 0; i < p->n; i++)
            if (!p->done[i]) ping_settle(p, i, DV_ERR_REQUEST_CANCELED, 0);
    ping_finish(e);
    http_fail_all(e);
    for (conn *c = e->conns; c; c = c->next)
        if (c->state != CONN_DEAD) {
            e->h.close(e->h.ud, c->id);
            c->state = CONN_DEAD;
        }
    while (e->buckets) {
        bucket *b = e->buckets;
        e->buckets = b->next;
        bucket_free(e, b);
    }
    for (conn *c = e->conns; c; c = c->next) c->refs = 0;
    e->depth = 0;
    conn_reap(e);
    dv_free(e->slots);
    dv_buf_free(&e->scratch);
    eng_tls_free(e);
    dv_connstr_free(e->cs);
    dv_free(e->user);
    dv_free(e->pass);
    dv_free(e);
}

static dv_error open_bucket(dv_engine *e, const char *name, dv_res_cb cb, void *ud);

dv_error dv_engine_open_bucket(dv_engine *e, const char *name, dv_res_cb cb, void *ud)
{
    if (!name || !*name || !cb) return DV_ERR_INVALID_ARGUMENT;
    if (e->closing) return DV_ERR_REQUEST_CANCELED;
    eng_enter(e);
    dv_error rc = open_bucket(e, name, cb, ud);
    eng_leave(e);
    return rc;
}

static dv_error open_bucket(dv_engine *e, const char *name, dv_res_cb cb, void *ud)
{
    bucket *b = eng_bucket(e, name, 1);
    if (!b) return DV_ERR_NO_MEMORY;
    if (b->state == B_READY) {
        dv_error_context ctx = {
            .status = 0xffff, .bucket = b->name, .node = "", .retry_reasons = "", .message = ""};
        dv_res res = {.err = DV_ERR_OK, .ctx = &ctx};
        cb(ud, &res);
        return DV_ERR_OK;
    }
    waiter *w = dv_calloc(1, sizeof *w);
    if (!w) return DV_ERR_NO_MEMORY;
    w->cb = cb;
    w->ud = ud;
    waiter **pp = &b->waiters;
    while (*pp) pp = &(*pp)->next;
    *pp = w;
    if (b->state == B_FAILED) bucket_boot_start(e, b);
    return DV_ERR_OK;
}

/* Take an accepted op: pending, timed, sent when it can be (not before delay_ns). */
static dv_error op_start(dv_engine *e, dv_op *op, dv_res_cb cb, void *ud, uint64_t delay_ns,
                         uint64_t *id)
{
    const dv_req *req = &op->req;
    bucket *b = eng_bucket(e, req->bucket, 1);
    if (!b) {
        dv_op_free(op);
        return DV_ERR_NO_MEMORY;
    }
    uint64_t now = eng_now(e);
    op->id = ++e->next_op_id;
    op->cb = cb;
    op->ud = ud;
    op->submitted_ns = now;
    op->last_status = 0xffff;
    uint64_t t = req->timeout_ms == DV_TIMEOUT_EXPIRED ? 0
                 : req->timeout_ms                     ? req->timeout_ms * DV_NS_PER_MS
                 : req->durability                     ? e->durable_timeout_ns
                                                       : e->kv_timeout_ns;
    op->deadline_ns = now + delay_ns + t;
    if (delay_ns) {
        op->retry_at_ns = now + delay_ns;
        eng_arm(e, op->retry_at_ns);
    }
    list_push(&e->pending, op);
    if (id) *id = op->id;
    eng_arm(e, op->deadline_ns);
    if (req->timeout_ms == DV_TIMEOUT_EXPIRED) {
        op_complete(e, op, DV_ERR_UNAMBIGUOUS_TIMEOUT, NULL, "the timeout was below 1 ms");
    } else if (b->state == B_FAILED) {
        bucket_boot_start(e, b); /* try to open it again; the op waits for it */
    } else {
        dv_error rc = op_dispatch(e, op);
        if (rc != DV_ERR_OK) op_complete(e, op, rc, NULL, "");
    }
    return DV_ERR_OK;
}

/* ---- client (observe-based) durability ----------------------------------------------------
 *
 * The official core's rules: once a mutation with persist_to/replicate_to succeeded, each round
 * sends OBSERVE_SEQNO for its vbucket to the active copy (when persist_to asks anything) and to
 * every replica (when a replica is needed); a node counts as persisted when its last persisted
 * seqno reached the mutation's, a replica as replicated when its current seqno did. The wait
 * ends as soon as both counts suffice, otherwise the next round starts 500 ms after the last
 * answer; 5 s after the mutation it ends with AMBIGUOUS_TIMEOUT. Asking more replicas than the
 * bucket has is DURABILITY_IMPOSSIBLE (after the mutation, as the official core). The mutation
 * op stays pending meanwhile (so that timeouts, cancellation and close end it as any other). */

#define DUR_POLL_NS     (500 * DV_NS_PER_MS)
#define DUR_DEADLINE_NS (5000 * DV_NS_PER_MS)

typedef struct durwait {
    dv_engine *e;
    dv_op *op;   /* the mutation; NULL once it completed */
    dv_res *res; /* its result, handed over when durable */
    uint64_t seqno, uuid;
    unsigned replicas;    /* replicas to observe */
    unsigned outstanding; /* observe ops not answered yet (the durwait lives until 0) */
    unsigned left;        /* answers missing in this round */
    unsigned persisted, replicated;
    int persisted_active;
    int in_round; /* dur_round is sending: answers that come at once wait for its end */
} durwait;

/* Replica nodes that persist_to (1 active, 2..5 one..four nodes) needs. */
static unsigned persist_replicas(uint8_t p)
{
    return p >= 2 ? (p == 5 ? 3u : (unsigned)p - 1u) : 0u;
}

static int dur_touches_replica(const dv_req *r)
{
    return r->replicate_to > 0 || r->persist_to >= 2;
}

static int dur_met(const durwait *dw)
{
    const dv_req *r = &dw->op->req;
    int persisted = (r->persist_to == 1 && dw->persisted_active) ||
                    (r->persist_to != 1 && dw->persisted >= persist_replicas(r->persist_to));
    return persisted && dw->replicated >= r->replicate_to;
}

static void dur_free_if_done(durwait *dw)
{
    if (!dw->op && !dw->outstanding) dv_free(dw);
}

static void dur_detach(dv_op *op)
{
    durwait *dw = op->dw;
    op->dw = NULL;
    dw->op = NULL;
    dv_res_free(dw->res);
    dw->res = NULL;
    dur_free_if_done(dw);
}

static void dur_round(durwait *dw, uint64_t delay_ns);

/* After an answer or a round: complete the mutation if it is durable, else poll again once
 * every answer of the round is in. */
static void dur_settle(durwait *dw)
{
    if (dur_met(dw)) {
        dv_op *op = dw->op;
        dv_res *done = dw->res;
        dw->res = NULL;
        op->dw = NULL;
        dw->op = NULL;
        op_complete(dw->e, op, DV_ERR_OK, done, "");
        dv_res_free(done);
        dur_free_if_done(dw);
    } else if (dw->left == 0) {
        dur_round(dw, DUR_POLL_NS);
    }
}

static void dur_answer(durwait *dw, const dv_res *res, int active)
{
    dw->outstanding--;
    if (!dw->op) {
        dur_free_if_done(dw);
        return;
    }
    dw->left--;
    if (res->err == DV_ERR_OK) {
        int persisted = res->persisted_seqno >= dw->seqno;
        dw->persisted += persisted ? 1u : 0u;
        dw->replicated += (!active && res->current_seqno >= dw->seqno) ? 1u : 0u;
        dw->persisted_active |= active && persisted;
    }
    if (!dw->in_round) dur_settle(dw);
}

static void dur_active(void *ud, const dv_res *res)
{
    dur_answer(ud, res, 1);
}

static void dur_replica(void *ud, const dv_res *res)
{
    dur_answer(ud, res, 0);
}

/* One OBSERVE_SEQNO of the mutation's vbucket on copy index (0: the active). */
static void dur_observe(durwait *dw, uint8_t index, uint64_t delay_ns)
{
    const dv_req *m = &dw->op->req;
    dv_req q = {.kind = DV_KV_OBSERVE_SEQNO,
                .bucket = m->bucket,
                .scope = m->scope,
                .collection = m->collection,
                .key = m->key,
                .key_len = m->key_len,
                .replica_index = index,
                .vbucket_uuid = dw->uuid};
    dv_op *op = NULL;
    char msg[128];
    dv_res failed = {.err = DV_ERR_NO_MEMORY};
    dw->outstanding++;
    if (dv_op_new(&q, &op, msg, sizeof msg) != DV_ERR_OK ||
        op_start(dw->e, op, index ? dur_replica : dur_active, dw, delay_ns, NULL) != DV_ERR_OK)
        dur_answer(dw, &failed, index == 0); /* counts as an answer that says nothing */
}

/* A round of observes, after delay_ns. */
static void dur_round(durwait *dw, uint64_t delay_ns)
{
    const dv_req *r = &dw->op->req;
    dw->persisted = dw->replicated = 0;
    dw->persisted_active = 0;
    dw->left = (r->persist_to ? 1u : 0u) + dw->replicas;
    dw->in_round = 1;
    if (r->persist_to) dur_observe(dw, 0, delay_ns);
    for (unsigned i = 1; i <= dw->replicas; i++) dur_observe(dw, (uint8_t)i, delay_ns);
    dw->in_round = 0;
    if (dw->left == 0 || dur_met(dw)) dur_settle(dw);
}

/* The mutation op succeeded with res: wait for its durability (or fail it as impossible). */
static void dur_start(dv_engine *e, dv_op *op, const dv_res *res)
{
    bucket *b = eng_bucket(e, op->req.bucket, 0);
    unsigned replicas = b && b->cfg ? b->cfg->num_replicas : 0;
    const dv_req *r = &op->req;
    if (dur_touches_replica(r) &&
        (persist_replicas(r->persist_to) > replicas || r->replicate_to > replicas)) {
        op_complete(e, op, DV_ERR_DURABILITY_IMPOSSIBLE, NULL,
                    "more replicas asked for than the bucket has");
        return;
    }
    durwait *dw = dv_calloc(1, sizeof *dw);
    dv_error_context ctx = {
        .status = 0xffff, .bucket = "", .node = "", .retry_reasons = "", .message = ""};
    dv_res keep = *res;
    keep.ctx = &ctx; /* op_complete gives the real one */
    dv_res *copy = dw ? dv_res_dup(&keep) : NULL;
    if (!copy) {
        dv_free(dw);
        op_complete(e, op, DV_ERR_NO_MEMORY, NULL, "");
        return;
    }
    dw->e = e;
    dw->op = op;
    dw->res = copy;
    dw->seqno = res->token.sequence_number;
    dw->uuid = res->token.partition_uuid;
    dw->replicas = dur_touches_replica(r) ? replicas : 0;
    op->dw = dw;
    op->deadline_ns = eng_now(e) + DUR_DEADLINE_NS;
    eng_arm(e, op->deadline_ns);
    dur_round(dw, 0);
}

dv_error dv_engine_submit(dv_engine *e, const dv_req *req, dv_res_cb cb, void *ud, uint64_t *id)
{
    if (!req || !cb || !req->bucket || !*req->bucket) return DV_ERR_INVALID_ARGUMENT;
    if (e->closing) return DV_ERR_REQUEST_CANCELED;
    dv_op *op = NULL;
    char msg[128];
    dv_error rc = dv_op_new(req, &op, msg, sizeof msg);
    if (rc != DV_ERR_OK) return rc;
    eng_enter(e);
    rc = op_start(e, op, cb, ud, 0, id);
    eng_leave(e);
    return rc;
}

int dv_engine_cancel(dv_engine *e, uint64_t id)
{
    dv_op *found = NULL;
    for (dv_op *op = e->pending.head; op && !found; op = op->next)
        if (op->id == id) found = op;
    for (batch *bt = e->batches; bt && !found; bt = bt->up)
        for (dv_op *op = bt->l.head; op; op = op->next)
            if (op->id == id) {
                list_unlink(&bt->l, op);
                list_push(&e->pending, op);
                found = op;
                break;
            }
    eng_enter(e);
    int rc = 0;
    if (found)
        op_complete(e, found, DV_ERR_REQUEST_CANCELED, NULL, "");
    else
        rc = http_cancel(e, id);
    eng_leave(e);
    return rc;
}

size_t dv_engine_pending(const dv_engine *e)
{
    size_t n = e->pending.n;
    for (const batch *bt = e->batches; bt; bt = bt->up) n += bt->l.n;
    for (const hreq *h = e->hreqs; h; h = h->next) n++;
    return n;
}

dv_error dv_engine_set_credentials(dv_engine *e, const char *username, const char *password)
{
    if (!username || !*username) return DV_ERR_INVALID_ARGUMENT;
    char *user = dv_strdup(username), *pass = dv_strdup(password ? password : "");
    if (!user || !pass) {
        dv_free(user);
        dv_free(pass);
        return DV_ERR_NO_MEMORY;
    }
    dv_free(e->user);
    dv_free(e->pass);
    e->user = user;
    e->pass = pass;
    return DV_ERR_OK;
}

dv_error dv_engine_connect(dv_engine *e, dv_res_cb cb, void *ud)
{
    if (!cb) return DV_ERR_INVALID_ARGUMENT;
    if (e->closing) return DV_ERR_REQUEST_CANCELED;
    eng_enter(e);
    dv_error rc = open_bucket(e, "", cb, ud); /* the bucket "" is the cluster connection */
    eng_leave(e);
    return rc;
}

dv_error dv_engine_ping(dv_engine *e, const char *bname, dv_res_cb cb, void *ud)
{
    if (!cb || (bname && !*bname)) return DV_ERR_INVALID_ARGUMENT;
    if (e->closing) return DV_ERR_REQUEST_CANCELED;
    bucket *b = eng_bucket(e, bname ? bname : "", 0);
    size_t n = 0;
    for (size_t i = 0; b && i < b->nslots; i++)
        if (b->slots[i].host) n++;
    ping *p = dv_calloc(1, sizeof *p);
    if (!p) return DV_ERR_NO_MEMORY;
    size_t cap = n ? n : 1;
    p->ep = dv_calloc(cap, sizeof *p->ep);
    p->conn = dv_calloc(cap, sizeof *p->conn);
    p->opaque = dv_calloc(cap, sizeof *p->opaque);
    p->done = dv_calloc(cap, sizeof *p->done);
    p->bucket = bname ? dv_strdup(bname) : NULL;
    if (!p->ep || !p->conn || !p->opaque || !p->done || (bname && !p->bucket)) {
        ping_free(p);
        return DV_ERR_NO_MEMORY;
    }
    eng_enter(e);
    p->cb = cb;
    p->ud = ud;
    p->sent_at = eng_now(e);
    p->deadline = p->sent_at + e->kv_timeout_ns;
    for (size_t i = 0; b && i < b->nslots; i++) {
        slot *s = &b->slots[i];
        if (!s->host) continue;
        size_t k = p->n++;
        p->left++;
        dv_endpoint *ep = &p->ep[k];
        ep->remote = slot_name(s);
        ep->bucket = p->bucket;
        ep->state = conn_ep_state(s->c);
        ep->id = s->c ? s->c->id : 0;
        if (s->c) memcpy(ep->local, s->c->local, sizeof ep->local);
        if (!ep->remote) {
            ping_settle(p, k, DV_ERR_NO_MEMORY, 0);
        } else if (ep->state != DV_ENDPOINT_CONNECTED) {
            ping_settle(p, k, DV_ERR_SERVICE_NOT_AVAILABLE, 0);
        } else if (conn_send_ctl(e, s->c, CTL_PING, DV_OP_NOOP, NULL, 0, NULL, 0, &p->opaque[k])) {
            ping_settle(p, k, DV_ERR_NO_MEMORY, 0);
        } else {
            p->conn[k] = s->c->id;
        }
    }
    p->next = e->pings;
    e->pings = p;
    if (p->left) eng_arm(e, p->deadline);
    eng_leave(e); /* calls back now if nothing was sent */
    return DV_ERR_OK;
}

dv_error dv_engine_diagnostics(dv_engine *e, dv_res_cb cb, void *ud)
{
    if (!cb) return DV_ERR_INVALID_ARGUMENT;
    size_t n = 0;
    for (bucket *b = e->buckets; b; b = b->next) {
        for (size_t i = 0; i < b->nslots; i++)
            if (b->slots[i].host) n++;
        if (b->boot && !b->boot->http) n++;
    }
    size_t nhttp = http_endpoint_count(e);
    dv_endpoint *ep = dv_calloc(n + nhttp ? n + nhttp : 1, sizeof *ep);
    if (!ep) return DV_ERR_NO_MEMORY;
    uint64_t now = eng_now(e);
    size_t k = 0;
    dv_error rc = DV_ERR_OK;
    for (bucket *b = e->buckets; b; b = b->next) {
        for (size_t i = 0; i <= b->nslots; i++) {
            const conn *c;
            char *name;
            if (i < b->nslots) {
                if (!b->slots[i].host) continue;
                c = b->slots[i].c;
                name = slot_name(&b->slots[i]);
            } else {
                if (!b->boot || b->boot->http) continue;
                c = b->boot;
                name = dv_strdup(c->name);
            }
            if (!name) rc = DV_ERR_NO_MEMORY;
            ep[k].remote = name ? name : "";
            ep[k].bucket = b->cluster ? NULL : b->name;
            ep[k].id = c ? c->id : 0;
            ep[k].state = conn_ep_state(c);
            if (c) memcpy(ep[k].local, c->local, sizeof ep[k].local);
            if (c && c->last_activity && now >= c->last_activity)
                ep[k].last_activity_us = (now - c->last_activity) / 1000;
            k++;
        }
    }
    size_t kv = k;
    k += http_endpoints(e, ep + k, nhttp);
    if (rc == DV_ERR_OK) {
        eng_enter(e);
        dv_error_context ctx = {
            .status = 0xffff, .bucket = "", .node = "", .retry_reasons = "", .message = ""};
        dv_res res = {.err = DV_ERR_OK, .ctx = &ctx, .endpoints = ep, .nendpoints = k};
        cb(ud, &res);
        eng_leave(e);
    }
    for (size_t i = 0; i < kv; i++)
        if (*ep[i].remote) dv_free((char *)ep[i].remote);
    dv_free(ep);
    return rc;
}
