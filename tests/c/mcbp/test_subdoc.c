#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mcbp/protocol.h"
#include "mcbp/subdoc.h"

#define SPEC(op, fl, p)                                                                            \
    {                                                                                              \
        (op), (fl), (p), sizeof(p) - 1, NULL, 0                                                    \
    }
#define MSPEC(op, fl, p, v)                                                                        \
    {                                                                                              \
        (op), (fl), (p), sizeof(p) - 1, (const uint8_t *)(v), sizeof(v) - 1                        \
    }

/* Compare a dv_buf's content with a hex dump. */
static void assert_buf_hex(const dv_buf *b, const char *hex)
{
    tu_assert_hex(dv_buf_head(b), dv_buf_size(b), hex);
}

static dv_status lookup_status(const uint8_t *p, size_t len)
{
    dv_subdoc_spec out[DV_SUBDOC_MAX_SPECS];
    size_t n;
    const char *why = NULL;
    dv_status st = dv_subdoc_lookup_decode(p, len, out, &n, &why);
    if (st != DV_STATUS_SUCCESS) assert_non_null(why);
    return st;
}

static dv_status mutation_status(const uint8_t *p, size_t len)
{
    dv_subdoc_spec out[DV_SUBDOC_MAX_SPECS];
    size_t n;
    const char *why = NULL;
    dv_status st = dv_subdoc_mutation_decode(p, len, out, &n, &why);
    if (st != DV_STATUS_SUCCESS) assert_non_null(why);
    return st;
}

/* Encode specs, decode them back, and return the decode status (the encoding must succeed). */
static dv_status roundtrip_status(int mutation, const dv_subdoc_spec *specs, size_t n)
{
    dv_buf b = DV_BUF_INIT;
    dv_error e =
        mutation ? dv_subdoc_mutation_encode(&b, specs, n) : dv_subdoc_lookup_encode(&b, specs, n);
    assert_int_equal(e, DV_ERR_OK);
    dv_status st = mutation ? mutation_status(dv_buf_head(&b), dv_buf_size(&b))
                            : lookup_status(dv_buf_head(&b), dv_buf_size(&b));
    /* The client-side check agrees with the server-side decoder. */
    assert_int_equal(dv_subdoc_specs_check(mutation, specs, n, NULL), st);
    dv_buf_free(&b);
    return st;
}

/* ---- request specs ---- */

/* What the official core sends for get(with_expiry) (Node SDK 4.7.1 / cxx 1.3.2). */
static void lookup_exptime_then_doc_bytes(void **state)
{
    (void)state;
    dv_subdoc_spec specs[] = {
        SPEC(DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_XATTR, "$document.exptime"),
        SPEC(DV_SUBDOC_OP_GET_DOC, 0, ""),
    };
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_subdoc_lookup_encode(&b, specs, 2), DV_ERR_OK);
    assert_buf_hex(&b, "c5 04 00 11 24 64 6f 63 75 6d 65 6e 74 2e 65 78 70 74 69 6d 65"
                       "00 00 00 00");

    dv_subdoc_spec out[DV_SUBDOC_MAX_SPECS];
    size_t n = 0;
    assert_int_equal(dv_subdoc_lookup_decode(dv_buf_head(&b), dv_buf_size(&b), out, &n, NULL),
                     DV_STATUS_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].opcode, DV_OP_SUBDOC_GET);
    assert_int_equal(out[0].flags, DV_SUBDOC_PATH_XATTR);
    assert_int_equal(out[0].path_len, 17);
    assert_memory_equal(out[0].path, "$document.exptime", 17);
    assert_int_equal(out[0].value_len, 0);
    assert_int_equal(out[1].opcode, DV_SUBDOC_OP_GET_DOC);
    assert_int_equal(out[1].flags, 0);
    assert_int_equal(out[1].path_len, 0);
    /* Views point into the input. */
    assert_ptr_equal(out[0].path, (const char *)dv_buf_head(&b) + 4);
    dv_buf_free(&b);
}

/* cxx HEAD: [$document.flags, $document.exptime, GET ""]. */
static void lookup_flags_exptime_doc_bytes(void **state)
{
    (void)state;
    dv_subdoc_spec specs[] = {
        SPEC(DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_XATTR, "$document.flags"),
        SPEC(DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_XATTR, "$document.exptime"),
        SPEC(DV_SUBDOC_OP_GET_DOC, 0, ""),
    };
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_subdoc_lookup_encode(&b, specs, 3), DV_ERR_OK);
    assert_buf_hex(&b, "c5 04 00 0f 24 64 6f 63 75 6d 65 6e 74 2e 66 6c 61 67 73"
                       "c5 04 00 11 24 64 6f 63 75 6d 65 6e 74 2e 65 78 70 74 69 6d 65"
                       "00 00 00 00");
    assert_int_equal(lookup_status(dv_buf_head(&b), dv_buf_size(&b)), DV_STATUS_SUCCESS);
    dv_buf_free(&b);
}

static void mutation_bytes_and_roundtrip(void **state)
{
    (void)state;
    dv_subdoc_spec specs[] = {
        MSPEC(DV_OP_SUBDOC_DICT_UPSERT, DV_SUBDOC_PATH_MKDIR_P, "a.b", "1"),
        MSPEC(DV_OP_SUBDOC_COUNTER, 0, "n", "5"),
        MSPEC(DV_OP_SUBDOC_DELETE, 0, "x", ""),
    };
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_subdoc_mutation_encode(&b, specs, 3), DV_ERR_OK);
    assert_buf_hex(&b, "c8 01 00 03 00 00 00 01 61 2e 62 31"
                       "cf 00 00 01 00 00 00 01 6e 35"
                       "c9 00 00 01 00 00 00 00 78");
    dv_subdoc_spec out[DV_SUBDOC_MAX_SPECS];
    size_t n = 0;
    assert_int_equal(dv_subdoc_mutation_decode(dv_buf_head(&b), dv_buf_size(&b), out, &n, NULL),
                     DV_STATUS_SUCCESS);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(out[i].opcode, specs[i].opcode);
        assert_int_equal(out[i].flags, specs[i].flags);
        assert_int_equal(out[i].path_len, specs[i].path_len);
        assert_memory_equal(out[i].path, specs[i].path, specs[i].path_len);
        assert_int_equal(out[i].value_len, specs[i].value_len);
        if (specs[i].value_len)
            assert_memory_equal(out[i].value, specs[i].value, specs[i].value_len);
    }
    /* Re-encoding the decoded views gives the same bytes. */
    dv_buf b2 = DV_BUF_INIT;
    assert_int_equal(dv_subdoc_mutation_encode(&b2, out, n), DV_ERR_OK);
    assert_int_equal(dv_buf_size(&b2), dv_buf_size(&b));
    assert_memory_equal(dv_buf_head(&b2), dv_buf_head(&b), dv_buf_size(&b));
    dv_buf_free(&b2);
    dv_buf_free(&b);
}

