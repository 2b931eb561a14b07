/* The network layer with real sockets and real sessions, on one worker thread so that every
 * client shares one event loop: a stalled, a flooding or a garbage-sending client must not keep
 * the others from being served, and a broadcast reaches the clients that asked for pushes. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/buf.h"
#include "mcbp/extras.h"
#include "mcbp/frame.h"
#include "mcbp/hello.h"
#include "server/net.h"
#include "server/session.h"

static dv_users *users;
static dv_cluster *cluster;
static dv_session_ctx *ctx;
static dv_net *net;

static void *on_open(void *ud, const char *peer, const char *local_ip)
{
    (void)local_ip;
    return dv_session_new(ud, peer);
}

static long on_data(void *s, const uint8_t *p, size_t n, dv_buf *out)
{
    return dv_session_data(s, p, n, out);
}

static void on_notify(void *s, dv_buf *out)
{
    dv_session_notify(s, out);
}

static void on_close(void *s)
{
    dv_session_free(s);
}

static int setup(void **state)
{
    (void)state;
    char err[256];
    users = dv_users_new(0);
    cluster = dv_cluster_new("divan", 0, 0);
    assert_int_equal(dv_users_add_default(users, err, sizeof err), 0);
    assert_int_equal(dv_cluster_create_default_bucket(cluster), 0);
    ctx = dv_session_ctx_new(cluster, users);
    dv_net_options o = {"127.0.0.1", 0, 1, 256 * 1024};
    dv_net_handlers h = {on_open, on_data, on_notify, on_close};
    net = dv_net_start(&o, &h, ctx, err, sizeof err);
    assert_non_null(net);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dv_net_stop(net);
    dv_session_ctx_free(ctx);
    dv_cluster_free(cluster);
    dv_users_free(users);
    return 0;
}

/* ---- A blocking client ------------------------------------------------------------------- */

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    /* A guard against a hang, not a synchronisation: replies come at once. */
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)dv_net_port(net));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        b += w;
        n -= (size_t)w;
    }
}

static void send_frame(int fd, dv_frame f)
{
    dv_buf b;
    dv_buf_init(&b);
    if (!f.magic) f.magic = DV_MAGIC_REQ;
    assert_int_equal(dv_frame_encode(&b, &f), 0);
    send_all(fd, dv_buf_head(&b), dv_buf_size(&b));
    dv_buf_free(&b);
}

/* Received bytes per socket: frames are read one at a time, and a read may hold several. */
typedef struct rx {
    dv_buf b;
    size_t last; /* size of the frame returned last, consumed on the next call */
} rx;

static void rx_free(rx *x)
{
    dv_buf_free(&x->b);
}

/* The next whole frame from fd, valid until the next call. */
static dv_frame recv_frame(int fd, rx *x)
{
    dv_buf_consume(&x->b, x->last);
    x->last = 0;
    for (;;) {
        dv_frame f;
        int rc = dv_frame_decode(dv_buf_head(&x->b), dv_buf_size(&x->b), DV_FRAME_DEFAULT_MAX_BODY,
                                 &f, &x->last);
        if (rc == DV_MCBP_OK) return f;
        assert_int_equal(rc, DV_MCBP_NEED_MORE);
        uint8_t *p = dv_buf_reserve(&x->b, 65536);
        ssize_t r = recv(fd, p, 65536, 0);
        assert_true(r > 0);
        dv_buf_commit(&x->b, (size_t)r);
    }
}

/* 1 if the server closed the connection (after any replies). */
static int closed_by_server(int fd)
{
    uint8_t junk[4096];
    for (;;) {
        ssize_t r = recv(fd, junk, sizeof junk, 0);
        if (r == 0) return 1;
        if (r < 0) return 0;
    }
}

/* HELLO (with pushes), PLAIN, SELECT_BUCKET default; returns the socket. */
static int login(void)
{
    int fd = dial();
    static const uint16_t features[] = {0x07, 0x0b, 0x0c, 0x0d, 0x12};
    dv_buf v;
    rx b = {0};
    dv_buf_init(&v);
    dv_hello_encode(&v, features, sizeof features / sizeof features[0]);
    dv_frame h = {.opcode = DV_OP_HELLO, .value = dv_buf_head(&v), .value_len = dv_buf_size(&v)};
    send_frame(fd, h);
    static const char plain[] = "\0Administrator\0password";
    send_frame(fd, (dv_frame){.opcode = DV_OP_SASL_AUTH,
                              .key = (const uint8_t *)"PLAIN",
                              .key_len = 5,
                              .value = (const uint8_t *)plain,
                              .value_len = sizeof plain - 1});
    send_frame(
        fd,
        (dv_frame){.opcode = DV_OP_SELECT_BUCKET, .key = (const uint8_t *)"default", .key_len = 7});
    for (int i = 0; i < 3; i++) assert_int_equal(recv_frame(fd, &b).status, DV_STATUS_SUCCESS);
    dv_buf_free(&v);
    rx_free(&b);
    return fd;
}

