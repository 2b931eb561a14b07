/* Shared helpers of the query tests: an in-memory source and a one-call runner. */
#ifndef DV_QTEST_H
#define DV_QTEST_H

#include <stdlib.h>
#include <string.h>

#include "query/query.h"
#include "testutil.h"

typedef struct qt {
    dv_query_memsource mem;
    dv_query_source src;
    dv_query_catalog *cat;
    json_t *named, *positional;
    const char *query_context;
    int readonly, auto_execute, preserve_expiry;
    size_t max_values;
    uint64_t deadline_ns;
    dv_query_result last;
} qt;

/* Documents: "travel._default._default" with a few users, "travel.inv.hotels" with two. */
static inline void qt_init(qt *t)
{
    memset(t, 0, sizeof *t);
    t->mem.data = json_pack(
        "{s:{s:{s:{s:s,s:i,s:s}},s:{s:{s:s,s:i,s:[s,s]}},s:{s:{s:s,s:n}},s:{s:{s:s}}},"
        "s:{s:{s:{s:s,s:s}},s:{s:{s:s,s:s}}}}",
        "travel._default._default", "u1", "value", "name", "ann", "age", 31, "city", "oslo", "u2",
        "value", "name", "bob", "age", 25, "tags", "a", "b", "u3", "value", "name", "cid", "age",
        "u4", "value", "name", "dee", "travel.inv.hotels", "h1", "value", "name", "grand", "city",
        "oslo", "h2", "value", "name", "plaza", "city", "rome");
    t->mem.next_cas = 100;
    dv_query_memsource_init(&t->src, &t->mem);
    t->cat = dv_query_catalog_new();
    t->mem.cat = t->cat;
    assert_non_null(t->mem.data);
    assert_non_null(t->cat);
}

static inline void qt_free(qt *t)
{
    dv_query_result_clear(&t->last);
    dv_query_catalog_free(t->cat);
    json_decref(t->mem.data);
    json_decref(t->named);
    json_decref(t->positional);
}

/* Run a statement; returns the compact JSON of the results, or "ERR <code> <msg>". The string
 * is valid until the next call. */
static inline const char *qt_run(qt *t, const char *stmt)
{
    static char *out;
    free(out);
    out = NULL;
    dv_query_result_clear(&t->last);
    dv_query_request rq = {0};
    rq.statement = stmt;
    rq.len = strlen(stmt);
    rq.named = t->named;
    rq.positional = t->positional;
    rq.query_context = t->query_context;
    rq.readonly = t->readonly;
    rq.auto_execute = t->auto_execute;
    rq.preserve_expiry = t->preserve_expiry;
    rq.max_values = t->max_values;
    rq.deadline_ns = t->deadline_ns;
    rq.timeout_text = "1ms";
    dv_query_run(&rq, &t->src, t->cat, &t->last);
    if (t->last.errors) {
        json_t *e = json_array_get(t->last.errors, 0);
        size_t n = strlen(json_string_value(json_object_get(e, "msg"))) + 32;
        out = malloc(n);
        snprintf(out, n, "ERR %d %s", (int)json_integer_value(json_object_get(e, "code")),
                 json_string_value(json_object_get(e, "msg")));
        return out;
    }
    out = json_dumps(t->last.results, DV_QUERY_JSON_FLAGS);
    return out;
}

/* The test's fixture: one qt per test, through cmocka's setup and teardown. */
static qt T;
static inline int qt_setup(void **s)
{
    (void)s;
    qt_init(&T);
    return 0;
}
static inline int qt_teardown(void **s)
{
    (void)s;
    qt_free(&T);
    return 0;
}
#define QT_TEST(fn) cmocka_unit_test_setup_teardown(fn, qt_setup, qt_teardown)

#define QT_EQ(t, stmt, expect) assert_string_equal(qt_run(t, stmt), expect)
/* The error's code and the start of its message. */
#define QT_ERR(t, stmt, prefix)                                                                    \
    do {                                                                                           \
        const char *r_ = qt_run(t, stmt);                                                          \
        if (strncmp(r_, prefix, strlen(prefix))) fail_msg("%s\n  got: %s", stmt, r_);              \
    } while (0)

#endif