static void whole_doc_mutations(void **state)
{
    (void)state;
    /* xattr upsert with macro expansion, then a whole-document set: what insert-with-xattr
     * looks like. */
    dv_subdoc_spec ok[] = {
        MSPEC(DV_OP_SUBDOC_DICT_UPSERT, DV_SUBDOC_PATH_XATTR | DV_SUBDOC_PATH_EXPAND_MACROS,
              "txn.cas", "\"${Mutation.CAS}\""),
        MSPEC(DV_SUBDOC_OP_SET_DOC, 0, "", "{}"),
    };
    assert_int_equal(roundtrip_status(1, ok, 2), DV_STATUS_SUCCESS);
    dv_subdoc_spec del[] = {
        MSPEC(DV_OP_SUBDOC_DICT_UPSERT, DV_SUBDOC_PATH_XATTR, "x", "1"),
        MSPEC(DV_SUBDOC_OP_DELETE_DOC, 0, "", ""),
    };
    assert_int_equal(roundtrip_status(1, del, 2), DV_STATUS_SUCCESS);
    /* A whole-document delete is the only body spec. */
    dv_subdoc_spec del_then[] = {
        MSPEC(DV_SUBDOC_OP_DELETE_DOC, 0, "", ""),
        MSPEC(DV_OP_SUBDOC_DICT_UPSERT, DV_SUBDOC_PATH_XATTR, "x", "1"),
    };
    assert_int_equal(roundtrip_status(1, del_then, 2), DV_STATUS_SUBDOC_INVALID_COMBO);
    dv_subdoc_spec body_then_del[] = {
        MSPEC(DV_OP_SUBDOC_DICT_UPSERT, 0, "x", "1"),
        MSPEC(DV_SUBDOC_OP_DELETE_DOC, 0, "", ""),
    };
    assert_int_equal(roundtrip_status(1, body_then_del, 2), DV_STATUS_SUBDOC_INVALID_COMBO);
    /* Whole-document set with a path. */
    dv_subdoc_spec set_path[] = {MSPEC(DV_SUBDOC_OP_SET_DOC, 0, "a", "{}")};
    assert_int_equal(roundtrip_status(1, set_path, 1), DV_STATUS_EINVAL);
}

static void spec_count_limits(void **state)
{
    (void)state;
    dv_subdoc_spec specs[DV_SUBDOC_MAX_SPECS + 1];
    for (size_t i = 0; i < DV_SUBDOC_MAX_SPECS + 1; i++)
        specs[i] = (dv_subdoc_spec)SPEC(DV_OP_SUBDOC_GET, 0, "a");
    assert_int_equal(roundtrip_status(0, specs, 16), DV_STATUS_SUCCESS);
    assert_int_equal(roundtrip_status(0, specs, 17), DV_STATUS_SUBDOC_INVALID_COMBO);
    for (size_t i = 0; i < DV_SUBDOC_MAX_SPECS + 1; i++)
        specs[i] = (dv_subdoc_spec)MSPEC(DV_OP_SUBDOC_DICT_UPSERT, 0, "a", "1");
    assert_int_equal(roundtrip_status(1, specs, 16), DV_STATUS_SUCCESS);
    assert_int_equal(roundtrip_status(1, specs, 17), DV_STATUS_SUBDOC_INVALID_COMBO);
    /* No spec at all. */
    assert_int_equal(lookup_status(NULL, 0), DV_STATUS_SUBDOC_INVALID_COMBO);
    assert_int_equal(mutation_status(NULL, 0), DV_STATUS_SUBDOC_INVALID_COMBO);
    assert_int_equal(dv_subdoc_specs_check(0, specs, 0, NULL), DV_STATUS_SUBDOC_INVALID_COMBO);
    /* A 17th spec that is itself truncated still counts as too many specs. */
    dv_buf b = DV_BUF_INIT;
    for (size_t i = 0; i < DV_SUBDOC_MAX_SPECS; i++)
        specs[i] = (dv_subdoc_spec)SPEC(DV_OP_SUBDOC_GET, 0, "a");
    assert_int_equal(dv_subdoc_lookup_encode(&b, specs, 16), DV_ERR_OK);
    assert_int_equal(dv_buf_append_u8(&b, DV_OP_SUBDOC_GET), 0);
    assert_int_equal(lookup_status(dv_buf_head(&b), dv_buf_size(&b)),
                     DV_STATUS_SUBDOC_INVALID_COMBO);
    dv_buf_free(&b);
}

static void wrong_kind_of_opcode(void **state)
{
    (void)state;
    dv_subdoc_spec mut_in_lookup[] = {
        SPEC(DV_OP_SUBDOC_GET, 0, "a"),
        SPEC(DV_OP_SUBDOC_DELETE, 0, "b"),
    };
    assert_int_equal(roundtrip_status(0, mut_in_lookup, 2), DV_STATUS_SUBDOC_INVALID_COMBO);
    dv_subdoc_spec lookup_in_mut[] = {MSPEC(DV_OP_SUBDOC_EXISTS, 0, "a", "")};
    assert_int_equal(roundtrip_status(1, lookup_in_mut, 1), DV_STATUS_SUBDOC_INVALID_COMBO);
    dv_subdoc_spec doc_get_in_mut[] = {MSPEC(DV_SUBDOC_OP_GET_DOC, 0, "", "")};
    assert_int_equal(roundtrip_status(1, doc_get_in_mut, 1), DV_STATUS_SUBDOC_INVALID_COMBO);
    dv_subdoc_spec unknown[] = {SPEC(0xc4, 0, "a")};
    assert_int_equal(roundtrip_status(0, unknown, 1), DV_STATUS_SUBDOC_INVALID_COMBO);
    dv_subdoc_spec multi_in_multi[] = {SPEC(DV_OP_SUBDOC_MULTI_LOOKUP, 0, "a")};
    assert_int_equal(roundtrip_status(0, multi_in_multi, 1), DV_STATUS_SUBDOC_INVALID_COMBO);

    assert_true(dv_subdoc_is_lookup_op(DV_SUBDOC_OP_GET_DOC));
    assert_true(dv_subdoc_is_lookup_op(DV_OP_SUBDOC_GET_COUNT));
    assert_false(dv_subdoc_is_lookup_op(DV_OP_SUBDOC_COUNTER));
    assert_true(dv_subdoc_is_mutation_op(DV_SUBDOC_OP_DELETE_DOC));
    assert_true(dv_subdoc_is_mutation_op(DV_OP_SUBDOC_REPLACE_BODY_WITH_XATTR));
    assert_false(dv_subdoc_is_mutation_op(DV_OP_SUBDOC_EXISTS));
    assert_false(dv_subdoc_is_mutation_op(DV_OP_GET));
}

