/* Frame infos (kv-protocol.md §1.3, §11): escapes, truncation, the encoders, the server duration
 * samples and the status a server answers for each kind of bad frame. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/endian.h"
#include "mcbp/frame.h"

static uint8_t *exact_hex(const char *hex, size_t *n)
{
    uint8_t *h = tu_hex(hex, n);
    uint8_t *p = malloc(*n ? *n : 1);
    assert_non_null(p);
    if (*n) memcpy(p, h, *n);
    free(h);
    return p;
}

static void assert_buf_hex(const dv_buf *b, const char *hex)
{
    tu_assert_hex(dv_buf_head(b), dv_buf_size(b), hex);
}

static void examples_encode(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_frame_info_append_durability(&b, 1, 0), DV_MCBP_OK);
    assert_buf_hex(&b, "11 01");
    dv_buf_reset(&b);
    assert_int_equal(dv_frame_info_append_durability(&b, 1, 9000), DV_MCBP_OK);
    assert_buf_hex(&b, "13 01 23 28");
    dv_buf_reset(&b);
    assert_int_equal(dv_frame_info_append_preserve_ttl(&b), DV_MCBP_OK);
    assert_buf_hex(&b, "50");
    dv_buf_reset(&b);
    assert_int_equal(dv_frame_info_append_impersonate(&b, "bob", 3), DV_MCBP_OK);
    assert_buf_hex(&b, "43 62 6f 62");
    dv_buf_reset(&b);
    assert_int_equal(dv_frame_info_append_impersonate(&b, "abcdefghijklmnopqrst", 20), DV_MCBP_OK);
    assert_buf_hex(&b, "4F 05 61 62 63 64 65 66 67 68 69 6a 6b 6c 6d 6e 6f 70 71 72 73 74");
    dv_buf_reset(&b);
    assert_int_equal(dv_frame_info_append_impersonate(&b, "", 0), DV_MCBP_ERANGE);
    /* Response frame 0 with 1000 us -> 79 = 0x004f. */
    assert_int_equal(dv_frame_info_append_server_duration(&b, 1000), DV_MCBP_OK);
    assert_buf_hex(&b, "02 00 4f");
    dv_buf_free(&b);
}

static void escapes_round_trip(void **state)
{
    (void)state;
    static uint8_t data[300];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7);
    static const uint16_t ids[] = {0, 1, 14, 15, 16, 100, 269, 270};
    static const uint16_t lens[] = {0, 1, 14, 15, 16, 255, 270};
    for (size_t a = 0; a < sizeof ids / sizeof ids[0]; a++) {
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
            uint8_t out[DV_FRAME_INFO_MAX_SIZE];
            int n = dv_frame_info_write(out, ids[a], data, lens[l]);
            int want = 1 + (ids[a] >= 15) + (lens[l] >= 15) + lens[l];
            assert_int_equal(n, want);
            uint8_t *p = malloc((size_t)n);
            memcpy(p, out, (size_t)n);
            dv_frame_info_iter it;
            dv_frame_info fi;
            dv_frame_info_iter_init(&it, p, (size_t)n);
            assert_int_equal(dv_frame_info_next(&it, &fi), 1);
            assert_int_equal(fi.id, ids[a]);
            assert_int_equal(fi.len, lens[l]);
            if (lens[l])
                assert_memory_equal(fi.data, data, lens[l]);
            else
                assert_null(fi.data);
            assert_int_equal(dv_frame_info_next(&it, &fi), 0);
            /* Every proper prefix is truncated (or empty). */
            for (int k = 1; k < n; k++) {
                dv_frame_info_iter_init(&it, p, (size_t)k);
                assert_int_equal(dv_frame_info_next(&it, &fi), DV_MCBP_ETRUNCATED);
            }
            free(p);
        }
    }
    uint8_t out[DV_FRAME_INFO_MAX_SIZE];
    assert_int_equal(dv_frame_info_write(out, 271, NULL, 0), DV_MCBP_ERANGE);
    assert_int_equal(dv_frame_info_write(out, 0, data, 271), DV_MCBP_ERANGE);
    /* Exact escape bytes: id 17 len 0 = F0 02; id 4 len 20 = 4F 05; id 270 len 15 = FF FF 00. */
    assert_int_equal(dv_frame_info_write(out, 17, NULL, 0), 2);
    assert_int_equal(out[0], 0xf0);
    assert_int_equal(out[1], 0x02);
    assert_int_equal(dv_frame_info_write(out, 270, data, 15), 18);
    assert_int_equal(out[0], 0xff);
    assert_int_equal(out[1], 0xff);
    assert_int_equal(out[2], 0x00);
}

