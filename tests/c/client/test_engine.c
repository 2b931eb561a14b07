/* The client engine on a simulated cluster with a fake clock: no sockets, no sleeps, no threads.
 *
 * The harness implements the engine's hooks in-process. Connections go to scripted fake nodes
 * (looked up by host:port) that parse requests with dv_frame_decode and answer the handshake
 * (HELLO, SCRAM-SHA512 with src/sasl's server side, GET_ERROR_MAP, SELECT_BUCKET,
 * GET_CLUSTER_CONFIG with configs built by src/topology), GET_COLLECTION_ID, and GET/SET on a
 * small per-node store; faults are switches on a node. A node may also serve HTTP on its
 * management port (GET /pools/default/b/<bucket>, the engine's HTTP config bootstrap). Time moves
 * only in advance_to(), which fires the engine's timer at exactly the times it asked for, so every
 * completion time below is exact. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/endian.h"
#include "client/engine.h"
#include "client/engine_int.h" /* the cluster connection's config */
#include "divan/client.h"
#include "mcbp/errmap.h"
#include "mcbp/extras.h"
#include "mcbp/frame.h"
#include "mcbp/hello.h"
#include "mcbp/leb128.h"
#include "mcbp/protocol.h"
#include "mcbp/rscan.h"
#include "sasl/sasl.h"
#include "divan/scan.h"
#include "topology/config.h"
#include "topology/vbucket.h"

#define MS                  DV_NS_PER_MS
#define NVB                 64
#define USER                "Administrator"
#define BOOT_RETRY_SLACK_MS 1000 /* the 500 ms pause between rounds, and then some */

/* ---- the simulated cluster ---------------------------------------------------------------- */

typedef struct item {
    uint32_t cid;
    char key[64];
    char val[128];
    size_t vlen;
    uint32_t flags;
    uint64_t cas;
} item;

typedef struct fnode {
    char host[32];
    uint16_t port;
    int index;     /* in the server's config; -1: not a member */
    int refuse;    /* connect fails */
    int hang;      /* connect never answers */
    int mute;      /* swallows every request */
    int drop;      /* the next data request closes the connection instead of an answer */
    int etmpfail;  /* answer ETMPFAIL to this many data requests */
    int locked;    /* answer LOCKED to every mutation */
    int no_ccc;    /* GET_CLUSTER_CONFIG answers UNKNOWN_COMMAND (no config over KV) */
    int no_gcccp;  /* bucket-less GET_CLUSTER_CONFIG answers NO_BUCKET (no cluster config) */
    int http;      /* HTTP status served on mgmt_port (0: refused) */
    int http_mode; /* the body: HB_LENGTH, HB_CHUNKED, HB_CLOSE */
    int keep;      /* HB_LENGTH: no "Connection: close", the connection stays open */
    int mute_http; /* HTTP requests are read and not answered */
    uint16_t mgmt_port;
    unsigned http_requests;
    unsigned data_ops, nmvb_sent;
    unsigned observes;    /* OBSERVE_SEQNO requests answered */
    unsigned observe_lag; /* answer this many OBSERVE_SEQNO with seqnos 0 (not there yet) */
    int never_persist;    /* OBSERVE_SEQNO: the last persisted seqno stays 0 */
    item items[512];
    size_t nitems;
    /* A range scan per vbucket: items[idx[pos..n)] still to send. */
    struct fscan {
        int open, keys_only;
        uint16_t idx[512];
        size_t n, pos;
    } scans[NVB];
    unsigned scan_creates, scan_cancels, scans_open_max;
    int scan_drop; /* the next continue sends one record, then the connection closes */
} fnode;

enum { FC_PENDING, FC_OPEN, FC_HUNG, FC_CLOSED };
enum { HB_LENGTH, HB_CHUNKED, HB_CLOSE };

typedef struct fconn {
    uint32_t id;
    fnode *node;
    int http; /* to the node's management port */
    int state;
    dv_buf in;
    dv_features feats;
    dv_sasl_server *sasl;
    char bucket[32];
    unsigned writes;       /* hooks.write calls */
    uint8_t ops[64];       /* opcodes received, in order */
    unsigned write_of[64]; /* which write each came in */
    size_t nops;
} fconn;

typedef struct harness {
    dv_engine *e;
    uint64_t now, timer_at;
    fnode nodes[4];
    int nnodes;
    dv_config *cfg; /* what the nodes serve */
    const char *bucket;
    dv_sasl_creds creds;
    struct {
        char name[32];
        uint32_t cid;
    } colls[4];
    int ncolls;
    uint64_t manifest_uid;
    fconn conns[1024];
    size_t nconns;
    unsigned connects;
    int named;           /* give even a one-node config host names */
    uint32_t replicas;   /* numReplicas of the config (and replica chains of the map) */
    uint64_t high_seqno; /* of every vbucket: bumped by each SET */
} harness;

static harness H;

/* ---- hooks ---- */

static uint64_t h_now(void *ud)
{
    (void)ud;
    return H.now;
}

static fnode *node_by_addr(const char *host, uint16_t port)
{
    for (int i = 0; i < H.nnodes; i++)
        if (strcmp(H.nodes[i].host, host) == 0 && H.nodes[i].port == port) return &H.nodes[i];
    return NULL;
}

static fconn *fconn_by_id(uint32_t id)
{
    for (size_t i = 0; i < H.nconns; i++)
        if (H.conns[i].id == id) return &H.conns[i];
    return NULL;
}

static void h_connect(void *ud, uint32_t id, const char *host, uint16_t port)
{
    (void)ud;
    assert_true(H.nconns < sizeof H.conns / sizeof H.conns[0]);
    assert_null(fconn_by_id(id)); /* ids are never reused */
    fconn *fc = &H.conns[H.nconns++];
    memset(fc, 0, sizeof *fc);
    fc->id = id;
    fc->node = node_by_addr(host, port);
    for (int i = 0; !fc->node && i < H.nnodes; i++)
        if (strcmp(H.nodes[i].host, host) == 0 && H.nodes[i].mgmt_port == port) {
            fc->http = 1;
            fc->node = H.nodes[i].http ? &H.nodes[i] : NULL; /* NULL: refused */
        }
    fc->state = FC_PENDING;
    H.connects++;
}

static void h_write(void *ud, uint32_t id, const uint8_t *p, size_t n)
{
    (void)ud;
    fconn *fc = fconn_by_id(id);
    assert_non_null(fc);
    assert_int_equal(fc->state, FC_OPEN);
    fc->writes++;
    if (fc->http) {
        assert_int_equal(dv_buf_append(&fc->in, p, n), 0);
        return;
    }
    /* Remember the opcodes and the write they came in (the batching tests). */
    size_t off = 0;
    dv_frame f;
    size_t used;
    while (off < n &&
           dv_frame_decode(p + off, n - off, DV_FRAME_DEFAULT_MAX_BODY, &f, &used) == DV_MCBP_OK) {
        if (fc->nops < 64) {
            fc->ops[fc->nops] = f.opcode;
            fc->write_of[fc->nops++] = fc->writes;
        }
        off += used;
    }
    assert_int_equal(dv_buf_append(&fc->in, p, n), 0);
}

static void fconn_release(fconn *fc)
{
    dv_buf_free(&fc->in);
    dv_sasl_server_free(fc->sasl);
    fc->sasl = NULL;
}

static void h_close(void *ud, uint32_t id)
{
    (void)ud;
    fconn *fc = fconn_by_id(id);
    assert_non_null(fc);
    assert_int_not_equal(fc->state, FC_CLOSED);
    fc->state = FC_CLOSED;
    fconn_release(fc);
}

static void h_timer(void *ud, uint64_t at)
{
    (void)ud;
    H.timer_at = at;
}

/* ---- the nodes' server side ---- */

static int lookup_user(void *ud, const char *user, size_t len, dv_sasl_creds *out)
{
    (void)ud;
    if (len != strlen(USER) || memcmp(user, USER, len) != 0) return 0;
    *out = H.creds;
    return 1;
}

static void reply(dv_buf *out, const dv_frame *rq, uint16_t status, uint64_t cas, const void *ext,
                  size_t elen, const void *val, size_t vlen, uint8_t datatype)
{
    dv_frame f;
    memset(&f, 0, sizeof f);
    f.magic = DV_MAGIC_RES;
    f.opcode = rq->opcode;
    f.status = status;
    f.opaque = rq->opaque;
    f.cas = cas;
    f.extras = ext;
    f.extras_len = elen;
    f.value = val;
    f.value_len = vlen;
    f.datatype = datatype;
    assert_int_equal(dv_frame_encode(out, &f), DV_MCBP_OK);
}

static void config_json(dv_buf *b, int this_node)
{
    assert_int_equal(dv_config_write_json(H.cfg, this_node, b), DV_ERR_OK);
}

static void cluster_json(dv_buf *b, int64_t rev, uint16_t port)
{
    assert_int_equal(dv_buf_printf(b,
                                   "{\"rev\":%lld,\"revEpoch\":1,\"nodesExt\":[{\"services\":"
                                   "{\"kv\":%u,\"mgmt\":8091},\"thisNode\":true}]}",
                                   (long long)rev, (unsigned)port),
                     0);
}

static item *find_item(fnode *n, uint32_t cid, const uint8_t *key, size_t klen)
{
    for (size_t i = 0; i < n->nitems; i++)
        if (n->items[i].cid == cid && strlen(n->items[i].key) == klen &&
            memcmp(n->items[i].key, key, klen) == 0)
            return &n->items[i];
    return NULL;
}

/* Range scans, as divan-server serves them: the vbucket's items in range, sorted by key. */
static fnode *sort_node;

static int by_key(const void *a, const void *b)
{
    return strcmp(sort_node->items[*(const uint16_t *)a].key,
                  sort_node->items[*(const uint16_t *)b].key);
}

static int term_cmp(const char *key, const uint8_t *t, size_t tn)
{
    size_t kn = strlen(key), n = kn < tn ? kn : tn;
    int c = memcmp(key, t, n);
    return c ? c : (kn > tn) - (kn < tn);
}

static void serve_scan_create(fnode *n, const dv_frame *rq, dv_buf *out)
{
    dv_rscan_create c;
    char why[96];
    assert_true(rq->datatype & DV_DATATYPE_JSON);
    assert_int_equal(dv_rscan_create_parse(rq->value, rq->value_len, &c, why, sizeof why), 0);
    n->scan_creates++;
    struct fscan *sc = &n->scans[rq->vbucket % NVB];
    sc->n = sc->pos = 0;
    for (size_t i = 0; i < n->nitems; i++) {
        const item *it = &n->items[i];
        if (it->cid != c.cid || dv_vbucket_of(it->key, strlen(it->key), NVB) != rq->vbucket)
            continue;
        int lo = term_cmp(it->key, c.start, c.start_len), hi = term_cmp(it->key, c.end, c.end_len);
        if (lo < 0 || (lo == 0 && c.excl_start) || hi > 0 || (hi == 0 && c.excl_end)) continue;
        sc->idx[sc->n++] = (uint16_t)i;
    }
    if (!sc->n) {
        reply(out, rq, DV_STATUS_KEY_ENOENT, 0, NULL, 0, NULL, 0, 0);
        return;
    }
    sort_node = n;
    qsort(sc->idx, sc->n, sizeof sc->idx[0], by_key);
    sc->open = 1;
    sc->keys_only = c.key_only;
    unsigned open = 0;
    for (int v = 0; v < NVB; v++) open += n->scans[v].open;
    if (open > n->scans_open_max) n->scans_open_max = open;
    uint8_t id[DV_RSCAN_ID_LEN] = {0x5c, (uint8_t)rq->vbucket};
    reply(out, rq, 0, 0, NULL, 0, id, sizeof id, 0);
}

/* One record per SUCCESS frame, then MORE or COMPLETE (with no record). 1: drop the
 * connection. */
static int serve_scan_continue(fnode *n, const dv_frame *rq, dv_buf *out)
{
    dv_rscan_continue c;
    dv_rscan_continue_decode(rq->extras, &c);
    struct fscan *sc = &n->scans[rq->vbucket % NVB];
    if (!sc->open || c.id[0] != 0x5c || c.id[1] != (uint8_t)rq->vbucket) {
        reply(out, rq, DV_STATUS_KEY_ENOENT, 0, NULL, 0, NULL, 0, 0);
        return 0;
    }
    uint8_t x[4];
    dv_store_be32(x, sc->keys_only ? 0 : 1);
    for (uint32_t sent = 0; sc->pos < sc->n && (!c.item_limit || sent < c.item_limit); sent++) {
        const item *it = &n->items[sc->idx[sc->pos++]];
        dv_buf r = DV_BUF_INIT;
        if (sc->keys_only) {
            assert_int_equal(dv_rscan_put_key(&r, it->key, strlen(it->key)), 0);
        } else {
            dv_rscan_doc d = {.flags = it->flags,
                              .cas = it->cas,
                              .datatype = 1,
                              .key = (const uint8_t *)it->key,
                              .nkey = strlen(it->key),
                              .value = (const uint8_t *)it->val,
                              .nvalue = it->vlen};
            assert_int_equal(dv_rscan_put_doc(&r, &d), 0);
        }
        reply(out, rq, 0, 0, x, sizeof x, dv_buf_head(&r), dv_buf_size(&r), 0);
        dv_buf_free(&r);
        if (n->scan_drop) {
            n->scan_drop = 0;
            sc->open = 0;
            return 1;
        }
    }
    int more = sc->pos < sc->n;
    if (!more) sc->open = 0;
    reply(out, rq, more ? DV_STATUS_RANGE_SCAN_MORE : DV_STATUS_RANGE_SCAN_COMPLETE, 0, x, sizeof x,
          NULL, 0, 0);
    return 0;
}

static int cid_known(uint32_t cid)
{
    if (cid == 0) return 1;
    for (int i = 0; i < H.ncolls; i++)
        if (H.colls[i].cid == cid) return 1;
    return 0;
}

