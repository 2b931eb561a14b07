/* KV range scans: the scan table on a store (snapshots, ranges, sampling, limits, bounds, idle
 * timeout, cancellation) and the three commands over real sockets (statuses, record frames,
 * permissions). */
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/endian.h"
#include "mcbp/frame.h"
#include "mcbp/rscan.h"
#include "server/bucket.h"
#include "server/kv.h"
#include "server/scan.h"
#include "kvclient.h"

#define NOW 1800000000u

/* ---- Documents ------------------------------------------------------------------------------ */

static void put(dv_store *st, uint16_t vb, uint32_t cid, const char *key, const char *value)
{
    dv_kv_req q = {.opcode = DV_OP_SET,
                   .vbucket = vb,
                   .cid = cid,
                   .key = key,
                   .nkey = strlen(key),
                   .value = value,
                   .nvalue = strlen(value),
                   .datatype = DV_DATATYPE_JSON,
                   .now = NOW};
    dv_kv_res r;
    dv_kv_execute(st, &q, &r);
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
}

static void put_n(dv_store *st, uint16_t vb, const char *prefix, int n)
{
    char k[64];
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "%s%04d", prefix, i);
        put(st, vb, 0, k, "{\"v\":1}");
    }
}

static dv_rscan_create range(const char *start, int excl_start, const char *end, int excl_end)
{
    dv_rscan_create c;
    memset(&c, 0, sizeof c);
    c.start_len = strlen(start);
    memcpy(c.start, start, c.start_len);
    c.end_len = strlen(end);
    memcpy(c.end, end, c.end_len);
    c.excl_start = excl_start;
    c.excl_end = excl_end;
    c.key_only = 1;
    return c;
}

/* Drain a scan with item limit per continue; the keys, joined by ',', into got; the number of
 * continues. */
static int drain(dv_scans *t, const uint8_t *id, const void *owner, uint32_t limit, dv_buf *got)
{
    int continues = 0;
    for (;;) {
        dv_scan *sc;
        assert_int_equal(dv_scans_acquire(t, id, owner, NULL, NOW, &sc), DV_STATUS_SUCCESS);
        dv_scan_run run = {.item_limit = limit};
        dv_buf out;
        dv_buf_init(&out);
        int rc = dv_scan_fill(sc, &run, NOW, &out, 1u << 20);
        continues++;
        assert_true(rc == DV_SCAN_MORE || rc == DV_SCAN_COMPLETE);
        if (limit) assert_true(run.items <= limit);
        for (size_t pos = 0; pos < dv_buf_size(&out);) {
            const uint8_t *k;
            size_t nk;
            long used = dv_rscan_get_key(dv_buf_head(&out) + pos, dv_buf_size(&out) - pos, &k, &nk);
            assert_true(used > 0);
            pos += (size_t)used;
            if (dv_buf_size(got)) dv_buf_append(got, ",", 1);
            dv_buf_append(got, k, nk);
        }
        dv_buf_free(&out);
        assert_int_equal(dv_scans_release(t, sc, rc == DV_SCAN_COMPLETE, NOW), 0);
        if (rc == DV_SCAN_COMPLETE) break;
    }
    dv_buf_append(got, "", 1);
    return continues;
}

static void scan_keys(dv_scans *t, dv_store *st, uint16_t vb, dv_rscan_create c, uint32_t limit,
                      const char *want)
{
    uint8_t id[DV_RSCAN_ID_LEN];
    uint16_t s = dv_scans_create(t, st, vb, &c, t, NULL, NOW, id);
    if (!want) {
        assert_int_equal(s, DV_STATUS_KEY_ENOENT);
        return;
    }
    assert_int_equal(s, DV_STATUS_SUCCESS);
    dv_buf got;
    dv_buf_init(&got);
    drain(t, id, t, limit, &got);
    assert_string_equal((const char *)dv_buf_head(&got), want);
    dv_buf_free(&got);
    assert_int_equal(dv_scans_count(t), 0);
}

/* ---- The scan table ------------------------------------------------------------------------- */

