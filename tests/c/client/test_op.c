#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "client/op.h"
#include "mcbp/compress.h"
#include "mcbp/extras.h"
#include "mcbp/protocol.h"
#include "mcbp/subdoc.h"

#define FEAT(x) DV_FEATURE_BIT(DV_FEATURE_##x)
#define ALL_FEATURES                                                                               \
    (FEAT(COLLECTIONS) | FEAT(SNAPPY) | FEAT(JSON) | FEAT(XERROR) | FEAT(MUTATION_SEQNO))

static const char doc[] = "{\"name\":\"divan\",\"tags\":[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
                          "\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}";

static dv_req base_req(dv_op_kind kind)
{
    dv_req r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.bucket = "default";
    r.key = "foo";
    r.key_len = 3;
    return r;
}

static dv_op *new_op(const dv_req *r)
{
    dv_op *op = NULL;
    char err[128] = "";
    dv_error rc = dv_op_new(r, &op, err, sizeof err);
    if (rc) fprintf(stderr, "dv_op_new: %s\n", err);
    assert_int_equal(rc, DV_ERR_OK);
    assert_non_null(op);
    return op;
}

static dv_op_route route_of(dv_features features, uint32_t cid, uint16_t vbucket, uint32_t opaque)
{
    dv_op_route rt;
    memset(&rt, 0, sizeof rt);
    rt.features = features;
    rt.cid = cid;
    rt.vbucket = vbucket;
    rt.opaque = opaque;
    return rt;
}

/* Encode r on a route and decode the bytes back as a frame (views into *b). */
static dv_frame encode(const dv_req *r, const dv_op_route *rt, dv_buf *b)
{
    dv_op *op = new_op(r);
    assert_int_equal(dv_op_encode(op, rt, b), DV_ERR_OK);
    dv_op_free(op);
    dv_frame f;
    size_t used;
    assert_int_equal(
        dv_frame_decode(dv_buf_head(b), dv_buf_size(b), DV_FRAME_DEFAULT_MAX_BODY, &f, &used),
        DV_MCBP_OK);
    assert_int_equal(used, dv_buf_size(b));
    return f;
}

static void assert_buf_hex(const dv_buf *b, const char *hex)
{
    tu_assert_hex(dv_buf_head(b), dv_buf_size(b), hex);
}

/* A reply to an op, decoded. The wire and scratch buffers hold what res points to. */
typedef struct reply {
    dv_buf wire, scratch;
    dv_frame f;
    dv_res res;
    dv_retry why;
    dv_op_verdict v;
} reply;

typedef struct reply_spec {
    uint16_t status;
    const void *extras;
    size_t extras_len;
    const void *value;
    size_t value_len;
    uint8_t datatype;
    uint64_t cas;
} reply_spec;

static void do_reply(const dv_op *op, const reply_spec *s, reply *out)
{
    memset(out, 0, sizeof *out);
    dv_frame f;
    memset(&f, 0, sizeof f);
    f.magic = DV_MAGIC_RES;
    f.opcode = op->opcode;
    f.status = s->status;
    f.cas = s->cas;
    f.datatype = s->datatype;
    f.extras = s->extras;
    f.extras_len = s->extras_len;
    f.value = s->value;
    f.value_len = s->value_len;
    assert_int_equal(dv_frame_encode(&out->wire, &f), DV_MCBP_OK);
    size_t used;
    assert_int_equal(dv_frame_decode(dv_buf_head(&out->wire), dv_buf_size(&out->wire),
                                     DV_FRAME_DEFAULT_MAX_BODY, &out->f, &used),
                     DV_MCBP_OK);
    static const dv_error_context ctx;
    out->res.ctx = &ctx;
    out->why = (dv_retry)99;
    out->v = dv_op_decode(op, &out->f, &out->res, &out->scratch, &out->why);
    assert_ptr_equal(out->res.ctx, &ctx);
}

static void reply_free(reply *r)
{
    dv_buf_free(&r->wire);
    dv_buf_free(&r->scratch);
}

/* Status-only reply: the error and verdict it gives for a request. */
static void expect_status(const dv_req *req, uint16_t status, dv_error err, dv_op_verdict v,
                          dv_retry why)
{
    dv_op *op = new_op(req);
    reply_spec s = {status, NULL, 0, NULL, 0, 0, 0};
    reply r;
    do_reply(op, &s, &r);
    assert_int_equal(r.res.err, err);
    assert_int_equal(r.v, v);
    assert_int_equal(r.why, why);
    reply_free(&r);
    dv_op_free(op);
}

/* ---- encoding ---- */

/* kv-protocol.md §2.9: GET "foo", default collection, vbucket 115, opaque 0x10. */
static void encode_get_bytes(void **state)
{
    (void)state;
    dv_req r = base_req(DV_KV_GET);
    dv_op_route rt = route_of(ALL_FEATURES, 0, 115, 0x10);
    dv_buf b = DV_BUF_INIT;
    encode(&r, &rt, &b);
    assert_buf_hex(&b, "80 00 00 04 00 00 00 73 00 00 00 04 00 00 00 10 00 00 00 00 00 00 00 00"
                       "00 66 6f 6f");
    /* Without collections: no prefix. */
    dv_buf_reset(&b);
    rt.features = 0;
    dv_frame f = encode(&r, &rt, &b);
    tu_assert_hex(f.key, f.key_len, "66 6f 6f");
    dv_buf_free(&b);
}

