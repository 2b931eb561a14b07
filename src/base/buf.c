#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/endian.h"

void dv_buf_init(dv_buf *b)
{
    *b = (dv_buf)DV_BUF_INIT;
}

void dv_buf_free(dv_buf *b)
{
    dv_free(b->data);
    dv_buf_init(b);
}

uint8_t *dv_buf_reserve(dv_buf *b, size_t n)
{
    if (b->cap - b->len >= n) return b->data + b->len;
    size_t used = b->len - b->off;
    if (b->off && b->cap - used >= n && used <= b->off) {
        /* Compact only when it is cheap relative to what was consumed. */
        memmove(b->data, b->data + b->off, used);
        b->off = 0;
        b->len = used;
        return b->data + b->len;
    }
    if (n > SIZE_MAX - used) return NULL;
    size_t need = used + n, cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    /* Grow in place where the allocator can (a large block is remapped, not copied), so
     * that growing a buffer does not hold its old and new copies at once. */
    if (b->off) memmove(b->data, b->data + b->off, used);
    uint8_t *p = dv_realloc(b->data, cap);
    if (!p) {
        b->off = 0;
        b->len = used;
        return NULL;
    }
    b->data = p;
    b->off = 0;
    b->len = used;
    b->cap = cap;
    return p + used;
}

int dv_buf_append(dv_buf *b, const void *p, size_t n)
{
    if (!n) return 0;
    uint8_t *dst = dv_buf_reserve(b, n);
    if (!dst) return -1;
    memcpy(dst, p, n);
    b->len += n;
    return 0;
}

int dv_buf_append_u8(dv_buf *b, uint8_t v)
{
    return dv_buf_append(b, &v, 1);
}

int dv_buf_append_be16(dv_buf *b, uint16_t v)
{
    uint8_t t[2];
    dv_store_be16(t, v);
    return dv_buf_append(b, t, sizeof t);
}

int dv_buf_append_be32(dv_buf *b, uint32_t v)
{
    uint8_t t[4];
    dv_store_be32(t, v);
    return dv_buf_append(b, t, sizeof t);
}

int dv_buf_append_be64(dv_buf *b, uint64_t v)
{
    uint8_t t[8];
    dv_store_be64(t, v);
    return dv_buf_append(b, t, sizeof t);
}

int dv_buf_printf(dv_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    uint8_t *dst = dv_buf_reserve(b, (size_t)n + 1);
    if (!dst) return -1;
    va_start(ap, fmt);
    vsnprintf((char *)dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void dv_buf_consume(dv_buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len) b->off = b->len = 0;
}