static void ranges_and_snapshots(void **state)
{
    (void)state;
    dv_store *st = dv_store_new(4, 1);
    dv_scans *t = dv_scans_new();
    put(st, 0, 0, "b", "1");
    put(st, 0, 0, "a", "1");
    put(st, 0, 0, "c", "1");
    put(st, 0, 0, "ca", "1");
    put(st, 0, 0, "d", "1");
    put(st, 0, 8, "b2", "1"); /* another collection */
    put(st, 1, 0, "bb", "1"); /* another vbucket */
    scan_keys(t, st, 0, range("b", 0, "c", 0), 0, "b,c");
    scan_keys(t, st, 0, range("b", 1, "d", 0), 1, "c,ca,d");
    scan_keys(t, st, 0, range("a", 0, "d", 1), 2, "a,b,c,ca");
    scan_keys(t, st, 0, range("c", 0, "c\xff", 0), 0, "c,ca");
    scan_keys(t, st, 0, range("c", 1, "ca", 1), 0, NULL);
    scan_keys(t, st, 0, range("x", 0, "z", 0), 0, NULL);
    scan_keys(t, st, 2, range("", 0, "\xff", 0), 0, NULL);

    /* A snapshot: writes and deletes after the create do not show. */
    dv_rscan_create c = range("", 0, "\xff", 0);
    uint8_t id[DV_RSCAN_ID_LEN];
    assert_int_equal(dv_scans_create(t, st, 0, &c, t, NULL, NOW, id), DV_STATUS_SUCCESS);
    put(st, 0, 0, "aa", "1");
    dv_kv_req del = {.opcode = DV_OP_DELETE, .vbucket = 0, .key = "d", .nkey = 1, .now = NOW};
    dv_kv_res r;
    dv_kv_execute(st, &del, &r);
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
    dv_buf got;
    dv_buf_init(&got);
    assert_int_equal(drain(t, id, t, 1, &got), 5); /* one key per continue, the last completes */
    assert_string_equal((const char *)dv_buf_head(&got), "a,b,c,ca,d");
    dv_buf_free(&got);
    scan_keys(t, st, 0, range("", 0, "\xff", 0), 0, "a,aa,b,c,ca");

    /* Documents: the metadata and value of each. */
    c = range("b", 0, "b", 0);
    c.key_only = 0;
    assert_int_equal(dv_scans_create(t, st, 0, &c, t, NULL, NOW, id), DV_STATUS_SUCCESS);
    dv_scan *sc;
    assert_int_equal(dv_scans_acquire(t, id, t, NULL, NOW, &sc), DV_STATUS_SUCCESS);
    assert_false(dv_scan_key_only(sc));
    dv_scan_run run = {0};
    dv_buf out;
    dv_buf_init(&out);
    assert_int_equal(dv_scan_fill(sc, &run, NOW, &out, 1024), DV_SCAN_COMPLETE);
    dv_rscan_doc d;
    assert_int_equal(dv_rscan_get_doc(dv_buf_head(&out), dv_buf_size(&out), &d),
                     (long)dv_buf_size(&out));
    assert_int_equal(d.nkey, 1);
    assert_int_equal(d.key[0], 'b');
    assert_int_equal(d.nvalue, 1);
    assert_int_equal(d.datatype, DV_DATATYPE_JSON);
    assert_int_equal(d.seqno, 1);
    assert_true(d.cas != 0);
    dv_buf_free(&out);
    assert_int_equal(dv_scans_release(t, sc, 1, NOW), 0);

    dv_scans_free(t);
    dv_store_free(st);
}

static void snapshot_requirements(void **state)
{
    (void)state;
    dv_store *st = dv_store_new(2, 7);
    dv_scans *t = dv_scans_new();
    put_n(st, 0, "k", 3);
    dv_vbucket *vb = dv_store_lock(st, 0);
    uint64_t uuid = dv_vbucket_uuid(vb), high = dv_vbucket_high_seqno(vb);
    dv_vbucket_unlock(vb);
    dv_rscan_create c = range("", 0, "\xff", 0);
    c.has_snapshot = 1;
    c.vb_uuid = uuid;
    c.seqno = high;
    uint8_t id[DV_RSCAN_ID_LEN];
    assert_int_equal(dv_scans_create(t, st, 0, &c, t, NULL, NOW, id), DV_STATUS_SUCCESS);
    assert_int_equal(dv_scans_cancel(t, id, t, NULL, NOW), DV_STATUS_SUCCESS);
    c.vb_uuid = uuid + 1;
    assert_int_equal(dv_scans_create(t, st, 0, &c, t, NULL, NOW, id), DV_STATUS_VB_UUID_NOT_EQUAL);
    c.vb_uuid = uuid;
    c.seqno = high + 1;
    assert_int_equal(dv_scans_create(t, st, 0, &c, t, NULL, NOW, id), DV_STATUS_ETMPFAIL);
    assert_int_equal(dv_scans_create(t, st, 9, &c, t, NULL, NOW, id), DV_STATUS_NOT_MY_VBUCKET);
    assert_int_equal(dv_scans_count(t), 0);
    dv_scans_free(t);
    dv_store_free(st);
}

