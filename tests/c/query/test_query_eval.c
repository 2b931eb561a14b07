/* The evaluator: MISSING/NULL truth tables, comparisons, collation and the functions of
 * query-service.md 10.1 and 10.4, through FROM-less SELECTs. */
#include "qtest.h"

typedef struct kase {
    const char *stmt, *expect;
} kase;

static void run_cases(const kase *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *got = qt_run(&T, k[i].stmt);
        if (strcmp(got, k[i].expect))
            fail_msg("%s\n  want: %s\n  got:  %s", k[i].stmt, k[i].expect, got);
    }
}
#define RUN(k) run_cases(k, sizeof k / sizeof k[0])

/* 10.1: AND, OR, NOT with TRUE, FALSE, NULL, MISSING; TYPE() tells MISSING from NULL. */
static void test_logic_tables(void **s)
{
    (void)s;
    static const kase k[] = {
        {"SELECT RAW TYPE(TRUE AND TRUE)", "[\"boolean\"]"},
        {"SELECT RAW [TRUE AND TRUE, TRUE AND FALSE, FALSE AND NULL, FALSE AND MISSING]",
         "[[true,false,false,false]]"},
        {"SELECT RAW TYPE(TRUE AND NULL)", "[\"null\"]"},
        {"SELECT RAW TYPE(TRUE AND MISSING)", "[\"missing\"]"},
        {"SELECT RAW TYPE(NULL AND MISSING)", "[\"missing\"]"},
        {"SELECT RAW [TRUE OR FALSE, FALSE OR FALSE, TRUE OR NULL, TRUE OR MISSING]",
         "[[true,false,true,true]]"},
        {"SELECT RAW TYPE(FALSE OR NULL)", "[\"null\"]"},
        {"SELECT RAW TYPE(FALSE OR MISSING)", "[\"missing\"]"},
        {"SELECT RAW TYPE(NULL OR MISSING)", "[\"null\"]"},
        {"SELECT RAW [NOT TRUE, NOT FALSE, NOT NULL]", "[[false,true,null]]"},
        {"SELECT RAW TYPE(NOT MISSING)", "[\"missing\"]"},
        {"SELECT RAW [1 AND 'x', 0 OR '', [] AND TRUE]", "[[true,false,false]]"},
    };
    RUN(k);
}

static void test_comparisons(void **s)
{
    (void)s;
    static const kase k[] = {
        {"SELECT 1=1", "[{\"$1\":true}]"},
        {"SELECT RAW [1 = 1.0, 1 == 2, 'a' != 'b', 1 <> 1, 2 < 3, 3 <= 3, 'b' > 'a', 2 >= 3]",
         "[[true,false,true,false,true,true,true,false]]"},
        {"SELECT RAW [NULL = 1, 1 < NULL]", "[[null,null]]"},
        {"SELECT RAW TYPE(MISSING = NULL)", "[\"missing\"]"},
        {"SELECT RAW [NULL IS NULL, 1 IS NULL, NULL IS NOT NULL, 1 IS NOT NULL]",
         "[[true,false,false,true]]"},
        {"SELECT RAW TYPE(MISSING IS NULL)", "[\"missing\"]"},
        {"SELECT RAW TYPE(MISSING IS NOT NULL)", "[\"missing\"]"},
        {"SELECT RAW [MISSING IS MISSING, NULL IS MISSING, MISSING IS NOT MISSING, 1 IS NOT "
         "MISSING]",
         "[[true,false,false,true]]"},
        {"SELECT RAW [1 IS VALUED, NULL IS VALUED, MISSING IS VALUED, MISSING IS NOT VALUED]",
         "[[true,false,false,true]]"},
        {"SELECT RAW ['abc' LIKE 'a%', 'abc' LIKE 'a_c', 'abc' LIKE 'b%', 'abc' NOT LIKE 'b%', "
         "'a%c' LIKE 'a\\\\%c', 'a%c' LIKE 'a!%c' ESCAPE '!', 'abc' LIKE 'a!%c' ESCAPE '!']",
         "[[true,true,false,true,true,true,false]]"},
        {"SELECT RAW [2 IN [1,2], 3 IN [1,2], 3 NOT IN [1,2], [1] IN [[1]], 1 IN 'x']",
         "[[true,false,true,true,null]]"},
        {"SELECT RAW [2 BETWEEN 1 AND 3, 4 BETWEEN 1 AND 3, 4 NOT BETWEEN 1 AND 3]",
         "[[true,false,true]]"},
        {"SELECT RAW [1 WITHIN {'a': [1]}, 2 WITHIN [[1]]]", "[[true,false]]"},
        {"SELECT RAW [ANY v IN [1,2,3] SATISFIES v > 2 END, ANY v IN [] SATISFIES TRUE END, "
         "EVERY v IN [] SATISFIES FALSE END, EVERY v IN [1,2] SATISFIES v > 0 END, "
         "ANY AND EVERY v IN [] SATISFIES TRUE END, SOME v IN [1] SATISFIES v = 1 END]",
         "[[true,false,true,true,false,true]]"},
        {"SELECT RAW TYPE(ANY v IN MISSING SATISFIES TRUE END)", "[\"missing\"]"},
        {"SELECT RAW [EXISTS [1], EXISTS [], EXISTS (SELECT RAW 1)]", "[[true,false,true]]"},
    };
    RUN(k);
}