static void iterate_several(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = exact_hex("13 01 23 28 50 43 62 6f 62 00", &n);
    dv_frame_info_iter it;
    dv_frame_info fi;
    dv_frame_info_iter_init(&it, p, n);
    assert_int_equal(dv_frame_info_next(&it, &fi), 1);
    assert_int_equal(fi.id, 1);
    assert_int_equal(fi.len, 3);
    assert_int_equal(dv_frame_info_next(&it, &fi), 1);
    assert_int_equal(fi.id, 5);
    assert_int_equal(fi.len, 0);
    assert_int_equal(dv_frame_info_next(&it, &fi), 1);
    assert_int_equal(fi.id, 4);
    assert_memory_equal(fi.data, "bob", 3);
    assert_int_equal(dv_frame_info_next(&it, &fi), 1);
    assert_int_equal(fi.id, 0);
    assert_int_equal(dv_frame_info_next(&it, &fi), 0);
    assert_int_equal(dv_frame_info_next(&it, &fi), 0);
    free(p);
    /* An empty section. */
    dv_frame_info_iter_init(&it, NULL, 0);
    assert_int_equal(dv_frame_info_next(&it, &fi), 0);
}

static void truncated(void **state)
{
    (void)state;
    static const char *bad[] = {
        "f0",          /* id escape byte missing */
        "4f",          /* length escape byte missing */
        "ff 01",       /* both escapes, length escape missing */
        "43 62 6f",    /* data short by one */
        "50 13 01 23", /* second info short */
        "4f 05 61",    /* long name short */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n;
        uint8_t *p = exact_hex(bad[i], &n);
        dv_frame_info_iter it;
        dv_frame_info fi;
        dv_frame_info_iter_init(&it, p, n);
        int rc;
        while ((rc = dv_frame_info_next(&it, &fi)) > 0) {
        }
        assert_int_equal(rc, DV_MCBP_ETRUNCATED);
        assert_int_equal(dv_frame_reqs_parse(DV_OP_SET, p, n, NULL), DV_STATUS_EINVAL);
        free(p);
    }
}

static void duration_samples(void **state)
{
    (void)state;
    static const struct {
        uint64_t us;
        uint16_t enc;
    } samples[] = {{0, 0},       {1, 1},         {100, 21},      {1000, 79},
                   {10000, 296}, {100000, 1113}, {1000000, 4181}};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        assert_int_equal(dv_server_duration_encode(samples[i].us), samples[i].enc);
    assert_int_equal(dv_server_duration_decode(4181), 999994);
    assert_int_equal(dv_server_duration_decode(0), 0);
    assert_int_equal(dv_server_duration_decode(79), 1002);
    /* Saturation. */
    assert_int_equal(dv_server_duration_encode(120125042), 65535);
    assert_int_equal(dv_server_duration_encode(1000000000), 65535);
    assert_int_equal(dv_server_duration_encode(UINT64_MAX), 65535);
    assert_int_equal(dv_server_duration_decode(65535), 120125042);
    /* Encoding is monotonic and decoding inverts it within one step. */
    uint16_t prev = 0;
    for (uint64_t us = 1; us < 130000000; us = us * 11 / 10 + 1) {
        uint16_t e = dv_server_duration_encode(us);
        assert_true(e >= prev);
        prev = e;
        if (e < 65535) {
            uint32_t lo = dv_server_duration_decode(e ? (uint16_t)(e - 1) : 0);
            uint32_t hi = dv_server_duration_decode((uint16_t)(e + 1));
            assert_true(lo <= us && us <= hi);
        }
    }
}