/* §2.9: SET with durability majority and the default durable timeout: 90% of 10 s. */
static void encode_set_durability_bytes(void **state)
{
    (void)state;
    dv_req r = base_req(DV_KV_UPSERT);
    r.value = "{\"a\":1}";
    r.value_len = 7;
    r.flags = DV_FLAGS_JSON;
    r.datatype = DV_DATATYPE_JSON;
    r.durability = DV_DURABILITY_MAJORITY;
    dv_op_route rt = route_of(ALL_FEATURES, 0, 115, 0x11);
    dv_buf b = DV_BUF_INIT;
    encode(&r, &rt, &b);
    assert_buf_hex(&b, "08 01 04 04 08 01 00 73 00 00 00 17 00 00 00 11 00 00 00 00 00 00 00 00"
                       "13 01 23 28  02 00 00 00 00 00 00 00  00 66 6f 6f  7b 22 61 22 3a 31 7d");

    /* The op's own timeout, and the engine's remaining time, and the clamps. */
    struct {
        uint64_t timeout, remaining;
        const char *fe;
    } cases[] = {
        {2000, 0, "13 01 07 08"},   /* 1800 */
        {2000, 500, "13 01 01 c2"}, /* 450 */
        {0, 1, "13 01 00 01"},      /* 0.9 -> 1 */
        {100000, 0, "13 01 ff fe"}, /* 65534 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r.timeout_ms = cases[i].timeout;
        rt.remaining_ms = cases[i].remaining;
        dv_buf_reset(&b);
        dv_frame f = encode(&r, &rt, &b);
        assert_int_equal(f.magic, DV_MAGIC_ALT_REQ);
        tu_assert_hex(f.framing, f.framing_len, cases[i].fe);
    }
    dv_buf_free(&b);
}

/* §2.9: INCREMENT "counter" in collection 8, delta 1, initial 0, vbucket 290, opaque 0x30. */
static void encode_counter_bytes(void **state)
{
    (void)state;
    dv_req r = base_req(DV_KV_INCREMENT);
    r.key = "counter";
    r.key_len = 7;
    r.delta = 1;
    r.has_initial = 1;
    dv_op_route rt = route_of(ALL_FEATURES, 8, 290, 0x30);
    dv_buf b = DV_BUF_INIT;
    encode(&r, &rt, &b);
    assert_buf_hex(&b, "80 05 00 08 14 00 01 22 00 00 00 1c 00 00 00 30 00 00 00 00 00 00 00 00"
                       "00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00"
                       "08 63 6f 75 6e 74 65 72");
    /* No initial value: "do not create"; decrement; initial and expiry when given. */
    r.kind = DV_KV_DECREMENT;
    r.has_initial = 0;
    r.delta = 5;
    r.expiry = 60;
    dv_buf_reset(&b);
    dv_frame f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, DV_OP_DECREMENT);
    tu_assert_hex(f.extras, f.extras_len,
                  "00 00 00 00 00 00 00 05 00 00 00 00 00 00 00 00 ff ff ff ff");
    r.has_initial = 1;
    r.initial = 10;
    dv_buf_reset(&b);
    f = encode(&r, &rt, &b);
    tu_assert_hex(f.extras, f.extras_len,
                  "00 00 00 00 00 00 00 05 00 00 00 00 00 00 00 0a 00 00 00 3c");
    dv_buf_free(&b);
}

/* Opcodes and extras of the other kinds. */
static void encode_kinds(void **state)
{
    (void)state;
    dv_op_route rt = route_of(ALL_FEATURES, 9, 7, 1);
    dv_buf b = DV_BUF_INIT;
    dv_frame f;
    dv_req r;

    r = base_req(DV_KV_GET_AND_TOUCH);
    r.expiry = 10;
    f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, 0x1d);
    tu_assert_hex(f.extras, f.extras_len, "00 00 00 0a");
    tu_assert_hex(f.key, f.key_len, "09 66 6f 6f");
    assert_int_equal(f.vbucket, 7);

    dv_buf_reset(&b);
    r = base_req(DV_KV_GET_AND_LOCK);
    r.lock_time = 15;
    f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, 0x94);
    tu_assert_hex(f.extras, f.extras_len, "00 00 00 0f");

    dv_buf_reset(&b);
    r = base_req(DV_KV_GET_REPLICA);
    r.replica_index = 1;
    f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, 0x83);
    assert_int_equal(f.extras_len, 0);

    dv_buf_reset(&b);
    r = base_req(DV_KV_EXISTS);
    f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, 0xa0);
    tu_assert_hex(f.extras, f.extras_len, "02");

    dv_buf_reset(&b);
    r = base_req(DV_KV_REMOVE);
    r.cas = 0x1234;
    f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, 0x04);
    assert_int_equal(f.extras_len, 0);
    assert_int_equal(f.cas, 0x1234);
    assert_int_equal(f.value_len, 0);

    dv_buf_reset(&b);
    r = base_req(DV_KV_TOUCH);
    r.expiry = 3000000000u;
    f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, 0x1c);
    tu_assert_hex(f.extras, f.extras_len, "b2 d0 5e 00");

    dv_buf_reset(&b);
    r = base_req(DV_KV_UNLOCK);
    r.cas = 0xabcdef;
    f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, 0x95);
    assert_int_equal(f.cas, 0xabcdef);

    dv_buf_reset(&b);
    r = base_req(DV_KV_APPEND);
    r.value = doc; /* never compressed, raw datatype */
    r.value_len = sizeof doc - 1;
    r.cas = 5;
    f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, 0x0e);
    assert_int_equal(f.datatype, 0);
    assert_int_equal(f.value_len, sizeof doc - 1);
    assert_int_equal(f.cas, 5);

    dv_buf_reset(&b);
    r.kind = DV_KV_PREPEND;
    f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, 0x0f);

    dv_buf_reset(&b);
    r = base_req(DV_KV_INSERT);
    r.value = "1";
    r.value_len = 1;
    r.flags = 0x03000000;
    r.expiry = 30;
    f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, 0x02);
    tu_assert_hex(f.extras, f.extras_len, "03 00 00 00 00 00 00 1e");
    assert_int_equal(f.magic, DV_MAGIC_REQ);

    dv_buf_reset(&b);
    r = base_req(DV_KV_REPLACE);
    r.cas = 99;
    r.preserve_expiry = 1;
    f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, 0x03);
    assert_int_equal(f.magic, DV_MAGIC_ALT_REQ);
    tu_assert_hex(f.framing, f.framing_len, "50");
    assert_int_equal(f.cas, 99);

    /* Durability and preserve TTL together. */
    dv_buf_reset(&b);
    r.kind = DV_KV_UPSERT;
    r.cas = 0;
    r.expiry = 100;
    r.durability = DV_DURABILITY_PERSIST_TO_MAJORITY;
    f = encode(&r, &rt, &b);
    tu_assert_hex(f.framing, f.framing_len, "13 03 23 28 50");
    tu_assert_hex(f.extras, f.extras_len, "00 00 00 00 00 00 00 64");

    dv_buf_reset(&b);
    r = base_req(DV_KV_NOOP);
    f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, 0x0a);
    assert_int_equal(f.key_len, 0);
    assert_int_equal(f.extras_len, 0);
    dv_buf_free(&b);
}

static void encode_collections_and_datatype(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    dv_req r = base_req(DV_KV_UPSERT);
    r.scope = "inventory";
    r.collection = "airline";
    r.value = "{}";
    r.value_len = 2;
    r.datatype = DV_DATATYPE_JSON;

    /* A named collection needs COLLECTIONS. */
    dv_op *op = new_op(&r);
    dv_op_route rt = route_of(FEAT(JSON), 8, 1, 1);
    assert_int_equal(dv_op_encode(op, &rt, &b), DV_ERR_FEATURE_NOT_AVAILABLE);
    assert_int_equal(dv_buf_size(&b), 0);
    dv_op_free(op);

    /* Collection id 200: two LEB128 bytes. */
    rt = route_of(FEAT(COLLECTIONS), 200, 1, 1);
    dv_frame f = encode(&r, &rt, &b);
    tu_assert_hex(f.key, f.key_len, "c8 01 66 6f 6f");
    /* JSON only when the node acked it. */
    assert_int_equal(f.datatype, 0);
    dv_buf_reset(&b);
    rt.features |= FEAT(JSON);
    f = encode(&r, &rt, &b);
    assert_int_equal(f.datatype, DV_DATATYPE_JSON);

    /* "_default" named explicitly is the default collection. */
    r.scope = "_default";
    r.collection = "_default";
    dv_buf_reset(&b);
    rt = route_of(0, 0, 1, 1);
    f = encode(&r, &rt, &b);
    tu_assert_hex(f.key, f.key_len, "66 6f 6f");
    dv_buf_free(&b);
}

