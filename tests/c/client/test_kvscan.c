/* dv_kvscan over a scripted submit hook (a model of the server's range scans: per vbucket a
 * sorted key list), and the range-scan operations' encoding and decoding (client/op). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/endian.h"
#include "client/op.h"
#include "divan/scan.h"
#include "mcbp/frame.h"
#include "mcbp/protocol.h"
#include "mcbp/rscan.h"

/* ---- the model ---------------------------------------------------------------------------- */

#define NVB     8
#define MAXKEYS 64
#define MAXREQ  256

typedef struct vbm {
    char keys[MAXKEYS][16];
    size_t n;
    size_t pos; /* next key of the open scan */
    int open;
    int created;    /* creates seen */
    uint64_t seqno; /* for snapshot requirements */
} vbm;

typedef struct sreq {
    dv_op_kind kind;
    uint16_t vb;
    dv_scan_req sc;
    dv_res_cb cb;
    void *ud;
    uint64_t id;
    int live;
} sreq;

static struct {
    vbm vb[NVB];
    sreq q[MAXREQ];
    size_t nq, head;
    uint64_t next_id;
    unsigned open_now, open_max;
    int split;       /* answer each continue in two frames */
    int fail_vb;     /* a create on this vbucket fails with ETMPFAIL-like error; -1 none */
    int sync_cancel; /* the cancel hook completes the op at once (the engine's way) */
    unsigned ready_calls;
    size_t cancels_sent;
} M;

static void model_reset(void)
{
    memset(&M, 0, sizeof M);
    M.fail_vb = -1;
    M.sync_cancel = 1;
}

/* Keys "k<vb><i>" so that vbucket order and key order are easy to check. */
static void fill_vb(unsigned vb, size_t n)
{
    M.vb[vb].n = n;
    for (size_t i = 0; i < n; i++) snprintf(M.vb[vb].keys[i], 16, "k%u-%03zu", vb, i);
}

static dv_error io_submit(void *ud, const dv_req *req, dv_res_cb cb, void *cb_ud, uint64_t *id)
{
    (void)ud;
    assert_true(M.nq < MAXREQ);
    sreq *r = &M.q[M.nq++];
    r->kind = req->kind;
    r->vb = req->vbucket;
    r->sc = *req->scan;
    r->cb = cb;
    r->ud = cb_ud;
    r->id = ++M.next_id;
    r->live = 1;
    *id = r->id;
    if (req->kind == DV_KV_RANGE_SCAN_CANCEL) M.cancels_sent++;
    return DV_ERR_OK;
}

static void finish_req(sreq *r, dv_res *res)
{
    dv_error_context ctx = {.status = 0, .node = "model", .message = ""};
    res->ctx = &ctx;
    r->live = 0;
    r->cb(r->ud, res);
}

static void io_cancel(void *ud, uint64_t id)
{
    (void)ud;
    if (!M.sync_cancel) return;
    for (size_t i = 0; i < M.nq; i++)
        if (M.q[i].id == id && M.q[i].live) {
            dv_res res;
            memset(&res, 0, sizeof res);
            res.err = DV_ERR_REQUEST_CANCELED;
            finish_req(&M.q[i], &res);
        }
}

static void io_ready(void *ud)
{
    (void)ud;
    M.ready_calls++;
}

static const dv_kvscan_io IO = {NULL, io_submit, io_cancel, io_ready, NULL};

static int vb_of_id(const uint8_t id[16])
{
    return id[0];
}