/* Answer one request; returns 1 if the connection must be dropped instead. */
static int serve(fconn *fc, const dv_frame *rq, dv_buf *out)
{
    fnode *n = fc->node;
    switch (rq->opcode) {
    case DV_OP_HELLO: {
        dv_features impl = 0;
        const uint16_t codes[] = {DV_FEATURE_TCP_NODELAY,
                                  DV_FEATURE_XATTR,
                                  DV_FEATURE_XERROR,
                                  DV_FEATURE_SELECT_BUCKET,
                                  DV_FEATURE_JSON,
                                  DV_FEATURE_DUPLEX,
                                  DV_FEATURE_CLUSTERMAP_CHANGE_NOTIFICATION,
                                  DV_FEATURE_ALT_REQUEST_SUPPORT,
                                  DV_FEATURE_SYNC_REPLICATION,
                                  DV_FEATURE_COLLECTIONS,
                                  DV_FEATURE_PRESERVE_TTL,
                                  DV_FEATURE_VATTR,
                                  DV_FEATURE_DEDUPE_NOT_MY_VBUCKET_CLUSTERMAP};
        for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
            impl |= DV_FEATURE_BIT(codes[i]);
        assert_int_equal(dv_hello_answer(rq->value, rq->value_len, impl, &fc->feats),
                         DV_STATUS_SUCCESS);
        dv_buf v = DV_BUF_INIT;
        assert_int_equal(dv_hello_encode_set(&v, fc->feats), DV_MCBP_OK);
        reply(out, rq, 0, 0, NULL, 0, dv_buf_head(&v), dv_buf_size(&v), 0);
        dv_buf_free(&v);
        return 0;
    }
    case DV_OP_SASL_LIST_MECHS: {
        const char *m = dv_sasl_mech_list();
        reply(out, rq, 0, 0, NULL, 0, m, strlen(m), 0);
        return 0;
    }
    case DV_OP_SASL_AUTH:
    case DV_OP_SASL_STEP: {
        if (rq->opcode == DV_OP_SASL_AUTH) {
            dv_sasl_mech mech;
            assert_int_equal(dv_sasl_mech_parse((const char *)rq->key, rq->key_len, &mech), 0);
            assert_int_equal(mech, DV_SASL_SCRAM_SHA512); /* what the official core sends */
            dv_sasl_server_config sc = {.lookup = lookup_user};
            dv_sasl_server_free(fc->sasl);
            fc->sasl = dv_sasl_server_new(mech, &sc);
            assert_non_null(fc->sasl);
        }
        const uint8_t *o = NULL;
        size_t olen = 0;
        dv_sasl_result r = dv_sasl_server_step(fc->sasl, rq->value, rq->value_len, &o, &olen);
        uint16_t st = r == DV_SASL_SUCCESS    ? DV_STATUS_SUCCESS
                      : r == DV_SASL_CONTINUE ? DV_STATUS_AUTH_CONTINUE
                                              : DV_STATUS_AUTH_ERROR;
        reply(out, rq, st, 0, NULL, 0, st == DV_STATUS_AUTH_ERROR ? NULL : o,
              st == DV_STATUS_AUTH_ERROR ? 0 : olen, 0);
        return 0;
    }
    case DV_OP_GET_ERROR_MAP: {
        dv_buf v = DV_BUF_INIT;
        assert_int_equal(dv_errmap_build(&v, DV_ERRMAP_VERSION, 1), DV_ERR_OK);
        reply(out, rq, 0, 0, NULL, 0, dv_buf_head(&v), dv_buf_size(&v), DV_DATATYPE_JSON);
        dv_buf_free(&v);
        return 0;
    }
    case DV_OP_SELECT_BUCKET:
        if (rq->key_len == strlen(H.bucket) && memcmp(rq->key, H.bucket, rq->key_len) == 0) {
            snprintf(fc->bucket, sizeof fc->bucket, "%s", H.bucket);
            reply(out, rq, 0, 0, NULL, 0, NULL, 0, 0);
        } else {
            reply(out, rq, DV_STATUS_EACCESS, 0, NULL, 0, NULL, 0, 0);
        }
        return 0;
    case DV_OP_GET_CLUSTER_CONFIG: {
        if (n->no_ccc) {
            reply(out, rq, DV_STATUS_UNKNOWN_COMMAND, 0, NULL, 0, NULL, 0, 0);
            return 0;
        }
        dv_buf v = DV_BUF_INIT;
        if (!fc->bucket[0] && n->no_gcccp) {
            reply(out, rq, DV_STATUS_NO_BUCKET, 0, NULL, 0, NULL, 0, 0);
            return 0;
        }
        if (!fc->bucket[0]) /* the cluster-level config: no name, no map */
            cluster_json(&v, H.cfg->rev, n->port);
        else
            config_json(&v, n->index);
        reply(out, rq, 0, 0, NULL, 0, dv_buf_head(&v), dv_buf_size(&v), DV_DATATYPE_JSON);
        dv_buf_free(&v);
        return 0;
    }
    case DV_OP_NOOP:
        reply(out, rq, 0, 0, NULL, 0, NULL, 0, 0);
        return 0;
    case DV_OP_GET_COLLECTION_ID: {
        char path[80];
        assert_true(rq->value_len < sizeof path);
        memcpy(path, rq->value, rq->value_len);
        path[rq->value_len] = 0;
        for (int i = 0; i < H.ncolls; i++)
            if (strcmp(path, H.colls[i].name) == 0) {
                uint8_t ext[12];
                dv_store_be64(ext, H.manifest_uid);
                dv_store_be32(ext + 8, H.colls[i].cid);
                reply(out, rq, 0, 0, ext, 12, NULL, 0, 0);
                return 0;
            }
        int scope_known = strncmp(path, "app.", 4) == 0 || strncmp(path, "_default.", 9) == 0;
        reply(out, rq, scope_known ? DV_STATUS_UNKNOWN_COLLECTION : DV_STATUS_UNKNOWN_SCOPE, 0,
              NULL, 0, NULL, 0, 0);
        return 0;
    }
    case DV_OP_GET:
    case DV_OP_SET: {
        n->data_ops++;
        if (n->drop) {
            n->drop = 0;
            return 1;
        }
        uint32_t cid = 0;
        const uint8_t *key = rq->key;
        size_t klen = rq->key_len;
        assert_true(dv_features_has(fc->feats, DV_FEATURE_COLLECTIONS));
        assert_int_equal(dv_key_split(rq->key, rq->key_len, &cid, &key, &klen), DV_MCBP_OK);
        /* The client hashed the user key, never the prefix (§6.1). */
        assert_int_equal(rq->vbucket, dv_vbucket_of(key, klen, H.cfg->vbmap.nvb));
        if (dv_vbmap_get(&H.cfg->vbmap, rq->vbucket, 0) != n->index) {
            n->nmvb_sent++;
            dv_buf v = DV_BUF_INIT;
            config_json(&v, n->index);
            reply(out, rq, DV_STATUS_NOT_MY_VBUCKET, 0, NULL, 0, dv_buf_head(&v), dv_buf_size(&v),
                  DV_DATATYPE_JSON);
            dv_buf_free(&v);
            return 0;
        }
        if (!cid_known(cid)) {
            reply(out, rq, DV_STATUS_UNKNOWN_COLLECTION, 0, NULL, 0, NULL, 0, 0);
            return 0;
        }
        if (n->etmpfail) {
            n->etmpfail--;
            reply(out, rq, DV_STATUS_ETMPFAIL, 0, NULL, 0, NULL, 0, 0);
            return 0;
        }
        item *it = find_item(n, cid, key, klen);
        if (rq->opcode == DV_OP_GET) {
            if (!it) {
                reply(out, rq, DV_STATUS_KEY_ENOENT, 0, NULL, 0, NULL, 0, 0);
                return 0;
            }
            uint8_t ext[4];
            dv_store_be32(ext, it->flags);
            reply(out, rq, 0, it->cas, ext, 4, it->val, it->vlen, 0);
            return 0;
        }
        if (n->locked) {
            reply(out, rq, DV_STATUS_LOCKED, 0, NULL, 0, NULL, 0, 0);
            return 0;
        }
        if (!it) {
            assert_true(n->nitems < 512);
            it = &n->items[n->nitems++];
            memset(it, 0, sizeof *it);
            it->cid = cid;
            assert_true(klen < sizeof it->key);
            memcpy(it->key, key, klen);
        }
        assert_true(rq->value_len <= sizeof it->val);
        memcpy(it->val, rq->value, rq->value_len);
        it->vlen = rq->value_len;
        it->flags = rq->extras_len >= 4 ? dv_load_be32(rq->extras) : 0;
        it->cas = (uint64_t)n->data_ops << 16 | 0x42;
        uint8_t token[16]; /* vbucket uuid, seqno */
        dv_store_be64(token, 0xabc);
        dv_store_be64(token + 8, ++H.high_seqno);
        reply(out, rq, 0, it->cas, token, sizeof token, NULL, 0, 0);
        return 0;
    }
    case DV_OP_OBSERVE_SEQNO: {
        uint64_t uuid = 0;
        assert_int_equal(rq->key_len, 0);
        assert_int_equal(dv_value_u64_decode(rq->value, rq->value_len, &uuid), DV_MCBP_OK);
        assert_int_equal(uuid, 0xabc);
        n->observes++;
        uint64_t seen = n->observe_lag ? 0 : H.high_seqno;
        if (n->observe_lag) n->observe_lag--;
        dv_observe_seqno o = {.vbucket = rq->vbucket,
                              .vbucket_uuid = uuid,
                              .last_persisted_seqno = n->never_persist ? 0 : seen,
                              .current_seqno = seen};
        dv_buf v = DV_BUF_INIT;
        assert_int_equal(dv_observe_seqno_encode(&v, &o), DV_MCBP_OK);
        reply(out, rq, 0, 0, NULL, 0, dv_buf_head(&v), dv_buf_size(&v), 0);
        dv_buf_free(&v);
        return 0;
    }
    case DV_OP_RANGE_SCAN_CREATE:
        assert_int_equal(rq->key_len, 0);
        serve_scan_create(n, rq, out);
        return 0;
    case DV_OP_RANGE_SCAN_CONTINUE:
        return serve_scan_continue(n, rq, out);
    case DV_OP_RANGE_SCAN_CANCEL:
        n->scan_cancels++;
        assert_int_equal(rq->extras_len, DV_RSCAN_ID_LEN);
        n->scans[rq->extras[1] % NVB].open = 0;
        reply(out, rq, 0, 0, NULL, 0, NULL, 0, 0);
        return 0;
    default:
        reply(out, rq, DV_STATUS_UNKNOWN_COMMAND, 0, NULL, 0, NULL, 0, 0);
        return 0;
    }
}

/* The node reads everything the client wrote and answers in one write (delivered in two
 * pieces, so that the engine reassembles frames). */
static void serve_conn(fconn *fc)
{
    if (fc->node->mute) {
        dv_buf_reset(&fc->in);
        return;
    }
    dv_buf out = DV_BUF_INIT;
    int drop = 0;
    dv_frame f;
    size_t used;
    while (!drop && dv_frame_decode(dv_buf_head(&fc->in), dv_buf_size(&fc->in),
                                    DV_FRAME_DEFAULT_MAX_BODY, &f, &used) == DV_MCBP_OK) {
        drop = serve(fc, &f, &out);
        dv_buf_consume(&fc->in, used);
    }
    uint32_t id = fc->id;
    size_t n = dv_buf_size(&out), half = n / 2;
    if (half) dv_engine_data(H.e, id, dv_buf_head(&out), half);
    fc = fconn_by_id(id);
    if (n > half && fc->state == FC_OPEN)
        dv_engine_data(H.e, id, dv_buf_head(&out) + half, n - half);
    dv_buf_free(&out);
    fc = fconn_by_id(id);
    if (drop && fc->state == FC_OPEN) {
        fc->state = FC_CLOSED;
        fconn_release(fc);
        dv_engine_closed(H.e, id, DV_ERR_OK);
    }
}

/* The management port: one GET /pools/default/b/<bucket> answered with the node's status and
 * the config (Content-Length, chunked or close-delimited), delivered 7 bytes at a time. */