static void sampling(void **state)
{
    (void)state;
    dv_store *st = dv_store_new(2, 3);
    dv_scans *t = dv_scans_new();
    put_n(st, 0, "s", 100);
    dv_rscan_create c = {.sampling = 1, .samples = 10, .seed = 42, .key_only = 1};
    dv_buf a, b, other, all;
    dv_buf_init(&a);
    dv_buf_init(&b);
    dv_buf_init(&other);
    dv_buf_init(&all);
    uint8_t id[DV_RSCAN_ID_LEN];
    assert_int_equal(dv_scans_create(t, st, 0, &c, t, NULL, NOW, id), DV_STATUS_SUCCESS);
    drain(t, id, t, 0, &a);
    assert_int_equal(dv_scans_create(t, st, 0, &c, t, NULL, NOW, id), DV_STATUS_SUCCESS);
    drain(t, id, t, 3, &b);
    assert_string_equal((const char *)dv_buf_head(&a), (const char *)dv_buf_head(&b));
    assert_int_equal(dv_buf_size(&a), 10 * 6); /* ten 5-byte keys, 9 commas, NUL */
    c.seed = 43;
    assert_int_equal(dv_scans_create(t, st, 0, &c, t, NULL, NOW, id), DV_STATUS_SUCCESS);
    drain(t, id, t, 0, &other);
    assert_string_not_equal((const char *)dv_buf_head(&a), (const char *)dv_buf_head(&other));
    /* More samples than documents: all of them. */
    c.samples = 1000;
    assert_int_equal(dv_scans_create(t, st, 0, &c, t, NULL, NOW, id), DV_STATUS_SUCCESS);
    assert_int_equal(drain(t, id, t, 0, &all), 1);
    assert_int_equal(dv_buf_size(&all), 100 * 6);
    assert_int_equal(dv_scans_create(t, st, 1, &c, t, NULL, NOW, id), DV_STATUS_KEY_ENOENT);
    dv_buf_free(&a);
    dv_buf_free(&b);
    dv_buf_free(&other);
    dv_buf_free(&all);
    dv_scans_free(t);
    dv_store_free(st);
}

static void limits_per_continue(void **state)
{
    (void)state;
    dv_store *st = dv_store_new(1, 3);
    dv_scans *t = dv_scans_new();
    put_n(st, 0, "key", 50); /* 7-byte keys: 8-byte records */
    dv_rscan_create c = range("", 0, "\xff", 0);
    uint8_t id[DV_RSCAN_ID_LEN];
    assert_int_equal(dv_scans_create(t, st, 0, &c, t, NULL, NOW, id), DV_STATUS_SUCCESS);
    dv_scan *sc;
    assert_int_equal(dv_scans_acquire(t, id, t, NULL, NOW, &sc), DV_STATUS_SUCCESS);
    /* A second continue while one runs: busy. */
    dv_scan *again;
    assert_int_equal(dv_scans_acquire(t, id, t, NULL, NOW, &again), DV_STATUS_EBUSY);
    dv_buf out;
    dv_buf_init(&out);
    dv_scan_run run = {.byte_limit = 20};
    assert_int_equal(dv_scan_fill(sc, &run, NOW, &out, 1 << 20), DV_SCAN_MORE);
    assert_int_equal(run.items, 3); /* stops at the first record reaching 20 bytes */
    assert_int_equal(dv_buf_size(&out), 24);
    /* Byte limit 1 still returns one record. */
    dv_buf_reset(&out);
    run = (dv_scan_run){.byte_limit = 1};
    assert_int_equal(dv_scan_fill(sc, &run, NOW, &out, 1 << 20), DV_SCAN_MORE);
    assert_int_equal(run.items, 1);
    /* Chunks: the caller sends a frame each time out reaches chunk bytes. */
    dv_buf_reset(&out);
    run = (dv_scan_run){.item_limit = 10};
    assert_int_equal(dv_scan_fill(sc, &run, NOW, &out, 16), DV_SCAN_CHUNK);
    assert_int_equal(dv_buf_size(&out), 16);
    dv_buf_reset(&out);
    assert_int_equal(dv_scan_fill(sc, &run, NOW, &out, 1 << 20), DV_SCAN_MORE);
    assert_int_equal(run.items, 10);
    /* A deadline already passed: one record, then more. */
    dv_buf_reset(&out);
    run = (dv_scan_run){.deadline_ns = 1};
    assert_int_equal(dv_scan_fill(sc, &run, NOW, &out, 1 << 20), DV_SCAN_MORE);
    assert_int_equal(run.items, 1);
    dv_buf_reset(&out);
    run = (dv_scan_run){0};
    assert_int_equal(dv_scan_fill(sc, &run, NOW, &out, 1 << 20), DV_SCAN_COMPLETE);
    assert_int_equal(run.items, 50 - 3 - 1 - 10 - 1);
    dv_buf_free(&out);
    assert_int_equal(dv_scans_release(t, sc, 1, NOW), 0);
    assert_int_equal(dv_scans_acquire(t, id, t, NULL, NOW, &sc), DV_STATUS_KEY_ENOENT);
    dv_scans_free(t);
    dv_store_free(st);
}

