#include "kvclient.h"

#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "mcbp/hello.h"

static void *on_open(void *ud, const char *peer, const char *local_ip)
{
    (void)local_ip;
    return dv_session_new(ud, peer);
}

static long on_data(void *s, const uint8_t *p, size_t n, dv_buf *out, size_t limit)
{
    return dv_session_data(s, p, n, out, limit);
}

static int on_authenticated(void *s)
{
    return dv_session_authenticated(s);
}

static void on_notify(void *s, dv_buf *out)
{
    dv_session_notify(s, out);
}

static void on_close(void *s)
{
    dv_session_free(s);
}

void kv_server_start(kv_server *srv, const dv_net_options *opt)
{
    char err[256];
    srv->users = dv_users_new(0);
    srv->cluster = dv_cluster_new("divan", 0, 0);
    assert_non_null(srv->users);
    assert_non_null(srv->cluster);
    assert_int_equal(dv_users_add_default(srv->users, err, sizeof err), 0);
    assert_int_equal(dv_cluster_create_default_bucket(srv->cluster), 0);
    srv->ctx = dv_session_ctx_new(srv->cluster, srv->users);
    assert_non_null(srv->ctx);
    dv_net_handlers h = {on_open, on_data, on_notify, on_close, on_authenticated, NULL};
    srv->net = dv_net_start(opt, &h, srv->ctx, err, sizeof err);
    assert_non_null(srv->net);
    srv->port = dv_net_port(srv->net);
}

void kv_server_stop(kv_server *srv)
{
    dv_net_stop(srv->net);
    dv_session_ctx_free(srv->ctx);
    dv_cluster_free(srv->cluster);
    dv_users_free(srv->users);
    memset(srv, 0, sizeof *srv);
}

void kv_rx_free(kv_rx *x)
{
    dv_buf_free(&x->b);
    x->last = 0;
}

int kv_dial_from(int port, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    /* A guard against a hang, not a synchronisation: replies come at once. */
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    if (src) {
        a.sin_addr.s_addr = inet_addr(src);
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    }
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

int kv_dial(int port)
{
    return kv_dial_from(port, NULL);
}

void kv_send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        b += w;
        n -= (size_t)w;
    }
}

void kv_send_frame(int fd, dv_frame f)
{
    dv_buf b;
    dv_buf_init(&b);
    if (!f.magic) f.magic = DV_MAGIC_REQ;
    assert_int_equal(dv_frame_encode(&b, &f), 0);
    kv_send_all(fd, dv_buf_head(&b), dv_buf_size(&b));
    dv_buf_free(&b);
}

int kv_try_recv_frame(int fd, kv_rx *x, dv_frame *f)
{
    dv_buf_consume(&x->b, x->last);
    x->last = 0;
    for (;;) {
        int rc = dv_frame_decode(dv_buf_head(&x->b), dv_buf_size(&x->b), DV_FRAME_DEFAULT_MAX_BODY,
                                 f, &x->last);
        if (rc == DV_MCBP_OK) return 1;
        assert_int_equal(rc, DV_MCBP_NEED_MORE);
        uint8_t *p = dv_buf_reserve(&x->b, 65536);
        assert_non_null(p);
        ssize_t r = recv(fd, p, 65536, 0);
        /* A reset is a close with our later requests unread. */
        if (r == 0 || (r < 0 && errno == ECONNRESET)) return 0;
        assert_true(r > 0);
        dv_buf_commit(&x->b, (size_t)r);
    }
}

dv_frame kv_recv_frame(int fd, kv_rx *x)
{
    dv_frame f;
    assert_true(kv_try_recv_frame(fd, x, &f));
    return f;
}

int kv_closed_by_server(int fd)
{
    uint8_t junk[4096];
    for (;;) {
        ssize_t r = recv(fd, junk, sizeof junk, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET)) return 1;
        if (r < 0) return 0;
    }
}

int kv_login(int port, const char *user, const char *password, const char *bucket)
{
    int fd = kv_dial(port);
    static const uint16_t features[] = {0x06, 0x07, 0x0b, 0x0c, 0x0d, 0x12};
    dv_buf v;
    kv_rx b = {0};
    dv_buf_init(&v);
    dv_hello_encode(&v, features, sizeof features / sizeof features[0]);
    dv_frame h = {.opcode = DV_OP_HELLO, .value = dv_buf_head(&v), .value_len = dv_buf_size(&v)};
    kv_send_frame(fd, h);
    int replies = 1;
    if (user) {
        char plain[256];
        int n = snprintf(plain, sizeof plain, "%c%s%c%s", 0, user, 0, password);
        kv_send_frame(fd, (dv_frame){.opcode = DV_OP_SASL_AUTH,
                                     .key = (const uint8_t *)"PLAIN",
                                     .key_len = 5,
                                     .value = (const uint8_t *)plain,
                                     .value_len = (size_t)n});
        replies++;
    }
    if (bucket) {
        kv_send_frame(fd, (dv_frame){.opcode = DV_OP_SELECT_BUCKET,
                                     .key = (const uint8_t *)bucket,
                                     .key_len = strlen(bucket)});
        replies++;
    }
    for (int i = 0; i < replies; i++)
        assert_int_equal(kv_recv_frame(fd, &b).status, DV_STATUS_SUCCESS);
    dv_buf_free(&v);
    kv_rx_free(&b);
    return fd;
}
