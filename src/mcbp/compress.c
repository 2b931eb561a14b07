#include "mcbp/compress.h"

#include <snappy-c.h>

#include "mcbp/frame.h"
#include "mcbp/protocol.h"

int dv_snappy_compress(const uint8_t *v, size_t n, dv_buf *b, uint8_t *datatype)
{
    if (n <= DV_SNAPPY_MIN_SIZE) return 0;
    size_t cap = snappy_max_compressed_length(n);
    char *dst = (char *)dv_buf_reserve(b, cap);
    if (!dst) return DV_MCBP_ENOMEM;
    size_t clen = cap;
    if (snappy_compress((const char *)v, n, dst, &clen) != SNAPPY_OK) return 0;
    if ((double)clen / (double)n >= 0.83) return 0;
    dv_buf_commit(b, clen);
    *datatype |= DV_DATATYPE_SNAPPY;
    return 1;
}

int dv_snappy_decompress(const uint8_t *v, size_t n, size_t max_len, dv_buf *b, uint8_t *datatype)
{
    size_t len;
    if (snappy_uncompressed_length((const char *)v, n, &len) != SNAPPY_OK) return DV_MCBP_ECORRUPT;
    if (len > max_len) return DV_MCBP_ETOOBIG;
    /* Reserve at least one byte so that the destination is a real pointer. */
    char *dst = (char *)dv_buf_reserve(b, len ? len : 1);
    if (!dst) return DV_MCBP_ENOMEM;
    size_t out = len;
    if (snappy_uncompress((const char *)v, n, dst, &out) != SNAPPY_OK || out != len)
        return DV_MCBP_ECORRUPT;
    dv_buf_commit(b, len);
    *datatype &= (uint8_t)~DV_DATATYPE_SNAPPY;
    return DV_MCBP_OK;
}
