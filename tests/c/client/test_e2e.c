/* End to end: libdivan's native driver (client.h) and the divan tool against a real divan-server
 * that the test starts on free ports. Every operation kind and error path through the public
 * API; the tool as a subprocess; and a server killed and restarted on the same ports under load:
 * pending operations fail by their deadlines, the client reconnects by itself.
 *
 * The programs: DIVAN_SERVER and DIVAN_TOOL, else bin/divan-server and bin/divan of the build
 * tree this test belongs to (<dir of the test>/../../bin). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "divan/client.h"
#include "divan/rows.h"
#include "mcbp/protocol.h"

#define GUARD_MS 30000 /* no wait in this test is longer: a hang fails instead */

/* ---- Processes ------------------------------------------------------------------------------- */

static char server_bin[4096], tool_bin[4096];

static void find_bins(void)
{
    tu_program("divan-server", "DIVAN_SERVER", server_bin, sizeof server_bin);
    tu_program("divan", "DIVAN_TOOL", tool_bin, sizeof tool_bin);
}

typedef struct server {
    pid_t pid;
    int out;
    int kv, http;
    char connstr[64];
    char data_dir[32]; /* its own, removed by server_kill */
} server;

static void server_start(server *s, int kv, int http)
{
    char kvs[16], https[16];
    snprintf(kvs, sizeof kvs, "%d", kv);
    snprintf(https, sizeof https, "%d", http);
    /* A new data directory per server (the durability test writes with persistToMajority). */
    snprintf(s->data_dir, sizeof s->data_dir, "/tmp/divan-e2e-XXXXXX");
    assert_non_null(mkdtemp(s->data_dir));
    char *argv[] = {server_bin,
                    "--data-dir",
                    s->data_dir,
                    "--kv-port",
                    kvs,
                    "--http-port",
                    https,
                    "--query-port",
                    "0",
                    "--threads",
                    "2",
                    "--user",
                    "Administrator:password:admin",
                    NULL};
    s->pid = tu_spawn(argv, &s->out, NULL);
    char line[256];
    if (tu_read_line(s->out, line, sizeof line, GUARD_MS) != 0 ||
        sscanf(line, "divan-server kv=%d http=%d", &s->kv, &s->http) != 2) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        fail_msg("%s did not print its ports line (got \"%s\")", server_bin, line);
    }
    snprintf(s->connstr, sizeof s->connstr, "couchbase://127.0.0.1:%d", s->kv);
}

static void server_kill(server *s)
{
    if (s->pid <= 0) return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    close(s->out);
    s->pid = 0;
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->data_dir);
    if (system(cmd) != 0) fprintf(stderr, "test_e2e: cannot remove %s\n", s->data_dir);
}

/* Run divan with args; its stdout and stderr (caller frees) and exit code. */
static int run_tool(char **out, char **err, const char *const *args)
{
    return tu_capture(tool_bin, args, GUARD_MS, out, err);
}

/* A raw HTTP request with basic auth as Administrator; the status code. */
static int http_post(int port, const char *path, const char *form)
{
    int fd = tu_dial(port);
    assert_true(fd >= 0);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: Basic QWRtaW5pc3RyYXRvcjpwYXNzd29yZA==\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     path, strlen(form), form);
    assert_int_equal(write(fd, req, (size_t)n), n);
    char line[256];
    assert_int_equal(tu_read_line(fd, line, sizeof line, GUARD_MS), 0);
    close(fd);
    int status = 0;
    assert_int_equal(sscanf(line, "HTTP/1.%*d %d", &status), 1);
    return status;
}

/* ---- Results --------------------------------------------------------------------------------- */

typedef struct result {
    dv_error err;
    uint64_t cas;
    uint32_t flags, expiry;
    uint8_t datatype;
    char *value;
    size_t value_len;
    int exists, deleted, has_token;
    uint64_t counter;
    size_t nspecs;
    dv_error spec_err[DV_MAX_SPECS];
    char *spec_val[DV_MAX_SPECS];
    uint8_t opcode;
    char node[128], reasons[256], key[256];
    uint64_t elapsed_us;
} result;