static void encode_snappy(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    dv_req r = base_req(DV_KV_UPSERT);
    r.value = doc;
    r.value_len = sizeof doc - 1;
    r.datatype = DV_DATATYPE_JSON;
    dv_op_kind kinds[] = {DV_KV_INSERT, DV_KV_UPSERT, DV_KV_REPLACE};
    for (size_t i = 0; i < 3; i++) {
        r.kind = kinds[i];
        dv_op_route rt = route_of(FEAT(SNAPPY) | FEAT(JSON), 0, 0, 0);
        dv_buf_reset(&b);
        dv_frame f = encode(&r, &rt, &b);
        assert_int_equal(f.datatype, DV_DATATYPE_JSON | DV_DATATYPE_SNAPPY);
        assert_true(f.value_len < r.value_len);
        dv_buf out = DV_BUF_INIT;
        uint8_t dt = f.datatype;
        assert_int_equal(dv_snappy_decompress(f.value, f.value_len, 1 << 20, &out, &dt), 0);
        assert_int_equal(dt, DV_DATATYPE_JSON);
        assert_int_equal(dv_buf_size(&out), r.value_len);
        assert_memory_equal(dv_buf_head(&out), doc, r.value_len);
        dv_buf_free(&out);
    }
    /* Not acked: sent as is. */
    dv_buf_reset(&b);
    dv_op_route rt = route_of(FEAT(JSON), 0, 0, 0);
    dv_frame f = encode(&r, &rt, &b);
    assert_int_equal(f.datatype, DV_DATATYPE_JSON);
    assert_int_equal(f.value_len, r.value_len);
    /* Too short (<= 32 bytes) to be worth it. */
    r.value = "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}";
    r.value_len = 32;
    dv_buf_reset(&b);
    rt.features |= FEAT(SNAPPY);
    f = encode(&r, &rt, &b);
    assert_int_equal(f.datatype, DV_DATATYPE_JSON);
    assert_int_equal(f.value_len, 32);
    /* Incompressible. */
    static const char noise[] = "q8Z#r1!mK0vT$w2@pL9&xN4^yB7*cD6(eF5)gH3_jA+sQ=uW-iO?";
    r.value = noise;
    r.value_len = sizeof noise - 1;
    r.datatype = 0;
    dv_buf_reset(&b);
    f = encode(&r, &rt, &b);
    assert_int_equal(f.datatype, 0);
    assert_int_equal(f.value_len, sizeof noise - 1);
    dv_buf_free(&b);
}

static const dv_subdoc_op lookup_specs[] = {
    {DV_OP_SUBDOC_GET, 0, "name", 4, NULL, 0},
    {DV_OP_SUBDOC_EXISTS, DV_SUBDOC_PATH_XATTR, "meta.x", 6, NULL, 0},
    {DV_OP_SUBDOC_GET_COUNT, 0, "tags", 4, NULL, 0},
};

static void encode_lookup_in(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    dv_req r = base_req(DV_KV_LOOKUP_IN);
    r.specs = lookup_specs;
    r.nspecs = 3;
    dv_op_route rt = route_of(0, 0, 0, 0);
    dv_frame f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, 0xd0);
    assert_int_equal(f.extras_len, 0);
    /* The xattr spec goes first. */
    tu_assert_hex(
        f.value, f.value_len,
        "c6 04 00 06 6d 65 74 61 2e 78  c5 00 00 04 6e 61 6d 65  d2 00 00 04 74 61 67 73");
    r.access_deleted = 1;
    dv_buf_reset(&b);
    f = encode(&r, &rt, &b);
    tu_assert_hex(f.extras, f.extras_len, "04");
    /* A lookup on a replica carries REPLICA_READ, and cannot also read tombstones. */
    dv_op *op;
    char err[128];
    r.replica_index = 1;
    assert_int_equal(dv_op_new(&r, &op, err, sizeof err), DV_ERR_INVALID_ARGUMENT);
    r.access_deleted = 0;
    dv_buf_reset(&b);
    f = encode(&r, &rt, &b);
    tu_assert_hex(f.extras, f.extras_len, "20");
    r.replica_index = 4;
    assert_int_equal(dv_op_new(&r, &op, err, sizeof err), DV_ERR_INVALID_ARGUMENT);
    dv_buf_free(&b);
}

static const dv_subdoc_op mutation_specs[] = {
    {DV_OP_SUBDOC_DICT_UPSERT, DV_SUBDOC_PATH_MKDIR_P, "a.b", 3, "1", 1},
    {DV_OP_SUBDOC_COUNTER, 0, "n", 1, "5", 1},
    {DV_OP_SUBDOC_DICT_UPSERT, DV_SUBDOC_PATH_XATTR, "x", 1, "2", 1},
};

static void encode_mutate_in(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    dv_req r = base_req(DV_KV_MUTATE_IN);
    r.specs = mutation_specs;
    r.nspecs = 3;
    dv_op_route rt = route_of(FEAT(JSON), 0, 0, 0);
    dv_frame f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, 0xd1);
    assert_int_equal(f.extras_len, 0);
    assert_int_equal(f.datatype, 0);
    tu_assert_hex(f.value, f.value_len,
                  "c8 04 00 01 00 00 00 01 78 32"
                  "c8 01 00 03 00 00 00 01 61 2e 62 31"
                  "cf 00 00 01 00 00 00 01 6e 35");

    struct {
        dv_store_semantics sem;
        uint32_t expiry;
        int access_deleted;
        const char *extras;
    } cases[] = {
        {DV_STORE_UPSERT, 0, 0, "01"},
        {DV_STORE_INSERT, 0, 0, "02"},
        {DV_STORE_REPLACE, 60, 0, "00 00 00 3c"},
        {DV_STORE_UPSERT, 60, 1, "00 00 00 3c 05"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r.store_semantics = cases[i].sem;
        r.expiry = cases[i].expiry;
        r.access_deleted = cases[i].access_deleted;
        dv_buf_reset(&b);
        f = encode(&r, &rt, &b);
        tu_assert_hex(f.extras, f.extras_len, cases[i].extras);
    }
    r.expiry = 0;
    r.store_semantics = DV_STORE_REPLACE;
    r.access_deleted = 0;
    r.cas = 77;
    r.preserve_expiry = 1;
    r.durability = DV_DURABILITY_MAJORITY;
    r.timeout_ms = 1000;
    dv_buf_reset(&b);
    f = encode(&r, &rt, &b);
    assert_int_equal(f.magic, DV_MAGIC_ALT_REQ);
    tu_assert_hex(f.framing, f.framing_len, "13 01 03 84 50");
    assert_int_equal(f.cas, 77);
    dv_buf_free(&b);
}

static void encode_get_with_expiry(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    dv_req r = base_req(DV_KV_GET);
    r.with_expiry = 1;
    dv_op_route rt = route_of(0, 0, 0, 0);
    dv_frame f = encode(&r, &rt, &b);
    assert_int_equal(f.opcode, 0xd0);
    assert_int_equal(f.extras_len, 0);
    tu_assert_hex(f.value, f.value_len,
                  "c5 04 00 11 24 64 6f 63 75 6d 65 6e 74 2e 65 78 70 74 69 6d 65"
                  "c5 04 00 0f 24 64 6f 63 75 6d 65 6e 74 2e 66 6c 61 67 73"
                  "00 00 00 00");
    dv_buf_free(&b);
}

/* ---- decoding ---- */

