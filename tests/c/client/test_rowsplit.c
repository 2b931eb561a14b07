/* The query body splitter (src/client/rowsplit.c): every body is also fed split at every byte
 * boundary and byte by byte, and must give the same rows and the same rest. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "client/rowsplit.h"

typedef struct got {
    dv_buf rows; /* each row, then "\n" */
    size_t n;
    size_t stop_at; /* ask to pause after this many rows (0: never) */
} got;

static int on_row(void *ud, const char *row, size_t len)
{
    got *g = ud;
    dv_buf_append(&g->rows, row, len);
    dv_buf_append(&g->rows, "\n", 1);
    g->n++;
    return g->stop_at && g->n % g->stop_at == 0;
}

/* Feed p[0..n) in pieces of at most step bytes (0: whole), resuming after every pause. */
static int feed_all(dv_rowsplit *s, got *g, const char *p, size_t n, size_t step)
{
    size_t off = 0;
    while (off < n) {
        size_t k = step && step < n - off ? step : n - off;
        size_t done = 0;
        while (done < k) {
            long r = dv_rowsplit_feed(s, (const uint8_t *)p + off + done, k - done, on_row, g);
            if (r < 0) return -1;
            done += (size_t)r;
        }
        off += k;
    }
    return dv_rowsplit_end(s);
}

static void check(const char *body, const char *rows, const char *meta)
{
    size_t n = strlen(body);
    for (size_t step = 0; step <= n; step++) {
        for (size_t stop = 0; stop < 3; stop++) {
            dv_rowsplit s;
            dv_rowsplit_init(&s);
            got g = {.stop_at = stop};
            dv_buf_init(&g.rows);
            assert_int_equal(feed_all(&s, &g, body, n, step), 0);
            dv_buf_append(&g.rows, "", 1);
            dv_buf_append(&s.meta, "", 1);
            assert_string_equal((const char *)dv_buf_head(&g.rows), rows);
            assert_string_equal((const char *)dv_buf_head(&s.meta), meta);
            assert_int_equal(s.rows, g.n);
            dv_buf_free(&g.rows);
            dv_rowsplit_free(&s);
        }
    }
}

static void rows_of_every_kind(void **state)
{
    (void)state;
    check(
        "{\"requestID\": \"r1\", \"signature\": {\"*\": \"*\"}, \"results\": [\n"
        "{\"a\": 1, \"b\": [1, {\"c\": \"]}\\\"\"}]},\n[1, 2],\n\"s,]\\\"\",\n12.5e3 , true,null\n"
        "],\n\"status\": \"success\", \"metrics\": {\"resultCount\": 6}}\n",
        "{\"a\": 1, \"b\": [1, {\"c\": \"]}\\\"\"}]}\n[1, 2]\n\"s,]\\\"\"\n12.5e3\ntrue\nnull\n",
        "{\"requestID\": \"r1\", \"signature\": {\"*\": \"*\"}, \"results\": [],\n"
        "\"status\": \"success\", \"metrics\": {\"resultCount\": 6}}\n");
}

static void no_rows(void **state)
{
    (void)state;
    check("{\"results\": [], \"status\": \"success\"}", "",
          "{\"results\": [], \"status\": \"success\"}");
    check("{\"errors\": [{\"code\": 3000, \"msg\": \"syntax error - at results\"}], "
          "\"status\": \"fatal\"}",
          "",
          "{\"errors\": [{\"code\": 3000, \"msg\": \"syntax error - at results\"}], "
          "\"status\": \"fatal\"}");
    /* "results" deeper down, or as a value, or not an array: not the rows. */
    check("{\"x\": {\"results\": [1]}, \"y\": \"results\", \"results\": 5}", "",
          "{\"x\": {\"results\": [1]}, \"y\": \"results\", \"results\": 5}");
    /* Not an object: passed through whole. */
    check("Service Unavailable", "", "Service Unavailable");
    check("  [1, 2]", "", "  [1, 2]");
    check("", "", "");
}

static void keys_like_results(void **state)
{
    (void)state;
    check("{\"result\": [1], \"resultsX\": [2], \"re\\u0073ults\": [3], \"results\": [4]}", "4\n",
          "{\"result\": [1], \"resultsX\": [2], \"re\\u0073ults\": [3], \"results\": []}");
}

static void rows_after_errors(void **state)
{
    (void)state;
    /* The service may fail after rows: they are handed out, the errors stay in the rest. */
    check("{\"results\": [{\"n\": 1},{\"n\": 2}], \"errors\": [{\"code\": 1080}], "
          "\"status\": \"timeout\"}",
          "{\"n\": 1}\n{\"n\": 2}\n",
          "{\"results\": [], \"errors\": [{\"code\": 1080}], \"status\": \"timeout\"}");
}

static void truncated_and_limits(void **state)
{
    (void)state;
    const char *cut[] = {"{\"results\": [{\"a\": 1", "{\"results\": [\"abc", "{\"results\": [12"};
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        dv_rowsplit s;
        dv_rowsplit_init(&s);
        got g = {0};
        dv_buf_init(&g.rows);
        long r = dv_rowsplit_feed(&s, (const uint8_t *)cut[i], strlen(cut[i]), on_row, &g);
        assert_int_equal(r, (long)strlen(cut[i]));
        assert_int_equal(g.n, 0);
        assert_int_equal(dv_rowsplit_end(&s), -1);
        dv_buf_free(&g.rows);
        dv_rowsplit_free(&s);
    }
    /* The rest of the body is bounded. */
    dv_rowsplit s;
    dv_rowsplit_init(&s);
    static char big[64 * 1024];
    memset(big, ' ', sizeof big);
    big[0] = 'x';
    long r = 0;
    for (size_t total = 0; total <= DV_ROWSPLIT_MAX_META && r >= 0; total += sizeof big)
        r = dv_rowsplit_feed(&s, (const uint8_t *)big, sizeof big, on_row, NULL);
    assert_int_equal(r, -1);
    dv_rowsplit_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_of_every_kind),   cmocka_unit_test(no_rows),
        cmocka_unit_test(keys_like_results),    cmocka_unit_test(rows_after_errors),
        cmocka_unit_test(truncated_and_limits),
    };
    return TU_RUN(tests);
}