/* Answer one request (the oldest live one). 0 if none. */
static int serve_one(void)
{
    while (M.head < M.nq && !M.q[M.head].live) M.head++;
    if (M.head >= M.nq) return 0;
    sreq *r = &M.q[M.head++];
    dv_res res;
    memset(&res, 0, sizeof res);
    res.nvbuckets = NVB;
    vbm *v = &M.vb[r->vb];
    switch (r->kind) {
    case DV_KV_RANGE_SCAN_CREATE: {
        v->created++;
        if ((int)r->vb == M.fail_vb) {
            res.err = DV_ERR_MUTATION_TOKEN_OUTDATED;
            finish_req(r, &res);
            return 1;
        }
        size_t first = 0;
        if (!r->sc.sampling) {
            while (first < v->n && strncmp(v->keys[first], r->sc.start, r->sc.start_len) < 0)
                first++;
        }
        if (first >= v->n) {
            res.err = DV_ERR_DOCUMENT_NOT_FOUND;
            finish_req(r, &res);
            return 1;
        }
        uint8_t id[16] = {(uint8_t)r->vb};
        v->pos = first;
        v->open = 1;
        M.open_now++;
        if (M.open_now > M.open_max) M.open_max = M.open_now;
        res.value = id;
        res.value_len = 16;
        finish_req(r, &res);
        return 1;
    }
    case DV_KV_RANGE_SCAN_CONTINUE: {
        assert_int_equal(vb_of_id(r->sc.id), r->vb);
        assert_true(v->open);
        dv_buf b = DV_BUF_INIT;
        size_t lim = r->sc.item_limit, sent = 0;
        while (v->pos < v->n && sent < lim) {
            const char *k = v->keys[v->pos++];
            dv_rscan_doc d = {.flags = 0x02000006,
                              .cas = 1000 + v->pos,
                              .datatype = 1,
                              .key = (const uint8_t *)k,
                              .nkey = strlen(k),
                              .value = (const uint8_t *)"{}",
                              .nvalue = 2};
            assert_int_equal(dv_rscan_put_doc(&b, &d), 0);
            sent++;
        }
        int more = v->pos < v->n;
        res.flags = 1;
        if (M.split && dv_buf_size(&b) > 0) {
            /* A first frame with the first record, the rest in the last. */
            dv_rscan_doc d;
            long one = dv_rscan_get_doc(dv_buf_head(&b), dv_buf_size(&b), &d);
            assert_true(one > 0);
            dv_res part = res;
            part.partial = 1;
            part.value = dv_buf_head(&b);
            part.value_len = (size_t)one;
            dv_error_context ctx = {.node = "model", .message = ""};
            part.ctx = &ctx;
            r->cb(r->ud, &part);
            if (!r->live) { /* cancelled from the callback */
                dv_buf_free(&b);
                return 1;
            }
            dv_buf_consume(&b, (size_t)one);
        }
        res.value = dv_buf_size(&b) ? dv_buf_head(&b) : NULL;
        res.value_len = dv_buf_size(&b);
        res.scan_more = more;
        if (!more) {
            v->open = 0;
            M.open_now--;
        }
        finish_req(r, &res);
        dv_buf_free(&b);
        return 1;
    }
    case DV_KV_RANGE_SCAN_CANCEL:
        if (M.vb[vb_of_id(r->sc.id)].open) {
            M.vb[vb_of_id(r->sc.id)].open = 0;
            M.open_now--;
        }
        finish_req(r, &res);
        return 1;
    default:
        fail();
    }
    return 0;
}

static void serve_all(void)
{
    while (serve_one()) {
    }
}

static dv_kvscan_opts range_opts(const char *start, const char *end)
{
    dv_kvscan_opts o;
    memset(&o, 0, sizeof o);
    o.bucket = "default";
    o.spec.start = start;
    o.spec.start_len = strlen(start);
    o.spec.end = end;
    o.spec.end_len = strlen(end);
    return o;
}

/* Read the whole scan, serving requests whenever it has nothing; the keys joined by spaces. */
static dv_error read_all(dv_kvscan *s, char *out, size_t cap, size_t *count)
{
    size_t used = 0;
    *count = 0;
    out[0] = '\0';
    for (;;) {
        dv_kvscan_item it;
        dv_error err = DV_ERR_OK;
        int r = dv_kvscan_next(s, &it, 0, &err, NULL, 0);
        if (r == 1) {
            int w = snprintf(out + used, cap - used, "%s%.*s", used ? " " : "", (int)it.key_len,
                             (const char *)it.key);
            assert_true(w > 0 && (size_t)w < cap - used);
            used += (size_t)w;
            ++*count;
            continue;
        }
        if (r == -1) return err;
        assert_true(serve_one()); /* nothing ready: something must be pending */
    }
}

/* ---- dv_kvscan ---------------------------------------------------------------------------- */

static void range_in_vbucket_order(void **state)
{
    (void)state;
    for (unsigned conc = 1; conc <= 5; conc += 2) {
        model_reset();
        M.split = conc == 3;
        fill_vb(0, 3);
        fill_vb(2, 5);
        fill_vb(7, 2);
        dv_kvscan_opts o = range_opts("\x01", "\xff");
        o.concurrency = conc;
        o.spec.item_limit = 2;
        dv_kvscan *s;
        char err[128];
        assert_int_equal(dv_kvscan_new(&o, &IO, &s, err, sizeof err), DV_ERR_OK);
        char keys[1024];
        size_t n;
        assert_int_equal(read_all(s, keys, sizeof keys, &n), DV_ERR_OK);
        assert_int_equal(n, 10);
        assert_string_equal(keys, "k0-000 k0-001 k0-002 k2-000 k2-001 k2-002 k2-003 k2-004 "
                                  "k7-000 k7-001");
        assert_true(M.open_max <= conc);
        for (unsigned v = 0; v < NVB; v++) assert_int_equal(M.vb[v].created, 1);
        assert_int_equal(dv_kvscan_inflight(s), 0);
        dv_kvscan_free(s);
    }
}

