/* dv_kvscan: a collection's range scan over every vbucket; see include/divan/scan.h.
 *
 * The vbuckets are read in order, through a window of 2 x `concurrency` streams from the head:
 * at most `concurrency` of them hold a scan on the server (creating or open); the others are
 * drained (the server's scan is complete) and wait to be read, so that the next vbucket's create
 * overlaps the reading of the last batches of the previous ones. A stream: created (its scan
 * id), then continued batch by batch into `fill` while the reader reads `cur`; a complete batch
 * waits in fill until cur is read out, then they swap. So at most 4 x `concurrency` batches are
 * held.
 * Every change happens under the scan's lock (recursive: with the engine, a submit or a cancel
 * may call back before it returns); pump() issues what the window needs, once at a time. */
#include "divan/scan.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/errmsg.h"
#include "mcbp/rscan.h"

#define DEFAULT_ITEM_LIMIT 50u
#define DEFAULT_BYTE_LIMIT 15000u

typedef enum sstate {
    S_NEW,      /* nothing sent */
    S_CREATING, /* create in flight */
    S_OPEN,     /* the server holds the scan (id), more to read */
    S_DRAINED,  /* the server has nothing more (complete, or empty) */
} sstate;

typedef enum fstate {
    F_EMPTY,   /* no continue in flight, fill holds nothing */
    F_FILLING, /* a continue in flight, its frames append to fill */
    F_READY,   /* fill holds a whole batch */
} fstate;

typedef struct stream {
    uint16_t vb;
    sstate st;
    fstate fs;
    uint8_t id[DV_RSCAN_ID_LEN];
    uint64_t op; /* the operation in flight (create or continue), if any */
    int op_live;
    dv_buf cur, fill;
    int cur_keys, fill_keys; /* records of cur / fill are keys only */
    struct dv_kvscan *s;
} stream;

struct dv_kvscan {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    dv_kvscan_io io;
    char *bucket, *scope, *collection;
    dv_scan_req spec;
    uint8_t *terms; /* start then end */
    dv_token *tokens;
    size_t ntokens;
    unsigned conc; /* server scans at a time */
    unsigned nwin; /* streams in the window: 2 x conc */
    uint64_t timeout_ms;
    uint32_t nvb;  /* 0 until a reply says */
    uint32_t head; /* the vbucket being read */
    stream *win;   /* nwin streams: vbucket v is win[v % nwin] while head <= v < head + nwin */
    uint64_t yielded;
    int ended; /* 1: complete, failed or cancelled; err says which */
    dv_error err;
    char msg[256];
    size_t ops;    /* operations in flight (creates, continues, cancels) */
    int abandoned; /* dv_kvscan_free was called: destroy once ops is 0 */
    int in_free;
    int pumping, again;
};

static void lock(dv_kvscan *s)
{
    pthread_mutex_lock(&s->mu);
}

static void unlock(dv_kvscan *s)
{
    pthread_mutex_unlock(&s->mu);
}

static void destroy(dv_kvscan *s)
{
    for (unsigned i = 0; s->win && i < s->nwin; i++) {
        dv_buf_free(&s->win[i].cur);
        dv_buf_free(&s->win[i].fill);
    }
    dv_free(s->win);
    dv_free(s->bucket);
    dv_free(s->scope);
    dv_free(s->collection);
    dv_free(s->terms);
    dv_free(s->tokens);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    dv_free(s);
}

/* Tell the reader. */
static void wake(dv_kvscan *s)
{
    pthread_cond_broadcast(&s->cv);
    if (s->io.ready && !s->abandoned) s->io.ready(s->io.ready_ud);
}

static void base_req(dv_kvscan *s, dv_req *q, dv_op_kind kind, uint16_t vb, const dv_scan_req *sc)
{
    memset(q, 0, sizeof *q);
    q->kind = kind;
    q->bucket = s->bucket;
    q->scope = s->scope;
    q->collection = s->collection;
    q->vbucket = vb;
    q->scan = sc;
    q->timeout_ms = s->timeout_ms;
}

