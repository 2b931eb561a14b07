/* divan-server's REST API, over real HTTP on loopback: a dv_rest on port 0 and a small blocking
 * HTTP/1.1 client written here with plain sockets. Streams are read as they arrive; nothing
 * sleeps to wait for the server. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "server/bucket.h"
#include "server/qsvc.h"
#include "server/rest.h"
#include "server/rest_form.h"
#include "server/ui.h"
#include "server/users.h"

#define ADMIN "Administrator:password"

/* ---- the server under test ------------------------------------------------------------------- */

typedef struct fixture {
    dv_cluster *c;
    dv_users *users;
    dv_rest *r;
    int port;
    atomic_int changes;
} fixture;

static void on_changed(void *ud)
{
    fixture *f = ud;
    atomic_fetch_add(&f->changes, 1);
}

static void add_user(dv_users *reg, const char *name, const char *pw, const char *roles)
{
    dv_roles r;
    char err[256];
    if (dv_roles_parse(&r, roles, strlen(roles), err, sizeof err) != DV_ERR_OK ||
        dv_users_set(reg, name, strlen(name), pw, strlen(pw), &r, err, sizeof err) != DV_ERR_OK)
        fail_msg("user %s: %s", name, err);
    dv_roles_clear(&r);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    atomic_init(&f->changes, 0);
    f->c = dv_cluster_new("test", 11210, 0);
    assert_non_null(f->c);
    assert_int_equal(dv_cluster_create_default_bucket(f->c), DV_ERR_OK);
    f->users = dv_users_new(0);
    assert_non_null(f->users);
    char err[256];
    static const char *const users[][3] = {
        {"Administrator", "password", "admin"}, {"reader", "pw", "data_reader[default]"},
        {"other", "pw", "data_reader[other]"},  {"sadmin", "pw", "scope_admin[default:s1]"},
        {"creator", "pw", "cluster_admin"},
    };
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++)
        add_user(f->users, users[i][0], users[i][1], users[i][2]);
    dv_rest_options o = {.host = "127.0.0.1", .port = 0, .changed = on_changed, .ud = f};
    f->r = dv_rest_start(f->c, f->users, &o, err, sizeof err);
    if (!f->r) fail_msg("dv_rest_start: %s", err);
    f->port = dv_rest_port(f->r);
    assert_true(f->port > 0);
    dv_cluster_set_ports(f->c, 11210, (uint16_t)f->port);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    dv_rest_stop(f->r);
    dv_users_free(f->users);
    dv_cluster_free(f->c);
    free(f);
    return 0;
}

/* ---- a blocking HTTP/1.1 client -------------------------------------------------------------- */

typedef struct conn {
    int fd;
    char buf[1 << 16];
    size_t off, len;
} conn;

static conn *conn_open(int port)
{
    conn *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    /* A safety net against a hung server, not a synchronisation: tests never wait on it. */
    struct timeval tv = {20, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    return c;
}

static void conn_close(conn *c)
{
    close(c->fd);
    free(c);
}

/* 0 if everything was sent, -1 if the server closed first (it may answer early and hang up). */
static int send_all(conn *c, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t k = send(c->fd, s, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

static void b64(const char *in, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < n) v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)in[i + 2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

/* Send one request. auth: "user:password" or NULL; body: a form or NULL; extra: more header
 * lines ("Name: value\r\n"), or NULL; host: the Host header value, NULL for 127.0.0.1:port. */
static int send_request(conn *c, int port, const char *method, const char *path, const char *auth,
                        const char *body, const char *host, const char *extra)
{
    char req[8192], hostbuf[64], authline[512] = "";
    if (!host) {
        snprintf(hostbuf, sizeof hostbuf, "127.0.0.1:%d", port);
        host = hostbuf;
    }
    if (auth) {
        char enc[400];
        b64(auth, enc);
        snprintf(authline, sizeof authline, "Authorization: Basic %s\r\n", enc);
    }
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: %s\r\n%s%s", method, path, host,
                     authline, extra ? extra : "");
    if (body)
        n += snprintf(req + n, sizeof req - (size_t)n,
                      "Content-Type: application/x-www-form-urlencoded\r\n"
                      "Content-Length: %zu\r\n",
                      strlen(body));
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    assert_true((size_t)n < sizeof req);
    if (send_all(c, req, (size_t)n) != 0) return -1;
    return body ? send_all(c, body, strlen(body)) : 0;
}

/* The next byte, or -1 at the end of the stream. */
static int c_getc(conn *c)
{
    if (c->off == c->len) {
        ssize_t k = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (k < 0 && errno == ECONNRESET) return -1;
        if (k < 0) fail_msg("recv: %s", strerror(errno));
        if (k == 0) return -1;
        c->off = 0;
        c->len = (size_t)k;
    }
    return (unsigned char)c->buf[c->off++];
}

/* A line without its CRLF; -1 at the end of the stream. */
static int c_line(conn *c, char *out, size_t cap)
{
    size_t n = 0;
    int ch;
    while ((ch = c_getc(c)) >= 0 && ch != '\n')
        if (n + 1 < cap) out[n++] = (char)ch;
    if (ch < 0 && n == 0) return -1;
    if (n > 0 && out[n - 1] == '\r') n--;
    out[n] = '\0';
    return (int)n;
}

typedef struct resp {
    int status;
    char headers[8192]; /* "name: value\n" lines */
    char *body;         /* NUL-terminated */
    size_t len;
    json_t *json; /* the body parsed, if it is JSON */
} resp;

static void resp_free(resp *r)
{
    if (!r) return;
    free(r->body);
    json_decref(r->json);
    free(r);
}

/* The value of a header, or NULL (case-insensitive name). */
static const char *header(const resp *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = r->headers; *p;) {
        const char *e = strchr(p, '\n');
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            snprintf(out, cap, "%.*s", (int)(e - v), v);
            return out;
        }
        p = e + 1;
    }
    return NULL;
}

static void append(resp *r, const char *p, size_t n)
{
    r->body = realloc(r->body, r->len + n + 1);
    assert_non_null(r->body);
    memcpy(r->body + r->len, p, n);
    r->len += n;
    r->body[r->len] = '\0';
}

static void read_head(conn *c, resp *r)
{
    char line[8192];
    assert_true(c_line(c, line, sizeof line) > 0);
    assert_int_equal(strncmp(line, "HTTP/1.", 7), 0);
    r->status = atoi(line + 9);
    size_t used = 0;
    while (c_line(c, line, sizeof line) > 0) {
        int k = snprintf(r->headers + used, sizeof r->headers - used, "%s\n", line);
        assert_true(k > 0 && (size_t)k < sizeof r->headers - used);
        used += (size_t)k;
    }
}

/* The next chunk of a chunked body into r->body (appended); its size, 0 for the last one. */
static size_t read_chunk(conn *c, resp *r)
{
    char line[64];
    if (c_line(c, line, sizeof line) <= 0) return 0; /* the server hung up */
    size_t n = strtoul(line, NULL, 16);
    for (size_t i = 0; i < n; i++) {
        int ch = c_getc(c);
        assert_true(ch >= 0);
        char b = (char)ch;
        append(r, &b, 1);
    }
    if (n == 0)
        while (c_line(c, line, sizeof line) > 0) { /* trailers */
        }
    else
        assert_int_equal(c_line(c, line, sizeof line), 0);
    return n;
}

static void read_body(conn *c, resp *r, int head)
{
    char v[64];
    append(r, "", 0);
    if (head || r->status == 204 || r->status == 304) return;
    if (header(r, "Transfer-Encoding", v, sizeof v) && strcasecmp(v, "chunked") == 0) {
        while (read_chunk(c, r) > 0) {
        }
    } else if (header(r, "Content-Length", v, sizeof v)) {
        size_t n = strtoul(v, NULL, 10);
        for (size_t i = 0; i < n; i++) {
            int ch = c_getc(c);
            assert_true(ch >= 0);
            char b = (char)ch;
            append(r, &b, 1);
        }
    } else {
        int ch;
        while ((ch = c_getc(c)) >= 0) {
            char b = (char)ch;
            append(r, &b, 1);
        }
    }
    r->json = json_loadb(r->body, r->len, 0, NULL);
}

static resp *read_response(conn *c, int head)
{
    resp *r = calloc(1, sizeof *r);
    assert_non_null(r);
    read_head(c, r);
    read_body(c, r, head);
    return r;
}

static resp *http_ex(fixture *f, const char *method, const char *path, const char *auth,
                     const char *body, const char *host, const char *extra)
{
    conn *c = conn_open(f->port);
    send_request(c, f->port, method, path, auth, body, host, extra);
    resp *r = read_response(c, strcmp(method, "HEAD") == 0);
    conn_close(c);
    return r;
}

static resp *http(fixture *f, const char *method, const char *path, const char *auth,
                  const char *body)
{
    return http_ex(f, method, path, auth, body, NULL, NULL);
}

/* Expect a status, else fail showing the body. */
static void expect(const resp *r, int status)
{
    if (r->status != status)
        fail_msg("status %d, expected %d; body: %s", r->status, status, r->body);
}

static void expect_body(const resp *r, int status, const char *needle)
{
    expect(r, status);
    if (!strstr(r->body, needle)) fail_msg("body lacks \"%s\": %s", needle, r->body);
}

/* r->json at a path of object keys and array indexes ("nodes", "0", "hostname"), NULL-ended. */
static json_t *jget(json_t *j, ...)
{
    va_list ap;
    va_start(ap, j);
    const char *k;
    while (j && (k = va_arg(ap, const char *))) {
        if (json_is_array(j))
            j = json_array_get(j, strtoul(k, NULL, 10));
        else
            j = json_object_get(j, k);
    }
    va_end(ap);
    return j;
}

static const char *jstr(json_t *j)
{
    if (!json_is_string(j)) fail_msg("not a string");
    return json_string_value(j);
}

/* ---- the parsers ----------------------------------------------------------------------------- */

