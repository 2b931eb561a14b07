#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "server/jsonpath.h"

static int valid(const char *s)
{
    return dv_json_validate(s, strlen(s), DV_JSON_MAX_LEVELS, NULL, NULL);
}

static void validates_json(void **state)
{
    (void)state;
    static const char *const good[] = {
        "0",
        "-0",
        "1.5e+3",
        "-12.25E-2",
        "true",
        "false",
        "null",
        "\"\"",
        "\"a\\\"b\\u00e9\\n\"",
        " {\"a\" : [1, 2, {}], \"b\":{\"c\":null}} ",
        "[]",
        "[ ]",
        "{}",
        "\"\xc3\xa9\xe2\x82\xac\"",
        "\"\xf0\x9f\x98\x80\"",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (valid(good[i]) != DV_JSON_OK) fail_msg("rejected %s", good[i]);
    }
    static const char *const bad[] = {
        "",
        " ",
        "01",
        "1.",
        ".5",
        "-",
        "+1",
        "1e",
        "tru",
        "nul",
        "[1,]",
        "[,1]",
        "{\"a\"}",
        "{\"a\":}",
        "{a:1}",
        "{\"a\":1,}",
        "[1 2]",
        "\"abc",
        "\"\\x\"",
        "\"\\u12\"",
        "1 2",
        "[1]]",
        "{}}",
        "\"\t\"",
        "\"\xc3\"",
        "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "[\"a\":1]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (valid(bad[i]) != DV_JSON_EINVAL) fail_msg("accepted %s", bad[i]);
    }
    /* A NUL inside a string is a control character. */
    assert_int_equal(dv_json_validate("\"a\0b\"", 5, 10, NULL, NULL), DV_JSON_EINVAL);
    size_t s, e;
    assert_int_equal(dv_json_validate("  [1] \n", 7, 10, &s, &e), DV_JSON_OK);
    assert_int_equal(s, 2);
    assert_int_equal(e, 5);
}

static void counts_levels(void **state)
{
    (void)state;
    /* The top-level value is level 1; primitives count. */
    assert_int_equal(dv_json_validate("[[1]]", 5, 3, NULL, NULL), DV_JSON_OK);
    assert_int_equal(dv_json_validate("[[1]]", 5, 2, NULL, NULL), DV_JSON_EDEPTH);
    assert_int_equal(dv_json_validate("[[]]", 4, 2, NULL, NULL), DV_JSON_OK);
    assert_int_equal(dv_json_validate("{\"a\":{}}", 8, 2, NULL, NULL), DV_JSON_OK);
    assert_int_equal(dv_json_validate("{\"a\":{\"b\":1}}", 14, 2, NULL, NULL), DV_JSON_EDEPTH);
    assert_int_equal(dv_json_validate("1", 1, 0, NULL, NULL), DV_JSON_EDEPTH);
    /* Deeper than the scanner tracks: reported, not crashed. */
    size_t n = 3 * DV_JSON_MAX_LEVELS;
    char *deep = dv_malloc(n);
    memset(deep, '[', n / 2);
    memset(deep + n / 2, ']', n - n / 2);
    assert_int_equal(dv_json_validate(deep, n, DV_JSON_MAX_LEVELS, NULL, NULL), DV_JSON_EDEPTH);
    assert_int_equal(dv_json_validate(deep, n, 100000, NULL, NULL), DV_JSON_EDEPTH);
    dv_free(deep);
    /* Lists of array values. */
    assert_int_equal(dv_json_validate_list("1, \"a\" ,[2]", 11, 5), DV_JSON_OK);
    assert_int_equal(dv_json_validate_list("1,", 2, 5), DV_JSON_EINVAL);
    assert_int_equal(dv_json_validate_list("", 0, 5), DV_JSON_EINVAL);
    assert_int_equal(dv_json_validate_list("1,[[2]]", 7, 2), DV_JSON_EDEPTH);
}

static void iterates_children(void **state)
{
    (void)state;
    const char *d = "{ \"a\" : 1 , \"b\":[true, null] }";
    size_t n = strlen(d);
    dv_json_iter it;
    dv_json_child c;
    size_t end;
    dv_json_iter_init(&it, d, n, 0, 1);
    assert_int_equal(dv_json_iter_next(&it, &c), 1);
    assert_memory_equal(d + c.kstart, "\"a\"", 3);
    assert_int_equal(c.kend - c.kstart, 3);
    assert_int_equal(d[c.vstart], '1');
    /* A child must be skipped before the next one. */
    assert_int_equal(dv_json_iter_next(&it, &c), DV_JSON_EINVAL);
    assert_int_equal(dv_json_iter_skip(&it, &end), DV_JSON_OK);
    assert_int_equal(end, c.vstart + 1);
    assert_int_equal(dv_json_iter_next(&it, &c), 1);
    assert_int_equal(d[c.vstart], '[');
    assert_int_equal(dv_json_iter_skip(&it, &end), DV_JSON_OK);
    assert_int_equal(d[end - 1], ']');
    assert_int_equal(dv_json_iter_next(&it, &c), 0);
    assert_int_equal(it.count, 2);
    assert_int_equal(it.i, n);
    assert_int_equal(dv_json_iter_next(&it, &c), 0);
}

static int parse(dv_path *p, const char *s)
{
    return dv_path_parse(p, s, strlen(s));
}

static void parses_paths(void **state)
{
    (void)state;
    dv_path p;
    assert_int_equal(parse(&p, ""), DV_PATH_OK);
    assert_int_equal(p.n, 0);
    assert_int_equal(parse(&p, "a.b[3][-1].c"), DV_PATH_OK);
    assert_int_equal(p.n, 5);
    assert_memory_equal(p.c[0].key, "a", 1);
    assert_int_equal(p.c[2].is_index, 1);
    assert_int_equal(p.c[2].index, 3);
    assert_int_equal(p.c[3].index, -1);
    assert_int_equal(p.c[4].nkey, 1);
    /* Backticks quote dots and brackets; `` is a literal backtick. */
    assert_int_equal(parse(&p, "`a.b`.c"), DV_PATH_OK);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.c[0].nkey, 3);
    assert_memory_equal(p.c[0].key, "a.b", 3);
    assert_int_equal(parse(&p, "x``y.`[z]`"), DV_PATH_OK);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.c[0].nkey, 3);
    assert_memory_equal(p.c[0].key, "x`y", 3);
    assert_memory_equal(p.c[1].key, "[z]", 3);
    /* JSON escapes stay as written: they are compared with raw key bytes. */
    assert_int_equal(parse(&p, "q\\\"t"), DV_PATH_OK);
    assert_int_equal(p.c[0].nkey, 4);
    /* Invalid paths. */
    static const char *const bad[] = {"a[",    "a]", ".a",       "a..b", "[x]",  "[-2]",  "[]",
                                      "a[0]b", "`a", "a\\u0041", "a\\",  "a\"b", "a\x01", "[1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(&p, bad[i]) != DV_PATH_EINVAL) fail_msg("accepted %s", bad[i]);
    }
    assert_int_equal(dv_path_parse(&p, "\xff", 1), DV_PATH_EINVAL);
    /* 31 components fit, 32 do not. */
    char buf[256] = "";
    for (int i = 0; i < 31; i++) strcat(buf, i ? ".k" : "k");
    assert_int_equal(parse(&p, buf), DV_PATH_OK);
    assert_int_equal(p.n, 31);
    strcat(buf, "[0]");
    assert_int_equal(parse(&p, buf), DV_PATH_E2BIG);
}