static char *dupn(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (n) memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Copy what the test checks (a dv_res is borrowed for the callback only; no asserts here: this
 * runs on the driver's thread). */
static void keep(void *ud, const dv_res *r)
{
    result *x = ud;
    memset(x, 0, sizeof *x);
    x->err = r->err;
    x->cas = r->cas;
    x->flags = r->flags;
    x->expiry = r->expiry;
    x->datatype = r->datatype;
    x->value = dupn(r->value, r->value_len);
    x->value_len = r->value_len;
    x->exists = r->exists;
    x->deleted = r->deleted;
    x->has_token = r->has_token;
    x->counter = r->counter;
    x->nspecs = r->nspecs;
    for (size_t i = 0; i < r->nspecs && i < DV_MAX_SPECS; i++) {
        x->spec_err[i] = r->specs[i].err;
        x->spec_val[i] = dupn(r->specs[i].value, r->specs[i].value_len);
    }
    if (r->ctx) {
        x->opcode = r->ctx->opcode;
        snprintf(x->node, sizeof x->node, "%s", r->ctx->node ? r->ctx->node : "");
        snprintf(x->reasons, sizeof x->reasons, "%s",
                 r->ctx->retry_reasons ? r->ctx->retry_reasons : "");
        snprintf(x->key, sizeof x->key, "%.*s", (int)r->ctx->key_len,
                 r->ctx->key ? r->ctx->key : "");
        x->elapsed_us = r->ctx->elapsed_us;
    }
}

static void result_free(result *x)
{
    free(x->value);
    for (size_t i = 0; i < x->nspecs && i < DV_MAX_SPECS; i++) free(x->spec_val[i]);
    memset(x, 0, sizeof *x);
}

/* ---- The shared server and client -------------------------------------------------------------
 */

static server srv;
static dv_client *cli;

typedef struct box {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    result r;
} box;

#define BOX_INIT                                                                                   \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,                                    \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

static void box_done(void *ud, const dv_res *r)
{
    box *b = ud;
    pthread_mutex_lock(&b->mu);
    keep(&b->r, r);
    b->done = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static int box_wait(box *b, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&b->mu);
    while (!b->done)
        if (pthread_cond_timedwait(&b->cv, &b->mu, &ts) == ETIMEDOUT) break;
    int done = b->done;
    pthread_mutex_unlock(&b->mu);
    return done;
}

static dv_error open_bucket(dv_client *c, const char *bucket)
{
    box b = BOX_INIT;
    assert_int_equal(dv_client_open_bucket(c, bucket, box_done, &b), DV_ERR_OK);
    if (!box_wait(&b, GUARD_MS)) fail_msg("open_bucket %s did not call back", bucket);
    dv_error e = b.r.err;
    result_free(&b.r);
    return e;
}

static dv_client *client_for(const char *connstr, const char *user, const char *pass,
                             uint64_t kv_timeout_ms)
{
    dv_client_opts o = {0};
    o.connstr = connstr;
    o.username = user;
    o.password = pass;
    o.kv_timeout_ms = kv_timeout_ms;
    o.connect_timeout_ms = 2000;
    o.bootstrap_timeout_ms = 3000;
    dv_client *c = NULL;
    char err[256];
    dv_error rc = dv_client_new(&o, &c, err, sizeof err);
    if (rc != DV_ERR_OK) fail_msg("dv_client_new: %s", err);
    return c;
}

static dv_req req(dv_op_kind kind, const char *key)
{
    dv_req q;
    memset(&q, 0, sizeof q);
    q.kind = kind;
    q.bucket = "default";
    q.key = key;
    q.key_len = strlen(key);
    return q;
}

static void set_value(dv_req *q, const char *v)
{
    q->value = v;
    q->value_len = strlen(v);
    q->datatype = v[0] == '{' || v[0] == '[' ? 0x01 : 0;
    q->flags = q->datatype ? 0x02000000u : 0x04000000u;
}

/* Run q through dv_client_run; the result in *x. */
static void run_on(dv_client *c, const dv_req *q, result *x)
{
    memset(x, 0, sizeof *x);
    assert_int_equal(dv_client_run(c, q, keep, x), DV_ERR_OK);
}

static void run(const dv_req *q, result *x)
{
    run_on(cli, q, x);
}

static uint64_t must_store(const char *key, const char *value)
{
    dv_req q = req(DV_KV_UPSERT, key);
    set_value(&q, value);
    result x;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    uint64_t cas = x.cas;
    result_free(&x);
    return cas;
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    find_bins();
    server_start(&srv, 0, 0);
    cli = client_for(srv.connstr, "Administrator", "password", 0);
    assert_int_equal(open_bucket(cli, "default"), DV_ERR_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dv_client_close(cli);
    cli = NULL;
    server_kill(&srv);
    return 0;
}

/* ---- Key-value operations ---------------------------------------------------------------------
 */

static void test_upsert_get(void **state)
{
    (void)state;
    uint64_t cas = must_store("e2e-doc", "{\"a\":1,\"b\":\"two\"}");
    assert_true(cas != 0);
    dv_req q = req(DV_KV_GET, "e2e-doc");
    result x;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    assert_string_equal(x.value, "{\"a\":1,\"b\":\"two\"}");
    assert_int_equal(x.flags, 0x02000000u);
    assert_true(x.datatype & 0x01);
    assert_true(x.cas == cas);
    result_free(&x);
}

static void test_insert_existing(void **state)
{
    (void)state;
    must_store("e2e-ins", "\"x\"");
    dv_req q = req(DV_KV_INSERT, "e2e-ins");
    set_value(&q, "\"y\"");
    result x;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_DOCUMENT_EXISTS);
    result_free(&x);
    q = req(DV_KV_INSERT, "e2e-ins-new");
    set_value(&q, "\"y\"");
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    result_free(&x);
}

static void test_get_missing(void **state)
{
    (void)state;
    dv_req q = req(DV_KV_GET, "e2e-missing");
    result x;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_DOCUMENT_NOT_FOUND);
    /* The error context names the operation, the key and the node. */
    assert_int_equal(x.opcode, DV_OP_GET);
    assert_string_equal(x.key, "e2e-missing");
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", srv.kv);
    assert_string_equal(x.node, want);
    result_free(&x);
}

static void test_replace_cas(void **state)
{
    (void)state;
    uint64_t cas = must_store("e2e-cas", "1");
    dv_req q = req(DV_KV_REPLACE, "e2e-cas");
    set_value(&q, "2");
    q.cas = cas + 1;
    result x;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_CAS_MISMATCH);
    result_free(&x);
    q.cas = cas;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    assert_true(x.cas != cas);
    result_free(&x);
    q = req(DV_KV_REPLACE, "e2e-cas-missing");
    set_value(&q, "2");
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_DOCUMENT_NOT_FOUND);
    result_free(&x);
}

static void test_remove(void **state)
{
    (void)state;
    must_store("e2e-rm", "1");
    dv_req q = req(DV_KV_REMOVE, "e2e-rm");
    result x;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    result_free(&x);
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_DOCUMENT_NOT_FOUND);
    result_free(&x);
    q = req(DV_KV_GET, "e2e-rm");
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_DOCUMENT_NOT_FOUND);
    result_free(&x);
}

static void test_touch_expiry(void **state)
{
    (void)state;
    must_store("e2e-touch", "1");
    dv_req q = req(DV_KV_TOUCH, "e2e-touch");
    q.expiry = 100;
    result x;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    result_free(&x);
    q = req(DV_KV_GET, "e2e-touch");
    q.with_expiry = 1;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    uint32_t now = (uint32_t)time(NULL);
    assert_true(x.expiry > now && x.expiry <= now + 101);
    result_free(&x);
    q = req(DV_KV_GET_AND_TOUCH, "e2e-touch");
    q.expiry = 0;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    assert_string_equal(x.value, "1");
    result_free(&x);
}

static void test_lock_unlock(void **state)
{
    (void)state;
    must_store("e2e-lock", "1");
    dv_req q = req(DV_KV_GET_AND_LOCK, "e2e-lock");
    q.lock_time = 15;
    result x;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    uint64_t lock_cas = x.cas;
    result_free(&x);

    /* A write to a locked document is retried until its deadline. */
    dv_req w = req(DV_KV_UPSERT, "e2e-lock");
    set_value(&w, "2");
    w.timeout_ms = 300;
    run(&w, &x);
    assert_true(x.err == DV_ERR_AMBIGUOUS_TIMEOUT || x.err == DV_ERR_UNAMBIGUOUS_TIMEOUT);
    assert_non_null(strstr(x.reasons, "key_value_locked"));
    result_free(&x);

    q = req(DV_KV_UNLOCK, "e2e-lock");
    q.cas = lock_cas;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    result_free(&x);
    run(&q, &x); /* not locked any more */
    assert_true(x.err != DV_ERR_OK);
    result_free(&x);
    w.timeout_ms = 0;
    run(&w, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    result_free(&x);
}

static void test_counters(void **state)
{
    (void)state;
    dv_req q = req(DV_KV_INCREMENT, "e2e-ctr");
    q.delta = 1;
    result x;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_DOCUMENT_NOT_FOUND);
    result_free(&x);
    q.has_initial = 1;
    q.initial = 10;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    assert_int_equal(x.counter, 10);
    result_free(&x);
    q.delta = 5;
    run(&q, &x);
    assert_int_equal(x.counter, 15);
    result_free(&x);
    q.kind = DV_KV_DECREMENT;
    q.delta = 20;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    assert_int_equal(x.counter, 0); /* counters stop at zero */
    result_free(&x);
    must_store("e2e-ctr-text", "\"text\"");
    q = req(DV_KV_INCREMENT, "e2e-ctr-text");
    q.delta = 1;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_DELTA_INVALID);
    result_free(&x);
}

