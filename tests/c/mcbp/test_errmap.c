#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "mcbp/errmap.h"
#include "mcbp/protocol.h"

#define STR(s) (const uint8_t *)(s), strlen(s)

static void assert_buf_str(const dv_buf *b, const char *want)
{
    assert_int_equal(dv_buf_size(b), strlen(want));
    assert_memory_equal(dv_buf_head(b), want, strlen(want));
}

/* ---- XERROR ---- */

static void xerror_parse_full(void **state)
{
    (void)state;
    dv_xerror x;
    const char *body = "{\"error\":{\"context\":\"Request must include path\","
                       "\"ref\":\"1f2e3d4c-0000-1111-2222-333344445555\"},\"manifest_uid\":\"1a\"}";
    assert_int_equal(dv_xerror_parse(STR(body), &x), DV_ERR_OK);
    assert_string_equal(x.context, "Request must include path");
    assert_string_equal(x.ref, "1f2e3d4c-0000-1111-2222-333344445555");
    assert_true(x.has_manifest_uid);
    assert_true(x.manifest_uid == 0x1a);
    dv_xerror_free(&x);
    assert_null(x.context);
}

static void xerror_parse_partial(void **state)
{
    (void)state;
    dv_xerror x;
    /* UNKNOWN_COLLECTION: only the manifest uid. */
    assert_int_equal(dv_xerror_parse(STR("{\"manifest_uid\":\"ffffffffffffffff\"}"), &x),
                     DV_ERR_OK);
    assert_null(x.context);
    assert_null(x.ref);
    assert_true(x.has_manifest_uid);
    assert_true(x.manifest_uid == UINT64_MAX);
    dv_xerror_free(&x);
    assert_int_equal(dv_xerror_parse(STR("{\"error\":{\"ref\":\"r\"}}"), &x), DV_ERR_OK);
    assert_null(x.context);
    assert_string_equal(x.ref, "r");
    assert_false(x.has_manifest_uid);
    dv_xerror_free(&x);
    /* Empty body, empty object, unknown members, nulls. */
    assert_int_equal(dv_xerror_parse(NULL, 0, &x), DV_ERR_OK);
    assert_null(x.context);
    assert_int_equal(dv_xerror_parse(STR("{}"), &x), DV_ERR_OK);
    assert_int_equal(dv_xerror_parse(STR("{\"x\":[1,2],\"error\":{\"other\":1}}"), &x), DV_ERR_OK);
    assert_null(x.context);
    assert_int_equal(dv_xerror_parse(STR("{\"error\":null}"), &x), DV_ERR_OK);
    dv_xerror_free(&x);
}

static void xerror_parse_failures(void **state)
{
    (void)state;
    static const char *bad[] = {
        "{",
        "{\"error\":",
        "not json",
        "[]",
        "\"str\"",
        "{\"error\":\"text\"}",
        "{\"error\":{\"context\":5}}",
        "{\"error\":{\"context\":\"ok\",\"ref\":[]}}",
        "{\"manifest_uid\":12}",
        "{\"manifest_uid\":\"\"}",
        "{\"manifest_uid\":\"0x1a\"}",
        "{\"manifest_uid\":\"xyz\"}",
        "{\"manifest_uid\":\"10000000000000000\"}",
        "{\"error\":{\"context\":\"a\"}} trailing",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dv_xerror x;
        assert_int_equal(dv_xerror_parse(STR(bad[i]), &x), DV_ERR_PARSING_FAILURE);
        /* Nothing is left allocated. */
        assert_null(x.context);
        assert_null(x.ref);
    }
    /* Every prefix of a valid body fails cleanly (the empty one is fine). */
    const char *body = "{\"error\":{\"context\":\"c\",\"ref\":\"r\"},\"manifest_uid\":\"c\"}";
    for (size_t k = 1; k < strlen(body); k++) {
        char *copy = malloc(k);
        assert_non_null(copy);
        memcpy(copy, body, k);
        dv_xerror x;
        assert_int_equal(dv_xerror_parse((const uint8_t *)copy, k, &x), DV_ERR_PARSING_FAILURE);
        free(copy);
    }
}