static void cancel_done(void *ud, const dv_res *res);

/* Release the server's scan of st (fire and forget). */
static void send_cancel(dv_kvscan *s, stream *st)
{
    dv_scan_req sc;
    memset(&sc, 0, sizeof sc);
    memcpy(sc.id, st->id, DV_RSCAN_ID_LEN);
    dv_req q;
    base_req(s, &q, DV_KV_RANGE_SCAN_CANCEL, st->vb, &sc);
    uint64_t id;
    s->ops++;
    if (s->io.submit(s->io.ud, &q, cancel_done, s, &id) != DV_ERR_OK) s->ops--;
}

/* End the scan with err (OK: complete); what is still open is cancelled. */
static void finish(dv_kvscan *s, dv_error err, const char *msg)
{
    if (s->ended) return;
    s->ended = 1;
    s->err = err;
    snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : "");
    for (unsigned i = 0; i < s->nwin; i++) {
        stream *st = &s->win[i];
        /* A continue is cancelled (the server's scan then is, below); a create is let
         * complete: it may be on the wire already, and its scan is cancelled once it has an
         * id (create_done). */
        if (st->op_live && st->st != S_CREATING && s->io.cancel) {
            uint64_t id = st->op;
            s->io.cancel(s->io.ud, id); /* its callback runs now (the engine) or later */
        }
    }
    for (unsigned i = 0; i < s->nwin; i++) {
        stream *st = &s->win[i];
        if (st->st == S_OPEN) send_cancel(s, st);
        st->st = st->st == S_CREATING ? S_CREATING : S_DRAINED;
    }
    wake(s);
}

static void maybe_destroy(dv_kvscan *s)
{
    if (s->abandoned && !s->in_free && s->ops == 0) {
        destroy(s);
        return;
    }
    unlock(s);
}

static void cancel_done(void *ud, const dv_res *res)
{
    (void)res;
    dv_kvscan *s = ud;
    lock(s);
    s->ops--;
    maybe_destroy(s);
}

static const char *res_msg(const dv_res *res, char *buf, size_t n)
{
    const dv_error_context *c = res->ctx;
    if (!c) return "";
    snprintf(buf, n, "vbucket scan failed (status 0x%02x, node %s%s%s)", c->status,
             c->node ? c->node : "", c->message && *c->message ? ": " : "",
             c->message ? c->message : "");
    return buf;
}

static void pump(dv_kvscan *s);
static void place(dv_kvscan *s);

static void create_done(void *ud, const dv_res *res)
{
    stream *st = ud;
    dv_kvscan *s = st->s;
    lock(s);
    s->ops--;
    st->op_live = 0;
    if (res->nvbuckets && !s->nvb) s->nvb = res->nvbuckets;
    if (s->ended) {
        st->st = S_DRAINED;
        if (res->err == DV_ERR_OK) { /* created after the end: release it */
            memcpy(st->id, res->value, DV_RSCAN_ID_LEN);
            send_cancel(s, st);
        }
    } else if (st->st == S_CREATING) {
        if (res->err == DV_ERR_OK) {
            memcpy(st->id, res->value, DV_RSCAN_ID_LEN);
            st->st = S_OPEN;
        } else if (res->err == DV_ERR_DOCUMENT_NOT_FOUND) {
            st->st = S_DRAINED; /* nothing in range on this vbucket */
        } else {
            char m[256];
            finish(s, res->err, res_msg(res, m, sizeof m));
        }
        pump(s);
        wake(s);
    }
    maybe_destroy(s);
}

static void continue_done(void *ud, const dv_res *res)
{
    stream *st = ud;
    dv_kvscan *s = st->s;
    lock(s);
    if (!res->partial) {
        s->ops--;
        st->op_live = 0;
    }
    if (!s->ended && st->fs == F_FILLING) {
        if (res->err != DV_ERR_OK) {
            char m[256];
            finish(s, res->err, res_msg(res, m, sizeof m));
        } else {
            st->fill_keys = res->flags == 0;
            if (res->value_len && dv_buf_append(&st->fill, res->value, res->value_len)) {
                finish(s, DV_ERR_NO_MEMORY, "out of memory");
            } else if (!res->partial) {
                st->fs = F_READY;
                if (!res->scan_more) st->st = S_DRAINED;
                wake(s);
            }
        }
    }
    maybe_destroy(s);
}