static void serve_http(fconn *fc)
{
    const char *in = (const char *)dv_buf_head(&fc->in);
    size_t len = dv_buf_size(&fc->in);
    char req[1024];
    assert_true(len < sizeof req);
    memcpy(req, in, len);
    req[len] = 0;
    if (!strstr(req, "\r\n\r\n")) return; /* not all of it yet */
    dv_buf_reset(&fc->in);
    fnode *n = fc->node;
    if (n->mute_http) return;
    n->http_requests++;
    char want[128];
    snprintf(want, sizeof want, "GET /pools/default/b/%s HTTP/1.1\r\n", H.bucket);
    assert_true(strncmp(req, want, strlen(want)) == 0);
    snprintf(want, sizeof want, "\r\nHost: %s:%u\r\n", n->host, (unsigned)n->mgmt_port);
    assert_non_null(strstr(req, want));
    /* The bootstrap asks to close, the service requests to keep the connection alive. */
    assert_true(strstr(req, "\r\nConnection: close\r\n") ||
                strstr(req, "\r\nConnection: keep-alive\r\n"));
    /* base64("Administrator:password") */
    int authed =
        strstr(req, "\r\nAuthorization: Basic QWRtaW5pc3RyYXRvcjpwYXNzd29yZA==\r\n") != NULL;
    int status = authed ? n->http : 401;
    dv_buf body = DV_BUF_INIT, out = DV_BUF_INIT;
    if (status == 200)
        config_json(&body, n->index);
    else
        assert_int_equal(dv_buf_printf(&body, "{\"error\":%d}", status), 0);
    assert_int_equal(
        dv_buf_printf(&out, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n", status), 0);
    size_t blen = dv_buf_size(&body);
    if (n->http_mode == HB_CHUNKED) {
        assert_int_equal(dv_buf_printf(&out, "Transfer-Encoding: chunked\r\n\r\n"), 0);
        for (size_t off = 0; off < blen; off += 100) {
            size_t k = blen - off < 100 ? blen - off : 100;
            assert_int_equal(dv_buf_printf(&out, "%zx;ext=1\r\n", k), 0);
            assert_int_equal(dv_buf_append(&out, dv_buf_head(&body) + off, k), 0);
            assert_int_equal(dv_buf_printf(&out, "\r\n"), 0);
        }
        assert_int_equal(dv_buf_printf(&out, "0\r\nX-Trailer: 1\r\n\r\n"), 0);
    } else {
        if (n->http_mode == HB_LENGTH)
            assert_int_equal(dv_buf_printf(&out, "Content-Length: %zu\r\n", blen), 0);
        assert_int_equal(dv_buf_printf(&out, n->keep ? "\r\n" : "Connection: close\r\n\r\n"), 0);
        assert_int_equal(dv_buf_append(&out, dv_buf_head(&body), blen), 0);
    }
    uint32_t id = fc->id;
    for (size_t off = 0; off < dv_buf_size(&out) && fc->state == FC_OPEN; off += 7) {
        size_t k = dv_buf_size(&out) - off < 7 ? dv_buf_size(&out) - off : 7;
        dv_engine_data(H.e, id, dv_buf_head(&out) + off, k);
    }
    if (fc->state == FC_OPEN && !n->keep) { /* the server closes after the response */
        fc->state = FC_CLOSED;
        fconn_release(fc);
        dv_engine_closed(H.e, id, DV_ERR_OK);
    }
    dv_buf_free(&body);
    dv_buf_free(&out);
}

/* Run the network until nothing moves: flush, connects, requests, answers. Time stands still. */
static void pump(void)
{
    for (int guard = 0; guard < 10000; guard++) {
        dv_engine_flush(H.e);
        int progress = 0;
        for (size_t i = 0; i < H.nconns; i++) {
            fconn *fc = &H.conns[i];
            if (fc->state == FC_PENDING) {
                progress = 1;
                if (!fc->node || fc->node->refuse) {
                    fc->state = FC_CLOSED;
                    dv_engine_closed(H.e, fc->id, DV_ERR_NO_ENDPOINTS_LEFT);
                } else if (fc->node->hang) {
                    fc->state = FC_HUNG;
                } else {
                    fc->state = FC_OPEN;
                    dv_engine_connected(H.e, fc->id);
                }
            } else if (fc->state == FC_OPEN && dv_buf_size(&fc->in)) {
                progress = 1;
                if (fc->http)
                    serve_http(fc);
                else
                    serve_conn(fc);
            }
        }
        if (!progress) return;
    }
    fail_msg("the network never settled");
}

/* Let time pass up to t (ns), firing the engine's timer exactly when it asked. */
static void advance_to(uint64_t t)
{
    for (int guard = 0; guard < 100000; guard++) {
        pump();
        if (!H.timer_at || H.timer_at > t) {
            H.now = t;
            pump();
            return;
        }
        if (H.timer_at > H.now) H.now = H.timer_at;
        H.timer_at = 0;
        dv_engine_timer(H.e);
    }
    fail_msg("the timer never settled");
}

/* ---- building clusters ---- */

static void make_config(int nnodes, int64_t rev, int rotate)
{
    dv_config_free(H.cfg);
    dv_config *cfg = dv_config_new();
    assert_non_null(cfg);
    cfg->has_rev = cfg->has_rev_epoch = 1;
    cfg->rev = rev;
    cfg->rev_epoch = 1;
    assert_int_equal(dv_config_set_string(&cfg->name, H.bucket), DV_ERR_OK);
    cfg->locator = DV_LOCATOR_VBUCKET;
    cfg->has_manifest_uid = 1;
    cfg->manifest_uid = H.manifest_uid;
    for (int i = 0; i < nnodes; i++) {
        dv_config_node *n = dv_config_add_node(cfg);
        assert_non_null(n);
        /* One node: no hostname, as divan-server sends (the client uses its bootstrap host). */
        if (nnodes > 1 || H.named)
            assert_int_equal(dv_config_set_string(&n->hostname, H.nodes[i].host), 0);
        n->ports[DV_SVC_KV] = H.nodes[i].port;
        n->ports[DV_SVC_MGMT] = 8091;
    }
    assert_int_equal(dv_vbmap_spread(&cfg->vbmap, NVB, (uint32_t)nnodes, H.replicas), DV_ERR_OK);
    cfg->num_replicas = H.replicas;
    if (rotate) /* every vbucket moves to the next node */
        for (uint32_t vb = 0; vb < NVB; vb++)
            dv_vbmap_set(&cfg->vbmap, vb, 0, (int16_t)((vb + 1) % (uint32_t)nnodes));
    H.cfg = cfg;
    for (int i = 0; i < 4; i++) H.nodes[i].index = i < nnodes ? i : -1;
}

typedef struct rec {
    int calls;
    dv_error err;
    uint64_t at;
    char value[128];
    size_t vlen;
    unsigned retries;
    char reasons[256];
    char node[64];
    uint16_t status;
    uint8_t opcode;
    uint64_t cas;
    char message[512];
    int http_status;
} rec;

static void on_res(void *ud, const dv_res *res)
{
    rec *r = ud;
    r->calls++;
    r->err = res->err;
    r->at = H.now;
    assert_non_null(res->ctx);
    r->vlen = res->value_len < sizeof r->value ? res->value_len : sizeof r->value - 1;
    if (res->value) memcpy(r->value, res->value, r->vlen);
    r->value[r->vlen] = 0;
    r->retries = res->ctx->retries;
    snprintf(r->reasons, sizeof r->reasons, "%s", res->ctx->retry_reasons);
    snprintf(r->node, sizeof r->node, "%s", res->ctx->node);
    r->status = res->ctx->status;
    r->opcode = res->ctx->opcode;
    r->cas = res->cas;
    r->http_status = res->http_status;
    snprintf(r->message, sizeof r->message, "%s", res->ctx->message ? res->ctx->message : "");
}

static dv_engine *new_engine(const char *connstr, const char *password)
{
    dv_client_opts o = {.connstr = connstr, .username = USER, .password = password};
    dv_engine_hooks hk = {
        .now = h_now, .connect = h_connect, .write = h_write, .close = h_close, .timer = h_timer};
    char err[128];
    dv_error rc = DV_ERR_INTERNAL_SDK;
    dv_engine *e = dv_engine_new(&o, &hk, &rc, err, sizeof err);
    assert_non_null(e);
    assert_int_equal(rc, DV_ERR_OK);
    return e;
}

static void setup_cluster(int nnodes, const char *connstr, const char *password)
{
    memset(&H, 0, sizeof H);
    H.now = 1000 * MS; /* the fake clock does not start at 0 */
    H.bucket = "default";
    H.manifest_uid = 8;
    const uint8_t salt[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    assert_int_equal(dv_sasl_creds_derive(&H.creds, "password", 8, salt, sizeof salt, 4096), 0);
    H.nnodes = 4;
    for (int i = 0; i < 4; i++) {
        snprintf(H.nodes[i].host, sizeof H.nodes[i].host, "node%d.test", i + 1);
        H.nodes[i].port = 11210;
        H.nodes[i].mgmt_port = 8091;
    }
    snprintf(H.colls[0].name, sizeof H.colls[0].name, "app.users");
    H.colls[0].cid = 8;
    H.ncolls = 1;
    make_config(nnodes, 1, 0);
    H.e = new_engine(connstr, password);
}

static void teardown_cluster(void)
{
    dv_engine_free(H.e);
    H.e = NULL;
    for (size_t i = 0; i < H.nconns; i++) fconn_release(&H.conns[i]);
    dv_config_free(H.cfg);
    H.cfg = NULL;
}

static void open_ok(void)
{
    rec r = {0};
    assert_int_equal(dv_engine_open_bucket(H.e, H.bucket, on_res, &r), DV_ERR_OK);
    pump();
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, DV_ERR_OK);
}

static dv_req kv(dv_op_kind kind, const char *key, const char *value)
{
    dv_req q;
    memset(&q, 0, sizeof q);
    q.kind = kind;
    q.bucket = H.bucket;
    q.key = key;
    q.key_len = strlen(key);
    if (value) {
        q.value = value;
        q.value_len = strlen(value);
        q.flags = DV_FLAGS_JSON;
    }
    return q;
}

static uint64_t submit(dv_req q, rec *r)
{
    uint64_t id = 0;
    assert_int_equal(dv_engine_submit(H.e, &q, on_res, r, &id), DV_ERR_OK);
    assert_true(id != 0);
    return id;
}

static size_t open_conns_to(const fnode *n)
{
    size_t k = 0;
    for (size_t i = 0; i < H.nconns; i++)
        if (H.conns[i].node == n && H.conns[i].state == FC_OPEN) k++;
    return k;
}

static fconn *open_conn_to(const fnode *n)
{
    for (size_t i = 0; i < H.nconns; i++)
        if (H.conns[i].node == n && H.conns[i].state == FC_OPEN) return &H.conns[i];
    return NULL;
}

/* A key whose vbucket's active node is `node` in the server's config. */
static void key_on(int node, int nth, char *out, size_t len)
{
    for (int i = 0, found = 0; i < 10000; i++) {
        snprintf(out, len, "key-%d", i);
        if (dv_config_route(H.cfg, out, strlen(out), 0, NULL) == node && found++ == nth) return;
    }
    fail_msg("no key found");
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void bad_tls_options(void **state)
{
    (void)state;
    dv_client_opts o = {.connstr = "couchbases://node1.test",
                        .username = USER,
                        .trust_store_path = "/nonexistent/ca.pem"};
    dv_engine_hooks hk = {
        .now = h_now, .connect = h_connect, .write = h_write, .close = h_close, .timer = h_timer};
    char err[512] = "";
    dv_error rc = DV_ERR_OK;
    assert_null(dv_engine_new(&o, &hk, &rc, err, sizeof err));
    assert_int_equal(rc, DV_ERR_INVALID_ARGUMENT);
    if (!strstr(err, "trust store /nonexistent/ca.pem")) fail_msg("message: %s", err);
    o = (dv_client_opts){
        .connstr = "couchbase://node1.test", .cert_path = "c.pem", .key_path = "k.pem"};
    assert_null(dv_engine_new(&o, &hk, &rc, err, sizeof err));
    assert_int_equal(rc, DV_ERR_INVALID_ARGUMENT);
    assert_string_equal(err, "a client certificate needs TLS (couchbases://)");
    o.connstr = "couchbases://node1.test";
    o.key_path = NULL;
    assert_null(dv_engine_new(&o, &hk, &rc, err, sizeof err));
    assert_int_equal(rc, DV_ERR_INVALID_ARGUMENT);
    o = (dv_client_opts){.connstr = "couchbases://node1.test", .username = USER};
    dv_engine *e = dv_engine_new(&o, &hk, &rc, err, sizeof err);
    assert_non_null(e); /* TLS with the system's CAs */
    dv_engine_free(e);
    o.connstr = "couchbase://[bad";
    assert_null(dv_engine_new(&o, &hk, &rc, err, sizeof err));
    assert_int_equal(rc, DV_ERR_INVALID_ARGUMENT);
}

/* The official core's Capella test: cloud.couchbase.com or a name under it, any case, one
 * trailing dot. */
static void capella_hosts(void **state)
{
    (void)state;
    assert_true(eng_is_capella_host("cb.abc123.cloud.couchbase.com"));
    assert_true(eng_is_capella_host("CB.ABC.Cloud.Couchbase.COM."));
    assert_true(eng_is_capella_host("cloud.couchbase.com"));
    assert_false(eng_is_capella_host("notcloud.couchbase.com"));
    assert_false(eng_is_capella_host("cloud.couchbase.com.evil.example"));
    assert_false(eng_is_capella_host("cloud.couchbase.com.."));
    assert_false(eng_is_capella_host("couchbase.com"));
    assert_false(eng_is_capella_host("127.0.0.1"));
}

static void happy_bootstrap_get_set(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    /* Operations submitted before the bucket has a config wait for it. */
    rec early = {0}, opened = {0};
    submit(kv(DV_KV_UPSERT, "early", "{\"a\":1}"), &early);
    assert_int_equal(dv_engine_open_bucket(H.e, H.bucket, on_res, &opened), DV_ERR_OK);
    assert_int_equal(H.connects, 1); /* one bootstrap connection, to the first host */
    pump();
    assert_int_equal(opened.calls, 1);
    assert_int_equal(opened.err, DV_ERR_OK);
    assert_int_equal(early.calls, 1);
    assert_int_equal(early.err, DV_ERR_OK);
    assert_int_equal(H.connects, 1); /* the bootstrap connection serves the only node */

    /* The handshake pipelines: HELLO, LIST_MECHS, AUTH in one write; STEP; then ERROR_MAP,
     * SELECT_BUCKET, GET_CLUSTER_CONFIG in one write. */
    fconn *fc = &H.conns[0];
    const uint8_t want[] = {
        DV_OP_HELLO,         DV_OP_SASL_LIST_MECHS, DV_OP_SASL_AUTH,          DV_OP_SASL_STEP,
        DV_OP_GET_ERROR_MAP, DV_OP_SELECT_BUCKET,   DV_OP_GET_CLUSTER_CONFIG, DV_OP_SET};
    const unsigned in_write[] = {1, 1, 1, 2, 3, 3, 3, 4};
    assert_int_equal(fc->nops, 8);
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(fc->ops[i], want[i]);
        assert_int_equal(fc->write_of[i], in_write[i]);
    }
    assert_true(dv_features_has(fc->feats, DV_FEATURE_COLLECTIONS));
    assert_true(dv_features_has(fc->feats, DV_FEATURE_XERROR));

    rec set = {0}, get = {0}, miss = {0};
    submit(kv(DV_KV_UPSERT, "k1", "{\"v\":\"one\"}"), &set);
    submit(kv(DV_KV_GET, "k1", NULL), &get);
    submit(kv(DV_KV_GET, "nope", NULL), &miss);
    assert_int_equal(dv_engine_pending(H.e), 3);
    unsigned writes = fc->writes;
    pump();
    assert_int_equal(fc->writes, writes + 1); /* three operations, one write */
    assert_int_equal(set.err, DV_ERR_OK);
    assert_true(set.cas != 0);
    assert_int_equal(get.err, DV_ERR_OK);
    assert_string_equal(get.value, "{\"v\":\"one\"}");
    assert_int_equal(get.at, 1000 * MS);
    assert_string_equal(get.node, "node1.test:11210");
    assert_int_equal(miss.err, DV_ERR_DOCUMENT_NOT_FOUND);
    assert_int_equal(miss.status, DV_STATUS_KEY_ENOENT);
    assert_int_equal(miss.opcode, DV_OP_GET);
    assert_int_equal(dv_engine_pending(H.e), 0);

    /* A replica the map does not place (no replicas configured) fails at once. */
    rec rep = {0};
    dv_req rq = kv(DV_KV_GET_REPLICA, "k1", NULL);
    rq.replica_index = 1;
    submit(rq, &rep);
    assert_int_equal(rep.calls, 1);
    assert_int_equal(rep.err, DV_ERR_DOCUMENT_IRRETRIEVABLE);

    /* Opening it again answers at once. */
    rec again = {0};
    assert_int_equal(dv_engine_open_bucket(H.e, H.bucket, on_res, &again), DV_ERR_OK);
    assert_int_equal(again.calls, 1);
    assert_int_equal(again.err, DV_ERR_OK);
    teardown_cluster();
}

static void bootstrap_next_host(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node4.test,node1.test", "password");
    H.nodes[3].refuse = 1;
    open_ok();
    assert_int_equal(H.connects, 2);
    rec get = {0};
    submit(kv(DV_KV_GET, "k", NULL), &get);
    pump();
    assert_int_equal(get.err, DV_ERR_DOCUMENT_NOT_FOUND);
    teardown_cluster();
}

/* A first seed that accepts the connection and never answers costs a share of the bootstrap
 * timeout, not all of it: the second seed is tried well within the timeout. */
static void silent_first_seed(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node4.test,node1.test", "password");
    H.nodes[3].mute = 1; /* connects, swallows the handshake */
    rec opened = {0};
    assert_int_equal(dv_engine_open_bucket(H.e, H.bucket, on_res, &opened), DV_ERR_OK);
    advance_to(30000 * MS);
    assert_int_equal(opened.calls, 1);
    assert_int_equal(opened.err, DV_ERR_OK);
    /* Started at 1000 ms with a 10 s timeout and two seeds: a third of it on the silent one. */
    assert_true(opened.at <= 1000 * MS + 10000 * MS / 2);
    assert_true(opened.at >= 1000 * MS + 3000 * MS);
    rec get = {0};
    submit(kv(DV_KV_GET, "k", NULL), &get);
    pump();
    assert_int_equal(get.err, DV_ERR_DOCUMENT_NOT_FOUND);
    teardown_cluster();
}

/* A silent seed is tried again in the next round, and gets through once it answers. */
static void silent_seed_retried(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test,node4.test", "password");
    H.nodes[0].mute = 1;
    H.nodes[3].refuse = 1;
    rec opened = {0};
    assert_int_equal(dv_engine_open_bucket(H.e, H.bucket, on_res, &opened), DV_ERR_OK);
    pump();
    unsigned first = H.connects;
    advance_to(1000 * MS + 3400 * MS); /* node1's share is over; node4 refused */
    assert_int_equal(opened.calls, 0);
    assert_true(H.connects >= first + 1);
    H.nodes[0].mute = 0; /* node1 recovers: the next round reaches it */
    advance_to(30000 * MS);
    assert_int_equal(opened.calls, 1);
    assert_int_equal(opened.err, DV_ERR_OK);
    assert_true(opened.at < 11000 * MS);
    teardown_cluster();
}

/* One seed that accepts and stays silent is dropped after its share and tried again on a fresh
 * connection, within the timeout. */
static void single_silent_seed_retried(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    H.nodes[0].mute = 1;
    rec opened = {0};
    assert_int_equal(dv_engine_open_bucket(H.e, H.bucket, on_res, &opened), DV_ERR_OK);
    pump();
    unsigned first = H.connects;
    advance_to(1000 * MS + 4000 * MS);
    assert_int_equal(opened.calls, 0);
    H.nodes[0].mute = 0; /* its first connection stays silent; a new one is answered */
    advance_to(30000 * MS);
    assert_int_equal(opened.calls, 1);
    assert_int_equal(opened.err, DV_ERR_OK);
    assert_true(opened.at <= 1000 * MS + 10000 * MS / 2 + BOOT_RETRY_SLACK_MS * MS);
    assert_true(H.connects > first);
    teardown_cluster();
}

/* When no seed gives a config, the error says which were tried and what each came to. */
static void all_seeds_fail_report(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node4.test,node1.test", "password");
    H.nodes[3].mute = 1;
    H.nodes[0].refuse = 1;
    rec opened = {0}, get = {0};
    assert_int_equal(dv_engine_open_bucket(H.e, H.bucket, on_res, &opened), DV_ERR_OK);
    submit(kv(DV_KV_GET, "k", NULL), &get);
    advance_to(30000 * MS);
    assert_int_equal(opened.err, DV_ERR_UNAMBIGUOUS_TIMEOUT);
    assert_int_equal(opened.at, 11000 * MS);
    if (!strstr(opened.message, "node4.test:11210 over KV: connected, but no answer to the "
                                "handshake within 3333 ms") ||
        !strstr(opened.message, "node1.test:11210 over KV: no endpoints left") ||
        !strstr(opened.message, "attempts"))
        fail_msg("report: %s", opened.message);
    /* The operation that timed out waiting for the bucket says where the bootstrap stands. */
    assert_int_equal(get.err, DV_ERR_UNAMBIGUOUS_TIMEOUT);
    if (!strstr(get.message,
                "bootstrap tried node4.test:11210 over KV: connected, waiting for an answer"))
        fail_msg("op: %s", get.message);
    teardown_cluster();
}

static void three_nodes_route(void **state)
{
    (void)state;
    setup_cluster(3, "couchbase://node2.test", "password");
    open_ok();
    for (int i = 0; i < 3; i++) assert_int_equal(open_conns_to(&H.nodes[i]), 1);
    rec r[30];
    memset(r, 0, sizeof r);
    char keys[30][16];
    for (int i = 0; i < 30; i++) {
        snprintf(keys[i], sizeof keys[i], "user::%d", i);
        submit(kv(DV_KV_UPSERT, keys[i], "1"), &r[i]);
    }
    pump();
    for (int i = 0; i < 30; i++) {
        assert_int_equal(r[i].err, DV_ERR_OK);
        int node = dv_config_route(H.cfg, keys[i], strlen(keys[i]), 0, NULL);
        char want[64];
        snprintf(want, sizeof want, "node%d.test:11210", node + 1);
        assert_string_equal(r[i].node, want);
        assert_non_null(find_item(&H.nodes[node], 0, (const uint8_t *)keys[i], strlen(keys[i])));
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(H.nodes[i].nmvb_sent, 0);
        assert_true(H.nodes[i].data_ops > 0);
    }
    /* One node stops answering: only its keys time out, at their deadline. */
    H.nodes[2].mute = 1;
    rec on2 = {0}, on0 = {0}, on1 = {0};
    char k2[16], k0[16], k1[16];
    key_on(2, 0, k2, sizeof k2);
    key_on(0, 0, k0, sizeof k0);
    key_on(1, 0, k1, sizeof k1);
    submit(kv(DV_KV_GET, k2, NULL), &on2);
    submit(kv(DV_KV_GET, k0, NULL), &on0);
    submit(kv(DV_KV_UPSERT, k1, "2"), &on1);
    pump();
    assert_int_equal(on0.calls + on1.calls, 2);
    assert_int_equal(on1.err, DV_ERR_OK);
    assert_int_equal(on2.calls, 0);
    advance_to(5000 * MS);
    assert_int_equal(on2.err, DV_ERR_UNAMBIGUOUS_TIMEOUT);
    assert_int_equal(on2.at, 3500 * MS);
    assert_string_equal(on2.node, "node3.test:11210");
    teardown_cluster();
}

static void wrong_password(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "not-the-password");
    rec opened = {0}, get = {0};
    assert_int_equal(dv_engine_open_bucket(H.e, H.bucket, on_res, &opened), DV_ERR_OK);
    submit(kv(DV_KV_GET, "k", NULL), &get);
    pump();
    assert_int_equal(opened.calls, 1);
    assert_int_equal(opened.err, DV_ERR_AUTHENTICATION_FAILURE);
    assert_int_equal(get.calls, 1);
    assert_int_equal(get.err, DV_ERR_AUTHENTICATION_FAILURE);
    assert_int_equal(get.at, 1000 * MS);
    assert_int_equal(dv_engine_pending(H.e), 0);
    teardown_cluster();
}

/* New credentials serve the connections opened afterwards: the right password set after a
 * wrong one opens the bucket; the wrong one set again fails the next open. */
static void set_credentials(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "not-the-password");
    assert_int_equal(dv_engine_set_credentials(H.e, "", "x"), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_engine_set_credentials(H.e, USER, "password"), DV_ERR_OK);
    open_ok();
    rec set = {0};
    assert_int_equal(dv_engine_set_credentials(H.e, USER, "wrong"), DV_ERR_OK);
    submit(kv(DV_KV_UPSERT, "k", "1"), &set); /* the open connection keeps its credentials */
    pump();
    assert_int_equal(set.err, DV_ERR_OK);
    teardown_cluster();
}