static void test_arithmetic_and_paths(void **s)
{
    (void)s;
    static const kase k[] = {
        {"SELECT RAW [1 + 2, 7 / 2, 6 / 2, 7 % 3, -(2 * 3), 1.5 * 2, 1 / 0]",
         "[[3,3.5,3,1,-6,3,null]]"},
        {"SELECT RAW [1 + NULL, 1 + 'a']", "[[null,null]]"},
        {"SELECT RAW TYPE(1 + MISSING)", "[\"missing\"]"},
        {"SELECT RAW 9007199254740993 + 0", "[9007199254740993]"},
        {"SELECT RAW 'a' || 'b' || 'c'", "[\"abc\"]"},
        {"SELECT RAW {'a': {'b': [10, 20, 30]}}.a.b[1]", "[20]"},
        {"SELECT RAW [[1,2,3][-1], [1,2,3][1:], [1,2,3][0:2], [1,2,3][5]]",
         "[[3,[2,3],[1,2],null]]"},
        {"SELECT RAW {'a': 1, 'b': MISSING, 'c': NULL}", "[{\"a\":1,\"c\":null}]"},
        {"SELECT RAW [1, MISSING]", "[[1,null]]"},
        {"SELECT RAW nosuchfield", "[null]"},
        {"SELECT RAW CASE WHEN 1 > 2 THEN 'x' WHEN 2 > 1 THEN 'y' END", "[\"y\"]"},
        {"SELECT RAW CASE 3 WHEN 1 THEN 'one' ELSE 'other' END", "[\"other\"]"},
        {"SELECT RAW CASE WHEN FALSE THEN 1 END", "[null]"},
        {"SELECT RAW ARRAY v * 2 FOR v IN [1,2,3] WHEN v > 1 END", "[[4,6]]"},
        {"SELECT RAW FIRST v FOR v IN [1,2,3] WHEN v > 1 END", "[2]"},
        {"SELECT RAW OBJECT k: k || '!' FOR k IN ['a','b'] END", "[{\"a\":\"a!\",\"b\":\"b!\"}]"},
        {"SELECT RAW ARRAY [i, v] FOR i:v IN ['x','y'] END", "[[[0,\"x\"],[1,\"y\"]]]"},
    };
    RUN(k);
}

/* 10.1: MISSING < NULL < FALSE < TRUE < numbers < strings < arrays < objects. */
static void test_collation(void **s)
{
    (void)s;
    QT_EQ(
        &T,
        "SELECT RAW v.x FROM [{'x': {'a':1}}, {'x':[1]}, {'x':'b'}, {'x':'a'}, {'x':2}, {'x':1.5}, "
        "{'x':true}, {'x':false}, {'x':null}, {}, {'x':[0,5]}, {'x':'ab'}] AS v ORDER BY v.x",
        "[null,null,false,true,1.5,2,\"a\",\"ab\",\"b\",[0,5],[1],{\"a\":1}]");
    QT_EQ(&T, "SELECT RAW v FROM [3,1,2] AS v ORDER BY v DESC", "[3,2,1]");
    QT_EQ(&T, "SELECT RAW v FROM [3,null,1] AS v ORDER BY v DESC NULLS FIRST", "[null,3,1]");
    QT_EQ(&T, "SELECT RAW v FROM [null,3,1] AS v ORDER BY v NULLS LAST", "[1,3,null]");
    QT_EQ(
        &T,
        "SELECT RAW v FROM [{'a':2,'b':1},{'a':1,'b':2},{'a':1,'b':1}] AS v ORDER BY v.a, v.b DESC",
        "[{\"a\":1,\"b\":2},{\"a\":1,\"b\":1},{\"a\":2,\"b\":1}]");
}

