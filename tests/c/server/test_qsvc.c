/* The query service: parameter checks (query-service.md 4), Go durations, and the HTTP service
 * end to end over a real cluster: auth, privileges, the response shape, KV writes seen by
 * queries and DML seen by KV, the n1ql port in the configs, streamed (chunked) responses and
 * clients that leave in the middle of one. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mcbp/protocol.h"
#include "server/kv.h"
#include "server/qsvc.h"
#include "topology/vbucket.h"

static void test_durations(void **s)
{
    (void)s;
    assert_true(dv_qsvc_duration("74500ms") == 74500000000ll);
    assert_true(dv_qsvc_duration("1.5s") == 1500000000ll);
    assert_true(dv_qsvc_duration("1m30s") == 90000000000ll);
    assert_true(dv_qsvc_duration("2h") == 7200000000000ll);
    assert_true(dv_qsvc_duration("250us") == 250000);
    assert_true(dv_qsvc_duration("") == 0);
    assert_true(dv_qsvc_duration("0") == 0);
    assert_true(dv_qsvc_duration("10") == -1);
    assert_true(dv_qsvc_duration("abc") == -1);
    assert_true(dv_qsvc_duration("5x") == -1);
}

static int parse(const char *json, int strings, char *msg)
{
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    dv_qsvc_params p;
    int rc = dv_qsvc_params_parse(j, strings, &p, msg, 300);
    dv_qsvc_params_clear(&p);
    json_decref(j);
    return rc;
}

static void test_params(void **s)
{
    (void)s;
    char msg[300];
    assert_int_equal(
        parse("{\"statement\":\"SELECT 1\",\"client_context_id\":\"x\",\"timeout\":\"74500ms\","
              "\"metrics\":false,\"max_parallelism\":\"4\",\"$a\":1,\"@b\":[2],\"args\":[1]}",
              0, msg),
        0);
    assert_int_equal(parse("{\"statement\":\"SELECT 1\",\"nosuch\":1}", 0, msg), 1065);
    assert_string_equal(msg, "Unrecognized parameter in request: nosuch");
    assert_int_equal(parse("{\"statement\":\"SELECT 1\",\"txid\":\"t\"}", 0, msg), 1065);
    assert_int_equal(parse("{\"statement\":\"SELECT 1\",\"prepared\":\"p\"}", 0, msg), 1060);
    assert_int_equal(parse("{\"client_context_id\":\"x\"}", 0, msg), 1050);
    assert_int_equal(parse("{\"statement\":\"SELECT 1\",\"$a\":1,\"@a\":2}", 0, msg), 1060);
    assert_int_equal(parse("{\"statement\":\"SELECT 1\",\"readonly\":\"yes\"}", 0, msg), 1070);
    assert_int_equal(parse("{\"statement\":\"SELECT 1\",\"client_context_id\":\"a\\\"b\"}", 0, msg),
                     1110);
    assert_int_equal(parse("{\"statement\":\"SELECT 1\",\"scan_consistency\":\"at_plus\"}", 0, msg),
                     1050);
    assert_int_equal(parse("{\"statement\":\"SELECT "
                           "1\",\"scan_consistency\":\"request_plus\",\"scan_wait\":\"2s\"}",
                           0, msg),
                     0);
    assert_int_equal(parse("{\"statement\":\"SELECT 1\",\"timeout\":\"soon\"}", 0, msg), 1040);
    assert_int_equal(parse("{\"statement\":\"SELECT 1\",\"scan_cap\":\"x\"}", 0, msg), 1070);
    /* form and GET fields arrive as strings */
    assert_int_equal(
        parse("{\"statement\":\"SELECT 1\",\"readonly\":\"true\",\"args\":\"[1,2]\"}", 1, msg), 0);
    json_t *j = json_pack("{s:s,s:s,s:s}", "statement", "SELECT $1", "args", "[\"x\"]", "$n", "5");
    dv_qsvc_params p;
    assert_int_equal(dv_qsvc_params_parse(j, 1, &p, msg, sizeof msg), 0);
    assert_string_equal(p.rq.statement, "SELECT $1");
    assert_string_equal(json_string_value(json_array_get(p.rq.positional, 0)), "x");
    assert_int_equal(json_integer_value(json_object_get(p.rq.named, "n")), 5);
    dv_qsvc_params_clear(&p);
    json_decref(j);
}

