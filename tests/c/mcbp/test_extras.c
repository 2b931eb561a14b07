/* Typed extras against the §2.9 vectors and round trips. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mcbp/extras.h"
#include "mcbp/frame.h"

static void store_and_u32(void **state)
{
    (void)state;
    uint8_t ex[DV_EXTRAS_STORE_LEN];
    dv_extras_store_encode(ex, 0x02000000, 0);
    tu_assert_hex(ex, sizeof ex, "02 00 00 00 00 00 00 00");
    uint32_t fl, exp;
    dv_extras_store_encode(ex, 0xdeadbeef, 2592001);
    assert_int_equal(dv_extras_store_decode(ex, 8, &fl, &exp), DV_MCBP_OK);
    assert_int_equal(fl, 0xdeadbeef);
    assert_int_equal(exp, 2592001);
    assert_int_equal(dv_extras_store_decode(ex, 4, &fl, &exp), DV_MCBP_EEXTRAS);

    uint8_t u[4];
    dv_extras_u32_encode(u, 0x02000000);
    tu_assert_hex(u, 4, "02 00 00 00");
    uint32_t v;
    assert_int_equal(dv_extras_u32_decode(u, 4, &v), DV_MCBP_OK);
    assert_int_equal(v, 0x02000000);
    assert_int_equal(dv_extras_u32_decode(u, 3, &v), DV_MCBP_EEXTRAS);
    assert_int_equal(dv_extras_lock_time_decode(NULL, 0, &v), DV_MCBP_OK);
    assert_int_equal(v, 0);
    dv_extras_u32_encode(u, 15);
    assert_int_equal(dv_extras_lock_time_decode(u, 4, &v), DV_MCBP_OK);
    assert_int_equal(v, 15);
    assert_int_equal(dv_extras_lock_time_decode(u, 2, &v), DV_MCBP_EEXTRAS);
}

static void counter(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = tu_hex("00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00", &n);
    dv_counter_extras c;
    assert_int_equal(dv_extras_counter_decode(p, n, &c), DV_MCBP_OK);
    assert_true(c.delta == 1 && c.initial == 0 && c.expiry == 0);
    uint8_t out[DV_EXTRAS_COUNTER_LEN];
    dv_extras_counter_encode(out, &c);
    assert_memory_equal(out, p, n);
    assert_int_equal(dv_extras_counter_decode(p, 19, &c), DV_MCBP_EEXTRAS);
    dv_counter_extras d = {0xfffffffffffffffeull, 42, DV_COUNTER_NO_CREATE};
    dv_extras_counter_encode(out, &d);
    tu_assert_hex(out, sizeof out, "ff ff ff ff ff ff ff fe 00 00 00 00 00 00 00 2a ff ff ff ff");
    free(p);
}

static void token(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = tu_hex("00 00 ab cd 00 00 12 34 00 00 00 00 00 00 00 2a", &n);
    dv_mutation_token t;
    assert_int_equal(dv_extras_token_decode(p, n, &t), DV_MCBP_OK);
    assert_true(t.vbucket_uuid == 0x0000abcd00001234ull);
    assert_true(t.seqno == 42);
    uint8_t out[DV_EXTRAS_TOKEN_LEN];
    dv_extras_token_encode(out, &t);
    assert_memory_equal(out, p, n);
    assert_int_equal(dv_extras_token_decode(p, 0, &t), DV_MCBP_EEXTRAS);
    free(p);
}

static void get_meta(void **state)
{
    (void)state;
    dv_get_meta m = {1, 0x02000000, 1700000000, 77, DV_DATATYPE_JSON};
    uint8_t out[DV_EXTRAS_GET_META_LEN];
    dv_extras_get_meta_encode(out, &m);
    tu_assert_hex(out, sizeof out,
                  "00 00 00 01 02 00 00 00 65 53 f1 00 00 00 00 00 00 00 00 4d 01");
    dv_get_meta d;
    assert_int_equal(dv_extras_get_meta_decode(out, 21, &d), DV_MCBP_OK);
    assert_true(d.deleted == 1 && d.flags == 0x02000000 && d.expiry == 1700000000 &&
                d.seqno == 77 && d.datatype == 1);
    /* Version 1 (no datatype byte). */
    assert_int_equal(dv_extras_get_meta_decode(out, 20, &d), DV_MCBP_OK);
    assert_int_equal(d.datatype, 0);
    assert_int_equal(d.seqno, 77);
    assert_int_equal(dv_extras_get_meta_decode(out, 1, &d), DV_MCBP_EEXTRAS);
}