/* Concurrency 1: one scan open on the server at a time, but once a vbucket's scan is complete
 * the next one is created while its last batch is still being read. */
static void next_create_overlaps_reading(void **state)
{
    (void)state;
    model_reset();
    fill_vb(0, 3);
    fill_vb(1, 3);
    dv_kvscan_opts o = range_opts("\x01", "\xff");
    o.spec.item_limit = 10;
    dv_kvscan *s;
    assert_int_equal(dv_kvscan_new(&o, &IO, &s, NULL, 0), DV_ERR_OK);
    dv_kvscan_item it;
    dv_error err;
    int r;
    while ((r = dv_kvscan_next(s, &it, 0, &err, NULL, 0)) == 0) assert_true(serve_one());
    assert_int_equal(r, 1);
    assert_memory_equal(it.key, "k0-000", 6);
    int created1 = 0;
    for (size_t i = 0; i < M.nq; i++)
        created1 |= M.q[i].kind == DV_KV_RANGE_SCAN_CREATE && M.q[i].vb == 1;
    assert_true(created1); /* vbucket 0 has two items left to read */
    char keys[256];
    size_t n;
    assert_int_equal(read_all(s, keys, sizeof keys, &n), DV_ERR_OK);
    assert_string_equal(keys, "k0-001 k0-002 k1-000 k1-001 k1-002");
    assert_true(M.open_max <= 1);
    dv_kvscan_free(s);
}

static void empty_and_partial_ranges(void **state)
{
    (void)state;
    model_reset();
    dv_kvscan_opts o = range_opts("\x01", "\xff");
    dv_kvscan *s;
    assert_int_equal(dv_kvscan_new(&o, &IO, &s, NULL, 0), DV_ERR_OK);
    char keys[64];
    size_t n;
    assert_int_equal(read_all(s, keys, sizeof keys, &n), DV_ERR_OK);
    assert_int_equal(n, 0);
    dv_kvscan_free(s);

    model_reset();
    fill_vb(1, 4);
    o = range_opts("k1-002", "\xff");
    assert_int_equal(dv_kvscan_new(&o, &IO, &s, NULL, 0), DV_ERR_OK);
    assert_int_equal(read_all(s, keys, sizeof keys, &n), DV_ERR_OK);
    assert_string_equal(keys, "k1-002 k1-003");
    dv_kvscan_free(s);
}

static void sampling_stops_at_limit(void **state)
{
    (void)state;
    model_reset();
    for (unsigned v = 0; v < NVB; v++) fill_vb(v, 10);
    dv_kvscan_opts o;
    memset(&o, 0, sizeof o);
    o.bucket = "default";
    o.spec.sampling = 1;
    o.spec.samples = 13;
    o.spec.seed = 7;
    o.concurrency = 2;
    dv_kvscan *s;
    assert_int_equal(dv_kvscan_new(&o, &IO, &s, NULL, 0), DV_ERR_OK);
    char keys[1024];
    size_t n;
    assert_int_equal(read_all(s, keys, sizeof keys, &n), DV_ERR_OK);
    assert_int_equal(n, 13);
    serve_all(); /* the cancels of what was still open */
    assert_int_equal(M.open_now, 0);
    assert_int_equal(dv_kvscan_inflight(s), 0);
    for (size_t i = 0; i < M.nq; i++)
        if (M.q[i].kind == DV_KV_RANGE_SCAN_CREATE) {
            assert_true(M.q[i].sc.sampling);
            assert_int_equal(M.q[i].sc.samples, 13);
            assert_int_equal(M.q[i].sc.seed, 7);
        }
    dv_kvscan_free(s);
}

