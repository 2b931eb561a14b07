/* The engine's HTTP/1.1 response parser and request writer (src/client/http.c): every response
 * is also fed split at every byte boundary and byte by byte, and must parse the same. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "client/http.h"

/* Feed s whole, then split in two at every boundary, then one byte at a time; each time the
 * outcome (after an eof if still MORE and eof is set) must be want, with status and body. */
static void check(const char *s, int eof, dv_http_rc want, int status, const char *body)
{
    size_t n = strlen(s);
    for (size_t cut = 0; cut <= n + 1; cut++) {
        dv_http_resp r;
        dv_http_resp_init(&r);
        dv_http_rc rc;
        if (cut <= n) {
            rc = dv_http_resp_feed(&r, (const uint8_t *)s, cut);
            if (rc == DV_HTTP_MORE) rc = dv_http_resp_feed(&r, (const uint8_t *)s + cut, n - cut);
        } else {
            rc = DV_HTTP_MORE;
            for (size_t i = 0; i < n && rc == DV_HTTP_MORE; i++)
                rc = dv_http_resp_feed(&r, (const uint8_t *)s + i, 1);
        }
        if (rc == DV_HTTP_MORE && eof) rc = dv_http_resp_eof(&r);
        assert_int_equal(rc, want);
        if (want == DV_HTTP_DONE) {
            assert_int_equal(r.status, status);
            assert_int_equal(dv_buf_size(&r.body), strlen(body));
            if (*body) assert_memory_equal(dv_buf_head(&r.body), body, strlen(body));
        }
        dv_http_resp_free(&r);
    }
}