/* ---- end to end --------------------------------------------------------------------------- */

static dv_cluster *cluster;
static dv_users *users;
static dv_qsvc *qsvc;

static int setup(void **s)
{
    (void)s;
    char err[256];
    cluster = dv_cluster_new("t", 11210, 8091);
    users = dv_users_new(0);
    if (!cluster || !users || dv_cluster_create_default_bucket(cluster) != DV_ERR_OK) return -1;
    static const char *const flags[] = {"admin:pw:admin", "reader:pw:data_reader[default]",
                                        "qs:pw:query_select[default]"};
    for (size_t i = 0; i < 3; i++)
        if (dv_users_add_flag(users, flags[i], err, sizeof err) != DV_ERR_OK) {
            fprintf(stderr, "%s: %s\n", flags[i], err);
            return -1;
        }
    dv_qsvc_options o = {.host = "127.0.0.1", .port = 0};
    qsvc = dv_qsvc_start(cluster, users, &o, err, sizeof err);
    if (!qsvc) {
        fprintf(stderr, "qsvc: %s\n", err);
        return -1;
    }
    dv_cluster_set_query_port(cluster, (uint16_t)dv_qsvc_port(qsvc));
    return 0;
}

static int idle_fd = -1; /* a client that stopped reading, connected until the service stops */

static int teardown(void **s)
{
    (void)s;
    dv_qsvc_stop(qsvc);
    if (idle_fd >= 0) close(idle_fd);
    idle_fd = -1;
    dv_cluster_free(cluster);
    dv_users_free(users);
    return 0;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64(const char *in, char *out)
{
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned x = (unsigned char)in[i] << 16;
        if (i + 1 < n) x |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < n) x |= (unsigned char)in[i + 2];
        out[o++] = b64chars[(x >> 18) & 63];
        out[o++] = b64chars[(x >> 12) & 63];
        out[o++] = i + 1 < n ? b64chars[(x >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64chars[x & 63] : '=';
    }
    out[o] = '\0';
}

/* One request on a new connection (Connection: close): the status; *body the parsed JSON. */
static int request_on(int port, const char *method, const char *path, const char *auth,
                      const char *ctype, const char *body, json_t **out)
{
    int fd = tu_dial(port);
    assert_true(fd >= 0);
    char req[8192], a[256] = "", enc[200];
    if (auth) {
        b64(auth, enc);
        snprintf(a, sizeof a, "Authorization: Basic %s\r\n", enc);
    }
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s%s%s"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, path, a, ctype ? "Content-Type: " : "", ctype ? ctype : "",
                     ctype ? "\r\n" : "", body ? strlen(body) : 0, body ? body : "");
    assert_true(send(fd, req, (size_t)n, 0) == n);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t k;
    while ((k = recv(fd, buf + len, cap - len - 1, 0)) > 0) {
        len += (size_t)k;
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    close(fd);
    buf[len] = '\0';
    int status = 0;
    assert_int_equal(sscanf(buf, "HTTP/1.1 %d", &status), 1);
    char *b = strstr(buf, "\r\n\r\n");
    assert_non_null(b);
    *out = json_loads(b + 4, 0, NULL);
    if (!*out) fail_msg("not JSON: %s", b + 4);
    free(buf);
    return status;
}

static int request(const char *method, const char *path, const char *auth, const char *ctype,
                   const char *body, json_t **out)
{
    return request_on(dv_qsvc_port(qsvc), method, path, auth, ctype, body, out);
}

static json_t *post(const char *auth, const char *json, int *status)
{
    json_t *r;
    *status = request("POST", "/query/service", auth, "application/json", json, &r);
    return r;
}

static const char *first_msg(json_t *r)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(r, "errors"), 0), "msg"));
}
static int first_code(json_t *r)
{
    return (int)json_integer_value(
        json_object_get(json_array_get(json_object_get(r, "errors"), 0), "code"));
}

