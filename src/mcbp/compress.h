/* Snappy values (kv-protocol.md §12): raw block format, value only (never extras or key). */
#ifndef DV_MCBP_COMPRESS_H
#define DV_MCBP_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* The official core's rule: compress only values longer than 32 bytes, and send the result
 * only if compressed / original < 0.83. */
#define DV_SNAPPY_MIN_SIZE 32

/* Compress v[0..n) into b if worth it: returns 1 (compressed bytes appended to b, SNAPPY bit
 * set in *datatype), 0 (not worth it: b and *datatype unchanged) or DV_MCBP_ENOMEM. */
int dv_snappy_compress(const uint8_t *v, size_t n, dv_buf *b, uint8_t *datatype);

/* Inflate a value whose datatype has the SNAPPY bit: appends the uncompressed bytes to b and
 * clears the bit in *datatype. DV_MCBP_ETOOBIG when the uncompressed length exceeds max_len
 * (checked from the header, before inflating), DV_MCBP_ECORRUPT for invalid input,
 * DV_MCBP_ENOMEM; b and *datatype unchanged on failure. */
int dv_snappy_decompress(const uint8_t *v, size_t n, size_t max_len, dv_buf *b, uint8_t *datatype);

#endif