static void xerror_build(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_xerror_build(&b, "Path \"a\" not found", "ref-1", 1, 0xc), DV_ERR_OK);
    assert_buf_str(&b, "{\"error\":{\"context\":\"Path \\\"a\\\" not found\",\"ref\":\"ref-1\"},"
                       "\"manifest_uid\":\"c\"}");
    dv_xerror x;
    assert_int_equal(dv_xerror_parse(dv_buf_head(&b), dv_buf_size(&b), &x), DV_ERR_OK);
    assert_string_equal(x.context, "Path \"a\" not found");
    assert_string_equal(x.ref, "ref-1");
    assert_true(x.manifest_uid == 0xc);
    dv_xerror_free(&x);
    dv_buf_reset(&b);

    assert_int_equal(dv_xerror_build(&b, NULL, NULL, 1, 0x1234abcd), DV_ERR_OK);
    assert_buf_str(&b, "{\"manifest_uid\":\"1234abcd\"}");
    dv_buf_reset(&b);
    assert_int_equal(dv_xerror_build(&b, "only context", NULL, 0, 0), DV_ERR_OK);
    assert_buf_str(&b, "{\"error\":{\"context\":\"only context\"}}");
    dv_buf_reset(&b);
    /* Nothing to say: no body. */
    assert_int_equal(dv_xerror_build(&b, NULL, NULL, 0, 0), DV_ERR_OK);
    assert_int_equal(dv_buf_size(&b), 0);
    /* Not UTF-8: refused, buffer untouched. */
    assert_int_equal(dv_buf_append(&b, "x", 1), 0);
    assert_int_equal(dv_xerror_build(&b, "bad \xff byte", NULL, 0, 0), DV_ERR_INVALID_ARGUMENT);
    assert_buf_str(&b, "x");
    dv_buf_free(&b);
}

/* ---- error map ---- */

/* The attribute bits of a comma-separated list, as in DV_STATUSES. */
static uint32_t attrs_of(const char *list)
{
    uint32_t bits = 0;
    while (*list) {
        const char *end = strchr(list, ',');
        size_t n = end ? (size_t)(end - list) : strlen(list);
        uint32_t bit = dv_errmap_attr_from_name(list, n);
        assert_int_not_equal(bit, 0); /* the table uses only known attributes */
        bits |= bit;
        list += n + (end ? 1 : 0);
    }
    return bits;
}

static void errmap_roundtrip(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_errmap_build(&b, 2, 7), DV_ERR_OK);
    dv_errmap m;
    char why[200];
    assert_int_equal(dv_errmap_parse(dv_buf_head(&b), dv_buf_size(&b), &m, why, sizeof why),
                     DV_ERR_OK);
    assert_int_equal(m.version, 2);
    assert_int_equal(m.revision, 7);
    size_t served = 0;
#define DV_X_(NAME, CODE, DESC, ATTRS, ERR)                                                        \
    {                                                                                              \
        const dv_errmap_entry *e = dv_errmap_find(&m, CODE);                                       \
        if (ATTRS[0]) {                                                                            \
            served++;                                                                              \
            assert_non_null(e);                                                                    \
            assert_string_equal(e->name, #NAME);                                                   \
            assert_string_equal(e->desc, DESC);                                                    \
            assert_int_equal(e->attrs, attrs_of(ATTRS));                                           \
        } else {                                                                                   \
            assert_null(e);                                                                        \
        }                                                                                          \
    }
    DV_STATUSES(DV_X_)
#undef DV_X_
    assert_int_equal(m.n, served);
    /* Keys are lower-case hex without 0x. */
    const char *json = (const char *)dv_buf_head(&b);
    size_t len = dv_buf_size(&b);
    assert_non_null(memmem(json, len, "\"86\":{\"name\":\"ETMPFAIL\"",
                           strlen("\"86\":{\"name\":\"ETMPFAIL\"")));
    assert_non_null(memmem(json, len, "\"cb\":{", strlen("\"cb\":{")));
    assert_null(memmem(json, len, "\"0x", strlen("\"0x")));
    assert_null(
        memmem(json, len, "\"34\":", strlen("\"34\":"))); /* 0x34 has no attributes: not served */
    const char *head = "{\"version\":2,\"revision\":7,\"errors\":{\"0\":";
    assert_memory_equal(json, head, strlen(head));
    /* Spot checks of the lookups. */
    assert_true(dv_errmap_retryable(&m, DV_STATUS_ETMPFAIL));
    assert_true(dv_errmap_retryable(&m, DV_STATUS_LOCKED));
    assert_true(dv_errmap_retryable(&m, DV_STATUS_NOT_MY_VBUCKET));
    assert_false(dv_errmap_retryable(&m, DV_STATUS_KEY_ENOENT));
    assert_false(dv_errmap_retryable(&m, 0x34));
    assert_string_equal(dv_errmap_name(&m, DV_STATUS_SUBDOC_PATH_ENOENT), "SUBDOC_PATH_ENOENT");
    assert_null(dv_errmap_name(&m, 0x7777));
    dv_errmap_free(&m);
    assert_int_equal(m.n, 0);
    assert_null(m.entries);

    /* Every prefix of the served map fails cleanly. */
    for (size_t k = 0; k < len; k += (k < 200 ? 1 : 61)) {
        char *copy = malloc(k ? k : 1);
        assert_non_null(copy);
        memcpy(copy, json, k);
        assert_int_equal(dv_errmap_parse((const uint8_t *)copy, k, &m, why, sizeof why),
                         DV_ERR_PARSING_FAILURE);
        assert_true(strlen(why) > 0);
        free(copy);
    }
    dv_buf_free(&b);
}