/* One KV command on bucket default, as a session would run it. */
static dv_kv_res kv(uint8_t op, const char *key, const char *value)
{
    dv_bucket *b = dv_cluster_get_bucket(cluster, "default", 7);
    dv_kv_req rq = {0};
    rq.opcode = op;
    rq.key = key;
    rq.nkey = strlen(key);
    rq.vbucket = dv_vbucket_of(key, rq.nkey, DV_BUCKET_NVB);
    rq.value = value;
    rq.nvalue = value ? strlen(value) : 0;
    rq.datatype = value ? DV_DATATYPE_JSON : 0;
    rq.now = 1800000000u;
    dv_kv_res res = {0};
    dv_kv_execute(dv_bucket_store(b), &rq, &res);
    assert_int_equal(res.status, DV_STATUS_SUCCESS);
    dv_bucket_release(b);
    return res;
}

static void kv_set(const char *key, const char *value)
{
    kv(DV_OP_SET, key, value);
}

static void test_service(void **s)
{
    (void)s;
    int st;
    json_t *r =
        post("admin:pw", "{\"statement\":\"SELECT 1=1\",\"client_context_id\":\"ctx1\"}", &st);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "success");
    assert_string_equal(json_string_value(json_object_get(r, "clientContextID")), "ctx1");
    assert_true(json_is_string(json_object_get(r, "requestID")));
    assert_true(
        json_is_true(json_object_get(json_array_get(json_object_get(r, "results"), 0), "$1")));
    json_t *m = json_object_get(r, "metrics");
    assert_int_equal(json_integer_value(json_object_get(m, "resultCount")), 1);
    assert_true(json_is_string(json_object_get(m, "elapsedTime")));
    json_decref(r);
    /* metrics: false leaves them out */
    r = post("admin:pw", "{\"statement\":\"SELECT 1\",\"metrics\":false}", &st);
    assert_null(json_object_get(r, "metrics"));
    json_decref(r);
    /* bad credentials, no credentials */
    r = post("admin:nope", "{\"statement\":\"SELECT 1\"}", &st);
    assert_int_equal(st, 401);
    assert_int_equal(first_code(r), 2120);
    json_decref(r);
    r = post(NULL, "{\"statement\":\"SELECT 1\"}", &st);
    assert_int_equal(st, 401);
    json_decref(r);
    /* a syntax error: the fatal shape, HTTP 400 */
    r = post("admin:pw", "{\"statement\":\"SELEKT 1\"}", &st);
    assert_int_equal(st, 400);
    assert_int_equal(first_code(r), 3000);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "fatal");
    assert_null(json_object_get(r, "results"));
    assert_null(json_object_get(r, "signature"));
    json_decref(r);
    /* an unknown parameter */
    r = post("admin:pw", "{\"statement\":\"SELECT 1\",\"bogus\":1}", &st);
    assert_int_equal(st, 400);
    assert_int_equal(first_code(r), 1065);
    json_decref(r);
    /* a body that is not JSON */
    r = post("admin:pw", "{nope", &st);
    assert_int_equal(st, 400);
    json_decref(r);
}

