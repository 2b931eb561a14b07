#include "mcbp/leb128.h"

#include "mcbp/frame.h"

size_t dv_leb128_encode(uint32_t v, uint8_t out[DV_LEB128_MAX])
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

int dv_leb128_decode(const uint8_t *p, size_t n, uint32_t *v, size_t *len)
{
    uint64_t acc = 0;
    size_t max = n < DV_LEB128_MAX ? n : DV_LEB128_MAX;
    for (size_t i = 0; i < max; i++) {
        acc |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (p[i] & 0x80) continue;
        /* A zero stop byte after other bytes adds nothing: a longer form than needed. */
        if (i > 0 && p[i] == 0) return DV_MCBP_ELEB128;
        if (acc > UINT32_MAX) return DV_MCBP_ELEB128;
        *v = (uint32_t)acc;
        *len = i + 1;
        return DV_MCBP_OK;
    }
    return DV_MCBP_ELEB128;
}

int dv_key_split(const uint8_t *key, size_t n, uint32_t *cid, const uint8_t **user,
                 size_t *user_len)
{
    size_t used;
    uint32_t id;
    int rc = dv_leb128_decode(key, n, &id, &used);
    if (rc) return rc;
    if (used == n) return DV_MCBP_EKEY;
    *cid = id;
    *user = key + used;
    *user_len = n - used;
    return DV_MCBP_OK;
}

int dv_key_append(dv_buf *b, uint32_t cid, const void *user, size_t user_len)
{
    uint8_t pre[DV_LEB128_MAX];
    size_t k = dv_leb128_encode(cid, pre);
    uint8_t *dst = dv_buf_reserve(b, k + user_len);
    if (!dst) return DV_MCBP_ENOMEM;
    for (size_t i = 0; i < k; i++) dst[i] = pre[i];
    for (size_t i = 0; i < user_len; i++) dst[k + i] = ((const uint8_t *)user)[i];
    dv_buf_commit(b, k + user_len);
    return DV_MCBP_OK;
}