static void errmap_doc_example(void **state)
{
    (void)state;
    const char *json = "{\n"
                       "  \"version\": 2,\n"
                       "  \"revision\": 9,\n"
                       "  \"errors\": {\n"
                       "    \"0\":  { \"name\": \"SUCCESS\",    \"desc\": \"Success\",          "
                       "\"attrs\": [\"success\"] },\n"
                       "    \"1\":  { \"name\": \"KEY_ENOENT\", \"desc\": \"Not Found\",        "
                       "\"attrs\": [\"item-only\"] },\n"
                       "    \"86\": { \"name\": \"ETMPFAIL\",   \"desc\": \"Temporary failure\", "
                       "\"attrs\": [\"temp\", \"retry-now\"] }\n"
                       "  }\n"
                       "}\n";
    dv_errmap m;
    assert_int_equal(dv_errmap_parse(STR(json), &m, NULL, 0), DV_ERR_OK);
    assert_int_equal(m.revision, 9);
    assert_int_equal(m.n, 3);
    assert_int_equal(m.entries[0].status, 0);
    assert_int_equal(m.entries[1].status, 1);
    assert_int_equal(m.entries[2].status, 0x86);
    assert_int_equal(dv_errmap_find(&m, 0x86)->attrs,
                     DV_ERRMAP_ATTR_TEMP | DV_ERRMAP_ATTR_RETRY_NOW);
    assert_string_equal(dv_errmap_find(&m, 0x86)->desc, "Temporary failure");
    assert_true(dv_errmap_retryable(&m, 0x86));
    assert_false(dv_errmap_retryable(&m, 0x01));
    assert_false(dv_errmap_retryable(&m, 0x09)); /* not in this map */
    assert_string_equal(dv_errmap_name(&m, 1), "KEY_ENOENT");
    dv_errmap_free(&m);
}

static void errmap_attributes(void **state)
{
    (void)state;
    /* Unknown attributes are ignored; auto-retry and retry-later count as retryable, no-retry
     * wins; upper-case keys and version-less maps are accepted. */
    const char *json =
        "{\"revision\":1,\"errors\":{"
        "\"A0\":{\"name\":\"X\",\"desc\":\"\",\"attrs\":[\"auto-retry\",\"new\"]},"
        "\"a1\":{\"name\":\"Y\",\"desc\":\"d\",\"attrs\":[\"retry-later\"]},"
        "\"a2\":{\"name\":\"Z\",\"desc\":\"d\",\"attrs\":[\"retry-now\",\"no-retry\"]},"
        "\"ffff\":{\"name\":\"W\",\"desc\":\"d\",\"attrs\":[]}}}";
    dv_errmap m;
    assert_int_equal(dv_errmap_parse(STR(json), &m, NULL, 0), DV_ERR_OK);
    assert_int_equal(m.version, 0);
    assert_int_equal(dv_errmap_find(&m, 0xa0)->attrs, DV_ERRMAP_ATTR_AUTO_RETRY);
    assert_true(dv_errmap_retryable(&m, 0xa0));
    assert_true(dv_errmap_retryable(&m, 0xa1));
    assert_false(dv_errmap_retryable(&m, 0xa2));
    assert_int_equal(dv_errmap_find(&m, 0xffff)->attrs, 0);
    dv_errmap_free(&m);
    /* An empty map is well-formed. */
    assert_int_equal(dv_errmap_parse(STR("{\"revision\":3,\"errors\":{}}"), &m, NULL, 0),
                     DV_ERR_OK);
    assert_int_equal(m.n, 0);
    assert_int_equal(m.revision, 3);
    assert_null(dv_errmap_find(&m, 0));
    assert_false(dv_errmap_retryable(&m, 0x86));
    dv_errmap_free(&m);

    for (uint32_t i = 0; i < DV_ERRMAP_ATTR_COUNT; i++) {
        const char *name = dv_errmap_attr_name(1u << i);
        assert_non_null(name);
        assert_int_equal(dv_errmap_attr_from_name(name, strlen(name)), 1u << i);
    }
    assert_null(dv_errmap_attr_name(3));
    assert_int_equal(dv_errmap_attr_from_name("retry", 5), 0);
    assert_int_equal(dv_errmap_attr_from_name("retry-now", 9), DV_ERRMAP_ATTR_RETRY_NOW);
}