static void test_string_functions(void **s)
{
    (void)s;
    static const kase k[] = {
        {"SELECT RAW [LOWER('AbC'), UPPER('aBc'), LENGTH('abcd'), CONCAT('a','b','c')]",
         "[[\"abc\",\"ABC\",4,\"abc\"]]"},
        {"SELECT RAW [SUBSTR('hello', 1, 3), SUBSTR('hello', 2), SUBSTR1('hello', 1, 2), "
         "SUBSTR('hi', 5)]",
         "[[\"ell\",\"llo\",\"he\",null]]"},
        {"SELECT RAW [POSITION('hello', 'l'), POSITION('hello', 'z'), POSITION1('hello', 'l'), "
         "CONTAINS('hello', 'ell')]",
         "[[2,-1,3,true]]"},
        {"SELECT RAW [REPLACE('a-b-c', '-', '+'), REPLACE('a-b-c', '-', '', 1), SPLIT('a,b', ','), "
         "SPLIT(' x  y ')]",
         "[[\"a+b+c\",\"ab-c\",[\"a\",\"b\"],[\"x\",\"y\"]]]"},
        {"SELECT RAW [TRIM('  x '), LTRIM('xxay', 'x'), RTRIM('ayy', 'y'), TITLE('hello world'), "
         "INITCAP('ab cd'), REVERSE('abc'), REPEAT('ab', 3)]",
         "[[\"x\",\"ay\",\"a\",\"Hello World\",\"Ab Cd\",\"cba\",\"ababab\"]]"},
        {"SELECT RAW [REGEXP_CONTAINS('abc123', '[0-9]+'), REGEXP_LIKE('abc', 'a.c'), "
         "REGEXP_LIKE('abcd', 'a.c'), REGEXP_REPLACE('a1b22', '[0-9]+', '#')]",
         "[[true,true,false,\"a#b#\"]]"},
        {"SELECT RAW [TOSTRING(1), TO_STRING(TRUE), TO_STRING('s'), TO_STRING([1])]",
         "[[\"1\",\"true\",\"s\",\"[1]\"]]"},
        {"SELECT RAW [LOWER(1), LENGTH(NULL)]", "[[null,null]]"},
        {"SELECT RAW TYPE(LOWER(MISSING))", "[\"missing\"]"},
    };
    RUN(k);
}

static void test_number_functions(void **s)
{
    (void)s;
    static const kase k[] = {
        {"SELECT RAW [ABS(-2), CEIL(1.2), FLOOR(1.8), ROUND(2.5), ROUND(3.14159, 2), TRUNC(2.7), "
         "TRUNC(3.149, 2)]",
         "[[2,2,1,2,3.14,2,3.14]]"},
        {"SELECT RAW [POWER(2, 10), SQRT(16), MOD(7, 3), 7 % 3, GREATEST(1, 5, 3), LEAST(4, 2, 8), "
         "GREATEST(1, NULL)]",
         "[[1024,4,1,1,5,2,1]]"},
        {"SELECT RAW [TO_NUMBER('12'), TO_NUMBER('1.5'), TO_NUMBER('x'), TO_NUMBER(TRUE)]",
         "[[12,1.5,null,1]]"},
        {"SELECT RAW RANDOM() >= 0 AND RANDOM() < 1", "[true]"},
    };
    RUN(k);
}

static void test_array_functions(void **s)
{
    (void)s;
    static const kase k[] = {
        {"SELECT RAW [ARRAY_LENGTH([1,2]), ARRAY_CONTAINS([1,2], 2), ARRAY_POSITION([1,2], 2), "
         "ARRAY_POSITION([1], 9)]",
         "[[2,true,1,-1]]"},
        {"SELECT RAW [ARRAY_APPEND([1], 2, 3), ARRAY_PREPEND(0, [1]), ARRAY_CONCAT([1], [2], [3])]",
         "[[[1,2,3],[0,1],[1,2,3]]]"},
        {"SELECT RAW [ARRAY_DISTINCT([1,1,2]), ARRAY_FLATTEN([1,[2,[3]]], 1), "
         "ARRAY_REMOVE([1,2,1], 1), "
         "ARRAY_SORT([3,'a',1,null])]",
         "[[[1,2],[1,2,[3]],[2],[null,1,3,\"a\"]]]"},
        {"SELECT RAW [ARRAY_SUM([1,2,3]), ARRAY_MIN([3,1]), ARRAY_MAX([3,1]), "
         "ARRAY_COUNT([1,null,2]), "
         "ARRAY_AVG([1,2])]",
         "[[6,1,3,2,1.5]]"},
        {"SELECT RAW [ARRAY_RANGE(0, 3), ARRAY_RANGE(0, 10, 4), ARRAY_RANGE(3, 0)]",
         "[[[0,1,2],[0,4,8],[]]]"},
        {"SELECT RAW ARRAY_LENGTH('x')", "[null]"},
    };
    RUN(k);
}

