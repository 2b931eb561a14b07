/* libFuzzer target for the SQL++ engine: the input is a statement, parsed and run against a
 * fixed set of documents (with a primary and a secondary index, so scans, joins and DML all
 * run). A small memory bound and a short deadline keep every input quick. Inputs that start
 * with a '\x01' byte are only parsed. Each statement runs twice, on fresh documents: buffered,
 * then through a row sink, which must receive the same rows when both succeed; a '\x02' byte
 * first makes the sink stop the request after its first row. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "query/ast.h"
#include "query/query.h"

static json_t *docs(void)
{
    return json_pack("{s:{s:{s:{s:s,s:i,s:[i,i]}},s:{s:{s:s,s:n,s:{s:s}}},s:{s:s}},"
                     "s:{s:{s:{s:s}}}}",
                     "b._default._default", "k1", "value", "name", "a", "n", 1, "arr", 1, 2, "k2",
                     "value", "name", "b", "n", "o", "x", "y", "k3", "value", "raw", "b.s.c", "c1",
                     "value", "fk", "k1");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct sink {
    json_t *rows;
    int begins, stop_first;
} sink;

static int on_begin(void *ud, const json_t *signature, const char *prepared)
{
    sink *k = ud;
    (void)signature, (void)prepared;
    if (k->begins++ || json_array_size(k->rows)) abort(); /* once, before the rows */
    return 0;
}

static int on_row(void *ud, const json_t *row)
{
    sink *k = ud;
    if (k->begins != 1) abort();
    json_array_append_new(k->rows, json_deep_copy(row));
    return k->stop_first;
}

/* Run text on fresh documents: the result in *res, the rows in k when k is set. */
static void run(const char *text, size_t size, sink *k, dv_query_result *res)
{
    dv_query_memsource m = {docs(), 1, 0, NULL};
    dv_query_source src;
    dv_query_memsource_init(&src, &m);
    dv_query_catalog *cat = dv_query_catalog_new();
    m.cat = cat;
    static const char *const setup[] = {"CREATE PRIMARY INDEX ON b", "CREATE INDEX ix ON b(name)",
                                        "CREATE PRIMARY INDEX ON b.s.c"};
    for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++) {
        dv_query_request rq = {0};
        rq.statement = setup[i];
        rq.len = strlen(setup[i]);
        dv_query_run(&rq, &src, cat, res);
        dv_query_result_clear(res);
    }
    json_t *named = json_pack("{s:i,s:[s]}", "v", 1, "keys", "k1");
    json_t *pos = json_pack("[s,i]", "k2", 2);
    dv_query_request rq = {0};
    rq.statement = text;
    rq.len = size;
    rq.named = named;
    rq.positional = pos;
    rq.auto_execute = 1;
    rq.max_values = 20000;
    rq.deadline_ns = dv_clock_now_ns() + 2000000000ull;
    rq.timeout_text = "2s";
    if (k) {
        rq.begin = on_begin;
        rq.row = on_row;
        rq.sink_ud = k;
    }
    dv_query_run(&rq, &src, cat, res);
    json_decref(named);
    json_decref(pos);
    dv_query_catalog_free(cat);
    json_decref(m.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    if (size && data[0] == 1) {
        q_arena a = {0};
        q_error err;
        q_parse(&a, (const char *)data + 1, size - 1, &err);
        q_arena_free(&a);
        return 0;
    }
    sink k = {json_array(), 0, 0};
    if (size && data[0] == 2) {
        k.stop_first = 1;
        data++;
        size--;
    }
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    dv_query_result buffered, sunk;
    run(text, size, NULL, &buffered);
    run(text, size, &k, &sunk);
    if (buffered.results) {
        char *s = json_dumps(buffered.results, DV_QUERY_JSON_FLAGS);
        free(s);
    }
    /* the sink leaves res->results empty; with both successful, it had the same rows */
    if (sunk.results && json_array_size(sunk.results)) abort();
    if (!k.stop_first && !strcmp(buffered.status, "success") && !strcmp(sunk.status, "success") &&
        !json_equal(buffered.results, k.rows))
        abort();
    if (k.stop_first && json_array_size(k.rows) > 1) abort();
    dv_query_result_clear(&buffered);
    dv_query_result_clear(&sunk);
    json_decref(k.rows);
    free(text);
    return 0;
}