static void decode_get(void **state)
{
    (void)state;
    dv_req req = base_req(DV_KV_GET);
    dv_op *op = new_op(&req);
    uint8_t flags[4] = {2, 0, 0, 0};
    reply_spec s = {0, flags, 4, "{\"a\":1}", 7, DV_DATATYPE_JSON, 0x17d4c5e6f7a80000ull};
    reply r;
    do_reply(op, &s, &r);
    assert_int_equal(r.v, DV_OP_DONE);
    assert_int_equal(r.why, DV_RETRY_NONE);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.cas, 0x17d4c5e6f7a80000ull);
    assert_int_equal(r.res.flags, DV_FLAGS_JSON);
    assert_int_equal(r.res.datatype, DV_DATATYPE_JSON);
    tu_assert_hex(r.res.value, r.res.value_len, "7b 22 61 22 3a 31 7d");
    assert_int_equal(r.res.has_token, 0);
    reply_free(&r);

    /* A compressed value is inflated into scratch. */
    dv_buf z = DV_BUF_INIT;
    uint8_t dt = DV_DATATYPE_JSON;
    assert_int_equal(dv_snappy_compress((const uint8_t *)doc, sizeof doc - 1, &z, &dt), 1);
    s = (reply_spec){0, flags, 4, dv_buf_head(&z), dv_buf_size(&z), dt, 1};
    do_reply(op, &s, &r);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.datatype, DV_DATATYPE_JSON);
    assert_int_equal(r.res.value_len, sizeof doc - 1);
    assert_memory_equal(r.res.value, doc, sizeof doc - 1);
    reply_free(&r);
    /* Corrupt snappy data. */
    s = (reply_spec){0, flags, 4, "\xff\xff\xff", 3, DV_DATATYPE_SNAPPY, 1};
    do_reply(op, &s, &r);
    assert_int_equal(r.res.err, DV_ERR_PROTOCOL_ERROR);
    reply_free(&r);
    /* Extras of the wrong size. */
    s = (reply_spec){0, flags, 3, "x", 1, 0, 1};
    do_reply(op, &s, &r);
    assert_int_equal(r.res.err, DV_ERR_PROTOCOL_ERROR);
    reply_free(&r);
    dv_buf_free(&z);
    dv_op_free(op);

    /* The GET family shares the layout. */
    dv_op_kind kinds[] = {DV_KV_GET_AND_TOUCH, DV_KV_GET_AND_LOCK, DV_KV_GET_REPLICA};
    for (size_t i = 0; i < 3; i++) {
        req = base_req(kinds[i]);
        req.replica_index = 2;
        op = new_op(&req);
        s = (reply_spec){0, flags, 4, "raw", 3, 0, 42};
        do_reply(op, &s, &r);
        assert_int_equal(r.res.err, DV_ERR_OK);
        assert_int_equal(r.res.flags, DV_FLAGS_JSON);
        assert_int_equal(r.res.cas, 42);
        tu_assert_hex(r.res.value, r.res.value_len, "72 61 77");
        reply_free(&r);
        dv_op_free(op);
    }
}

static void decode_mutation_token(void **state)
{
    (void)state;
    dv_req req = base_req(DV_KV_UPSERT);
    dv_op *op = new_op(&req);
    op->vbucket = 115;
    size_t n;
    uint8_t *tok = tu_hex("00 00 ab cd 00 00 12 34 00 00 00 00 00 00 00 2a", &n);
    reply_spec s = {0, tok, n, NULL, 0, 0, 0x17d4c5e6f7a90000ull};
    reply r;
    do_reply(op, &s, &r);
    assert_int_equal(r.v, DV_OP_DONE);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.cas, 0x17d4c5e6f7a90000ull);
    assert_int_equal(r.res.has_token, 1);
    assert_int_equal(r.res.token.partition_uuid, 0x0000abcd00001234ull);
    assert_int_equal(r.res.token.sequence_number, 42);
    assert_int_equal(r.res.token.partition_id, 115);
    assert_string_equal(r.res.token.bucket_name, "default");
    reply_free(&r);
    /* No MUTATION_SEQNO: the vbucket's token with uuid and seqno 0, as the official core. */
    s.extras = NULL;
    s.extras_len = 0;
    do_reply(op, &s, &r);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.has_token, 1);
    assert_int_equal(r.res.token.partition_uuid, 0);
    assert_int_equal(r.res.token.sequence_number, 0);
    assert_int_equal(r.res.token.partition_id, 115);
    reply_free(&r);
    dv_op_free(op);
    free(tok);
}

static void decode_counter(void **state)
{
    (void)state;
    dv_req req = base_req(DV_KV_INCREMENT);
    dv_op *op = new_op(&req);
    uint8_t v[8];
    dv_value_u64_encode(v, 1234567890123ull);
    reply_spec s = {0, NULL, 0, v, 8, 0, 7};
    reply r;
    do_reply(op, &s, &r);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.counter, 1234567890123ull);
    assert_int_equal(r.res.cas, 7);
    reply_free(&r);
    s.value_len = 7;
    do_reply(op, &s, &r);
    assert_int_equal(r.res.err, DV_ERR_PROTOCOL_ERROR);
    reply_free(&r);
    dv_op_free(op);
    req.has_initial = 0;
    expect_status(&req, DV_STATUS_KEY_ENOENT, DV_ERR_DOCUMENT_NOT_FOUND, DV_OP_DONE, DV_RETRY_NONE);
    expect_status(&req, DV_STATUS_DELTA_BADVAL, DV_ERR_DELTA_INVALID, DV_OP_DONE, DV_RETRY_NONE);
}

static void decode_exists(void **state)
{
    (void)state;
    dv_req req = base_req(DV_KV_EXISTS);
    dv_op *op = new_op(&req);
    dv_get_meta m = {0, DV_FLAGS_JSON, 1700000000u, 5, DV_DATATYPE_JSON};
    uint8_t ex[DV_EXTRAS_GET_META_LEN];
    dv_extras_get_meta_encode(ex, &m);
    reply_spec s = {0, ex, sizeof ex, NULL, 0, 0, 99};
    reply r;
    do_reply(op, &s, &r);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.exists, 1);
    assert_int_equal(r.res.deleted, 0);
    assert_int_equal(r.res.cas, 99);
    assert_int_equal(r.res.flags, DV_FLAGS_JSON);
    reply_free(&r);
    /* A tombstone: does not exist. */
    m.deleted = 1;
    dv_extras_get_meta_encode(ex, &m);
    do_reply(op, &s, &r);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.exists, 0);
    assert_int_equal(r.res.deleted, 1);
    reply_free(&r);
    /* Never existed: false, not an error (the official exists()). */
    s = (reply_spec){DV_STATUS_KEY_ENOENT, NULL, 0, NULL, 0, 0, 0};
    do_reply(op, &s, &r);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.exists, 0);
    assert_int_equal(r.v, DV_OP_DONE);
    reply_free(&r);
    /* Bad extras. */
    s = (reply_spec){0, ex, 5, NULL, 0, 0, 0};
    do_reply(op, &s, &r);
    assert_int_equal(r.res.err, DV_ERR_PROTOCOL_ERROR);
    reply_free(&r);
    dv_op_free(op);
    expect_status(&req, DV_STATUS_EACCESS, DV_ERR_AUTHENTICATION_FAILURE, DV_OP_DONE,
                  DV_RETRY_NONE);
}

