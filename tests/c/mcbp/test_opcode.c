/* Names, the extras table of §2.1, the server's request checks, status meaning and retries. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mcbp/frame.h"
#include "mcbp/opcode.h"

static void names(void **state)
{
    (void)state;
    assert_string_equal(dv_opcode_name(DV_OP_GET), "GET");
    assert_string_equal(dv_opcode_name(0xd1), "SUBDOC_MULTI_MUTATION");
    assert_string_equal(dv_opcode_name(0xfe), "GET_ERROR_MAP");
    assert_null(dv_opcode_name(0x50));
    assert_string_equal(dv_status_name(0x01), "KEY_ENOENT");
    assert_string_equal(dv_status_name(0x80), "UNKNOWN_FRAME_INFO");
    assert_string_equal(dv_status_name(0xd8), "SUBDOC_FIELD_NOT_BINARY_VALUE");
    assert_null(dv_status_name(0x4242));
    assert_string_equal(dv_feature_name(0x07), "XERROR");
    assert_string_equal(dv_feature_name(0x12), "COLLECTIONS");
    assert_null(dv_feature_name(0x99));
    assert_string_equal(dv_server_opcode_name(0x01), "CLUSTERMAP_CHANGE");
    assert_null(dv_server_opcode_name(0x77));
}

/* Every opcode of DV_OPCODES has a row with at least one valid request extras length. */
static void table_complete(void **state)
{
    (void)state;
    int rows = 0;
    for (unsigned op = 0; op < 256; op++) {
        const dv_opcode_info *oi = dv_opcode_info_get((uint8_t)op);
        if (!dv_opcode_name((uint8_t)op)) {
            assert_null(oi);
            continue;
        }
        assert_non_null(oi);
        assert_string_equal(oi->name, dv_opcode_name((uint8_t)op));
        assert_true(oi->req_extras != 0);
        assert_false((oi->flags & DV_OPF_KEY) && (oi->flags & DV_OPF_NO_KEY));
        rows++;
    }
    assert_true(rows > 60);
}