static void errmap_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *json, *why;
    } cases[] = {
        {"{\"version\":2,\"errors\":{}}", "missing \"revision\""},
        {"{\"revision\":1}", "missing \"errors\""},
        {"{\"revision\":1,\"errors\":{\"86\":{\"desc\":\"d\",\"attrs\":[]}}}",
         "errors[\"86\"]: missing \"name\""},
        {"{\"revision\":1,\"errors\":{\"86\":{\"name\":\"n\",\"attrs\":[]}}}",
         "errors[\"86\"]: missing \"desc\""},
        {"{\"revision\":1,\"errors\":{\"86\":{\"name\":\"n\",\"desc\":\"d\"}}}",
         "errors[\"86\"]: missing \"attrs\""},
        {"{\"revision\":\"1\",\"errors\":{}}", "\"revision\" must be an integer"},
        {"{\"revision\":-1,\"errors\":{}}", "\"revision\" must be an integer"},
        {"{\"revision\":65536,\"errors\":{}}", "\"revision\" must be an integer"},
        {"{\"revision\":1,\"errors\":[]}", "\"errors\" must be an object"},
        {"{\"revision\":1,\"errors\":{\"0\":[]}}", "errors[\"0\"]: not an object"},
        {"{\"revision\":1,\"errors\":{\"0\":{\"name\":1,\"desc\":\"d\",\"attrs\":[]}}}",
         "\"name\" must be a string"},
        {"{\"revision\":1,\"errors\":{\"0\":{\"name\":\"n\",\"desc\":null,\"attrs\":[]}}}",
         "\"desc\" must be a string"},
        {"{\"revision\":1,\"errors\":{\"0\":{\"name\":\"n\",\"desc\":\"d\",\"attrs\":\"temp\"}}}",
         "\"attrs\" must be an array of strings"},
        {"{\"revision\":1,\"errors\":{\"0\":{\"name\":\"n\",\"desc\":\"d\",\"attrs\":[1]}}}",
         "\"attrs\" must be an array of strings"},
        {"{\"revision\":1,\"errors\":{\"0x1\":{\"name\":\"n\",\"desc\":\"d\",\"attrs\":[]}}}",
         "key is not a status in hex"},
        {"{\"revision\":1,\"errors\":{\"10000\":{\"name\":\"n\",\"desc\":\"d\",\"attrs\":[]}}}",
         "key is not a status in hex"},
        {"{\"revision\":1,\"errors\":{\"\":{\"name\":\"n\",\"desc\":\"d\",\"attrs\":[]}}}",
         "key is not a status in hex"},
        {"{\"revision\":1,\"errors\":{\"0\":{\"name\":\"n\",\"desc\":\"d\",\"attrs\":[]},"
         "\"00\":{\"name\":\"n\",\"desc\":\"d\",\"attrs\":[]}}}",
         "listed twice"},
        {"[1]", "not a JSON object"},
        {"{\"revision\":1,", "not valid JSON"},
        {"", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dv_errmap m;
        char why[200];
        assert_int_equal(dv_errmap_parse(STR(cases[i].json), &m, why, sizeof why),
                         DV_ERR_PARSING_FAILURE);
        if (!strstr(why, cases[i].why))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, why, cases[i].why);
        assert_int_equal(m.n, 0);
        assert_null(m.entries);
        /* A NULL or tiny message buffer is fine. */
        assert_int_equal(dv_errmap_parse(STR(cases[i].json), &m, NULL, 0), DV_ERR_PARSING_FAILURE);
        assert_int_equal(dv_errmap_parse(STR(cases[i].json), &m, why, 4), DV_ERR_PARSING_FAILURE);
        assert_true(strlen(why) < 4);
    }
}

