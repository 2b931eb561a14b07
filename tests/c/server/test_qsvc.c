/* The query service: parameter checks (query-service.md 4), Go durations, and the HTTP service
 * end to end over a real cluster: auth, privileges, the response shape, KV writes seen by
 * queries and DML seen by KV, the n1ql port in the configs. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int teardown(void **s)
{
    (void)s;
    dv_qsvc_stop(qsvc);
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
    };
    return TU_RUN(tests);
}