static void parsers(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(dv_url_decode("a%2Db+c%25", 10, 1, out), 6);
    assert_string_equal(out, "a-b c%");
    assert_int_equal(dv_url_decode("a+b", 3, 0, out), 3);
    assert_string_equal(out, "a+b");
    assert_int_equal(dv_url_decode("%2", 2, 0, out), -1);
    assert_int_equal(dv_url_decode("%g0", 3, 0, out), -1);

    dv_form f;
    char err[128];
    const char *body = "&name=s%201&&flag&maxTTL=-1&";
    assert_int_equal(dv_form_parse(&f, body, strlen(body), err, sizeof err), DV_ERR_OK);
    assert_int_equal(f.n, 3);
    assert_string_equal(dv_form_get(&f, "name")->value, "s 1");
    assert_int_equal(dv_form_get(&f, "flag")->value_len, 0);
    assert_string_equal(dv_form_get(&f, "maxTTL")->value, "-1");
    assert_null(dv_form_get(&f, "nope"));
    assert_null(dv_form_duplicate(&f));
    dv_form_clear(&f);
    assert_int_equal(dv_form_parse(&f, "a=1&b=2&a=3", 11, err, sizeof err), DV_ERR_OK);
    assert_string_equal(dv_form_duplicate(&f)->name, "a");
    dv_form_clear(&f);
    assert_int_equal(dv_form_parse(&f, "", 0, err, sizeof err), DV_ERR_OK);
    assert_int_equal(f.n, 0);
    assert_int_equal(dv_form_parse(&f, "a=%zz", 5, err, sizeof err), DV_ERR_INVALID_ARGUMENT);
    assert_null(f.v);
    assert_int_equal(dv_form_parse(&f, "=1", 2, err, sizeof err), DV_ERR_INVALID_ARGUMENT);
    char many[4096] = "";
    for (int i = 0; i <= DV_FORM_MAX_FIELDS; i++) strcat(many, "a&");
    assert_int_equal(dv_form_parse(&f, many, strlen(many), err, sizeof err),
                     DV_ERR_INVALID_ARGUMENT);

    const char *user, *pw;
    size_t ul, pl;
    char buf[256];
    const char *h = "Basic QWRtaW5pc3RyYXRvcjpwYTpzcw=="; /* Administrator:pa:ss */
    assert_int_equal(dv_rest_basic_auth(h, strlen(h), buf, sizeof buf, &user, &ul, &pw, &pl), 0);
    assert_string_equal(user, "Administrator");
    assert_string_equal(pw, "pa:ss");
    assert_int_equal(pl, 5);
    h = "basic  dTo="; /* "u:": an empty password */
    assert_int_equal(dv_rest_basic_auth(h, strlen(h), buf, sizeof buf, &user, &ul, &pw, &pl), 0);
    assert_int_equal(ul, 1);
    assert_int_equal(pl, 0);
    static const char *const bad[] = {"Bearer abc",     "Basic",      "Basic !!!!", "Basic dTo",
                                      "Basic dXNlcg==", "Basic Ono=", "Basicx dTo="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(
            dv_rest_basic_auth(bad[i], strlen(bad[i]), buf, sizeof buf, &user, &ul, &pw, &pl), -1);

    char host[DV_REST_HOST_MAX + 1];
    assert_int_equal(dv_rest_host_parse("example.com:8091", 16, host, sizeof host), 11);
    assert_string_equal(host, "example.com");
    assert_int_equal(dv_rest_host_parse("[::1]:8091", 10, host, sizeof host), 5);
    assert_string_equal(host, "[::1]");
    assert_int_equal(dv_rest_host_parse("[fe80::1%eth0]", 14, host, sizeof host), 14);
    assert_int_equal(dv_rest_host_parse("10.0.0.1", 8, host, sizeof host), 8);
    static const char *const badhosts[] = {"",   ":80",    "a b",  "a:",     "a:123456", "[::1",
                                           "[]", "[x::1]", "a\"b", "[::1]x", "[::1%]",   "h:8o"};
    for (size_t i = 0; i < sizeof badhosts / sizeof badhosts[0]; i++)
        assert_int_equal(dv_rest_host_parse(badhosts[i], strlen(badhosts[i]), host, sizeof host),
                         -1);
}

/* ---- authentication and the cluster documents
 * ---------------------------------------------------- */

static void auth(void **state)
{
    fixture *f = *state;
    char v[128];
    resp *r = http(f, "GET", "/", NULL, NULL); /* ping: anyone */
    expect(r, 200);
    resp_free(r);

    r = http(f, "GET", "/pools", NULL, NULL);
    expect(r, 401);
    assert_non_null(header(r, "WWW-Authenticate", v, sizeof v));
    assert_string_equal(v, "Basic realm=\"Couchbase Server Admin / REST\"");
    resp_free(r);
    static const char *const wrong[] = {"Administrator:wrong", "nobody:password", "Administrator:"};
    for (size_t i = 0; i < 3; i++) {
        r = http(f, "GET", "/pools", wrong[i], NULL);
        expect(r, 401);
        resp_free(r);
    }
    r = http_ex(f, "GET", "/pools", NULL, NULL, NULL, "Authorization: Bearer xyz\r\n");
    expect(r, 401);
    resp_free(r);
    r = http_ex(f, "GET", "/pools", NULL, NULL, NULL, "Authorization: Basic !!!\r\n");
    expect(r, 401);
    resp_free(r);

    r = http(f, "GET", "/pools", ADMIN, NULL);
    expect(r, 200);
    assert_non_null(header(r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "application/json");
    assert_true(json_is_true(jget(r->json, "isAdminCreds", NULL)));
    assert_string_equal(jstr(jget(r->json, "implementationVersion", NULL)), DV_REST_VERSION);
    assert_string_equal(jstr(jget(r->json, "uuid", NULL)), dv_cluster_uuid(f->c));
    assert_string_equal(jstr(jget(r->json, "pools", "0", "name", NULL)), "default");
    resp_free(r);
    r = http(f, "GET", "/pools", "reader:pw", NULL);
    expect(r, 200);
    assert_true(json_is_false(jget(r->json, "isAdminCreds", NULL)));
    resp_free(r);

    /* The cache: repeated requests, then a password change and a removal take effect. */
    for (int i = 0; i < 5; i++) {
        r = http(f, "GET", "/pools", "reader:pw", NULL);
        expect(r, 200);
        resp_free(r);
    }
    char err[256];
    assert_int_equal(
        dv_users_add_flag(f->users, "reader:new:data_reader[default]", err, sizeof err), DV_ERR_OK);
    r = http(f, "GET", "/pools", "reader:pw", NULL);
    expect(r, 401);
    resp_free(r);
    r = http(f, "GET", "/pools", "reader:new", NULL);
    expect(r, 200);
    resp_free(r);
    assert_int_equal(dv_users_remove(f->users, "reader", 6), DV_ERR_OK);
    r = http(f, "GET", "/pools", "reader:new", NULL);
    expect(r, 401);
    resp_free(r);

    /* Several requests on one keep-alive connection. */
    conn *c = conn_open(f->port);
    for (int i = 0; i < 3; i++) {
        send_request(c, f->port, "GET", "/pools/default", ADMIN, NULL, NULL, NULL);
        r = read_response(c, 0);
        expect(r, 200);
        resp_free(r);
    }
    conn_close(c);
}

static void pools_default(void **state)
{
    fixture *f = *state;
    char want[64];
    resp *r = http_ex(f, "GET", "/pools/default", ADMIN, NULL, "example.test:8091", NULL);
    expect(r, 200);
    json_t *node = jget(r->json, "nodes", "0", NULL);
    snprintf(want, sizeof want, "example.test:%d", f->port);
    assert_string_equal(jstr(jget(node, "hostname", NULL)), want);
    assert_string_equal(jstr(jget(node, "otpNode", NULL)), "ns_1@example.test");
    assert_string_equal(jstr(jget(node, "version", NULL)), DV_REST_VERSION);
    assert_string_equal(jstr(jget(node, "status", NULL)), "healthy");
    assert_string_equal(jstr(jget(node, "clusterMembership", NULL)), "active");
    assert_string_equal(jstr(jget(node, "nodeUUID", NULL)), dv_cluster_node_uuid(f->c));
    assert_string_equal(jstr(jget(node, "services", "0", NULL)), "kv");
    assert_int_equal(json_integer_value(jget(node, "ports", "direct", NULL)), 11210);
    assert_true(json_is_true(jget(node, "thisNode", NULL)));
    assert_true(strlen(jstr(jget(node, "os", NULL))) > 0);
    assert_string_equal(jstr(jget(r->json, "name", NULL)), "default");
    assert_string_equal(jstr(jget(r->json, "clusterName", NULL)), "test");
    assert_string_equal(jstr(jget(r->json, "bucketNames", "0", "bucketName", NULL)), "default");
    assert_int_equal(strlen(jstr(jget(r->json, "bucketNames", "0", "uuid", NULL))), 32);
    assert_string_equal(jstr(jget(r->json, "buckets", "terseBucketsBase", NULL)),
                        "/pools/default/b/");
    assert_string_equal(jstr(jget(r->json, "buckets", "terseStreamingBucketsBase", NULL)),
                        "/pools/default/bs/");
    resp_free(r);

    /* IPv6 literal hosts keep their brackets in host:port. */
    r = http_ex(f, "GET", "/pools/nodes", ADMIN, NULL, "[::1]:8091", NULL);
    expect(r, 200);
    snprintf(want, sizeof want, "[::1]:%d", f->port);
    assert_string_equal(jstr(jget(r->json, "nodes", "0", "hostname", NULL)), want);
    assert_string_equal(jstr(jget(r->json, "nodes", "0", "configuredHostname", NULL)), want);
    assert_string_equal(jstr(jget(r->json, "nodes", "0", "otpNode", NULL)), "ns_1@::1");
    resp_free(r);

    /* Buckets the user may not see are not listed. */
    r = http(f, "GET", "/pools/default", "other:pw", NULL);
    expect(r, 200);
    assert_int_equal(json_array_size(jget(r->json, "bucketNames", NULL)), 0);
    resp_free(r);
}

static void terse_configs(void **state)
{
    fixture *f = *state;
    resp *r = http(f, "GET", "/pools/default/b/default", ADMIN, NULL);
    expect(r, 200);
    assert_null(strstr(r->body, "$HOST"));
    assert_string_equal(jstr(jget(r->json, "name", NULL)), "default");
    assert_string_equal(jstr(jget(r->json, "vBucketServerMap", "serverList", "0", NULL)),
                        "127.0.0.1:11210");
    assert_int_equal(json_array_size(jget(r->json, "vBucketServerMap", "vBucketMap", NULL)), 1024);
    assert_int_equal(json_integer_value(jget(r->json, "nodesExt", "0", "services", "mgmt", NULL)),
                     f->port);
    resp_free(r);

    r = http_ex(f, "GET", "/pools/default/b/default", ADMIN, NULL, "db.example:8091", NULL);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "vBucketServerMap", "serverList", "0", NULL)),
                        "db.example:11210");
    resp_free(r);

    /* HTTP/1.0 without a Host header: the local address of the connection. */
    conn *c = conn_open(f->port);
    char req[256], enc[64];
    b64(ADMIN, enc);
    snprintf(req, sizeof req,
             "GET /pools/default/b/default HTTP/1.0\r\nAuthorization: Basic %s\r\n\r\n", enc);
    assert_int_equal(send_all(c, req, strlen(req)), 0);
    r = read_response(c, 0);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "vBucketServerMap", "serverList", "0", NULL)),
                        "127.0.0.1:11210");
    resp_free(r);
    conn_close(c);

    r = http(f, "GET", "/pools/default/nodeServices", "other:pw", NULL);
    expect(r, 200);
    assert_null(jget(r->json, "name", NULL));
    assert_null(jget(r->json, "vBucketServerMap", NULL));
    assert_int_equal(json_integer_value(jget(r->json, "nodesExt", "0", "services", "kv", NULL)),
                     11210);
    resp_free(r);

    r = http(f, "GET", "/pools/default/b/nope", ADMIN, NULL);
    expect_body(r, 404, "Requested resource not found.");
    resp_free(r);
    r = http(f, "GET", "/pools/default/b/default", "other:pw", NULL);
    expect_body(r, 403, "Forbidden. User needs the following permissions");
    assert_string_equal(jstr(jget(r->json, "permissions", "0", NULL)),
                        "cluster.bucket[default].settings!read");
    resp_free(r);
    r = http(f, "GET", "/pools/default/b/default", "reader:pw", NULL);
    expect(r, 200);
    resp_free(r);
}

