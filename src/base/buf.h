/* A growable byte buffer with a read offset: bytes are appended at the end and consumed from
 * the front. Memory comes from the allocator hooks. */
#ifndef DV_BASE_BUF_H
#define DV_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct dv_buf {
    uint8_t *data;
    size_t off; /* first unconsumed byte */
    size_t len; /* end of valid bytes */
    size_t cap;
} dv_buf;

#define DV_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

void dv_buf_init(dv_buf *b);
void dv_buf_free(dv_buf *b);
/* Unconsumed bytes and their count. */
static inline const uint8_t *dv_buf_head(const dv_buf *b)
{
    return b->data ? b->data + b->off : NULL;
}
static inline size_t dv_buf_size(const dv_buf *b)
{
    return b->len - b->off;
}
/* Ensure room for n more bytes; moves unconsumed bytes to the front when that suffices.
 * Returns a pointer to the free space, or NULL on allocation failure (buffer unchanged). */
uint8_t *dv_buf_reserve(dv_buf *b, size_t n);
/* Mark n bytes written into reserved space as valid. */
static inline void dv_buf_commit(dv_buf *b, size_t n)
{
    b->len += n;
}
/* 0 on success, -1 on allocation failure. */
int dv_buf_append(dv_buf *b, const void *p, size_t n);
int dv_buf_append_u8(dv_buf *b, uint8_t v);
int dv_buf_append_be16(dv_buf *b, uint16_t v);
int dv_buf_append_be32(dv_buf *b, uint32_t v);
int dv_buf_append_be64(dv_buf *b, uint64_t v);
int dv_buf_printf(dv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop n bytes from the front (n <= size). */
void dv_buf_consume(dv_buf *b, size_t n);
/* Forget all content, keep the memory. */
static inline void dv_buf_reset(dv_buf *b)
{
    b->off = b->len = 0;
}

#endif