static void path_length_limit(void **state)
{
    (void)state;
    char *path = malloc(DV_SUBDOC_MAX_PATH_LEN + 1);
    assert_non_null(path);
    memset(path, 'p', DV_SUBDOC_MAX_PATH_LEN + 1);
    dv_subdoc_spec s = {DV_OP_SUBDOC_GET, 0, path, DV_SUBDOC_MAX_PATH_LEN, NULL, 0};
    assert_int_equal(roundtrip_status(0, &s, 1), DV_STATUS_SUCCESS);
    s.path_len = DV_SUBDOC_MAX_PATH_LEN + 1;
    assert_int_equal(roundtrip_status(0, &s, 1), DV_STATUS_SUBDOC_PATH_E2BIG);
    dv_subdoc_spec m = {DV_OP_SUBDOC_DICT_UPSERT, 0, path, DV_SUBDOC_MAX_PATH_LEN + 1,
                        (const uint8_t *)"1",     1};
    assert_int_equal(roundtrip_status(1, &m, 1), DV_STATUS_SUBDOC_PATH_E2BIG);
    free(path);
}

static void path_flags(void **state)
{
    (void)state;
    /* EXPAND_MACROS and BINARY_VALUE need XATTR_PATH. */
    dv_subdoc_spec macro[] = {
        MSPEC(DV_OP_SUBDOC_DICT_UPSERT, DV_SUBDOC_PATH_EXPAND_MACROS, "a", "\"${Mutation.CAS}\"")};
    assert_int_equal(roundtrip_status(1, macro, 1), DV_STATUS_SUBDOC_XATTR_INVALID_FLAG_COMBO);
    dv_subdoc_spec binary[] = {
        MSPEC(DV_OP_SUBDOC_DICT_UPSERT, DV_SUBDOC_PATH_BINARY_VALUE, "a", "\x01\x02")};
    assert_int_equal(roundtrip_status(1, binary, 1), DV_STATUS_SUBDOC_XATTR_INVALID_FLAG_COMBO);
    dv_subdoc_spec lookup_binary[] = {SPEC(DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_BINARY_VALUE, "a")};
    assert_int_equal(roundtrip_status(0, lookup_binary, 1),
                     DV_STATUS_SUBDOC_XATTR_INVALID_FLAG_COMBO);
    dv_subdoc_spec lookup_macro[] = {SPEC(DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_EXPAND_MACROS, "a")};
    assert_int_equal(roundtrip_status(0, lookup_macro, 1),
                     DV_STATUS_SUBDOC_XATTR_INVALID_FLAG_COMBO);
    /* With XATTR_PATH they are fine where the opcode takes them. */
    dv_subdoc_spec xbinary[] = {
        SPEC(DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_XATTR | DV_SUBDOC_PATH_BINARY_VALUE, "x")};
    assert_int_equal(roundtrip_status(0, xbinary, 1), DV_STATUS_SUCCESS);
    /* ... and EINVAL where it does not. */
    dv_subdoc_spec xmacro_lookup[] = {
        SPEC(DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_XATTR | DV_SUBDOC_PATH_EXPAND_MACROS, "x")};
    assert_int_equal(roundtrip_status(0, xmacro_lookup, 1), DV_STATUS_EINVAL);
    dv_subdoc_spec mkdir_lookup[] = {SPEC(DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_MKDIR_P, "a")};
    assert_int_equal(roundtrip_status(0, mkdir_lookup, 1), DV_STATUS_EINVAL);
    /* Unknown bits. */
    dv_subdoc_spec unknown[] = {SPEC(DV_OP_SUBDOC_GET, 0x02, "a")};
    assert_int_equal(roundtrip_status(0, unknown, 1), DV_STATUS_EINVAL);
    dv_subdoc_spec unknown80[] = {SPEC(DV_OP_SUBDOC_GET, 0x80, "a")};
    assert_int_equal(roundtrip_status(0, unknown80, 1), DV_STATUS_EINVAL);
    /* Whole-document get takes no flags. */
    dv_subdoc_spec doc_xattr[] = {SPEC(DV_SUBDOC_OP_GET_DOC, DV_SUBDOC_PATH_XATTR, "")};
    assert_int_equal(roundtrip_status(0, doc_xattr, 1), DV_STATUS_EINVAL);
    /* REPLACE_BODY_WITH_XATTR requires XATTR_PATH. */
    dv_subdoc_spec rbwx[] = {MSPEC(DV_OP_SUBDOC_REPLACE_BODY_WITH_XATTR, 0, "x", "")};
    assert_int_equal(roundtrip_status(1, rbwx, 1), DV_STATUS_EINVAL);
    rbwx[0].flags = DV_SUBDOC_PATH_XATTR;
    assert_int_equal(roundtrip_status(1, rbwx, 1), DV_STATUS_SUCCESS);
}

static void paths_and_values(void **state)
{
    (void)state;
    dv_subdoc_spec doc_get_path[] = {SPEC(DV_SUBDOC_OP_GET_DOC, 0, "a")};
    assert_int_equal(roundtrip_status(0, doc_get_path, 1), DV_STATUS_EINVAL);
    dv_subdoc_spec get_empty[] = {SPEC(DV_OP_SUBDOC_GET, 0, "")};
    assert_int_equal(roundtrip_status(0, get_empty, 1), DV_STATUS_EINVAL);
    dv_subdoc_spec count_root[] = {SPEC(DV_OP_SUBDOC_GET_COUNT, 0, "")};
    assert_int_equal(roundtrip_status(0, count_root, 1), DV_STATUS_SUCCESS);
    dv_subdoc_spec xattr_empty[] = {SPEC(DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_XATTR, "")};
    assert_int_equal(roundtrip_status(0, xattr_empty, 1), DV_STATUS_XATTR_EINVAL);
    dv_subdoc_spec vattr_write[] = {
        MSPEC(DV_OP_SUBDOC_DICT_UPSERT, DV_SUBDOC_PATH_XATTR, "$document.exptime", "1")};
    assert_int_equal(roundtrip_status(1, vattr_write, 1), DV_STATUS_SUBDOC_XATTR_CANT_MODIFY_VATTR);
    dv_subdoc_spec no_value[] = {MSPEC(DV_OP_SUBDOC_DICT_UPSERT, 0, "a", "")};
    assert_int_equal(roundtrip_status(1, no_value, 1), DV_STATUS_EINVAL);
    dv_subdoc_spec value_on_delete[] = {MSPEC(DV_OP_SUBDOC_DELETE, 0, "a", "1")};
    assert_int_equal(roundtrip_status(1, value_on_delete, 1), DV_STATUS_EINVAL);
    dv_subdoc_spec push_root[] = {MSPEC(DV_OP_SUBDOC_ARRAY_PUSH_LAST, 0, "", "1")};
    assert_int_equal(roundtrip_status(1, push_root, 1), DV_STATUS_SUCCESS);
}

