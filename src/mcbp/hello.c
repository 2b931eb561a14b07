#include "mcbp/hello.h"

#include "base/endian.h"
#include "mcbp/frame.h"

int dv_hello_encode(dv_buf *b, const uint16_t *codes, size_t n)
{
    if (!n) return DV_MCBP_OK;
    if (n > SIZE_MAX / 2) return DV_MCBP_ENOMEM;
    uint8_t *dst = dv_buf_reserve(b, 2 * n);
    if (!dst) return DV_MCBP_ENOMEM;
    for (size_t i = 0; i < n; i++) dv_store_be16(dst + 2 * i, codes[i]);
    dv_buf_commit(b, 2 * n);
    return DV_MCBP_OK;
}

int dv_hello_encode_set(dv_buf *b, dv_features set)
{
    uint16_t codes[64];
    size_t n = 0;
    for (unsigned c = 0; c < 64; c++)
        if (dv_features_has(set, c)) codes[n++] = (uint16_t)c;
    return dv_hello_encode(b, codes, n);
}

int dv_hello_decode(const uint8_t *v, size_t n, dv_features *set)
{
    if (n & 1) return DV_MCBP_EODD;
    dv_features s = 0;
    for (size_t i = 0; i < n; i += 2) {
        uint16_t c = dv_load_be16(v + i);
        if (c < 64) s |= DV_FEATURE_BIT(c);
    }
    *set = s;
    return DV_MCBP_OK;
}

/* Each feature with what it needs. */
static const struct {
    uint8_t feature;
    dv_features needs;
} deps[] = {
    {DV_FEATURE_CLUSTERMAP_CHANGE_NOTIFICATION, DV_FEATURE_BIT(DV_FEATURE_DUPLEX)},
    {DV_FEATURE_CLUSTERMAP_CHANGE_NOTIFICATION_BRIEF, DV_FEATURE_BIT(DV_FEATURE_DUPLEX)},
    {DV_FEATURE_VATTR, DV_FEATURE_BIT(DV_FEATURE_XATTR)},
    {DV_FEATURE_SUBDOC_DOCUMENT_MACRO_SUPPORT, DV_FEATURE_BIT(DV_FEATURE_XATTR)},
    {DV_FEATURE_RANGE_SCAN_INCLUDE_XATTR, DV_FEATURE_BIT(DV_FEATURE_XATTR)},
    {DV_FEATURE_GET_RANDOM_KEY_INCLUDE_XATTR, DV_FEATURE_BIT(DV_FEATURE_XATTR) |
                                                  DV_FEATURE_BIT(DV_FEATURE_JSON) |
                                                  DV_FEATURE_BIT(DV_FEATURE_SNAPPY_EVERYWHERE)},
};

int dv_hello_deps_ok(dv_features set)
{
    for (size_t i = 0; i < sizeof deps / sizeof deps[0]; i++)
        if (dv_features_has(set, deps[i].feature) && (set & deps[i].needs) != deps[i].needs)
            return 0;
    return 1;
}

dv_status dv_hello_answer(const uint8_t *v, size_t n, dv_features implemented, dv_features *ack)
{
    dv_features req;
    if (dv_hello_decode(v, n, &req) != DV_MCBP_OK) return DV_STATUS_EINVAL;
    if (!dv_hello_deps_ok(req)) return DV_STATUS_EINVAL;
    dv_features a = req & implemented;
    /* Dropping a feature can orphan another (0x24 needs 0x13 ...): repeat until stable. */
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < sizeof deps / sizeof deps[0]; i++) {
            dv_features bit = DV_FEATURE_BIT(deps[i].feature);
            if ((a & bit) && (a & deps[i].needs) != deps[i].needs) {
                a &= ~bit;
                changed = 1;
            }
        }
    }
    *ack = a;
    return DV_STATUS_SUCCESS;
}
