/* Collections manifests (kv-protocol.md 6.2, 6.3). */
#include "testutil.h"

#include <string.h>

#include "base/buf.h"
#include "topology/manifest.h"

/* The manifest of kv-protocol.md 6.3, verbatim. */
static const char DOC_MANIFEST_6_3[] =
    "{\n"
    "  \"uid\": \"c\",\n"
    "  \"scopes\": [\n"
    "    { \"name\": \"_default\", \"uid\": \"0\",\n"
    "      \"collections\": [ { \"name\": \"_default\", \"uid\": \"0\" } ] },\n"
    "    { \"name\": \"inventory\", \"uid\": \"8\",\n"
    "      \"collections\": [\n"
    "        { \"name\": \"airline\", \"uid\": \"8\", \"maxTTL\": 0 },\n"
    "        { \"name\": \"route\",   \"uid\": \"9\", \"maxTTL\": 3600, \"history\": false }\n"
    "      ] }\n"
    "  ]\n"
    "}\n";

static dv_manifest *parse_ok(const char *doc)
{
    dv_manifest *m = NULL;
    char err[256];
    if (dv_manifest_parse(doc, strlen(doc), &m, err, sizeof err) != DV_ERR_OK)
        fail_msg("parse failed: %s", err);
    assert_non_null(m);
    return m;
}

static char *render(const dv_manifest *m)
{
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_manifest_write_json(m, &b), DV_ERR_OK);
    assert_int_equal(dv_buf_append_u8(&b, 0), 0);
    char *s = test_malloc(dv_buf_size(&b));
    memcpy(s, dv_buf_head(&b), dv_buf_size(&b));
    dv_buf_free(&b);
    return s;
}

static void manifest_of_6_3(void **state)
{
    (void)state;
    dv_manifest *m = parse_ok(DOC_MANIFEST_6_3);
    assert_true(m->uid == 0xc);
    assert_int_equal(m->nscopes, 2);
    assert_string_equal(m->scopes[0].name, "_default");
    assert_int_equal(m->scopes[0].uid, 0);
    assert_int_equal(m->scopes[0].ncollections, 1);
    assert_string_equal(m->scopes[0].collections[0].name, "_default");
    assert_int_equal(m->scopes[0].collections[0].uid, 0);
    assert_false(m->scopes[0].collections[0].has_max_ttl);
    assert_false(m->scopes[0].collections[0].has_history);
    const dv_scope *inv = &m->scopes[1];
    assert_string_equal(inv->name, "inventory");
    assert_int_equal(inv->uid, 8);
    assert_int_equal(inv->ncollections, 2);
    assert_string_equal(inv->collections[0].name, "airline");
    assert_int_equal(inv->collections[0].uid, 8);
    assert_true(inv->collections[0].has_max_ttl);
    assert_int_equal(inv->collections[0].max_ttl, 0);
    assert_false(inv->collections[0].has_history);
    assert_string_equal(inv->collections[1].name, "route");
    assert_int_equal(inv->collections[1].uid, 9);
    assert_int_equal(inv->collections[1].max_ttl, 3600);
    assert_true(inv->collections[1].has_history);
    assert_false(inv->collections[1].history);
    assert_ptr_equal(dv_manifest_find_scope(m, "inventory", 9), inv);
    assert_null(dv_manifest_find_scope(m, "inventor", 8));
    dv_manifest_free(m);
}

static void lookup_resolves_like_get_collection_id(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        dv_error rc;
        uint32_t cid;
    } cases[] = {
        {".", DV_ERR_OK, 0},
        {"_default._default", DV_ERR_OK, 0},
        {"_default.", DV_ERR_OK, 0},
        {"._default", DV_ERR_OK, 0},
        {"inventory.airline", DV_ERR_OK, 8},
        {"inventory.route", DV_ERR_OK, 9},
        {".route", DV_ERR_COLLECTION_NOT_FOUND, 0},
        {"inventory.", DV_ERR_COLLECTION_NOT_FOUND, 0},
        {"inventory.rout", DV_ERR_COLLECTION_NOT_FOUND, 0},
        {"tenants.users", DV_ERR_SCOPE_NOT_FOUND, 0},
        {"inventory", DV_ERR_INVALID_ARGUMENT, 0},
        {"", DV_ERR_INVALID_ARGUMENT, 0},
        {"a.b.c", DV_ERR_INVALID_ARGUMENT, 0},
        {"..", DV_ERR_INVALID_ARGUMENT, 0},
    };
    dv_manifest *m = parse_ok(DOC_MANIFEST_6_3);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t cid = 0xdeadbeef;
        dv_error rc = dv_manifest_lookup(m, cases[i].path, strlen(cases[i].path), &cid);
        if (rc != cases[i].rc) fail_msg("%s: got %d", cases[i].path, rc);
        if (rc == DV_ERR_OK)
            assert_int_equal(cid, cases[i].cid);
        else
            assert_int_equal(cid, 0xdeadbeef);
    }
    /* Only len bytes count. */
    uint32_t cid;
    assert_int_equal(dv_manifest_lookup(m, "inventory.routeXYZ", 15, &cid), DV_ERR_OK);
    assert_int_equal(cid, 9);
    dv_manifest_free(m);
}