static void xattr_order(void **state)
{
    (void)state;
    dv_subdoc_spec bad[] = {
        SPEC(DV_OP_SUBDOC_GET, 0, "a"),
        SPEC(DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_XATTR, "x"),
    };
    assert_int_equal(roundtrip_status(0, bad, 2), DV_STATUS_SUBDOC_INVALID_XATTR_ORDER);
    dv_subdoc_spec doc_first[] = {
        SPEC(DV_SUBDOC_OP_GET_DOC, 0, ""),
        SPEC(DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_XATTR, "$document.exptime"),
    };
    assert_int_equal(roundtrip_status(0, doc_first, 2), DV_STATUS_SUBDOC_INVALID_XATTR_ORDER);
    dv_subdoc_spec mbad[] = {
        MSPEC(DV_OP_SUBDOC_DICT_UPSERT, 0, "a", "1"),
        MSPEC(DV_OP_SUBDOC_DICT_UPSERT, DV_SUBDOC_PATH_XATTR, "x", "1"),
    };
    assert_int_equal(roundtrip_status(1, mbad, 2), DV_STATUS_SUBDOC_INVALID_XATTR_ORDER);
    dv_subdoc_spec good[] = {
        SPEC(DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_XATTR, "x"),
        SPEC(DV_OP_SUBDOC_EXISTS, DV_SUBDOC_PATH_XATTR, "y"),
        SPEC(DV_OP_SUBDOC_GET, 0, "a"),
        SPEC(DV_OP_SUBDOC_GET_COUNT, 0, "b"),
    };
    assert_int_equal(roundtrip_status(0, good, 4), DV_STATUS_SUCCESS);
}

/* Every prefix of a valid request: SUCCESS exactly at spec boundaries, else EINVAL (none at
 * all: SUBDOC_INVALID_COMBO); and trailing bytes too short for a spec: EINVAL. */
static void truncated_requests(void **state)
{
    (void)state;
    dv_subdoc_spec lspecs[] = {
        SPEC(DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_XATTR, "$document.exptime"),
        SPEC(DV_OP_SUBDOC_EXISTS, 0, "a.b[0]"),
        SPEC(DV_SUBDOC_OP_GET_DOC, 0, ""),
    };
    dv_subdoc_spec mspecs[] = {
        MSPEC(DV_OP_SUBDOC_DICT_UPSERT, DV_SUBDOC_PATH_XATTR, "x", "{\"a\":1}"),
        MSPEC(DV_OP_SUBDOC_COUNTER, 0, "n", "-2"),
        MSPEC(DV_OP_SUBDOC_DELETE, 0, "gone", ""),
    };
    for (int mutation = 0; mutation < 2; mutation++) {
        const dv_subdoc_spec *specs = mutation ? mspecs : lspecs;
        dv_buf b = DV_BUF_INIT;
        size_t bounds[4] = {0};
        for (size_t i = 0; i < 3; i++) {
            dv_error e = mutation ? dv_subdoc_mutation_encode(&b, &specs[i], 1)
                                  : dv_subdoc_lookup_encode(&b, &specs[i], 1);
            assert_int_equal(e, DV_ERR_OK);
            bounds[i + 1] = dv_buf_size(&b);
        }
        size_t len = dv_buf_size(&b);
        for (size_t k = 0; k <= len; k++) {
            /* A copy of exactly k bytes, so that ASan sees any over-read. */
            uint8_t *copy = malloc(k ? k : 1);
            assert_non_null(copy);
            memcpy(copy, dv_buf_head(&b), k);
            dv_status st = mutation ? mutation_status(copy, k) : lookup_status(copy, k);
            free(copy);
            dv_status want = DV_STATUS_EINVAL;
            if (k == 0)
                want = DV_STATUS_SUBDOC_INVALID_COMBO;
            else if (k == bounds[1] || k == bounds[2] || k == bounds[3])
                want = DV_STATUS_SUCCESS;
            assert_int_equal(st, want);
        }
        for (size_t extra = 1; extra < (mutation ? 8u : 4u); extra++) {
            assert_int_equal(dv_buf_append_u8(&b, DV_OP_SUBDOC_GET), 0);
            dv_status st = mutation ? mutation_status(dv_buf_head(&b), dv_buf_size(&b))
                                    : lookup_status(dv_buf_head(&b), dv_buf_size(&b));
            assert_int_equal(st, DV_STATUS_EINVAL);
        }
        dv_buf_free(&b);
    }
    /* A spec that claims more path or value than there is. */
    size_t n;
    uint8_t *p = tu_hex("c5 00 00 05 61 62", &n);
    assert_int_equal(lookup_status(p, n), DV_STATUS_EINVAL);
    free(p);
    p = tu_hex("c8 00 00 01 ff ff ff ff 61 31", &n);
    assert_int_equal(mutation_status(p, n), DV_STATUS_EINVAL);
    free(p);
}

static void encoder_refuses_unrepresentable(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    dv_subdoc_spec value_in_lookup[] = {MSPEC(DV_OP_SUBDOC_GET, 0, "a", "1")};
    assert_int_equal(dv_subdoc_lookup_encode(&b, value_in_lookup, 1), DV_ERR_INVALID_ARGUMENT);
    static char big[70000];
    dv_subdoc_spec long_path = {DV_OP_SUBDOC_GET, 0, big, sizeof big, NULL, 0};
    assert_int_equal(dv_subdoc_lookup_encode(&b, &long_path, 1), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_buf_size(&b), 0);
    /* Nothing to encode is fine. */
    assert_int_equal(dv_subdoc_lookup_encode(&b, NULL, 0), DV_ERR_OK);
    assert_int_equal(dv_buf_size(&b), 0);
    dv_buf_free(&b);
}

/* ---- extras ---- */