/* python-api.md §2.4: status -> error, per operation. */
static void decode_error_mapping(void **state)
{
    (void)state;
    dv_req get = base_req(DV_KV_GET), ins = base_req(DV_KV_INSERT), rep = base_req(DV_KV_REPLACE),
           unl = base_req(DV_KV_UNLOCK), app = base_req(DV_KV_APPEND), rem = base_req(DV_KV_REMOVE),
           ups = base_req(DV_KV_UPSERT), touch = base_req(DV_KV_TOUCH), noop = base_req(DV_KV_NOOP);
    rep.cas = 5;
    unl.cas = 5;
    ups.durability = DV_DURABILITY_MAJORITY;
    struct {
        const dv_req *req;
        uint16_t status;
        dv_error err;
    } cases[] = {
        {&get, DV_STATUS_KEY_ENOENT, DV_ERR_DOCUMENT_NOT_FOUND},
        {&touch, DV_STATUS_KEY_ENOENT, DV_ERR_DOCUMENT_NOT_FOUND},
        {&ins, DV_STATUS_KEY_EEXISTS, DV_ERR_DOCUMENT_EXISTS},
        {&ins, DV_STATUS_NOT_STORED, DV_ERR_DOCUMENT_EXISTS},
        {&rep, DV_STATUS_KEY_EEXISTS, DV_ERR_CAS_MISMATCH},
        {&rem, DV_STATUS_KEY_EEXISTS, DV_ERR_CAS_MISMATCH},
        {&unl, DV_STATUS_LOCKED, DV_ERR_CAS_MISMATCH},
        {&unl, DV_STATUS_NOT_LOCKED, DV_ERR_DOCUMENT_NOT_LOCKED},
        {&app, DV_STATUS_NOT_STORED, DV_ERR_DOCUMENT_NOT_FOUND},
        {&ups, DV_STATUS_E2BIG, DV_ERR_VALUE_TOO_LARGE},
        {&ups, DV_STATUS_EINVAL, DV_ERR_INVALID_ARGUMENT},
        {&ups, DV_STATUS_DURABILITY_INVALID_LEVEL, DV_ERR_DURABILITY_LEVEL_NOT_AVAILABLE},
        {&ups, DV_STATUS_DURABILITY_IMPOSSIBLE, DV_ERR_DURABILITY_IMPOSSIBLE},
        {&ups, DV_STATUS_SYNC_WRITE_AMBIGUOUS, DV_ERR_DURABILITY_AMBIGUOUS},
        {&ups, DV_STATUS_NO_BUCKET, DV_ERR_BUCKET_NOT_FOUND},
        {&ups, DV_STATUS_EACCESS, DV_ERR_AUTHENTICATION_FAILURE},
        {&ups, DV_STATUS_UNKNOWN_SCOPE, DV_ERR_SCOPE_NOT_FOUND},
        {&ups, DV_STATUS_RATE_LIMITED_MAX_COMMANDS, DV_ERR_RATE_LIMITED},
        {&ups, DV_STATUS_EINTERNAL, DV_ERR_INTERNAL_SERVER_FAILURE},
        {&noop, DV_STATUS_UNKNOWN_COMMAND, DV_ERR_UNSUPPORTED_OPERATION},
        /* Not retried: fail at once. */
        {&ups, DV_STATUS_EBUSY, DV_ERR_TEMPORARY_FAILURE},
        {&ups, DV_STATUS_ENOMEM, DV_ERR_TEMPORARY_FAILURE},
        {&get, DV_STATUS_NOT_INITIALIZED, DV_ERR_TEMPORARY_FAILURE},
        /* A status this op cannot get, and one not in the table. */
        {&get, DV_STATUS_SUBDOC_MULTI_PATH_FAILURE, DV_ERR_PROTOCOL_ERROR},
        {&get, DV_STATUS_AUTH_CONTINUE, DV_ERR_PROTOCOL_ERROR},
        {&get, 0x7777, DV_ERR_PROTOCOL_ERROR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_status(cases[i].req, cases[i].status, cases[i].err, DV_OP_DONE, DV_RETRY_NONE);
}

static void decode_retry_verdicts(void **state)
{
    (void)state;
    dv_req ups = base_req(DV_KV_UPSERT), gal = base_req(DV_KV_GET_AND_LOCK),
           get = base_req(DV_KV_GET);
    expect_status(&ups, DV_STATUS_LOCKED, DV_ERR_DOCUMENT_LOCKED, DV_OP_RETRY, DV_RETRY_LOCKED);
    expect_status(&gal, DV_STATUS_LOCKED, DV_ERR_DOCUMENT_LOCKED, DV_OP_RETRY, DV_RETRY_LOCKED);
    expect_status(&get, DV_STATUS_ETMPFAIL, DV_ERR_TEMPORARY_FAILURE, DV_OP_RETRY,
                  DV_RETRY_TEMPORARY_FAILURE);
    expect_status(&ups, DV_STATUS_SYNC_WRITE_IN_PROGRESS, DV_ERR_DURABLE_WRITE_IN_PROGRESS,
                  DV_OP_RETRY, DV_RETRY_SYNC_WRITE_IN_PROGRESS);
    expect_status(&ups, DV_STATUS_SYNC_WRITE_RE_COMMIT_IN_PROGRESS,
                  DV_ERR_DURABLE_WRITE_RE_COMMIT_IN_PROGRESS, DV_OP_RETRY,
                  DV_RETRY_SYNC_WRITE_RE_COMMIT_IN_PROGRESS);
    expect_status(&ups, DV_STATUS_ECONFIG_ONLY, DV_ERR_TEMPORARY_FAILURE, DV_OP_RETRY,
                  DV_RETRY_CONFIG_ONLY);
    expect_status(&get, DV_STATUS_UNKNOWN_COLLECTION, DV_ERR_COLLECTION_NOT_FOUND,
                  DV_OP_UNKNOWN_COLLECTION, DV_RETRY_COLLECTION_OUTDATED);
    expect_status(&ups, DV_STATUS_NOT_MY_VBUCKET, DV_ERR_REQUEST_CANCELED, DV_OP_NOT_MY_VBUCKET,
                  DV_RETRY_NOT_MY_VBUCKET);

    /* NOT_MY_VBUCKET hands over the config in the body. */
    dv_op *op = new_op(&get);
    reply_spec s = {DV_STATUS_NOT_MY_VBUCKET, NULL, 0, "{\"rev\":9}", 9, DV_DATATYPE_JSON, 0};
    reply r;
    do_reply(op, &s, &r);
    assert_int_equal(r.v, DV_OP_NOT_MY_VBUCKET);
    assert_int_equal(r.res.datatype, DV_DATATYPE_JSON);
    tu_assert_hex(r.res.value, r.res.value_len, "7b 22 72 65 76 22 3a 39 7d");
    reply_free(&r);
    dv_op_free(op);

    /* The backoff table. */
    uint64_t want[] = {1, 10, 50, 100, 500, 1000, 1000, 1000};
    for (unsigned i = 0; i < 8; i++) assert_int_equal(dv_op_backoff_ms(i), want[i]);
    assert_int_equal(dv_op_backoff_ms(1000000), 1000);
}

static void lookup_reply(const dv_op *op, uint16_t top, const dv_subdoc_result *rr, size_t n,
                         reply *r)
{
    dv_buf body = DV_BUF_INIT;
    assert_int_equal(dv_subdoc_lookup_res_encode(&body, rr, n), DV_ERR_OK);
    reply_spec s = {top, NULL, 0, dv_buf_head(&body), dv_buf_size(&body), 0, 0x55};
    do_reply(op, &s, r);
    dv_buf_free(&body);
}

static void decode_lookup_in(void **state)
{
    (void)state;
    dv_req req = base_req(DV_KV_LOOKUP_IN);
    req.specs = lookup_specs;
    req.nspecs = 3;
    dv_op *op = new_op(&req);
    /* Wire order: the xattr spec (1), then 0 and 2. */
    dv_subdoc_result rr[3] = {
        {0, DV_STATUS_SUCCESS, (const uint8_t *)"true", 4},
        {1, DV_STATUS_SUCCESS, (const uint8_t *)"\"divan\"", 7},
        {2, DV_STATUS_SUBDOC_PATH_ENOENT, NULL, 0},
    };
    reply r;
    lookup_reply(op, DV_STATUS_SUBDOC_MULTI_PATH_FAILURE, rr, 3, &r);
    assert_int_equal(r.v, DV_OP_DONE);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.cas, 0x55);
    assert_int_equal(r.res.nspecs, 3);
    assert_non_null(r.res.specs);
    assert_int_equal((uintptr_t)r.res.specs % _Alignof(dv_subdoc_res), 0);
    assert_int_equal(r.res.specs[0].err, DV_ERR_OK);
    tu_assert_hex(r.res.specs[0].value, r.res.specs[0].value_len, "22 64 69 76 61 6e 22");
    assert_int_equal(r.res.specs[1].err, DV_ERR_OK);
    tu_assert_hex(r.res.specs[1].value, r.res.specs[1].value_len, "74 72 75 65");
    assert_int_equal(r.res.specs[2].status, DV_STATUS_SUBDOC_PATH_ENOENT);
    assert_int_equal(r.res.specs[2].err, DV_ERR_PATH_NOT_FOUND);
    assert_int_equal(r.res.deleted, 0);
    reply_free(&r);

    /* On a tombstone (access_deleted). */
    rr[2] = (dv_subdoc_result){2, DV_STATUS_SUCCESS, (const uint8_t *)"3", 1};
    lookup_reply(op, DV_STATUS_SUBDOC_SUCCESS_DELETED, rr, 3, &r);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.deleted, 1);
    tu_assert_hex(r.res.specs[2].value, r.res.specs[2].value_len, "33");
    reply_free(&r);

    /* An exists spec on a missing path: false, not an error. */
    rr[0] = (dv_subdoc_result){0, DV_STATUS_SUBDOC_PATH_ENOENT, NULL, 0};
    lookup_reply(op, DV_STATUS_SUBDOC_MULTI_PATH_FAILURE, rr, 3, &r);
    assert_int_equal(r.res.specs[1].err, DV_ERR_OK);
    assert_int_equal(r.res.specs[1].status, DV_STATUS_SUBDOC_PATH_ENOENT);
    tu_assert_hex(r.res.specs[1].value, r.res.specs[1].value_len, "66 61 6c 73 65");
    reply_free(&r);
    rr[0] = (dv_subdoc_result){0, DV_STATUS_SUCCESS, (const uint8_t *)"true", 4};

    /* Fewer results than specs. */
    lookup_reply(op, DV_STATUS_SUCCESS, rr, 2, &r);
    assert_int_equal(r.res.err, DV_ERR_PROTOCOL_ERROR);
    assert_null(r.res.specs);
    reply_free(&r);

    /* A compressed body is inflated first. */
    dv_buf body = DV_BUF_INIT, z = DV_BUF_INIT;
    char big[200];
    memset(big, '1', sizeof big);
    rr[1] = (dv_subdoc_result){1, DV_STATUS_SUCCESS, (const uint8_t *)big, sizeof big};
    assert_int_equal(dv_subdoc_lookup_res_encode(&body, rr, 3), DV_ERR_OK);
    uint8_t dt = 0;
    assert_int_equal(dv_snappy_compress(dv_buf_head(&body), dv_buf_size(&body), &z, &dt), 1);
    reply_spec s = {0, NULL, 0, dv_buf_head(&z), dv_buf_size(&z), dt, 1};
    do_reply(op, &s, &r);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.specs[0].value_len, sizeof big);
    assert_memory_equal(r.res.specs[0].value, big, sizeof big);
    reply_free(&r);
    dv_buf_free(&body);
    dv_buf_free(&z);
    dv_op_free(op);

    expect_status(&req, DV_STATUS_KEY_ENOENT, DV_ERR_DOCUMENT_NOT_FOUND, DV_OP_DONE, DV_RETRY_NONE);
    expect_status(&req, DV_STATUS_SUBDOC_INVALID_COMBO, DV_ERR_INVALID_ARGUMENT, DV_OP_DONE,
                  DV_RETRY_NONE);
}