/* Closing a bucket fails what is pending on it, closes its connections and forgets it; the next
 * operation opens it again. */
static void close_bucket(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    H.nodes[0].mute = 1;
    rec pending = {0};
    submit(kv(DV_KV_GET, "k", NULL), &pending);
    unsigned connects = H.connects;
    assert_int_equal(dv_engine_close_bucket(H.e, H.bucket), DV_ERR_OK);
    assert_int_equal(pending.calls, 1);
    assert_int_equal(pending.err, DV_ERR_REQUEST_CANCELED);
    assert_int_equal(dv_engine_close_bucket(H.e, H.bucket), DV_ERR_OK); /* twice: nothing */
    advance_to(H.now + 1000 * MS);
    assert_int_equal(H.connects, connects); /* no reconnect */
    H.nodes[0].mute = 0;
    rec set = {0};
    submit(kv(DV_KV_UPSERT, "k", "1"), &set);
    pump();
    assert_int_equal(set.err, DV_ERR_OK);
    assert_true(H.connects > connects);
    teardown_cluster();
}

static void unknown_bucket(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    rec opened = {0}, get = {0};
    dv_req q = kv(DV_KV_GET, "k", NULL);
    q.bucket = "nosuch";
    assert_int_equal(dv_engine_open_bucket(H.e, "nosuch", on_res, &opened), DV_ERR_OK);
    submit(q, &get);
    pump();
    assert_int_equal(opened.err, DV_ERR_BUCKET_NOT_FOUND);
    assert_int_equal(get.calls, 1);
    assert_int_equal(get.err, DV_ERR_BUCKET_NOT_FOUND);
    teardown_cluster();
}

/* The official core on a closed socket: reads are retried (socket_closed_while_in_flight) and
 * succeed after the reconnect; writes fail at once with REQUEST_CANCELED, since whether they were
 * applied is unknown. */
static void dropped_connection(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    rec set0 = {0};
    submit(kv(DV_KV_UPSERT, "k", "\"v\""), &set0);
    pump();
    assert_int_equal(set0.err, DV_ERR_OK);

    H.nodes[0].drop = 1;
    rec get = {0}, set = {0};
    submit(kv(DV_KV_GET, "k", NULL), &get);
    submit(kv(DV_KV_UPSERT, "k2", "\"w\""), &set);
    unsigned connects = H.connects;
    pump();
    assert_int_equal(set.calls, 1);
    assert_int_equal(set.err, DV_ERR_REQUEST_CANCELED);
    assert_int_equal(set.at, 1000 * MS);
    assert_int_equal(get.calls, 0);
    assert_int_equal(H.connects, connects + 1); /* reconnected at once */
    assert_int_equal(open_conns_to(&H.nodes[0]), 1);
    advance_to(1001 * MS); /* the first backoff: 1 ms */
    assert_int_equal(get.calls, 1);
    assert_int_equal(get.err, DV_ERR_OK);
    assert_string_equal(get.value, "\"v\"");
    assert_int_equal(get.at, 1001 * MS);
    assert_int_equal(get.retries, 1);
    assert_string_equal(get.reasons, "socket_closed_while_in_flight");
    teardown_cluster();
}

static void not_my_vbucket(void **state)
{
    (void)state;
    setup_cluster(2, "couchbase://node1.test", "password");
    open_ok();
    char key[16];
    key_on(0, 0, key, sizeof key);
    /* The cluster moves every vbucket without telling the client: the old owner answers
     * NOT_MY_VBUCKET with the new config, which the client applies before resending. */
    make_config(2, 2, 1);
    rec get = {0};
    submit(kv(DV_KV_GET, key, NULL), &get);
    pump();
    assert_int_equal(H.nodes[0].nmvb_sent, 1);
    assert_int_equal(get.calls, 0);
    advance_to(1001 * MS);
    assert_int_equal(get.calls, 1);
    assert_int_equal(get.err, DV_ERR_DOCUMENT_NOT_FOUND);
    assert_string_equal(get.node, "node2.test:11210");
    assert_int_equal(get.retries, 1);
    assert_string_equal(get.reasons, "key_value_not_my_vbucket");
    assert_int_equal(H.nodes[1].nmvb_sent, 0);
    /* Later operations go straight to the new owner. */
    rec set = {0};
    submit(kv(DV_KV_UPSERT, key, "1"), &set);
    pump();
    assert_int_equal(set.err, DV_ERR_OK);
    assert_int_equal(set.retries, 0);
    assert_int_equal(H.nodes[0].nmvb_sent, 1);
    teardown_cluster();
}

