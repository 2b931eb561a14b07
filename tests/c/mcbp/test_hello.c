/* HELLO lists (kv-protocol.md §4): encoding, parsing, the server's acknowledged subset and the
 * dependency rules. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mcbp/frame.h"
#include "mcbp/hello.h"

/* What the official core asks for, in its order (§4.3). */
static const uint16_t cxx[] = {0x03, 0x06, 0x07, 0x08, 0x0b, 0x0c, 0x10, 0x0f, 0x11, 0x15,
                               0x12, 0x17, 0x14, 0x1c, 0x21, 0x0e, 0x0d, 0x1e, 0x0a, 0x04};

static dv_features set_of(const uint16_t *codes, size_t n)
{
    dv_features s = 0;
    for (size_t i = 0; i < n; i++) s |= DV_FEATURE_BIT(codes[i]);
    return s;
}

static void encode_decode(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_hello_encode(&b, cxx, 3), DV_MCBP_OK);
    size_t n;
    uint8_t *want = tu_hex("00 03 00 06 00 07", &n);
    assert_int_equal(dv_buf_size(&b), n);
    assert_memory_equal(dv_buf_head(&b), want, n);
    free(want);
    dv_buf_reset(&b);
    assert_int_equal(dv_hello_encode(&b, cxx, sizeof cxx / sizeof cxx[0]), DV_MCBP_OK);
    dv_features s;
    assert_int_equal(dv_hello_decode(dv_buf_head(&b), dv_buf_size(&b), &s), DV_MCBP_OK);
    assert_true(s == set_of(cxx, sizeof cxx / sizeof cxx[0]));
    assert_int_equal(dv_hello_decode(dv_buf_head(&b), 3, &s), DV_MCBP_EODD);
    /* Empty list, duplicates, codes beyond the known range. */
    assert_int_equal(dv_hello_decode(NULL, 0, &s), DV_MCBP_OK);
    assert_true(s == 0);
    static const uint8_t dup[] = {0x00, 0x12, 0x00, 0x12, 0x12, 0x34, 0x00, 0x40};
    assert_int_equal(dv_hello_decode(dup, sizeof dup, &s), DV_MCBP_OK);
    assert_true(s == DV_FEATURE_BIT(0x12));
    /* A set goes out in ascending order. */
    dv_buf_reset(&b);
    assert_int_equal(
        dv_hello_encode_set(&b, DV_FEATURE_BIT(0x12) | DV_FEATURE_BIT(0x03) | DV_FEATURE_BIT(0x0b)),
        DV_MCBP_OK);
    want = tu_hex("00 03 00 0b 00 12", &n);
    assert_int_equal(dv_buf_size(&b), n);
    assert_memory_equal(dv_buf_head(&b), want, n);
    free(want);
    dv_buf_free(&b);
}

static dv_status answer(const uint16_t *codes, size_t n, dv_features impl, dv_features *ack)
{
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_hello_encode(&b, codes, n), DV_MCBP_OK);
    dv_status st = dv_hello_answer(dv_buf_head(&b), dv_buf_size(&b), impl, ack);
    dv_buf_free(&b);
    return st;
}

static void server_answer(void **state)
{
    (void)state;
    /* The recommended minimal set of §4.4. */
    static const uint16_t impl_codes[] = {0x03, 0x08, 0x10, 0x0b, 0x12, 0x04, 0x07,
                                          0x0e, 0x11, 0x14, 0x1e, 0x13, 0x1d};
    dv_features impl = set_of(impl_codes, sizeof impl_codes / sizeof impl_codes[0]);
    dv_features ack = 0;
    assert_int_equal(answer(cxx, sizeof cxx / sizeof cxx[0], impl, &ack), DV_STATUS_SUCCESS);
    /* Never a feature that was not requested (0x13, 0x1d), nothing not implemented. */
    static const uint16_t want[] = {0x03, 0x04, 0x07, 0x08, 0x0b, 0x0e,
                                    0x10, 0x11, 0x12, 0x14, 0x1e};
    assert_true(ack == set_of(want, sizeof want / sizeof want[0]));
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_hello_encode_set(&b, ack), DV_MCBP_OK);
    size_t n;
    uint8_t *bytes =
        tu_hex("00 03 00 04 00 07 00 08 00 0b 00 0e 00 10 00 11 00 12 00 14 00 1e", &n);
    assert_int_equal(dv_buf_size(&b), n);
    assert_memory_equal(dv_buf_head(&b), bytes, n);
    free(bytes);
    dv_buf_free(&b);

    /* Odd length. */
    static const uint8_t odd[] = {0x00, 0x03, 0x00};
    assert_int_equal(dv_hello_answer(odd, 3, impl, &ack), DV_STATUS_EINVAL);
    /* Empty HELLO: nothing acked. */
    assert_int_equal(dv_hello_answer(NULL, 0, impl, &ack), DV_STATUS_SUCCESS);
    assert_true(ack == 0);
}

static void dependencies(void **state)
{
    (void)state;
    dv_features all = ~(dv_features)0, ack;
    static const struct {
        uint16_t codes[4];
        size_t n;
        dv_status want;
    } rows[] = {
        {{0x0d}, 1, DV_STATUS_EINVAL},
        {{0x0d, 0x0c}, 2, DV_STATUS_SUCCESS},
        {{0x1f}, 1, DV_STATUS_EINVAL},
        {{0x0c, 0x1f}, 2, DV_STATUS_SUCCESS},
        {{0x15}, 1, DV_STATUS_EINVAL},
        {{0x15, 0x06}, 2, DV_STATUS_SUCCESS},
        {{0x18}, 1, DV_STATUS_EINVAL},
        {{0x22, 0x0b}, 2, DV_STATUS_EINVAL},
        {{0x06, 0x22}, 2, DV_STATUS_SUCCESS},
        {{0x24, 0x06, 0x0b}, 3, DV_STATUS_EINVAL},
        {{0x24, 0x06, 0x13}, 3, DV_STATUS_EINVAL},
        {{0x24, 0x0b, 0x13}, 3, DV_STATUS_EINVAL},
        {{0x24, 0x06, 0x0b, 0x13}, 4, DV_STATUS_SUCCESS},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_int_equal(answer(rows[i].codes, rows[i].n, all, &ack), rows[i].want);
        assert_int_equal(dv_hello_deps_ok(set_of(rows[i].codes, rows[i].n)),
                         rows[i].want == DV_STATUS_SUCCESS);
        if (rows[i].want == DV_STATUS_SUCCESS) assert_true(ack == set_of(rows[i].codes, rows[i].n));
    }
    /* A server implementing 0x0d but not Duplex does not ack 0x0d; dropping 0x13 drops 0x24. */
    static const uint16_t req[] = {0x0c, 0x0d, 0x06, 0x0b, 0x13, 0x24};
    dv_features impl = all & ~DV_FEATURE_BIT(0x0c) & ~DV_FEATURE_BIT(0x13);
    assert_int_equal(answer(req, 6, impl, &ack), DV_STATUS_SUCCESS);
    assert_true(ack == (DV_FEATURE_BIT(0x06) | DV_FEATURE_BIT(0x0b)));
    assert_true(dv_features_has(ack, 0x06));
    assert_false(dv_features_has(ack, 0x0d));
    assert_false(dv_features_has(ack, 200));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_decode),
        cmocka_unit_test(server_answer),
        cmocka_unit_test(dependencies),
    };
    return TU_RUN(tests);
}
