/* Statements over keyspaces (an in-memory source): plans and the "No index available" error,
 * USE KEYS, META(), query_context, catalogs, joins, DML with RETURNING, index DDL, EXPLAIN,
 * PREPARE/EXECUTE, read-only requests and privileges. */
#include "qtest.h"

static void test_needs_an_index(void **s)
{
    (void)s;
    QT_ERR(&T, "SELECT * FROM travel",
           "ERR 4000 No index available on keyspace default:travel that "
           "matches your query. Use CREATE PRIMARY INDEX ON default:travel");
    assert_string_equal(T.last.status, "fatal");
    assert_null(T.last.results);
    /* USE KEYS needs none; missing keys are skipped; order is the keys' order */
    QT_EQ(&T, "SELECT RAW name FROM travel USE KEYS ['u2', 'nope', 'u1']", "[\"bob\",\"ann\"]");
    QT_EQ(&T, "SELECT * FROM `travel` USE KEYS \"u4\"", "[{\"travel\":{\"name\":\"dee\"}}]");
    QT_EQ(&T, "CREATE PRIMARY INDEX ON travel", "[]");
    assert_null(T.last.signature);
    QT_EQ(&T, "SELECT RAW META().id FROM travel", "[\"u1\",\"u2\",\"u3\",\"u4\"]");
    QT_EQ(&T, "SELECT RAW t.name FROM travel t WHERE t.age > 26", "[\"ann\"]");
    QT_EQ(&T, "SELECT RAW name FROM travel WHERE age IS NULL", "[\"cid\"]");
    QT_EQ(&T, "SELECT RAW name FROM travel WHERE age IS MISSING", "[\"dee\"]");
    QT_EQ(&T, "SELECT name FROM travel WHERE tags IS NOT MISSING", "[{\"name\":\"bob\"}]");
    QT_EQ(&T, "SELECT RAW name FROM travel ORDER BY age DESC LIMIT 2", "[\"ann\",\"bob\"]");
    QT_EQ(&T, "SELECT * FROM travel LIMIT 1 OFFSET 3", "[{\"travel\":{\"name\":\"dee\"}}]");
    QT_EQ(&T, "SELECT COUNT(*) AS n FROM travel", "[{\"n\":4}]");
    QT_ERR(&T, "CREATE PRIMARY INDEX ON travel", "ERR 4300 The index #primary already exists.");
    QT_EQ(&T, "CREATE PRIMARY INDEX IF NOT EXISTS ON travel", "[]");
    QT_EQ(&T, "DROP PRIMARY INDEX ON travel", "[]");
    QT_ERR(&T, "DROP PRIMARY INDEX ON travel", "ERR 12016 Index Not Found");
    QT_ERR(&T, "SELECT * FROM travel LIMIT 1", "ERR 4000 No index available");
}

static void test_meta(void **s)
{
    (void)s;
    QT_EQ(
        &T,
        "SELECT META().id, META(t).cas, META().type, META().expiration FROM travel t USE KEYS 'u1'",
        "[{\"cas\":0,\"expiration\":0,\"id\":\"u1\",\"type\":\"json\"}]");
    QT_EQ(&T, "SELECT RAW META() FROM travel USE KEYS 'u4'",
          "[{\"cas\":0,\"expiration\":0,\"flags\":0,\"id\":\"u4\",\"keyspace\":\"_default\","
          "\"type\":\"json\"}]");
}