static void test_store_and_privileges(void **s)
{
    (void)s;
    int st;
    kv_set("k1", "{\"name\":\"ann\",\"n\":1}");
    json_t *r = post(
        "admin:pw",
        "{\"statement\":\"SELECT RAW name FROM `default` USE KEYS $1\",\"args\":[\"k1\"]}", &st);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "results"), 0)), "ann");
    json_decref(r);
    r = post("admin:pw", "{\"statement\":\"SELECT * FROM `default`\"}", &st);
    assert_int_equal(st, 404);
    assert_non_null(strstr(first_msg(r), "No index available on keyspace default:default"));
    json_decref(r);
    r = post("admin:pw", "{\"statement\":\"CREATE PRIMARY INDEX ON `default`\"}", &st);
    assert_int_equal(st, 200);
    assert_true(json_is_null(json_object_get(r, "signature")));
    json_decref(r);
    r = post(
        "admin:pw",
        "{\"statement\":\"UPDATE `default` SET n = n + 1 WHERE name = 'ann' RETURNING RAW n\"}",
        &st);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(r, "results"), 0)), 2);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r, "metrics"), "mutationCount")), 1);
    json_decref(r);
    /* the update went through the store: KV sees it */
    dv_kv_res res = kv(DV_OP_GET, "k1", NULL);
    assert_memory_equal(dv_item_value(res.item), "{\"name\":\"ann\",\"n\":2}", res.item->nvalue);
    dv_item_release(res.item);
    /* a secondary index follows KV writes (the store's hook) */
    r = post("admin:pw", "{\"statement\":\"CREATE INDEX ix_name ON `default`(name)\"}", &st);
    assert_int_equal(st, 200);
    json_decref(r);
    kv_set("k2", "{\"name\":\"bo\"}");
    kv_set("k1", "{\"name\":\"bo\"}");
    r = post("admin:pw",
             "{\"statement\":\"SELECT RAW META().id FROM `default` WHERE name = 'bo'\"}", &st);
    assert_int_equal(json_array_size(json_object_get(r, "results")), 2);
    json_decref(r);
    r = post("admin:pw",
             "{\"statement\":\"SELECT RAW META().id FROM `default` WHERE name = 'ann'\"}", &st);
    assert_int_equal(json_array_size(json_object_get(r, "results")), 0);
    json_decref(r);
    r = post("admin:pw", "{\"statement\":\"EXPLAIN SELECT * FROM `default` WHERE name = 'bo'\"}",
             &st);
    char *plan = json_dumps(r, 0);
    assert_non_null(strstr(plan, "IndexScan3"));
    free(plan);
    json_decref(r);
    kv_set("k1", "{\"name\":\"ann\",\"n\":2}");
    /* data_reader alone may not query; query_select may select but not update */
    r = post("reader:pw", "{\"statement\":\"SELECT * FROM `default` USE KEYS 'k1'\"}", &st);
    assert_int_equal(st, 401);
    assert_int_equal(first_code(r), 13014);
    json_decref(r);
    r = post("qs:pw", "{\"statement\":\"SELECT RAW n FROM `default` USE KEYS 'k1'\"}", &st);
    assert_int_equal(st, 200);
    json_decref(r);
    r = post("qs:pw", "{\"statement\":\"DELETE FROM `default` USE KEYS 'k1'\"}", &st);
    assert_int_equal(first_code(r), 13014);
    json_decref(r);
    /* GET: read-only statements only */
    assert_int_equal(
        request("GET", "/query/service?statement=SELECT%20RAW%202", "admin:pw", NULL, NULL, &r),
        200);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(r, "results"), 0)), 2);
    json_decref(r);
    assert_int_equal(request("GET", "/query/service?statement=DELETE%20FROM%20default", "admin:pw",
                             NULL, NULL, &r),
                     403);
    assert_int_equal(first_code(r), 1000);
    json_decref(r);
    /* a form body */
    assert_int_equal(request("POST", "/query/service", "admin:pw",
                             "application/x-www-form-urlencoded",
                             "statement=SELECT+RAW+%24v&%24v=%22hi%22", &r),
                     200);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "results"), 0)), "hi");
    json_decref(r);
}

/* A deleted bucket's indexes go with it: a new bucket of the same name starts without any. */
static void test_indexes_go_with_the_bucket(void **s)
{
    (void)s;
    int st;
    json_t *r = post("admin:pw", "{\"statement\":\"CREATE PRIMARY INDEX ON `default`\"}", &st);
    assert_int_equal(st, 200);
    json_decref(r);
    assert_int_equal(dv_cluster_delete_bucket(cluster, "default"), DV_ERR_OK);
    assert_int_equal(dv_cluster_create_default_bucket(cluster), DV_ERR_OK);
    kv_set("k1", "{\"a\":1}");
    r = post("admin:pw", "{\"statement\":\"SELECT RAW name FROM system:indexes\"}", &st);
    assert_int_equal(json_array_size(json_object_get(r, "results")), 0);
    json_decref(r);
    r = post("admin:pw", "{\"statement\":\"SELECT * FROM `default`\"}", &st);
    assert_int_equal(first_code(r), 4000);
    json_decref(r);
}