/* The attributes libcouchbase 3.x knows (its errmap.h); a map naming any other is refused as
 * an unknown version, as is a "version" above 1. */
static const char *const lcb_attrs[] = {
    "temp",
    "subdoc",
    "retry-now",
    "retry-later",
    "invalid-input",
    "support",
    "auth",
    "conn-state-invalidated",
    "item-only",
    "internal",
    "dcp",
    "fetch-config",
    "special-handling",
    "auto-retry",
    "success",
    "item-locked",
    "item-deleted",
};

static int lcb_knows(const char *a)
{
    for (size_t i = 0; i < sizeof lcb_attrs / sizeof lcb_attrs[0]; i++)
        if (strcmp(lcb_attrs[i], a) == 0) return 1;
    return 0;
}

/* A version-1 map read as libcouchbase reads one: numeric version no higher than 1, numeric
 * revision, an object of hex keys, each with name, desc and an array of attributes it knows;
 * auto-retry would need a retry specification, so none carries it. */
static void errmap_version1_as_libcouchbase_reads_it(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_errmap_build(&b, 1, 3), DV_ERR_OK);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)dv_buf_head(&b), dv_buf_size(&b), 0, &jerr);
    assert_non_null(root);
    assert_true(json_is_integer(json_object_get(root, "version")));
    assert_int_equal(json_integer_value(json_object_get(root, "version")), 1);
    assert_int_equal(json_integer_value(json_object_get(root, "revision")), 3);
    json_t *errors = json_object_get(root, "errors");
    assert_true(json_is_object(errors));
    const char *key;
    json_t *e;
    size_t n = 0;
    json_object_foreach(errors, key, e)
    {
        unsigned code;
        char end;
        assert_int_equal(sscanf(key, "%x%c", &code, &end), 1);
        assert_true(json_is_string(json_object_get(e, "name")));
        assert_true(json_is_string(json_object_get(e, "desc")));
        json_t *attrs = json_object_get(e, "attrs");
        assert_true(json_is_array(attrs));
        size_t i;
        json_t *a;
        json_array_foreach(attrs, i, a)
        {
            assert_true(json_is_string(a));
            if (!lcb_knows(json_string_value(a)))
                fail_msg("status %s: attribute %s unknown to libcouchbase", key,
                         json_string_value(a));
            assert_string_not_equal(json_string_value(a), "auto-retry");
        }
        n++;
    }
    /* The statuses a client acts on are all there; the rate limits (version 2) are not. */
    static const char *const must[] = {"0", "1", "7", "9", "1f", "20", "86", "a0", "c0", "cc"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        if (!json_object_get(errors, must[i])) fail_msg("status %s missing", must[i]);
    assert_null(json_object_get(errors, "30"));
    assert_null(json_object_get(errors, "35"));
    assert_true(n > 60);
    json_decref(root);

    /* divan's own parser takes it too. */
    dv_errmap m;
    assert_int_equal(dv_errmap_parse(dv_buf_head(&b), dv_buf_size(&b), &m, NULL, 0), DV_ERR_OK);
    assert_int_equal(m.version, 1);
    assert_true(dv_errmap_retryable(&m, DV_STATUS_ETMPFAIL));
    assert_null(dv_errmap_find(&m, DV_STATUS_RATE_LIMITED_MAX_COMMANDS));
    dv_errmap_free(&m);
    dv_buf_free(&b);

    /* Versions outside 1..2 are not built. */
    assert_int_equal(dv_errmap_build(&b, 0, 1), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_errmap_build(&b, DV_ERRMAP_VERSION + 1, 1), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_buf_size(&b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xerror_parse_full),
        cmocka_unit_test(xerror_parse_partial),
        cmocka_unit_test(xerror_parse_failures),
        cmocka_unit_test(xerror_build),
        cmocka_unit_test(errmap_roundtrip),
        cmocka_unit_test(errmap_doc_example),
        cmocka_unit_test(errmap_attributes),
        cmocka_unit_test(errmap_rejects),
        cmocka_unit_test(errmap_version1_as_libcouchbase_reads_it),
    };
    return TU_RUN(tests);
}