static void test_keyspaces_and_context(void **s)
{
    (void)s;
    QT_ERR(&T, "SELECT * FROM nosuch",
           "ERR 12003 Keyspace not found in CB datastore: default:nosuch");
    QT_ERR(&T, "SELECT * FROM hotels", "ERR 12003 Keyspace not found");
    QT_EQ(&T, "CREATE PRIMARY INDEX ON default:`travel`.`inv`.`hotels`", "[]");
    QT_EQ(&T, "SELECT RAW h.name FROM travel.inv.hotels h", "[\"grand\",\"plaza\"]");
    QT_EQ(&T, "SELECT RAW name FROM default:travel.inv.hotels WHERE city = 'rome'", "[\"plaza\"]");
    T.query_context = "`travel`.`inv`";
    QT_EQ(&T, "SELECT * FROM hotels LIMIT 1",
          "[{\"hotels\":{\"city\":\"oslo\",\"name\":\"grand\"}}]");
    T.query_context = "default:travel.inv";
    QT_EQ(&T, "SELECT RAW name FROM `hotels` USE KEYS 'h2'", "[\"plaza\"]");
    T.query_context = "travel.`fake-scope`";
    QT_ERR(&T, "SELECT * FROM hotels",
           "ERR 12021 Scope not found in CB datastore default:travel.fake-scope");
    T.query_context = "`fake-bucket`.inv";
    QT_ERR(&T, "SELECT * FROM hotels", "ERR 12003 Keyspace not found");
    T.query_context = NULL;
    QT_ERR(&T, "SELECT * FROM system:nothing", "ERR 12003");
}

static void test_system_catalogs(void **s)
{
    (void)s;
    QT_EQ(&T, "SELECT RAW name FROM system:indexes", "[]");
    QT_EQ(&T, "CREATE PRIMARY INDEX ON default:`travel` USING GSI", "[]");
    QT_EQ(&T,
          "CREATE INDEX `ix` ON default:`travel`.`inv`.`hotels`(city) USING GSI WITH "
          "{\"defer_build\":true}",
          "[]");
    QT_EQ(
        &T, "SELECT `idx`.* FROM system:indexes AS idx WHERE idx.name = '#primary'",
        "[{\"datastore_id\":\"http://127.0.0.1:8091\",\"id\":\"000000005eed0001\",\"index_key\":[],"
        "\"is_primary\":true,\"keyspace_id\":\"travel\",\"name\":\"#primary\",\"namespace\":"
        "\"default\","
        "\"namespace_id\":\"default\",\"state\":\"online\",\"using\":\"gsi\"}]");
    T.named = json_pack("{s:s,s:s,s:s}", "bucket_name", "travel", "scope_name", "inv",
                        "collection_name", "hotels");
    QT_EQ(&T,
          "SELECT RAW name FROM system:indexes WHERE ((bucket_id = $bucket_name AND scope_id = "
          "$scope_name) AND keyspace_id = $collection_name) AND state = \"deferred\" AND `using` = "
          "\"gsi\" "
          "ORDER BY is_primary DESC, name ASC",
          "[\"ix\"]");
    QT_EQ(&T,
          "SELECT RAW name FROM system:indexes WHERE (bucket_id = $bucket_name OR (bucket_id IS "
          "MISSING AND keyspace_id = $bucket_name)) AND `using` = \"gsi\" ORDER BY is_primary "
          "DESC, name ASC",
          "[\"#primary\",\"ix\"]");
    QT_EQ(
        &T, "SELECT * FROM system:indexes WHERE name = 'ix'",
        "[{\"indexes\":{\"bucket_id\":\"travel\",\"datastore_id\":\"http://127.0.0.1:8091\",\"id\":"
        "\"000000005eed0002\",\"index_key\":[\"`city`\"],\"keyspace_id\":\"hotels\",\"name\":"
        "\"ix\","
        "\"namespace\":\"default\",\"namespace_id\":\"default\",\"scope_id\":\"inv\",\"state\":"
        "\"deferred\","
        "\"using\":\"gsi\",\"with\":{\"defer_build\":true}}}]");
    /* a deferred index answers nothing until built */
    QT_ERR(&T, "SELECT * FROM travel.inv.hotels WHERE city = 'rome'",
           "ERR 4000 No index available");
    QT_EQ(&T, "BUILD INDEX ON default:`travel`.`inv`.`hotels` (`ix`) USING GSI", "[]");
    QT_EQ(&T, "SELECT RAW state FROM system:indexes WHERE name = 'ix'", "[\"online\"]");
    QT_EQ(&T, "SELECT RAW name FROM travel.inv.hotels WHERE city = 'rome'", "[\"plaza\"]");
    /* the index is on city: other predicates still need the primary index */
    QT_ERR(&T, "SELECT * FROM travel.inv.hotels WHERE name = 'x'", "ERR 4000 No index available");
    QT_ERR(&T, "BUILD INDEX ON travel (`nope`)", "ERR 12016");
    QT_EQ(&T, "DROP INDEX `ix` ON default:`travel`.`inv`.`hotels` USING GSI", "[]");
    QT_EQ(&T, "CREATE INDEX `b_ix` ON travel(name)", "[]");
    QT_EQ(&T, "DROP INDEX `travel`.`b_ix` USING GSI", "[]");
    QT_ERR(&T, "DROP INDEX `travel`.`b_ix` USING GSI", "ERR 12016 Index Not Found");
    QT_EQ(&T, "SELECT RAW k.path FROM system:keyspaces AS k ORDER BY k.path",
          "[\"default:`travel`\",\"default:travel.inv.hotels\"]");
}