static void mutation_reply(const dv_op *op, uint16_t top, const dv_subdoc_result *rr, size_t n,
                           const void *extras, size_t elen, reply *r)
{
    dv_buf body = DV_BUF_INIT;
    assert_int_equal(dv_subdoc_mutation_res_encode(&body, top, rr, n), DV_ERR_OK);
    reply_spec s = {top, extras, elen, dv_buf_head(&body), dv_buf_size(&body), 0, 0x66};
    do_reply(op, &s, r);
    dv_buf_free(&body);
}

static void decode_mutate_in(void **state)
{
    (void)state;
    dv_req req = base_req(DV_KV_MUTATE_IN);
    req.specs = mutation_specs;
    req.nspecs = 3;
    dv_op *op = new_op(&req);
    op->vbucket = 3;
    /* Wire: xattr spec (2), then 0, then the counter (1) at wire index 2. */
    dv_subdoc_result rr[1] = {{2, DV_STATUS_SUCCESS, (const uint8_t *)"15", 2}};
    uint8_t tok[16] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9};
    reply r;
    mutation_reply(op, DV_STATUS_SUCCESS, rr, 1, tok, 16, &r);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.cas, 0x66);
    assert_int_equal(r.res.nspecs, 3);
    assert_int_equal(r.res.specs[0].value_len, 0);
    tu_assert_hex(r.res.specs[1].value, r.res.specs[1].value_len, "31 35");
    assert_int_equal(r.res.specs[2].value_len, 0);
    assert_int_equal(r.res.has_token, 1);
    assert_int_equal(r.res.token.sequence_number, 9);
    assert_int_equal(r.res.token.partition_id, 3);
    reply_free(&r);

    /* The failing spec's error is the operation's (wire index 1 = spec 0). */
    rr[0] = (dv_subdoc_result){1, DV_STATUS_SUBDOC_PATH_EEXISTS, NULL, 0};
    mutation_reply(op, DV_STATUS_SUBDOC_MULTI_PATH_FAILURE, rr, 1, NULL, 0, &r);
    assert_int_equal(r.v, DV_OP_DONE);
    assert_int_equal(r.res.err, DV_ERR_PATH_EXISTS);
    assert_int_equal(r.res.cas, 0);
    assert_int_equal(r.res.nspecs, 3);
    assert_int_equal(r.res.specs[0].err, DV_ERR_PATH_EXISTS);
    assert_int_equal(r.res.specs[1].err, DV_ERR_OK);
    assert_int_equal(r.res.has_token, 0);
    reply_free(&r);
    rr[0] = (dv_subdoc_result){0, DV_STATUS_SUBDOC_PATH_ENOENT, NULL, 0};
    mutation_reply(op, DV_STATUS_SUBDOC_MULTI_PATH_FAILURE, rr, 1, NULL, 0, &r);
    assert_int_equal(r.res.err, DV_ERR_PATH_NOT_FOUND);
    assert_int_equal(r.res.specs[2].err, DV_ERR_PATH_NOT_FOUND);
    reply_free(&r);

    /* An index beyond the specs sent. */
    rr[0] = (dv_subdoc_result){5, DV_STATUS_SUCCESS, (const uint8_t *)"1", 1};
    mutation_reply(op, DV_STATUS_SUCCESS, rr, 1, NULL, 0, &r);
    assert_int_equal(r.res.err, DV_ERR_PROTOCOL_ERROR);
    reply_free(&r);

    /* Deleted document (access_deleted): success on a tombstone. */
    mutation_reply(op, DV_STATUS_SUBDOC_SUCCESS_DELETED, NULL, 0, NULL, 0, &r);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.deleted, 1);
    reply_free(&r);
    dv_op_free(op);

    /* KEY_EEXISTS: a CAS mismatch, except with insert semantics. */
    req.cas = 5;
    expect_status(&req, DV_STATUS_KEY_EEXISTS, DV_ERR_CAS_MISMATCH, DV_OP_DONE, DV_RETRY_NONE);
    req.cas = 0;
    req.store_semantics = DV_STORE_INSERT;
    expect_status(&req, DV_STATUS_KEY_EEXISTS, DV_ERR_DOCUMENT_EXISTS, DV_OP_DONE, DV_RETRY_NONE);
    req.store_semantics = DV_STORE_REPLACE;
    expect_status(&req, DV_STATUS_KEY_ENOENT, DV_ERR_DOCUMENT_NOT_FOUND, DV_OP_DONE, DV_RETRY_NONE);
    expect_status(&req, DV_STATUS_LOCKED, DV_ERR_DOCUMENT_LOCKED, DV_OP_RETRY, DV_RETRY_LOCKED);
    expect_status(&req, DV_STATUS_SUBDOC_XATTR_CANT_MODIFY_VATTR,
                  DV_ERR_XATTR_CANNOT_MODIFY_VIRTUAL_ATTRIBUTE, DV_OP_DONE, DV_RETRY_NONE);
}

