/* Base64 (RFC 4648, standard alphabet), one implementation for every layer: SCRAM messages,
 * HTTP basic auth, range-scan terms, SQL++'s BASE64 functions. */
#ifndef DV_BASE_BASE64_H
#define DV_BASE_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Padded base64 of len bytes, appended to out. 0, or -1 on allocation failure. */
int dv_base64_encode(dv_buf *out, const void *in, size_t len);

/* Upper bound of the decoded size of len base64 characters. */
static inline size_t dv_base64_decoded_max(size_t len)
{
    return (len + 3) / 4 * 3;
}

enum {
    DV_BASE64_STRICT = 0, /* length a multiple of 4, '=' only as final padding, unused bits 0 */
    DV_BASE64_LOOSE = 1,  /* the final padding optional, unused bits ignored */
};

/* Decode len characters into out (cap bytes; dv_base64_decoded_max(len) always suffices).
 * 0 and *out_len, or -1: a character outside the alphabet, a misplaced '=', a dangling sextet,
 * out too small, or (DV_BASE64_STRICT) a non-canonical encoding. */
int dv_base64_decode(const char *in, size_t len, int mode, uint8_t *out, size_t cap,
                     size_t *out_len);

#endif