static void test_joins(void **s)
{
    (void)s;
    json_object_set_new(T.mem.data, "shop._default._default",
                        json_pack("{s:{s:{s:s,s:[s,s]}},s:{s:{s:s}},s:{s:{s:s}}}", "o1", "value",
                                  "user", "u1", "items", "i1", "i2", "i1", "value", "n", "pen",
                                  "i2", "value", "n", "ink"));
    QT_EQ(&T, "SELECT o.user, u.name FROM shop o USE KEYS 'o1' JOIN travel u ON KEYS o.user",
          "[{\"name\":\"ann\",\"user\":\"u1\"}]");
    QT_EQ(&T, "SELECT RAW i.n FROM shop o USE KEYS 'o1' JOIN shop i ON KEYS o.items",
          "[\"pen\",\"ink\"]");
    QT_EQ(
        &T,
        "SELECT RAW ARRAY x.n FOR x IN i END FROM shop o USE KEYS 'o1' NEST shop i ON KEYS o.items",
        "[[\"pen\",\"ink\"]]");
    QT_EQ(&T, "SELECT RAW u FROM shop o USE KEYS 'o1' LEFT JOIN travel u ON KEYS 'nobody'",
          "[null]");
    QT_EQ(&T, "SELECT RAW COUNT(*) FROM shop o USE KEYS 'o1' JOIN travel u ON KEYS 'nobody'",
          "[0]");
    QT_EQ(&T, "SELECT RAW it FROM shop o USE KEYS 'o1' UNNEST o.items AS it", "[\"i1\",\"i2\"]");
}

/* ANSI joins: by a secondary index on the right, else by the primary index, else the error. */
static void test_ansi_joins(void **s)
{
    (void)s;
    QT_ERR(&T,
           "SELECT u.name, h.name AS hotel FROM travel u USE KEYS ['u1'] JOIN travel.inv.hotels h "
           "ON h.city = u.city",
           "ERR 4000 No index available for ANSI join term h");
    QT_EQ(&T, "CREATE INDEX ix_city ON travel.inv.hotels(city)", "[]");
    QT_EQ(&T,
          "SELECT u.name, h.name AS hotel FROM travel u USE KEYS ['u1', 'u2'] JOIN "
          "travel.inv.hotels h "
          "ON h.city = u.city",
          "[{\"hotel\":\"grand\",\"name\":\"ann\"}]");
    QT_EQ(&T,
          "SELECT u.name, h.name AS hotel FROM travel u USE KEYS ['u1', 'u2'] LEFT JOIN "
          "travel.inv.hotels h "
          "ON u.city = h.city AND h.name != 'grand'",
          "[{\"name\":\"ann\"},{\"name\":\"bob\"}]");
    QT_EQ(&T, "DROP INDEX ix_city ON travel.inv.hotels", "[]");
    QT_EQ(&T, "CREATE PRIMARY INDEX ON travel.inv.hotels", "[]");
    QT_EQ(
        &T,
        "SELECT RAW h.name FROM travel u USE KEYS 'u1' JOIN travel.inv.hotels h ON h.city = u.city "
        "OR h.name = 'plaza' ORDER BY h.name",
        "[\"grand\",\"plaza\"]");
    QT_EQ(&T,
          "SELECT u.name, ARRAY x.name FOR x IN hs END AS hotels FROM travel u USE KEYS 'u1' "
          "NEST travel.inv.hotels hs ON hs.city = u.city",
          "[{\"hotels\":[\"grand\"],\"name\":\"ann\"}]");
}