static const uint8_t doc_key[] = {0x00, 'd', 'o', 'c'};

static void set_doc(int fd, size_t size)
{
    static uint8_t x[8];
    dv_buf b;
    dv_buf_init(&b);
    uint8_t *v = dv_buf_reserve(&b, size);
    memset(v, 'x', size);
    dv_frame f = {.opcode = DV_OP_SET, .extras = x, .extras_len = 8, .key = doc_key, .key_len = 4};
    f.value = v;
    f.value_len = size;
    send_frame(fd, f);
    dv_buf_free(&b);
    rx got = {0};
    assert_int_equal(recv_frame(fd, &got).status, DV_STATUS_SUCCESS);
    rx_free(&got);
}

/* A client that is served: NOOP round trip and a GET. */
static void assert_served(void)
{
    int fd = login();
    rx b = {0};
    send_frame(fd, (dv_frame){.opcode = DV_OP_NOOP, .opaque = 7});
    dv_frame r = recv_frame(fd, &b);
    assert_int_equal(r.opcode, DV_OP_NOOP);
    assert_int_equal(r.opaque, 7);
    send_frame(fd, (dv_frame){.opcode = DV_OP_GET, .key = doc_key, .key_len = 4});
    assert_int_equal(recv_frame(fd, &b).status, DV_STATUS_SUCCESS);
    rx_free(&b);
    close(fd);
}

/* ---- Tests ---------------------------------------------------------------------------------- */

static void stalled_client_does_not_block_others(void **state)
{
    (void)state;
    int w = login();
    set_doc(w, 10);
    close(w);
    int stalled = login();
    /* Half a request, then nothing. */
    uint8_t hdr[24] = {0x80, 0x00, 0, 4, 0, 0, 0, 0, 0, 0, 0, 4};
    send_all(stalled, hdr, 12);
    assert_served();
    close(stalled);
}

static void flooding_client_does_not_block_others(void **state)
{
    (void)state;
    int fd = login();
    set_doc(fd, 512 * 1024);
    /* Pipeline GETs of the 512 KiB document and never read: the server stops reading from this
     * client once its unsent replies pass the limit, and serves the others meanwhile. */
    dv_buf req;
    dv_buf_init(&req);
    dv_frame g = {.magic = DV_MAGIC_REQ, .opcode = DV_OP_GET, .key = doc_key, .key_len = 4};
    for (int i = 0; i < 64; i++) dv_frame_encode(&req, &g);
    int flags = MSG_NOSIGNAL | MSG_DONTWAIT;
    size_t sent = 0;
    while (sent < dv_buf_size(&req)) {
        ssize_t n = send(fd, dv_buf_head(&req) + sent, dv_buf_size(&req) - sent, flags);
        if (n <= 0) break;
        sent += (size_t)n;
    }
    assert_served();
    dv_buf_free(&req);
    close(fd);
}

static void garbage_closes_only_that_connection(void **state)
{
    (void)state;
    int fd = dial();
    static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(fd, junk, sizeof junk - 1);
    assert_true(closed_by_server(fd));
    close(fd);
    /* A header that lies about its lengths. */
    fd = login();
    uint8_t lie[24] = {0x80, 0x00, 0, 200, 0, 0, 0, 0, 0, 0, 0, 10};
    send_all(fd, lie, sizeof lie);
    assert_true(closed_by_server(fd));
    close(fd);
    assert_served();
}

static void broadcast_pushes_new_configs(void **state)
{
    (void)state;
    int fd = login();
    rx b = {0};
    send_frame(fd, (dv_frame){.opcode = DV_OP_GET_CLUSTER_CONFIG});
    assert_int_equal(recv_frame(fd, &b).status, DV_STATUS_SUCCESS);
    dv_bucket *bk = dv_cluster_get_bucket(cluster, "default", 7);
    assert_int_equal(dv_bucket_create_scope(bk, "pushed", NULL), 0);
    int64_t rev = dv_bucket_rev(bk);
    dv_bucket_release(bk);
    dv_net_broadcast(net);
    dv_frame r = recv_frame(fd, &b);
    assert_int_equal(r.magic, DV_MAGIC_SERVER_REQ);
    dv_config_version v;
    assert_int_equal(dv_extras_clustermap_push_decode(r.extras, r.extras_len, &v), 0);
    assert_int_equal(v.revision, rev);
    rx_free(&b);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stalled_client_does_not_block_others),
        cmocka_unit_test(flooding_client_does_not_block_others),
        cmocka_unit_test(garbage_closes_only_that_connection),
        cmocka_unit_test(broadcast_pushes_new_configs),
    };
    int failed =
        _cmocka_run_group_tests("net", tests, sizeof tests / sizeof tests[0], setup, teardown);
    return failed + (dv_alloc_live() > 0);
}
