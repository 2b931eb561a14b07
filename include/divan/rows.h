/* libdivan's streamed query rows: one HTTP service request whose response's "results" are read
 * row by row as they arrive (Python's QueryResult iteration, `divan query`), with bounded memory.
 *
 * The rows of the response (dv_http_req.rows) are gathered in a batch; when the batch holds
 * DV_ROWS_HIGH_WATER bytes the response is paused (TCP holds the server back) until the reader
 * takes the batch. At most two batches are held: the one being read and the one arriving.
 *
 * Threads: completions may come on the driver's thread while another reads (the native driver):
 * the stream has its own lock; dv_rows_next can wait for a row (wait = 1) or return 0 at once,
 * the ready hook then saying when to call again (an event loop). */
#ifndef DIVAN_ROWS_H
#define DIVAN_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "divan/client.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DV_ROWS_HIGH_WATER (1024u * 1024)

typedef struct dv_rows dv_rows;

typedef struct dv_rows_io {
    void *ud;
    /* Send req (dv_client_http's or dv_engine_http's shape); *id names it. An error return
     * never calls back. */
    dv_error (*http)(void *ud, const dv_http_req *req, dv_res_cb cb, void *cb_ud, uint64_t *id);
    /* Complete request id now with REQUEST_CANCELED. */
    void (*cancel)(void *ud, uint64_t id);
    /* Read again on the paused request id. */
    void (*resume)(void *ud, uint64_t id);
    /* dv_rows_next has something new to say (a row or the end), called with ready_ud and the
     * stream's lock held: do not call into the stream from it. NULL: nobody is told. Never
     * called once dv_rows_free was. */
    void (*ready)(void *ready_ud);
    void *ready_ud;
} dv_rows_io;

/* Send req (its rows and rows_ud are the stream's own): DV_ERR_OK and *out, or the send's
 * error (then *out is NULL). */
DV_API dv_error dv_rows_new(const dv_http_req *req, const dv_rows_io *io, dv_rows **out);
/* The next row: 1 with *row and *len (valid until the next call); 0 none yet (wait 0 only: call
 * again after io.ready); -1 the response is complete: dv_rows_result says how it ended. */
DV_API int dv_rows_next(dv_rows *r, const char **row, size_t *len, int wait);
/* Once dv_rows_next returned -1: the request's completion (err, http_status, the body without
 * its rows in value, ctx), valid until dv_rows_free. */
DV_API const dv_res *dv_rows_result(dv_rows *r);
/* Stop: the request is cancelled (its connection closed) and the rows not read are dropped;
 * dv_rows_next then ends with REQUEST_CANCELED (unless the response was complete already). */
DV_API void dv_rows_cancel(dv_rows *r);
/* Bytes of rows held (read or not): at most about 2 x DV_ROWS_HIGH_WATER plus one row. */
DV_API size_t dv_rows_buffered(dv_rows *r);
/* Cancel if not ended, then free (the memory goes once the completion has come). */
DV_API void dv_rows_free(dv_rows *r);

#ifdef __cplusplus
}
#endif
#endif