static void decode_get_with_expiry(void **state)
{
    (void)state;
    dv_req req = base_req(DV_KV_GET);
    req.with_expiry = 1;
    dv_op *op = new_op(&req);
    dv_subdoc_result rr[3] = {
        {0, DV_STATUS_SUCCESS, (const uint8_t *)"1700000000", 10},
        {1, DV_STATUS_SUCCESS, (const uint8_t *)"33554432", 8},
        {2, DV_STATUS_SUCCESS, (const uint8_t *)"{\"a\":1}", 7},
    };
    reply r;
    lookup_reply(op, DV_STATUS_SUCCESS, rr, 3, &r);
    assert_int_equal(r.v, DV_OP_DONE);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.expiry, 1700000000u);
    assert_int_equal(r.res.flags, DV_FLAGS_JSON);
    assert_int_equal(r.res.datatype, DV_DATATYPE_JSON);
    assert_int_equal(r.res.cas, 0x55);
    tu_assert_hex(r.res.value, r.res.value_len, "7b 22 61 22 3a 31 7d");
    assert_null(r.res.specs);
    reply_free(&r);

    /* No expiry, binary flags. */
    rr[0] = (dv_subdoc_result){0, DV_STATUS_SUCCESS, (const uint8_t *)"0", 1};
    rr[1] = (dv_subdoc_result){1, DV_STATUS_SUCCESS, (const uint8_t *)"50331648", 8};
    lookup_reply(op, DV_STATUS_SUCCESS, rr, 3, &r);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.expiry, 0);
    assert_int_equal(r.res.flags, DV_FLAGS_BINARY);
    assert_int_equal(r.res.datatype, 0);
    reply_free(&r);

    /* An empty expiry reads as none. */
    rr[0] = (dv_subdoc_result){0, DV_STATUS_SUCCESS, NULL, 0};
    lookup_reply(op, DV_STATUS_SUCCESS, rr, 3, &r);
    assert_int_equal(r.res.err, DV_ERR_OK);
    assert_int_equal(r.res.expiry, 0);
    reply_free(&r);

    /* Not a number. */
    rr[0] = (dv_subdoc_result){0, DV_STATUS_SUCCESS, (const uint8_t *)"\"x\"", 3};
    lookup_reply(op, DV_STATUS_SUCCESS, rr, 3, &r);
    assert_int_equal(r.res.err, DV_ERR_PARSING_FAILURE);
    assert_null(r.res.value);
    reply_free(&r);
    /* A failing spec. */
    rr[0] = (dv_subdoc_result){0, DV_STATUS_SUBDOC_PATH_ENOENT, NULL, 0};
    lookup_reply(op, DV_STATUS_SUBDOC_MULTI_PATH_FAILURE, rr, 3, &r);
    assert_int_equal(r.res.err, DV_ERR_PATH_NOT_FOUND);
    reply_free(&r);
    dv_op_free(op);
    expect_status(&req, DV_STATUS_KEY_ENOENT, DV_ERR_DOCUMENT_NOT_FOUND, DV_OP_DONE, DV_RETRY_NONE);
}

static void decode_simple_kinds(void **state)
{
    (void)state;
    dv_op_kind kinds[] = {DV_KV_TOUCH, DV_KV_UNLOCK, DV_KV_NOOP, DV_KV_REMOVE, DV_KV_APPEND};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        dv_req req = base_req(kinds[i]);
        req.cas = kinds[i] == DV_KV_UNLOCK ? 1 : 0;
        dv_op *op = new_op(&req);
        reply_spec s = {0, NULL, 0, NULL, 0, 0, 1234};
        reply r;
        do_reply(op, &s, &r);
        assert_int_equal(r.v, DV_OP_DONE);
        assert_int_equal(r.res.err, DV_ERR_OK);
        assert_int_equal(r.res.cas, 1234);
        reply_free(&r);
        dv_op_free(op);
    }
}

/* A reply with another opcode than the request's is not this op's answer. */
static void decode_wrong_opcode(void **state)
{
    (void)state;
    dv_req req = base_req(DV_KV_GET);
    dv_op *op = new_op(&req);
    dv_frame f;
    memset(&f, 0, sizeof f);
    f.magic = DV_MAGIC_RES;
    f.opcode = DV_OP_SET;
    dv_res res;
    memset(&res, 0, sizeof res);
    dv_buf scratch = DV_BUF_INIT;
    dv_retry why;
    assert_int_equal(dv_op_decode(op, &f, &res, &scratch, &why), DV_OP_DONE);
    assert_int_equal(res.err, DV_ERR_PROTOCOL_ERROR);
    dv_buf_free(&scratch);
    dv_op_free(op);
}

static void xerror_message(void **state)
{
    (void)state;
    static const char body[] = "{\"error\":{\"context\":\"Request must not include extras\","
                               "\"ref\":\"abc\"}}";
    dv_frame f;
    memset(&f, 0, sizeof f);
    f.magic = DV_MAGIC_RES;
    f.status = DV_STATUS_EINVAL;
    f.datatype = DV_DATATYPE_JSON;
    f.value = (const uint8_t *)body;
    f.value_len = sizeof body - 1;
    char out[64];
    assert_string_equal(dv_op_error_message(&f, out, sizeof out),
                        "Request must not include extras");
    char small[8];
    assert_string_equal(dv_op_error_message(&f, small, sizeof small), "Request");
    f.datatype = 0;
    assert_string_equal(dv_op_error_message(&f, out, sizeof out), "");
    f.datatype = DV_DATATYPE_JSON;
    f.value = (const uint8_t *)"{bad";
    f.value_len = 4;
    assert_string_equal(dv_op_error_message(&f, out, sizeof out), "");
}

/* ---- validation ---- */

