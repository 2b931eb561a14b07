/* The KV session, driven with bytes as a client sends them: the official core's bootstrap,
 * access rules, document commands on the wire, pushes and bad input. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/endian.h"
#include "mcbp/compress.h"
#include "mcbp/errmap.h"
#include "mcbp/extras.h"
#include "mcbp/frame.h"
#include "mcbp/hello.h"
#include "mcbp/leb128.h"
#include "sasl/sasl.h"
#include "server/session.h"
#include "topology/config.h"
#include "topology/vbucket.h"

#define NOW 1800000000u

static dv_users *users;
static dv_cluster *cluster;
static dv_session_ctx *ctx;

static int setup(void **state)
{
    (void)state;
    char err[256];
    users = dv_users_new(0);
    cluster = dv_cluster_new("divan", 11210, 8091);
    assert_non_null(users);
    assert_non_null(cluster);
    assert_int_equal(dv_users_add_flag(users, "Administrator:password", err, sizeof err), 0);
    assert_int_equal(dv_users_add_flag(users, "reader:pw:data_reader[default]", err, sizeof err),
                     0);
    assert_int_equal(dv_cluster_create_default_bucket(cluster), 0);
    dv_bucket_settings s;
    assert_int_equal(dv_bucket_settings_parse_flag("replicated:replicas=1", &s, err, sizeof err),
                     0);
    assert_int_equal(dv_cluster_create_bucket(cluster, &s, NULL, err, sizeof err), 0);
    ctx = dv_session_ctx_new(cluster, users);
    assert_non_null(ctx);
    dv_session_ctx_set_now(ctx, NOW);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dv_session_ctx_free(ctx);
    dv_cluster_free(cluster);
    dv_users_free(users);
    return 0;
}

/* ---- A tiny client ---------------------------------------------------------------------- */

typedef struct client {
    dv_session *s;
    dv_buf in, out;
    size_t pos; /* replies read so far from out */
    uint32_t opaque;
    int closed;
} client;

static void client_open(client *c)
{
    memset(c, 0, sizeof *c);
    c->s = dv_session_new(ctx, "test");
    assert_non_null(c->s);
    dv_buf_init(&c->in);
    dv_buf_init(&c->out);
}

static void client_close(client *c)
{
    dv_session_free(c->s);
    dv_buf_free(&c->in);
    dv_buf_free(&c->out);
}

/* Queue a request (sent by flush). */
static void queue(client *c, dv_frame f)
{
    if (!f.magic) f.magic = f.framing_len ? DV_MAGIC_ALT_REQ : DV_MAGIC_REQ;
    f.opaque = ++c->opaque;
    assert_int_equal(dv_frame_encode(&c->in, &f), DV_MCBP_OK);
}

/* Hand everything queued to the session in one read. */
static void flush(client *c)
{
    long used = dv_session_data(c->s, dv_buf_head(&c->in), dv_buf_size(&c->in), &c->out, 0);
    if (used < 0) {
        c->closed = 1;
    } else {
        assert_int_equal((size_t)used, dv_buf_size(&c->in));
    }
    dv_buf_reset(&c->in);
}

/* The next reply, which must be there. */
static dv_frame next(client *c)
{
    dv_frame f;
    size_t used;
    assert_int_equal(dv_frame_decode(dv_buf_head(&c->out) + c->pos, dv_buf_size(&c->out) - c->pos,
                                     DV_FRAME_DEFAULT_MAX_BODY, &f, &used),
                     DV_MCBP_OK);
    c->pos += used;
    return f;
}

static int pending(const client *c)
{
    return c->pos < dv_buf_size(&c->out);
}

/* Send one request and return the status of its reply. */
static dv_frame call(client *c, dv_frame f)
{
    queue(c, f);
    flush(c);
    dv_frame r = next(c);
    assert_int_equal(r.opcode, f.opcode);
    assert_int_equal(r.opaque, c->opaque);
    return r;
}

/* The protocol key of a user key in collection cid. */
static dv_buf pkey;
static const uint8_t *key_of(uint32_t cid, const char *k, size_t *len)
{
    dv_buf_reset(&pkey);
    assert_int_equal(dv_key_append(&pkey, cid, k, strlen(k)), 0);
    *len = dv_buf_size(&pkey);
    return dv_buf_head(&pkey);
}

static dv_frame doc_req(uint8_t op, const char *key, const char *value)
{
    dv_frame f = {0};
    f.opcode = op;
    f.key = key_of(0, key, &f.key_len);
    f.vbucket = dv_vbucket_of(key, strlen(key), 1024);
    if (value) {
        f.value = (const uint8_t *)value;
        f.value_len = strlen(value);
    }
    return f;
}

static dv_frame set_req(const char *key, const char *value, uint32_t flags, uint32_t expiry)
{
    static uint8_t x[8];
    dv_frame f = doc_req(DV_OP_SET, key, value);
    dv_extras_store_encode(x, flags, expiry);
    f.extras = x;
    f.extras_len = 8;
    f.datatype = DV_DATATYPE_JSON;
    return f;
}

static const uint16_t cxx_features[] = {0x03, 0x06, 0x07, 0x08, 0x0b, 0x0c, 0x10, 0x0f, 0x11, 0x15,
                                        0x12, 0x17, 0x14, 0x1c, 0x21, 0x0e, 0x0d, 0x1e, 0x0a, 0x04};