static void cancel_releases_server_scans(void **state)
{
    (void)state;
    for (int sync = 0; sync <= 1; sync++) {
        model_reset();
        M.sync_cancel = sync;
        for (unsigned v = 0; v < NVB; v++) fill_vb(v, 10);
        dv_kvscan_opts o = range_opts("\x01", "\xff");
        o.concurrency = 3;
        o.spec.item_limit = 4;
        dv_kvscan *s;
        assert_int_equal(dv_kvscan_new(&o, &IO, &s, NULL, 0), DV_ERR_OK);
        dv_kvscan_item it;
        dv_error err;
        int got = 0;
        while (got < 5) {
            int r = dv_kvscan_next(s, &it, 0, &err, NULL, 0);
            assert_int_not_equal(r, -1);
            if (r == 1)
                got++;
            else
                assert_true(serve_one());
        }
        assert_true(M.open_now > 0);
        dv_kvscan_cancel(s);
        assert_int_equal(dv_kvscan_next(s, &it, 0, &err, NULL, 0), -1);
        assert_int_equal(err, DV_ERR_REQUEST_CANCELED);
        serve_all();
        assert_int_equal(M.open_now, 0);
        assert_true(M.cancels_sent > 0);
        dv_kvscan_free(s);
    }
}

static void free_while_in_flight(void **state)
{
    (void)state;
    /* The native driver cannot cancel: completions come after the free. */
    model_reset();
    M.sync_cancel = 0;
    for (unsigned v = 0; v < NVB; v++) fill_vb(v, 10);
    dv_kvscan_opts o = range_opts("\x01", "\xff");
    o.concurrency = 4;
    dv_kvscan *s;
    assert_int_equal(dv_kvscan_new(&o, &IO, &s, NULL, 0), DV_ERR_OK);
    serve_one(); /* vbucket 0 created: the others' creates go out */
    dv_kvscan_free(s);
    serve_all(); /* the scan frees itself with the last completion (the leak check says) */
    assert_int_equal(M.open_now, 0);
}

static void error_ends_scan(void **state)
{
    (void)state;
    model_reset();
    fill_vb(0, 2);
    fill_vb(3, 2);
    M.fail_vb = 3;
    dv_kvscan_opts o = range_opts("\x01", "\xff");
    o.concurrency = 8;
    dv_token tok = {
        .partition_uuid = 99, .sequence_number = 5, .partition_id = 3, .bucket_name = "default"};
    dv_token other = {
        .partition_uuid = 1, .sequence_number = 1, .partition_id = 4, .bucket_name = "another"};
    dv_token toks[2] = {tok, other};
    o.tokens = toks;
    o.ntokens = 2;
    dv_kvscan *s;
    assert_int_equal(dv_kvscan_new(&o, &IO, &s, NULL, 0), DV_ERR_OK);
    char keys[256];
    size_t n;
    assert_int_equal(read_all(s, keys, sizeof keys, &n), DV_ERR_MUTATION_TOKEN_OUTDATED);
    for (size_t i = 0; i < M.nq; i++)
        if (M.q[i].kind == DV_KV_RANGE_SCAN_CREATE) {
            assert_int_equal(M.q[i].sc.has_snapshot, M.q[i].vb == 3);
            if (M.q[i].vb == 3) {
                assert_int_equal(M.q[i].sc.vb_uuid, 99);
                assert_int_equal(M.q[i].sc.seqno, 5);
            }
        }
    serve_all();
    assert_int_equal(M.open_now, 0);
    dv_kvscan_free(s);
}

static void bad_options(void **state)
{
    (void)state;
    dv_kvscan_opts o = range_opts("", "\xff");
    dv_kvscan *s;
    char err[128];
    assert_int_equal(dv_kvscan_new(&o, &IO, &s, err, sizeof err), DV_ERR_INVALID_ARGUMENT);
    assert_null(s);
    memset(&o, 0, sizeof o);
    o.bucket = "default";
    o.spec.sampling = 1;
    assert_int_equal(dv_kvscan_new(&o, &IO, &s, err, sizeof err), DV_ERR_INVALID_ARGUMENT);
}

/* ---- the operations ----------------------------------------------------------------------- */

#define FEAT(x) DV_FEATURE_BIT(DV_FEATURE_##x)

static dv_op *scan_op(dv_op_kind kind, const dv_scan_req *sc)
{
    dv_req r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.bucket = "default";
    r.vbucket = 5;
    r.scan = sc;
    dv_op *op;
    char err[128];
    assert_int_equal(dv_op_new(&r, &op, err, sizeof err), DV_ERR_OK);
    return op;
}

