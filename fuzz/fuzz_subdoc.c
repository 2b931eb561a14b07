/* Fuzz the sub-document codec, the XERROR parser and the error map parser. The first byte picks
 * the top-level status for the multi-mutation response decoder and the opcode and extras split
 * for the single-path decoder; the rest goes to every decoder. Whatever decodes must re-encode
 * to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mcbp/errmap.h"
#include "mcbp/protocol.h"
#include "mcbp/subdoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

/* The buffer's bytes; NULL when empty (dv_buf_head of a never-grown buffer is NULL + 0). */
static const uint8_t *head(const dv_buf *b)
{
    return dv_buf_size(b) ? dv_buf_head(b) : NULL;
}

static void same_bytes(const dv_buf *b, const uint8_t *p, size_t n)
{
    CHECK(dv_buf_size(b) == n);
    CHECK(n == 0 || memcmp(head(b), p, n) == 0);
}

static void fuzz_specs(int mutation, const uint8_t *p, size_t n)
{
    dv_subdoc_spec specs[DV_SUBDOC_MAX_SPECS];
    size_t count = 99;
    const char *why = NULL;
    dv_status st = mutation ? dv_subdoc_mutation_decode(p, n, specs, &count, &why)
                            : dv_subdoc_lookup_decode(p, n, specs, &count, &why);
    CHECK(count <= DV_SUBDOC_MAX_SPECS);
    if (st != DV_STATUS_SUCCESS) {
        CHECK(why != NULL);
        return;
    }
    CHECK(dv_subdoc_specs_check(mutation, specs, count, NULL) == DV_STATUS_SUCCESS);
    dv_buf b = DV_BUF_INIT;
    dv_error e = mutation ? dv_subdoc_mutation_encode(&b, specs, count)
                          : dv_subdoc_lookup_encode(&b, specs, count);
    CHECK(e == DV_ERR_OK);
    same_bytes(&b, p, n);
    dv_buf_free(&b);
}

static void fuzz_responses(uint8_t sel, const uint8_t *p, size_t n)
{
    dv_subdoc_result r[DV_SUBDOC_MAX_SPECS];
    size_t count = 99;
    dv_buf b = DV_BUF_INIT;
    if (dv_subdoc_lookup_res_decode(p, n, r, DV_SUBDOC_MAX_SPECS, &count) == DV_ERR_OK) {
        int known = 1;
        for (size_t i = 0; i < count; i++) known &= dv_subdoc_status_known(r[i].status);
        if (known) {
            CHECK(dv_subdoc_lookup_res_encode(&b, r, count) == DV_ERR_OK);
            same_bytes(&b, p, n);
        }
    }
    CHECK(count <= DV_SUBDOC_MAX_SPECS);
    static const uint16_t tops[] = {
        DV_STATUS_SUCCESS, DV_STATUS_SUBDOC_SUCCESS_DELETED, DV_STATUS_SUBDOC_MULTI_PATH_FAILURE,
        DV_STATUS_SUBDOC_MULTI_PATH_FAILURE_DELETED, DV_STATUS_KEY_ENOENT};
    uint16_t top = tops[sel % 5];
    dv_buf_reset(&b);
    if (dv_subdoc_mutation_res_decode(top, p, n, r, DV_SUBDOC_MAX_SPECS, &count) == DV_ERR_OK) {
        CHECK(count <= DV_SUBDOC_MAX_SPECS);
        if (count == 0 || dv_subdoc_status_known(r[0].status)) {
            CHECK(dv_subdoc_mutation_res_encode(&b, top, r, count) == DV_ERR_OK);
            same_bytes(&b, p, n);
        }
    }
    dv_buf_free(&b);
}

static void fuzz_extras(uint8_t sel, const uint8_t *p, size_t n)
{
    dv_subdoc_extras x;
    dv_buf b = DV_BUF_INIT;
    if (dv_subdoc_mutation_extras_decode(p, n, &x, NULL) == DV_STATUS_SUCCESS) {
        CHECK(dv_subdoc_mutation_extras_encode(&b, &x) == DV_ERR_OK);
        same_bytes(&b, p, n);
    }
    uint8_t doc_flags;
    if (dv_subdoc_lookup_extras_decode(p, n, &doc_flags, NULL) == DV_STATUS_SUCCESS) {
        dv_buf_reset(&b);
        CHECK(dv_subdoc_lookup_extras_encode(&b, doc_flags) == DV_ERR_OK);
        CHECK(dv_buf_size(&b) == (doc_flags ? 1u : 0u));
    }
    dv_buf_free(&b);
    /* Single path: the opcode from the selector, the first (sel % 16) bytes as extras. */
    size_t elen = sel % 16 < n ? sel % 16 : n;
    uint8_t opcode = (uint8_t)(0xc0 + (sel >> 4));
    dv_subdoc_single s;
    if (dv_subdoc_single_decode(opcode, p, elen, p + elen, n - elen, &s, NULL) ==
        DV_STATUS_SUCCESS) {
        CHECK(s.spec.path_len + s.spec.value_len == n - elen);
        CHECK(dv_subdoc_specs_check(dv_subdoc_is_mutation_op(opcode), &s.spec, 1, NULL) ==
              DV_STATUS_SUCCESS);
    }
}

static void fuzz_json(const uint8_t *p, size_t n)
{
    dv_xerror x;
    if (dv_xerror_parse(p, n, &x) == DV_ERR_OK) {
        dv_buf b = DV_BUF_INIT;
        if (dv_xerror_build(&b, x.context, x.ref, x.has_manifest_uid, x.manifest_uid) ==
            DV_ERR_OK) {
            dv_xerror y;
            CHECK(dv_xerror_parse(head(&b), dv_buf_size(&b), &y) == DV_ERR_OK);
            CHECK((x.context == NULL) == (y.context == NULL));
            CHECK(!x.context || strcmp(x.context, y.context) == 0);
            CHECK((x.ref == NULL) == (y.ref == NULL));
            CHECK(!x.ref || strcmp(x.ref, y.ref) == 0);
            CHECK(x.has_manifest_uid == y.has_manifest_uid && x.manifest_uid == y.manifest_uid);
            dv_xerror_free(&y);
        }
        dv_buf_free(&b);
        dv_xerror_free(&x);
    }
    dv_errmap m;
    char why[128];
    if (dv_errmap_parse(p, n, &m, why, sizeof why) == DV_ERR_OK) {
        for (size_t i = 0; i < m.n; i++) {
            CHECK(dv_errmap_find(&m, m.entries[i].status) == &m.entries[i]);
            CHECK(i == 0 || m.entries[i - 1].status < m.entries[i].status);
        }
        dv_errmap_free(&m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    uint8_t sel = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    fuzz_specs(0, p, n);
    fuzz_specs(1, p, n);
    fuzz_responses(sel, p, n);
    fuzz_extras(sel, p, n);
    fuzz_json(p, n);
    return 0;
}