static int find(const char *doc, const char *path, dv_json_hit *h)
{
    dv_path p;
    assert_int_equal(parse(&p, path), DV_PATH_OK);
    size_t n = strlen(doc);
    return dv_json_find(doc, n, dv_json_ws(doc, n, 0), &p, p.n, h);
}

static void finds_paths(void **state)
{
    (void)state;
    const char *d = " {\"a\":{\"b\":[10,20,{\"c\":true}]},\"x\":0.10}";
    dv_json_hit h;
    assert_int_equal(find(d, "a.b[1]", &h), DV_JSON_OK);
    assert_true(h.found);
    assert_memory_equal(d + h.vstart, "20", 2);
    assert_int_equal(h.vlevel, 4);
    assert_int_equal(find(d, "a.b[-1].c", &h), DV_JSON_OK);
    assert_true(h.found);
    assert_memory_equal(d + h.vstart, "true", 4);
    assert_int_equal(find(d, "x", &h), DV_JSON_OK);
    assert_memory_equal(d + h.kstart, "\"x\":0.10", 8);
    assert_int_equal(find(d, "", &h), DV_JSON_OK);
    assert_int_equal(h.vstart, 1);
    /* Not found: the deepest container is reported. */
    assert_int_equal(find(d, "a.b[7]", &h), DV_JSON_OK);
    assert_false(h.found);
    assert_int_equal(h.depth, 2);
    assert_int_equal(h.ctype, '[');
    assert_int_equal(h.ccount, 3);
    assert_int_equal(d[h.cend - 1], ']');
    assert_int_equal(find(d, "a.q.r", &h), DV_JSON_OK);
    assert_int_equal(h.depth, 1);
    assert_int_equal(h.ctype, '{');
    assert_int_equal(h.ccount, 1);
    /* Type mismatches. */
    assert_int_equal(find(d, "a[0]", &h), DV_JSON_MISMATCH);
    assert_int_equal(find(d, "a.b.c", &h), DV_JSON_MISMATCH);
    assert_int_equal(find(d, "x.y", &h), DV_JSON_MISMATCH);
    assert_int_equal(find("[]", "[-1]", &h), DV_JSON_OK);
    assert_false(h.found);
    /* Siblings before the target are scanned; what follows it is not. */
    assert_int_equal(find("{\"a\":[[[1]]],\"b\":2}", "b", &h), DV_JSON_OK);
    assert_int_equal(find("{\"b\":2,\"a\":[1,}", "b", &h), DV_JSON_OK);
    assert_int_equal(find("{\"a\":[1,},\"b\":2}", "b", &h), DV_JSON_EINVAL);
}

static void reads_integers(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(dv_json_int64("-42", 3, 0, &v), DV_JSON_OK);
    assert_int_equal(v, -42);
    assert_int_equal(dv_json_int64("9223372036854775807", 19, 0, &v), DV_JSON_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(dv_json_int64("-9223372036854775808", 20, 0, &v), DV_JSON_OK);
    assert_true(v == INT64_MIN);
    assert_int_equal(dv_json_int64("9223372036854775808", 19, 0, &v), DV_JSON_ERANGE);
    assert_int_equal(dv_json_int64("1.0", 3, 0, &v), DV_JSON_MISMATCH);
    assert_int_equal(dv_json_int64("1e3", 3, 0, &v), DV_JSON_MISMATCH);
    assert_int_equal(dv_json_int64("\"1\"", 3, 0, &v), DV_JSON_MISMATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(validates_json),    cmocka_unit_test(counts_levels),
        cmocka_unit_test(iterates_children), cmocka_unit_test(parses_paths),
        cmocka_unit_test(finds_paths),       cmocka_unit_test(reads_integers),
    };
    return TU_RUN(tests);
}