static void server_duration_of_response(void **state)
{
    (void)state;
    dv_buf fe = DV_BUF_INIT, out = DV_BUF_INIT;
    /* Another frame id first, then the duration. */
    uint8_t ru[2] = {0, 5};
    assert_int_equal(dv_frame_info_append(&fe, DV_RES_FRAME_READ_UNITS, ru, 2), DV_MCBP_OK);
    assert_int_equal(dv_frame_info_append_server_duration(&fe, 100000), DV_MCBP_OK);
    dv_frame f = {.magic = DV_MAGIC_RES,
                  .opcode = DV_OP_GET,
                  .framing = dv_buf_head(&fe),
                  .framing_len = dv_buf_size(&fe)};
    assert_int_equal(dv_frame_encode(&out, &f), DV_MCBP_OK);
    dv_frame g;
    size_t used;
    assert_int_equal(dv_frame_decode(dv_buf_head(&out), dv_buf_size(&out), 100, &g, &used),
                     DV_MCBP_OK);
    assert_int_equal(g.magic, DV_MAGIC_ALT_RES);
    uint32_t us = 0;
    assert_int_equal(dv_frame_server_duration(&g, &us), 1);
    assert_int_equal(us, dv_server_duration_decode(1113));
    /* No frame, or a duration of the wrong length: none. */
    dv_frame plain = {.magic = DV_MAGIC_RES};
    assert_int_equal(dv_frame_server_duration(&plain, &us), 0);
    uint8_t odd[] = {0x01, 0x07};
    plain.framing = odd;
    plain.framing_len = 2;
    assert_int_equal(dv_frame_server_duration(&plain, &us), 0);
    dv_buf_free(&fe);
    dv_buf_free(&out);
}

static dv_status reqs(uint8_t opcode, const char *hex, dv_frame_reqs *r)
{
    size_t n;
    uint8_t *p = exact_hex(hex, &n);
    dv_status st = dv_frame_reqs_parse(opcode, p, n, r);
    free(p);
    return st;
}