static void round_trip(void **state)
{
    (void)state;
    dv_manifest *m = parse_ok(DOC_MANIFEST_6_3);
    char *json = render(m);
    dv_manifest *back = parse_ok(json);
    assert_true(dv_manifest_equal(m, back));
    back->scopes[1].collections[1].history = 1;
    assert_false(dv_manifest_equal(m, back));
    test_free(json);
    dv_manifest_free(back);

    /* Built by hand: uids are written as hex. */
    dv_scope *s = dv_manifest_add_scope(m, "tenant-%1", 0x1f);
    assert_non_null(s);
    dv_collection *c = dv_manifest_add_collection(s, "users", 0xcafef00d);
    assert_non_null(c);
    c->has_max_ttl = 1;
    c->max_ttl = -1;
    m->uid = 0xffffffffffffffffull;
    json = render(m);
    assert_non_null(strstr(json, "{\"name\":\"tenant-%1\",\"uid\":\"1f\",\"collections\":"
                                 "[{\"name\":\"users\",\"uid\":\"cafef00d\",\"maxTTL\":-1}]}"));
    assert_non_null(strstr(json, "\"uid\":\"ffffffffffffffff\""));
    back = parse_ok(json);
    assert_true(dv_manifest_equal(m, back));
    uint32_t cid;
    assert_int_equal(dv_manifest_lookup(back, "tenant-%1.users", 15, &cid), DV_ERR_OK);
    assert_int_equal(cid, 0xcafef00d);
    test_free(json);
    dv_manifest_free(back);
    dv_manifest_free(m);
}

static void default_manifest(void **state)
{
    (void)state;
    dv_manifest *m = dv_manifest_new_default();
    assert_non_null(m);
    char *json = render(m);
    assert_string_equal(json, "{\"uid\":\"0\",\"scopes\":[{\"name\":\"_default\",\"uid\":\"0\","
                              "\"collections\":[{\"name\":\"_default\",\"uid\":\"0\"}]}]}");
    uint32_t cid = 1;
    assert_int_equal(dv_manifest_lookup(m, ".", 1, &cid), DV_ERR_OK);
    assert_int_equal(cid, 0);
    test_free(json);
    dv_manifest_free(m);
}

static void names(void **state)
{
    (void)state;
    char longest[DV_MANIFEST_NAME_MAX + 1];
    memset(longest, 'a', sizeof longest);
    assert_true(dv_manifest_name_valid(longest, DV_MANIFEST_NAME_MAX, 1));
    assert_false(dv_manifest_name_valid(longest, DV_MANIFEST_NAME_MAX + 1, 0));
    assert_false(dv_manifest_name_valid("", 0, 0));
    assert_true(dv_manifest_name_valid("A-z_0%9", 7, 1));
    assert_true(dv_manifest_name_valid("_system", 7, 0));
    assert_false(dv_manifest_name_valid("_system", 7, 1));
    assert_false(dv_manifest_name_valid("%x", 2, 1));
    assert_false(dv_manifest_name_valid("a.b", 3, 0));
    assert_false(dv_manifest_name_valid("a b", 3, 0));
    assert_false(dv_manifest_name_valid("\xc3\xa9t\xc3\xa9", 6, 0));
}