static void test_object_and_type_functions(void **s)
{
    (void)s;
    static const kase k[] = {
        {"SELECT RAW [OBJECT_NAMES({'b':1,'a':2}), OBJECT_VALUES({'b':1,'a':2}), "
         "OBJECT_LENGTH({'a':1})]",
         "[[[\"a\",\"b\"],[2,1],1]]"},
        {"SELECT RAW OBJECT_PAIRS({'a':1})", "[[{\"name\":\"a\",\"val\":1}]]"},
        {"SELECT RAW [OBJECT_ADD({'a':1}, 'b', 2), OBJECT_PUT({'a':1}, 'a', 3), "
         "OBJECT_REMOVE({'a':1,'b':2}, 'a')]",
         "[[{\"a\":1,\"b\":2},{\"a\":3},{\"b\":2}]]"},
        {"SELECT RAW [TYPE(1), TYPE('s'), TYPE([]), TYPE({}), TYPE(NULL), TYPE(TRUE), "
         "TYPENAME(MISSING)]",
         "[[\"number\",\"string\",\"array\",\"object\",\"null\",\"boolean\",\"missing\"]]"},
        {"SELECT RAW [IS_ARRAY([]), IS_BOOLEAN(1), IS_NUMBER(1), IS_OBJECT({}), IS_STRING('s'), "
         "IS_ATOM([]), IS_ATOM(1)]",
         "[[true,false,true,true,true,false,true]]"},
        {"SELECT RAW [TO_ARRAY(1), TO_ARRAY([1]), TO_BOOLEAN(0), TO_BOOLEAN('x')]",
         "[[[1],[1],false,true]]"},
    };
    RUN(k);
}

static void test_conditional_functions(void **s)
{
    (void)s;
    static const kase k[] = {
        {"SELECT RAW [IFMISSING(MISSING, 1), IFMISSING(NULL, 1), IFNULL(NULL, 2), IFNULL(3, 2), "
         "IFMISSINGORNULL(MISSING, NULL, 4), NVL(NULL, 5), NVL(6, 5)]",
         "[[1,null,2,3,4,5,6]]"},
        {"SELECT RAW TYPE(IFNULL(MISSING, 1))", "[\"missing\"]"},
        {"SELECT RAW TYPE(MISSINGIF(1, 1))", "[\"missing\"]"},
        {"SELECT RAW [MISSINGIF(1, 2), NULLIF(1, 1), NULLIF(1, 2)]", "[[1,null,1]]"},
    };
    RUN(k);
}

static void test_date_and_misc_functions(void **s)
{
    (void)s;
    static const kase k[] = {
        {"SELECT RAW STR_TO_MILLIS('2020-01-02T03:04:05Z')", "[1577934245000]"},
        {"SELECT RAW STR_TO_MILLIS('2020-01-02T03:04:05.250+01:00')", "[1577930645250]"},
        {"SELECT RAW MILLIS_TO_STR(1577934245000)", "[\"2020-01-02T03:04:05Z\"]"},
        {"SELECT RAW MILLIS_TO_STR(0, '1111-11-11')", "[\"1970-01-01\"]"},
        {"SELECT RAW DATE_ADD_STR('2020-01-31T00:00:00Z', 1, 'day')", "[\"2020-02-01T00:00:00Z\"]"},
        {"SELECT RAW DATE_ADD_STR('2020-01-15', 2, 'month')", "[\"2020-03-15\"]"},
        {"SELECT RAW DATE_DIFF_STR('2020-01-03', '2020-01-01', 'day')", "[2]"},
        {"SELECT RAW DATE_DIFF_STR('2021-03-01', '2020-01-01', 'month')", "[14]"},
        {"SELECT RAW [DATE_PART_STR('2020-05-06T07:08:09Z', 'year'), "
         "DATE_PART_STR('2020-05-06T07:08:09Z', 'month'), DATE_PART_STR('2020-05-06T07:08:09Z', "
         "'hour')]",
         "[[2020,5,7]]"},
        {"SELECT RAW DATE_TRUNC_STR('2020-05-06T07:08:09Z', 'month')",
         "[\"2020-05-01T00:00:00Z\"]"},
        {"SELECT RAW STR_TO_UTC('2020-01-01T01:00:00+01:00')", "[\"2020-01-01T00:00:00Z\"]"},
        {"SELECT RAW STR_TO_MILLIS('not a date')", "[null]"},
        {"SELECT RAW NOW_MILLIS() > 1600000000000", "[true]"},
        {"SELECT RAW LENGTH(NOW_STR()) >= 20", "[true]"},
        {"SELECT RAW LENGTH(UUID())", "[36]"},
        {"SELECT RAW [BASE64_ENCODE('abc'), BASE64_DECODE(BASE64_ENCODE({'a':1}))]",
         "[[\"ImFiYyI=\",{\"a\":1}]]"},
        {"SELECT RAW [ENCODE_JSON({'a':[1]}), DECODE_JSON('[1,2]')]",
         "[[\"{\\\"a\\\":[1]}\",[1,2]]]"},
    };
    RUN(k);
}