static void push_config(int from_node, int must)
{
    dv_buf v = DV_BUF_INIT, pkt = DV_BUF_INIT;
    config_json(&v, from_node);
    uint8_t ext[16];
    dv_store_be64(ext, (uint64_t)H.cfg->rev_epoch);
    dv_store_be64(ext + 8, (uint64_t)H.cfg->rev);
    dv_frame f;
    memset(&f, 0, sizeof f);
    f.magic = DV_MAGIC_SERVER_REQ;
    f.opcode = DV_SERVER_OP_CLUSTERMAP_CHANGE;
    f.opaque = 77;
    f.key = (const uint8_t *)H.bucket;
    f.key_len = strlen(H.bucket);
    f.extras = ext;
    f.extras_len = 16;
    f.value = dv_buf_head(&v);
    f.value_len = dv_buf_size(&v);
    f.datatype = DV_DATATYPE_JSON;
    assert_int_equal(dv_frame_encode(&pkt, &f), DV_MCBP_OK);
    fconn *fc = NULL;
    for (size_t i = 0; i < H.nconns && !fc; i++)
        if (H.conns[i].node == &H.nodes[from_node] && H.conns[i].state == FC_OPEN &&
            H.conns[i].bucket[0] &&
            dv_features_has(H.conns[i].feats, DV_FEATURE_CLUSTERMAP_CHANGE_NOTIFICATION))
            fc = &H.conns[i];
    assert_true(fc || !must);
    if (fc) dv_engine_data(H.e, fc->id, dv_buf_head(&pkt), dv_buf_size(&pkt));
    dv_buf_free(&v);
    dv_buf_free(&pkt);
}

static void config_push_adds_node(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    assert_int_equal(open_conns_to(&H.nodes[1]), 0);
    make_config(2, 2, 0);
    /* A push for another bucket is ignored. */
    const char *real = H.bucket;
    H.bucket = "other";
    assert_int_equal(dv_config_set_string(&H.cfg->name, "other"), 0);
    push_config(0, 1);
    pump();
    assert_int_equal(open_conns_to(&H.nodes[1]), 0);
    H.bucket = real;
    assert_int_equal(dv_config_set_string(&H.cfg->name, real), 0);
    push_config(0, 1);
    pump();
    assert_int_equal(open_conns_to(&H.nodes[0]), 1);
    assert_int_equal(open_conns_to(&H.nodes[1]), 1);
    char key[16];
    key_on(1, 0, key, sizeof key);
    rec set = {0};
    submit(kv(DV_KV_UPSERT, key, "1"), &set);
    pump();
    assert_int_equal(set.err, DV_ERR_OK);
    assert_string_equal(set.node, "node2.test:11210");
    assert_int_equal(H.nodes[0].nmvb_sent + H.nodes[1].nmvb_sent, 0);
    /* An older config (the same push again) changes nothing. */
    push_config(0, 1);
    pump();
    assert_int_equal(open_conns_to(&H.nodes[1]), 1);
    teardown_cluster();
}

static void node_stops_answering(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    H.nodes[0].mute = 1;
    rec get = {0}, set = {0}, durable = {0}, custom = {0};
    submit(kv(DV_KV_GET, "k", NULL), &get);
    submit(kv(DV_KV_UPSERT, "k", "1"), &set);
    dv_req d = kv(DV_KV_UPSERT, "k", "1");
    d.durability = 1;
    submit(d, &durable);
    dv_req c = kv(DV_KV_GET, "k", NULL);
    c.timeout_ms = 100;
    submit(c, &custom);
    advance_to(1099 * MS);
    assert_int_equal(custom.calls, 0);
    advance_to(1100 * MS);
    assert_int_equal(custom.calls, 1);
    assert_int_equal(custom.err, DV_ERR_UNAMBIGUOUS_TIMEOUT);
    advance_to(3499 * MS);
    assert_int_equal(get.calls + set.calls, 0);
    advance_to(5000 * MS);
    assert_int_equal(get.err, DV_ERR_UNAMBIGUOUS_TIMEOUT); /* a read */
    assert_int_equal(get.at, 3500 * MS);                   /* submit + 2500 ms */
    assert_int_equal(set.err, DV_ERR_AMBIGUOUS_TIMEOUT);   /* a write that was sent */
    assert_int_equal(set.at, 3500 * MS);
    assert_int_equal(durable.calls, 0);
    advance_to(20000 * MS);
    assert_int_equal(durable.err, DV_ERR_AMBIGUOUS_TIMEOUT);
    assert_int_equal(durable.at, 11000 * MS); /* the durable default: 10 s */
    assert_int_equal(durable.calls, 1);
    teardown_cluster();
}

/* A timeout that is up before the operation starts (the official SDK's timeout below 1 ms):
 * the operation completes at once with UNAMBIGUOUS_TIMEOUT, and nothing is sent. */
static void expired_timeout(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    unsigned before = H.nodes[0].data_ops;
    rec set = {0};
    dv_req r = kv(DV_KV_UPSERT, "k", "1");
    r.timeout_ms = DV_TIMEOUT_EXPIRED;
    submit(r, &set);
    assert_int_equal(set.calls, 1);
    assert_int_equal(set.err, DV_ERR_UNAMBIGUOUS_TIMEOUT);
    advance_to(100 * MS);
    assert_int_equal(set.calls, 1);
    assert_int_equal(H.nodes[0].data_ops, before);
    rec get = {0};
    submit(kv(DV_KV_GET, "k", NULL), &get);
    advance_to(200 * MS);
    assert_int_equal(get.err, DV_ERR_DOCUMENT_NOT_FOUND); /* the write was never sent */
    teardown_cluster();
}

/* Client durability: persist_to=1 (the active) on a bucket without replicas asks the active
 * copy once it answers with the mutation's seqno persisted. */
static void client_durability_active(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    rec set = {0};
    dv_req r = kv(DV_KV_UPSERT, "k", "1");
    r.persist_to = 1;
    H.nodes[0].observe_lag = 2; /* persisted only at the third poll */
    submit(r, &set);
    advance_to(1999 * MS);
    assert_int_equal(set.calls, 0);
    advance_to(2100 * MS); /* polls at 1000, 1500 and 2000 ms */
    assert_int_equal(set.calls, 1);
    assert_int_equal(set.err, DV_ERR_OK);
    assert_int_equal(H.nodes[0].observes, 3);
    teardown_cluster();
}

/* More replicas asked than the bucket has: DURABILITY_IMPOSSIBLE, after the mutation. */
static void client_durability_impossible(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    rec set = {0}, ok = {0};
    dv_req r = kv(DV_KV_UPSERT, "k", "1");
    r.replicate_to = 1;
    submit(r, &set);
    dv_req p = kv(DV_KV_UPSERT, "k", "2");
    p.persist_to = 2; /* one node: a replica could be the one */
    submit(p, &ok);
    pump();
    assert_int_equal(set.err, DV_ERR_DURABILITY_IMPOSSIBLE);
    assert_int_equal(ok.err, DV_ERR_DURABILITY_IMPOSSIBLE);
    assert_int_equal(H.nodes[0].data_ops, 2); /* both written all the same */
    assert_int_equal(H.nodes[0].observes, 0);
    dv_req bad = kv(DV_KV_UPSERT, "k", "3");
    bad.persist_to = 1;
    bad.durability = 1;
    rec never = {0};
    assert_int_equal(dv_engine_submit(H.e, &bad, on_res, &never, NULL), DV_ERR_INVALID_ARGUMENT);
    teardown_cluster();
}

/* Two nodes, one replica: persist_to=2 (one node) and replicate_to=1 observe both copies
 * (persist_to=3, "two", needs two replicas by the official rule); nodes that never persist end
 * the wait with AMBIGUOUS_TIMEOUT 5 s after the mutation. */
static void client_durability_replicas(void **state)
{
    (void)state;
    setup_cluster(2, "couchbase://node1.test", "password");
    H.replicas = 1;
    make_config(2, 2, 0);
    open_ok();
    rec set = {0};
    dv_req r = kv(DV_KV_UPSERT, "k", "1");
    r.persist_to = 3;
    rec impossible = {0};
    submit(r, &impossible);
    pump();
    assert_int_equal(impossible.err, DV_ERR_DURABILITY_IMPOSSIBLE);
    r.persist_to = 2;
    r.replicate_to = 1;
    submit(r, &set);
    pump();
    assert_int_equal(set.calls, 1);
    assert_int_equal(set.err, DV_ERR_OK);
    assert_int_equal(H.nodes[0].observes + H.nodes[1].observes, 2);
    H.nodes[0].never_persist = H.nodes[1].never_persist = 1;
    rec slow = {0};
    submit(r, &slow);
    advance_to(H.now + 4900 * MS);
    assert_int_equal(slow.calls, 0);
    advance_to(H.now + 200 * MS);
    assert_int_equal(slow.calls, 1);
    assert_int_equal(slow.err, DV_ERR_AMBIGUOUS_TIMEOUT);
    teardown_cluster();
    H.replicas = 0;
}

/* Closing while a durable wait polls fails it once and frees everything. */
static void client_durability_close(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    H.nodes[0].never_persist = 1;
    rec set = {0};
    dv_req r = kv(DV_KV_UPSERT, "k", "1");
    r.persist_to = 1;
    submit(r, &set);
    advance_to(H.now + 700 * MS); /* a second round is waiting */
    assert_int_equal(set.calls, 0);
    teardown_cluster();
    assert_int_equal(set.calls, 1);
    assert_int_equal(set.err, DV_ERR_REQUEST_CANCELED);
}

static void etmpfail_then_success(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    H.nodes[0].etmpfail = 2;
    rec get = {0};
    submit(kv(DV_KV_GET, "k", NULL), &get);
    advance_to(1010 * MS);
    assert_int_equal(get.calls, 0); /* backoff 1 ms, then 10 ms */
    advance_to(2000 * MS);
    assert_int_equal(get.calls, 1);
    assert_int_equal(get.err, DV_ERR_DOCUMENT_NOT_FOUND);
    assert_int_equal(get.at, 1011 * MS);
    assert_int_equal(get.retries, 2);
    assert_string_equal(get.reasons, "key_value_temporary_failure");
    teardown_cluster();
}

/* ---- range scans: dv_kvscan on the engine ---- */

static dv_error scan_io_submit(void *ud, const dv_req *req, dv_res_cb cb, void *cb_ud, uint64_t *id)
{
    (void)ud;
    return dv_engine_submit(H.e, req, cb, cb_ud, id);
}

static void scan_io_cancel(void *ud, uint64_t id)
{
    (void)ud;
    dv_engine_cancel(H.e, id);
}

static const dv_kvscan_io SCAN_IO = {NULL, scan_io_submit, scan_io_cancel, NULL, NULL};

/* Write n documents "s:000".. and scan them (range s: .. s:\xff); the keys read in order. */
static dv_kvscan *scan_start(unsigned concurrency, uint32_t item_limit)
{
    dv_kvscan_opts o;
    memset(&o, 0, sizeof o);
    o.bucket = H.bucket;
    o.spec.start = "s:";
    o.spec.start_len = 2;
    o.spec.end = "s:\xff";
    o.spec.end_len = 3;
    o.spec.item_limit = item_limit;
    o.concurrency = concurrency;
    dv_kvscan *s = NULL;
    assert_int_equal(dv_kvscan_new(&o, &SCAN_IO, &s, NULL, 0), DV_ERR_OK);
    return s;
}

static void scan_load(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        char k[16], v[32];
        snprintf(k, sizeof k, "s:%03u", i);
        snprintf(v, sizeof v, "{\"i\":%u}", i);
        rec r = {0};
        submit(kv(DV_KV_UPSERT, k, v), &r);
        pump();
        assert_int_equal(r.err, DV_ERR_OK);
    }
    rec other = {0};
    submit(kv(DV_KV_UPSERT, "t:0", "{}"), &other); /* outside the range */
    pump();
}

/* Read the scan to its end, pumping the network when it has nothing; how many items, whether
 * each vbucket's keys came in order and the vbuckets in order. */
static dv_error scan_drain(dv_kvscan *s, unsigned *count, int *ordered)
{
    int last_vb = -1;
    char last[64] = "";
    *count = 0;
    *ordered = 1;
    for (int guard = 0; guard < 100000; guard++) {
        dv_kvscan_item it;
        dv_error err = DV_ERR_OK;
        int r = dv_kvscan_next(s, &it, 0, &err, NULL, 0);
        if (r == -1) return err;
        if (r == 0) {
            advance_to(H.now + MS);
            continue;
        }
        char k[64];
        snprintf(k, sizeof k, "%.*s", (int)it.key_len, (const char *)it.key);
        assert_int_equal(it.vbucket, dv_vbucket_of(it.key, it.key_len, NVB));
        assert_memory_equal(k, "s:", 2);
        if ((int)it.vbucket < last_vb || ((int)it.vbucket == last_vb && strcmp(k, last) <= 0))
            *ordered = 0;
        last_vb = it.vbucket;
        snprintf(last, sizeof last, "%s", k);
        ++*count;
    }
    fail_msg("the scan never ended");
    return DV_ERR_INTERNAL_SDK;
}

static void scan_over_the_engine(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    scan_load(200);
    for (unsigned conc = 1; conc <= 8; conc *= 8) {
        unsigned before = H.nodes[0].scan_creates;
        H.nodes[0].scans_open_max = 0;
        dv_kvscan *s = scan_start(conc, 3); /* several frames per continue, several continues */
        unsigned n;
        int ordered;
        assert_int_equal(scan_drain(s, &n, &ordered), DV_ERR_OK);
        assert_int_equal(n, 200);
        assert_true(ordered);
        assert_int_equal(H.nodes[0].scan_creates - before, NVB); /* every vbucket once */
        assert_true(H.nodes[0].scans_open_max <= conc);
        assert_int_equal(dv_kvscan_inflight(s), 0);
        dv_kvscan_free(s);
    }
    assert_int_equal(dv_engine_pending(H.e), 0);
    teardown_cluster();
}

static void scan_cancelled_over_the_engine(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    scan_load(100);
    dv_kvscan *s = scan_start(1, 2);
    dv_kvscan_item it;
    dv_error err;
    int got = 0;
    for (int guard = 0; got < 3 && guard < 1000; guard++) {
        int r = dv_kvscan_next(s, &it, 0, &err, NULL, 0);
        assert_int_not_equal(r, -1);
        if (r == 1)
            got++;
        else
            advance_to(H.now + MS);
    }
    assert_int_equal(got, 3);
    dv_kvscan_free(s); /* in flight: the continue is cancelled, the server's scan too */
    pump();
    for (int v = 0; v < NVB; v++) assert_false(H.nodes[0].scans[v].open);
    assert_true(H.nodes[0].scan_cancels >= 1);
    assert_int_equal(dv_engine_pending(H.e), 0);
    teardown_cluster();
}

