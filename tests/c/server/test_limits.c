/* divan-server under attack, as a separate process started with small limits so that the
 * bounds mean something without gigabytes of traffic: stalled readers and a pipelining client
 * that never reads (unsent replies per connection and server-wide), pre-authentication
 * squatters (frame size, timeout, connection bound), repeated wrong passwords, and REST
 * slowloris (per-address connections, header timeout). Each attack is bounded in count and
 * time; a well-behaved client must be served correctly while it runs, and the server's RSS
 * (VmHWM of /proc/<pid>/status) must stay under the configured budgets plus a constant. What the
 * server logs for each close is checked at the end. The numbers measured are printed. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "mcbp/frame.h"

#include "kvclient.h"

#define GUARD_MS 30000
#define MIB      (1024 * 1024)

typedef struct server {
    pid_t pid;
    int out, err;
    int kv, http;
} server;

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#endif

static void server_start(server *s, const char *const *extra)
{
    static char bin[4096];
#ifdef UNDER_ASAN
    /* The sanitized server's allocator keeps freed memory in quarantine (256 MiB by default),
     * which an RSS bound would count; a small quarantine still catches use after free. */
    static char opts[1024];
    const char *cur = getenv("ASAN_OPTIONS");
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=1:thread_local_quarantine_size_kb=64",
             cur ? cur : "", cur && *cur ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
#endif
    tu_program("divan-server", "DIVAN_SERVER", bin, sizeof bin);
    const char *argv[64] = {bin,
                            "--kv-port",
                            "0",
                            "--http-port",
                            "0",
                            "--threads",
                            "2",
                            "--user",
                            "Administrator:password:admin",
                            "--ephemeral",
                            "--query-port",
                            "0"};
    size_t n = 12;
    for (; extra && *extra && n < 63; extra++) argv[n++] = *extra;
    argv[n] = NULL;
    s->pid = tu_spawn((char *const *)argv, &s->out, &s->err);
    char line[256];
    if (tu_read_line(s->out, line, sizeof line, GUARD_MS) != 0 ||
        sscanf(line, "divan-server kv=%d http=%d", &s->kv, &s->http) != 2) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        fail_msg("%s did not print its ports line (got \"%s\")", bin, line);
    }
}

/* Stop the server; its stderr (the caller frees). */
static char *server_stop(server *s)
{
    kill(s->pid, SIGTERM);
    size_t cap = 1 << 16, len = 0;
    char *log = malloc(cap);
    assert_non_null(log);
    for (;;) {
        if (len + 4096 > cap) {
            log = realloc(log, cap *= 2);
            assert_non_null(log);
        }
        ssize_t r = read(s->err, log + len, cap - len - 1);
        if (r <= 0) break;
        len += (size_t)r;
    }
    log[len] = '\0';
    int st;
    waitpid(s->pid, &st, 0);
    close(s->out);
    close(s->err);
    /* A clean stop: a sanitized server reports errors and leaks in its exit status. */
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("divan-server stopped badly:\n%s", log);
    return log;
}

/* A field of /proc/<pid>/status in KiB. */
static long status_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl) && line[fl] == ':') v = strtol(line + fl + 1, NULL, 10);
    fclose(f);
    assert_true(v >= 0);
    return v;
}

static const uint8_t big_key[] = {0x00, 'b', 'i', 'g'};

static void set_big(int fd, size_t size)
{
    static const uint8_t x[8];
    dv_buf b;
    dv_buf_init(&b);
    uint8_t *v = dv_buf_reserve(&b, size);
    memset(v, 'x', size);
    kv_send_frame(fd, (dv_frame){.opcode = DV_OP_SET,
                                 .extras = x,
                                 .extras_len = 8,
                                 .key = big_key,
                                 .key_len = 4,
                                 .value = v,
                                 .value_len = size});
    dv_buf_free(&b);
    kv_rx rx = {0};
    assert_int_equal(kv_recv_frame(fd, &rx).status, DV_STATUS_SUCCESS);
    kv_rx_free(&rx);
}

/* A client that is served correctly: n GETs of the big document, each whole, and a NOOP. */
static void assert_served(int port, int n, size_t size)
{
    int fd = kv_login(port, "Administrator", "password", "default");
    kv_rx rx = {0};
    for (int i = 0; i < n; i++) {
        kv_send_frame(
            fd,
            (dv_frame){.opcode = DV_OP_GET, .key = big_key, .key_len = 4, .opaque = (uint32_t)i});
        dv_frame r = kv_recv_frame(fd, &rx);
        assert_int_equal(r.status, DV_STATUS_SUCCESS);
        assert_int_equal(r.opaque, (uint32_t)i);
        assert_int_equal(r.value_len, size);
    }
    kv_send_frame(fd, (dv_frame){.opcode = DV_OP_NOOP, .opaque = 99});
    assert_int_equal(kv_recv_frame(fd, &rx).opaque, 99);
    kv_rx_free(&rx);
    close(fd);
}