static void bounds_timeout_and_cancel(void **state)
{
    (void)state;
    dv_store *st = dv_store_new(1, 3);
    dv_scans *t = dv_scans_new();
    put_n(st, 0, "key", 5);
    dv_scan_limits lim = {.max_per_conn = 2, .max_per_bucket = 3, .idle_timeout = 10};
    dv_rscan_create c = range("", 0, "\xff", 0);
    int a, b;
    uint8_t ids[4][DV_RSCAN_ID_LEN];
    assert_int_equal(dv_scans_create(t, st, 0, &c, &a, &lim, NOW, ids[0]), DV_STATUS_SUCCESS);
    assert_int_equal(dv_scans_create(t, st, 0, &c, &a, &lim, NOW, ids[1]), DV_STATUS_SUCCESS);
    assert_memory_not_equal(ids[0], ids[1], DV_RSCAN_ID_LEN);
    assert_int_equal(dv_scans_create(t, st, 0, &c, &a, &lim, NOW, ids[2]), DV_STATUS_EBUSY);
    assert_int_equal(dv_scans_create(t, st, 0, &c, &b, &lim, NOW, ids[2]), DV_STATUS_SUCCESS);
    assert_int_equal(dv_scans_create(t, st, 0, &c, &b, &lim, NOW, ids[3]), DV_STATUS_EBUSY);
    assert_int_equal(dv_scans_count(t), 3);
    /* Scans are per owner: b cannot continue or cancel a's. */
    dv_scan *sc;
    assert_int_equal(dv_scans_acquire(t, ids[0], &b, &lim, NOW, &sc), DV_STATUS_KEY_ENOENT);
    assert_int_equal(dv_scans_cancel(t, ids[0], &b, &lim, NOW), DV_STATUS_KEY_ENOENT);
    /* Cancel frees the slot; the id is then unknown. */
    assert_int_equal(dv_scans_cancel(t, ids[1], &a, &lim, NOW), DV_STATUS_SUCCESS);
    assert_int_equal(dv_scans_cancel(t, ids[1], &a, &lim, NOW), DV_STATUS_KEY_ENOENT);
    assert_int_equal(dv_scans_create(t, st, 0, &c, &a, &lim, NOW, ids[1]), DV_STATUS_SUCCESS);
    /* Idle: a used at NOW + 5 stays, the others go at NOW + 10. */
    assert_int_equal(dv_scans_acquire(t, ids[0], &a, &lim, NOW + 5, &sc), DV_STATUS_SUCCESS);
    assert_int_equal(dv_scans_release(t, sc, 0, NOW + 5), 0);
    assert_int_equal(dv_scans_acquire(t, ids[1], &a, &lim, NOW + 9, &sc), DV_STATUS_SUCCESS);
    assert_int_equal(dv_scans_release(t, sc, 0, NOW + 9), 0);
    assert_int_equal(dv_scans_cancel(t, ids[3], &b, &lim, NOW + 10), DV_STATUS_KEY_ENOENT);
    assert_int_equal(dv_scans_count(t), 2); /* b's timed out */
    assert_int_equal(dv_scans_acquire(t, ids[0], &a, &lim, NOW + 15, &sc), DV_STATUS_KEY_ENOENT);
    /* A cancel while a continue holds the scan: the continue learns it on release. */
    assert_int_equal(dv_scans_acquire(t, ids[1], &a, &lim, NOW + 15, &sc), DV_STATUS_SUCCESS);
    assert_int_equal(dv_scans_cancel(t, ids[1], &a, &lim, NOW + 15), DV_STATUS_SUCCESS);
    assert_int_equal(dv_scans_release(t, sc, 0, NOW + 15), 1);
    assert_int_equal(dv_scans_count(t), 0);
    /* An owner's scans go with it. */
    assert_int_equal(dv_scans_create(t, st, 0, &c, &a, &lim, NOW, ids[0]), DV_STATUS_SUCCESS);
    assert_int_equal(dv_scans_create(t, st, 0, &c, &b, &lim, NOW, ids[1]), DV_STATUS_SUCCESS);
    dv_scans_drop_owner(t, &a);
    assert_int_equal(dv_scans_count(t), 1);
    dv_scans_free(t); /* frees b's */
    dv_store_free(st);
}