static void test_dml(void **s)
{
    (void)s;
    QT_EQ(&T,
          "INSERT INTO travel (KEY, VALUE) VALUES ('n1', {'name': 'eve', 'age': 40}) RETURNING "
          "META().id, name",
          "[{\"id\":\"n1\",\"name\":\"eve\"}]");
    assert_int_equal(T.last.mutation_count, 1);
    QT_EQ(&T, "INSERT INTO travel VALUES ('n2', {'name': 'fay'}), ('n3', {'name': 'gus'})", "[]");
    assert_int_equal(T.last.mutation_count, 2);
    QT_ERR(
        &T, "INSERT INTO travel VALUES ('n1', {})",
        "ERR 12009 DML Error, possible causes include concurrent modification. Failed to perform "
        "INSERT on key n1 - cause: Duplicate Key: n1");
    json_t *reason = json_object_get(json_array_get(T.last.errors, 0), "reason");
    assert_int_equal(json_integer_value(json_object_get(reason, "code")), 17012);
    QT_EQ(&T, "UPSERT INTO travel (KEY, VALUE) VALUES ('n1', {'name': 'eva'}) RETURNING RAW name",
          "[\"eva\"]");
    QT_EQ(&T, "UPDATE travel AS t USE KEYS 'n1' SET t.age = 41, t.addr.city = 'oslo' RETURNING t.*",
          "[{\"addr\":{\"city\":\"oslo\"},\"age\":41,\"name\":\"eva\"}]");
    QT_EQ(&T, "UPDATE travel USE KEYS ['n1', 'n2'] SET x = 1 UNSET name RETURNING RAW travel",
          "[{\"addr\":"
          "{\"city\":\"oslo\"},\"age\":41,\"x\":1},{\"x\":1}]");
    QT_EQ(&T, "CREATE PRIMARY INDEX ON travel", "[]");
    QT_EQ(&T, "UPDATE travel SET seen = TRUE WHERE age > 30 RETURNING RAW META().id",
          "[\"n1\",\"u1\"]");
    QT_EQ(&T, "DELETE FROM travel WHERE x = 1 RETURNING RAW META().id", "[\"n1\",\"n2\"]");
    QT_EQ(&T, "DELETE FROM travel USE KEYS 'n3'", "[]");
    assert_int_equal(T.last.mutation_count, 1);
    QT_EQ(&T, "SELECT RAW META().id FROM travel", "[\"u1\",\"u2\",\"u3\",\"u4\"]");
    QT_EQ(&T,
          "INSERT INTO travel (KEY k, VALUE v) SELECT 'c' || TOSTRING(x) AS k, {'x': x} AS v FROM "
          "[1,2] AS x",
          "[]");
    QT_EQ(&T, "SELECT RAW x FROM travel WHERE x IS VALUED ORDER BY x", "[1,2]");
    QT_ERR(&T, "INSERT INTO travel VALUES (1, {})", "ERR 5070");
    T.readonly = 1;
    QT_ERR(&T, "DELETE FROM travel USE KEYS 'c1'", "ERR 1000 The server or request is read-only");
    QT_EQ(&T, "SELECT RAW 1", "[1]");
    T.readonly = 0;
}