static void test_aggregates(void **s)
{
    (void)s;
    static const kase k[] = {
        {"SELECT COUNT(*) AS n, COUNT(v) AS c, SUM(v) AS s, AVG(v) AS a, MIN(v) AS mi, MAX(v) AS "
         "ma "
         "FROM [1, 2, NULL, 3, {}] AS v",
         "[{\"a\":2,\"c\":4,\"ma\":{},\"mi\":1,\"n\":5,\"s\":6}]"},
        {"SELECT COUNT(*) FROM [] AS v", "[{\"$1\":0}]"},
        {"SELECT SUM(v) AS s, AVG(v) AS a FROM [] AS v", "[{\"a\":null,\"s\":null}]"},
        {"SELECT COUNT(DISTINCT v) AS n, ARRAY_AGG(DISTINCT v) AS a FROM [1,1,2] AS v",
         "[{\"a\":[1,2],\"n\":2}]"},
        {"SELECT v.g, COUNT(*) AS n FROM [{'g':'a'},{'g':'b'},{'g':'a'}] AS v GROUP BY v.g ORDER "
         "BY v.g",
         "[{\"g\":\"a\",\"n\":2},{\"g\":\"b\",\"n\":1}]"},
        {"SELECT g, SUM(v.x) AS s FROM [{'g':1,'x':1},{'g':2,'x':5},{'g':1,'x':2}] AS v GROUP BY "
         "v.g "
         "LETTING g = v.g HAVING SUM(v.x) > 2 ORDER BY s DESC",
         "[{\"g\":2,\"s\":5},{\"g\":1,\"s\":3}]"},
        {"SELECT COUNT (1) AS c FROM ARRAY_RANGE(0,10) AS d1, ARRAY_RANGE(0,10) AS d2",
         "[{\"c\":100}]"},
    };
    RUN(k);
}

static void test_parameters(void **s)
{
    (void)s;
    T.named = json_pack("{s:s,s:[i,i]}", "name", "x", "list", 1, 2);
    T.positional = json_pack("[s,i,[i]]", "p", 2, 3);
    QT_EQ(&T, "SELECT $name AS param", "[{\"param\":\"x\"}]");
    QT_EQ(&T, "SELECT $1 AS param", "[{\"param\":\"p\"}]");
    QT_EQ(&T, "SELECT RAW [?, ?]", "[[\"p\",2]]");
    QT_EQ(&T, "SELECT RAW 2 IN $list", "[true]");
    QT_EQ(&T, "SELECT RAW v FROM [1,2,3,4] AS v LIMIT $2 OFFSET 1", "[2,3]");
    QT_EQ(&T, "SELECT RAW TYPE($nosuch)", "[\"missing\"]");
    json_decref(T.named);
    json_decref(T.positional);
    T.named = T.positional = NULL;
}