/* ---- buckets --------------------------------------------------------------------------------- */

static void check_bucket_object(fixture *f, json_t *b, const char *name)
{
    assert_string_equal(jstr(jget(b, "name", NULL)), name);
    assert_int_equal(strlen(jstr(jget(b, "uuid", NULL))), 32);
    assert_non_null(jget(b, "bucketType", NULL));
    assert_true(json_is_integer(jget(b, "quota", "rawRAM", NULL)));
    assert_true(json_is_integer(jget(b, "replicaNumber", NULL)));
    assert_non_null(jget(b, "evictionPolicy", NULL));
    assert_string_equal(jstr(jget(b, "conflictResolutionType", NULL)), "seqno");
    assert_true(json_is_object(jget(b, "controllers", NULL)));
    json_t *node = jget(b, "nodes", "0", NULL);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", f->port);
    assert_string_equal(jstr(jget(node, "hostname", NULL)), want);
    assert_string_equal(jstr(jget(node, "status", NULL)), "healthy");
    assert_string_equal(jstr(jget(node, "version", NULL)), DV_REST_VERSION);
    assert_string_equal(jstr(jget(node, "services", "0", NULL)), "kv");
    assert_int_equal(json_integer_value(jget(node, "ports", "direct", NULL)), 11210);
    assert_true(json_is_array(jget(b, "bucketCapabilities", NULL)));
    assert_true(json_array_size(jget(b, "bucketCapabilities", NULL)) > 0);
}

static void buckets(void **state)
{
    fixture *f = *state;
    char v[128];
    /* The form the official core sends. */
    const char *create = "name=b1&bucketType=couchbase&ramQuotaMB=256&replicaNumber=0"
                         "&replicaIndex=0&flushEnabled=0&evictionPolicy=fullEviction"
                         "&compressionMode=active&conflictResolutionType=seqno"
                         "&durabilityMinLevel=majority&storageBackend=couchstore";
    resp *r = http(f, "POST", "/pools/default/buckets", ADMIN, create);
    expect(r, 202);
    assert_string_equal(header(r, "Location", v, sizeof v), "/pools/default/buckets/b1");
    resp_free(r);
    assert_int_equal(atomic_load(&f->changes), 1);
    r = http(f, "POST", "/pools/default/buckets", ADMIN, create);
    expect_body(r, 400, "Bucket with given name already exists");
    assert_non_null(jget(r->json, "errors", "name", NULL));
    resp_free(r);

    static const struct {
        const char *body, *field;
    } bad[] = {
        {"name=b9&ramQuotaMB=50", "ramQuota"},
        {"name=b9&ramQuotaMB=lots", "ramQuota"},
        {"name=b9&bucketType=memcached", "bucketType"},
        {"name=b9&bucketType=weird", "bucketType"},
        {"name=.b9", "name"},
        {"name=b%2F9", "name"},
        {"name=b%009", "name"},
        {"ramQuotaMB=100", "name"},
        {"name=b9&replicaNumber=4", "replicaNumber"},
        {"name=b9&maxTTL=-1", "maxTTL"},
        {"name=b9&flushEnabled=2", "flushEnabled"},
        {"name=b9&evictionPolicy=noEviction", "evictionPolicy"},
        {"name=b9&compressionMode=max", "compressionMode"},
        {"name=b9&durabilityMinLevel=all", "durabilityMinLevel"},
        {"name=b9&conflictResolutionType=lww", "conflictResolutionType"},
        {"name=b9&storageBackend=rocks", "storageBackend"},
        {"name=b9&numVBuckets=128", "numVBuckets"},
        {"name=b9&historyRetentionBytes=10", "historyRetentionBytes"},
        {"name=b9&historyRetentionCollectionDefault=true", "historyRetentionCollectionDefault"},
        {"name=b9&name=b10", "name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = http(f, "POST", "/pools/default/buckets", ADMIN, bad[i].body);
        expect(r, 400);
        if (!jget(r->json, "errors", bad[i].field, NULL))
            fail_msg("%s: no error for %s: %s", bad[i].body, bad[i].field, r->body);
        resp_free(r);
    }
    r = http(f, "POST", "/pools/default/buckets", ADMIN, "name=b9&ramQuotaMB=%zz");
    expect(r, 400);
    resp_free(r);
    assert_int_equal(atomic_load(&f->changes), 1);

    /* Ephemeral buckets default to noEviction. */
    r = http(f, "POST", "/pools/default/buckets", ADMIN, "name=eph&bucketType=ephemeral");
    expect(r, 202);
    resp_free(r);
    r = http(f, "GET", "/pools/default/buckets/eph", ADMIN, NULL);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "bucketType", NULL)), "ephemeral");
    assert_string_equal(jstr(jget(r->json, "evictionPolicy", NULL)), "noEviction");
    assert_null(jget(r->json, "storageBackend", NULL));
    /* Without replicaNumber: one replica, as ns_server (on one node: durable writes answer
     * DURABILITY_IMPOSSIBLE, as a single-node Couchbase Server does). */
    assert_int_equal(json_integer_value(jget(r->json, "replicaNumber", NULL)), 1);
    resp_free(r);

    /* Magma buckets (a label) take the history retention settings and show them. */
    r = http(f, "POST", "/pools/default/buckets", ADMIN,
             "name=mag&storageBackend=magma&historyRetentionBytes=1000000"
             "&historyRetentionSeconds=600");
    expect(r, 202);
    resp_free(r);
    r = http(f, "GET", "/pools/default/buckets/mag", ADMIN, NULL);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "storageBackend", NULL)), "magma");
    assert_true(json_is_true(jget(r->json, "historyRetentionCollectionDefault", NULL)));
    assert_int_equal(json_integer_value(jget(r->json, "historyRetentionBytes", NULL)), 1000000);
    assert_int_equal(json_integer_value(jget(r->json, "historyRetentionSeconds", NULL)), 600);
    resp_free(r);
    /* Its collections take the bucket's history default; an update changes it. */
    r = http(f, "POST", "/pools/default/buckets/mag/scopes/_default/collections", ADMIN, "name=h1");
    expect(r, 200);
    resp_free(r);
    r = http(f, "PATCH", "/pools/default/buckets/mag/scopes/_default/collections/_default", ADMIN,
             "history=true&maxTTL=7");
    expect(r, 200);
    resp_free(r);
    r = http(f, "GET", "/pools/default/buckets/mag/scopes", ADMIN, NULL);
    json_t *h1 = jget(r->json, "scopes", "0", "collections", "1", NULL);
    assert_string_equal(jstr(jget(h1, "name", NULL)), "h1");
    assert_true(json_is_true(jget(h1, "history", NULL)));
    json_t *def = jget(r->json, "scopes", "0", "collections", "0", NULL);
    assert_true(json_is_true(jget(def, "history", NULL)));
    assert_int_equal(json_integer_value(jget(def, "maxTTL", NULL)), 7);
    resp_free(r);
    r = http(f, "DELETE", "/pools/default/buckets/mag", ADMIN, NULL);
    expect(r, 200);
    resp_free(r);
    /* SDKs tell ephemeral buckets by the absence of "couchapi" from the config. */
    static const struct {
        const char *path;
        int couchapi;
    } caps[] = {{"/pools/default/b/eph", 0}, {"/pools/default/b/default", 1}};
    for (size_t i = 0; i < 2; i++) {
        r = http(f, "GET", caps[i].path, ADMIN, NULL);
        expect(r, 200);
        json_t *list = jget(r->json, "bucketCapabilities", NULL), *cap;
        size_t k;
        int has = 0;
        json_array_foreach(list, k, cap) has |= strcmp(json_string_value(cap), "couchapi") == 0;
        assert_int_equal(has, caps[i].couchapi);
        resp_free(r);
    }

    r = http(f, "GET", "/pools/default/buckets", ADMIN, NULL);
    expect(r, 200);
    assert_int_equal(json_array_size(r->json), 3);
    json_t *b1 = jget(r->json, "1", NULL);
    check_bucket_object(f, b1, "b1");
    assert_string_equal(jstr(jget(b1, "bucketType", NULL)), "membase");
    assert_int_equal(json_integer_value(jget(b1, "quota", "rawRAM", NULL)), 256 << 20);
    assert_string_equal(jstr(jget(b1, "evictionPolicy", NULL)), "fullEviction");
    assert_string_equal(jstr(jget(b1, "compressionMode", NULL)), "active");
    assert_string_equal(jstr(jget(b1, "durabilityMinLevel", NULL)), "majority");
    assert_string_equal(jstr(jget(b1, "storageBackend", NULL)), "couchstore");
    assert_null(jget(b1, "controllers", "flush", NULL)); /* flush disabled */
    check_bucket_object(f, jget(r->json, "0", NULL), "default");
    resp_free(r);
    r = http(f, "GET", "/pools/default/buckets", "reader:pw", NULL);
    expect(r, 200);
    assert_int_equal(json_array_size(r->json), 1);
    resp_free(r);

    /* Flush is refused while disabled; an update (body as the core sends it) enables it. */
    r = http(f, "POST", "/pools/default/buckets/b1/controller/doFlush", ADMIN, "");
    expect_body(r, 400, "Flush is disabled for the bucket");
    resp_free(r);
    int before = atomic_load(&f->changes);
    r = http(f, "POST", "/pools/default/buckets/b1", ADMIN,
             "&ramQuotaMB=512&replicaNumber=1&maxTTL=60&flushEnabled=1&evictionPolicy=valueOnly"
             "&compressionMode=passive&durabilityMinLevel=none");
    expect(r, 200);
    resp_free(r);
    assert_int_equal(atomic_load(&f->changes), before + 1);
    r = http(f, "GET", "/pools/default/buckets/b1", ADMIN, NULL);
    expect(r, 200);
    check_bucket_object(f, r->json, "b1");
    assert_int_equal(json_integer_value(jget(r->json, "quota", "rawRAM", NULL)), 512 << 20);
    assert_int_equal(json_integer_value(jget(r->json, "replicaNumber", NULL)), 1);
    assert_int_equal(json_integer_value(jget(r->json, "maxTTL", NULL)), 60);
    assert_string_equal(jstr(jget(r->json, "controllers", "flush", NULL)),
                        "/pools/default/buckets/b1/controller/doFlush");
    resp_free(r);
    r = http(f, "POST", "/pools/default/buckets/b1/controller/doFlush", ADMIN, NULL);
    expect(r, 200);
    resp_free(r);
    r = http(f, "POST", "/pools/default/buckets/b1", ADMIN, "bucketType=ephemeral");
    expect(r, 400);
    assert_non_null(jget(r->json, "errors", "bucketType", NULL));
    resp_free(r);
    r = http(f, "POST", "/pools/default/buckets/b1", ADMIN, "name=b2");
    expect(r, 400);
    resp_free(r);
    r = http(f, "POST", "/pools/default/buckets/nope", ADMIN, "ramQuotaMB=100");
    expect(r, 404);
    resp_free(r);

    /* Permissions. */
    r = http(f, "POST", "/pools/default/buckets", "reader:pw", "name=x");
    expect(r, 403);
    assert_string_equal(jstr(jget(r->json, "permissions", "0", NULL)), "cluster.buckets!create");
    resp_free(r);
    r = http(f, "POST", "/pools/default/buckets/default/controller/doFlush", "reader:pw", NULL);
    expect(r, 403);
    resp_free(r);
    r = http(f, "DELETE", "/pools/default/buckets/default", "reader:pw", NULL);
    expect(r, 403);
    resp_free(r);
    r = http(f, "GET", "/pools/default/buckets/b1", "reader:pw", NULL);
    expect(r, 403);
    resp_free(r);
    r = http(f, "POST", "/pools/default/buckets", "creator:pw", "name=b3");
    expect(r, 202);
    resp_free(r);

    /* Delete. */
    before = atomic_load(&f->changes);
    r = http(f, "DELETE", "/pools/default/buckets/b1", ADMIN, NULL);
    expect(r, 200);
    resp_free(r);
    assert_int_equal(atomic_load(&f->changes), before + 1);
    r = http(f, "DELETE", "/pools/default/buckets/b1", ADMIN, NULL);
    expect(r, 404);
    resp_free(r);
    r = http(f, "GET", "/pools/default/buckets/b1", ADMIN, NULL);
    expect_body(r, 404, "Requested resource not found.");
    resp_free(r);
    r = http(f, "POST", "/pools/default/buckets/b1/controller/doFlush", ADMIN, NULL);
    expect(r, 404);
    resp_free(r);
}