static void scan_connection_lost(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    scan_load(100);
    H.nodes[0].scan_drop = 1; /* the first continue: one record, then the connection goes */
    dv_kvscan *s = scan_start(1, 50);
    unsigned n;
    int ordered;
    /* A continue is not resent (the server's scan went with the connection): the scan ends. */
    assert_int_equal(scan_drain(s, &n, &ordered), DV_ERR_REQUEST_CANCELED);
    assert_true(n <= 1);
    dv_kvscan_free(s);
    assert_int_equal(dv_engine_pending(H.e), 0);
    teardown_cluster();
}

static void locked_until_timeout(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    H.nodes[0].locked = 1;
    rec set = {0};
    submit(kv(DV_KV_UPSERT, "k", "1"), &set);
    advance_to(10000 * MS);
    assert_int_equal(set.calls, 1);
    assert_int_equal(set.err, DV_ERR_AMBIGUOUS_TIMEOUT);
    assert_int_equal(set.at, 3500 * MS);
    assert_string_equal(set.reasons, "key_value_locked");
    assert_int_equal(set.status, DV_STATUS_LOCKED);
    /* Sent at 0, 1, 11, 61, 161, 661, 1661 ms (backoffs 1, 10, 50, 100, 500, 1000); the retry
     * due at 2661 ms is beyond the deadline. Each LOCKED answer counts as a retry attempt. */
    assert_int_equal(set.retries, 7);
    assert_int_equal(H.nodes[0].data_ops, 7);
    teardown_cluster();
}

static void unknown_collection(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    rec set = {0};
    dv_req q = kv(DV_KV_UPSERT, "u1", "1");
    q.scope = "app";
    q.collection = "users";
    submit(q, &set);
    pump();
    assert_int_equal(set.err, DV_ERR_OK);
    assert_non_null(find_item(&H.nodes[0], 8, (const uint8_t *)"u1", 2));
    /* The id is cached: no second GET_COLLECTION_ID. */
    fconn *fc = open_conn_to(&H.nodes[0]);
    size_t lookups = 0;
    rec set2 = {0};
    submit(q, &set2);
    pump();
    for (size_t i = 0; i < fc->nops; i++) lookups += fc->ops[i] == DV_OP_GET_COLLECTION_ID;
    assert_int_equal(lookups, 1);
    assert_int_equal(set2.err, DV_ERR_OK);

    /* The collection is dropped and created again with a new id: the client's id is stale. */
    H.colls[0].cid = 9;
    H.manifest_uid = 9;
    rec set3 = {0};
    submit(q, &set3);
    pump();
    assert_int_equal(set3.calls, 0);
    advance_to(1500 * MS); /* re-resolved after 500 ms */
    assert_int_equal(set3.calls, 1);
    assert_int_equal(set3.err, DV_ERR_OK);
    assert_int_equal(set3.at, 1500 * MS);
    assert_string_equal(set3.reasons, "key_value_collection_outdated");
    assert_non_null(find_item(&H.nodes[0], 9, (const uint8_t *)"u1", 2));

    /* An unknown scope fails at once. */
    rec bad = {0};
    q.scope = "nope";
    submit(q, &bad);
    pump();
    assert_int_equal(bad.calls, 1);
    assert_int_equal(bad.err, DV_ERR_SCOPE_NOT_FOUND);
    teardown_cluster();
}

static void cancel_and_late_reply(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    rec get = {0};
    uint64_t id = submit(kv(DV_KV_GET, "k", NULL), &get);
    dv_engine_flush(H.e); /* written; the node has not answered yet */
    assert_int_equal(dv_engine_cancel(H.e, id), 0);
    assert_int_equal(get.calls, 1);
    assert_int_equal(get.err, DV_ERR_REQUEST_CANCELED);
    assert_int_equal(dv_engine_cancel(H.e, id), -1);
    pump(); /* the late reply is dropped */
    assert_int_equal(get.calls, 1);
    assert_int_equal(H.nodes[0].data_ops, 1);
    assert_int_equal(dv_engine_pending(H.e), 0);
    advance_to(10000 * MS);
    assert_int_equal(get.calls, 1);
    teardown_cluster();
}

static int resubmits;

static void resubmit_on_cancel(void *ud, const dv_res *res)
{
    on_res(ud, res);
    /* Shutting down: new operations are refused synchronously. */
    dv_req q = kv(DV_KV_GET, "x", NULL);
    if (dv_engine_submit(H.e, &q, on_res, ud, NULL) != DV_ERR_OK) resubmits++;
}

static void free_with_pending(void **state)
{
    (void)state;
    setup_cluster(2, "couchbase://node1.test", "password");
    open_ok();
    H.nodes[0].mute = 1;
    rec r[6];
    memset(r, 0, sizeof r);
    char k0[16], k1[16];
    key_on(0, 0, k0, sizeof k0);
    key_on(1, 0, k1, sizeof k1);
    submit(kv(DV_KV_GET, k0, NULL), &r[0]);   /* in flight on a mute node */
    submit(kv(DV_KV_UPSERT, k0, "1"), &r[1]); /* in flight too */
    submit(kv(DV_KV_GET, k1, NULL), &r[2]);   /* node 2 answers this one */
    dv_req other = kv(DV_KV_GET, "k", NULL);
    other.bucket = "opening"; /* a bucket whose bootstrap never answers */
    H.nodes[0].hang = 1;
    submit(other, &r[3]);
    rec opening = {0};
    assert_int_equal(dv_engine_open_bucket(H.e, "opening", on_res, &opening), DV_ERR_OK);
    uint64_t id = 0;
    dv_req q = kv(DV_KV_GET, k0, NULL);
    assert_int_equal(dv_engine_submit(H.e, &q, resubmit_on_cancel, &r[4], &id), DV_ERR_OK);
    pump();
    assert_int_equal(dv_engine_pending(H.e), 4);
    assert_int_equal(r[2].calls, 1); /* node 2 answered that one */
    dv_engine_free(H.e);
    H.e = NULL;
    for (int i = 0; i < 5; i++) {
        if (i == 2) continue;
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].err, DV_ERR_REQUEST_CANCELED);
    }
    assert_int_equal(opening.calls, 1);
    assert_int_equal(opening.err, DV_ERR_REQUEST_CANCELED);
    assert_int_equal(resubmits, 1);
    for (size_t i = 0; i < H.nconns; i++) assert_int_not_equal(H.conns[i].state, FC_OPEN);
    teardown_cluster();
}

static void bootstrap_timeout(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    H.nodes[0].hang = 1;
    rec opened = {0}, get = {0};
    assert_int_equal(dv_engine_open_bucket(H.e, H.bucket, on_res, &opened), DV_ERR_OK);
    submit(kv(DV_KV_GET, "k", NULL), &get);
    advance_to(3500 * MS);
    assert_int_equal(get.err, DV_ERR_UNAMBIGUOUS_TIMEOUT); /* never sent */
    assert_int_equal(get.at, 3500 * MS);
    assert_int_equal(opened.calls, 0);
    advance_to(30000 * MS);
    assert_int_equal(opened.calls, 1);
    assert_int_equal(opened.err, DV_ERR_UNAMBIGUOUS_TIMEOUT);
    assert_int_equal(opened.at, 11000 * MS); /* bootstrap_timeout: 10 s */
    /* The node comes back: a new operation starts the bootstrap again and succeeds. */
    H.nodes[0].hang = 0;
    rec later = {0};
    submit(kv(DV_KV_GET, "k", NULL), &later);
    pump();
    assert_int_equal(later.err, DV_ERR_DOCUMENT_NOT_FOUND);
    teardown_cluster();
}

static void poll_and_node_removal(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    H.named = 1;
    make_config(1, 1, 0);
    open_ok();
    /* A new node without a push or a NOT_MY_VBUCKET: the 2.5 s poll finds it. */
    make_config(2, 2, 0);
    advance_to(3499 * MS);
    assert_int_equal(open_conns_to(&H.nodes[1]), 0);
    advance_to(3500 * MS);
    assert_int_equal(open_conns_to(&H.nodes[1]), 1);
    /* The node leaves: its connection is closed once a poll brings the config. */
    make_config(1, 3, 0);
    advance_to(8500 * MS);
    assert_int_equal(open_conns_to(&H.nodes[1]), 0);
    assert_int_equal(open_conns_to(&H.nodes[0]), 1);
    rec get = {0};
    submit(kv(DV_KV_GET, "k", NULL), &get);
    pump();
    assert_int_equal(get.err, DV_ERR_DOCUMENT_NOT_FOUND);
    teardown_cluster();
}

static void reconnect_with_backoff(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    H.nodes[0].refuse = 1;
    fconn *fc = open_conn_to(&H.nodes[0]);
    uint32_t id = fc->id;
    fc->state = FC_CLOSED;
    fconn_release(fc);
    unsigned base = H.connects;
    dv_engine_closed(H.e, id, DV_ERR_OK);   /* the peer reset the connection */
    assert_int_equal(H.connects, base + 1); /* at once */
    rec get = {0};
    submit(kv(DV_KV_GET, "k", NULL), &get);
    pump(); /* refused */
    advance_to(1009 * MS);
    assert_int_equal(H.connects, base + 1);
    advance_to(1010 * MS); /* then 10 ms, 50 ms, ... */
    assert_int_equal(H.connects, base + 2);
    advance_to(1060 * MS);
    assert_int_equal(H.connects, base + 3);
    advance_to(4000 * MS);
    assert_int_equal(get.err, DV_ERR_UNAMBIGUOUS_TIMEOUT); /* never sent */
    assert_int_equal(get.at, 3500 * MS);
    H.nodes[0].refuse = 0;
    advance_to(6000 * MS);
    assert_int_equal(open_conns_to(&H.nodes[0]), 1);
    rec later = {0};
    submit(kv(DV_KV_GET, "k", NULL), &later);
    pump();
    assert_int_equal(later.err, DV_ERR_DOCUMENT_NOT_FOUND);
    teardown_cluster();
}

static uint64_t victim_id;
static rec victim, spawned;

static void cancel_from_callback(void *ud, const dv_res *res)
{
    on_res(ud, res);
    assert_int_equal(dv_engine_cancel(H.e, victim_id), 0);
    dv_req q = kv(DV_KV_GET, "k", NULL);
    assert_int_equal(dv_engine_submit(H.e, &q, on_res, &spawned, NULL), DV_ERR_OK);
}

static void callbacks_reenter(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    H.nodes[0].mute = 1;
    memset(&victim, 0, sizeof victim);
    memset(&spawned, 0, sizeof spawned);
    rec first = {0};
    dv_req q = kv(DV_KV_GET, "k", NULL);
    q.timeout_ms = 100;
    assert_int_equal(dv_engine_submit(H.e, &q, cancel_from_callback, &first, NULL), DV_ERR_OK);
    victim_id = submit(q, &victim); /* times out in the same batch */
    advance_to(1100 * MS);
    assert_int_equal(first.calls, 1);
    assert_int_equal(first.err, DV_ERR_UNAMBIGUOUS_TIMEOUT);
    assert_int_equal(victim.calls, 1);
    assert_int_equal(victim.err, DV_ERR_REQUEST_CANCELED);
    assert_int_equal(spawned.calls, 0);
    advance_to(5000 * MS);
    assert_int_equal(victim.calls, 1);
    assert_int_equal(spawned.calls, 1);
    assert_int_equal(spawned.err, DV_ERR_UNAMBIGUOUS_TIMEOUT);
    assert_int_equal(spawned.at, 3600 * MS);
    teardown_cluster();
}

/* ---- chaos: random faults, time and configs; every operation completes exactly once ---- */

#define CHAOS_OPS 1500

static rec chaos_rec[CHAOS_OPS];
static uint64_t chaos_id[CHAOS_OPS];
static uint32_t rng = 12345;

static uint32_t rnd(uint32_t n)
{
    rng = rng * 1103515245u + 12345u;
    return (rng >> 8) % n;
}

static void chaos_cb(void *ud, const dv_res *res)
{
    rec *r = ud;
    assert_int_equal(r->calls, 0); /* exactly once */
    on_res(ud, res);
}