static void encode_create(void **state)
{
    (void)state;
    char start[3] = {'a', 'b', 'c'};
    dv_scan_req sc = {.start = start,
                      .end = "abd",
                      .start_len = 3,
                      .end_len = 3,
                      .excl_end = 1,
                      .ids_only = 1,
                      .has_snapshot = 1,
                      .vb_uuid = 12345678901234ull,
                      .seqno = 42};
    dv_op *op = scan_op(DV_KV_RANGE_SCAN_CREATE, &sc);
    start[0] = 'z'; /* the op holds its own copy */
    dv_buf out = DV_BUF_INIT;
    dv_op_route rt = {
        .vbucket = 5, .cid = 0x1a, .features = FEAT(COLLECTIONS) | FEAT(JSON), .opaque = 9};
    assert_int_equal(dv_op_encode(op, &rt, &out), DV_ERR_OK);
    dv_frame f;
    size_t used;
    assert_int_equal(
        dv_frame_decode(dv_buf_head(&out), dv_buf_size(&out), DV_FRAME_DEFAULT_MAX_BODY, &f, &used),
        DV_MCBP_OK);
    assert_int_equal(f.opcode, DV_OP_RANGE_SCAN_CREATE);
    assert_int_equal(f.vbucket, 5);
    assert_int_equal(f.key_len, 0);
    assert_int_equal(f.extras_len, 0);
    dv_rscan_create c;
    char why[96];
    assert_int_equal(dv_rscan_create_parse(f.value, f.value_len, &c, why, sizeof why), 0);
    assert_int_equal(c.cid, 0x1a);
    assert_true(c.key_only);
    assert_false(c.sampling);
    assert_int_equal(c.start_len, 3);
    assert_memory_equal(c.start, "abc", 3);
    assert_false(c.excl_start);
    assert_true(c.excl_end);
    assert_true(c.has_snapshot);
    assert_int_equal(c.vb_uuid, 12345678901234ull);
    assert_int_equal(c.seqno, 42);
    dv_buf_free(&out);
    dv_op_free(op);

    dv_scan_req sm = {.sampling = 1, .samples = 10, .seed = 3};
    op = scan_op(DV_KV_RANGE_SCAN_CREATE, &sm);
    assert_int_equal(dv_op_encode(op, &rt, &out), DV_ERR_OK);
    assert_int_equal(
        dv_frame_decode(dv_buf_head(&out), dv_buf_size(&out), DV_FRAME_DEFAULT_MAX_BODY, &f, &used),
        DV_MCBP_OK);
    assert_int_equal(dv_rscan_create_parse(f.value, f.value_len, &c, why, sizeof why), 0);
    assert_true(c.sampling);
    assert_int_equal(c.samples, 10);
    assert_int_equal(c.seed, 3);
    dv_buf_free(&out);
    dv_op_free(op);
}