/* A second listener sharing the first one's catalog (as the TLS port shares the plain one's):
 * an index made on either is listed and used on both, and kept up to date by KV writes. */
static void test_shared_listener_serves_the_same_indexes(void **s)
{
    (void)s;
    char err[256];
    dv_qsvc_options o = {.host = "127.0.0.1", .port = 0, .share = qsvc};
    dv_qsvc *other = dv_qsvc_start(cluster, users, &o, err, sizeof err);
    assert_non_null(other);
    kv_set("k1", "{\"a\":1}");
    json_t *r;
    int st =
        request_on(dv_qsvc_port(other), "POST", "/query/service", "admin:pw", "application/json",
                   "{\"statement\":\"CREATE INDEX ia ON `default`(a)\"}", &r);
    assert_int_equal(st, 200);
    json_decref(r);
    kv_set("k2", "{\"a\":2}");
    r = post("admin:pw", "{\"statement\":\"SELECT RAW name FROM system:indexes\"}", &st);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "results"), 0)), "ia");
    json_decref(r);
    r = post("admin:pw", "{\"statement\":\"SELECT RAW META().id FROM `default` WHERE a = 2\"}",
             &st);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "results"), 0)), "k2");
    json_decref(r);
    dv_qsvc_stop(other);
}

/* ---- streamed responses ------------------------------------------------------------------- */

/* A reader of HTTP/1.1 responses on one keep-alive connection. */
typedef struct conn_rd {
    int fd;
    char buf[1 << 16];
    size_t off, len;
} conn_rd;

static void rd_more(conn_rd *c)
{
    if (c->off) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    assert_true(c->len < sizeof c->buf);
    ssize_t k = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (k <= 0) fail_msg("connection closed mid-response");
    c->len += (size_t)k;
}

/* The next line without its CRLF, NUL-terminated in line. */
static void rd_line(conn_rd *c, char *line, size_t n)
{
    char *e;
    while (!(e = memmem(c->buf + c->off, c->len - c->off, "\r\n", 2))) rd_more(c);
    size_t l = (size_t)(e - (c->buf + c->off));
    assert_true(l < n);
    memcpy(line, c->buf + c->off, l);
    line[l] = '\0';
    c->off += l + 2;
}

static void rd_bytes(conn_rd *c, char *out, size_t n)
{
    while (n) {
        if (c->off == c->len) rd_more(c);
        size_t k = c->len - c->off < n ? c->len - c->off : n;
        memcpy(out, c->buf + c->off, k);
        c->off += k;
        out += k;
        n -= k;
    }
}

typedef struct http_resp {
    int status, chunked;
    char *body; /* NUL-terminated, malloc'ed */
    size_t len;
} http_resp;