static void validation(void **state)
{
    (void)state;
    dv_frame_reqs r;
    assert_int_equal(reqs(DV_OP_SET, "", &r), DV_STATUS_SUCCESS);
    assert_int_equal(r.durability_level, 0);
    assert_int_equal(reqs(DV_OP_SET, "13 01 23 28", &r), DV_STATUS_SUCCESS);
    assert_int_equal(r.durability_level, 1);
    assert_int_equal(r.durability_timeout, 9000);
    assert_int_equal(reqs(DV_OP_SUBDOC_MULTI_MUTATION, "11 03", &r), DV_STATUS_SUCCESS);
    assert_int_equal(r.durability_level, 3);
    assert_int_equal(r.durability_timeout, 0);
    assert_int_equal(reqs(DV_OP_TOUCH, "11 02", &r), DV_STATUS_SUCCESS);

    /* Durability where the opcode has none, or of a bad size: EINVAL. */
    assert_int_equal(reqs(DV_OP_GET, "11 01", &r), DV_STATUS_EINVAL);
    assert_int_equal(reqs(DV_OP_SUBDOC_MULTI_LOOKUP, "11 01", &r), DV_STATUS_EINVAL);
    assert_int_equal(reqs(DV_OP_SETQ, "11 01", &r), DV_STATUS_EINVAL);
    assert_int_equal(reqs(DV_OP_SET, "10", &r), DV_STATUS_EINVAL);
    assert_int_equal(reqs(DV_OP_SET, "12 01 23", &r), DV_STATUS_EINVAL);
    assert_int_equal(reqs(DV_OP_SET, "14 01 23 28 00", &r), DV_STATUS_EINVAL);
    /* Bad level or reserved timeout: DURABILITY_INVALID_LEVEL (kv_engine's parser). */
    assert_int_equal(reqs(DV_OP_SET, "11 00", &r), DV_STATUS_DURABILITY_INVALID_LEVEL);
    assert_int_equal(reqs(DV_OP_SET, "11 04", &r), DV_STATUS_DURABILITY_INVALID_LEVEL);
    assert_int_equal(reqs(DV_OP_SET, "13 00 23 28", &r), DV_STATUS_DURABILITY_INVALID_LEVEL);
    assert_int_equal(reqs(DV_OP_SET, "13 01 00 00", &r), DV_STATUS_DURABILITY_INVALID_LEVEL);
    assert_int_equal(reqs(DV_OP_SET, "13 01 ff ff", &r), DV_STATUS_DURABILITY_INVALID_LEVEL);
    assert_int_equal(reqs(DV_OP_SET, "13 01 ff fe", &r), DV_STATUS_SUCCESS);

    /* Preserve TTL. */
    assert_int_equal(reqs(DV_OP_SET, "50", &r), DV_STATUS_SUCCESS);
    assert_int_equal(r.preserve_ttl, 1);
    assert_int_equal(reqs(DV_OP_REPLACE, "50 13 02 00 64", &r), DV_STATUS_SUCCESS);
    assert_int_equal(r.preserve_ttl, 1);
    assert_int_equal(r.durability_level, 2);
    assert_int_equal(r.durability_timeout, 100);
    assert_int_equal(reqs(DV_OP_ADD, "50", &r), DV_STATUS_NOT_SUPPORTED);
    assert_int_equal(reqs(DV_OP_TOUCH, "50", &r), DV_STATUS_NOT_SUPPORTED);
    assert_int_equal(reqs(DV_OP_GET, "50", &r), DV_STATUS_NOT_SUPPORTED);
    assert_int_equal(reqs(DV_OP_SET, "51 00", &r), DV_STATUS_EINVAL);

    /* Unknown and retired ids. */
    assert_int_equal(reqs(DV_OP_GET, "80", &r), DV_STATUS_UNKNOWN_FRAME_INFO);
    assert_int_equal(reqs(DV_OP_GET, "30", &r), DV_STATUS_UNKNOWN_FRAME_INFO);
    assert_int_equal(reqs(DV_OP_GET, "f0 00", &r), DV_STATUS_UNKNOWN_FRAME_INFO);
    assert_int_equal(reqs(DV_OP_SET, "13 01 23 28 f1 05 aa", &r), DV_STATUS_UNKNOWN_FRAME_INFO);

    /* Barrier, impersonation, DCP stream id, token. */
    assert_int_equal(reqs(DV_OP_GET, "00", &r), DV_STATUS_SUCCESS);
    assert_int_equal(r.barrier, 1);
    assert_int_equal(reqs(DV_OP_GET, "01 00", &r), DV_STATUS_EINVAL);
    static const uint8_t imp[] = {0x43, 'b', 'o', 'b', 0x62, 'a', 'b'};
    assert_int_equal(dv_frame_reqs_parse(DV_OP_GET, imp, sizeof imp, &r), DV_STATUS_SUCCESS);
    assert_int_equal(r.impersonate_len, 3);
    assert_true(r.impersonate == imp + 1);
    assert_int_equal(r.extra_privileges, 1);
    assert_int_equal(reqs(DV_OP_GET, "40", &r), DV_STATUS_EINVAL);
    assert_int_equal(reqs(DV_OP_GET, "60", &r), DV_STATUS_EINVAL);
    assert_int_equal(reqs(DV_OP_GET, "22 00 01", &r), DV_STATUS_EINVAL);
    assert_int_equal(reqs(DV_OP_GET, "72 00 05", &r), DV_STATUS_SUCCESS);
    assert_int_equal(r.has_impersonate_token, 1);
    assert_int_equal(r.impersonate_token, 5);
    assert_int_equal(reqs(DV_OP_GET, "71 00", &r), DV_STATUS_EINVAL);

    /* dv_durability_check on its own. */
    uint8_t lv;
    uint16_t t;
    static const uint8_t d1[] = {3};
    assert_int_equal(dv_durability_check(d1, 1, &lv, &t), DV_STATUS_SUCCESS);
    assert_int_equal(lv, 3);
    assert_int_equal(t, 0);
    assert_int_equal(dv_durability_check(d1, 2, &lv, &t), DV_STATUS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(examples_encode),  cmocka_unit_test(escapes_round_trip),
        cmocka_unit_test(iterate_several),  cmocka_unit_test(truncated),
        cmocka_unit_test(duration_samples), cmocka_unit_test(server_duration_of_response),
        cmocka_unit_test(validation),
    };
    return TU_RUN(tests);
}
