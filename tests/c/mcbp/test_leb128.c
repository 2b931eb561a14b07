/* Collection id prefixes (kv-protocol.md §6.1): the table both ways and kv_engine's rules. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mcbp/frame.h"
#include "mcbp/leb128.h"

static const struct {
    uint32_t cid;
    const char *hex;
} table[] = {
    {0x00, "00"},
    {0x01, "01"},
    {0x08, "08"},
    {0x7F, "7F"},
    {0x80, "80 01"},
    {0x22B, "AB 04"},
    {0x555, "D5 0A"},
    {0x7FFF, "FF FF 01"},
    {0x8000, "80 80 02"},
    {0xFFFF, "FF FF 03"},
    {0xCAFEF00, "80 DE BF 65"},
    {0xCAFEF00D, "8D E0 FB D7 0C"},
    {0xFFFFFFFF, "FF FF FF FF 0F"},
};

static uint8_t *exact_hex(const char *hex, size_t *n)
{
    uint8_t *h = tu_hex(hex, n);
    uint8_t *p = malloc(*n ? *n : 1);
    assert_non_null(p);
    if (*n) memcpy(p, h, *n);
    free(h);
    return p;
}

static void table_both_ways(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        size_t n;
        uint8_t *want = exact_hex(table[i].hex, &n);
        uint8_t out[DV_LEB128_MAX];
        assert_int_equal(dv_leb128_encode(table[i].cid, out), n);
        assert_memory_equal(out, want, n);
        uint32_t v;
        size_t used;
        assert_int_equal(dv_leb128_decode(want, n, &v, &used), DV_MCBP_OK);
        assert_int_equal(v, table[i].cid);
        assert_int_equal(used, n);
        /* Every proper prefix lacks its stop byte. */
        for (size_t k = 0; k < n; k++)
            assert_int_equal(dv_leb128_decode(want, k, &v, &used), DV_MCBP_ELEB128);
        free(want);
    }
}

static void rejected(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",                  /* nothing */
        "81 00",             /* 1, not canonical */
        "80 00",             /* 0, not canonical */
        "ff 80 00",          /* 127, not canonical */
        "80 80 80 80 00",    /* five bytes for 0 */
        "80 80 80 80 80 01", /* no stop byte within five */
        "ff ff ff ff 1f",    /* above 32 bits */
        "ff ff ff ff 7f",    /* above 32 bits */
        "80",                /* truncated */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n;
        uint8_t *p = exact_hex(bad[i], &n);
        uint32_t v;
        size_t used;
        assert_int_equal(dv_leb128_decode(p, n, &v, &used), DV_MCBP_ELEB128);
        free(p);
    }
}

static void keys(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = exact_hex("08 63 6f 75 6e 74 65 72", &n);
    uint32_t cid;
    const uint8_t *user;
    size_t ulen;
    assert_int_equal(dv_key_split(p, n, &cid, &user, &ulen), DV_MCBP_OK);
    assert_int_equal(cid, 8);
    assert_int_equal(ulen, 7);
    assert_memory_equal(user, "counter", 7);
    assert_true(user == p + 1);
    free(p);

    /* A prefix and nothing else; a bad prefix. */
    p = exact_hex("80 01", &n);
    assert_int_equal(dv_key_split(p, n, &cid, &user, &ulen), DV_MCBP_EKEY);
    free(p);
    p = exact_hex("81 00 61", &n);
    assert_int_equal(dv_key_split(p, n, &cid, &user, &ulen), DV_MCBP_ELEB128);
    free(p);
    assert_int_equal(dv_key_split(NULL, 0, &cid, &user, &ulen), DV_MCBP_ELEB128);

    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_key_append(&b, 0, "foo", 3), DV_MCBP_OK);
    assert_int_equal(dv_key_append(&b, 0xCAFEF00D, "x", 1), DV_MCBP_OK);
    p = tu_hex("00 66 6f 6f 8D E0 FB D7 0C 78", &n);
    assert_int_equal(dv_buf_size(&b), n);
    assert_memory_equal(dv_buf_head(&b), p, n);
    free(p);
    assert_int_equal(dv_key_split(dv_buf_head(&b) + 4, 6, &cid, &user, &ulen), DV_MCBP_OK);
    assert_int_equal(cid, 0xCAFEF00D);
    assert_int_equal(ulen, 1);
    dv_buf_free(&b);
}

/* Every id of a sample round-trips through the shortest encoding. */
static void round_trip(void **state)
{
    (void)state;
    for (uint64_t c = 0; c <= UINT32_MAX; c = c * 3 + 1) {
        uint8_t out[DV_LEB128_MAX];
        size_t n = dv_leb128_encode((uint32_t)c, out), used;
        uint32_t v;
        assert_int_equal(dv_leb128_decode(out, n, &v, &used), DV_MCBP_OK);
        assert_int_equal(v, (uint32_t)c);
        assert_int_equal(used, n);
        size_t want = c < (1u << 7)    ? 1
                      : c < (1u << 14) ? 2
                      : c < (1u << 21) ? 3
                      : c < (1u << 28) ? 4
                                       : 5;
        assert_int_equal(n, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_both_ways),
        cmocka_unit_test(rejected),
        cmocka_unit_test(keys),
        cmocka_unit_test(round_trip),
    };
    return TU_RUN(tests);
}
