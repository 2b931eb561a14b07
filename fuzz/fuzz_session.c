/* Arbitrary bytes into a KV session, as a client on a socket could send them, cut into reads
 * at fuzzer-chosen points. The first byte chooses the session's starting state: fresh (only
 * HELLO and SASL reachable) or authenticated as an administrator with the collections, xerror,
 * snappy and mutation-token features and bucket "default" selected (everything reachable).
 * Properties: no crash, no sanitizer report, every reply is a well-formed frame, the session
 * never consumes more than it was given, and it frees everything. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mcbp/frame.h"
#include "mcbp/hello.h"
#include "server/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static dv_cluster *cluster;
static dv_users *users;
static dv_session_ctx *ctx;
static dv_user *admin;
static unsigned runs;

static void check(int cond)
{
    if (!cond) abort();
}

static void init(void)
{
    char err[256];
    users = dv_users_new(0);
    cluster = dv_cluster_new("fuzz", 11210, 8091);
    check(users && cluster);
    check(dv_users_add_flag(users, "Administrator:password", err, sizeof err) == 0);
    check(dv_cluster_create_default_bucket(cluster) == 0);
    dv_bucket *b = dv_cluster_get_bucket(cluster, "default", 7);
    check(dv_bucket_create_scope(b, "s", NULL) == 0);
    check(dv_bucket_create_collection(b, "s", "c", NULL, NULL) == 0);
    dv_bucket_release(b);
    ctx = dv_session_ctx_new(cluster, users);
    admin = dv_users_get(users, "Administrator", 13);
    check(ctx && admin);
}

/* Feed p[0..n) to s as the network layer would: keep what was not consumed. */
static void feed(dv_session *s, dv_buf *in, const uint8_t *p, size_t n, dv_buf *out, int *closed)
{
    if (*closed) return;
    check(dv_buf_append(in, p, n) == 0);
    long used = dv_session_data(s, dv_buf_head(in), dv_buf_size(in), out, 0);
    if (used < 0) {
        *closed = 1;
        return;
    }
    check((size_t)used <= dv_buf_size(in));
    dv_buf_consume(in, (size_t)used);
}

static void prelude(dv_session *s, dv_buf *out)
{
    static const uint16_t features[] = {0x04, 0x06, 0x07, 0x0a, 0x0b, 0x0c, 0x0d, 0x12, 0x14};
    dv_buf v, in;
    dv_buf_init(&v);
    dv_buf_init(&in);
    check(dv_hello_encode(&v, features, sizeof features / sizeof features[0]) == 0);
    dv_frame f = {.magic = DV_MAGIC_REQ, .opcode = DV_OP_HELLO};
    f.value = dv_buf_head(&v);
    f.value_len = dv_buf_size(&v);
    check(dv_frame_encode(&in, &f) == 0);
    dv_frame sel = {.magic = DV_MAGIC_REQ, .opcode = DV_OP_SELECT_BUCKET};
    sel.key = (const uint8_t *)"default";
    sel.key_len = 7;
    check(dv_frame_encode(&in, &sel) == 0);
    dv_session_authenticate(s, admin);
    check(dv_session_data(s, dv_buf_head(&in), dv_buf_size(&in), out, 0) == (long)dv_buf_size(&in));
    dv_buf_free(&v);
    dv_buf_free(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx) init();
    if (size < 2) return 0;
    /* Keep the store from growing without bound over millions of runs. */
    if (++runs % 4096 == 0) {
        dv_bucket *b = dv_cluster_get_bucket(cluster, "default", 7);
        dv_bucket_flush(b);
        dv_bucket_release(b);
    }
    dv_session *s = dv_session_new(ctx, "fuzz");
    check(s != NULL);
    dv_buf in, out;
    dv_buf_init(&in);
    dv_buf_init(&out);
    uint8_t mode = data[0], cut = data[1];
    data += 2;
    size -= 2;
    if (mode & 1) prelude(s, &out);
    int closed = 0;
    /* Reads of cut + 1 bytes, or everything at once when cut is 0. */
    size_t step = cut ? (size_t)cut + 1 : size;
    for (size_t pos = 0; pos < size && !closed; pos += step)
        feed(s, &in, data + pos, size - pos < step ? size - pos : step, &out, &closed);
    if (mode & 2) dv_session_notify(s, &out);
    /* Every reply is a whole frame. */
    const uint8_t *p = dv_buf_head(&out);
    size_t n = dv_buf_size(&out);
    while (n) {
        dv_frame f;
        size_t used;
        check(dv_frame_decode(p, n, DV_FRAME_DEFAULT_MAX_BODY, &f, &used) == DV_MCBP_OK);
        check(f.magic == DV_MAGIC_RES || f.magic == DV_MAGIC_SERVER_REQ);
        p += used;
        n -= used;
    }
    dv_session_free(s);
    dv_buf_free(&in);
    dv_buf_free(&out);
    return 0;
}
