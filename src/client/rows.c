/* Streamed query rows (divan/rows.h). The driver appends each row to `in` as a 4-byte length
 * and its bytes; the reader swaps `in` for its drained `out` under the lock and reads `out`
 * without it, so a row it was handed stays put while more arrive. */
#include "divan/rows.h"

#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"

struct dv_rows {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    dv_rows_io io;
    uint64_t id;
    dv_buf in;  /* under mu: rows arrived */
    dv_buf out; /* the reader's: rows handed over, read up to at */
    size_t at;
    int paused;    /* under mu: the rows callback paused the response */
    int told;      /* under mu: the reader was woken for the rows in `in` */
    int done;      /* under mu: the completion came (res) */
    int cancelled; /* the reader gave up on the rows */
    int refs;      /* under mu: the reader's and the request's */
    dv_res *res;   /* the completion, copied */
    dv_res failed; /* when even the copy failed: NO_MEMORY */
};

static void rows_destroy(dv_rows *r)
{
    dv_buf_free(&r->in);
    dv_buf_free(&r->out);
    dv_res_free(r->res);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    dv_free(r);
}

static void unref_locked(dv_rows *r)
{
    int last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last) rows_destroy(r);
}

/* Rows are gathered silently; the reader is woken once per read (row NULL), so that it takes
 * them in one batch instead of chasing the driver row by row. */
static int on_row(void *ud, const char *row, size_t len)
{
    dv_rows *r = ud;
    pthread_mutex_lock(&r->mu);
    if (!row) {
        if (dv_buf_size(&r->in) && !r->told) {
            r->told = 1;
            pthread_cond_broadcast(&r->cv);
            if (r->io.ready) r->io.ready(r->io.ready_ud);
        }
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    uint32_t n = (uint32_t)len;
    if (r->cancelled || len > UINT32_MAX) {
        /* dropped: the reader is gone or the row cannot be framed (rowsplit bounds rows far
         * below that) */
    } else if (dv_buf_append(&r->in, &n, sizeof n) || dv_buf_append(&r->in, row, len)) {
        r->cancelled = 1; /* out of memory: the rows stop; the completion says nothing of it */
    }
    if (dv_buf_size(&r->in) >= DV_ROWS_HIGH_WATER) r->paused = 1;
    int pause = r->paused;
    pthread_mutex_unlock(&r->mu);
    return pause;
}

static void on_done(void *ud, const dv_res *res)
{
    dv_rows *r = ud;
    dv_res *copy = dv_res_dup(res);
    pthread_mutex_lock(&r->mu);
    r->res = copy;
    if (!copy) {
        memset(&r->failed, 0, sizeof r->failed);
        r->failed.err = DV_ERR_NO_MEMORY;
    }
    r->done = 1;
    pthread_cond_broadcast(&r->cv);
    if (r->io.ready) r->io.ready(r->io.ready_ud);
    unref_locked(r);
}

dv_error dv_rows_new(const dv_http_req *req, const dv_rows_io *io, dv_rows **out)
{
    *out = NULL;
    if (!req || !io || !io->http || !io->cancel || !io->resume) return DV_ERR_INVALID_ARGUMENT;
    dv_rows *r = dv_calloc(1, sizeof *r);
    if (!r) return DV_ERR_NO_MEMORY;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    dv_buf_init(&r->in);
    dv_buf_init(&r->out);
    r->io = *io;
    r->refs = 2;
    dv_http_req q = *req;
    q.rows = on_row;
    q.rows_ud = r;
    uint64_t id = 0;
    dv_error rc = io->http(io->ud, &q, on_done, r, &id);
    if (rc != DV_ERR_OK) {
        rows_destroy(r);
        return rc;
    }
    pthread_mutex_lock(&r->mu);
    r->id = id;
    pthread_mutex_unlock(&r->mu);
    *out = r;
    return DV_ERR_OK;
}

/* The next row of out, if any. */
static int take(dv_rows *r, const char **row, size_t *len)
{
    if (r->at >= dv_buf_size(&r->out)) return 0;
    const uint8_t *p = dv_buf_head(&r->out) + r->at;
    uint32_t n;
    memcpy(&n, p, sizeof n);
    *row = (const char *)p + sizeof n;
    *len = n;
    r->at += sizeof n + n;
    return 1;
}

int dv_rows_next(dv_rows *r, const char **row, size_t *len, int wait)
{
    if (!r->cancelled && take(r, row, len)) return 1;
    pthread_mutex_lock(&r->mu);
    while (!r->cancelled && !r->done && !r->told) { /* a read's rows, or the end */
        if (!wait) {
            pthread_mutex_unlock(&r->mu);
            return 0;
        }
        pthread_cond_wait(&r->cv, &r->mu);
    }
    if (r->cancelled && !r->done) {
        if (!wait) {
            pthread_mutex_unlock(&r->mu);
            return 0;
        }
        while (!r->done) pthread_cond_wait(&r->cv, &r->mu);
    }
    if (r->cancelled || dv_buf_size(&r->in) == 0) {
        pthread_mutex_unlock(&r->mu);
        return -1;
    }
    dv_buf spent = r->out; /* drained: its memory takes the next batch */
    r->out = r->in;
    r->in = spent;
    dv_buf_reset(&r->in);
    r->at = 0;
    r->told = 0;
    int resume = r->paused && !r->done;
    r->paused = 0;
    uint64_t id = r->id;
    pthread_mutex_unlock(&r->mu);
    if (resume) r->io.resume(r->io.ud, id);
    return take(r, row, len) ? 1 : -1;
}

const dv_res *dv_rows_result(dv_rows *r)
{
    pthread_mutex_lock(&r->mu);
    const dv_res *res = !r->done ? NULL : r->res ? r->res : &r->failed;
    pthread_mutex_unlock(&r->mu);
    return res;
}

size_t dv_rows_buffered(dv_rows *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = dv_buf_size(&r->in) + dv_buf_size(&r->out);
    pthread_mutex_unlock(&r->mu);
    return n;
}

void dv_rows_cancel(dv_rows *r)
{
    pthread_mutex_lock(&r->mu);
    int pending = !r->done && !r->cancelled;
    r->cancelled = 1;
    dv_buf_free(&r->in);
    dv_buf_init(&r->in);
    uint64_t id = r->id;
    pthread_mutex_unlock(&r->mu);
    dv_buf_free(&r->out);
    dv_buf_init(&r->out);
    r->at = 0;
    if (pending) r->io.cancel(r->io.ud, id);
}

void dv_rows_free(dv_rows *r)
{
    if (!r) return;
    dv_rows_cancel(r);
    pthread_mutex_lock(&r->mu);
    r->io.ready = NULL;
    unref_locked(r);
}
