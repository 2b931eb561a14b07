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

#include "kvclient.h"

static kv_server srv;

static int setup(void **state)
{
    (void)state;
    dv_net_options o = {.host = "127.0.0.1", .threads = 1, .max_pending_out = 256 * 1024};
    kv_server_start(&srv, &o);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kv_server_stop(&srv);
    return 0;
}

static int login(void)
{
    return kv_login(srv.port, "Administrator", "password", "default");
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
    kv_send_frame(fd, f);
    dv_buf_free(&b);
    kv_rx got = {0};
    assert_int_equal(kv_recv_frame(fd, &got).status, DV_STATUS_SUCCESS);
    kv_rx_free(&got);
}

/* A client that is served: NOOP round trip and a GET. */
static void assert_served(void)
{
    int fd = login();
    kv_rx b = {0};
    kv_send_frame(fd, (dv_frame){.opcode = DV_OP_NOOP, .opaque = 7});
    dv_frame r = kv_recv_frame(fd, &b);
    assert_int_equal(r.opcode, DV_OP_NOOP);
    assert_int_equal(r.opaque, 7);
    kv_send_frame(fd, (dv_frame){.opcode = DV_OP_GET, .key = doc_key, .key_len = 4});
    assert_int_equal(kv_recv_frame(fd, &b).status, DV_STATUS_SUCCESS);
    kv_rx_free(&b);
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
    kv_send_all(stalled, hdr, 12);
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
    int fd = kv_dial(srv.port);
    static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    kv_send_all(fd, junk, sizeof junk - 1);
    assert_true(kv_closed_by_server(fd));
    close(fd);
    /* A header that lies about its lengths. */
    fd = login();
    uint8_t lie[24] = {0x80, 0x00, 0, 200, 0, 0, 0, 0, 0, 0, 0, 10};
    kv_send_all(fd, lie, sizeof lie);
    assert_true(kv_closed_by_server(fd));
    close(fd);
    assert_served();
}

static void broadcast_pushes_new_configs(void **state)
{
    (void)state;
    int fd = login();
    kv_rx b = {0};
    kv_send_frame(fd, (dv_frame){.opcode = DV_OP_GET_CLUSTER_CONFIG});
    assert_int_equal(kv_recv_frame(fd, &b).status, DV_STATUS_SUCCESS);
    dv_bucket *bk = dv_cluster_get_bucket(srv.cluster, "default", 7);
    assert_int_equal(dv_bucket_create_scope(bk, "pushed", NULL), 0);
    int64_t rev = dv_bucket_rev(bk);
    dv_bucket_release(bk);
    dv_net_broadcast(srv.net);
    dv_frame r = kv_recv_frame(fd, &b);
    assert_int_equal(r.magic, DV_MAGIC_SERVER_REQ);
    dv_config_version v;
    assert_int_equal(dv_extras_clustermap_push_decode(r.extras, r.extras_len, &v), 0);
    assert_int_equal(v.revision, rev);
    kv_rx_free(&b);
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