static void test_append_prepend(void **state)
{
    (void)state;
    must_store("e2e-ap", "b");
    dv_req q = req(DV_KV_APPEND, "e2e-ap");
    q.value = "c";
    q.value_len = 1;
    result x;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    result_free(&x);
    q.kind = DV_KV_PREPEND;
    q.value = "a";
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    result_free(&x);
    q = req(DV_KV_GET, "e2e-ap");
    run(&q, &x);
    assert_string_equal(x.value, "abc");
    result_free(&x);
    q = req(DV_KV_APPEND, "e2e-ap-missing");
    q.value = "c";
    q.value_len = 1;
    run(&q, &x);
    assert_true(x.err == DV_ERR_DOCUMENT_NOT_FOUND);
    result_free(&x);
}

static void test_exists(void **state)
{
    (void)state;
    uint64_t cas = must_store("e2e-ex", "1");
    dv_req q = req(DV_KV_EXISTS, "e2e-ex");
    result x;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    assert_true(x.exists);
    assert_true(x.cas == cas);
    result_free(&x);
    q = req(DV_KV_EXISTS, "e2e-ex-missing");
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    assert_false(x.exists);
    result_free(&x);
}

static void test_subdoc(void **state)
{
    (void)state;
    must_store("e2e-sd", "{\"a\":1,\"arr\":[1]}");
    dv_subdoc_op m[] = {
        {DV_OP_SUBDOC_DICT_UPSERT, DV_SUBDOC_PATH_XATTR | DV_SUBDOC_PATH_MKDIR_P, "meta.by", 7,
         "\"me\"", 4},
        {DV_OP_SUBDOC_DICT_UPSERT, 0, "b", 1, "2", 1},
        {DV_OP_SUBDOC_COUNTER, 0, "a", 1, "5", 1},
        {DV_OP_SUBDOC_ARRAY_PUSH_LAST, 0, "arr", 3, "2", 1},
    };
    dv_req q = req(DV_KV_MUTATE_IN, "e2e-sd");
    q.specs = m;
    q.nspecs = 4;
    result x;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    assert_int_equal(x.nspecs, 4);
    assert_string_equal(x.spec_val[2], "6"); /* the counter's new value */
    result_free(&x);

    dv_subdoc_op l[] = {
        {DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_XATTR, "meta.by", 7, NULL, 0},
        {DV_OP_SUBDOC_GET, 0, "b", 1, NULL, 0},
        {DV_OP_SUBDOC_EXISTS, 0, "nope", 4, NULL, 0},
        {DV_OP_SUBDOC_GET_COUNT, 0, "arr", 3, NULL, 0},
    };
    q = req(DV_KV_LOOKUP_IN, "e2e-sd");
    q.specs = l;
    q.nspecs = 4;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    assert_int_equal(x.nspecs, 4);
    assert_int_equal(x.spec_err[0], DV_ERR_OK);
    assert_string_equal(x.spec_val[0], "\"me\"");
    assert_string_equal(x.spec_val[1], "2");
    assert_int_equal(x.spec_err[2], DV_ERR_OK); /* exists: an answer, not an error */
    assert_string_equal(x.spec_val[2], "false");
    assert_string_equal(x.spec_val[3], "2");
    result_free(&x);

    /* A failing path fails the whole mutation and changes nothing. */
    dv_subdoc_op bad[] = {
        {DV_OP_SUBDOC_DICT_UPSERT, 0, "c", 1, "3", 1},
        {DV_OP_SUBDOC_REPLACE, 0, "no.such", 7, "1", 1},
    };
    q = req(DV_KV_MUTATE_IN, "e2e-sd");
    q.specs = bad;
    q.nspecs = 2;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_PATH_NOT_FOUND);
    result_free(&x);
    q = req(DV_KV_GET, "e2e-sd");
    run(&q, &x);
    assert_null(strstr(x.value, "\"c\""));
    result_free(&x);

    /* Upsert semantics create the document; on a missing document lookups fail as a whole. */
    dv_subdoc_op mk[] = {{DV_OP_SUBDOC_DICT_UPSERT, 0, "n", 1, "1", 1}};
    q = req(DV_KV_MUTATE_IN, "e2e-sd-new");
    q.specs = mk;
    q.nspecs = 1;
    q.store_semantics = DV_STORE_UPSERT;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    result_free(&x);
    q = req(DV_KV_LOOKUP_IN, "e2e-sd-missing");
    q.specs = l;
    q.nspecs = 1;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_DOCUMENT_NOT_FOUND);
    result_free(&x);
}

static void test_durability(void **state)
{
    (void)state;
    dv_req q = req(DV_KV_UPSERT, "e2e-dur");
    set_value(&q, "{\"d\":1}");
    q.durability = 1;
    result x;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    assert_true(x.cas != 0);
    result_free(&x);
    q.kind = DV_KV_REMOVE;
    q.durability = 3;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    result_free(&x);
}

static void test_collection(void **state)
{
    (void)state;
    assert_int_equal(http_post(srv.http, "/pools/default/buckets/default/scopes", "name=e2e"), 200);
    assert_int_equal(
        http_post(srv.http, "/pools/default/buckets/default/scopes/e2e/collections", "name=c1"),
        200);
    dv_req q = req(DV_KV_UPSERT, "e2e-coll");
    q.scope = "e2e";
    q.collection = "c1";
    set_value(&q, "{\"in\":\"c1\"}");
    result x;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    result_free(&x);
    q.kind = DV_KV_GET;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    assert_string_equal(x.value, "{\"in\":\"c1\"}");
    result_free(&x);
    /* Not in the default collection. */
    q = req(DV_KV_GET, "e2e-coll");
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_DOCUMENT_NOT_FOUND);
    result_free(&x);
    /* An unknown collection fails by the deadline. */
    q = req(DV_KV_GET, "e2e-coll");
    q.scope = "e2e";
    q.collection = "nope";
    q.timeout_ms = 500;
    run(&q, &x);
    assert_true(x.err == DV_ERR_COLLECTION_NOT_FOUND || x.err == DV_ERR_UNAMBIGUOUS_TIMEOUT ||
                x.err == DV_ERR_AMBIGUOUS_TIMEOUT);
    result_free(&x);
}