static void config_versions(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = tu_hex("00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 07", &n);
    dv_config_version v;
    assert_int_equal(dv_extras_clustermap_push_decode(p, n, &v), DV_MCBP_OK);
    assert_true(v.epoch == 1 && v.revision == 7);
    assert_int_equal(dv_extras_config_version_decode(p, n, &v), DV_MCBP_OK);
    uint8_t out[16];
    dv_extras_config_version_encode(out, &v);
    assert_memory_equal(out, p, n);
    /* Older pushes: u32 revision only. */
    assert_int_equal(dv_extras_clustermap_push_decode(p + 12, 4, &v), DV_MCBP_OK);
    assert_true(v.epoch == 0 && v.revision == 7);
    assert_int_equal(dv_extras_config_version_decode(p + 12, 4, &v), DV_MCBP_EEXTRAS);
    assert_int_equal(dv_extras_clustermap_push_decode(p, 8, &v), DV_MCBP_EEXTRAS);
    /* Negative epoch (unknown) survives the round trip. */
    dv_config_version neg = {-1, 3};
    dv_extras_config_version_encode(out, &neg);
    tu_assert_hex(out, 16, "ff ff ff ff ff ff ff ff 00 00 00 00 00 00 00 03");
    assert_int_equal(dv_extras_config_version_decode(out, 16, &v), DV_MCBP_OK);
    assert_true(v.epoch == -1 && v.revision == 3);
    free(p);
}

static void collection_id(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = tu_hex("00 00 00 00 00 00 00 0c 00 00 00 08", &n);
    uint64_t uid;
    uint32_t cid;
    assert_int_equal(dv_extras_collection_id_decode(p, n, &uid, &cid), DV_MCBP_OK);
    assert_true(uid == 0xc && cid == 8);
    uint8_t out[12];
    dv_extras_collection_id_encode(out, uid, cid);
    assert_memory_equal(out, p, n);
    assert_int_equal(dv_extras_collection_id_decode(p, 11, &uid, &cid), DV_MCBP_EEXTRAS);
    free(p);
}

static void observe_seqno(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    dv_observe_seqno o = {0, 115, 0x1122334455667788ull, 10, 12, 0, 0};
    assert_int_equal(dv_observe_seqno_encode(&b, &o), DV_MCBP_OK);
    tu_assert_hex(dv_buf_head(&b), dv_buf_size(&b),
                  "00 00 73 11 22 33 44 55 66 77 88 00 00 00 00 00 00 00 0a"
                  "00 00 00 00 00 00 00 0c");
    dv_observe_seqno d;
    assert_int_equal(dv_observe_seqno_decode(dv_buf_head(&b), 27, &d), DV_MCBP_OK);
    assert_true(d.format == 0 && d.vbucket == 115 && d.vbucket_uuid == o.vbucket_uuid &&
                d.last_persisted_seqno == 10 && d.current_seqno == 12);
    assert_int_equal(dv_observe_seqno_decode(dv_buf_head(&b), 26, &d), DV_MCBP_EVALUE);
    dv_buf_reset(&b);
    dv_observe_seqno f = {1, 7, 5, 6, 7, 0xabc, 99};
    assert_int_equal(dv_observe_seqno_encode(&b, &f), DV_MCBP_OK);
    assert_int_equal(dv_buf_size(&b), 43);
    assert_int_equal(dv_observe_seqno_decode(dv_buf_head(&b), 43, &d), DV_MCBP_OK);
    assert_true(d.format == 1 && d.old_vbucket_uuid == 0xabc && d.last_received_seqno == 99);
    assert_int_equal(dv_observe_seqno_decode(dv_buf_head(&b), 27, &d), DV_MCBP_EVALUE);
    uint8_t bad[27] = {2};
    assert_int_equal(dv_observe_seqno_decode(bad, 27, &d), DV_MCBP_EVALUE);
    assert_int_equal(dv_observe_seqno_decode(bad, 0, &d), DV_MCBP_EVALUE);
    f.format = 2;
    assert_int_equal(dv_observe_seqno_encode(&b, &f), DV_MCBP_EVALUE);

    uint8_t u[8];
    uint64_t v;
    dv_value_u64_encode(u, 0x0102030405060708ull);
    tu_assert_hex(u, 8, "01 02 03 04 05 06 07 08");
    assert_int_equal(dv_value_u64_decode(u, 8, &v), DV_MCBP_OK);
    assert_true(v == 0x0102030405060708ull);
    assert_int_equal(dv_value_u64_decode(u, 7, &v), DV_MCBP_EVALUE);
    dv_buf_free(&b);
}