/* ---- scopes and collections ------------------------------------------------------------------ */

static const char *S = "/pools/default/buckets/default/scopes";

static resp *scopes(fixture *f, const char *method, const char *suffix, const char *auth,
                    const char *body)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", S, suffix);
    return http(f, method, path, auth, body);
}

static void scopes_and_collections(void **state)
{
    fixture *f = *state;
    resp *r = scopes(f, "POST", "", ADMIN, "name=s1");
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "uid", NULL)), "1");
    resp_free(r);
    assert_int_equal(atomic_load(&f->changes), 1);
    r = scopes(f, "POST", "", ADMIN, "name=s1");
    expect_body(r, 400, "Scope with name \\\"s1\\\" already exists");
    assert_string_equal(jstr(jget(r->json, "errors", "_", NULL)),
                        "Scope with name \"s1\" already exists");
    resp_free(r);

    static const struct {
        const char *body, *field, *msg;
    } bad[] = {
        {"", "name", "The value must be supplied"},
        {"name=_x", "name", "First character must not be _ or %"},
        {"name=a.b", "name", "Can only contain characters"},
        {"name=a&color=red", "color", "Unsupported key"},
        {"name=a&maxTTL=5", "maxTTL", "Unsupported key"}, /* scopes take no maxTTL */
        {"name=a&name=b", "name", "Key specified more than once"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = scopes(f, "POST", "", ADMIN, bad[i].body);
        expect(r, 400);
        json_t *m = jget(r->json, "errors", bad[i].field, NULL);
        if (!json_is_string(m) || !strstr(json_string_value(m), bad[i].msg))
            fail_msg("%s: %s", bad[i].body, r->body);
        resp_free(r);
    }
    char longname[300] = "name=";
    memset(longname + 5, 'n', 252);
    r = scopes(f, "POST", "", ADMIN, longname);
    expect_body(r, 400, "must be in the range from 1 to 251");
    resp_free(r);

    /* Percent-encoded names, in the body and in the path. */
    r = scopes(f, "POST", "", ADMIN, "name=a%2Db");
    expect(r, 200);
    resp_free(r);
    r = scopes(f, "GET", "", "reader:pw", NULL);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "uid", NULL)), "2");
    assert_string_equal(jstr(jget(r->json, "scopes", "2", "name", NULL)), "a-b");
    resp_free(r);
    r = scopes(f, "DELETE", "/a%2db", ADMIN, NULL);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "uid", NULL)), "3");
    resp_free(r);

    r = scopes(f, "POST", "/s1/collections", ADMIN, "name=c1&maxTTL=60&history=false");
    expect(r, 200);
    resp_free(r);
    r = scopes(f, "GET", "", ADMIN, NULL);
    json_t *c1 = jget(r->json, "scopes", "1", "collections", "0", NULL);
    assert_string_equal(jstr(jget(c1, "name", NULL)), "c1");
    assert_int_equal(json_integer_value(jget(c1, "maxTTL", NULL)), 60);
    resp_free(r);
    r = scopes(f, "POST", "/s1/collections", ADMIN, "name=c1");
    expect_body(r, 400, "Collection with name \\\"c1\\\" in scope \\\"s1\\\" already exists");
    resp_free(r);
    r = scopes(f, "POST", "/s1/collections", ADMIN, "name=c2&maxTTL=-1");
    expect(r, 200);
    resp_free(r);
    static const struct {
        const char *body, *field;
    } badc[] = {
        {"name=c3&maxTTL=-2", "maxTTL"},    {"name=c3&maxTTL=2147483648", "maxTTL"},
        {"name=c3&maxTTL=1x", "maxTTL"},    {"name=c3&maxTTL=", "maxTTL"},
        {"name=c3&history=yes", "history"}, {"name=c3&limit=1", "limit"},
        {"name=_default", "name"},
    };
    for (size_t i = 0; i < sizeof badc / sizeof badc[0]; i++) {
        r = scopes(f, "POST", "/s1/collections", ADMIN, badc[i].body);
        expect(r, 400);
        if (!jget(r->json, "errors", badc[i].field, NULL))
            fail_msg("%s: %s", badc[i].body, r->body);
        resp_free(r);
    }
    r = scopes(f, "POST", "/nope/collections", ADMIN, "name=c1");
    expect_body(r, 404, "Scope with name \\\"nope\\\" is not found");
    resp_free(r);

    /* A scope admin manages collections in its scope, not scopes. */
    r = scopes(f, "POST", "/s1/collections", "sadmin:pw", "name=c9");
    expect(r, 200);
    resp_free(r);
    r = scopes(f, "POST", "", "sadmin:pw", "name=s9");
    expect(r, 403);
    assert_string_equal(jstr(jget(r->json, "permissions", "0", NULL)),
                        "cluster.collection[default:.:.].collections!write");
    resp_free(r);
    r = scopes(f, "POST", "/_default/collections", "sadmin:pw", "name=c9");
    expect(r, 403);
    resp_free(r);
    r = scopes(f, "POST", "", "reader:pw", "name=s9");
    expect(r, 403);
    resp_free(r);
    r = scopes(f, "GET", "", "other:pw", NULL);
    expect(r, 403);
    resp_free(r);

    /* Drops. */
    int before = atomic_load(&f->changes);
    r = scopes(f, "DELETE", "/s1/collections/c1", ADMIN, NULL);
    expect(r, 200);
    resp_free(r);
    assert_int_equal(atomic_load(&f->changes), before + 1);
    r = scopes(f, "DELETE", "/s1/collections/c1", ADMIN, NULL);
    expect_body(r, 404, "Collection with name \\\"c1\\\" in scope \\\"s1\\\" is not found");
    resp_free(r);
    r = scopes(f, "DELETE", "/nope/collections/c1", ADMIN, NULL);
    expect_body(r, 404, "is not found");
    resp_free(r);
    /* Updates: maxTTL, and history only on a magma bucket. */
    r = scopes(f, "PATCH", "/s1/collections/c2", ADMIN, "maxTTL=5");
    expect(r, 200);
    resp_free(r);
    r = scopes(f, "GET", "", ADMIN, NULL);
    json_t *c2 = jget(r->json, "scopes", "1", "collections", "0", NULL);
    assert_string_equal(jstr(jget(c2, "name", NULL)), "c2");
    assert_int_equal(json_integer_value(jget(c2, "maxTTL", NULL)), 5);
    resp_free(r);
    r = scopes(f, "PATCH", "/s1/collections/c2", ADMIN, "history=true");
    expect_body(r, 400, "History retention is supported only on magma buckets");
    resp_free(r);
    r = scopes(f, "POST", "/s1/collections", ADMIN, "name=c4&history=true");
    expect_body(r, 400, "History retention is supported only on magma buckets");
    resp_free(r);
    r = scopes(f, "PATCH", "/s1/collections/nope", ADMIN, "maxTTL=5");
    expect_body(r, 404, "is not found");
    resp_free(r);
    r = scopes(f, "PATCH", "/s1/collections/c2", ADMIN, "name=x");
    expect(r, 400);
    resp_free(r);
    r = scopes(f, "PUT", "/s1/collections/c2", ADMIN, "maxTTL=5");
    expect(r, 405);
    char v[64];
    assert_string_equal(header(r, "Allow", v, sizeof v), "DELETE, PATCH");
    resp_free(r);
    r = scopes(f, "DELETE", "/_default", ADMIN, NULL);
    expect_body(r, 400, "Deleting _default scope is not allowed");
    resp_free(r);
    r = scopes(f, "DELETE", "/s1", ADMIN, NULL);
    expect(r, 200);
    resp_free(r);
    r = scopes(f, "DELETE", "/s1", ADMIN, NULL);
    expect_body(r, 404, "Scope with name \\\"s1\\\" is not found");
    resp_free(r);
    r = scopes(f, "DELETE", "/%ff%01", ADMIN, NULL); /* unprintable names are not echoed raw */
    expect_body(r, 404, "Scope with name \\\"??\\\" is not found");
    resp_free(r);

    r = http(f, "GET", "/pools/default/buckets/nope/scopes", ADMIN, NULL);
    expect(r, 404);
    resp_free(r);
    r = http(f, "POST", "/pools/default/buckets/nope/scopes/s/collections", ADMIN, "name=c");
    expect(r, 404);
    resp_free(r);
}