/* Send one query request (keep-alive) and read its response whole. */
static void query_on(conn_rd *c, const char *json, http_resp *r)
{
    char req[1024], enc[64];
    b64("admin:pw", enc);
    int n = snprintf(req, sizeof req,
                     "POST /query/service HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic "
                     "%s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     enc, strlen(json), json);
    assert_true(send(c->fd, req, (size_t)n, 0) == n);
    char line[1024];
    memset(r, 0, sizeof *r);
    rd_line(c, line, sizeof line);
    assert_int_equal(sscanf(line, "HTTP/1.1 %d", &r->status), 1);
    long clen = -1;
    for (;;) {
        rd_line(c, line, sizeof line);
        if (!*line) break;
        if (!strncasecmp(line, "Content-Length:", 15)) clen = strtol(line + 15, NULL, 10);
        if (!strncasecmp(line, "Transfer-Encoding:", 18) && strstr(line, "chunked")) r->chunked = 1;
    }
    size_t cap = 1 << 16;
    r->body = malloc(cap);
    if (!r->chunked) {
        assert_true(clen >= 0);
        r->body = realloc(r->body, (size_t)clen + 1);
        rd_bytes(c, r->body, (size_t)clen);
        r->len = (size_t)clen;
    } else {
        for (;;) {
            rd_line(c, line, sizeof line);
            size_t k = strtoul(line, NULL, 16);
            if (!k) {
                rd_line(c, line, sizeof line); /* no trailers */
                assert_string_equal(line, "");
                break;
            }
            while (r->len + k + 1 > cap) r->body = realloc(r->body, cap *= 2);
            rd_bytes(c, r->body + r->len, k);
            r->len += k;
            rd_line(c, line, sizeof line);
            assert_string_equal(line, "");
        }
    }
    r->body[r->len] = '\0';
}

static json_t *resp_json(const http_resp *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->len, 0, &e);
    if (!j) fail_msg("not JSON (%s): %.200s", e.text, r->body);
    return j;
}

/* The rows of stmt as the engine answers it in one buffer, with no store. */
static json_t *buffered_rows(const char *stmt)
{
    dv_query_memsource m = {.data = json_object()};
    dv_query_source src;
    dv_query_memsource_init(&src, &m);
    dv_query_request rq = {.statement = stmt, .len = strlen(stmt)};
    dv_query_result res;
    dv_query_run(&rq, &src, NULL, &res);
    assert_string_equal(res.status, "success");
    json_t *rows = json_incref(res.results);
    dv_query_result_clear(&res);
    json_decref(m.data);
    return rows;
}

#define BIG "SELECT x AS n, 'row-' || TO_STRING(x) AS s FROM ARRAY_RANGE(0, 200000) AS x"

/* A result of megabytes arrives chunked, complete, in the response's order, as the same rows
 * the engine buffers; the connection then serves the next request. */
static void test_streamed_response(void **s)
{
    (void)s;
    conn_rd c = {.fd = tu_dial(dv_qsvc_port(qsvc))};
    assert_true(c.fd >= 0);
    http_resp r;
    query_on(&c, "{\"statement\":\"" BIG "\",\"client_context_id\":\"big\"}", &r);
    assert_int_equal(r.status, 200);
    assert_true(r.chunked);
    const char *order[] = {"\"requestID\"", "\"clientContextID\"", "\"signature\"",
                           "\"results\"",   "\"status\"",          "\"metrics\""};
    const char *at = r.body;
    for (size_t i = 0; i < 6; i++) {
        const char *p = strstr(at, order[i]);
        if (!p) fail_msg("%s missing or out of order", order[i]);
        at = p;
    }
    json_t *j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "success");
    json_t *rows = json_object_get(j, "results");
    assert_int_equal(json_array_size(rows), 200000);
    json_t *want = buffered_rows(BIG);
    assert_true(json_equal(rows, want));
    json_decref(want);
    size_t size = 0;
    for (size_t i = 0; i < json_array_size(rows); i++) {
        char *t = json_dumps(json_array_get(rows, i), DV_QUERY_JSON_FLAGS);
        size += strlen(t);
        free(t);
    }
    json_t *m = json_object_get(j, "metrics");
    assert_int_equal(json_integer_value(json_object_get(m, "resultCount")), 200000);
    assert_int_equal(json_integer_value(json_object_get(m, "resultSize")), size);
    json_decref(j);
    free(r.body);
    /* a small result on the same connection: one buffer with its length */
    query_on(&c, "{\"statement\":\"SELECT RAW 7\"}", &r);
    assert_int_equal(r.status, 200);
    assert_false(r.chunked);
    j = resp_json(&r);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "results"), 0)), 7);
    json_decref(j);
    free(r.body);
    close(c.fd);
}

/* An error after the output began: HTTP 200 already sent, the rows so far, then the error and
 * status "errors" (as the real service); the same error before output keeps its HTTP status. */
