/* The rows of a query response as they arrive: a byte-at-a-time splitter of the response body
 * (query-service.md §3) that hands each element of the top-level object's "results" array to a
 * callback as soon as it is complete, and keeps every other byte (the body with "results": []).
 *
 * It tracks strings, escapes and nesting only; it does not validate the JSON (the rows and the
 * rest are parsed by whoever receives them, which reports malformed ones). A body that is not
 * an object, or has no "results" array, passes through whole. Bounded: the rest of the body at
 * DV_ROWSPLIT_MAX_META bytes, one row at DV_ROWSPLIT_MAX_ROW; over a bound is an error. */
#ifndef DV_CLIENT_ROWSPLIT_H
#define DV_CLIENT_ROWSPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define DV_ROWSPLIT_MAX_META (16u * 1024 * 1024)
#define DV_ROWSPLIT_MAX_ROW  (64u * 1024 * 1024)

typedef struct dv_rowsplit {
    int state;      /* private: where in the body */
    int depth;      /* nesting of objects and arrays */
    int in_str;     /* inside a string */
    int esc;        /* after a backslash in a string */
    char key[8];    /* the top-level key being read ("results" fits) */
    size_t key_len; /* its length so far; over sizeof key: not "results" */
    uint64_t rows;  /* rows handed out */
    dv_buf meta;    /* the body without the rows */
    dv_buf row;     /* a row that started in an earlier feed */
    int in_row;     /* a row is being read */
} dv_rowsplit;

/* A complete row (its JSON text). Nonzero: stop after this row (dv_rowsplit_feed returns). */
typedef int (*dv_rowsplit_cb)(void *ud, const char *row, size_t len);

void dv_rowsplit_init(dv_rowsplit *s);
void dv_rowsplit_free(dv_rowsplit *s);
/* Take up to n bytes: how many were taken (fewer than n when cb asked to stop: feed the rest
 * later), or -1 over a bound or out of memory. */
long dv_rowsplit_feed(dv_rowsplit *s, const uint8_t *p, size_t n, dv_rowsplit_cb cb, void *ud);
/* The end of the body: 0, or -1 when a row was left incomplete (it is dropped). */
int dv_rowsplit_end(dv_rowsplit *s);

#endif