/* ---- malformed requests ---------------------------------------------------------------------- */

static void bad_requests(void **state)
{
    fixture *f = *state;
    char v[64];
    static const char *const missing[] = {
        "/nope",
        "/pools/other",
        "/pools/default/x",
        "/pools/default/buckets/b/x",
        "/pools/default/buckets/default/scopes/s/x",
        "/a/b/c/d/e/f/g/h/i/j/k",
        "/pools/default/b/%00",
        "/pools/default/b/%zz",
        "/pools/default/buckets/default/scopes/s/collections/c/d",
    };
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        resp *r = http(f, "GET", missing[i], ADMIN, NULL);
        if (r->status != 404) fail_msg("%s: %d", missing[i], r->status);
        resp_free(r);
    }
    resp *r = http(f, "PUT", "/pools/default/buckets", ADMIN, "name=x");
    expect(r, 405);
    assert_string_equal(header(r, "Allow", v, sizeof v), "GET, HEAD, POST");
    resp_free(r);
    r = http(f, "POST", "/pools/default/b/default", ADMIN, "");
    expect(r, 405);
    resp_free(r);
    r = http(f, "GET", "//pools///default/", ADMIN, NULL); /* empty segments are dropped */
    expect(r, 200);
    resp_free(r);
    r = http(f, "HEAD", "/pools/default", ADMIN, NULL);
    expect(r, 200);
    resp_free(r);

    /* Bodies over 1 MiB: declared up front, or sent in chunks. */
    conn *c = conn_open(f->port);
    send_request(c, f->port, "POST", "/pools/default/buckets", ADMIN, NULL, NULL,
                 "Content-Type: application/x-www-form-urlencoded\r\n"
                 "Content-Length: 2000000\r\n");
    r = read_response(c, 0);
    expect(r, 413);
    resp_free(r);
    conn_close(c);

    c = conn_open(f->port);
    send_request(c, f->port, "POST", "/pools/default/buckets", ADMIN, NULL, NULL,
                 "Content-Type: application/x-www-form-urlencoded\r\n"
                 "Transfer-Encoding: chunked\r\n");
    static char chunk[64 * 1024 + 32];
    int n = snprintf(chunk, sizeof chunk, "%x\r\n", 64 * 1024);
    memset(chunk + n, 'a', 64 * 1024);
    memcpy(chunk + n + 64 * 1024, "\r\n", 2);
    for (int i = 0; i < 17; i++) assert_int_equal(send_all(c, chunk, (size_t)n + 64 * 1024 + 2), 0);
    assert_int_equal(send_all(c, "0\r\n\r\n", 5), 0);
    r = read_response(c, 0);
    expect(r, 413);
    resp_free(r);
    conn_close(c);

    /* A body of exactly 1 MiB is read (and here refused for what it says). */
    static char big[(1 << 20) + 1];
    memcpy(big, "name=", 5);
    memset(big + 5, 'x', sizeof big - 6);
    big[sizeof big - 1] = '\0';
    r = http(f, "POST", "/pools/default/buckets", ADMIN, big);
    expect(r, 400);
    resp_free(r);

    /* Binary junk in a form. */
    r = http(f, "POST", "/pools/default/buckets/default/scopes", ADMIN, "name=%ff%fe&%01=%02");
    expect(r, 400);
    resp_free(r);
}

/* ---- streaming ------------------------------------------------------------------------------- */

/* Read chunks until a whole config and its delimiter have arrived; parse it. NULL at the end of
 * the stream. */
static json_t *next_config(conn *c, resp *acc)
{
    for (;;) {
        char *d = acc->len ? strstr(acc->body, "\n\n\n\n") : NULL;
        if (d) {
            size_t n = (size_t)(d - acc->body);
            json_t *j = json_loadb(acc->body, n, 0, NULL);
            if (!j) fail_msg("not JSON: %.*s", (int)n, acc->body);
            assert_null(strstr(acc->body, "$HOST"));
            memmove(acc->body, d + 4, acc->len - n - 4 + 1);
            acc->len -= n + 4;
            return j;
        }
        if (read_chunk(c, acc) == 0) return NULL;
    }
}

static conn *open_stream(fixture *f, const char *path, resp **head)
{
    conn *c = conn_open(f->port);
    send_request(c, f->port, "GET", path, ADMIN, NULL, NULL, NULL);
    *head = calloc(1, sizeof **head);
    read_head(c, *head);
    char v[64];
    expect(*head, 200);
    assert_string_equal(header(*head, "Transfer-Encoding", v, sizeof v), "chunked");
    assert_string_equal(header(*head, "Content-Type", v, sizeof v), "application/json");
    append(*head, "", 0);
    return c;
}

static void streaming(void **state)
{
    fixture *f = *state;
    resp *hb, *hc;
    conn *bs = open_stream(f, "/pools/default/bs/default", &hb);
    conn *ns = open_stream(f, "/pools/default/nodeServicesStreaming", &hc);
    json_t *j = next_config(bs, hb);
    assert_string_equal(jstr(jget(j, "name", NULL)), "default");
    assert_string_equal(jstr(jget(j, "collectionsManifestUid", NULL)), "0");
    json_int_t rev = json_integer_value(jget(j, "rev", NULL));
    json_decref(j);
    j = next_config(ns, hc);
    assert_null(jget(j, "name", NULL));
    json_int_t crev = json_integer_value(jget(j, "rev", NULL));
    json_decref(j);

    /* A scope changes the bucket config (not the cluster's); a bucket the cluster config. */
    resp *r = scopes(f, "POST", "", ADMIN, "name=s1");
    expect(r, 200);
    resp_free(r);
    j = next_config(bs, hb);
    assert_string_equal(jstr(jget(j, "collectionsManifestUid", NULL)), "1");
    assert_true(json_integer_value(jget(j, "rev", NULL)) > rev);
    json_decref(j);
    r = http(f, "POST", "/pools/default/buckets", ADMIN, "name=b2");
    expect(r, 202);
    resp_free(r);
    j = next_config(ns, hc);
    assert_true(json_integer_value(jget(j, "rev", NULL)) > crev);
    json_decref(j);

    /* A change made without REST, announced by the server. */
    dv_bucket *b = dv_cluster_get_bucket(f->c, "default", 7);
    assert_int_equal(dv_bucket_create_scope(b, "s2", NULL), DV_ERR_OK);
    dv_bucket_release(b);
    dv_rest_notify(f->r);
    j = next_config(bs, hb);
    assert_string_equal(jstr(jget(j, "collectionsManifestUid", NULL)), "2");
    json_decref(j);

    /* Deleting the bucket ends its stream. */
    r = http(f, "DELETE", "/pools/default/buckets/default", ADMIN, NULL);
    expect(r, 200);
    resp_free(r);
    assert_null(next_config(bs, hb));
    conn_close(bs);
    resp_free(hb);

    /* Streams of unknown or forbidden buckets are refused up front. */
    r = http(f, "GET", "/pools/default/bs/default", ADMIN, NULL);
    expect(r, 404);
    resp_free(r);
    r = http(f, "GET", "/pools/default/bs/b2", "reader:pw", NULL);
    expect(r, 403);
    resp_free(r);

    /* A client that hangs up; then stopping the server ends the remaining stream. */
    resp *hx;
    conn *gone = open_stream(f, "/pools/default/bs/b2", &hx);
    j = next_config(gone, hx);
    json_decref(j);
    conn_close(gone);
    resp_free(hx);
    dv_rest_notify(f->r);

    dv_rest_stop(f->r);
    f->r = NULL;
    /* The cluster config may have changed once more (b2 deleted nothing; default did). */
    while ((j = next_config(ns, hc))) json_decref(j);
    conn_close(ns);
    resp_free(hc);
}

/* ---- who am I, cluster initialisation -------------------------------------------------------- */

static void expect_error(fixture *f, const char *path, const char *body, const char *field,
                         const char *msg)
{
    resp *r = http(f, "POST", path, ADMIN, body);
    expect(r, 400);
    json_t *e = jget(r->json, "errors", field, NULL);
    if (!e || !strstr(jstr(e), msg))
        fail_msg("%s %s: no error \"%s\" for %s: %s", path, body, msg, field, r->body);
    resp_free(r);
}

static void whoami_and_streaming_uri(void **state)
{
    fixture *f = *state;
    resp *r = http(f, "GET", "/whoami", ADMIN, NULL);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "id", NULL)), "Administrator");
    assert_string_equal(jstr(jget(r->json, "domain", NULL)), "admin");
    assert_string_equal(jstr(jget(r->json, "roles", "0", "role", NULL)), "admin");
    resp_free(r);
    r = http(f, "GET", "/whoami", "reader:pw", NULL);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "domain", NULL)), "local");
    assert_string_equal(jstr(jget(r->json, "roles", "0", "role", NULL)), "data_reader");
    assert_string_equal(jstr(jget(r->json, "roles", "0", "bucket_name", NULL)), "default");
    resp_free(r);
    r = http(f, "GET", "/whoami", NULL, NULL);
    expect(r, 401);
    resp_free(r);

    /* The streamingUri a bucket advertises streams its config, then each change. */
    r = http(f, "GET", "/pools/default/buckets/default", ADMIN, NULL);
    expect(r, 200);
    char uri[256];
    snprintf(uri, sizeof uri, "%s", jstr(jget(r->json, "streamingUri", NULL)));
    resp_free(r);
    *strchr(uri, '?') = '\0';
    assert_string_equal(uri, "/pools/default/bucketsStreaming/default");
    resp *h;
    conn *c = open_stream(f, uri, &h);
    json_t *j = next_config(c, h);
    assert_string_equal(jstr(jget(j, "name", NULL)), "default");
    assert_non_null(jget(j, "vBucketServerMap", NULL));
    json_decref(j);
    r = scopes(f, "POST", "", ADMIN, "name=s9");
    expect(r, 200);
    resp_free(r);
    j = next_config(c, h);
    assert_string_equal(jstr(jget(j, "collectionsManifestUid", NULL)), "1");
    json_decref(j);
    conn_close(c);
    resp_free(h);
    r = http(f, "GET", "/pools/default/bucketsStreaming/nope", ADMIN, NULL);
    expect(r, 404);
    resp_free(r);
}

