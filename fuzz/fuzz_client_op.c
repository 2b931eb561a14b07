/* Fuzz the client operation codec: arbitrary reply frames decoded for an op of every kind.
 * Input: byte 0 picks the kind and its variant (with_expiry, store semantics, access_deleted;
 * range scans: sampling, ids only and exclusive start, snapshot requirements),
 * byte 1 the number of specs and which are xattr specs, the rest is one reply frame (its opcode
 * is forced to the op's when byte 0's top bit is clear, so that decoding goes past the opcode
 * check). Every result must be readable and consistent; the op is also encoded on a route
 * picked by byte 1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "client/op.h"
#include "mcbp/frame.h"
#include "mcbp/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

static volatile uint8_t sink;

static void touch(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint8_t x = 0;
    for (size_t i = 0; i < n; i++) x ^= b[i];
    sink = x;
}

static dv_op *make_op(uint8_t sel, uint8_t nsel)
{
    static const dv_subdoc_op lookups[4] = {
        {DV_OP_SUBDOC_GET, 0, "a", 1, NULL, 0},
        {DV_OP_SUBDOC_EXISTS, DV_SUBDOC_PATH_XATTR, "x.y", 3, NULL, 0},
        {DV_OP_SUBDOC_GET_COUNT, 0, "b", 1, NULL, 0},
        {DV_SUBDOC_OP_GET_DOC, 0, "", 0, NULL, 0},
    };
    static const dv_subdoc_op mutations[4] = {
        {DV_OP_SUBDOC_DICT_UPSERT, 0, "a", 1, "1", 1},
        {DV_OP_SUBDOC_COUNTER, 0, "n", 1, "5", 1},
        {DV_OP_SUBDOC_DICT_UPSERT, DV_SUBDOC_PATH_XATTR, "x", 1, "2", 1},
        {DV_OP_SUBDOC_DELETE, 0, "c", 1, NULL, 0},
    };
    dv_subdoc_op specs[DV_MAX_SPECS];
    dv_req r;
    memset(&r, 0, sizeof r);
    r.kind = (dv_op_kind)((sel & 0x7f) % DV_KV_OP_KIND_COUNT);
    unsigned variant = (sel & 0x7f) / DV_KV_OP_KIND_COUNT;
    r.bucket = "default";
    r.key = "key";
    r.key_len = 3;
    r.value = "{\"a\":1}";
    r.value_len = 7;
    r.cas = r.kind == DV_KV_UNLOCK ? 1 : 0;
    r.replica_index = r.kind == DV_KV_GET_REPLICA ? 1 : 0;
    r.has_initial = variant & 1;
    r.with_expiry = variant & 1;
    r.access_deleted = (variant >> 1) & 1;
    r.store_semantics = (dv_store_semantics)(variant % 3);
    size_t n = (size_t)(nsel & 0x0f) + 1;
    for (size_t i = 0; i < n; i++)
        specs[i] = r.kind == DV_KV_MUTATE_IN ? mutations[((nsel >> 4) + i) & 3]
                                             : lookups[((nsel >> 4) + i) & 3];
    r.specs = specs;
    r.nspecs = n;
    /* Range scans: a range (or, variant 1, sampling) create, a continue, a cancel. */
    dv_scan_req sc = {.start = "a",
                      .end = "a\xff",
                      .start_len = 1,
                      .end_len = 2,
                      .excl_start = (variant >> 1) & 1,
                      .samples = 3,
                      .seed = 7,
                      .item_limit = 5,
                      .byte_limit = 100};
    sc.sampling = variant & 1;
    sc.ids_only = (variant >> 1) & 1;
    sc.has_snapshot = (variant >> 2) & 1;
    sc.vb_uuid = 42;
    sc.seqno = 9;
    for (int i = 0; i < 16; i++) sc.id[i] = (uint8_t)i;
    r.scan = &sc;
    r.vbucket = 7;
    dv_op *op = NULL;
    CHECK(dv_op_new(&r, &op, NULL, 0) == DV_ERR_OK);
    op->vbucket = 7;
    return op;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    dv_op *op = make_op(data[0], data[1]);

    /* Encoding: any op on any route encodes (a named collection is never used here). */
    dv_op_route rt;
    memset(&rt, 0, sizeof rt);
    rt.features = (dv_features)data[1] << 4; /* covers SNAPPY (0x0a), JSON (0x0b) */
    rt.features |= (data[1] & 1) ? DV_FEATURE_BIT(DV_FEATURE_COLLECTIONS) : 0;
    rt.cid = data[1];
    dv_buf out = DV_BUF_INIT;
    CHECK(dv_op_encode(op, &rt, &out) == DV_ERR_OK);
    dv_frame req;
    size_t used;
    CHECK(dv_frame_decode(dv_buf_head(&out), dv_buf_size(&out), DV_FRAME_DEFAULT_MAX_BODY, &req,
                          &used) == DV_MCBP_OK);
    CHECK(used == dv_buf_size(&out) && req.opcode == op->opcode);
    dv_buf_free(&out);

    dv_frame f;
    if (dv_frame_decode(data + 2, size - 2, DV_FRAME_DEFAULT_MAX_BODY, &f, &used) == DV_MCBP_OK) {
        if (!(data[0] & 0x80)) f.opcode = op->opcode;
        static const dv_error_context ctx;
        dv_res res;
        memset(&res, 0xa5, sizeof res);
        res.ctx = &ctx;
        dv_buf scratch = DV_BUF_INIT;
        dv_retry why;
        dv_op_verdict v = dv_op_decode(op, &f, &res, &scratch, &why);
        CHECK(res.ctx == &ctx);
        CHECK(v == DV_OP_DONE || v == DV_OP_RETRY || v == DV_OP_NOT_MY_VBUCKET ||
              v == DV_OP_UNKNOWN_COLLECTION);
        CHECK((v == DV_OP_DONE) == (why == DV_RETRY_NONE));
        CHECK(v == DV_OP_DONE || res.err != DV_ERR_OK);
        CHECK(dv_strerror(res.err) != NULL);
        CHECK(res.nspecs <= DV_MAX_SPECS && (res.nspecs == 0) == (res.specs == NULL));
        CHECK(res.nspecs == 0 || res.nspecs == op->req.nspecs);
        CHECK(res.value_len == 0 || res.value != NULL);
        touch(res.value, res.value_len);
        for (size_t i = 0; i < res.nspecs; i++) {
            CHECK(res.specs[i].value_len == 0 || res.specs[i].value != NULL);
            touch(res.specs[i].value, res.specs[i].value_len);
        }
        if (res.has_token) CHECK(res.token.partition_id == 7);
        if (op->req.kind == DV_KV_EXISTS && res.err == DV_ERR_OK)
            CHECK(!(res.exists && res.deleted));
        if (op->req.kind == DV_KV_RANGE_SCAN_CREATE && res.err == DV_ERR_OK)
            CHECK(res.value_len == 16);
        if (res.partial) CHECK(op->req.kind == DV_KV_RANGE_SCAN_CONTINUE && res.err == DV_ERR_OK);
        char msg[64];
        CHECK(strlen(dv_op_error_message(&f, msg, sizeof msg)) < sizeof msg);
        dv_buf_free(&scratch);
    }
    dv_op_free(op);
    return 0;
}