/* Send what the kernel takes now of p[0..n), without blocking. */
static void send_some(int fd, const void *p, size_t n)
{
    size_t sent = 0;
    while (sent < n) {
        ssize_t w = send(fd, (const uint8_t *)p + sent, n - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w <= 0) break;
        sent += (size_t)w;
    }
}

/* ---- Item 2: unsent replies ------------------------------------------------------------------ */

#define DOC_SIZE     (512 * 1024)
#define STALLED      40
#define PER_CONN_CAP "1M"
#define BUDGET_MIB   8

static void stalled_readers_stay_within_the_budgets(void **state)
{
    (void)state;
    server s;
    const char *extra[] = {"--max-pending-out", PER_CONN_CAP, "--max-pending-total", "8M", NULL};
    server_start(&s, extra);
    int admin = kv_login(s.kv, "Administrator", "password", "default");
    set_big(admin, DOC_SIZE);
    assert_served(s.kv, 2, DOC_SIZE);
    long base = status_kib(s.pid, "VmRSS");

    /* 2,000 GETs in one write, never read; then stalled readers pipelining GETs. */
    dv_buf req;
    dv_buf_init(&req);
    dv_frame g = {.magic = DV_MAGIC_REQ, .opcode = DV_OP_GET, .key = big_key, .key_len = 4};
    for (int i = 0; i < 2000; i++) dv_frame_encode(&req, &g);
    int flood = kv_login(s.kv, "Administrator", "password", "default");
    send_some(flood, dv_buf_head(&req), dv_buf_size(&req));
    int stalled[STALLED];
    for (int i = 0; i < STALLED; i++) {
        stalled[i] = kv_login(s.kv, "Administrator", "password", "default");
        send_some(stalled[i], dv_buf_head(&req), 64 * 24 + 64 * 4);
    }
    /* Served throughout: many round trips, after the attackers' requests reached the server. */
    uint64_t t0 = tu_mono_ms();
    assert_served(s.kv, 32, DOC_SIZE);
    uint64_t served_ms = tu_mono_ms() - t0;
    long peak = status_kib(s.pid, "VmHWM");
    /* Budget, plus one reply per connection beyond it, plus a constant for the rest. */
    long bound = (BUDGET_MIB + (STALLED + 1) * (DOC_SIZE / MIB + 1) + 32) * 1024L;
    print_message("stalled readers: base RSS %ld KiB, peak %ld KiB (+%ld), bound +%ld KiB; "
                  "a reading client got 32 x 512 KiB in %llu ms\n",
                  base, peak, peak - base, bound, (unsigned long long)served_ms);
    for (int i = 0; i < STALLED; i++) close(stalled[i]);
    close(flood);
    dv_buf_free(&req);
    assert_true(peak - base < bound);
    /* Once they are gone, everything is served again. */
    assert_served(s.kv, 2, DOC_SIZE);
    close(admin);
    free(server_stop(&s));
}

/* ---- Items 3 and 5: before authentication ------------------------------------------------------
 */

#define SQUATTERS 24