static void content_length(void **state)
{
    (void)state;
    check("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n"
          "{\"a\":1}",
          0, DV_HTTP_DONE, 200, "{\"a\":1}");
    /* Bytes after the body are ignored; bare LF line ends; no reason phrase; OWS. */
    check("HTTP/1.0 404\nContent-Length:   2  \n\n{}garbage", 0, DV_HTTP_DONE, 404, "{}");
    check("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", 0, DV_HTTP_DONE, 401, "");
    /* The same length twice is fine, two different ones are not. */
    check("HTTP/1.1 200 OK\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nx", 0, DV_HTTP_DONE,
          200, "x");
    check("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy", 0, DV_HTTP_ERROR,
          0, NULL);
    /* Truncated body. */
    check("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 1, DV_HTTP_ERROR, 0, NULL);
}

static void chunked(void **state)
{
    (void)state;
    check("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3\r\n{\"a\r\nB ; name=value\r\n\":12345678}\r\n0\r\n\r\n",
          0, DV_HTTP_DONE, 200, "{\"a\":12345678}");
    /* Trailers, upper-case hex, chunked wins over Content-Length. */
    check("HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: Chunked\r\n\r\n"
          "0000B\r\nhello world\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
          0, DV_HTTP_DONE, 200, "hello world");
    /* No CRLF after the data, a bad size, a missing last chunk, an unknown coding. */
    check("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n0\r\n\r\n", 0,
          DV_HTTP_ERROR, 0, NULL);
    check("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, DV_HTTP_ERROR, 0, NULL);
    check("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 0, DV_HTTP_ERROR, 0, NULL);
    check("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", 1, DV_HTTP_ERROR, 0,
          NULL);
    check("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, DV_HTTP_ERROR, 0, NULL);
    /* A chunk over the body limit. */
    check("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n", 0,
          DV_HTTP_ERROR, 0, NULL);
}

static void close_delimited_and_interim(void **state)
{
    (void)state;
    check("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"rev\":1}", 1, DV_HTTP_DONE, 200,
          "{\"rev\":1}");
    check("HTTP/1.1 200 OK\r\n\r\n", 1, DV_HTTP_DONE, 200, "");
    /* 100 Continue is skipped; 204 has no body. */
    check("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0,
          DV_HTTP_DONE, 200, "ok");
    check("HTTP/1.1 204 No Content\r\n\r\n", 0, DV_HTTP_DONE, 204, "");
    /* Headers cut short by the close. */
    check("HTTP/1.1 200 OK\r\nContent-Le", 1, DV_HTTP_ERROR, 0, NULL);
    check("", 1, DV_HTTP_ERROR, 0, NULL);
}

static void bad_input(void **state)
{
    (void)state;
    static const char *bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 X\r\n\r\n",
        "HTTP/1.1 600 X\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: 1\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 16777217\r\n\r\n",
        "\x01\x02\xff\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check(bad[i], 1, DV_HTTP_ERROR, 0, NULL);
}

static void limits(void **state)
{
    (void)state;
    /* Headers over 16 KiB. */
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_buf_printf(&b, "HTTP/1.1 200 OK\r\n"), 0);
    while (dv_buf_size(&b) <= DV_HTTP_MAX_HEADER)
        assert_int_equal(dv_buf_printf(&b, "X-Filler: %0100d\r\n", 0), 0);
    dv_http_resp r;
    dv_http_resp_init(&r);
    assert_int_equal(dv_http_resp_feed(&r, dv_buf_head(&b), dv_buf_size(&b)), DV_HTTP_ERROR);
    dv_http_resp_free(&r);
    /* A close-delimited body over 16 MiB. */
    dv_http_resp_init(&r);
    const char *h = "HTTP/1.1 200 OK\r\n\r\n";
    assert_int_equal(dv_http_resp_feed(&r, (const uint8_t *)h, strlen(h)), DV_HTTP_MORE);
    uint8_t *mb = dv_calloc(1, 1024 * 1024);
    assert_non_null(mb);
    dv_http_rc rc = DV_HTTP_MORE;
    for (int i = 0; i < 17 && rc == DV_HTTP_MORE; i++) rc = dv_http_resp_feed(&r, mb, 1024 * 1024);
    assert_int_equal(rc, DV_HTTP_ERROR);
    assert_int_equal(dv_http_resp_eof(&r), DV_HTTP_ERROR);
    dv_free(mb);
    dv_http_resp_free(&r);
    /* Exactly 16 MiB by Content-Length is accepted. */
    dv_http_resp_init(&r);
    char hd[128];
    snprintf(hd, sizeof hd, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", DV_HTTP_MAX_BODY);
    assert_int_equal(dv_http_resp_feed(&r, (const uint8_t *)hd, strlen(hd)), DV_HTTP_MORE);
    mb = dv_calloc(1, DV_HTTP_MAX_BODY);
    assert_non_null(mb);
    assert_int_equal(dv_http_resp_feed(&r, mb, DV_HTTP_MAX_BODY), DV_HTTP_DONE);
    assert_int_equal(dv_buf_size(&r.body), DV_HTTP_MAX_BODY);
    dv_http_resp_free(&r);
    /* A service request's parser takes more (its own limit), chunked here. */
    dv_http_resp_init(&r);
    r.max_body = 2u * DV_HTTP_MAX_BODY;
    const char *ch = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_int_equal(dv_http_resp_feed(&r, (const uint8_t *)ch, strlen(ch)), DV_HTTP_MORE);
    for (int i = 0; i < 2; i++) {
        snprintf(hd, sizeof hd, "%x\r\n", DV_HTTP_MAX_BODY);
        assert_int_equal(dv_http_resp_feed(&r, (const uint8_t *)hd, strlen(hd)), DV_HTTP_MORE);
        assert_int_equal(dv_http_resp_feed(&r, mb, DV_HTTP_MAX_BODY), DV_HTTP_MORE);
        assert_int_equal(dv_http_resp_feed(&r, (const uint8_t *)"\r\n", 2), DV_HTTP_MORE);
    }
    assert_int_equal(dv_http_resp_feed(&r, (const uint8_t *)"1\r\n", 3), DV_HTTP_ERROR);
    dv_http_resp_free(&r);
    dv_free(mb);
    dv_buf_free(&b);
}

static void request(void **state)
{
    (void)state;
    dv_buf path = DV_BUF_INIT, out = DV_BUF_INIT;
    assert_int_equal(dv_http_bucket_path(&path, "my bucket/%é"), 0);
    assert_int_equal(dv_buf_append_u8(&path, 0), 0);
    assert_string_equal((const char *)dv_buf_head(&path),
                        "/pools/default/b/my%20bucket%2F%25%C3%A9");
    assert_int_equal(dv_http_request(&out, "node1.test", 8091, "/pools/default/b/default",
                                     "Administrator", "password"),
                     0);
    assert_int_equal(dv_buf_append_u8(&out, 0), 0);
    assert_string_equal((const char *)dv_buf_head(&out),
                        "GET /pools/default/b/default HTTP/1.1\r\n"
                        "Host: node1.test:8091\r\n"
                        "Authorization: Basic QWRtaW5pc3RyYXRvcjpwYXNzd29yZA==\r\n"
                        "Accept: application/json\r\n"
                        "User-Agent: divan/0.1.0\r\n"
                        "Connection: close\r\n\r\n");
    dv_buf_reset(&out);
    assert_int_equal(dv_http_request(&out, "::1", 9000, "/", "u", ""), 0);
    assert_int_equal(dv_buf_append_u8(&out, 0), 0);
    assert_non_null(strstr((const char *)dv_buf_head(&out), "\r\nHost: [::1]:9000\r\n"));
    assert_non_null(strstr((const char *)dv_buf_head(&out), "\r\nAuthorization: Basic dTo=\r\n"));
    dv_buf_free(&path);
    dv_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(content_length),
        cmocka_unit_test(chunked),
        cmocka_unit_test(close_delimited_and_interim),
        cmocka_unit_test(bad_input),
        cmocka_unit_test(limits),
        cmocka_unit_test(request),
    };
    return TU_RUN(tests);
}