/* The snapshot requirement of vbucket vb, if a token names it. */
static const dv_token *token_of(dv_kvscan *s, uint16_t vb)
{
    const dv_token *best = NULL;
    for (size_t i = 0; i < s->ntokens; i++)
        if (s->tokens[i].partition_id == vb &&
            (!best || s->tokens[i].sequence_number > best->sequence_number))
            best = &s->tokens[i];
    return best;
}

static void start_create(dv_kvscan *s, stream *st)
{
    dv_scan_req sc = s->spec;
    const dv_token *t = token_of(s, st->vb);
    if (t) {
        sc.has_snapshot = 1;
        sc.vb_uuid = t->partition_uuid;
        sc.seqno = t->sequence_number;
    }
    dv_req q;
    base_req(s, &q, DV_KV_RANGE_SCAN_CREATE, st->vb, &sc);
    st->st = S_CREATING;
    st->op_live = 1;
    s->ops++;
    dv_error rc = s->io.submit(s->io.ud, &q, create_done, st, &st->op);
    if (rc != DV_ERR_OK) {
        s->ops--;
        st->op_live = 0;
        finish(s, rc, "could not submit a range-scan create");
    }
}

static void start_continue(dv_kvscan *s, stream *st)
{
    dv_scan_req sc;
    memset(&sc, 0, sizeof sc);
    memcpy(sc.id, st->id, DV_RSCAN_ID_LEN);
    sc.item_limit = s->spec.item_limit;
    sc.byte_limit = s->spec.byte_limit;
    sc.time_limit_ms = s->spec.time_limit_ms;
    dv_req q;
    base_req(s, &q, DV_KV_RANGE_SCAN_CONTINUE, st->vb, &sc);
    dv_buf_reset(&st->fill);
    st->fs = F_FILLING;
    st->op_live = 1;
    s->ops++;
    dv_error rc = s->io.submit(s->io.ud, &q, continue_done, st, &st->op);
    if (rc != DV_ERR_OK) {
        s->ops--;
        st->op_live = 0;
        st->fs = F_EMPTY;
        finish(s, rc, "could not submit a range-scan continue");
    }
}

static uint32_t known_vbuckets(const dv_kvscan *s)
{
    return s->nvb ? s->nvb : 1; /* only vbucket 0 until a reply tells how many */
}

/* Issue what the window needs: creates for its new streams, a continue for each open stream
 * whose fill is empty. */
static void pump(dv_kvscan *s)
{
    if (s->pumping) {
        s->again = 1;
        return;
    }
    s->pumping = 1;
    do {
        s->again = 0;
        place(s);
        uint32_t n = known_vbuckets(s);
        unsigned active = 0; /* streams holding a scan on the server */
        for (unsigned i = 0; i < s->nwin; i++)
            active += s->win[i].st == S_CREATING || s->win[i].st == S_OPEN;
        int creates = 1; /* in vbucket order: none past the first that has to wait */
        for (uint32_t v = s->head; !s->ended && v < n && v < s->head + s->nwin; v++) {
            stream *st = &s->win[v % s->nwin];
            if (st->vb != v) continue; /* not placed yet (see place) */
            if (st->st == S_NEW) {
                if (!creates || active >= s->conc) {
                    creates = 0;
                    continue;
                }
                active++;
                start_create(s, st);
            } else if (st->st == S_OPEN && st->fs == F_EMPTY && !st->op_live) {
                start_continue(s, st);
            }
        }
    } while (s->again && !s->ended);
    s->pumping = 0;
}