static void malformed_manifests_get_clear_errors(void **state)
{
    (void)state;
#define SC(cols)                                                                                   \
    "{\"uid\":\"1\",\"scopes\":[{\"name\":\"s\",\"uid\":\"8\",\"collections\":[" cols "]}]}"
    static const struct {
        const char *doc, *want;
    } bad[] = {
        {"", "invalid JSON"},
        {"[]", "must be a JSON object"},
        {"{\"scopes\":[]}", "uid is missing"},
        {"{\"uid\":12,\"scopes\":[]}", "uid must be a hex string"},
        {"{\"uid\":\"0x1\",\"scopes\":[]}", "uid must be a hex string"},
        {"{\"uid\":\"\",\"scopes\":[]}", "uid must be a hex string"},
        {"{\"uid\":\"10000000000000000\",\"scopes\":[]}", "uid must be a hex string"},
        {"{\"uid\":\"1\"}", "scopes is missing"},
        {"{\"uid\":\"1\",\"scopes\":{}}", "scopes must be an array"},
        {"{\"uid\":\"1\",\"scopes\":[1]}", "scopes[0] must be an object"},
        {"{\"uid\":\"1\",\"scopes\":[{\"uid\":\"0\",\"collections\":[]}]}",
         "scopes[0].name is missing"},
        {"{\"uid\":\"1\",\"scopes\":[{\"name\":\"a.b\",\"uid\":\"0\",\"collections\":[]}]}",
         "scopes[0].name must be"},
        {"{\"uid\":\"1\",\"scopes\":[{\"name\":\"s\",\"collections\":[]}]}",
         "scopes[0].uid is missing"},
        {"{\"uid\":\"1\",\"scopes\":[{\"name\":\"s\",\"uid\":\"100000000\",\"collections\":[]}]}",
         "scopes[0].uid"},
        {"{\"uid\":\"1\",\"scopes\":[{\"name\":\"s\",\"uid\":\"0\"}]}",
         "scopes[0].collections is missing"},
        {SC("7"), "scopes[0].collections[0] must be an object"},
        {SC("{\"uid\":\"8\"}"), "scopes[0].collections[0].name is missing"},
        {SC("{\"name\":\"\",\"uid\":\"8\"}"), "scopes[0].collections[0].name must be"},
        {SC("{\"name\":\"c\"}"), "scopes[0].collections[0].uid is missing"},
        {SC("{\"name\":\"c\",\"uid\":\"g\"}"), "scopes[0].collections[0].uid"},
        {SC("{\"name\":\"c\",\"uid\":\"8\",\"maxTTL\":\"1\"}"), "maxTTL"},
        {SC("{\"name\":\"c\",\"uid\":\"8\",\"maxTTL\":-2}"), "maxTTL"},
        {SC("{\"name\":\"c\",\"uid\":\"8\",\"maxTTL\":2147483648}"), "maxTTL"},
        {SC("{\"name\":\"c\",\"uid\":\"8\",\"history\":1}"), "history"},
        {SC("{\"name\":\"c\",\"uid\":\"8\"},{\"name\":\"c\",\"uid\":\"9\"}"), "duplicate name"},
        {SC("{\"name\":\"c\",\"uid\":\"8\"},{\"name\":\"d\",\"uid\":\"8\"}"), "duplicate uid"},
        {"{\"uid\":\"1\",\"scopes\":[{\"name\":\"s\",\"uid\":\"8\",\"collections\":[]},"
         "{\"name\":\"s\",\"uid\":\"9\",\"collections\":[]}]}",
         "duplicate scope name"},
        {"{\"uid\":\"1\",\"scopes\":[{\"name\":\"s\",\"uid\":\"8\",\"collections\":[]},"
         "{\"name\":\"t\",\"uid\":\"8\",\"collections\":[]}]}",
         "duplicate scope uid"},
        /* Collection ids are unique across scopes. */
        {"{\"uid\":\"1\",\"scopes\":[{\"name\":\"s\",\"uid\":\"8\",\"collections\":"
         "[{\"name\":\"c\",\"uid\":\"a\"}]},{\"name\":\"t\",\"uid\":\"9\",\"collections\":"
         "[{\"name\":\"c\",\"uid\":\"A\"}]}]}",
         "scopes[1].collections[0]: duplicate uid"},
    };
#undef SC
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dv_manifest *m = (dv_manifest *)1;
        char err[256];
        assert_int_equal(dv_manifest_parse(bad[i].doc, strlen(bad[i].doc), &m, err, sizeof err),
                         DV_ERR_PARSING_FAILURE);
        assert_null(m);
        if (!strstr(err, bad[i].want)) fail_msg("error \"%s\" lacks \"%s\"", err, bad[i].want);
    }
    /* Every prefix of a valid document is refused, never read past. */
    size_t n = strlen(DOC_MANIFEST_6_3);
    for (size_t len = 0; len < n - 2; len++) {
        char *copy = test_malloc(len ? len : 1);
        memcpy(copy, DOC_MANIFEST_6_3, len);
        dv_manifest *m = (dv_manifest *)1;
        assert_int_not_equal(dv_manifest_parse(copy, len, &m, NULL, 0), DV_ERR_OK);
        assert_null(m);
        test_free(copy);
    }
}

static void writing_refuses_invalid_manifests(void **state)
{
    (void)state;
    dv_manifest *m = dv_manifest_new_default();
    assert_non_null(m);
    dv_buf b = DV_BUF_INIT;
    dv_scope *s = dv_manifest_add_scope(m, "bad name", 8);
    assert_non_null(s);
    assert_int_equal(dv_manifest_write_json(m, &b), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_buf_size(&b), 0);
    dv_manifest_free(m);

    m = dv_manifest_new_default();
    assert_non_null(m);
    assert_non_null(dv_manifest_add_collection(&m->scopes[0], "dup", 0)); /* cid 0 is taken */
    assert_int_equal(dv_manifest_write_json(m, &b), DV_ERR_INVALID_ARGUMENT);
    dv_manifest_free(m);
    dv_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manifest_of_6_3),
        cmocka_unit_test(lookup_resolves_like_get_collection_id),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(default_manifest),
        cmocka_unit_test(names),
        cmocka_unit_test(malformed_manifests_get_clear_errors),
        cmocka_unit_test(writing_refuses_invalid_manifests),
    };
    return TU_RUN(tests);
}
