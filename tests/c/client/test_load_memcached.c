/* `divan load --memcached` against Debian's memcached, which the test starts on a free port: the
 * summary reports the requested operations without errors, pipelined or not, on one or two
 * connections; the documents really are in memcached; a miss counts as document_not_found; a
 * dead server is a one-line error.
 *
 * The programs: MEMCACHED (default /usr/bin/memcached, from scripts/install-deps) and DIVAN_TOOL,
 * else bin/divan of the build tree this test belongs to (<dir of the test>/../../bin). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "base/buf.h"
#include "divan/base.h"
#include "mcbp/frame.h"

#define GUARD_MS 30000 /* no wait in this test is longer: a hang fails instead */

static char tool_bin[4096];
static const char *memcached_bin;
static pid_t mc_pid;
static int mc_port;
static char url[64];

/* Run divan with args; its stdout and stderr (caller frees) and exit code. */
static int run_tool(char **out, char **err, const char *const *args)
{
    return tu_capture(tool_bin, args, GUARD_MS, out, err);
}

/* A port nobody listens on now (the kernel's choice for an ephemeral bind). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* Start memcached on a free port and wait until it accepts connections; retried on another port
 * if it exits (someone took the port between free_port and its bind). */
static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    const char *t = getenv("DIVAN_TOOL");
    if (t)
        snprintf(tool_bin, sizeof tool_bin, "%s", t);
    else
        snprintf(tool_bin, sizeof tool_bin, "%s/../../bin/divan", dirname(self));
    memcached_bin = getenv("MEMCACHED") ? getenv("MEMCACHED") : "/usr/bin/memcached";
    if (access(memcached_bin, X_OK) != 0)
        fail_msg("%s not found: scripts/install-deps installs Debian's memcached", memcached_bin);

    for (int attempt = 0; attempt < 5; attempt++) {
        mc_port = free_port();
        char port[16];
        snprintf(port, sizeof port, "%d", mc_port);
        /* As root memcached wants a user to run as. */
        char *argv[] = {
            (char *)memcached_bin,        "-p",     port, "-U", "0", "-l", "127.0.0.1", "-m", "64",
            geteuid() == 0 ? "-u" : NULL, "nobody", NULL};
        mc_pid = tu_spawn(argv, NULL, NULL);
        uint64_t end = tu_mono_ms() + GUARD_MS;
        while (tu_mono_ms() < end) {
            int fd = tu_dial(mc_port);
            if (fd >= 0) {
                close(fd);
                snprintf(url, sizeof url, "memcached://127.0.0.1:%d", mc_port);
                return 0;
            }
            if (waitpid(mc_pid, NULL, WNOHANG) == mc_pid) break; /* it exited: another port */
            poll(NULL, 0, 10);                                   /* not listening yet */
        }
        if (tu_mono_ms() >= end) break;
    }
    if (mc_pid > 0 && waitpid(mc_pid, NULL, WNOHANG) == 0) {
        kill(mc_pid, SIGKILL);
        waitpid(mc_pid, NULL, 0);
    }
    fail_msg("%s did not start listening on a free port", memcached_bin);
    return -1;
}

static int teardown(void **state)
{
    (void)state;
    if (mc_pid > 0) {
        kill(mc_pid, SIGTERM);
        waitpid(mc_pid, NULL, 0);
        mc_pid = 0;
    }
    return 0;
}

static json_int_t jint(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v)) fail_msg("\"%s\" is not an integer in the summary", name);
    return json_integer_value(v);
}

/* divan load --memcached -n 2000 --json --quiet -c C -i I: exit 0 and a summary of 2000
 * operations, no errors, a positive rate and the latency percentiles. */
static void load_ok(const char *conns, const char *in_flight)
{
    char *out, *err;
    const char *args[] = {"-U",     url,       "load",     "--memcached", "-n", "2000",
                          "--json", "--quiet", "-c",       conns,         "-i", in_flight,
                          "--keys", "500",     "--prefix", "load-mc-",    NULL};
    int rc = run_tool(&out, &err, args);
    if (rc != 0)
        fail_msg("divan load --memcached -c %s -i %s: exit %d: %s", conns, in_flight, rc, err);
    json_error_t je;
    json_t *s = json_loads(out, 0, &je);
    if (!s) fail_msg("the summary is not JSON (%s): %s", je.text, out);
    assert_int_equal(jint(s, "ops"), 2000);
    assert_int_equal(jint(s, "gets") + jint(s, "sets"), 2000);
    assert_true(jint(s, "gets") > jint(s, "sets")); /* --ratio 90 by default */
    assert_int_equal(jint(s, "errors"), 0);
    assert_int_equal(jint(s, "populate_errors"), 0);
    assert_int_equal(json_object_size(json_object_get(s, "errors_by_kind")), 0);
    assert_true(jint(s, "ops_per_sec") > 0);
    assert_int_equal(jint(s, "connections"), atoi(conns));
    assert_int_equal(jint(s, "in_flight"), atoi(in_flight));
    json_t *lat = json_object_get(s, "latency_us");
    assert_true(json_is_object(lat));
    assert_true(jint(lat, "p50") <= jint(lat, "p99"));
    assert_true(jint(lat, "p99") <= jint(lat, "max"));
    json_decref(s);
    free(out);
    free(err);
}