static void stream_reset(stream *st, uint16_t vb)
{
    st->vb = vb;
    st->st = S_NEW;
    st->fs = F_EMPTY;
    st->op_live = 0;
    dv_buf_reset(&st->cur);
    dv_buf_reset(&st->fill);
}

/* Place every vbucket of the window in its slot (after head moved or nvb became known). */
static void place(dv_kvscan *s)
{
    uint32_t n = known_vbuckets(s);
    for (uint32_t v = s->head; v < n && v < s->head + s->nwin; v++) {
        stream *st = &s->win[v % s->nwin];
        if (st->vb != v && !st->op_live) stream_reset(st, (uint16_t)v);
    }
}

/* One record of st->cur into it; 0 or -1 (bad bytes). */
static int take_record(dv_kvscan *s, stream *st, dv_kvscan_item *it)
{
    const uint8_t *p = dv_buf_head(&st->cur);
    size_t n = dv_buf_size(&st->cur);
    memset(it, 0, sizeof *it);
    it->vbucket = st->vb;
    long used;
    if (st->cur_keys) {
        const uint8_t *k;
        size_t nk;
        used = dv_rscan_get_key(p, n, &k, &nk);
        it->key = k;
        it->key_len = nk;
        it->ids_only = 1;
    } else {
        dv_rscan_doc d;
        used = dv_rscan_get_doc(p, n, &d);
        it->key = d.key;
        it->key_len = d.nkey;
        it->flags = d.flags;
        it->expiry = d.expiry;
        it->seqno = d.seqno;
        it->cas = d.cas;
        it->datatype = d.datatype;
        it->value = d.value;
        it->value_len = d.nvalue;
    }
    (void)s;
    if (used <= 0) return -1;
    dv_buf_consume(&st->cur, (size_t)used);
    return 0;
}

int dv_kvscan_next(dv_kvscan *s, dv_kvscan_item *it, int wait, dv_error *err, char *msg,
                   size_t msglen)
{
    lock(s);
    for (;;) {
        if (!s->ended && s->spec.sampling && s->yielded >= s->spec.samples)
            finish(s, DV_ERR_OK, "");
        if (!s->ended && s->nvb && s->head >= s->nvb) finish(s, DV_ERR_OK, "");
        if (s->ended) {
            if (err) *err = s->err;
            if (msg && msglen) snprintf(msg, msglen, "%s", s->msg);
            unlock(s);
            return -1;
        }
        place(s);
        stream *st = &s->win[s->head % s->nwin];
        if (dv_buf_size(&st->cur)) {
            if (take_record(s, st, it) == 0) {
                s->yielded++;
                unlock(s);
                return 1;
            }
            finish(s, DV_ERR_PROTOCOL_ERROR, "a range-scan record is malformed");
            continue;
        }
        if (st->fs == F_READY) {
            dv_buf t = st->cur;
            st->cur = st->fill;
            st->fill = t;
            dv_buf_reset(&st->fill);
            st->cur_keys = st->fill_keys;
            st->fs = F_EMPTY;
            pump(s);
            continue;
        }
        if (st->st == S_DRAINED && st->fs == F_EMPTY && !st->op_live) {
            s->head++;
            place(s);
            pump(s);
            continue;
        }
        pump(s);
        if (s->ended) continue; /* a submit failed at once */
        if (!wait) {
            unlock(s);
            return 0;
        }
        pthread_cond_wait(&s->cv, &s->mu);
    }
}

void dv_kvscan_cancel(dv_kvscan *s)
{
    lock(s);
    finish(s, DV_ERR_REQUEST_CANCELED, "the scan was cancelled");
    unlock(s);
}

void dv_kvscan_free(dv_kvscan *s)
{
    if (!s) return;
    lock(s);
    s->in_free = 1;
    finish(s, DV_ERR_REQUEST_CANCELED, "the scan was cancelled");
    s->abandoned = 1;
    s->in_free = 0;
    maybe_destroy(s);
}

size_t dv_kvscan_inflight(dv_kvscan *s)
{
    lock(s);
    size_t n = s->ops;
    unlock(s);
    return n;
}