static dv_frame hello_req(dv_buf *v, const uint16_t *codes, size_t n)
{
    dv_buf_reset(v);
    assert_int_equal(dv_hello_encode(v, codes, n), 0);
    dv_frame f = {0};
    f.opcode = DV_OP_HELLO;
    f.key = (const uint8_t *)"{\"a\":\"test\"}";
    f.key_len = 12;
    f.value = dv_buf_head(v);
    f.value_len = dv_buf_size(v);
    return f;
}

static dv_frame plain_req(const char *user, const char *pw, uint8_t *buf)
{
    size_t u = strlen(user), p = strlen(pw);
    buf[0] = 0;
    memcpy(buf + 1, user, u);
    buf[1 + u] = 0;
    memcpy(buf + 2 + u, pw, p);
    dv_frame f = {0};
    f.opcode = DV_OP_SASL_AUTH;
    f.key = (const uint8_t *)"PLAIN";
    f.key_len = 5;
    f.value = buf;
    f.value_len = 2 + u + p;
    return f;
}

/* HELLO (the official core's features), PLAIN as user, SELECT_BUCKET bucket. */
static void connect_as(client *c, const char *user, const char *pw, const char *bucket)
{
    dv_buf v;
    dv_buf_init(&v);
    uint8_t buf[128];
    client_open(c);
    queue(c, hello_req(&v, cxx_features, sizeof cxx_features / 2));
    queue(c, plain_req(user, pw, buf));
    flush(c);
    assert_int_equal(next(c).status, DV_STATUS_SUCCESS);
    assert_int_equal(next(c).status, DV_STATUS_SUCCESS);
    dv_buf_free(&v);
    if (bucket) {
        dv_frame f = {0};
        f.opcode = DV_OP_SELECT_BUCKET;
        f.key = (const uint8_t *)bucket;
        f.key_len = strlen(bucket);
        assert_int_equal(call(c, f).status, DV_STATUS_SUCCESS);
    }
}

/* ---- Tests ---------------------------------------------------------------------------------- */

/* The official core's bootstrap (kv-protocol.md §10.1), pipelined exactly as it sends it. */
static void bootstrap_like_the_official_core(void **state)
{
    (void)state;
    client c;
    client_open(&c);
    dv_buf v;
    dv_buf_init(&v);
    dv_sasl_client *sc;
    const uint8_t *msg;
    size_t len;
    dv_sasl_client_config cc = {DV_SASL_SCRAM_SHA512, "Administrator", "password", NULL, 0};
    assert_int_equal(dv_sasl_client_start(&cc, &sc, &msg, &len), 0);

    queue(&c, hello_req(&v, cxx_features, sizeof cxx_features / 2));
    queue(&c, (dv_frame){.opcode = DV_OP_SASL_LIST_MECHS});
    queue(&c, (dv_frame){.opcode = DV_OP_SASL_AUTH,
                         .key = (const uint8_t *)"SCRAM-SHA512",
                         .key_len = 12,
                         .value = msg,
                         .value_len = len});
    flush(&c);

    dv_frame r = next(&c);
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
    dv_features ack;
    assert_int_equal(dv_hello_decode(r.value, r.value_len, &ack), 0);
    static const unsigned want[] = {0x03, 0x04, 0x06, 0x07, 0x08, 0x0a, 0x0b, 0x0c, 0x0d,
                                    0x0e, 0x10, 0x11, 0x12, 0x14, 0x15, 0x17, 0x1e};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_true(dv_features_has(ack, want[i]));
    assert_false(dv_features_has(ack, 0x0f)); /* no server-duration frames */
    assert_false(dv_features_has(ack, 0x1c)); /* no replicas to read from */

    r = next(&c);
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
    assert_memory_equal(r.value, "SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1 PLAIN", r.value_len);

    r = next(&c);
    assert_int_equal(r.status, DV_STATUS_AUTH_CONTINUE);
    assert_int_equal(dv_sasl_client_step(sc, r.value, r.value_len, &msg, &len), DV_SASL_CONTINUE);
    r = call(&c, (dv_frame){.opcode = DV_OP_SASL_STEP,
                            .key = (const uint8_t *)"SCRAM-SHA512",
                            .key_len = 12,
                            .value = msg,
                            .value_len = len});
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
    assert_int_equal(dv_sasl_client_step(sc, r.value, r.value_len, &msg, &len), DV_SASL_SUCCESS);
    dv_sasl_client_free(sc);

    /* Authenticated: error map, bucket, config in one flush. */
    uint8_t two[2] = {0, 2};
    queue(&c, (dv_frame){.opcode = DV_OP_GET_ERROR_MAP, .value = two, .value_len = 2});
    queue(&c, (dv_frame){
                  .opcode = DV_OP_SELECT_BUCKET, .key = (const uint8_t *)"default", .key_len = 7});
    queue(&c, (dv_frame){.opcode = DV_OP_GET_CLUSTER_CONFIG});
    flush(&c);
    r = next(&c);
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
    assert_non_null(memmem(r.value, r.value_len, "\"revision\"", 10));
    assert_int_equal(next(&c).status, DV_STATUS_SUCCESS);
    r = next(&c);
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
    assert_int_equal(r.datatype, DV_DATATYPE_JSON);
    dv_config *cfg;
    assert_int_equal(dv_config_parse((const char *)r.value, r.value_len, "127.0.0.1", "127.0.0.1",
                                     &cfg, NULL, 0),
                     DV_ERR_OK);
    assert_string_equal(cfg->name, "default");
    assert_int_equal(cfg->vbmap.nvb, 1024);
    dv_config_free(cfg);
    assert_false(pending(&c));
    dv_buf_free(&v);
    client_close(&c);
}