static void test_one_connection(void **state)
{
    (void)state;
    load_ok("1", "1");
}

static void test_one_connection_pipelined(void **state)
{
    (void)state;
    load_ok("1", "16");
}

static void test_two_connections(void **state)
{
    (void)state;
    load_ok("2", "1");
}

static void test_two_connections_pipelined(void **state)
{
    (void)state;
    load_ok("2", "16");
}

/* What populate stored is in memcached: a plain GET of one key returns the JSON document of
 * --size bytes. */
static void test_documents_stored(void **state)
{
    (void)state;
    char *out, *err;
    const char *args[] = {"-U", url,      "load", "--memcached", "-n",      "10",      "--keys",
                          "3",  "--size", "50",   "--prefix",    "stored-", "--quiet", NULL};
    assert_int_equal(run_tool(&out, &err, args), 0);
    free(out);
    free(err);

    int fd = tu_dial(mc_port);
    assert_true(fd >= 0);
    dv_buf b = DV_BUF_INIT;
    dv_frame q = {0};
    q.magic = DV_MAGIC_REQ;
    q.opcode = DV_OP_GET;
    q.opaque = 7;
    q.key = (const uint8_t *)"stored-2";
    q.key_len = 8;
    assert_int_equal(dv_frame_encode(&b, &q), DV_MCBP_OK);
    assert_int_equal(write(fd, dv_buf_head(&b), dv_buf_size(&b)), (ssize_t)dv_buf_size(&b));
    dv_buf_reset(&b);
    dv_frame r;
    size_t used;
    int rc = DV_MCBP_NEED_MORE;
    uint64_t end = tu_mono_ms() + GUARD_MS;
    while (rc == DV_MCBP_NEED_MORE && tu_mono_ms() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        assert_int_equal(poll(&p, 1, GUARD_MS), 1);
        uint8_t *space = dv_buf_reserve(&b, 4096);
        ssize_t n = read(fd, space, 4096);
        assert_true(n > 0);
        dv_buf_commit(&b, (size_t)n);
        rc = dv_frame_decode(dv_buf_head(&b), dv_buf_size(&b), 1 << 20, &r, &used);
    }
    assert_int_equal(rc, DV_MCBP_OK);
    assert_int_equal(r.magic, DV_MAGIC_RES);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.opaque, 7);
    assert_int_equal(r.value_len, 50);
    assert_memory_equal(r.value, "{\"data\":\"xxx", 12);
    assert_memory_equal(r.value + 48, "\"}", 2);
    dv_buf_free(&b);
    close(fd);
}

/* A status other than success is an error of its kind: gets of keys never stored are misses. */
static void test_misses_are_errors(void **state)
{
    (void)state;
    char *out, *err;
    const char *args[] = {"-U",
                          url,
                          "load",
                          "--memcached",
                          "-n",
                          "100",
                          "--ratio",
                          "100",
                          "--no-populate",
                          "--prefix",
                          "never-stored-",
                          "--json",
                          "--quiet",
                          "-i",
                          "4",
                          NULL};
    assert_int_equal(run_tool(&out, &err, args), 1);
    assert_non_null(strstr(out, "\"ops\":100,"));
    assert_non_null(strstr(out, "\"errors\":100,"));
    assert_non_null(strstr(out, "\"errors_by_kind\":{\"document_not_found\":100}"));
    free(out);
    free(err);
}

/* Nothing listening: one line on stderr, exit 1. */
static void test_no_server(void **state)
{
    (void)state;
    char *out, *err, dead[64];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", free_port());
    const char *args[] = {"-U", dead, "load", "--memcached", "-n", "10", "--quiet", NULL};
    assert_int_equal(run_tool(&out, &err, args), 1);
    assert_non_null(strstr(err, "divan: load: memcached 127.0.0.1:"));
    assert_non_null(strstr(err, "cannot connect"));
    assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1);
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_connection),   cmocka_unit_test(test_one_connection_pipelined),
        cmocka_unit_test(test_two_connections),  cmocka_unit_test(test_two_connections_pipelined),
        cmocka_unit_test(test_documents_stored), cmocka_unit_test(test_misses_are_errors),
        cmocka_unit_test(test_no_server),
    };
    int failed = _cmocka_run_group_tests("test_load_memcached", tests,
                                         sizeof tests / sizeof tests[0], setup, teardown);
    long live = dv_alloc_live();
    if (live > 0) {
        fprintf(stderr, "test_load_memcached: %ld allocations still live at exit\n", live);
        failed++;
    }
    return failed;
}