static void mutation_extras_layouts(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        dv_subdoc_extras x;
    } cases[] = {
        {"", {0, 0, 0, 0, 0, 0}},
        {"01", {0, 0, 1, 0, 0, DV_SUBDOC_DOC_MKDOC}},
        {"00 00 0e 10", {1, 0, 0, 3600, 0, 0}},
        {"00 00 0e 10 02", {1, 0, 1, 3600, 0, DV_SUBDOC_DOC_ADD}},
        {"00 00 00 00 02 00 00 00", {1, 1, 0, 0, 0x02000000, 0}},
        {"00 00 00 0a 02 00 00 00 05", {1, 1, 1, 10, 0x02000000, 0x05}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        uint8_t *p = tu_hex(cases[i].hex, &n);
        dv_subdoc_extras x;
        assert_int_equal(dv_subdoc_mutation_extras_decode(p, n, &x, NULL), DV_STATUS_SUCCESS);
        assert_int_equal(x.has_expiry, cases[i].x.has_expiry);
        assert_int_equal(x.has_user_flags, cases[i].x.has_user_flags);
        assert_int_equal(x.has_doc_flags, cases[i].x.has_doc_flags);
        assert_int_equal(x.expiry, cases[i].x.expiry);
        assert_int_equal(x.user_flags, cases[i].x.user_flags);
        assert_int_equal(x.doc_flags, cases[i].x.doc_flags);
        dv_buf b = DV_BUF_INIT;
        assert_int_equal(dv_subdoc_mutation_extras_encode(&b, &cases[i].x), DV_ERR_OK);
        assert_int_equal(dv_buf_size(&b), n);
        if (n) assert_memory_equal(dv_buf_head(&b), p, n);
        dv_buf_free(&b);
        free(p);
    }
    /* Every other length is EINVAL. */
    uint8_t zeros[16] = {0};
    for (size_t len = 0; len <= sizeof zeros; len++) {
        dv_subdoc_extras x;
        int valid = len == 0 || len == 1 || len == 4 || len == 5 || len == 8 || len == 9;
        assert_int_equal(dv_subdoc_mutation_extras_decode(zeros, len, &x, NULL),
                         valid ? DV_STATUS_SUCCESS : DV_STATUS_EINVAL);
    }
    /* User flags without an expiry are written after a zero expiry. */
    dv_subdoc_extras flags_only = {0, 1, 0, 0, 0x02000000, 0};
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_subdoc_mutation_extras_encode(&b, &flags_only), DV_ERR_OK);
    assert_buf_hex(&b, "00 00 00 00 02 00 00 00");
    dv_buf_free(&b);
}

static void mutation_doc_flags(void **state)
{
    (void)state;
    static const struct {
        uint8_t flags;
        dv_status want;
    } cases[] = {
        {DV_SUBDOC_DOC_MKDOC, DV_STATUS_SUCCESS},
        {DV_SUBDOC_DOC_ADD, DV_STATUS_SUCCESS},
        {DV_SUBDOC_DOC_MKDOC | DV_SUBDOC_DOC_ADD, DV_STATUS_EINVAL},
        {DV_SUBDOC_DOC_ACCESS_DELETED, DV_STATUS_SUCCESS},
        {DV_SUBDOC_DOC_ADD | DV_SUBDOC_DOC_CREATE_AS_DELETED, DV_STATUS_SUCCESS},
        {DV_SUBDOC_DOC_CREATE_AS_DELETED, DV_STATUS_EINVAL},
        {DV_SUBDOC_DOC_ACCESS_DELETED | DV_SUBDOC_DOC_REVIVE_DOCUMENT, DV_STATUS_SUCCESS},
        {DV_SUBDOC_DOC_REVIVE_DOCUMENT, DV_STATUS_EINVAL},
        {DV_SUBDOC_DOC_REPLICA_READ, DV_STATUS_EINVAL},
        {0x40, DV_STATUS_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t ex[9] = {0, 0, 0, 0, 0, 0, 0, 0, cases[i].flags};
        dv_subdoc_extras x;
        const char *why = NULL;
        assert_int_equal(dv_subdoc_mutation_extras_decode(&ex[8], 1, &x, &why), cases[i].want);
        assert_int_equal(dv_subdoc_mutation_extras_decode(ex, 9, &x, NULL), cases[i].want);
        if (cases[i].want != DV_STATUS_SUCCESS) assert_non_null(why);
    }
}

static void lookup_extras(void **state)
{
    (void)state;
    uint8_t f = 0xff;
    assert_int_equal(dv_subdoc_lookup_extras_decode(NULL, 0, &f, NULL), DV_STATUS_SUCCESS);
    assert_int_equal(f, 0);
    uint8_t ad = DV_SUBDOC_DOC_ACCESS_DELETED, rr = DV_SUBDOC_DOC_REPLICA_READ;
    assert_int_equal(dv_subdoc_lookup_extras_decode(&ad, 1, &f, NULL), DV_STATUS_SUCCESS);
    assert_int_equal(f, DV_SUBDOC_DOC_ACCESS_DELETED);
    assert_int_equal(dv_subdoc_lookup_extras_decode(&rr, 1, &f, NULL), DV_STATUS_SUCCESS);
    uint8_t both = ad | rr, mkdoc = DV_SUBDOC_DOC_MKDOC, two[2] = {0, 0};
    assert_int_equal(dv_subdoc_lookup_extras_decode(&both, 1, &f, NULL), DV_STATUS_EINVAL);
    assert_int_equal(dv_subdoc_lookup_extras_decode(&mkdoc, 1, &f, NULL), DV_STATUS_EINVAL);
    assert_int_equal(dv_subdoc_lookup_extras_decode(two, 2, &f, NULL), DV_STATUS_EINVAL);
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_subdoc_lookup_extras_encode(&b, 0), DV_ERR_OK);
    assert_int_equal(dv_buf_size(&b), 0);
    assert_int_equal(dv_subdoc_lookup_extras_encode(&b, DV_SUBDOC_DOC_REPLICA_READ), DV_ERR_OK);
    assert_buf_hex(&b, "20");
    dv_buf_free(&b);
}