static void cluster_initialisation(void **state)
{
    fixture *f = *state;
    /* /settings/web: what it has, then the administrator as container images set it. */
    resp *r = http(f, "GET", "/settings/web", ADMIN, NULL);
    expect(r, 200);
    assert_int_equal(json_integer_value(jget(r->json, "port", NULL)), f->port);
    assert_string_equal(jstr(jget(r->json, "username", NULL)), "Administrator");
    resp_free(r);
    const char *web = "/settings/web";
    expect_error(f, web, "username=a&password=secret1", "port", "The value must be supplied");
    expect_error(f, web, "port=SAME&password=secret1", "username", "The value must be supplied");
    expect_error(f, web, "port=SAME&username=Admin2&password=short", "password",
                 "at least 6 characters");
    expect_error(f, web, "port=SAME&username=a%3Ab&password=secret1", "username",
                 "must not contain");
    expect_error(f, web, "port=80&username=Admin2&password=secret1", "port", "greater than 1023");
    expect_error(f, web, "port=11210&username=Admin2&password=secret1", "port", "already in use");
    expect_error(f, web, "port=9000&username=Admin2&password=secret1", "port", "cannot move");
    r = http(f, "POST", web, "reader:pw", "port=SAME&username=Admin2&password=secret1");
    expect(r, 403);
    resp_free(r);
    char body[128];
    snprintf(body, sizeof body, "port=%d&username=Admin2&password=secret1", f->port);
    r = http(f, "POST", web, ADMIN, body);
    expect(r, 200);
    char want[64];
    snprintf(want, sizeof want, "http://127.0.0.1:%d/", f->port);
    assert_string_equal(jstr(jget(r->json, "newBaseUri", NULL)), want);
    resp_free(r);
    r = http(f, "GET", "/whoami", "Admin2:secret1", NULL);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "roles", "0", "role", NULL)), "admin");
    resp_free(r);
    r = http(f, "GET", web, ADMIN, NULL);
    assert_string_equal(jstr(jget(r->json, "username", NULL)), "Admin2");
    resp_free(r);

    /* Services: the data service, and nothing divan-server does not run. */
    const char *svc = "/node/controller/setupServices";
    r = http(f, "POST", svc, ADMIN, "services=kv&setDefaultMemQuotas=true");
    expect(r, 200);
    resp_free(r);
    static const struct {
        const char *body, *msg;
    } bad_svc[] = {{"services=index", "without kv service"},
                   {"services=kv%2Cn1ql", "only the kv service"},
                   {"services=kv%2Cwarp", "Unknown services: [\"warp\"]"},
                   {"services=", "At least one service"}};
    for (size_t i = 0; i < sizeof bad_svc / sizeof bad_svc[0]; i++) {
        r = http(f, "POST", svc, ADMIN, bad_svc[i].body);
        expect(r, 400);
        assert_true(json_is_array(r->json));
        if (!strstr(jstr(jget(r->json, "0", NULL)), bad_svc[i].msg))
            fail_msg("%s: %s", bad_svc[i].body, r->body);
        resp_free(r);
    }

    /* Memory quotas and the cluster name on /pools/default. */
    r = http(f, "POST", "/pools/default", ADMIN,
             "memoryQuota=512&indexMemoryQuota=300&clusterName=dev");
    expect(r, 200);
    resp_free(r);
    r = http(f, "GET", "/pools/default", ADMIN, NULL);
    assert_int_equal(json_integer_value(jget(r->json, "memoryQuota", NULL)), 512);
    assert_int_equal(json_integer_value(jget(r->json, "indexMemoryQuota", NULL)), 300);
    assert_string_equal(jstr(jget(r->json, "clusterName", NULL)), "dev");
    resp_free(r);
    const char *pool = "/pools/default";
    expect_error(f, pool, "memoryQuota=100", "memoryQuota",
                 "The Data service quota (100MB) cannot be less than 256MB");
    expect_error(f, pool, "memoryQuota=lots", "memoryQuota", "The value must be an integer");
    expect_error(f, pool, "cbasMemoryQuota=512", "cbasMemoryQuota", "cannot be less than 1024MB");
    expect_error(f, pool, "memoryQuota=999999999", "_", "exceeds the maximum allowed quota");
    expect_error(f, pool, "memoryQuota=512&warp=9", "warp", "Unsupported key");
    expect_error(f, pool, "", "_", "Request should have parameters");

    /* Index settings: recorded and answered in full. */
    r = http(f, "GET", "/settings/indexes", ADMIN, NULL);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "storageMode", NULL)), "");
    resp_free(r);
    r = http(f, "POST", "/settings/indexes", ADMIN, "storageMode=plasma&indexerThreads=4");
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "storageMode", NULL)), "plasma");
    assert_int_equal(json_integer_value(jget(r->json, "indexerThreads", NULL)), 4);
    assert_string_equal(jstr(jget(r->json, "logLevel", NULL)), "info");
    resp_free(r);
    const char *idx = "/settings/indexes";
    expect_error(f, idx, "storageMode=forestdb", "storageMode", "forestdb");
    expect_error(f, idx, "storageMode=disk", "storageMode", "must be one of the following");
    expect_error(f, idx, "indexerThreads=2000", "indexerThreads",
                 "The value must be in range from 0 to 1024");
    expect_error(f, idx, "logLevel=loud", "logLevel", "must be one of the following");
    expect_error(f, idx, "warp=1", "warp", "Unsupported key");
    r = http(f, "POST", idx, "reader:pw", "indexerThreads=1");
    expect(r, 403);
    resp_free(r);
    r = http(f, "GET", idx, ADMIN, NULL);
    assert_int_equal(json_integer_value(jget(r->json, "indexerThreads", NULL)), 4);
    resp_free(r);

    /* A bucket's RAM quota as Couchbase's docs write it: ramQuota, in MiB. */
    r = http(f, "POST", "/pools/default/buckets", ADMIN, "name=rq&ramQuota=256");
    expect(r, 202);
    resp_free(r);
    r = http(f, "GET", "/pools/default/buckets/rq", ADMIN, NULL);
    assert_int_equal(json_integer_value(jget(r->json, "quota", "ram", NULL)), 256ll << 20);
    resp_free(r);
    expect_error(f, "/pools/default/buckets", "name=rq2&ramQuota=50", "ramQuota",
                 "cannot be less than 100");
    r = http(f, "POST", "/pools/default/buckets/rq", ADMIN, "ramQuota=300");
    expect(r, 200);
    resp_free(r);
    r = http(f, "GET", "/pools/default/buckets/rq", ADMIN, NULL);
    assert_int_equal(json_integer_value(jget(r->json, "quota", "ram", NULL)), 300ll << 20);
    resp_free(r);
}

static int teardown_stopped(void **state)
{
    fixture *f = *state;
    if (f->r) dv_rest_stop(f->r);
    dv_users_free(f->users);
    dv_cluster_free(f->c);
    free(f);
    return 0;
}

/* ---- users, groups and roles ----------------------------------------------------------------- */