static void chaos_run(uint32_t seed)
{
    rng = seed;
    setup_cluster(3, "couchbase://node1.test,node2.test", "password");
    open_ok();
    memset(chaos_rec, 0, sizeof chaos_rec);
    int64_t rev = 1;
    int rotate = 0;
    size_t nops = 0;
    while (nops < CHAOS_OPS) {
        uint32_t a = rnd(100);
        fnode *n = &H.nodes[rnd(3)];
        if (a < 55) {
            char key[16];
            snprintf(key, sizeof key, "c%u", rnd(50));
            dv_req q = kv(rnd(2) ? DV_KV_GET : DV_KV_UPSERT, key, "1");
            if (q.kind == DV_KV_GET) q.value = NULL, q.value_len = 0;
            if (rnd(4) == 0) q.scope = "app", q.collection = "users";
            if (rnd(10) == 0) q.timeout_ms = 1 + rnd(300);
            assert_int_equal(dv_engine_submit(H.e, &q, chaos_cb, &chaos_rec[nops], &chaos_id[nops]),
                             DV_ERR_OK);
            nops++;
        } else if (a < 57) {
            n->mute = !n->mute; /* a hung node: what it swallowed is lost (handshakes stall) */
        } else if (a < 64) {
            n->drop = 1;
        } else if (a < 68) {
            n->etmpfail = (int)rnd(4);
        } else if (a < 70) {
            n->locked = !n->locked;
        } else if (a < 73) {
            n->refuse = !n->refuse;
        } else if (a < 76) {
            rotate = !rotate;
            make_config(3, ++rev, rotate);
            if (rnd(2)) push_config(0, 0);
        } else if (a < 78) {
            H.colls[0].cid = H.colls[0].cid == 8 ? 9 : 8; /* collection recreated */
        } else if (a < 82 && nops) {
            dv_engine_cancel(H.e, chaos_id[rnd((uint32_t)nops)]);
        } else if (a < 87) { /* faults do not last forever */
            n->mute = n->refuse = n->locked = 0;
        } else {
            advance_to(H.now + rnd(400) * MS);
        }
        pump();
    }
    /* Heal everything: what is still pending completes by its deadline at the latest. */
    for (int i = 0; i < 3; i++) {
        H.nodes[i].mute = H.nodes[i].drop = H.nodes[i].locked = H.nodes[i].refuse = 0;
        H.nodes[i].etmpfail = 0;
    }
    advance_to(H.now + 20000 * MS);
    assert_int_equal(dv_engine_pending(H.e), 0);
    unsigned ok = 0;
    for (size_t i = 0; i < nops; i++) {
        assert_int_equal(chaos_rec[i].calls, 1);
        ok += chaos_rec[i].err == DV_ERR_OK || chaos_rec[i].err == DV_ERR_DOCUMENT_NOT_FOUND;
    }
    assert_true(ok > nops / 4); /* the cluster did work in between the faults */
    /* And everything works again, on every node, in both collections. */
    rec after[40];
    memset(after, 0, sizeof after);
    for (int i = 0; i < 40; i++) {
        char key[16];
        snprintf(key, sizeof key, "after%d", i);
        dv_req q = kv(DV_KV_UPSERT, key, "1");
        if (i % 2) q.scope = "app", q.collection = "users";
        submit(q, &after[i]);
    }
    advance_to(H.now + 600 * MS); /* a stale collection id costs one 500 ms backoff */
    for (int i = 0; i < 40; i++) {
        assert_int_equal(after[i].calls, 1);
        assert_int_equal(after[i].err, DV_ERR_OK);
    }
    teardown_cluster();
}

/* ---- the HTTP config bootstrap (issue 4) ---- */

static void get_set_over_kv(void)
{
    rec set = {0}, get = {0};
    submit(kv(DV_KV_UPSERT, "k", "{\"v\":1}"), &set);
    pump();
    assert_int_equal(set.err, DV_ERR_OK);
    submit(kv(DV_KV_GET, "k", NULL), &get);
    pump();
    assert_int_equal(get.err, DV_ERR_OK);
    assert_string_equal(get.value, "{\"v\":1}");
}

static void http_fallback(void **state)
{
    (void)state;
    /* The node gives no config over KV: the engine reads it over HTTP (Content-Length), then
     * works over KV. */
    setup_cluster(1, "couchbase://node1.test", "password");
    H.nodes[0].no_ccc = 1;
    H.nodes[0].http = 200;
    open_ok();
    assert_int_equal(H.nodes[0].http_requests, 1);
    assert_int_equal(H.connects, 3); /* KV bootstrap, HTTP, the node's KV connection */
    assert_false(H.conns[0].http);
    assert_true(H.conns[1].http);
    assert_int_equal(H.conns[1].state, FC_CLOSED);
    assert_int_equal(open_conns_to(&H.nodes[0]), 1);
    get_set_over_kv();
    teardown_cluster();
}

static void http_fallback_chunked_three_nodes(void **state)
{
    (void)state;
    /* Every KV attempt fails, the first host's HTTP is refused, the second's answers chunked. */
    setup_cluster(3, "couchbase://node1.test,node2.test", "password");
    for (int i = 0; i < 3; i++) H.nodes[i].no_ccc = 1;
    H.nodes[1].http = 200;
    H.nodes[1].http_mode = HB_CHUNKED;
    open_ok();
    assert_int_equal(H.nodes[1].http_requests, 1);
    for (int i = 0; i < 3; i++) assert_int_equal(open_conns_to(&H.nodes[i]), 1);
    rec r[12];
    memset(r, 0, sizeof r);
    char keys[12][16];
    for (int i = 0; i < 12; i++) {
        snprintf(keys[i], sizeof keys[i], "user::%d", i);
        submit(kv(DV_KV_UPSERT, keys[i], "1"), &r[i]);
    }
    pump();
    for (int i = 0; i < 12; i++) {
        assert_int_equal(r[i].err, DV_ERR_OK);
        int node = dv_config_route(H.cfg, keys[i], strlen(keys[i]), 0, NULL);
        assert_non_null(find_item(&H.nodes[node], 0, (const uint8_t *)keys[i], strlen(keys[i])));
    }
    teardown_cluster();
}

static void bootstrap_on_http(void **state)
{
    (void)state;
    /* bootstrap_on=http: HTTP first (a close-delimited body), no KV bootstrap. */
    setup_cluster(1, "couchbase://node1.test?bootstrap_on=http", "password");
    H.nodes[0].http = 200;
    H.nodes[0].http_mode = HB_CLOSE;
    open_ok();
    assert_int_equal(H.connects, 2);
    assert_true(H.conns[0].http);
    assert_false(H.conns[1].http);
    get_set_over_kv();
    teardown_cluster();

    /* host:port=http: that port is the management port. */
    setup_cluster(1, "couchbase://node1.test:9000=http", "password");
    H.nodes[0].mgmt_port = 9000;
    H.nodes[0].http = 200;
    H.nodes[0].http_mode = HB_CHUNKED;
    open_ok();
    assert_true(H.conns[0].http);
    assert_int_equal(H.nodes[0].http_requests, 1);
    get_set_over_kv();
    teardown_cluster();
}

static void http_errors(void **state)
{
    (void)state;
    /* 401 (the node does not accept the credentials) -> AUTHENTICATION_FAILURE. */
    setup_cluster(1, "couchbase://node1.test?bootstrap_on=http", "wrong");
    H.nodes[0].http = 200;
    rec opened = {0};
    assert_int_equal(dv_engine_open_bucket(H.e, H.bucket, on_res, &opened), DV_ERR_OK);
    pump();
    assert_int_equal(opened.calls, 1);
    assert_int_equal(opened.err, DV_ERR_AUTHENTICATION_FAILURE);
    teardown_cluster();

    /* 404 after the KV fall-back -> BUCKET_NOT_FOUND, and the waiting operation fails too. */
    setup_cluster(1, "couchbase://node1.test", "password");
    H.nodes[0].no_ccc = 1;
    H.nodes[0].http = 404;
    rec opened2 = {0}, get = {0};
    assert_int_equal(dv_engine_open_bucket(H.e, H.bucket, on_res, &opened2), DV_ERR_OK);
    submit(kv(DV_KV_GET, "k", NULL), &get);
    pump();
    assert_int_equal(opened2.err, DV_ERR_BUCKET_NOT_FOUND);
    assert_int_equal(get.err, DV_ERR_BUCKET_NOT_FOUND);
    teardown_cluster();

    /* 500: tried again every 500 ms until bootstrap_timeout; then the node recovers. */
    setup_cluster(1, "couchbase://node1.test?bootstrap_on=http", "password");
    H.nodes[0].http = 500;
    rec opened3 = {0};
    assert_int_equal(dv_engine_open_bucket(H.e, H.bucket, on_res, &opened3), DV_ERR_OK);
    advance_to(30000 * MS);
    assert_int_equal(opened3.err, DV_ERR_UNAMBIGUOUS_TIMEOUT);
    assert_int_equal(opened3.at, 11000 * MS);
    assert_true(H.nodes[0].http_requests > 10);
    H.nodes[0].http = 200;
    get_set_over_kv();
    teardown_cluster();
}

static void chaos(void **state)
{
    (void)state;
    const char *env = getenv("DV_CHAOS_SEEDS"); /* more seeds, for a longer local run */
    uint32_t n = env ? (uint32_t)strtoul(env, NULL, 10) : 4;
    for (uint32_t seed = 1; seed <= n; seed++) chaos_run(seed * 7919u);
}

/* ---- the cluster-level connection (dv_engine_connect), ping, diagnostics ---- */

static const dv_config *cluster_cfg(void)
{
    bucket *b = eng_bucket(H.e, "", 0);
    assert_non_null(b);
    return b->cfg;
}

typedef struct eprec {
    int calls;
    dv_error err;
    uint64_t at;
    size_t n;
    dv_endpoint ep[8];
    char remote[8][64];
    int has_bucket[8];
} eprec;

static void on_eps(void *ud, const dv_res *res)
{
    eprec *r = ud;
    r->calls++;
    r->err = res->err;
    r->at = H.now;
    r->n = res->nendpoints;
    assert_true(r->n <= 8);
    for (size_t i = 0; i < r->n; i++) {
        r->ep[i] = res->endpoints[i];
        snprintf(r->remote[i], sizeof r->remote[i], "%s", res->endpoints[i].remote);
        r->has_bucket[i] = res->endpoints[i].bucket != NULL;
        r->ep[i].remote = r->ep[i].bucket = NULL;
    }
}

static void cluster_connect(void **state)
{
    (void)state;
    setup_cluster(3, "couchbase://node2.test", "password");
    rec r = {0};
    assert_int_equal(dv_engine_connect(H.e, on_res, &r), DV_ERR_OK);
    pump();
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, DV_ERR_OK);
    assert_int_equal(H.connects, 1); /* one connection, whatever the config lists */
    fconn *fc = &H.conns[0];
    assert_ptr_equal(fc->node, &H.nodes[1]);
    for (size_t i = 0; i < fc->nops; i++) assert_int_not_equal(fc->ops[i], DV_OP_SELECT_BUCKET);
    assert_int_equal(fc->ops[fc->nops - 1], DV_OP_GET_CLUSTER_CONFIG);
    assert_null(cluster_cfg()->name);
    /* Again: at once. */
    rec again = {0};
    assert_int_equal(dv_engine_connect(H.e, on_res, &again), DV_ERR_OK);
    assert_int_equal(again.calls, 1);
    assert_int_equal(again.err, DV_ERR_OK);
    /* Ping the cluster connection. */
    eprec p = {0};
    H.now += 5 * MS;
    assert_int_equal(dv_engine_ping(H.e, NULL, on_eps, &p), DV_ERR_OK);
    assert_int_equal(p.calls, 0);
    pump();
    assert_int_equal(p.calls, 1);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.remote[0], "node2.test:11210");
    assert_int_equal(p.has_bucket[0], 0);
    assert_int_equal(p.ep[0].err, DV_ERR_OK);
    assert_int_equal(p.ep[0].state, DV_ENDPOINT_CONNECTED);
    /* A bucket opens its own connections (the cluster connection is not reused). */
    open_ok();
    assert_int_equal(H.connects, 4);
    assert_int_equal(open_conns_to(&H.nodes[1]), 2);
    eprec d = {0};
    H.now += 7 * MS;
    assert_int_equal(dv_engine_diagnostics(H.e, on_eps, &d), DV_ERR_OK);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.n, 4);
    int clusters = 0;
    for (size_t i = 0; i < d.n; i++) {
        clusters += !d.has_bucket[i];
        assert_int_equal(d.ep[i].state, DV_ENDPOINT_CONNECTED);
        assert_true(d.ep[i].id != 0);
        if (!d.has_bucket[i]) assert_int_equal(d.ep[i].last_activity_us, 7000);
    }
    assert_int_equal(clusters, 1);
    /* Ping the bucket: one endpoint per node; a mute node times out at kv_timeout exactly. */
    H.nodes[2].mute = 1;
    eprec pb = {0};
    uint64_t t0 = H.now;
    assert_int_equal(dv_engine_ping(H.e, "default", on_eps, &pb), DV_ERR_OK);
    pump();
    assert_int_equal(pb.calls, 0);
    advance_to(t0 + 5000 * MS);
    assert_int_equal(pb.calls, 1);
    assert_int_equal(pb.at, t0 + 2500 * MS);
    assert_int_equal(pb.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(pb.has_bucket[i], 1);
        if (strcmp(pb.remote[i], "node3.test:11210") == 0)
            assert_int_equal(pb.ep[i].err, DV_ERR_UNAMBIGUOUS_TIMEOUT);
        else
            assert_int_equal(pb.ep[i].err, DV_ERR_OK);
    }
    /* An unknown bucket: no endpoints, at once. */
    eprec none = {0};
    assert_int_equal(dv_engine_ping(H.e, "nosuch", on_eps, &none), DV_ERR_OK);
    assert_int_equal(none.calls, 1);
    assert_int_equal(none.n, 0);
    teardown_cluster();
}

static void cluster_wrong_password(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "not-the-password");
    rec r = {0};
    assert_int_equal(dv_engine_connect(H.e, on_res, &r), DV_ERR_OK);
    pump();
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, DV_ERR_AUTHENTICATION_FAILURE);
    assert_int_equal(H.connects, 1); /* no HTTP round */
    teardown_cluster();
}

static void cluster_next_host(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node4.test,node1.test", "password");
    H.nodes[3].refuse = 1;
    rec r = {0};
    assert_int_equal(dv_engine_connect(H.e, on_res, &r), DV_ERR_OK);
    pump();
    assert_int_equal(r.err, DV_ERR_OK);
    assert_int_equal(r.at, 1000 * MS);
    assert_int_equal(H.connects, 2);
    assert_int_equal(open_conns_to(&H.nodes[0]), 1);
    teardown_cluster();
}

static void cluster_all_down(void **state)
{
    (void)state;
    setup_cluster(2, "couchbase://node1.test,node2.test", "password");
    H.nodes[0].refuse = 1;
    H.nodes[1].hang = 1;
    rec r = {0};
    assert_int_equal(dv_engine_connect(H.e, on_res, &r), DV_ERR_OK);
    advance_to(30000 * MS);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, DV_ERR_UNAMBIGUOUS_TIMEOUT);
    assert_int_equal(r.at, 11000 * MS); /* bootstrap_timeout: 10 s */
    /* They come back: connecting again starts over. */
    H.nodes[0].refuse = 0;
    rec again = {0};
    assert_int_equal(dv_engine_connect(H.e, on_res, &again), DV_ERR_OK);
    pump();
    assert_int_equal(again.err, DV_ERR_OK);
    teardown_cluster();
}