static void preauth_squatters_are_refused_and_closed(void **state)
{
    (void)state;
    server s;
    const char *extra[] = {"--preauth-timeout",
                           "0.5",
                           "--max-preauth-connections",
                           "16",
                           "--frame-timeout",
                           "0.5",
                           NULL};
    server_start(&s, extra);
    int admin = kv_login(s.kv, "Administrator", "password", "default");
    set_big(admin, 1024);
    long base = status_kib(s.pid, "VmRSS");

    /* Declare a 30 MiB body, send 1 MiB of it: closed at the header. */
    uint8_t *junk = calloc(1, MIB);
    assert_non_null(junk);
    uint8_t hdr[24] = {0x80, DV_OP_SET, 0, 4, 8, 0, 0, 0};
    uint32_t body = 30u * MIB;
    hdr[8] = (uint8_t)(body >> 24);
    hdr[9] = (uint8_t)(body >> 16);
    hdr[10] = (uint8_t)(body >> 8);
    hdr[11] = (uint8_t)body;
    for (int i = 0; i < 20; i++) {
        int fd = kv_dial(s.kv);
        kv_send_all(fd, hdr, sizeof hdr);
        send_some(fd, junk, MIB);
        assert_true(kv_closed_by_server(fd));
        close(fd);
    }
    free(junk);

    /* Idle squatters, more than the bound: the oldest make room, the rest time out. */
    int sq[SQUATTERS];
    uint64_t opened = tu_mono_ms();
    for (int i = 0; i < SQUATTERS; i++) sq[i] = kv_dial(s.kv);
    /* Served while they squat. */
    assert_served(s.kv, 4, 1024);
    uint64_t last_close = 0;
    for (int i = 0; i < SQUATTERS; i++) {
        assert_true(kv_closed_by_server(sq[i]));
        last_close = tu_mono_ms() - opened;
        close(sq[i]);
    }
    /* An authenticated client holding half a request is closed too. */
    int half = kv_login(s.kv, "Administrator", "password", "default");
    kv_send_all(half, hdr, 12);
    uint64_t t0 = tu_mono_ms();
    assert_true(kv_closed_by_server(half));
    uint64_t half_ms = tu_mono_ms() - t0;
    close(half);

    /* Repeated wrong passwords: AUTH_ERROR three times, then the connection is closed. */
    int guess = kv_dial(s.kv);
    kv_rx rx = {0};
    int errors = 0;
    for (int i = 0; i < 10; i++) {
        static const char plain[] = "\0Administrator\0guess";
        kv_send_frame(guess, (dv_frame){.opcode = DV_OP_SASL_AUTH,
                                        .key = (const uint8_t *)"PLAIN",
                                        .key_len = 5,
                                        .value = (const uint8_t *)plain,
                                        .value_len = sizeof plain - 1});
        dv_frame r;
        if (!kv_try_recv_frame(guess, &rx, &r)) break;
        assert_int_equal(r.status, DV_STATUS_AUTH_ERROR);
        errors++;
    }
    assert_int_equal(errors, 3);
    kv_rx_free(&rx);
    close(guess);

    assert_served(s.kv, 4, 1024);
    long peak = status_kib(s.pid, "VmHWM");
    print_message("pre-auth: peak RSS +%ld KiB over %ld KiB; %d squatters all closed %llu ms "
                  "after connecting (timeout 500 ms); a half request closed after %llu ms\n",
                  peak - base, base, SQUATTERS, (unsigned long long)last_close,
                  (unsigned long long)half_ms);
    assert_true(peak - base < 32 * 1024);
    close(admin);
    char *log = server_stop(&s);
    assert_non_null(strstr(log, "before authentication"));
    assert_non_null(strstr(log, "too many connections awaiting authentication"));
    assert_non_null(strstr(log, "not authenticated in time"));
    assert_non_null(strstr(log, "an incomplete request held too long"));
    assert_non_null(strstr(log, "too many failures"));
    free(log);
}

/* ---- Item 4: REST slowloris -------------------------------------------------------------------
 */

#define LORIS 40

static int http_get_ok(int port)
{
    int fd = kv_dial_from(port, NULL);
    static const char req[] = "GET /pools HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Authorization: Basic QWRtaW5pc3RyYXRvcjpwYXNzd29yZA==\r\n"
                              "Connection: close\r\n\r\n";
    kv_send_all(fd, req, sizeof req - 1);
    char line[256];
    int ok = tu_read_line(fd, line, sizeof line, GUARD_MS) == 0 &&
             strncmp(line, "HTTP/1.1 200", 12) == 0;
    close(fd);
    return ok;
}

static void rest_slowloris_leaves_room_for_others(void **state)
{
    (void)state;
    server s;
    const char *extra[] = {"--rest-max-per-ip", "8", "--rest-header-timeout", "0.5", NULL};
    server_start(&s, extra);
    long base = status_kib(s.pid, "VmRSS");
    /* From another loopback address: partial headers, then nothing. */
    int lor[LORIS];
    uint64_t opened = tu_mono_ms();
    for (int i = 0; i < LORIS; i++) {
        lor[i] = kv_dial_from(s.http, "127.0.0.2");
        send_some(lor[i], "GET /pools HTTP/1.1\r\nHost: x\r\nX-a: ", 34);
    }
    int served = 0;
    for (int i = 0; i < 20; i++) served += http_get_ok(s.http);
    assert_int_equal(served, 20);
    uint64_t last_close = 0;
    for (int i = 0; i < LORIS; i++) {
        assert_true(kv_closed_by_server(lor[i]));
        last_close = tu_mono_ms() - opened;
        close(lor[i]);
    }
    long peak = status_kib(s.pid, "VmHWM");
    print_message(
        "REST slowloris: %d/20 requests served meanwhile; all %d trickling connections "
        "closed within %llu ms (header timeout 500 ms, 8 per address); peak RSS +%ld KiB\n",
        served, LORIS, (unsigned long long)last_close, peak - base);
    char *log = server_stop(&s);
    assert_non_null(strstr(log, "request headers not received"));
    free(log);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stalled_readers_stay_within_the_budgets),
        cmocka_unit_test(preauth_squatters_are_refused_and_closed),
        cmocka_unit_test(rest_slowloris_leaves_room_for_others),
    };
    return TU_RUN(tests);
}