static void test_privileges(void **s)
{
    (void)s;
    T.mem.deny = 1u << DV_QUERY_PRIV_SELECT;
    QT_ERR(&T, "SELECT * FROM travel USE KEYS 'u1'",
           "ERR 13014 User does not have credentials to run select queries on the default:travel "
           "keyspace");
    T.mem.deny = 1u << DV_QUERY_PRIV_INSERT;
    QT_ERR(&T, "INSERT INTO travel VALUES ('z', 1)", "ERR 13014");
    T.mem.deny = 1u << DV_QUERY_PRIV_MANAGE_INDEX;
    QT_ERR(&T, "CREATE PRIMARY INDEX ON travel", "ERR 13014");
    T.mem.deny = 0;
}

static void test_explain_prepare(void **s)
{
    (void)s;
    QT_EQ(&T, "CREATE INDEX ix_age ON travel(age)", "[]");
    const char *r = qt_run(&T, "EXPLAIN SELECT * FROM travel WHERE age = 25");
    assert_non_null(strstr(r, "\"IndexScan3\""));
    assert_non_null(strstr(r, "\"index\":\"ix_age\""));
    assert_int_equal(json_array_size(T.last.results), 1);
    assert_non_null(json_object_get(json_array_get(T.last.results, 0), "plan"));
    QT_EQ(&T, "SELECT RAW name FROM travel WHERE age = 25", "[\"bob\"]");
    r = qt_run(&T, "EXPLAIN SELECT * FROM travel USE KEYS 'u1'");
    assert_non_null(strstr(r, "\"KeyScan\""));
    QT_ERR(&T, "EXPLAIN SELECT * FROM travel", "ERR 4000 No index available");
    /* PREPARE without auto_execute: one row with name and encoded_plan */
    r = qt_run(&T, "PREPARE p1 FROM SELECT RAW name FROM travel USE KEYS 'u2'");
    assert_non_null(strstr(r, "\"name\":\"p1\""));
    assert_non_null(strstr(r, "\"encoded_plan\""));
    QT_EQ(&T, "EXECUTE p1", "[\"bob\"]");
    QT_ERR(&T, "EXECUTE nosuch", "ERR 4040 No such prepared statement: nosuch");
    /* the SDK's enhanced flow: PREPARE with auto_execute, then {"prepared": name} */
    T.auto_execute = 1;
    QT_EQ(&T, "PREPARE SELECT RAW 40 + 2", "[42]");
    assert_non_null(T.last.prepared);
    char name[64];
    snprintf(name, sizeof name, "%s", T.last.prepared);
    T.auto_execute = 0;
    dv_query_request rq = {0};
    rq.prepared = name;
    dv_query_result res;
    dv_query_run(&rq, &T.src, T.cat, &res);
    assert_string_equal(res.status, "success");
    assert_int_equal(json_integer_value(json_array_get(res.results, 0)), 42);
    dv_query_result_clear(&res);
    rq.prepared = "unknown";
    dv_query_run(&rq, &T.src, T.cat, &res);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(res.errors, 0), "code")),
                     4040);
    dv_query_result_clear(&res);
}

static int (*real_scan)(void *ud, void *ks, dv_query_doc **docs, size_t *n);
static int scans;
static int counting_scan(void *ud, void *ks, dv_query_doc **docs, size_t *n)
{
    scans++;
    return real_scan(ud, ks, docs, n);
}

/* A built secondary index answers equality and IN on its key without scanning the keyspace,
 * and follows every write. */