static void single_path_requests(void **state)
{
    (void)state;
    const uint8_t body[] = "a.bvalue";
    /* Mutation: every valid extras length, and the others. */
    for (size_t len = 0; len <= 14; len++) {
        uint8_t ex[14] = {0x00, 0x03, DV_SUBDOC_PATH_MKDIR_P};
        int valid = len == 3 || len == 4 || len == 7 || len == 8 || len == 11 || len == 12;
        dv_subdoc_single s;
        assert_int_equal(
            dv_subdoc_single_decode(DV_OP_SUBDOC_DICT_UPSERT, ex, len, body, 8, &s, NULL),
            valid ? DV_STATUS_SUCCESS : DV_STATUS_EINVAL);
        if (!valid) continue;
        assert_int_equal(s.spec.opcode, DV_OP_SUBDOC_DICT_UPSERT);
        assert_int_equal(s.spec.flags, DV_SUBDOC_PATH_MKDIR_P);
        assert_int_equal(s.spec.path_len, 3);
        assert_memory_equal(s.spec.path, "a.b", 3);
        assert_int_equal(s.spec.value_len, 5);
        assert_memory_equal(s.spec.value, "value", 5);
    }
    /* Lookup: only 3 or 4. */
    for (size_t len = 0; len <= 12; len++) {
        uint8_t ex[12] = {0x00, 0x08};
        int valid = len == 3 || len == 4;
        dv_subdoc_single s;
        assert_int_equal(dv_subdoc_single_decode(DV_OP_SUBDOC_GET, ex, len, body, 8, &s, NULL),
                         valid ? DV_STATUS_SUCCESS : DV_STATUS_EINVAL);
    }
    /* Extras with every field, built by the encoder. */
    dv_subdoc_extras x = {1, 1, 1, 60, 0x02000000, DV_SUBDOC_DOC_MKDOC};
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_subdoc_single_extras_encode(&b, 3, 0, &x), DV_ERR_OK);
    assert_buf_hex(&b, "00 03 00  00 00 00 3c  02 00 00 00  01");
    dv_subdoc_single s;
    assert_int_equal(dv_subdoc_single_decode(DV_OP_SUBDOC_COUNTER, dv_buf_head(&b), dv_buf_size(&b),
                                             (const uint8_t *)"a.b5", 4, &s, NULL),
                     DV_STATUS_SUCCESS);
    assert_int_equal(s.x.expiry, 60);
    assert_int_equal(s.x.user_flags, 0x02000000);
    assert_int_equal(s.x.doc_flags, DV_SUBDOC_DOC_MKDOC);
    dv_buf_free(&b);

    uint8_t ex[4] = {0x00, 0x09, 0x00, DV_SUBDOC_DOC_MKDOC | DV_SUBDOC_DOC_ADD};
    /* Path longer than the body. */
    assert_int_equal(dv_subdoc_single_decode(DV_OP_SUBDOC_GET, ex, 3, body, 8, &s, NULL),
                     DV_STATUS_EINVAL);
    /* MKDOC with ADD. */
    ex[1] = 3;
    assert_int_equal(dv_subdoc_single_decode(DV_OP_SUBDOC_DICT_UPSERT, ex, 4, body, 8, &s, NULL),
                     DV_STATUS_EINVAL);
    /* A lookup with a value, a lookup with mutation doc flags. */
    assert_int_equal(dv_subdoc_single_decode(DV_OP_SUBDOC_GET, ex, 3, body, 8, &s, NULL),
                     DV_STATUS_EINVAL);
    assert_int_equal(dv_subdoc_single_decode(DV_OP_SUBDOC_GET, ex, 4, body, 3, &s, NULL),
                     DV_STATUS_EINVAL);
    assert_int_equal(dv_subdoc_single_decode(DV_OP_SUBDOC_GET, ex, 3, body, 3, &s, NULL),
                     DV_STATUS_SUCCESS);
    /* Not a single-path opcode. */
    assert_int_equal(dv_subdoc_single_decode(DV_OP_GET, ex, 3, body, 3, &s, NULL),
                     DV_STATUS_EINVAL);
    assert_int_equal(dv_subdoc_single_decode(DV_OP_SUBDOC_MULTI_LOOKUP, ex, 3, body, 3, &s, NULL),
                     DV_STATUS_EINVAL);
    /* Path flag rules apply. */
    ex[2] = DV_SUBDOC_PATH_EXPAND_MACROS;
    assert_int_equal(dv_subdoc_single_decode(DV_OP_SUBDOC_DICT_UPSERT, ex, 3, body, 8, &s, NULL),
                     DV_STATUS_SUBDOC_XATTR_INVALID_FLAG_COMBO);
    /* A path over the limit. */
    uint8_t *big = calloc(1, 1100);
    assert_non_null(big);
    uint8_t exl[3] = {0x04, 0x01, 0x00}; /* 1025 */
    assert_int_equal(dv_subdoc_single_decode(DV_OP_SUBDOC_GET, exl, 3, big, 1025, &s, NULL),
                     DV_STATUS_SUBDOC_PATH_E2BIG);
    free(big);
}

/* ---- responses ---- */

static void lookup_response_bytes(void **state)
{
    (void)state;
    dv_subdoc_result r[] = {
        {0, DV_STATUS_SUCCESS, (const uint8_t *)"1700000000", 10},
        {1, DV_STATUS_SUBDOC_PATH_ENOENT, NULL, 0},
        {2, DV_STATUS_SUCCESS, (const uint8_t *)"{\"a\":1}", 7},
    };
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_subdoc_lookup_res_encode(&b, r, 3), DV_ERR_OK);
    assert_buf_hex(&b, "00 00 00 00 00 0a 31 37 30 30 30 30 30 30 30 30"
                       "00 c0 00 00 00 00"
                       "00 00 00 00 00 07 7b 22 61 22 3a 31 7d");
    dv_subdoc_result out[DV_SUBDOC_MAX_SPECS];
    size_t n = 0;
    assert_int_equal(dv_subdoc_lookup_res_decode(dv_buf_head(&b), dv_buf_size(&b), out, 16, &n),
                     DV_ERR_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(out[i].index, i);
        assert_int_equal(out[i].status, r[i].status);
        assert_int_equal(out[i].value_len, r[i].value_len);
        if (r[i].value_len) assert_memory_equal(out[i].value, r[i].value, r[i].value_len);
    }
    /* More results than the caller has specs. */
    assert_int_equal(dv_subdoc_lookup_res_decode(dv_buf_head(&b), dv_buf_size(&b), out, 2, &n),
                     DV_ERR_PROTOCOL_ERROR);
    /* Every prefix: OK exactly at result boundaries. */
    size_t len = dv_buf_size(&b);
    for (size_t k = 0; k <= len; k++) {
        uint8_t *copy = malloc(k ? k : 1);
        assert_non_null(copy);
        memcpy(copy, dv_buf_head(&b), k);
        dv_error e = dv_subdoc_lookup_res_decode(copy, k, out, 16, &n);
        free(copy);
        int boundary = k == 0 || k == 16 || k == 22 || k == len;
        assert_int_equal(e, boundary ? DV_ERR_OK : DV_ERR_PROTOCOL_ERROR);
    }
    dv_buf_free(&b);
}