static char *dup_or_null(const char *p, int *bad)
{
    if (!p) return NULL;
    char *d = dv_strdup(p);
    if (!d) *bad = 1;
    return d;
}

dv_error dv_kvscan_new(const dv_kvscan_opts *o, const dv_kvscan_io *io, dv_kvscan **out, char *err,
                       size_t errlen)
{
    *out = NULL;
    if (!o || !io || !io->submit || !o->bucket || !*o->bucket)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "scan: no bucket or submit hook");
    const dv_scan_req *sp = &o->spec;
    if (sp->sampling && !sp->samples)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "scan: a sampling scan needs a limit above 0");
    if (!sp->sampling && (!sp->start || !sp->end || !sp->start_len || !sp->end_len ||
                          sp->start_len > DV_SCAN_TERM_MAX || sp->end_len > DV_SCAN_TERM_MAX))
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "scan: range terms must be 1 to %d bytes", DV_SCAN_TERM_MAX);
    dv_kvscan *s = dv_calloc(1, sizeof *s);
    if (!s) return dv_errmsg(err, errlen, DV_ERR_NO_MEMORY, "out of memory");
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->mu, &a);
    pthread_mutexattr_destroy(&a);
    pthread_cond_init(&s->cv, NULL);
    s->io = *io;
    s->spec = *sp;
    s->spec.has_snapshot = 0;
    if (!s->spec.item_limit) s->spec.item_limit = DEFAULT_ITEM_LIMIT;
    if (!s->spec.byte_limit) s->spec.byte_limit = DEFAULT_BYTE_LIMIT;
    s->conc = o->concurrency ? o->concurrency : 1;
    if (s->conc > 1024) s->conc = 1024;
    s->nwin = 2 * s->conc;
    s->timeout_ms = o->timeout_ms;
    int bad = 0;
    s->bucket = dup_or_null(o->bucket, &bad);
    s->scope = dup_or_null(o->scope, &bad);
    s->collection = dup_or_null(o->collection, &bad);
    s->win = dv_calloc(s->nwin, sizeof *s->win);
    if (!s->win) bad = 1;
    if (!sp->sampling && !bad) {
        s->terms = dv_malloc(sp->start_len + sp->end_len);
        if (s->terms) {
            memcpy(s->terms, sp->start, sp->start_len);
            memcpy(s->terms + sp->start_len, sp->end, sp->end_len);
            s->spec.start = s->terms;
            s->spec.end = s->terms + sp->start_len;
        } else {
            bad = 1;
        }
    }
    if (o->ntokens && !bad) {
        s->tokens = dv_malloc(o->ntokens * sizeof *s->tokens);
        if (s->tokens) {
            for (size_t i = 0; i < o->ntokens; i++) {
                const dv_token *t = &o->tokens[i];
                if (t->bucket_name && strcmp(t->bucket_name, o->bucket) != 0) continue;
                s->tokens[s->ntokens] = *t;
                s->tokens[s->ntokens++].bucket_name = NULL;
            }
        } else {
            bad = 1;
        }
    }
    if (bad) {
        if (s->win)
            for (unsigned i = 0; i < s->nwin; i++) s->win[i].s = s;
        pthread_mutex_lock(&s->mu);
        destroy(s);
        return dv_errmsg(err, errlen, DV_ERR_NO_MEMORY, "out of memory");
    }
    for (unsigned i = 0; i < s->nwin; i++) {
        s->win[i].s = s;
        s->win[i].vb = UINT16_MAX; /* no vbucket placed */
        s->win[i].st = S_DRAINED;
    }
    lock(s);
    place(s);
    pump(s);
    dv_error rc = s->ended ? s->err : DV_ERR_OK;
    if (rc != DV_ERR_OK) {
        dv_errmsg(err, errlen, rc, "%s", s->msg);
        s->abandoned = 1;
        maybe_destroy(s);
        return rc;
    }
    unlock(s);
    *out = s;
    return DV_ERR_OK;
}
