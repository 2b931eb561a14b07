/* The range-scan bodies: the create JSON (kv_engine's documented examples and the official
 * cores' spellings), the continue extras and the record layouts, from hand-written bytes. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mcbp/rscan.h"

static int parse(const char *json, dv_rscan_create *c)
{
    char err[128];
    return dv_rscan_create_parse(json, strlen(json), c, err, sizeof err);
}

static void create_range(void **state)
{
    (void)state;
    dv_rscan_create c;
    /* "user" to "user\xff" in collection 0xf2, as kv_engine's document has it. */
    assert_int_equal(
        parse("{\"collection\":\"f2\",\"range\":{\"end\":\"dXNlcv8=\",\"start\":\"dXNlcg==\"}}",
              &c),
        0);
    assert_int_equal(c.cid, 0xf2);
    assert_false(c.sampling);
    assert_false(c.key_only);
    assert_false(c.has_snapshot);
    assert_int_equal(c.start_len, 4);
    assert_memory_equal(c.start, "user", 4);
    assert_int_equal(c.end_len, 5);
    assert_memory_equal(c.end, "user\xff", 5);
    assert_false(c.excl_start);
    assert_false(c.excl_end);

    /* Exclusive bounds, key only, no collection (the default one), unpadded base64. */
    assert_int_equal(
        parse("{\"key_only\":true,\"range\":{\"excl_start\":\"YQ\",\"excl_end\":\"eg\"},"
              "\"unknown\":[1]}",
              &c),
        0);
    assert_int_equal(c.cid, 0);
    assert_true(c.key_only);
    assert_true(c.excl_start);
    assert_true(c.excl_end);
    assert_int_equal(c.start_len, 1);
    assert_int_equal(c.start[0], 'a');
    assert_int_equal(c.end[0], 'z');

    /* The empty start term of a full-range scan: "" is base64 of nothing. */
    assert_int_equal(parse("{\"range\":{\"start\":\"\",\"end\":\"/w==\"}}", &c), 0);
    assert_int_equal(c.start_len, 0);
    assert_int_equal(c.end_len, 1);
    assert_int_equal(c.end[0], 0xff);
}

static void create_sampling_and_snapshot(void **state)
{
    (void)state;
    dv_rscan_create c;
    assert_int_equal(parse("{\"collection\":\"abc\",\"sampling\":{\"seed\":18111,\"samples\":512},"
                           "\"snapshot_requirements\":{\"vb_uuid\":\"16627788222\",\"seqno\":1000,"
                           "\"timeout_ms\":2000,\"seqno_exists\":true}}",
                           &c),
                     0);
    assert_int_equal(c.cid, 2748);
    assert_true(c.sampling);
    assert_int_equal(c.samples, 512);
    assert_int_equal(c.seed, 18111);
    assert_true(c.has_snapshot);
    assert_int_equal(c.vb_uuid, 16627788222u);
    assert_int_equal(c.seqno, 1000);
    assert_int_equal(c.timeout_ms, 2000);
    assert_true(c.seqno_exists);
    /* A seed is optional; a vb_uuid above 2^63 as a decimal string. */
    assert_int_equal(parse("{\"sampling\":{\"samples\":1},\"snapshot_requirements\":"
                           "{\"vb_uuid\":\"18446744073709551615\",\"seqno\":0}}",
                           &c),
                     0);
    assert_int_equal(c.seed, 0);
    assert_int_equal(c.vb_uuid, UINT64_MAX);
    /* The official core's random seed is any 64-bit number (above INT64_MAX too); the same
     * seed reads the same. */
    assert_int_equal(parse("{\"sampling\":{\"samples\":5,\"seed\":12984425352121425437}}", &c), 0);
    uint64_t big = c.seed;
    assert_true(big > (uint64_t)INT64_MAX);
    assert_int_equal(c.samples, 5);
    assert_int_equal(parse("{\"sampling\":{\"samples\":5,\"seed\":12984425352121425437}}", &c), 0);
    assert_int_equal(c.seed, big);
    assert_int_not_equal(parse("{\"sampling\":{\"samples\":5,\"seed\":-1.5}}", &c), 0);
    assert_int_not_equal(parse("{\"sampling\":{\"samples\":5,\"seed\":1e30}}", &c), 0);
}