static void test_bad_requests(void **state)
{
    (void)state;
    dv_req q = req(DV_KV_GET, "");
    result x;
    assert_int_equal(dv_client_run(cli, &q, keep, &x), DV_ERR_INVALID_ARGUMENT);
    char big[300];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    q = req(DV_KV_GET, big);
    assert_int_equal(dv_client_submit(cli, &q, keep, &x), DV_ERR_INVALID_ARGUMENT);
}

static void test_wrong_password(void **state)
{
    (void)state;
    dv_client *c = client_for(srv.connstr, "Administrator", "wrong", 1000);
    assert_int_equal(open_bucket(c, "default"), DV_ERR_AUTHENTICATION_FAILURE);
    dv_client_close(c);
}

/* ---- The cluster-level connection, ping, diagnostics ---- */

typedef struct epbox {
    box b;
    size_t n;
    dv_endpoint ep[8];
    char remote[8][64];
    int has_bucket[8];
} epbox;

static void ep_done(void *ud, const dv_res *r)
{
    epbox *x = ud;
    pthread_mutex_lock(&x->b.mu);
    x->b.r.err = r->err;
    x->n = r->nendpoints < 8 ? r->nendpoints : 8;
    for (size_t i = 0; i < x->n; i++) {
        x->ep[i] = r->endpoints[i];
        snprintf(x->remote[i], sizeof x->remote[i], "%s", r->endpoints[i].remote);
        x->has_bucket[i] = r->endpoints[i].bucket != NULL;
        x->ep[i].remote = x->ep[i].bucket = NULL;
    }
    x->b.done = 1;
    pthread_cond_signal(&x->b.cv);
    pthread_mutex_unlock(&x->b.mu);
}

static void ep_init(epbox *x)
{
    memset(x, 0, sizeof *x);
    pthread_mutex_init(&x->b.mu, NULL);
    pthread_cond_init(&x->b.cv, NULL);
}

static void ep_fini(epbox *x)
{
    pthread_mutex_destroy(&x->b.mu);
    pthread_cond_destroy(&x->b.cv);
}

static void test_cluster_connect(void **state)
{
    (void)state;
    dv_client *c = client_for(srv.connstr, "Administrator", "password", 0);
    epbox x;
    ep_init(&x);
    assert_int_equal(dv_client_connect(c, ep_done, &x), DV_ERR_OK);
    assert_true(box_wait(&x.b, GUARD_MS));
    assert_int_equal(x.b.r.err, DV_ERR_OK);
    ep_fini(&x);

    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", srv.kv);
    ep_init(&x);
    assert_int_equal(dv_client_ping(c, NULL, ep_done, &x), DV_ERR_OK);
    assert_true(box_wait(&x.b, GUARD_MS));
    assert_int_equal(x.n, 1);
    assert_int_equal(x.ep[0].err, DV_ERR_OK);
    assert_int_equal(x.ep[0].state, DV_ENDPOINT_CONNECTED);
    assert_int_equal(x.has_bucket[0], 0);
    assert_string_equal(x.remote[0], want);
    ep_fini(&x);

    assert_int_equal(open_bucket(c, "default"), DV_ERR_OK);
    ep_init(&x);
    assert_int_equal(dv_client_ping(c, "default", ep_done, &x), DV_ERR_OK);
    assert_true(box_wait(&x.b, GUARD_MS));
    assert_int_equal(x.n, 1);
    assert_int_equal(x.ep[0].err, DV_ERR_OK);
    assert_int_equal(x.has_bucket[0], 1);
    ep_fini(&x);

    ep_init(&x);
    assert_int_equal(dv_client_diagnostics(c, ep_done, &x), DV_ERR_OK);
    assert_true(box_wait(&x.b, GUARD_MS));
    assert_int_equal(x.n, 2); /* the cluster connection and the bucket's */
    assert_int_equal(x.has_bucket[0] + x.has_bucket[1], 1);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(x.ep[i].state, DV_ENDPOINT_CONNECTED);
        assert_string_equal(x.remote[i], want);
    }
    ep_fini(&x);
    dv_client_close(c);
}

static void test_cluster_wrong_password(void **state)
{
    (void)state;
    dv_client *c = client_for(srv.connstr, "Administrator", "wrong", 1000);
    epbox x;
    ep_init(&x);
    assert_int_equal(dv_client_connect(c, ep_done, &x), DV_ERR_OK);
    assert_true(box_wait(&x.b, GUARD_MS));
    assert_int_equal(x.b.r.err, DV_ERR_AUTHENTICATION_FAILURE);
    ep_fini(&x);
    dv_client_close(c);
}

static void test_unknown_bucket(void **state)
{
    (void)state;
    dv_client *c = client_for(srv.connstr, "Administrator", "password", 1000);
    assert_int_equal(open_bucket(c, "nosuchbucket"), DV_ERR_BUCKET_NOT_FOUND);
    dv_client_close(c);
}

static void test_bad_connstr(void **state)
{
    (void)state;
    dv_client_opts o = {0};
    o.connstr = "couchbases://127.0.0.1";
    o.cert_path = "/nonexistent/client.pem";
    o.key_path = "/nonexistent/client.key";
    o.username = "a";
    o.password = "b";
    dv_client *c = (dv_client *)1;
    char err[256];
    assert_int_not_equal(dv_client_new(&o, &c, err, sizeof err), DV_ERR_OK);
    assert_null(c);
    o.cert_path = o.key_path = NULL;
    o.connstr = "couchbase://host:notaport";
    assert_int_not_equal(dv_client_new(&o, &c, err, sizeof err), DV_ERR_OK);
    assert_null(c);
    assert_true(err[0] != '\0');
}

/* A completion may submit again, but not wait for itself. */
typedef struct chain {
    box b;
    dv_client *c;
    dv_error run_rc, submit_rc;
} chain;