/* GET_ERROR_MAP answers the highest version it has no higher than the one asked for. */
static void error_map_versions(void **state)
{
    (void)state;
    client c;
    connect_as(&c, "Administrator", "password", NULL);
    static const struct {
        uint16_t ask, got;
    } cases[] = {{1, 1}, {2, 2}, {3, 2}, {0xffff, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t v[2];
        dv_store_be16(v, cases[i].ask);
        dv_frame r =
            call(&c, (dv_frame){.opcode = DV_OP_GET_ERROR_MAP, .value = v, .value_len = 2});
        assert_int_equal(r.status, DV_STATUS_SUCCESS);
        assert_int_equal(r.datatype, DV_DATATYPE_JSON);
        dv_errmap m;
        char why[128];
        assert_int_equal(dv_errmap_parse(r.value, r.value_len, &m, why, sizeof why), DV_ERR_OK);
        assert_int_equal(m.version, cases[i].got);
        assert_non_null(dv_errmap_find(&m, DV_STATUS_ETMPFAIL));
        /* The rate-limit statuses carry a version-2 attribute. */
        if (cases[i].got == 1)
            assert_null(dv_errmap_find(&m, DV_STATUS_RATE_LIMITED_NETWORK_INGRESS));
        else
            assert_non_null(dv_errmap_find(&m, DV_STATUS_RATE_LIMITED_NETWORK_INGRESS));
        dv_errmap_free(&m);
    }
    uint8_t zero[2] = {0, 0};
    assert_int_equal(
        call(&c, (dv_frame){.opcode = DV_OP_GET_ERROR_MAP, .value = zero, .value_len = 2}).status,
        DV_STATUS_EINVAL);
    client_close(&c);
}

/* One OBSERVE entry of a request: vbucket, key length, key (with its collection prefix). */
static void observe_entry(dv_buf *v, uint32_t cid, const char *key)
{
    size_t n;
    const uint8_t *k = key_of(cid, key, &n);
    uint8_t hdr[4];
    dv_store_be16(hdr, dv_vbucket_of(key, strlen(key), 1024));
    dv_store_be16(hdr + 2, (uint16_t)n);
    assert_int_equal(dv_buf_append(v, hdr, 4), 0);
    assert_int_equal(dv_buf_append(v, k, n), 0);
}

/* Legacy OBSERVE read as libcouchbase reads it: the header CAS split into persist and replicate
 * times, then per key u16 vbucket, u16 key length, the key (collection prefix first), u8 state
 * and u64 CAS, in the order asked. */
static void observe_legacy(void **state)
{
    (void)state;
    client c;
    connect_as(&c, "reader", "pw", "default");
    client w;
    connect_as(&w, "Administrator", "password", "default");
    uint64_t cas = call(&w, set_req("obs-live", "{}", 0, 0)).cas;
    assert_int_equal(call(&w, set_req("obs-gone", "{}", 0, 0)).status, DV_STATUS_SUCCESS);
    assert_int_equal(call(&w, doc_req(DV_OP_DELETE, "obs-gone", NULL)).status, DV_STATUS_SUCCESS);

    dv_buf v;
    dv_buf_init(&v);
    static const char *const keys[] = {"obs-live", "obs-missing", "obs-gone"};
    for (size_t i = 0; i < 3; i++) observe_entry(&v, 0, keys[i]);
    dv_frame r = call(&c, (dv_frame){.opcode = DV_OP_OBSERVE,
                                     .value = dv_buf_head(&v),
                                     .value_len = dv_buf_size(&v)});
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
    assert_int_equal(r.cas >> 32, 0);         /* time to persist */
    assert_int_equal(r.cas & 0xffffffffu, 0); /* time to replicate */
    const uint8_t *p = r.value, *end = r.value + r.value_len;
    static const uint8_t want_state[] = {0x01, 0x80, 0x80}; /* persisted, not found, not found */
    for (size_t i = 0; i < 3; i++) {
        assert_true(end - p >= 4);
        uint16_t vb = dv_load_be16(p), nkey = dv_load_be16(p + 2);
        p += 4;
        assert_true(end - p >= nkey + 9);
        assert_int_equal(vb, dv_vbucket_of(keys[i], strlen(keys[i]), 1024));
        assert_int_equal(p[0], 0x00); /* leb128 collection id 0 */
        assert_int_equal(nkey - 1, strlen(keys[i]));
        assert_memory_equal(p + 1, keys[i], nkey - 1);
        p += nkey;
        assert_int_equal(p[0], want_state[i]);
        assert_int_equal(dv_load_be64(p + 1), i == 0 ? cas : 0);
        p += 9;
    }
    assert_ptr_equal(p, end);

    /* A vbucket out of range, an unknown collection, a cut entry, an empty request. */
    dv_buf_reset(&v);
    observe_entry(&v, 0, "obs-live");
    uint8_t *raw = (uint8_t *)dv_buf_head(&v);
    dv_store_be16(raw, 4000);
    r = call(&c, (dv_frame){.opcode = DV_OP_OBSERVE, .value = raw, .value_len = dv_buf_size(&v)});
    assert_int_equal(r.status, DV_STATUS_NOT_MY_VBUCKET);
    dv_buf_reset(&v);
    observe_entry(&v, 0, "obs-live");
    observe_entry(&v, 77, "obs-live");
    r = call(&c, (dv_frame){.opcode = DV_OP_OBSERVE,
                            .value = dv_buf_head(&v),
                            .value_len = dv_buf_size(&v)});
    assert_int_equal(r.status, DV_STATUS_UNKNOWN_COLLECTION);
    r = call(&c, (dv_frame){.opcode = DV_OP_OBSERVE,
                            .value = dv_buf_head(&v),
                            .value_len = dv_buf_size(&v) - 1});
    assert_int_equal(r.status, DV_STATUS_EINVAL);
    assert_int_equal(call(&c, (dv_frame){.opcode = DV_OP_OBSERVE}).status, DV_STATUS_EINVAL);
    dv_buf_free(&v);
    client_close(&w);
    client_close(&c);
}

/* Read a STAT answer as libcouchbase does: responses with the request's opaque, one statistic
 * each (key = name), until one with an empty key. Returns the count; value of `name` in want. */
static size_t read_stats(client *c, const char *name, char *want, size_t want_len)
{
    size_t n = 0;
    for (;;) {
        dv_frame r = next(c);
        assert_int_equal(r.opcode, DV_OP_STAT);
        assert_int_equal(r.opaque, c->opaque);
        assert_int_equal(r.status, DV_STATUS_SUCCESS);
        if (r.key_len == 0) {
            assert_int_equal(r.value_len, 0);
            break;
        }
        if (name && r.key_len == strlen(name) && memcmp(r.key, name, r.key_len) == 0)
            snprintf(want, want_len, "%.*s", (int)r.value_len, (const char *)r.value);
        n++;
    }
    assert_false(pending(c));
    return n;
}

static void stat_groups(void **state)
{
    (void)state;
    client c;
    connect_as(&c, "Administrator", "password", "default");
    assert_int_equal(call(&c, set_req("stat-doc", "{}", 0, 0)).status, DV_STATUS_SUCCESS);
    char val[64] = "";

    queue(&c, (dv_frame){.opcode = DV_OP_STAT});
    flush(&c);
    assert_true(read_stats(&c, "version", val, sizeof val) > 10);
    assert_string_equal(val, "7.6.2");
    queue(&c, (dv_frame){.opcode = DV_OP_STAT});
    flush(&c);
    read_stats(&c, "curr_items", val, sizeof val);
    assert_true(atoi(val) >= 1);

    const char *g = "vbucket-details";
    queue(&c, (dv_frame){.opcode = DV_OP_STAT, .key = (const uint8_t *)g, .key_len = strlen(g)});
    flush(&c);
    assert_int_equal(read_stats(&c, "vb_1023", val, sizeof val), 1024 * 4);
    assert_string_equal(val, "active");

    uint16_t vb = dv_vbucket_of("stat-doc", 8, 1024);
    char one[40], hs[40];
    snprintf(one, sizeof one, "vbucket-details %u", (unsigned)vb);
    snprintf(hs, sizeof hs, "vb_%u:high_seqno", (unsigned)vb);
    queue(&c,
          (dv_frame){.opcode = DV_OP_STAT, .key = (const uint8_t *)one, .key_len = strlen(one)});
    flush(&c);
    assert_int_equal(read_stats(&c, hs, val, sizeof val), 4);
    assert_true(atoi(val) >= 1);

    g = "vbucket";
    queue(&c, (dv_frame){.opcode = DV_OP_STAT, .key = (const uint8_t *)g, .key_len = strlen(g)});
    flush(&c);
    assert_int_equal(read_stats(&c, NULL, NULL, 0), 1024);

    static const char *const refused[] = {"nosuch", "vbucket-seqno", "vbucket-details x",
                                          "vbucket-details 4000"};
    static const uint16_t why[] = {DV_STATUS_KEY_ENOENT, DV_STATUS_KEY_ENOENT, DV_STATUS_EINVAL,
                                   DV_STATUS_NOT_MY_VBUCKET};
    for (size_t i = 0; i < 4; i++) {
        dv_frame r = call(&c, (dv_frame){.opcode = DV_OP_STAT,
                                         .key = (const uint8_t *)refused[i],
                                         .key_len = strlen(refused[i])});
        assert_int_equal(r.status, why[i]);
        assert_false(pending(&c));
    }
    client_close(&c);
}

/* Before SASL succeeds only HELLO, SASL and the error map are served. */
static void nothing_before_authentication(void **state)
{
    (void)state;
    client c;
    client_open(&c);
    uint8_t buf[128];
    assert_int_equal(call(&c, doc_req(DV_OP_GET, "k", NULL)).status, DV_STATUS_EACCESS);
    assert_int_equal(call(&c, (dv_frame){.opcode = DV_OP_GET_CLUSTER_CONFIG}).status,
                     DV_STATUS_EACCESS);
    assert_int_equal(call(&c, (dv_frame){.opcode = DV_OP_SELECT_BUCKET,
                                         .key = (const uint8_t *)"default",
                                         .key_len = 7})
                         .status,
                     DV_STATUS_EACCESS);
    /* A wrong password and an unknown user look the same to the client. */
    dv_frame r = call(&c, plain_req("Administrator", "wrong", buf));
    assert_int_equal(r.status, DV_STATUS_AUTH_ERROR);
    assert_int_equal(r.value_len, 0);
    assert_int_equal(call(&c, plain_req("nobody", "wrong", buf)).status, DV_STATUS_AUTH_ERROR);
    assert_int_equal(call(&c, (dv_frame){.opcode = DV_OP_NOOP}).status, DV_STATUS_EACCESS);
    assert_int_equal(call(&c, plain_req("Administrator", "password", buf)).status,
                     DV_STATUS_SUCCESS);
    assert_int_equal(call(&c, (dv_frame){.opcode = DV_OP_NOOP}).status, DV_STATUS_SUCCESS);
    /* Authenticated but no bucket yet. */
    assert_int_equal(call(&c, doc_req(DV_OP_GET, "k", NULL)).status, DV_STATUS_NO_BUCKET);
    /* The cluster-level config goes to every authenticated user (§14.13). */
    dv_frame cfg = call(&c, (dv_frame){.opcode = DV_OP_GET_CLUSTER_CONFIG});
    assert_int_equal(cfg.status, DV_STATUS_SUCCESS);
    assert_null(memmem(cfg.value, cfg.value_len, "vBucketServerMap", 16));
    client_close(&c);
}

/* A user reaches only the buckets its roles allow; unknown buckets look the same. */
static void buckets_and_roles(void **state)
{
    (void)state;
    client c;
    connect_as(&c, "reader", "pw", NULL);
    dv_frame sel = {.opcode = DV_OP_SELECT_BUCKET};
    sel.key = (const uint8_t *)"replicated";
    sel.key_len = 10;
    assert_int_equal(call(&c, sel).status, DV_STATUS_EACCESS);
    sel.key = (const uint8_t *)"nosuch";
    sel.key_len = 6;
    assert_int_equal(call(&c, sel).status, DV_STATUS_EACCESS);
    sel.key = (const uint8_t *)"default";
    sel.key_len = 7;
    assert_int_equal(call(&c, sel).status, DV_STATUS_SUCCESS);
    /* data_reader reads but does not write. */
    assert_int_equal(call(&c, doc_req(DV_OP_GET, "k", NULL)).status, DV_STATUS_KEY_ENOENT);
    assert_int_equal(call(&c, set_req("k", "{}", 0, 0)).status, DV_STATUS_EACCESS);
    client_close(&c);
}

static void documents_on_the_wire(void **state)
{
    (void)state;
    client c;
    connect_as(&c, "Administrator", "password", "default");
    dv_frame r = call(&c, set_req("doc", "{\"a\":1}", 0x02000000, 0));
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
    assert_int_equal(r.extras_len, 16); /* mutation token */
    uint64_t cas = r.cas;
    assert_true(cas != 0);

    r = call(&c, doc_req(DV_OP_GET, "doc", NULL));
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
    assert_int_equal(r.cas, cas);
    assert_int_equal(r.extras_len, 4);
    assert_int_equal(dv_load_be32(r.extras), 0x02000000);
    assert_int_equal(r.datatype, DV_DATATYPE_JSON);
    assert_int_equal(r.value_len, 7);
    assert_memory_equal(r.value, "{\"a\":1}", 7);

    dv_frame add = set_req("doc", "{}", 0, 0);
    add.opcode = DV_OP_ADD;
    assert_int_equal(call(&c, add).status, DV_STATUS_KEY_EEXISTS);
    dv_frame rep = set_req("doc", "{}", 0, 0);
    rep.opcode = DV_OP_REPLACE;
    rep.cas = cas + 1;
    assert_int_equal(call(&c, rep).status, DV_STATUS_KEY_EEXISTS);

    /* An unknown collection, with the manifest uid in the error body. */
    dv_frame g = doc_req(DV_OP_GET, "doc", NULL);
    g.key = key_of(8, "doc", &g.key_len);
    r = call(&c, g);
    assert_int_equal(r.status, DV_STATUS_UNKNOWN_COLLECTION);
    assert_non_null(memmem(r.value, r.value_len, "manifest_uid", 12));

    /* A vbucket this node does not have: NOT_MY_VBUCKET with the config. */
    g = doc_req(DV_OP_GET, "doc", NULL);
    g.vbucket = 4000;
    r = call(&c, g);
    assert_int_equal(r.status, DV_STATUS_NOT_MY_VBUCKET);
    assert_int_equal(r.datatype, DV_DATATYPE_JSON);
    assert_non_null(memmem(r.value, r.value_len, "vBucketMap", 10));

    /* Quiet commands: no reply on success (set) or a miss (get); NOOP flushes. */
    dv_frame q = set_req("quiet", "1", 0, 0);
    q.opcode = DV_OP_SETQ;
    queue(&c, q);
    q = doc_req(DV_OP_GETQ, "missing", NULL);
    queue(&c, q);
    q = doc_req(DV_OP_GETKQ, "quiet", NULL);
    queue(&c, q);
    queue(&c, (dv_frame){.opcode = DV_OP_NOOP});
    flush(&c);
    r = next(&c);
    assert_int_equal(r.opcode, DV_OP_GETKQ);
    assert_int_equal(r.value_len, 1);
    assert_true(r.key_len > 0);
    assert_int_equal(next(&c).opcode, DV_OP_NOOP);
    assert_false(pending(&c));

    /* Counters: created from initial, then incremented; the value is a u64. */
    uint8_t cx[20];
    dv_counter_extras ce = {.delta = 5, .initial = 10, .expiry = 0};
    dv_extras_counter_encode(cx, &ce);
    dv_frame inc = doc_req(DV_OP_INCREMENT, "ctr", NULL);
    inc.extras = cx;
    inc.extras_len = 20;
    r = call(&c, inc);
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
    assert_int_equal(dv_load_be64(r.value), 10);
    r = call(&c, inc);
    assert_int_equal(dv_load_be64(r.value), 15);
    ce.expiry = DV_COUNTER_NO_CREATE;
    dv_extras_counter_encode(cx, &ce);
    inc = doc_req(DV_OP_INCREMENT, "nosuchctr", NULL);
    inc.extras = cx;
    inc.extras_len = 20;
    assert_int_equal(call(&c, inc).status, DV_STATUS_KEY_ENOENT);

    /* Locks, with the extended statuses. */
    uint8_t lx[4];
    dv_extras_u32_encode(lx, 10);
    dv_frame lk = doc_req(DV_OP_GET_LOCKED, "doc", NULL);
    lk.extras = lx;
    lk.extras_len = 4;
    r = call(&c, lk);
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
    uint64_t lock_cas = r.cas;
    assert_int_equal(call(&c, set_req("doc", "{}", 0, 0)).status, DV_STATUS_LOCKED);
    assert_int_equal(call(&c, lk).status, DV_STATUS_LOCKED);
    dv_frame un = doc_req(DV_OP_UNLOCK_KEY, "doc", NULL);
    un.cas = lock_cas;
    assert_int_equal(call(&c, un).status, DV_STATUS_SUCCESS);
    assert_int_equal(call(&c, un).status, DV_STATUS_NOT_LOCKED);

    /* GET_META on a deleted document: SUCCESS with deleted = 1. */
    assert_int_equal(call(&c, doc_req(DV_OP_DELETE, "doc", NULL)).status, DV_STATUS_SUCCESS);
    uint8_t two = 2;
    dv_frame gm = doc_req(DV_OP_GET_META, "doc", NULL);
    gm.extras = &two;
    gm.extras_len = 1;
    r = call(&c, gm);
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
    assert_int_equal(r.extras_len, 21);
    assert_int_equal(dv_load_be32(r.extras), 1);

    /* An unknown opcode. */
    assert_int_equal(call(&c, (dv_frame){.opcode = 0xee}).status, DV_STATUS_UNKNOWN_COMMAND);
    client_close(&c);
}

/* Without XERROR, the lock statuses come back as the classic ones. */
static void classic_statuses_without_xerror(void **state)
{
    (void)state;
    client c;
    client_open(&c);
    dv_buf v;
    dv_buf_init(&v);
    uint8_t buf[128];
    static const uint16_t few[] = {0x12, 0x0b};
    assert_int_equal(call(&c, hello_req(&v, few, 2)).status, DV_STATUS_SUCCESS);
    assert_int_equal(call(&c, plain_req("Administrator", "password", buf)).status, 0);
    assert_int_equal(call(&c, (dv_frame){.opcode = DV_OP_SELECT_BUCKET,
                                         .key = (const uint8_t *)"default",
                                         .key_len = 7})
                         .status,
                     0);
    dv_frame r = call(&c, set_req("lk", "{}", 0, 0));
    assert_int_equal(r.extras_len, 0); /* no MUTATION_SEQNO: no token */
    uint8_t lx[4] = {0};
    dv_frame lk = doc_req(DV_OP_GET_LOCKED, "lk", NULL);
    lk.extras = lx;
    lk.extras_len = 4;
    assert_int_equal(call(&c, lk).status, DV_STATUS_SUCCESS);
    assert_int_equal(call(&c, set_req("lk", "{}", 0, 0)).status, DV_STATUS_KEY_EEXISTS);
    assert_int_equal(call(&c, lk).status, DV_STATUS_ETMPFAIL);
    dv_buf_free(&v);
    client_close(&c);
}

static void values_snappy_and_size(void **state)
{
    (void)state;
    client c;
    connect_as(&c, "Administrator", "password", "default");
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    dv_buf z;
    dv_buf_init(&z);
    uint8_t dt = 0;
    assert_int_equal(dv_snappy_compress((const uint8_t *)big, strlen(big), &z, &dt), 1);
    dv_frame f = set_req("snappy", big, 0, 0);
    f.value = dv_buf_head(&z);
    f.value_len = dv_buf_size(&z);
    f.datatype = DV_DATATYPE_SNAPPY;
    assert_int_equal(call(&c, f).status, DV_STATUS_SUCCESS);
    dv_frame r = call(&c, doc_req(DV_OP_GET, "snappy", NULL));
    assert_int_equal(r.value_len, strlen(big));
    assert_int_equal(r.datatype, 0);
    /* Corrupt snappy data. */
    f.value_len = 3;
    assert_int_equal(call(&c, f).status, DV_STATUS_EINVAL);
    dv_buf_free(&z);

    /* One byte above 20 MiB. */
    size_t n = DV_MAX_VALUE_LEN + 1;
    char *huge = malloc(n + 1);
    memset(huge, 'a', n);
    huge[n] = 0;
    assert_int_equal(call(&c, set_req("huge", huge, 0, 0)).status, DV_STATUS_E2BIG);
    free(huge);
    assert_int_equal(call(&c, doc_req(DV_OP_GET, "huge", NULL)).status, DV_STATUS_KEY_ENOENT);
    client_close(&c);
}

static void durability(void **state)
{
    (void)state;
    client c;
    connect_as(&c, "Administrator", "password", "default");
    uint8_t fe[4] = {0x13, 0x01, 0x23, 0x28}; /* majority, 9000 ms */
    dv_frame f = set_req("durable", "{}", 0, 0);
    f.framing = fe;
    f.framing_len = 4;
    assert_int_equal(call(&c, f).status, DV_STATUS_SUCCESS);
    fe[1] = 4; /* no such level */
    assert_int_equal(call(&c, f).status, DV_STATUS_DURABILITY_INVALID_LEVEL);
    client_close(&c);

    /* A bucket with a replica this single node cannot place. */
    connect_as(&c, "Administrator", "password", "replicated");
    fe[1] = 1;
    f = set_req("durable", "{}", 0, 0);
    f.framing = fe;
    f.framing_len = 4;
    assert_int_equal(call(&c, f).status, DV_STATUS_DURABILITY_IMPOSSIBLE);
    assert_int_equal(call(&c, doc_req(DV_OP_GET, "durable", NULL)).status, DV_STATUS_KEY_ENOENT);
    client_close(&c);
}

/* Persisting levels: refused where there is no storage; with storage, acknowledged once on
 * disk, also after the connection moves to another bucket (whose commits count on their own). */
static void durable_writes_wait_for_the_disk(void **state)
{
    (void)state;
    uint8_t fe[4] = {0x13, 0x03, 0x03, 0xe8}; /* persistToMajority, 1000 ms */
    client c;
    connect_as(&c, "Administrator", "password", "default");
    dv_frame f = set_req("on-disk", "{}", 0, 0);
    f.framing = fe;
    f.framing_len = 4;
    assert_int_equal(call(&c, f).status, DV_STATUS_DURABILITY_INVALID_LEVEL);
    client_close(&c);

    char dir[] = "/tmp/dv-test-session-XXXXXX";
    assert_non_null(mkdtemp(dir));
    dv_cluster *memory = cluster;
    dv_session_ctx *memory_ctx = ctx;
    char err[512];
    int fresh;
    cluster = dv_cluster_new("divan", 11210, 8091);
    /* A long commit window: only durable writes commit here. */
    assert_int_equal(dv_cluster_open_data_dir(cluster, dir, 600000, &fresh, err, sizeof err), 0);
    for (int i = 0; i < 2; i++) {
        dv_bucket_settings bs;
        dv_bucket_settings_default(&bs, i ? "b" : "a");
        assert_int_equal(dv_cluster_create_bucket(cluster, &bs, NULL, err, sizeof err), 0);
    }
    ctx = dv_session_ctx_new(cluster, users);
    dv_session_ctx_set_now(ctx, NOW);
    connect_as(&c, "Administrator", "password", "a");
    for (int i = 0; i < 20; i++) assert_int_equal(call(&c, f).status, DV_STATUS_SUCCESS);
    dv_frame sel = {0};
    sel.opcode = DV_OP_SELECT_BUCKET;
    sel.key = (const uint8_t *)"b";
    sel.key_len = 1;
    assert_int_equal(call(&c, sel).status, DV_STATUS_SUCCESS);
    dv_frame r = call(&c, f);
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
    dv_bucket *b = dv_cluster_get_bucket(cluster, "b", 1);
    dv_vbucket *vb = dv_store_lock(dv_bucket_store(b), f.vbucket);
    assert_int_equal(dv_vbucket_persisted_seqno(vb), dv_vbucket_high_seqno(vb));
    assert_int_equal(dv_vbucket_high_seqno(vb), 1);
    dv_vbucket_unlock(vb);
    dv_bucket_release(b);
    client_close(&c);
    dv_session_ctx_free(ctx);
    dv_cluster_free(cluster);
    cluster = memory;
    ctx = memory_ctx;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void collections_and_pushes(void **state)
{
    (void)state;
    client c;
    connect_as(&c, "Administrator", "password", "default");
    dv_frame r = call(&c, (dv_frame){.opcode = DV_OP_GET_CLUSTER_CONFIG});
    assert_int_equal(r.status, DV_STATUS_SUCCESS);

    /* Nothing changed: no push. */
    dv_session_notify(c.s, &c.out);
    assert_false(pending(&c));

    dv_bucket *b = dv_cluster_get_bucket(cluster, "default", 7);
    assert_int_equal(dv_bucket_create_scope(b, "inventory", NULL), 0);
    assert_int_equal(dv_bucket_create_collection(b, "inventory", "airline", NULL, NULL), 0);
    int64_t rev = dv_bucket_rev(b);

    dv_session_notify(c.s, &c.out);
    r = next(&c);
    assert_int_equal(r.magic, DV_MAGIC_SERVER_REQ);
    assert_int_equal(r.opcode, 0x01);
    assert_int_equal(r.key_len, 7);
    assert_memory_equal(r.key, "default", 7);
    dv_config_version ver;
    assert_int_equal(dv_extras_clustermap_push_decode(r.extras, r.extras_len, &ver), 0);
    assert_int_equal(ver.revision, rev);
    assert_non_null(memmem(r.value, r.value_len, "\"rev\"", 5));
    dv_session_notify(c.s, &c.out); /* once only */
    assert_false(pending(&c));

    const char path[] = "inventory.airline";
    r = call(&c, (dv_frame){.opcode = DV_OP_GET_COLLECTION_ID,
                            .value = (const uint8_t *)path,
                            .value_len = sizeof path - 1});
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
    uint64_t uid;
    uint32_t cid;
    assert_int_equal(dv_extras_collection_id_decode(r.extras, r.extras_len, &uid, &cid), 0);
    assert_int_equal(cid, 8);
    r = call(&c, (dv_frame){.opcode = DV_OP_GET_COLLECTION_ID,
                            .value = (const uint8_t *)"inventory.nope",
                            .value_len = 14});
    assert_int_equal(r.status, DV_STATUS_UNKNOWN_COLLECTION);
    r = call(&c, (dv_frame){.opcode = DV_OP_GET_COLLECTION_ID,
                            .value = (const uint8_t *)"nope.airline",
                            .value_len = 12});
    assert_int_equal(r.status, DV_STATUS_UNKNOWN_SCOPE);

    /* The new collection holds documents of its own. */
    dv_frame s = set_req("x", "{}", 0, 0);
    s.key = key_of(8, "x", &s.key_len);
    assert_int_equal(call(&c, s).status, DV_STATUS_SUCCESS);
    assert_int_equal(call(&c, doc_req(DV_OP_GET, "x", NULL)).status, DV_STATUS_KEY_ENOENT);

    r = call(&c, (dv_frame){.opcode = DV_OP_GET_COLLECTIONS_MANIFEST});
    assert_non_null(memmem(r.value, r.value_len, "airline", 7));

    assert_int_equal(dv_bucket_drop_scope(b, "inventory", NULL), 0);
    s.key = key_of(8, "x", &s.key_len);
    assert_int_equal(call(&c, s).status, DV_STATUS_UNKNOWN_COLLECTION);
    dv_bucket_release(b);
    client_close(&c);
}

/* Bad input closes the connection or gets an error status; nothing leaks. */
static void bad_input(void **state)
{
    (void)state;
    client c;
    connect_as(&c, "Administrator", "password", "default");
    /* A trailing partial frame is left unconsumed. */
    dv_frame f = doc_req(DV_OP_GET, "k", NULL);
    f.magic = DV_MAGIC_REQ;
    dv_buf_reset(&c.in);
    assert_int_equal(dv_frame_encode(&c.in, &f), 0);
    long used = dv_session_data(c.s, dv_buf_head(&c.in), dv_buf_size(&c.in) - 1, &c.out, 0);
    assert_int_equal(used, 0);
    dv_buf_reset(&c.in);
    /* Bad extras length: EINVAL, the connection goes on. */
    uint8_t x[3] = {0};
    dv_frame bad = doc_req(DV_OP_SET, "k", "v");
    bad.extras = x;
    bad.extras_len = 3;
    assert_int_equal(call(&c, bad).status, DV_STATUS_EINVAL);
    assert_int_equal(call(&c, (dv_frame){.opcode = DV_OP_NOOP}).status, 0);
    /* A body length above the maximum: closed. */
    uint8_t hdr[24] = {0x80, 0x01, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff};
    assert_int_equal(dv_session_data(c.s, hdr, sizeof hdr, &c.out, 0), -1);
    client_close(&c);

    /* Lengths that contradict each other: closed. */
    connect_as(&c, "Administrator", "password", "default");
    uint8_t lie[24] = {0x80, 0x00, 0, 200, 0, 0, 0, 0, 0, 0, 0, 10};
    assert_int_equal(dv_session_data(c.s, lie, sizeof lie, &c.out, 0), -1);
    client_close(&c);

    /* Random bytes: closed without a crash. */
    client_open(&c);
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 37 + 11);
    assert_int_equal(dv_session_data(c.s, junk, sizeof junk, &c.out, 0), -1);
    client_close(&c);

    /* QUIT answers, then closes. */
    connect_as(&c, "Administrator", "password", NULL);
    queue(&c, (dv_frame){.opcode = DV_OP_QUIT});
    flush(&c);
    assert_true(c.closed);
    assert_int_equal(next(&c).opcode, DV_OP_QUIT);
    client_close(&c);
}

/* A session stops before the next request once its output reaches the limit the network
 * layer gives it, and before authentication takes only small frames. */
static void output_limit_and_preauth_frames(void **state)
{
    (void)state;
    client c;
    connect_as(&c, "Administrator", "password", "default");
    dv_buf_reset(&c.in);
    for (int i = 0; i < 3; i++) queue(&c, (dv_frame){.opcode = DV_OP_NOOP});
    size_t one = dv_buf_size(&c.in) / 3;
    /* The limit counts what out holds already. */
    size_t before = dv_buf_size(&c.out);
    long used = dv_session_data(c.s, dv_buf_head(&c.in), dv_buf_size(&c.in), &c.out, before);
    assert_int_equal(used, 0);
    used = dv_session_data(c.s, dv_buf_head(&c.in), dv_buf_size(&c.in), &c.out, before + 1);
    assert_int_equal(used, (long)one);
    size_t first = dv_buf_size(&c.out);
    used = dv_session_data(c.s, dv_buf_head(&c.in) + one, 2 * one, &c.out, first + 1);
    assert_int_equal(used, (long)one);
    dv_buf_reset(&c.in);
    client_close(&c);

    /* 16 KiB + 1 before SASL: closed at the header; the same after SASL is served. */
    uint8_t hdr[24] = {0x80, DV_OP_NOOP, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x01};
    client_open(&c);
    assert_int_equal(dv_session_data(c.s, hdr, sizeof hdr, &c.out, 0), -1);
    client_close(&c);
    connect_as(&c, "Administrator", "password", NULL);
    assert_int_equal(dv_session_data(c.s, hdr, sizeof hdr, &c.out, 0), 0);
    client_close(&c);
}

int main(void)
{
    dv_buf_init(&pkey);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bootstrap_like_the_official_core),
        cmocka_unit_test(error_map_versions),
        cmocka_unit_test(observe_legacy),
        cmocka_unit_test(stat_groups),
        cmocka_unit_test(nothing_before_authentication),
        cmocka_unit_test(buckets_and_roles),
        cmocka_unit_test(documents_on_the_wire),
        cmocka_unit_test(classic_statuses_without_xerror),
        cmocka_unit_test(values_snappy_and_size),
        cmocka_unit_test(durability),
        cmocka_unit_test(durable_writes_wait_for_the_disk),
        cmocka_unit_test(collections_and_pushes),
        cmocka_unit_test(bad_input),
        cmocka_unit_test(output_limit_and_preauth_frames),
    };
    int failed =
        _cmocka_run_group_tests("session", tests, sizeof tests / sizeof tests[0], setup, teardown);
    dv_buf_free(&pkey);
    return failed + (dv_alloc_live() > 0);
}