static void rbac(void **state)
{
    fixture *f = *state;
    /* A new user needs a password; roles are checked against what exists. */
    resp *r =
        http(f, "PUT", "/settings/rbac/users/local/alice", ADMIN, "roles=data_reader[default]");
    expect_body(r, 400, "Password is required for new user.");
    resp_free(r);
    r = http(f, "PUT", "/settings/rbac/users/local/alice", ADMIN,
             "password=secret1&roles=data_reader%5Bnosuch%5D,admin,bogus");
    expect(r, 400);
    assert_string_equal(jstr(jget(r->json, "errors", "roles", NULL)),
                        "Cannot assign roles to user because the following roles are unknown, "
                        "malformed or role parameters are undefined: [data_reader[nosuch],bogus]");
    resp_free(r);
    r = http(f, "PUT", "/settings/rbac/users/local/alice", ADMIN, "password=short&roles=admin");
    expect_body(r, 400, "at least 6 characters");
    resp_free(r);
    r = http(f, "PUT", "/settings/rbac/users/local/alice", ADMIN,
             "password=secret1&roles=admin&groups=nogroup");
    expect_body(r, 400, "Groups do not exist: nogroup");
    resp_free(r);
    r = http(f, "PUT", "/settings/rbac/users/local/alice", "reader:pw", "password=secret1");
    expect_body(r, 403, "cluster.admin.security.local!write");
    resp_free(r);

    /* A user with only a display name and a password can log in and sees nothing. */
    r = http(f, "PUT", "/settings/rbac/users/local/alice", ADMIN, "password=secret1&name=Alice+A");
    expect(r, 200);
    resp_free(r);
    r = http(f, "GET", "/pools/default/buckets/default", "alice:secret1", NULL);
    expect(r, 403);
    resp_free(r);

    /* A group's roles reach its members at once, and leave with the group. */
    r = http(f, "PUT", "/settings/rbac/groups/readers", ADMIN,
             "description=Read+default&roles=data_reader%5Bdefault%5D");
    expect(r, 200);
    resp_free(r);
    r = http(f, "GET", "/settings/rbac/groups/readers", ADMIN, NULL);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "id", NULL)), "readers");
    assert_string_equal(jstr(jget(r->json, "description", NULL)), "Read default");
    assert_string_equal(jstr(jget(r->json, "roles", "0", "role", NULL)), "data_reader");
    assert_string_equal(jstr(jget(r->json, "roles", "0", "bucket_name", NULL)), "default");
    resp_free(r);
    r = http(f, "PUT", "/settings/rbac/users/local/alice", ADMIN,
             "name=Alice+A&groups=readers&roles=query_select%5Bdefault%5D");
    expect(r, 200); /* no password: the old one stays */
    resp_free(r);
    r = http(f, "GET", "/pools/default/buckets/default", "alice:secret1", NULL);
    expect(r, 200);
    resp_free(r);
    r = http(f, "GET", "/settings/rbac/users/local/alice", ADMIN, NULL);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "id", NULL)), "alice");
    assert_string_equal(jstr(jget(r->json, "domain", NULL)), "local");
    assert_string_equal(jstr(jget(r->json, "name", NULL)), "Alice A");
    assert_string_equal(jstr(jget(r->json, "groups", "0", NULL)), "readers");
    assert_int_equal(json_array_size(jget(r->json, "roles", NULL)), 2);
    assert_string_equal(jstr(jget(r->json, "roles", "0", "role", NULL)), "query_select");
    assert_string_equal(jstr(jget(r->json, "roles", "0", "origins", "0", "type", NULL)), "user");
    assert_string_equal(jstr(jget(r->json, "roles", "1", "role", NULL)), "data_reader");
    assert_string_equal(jstr(jget(r->json, "roles", "1", "origins", "0", "type", NULL)), "group");
    assert_string_equal(jstr(jget(r->json, "roles", "1", "origins", "0", "name", NULL)), "readers");
    const char *when = jstr(jget(r->json, "password_change_date", NULL));
    assert_int_equal(strlen(when), 24); /* 2026-12-02T14:26:23.123Z */
    assert_int_equal(when[23], 'Z');
    resp_free(r);
    r = http(f, "GET", "/whoami", "alice:secret1", NULL);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "name", NULL)), "Alice A");
    resp_free(r);
    /* The group's roles change: the member's do too. */
    r = http(f, "PUT", "/settings/rbac/groups/readers", ADMIN, "roles=data_reader%5Bother%5D");
    expect_body(r, 400, "[data_reader[other]]");
    resp_free(r);
    r = http(f, "PUT", "/settings/rbac/groups/readers", ADMIN, "roles=");
    expect(r, 200);
    resp_free(r);
    r = http(f, "GET", "/pools/default/buckets/default", "alice:secret1", NULL);
    expect(r, 200); /* query_select[default] still selects the bucket */
    resp_free(r);
    r = http(f, "PUT", "/settings/rbac/groups/readers", ADMIN, "roles=cluster_admin");
    expect(r, 200);
    resp_free(r);
    r = http(f, "POST", "/pools/default/buckets", "alice:secret1", "name=bygroup");
    expect(r, 202);
    resp_free(r);
    r = http(f, "DELETE", "/settings/rbac/groups/readers", ADMIN, NULL);
    expect(r, 200);
    resp_free(r);
    r = http(f, "DELETE", "/settings/rbac/groups/readers", ADMIN, NULL);
    expect(r, 404);
    assert_string_equal(r->body, "\"Group was not found.\"");
    resp_free(r);
    r = http(f, "POST", "/pools/default/buckets", "alice:secret1", "name=bygroup2");
    expect(r, 403);
    resp_free(r);
    r = http(f, "GET", "/settings/rbac/groups/readers", ADMIN, NULL);
    expect(r, 404);
    assert_string_equal(r->body, "\"Unknown group.\"");
    resp_free(r);
    r = http(f, "GET", "/settings/rbac/users/local/alice", ADMIN, NULL);
    assert_int_equal(json_array_size(jget(r->json, "groups", NULL)), 0);
    resp_free(r);

    /* Names as Couchbase takes them: an e-mail address is one. */
    r = http(f, "PUT", "/settings/rbac/users/local/ann@example.com", ADMIN,
             "password=secret1&roles=ro_admin");
    expect(r, 200);
    resp_free(r);
    r = http(f, "GET", "/whoami", "ann@example.com:secret1", NULL);
    expect(r, 200);
    resp_free(r);
    r = http(f, "PUT", "/settings/rbac/users/local/@ann", ADMIN, "password=secret1");
    expect_body(r, 400, "Username cannot start with '@'");
    resp_free(r);
    r = http(f, "DELETE", "/settings/rbac/users/local/ann@example.com", ADMIN, NULL);
    expect(r, 200);
    resp_free(r);

    /* Lists. */
    r = http(f, "GET", "/settings/rbac/users", ADMIN, NULL);
    expect(r, 200);
    assert_int_equal(json_array_size(r->json), 6);
    assert_string_equal(jstr(jget(r->json, "0", "id", NULL)), "Administrator");
    resp_free(r);
    r = http(f, "GET", "/settings/rbac/users/external", ADMIN, NULL);
    expect(r, 200);
    assert_int_equal(json_array_size(r->json), 0);
    resp_free(r);
    r = http(f, "GET", "/settings/rbac/users/nodomain", ADMIN, NULL);
    expect(r, 404);
    assert_string_equal(r->body, "\"Unknown user domain.\"");
    resp_free(r);
    r = http(f, "GET", "/settings/rbac/users", "reader:pw", NULL);
    expect_body(r, 403, "cluster.admin.security.local!read");
    resp_free(r);
    r = http(f, "GET", "/settings/rbac/roles", "reader:pw", NULL);
    expect(r, 200);
    assert_true(json_array_size(r->json) > 20);
    assert_string_equal(jstr(jget(r->json, "0", "role", NULL)), "admin");
    assert_non_null(jget(r->json, "0", "desc", NULL));
    resp_free(r);
    r = http(f, "GET", "/settings/rbac/groups", ADMIN, NULL);
    expect(r, 200);
    assert_int_equal(json_array_size(r->json), 0);
    resp_free(r);

    /* Gone users are gone. */
    r = http(f, "DELETE", "/settings/rbac/users/local/alice", ADMIN, NULL);
    expect(r, 200);
    resp_free(r);
    r = http(f, "GET", "/settings/rbac/users/local/alice", ADMIN, NULL);
    expect(r, 404);
    assert_string_equal(r->body, "\"Unknown user.\"");
    resp_free(r);
    r = http(f, "DELETE", "/settings/rbac/users/local/alice", ADMIN, NULL);
    expect(r, 404);
    assert_string_equal(r->body, "\"User was not found.\"");
    resp_free(r);
    r = http(f, "GET", "/whoami", "alice:secret1", NULL);
    expect(r, 401);
    resp_free(r);
    r = http(f, "POST", "/settings/rbac/users/local/alice", ADMIN, NULL);
    expect(r, 405);
    resp_free(r);
}

/* ---- documents ------------------------------------------------------------------------------- */

#define DOCS "/pools/default/buckets/default/scopes/_default/collections/_default/docs"

static void documents(void **state)
{
    fixture *f = *state;
    /* Create: a new key, then the same key again as a create is refused. */
    resp *r = http(f, "POST", DOCS "/k1", ADMIN, "value=%7B%22a%22%3A1%7D&insert=true");
    expect(r, 200);
    char cas1[32];
    snprintf(cas1, sizeof cas1, "%s", jstr(jget(r->json, "cas", NULL)));
    resp_free(r);
    r = http(f, "POST", DOCS "/k1", ADMIN, "value=%7B%7D&insert=true");
    expect_body(r, 409, "already exists");
    resp_free(r);
    r = http(f, "GET", DOCS "/k1", ADMIN, NULL);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "meta", "id", NULL)), "k1");
    assert_string_equal(jstr(jget(r->json, "meta", "cas", NULL)), cas1);
    assert_string_equal(jstr(jget(r->json, "meta", "type", NULL)), "json");
    assert_int_equal(json_integer_value(jget(r->json, "meta", "flags", NULL)), 0x02000006);
    assert_int_equal(json_integer_value(jget(r->json, "json", "a", NULL)), 1);
    resp_free(r);

    /* Save with the CAS read: accepted once; the same CAS again is a conflict. */
    char body[128];
    snprintf(body, sizeof body, "value=%%7B%%22a%%22%%3A2%%7D&cas=%s", cas1);
    r = http(f, "POST", DOCS "/k1", ADMIN, body);
    expect(r, 200);
    assert_string_not_equal(jstr(jget(r->json, "cas", NULL)), cas1);
    resp_free(r);
    r = http(f, "POST", DOCS "/k1", ADMIN, body);
    expect_body(r, 409, "CAS mismatch");
    resp_free(r);
    r = http(f, "GET", DOCS "/k1", ADMIN, NULL);
    assert_int_equal(json_integer_value(jget(r->json, "json", "a", NULL)), 2);
    resp_free(r);

    /* Not JSON: kept as bytes, answered in base64. Bad fields are named. */
    r = http(f, "POST", DOCS "/k2", ADMIN, "value=hello&expiry=3600");
    expect(r, 200);
    resp_free(r);
    r = http(f, "GET", DOCS "/k2", ADMIN, NULL);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "base64", NULL)), "aGVsbG8=");
    assert_true(json_integer_value(jget(r->json, "meta", "expiration", NULL)) > 0);
    resp_free(r);
    r = http(f, "POST", DOCS "/k3", ADMIN, "flags=x&cas=-1&what=1");
    expect(r, 400);
    assert_non_null(jget(r->json, "errors", "value", NULL));
    assert_non_null(jget(r->json, "errors", "flags", NULL));
    assert_non_null(jget(r->json, "errors", "cas", NULL));
    assert_string_equal(jstr(jget(r->json, "errors", "what", NULL)), "Unsupported key");
    resp_free(r);

    /* The list: key order, pages, a prefix. */
    for (int i = 0; i < 12; i++) {
        char path[160];
        snprintf(path, sizeof path, DOCS "/p%02d", i);
        r = http(f, "POST", path, ADMIN, "value=1");
        expect(r, 200);
        resp_free(r);
    }
    r = http(f, "GET", DOCS, ADMIN, NULL);
    expect(r, 200);
    assert_int_equal(json_integer_value(jget(r->json, "total_rows", NULL)), 14);
    assert_int_equal(json_array_size(jget(r->json, "rows", NULL)), 10);
    assert_string_equal(jstr(jget(r->json, "rows", "0", "id", NULL)), "k1");
    assert_string_equal(jstr(jget(r->json, "rows", "2", "id", NULL)), "p00");
    resp_free(r);
    r = http(f, "GET", DOCS "?prefix=p&skip=10&limit=5&include_docs=true", ADMIN, NULL);
    expect(r, 200);
    assert_int_equal(json_integer_value(jget(r->json, "total_rows", NULL)), 12);
    assert_int_equal(json_array_size(jget(r->json, "rows", NULL)), 2);
    assert_string_equal(jstr(jget(r->json, "rows", "0", "id", NULL)), "p10");
    assert_int_equal(json_integer_value(jget(r->json, "rows", "0", "json", NULL)), 1);
    resp_free(r);
    r = http(f, "GET", DOCS "?limit=5000", ADMIN, NULL);
    expect(r, 400);
    resp_free(r);

    /* Roles: a reader reads and lists, and cannot write. */
    r = http(f, "GET", DOCS "/k1", "reader:pw", NULL);
    expect(r, 200);
    resp_free(r);
    r = http(f, "POST", DOCS "/k1", "reader:pw", "value=1");
    expect_body(r, 403, "cluster.collection[default:_default:_default].data.docs!upsert");
    resp_free(r);
    r = http(f, "DELETE", DOCS "/k1", "reader:pw", NULL);
    expect(r, 403);
    resp_free(r);
    r = http(f, "GET", DOCS, "other:pw", NULL);
    expect(r, 403);
    resp_free(r);

    /* Delete, with a stale CAS refused; missing keys and collections are 404. */
    r = http(f, "DELETE", DOCS "/k1?cas=1", ADMIN, NULL);
    expect_body(r, 409, "CAS mismatch");
    resp_free(r);
    r = http(f, "DELETE", DOCS "/k1", ADMIN, NULL);
    expect(r, 200);
    resp_free(r);
    r = http(f, "GET", DOCS "/k1", ADMIN, NULL);
    expect_body(r, 404, "Document not found.");
    resp_free(r);
    r = http(f, "DELETE", DOCS "/k1", ADMIN, NULL);
    expect(r, 404);
    resp_free(r);
    r = http(f, "GET", "/pools/default/buckets/default/scopes/_default/collections/nope/docs",
             ADMIN, NULL);
    expect_body(r, 404, "is not found");
    resp_free(r);
    r = http(f, "GET", "/pools/default/buckets/nope/scopes/_default/collections/_default/docs",
             ADMIN, NULL);
    expect(r, 404);
    resp_free(r);
    r = http(f, "PUT", DOCS "/k1", ADMIN, "value=1");
    expect(r, 405);
    resp_free(r);
}

