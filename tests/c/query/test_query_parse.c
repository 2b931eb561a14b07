/* The tokenizer and parser: what parses, the errors of what does not, the limits, and the
 * canonical text of expressions (as system:indexes shows it). */
#include <stdio.h>

#include "base/buf.h"
#include "qtest.h"
#include "query/ast.h"

static void parses(const char *stmt)
{
    q_arena a = {0};
    q_error err;
    q_stmt *s = q_parse(&a, stmt, strlen(stmt), &err);
    if (!s) fail_msg("%s\n  %s", stmt, err.msg);
    q_arena_free(&a);
}

static void fails(const char *stmt, const char *msg_prefix)
{
    q_arena a = {0};
    q_error err;
    q_stmt *s = q_parse(&a, stmt, strlen(stmt), &err);
    q_arena_free(&a);
    if (s) fail_msg("parsed: %s", stmt);
    assert_int_equal(err.code, 3000);
    if (strncmp(err.msg, msg_prefix, strlen(msg_prefix)))
        fail_msg("%s\n  want: %s...\n  got:  %s", stmt, msg_prefix, err.msg);
}

static void test_statements_parse(void **s)
{
    (void)s;
    static const char *const ok[] = {
        "SELECT 1=1",
        "SELECT * FROM `b` LIMIT 2",
        "SELECT * FROM default:`b`.`s`.`c` WHERE META().id IN $1 ORDER BY META().id ASC",
        ("SELECT `idx`.* FROM system:indexes AS idx WHERE (bucket_id = $bucket_name OR (bucket_id "
         "IS "
         "MISSING AND keyspace_id = $bucket_name)) AND `using` = \"gsi\" ORDER BY is_primary DESC, "
         "name ASC"),
        "SELECT RAW name FROM system:indexes WHERE state = \"deferred\"",
        "SELECT COUNT (1) AS c FROM ARRAY_RANGE(0,110) AS d1, ARRAY_RANGE(0,110) AS d2",
        "select distinct raw a.b from b a use keys ['k1','k2'] where a.x like 'y%' escape '!'",
        "SELECT a.x, b.y FROM a JOIN b ON KEYS a.fk LEFT JOIN c ON KEYS a.k NEST d ON KEYS a.ids",
        "SELECT e FROM a UNNEST a.arr AS e LEFT OUTER UNNEST a.o e2",
        "SELECT * FROM a JOIN b ON a.x = b.y AND b.t = 'z' LEFT JOIN c ON c.id = a.cid",
        "SELECT g, COUNT(*) FROM t GROUP BY g LETTING h = 1 HAVING COUNT(*) > 1 ORDER BY g DESC "
        "NULLS LAST",
        "SELECT x FROM t LET x = 1 WHERE x OFFSET 2 LIMIT 3",
        "SELECT ?, ?, $1, $name, @at",
        "SELECT ANY v IN a SATISFIES v = 1 END, EVERY v WITHIN a SATISFIES TRUE END",
        "SELECT ARRAY v FOR v IN a WHEN v END, FIRST v FOR v IN a END, OBJECT v:1 FOR v IN a END",
        "SELECT CASE WHEN a THEN b ELSE c END, CASE a WHEN 1 THEN 2 END",
        "SELECT {\"a\": 1, 'b': [1, 2.5e3, -3]}, a[1:2], a[-1], a.[\"x\"]",
        "SELECT (SELECT RAW 1), EXISTS (SELECT 1)",
        "INSERT INTO default:`b`.`s`.`c` VALUES(\"k\", {\"a\": 1})",
        "INSERT INTO b (KEY, VALUE) VALUES (\"k1\", {}), (\"k2\", {}, {\"expiration\": 10}) "
        "RETURNING *",
        "INSERT INTO b (KEY k, VALUE v) SELECT \"x\" AS k, 1 AS v",
        "UPSERT INTO b (KEY, VALUE) VALUES ('k', 1) RETURNING META().cas",
        "UPDATE `b` AS content USE KEYS 'k' SET content.a = 'aaaa', x.y.z = 1 UNSET q WHERE 1 "
        "LIMIT 1 RETURNING RAW META().id",
        "DELETE FROM b USE KEYS $1 WHERE TRUE LIMIT 2 RETURNING b.*",
        "CREATE PRIMARY INDEX  ON default:`b` USING GSI ",
        "CREATE PRIMARY INDEX `#primary` ON `b`",
        "CREATE PRIMARY INDEX `p2` ON default:`b`.`s`.`c` USING GSI WITH {\"defer_build\": true}",
        "CREATE INDEX `idx` ON default:`b`(`fld1`, `fld2`) WHERE ((`fld1` = 1) and (`fld2` = 2)) "
        "USING GSI",
        "CREATE INDEX idx_fld1 ON b(fld1) PARTITION BY HASH(fld1)",
        "CREATE INDEX i IF NOT EXISTS ON b(DISTINCT ARRAY v FOR v IN arr END, LOWER(name))",
        "DROP PRIMARY INDEX ON default:`b` USING GSI",
        "DROP INDEX `ix` ON default:`b`.`s`.`c` USING GSI",
        "DROP INDEX `b`.`ix` USING GSI",
        "BUILD INDEX ON default:`b` (`i1`,`i2`) USING GSI",
        "EXPLAIN SELECT * FROM b",
        "PREPARE SELECT * FROM b",
        "PREPARE p1 FROM SELECT 1",
        "EXECUTE p1",
        "SELECT 1; -- comment",
        "/* c */ SELECT 1",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) parses(ok[i]);
}