static void chain_first(void *ud, const dv_res *r)
{
    chain *ch = ud;
    (void)r;
    dv_req q = req(DV_KV_GET, "e2e-chain");
    result dummy;
    ch->run_rc = dv_client_run(ch->c, &q, keep, &dummy);
    ch->submit_rc = dv_client_submit(ch->c, &q, box_done, &ch->b);
}

static void test_submit_from_callback(void **state)
{
    (void)state;
    must_store("e2e-chain", "\"chained\"");
    chain ch = {BOX_INIT, cli, DV_ERR_OK, DV_ERR_OK};
    dv_req q = req(DV_KV_EXISTS, "e2e-chain");
    assert_int_equal(dv_client_submit(cli, &q, chain_first, &ch), DV_ERR_OK);
    assert_true(box_wait(&ch.b, GUARD_MS));
    assert_int_equal(ch.run_rc, DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(ch.submit_rc, DV_ERR_OK);
    assert_int_equal(ch.b.r.err, DV_ERR_OK);
    assert_string_equal(ch.b.r.value, "\"chained\"");
    result_free(&ch.b.r);
}

/* Closing a client fails what is pending with REQUEST_CANCELED, at once. */
static void test_close_cancels(void **state)
{
    (void)state;
    must_store("e2e-close", "1");
    dv_req q = req(DV_KV_GET_AND_LOCK, "e2e-close");
    q.lock_time = 20;
    result x;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    uint64_t lock_cas = x.cas;
    result_free(&x);

    dv_client *c = client_for(srv.connstr, "Administrator", "password", 0);
    assert_int_equal(open_bucket(c, "default"), DV_ERR_OK);
    box b = BOX_INIT;
    q = req(DV_KV_UPSERT, "e2e-close");
    set_value(&q, "2");
    q.timeout_ms = 20000; /* retried while locked: pending until closed */
    assert_int_equal(dv_client_submit(c, &q, box_done, &b), DV_ERR_OK);
    uint64_t t0 = tu_mono_ms();
    dv_client_close(c);
    assert_true(box_wait(&b, 0)); /* called back before close returned */
    assert_int_equal(b.r.err, DV_ERR_REQUEST_CANCELED);
    assert_true(tu_mono_ms() - t0 < 10000);
    result_free(&b.r);

    q = req(DV_KV_UNLOCK, "e2e-close");
    q.cas = lock_cas;
    run(&q, &x);
    assert_int_equal(x.err, DV_ERR_OK);
    result_free(&x);
}

/* ---- Many operations from many threads ----------------------------------------------------------
 */

typedef struct many {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int left, failed;
    dv_error first_err;
} many;

static void many_done(void *ud, const dv_res *r)
{
    many *m = ud;
    pthread_mutex_lock(&m->mu);
    if (r->err != DV_ERR_OK && !m->failed++) m->first_err = r->err;
    if (--m->left == 0) pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

typedef struct worker_arg {
    many *m;
    int t, n;
    dv_op_kind kind;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        char key[64], val[64];
        snprintf(key, sizeof key, "e2e-many-%d-%d", a->t, i);
        snprintf(val, sizeof val, "{\"t\":%d,\"i\":%d}", a->t, i);
        dv_req q = req(a->kind, key);
        if (a->kind == DV_KV_UPSERT) set_value(&q, val);
        if (dv_client_submit(cli, &q, many_done, a->m) != DV_ERR_OK)
            many_done(a->m, &(dv_res){.err = DV_ERR_INTERNAL_SDK});
    }
    return NULL;
}

static void many_wait(many *m)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += GUARD_MS / 1000;
    pthread_mutex_lock(&m->mu);
    while (m->left > 0)
        if (pthread_cond_timedwait(&m->cv, &m->mu, &ts) == ETIMEDOUT) break;
    int left = m->left;
    pthread_mutex_unlock(&m->mu);
    assert_int_equal(left, 0);
}

static void test_many_concurrent(void **state)
{
    (void)state;
    enum { THREADS = 8, N = 1000 };
    for (int pass = 0; pass < 2; pass++) {
        many m = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, THREADS * N, 0, DV_ERR_OK};
        pthread_t th[THREADS];
        worker_arg args[THREADS];
        for (int t = 0; t < THREADS; t++) {
            args[t] = (worker_arg){&m, t, N, pass == 0 ? DV_KV_UPSERT : DV_KV_GET};
            pthread_create(&th[t], NULL, worker, &args[t]);
        }
        for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
        many_wait(&m);
        if (m.failed)
            fail_msg("%d of %d failed, first %s", m.failed, THREADS * N,
                     dv_error_name(m.first_err));
    }
    dv_req q = req(DV_KV_GET, "e2e-many-7-999");
    result x;
    run(&q, &x);
    assert_string_equal(x.value, "{\"t\":7,\"i\":999}");
    result_free(&x);
}

/* ---- The divan tool
 * ------------------------------------------------------------------------------ */