/* ---- Over the wire -------------------------------------------------------------------------- */

static kv_server srv;

static int setup(void **state)
{
    (void)state;
    char err[256];
    dv_net_options o = {.host = "127.0.0.1", .threads = 1};
    kv_server_start(&srv, &o);
    static const char *const extra[] = {
        "reader:password:data_reader[default]",
        "writer:password:data_writer[default]",
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        if (dv_users_add_flag(srv.users, extra[i], err, sizeof err) != 0) fail_msg("%s", err);
    /* A reader of one collection (role parameters hold ':', which the flag syntax cannot). */
    dv_roles roles;
    static const char c1_reader[] = "data_reader[default:s1:c1]";
    assert_int_equal(dv_roles_parse(&roles, c1_reader, strlen(c1_reader), err, sizeof err), 0);
    assert_int_equal(dv_users_set(srv.users, "creader", 7, "password", 8, &roles, err, sizeof err),
                     0);
    dv_roles_clear(&roles);
    dv_bucket *b = dv_cluster_get_bucket(srv.cluster, "default", 7);
    assert_non_null(b);
    uint64_t uid;
    assert_int_equal(dv_bucket_create_scope(b, "s1", &uid), DV_ERR_OK);
    assert_int_equal(dv_bucket_create_collection(b, "s1", "c1", NULL, &uid), DV_ERR_OK);
    dv_store *st = dv_bucket_store(b);
    put_n(st, 3, "doc", 3000); /* about 240K of documents: several frames */
    put(st, 3, 8, "in-c1", "{}");
    /* 300 documents of 16K in vbucket 6: more than one continue may return. */
    static char big[16 * 1024 + 1];
    memset(big, 'x', sizeof big - 1);
    big[0] = big[sizeof big - 2] = '"';
    char k[16];
    for (int i = 0; i < 300; i++) {
        snprintf(k, sizeof k, "big%03d", i);
        put(st, 6, 0, k, big);
    }
    dv_bucket_release(b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kv_server_stop(&srv);
    return 0;
}

static dv_frame create_req(uint16_t vb, const char *json)
{
    return (dv_frame){.opcode = DV_OP_RANGE_SCAN_CREATE,
                      .vbucket = vb,
                      .opaque = 7,
                      .datatype = DV_DATATYPE_JSON,
                      .value = (const uint8_t *)json,
                      .value_len = strlen(json)};
}

/* One request, its single reply's status (and value into out, if given). */
static uint16_t call1(int fd, kv_rx *rx, dv_frame f, uint8_t *out, size_t outlen)
{
    kv_send_frame(fd, f);
    dv_frame r = kv_recv_frame(fd, rx);
    assert_int_equal(r.opcode, f.opcode);
    if (out && r.status == DV_STATUS_SUCCESS) {
        assert_int_equal(r.value_len, outlen);
        memcpy(out, r.value, outlen);
    }
    return r.status;
}

/* A continue of a scan of vbucket vb: the records over every frame, the number of frames and
 * the final status. */
static uint16_t cont_vb(int fd, kv_rx *rx, uint16_t vb, const uint8_t *id, uint32_t items,
                        uint32_t bytes, int key_only, size_t *records, int *frames)
{
    dv_rscan_continue c = {.item_limit = items, .byte_limit = bytes};
    memcpy(c.id, id, DV_RSCAN_ID_LEN);
    uint8_t x[DV_RSCAN_CONTINUE_EXTRAS_LEN];
    dv_rscan_continue_encode(x, &c);
    kv_send_frame(fd, (dv_frame){.opcode = DV_OP_RANGE_SCAN_CONTINUE,
                                 .vbucket = vb,
                                 .opaque = 9,
                                 .extras = x,
                                 .extras_len = sizeof x});
    *records = 0;
    *frames = 0;
    for (;;) {
        dv_frame r = kv_recv_frame(fd, rx);
        assert_int_equal(r.opcode, DV_OP_RANGE_SCAN_CONTINUE);
        assert_int_equal(r.opaque, 9);
        (*frames)++;
        if (r.status != DV_STATUS_SUCCESS && r.status != DV_STATUS_RANGE_SCAN_MORE &&
            r.status != DV_STATUS_RANGE_SCAN_COMPLETE)
            return r.status;
        assert_int_equal(r.extras_len, 4);
        assert_int_equal(dv_load_be32(r.extras), key_only ? 0 : 1);
        for (size_t pos = 0; pos < r.value_len;) {
            dv_rscan_doc d;
            const uint8_t *k;
            size_t nk;
            long used = key_only ? dv_rscan_get_key(r.value + pos, r.value_len - pos, &k, &nk)
                                 : dv_rscan_get_doc(r.value + pos, r.value_len - pos, &d);
            assert_true(used > 0);
            pos += (size_t)used;
            (*records)++;
        }
        if (r.status != DV_STATUS_SUCCESS) return r.status;
    }
}

static uint16_t cont(int fd, kv_rx *rx, const uint8_t *id, uint32_t items, uint32_t bytes,
                     int key_only, size_t *records, int *frames)
{
    return cont_vb(fd, rx, 3, id, items, bytes, key_only, records, frames);
}

static void commands_on_the_wire(void **state)
{
    (void)state;
    int fd = kv_login(srv.port, "Administrator", "password", "default");
    kv_rx rx = {0};
    uint8_t id[DV_RSCAN_ID_LEN];
    size_t n;
    int frames;
    static const char all_docs[] = "{\"range\":{\"start\":\"\",\"end\":\"/w==\"}}";
    /* Documents, no limits: the whole vbucket in several frames, then complete. */
    assert_int_equal(call1(fd, &rx, create_req(3, all_docs), id, sizeof id), DV_STATUS_SUCCESS);
    assert_int_equal(cont(fd, &rx, id, 0, 0, 0, &n, &frames), DV_STATUS_RANGE_SCAN_COMPLETE);
    assert_int_equal(n, 3000);
    assert_true(frames > 1);
    /* The scan is gone once complete. */
    assert_int_equal(cont(fd, &rx, id, 0, 0, 0, &n, &frames), DV_STATUS_KEY_ENOENT);

    /* No limits, 4.8M of documents: the server ends the continue after 4M. */
    dv_frame big = create_req(6, all_docs);
    assert_int_equal(call1(fd, &rx, big, id, sizeof id), DV_STATUS_SUCCESS);
    assert_int_equal(cont_vb(fd, &rx, 6, id, 0, 0, 0, &n, &frames), DV_STATUS_RANGE_SCAN_MORE);
    assert_true(n >= 4 * 1024 / 16 && n < 300);
    size_t first = n;
    assert_int_equal(cont_vb(fd, &rx, 6, id, 0, 0, 0, &n, &frames), DV_STATUS_RANGE_SCAN_COMPLETE);
    assert_int_equal(first + n, 300);

    /* Keys only, 1000 per continue: more, more, then complete with the rest. */
    static const char keys[] =
        "{\"key_only\":true,\"range\":{\"start\":\"ZG9j\",\"excl_end\":\"ZG9k\"}}";
    assert_int_equal(call1(fd, &rx, create_req(3, keys), id, sizeof id), DV_STATUS_SUCCESS);
    assert_int_equal(cont(fd, &rx, id, 1000, 0, 1, &n, &frames), DV_STATUS_RANGE_SCAN_MORE);
    assert_int_equal(n, 1000);
    assert_int_equal(cont(fd, &rx, id, 1000, 0, 1, &n, &frames), DV_STATUS_RANGE_SCAN_MORE);
    assert_int_equal(cont(fd, &rx, id, 0, 0, 1, &n, &frames), DV_STATUS_RANGE_SCAN_COMPLETE);
    assert_int_equal(n, 1000);

    /* Cancel, then the scan is unknown to continue and cancel. */
    assert_int_equal(call1(fd, &rx, create_req(3, keys), id, sizeof id), DV_STATUS_SUCCESS);
    dv_frame cancel = {
        .opcode = DV_OP_RANGE_SCAN_CANCEL, .vbucket = 3, .extras = id, .extras_len = sizeof id};
    assert_int_equal(call1(fd, &rx, cancel, NULL, 0), DV_STATUS_SUCCESS);
    assert_int_equal(cont(fd, &rx, id, 0, 0, 1, &n, &frames), DV_STATUS_KEY_ENOENT);
    assert_int_equal(call1(fd, &rx, cancel, NULL, 0), DV_STATUS_KEY_ENOENT);

    /* A collection dropped while a scan of it is open: the continue says so and ends it. */
    dv_bucket *bk = dv_cluster_get_bucket(srv.cluster, "default", 7);
    uint64_t uid;
    assert_int_equal(call1(fd, &rx,
                           create_req(3, "{\"collection\":\"8\",\"range\":{\"start\":\"\","
                                         "\"end\":\"/w==\"}}"),
                           id, sizeof id),
                     DV_STATUS_SUCCESS);
    assert_int_equal(dv_bucket_drop_collection(bk, "s1", "c1", &uid), DV_ERR_OK);
    dv_bucket_release(bk);
    assert_int_equal(cont(fd, &rx, id, 0, 0, 0, &n, &frames), DV_STATUS_UNKNOWN_COLLECTION);
    assert_int_equal(cont(fd, &rx, id, 0, 0, 0, &n, &frames), DV_STATUS_KEY_ENOENT);

    /* Errors of create. */
    assert_int_equal(call1(fd, &rx, create_req(3, "{\"range\":{}}"), NULL, 0), DV_STATUS_EINVAL);
    assert_int_equal(call1(fd, &rx, create_req(3, "not json"), NULL, 0), DV_STATUS_EINVAL);
    assert_int_equal(call1(fd, &rx, create_req(4, all_docs), NULL, 0), DV_STATUS_KEY_ENOENT);
    assert_int_equal(call1(fd, &rx, create_req(5000, all_docs), NULL, 0), DV_STATUS_NOT_MY_VBUCKET);
    assert_int_equal(call1(fd, &rx,
                           create_req(3, "{\"collection\":\"99\",\"sampling\":{\"samples\":1}}"),
                           NULL, 0),
                     DV_STATUS_UNKNOWN_COLLECTION);
    assert_int_equal(call1(fd, &rx,
                           create_req(3, "{\"sampling\":{\"samples\":1},\"snapshot_requirements\":"
                                         "{\"vb_uuid\":\"1\",\"seqno\":1}}"),
                           NULL, 0),
                     DV_STATUS_VB_UUID_NOT_EQUAL);
    kv_rx_free(&rx);
    close(fd);
}

static void permissions(void **state)
{
    (void)state;
    kv_rx rx = {0};
    uint8_t id[DV_RSCAN_ID_LEN];
    static const char def[] = "{\"key_only\":true,\"sampling\":{\"samples\":5}}";
    static const char c1[] =
        "{\"collection\":\"8\",\"key_only\":true,\"sampling\":{\"samples\":5}}";
    int fd = kv_login(srv.port, "writer", "password", "default");
    assert_int_equal(call1(fd, &rx, create_req(3, def), NULL, 0), DV_STATUS_EACCESS);
    close(fd);
    kv_rx_free(&rx);
    fd = kv_login(srv.port, "creader", "password", "default");
    assert_int_equal(call1(fd, &rx, create_req(3, def), NULL, 0), DV_STATUS_EACCESS);
    assert_int_equal(call1(fd, &rx, create_req(3, c1), id, sizeof id), DV_STATUS_SUCCESS);
    size_t n;
    int frames;
    assert_int_equal(cont(fd, &rx, id, 0, 0, 1, &n, &frames), DV_STATUS_RANGE_SCAN_COMPLETE);
    assert_int_equal(n, 1);
    close(fd);
    kv_rx_free(&rx);
    /* Another connection, even of the same user, cannot continue a connection's scan. */
    fd = kv_login(srv.port, "reader", "password", "default");
    int fd2 = kv_login(srv.port, "reader", "password", "default");
    assert_int_equal(call1(fd, &rx, create_req(3, def), id, sizeof id), DV_STATUS_SUCCESS);
    kv_rx rx2 = {0};
    assert_int_equal(cont(fd2, &rx2, id, 0, 0, 1, &n, &frames), DV_STATUS_KEY_ENOENT);
    assert_int_equal(cont(fd, &rx, id, 0, 0, 1, &n, &frames), DV_STATUS_RANGE_SCAN_COMPLETE);
    assert_int_equal(n, 5);
    close(fd);
    close(fd2);
    kv_rx_free(&rx);
    kv_rx_free(&rx2);
}

/* The session limits (the --max-range-scans, --max-bucket-range-scans and --range-scan-timeout
 * flags) on a fresh server, with a fixed clock set between requests. */
static void session_limits(void **state)
{
    (void)state;
    dv_session_limits l = {.scans = {.max_per_conn = 2, .max_per_bucket = 3, .idle_timeout = 5}};
    dv_session_ctx_set_limits(srv.ctx, &l);
    dv_session_ctx_set_now(srv.ctx, NOW);
    static const char keys[] = "{\"key_only\":true,\"sampling\":{\"samples\":2}}";
    int fd = kv_login(srv.port, "reader", "password", "default");
    int fd2 = kv_login(srv.port, "reader", "password", "default");
    kv_rx rx = {0}, rx2 = {0};
    uint8_t a[DV_RSCAN_ID_LEN], b[DV_RSCAN_ID_LEN], c[DV_RSCAN_ID_LEN];
    assert_int_equal(call1(fd, &rx, create_req(3, keys), a, sizeof a), DV_STATUS_SUCCESS);
    assert_int_equal(call1(fd, &rx, create_req(3, keys), b, sizeof b), DV_STATUS_SUCCESS);
    assert_int_equal(call1(fd, &rx, create_req(3, keys), NULL, 0), DV_STATUS_EBUSY);
    assert_int_equal(call1(fd2, &rx2, create_req(3, keys), c, sizeof c), DV_STATUS_SUCCESS);
    assert_int_equal(call1(fd2, &rx2, create_req(3, keys), NULL, 0), DV_STATUS_EBUSY);
    /* b used at NOW + 4 stays; a and c are idle for 5 s at NOW + 5 and are cancelled. */
    size_t n;
    int frames;
    dv_session_ctx_set_now(srv.ctx, NOW + 4);
    assert_int_equal(cont(fd, &rx, b, 1, 0, 1, &n, &frames), DV_STATUS_RANGE_SCAN_MORE);
    dv_session_ctx_set_now(srv.ctx, NOW + 5);
    assert_int_equal(cont(fd, &rx, a, 1, 0, 1, &n, &frames), DV_STATUS_KEY_ENOENT);
    assert_int_equal(cont(fd2, &rx2, c, 1, 0, 1, &n, &frames), DV_STATUS_KEY_ENOENT);
    assert_int_equal(cont(fd, &rx, b, 0, 0, 1, &n, &frames), DV_STATUS_RANGE_SCAN_COMPLETE);
    assert_int_equal(n, 1);
    /* A closed connection's scans go with it: with fd's two open the bucket is full; once fd
     * closes, fd2 gets a second one (the close is noticed within a few round trips). */
    assert_int_equal(call1(fd, &rx, create_req(3, keys), a, sizeof a), DV_STATUS_SUCCESS);
    assert_int_equal(call1(fd, &rx, create_req(3, keys), b, sizeof b), DV_STATUS_SUCCESS);
    assert_int_equal(call1(fd2, &rx2, create_req(3, keys), c, sizeof c), DV_STATUS_SUCCESS);
    assert_int_equal(call1(fd2, &rx2, create_req(3, keys), NULL, 0), DV_STATUS_EBUSY);
    close(fd);
    kv_rx_free(&rx);
    uint16_t st = DV_STATUS_EBUSY;
    for (int i = 0; i < 10000 && st == DV_STATUS_EBUSY; i++)
        st = call1(fd2, &rx2, create_req(3, keys), b, sizeof b);
    assert_int_equal(st, DV_STATUS_SUCCESS);
    dv_bucket *bk = dv_cluster_get_bucket(srv.cluster, "default", 7);
    assert_int_equal(dv_scans_count(dv_bucket_scans(bk)), 2);
    dv_bucket_release(bk);
    close(fd2);
    kv_rx_free(&rx2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ranges_and_snapshots),
        cmocka_unit_test(snapshot_requirements),
        cmocka_unit_test(sampling),
        cmocka_unit_test(limits_per_continue),
        cmocka_unit_test(bounds_timeout_and_cancel),
        cmocka_unit_test_setup_teardown(commands_on_the_wire, setup, teardown),
        cmocka_unit_test_setup_teardown(permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(session_limits, setup, teardown),
    };
    return TU_RUN(tests);
}
