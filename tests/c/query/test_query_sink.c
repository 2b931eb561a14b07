/* The row sink of dv_query_request: the same rows as the buffered result, in the same order,
 * for every kind of statement; rows handed on before a later error; a sink that stops the
 * request; the signature and PREPARE name before the first row. */
#include "qtest.h"

typedef struct sink {
    json_t *rows;
    json_t *signature;
    char prepared[64];
    int begins;
    size_t stop_after; /* the row call that returns nonzero (1-based); 0 = never */
    int stop_begin;
} sink;

static int on_begin(void *ud, const json_t *signature, const char *prepared)
{
    sink *k = ud;
    k->begins++;
    assert_int_equal(json_array_size(k->rows), 0);
    k->signature = signature ? json_deep_copy(signature) : NULL;
    snprintf(k->prepared, sizeof k->prepared, "%s", prepared ? prepared : "");
    return k->stop_begin;
}

static int on_row(void *ud, const json_t *row)
{
    sink *k = ud;
    assert_int_equal(k->begins, 1);
    json_array_append_new(k->rows, json_deep_copy(row));
    return k->stop_after && json_array_size(k->rows) >= k->stop_after;
}

/* Run stmt with the sink k (rows reset) into *res. */
static void run_sink(sink *k, const char *stmt, uint64_t deadline, dv_query_result *res)
{
    json_decref(k->rows);
    json_decref(k->signature);
    k->rows = json_array();
    k->signature = NULL;
    k->begins = 0;
    dv_query_request rq = {0};
    rq.statement = stmt;
    rq.len = strlen(stmt);
    rq.auto_execute = T.auto_execute;
    rq.deadline_ns = deadline;
    rq.timeout_text = "1ms";
    rq.begin = on_begin;
    rq.row = on_row;
    rq.sink_ud = k;
    dv_query_run(&rq, &T.src, T.cat, res);
}

static void sink_free(sink *k)
{
    json_decref(k->rows);
    json_decref(k->signature);
}

/* The buffered run and the sink's run of stmt agree. */
static void same_rows(const char *stmt)
{
    char *want = strdup(qt_run(&T, stmt));
    assert_string_equal(T.last.status, "success");
    json_t *want_sig = T.last.signature ? json_incref(T.last.signature) : NULL;
    sink k = {0};
    dv_query_result res;
    run_sink(&k, stmt, 0, &res);
    assert_string_equal(res.status, "success");
    assert_non_null(res.results);
    assert_int_equal(json_array_size(res.results), 0);
    assert_null(res.errors);
    char *got = json_dumps(k.rows, DV_QUERY_JSON_FLAGS);
    if (strcmp(got, want)) fail_msg("%s\n  buffered: %s\n  sink:     %s", stmt, want, got);
    if (json_array_size(k.rows)) {
        assert_int_equal(k.begins, 1);
        assert_true(want_sig ? json_equal(want_sig, k.signature) : !k.signature);
    }
    free(got);
    free(want);
    json_decref(want_sig);
    dv_query_result_clear(&res);
    sink_free(&k);
}

static void test_same_rows(void **s)
{
    (void)s;
    QT_EQ(&T, "CREATE PRIMARY INDEX ON travel", "[]");
    static const char *const stmts[] = {
        "SELECT * FROM travel",
        "SELECT RAW name FROM travel WHERE age > 20",
        "SELECT name, age FROM travel ORDER BY age DESC, name",
        "SELECT RAW META().id FROM travel ORDER BY name DESC LIMIT 2 OFFSET 1",
        "SELECT RAW name FROM travel LIMIT 2 OFFSET 1",
        "SELECT RAW name FROM travel LIMIT 0",
        "SELECT RAW name FROM travel OFFSET 9",
        "SELECT RAW x FROM ARRAY_RANGE(0, 100) AS x WHERE x % 3 = 0 LIMIT 10 OFFSET 5",
        "SELECT RAW x FROM ARRAY_RANGE(0, 100) AS x ORDER BY -x LIMIT 3 OFFSET 2",
        "SELECT DISTINCT city FROM travel",
        "SELECT DISTINCT RAW x % 7 FROM ARRAY_RANGE(0, 50) AS x LIMIT 4 OFFSET 1",
        "SELECT city, COUNT(*) AS n FROM travel GROUP BY city",
        "SELECT city, COUNT(*) AS n FROM travel GROUP BY city HAVING COUNT(*) > 1",
        ("SELECT x % 3 AS m, SUM(x) AS s FROM ARRAY_RANGE(0, 30) AS x GROUP BY x % 3 "
         "ORDER BY s DESC LIMIT 2"),
        "SELECT COUNT(*) AS n FROM travel",
        "SELECT COUNT(*) AS n FROM ARRAY_RANGE(0, 10) AS a, ARRAY_RANGE(0, 10) AS b",
        "SELECT 1 AS one",
        "SELECT RAW t.name FROM travel t USE KEYS ['u2', 'u1']",
        "SELECT RAW (SELECT RAW y FROM ARRAY_RANGE(0, x) AS y) FROM ARRAY_RANGE(0, 4) AS x",
        "SELECT a.name, b.name AS other FROM travel a JOIN travel b ON KEYS 'u1'",
        "EXPLAIN SELECT * FROM travel",
        "UPSERT INTO travel VALUES ('u7', {'name': 'gus'}) RETURNING name",
        "UPDATE travel USE KEYS 'u7' SET age = 3 RETURNING RAW age",
        "PREPARE p1 FROM SELECT RAW name FROM travel ORDER BY name",
        "EXECUTE p1",
    };
    for (size_t i = 0; i < sizeof stmts / sizeof *stmts; i++) same_rows(stmts[i]);
}