/* Legacy OBSERVE values: request entries (vbucket, key length, key) and response entries (the
 * same with state and CAS), byte for byte. */
static void observe_keys(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    dv_observe_key k = {.vbucket = 5, .key = (const uint8_t *)"abc", .key_len = 3};
    assert_int_equal(dv_observe_append(&b, 0, &k), DV_MCBP_OK);
    k = (dv_observe_key){.vbucket = 0x102, .key = (const uint8_t *)"k", .key_len = 1};
    assert_int_equal(dv_observe_append(&b, 0, &k), DV_MCBP_OK);
    static const uint8_t req[] = {0, 5, 0, 3, 'a', 'b', 'c', 1, 2, 0, 1, 'k'};
    assert_int_equal(dv_buf_size(&b), sizeof req);
    assert_memory_equal(dv_buf_head(&b), req, sizeof req);
    size_t pos = 0;
    dv_observe_key got;
    assert_int_equal(dv_observe_next(req, sizeof req, 0, &pos, &got), 1);
    assert_int_equal(got.vbucket, 5);
    assert_int_equal(got.key_len, 3);
    assert_memory_equal(got.key, "abc", 3);
    assert_int_equal(dv_observe_next(req, sizeof req, 0, &pos, &got), 1);
    assert_int_equal(got.vbucket, 0x102);
    assert_int_equal(dv_observe_next(req, sizeof req, 0, &pos, &got), 0);
    /* Cut short, or an empty key in a request. */
    for (size_t n = 1; n < 7; n++) {
        pos = 0;
        assert_int_equal(dv_observe_next(req, n, 0, &pos, &got), DV_MCBP_EVALUE);
    }
    static const uint8_t empty[] = {0, 1, 0, 0};
    pos = 0;
    assert_int_equal(dv_observe_next(empty, sizeof empty, 0, &pos, &got), DV_MCBP_EVALUE);

    dv_buf_reset(&b);
    k = (dv_observe_key){.vbucket = 5,
                         .key = (const uint8_t *)"abc",
                         .key_len = 3,
                         .state = DV_OBSERVE_FOUND_PERSISTED,
                         .cas = 0x0102030405060708ull};
    assert_int_equal(dv_observe_append(&b, 1, &k), DV_MCBP_OK);
    static const uint8_t res[] = {0, 5, 0, 3, 'a', 'b', 'c', 1, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(dv_buf_size(&b), sizeof res);
    assert_memory_equal(dv_buf_head(&b), res, sizeof res);
    pos = 0;
    assert_int_equal(dv_observe_next(res, sizeof res, 1, &pos, &got), 1);
    assert_int_equal(got.state, DV_OBSERVE_FOUND_PERSISTED);
    assert_true(got.cas == 0x0102030405060708ull);
    pos = 0;
    assert_int_equal(dv_observe_next(res, sizeof res - 1, 1, &pos, &got), DV_MCBP_EVALUE);
    dv_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_and_u32),   cmocka_unit_test(counter),
        cmocka_unit_test(token),           cmocka_unit_test(get_meta),
        cmocka_unit_test(config_versions), cmocka_unit_test(collection_id),
        cmocka_unit_test(observe_seqno),   cmocka_unit_test(observe_keys),
    };
    return TU_RUN(tests);
}