static void cluster_no_bucket(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    H.nodes[0].no_gcccp = 1;
    rec r = {0};
    assert_int_equal(dv_engine_connect(H.e, on_res, &r), DV_ERR_OK);
    pump();
    assert_int_equal(r.err, DV_ERR_OK);
    const dv_config *cfg = cluster_cfg(); /* fabricated: the bootstrap host's KV only */
    assert_int_equal(cfg->nnodes, 1);
    assert_string_equal(cfg->nodes[0].hostname, "node1.test");
    assert_int_equal(cfg->nodes[0].ports[DV_SVC_KV], 11210);
    assert_int_equal(cfg->nodes[0].ports[DV_SVC_MGMT], 0);
    eprec p = {0};
    assert_int_equal(dv_engine_ping(H.e, NULL, on_eps, &p), DV_ERR_OK);
    pump();
    assert_int_equal(p.n, 1);
    assert_int_equal(p.ep[0].err, DV_ERR_OK);
    teardown_cluster();
}

/* A push on the cluster connection: a bucket's config (with a name) is ignored, a cluster
 * config (no name) applied (§10.2). */
static void push_raw(fconn *fc, const dv_buf *json, int64_t rev)
{
    dv_buf pkt = DV_BUF_INIT;
    uint8_t ext[16];
    dv_store_be64(ext, 1);
    dv_store_be64(ext + 8, (uint64_t)rev);
    dv_frame f;
    memset(&f, 0, sizeof f);
    f.magic = DV_MAGIC_SERVER_REQ;
    f.opcode = DV_SERVER_OP_CLUSTERMAP_CHANGE;
    f.opaque = 78;
    f.extras = ext;
    f.extras_len = 16;
    f.value = dv_buf_head(json);
    f.value_len = dv_buf_size(json);
    f.datatype = DV_DATATYPE_JSON;
    assert_int_equal(dv_frame_encode(&pkt, &f), DV_MCBP_OK);
    dv_engine_data(H.e, fc->id, dv_buf_head(&pkt), dv_buf_size(&pkt));
    dv_buf_free(&pkt);
}

static void cluster_push(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    rec r = {0};
    assert_int_equal(dv_engine_connect(H.e, on_res, &r), DV_ERR_OK);
    pump();
    assert_int_equal(r.err, DV_ERR_OK);
    assert_int_equal(cluster_cfg()->rev, 1);
    fconn *fc = open_conn_to(&H.nodes[0]);
    dv_buf v = DV_BUF_INIT;
    make_config(1, 5, 0);
    config_json(&v, 0); /* a bucket's config: "name": "default" */
    push_raw(fc, &v, 5);
    assert_int_equal(cluster_cfg()->rev, 1);
    assert_null(cluster_cfg()->name);
    dv_buf_reset(&v);
    cluster_json(&v, 6, 11210);
    push_raw(fc, &v, 6);
    assert_int_equal(cluster_cfg()->rev, 6);
    dv_buf_free(&v);
    pump();
    assert_int_equal(H.connects, 1);
    teardown_cluster();
}

/* ---- HTTP service requests ---------------------------------------------------------------- */

static uint64_t http_submit(dv_http_service svc, uint64_t timeout_ms, int idempotent, rec *r)
{
    dv_http_req q = {.service = svc,
                     .method = "GET",
                     .path = "/pools/default/b/default",
                     .timeout_ms = timeout_ms,
                     .idempotent = idempotent};
    uint64_t id = 0;
    assert_int_equal(dv_engine_http(H.e, &q, on_res, r, &id), DV_ERR_OK);
    assert_true(id != 0);
    return id;
}

static void http_request_round_robin(void **state)
{
    (void)state;
    /* Management requests go to the nodes with a mgmt port in turn, one connection each,
     * closed once the response is read; the status and body come back as they were. */
    setup_cluster(2, "couchbase://node1.test", "password");
    H.nodes[0].http = 200;
    H.nodes[1].http = 200;
    H.nodes[1].http_mode = HB_CHUNKED;
    open_ok();
    rec a = {0}, b = {0};
    http_submit(DV_HTTP_MGMT, 0, 1, &a);
    http_submit(DV_HTTP_MGMT, 0, 1, &b);
    pump();
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(a.err, DV_ERR_OK);
    assert_int_equal(b.err, DV_ERR_OK);
    assert_int_equal(a.http_status, 200);
    assert_int_equal(a.value[0], '{');
    assert_int_equal(b.value[0], '{');
    assert_int_equal(H.nodes[0].http_requests, 1);
    assert_int_equal(H.nodes[1].http_requests, 1);
    assert_string_not_equal(a.node, b.node);
    for (size_t i = 0; i < H.nconns; i++)
        if (H.conns[i].http) assert_int_equal(H.conns[i].state, FC_CLOSED);
    /* A status that is not 200 is still a response: the caller maps it. */
    H.nodes[0].http = 404;
    H.nodes[1].http = 404;
    rec c = {0};
    http_submit(DV_HTTP_MGMT, 0, 1, &c);
    pump();
    assert_int_equal(c.err, DV_ERR_OK);
    assert_int_equal(c.http_status, 404);
    assert_int_equal(dv_engine_pending(H.e), 0);
    teardown_cluster();
}

static void http_no_service(void **state)
{
    (void)state;
    /* No node of the config has the query service: SERVICE_NOT_AVAILABLE before returning. */
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    rec r = {0};
    http_submit(DV_HTTP_QUERY, 0, 0, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, DV_ERR_SERVICE_NOT_AVAILABLE);
    assert_non_null(strstr(r.message, "query"));
    dv_http_req bad = {.service = DV_HTTP_QUERY, .method = "GET", .path = "no-slash"};
    assert_int_equal(dv_engine_http(H.e, &bad, on_res, &r, NULL), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(r.calls, 1);
    teardown_cluster();
}

static void http_timeout_and_cancel(void **state)
{
    (void)state;
    setup_cluster(1, "couchbase://node1.test", "password");
    H.nodes[0].http = 200;
    open_ok();
    H.nodes[0].hang = 1; /* new connections are never answered */
    uint64_t t0 = H.now;
    rec w = {0}, ro = {0}, c = {0};
    http_submit(DV_HTTP_MGMT, 1000, 0, &w);
    http_submit(DV_HTTP_MGMT, 2000, 1, &ro);
    uint64_t cid = http_submit(DV_HTTP_MGMT, 0, 0, &c);
    advance_to(t0 + 999 * MS);
    assert_int_equal(w.calls, 0);
    advance_to(t0 + 1000 * MS);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.err, DV_ERR_AMBIGUOUS_TIMEOUT); /* not a read: ambiguous */
    assert_int_equal(w.at, t0 + 1000 * MS);
    advance_to(t0 + 2000 * MS);
    assert_int_equal(ro.err, DV_ERR_UNAMBIGUOUS_TIMEOUT);
    assert_int_equal(ro.at, t0 + 2000 * MS);
    assert_int_equal(c.calls, 0);
    assert_int_equal(dv_engine_cancel(H.e, cid), 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.err, DV_ERR_REQUEST_CANCELED);
    assert_int_equal(dv_engine_cancel(H.e, cid), -1);
    for (size_t i = 0; i < H.nconns; i++)
        if (H.conns[i].http) assert_int_equal(H.conns[i].state, FC_CLOSED);
    /* Closing the engine fails what is still pending. */
    rec f = {0};
    http_submit(DV_HTTP_MGMT, 0, 0, &f);
    dv_engine_free(H.e);
    H.e = NULL;
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.err, DV_ERR_REQUEST_CANCELED);
    teardown_cluster();
}

static void http_retry_then_waits_for_config(void **state)
{
    (void)state;
    /* A refused connection is tried again (nothing was written); once the node answers, the
     * request completes, with its retries counted. */
    setup_cluster(1, "couchbase://node1.test", "password");
    open_ok();
    rec r = {0};
    http_submit(DV_HTTP_MGMT, 0, 0, &r); /* node http 0: refused */
    advance_to(H.now + 100 * MS);
    assert_int_equal(r.calls, 0);
    H.nodes[0].http = 200;
    advance_to(H.now + 2000 * MS);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, DV_ERR_OK);
    assert_true(r.retries > 0);
    assert_int_equal(H.nodes[0].http_requests, 1);
    teardown_cluster();
    /* Nothing open yet: the request opens the cluster connection and waits for its config. */
    setup_cluster(1, "couchbase://node1.test", "password");
    H.nodes[0].http = 200;
    rec q = {0};
    http_submit(DV_HTTP_MGMT, 0, 0, &q);
    assert_int_equal(q.calls, 0);
    pump();
    assert_int_equal(q.calls, 1);
    assert_int_equal(q.err, DV_ERR_OK);
    assert_int_equal(q.http_status, 200);
    teardown_cluster();
}

typedef struct diag_rec {
    int http;
    char service[16], remote[64];
} diag_rec;

static void on_diag_http(void *ud, const dv_res *res)
{
    diag_rec *d = ud;
    for (size_t i = 0; i < res->nendpoints; i++)
        if (res->endpoints[i].service) {
            d->http++;
            snprintf(d->service, sizeof d->service, "%s", res->endpoints[i].service);
            snprintf(d->remote, sizeof d->remote, "%s", res->endpoints[i].remote);
            assert_int_equal(res->endpoints[i].state, DV_ENDPOINT_CONNECTED);
        }
}

static void http_keep_alive(void **state)
{
    (void)state;
    /* A response delimited by its length without "Connection: close" leaves the connection
     * for the next request to the node; idle for 1 s, it is closed. */
    setup_cluster(1, "couchbase://node1.test", "password");
    H.nodes[0].http = 200;
    H.nodes[0].keep = 1;
    open_ok();
    unsigned before = H.connects;
    rec a = {0}, b = {0};
    http_submit(DV_HTTP_MGMT, 0, 0, &a);
    pump();
    http_submit(DV_HTTP_MGMT, 0, 0, &b);
    pump();
    assert_int_equal(a.err, DV_ERR_OK);
    assert_int_equal(b.err, DV_ERR_OK);
    assert_int_equal(H.nodes[0].http_requests, 2);
    assert_int_equal(H.connects, before + 1); /* one connection for both */
    fconn *k = &H.conns[H.nconns - 1];
    assert_true(k->http);
    assert_int_equal(k->state, FC_OPEN);
    /* diagnostics lists it, as a management connection */
    diag_rec dr = {0};
    assert_int_equal(dv_engine_diagnostics(H.e, on_diag_http, &dr), DV_ERR_OK);
    assert_int_equal(dr.http, 1);
    assert_string_equal(dr.service, "mgmt");
    assert_string_equal(dr.remote, "node1.test:8091");
    advance_to(H.now + 1000 * MS);
    assert_int_equal(k->state, FC_CLOSED); /* idle too long */
    /* The server closes an idle connection just as a request goes out on it: nothing was
     * answered, so the request is sent again on a new connection, even one that is no read. */
    rec c = {0}, d = {0};
    http_submit(DV_HTTP_MGMT, 0, 0, &c);
    pump();
    fconn *idle = &H.conns[H.nconns - 1];
    assert_int_equal(idle->state, FC_OPEN);
    H.nodes[0].mute_http = 1;
    http_submit(DV_HTTP_MGMT, 0, 0, &d);
    dv_engine_flush(H.e);
    idle->state = FC_CLOSED;
    fconn_release(idle);
    dv_engine_closed(H.e, idle->id, DV_ERR_OK);
    H.nodes[0].mute_http = 0;
    advance_to(H.now + 100 * MS);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.err, DV_ERR_OK);
    assert_true(d.retries >= 1);
    teardown_cluster();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_tls_options),
        cmocka_unit_test(capella_hosts),
        cmocka_unit_test(happy_bootstrap_get_set),
        cmocka_unit_test(bootstrap_next_host),
        cmocka_unit_test(silent_first_seed),
        cmocka_unit_test(silent_seed_retried),
        cmocka_unit_test(single_silent_seed_retried),
        cmocka_unit_test(all_seeds_fail_report),
        cmocka_unit_test(three_nodes_route),
        cmocka_unit_test(wrong_password),
        cmocka_unit_test(set_credentials),
        cmocka_unit_test(close_bucket),
        cmocka_unit_test(unknown_bucket),
        cmocka_unit_test(dropped_connection),
        cmocka_unit_test(not_my_vbucket),
        cmocka_unit_test(config_push_adds_node),
        cmocka_unit_test(node_stops_answering),
        cmocka_unit_test(expired_timeout),
        cmocka_unit_test(client_durability_active),
        cmocka_unit_test(client_durability_impossible),
        cmocka_unit_test(client_durability_replicas),
        cmocka_unit_test(client_durability_close),
        cmocka_unit_test(etmpfail_then_success),
        cmocka_unit_test(scan_over_the_engine),
        cmocka_unit_test(scan_cancelled_over_the_engine),
        cmocka_unit_test(scan_connection_lost),
        cmocka_unit_test(locked_until_timeout),
        cmocka_unit_test(unknown_collection),
        cmocka_unit_test(cancel_and_late_reply),
        cmocka_unit_test(free_with_pending),
        cmocka_unit_test(bootstrap_timeout),
        cmocka_unit_test(poll_and_node_removal),
        cmocka_unit_test(reconnect_with_backoff),
        cmocka_unit_test(callbacks_reenter),
        cmocka_unit_test(chaos),
        cmocka_unit_test(http_fallback),
        cmocka_unit_test(http_fallback_chunked_three_nodes),
        cmocka_unit_test(bootstrap_on_http),
        cmocka_unit_test(http_errors),
        cmocka_unit_test(cluster_connect),
        cmocka_unit_test(cluster_wrong_password),
        cmocka_unit_test(cluster_next_host),
        cmocka_unit_test(cluster_all_down),
        cmocka_unit_test(cluster_no_bucket),
        cmocka_unit_test(cluster_push),
        cmocka_unit_test(http_request_round_robin),
        cmocka_unit_test(http_no_service),
        cmocka_unit_test(http_timeout_and_cancel),
        cmocka_unit_test(http_retry_then_waits_for_config),
        cmocka_unit_test(http_keep_alive),
    };
    return TU_RUN(tests);
}