static void test_select_shapes(void **s)
{
    (void)s;
    QT_EQ(&T, "SELECT v.a, v.b AS z, v.a + 1 FROM [{'a':1,'b':2}] AS v",
          "[{\"$3\":2,\"a\":1,\"z\":2}]");
    QT_EQ(&T, "SELECT v.* FROM [{'a':1,'b':2}] AS v", "[{\"a\":1,\"b\":2}]");
    QT_EQ(&T, "SELECT * FROM [{'a':1}] AS v", "[{\"v\":{\"a\":1}}]");
    QT_EQ(&T, "SELECT v.nosuch FROM [{'a':1}] AS v", "[{}]");
    QT_EQ(&T, "SELECT DISTINCT v.a FROM [{'a':1},{'a':1},{'a':2}] AS v", "[{\"a\":1},{\"a\":2}]");
    QT_EQ(&T, "SELECT VALUE v FROM [1] AS v", "[1]");
    QT_EQ(&T, "SELECT ELEMENT v FROM [1] AS v", "[1]");
    QT_EQ(&T, "SELECT RAW x FROM [1,2] AS v LET x = v * 10 WHERE x > 10", "[20]");
    QT_EQ(&T, "WITH k AS (5) SELECT RAW k + 1", "[6]");
    QT_EQ(&T, "SELECT RAW e FROM [{'arr':[1,2]},{'arr':[3]}] AS v UNNEST v.arr AS e", "[1,2,3]");
    QT_EQ(&T, "SELECT RAW (SELECT RAW x FROM [1,2] AS x WHERE x > 1)", "[[2]]");
    QT_EQ(&T, "SELECT RAW v FROM [1,2,3] AS v WHERE v IN (SELECT RAW y FROM [2,3] AS y)", "[2,3]");
    QT_EQ(&T, "SELECT RAW 1;", "[1]");
    const char *sig;
    qt_run(&T, "SELECT * FROM [1] AS v");
    sig = json_dumps(T.last.signature, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_string_equal(sig, "{\"*\":\"*\"}");
    free((char *)sig);
    qt_run(&T, "SELECT RAW 1");
    sig = json_dumps(T.last.signature, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_string_equal(sig, "\"json\"");
    free((char *)sig);
}

static void test_memory_bound(void **s)
{
    (void)s;
    T.max_values = 1000;
    QT_ERR(&T, "SELECT a, b FROM ARRAY_RANGE(0,100) AS a, ARRAY_RANGE(0,100) AS b",
           "ERR 5500 Request has exceeded memory quota");
    /* aggregates over a cross product stream: the product is never held */
    QT_EQ(&T,
          "SELECT COUNT(*) AS n, SUM(a) AS s, MIN(b) AS mi, MAX(a + b) AS ma, AVG(a) AS av, "
          "COUNT(NULL) AS z FROM ARRAY_RANGE(0,100) AS a, ARRAY_RANGE(0,100) AS b WHERE a < b",
          "[{\"av\":32.6666666666667,\"ma\":197,\"mi\":1,\"n\":4950,\"s\":161700,\"z\":0}]");
    QT_EQ(&T,
          "SELECT RAW COUNT(1) FROM ARRAY_RANGE(0,10) AS a, ARRAY_RANGE(0,10) AS b, "
          "ARRAY_RANGE(0,10) AS c",
          "[1000]");
    QT_EQ(&T, "SELECT RAW COUNT(1) FROM [1] AS a, [] AS b", "[0]");
    T.max_values = 0;
}

/* A request past its deadline stops with the real service's timeout error. */
static void test_timeout(void **s)
{
    (void)s;
    T.deadline_ns = 1; /* long past */
    QT_ERR(&T, "SELECT COUNT(*) FROM ARRAY_RANGE(0,300) AS a, ARRAY_RANGE(0,300) AS b",
           "ERR 1080 Timeout 1ms exceeded");
    assert_string_equal(T.last.status, "timeout");
    T.deadline_ns = 0;
    QT_EQ(&T, "SELECT COUNT(*) AS n FROM ARRAY_RANGE(0,300) AS a, ARRAY_RANGE(0,300) AS b",
          "[{\"n\":90000}]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QT_TEST(test_logic_tables),
        QT_TEST(test_comparisons),
        QT_TEST(test_arithmetic_and_paths),
        QT_TEST(test_collation),
        QT_TEST(test_string_functions),
        QT_TEST(test_number_functions),
        QT_TEST(test_array_functions),
        QT_TEST(test_object_and_type_functions),
        QT_TEST(test_conditional_functions),
        QT_TEST(test_date_and_misc_functions),
        QT_TEST(test_aggregates),
        QT_TEST(test_parameters),
        QT_TEST(test_select_shapes),
        QT_TEST(test_memory_bound),
        QT_TEST(test_timeout),
    };
    return TU_RUN(tests);
}
