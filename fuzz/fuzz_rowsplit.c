/* Fuzz the query body splitter (src/client/rowsplit.c). Input: byte 0 picks the piece size
 * and after how many rows the callback pauses; the rest is the body. Whatever the bytes: no
 * crash, no leak, within the bounds, and the same rows and rest as when fed whole. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "client/rowsplit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

typedef struct out {
    dv_buf rows;
    size_t n, pause_every;
} out;

static int on_row(void *ud, const char *row, size_t len)
{
    out *o = ud;
    CHECK(len > 0 && len <= DV_ROWSPLIT_MAX_ROW);
    uint32_t n = (uint32_t)len;
    CHECK(dv_buf_append(&o->rows, &n, sizeof n) == 0 && dv_buf_append(&o->rows, row, len) == 0);
    o->n++;
    return o->pause_every && o->n % o->pause_every == 0;
}

/* 0 fed, -1 over a bound; the rest of the body in meta. */
static int run(const uint8_t *p, size_t n, size_t step, size_t pause_every, out *o, dv_buf *meta)
{
    dv_rowsplit s;
    dv_rowsplit_init(&s);
    dv_buf_init(&o->rows);
    o->n = 0;
    o->pause_every = pause_every;
    int rc = 0;
    size_t off = 0;
    while (off < n && rc == 0) {
        size_t k = step && step < n - off ? step : n - off;
        long r = dv_rowsplit_feed(&s, p + off, k, on_row, o);
        if (r < 0)
            rc = -1;
        else
            off += (size_t)r; /* fewer after a pause: the rest is fed again */
    }
    if (rc == 0) rc = dv_rowsplit_end(&s) < 0 ? 1 : 0;
    CHECK(s.rows == o->n);
    CHECK(dv_buf_size(&s.meta) <= DV_ROWSPLIT_MAX_META);
    dv_buf_init(meta);
    dv_buf_append(meta, dv_buf_head(&s.meta), dv_buf_size(&s.meta));
    dv_rowsplit_free(&s);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = data[0] & 15, pause_every = data[0] >> 4;
    out a, b;
    dv_buf ma, mb;
    int ra = run(data + 1, size - 1, 0, 0, &a, &ma);
    int rb = run(data + 1, size - 1, step, pause_every, &b, &mb);
    CHECK(ra == rb);
    CHECK(a.n == b.n);
    CHECK(dv_buf_size(&a.rows) == dv_buf_size(&b.rows));
    CHECK(dv_buf_size(&a.rows) == 0 ||
          memcmp(dv_buf_head(&a.rows), dv_buf_head(&b.rows), dv_buf_size(&a.rows)) == 0);
    CHECK(dv_buf_size(&ma) == dv_buf_size(&mb));
    CHECK(dv_buf_size(&ma) == 0 ||
          memcmp(dv_buf_head(&ma), dv_buf_head(&mb), dv_buf_size(&ma)) == 0);
    /* Rows and rest together are never more than the body. */
    CHECK(dv_buf_size(&ma) <= size - 1);
    dv_buf_free(&a.rows);
    dv_buf_free(&b.rows);
    dv_buf_free(&ma);
    dv_buf_free(&mb);
    return 0;
}