static void encoders_refuse_statuses_cxx_does_not_know(void **state)
{
    (void)state;
    static const uint16_t unknown[] = {0x0c, 0x0f, 0x26, 0x27, 0x28, 0x29, 0x35, 0x36,
                                       0x37, 0x38, 0x50, 0x51, 0xd8, 0xd9, 0x11, 0xffff};
    dv_buf b = DV_BUF_INIT;
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_false(dv_subdoc_status_known(unknown[i]));
        dv_subdoc_result r = {0, unknown[i], NULL, 0};
        assert_int_equal(dv_subdoc_lookup_res_encode(&b, &r, 1), DV_ERR_INVALID_ARGUMENT);
        assert_int_equal(
            dv_subdoc_mutation_res_encode(&b, DV_STATUS_SUBDOC_MULTI_PATH_FAILURE, &r, 1),
            DV_ERR_INVALID_ARGUMENT);
        /* The replacement is known and encodes. */
        uint16_t known = dv_subdoc_status_for_spec(unknown[i]);
        assert_true(dv_subdoc_status_known(known));
        r.status = known;
        assert_int_equal(dv_subdoc_lookup_res_encode(&b, &r, 1), DV_ERR_OK);
    }
    dv_buf_free(&b);
    assert_int_equal(dv_subdoc_status_for_spec(DV_STATUS_SUBDOC_FIELD_NOT_BINARY_VALUE),
                     DV_STATUS_SUBDOC_PATH_MISMATCH);
    assert_int_equal(dv_subdoc_status_for_spec(DV_STATUS_SUBDOC_PATH_ENOENT),
                     DV_STATUS_SUBDOC_PATH_ENOENT);
    /* Every table row outside the list is known; every replacement is known. */
#define DV_X_(name, code, desc, attrs, err)                                                        \
    if (code != 0x0c && code != 0x0f && !(code >= 0x26 && code <= 0x29) &&                         \
        !(code >= 0x35 && code <= 0x38) && code != 0x50 && code != 0x51 && code != 0xd8)           \
        assert_true(dv_subdoc_status_known(code));
    DV_STATUSES(DV_X_)
#undef DV_X_
    for (uint32_t s = 0; s <= 0xffff; s++)
        assert_true(dv_subdoc_status_known(dv_subdoc_status_for_spec((uint16_t)s)));
}

static void mutation_response_success(void **state)
{
    (void)state;
    dv_subdoc_result r[] = {
        {1, DV_STATUS_SUCCESS, (const uint8_t *)"42", 2},
        {3, DV_STATUS_SUCCESS, (const uint8_t *)"-1", 2},
    };
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_subdoc_mutation_res_encode(&b, DV_STATUS_SUCCESS, r, 2), DV_ERR_OK);
    assert_buf_hex(&b, "01 00 00 00 00 00 02 34 32  03 00 00 00 00 00 02 2d 31");
    dv_subdoc_result out[DV_SUBDOC_MAX_SPECS];
    size_t n = 0;
    assert_int_equal(dv_subdoc_mutation_res_decode(DV_STATUS_SUCCESS, dv_buf_head(&b),
                                                   dv_buf_size(&b), out, 16, &n),
                     DV_ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].index, 1);
    assert_int_equal(out[1].index, 3);
    assert_memory_equal(out[1].value, "-1", 2);
    assert_int_equal(dv_subdoc_mutation_res_decode(DV_STATUS_SUBDOC_SUCCESS_DELETED,
                                                   dv_buf_head(&b), dv_buf_size(&b), out, 16, &n),
                     DV_ERR_OK);
    size_t len = dv_buf_size(&b);
    for (size_t k = 0; k <= len; k++) {
        uint8_t *copy = malloc(k ? k : 1);
        assert_non_null(copy);
        memcpy(copy, dv_buf_head(&b), k);
        dv_error e = dv_subdoc_mutation_res_decode(DV_STATUS_SUCCESS, copy, k, out, 16, &n);
        free(copy);
        int boundary = k == 0 || k == 9 || k == len;
        assert_int_equal(e, boundary ? DV_ERR_OK : DV_ERR_PROTOCOL_ERROR);
    }
    /* Empty body: no spec produced a value. */
    assert_int_equal(dv_subdoc_mutation_res_decode(DV_STATUS_SUCCESS, NULL, 0, out, 16, &n),
                     DV_ERR_OK);
    assert_int_equal(n, 0);
    dv_buf_free(&b);

    /* Bodies that break the rules. */
    static const char *bad[] = {
        "03 00 00 00 00 00 00  01 00 00 00 00 00 00", /* indexes not increasing */
        "10 00 00 00 00 00 00",                       /* index 16 */
        "00 00 c0 00 00 00 00",                       /* failed status in a success body */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *p = tu_hex(bad[i], &len);
        assert_int_equal(dv_subdoc_mutation_res_decode(DV_STATUS_SUCCESS, p, len, out, 16, &n),
                         DV_ERR_PROTOCOL_ERROR);
        free(p);
    }
    /* Encoder refusals: out-of-order indexes, non-success entry, doc-level status. */
    dv_buf e = DV_BUF_INIT;
    dv_subdoc_result swapped[] = {r[1], r[0]};
    assert_int_equal(dv_subdoc_mutation_res_encode(&e, DV_STATUS_SUCCESS, swapped, 2),
                     DV_ERR_INVALID_ARGUMENT);
    dv_subdoc_result failed = {0, DV_STATUS_SUBDOC_PATH_ENOENT, NULL, 0};
    assert_int_equal(dv_subdoc_mutation_res_encode(&e, DV_STATUS_SUCCESS, &failed, 1),
                     DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_subdoc_mutation_res_encode(&e, DV_STATUS_KEY_ENOENT, r, 1),
                     DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_subdoc_mutation_res_decode(DV_STATUS_KEY_ENOENT, NULL, 0, out, 16, &n),
                     DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_buf_size(&e), 0);
    dv_buf_free(&e);
}