static void continue_and_cancel(void **state)
{
    (void)state;
    dv_scan_req sc = {.item_limit = 50, .byte_limit = 15000};
    for (int i = 0; i < 16; i++) sc.id[i] = (uint8_t)(i + 1);
    dv_op *op = scan_op(DV_KV_RANGE_SCAN_CONTINUE, &sc);
    dv_buf out = DV_BUF_INIT;
    dv_op_route rt = {.vbucket = 5, .features = FEAT(COLLECTIONS), .opaque = 3};
    assert_int_equal(dv_op_encode(op, &rt, &out), DV_ERR_OK);
    dv_frame f;
    size_t used;
    assert_int_equal(
        dv_frame_decode(dv_buf_head(&out), dv_buf_size(&out), DV_FRAME_DEFAULT_MAX_BODY, &f, &used),
        DV_MCBP_OK);
    assert_int_equal(f.extras_len, 28);
    dv_rscan_continue c;
    dv_rscan_continue_decode(f.extras, &c);
    assert_memory_equal(c.id, sc.id, 16);
    assert_int_equal(c.item_limit, 50);
    assert_int_equal(c.byte_limit, 15000);
    assert_int_equal(f.key_len, 0);

    /* Replies: a frame before the last, MORE, COMPLETE, CANCELLED. */
    uint16_t sts[4] = {DV_STATUS_SUCCESS, DV_STATUS_RANGE_SCAN_MORE, DV_STATUS_RANGE_SCAN_COMPLETE,
                       DV_STATUS_RANGE_SCAN_CANCELLED};
    for (int i = 0; i < 4; i++) {
        uint8_t x[4];
        dv_store_be32(x, 1);
        dv_frame rf;
        memset(&rf, 0, sizeof rf);
        rf.magic = DV_MAGIC_RES;
        rf.opcode = DV_OP_RANGE_SCAN_CONTINUE;
        rf.status = sts[i];
        rf.extras = x;
        rf.extras_len = 4;
        rf.value = (const uint8_t *)"rec";
        rf.value_len = 3;
        dv_res res;
        memset(&res, 0, sizeof res);
        dv_buf scratch = DV_BUF_INIT;
        dv_retry why;
        assert_int_equal(dv_op_decode(op, &rf, &res, &scratch, &why), DV_OP_DONE);
        assert_int_equal(res.err, i == 3 ? DV_ERR_REQUEST_CANCELED : DV_ERR_OK);
        if (i < 3) {
            assert_int_equal(res.partial, i == 0);
            assert_int_equal(res.scan_more, i == 1);
            assert_int_equal(res.flags, 1);
            assert_int_equal(res.value_len, 3);
        }
        dv_buf_free(&scratch);
    }
    dv_buf_free(&out);
    dv_op_free(op);

    op = scan_op(DV_KV_RANGE_SCAN_CANCEL, &sc);
    assert_int_equal(dv_op_encode(op, &rt, &out), DV_ERR_OK);
    assert_int_equal(
        dv_frame_decode(dv_buf_head(&out), dv_buf_size(&out), DV_FRAME_DEFAULT_MAX_BODY, &f, &used),
        DV_MCBP_OK);
    assert_int_equal(f.opcode, DV_OP_RANGE_SCAN_CANCEL);
    assert_int_equal(f.extras_len, 16);
    assert_memory_equal(f.extras, sc.id, 16);
    dv_buf_free(&out);
    dv_op_free(op);

    /* A create answered with an id of the wrong length, or KEY_ENOENT. */
    dv_scan_req cr = {.start = "a", .end = "b", .start_len = 1, .end_len = 1};
    op = scan_op(DV_KV_RANGE_SCAN_CREATE, &cr);
    dv_frame rf;
    memset(&rf, 0, sizeof rf);
    rf.magic = DV_MAGIC_RES;
    rf.opcode = DV_OP_RANGE_SCAN_CREATE;
    rf.value = (const uint8_t *)"short";
    rf.value_len = 5;
    dv_res res;
    memset(&res, 0, sizeof res);
    dv_buf scratch = DV_BUF_INIT;
    dv_retry why;
    dv_op_decode(op, &rf, &res, &scratch, &why);
    assert_int_equal(res.err, DV_ERR_PROTOCOL_ERROR);
    rf.status = DV_STATUS_KEY_ENOENT;
    rf.value_len = 0;
    dv_op_decode(op, &rf, &res, &scratch, &why);
    assert_int_equal(res.err, DV_ERR_DOCUMENT_NOT_FOUND);
    rf.status = DV_STATUS_VB_UUID_NOT_EQUAL;
    dv_op_decode(op, &rf, &res, &scratch, &why);
    assert_int_equal(res.err, DV_ERR_MUTATION_TOKEN_OUTDATED);
    /* A scan limit (EBUSY) and a seqno not reached yet (ETMPFAIL) are retried. */
    rf.status = DV_STATUS_EBUSY;
    assert_int_equal(dv_op_decode(op, &rf, &res, &scratch, &why), DV_OP_RETRY);
    rf.status = DV_STATUS_ETMPFAIL;
    assert_int_equal(dv_op_decode(op, &rf, &res, &scratch, &why), DV_OP_RETRY);
    dv_buf_free(&scratch);
    dv_op_free(op);

    /* Validation. */
    dv_req r;
    memset(&r, 0, sizeof r);
    r.kind = DV_KV_RANGE_SCAN_CREATE;
    r.bucket = "default";
    char err[128];
    assert_int_equal(dv_op_new(&r, &op, err, sizeof err), DV_ERR_INVALID_ARGUMENT);
    dv_scan_req bad = {.sampling = 1};
    r.scan = &bad;
    assert_int_equal(dv_op_new(&r, &op, err, sizeof err), DV_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(range_in_vbucket_order),
        cmocka_unit_test(next_create_overlaps_reading),
        cmocka_unit_test(empty_and_partial_ranges),
        cmocka_unit_test(sampling_stops_at_limit),
        cmocka_unit_test(cancel_releases_server_scans),
        cmocka_unit_test(free_while_in_flight),
        cmocka_unit_test(error_ends_scan),
        cmocka_unit_test(bad_options),
        cmocka_unit_test(encode_create),
        cmocka_unit_test(continue_and_cancel),
    };
    return TU_RUN(tests);
}