/* ---- the console ----------------------------------------------------------------------------- */

static void console(void **state)
{
    fixture *f = *state;
    char v[512];
    resp *r = http(f, "GET", "/ui", NULL, NULL);
    expect(r, 301);
    assert_string_equal(header(r, "Location", v, sizeof v), "/ui/index.html");
    resp_free(r);
    r = http(f, "GET", "/ui/", NULL, NULL);
    expect_body(r, 200, "<title>divan console</title>");
    assert_string_equal(header(r, "Content-Type", v, sizeof v), "text/html; charset=utf-8");
    assert_string_equal(header(r, "Cache-Control", v, sizeof v), "no-cache");
    assert_non_null(strstr(header(r, "Content-Security-Policy", v, sizeof v), "script-src 'self'"));
    assert_string_equal(header(r, "X-Content-Type-Options", v, sizeof v), "nosniff");
    char etag[64];
    snprintf(etag, sizeof etag, "%s", header(r, "ETag", v, sizeof v));
    const dv_ui_file *index = dv_ui_find("index.html", 10);
    assert_non_null(index);
    assert_int_equal(r->len, index->len);
    assert_string_equal(etag, index->etag);
    resp_free(r);

    /* The browser's copy is current: 304 without a body; a changed one gets the file. */
    char extra[128];
    snprintf(extra, sizeof extra, "If-None-Match: %s\r\n", etag);
    r = http_ex(f, "GET", "/ui/index.html", NULL, NULL, NULL, extra);
    expect(r, 304);
    assert_int_equal(r->len, 0);
    resp_free(r);
    r = http_ex(f, "GET", "/ui/index.html", NULL, NULL, NULL, "If-None-Match: \"other\"\r\n");
    expect(r, 200);
    resp_free(r);
    r = http(f, "GET", "/ui/app.js", NULL, NULL);
    expect_body(r, 200, "use strict");
    assert_string_equal(header(r, "Content-Type", v, sizeof v), "text/javascript; charset=utf-8");
    resp_free(r);
    r = http(f, "GET", "/ui/app.css?v=1", NULL, NULL);
    expect(r, 200);
    assert_string_equal(header(r, "Content-Type", v, sizeof v), "text/css; charset=utf-8");
    resp_free(r);
    r = http(f, "GET", "/ui/icon.svg", NULL, NULL);
    assert_string_equal(header(r, "Content-Type", v, sizeof v), "image/svg+xml");
    resp_free(r);
    r = http(f, "GET", "/ui/../pools", NULL, NULL);
    expect(r, 404);
    resp_free(r);
    r = http(f, "GET", "/ui/nope.js", NULL, NULL);
    expect(r, 404);
    resp_free(r);
    r = http(f, "POST", "/ui/index.html", NULL, "a=1");
    expect(r, 405);
    resp_free(r);
    r = http(f, "GET", "/uix", NULL, NULL);
    expect(r, 404);
    resp_free(r);

    /* A browser at / is sent to the console; other clients get the JSON. */
    r = http_ex(f, "GET", "/", NULL, NULL, NULL, "Accept: text/html,application/xhtml+xml\r\n");
    expect(r, 302);
    assert_string_equal(header(r, "Location", v, sizeof v), "/ui/index.html");
    resp_free(r);
    r = http(f, "GET", "/", NULL, NULL);
    expect_body(r, 200, "divan-server");
    resp_free(r);

    /* The console's calls get 401 without the challenge that would open the browser's dialog. */
    r = http_ex(f, "GET", "/whoami", "Administrator:wrong", NULL, NULL, "ns-server-ui: yes\r\n");
    expect(r, 401);
    assert_null(header(r, "WWW-Authenticate", v, sizeof v));
    resp_free(r);
    r = http(f, "GET", "/whoami", "Administrator:wrong", NULL);
    expect(r, 401);
    assert_non_null(header(r, "WWW-Authenticate", v, sizeof v));
    resp_free(r);
    assert_true(dv_ui_total_bytes > 1000);
}

/* The workbench's proxy reaches this server's query service with the caller's credentials. */
static void query_proxy(void **state)
{
    fixture *f = *state;
    resp *r = http_ex(f, "POST", "/_p/query/query/service", ADMIN, NULL, NULL,
                      "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    expect_body(r, 503, "not running");
    resp_free(r);
    char err[256];
    dv_qsvc_options o = {.host = "127.0.0.1", .port = 0};
    dv_qsvc *q = dv_qsvc_start(f->c, f->users, &o, err, sizeof err);
    if (!q) fail_msg("dv_qsvc_start: %s", err);
    dv_cluster_set_query_port(f->c, (uint16_t)dv_qsvc_port(q));
    static const char stmt[] = "{\"statement\":\"SELECT 1 AS one\"}";
    char extra[256];
    snprintf(extra, sizeof extra, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(stmt), stmt);
    r = http_ex(f, "POST", "/_p/query/query/service", ADMIN, NULL, NULL, extra);
    expect(r, 200);
    assert_string_equal(jstr(jget(r->json, "status", NULL)), "success");
    assert_int_equal(json_integer_value(jget(r->json, "results", "0", "one", NULL)), 1);
    resp_free(r);
    /* The query service checks the privileges: a keyspace the user may not read is refused. */
    static const char stmt2[] = "{\"statement\":\"SELECT * FROM `default`\"}";
    snprintf(extra, sizeof extra, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(stmt2), stmt2);
    r = http_ex(f, "POST", "/_p/query/query/service", "other:pw", NULL, NULL, extra);
    assert_true(r->status >= 400);
    assert_string_equal(jstr(jget(r->json, "status", NULL)), "fatal");
    resp_free(r);
    r = http(f, "POST", "/_p/query/query/service", NULL, NULL);
    expect(r, 401);
    resp_free(r);
    r = http(f, "GET", "/_p/query/query/service", ADMIN, NULL);
    expect(r, 405);
    resp_free(r);
    dv_cluster_set_query_port(f->c, 0);
    dv_qsvc_stop(q);
}

/* ---- concurrency ----------------------------------------------------------------------------- */

typedef struct worker {
    fixture *f;
    int id;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char body[64], path[128];
    snprintf(body, sizeof body, "name=w%d", w->id);
    snprintf(path, sizeof path, "/pools/default/buckets/w%d", w->id);
    for (int i = 0; i < 5; i++) {
        resp *r = http(w->f, "POST", "/pools/default/buckets", ADMIN, body);
        expect(r, 202);
        resp_free(r);
        r = http(w->f, "GET", "/pools/default/b/default", "reader:pw", NULL);
        expect(r, 200);
        resp_free(r);
        r = http(w->f, "GET", "/pools/default/buckets", ADMIN, NULL);
        expect(r, 200);
        resp_free(r);
        r = http(w->f, "DELETE", path, ADMIN, NULL);
        expect(r, 200);
        resp_free(r);
    }
    return NULL;
}

static void concurrent(void **state)
{
    fixture *f = *state;
    resp *hc;
    conn *ns = open_stream(f, "/pools/default/nodeServicesStreaming", &hc);
    json_decref(next_config(ns, hc));
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){f, i};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&f->changes), 40);
    /* The stream saw at least one of the changes and is still alive. */
    json_t *j = next_config(ns, hc);
    assert_non_null(j);
    json_decref(j);
    conn_close(ns);
    resp_free(hc);
}

static void start_errors(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    dv_rest_options o = {.host = "127.0.0.1", .port = f->port};
    assert_null(dv_rest_start(f->c, f->users, &o, err, sizeof err));
    assert_non_null(strstr(err, "in use"));
    o.host = "::1";
    o.port = 0;
    dv_rest *r6 = dv_rest_start(f->c, f->users, &o, err, sizeof err);
    if (r6) { /* where the machine has IPv6 */
        assert_true(dv_rest_port(r6) > 0);
        dv_rest_stop(r6);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parsers),
        cmocka_unit_test_setup_teardown(auth, setup, teardown),
        cmocka_unit_test_setup_teardown(pools_default, setup, teardown),
        cmocka_unit_test_setup_teardown(terse_configs, setup, teardown),
        cmocka_unit_test_setup_teardown(buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(scopes_and_collections, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(streaming, setup, teardown_stopped),
        cmocka_unit_test_setup_teardown(concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(whoami_and_streaming_uri, setup, teardown),
        cmocka_unit_test_setup_teardown(cluster_initialisation, setup, teardown),
        cmocka_unit_test_setup_teardown(start_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(rbac, setup, teardown),
        cmocka_unit_test_setup_teardown(documents, setup, teardown),
        cmocka_unit_test_setup_teardown(console, setup, teardown),
        cmocka_unit_test_setup_teardown(query_proxy, setup, teardown),
    };
    return TU_RUN(tests);
}