static void test_syntax_errors(void **s)
{
    (void)s;
    fails("I'm not N1QL!", "syntax error - line 1, column 2");
    fails("SELECT", "syntax error - line 1, column 7");
    fails("SELECT * FROM", "syntax error - line 1, column 14");
    fails("SELECT 1 +", "syntax error");
    fails("SELECT (1", "syntax error");
    fails("SELECT * FROM b WHERE", "syntax error");
    fails("SELECT 'unterminated", "syntax error - line 1, column 8");
    fails("SELECT 1\nFROM b WHERE )", "syntax error - line 2, column 14");
    fails("SELECT 1 UNION SELECT 2", "syntax error");
    fails("SELECT * FROM b WHERE COUNT(*) > 1", "syntax error");
    fails("", "syntax error");
    fails("SELECT 1 2", "syntax error");
    fails("SELECT #", "syntax error");
}

static void test_limits(void **s)
{
    (void)s;
    /* nesting deeper than Q_MAX_DEPTH: an error, not a stack overflow */
    dv_buf b = DV_BUF_INIT;
    dv_buf_printf(&b, "SELECT ");
    for (int i = 0; i < 10000; i++) dv_buf_append(&b, "(", 1);
    dv_buf_append(&b, "1", 1);
    for (int i = 0; i < 10000; i++) dv_buf_append(&b, ")", 1);
    dv_buf_append(&b, "", 1);
    fails((const char *)dv_buf_head(&b), "syntax error");
    dv_buf_reset(&b);
    dv_buf_printf(&b, "SELECT ");
    for (int i = 0; i < 5000; i++) dv_buf_append(&b, "-", 1);
    dv_buf_append(&b, "1", 2);
    fails((const char *)dv_buf_head(&b), "syntax error");
    dv_buf_free(&b);
    /* a statement over the size limit */
    size_t n = Q_MAX_STATEMENT + 10;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "SELECT 1", 8);
    big[n] = '\0';
    q_arena a = {0};
    q_error err;
    assert_null(q_parse(&a, big, n, &err));
    assert_int_equal(err.code, 1194);
    q_arena_free(&a);
    free(big);
}

static void test_canonical_text(void **s)
{
    (void)s;
    qt *t = &T;
    QT_EQ(t, "CREATE INDEX ix1 ON travel(fld1, a.b, LOWER(name)) WHERE fld1 = 1 AND fld2 = 2",
          "[]");
    QT_EQ(t, "CREATE INDEX ix2 ON travel(`fld1`) WHERE ((`fld1` = 1) and (`fld2` = 2))", "[]");
    QT_EQ(t, "CREATE INDEX idx_fld1 ON travel(fld1) PARTITION BY HASH(fld1)", "[]");
    QT_EQ(t, "SELECT RAW [index_key, `condition`] FROM system:indexes WHERE name = 'ix1'",
          "[[[\"`fld1`\",\"(`a`.`b`)\",\"lower(`name`)\"],\"((`fld1` = 1) and (`fld2` = 2))\"]]");
    QT_EQ(t, "SELECT RAW `condition` FROM system:indexes WHERE name = 'ix2'",
          "[\"((`fld1` = 1) and (`fld2` = 2))\"]");
    QT_EQ(t, "SELECT RAW `partition` FROM system:indexes WHERE name = 'idx_fld1'",
          "[\"HASH(`fld1`)\"]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statements_parse),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_limits),
        QT_TEST(test_canonical_text),
    };
    return TU_RUN(tests);
}
