/* Snappy values (kv-protocol.md §12): compress only when worth it, inflate with a size bound. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mcbp/compress.h"
#include "mcbp/frame.h"

static void round_trip(void **state)
{
    (void)state;
    char doc[1000];
    for (size_t i = 0; i < sizeof doc; i++) doc[i] = "{\"name\":\"divan\",\"n\":1}"[i % 23];
    dv_buf z = DV_BUF_INIT, out = DV_BUF_INIT;
    uint8_t dt = DV_DATATYPE_JSON;
    assert_int_equal(dv_snappy_compress((const uint8_t *)doc, sizeof doc, &z, &dt), 1);
    assert_int_equal(dt, DV_DATATYPE_JSON | DV_DATATYPE_SNAPPY);
    assert_true(dv_buf_size(&z) < sizeof doc * 83 / 100);
    assert_int_equal(
        dv_snappy_decompress(dv_buf_head(&z), dv_buf_size(&z), DV_MAX_VALUE_LEN, &out, &dt),
        DV_MCBP_OK);
    assert_int_equal(dt, DV_DATATYPE_JSON);
    assert_int_equal(dv_buf_size(&out), sizeof doc);
    assert_memory_equal(dv_buf_head(&out), doc, sizeof doc);
    /* The bound is inclusive; one below fails before inflating, leaving b as it was. */
    dv_buf_reset(&out);
    dt = DV_DATATYPE_SNAPPY;
    assert_int_equal(dv_snappy_decompress(dv_buf_head(&z), dv_buf_size(&z), sizeof doc, &out, &dt),
                     DV_MCBP_OK);
    dv_buf_reset(&out);
    dt = DV_DATATYPE_SNAPPY;
    assert_int_equal(
        dv_snappy_decompress(dv_buf_head(&z), dv_buf_size(&z), sizeof doc - 1, &out, &dt),
        DV_MCBP_ETOOBIG);
    assert_int_equal(dt, DV_DATATYPE_SNAPPY);
    assert_int_equal(dv_buf_size(&out), 0);
    dv_buf_free(&z);
    dv_buf_free(&out);
}

static void not_worth_it(void **state)
{
    (void)state;
    dv_buf z = DV_BUF_INIT;
    uint8_t dt = 0;
    /* 32 bytes or fewer: never compressed, however repetitive. */
    char small[32];
    memset(small, 'a', sizeof small);
    assert_int_equal(dv_snappy_compress((const uint8_t *)small, sizeof small, &z, &dt), 0);
    assert_int_equal(dt, 0);
    char small33[33];
    memset(small33, 'a', sizeof small33);
    assert_int_equal(dv_snappy_compress((const uint8_t *)small33, sizeof small33, &z, &dt), 1);
    dv_buf_reset(&z);
    dt = 0;
    /* Incompressible bytes: ratio above 0.83. */
    uint8_t noise[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof noise; i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (uint8_t)(x >> 16);
    }
    assert_int_equal(dv_snappy_compress(noise, sizeof noise, &z, &dt), 0);
    assert_int_equal(dt, 0);
    assert_int_equal(dv_buf_size(&z), 0);
    dv_buf_free(&z);
}

static void corrupt(void **state)
{
    (void)state;
    dv_buf out = DV_BUF_INIT;
    uint8_t dt = DV_DATATYPE_SNAPPY;
    static const char *bad[] = {
        "",                  /* no length header */
        "ff ff ff ff ff ff", /* unterminated length varint */
        "0a 00 61",          /* claims 10 bytes, literal of 1 */
        "05 10 61 62 63",    /* literal runs past the input */
        "05 01 05",          /* copy before any output */
        "ff ff ff ff 0f 00", /* claims 4 GiB: above the bound */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n;
        uint8_t *h = tu_hex(bad[i], &n);
        uint8_t *p = malloc(n ? n : 1);
        if (n) memcpy(p, h, n);
        int rc = dv_snappy_decompress(p, n, DV_MAX_VALUE_LEN, &out, &dt);
        assert_true(rc == DV_MCBP_ECORRUPT || rc == DV_MCBP_ETOOBIG);
        if (i == 5) assert_int_equal(rc, DV_MCBP_ETOOBIG);
        assert_int_equal(dt, DV_DATATYPE_SNAPPY);
        assert_int_equal(dv_buf_size(&out), 0);
        free(h);
        free(p);
    }
    /* A valid empty value: length 0. */
    static const uint8_t empty[] = {0x00};
    assert_int_equal(dv_snappy_decompress(empty, 1, 10, &out, &dt), DV_MCBP_OK);
    assert_int_equal(dv_buf_size(&out), 0);
    assert_int_equal(dt, 0);
    /* Hand-made block: length 3, literal "abc". */
    static const uint8_t abc[] = {0x03, 0x08, 'a', 'b', 'c'};
    dt = DV_DATATYPE_SNAPPY | DV_DATATYPE_XATTR;
    assert_int_equal(dv_snappy_decompress(abc, sizeof abc, 10, &out, &dt), DV_MCBP_OK);
    assert_int_equal(dt, DV_DATATYPE_XATTR);
    assert_int_equal(dv_buf_size(&out), 3);
    assert_memory_equal(dv_buf_head(&out), "abc", 3);
    dv_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(not_worth_it),
        cmocka_unit_test(corrupt),
    };
    return TU_RUN(tests);
}