static void expect_refused(const dv_req *r, dv_error want, const char *needle)
{
    dv_op *op = (dv_op *)1;
    char err[160] = "";
    assert_int_equal(dv_op_new(r, &op, err, sizeof err), want);
    assert_null(op);
    if (!strstr(err, needle)) fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err, needle);
    assert_non_null(strstr(err, needle));
}

static void expect_invalid(const dv_req *r, const char *needle)
{
    expect_refused(r, DV_ERR_INVALID_ARGUMENT, needle);
}

static void validation(void **state)
{
    (void)state;
    dv_req r;
    char key[260];
    memset(key, 'k', sizeof key);

    r = base_req(DV_KV_GET);
    r.key_len = 0;
    expect_invalid(&r, "key is empty");
    r.key = key;
    r.key_len = 251;
    expect_invalid(&r, "longer than 250");
    r.key_len = 250;
    dv_op_free(new_op(&r));

    r = base_req(DV_KV_GET);
    r.bucket = NULL;
    expect_invalid(&r, "bucket");
    r = base_req((dv_op_kind)99);
    expect_invalid(&r, "unknown operation kind");

    r = base_req(DV_KV_UPSERT);
    r.value = "x";
    r.value_len = DV_MAX_VALUE_LEN + 1; /* never read: refused first (as the server would) */
    expect_refused(&r, DV_ERR_VALUE_TOO_LARGE, "20 MiB");
    r.value_len = 1;
    r.datatype = DV_DATATYPE_SNAPPY;
    expect_invalid(&r, "datatype");
    r.datatype = 0;
    r.durability = 4;
    expect_invalid(&r, "durability level 4");

    r = base_req(DV_KV_GET);
    r.durability = 1;
    expect_invalid(&r, "get does not take a durability");

    r = base_req(DV_KV_REPLACE);
    r.expiry = 10;
    r.preserve_expiry = 1;
    expect_invalid(&r, "expiry and preserve_expiry");
    r.kind = DV_KV_UPSERT; /* allowed there, as the official SDK does */
    dv_op_free(new_op(&r));
    r.kind = DV_KV_INSERT;
    expect_invalid(&r, "insert does not take preserve_expiry");

    r = base_req(DV_KV_INSERT);
    r.cas = 1;
    expect_invalid(&r, "insert takes no CAS");
    r = base_req(DV_KV_UNLOCK);
    expect_invalid(&r, "unlock needs the CAS");
    r = base_req(DV_KV_GET_REPLICA);
    expect_invalid(&r, "replica index 0");
    r.replica_index = 4;
    expect_invalid(&r, "replica index 4");

    r = base_req(DV_KV_INCREMENT);
    r.delta = (uint64_t)INT64_MAX + 1;
    expect_invalid(&r, "delta");
    r.delta = 1;
    r.has_initial = 1;
    r.initial = UINT64_MAX;
    expect_invalid(&r, "initial");
    r.initial = 0;
    r.expiry = DV_COUNTER_NO_CREATE;
    expect_invalid(&r, "do not create");

    r = base_req(DV_KV_LOOKUP_IN);
    expect_invalid(&r, "1 to 16 specs");
    dv_subdoc_op many[17];
    for (int i = 0; i < 17; i++) many[i] = lookup_specs[0];
    r.specs = many;
    r.nspecs = 17;
    expect_invalid(&r, "got 17");
    r.nspecs = 16;
    dv_op_free(new_op(&r));
    r.specs = mutation_specs;
    r.nspecs = 1;
    expect_invalid(&r, "not a lookup opcode");
    dv_subdoc_op with_value = {DV_OP_SUBDOC_GET, 0, "a", 1, "1", 1};
    r.specs = &with_value;
    expect_invalid(&r, "has no value");

    r = base_req(DV_KV_MUTATE_IN);
    r.specs = lookup_specs;
    r.nspecs = 1;
    expect_invalid(&r, "not a mutation opcode");
    dv_subdoc_op ins = {DV_OP_SUBDOC_DICT_ADD, 0, "a", 1, "1", 1};
    r.specs = &ins;
    r.preserve_expiry = 1;
    expect_invalid(&r, "insert spec");
    r.preserve_expiry = 0;
    r.store_semantics = (dv_store_semantics)3;
    expect_invalid(&r, "store semantics");
    r.store_semantics = DV_STORE_INSERT;
    r.cas = 3;
    expect_invalid(&r, "no CAS");
    r.store_semantics = DV_STORE_UPSERT;
    expect_invalid(&r, "upsert semantics take no CAS");
    r.store_semantics = DV_STORE_INSERT;
    r.cas = 0;
    r.expiry = 5;
    r.preserve_expiry = 1;
    r.specs = mutation_specs;
    expect_invalid(&r, "expiry and preserve_expiry");

    /* No request at all. */
    dv_op *op = NULL;
    assert_int_equal(dv_op_new(NULL, &op, NULL, 0), DV_ERR_INVALID_ARGUMENT);
}

/* The op owns copies: the caller's memory may change after dv_op_new. */
static void deep_copy(void **state)
{
    (void)state;
    char key[] = "foo", val[] = "{\"a\":1}", bucket[] = "b1", path[] = "a.b", sval[] = "7";
    dv_subdoc_op spec = {DV_OP_SUBDOC_DICT_UPSERT, 0, path, 3, sval, 1};
    dv_req r = base_req(DV_KV_UPSERT);
    r.bucket = bucket;
    r.key = key;
    r.value = val;
    r.value_len = 7;
    dv_op *op = new_op(&r);
    r.kind = DV_KV_MUTATE_IN;
    r.specs = &spec;
    r.nspecs = 1;
    dv_op *op2 = new_op(&r);
    memset(key, 'x', 3);
    memset(val, 'x', 7);
    memset(bucket, 'x', 2);
    memset(path, 'x', 3);
    sval[0] = 'x';
    assert_memory_equal(op->req.key, "foo", 3);
    assert_memory_equal(op->req.value, "{\"a\":1}", 7);
    assert_string_equal(op->req.bucket, "b1");
    assert_int_equal(op->opcode, DV_OP_SET);
    assert_int_equal(op->id, 0);
    assert_memory_equal(op2->req.specs[0].path, "a.b", 3);
    assert_memory_equal(op2->req.specs[0].value, "7", 1);
    assert_null(op2->req.value); /* mutate_in carries no document value */
    dv_op_free(op);
    dv_op_free(op2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_get_bytes),
        cmocka_unit_test(encode_set_durability_bytes),
        cmocka_unit_test(encode_counter_bytes),
        cmocka_unit_test(encode_kinds),
        cmocka_unit_test(encode_collections_and_datatype),
        cmocka_unit_test(encode_snappy),
        cmocka_unit_test(encode_lookup_in),
        cmocka_unit_test(encode_mutate_in),
        cmocka_unit_test(encode_get_with_expiry),
        cmocka_unit_test(decode_get),
        cmocka_unit_test(decode_mutation_token),
        cmocka_unit_test(decode_counter),
        cmocka_unit_test(decode_exists),
        cmocka_unit_test(decode_error_mapping),
        cmocka_unit_test(decode_retry_verdicts),
        cmocka_unit_test(decode_lookup_in),
        cmocka_unit_test(decode_mutate_in),
        cmocka_unit_test(decode_get_with_expiry),
        cmocka_unit_test(decode_simple_kinds),
        cmocka_unit_test(decode_wrong_opcode),
        cmocka_unit_test(xerror_message),
        cmocka_unit_test(validation),
        cmocka_unit_test(deep_copy),
    };
    return TU_RUN(tests);
}