static void create_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "[]",
        "{\"range\":{\"start\":\"YQ==\",\"end\":\"eg==\"},\"sampling\":{\"samples\":1}}",
        "{}",
        "{\"range\":{\"start\":\"YQ==\"}}",
        "{\"range\":{\"start\":\"Y*==\",\"end\":\"eg==\"}}",
        "{\"range\":{\"start\":\"Y\",\"end\":\"eg==\"}}",
        "{\"range\":{\"start\":1,\"end\":\"eg==\"}}",
        "{\"range\":[]}",
        "{\"sampling\":{}}",
        "{\"sampling\":{\"samples\":0}}",
        "{\"sampling\":{\"samples\":-1}}",
        "{\"sampling\":{\"samples\":3,\"seed\":\"x\"}}",
        "{\"collection\":\"xyz\",\"sampling\":{\"samples\":1}}",
        "{\"collection\":\"100000000\",\"sampling\":{\"samples\":1}}",
        "{\"collection\":8,\"sampling\":{\"samples\":1}}",
        "{\"key_only\":1,\"sampling\":{\"samples\":1}}",
        "{\"sampling\":{\"samples\":1},\"snapshot_requirements\":{\"seqno\":1}}",
        "{\"sampling\":{\"samples\":1},\"snapshot_requirements\":{\"vb_uuid\":\"-1\",\"seqno\":1}}",
        "{\"sampling\":{\"samples\":1},\"snapshot_requirements\":{\"vb_uuid\":\"1x\",\"seqno\":1}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dv_rscan_create c;
        char err[128] = "";
        if (dv_rscan_create_parse(bad[i], strlen(bad[i]), &c, err, sizeof err) != -1)
            fail_msg("accepted %s", bad[i]);
        assert_true(err[0] != '\0');
    }
    /* A term longer than DV_RSCAN_TERM_MAX. */
    dv_buf j;
    dv_buf_init(&j);
    assert_int_equal(dv_buf_printf(&j, "{\"range\":{\"start\":\""), 0);
    for (int i = 0; i < 120; i++) assert_int_equal(dv_buf_printf(&j, "AAAA"), 0);
    assert_int_equal(dv_buf_printf(&j, "\",\"end\":\"eg==\"}}"), 0);
    dv_rscan_create c;
    char err[64];
    assert_int_equal(dv_rscan_create_parse(dv_buf_head(&j), dv_buf_size(&j), &c, err, sizeof err),
                     -1);
    dv_buf_free(&j);
}

static void continue_extras(void **state)
{
    (void)state;
    size_t n;
    uint8_t *x = tu_hex("00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff"
                        " 00 00 01 f4  00 00 07 d0  00 01 00 00",
                        &n);
    assert_int_equal(n, DV_RSCAN_CONTINUE_EXTRAS_LEN);
    dv_rscan_continue c;
    dv_rscan_continue_decode(x, &c);
    assert_int_equal(c.id[0], 0x00);
    assert_int_equal(c.id[15], 0xff);
    assert_int_equal(c.item_limit, 500);
    assert_int_equal(c.time_limit_ms, 2000);
    assert_int_equal(c.byte_limit, 65536);
    uint8_t y[DV_RSCAN_CONTINUE_EXTRAS_LEN];
    dv_rscan_continue_encode(y, &c);
    assert_memory_equal(x, y, n);
    free(x);
}

static void key_records(void **state)
{
    (void)state;
    /* kv_engine's example: "key0", "key11", then a 128-byte key (length 80 01). */
    char big[128];
    memset(big, '2', sizeof big);
    memcpy(big, "key", 3);
    big[127] = '3';
    dv_buf b;
    dv_buf_init(&b);
    assert_int_equal(dv_rscan_put_key(&b, "key0", 4), 0);
    assert_int_equal(dv_rscan_put_key(&b, "key11", 5), 0);
    assert_int_equal(dv_rscan_put_key(&b, big, sizeof big), 0);
    assert_int_equal(dv_buf_size(&b), 1 + 4 + 1 + 5 + 2 + 128);
    tu_assert_hex(dv_buf_head(&b), 13, "04 6b 65 79 30 05 6b 65 79 31 31 80 01");
    const uint8_t *p = dv_buf_head(&b), *k;
    size_t n = dv_buf_size(&b), nk;
    long used = dv_rscan_get_key(p, n, &k, &nk);
    assert_int_equal(used, 5);
    assert_memory_equal(k, "key0", 4);
    used = dv_rscan_get_key(p + 11, n - 11, &k, &nk);
    assert_int_equal(used, 130);
    assert_int_equal(nk, 128);
    /* Truncated: the length says more than is there. */
    assert_int_equal(dv_rscan_get_key(p + 11, 100, &k, &nk), -1);
    dv_buf_free(&b);
}

static void document_records(void **state)
{
    (void)state;
    dv_buf b;
    dv_buf_init(&b);
    dv_rscan_doc d = {0x01020304,
                      0x05060708,
                      0x1112131415161718u,
                      0x2122232425262728u,
                      0x01,
                      (const uint8_t *)"key0",
                      4,
                      (const uint8_t *)"value0",
                      6};
    assert_int_equal(dv_rscan_put_doc(&b, &d), 0);
    tu_assert_hex(dv_buf_head(&b), dv_buf_size(&b),
                  "01 02 03 04  05 06 07 08  11 12 13 14 15 16 17 18  21 22 23 24 25 26 27 28  01"
                  " 04 6b 65 79 30  06 76 61 6c 75 65 30");
    dv_rscan_doc e;
    assert_int_equal(dv_rscan_get_doc(dv_buf_head(&b), dv_buf_size(&b), &e), 37);
    assert_int_equal(e.flags, d.flags);
    assert_int_equal(e.expiry, d.expiry);
    assert_int_equal(e.seqno, d.seqno);
    assert_int_equal(e.cas, d.cas);
    assert_int_equal(e.datatype, 1);
    assert_int_equal(e.nkey, 4);
    assert_memory_equal(e.value, "value0", 6);
    for (size_t cut = 0; cut < 37; cut++)
        assert_int_equal(dv_rscan_get_doc(dv_buf_head(&b), cut, &e), -1);
    dv_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_range),   cmocka_unit_test(create_sampling_and_snapshot),
        cmocka_unit_test(create_rejects), cmocka_unit_test(continue_extras),
        cmocka_unit_test(key_records),    cmocka_unit_test(document_records),
    };
    return TU_RUN(tests);
}