static void mutation_response_failure(void **state)
{
    (void)state;
    dv_subdoc_result r = {2, DV_STATUS_SUBDOC_PATH_EEXISTS, NULL, 0};
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_subdoc_mutation_res_encode(&b, DV_STATUS_SUBDOC_MULTI_PATH_FAILURE, &r, 1),
                     DV_ERR_OK);
    assert_buf_hex(&b, "02 00 c9");
    dv_subdoc_result out[DV_SUBDOC_MAX_SPECS];
    size_t n = 0;
    assert_int_equal(dv_subdoc_mutation_res_decode(DV_STATUS_SUBDOC_MULTI_PATH_FAILURE,
                                                   dv_buf_head(&b), 3, out, 16, &n),
                     DV_ERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].index, 2);
    assert_int_equal(out[0].status, DV_STATUS_SUBDOC_PATH_EEXISTS);
    assert_int_equal(out[0].value_len, 0);
    assert_int_equal(dv_subdoc_mutation_res_decode(DV_STATUS_SUBDOC_MULTI_PATH_FAILURE_DELETED,
                                                   dv_buf_head(&b), 3, out, 16, &n),
                     DV_ERR_OK);
    /* Exactly one entry without a value: shorter, longer or two entries are refused. */
    for (size_t k = 0; k < 3; k++)
        assert_int_equal(dv_subdoc_mutation_res_decode(DV_STATUS_SUBDOC_MULTI_PATH_FAILURE,
                                                       dv_buf_head(&b), k, out, 16, &n),
                         DV_ERR_PROTOCOL_ERROR);
    assert_int_equal(dv_subdoc_mutation_res_encode(&b, DV_STATUS_SUBDOC_MULTI_PATH_FAILURE, &r, 1),
                     DV_ERR_OK);
    assert_int_equal(dv_subdoc_mutation_res_decode(DV_STATUS_SUBDOC_MULTI_PATH_FAILURE,
                                                   dv_buf_head(&b), 6, out, 16, &n),
                     DV_ERR_PROTOCOL_ERROR);
    assert_int_equal(dv_subdoc_mutation_res_decode(DV_STATUS_SUBDOC_MULTI_PATH_FAILURE,
                                                   dv_buf_head(&b), 4, out, 16, &n),
                     DV_ERR_PROTOCOL_ERROR);
    /* A success status in the failure entry. */
    const uint8_t ok_entry[3] = {0, 0, 0};
    assert_int_equal(dv_subdoc_mutation_res_decode(DV_STATUS_SUBDOC_MULTI_PATH_FAILURE, ok_entry, 3,
                                                   out, 16, &n),
                     DV_ERR_PROTOCOL_ERROR);
    dv_buf_free(&b);
    /* Encoder: two entries, a value, or SUCCESS in a failure body. */
    dv_buf e = DV_BUF_INIT;
    dv_subdoc_result two[] = {r, r};
    assert_int_equal(dv_subdoc_mutation_res_encode(&e, DV_STATUS_SUBDOC_MULTI_PATH_FAILURE, two, 2),
                     DV_ERR_INVALID_ARGUMENT);
    dv_subdoc_result with_value = {0, DV_STATUS_SUBDOC_PATH_ENOENT, (const uint8_t *)"x", 1};
    assert_int_equal(
        dv_subdoc_mutation_res_encode(&e, DV_STATUS_SUBDOC_MULTI_PATH_FAILURE, &with_value, 1),
        DV_ERR_INVALID_ARGUMENT);
    dv_subdoc_result success = {0, DV_STATUS_SUCCESS, NULL, 0};
    assert_int_equal(
        dv_subdoc_mutation_res_encode(&e, DV_STATUS_SUBDOC_MULTI_PATH_FAILURE, &success, 1),
        DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_buf_size(&e), 0);
    dv_buf_free(&e);
}

static void status_to_error(void **state)
{
    (void)state;
    static const struct {
        uint16_t status;
        dv_error err;
    } cases[] = {
        {DV_STATUS_SUCCESS, DV_ERR_OK},
        {DV_STATUS_SUBDOC_SUCCESS_DELETED, DV_ERR_OK},
        {DV_STATUS_SUBDOC_PATH_ENOENT, DV_ERR_PATH_NOT_FOUND},
        {DV_STATUS_SUBDOC_PATH_MISMATCH, DV_ERR_PATH_MISMATCH},
        {DV_STATUS_SUBDOC_PATH_EINVAL, DV_ERR_PATH_INVALID},
        {DV_STATUS_SUBDOC_PATH_E2BIG, DV_ERR_PATH_TOO_BIG},
        {DV_STATUS_SUBDOC_DOC_E2DEEP, DV_ERR_PATH_TOO_DEEP},
        {DV_STATUS_SUBDOC_VALUE_CANTINSERT, DV_ERR_VALUE_INVALID},
        {DV_STATUS_SUBDOC_DOC_NOTJSON, DV_ERR_DOCUMENT_NOT_JSON},
        {DV_STATUS_SUBDOC_NUM_ERANGE, DV_ERR_NUMBER_TOO_BIG},
        {DV_STATUS_SUBDOC_DELTA_EINVAL, DV_ERR_DELTA_INVALID},
        {DV_STATUS_SUBDOC_PATH_EEXISTS, DV_ERR_PATH_EXISTS},
        {DV_STATUS_SUBDOC_VALUE_ETOODEEP, DV_ERR_VALUE_TOO_DEEP},
        {DV_STATUS_SUBDOC_INVALID_COMBO, DV_ERR_INVALID_ARGUMENT},
        {DV_STATUS_SUBDOC_XATTR_UNKNOWN_MACRO, DV_ERR_XATTR_UNKNOWN_MACRO},
        {DV_STATUS_SUBDOC_XATTR_UNKNOWN_VATTR, DV_ERR_XATTR_UNKNOWN_VIRTUAL_ATTRIBUTE},
        {DV_STATUS_SUBDOC_XATTR_CANT_MODIFY_VATTR, DV_ERR_XATTR_CANNOT_MODIFY_VIRTUAL_ATTRIBUTE},
        {DV_STATUS_SUBDOC_INVALID_XATTR_ORDER, DV_ERR_INVALID_ARGUMENT},
        {DV_STATUS_SUBDOC_CAN_ONLY_REVIVE_DELETED_DOCUMENTS, DV_ERR_CANNOT_REVIVE_LIVING_DOCUMENT},
        {DV_STATUS_KEY_ENOENT, DV_ERR_DOCUMENT_NOT_FOUND},
        {0xd9, DV_ERR_PROTOCOL_ERROR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(dv_subdoc_status_error(cases[i].status), cases[i].err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lookup_exptime_then_doc_bytes),
        cmocka_unit_test(lookup_flags_exptime_doc_bytes),
        cmocka_unit_test(mutation_bytes_and_roundtrip),
        cmocka_unit_test(whole_doc_mutations),
        cmocka_unit_test(spec_count_limits),
        cmocka_unit_test(wrong_kind_of_opcode),
        cmocka_unit_test(path_length_limit),
        cmocka_unit_test(path_flags),
        cmocka_unit_test(paths_and_values),
        cmocka_unit_test(xattr_order),
        cmocka_unit_test(truncated_requests),
        cmocka_unit_test(encoder_refuses_unrepresentable),
        cmocka_unit_test(mutation_extras_layouts),
        cmocka_unit_test(mutation_doc_flags),
        cmocka_unit_test(lookup_extras),
        cmocka_unit_test(single_path_requests),
        cmocka_unit_test(lookup_response_bytes),
        cmocka_unit_test(encoders_refuse_statuses_cxx_does_not_know),
        cmocka_unit_test(mutation_response_success),
        cmocka_unit_test(mutation_response_failure),
        cmocka_unit_test(status_to_error),
    };
    return TU_RUN(tests);
}