/* PREPARE with auto_execute: the name is known at begin, before the rows. */
static void test_prepared_name_first(void **s)
{
    (void)s;
    QT_EQ(&T, "CREATE PRIMARY INDEX ON travel", "[]");
    T.auto_execute = 1;
    sink k = {0};
    dv_query_result res;
    run_sink(&k, "PREPARE p2 FROM SELECT RAW name FROM travel WHERE age > 26", 0, &res);
    assert_string_equal(res.status, "success");
    assert_string_equal(res.prepared, "p2");
    assert_string_equal(k.prepared, "p2");
    assert_string_equal(json_string_value(k.signature), "json");
    char *got = json_dumps(k.rows, DV_QUERY_JSON_FLAGS);
    assert_string_equal(got, "[\"ann\"]");
    free(got);
    dv_query_result_clear(&res);
    sink_free(&k);
}

/* Rows already handed on stay handed on when a later row fails: status "errors" after them. */
static void test_error_after_rows(void **s)
{
    (void)s;
    static const char stmt[] = "SELECT RAW ARRAY_LENGTH(ARRAY_RANGE(0, CASE WHEN x = 5 THEN 2e7 "
                               "ELSE 1 END)) FROM ARRAY_RANGE(0, 10) AS x";
    QT_ERR(&T, stmt, "ERR 5500");
    sink k = {0};
    dv_query_result res;
    run_sink(&k, stmt, 0, &res);
    assert_string_equal(res.status, "errors");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(res.errors, 0), "code")),
                     5500);
    char *got = json_dumps(k.rows, DV_QUERY_JSON_FLAGS);
    assert_string_equal(got, "[1,1,1,1,1]");
    free(got);
    dv_query_result_clear(&res);
    sink_free(&k);
}

/* A nonzero return stops the request: no row after it, status "stopped" (or "timeout" once the
 * deadline has passed). */
static void test_sink_stops(void **s)
{
    (void)s;
    static const char *const stmts[] = {
        "SELECT RAW x FROM ARRAY_RANGE(0, 1000) AS x",
        "SELECT RAW x FROM ARRAY_RANGE(0, 1000) AS x ORDER BY -x",
        "SELECT DISTINCT RAW x FROM ARRAY_RANGE(0, 1000) AS x",
        "SELECT x % 10 AS m FROM ARRAY_RANGE(0, 1000) AS x GROUP BY x % 10",
        "EXPLAIN SELECT 1",
    };
    for (size_t i = 0; i < sizeof stmts / sizeof *stmts; i++) {
        sink k = {.stop_after = i == 4 ? 1 : 3};
        dv_query_result res;
        run_sink(&k, stmts[i], 0, &res);
        assert_string_equal(res.status, "stopped");
        assert_null(res.errors);
        assert_int_equal(json_array_size(k.rows), i == 4 ? 1 : 3);
        dv_query_result_clear(&res);
        sink_free(&k);
    }
    sink k = {.stop_begin = 1};
    dv_query_result res;
    run_sink(&k, "SELECT RAW x FROM ARRAY_RANGE(0, 1000) AS x", 0, &res);
    assert_string_equal(res.status, "stopped");
    assert_int_equal(json_array_size(k.rows), 0);
    dv_query_result_clear(&res);
    /* the deadline passed while the sink waited: a timeout */
    k.stop_begin = 0;
    k.stop_after = 1;
    run_sink(&k, "SELECT RAW x FROM ARRAY_RANGE(0, 1000) AS x", 1, &res);
    assert_string_equal(res.status, "timeout");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(res.errors, 0), "code")),
                     1080);
    assert_int_equal(json_array_size(k.rows), 1);
    dv_query_result_clear(&res);
    sink_free(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QT_TEST(test_same_rows),
        QT_TEST(test_prepared_name_first),
        QT_TEST(test_error_after_rows),
        QT_TEST(test_sink_stops),
    };
    return TU_RUN(tests);
}