static void test_secondary_index_is_real(void **s)
{
    (void)s;
    real_scan = T.src.scan;
    T.src.scan = counting_scan;
    QT_EQ(&T, "CREATE INDEX ix_name ON travel(name)", "[]");
    assert_int_equal(scans, 1); /* the build */
    QT_EQ(&T, "SELECT RAW META().id FROM travel WHERE name = 'bob'", "[\"u2\"]");
    QT_EQ(&T,
          "SELECT RAW META().id FROM travel t WHERE t.name IN ['ann', 'dee', 'ann'] ORDER BY "
          "META().id",
          "[\"u1\",\"u4\"]");
    T.named = json_pack("{s:s}", "v", "cid");
    QT_EQ(&T, "SELECT RAW age FROM travel WHERE name = $v", "[null]");
    assert_int_equal(scans, 1);
    /* writes keep it current */
    QT_EQ(&T, "UPDATE travel USE KEYS 'u2' SET name = 'rob'", "[]");
    QT_EQ(&T, "SELECT RAW META().id FROM travel WHERE name = 'bob'", "[]");
    QT_EQ(&T, "SELECT RAW META().id FROM travel WHERE name = 'rob'", "[\"u2\"]");
    QT_EQ(&T, "INSERT INTO travel VALUES ('u9', {'name': 'rob'})", "[]");
    QT_EQ(&T, "SELECT RAW META().id FROM travel WHERE name = 'rob'", "[\"u2\",\"u9\"]");
    QT_EQ(&T, "DELETE FROM travel USE KEYS 'u2'", "[]");
    QT_EQ(&T, "SELECT RAW META().id FROM travel WHERE name = 'rob' AND 1 = 1", "[\"u9\"]");
    assert_int_equal(scans, 1);
    /* ranges (and BETWEEN) on the key are index lookups too, bounds combined */
    QT_EQ(&T, "SELECT RAW META().id FROM travel WHERE name > 'd' ORDER BY name", "[\"u4\",\"u9\"]");
    QT_EQ(&T, "SELECT RAW name FROM travel WHERE name >= 'ann' AND name < 'dee' ORDER BY name",
          "[\"ann\",\"cid\"]");
    QT_EQ(&T, "SELECT RAW name FROM travel WHERE 'cid' <= name AND name <= 'dee' ORDER BY name",
          "[\"cid\",\"dee\"]");
    QT_EQ(&T, "SELECT RAW name FROM travel WHERE name BETWEEN 'b' AND 'd' ORDER BY name",
          "[\"cid\"]");
    assert_int_equal(scans, 1);
    /* a predicate the index cannot look up (LIKE) still answers, by scanning */
    QT_EQ(&T, "SELECT RAW META().id FROM travel WHERE name LIKE 'd%'", "[\"u4\"]");
    assert_int_equal(scans, 2);
    /* a deferred index is built by BUILD INDEX */
    QT_EQ(&T, "CREATE INDEX ix_age ON travel(age) WITH {'defer_build': true}", "[]");
    assert_int_equal(scans, 2);
    QT_EQ(&T, "BUILD INDEX ON travel(ix_age)", "[]");
    assert_int_equal(scans, 3);
    QT_EQ(&T, "SELECT RAW name FROM travel WHERE age = 31", "[\"ann\"]");
    QT_EQ(&T, "SELECT RAW name FROM travel WHERE age = 31.0", "[\"ann\"]");
    assert_int_equal(scans, 3);
    /* a partial index holds only the documents its condition admits */
    QT_EQ(&T, "CREATE INDEX ix_old ON travel(name) WHERE age > 30", "[]");
    QT_EQ(&T, "SELECT RAW name FROM travel WHERE name = 'ann' AND age > 30", "[\"ann\"]");
    T.src.scan = real_scan;
}

static void test_unsupported(void **s)
{
    (void)s;
    QT_ERR(&T, "BEGIN WORK", "ERR 1020 BEGIN statements are not supported");
    QT_ERR(&T, "SELECT NOSUCHFN(1)", "ERR 3000 Invalid function NOSUCHFN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QT_TEST(test_needs_an_index),
        QT_TEST(test_meta),
        QT_TEST(test_keyspaces_and_context),
        QT_TEST(test_system_catalogs),
        QT_TEST(test_joins),
        QT_TEST(test_ansi_joins),
        QT_TEST(test_dml),
        QT_TEST(test_privileges),
        QT_TEST(test_explain_prepare),
        QT_TEST(test_secondary_index_is_real),
        QT_TEST(test_unsupported),
    };
    return TU_RUN(tests);
}