static void extras_lengths(void **state)
{
    (void)state;
    static const struct {
        uint8_t op;
        const char *ok, *bad; /* lists of lengths, terminated by 255 */
    } rows[] = {
        {DV_OP_GET, "\x00\xff", "\x04\x08\xff"},
        {DV_OP_SET, "\x08\xff", "\x00\x04\x10\xff"},
        {DV_OP_ADD, "\x08\xff", "\x00\xff"},
        {DV_OP_DELETE, "\x00\xff", "\x08\xff"},
        {DV_OP_INCREMENT, "\x14\xff", "\x00\x10\x13\x15\xff"},
        {DV_OP_TOUCH, "\x04\xff", "\x00\x08\xff"},
        {DV_OP_GAT, "\x04\xff", "\x00\xff"},
        {DV_OP_GET_LOCKED, "\x00\x04\xff", "\x08\xff"},
        {DV_OP_GET_META, "\x00\x01\xff", "\x02\x15\xff"},
        {DV_OP_GET_CLUSTER_CONFIG, "\x00\x10\xff", "\x08\xff"},
        {DV_OP_GET_COLLECTION_ID, "\x00\xff", "\x0c\xff"},
        {DV_OP_SUBDOC_GET, "\x03\x04\xff", "\x00\x07\x0b\xff"},
        {DV_OP_SUBDOC_DICT_UPSERT, "\x03\x04\x07\x08\x0b\x0c\xff", "\x00\x05\x09\x0d\xff"},
        {DV_OP_SUBDOC_MULTI_LOOKUP, "\x00\x01\xff", "\x04\xff"},
        {DV_OP_SUBDOC_MULTI_MUTATION, "\x00\x01\x04\x05\x08\x09\xff",
         "\x02\x03\x06\x07\x0a\x0c\x10\xff"},
        {DV_OP_HELLO, "\x00\xff", "\x01\xff"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        for (const char *p = rows[i].ok; (uint8_t)*p != 0xff; p++)
            assert_true(dv_request_extras_ok(rows[i].op, (uint8_t)*p));
        for (const char *p = rows[i].bad; (uint8_t)*p != 0xff; p++)
            assert_false(dv_request_extras_ok(rows[i].op, (uint8_t)*p));
    }
    assert_false(dv_request_extras_ok(DV_OP_SET, 1000));
    assert_false(dv_request_extras_ok(0x50, 0));

    /* Successful responses. */
    assert_true(dv_response_extras_ok(DV_OP_GET, 0, 4));
    assert_false(dv_response_extras_ok(DV_OP_GET, 0, 0));
    assert_true(dv_response_extras_ok(DV_OP_SET, 0, 0));
    assert_true(dv_response_extras_ok(DV_OP_SET, 0, 16));
    assert_false(dv_response_extras_ok(DV_OP_SET, 0, 8));
    assert_true(dv_response_extras_ok(DV_OP_GET_META, 0, 21));
    assert_true(dv_response_extras_ok(DV_OP_GET_META, 0, 20));
    assert_false(dv_response_extras_ok(DV_OP_GET_META, 0, 1));
    assert_true(dv_response_extras_ok(DV_OP_GET_COLLECTION_ID, 0, 12));
    assert_false(dv_response_extras_ok(DV_OP_GET_COLLECTION_ID, 0, 0));
    assert_true(dv_response_extras_ok(DV_OP_SUBDOC_MULTI_MUTATION, 0xcd, 16));
    assert_true(dv_response_extras_ok(DV_OP_SUBDOC_MULTI_MUTATION, 0xcc, 0));
    assert_true(dv_response_extras_ok(DV_OP_INCREMENT, 0, 16));
    /* Errors carry no extras. */
    assert_true(dv_response_extras_ok(DV_OP_GET, DV_STATUS_KEY_ENOENT, 0));
    assert_false(dv_response_extras_ok(DV_OP_GET, DV_STATUS_KEY_ENOENT, 4));
}

/* Build a request from parts and check it. */
static dv_status check(uint8_t magic, uint8_t op, uint8_t datatype, const char *fe_hex,
                       size_t extlen, const char *key_hex, size_t value_len, int collections,
                       dv_request_info *ri)
{
    static uint8_t zeros[64];
    size_t fe_n = 0, key_n = 0;
    uint8_t *fe = tu_hex(fe_hex, &fe_n);
    uint8_t *key = tu_hex(key_hex, &key_n);
    dv_frame f = {.magic = magic,
                  .opcode = op,
                  .datatype = datatype,
                  .framing = fe_n ? fe : NULL,
                  .framing_len = fe_n,
                  .extras = extlen ? zeros : NULL,
                  .extras_len = extlen,
                  .value = value_len ? zeros : NULL,
                  .value_len = value_len};
    /* Keys go through encode/decode so that the views are realistic. */
    dv_buf b = DV_BUF_INIT;
    f.key = key_n ? key : NULL;
    f.key_len = key_n;
    assert_int_equal(dv_frame_encode(&b, &f), DV_MCBP_OK);
    dv_frame g;
    size_t used;
    assert_int_equal(dv_frame_decode(dv_buf_head(&b), dv_buf_size(&b), 1 << 20, &g, &used),
                     DV_MCBP_OK);
    dv_status st = dv_request_check(&g, collections, ri);
    if (ri && st == DV_STATUS_SUCCESS && ri->user_key_len) {
        /* Copy the user key out before the buffer goes. */
        static uint8_t user[300];
        memcpy(user, ri->user_key, ri->user_key_len);
        ri->user_key = user;
    }
    dv_buf_free(&b);
    free(fe);
    free(key);
    return st;
}

static void request_checks(void **state)
{
    (void)state;
    dv_request_info ri;
    /* The §2.9 requests pass. */
    assert_int_equal(check(0x80, DV_OP_GET, 0, "", 0, "00 66 6f 6f", 0, 1, &ri), DV_STATUS_SUCCESS);
    assert_int_equal(ri.cid, 0);
    assert_int_equal(ri.user_key_len, 3);
    assert_memory_equal(ri.user_key, "foo", 3);
    assert_int_equal(check(0x80, DV_OP_SET, 1, "13 01 23 28", 8, "00 66 6f 6f", 7, 1, &ri),
                     DV_STATUS_SUCCESS);
    assert_int_equal(ri.fr.durability_level, 1);
    assert_int_equal(ri.fr.durability_timeout, 9000);
    assert_int_equal(check(0x80, DV_OP_INCREMENT, 0, "", 20, "08 63 6f 75 6e 74 65 72", 0, 1, &ri),
                     DV_STATUS_SUCCESS);
    assert_int_equal(ri.cid, 8);
    assert_memory_equal(ri.user_key, "counter", 7);
    assert_int_equal(check(0x80, DV_OP_GET_COLLECTION_ID, 0, "", 0, "", 17, 1, &ri),
                     DV_STATUS_SUCCESS);
    assert_int_equal(check(0x80, DV_OP_SASL_AUTH, 0, "", 0, "50 4c 41 49 4e", 23, 1, &ri),
                     DV_STATUS_SUCCESS);
    /* Without collections the whole key is the user key. */
    assert_int_equal(check(0x80, DV_OP_GET, 0, "", 0, "08 63", 0, 0, &ri), DV_STATUS_SUCCESS);
    assert_int_equal(ri.cid, 0);
    assert_int_equal(ri.user_key_len, 2);

    /* Failures. */
    assert_int_equal(check(0x81, DV_OP_GET, 0, "", 0, "00 66", 0, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x82, DV_OP_GET, 0, "", 0, "00 66", 0, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x80, 0x50, 0, "", 0, "", 0, 1, NULL), DV_STATUS_UNKNOWN_COMMAND);
    assert_int_equal(check(0x80, DV_OP_ADD, 0, "50", 8, "00 66", 1, 1, NULL),
                     DV_STATUS_NOT_SUPPORTED);
    assert_int_equal(check(0x80, DV_OP_GET, 0, "11 01", 0, "00 66", 0, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x80, DV_OP_SET, 0, "11 07", 8, "00 66", 0, 1, NULL),
                     DV_STATUS_DURABILITY_INVALID_LEVEL);
    assert_int_equal(check(0x80, DV_OP_GET, 0, "", 4, "00 66", 0, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x80, DV_OP_SET, 0, "", 0, "00 66", 1, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x80, DV_OP_SET, 0x08, "", 8, "00 66", 1, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x80, DV_OP_SET, 0x07, "", 8, "00 66", 1, 1, NULL), DV_STATUS_SUCCESS);
    assert_int_equal(check(0x80, DV_OP_GET, 0, "", 0, "", 0, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x80, DV_OP_GET, 0, "", 0, "00", 0, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x80, DV_OP_GET, 0, "", 0, "80", 0, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x80, DV_OP_GET, 0, "", 0, "81 00 66", 0, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x80, DV_OP_GET, 0, "", 0, "00 66", 3, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x80, DV_OP_NOOP, 0, "", 0, "66", 0, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x80, DV_OP_NOOP, 0, "", 0, "", 1, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x80, DV_OP_SELECT_BUCKET, 0, "", 0, "", 0, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x80, DV_OP_OBSERVE_SEQNO, 0, "", 0, "", 8, 1, NULL), DV_STATUS_SUCCESS);
    assert_int_equal(check(0x80, DV_OP_OBSERVE_SEQNO, 0, "", 0, "", 7, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x80, DV_OP_GET_ERROR_MAP, 0, "", 0, "", 2, 1, NULL), DV_STATUS_SUCCESS);
    assert_int_equal(check(0x80, DV_OP_GET_ERROR_MAP, 0, "", 0, "", 0, 1, NULL), DV_STATUS_EINVAL);
    assert_int_equal(check(0x80, DV_OP_HELLO, 0, "", 0, "61", 4, 1, NULL), DV_STATUS_SUCCESS);
    assert_int_equal(check(0x80, DV_OP_HELLO, 0, "", 0, "61", 5, 1, NULL), DV_STATUS_EINVAL);

    /* User keys of at most 250 bytes, after the prefix. */
    char hex[3 * 260 + 8];
    for (size_t len = 249; len <= 252; len++) {
        size_t o = 0;
        o += (size_t)snprintf(hex + o, sizeof hex - o, "08 ");
        for (size_t i = 0; i < len; i++) o += (size_t)snprintf(hex + o, sizeof hex - o, "61 ");
        dv_status want = len <= 250 ? DV_STATUS_SUCCESS : DV_STATUS_EINVAL;
        assert_int_equal(check(0x80, DV_OP_GET, 0, "", 0, hex, 0, 1, NULL), want);
    }
}

static void status_errors(void **state)
{
    (void)state;
    assert_int_equal(dv_mcbp_status_error(DV_OP_GET, 0x00), DV_ERR_OK);
    assert_int_equal(dv_mcbp_status_error(DV_OP_GET, 0x01), DV_ERR_DOCUMENT_NOT_FOUND);
    assert_int_equal(dv_mcbp_status_error(DV_OP_ADD, 0x02), DV_ERR_DOCUMENT_EXISTS);
    assert_int_equal(dv_mcbp_status_error(DV_OP_ADDQ, 0x02), DV_ERR_DOCUMENT_EXISTS);
    assert_int_equal(dv_mcbp_status_error(DV_OP_SET, 0x02), DV_ERR_CAS_MISMATCH);
    assert_int_equal(dv_mcbp_status_error(DV_OP_REPLACE, 0x02), DV_ERR_CAS_MISMATCH);
    assert_int_equal(dv_mcbp_status_error(DV_OP_ADD, 0x05), DV_ERR_DOCUMENT_EXISTS);
    assert_int_equal(dv_mcbp_status_error(DV_OP_APPEND, 0x05), DV_ERR_DOCUMENT_NOT_FOUND);
    assert_int_equal(dv_mcbp_status_error(DV_OP_UNLOCK_KEY, 0x09), DV_ERR_CAS_MISMATCH);
    assert_int_equal(dv_mcbp_status_error(DV_OP_SET, 0x09), DV_ERR_DOCUMENT_LOCKED);
    assert_int_equal(dv_mcbp_status_error(DV_OP_SELECT_BUCKET, 0x24), DV_ERR_BUCKET_NOT_FOUND);
    assert_int_equal(dv_mcbp_status_error(DV_OP_GET, 0x24), DV_ERR_AUTHENTICATION_FAILURE);
    assert_int_equal(dv_mcbp_status_error(DV_OP_GET, 0x03), DV_ERR_VALUE_TOO_LARGE);
    assert_int_equal(dv_mcbp_status_error(DV_OP_GET, 0x04), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_mcbp_status_error(DV_OP_INCREMENT, 0x06), DV_ERR_DELTA_INVALID);
    assert_int_equal(dv_mcbp_status_error(DV_OP_GET, 0x08), DV_ERR_BUCKET_NOT_FOUND);
    assert_int_equal(dv_mcbp_status_error(DV_OP_UNLOCK_KEY, 0x0e), DV_ERR_DOCUMENT_NOT_LOCKED);
    assert_int_equal(dv_mcbp_status_error(DV_OP_SASL_AUTH, 0x20), DV_ERR_AUTHENTICATION_FAILURE);
    assert_int_equal(dv_mcbp_status_error(DV_OP_GET, 0x81), DV_ERR_UNSUPPORTED_OPERATION);
    assert_int_equal(dv_mcbp_status_error(DV_OP_GET, 0x85), DV_ERR_TEMPORARY_FAILURE);
    assert_int_equal(dv_mcbp_status_error(DV_OP_GET, 0x88), DV_ERR_COLLECTION_NOT_FOUND);
    assert_int_equal(dv_mcbp_status_error(DV_OP_GET, 0x8c), DV_ERR_SCOPE_NOT_FOUND);
    assert_int_equal(dv_mcbp_status_error(DV_OP_SET, 0xa0), DV_ERR_DURABILITY_LEVEL_NOT_AVAILABLE);
    assert_int_equal(dv_mcbp_status_error(DV_OP_SET, 0xa1), DV_ERR_DURABILITY_IMPOSSIBLE);
    assert_int_equal(dv_mcbp_status_error(DV_OP_SET, 0xa3), DV_ERR_DURABILITY_AMBIGUOUS);
    assert_int_equal(dv_mcbp_status_error(DV_OP_SUBDOC_MULTI_LOOKUP, 0xc0), DV_ERR_PATH_NOT_FOUND);
    assert_int_equal(dv_mcbp_status_error(DV_OP_GET, 0x30), DV_ERR_RATE_LIMITED);
    assert_int_equal(dv_mcbp_status_error(DV_OP_GET, 0x34), DV_ERR_QUOTA_LIMITED);
    assert_int_equal(dv_mcbp_status_error(DV_OP_GET, 0xa8), DV_ERR_MUTATION_TOKEN_OUTDATED);
    assert_int_equal(dv_mcbp_status_error(DV_OP_GET, 0x4242), DV_ERR_PROTOCOL_ERROR);
}

static void retries(void **state)
{
    (void)state;
    assert_int_equal(dv_mcbp_status_retry(DV_OP_GET, 0x07), DV_RETRY_NOT_MY_VBUCKET);
    assert_int_equal(dv_mcbp_status_retry(DV_OP_SET, 0x09), DV_RETRY_LOCKED);
    assert_int_equal(dv_mcbp_status_retry(DV_OP_UNLOCK_KEY, 0x09), DV_RETRY_NONE);
    assert_int_equal(dv_mcbp_status_retry(DV_OP_GET, 0x86), DV_RETRY_TEMPORARY_FAILURE);
    assert_int_equal(dv_mcbp_status_retry(DV_OP_SET, 0xa2), DV_RETRY_SYNC_WRITE_IN_PROGRESS);
    assert_int_equal(dv_mcbp_status_retry(DV_OP_SET, 0xa4),
                     DV_RETRY_SYNC_WRITE_RE_COMMIT_IN_PROGRESS);
    assert_int_equal(dv_mcbp_status_retry(DV_OP_GET, 0x88), DV_RETRY_COLLECTION_OUTDATED);
    assert_int_equal(dv_mcbp_status_retry(DV_OP_GET, 0x0d), DV_RETRY_CONFIG_ONLY);
    /* Not retried: EBUSY, ENOMEM, NOT_INITIALIZED, and the plain failures. */
    static const uint16_t none[] = {0x00, 0x01, 0x02, 0x04, 0x0e, 0x1f, 0x24, 0x25,
                                    0x82, 0x85, 0x8c, 0xa0, 0xa1, 0xa3, 0xc0};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        assert_int_equal(dv_mcbp_status_retry(DV_OP_SET, none[i]), DV_RETRY_NONE);
    assert_string_equal(dv_retry_name(DV_RETRY_LOCKED), "key_value_locked");
    assert_string_equal(dv_retry_name(DV_RETRY_TEMPORARY_FAILURE), "key_value_temporary_failure");
    assert_string_equal(dv_retry_name(DV_RETRY_NONE), "do_not_retry");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),          cmocka_unit_test(table_complete),
        cmocka_unit_test(extras_lengths), cmocka_unit_test(request_checks),
        cmocka_unit_test(status_errors),  cmocka_unit_test(retries),
    };
    return TU_RUN(tests);
}