/* divan -U <the server> --timeout 3000 ARGS... (NULL-terminated) */
static int tool(char **out, char **err, ...)
{
    const char *args[32] = {"-U", srv.connstr, "--timeout", "3000"};
    int n = 4;
    va_list ap;
    va_start(ap, err);
    for (const char *a; n < 31 && (a = va_arg(ap, const char *)) != NULL;) args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return run_tool(out, err, args);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void test_tool(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(tool(&out, &err, "upsert", "e2e-tool", "{\"x\":1}", NULL, NULL), 0);
    assert_non_null(strstr(out, "\"cas\":\"0x"));
    assert_int_equal(count_lines(out), 1);
    free(out);
    free(err);

    assert_int_equal(tool(&out, &err, "get", "e2e-tool", NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "\"value\":{\"x\":1}"));
    assert_non_null(strstr(out, "\"flags\":"));
    free(out);
    free(err);

    assert_int_equal(tool(&out, &err, "get", "e2e-tool-missing", NULL, NULL, NULL), 1);
    assert_string_equal(out, "");
    assert_int_equal(count_lines(err), 1);
    assert_non_null(strstr(err, "divan: get e2e-tool-missing: document_not_found"));
    assert_non_null(strstr(err, "opcode GET"));
    free(out);
    free(err);

    assert_int_equal(tool(&out, &err, "insert", "e2e-tool", "1", NULL, NULL), 1);
    assert_non_null(strstr(err, "document_exists"));
    free(out);
    free(err);

    assert_int_equal(tool(&out, &err, "mutate", "e2e-tool", "upsert:y=2", "xattr:upsert:m=\"v\"",
                          "counter:x=4", NULL),
                     0);
    assert_non_null(strstr(out, "\"value\":5"));
    free(out);
    free(err);

    assert_int_equal(tool(&out, &err, "lookup", "e2e-tool", "get:y", "exists:nope", "xattr:get:m",
                          "get:nope", NULL),
                     0);
    assert_non_null(strstr(out, "{\"path\":\"y\",\"value\":2}"));
    assert_non_null(strstr(out, "{\"path\":\"nope\",\"exists\":false}"));
    assert_non_null(strstr(out, "{\"path\":\"nope\",\"error\":\"path_not_found\"}"));
    assert_non_null(strstr(out, "\"value\":\"v\""));
    free(out);
    free(err);

    assert_int_equal(tool(&out, &err, "incr", "e2e-tool-ctr", "--initial", "7", NULL), 0);
    assert_non_null(strstr(out, "\"counter\":7"));
    free(out);
    free(err);

    assert_int_equal(tool(&out, &err, "exists", "e2e-tool-ctr", NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "\"exists\":true"));
    free(out);
    free(err);

    /* Usage errors exit 2. */
    assert_int_equal(tool(&out, &err, "frobnicate", "k", NULL, NULL, NULL), 2);
    assert_int_equal(count_lines(err), 1);
    free(out);
    free(err);
    assert_int_equal(tool(&out, &err, "get", "k", "--durability", "bogus", NULL), 2);
    free(out);
    free(err);

    /* SQL++ on the query service: one line per row; a failed statement exits 1. */
    assert_int_equal(
        tool(&out, &err, "query", "SELECT RAW v * 2 FROM ARRAY_RANGE(0, $1) AS v", "3", NULL, NULL),
        0);
    assert_string_equal(out, "0\n2\n4\n");
    free(out);
    free(err);
    assert_int_equal(tool(&out, &err, "query", "SELECT $1 AS who", "me", NULL, NULL), 0);
    assert_string_equal(out, "{\"who\":\"me\"}\n");
    free(out);
    free(err);
    assert_int_equal(tool(&out, &err, "query", "I am not SQL", NULL, NULL, NULL), 1);
    assert_int_equal(count_lines(err), 1);
    assert_non_null(strstr(err, "divan: query: fatal: 3000 syntax error"));
    free(out);
    free(err);

    /* Wrong password: one line, exit 1. */
    assert_int_equal(tool(&out, &err, "-p", "wrong", "get", "k", NULL), 1);
    assert_int_equal(count_lines(err), 1);
    assert_non_null(strstr(err, "authentication_failure"));
    free(out);
    free(err);
}

static void test_tool_load(void **state)
{
    (void)state;
    char *out, *err;
    const char *args[] = {"-U",     srv.connstr, "load",          "--ops", "3000",
                          "--keys", "200",       "--connections", "2",     "--in-flight",
                          "8",      "--json",    "--quiet",       NULL};
    assert_int_equal(run_tool(&out, &err, args), 0);
    assert_non_null(strstr(out, "\"ops\":3000,"));
    assert_non_null(strstr(out, "\"errors\":0,"));
    assert_non_null(strstr(out, "\"p99\":"));
    free(out);
    free(err);
}

/* ---- A server killed and restarted under load
 * ------------------------------------------------------- */

#define PUMP_TIMEOUT_MS 1000
#define PUMP_SLOTS      32

typedef struct pump {
    dv_client *c;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int run;      /* completions submit again while set */
    int inflight; /* submitted, not completed */
    uint64_t ok, failed, late, twice;
    dv_error bad_err; /* an error that should not happen, else OK */
    uint64_t max_elapsed_us;
} pump;

typedef struct pslot {
    pump *p;
    unsigned n;
    uint64_t t0_ms;
} pslot;

static void pump_cb(void *ud, const dv_res *r);

/* Submit the slot's next operation (caller holds p->mu); 0 if it could not. */
static int pump_issue(pslot *s)
{
    char key[32];
    snprintf(key, sizeof key, "e2e-pump-%u", s->n++ % 64);
    dv_req q = req(s->n % 2 ? DV_KV_UPSERT : DV_KV_GET, key);
    if (q.kind == DV_KV_UPSERT) set_value(&q, "{\"p\":1}");
    q.timeout_ms = PUMP_TIMEOUT_MS;
    s->t0_ms = tu_mono_ms();
    if (dv_client_submit(s->p->c, &q, pump_cb, s) != DV_ERR_OK) return 0;
    s->p->inflight++;
    return 1;
}

static void pump_cb(void *ud, const dv_res *r)
{
    pslot *s = ud;
    pump *p = s->p;
    uint64_t took = tu_mono_ms() - s->t0_ms;
    pthread_mutex_lock(&p->mu);
    if (p->inflight-- == 0) p->twice++; /* more completions than submissions */
    if (r->err == DV_ERR_OK || r->err == DV_ERR_DOCUMENT_NOT_FOUND) {
        p->ok++;
    } else {
        p->failed++;
        /* What a dead server may cause: a timeout (ambiguous if the request was sent), or a
         * request canceled because its connection closed while it was in flight. */
        if (r->err != DV_ERR_AMBIGUOUS_TIMEOUT && r->err != DV_ERR_UNAMBIGUOUS_TIMEOUT &&
            r->err != DV_ERR_REQUEST_CANCELED && p->bad_err == DV_ERR_OK)
            p->bad_err = r->err;
    }
    /* Completed by its deadline (with a generous allowance for a loaded machine). */
    if (took > PUMP_TIMEOUT_MS + 1500) p->late++;
    if (r->ctx && r->ctx->elapsed_us > p->max_elapsed_us) p->max_elapsed_us = r->ctx->elapsed_us;
    if (p->run) pump_issue(s);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Wait (with p->mu held) until pred holds or the guard expires. */
#define PUMP_WAIT(p, pred)                                                                         \
    do {                                                                                           \
        uint64_t end_ = tu_mono_ms() + GUARD_MS;                                                   \
        while (!(pred) && tu_mono_ms() < end_) {                                                   \
            struct timespec ts_;                                                                   \
            clock_gettime(CLOCK_REALTIME, &ts_);                                                   \
            ts_.tv_sec += 1;                                                                       \
            pthread_cond_timedwait(&(p)->cv, &(p)->mu, &ts_);                                      \
        }                                                                                          \
    } while (0)

static void test_restart(void **state)
{
    (void)state;
    server s;
    server_start(&s, 0, 0);
    int kv = s.kv, http = s.http;
    pump p = {0};
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    p.c = client_for(s.connstr, "Administrator", "password", PUMP_TIMEOUT_MS);
    assert_int_equal(open_bucket(p.c, "default"), DV_ERR_OK);
    pslot slots[PUMP_SLOTS];

    /* Operations flow... */
    pthread_mutex_lock(&p.mu);
    p.run = 1;
    for (int i = 0; i < PUMP_SLOTS; i++) {
        slots[i] = (pslot){&p, (unsigned)i * 7, 0};
        assert_true(pump_issue(&slots[i]));
    }
    PUMP_WAIT(&p, p.ok >= 2000);
    assert_true(p.ok >= 2000);
    assert_int_equal(p.failed, 0);

    /* ...the server dies under them: everything pending fails by its deadline. */
    kill(s.pid, SIGKILL);
    waitpid(s.pid, NULL, 0);
    close(s.out);
    uint64_t ok_at_kill = p.ok;
    PUMP_WAIT(&p, p.failed >= PUMP_SLOTS);
    assert_true(p.failed >= PUMP_SLOTS);
    p.run = 0;
    PUMP_WAIT(&p, p.inflight == 0);
    assert_true(p.inflight == 0);
    assert_int_equal(p.bad_err, DV_ERR_OK);
    assert_int_equal(p.late, 0);
    assert_int_equal(p.twice, 0);
    assert_true(p.ok - ok_at_kill < 200); /* at most what was answered before the kill */
    pthread_mutex_unlock(&p.mu);

    /* While it is down, new operations fail by their deadlines too. */
    result x;
    dv_req q = req(DV_KV_GET, "e2e-pump-1");
    q.timeout_ms = 300;
    uint64_t t0 = tu_mono_ms();
    run_on(p.c, &q, &x);
    assert_true(x.err == DV_ERR_UNAMBIGUOUS_TIMEOUT || x.err == DV_ERR_AMBIGUOUS_TIMEOUT ||
                x.err == DV_ERR_REQUEST_CANCELED);
    assert_true(tu_mono_ms() - t0 < 300 + 1500);
    result_free(&x);

    /* A new server on the same ports: the client reconnects by itself. */
    server_start(&s, kv, http);
    assert_int_equal(s.kv, kv);
    int reconnected = 0;
    uint64_t end = tu_mono_ms() + GUARD_MS;
    while (!reconnected && tu_mono_ms() < end) {
        q = req(DV_KV_UPSERT, "e2e-after");
        set_value(&q, "1");
        q.timeout_ms = 1000;
        run_on(p.c, &q, &x);
        reconnected = x.err == DV_ERR_OK;
        result_free(&x);
    }
    assert_true(reconnected);
    pthread_mutex_lock(&p.mu);
    uint64_t ok0 = p.ok, failed0 = p.failed;
    p.run = 1;
    for (int i = 0; i < PUMP_SLOTS; i++) assert_true(pump_issue(&slots[i]));
    PUMP_WAIT(&p, p.ok >= ok0 + 2000);
    assert_true(p.ok >= ok0 + 2000);
    p.run = 0;
    PUMP_WAIT(&p, p.inflight == 0);
    assert_true(p.inflight == 0);
    assert_int_equal(p.failed, failed0);
    assert_int_equal(p.twice, 0);
    pthread_mutex_unlock(&p.mu);

    dv_client_close(p.c);
    server_kill(&s);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
}

/* The same with the divan load generator: it survives the restart and its upserts reach the new
 * server. */
static void test_restart_load(void **state)
{
    (void)state;
    server s;
    server_start(&s, 0, 0);
    int kv = s.kv, http = s.http;
    char *argv[] = {tool_bin,        "-U",
                    s.connstr,       "load",
                    "--duration",    "5",
                    "--ratio",       "0",
                    "--keys",        "50",
                    "--no-populate", "--timeout",
                    "1000",          "--allow-errors",
                    "--json",        "--prefix",
                    "e2e-rl-",       NULL};
    int fo, fe;
    pid_t pid = tu_spawn(argv, &fo, &fe);
    char line[512];
    /* The first progress line: operations are flowing. */
    assert_int_equal(tu_read_line(fe, line, sizeof line, GUARD_MS), 0);
    kill(s.pid, SIGKILL);
    waitpid(s.pid, NULL, 0);
    close(s.out);
    server_start(&s, kv, http);
    /* The load ends by itself, and says so on stdout. */
    char summary[2048] = "";
    int got = tu_read_line(fo, summary, sizeof summary, GUARD_MS);
    while (tu_read_line(fe, line, sizeof line, GUARD_MS) == 0) {
    }
    int status;
    waitpid(pid, &status, 0);
    close(fo);
    close(fe);
    assert_int_equal(got, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_non_null(strstr(summary, "\"ops\":"));

    /* Its upserts after the restart are in the new server. */
    dv_client *c = client_for(s.connstr, "Administrator", "password", 0);
    assert_int_equal(open_bucket(c, "default"), DV_ERR_OK);
    int found = 0;
    for (int i = 0; i < 50; i++) {
        char key[32];
        snprintf(key, sizeof key, "e2e-rl-%d", i);
        dv_req q = req(DV_KV_EXISTS, key);
        result x;
        run_on(c, &q, &x);
        found += x.err == DV_ERR_OK && x.exists;
        result_free(&x);
    }
    assert_true(found > 0);
    dv_client_close(c);
    server_kill(&s);
}

/* ---- HTTP service requests ------------------------------------------------------------------- */

typedef struct hbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    dv_error err;
    int status;
    char *body;
} hbox;

static void hbox_done(void *ud, const dv_res *r)
{
    hbox *b = ud;
    pthread_mutex_lock(&b->mu);
    b->err = r->err;
    b->status = r->http_status;
    b->body = dupn(r->value ? r->value : "", r->value_len);
    b->done = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void http_run(const dv_http_req *q, hbox *b)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    assert_int_equal(dv_client_http(cli, q, hbox_done, b, NULL), DV_ERR_OK);
    pthread_mutex_lock(&b->mu);
    while (!b->done) pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
}

static void test_http_services(void **state)
{
    (void)state;
    /* The query service, found through the config's n1ql port. */
    const char *stmt = "{\"statement\":\"SELECT 1+1 AS two\"}";
    dv_http_req q = {.service = DV_HTTP_QUERY,
                     .method = "POST",
                     .path = "/query/service",
                     .body = stmt,
                     .body_len = strlen(stmt),
                     .content_type = "application/json"};
    hbox b;
    http_run(&q, &b);
    assert_int_equal(b.err, DV_ERR_OK);
    assert_int_equal(b.status, 200);
    assert_non_null(strstr(b.body, "\"two\""));
    assert_non_null(strstr(b.body, "success"));
    free(b.body);
    /* A statement the service refuses: a response all the same, with its status. */
    const char *bad = "{\"statement\":\"I am not SQL\"}";
    q.body = bad;
    q.body_len = strlen(bad);
    http_run(&q, &b);
    assert_int_equal(b.err, DV_ERR_OK);
    assert_int_equal(b.status, 400);
    assert_non_null(strstr(b.body, "3000"));
    free(b.body);
    /* The management API. */
    dv_http_req m = {.service = DV_HTTP_MGMT,
                     .method = "GET",
                     .path = "/pools/default/buckets",
                     .idempotent = 1};
    http_run(&m, &b);
    assert_int_equal(b.err, DV_ERR_OK);
    assert_int_equal(b.status, 200);
    assert_non_null(strstr(b.body, "\"default\""));
    free(b.body);
}

/* dv_rows over the native driver. */
static dv_error rows_http(void *ud, const dv_http_req *req, dv_res_cb cb, void *cb_ud, uint64_t *id)
{
    return dv_client_http(ud, req, cb, cb_ud, id);
}

static void rows_cancel(void *ud, uint64_t id)
{
    dv_client_cancel(ud, id);
}

static int rows_resumed;

static void rows_resume(void *ud, uint64_t id)
{
    rows_resumed++;
    dv_client_http_resume(ud, id);
}

static dv_rows *rows_query(const char *stmt_json)
{
    dv_http_req q = {.service = DV_HTTP_QUERY,
                     .method = "POST",
                     .path = "/query/service",
                     .body = stmt_json,
                     .body_len = strlen(stmt_json),
                     .content_type = "application/json"};
    dv_rows_io io = {.ud = cli, .http = rows_http, .cancel = rows_cancel, .resume = rows_resume};
    dv_rows *r = NULL;
    assert_int_equal(dv_rows_new(&q, &io, &r), DV_ERR_OK);
    return r;
}

static void test_http_rows_streamed(void **state)
{
    (void)state;
    /* 300,000 rows (about 3 MB): more than the stream holds at once, so the response is paused
     * and resumed; every row comes, in order, and the rest of the body has "results": []. */
    dv_rows *r = rows_query("{\"statement\":\"SELECT RAW i FROM ARRAY_RANGE(0, 300000) AS i\"}");
    const char *row;
    size_t len;
    long want = 0;
    int rc;
    /* Not read until the stream holds its high-water mark: then it has paused the response. */
    while (dv_rows_buffered(r) < DV_ROWS_HIGH_WATER && !dv_rows_result(r)) sched_yield();
    assert_null(dv_rows_result(r));
    rows_resumed = 0;
    while ((rc = dv_rows_next(r, &row, &len, 1)) == 1) {
        assert_true(dv_rows_buffered(r) < 2 * DV_ROWS_HIGH_WATER + 64);
        char num[32];
        assert_true(len < sizeof num);
        memcpy(num, row, len);
        num[len] = 0;
        assert_int_equal(strtol(num, NULL, 10), want);
        want++;
    }
    assert_int_equal(rc, -1);
    assert_int_equal(want, 300000);
    assert_true(rows_resumed > 0);
    const dv_res *res = dv_rows_result(r);
    assert_non_null(res);
    assert_int_equal(res->err, DV_ERR_OK);
    assert_int_equal(res->http_status, 200);
    char *meta = dupn(res->value, res->value_len);
    assert_non_null(strstr(meta, "\"results\": []"));
    assert_non_null(strstr(meta, "\"success\""));
    free(meta);
    dv_rows_free(r);

    /* Cancelled after a few rows: the iteration ends with REQUEST_CANCELED, and the service
     * answers the next query. */
    r = rows_query("{\"statement\":\"SELECT RAW i FROM ARRAY_RANGE(0, 600000) AS i\"}");
    for (int i = 0; i < 10; i++) assert_int_equal(dv_rows_next(r, &row, &len, 1), 1);
    dv_rows_cancel(r);
    assert_int_equal(dv_rows_next(r, &row, &len, 1), -1);
    assert_int_equal(dv_rows_result(r)->err, DV_ERR_REQUEST_CANCELED);
    dv_rows_free(r);
    r = rows_query("{\"statement\":\"SELECT RAW 7\"}");
    assert_int_equal(dv_rows_next(r, &row, &len, 1), 1);
    assert_int_equal(len, 1);
    assert_int_equal(row[0], '7');
    assert_int_equal(dv_rows_next(r, &row, &len, 1), -1);
    assert_int_equal(dv_rows_result(r)->err, DV_ERR_OK);
    dv_rows_free(r);

    /* Freed in the middle, without reading on: nothing leaks (tu_run checks), nothing hangs. */
    r = rows_query("{\"statement\":\"SELECT RAW i FROM ARRAY_RANGE(0, 600000) AS i\"}");
    assert_int_equal(dv_rows_next(r, &row, &len, 1), 1);
    dv_rows_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upsert_get),
        cmocka_unit_test(test_insert_existing),
        cmocka_unit_test(test_get_missing),
        cmocka_unit_test(test_replace_cas),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_touch_expiry),
        cmocka_unit_test(test_lock_unlock),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_append_prepend),
        cmocka_unit_test(test_exists),
        cmocka_unit_test(test_subdoc),
        cmocka_unit_test(test_durability),
        cmocka_unit_test(test_collection),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_unknown_bucket),
        cmocka_unit_test(test_cluster_connect),
        cmocka_unit_test(test_cluster_wrong_password),
        cmocka_unit_test(test_bad_connstr),
        cmocka_unit_test(test_http_services),
        cmocka_unit_test(test_http_rows_streamed),
        cmocka_unit_test(test_submit_from_callback),
        cmocka_unit_test(test_close_cancels),
        cmocka_unit_test(test_many_concurrent),
        cmocka_unit_test(test_tool),
        cmocka_unit_test(test_tool_load),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_restart_load),
    };
    int failed =
        _cmocka_run_group_tests("test_e2e", tests, sizeof tests / sizeof tests[0], setup, teardown);
    long live = dv_alloc_live();
    if (live > 0) {
        fprintf(stderr, "test_e2e: %ld allocations still live at exit\n", live);
        failed++;
    }
    return failed;
}