static void test_streamed_error_after_rows(void **s)
{
    (void)s;
    conn_rd c = {.fd = tu_dial(dv_qsvc_port(qsvc))};
    assert_true(c.fd >= 0);
    http_resp r;
    query_on(&c,
             "{\"statement\":\"SELECT RAW CASE WHEN x = 150000 THEN "
             "ARRAY_LENGTH(ARRAY_RANGE(0, 2e7)) ELSE x END FROM ARRAY_RANGE(0, 200000) AS x\"}",
             &r);
    assert_int_equal(r.status, 200);
    assert_true(r.chunked);
    assert_true(strstr(r.body, "\"results\"") < strstr(r.body, "\"errors\""));
    json_t *j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "errors");
    assert_int_equal(first_code(j), 5500);
    json_t *rows = json_object_get(j, "results");
    assert_int_equal(json_array_size(rows), 150000);
    assert_int_equal(json_integer_value(json_array_get(rows, 149999)), 149999);
    json_decref(j);
    free(r.body);
    query_on(&c,
             "{\"statement\":\"SELECT RAW ARRAY_LENGTH(ARRAY_RANGE(0, 2e7)) FROM "
             "ARRAY_RANGE(0, 2) AS x\"}",
             &r);
    assert_int_equal(r.status, 500);
    assert_false(r.chunked);
    free(r.body);
    close(c.fd);
}

/* A client that leaves mid-response (megabytes more than the socket buffers hold) leaves the
 * service serving: its query stops, new connections work. One that stays connected but stops
 * reading does not keep the service's stop (the teardown) waiting. */
static void test_client_goes_away(void **s)
{
    (void)s;
    char enc[64], req[1024];
    b64("admin:pw", enc);
    const char *json = "{\"statement\":\"SELECT x AS n, REPEAT('z', 100) AS pad FROM "
                       "ARRAY_RANGE(0, 400000) AS x\"}";
    int n = snprintf(req, sizeof req,
                     "POST /query/service HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic "
                     "%s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     enc, strlen(json), json);
    for (int round = 0; round < 4; round++) {
        int fd = tu_dial(dv_qsvc_port(qsvc));
        assert_true(fd >= 0);
        assert_true(send(fd, req, (size_t)n, 0) == n);
        char buf[4096];
        size_t got = 0;
        while (got < 100000) {
            ssize_t k = recv(fd, buf, sizeof buf, 0);
            assert_true(k > 0);
            if (!got) assert_non_null(memmem(buf, (size_t)k, "200 OK", 6));
            got += (size_t)k;
        }
        if (round < 3)
            close(fd);
        else
            idle_fd = fd; /* the teardown's stop ends its query */
    }
    int st;
    json_t *r = post("admin:pw", "{\"statement\":\"SELECT RAW 1\"}", &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(r, "results"), 0)), 1);
    json_decref(r);
}

static void test_configs_list_n1ql(void **s)
{
    (void)s;
    dv_buf out = DV_BUF_INIT;
    assert_int_equal(dv_cluster_config_json(cluster, &out), DV_ERR_OK);
    json_t *j = json_loadb((const char *)dv_buf_head(&out), dv_buf_size(&out), 0, NULL);
    json_t *svc = json_object_get(json_array_get(json_object_get(j, "nodesExt"), 0), "services");
    assert_int_equal(json_integer_value(json_object_get(svc, "n1ql")), dv_qsvc_port(qsvc));
    json_t *caps = json_object_get(json_object_get(j, "clusterCapabilities"), "n1ql");
    assert_string_equal(json_string_value(json_array_get(caps, 0)), "enhancedPreparedStatements");
    json_decref(j);
    dv_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_params),
        cmocka_unit_test_setup_teardown(test_service, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_and_privileges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indexes_go_with_the_bucket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_listener_serves_the_same_indexes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_configs_list_n1ql, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streamed_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streamed_error_after_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_goes_away, setup, teardown),
    };
    return TU_RUN(tests);
}
