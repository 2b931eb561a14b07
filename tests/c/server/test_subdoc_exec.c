#include "testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/endian.h"
#include "mcbp/protocol.h"
#include "mcbp/subdoc.h"
#include "server/kv.h"
#include "server/subdoc.h"

#define NOW 1800000000u
#define VB  5

enum { XA = DV_SUBDOC_PATH_XATTR, MK = DV_SUBDOC_PATH_MKDIR_P, MAC = DV_SUBDOC_PATH_EXPAND_MACROS };

static dv_store *store;
static dv_sd_res R;                             /* the last answer */
static dv_subdoc_result E[DV_SUBDOC_MAX_SPECS]; /* its decoded entries */
static size_t NE;

static int setup(void **state)
{
    (void)state;
    store = dv_store_new(16, 3);
    dv_buf_init(&R.body);
    return store ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    dv_buf_free(&R.body);
    dv_store_free(store);
    return 0;
}

static dv_subdoc_spec sp(uint8_t op, uint8_t flags, const char *path, const char *value)
{
    dv_subdoc_spec s = {
        op, flags, path, strlen(path), (const uint8_t *)value, value ? strlen(value) : 0};
    return s;
}

/* ---- the store through kv.h ---- */

static dv_kv_res kv(uint8_t op, const char *key, const char *value, uint64_t cas)
{
    dv_kv_req r = {0};
    r.opcode = op;
    r.vbucket = VB;
    r.key = key;
    r.nkey = strlen(key);
    r.value = value;
    r.nvalue = value ? strlen(value) : 0;
    r.datatype = DV_DATATYPE_JSON;
    r.cas = cas;
    r.now = NOW;
    dv_kv_res res;
    dv_kv_execute(store, &r, &res);
    return res;
}

static uint64_t set_doc(const char *key, const char *value)
{
    dv_kv_res r = kv(DV_OP_SET, key, value, 0);
    assert_int_equal(r.status, DV_STATUS_SUCCESS);
    return r.cas;
}

/* A reference to the stored item (live or tombstone), or NULL. */
static dv_item *item(const char *key)
{
    dv_vbucket *vb = dv_store_lock(store, VB);
    dv_item *it = dv_vbucket_find(vb, 0, key, strlen(key), NOW);
    if (it) dv_item_ref(it);
    dv_vbucket_unlock(vb);
    return it;
}

static void assert_body(const char *key, const char *want)
{
    dv_item *it = item(key);
    assert_non_null(it);
    if (it->nvalue != strlen(want) || memcmp(dv_item_value(it), want, it->nvalue) != 0)
        fail_msg("%s: body %.*s, want %s", key, (int)it->nvalue, dv_item_value(it), want);
    dv_item_release(it);
}

/* The xattr blob of key as "k=v;k=v;" (empty when none). */
static void assert_xattrs(const char *key, const char *want)
{
    dv_item *it = item(key);
    assert_non_null(it);
    char got[1024] = "";
    const uint8_t *p = (const uint8_t *)dv_item_xattr(it);
    if (it->nxattr) {
        assert_true(it->nxattr >= 4);
        assert_int_equal(dv_load_be32(p) + 4, it->nxattr);
        for (size_t o = 4; o < it->nxattr;) {
            uint32_t len = dv_load_be32(p + o);
            const char *k = (const char *)p + o + 4;
            size_t nk = strlen(k);
            const char *v = k + nk + 1;
            assert_int_equal(k[len - 1], 0);
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s=%s;", k, v);
            o += 4 + len;
        }
    }
    if (strcmp(got, want) != 0) fail_msg("%s: xattrs %s, want %s", key, got, want);
    dv_item_release(it);
}

/* ---- sub-document calls ---- */

static void decode(int mutation)
{
    NE = 0;
    if (mutation) {
        if (R.status == DV_STATUS_SUCCESS || R.status == DV_STATUS_SUBDOC_SUCCESS_DELETED ||
            R.status == DV_STATUS_SUBDOC_MULTI_PATH_FAILURE)
            assert_int_equal(dv_subdoc_mutation_res_decode(R.status, dv_buf_head(&R.body),
                                                           dv_buf_size(&R.body), E,
                                                           DV_SUBDOC_MAX_SPECS, &NE),
                             DV_ERR_OK);
        else
            assert_int_equal(dv_buf_size(&R.body), 0);
    } else if (R.status == DV_STATUS_SUCCESS || R.status == DV_STATUS_SUBDOC_SUCCESS_DELETED ||
               R.status == DV_STATUS_SUBDOC_MULTI_PATH_FAILURE ||
               R.status == DV_STATUS_SUBDOC_MULTI_PATH_FAILURE_DELETED) {
        assert_int_equal(dv_subdoc_lookup_res_decode(dv_buf_head(&R.body), dv_buf_size(&R.body), E,
                                                     DV_SUBDOC_MAX_SPECS, &NE),
                         DV_ERR_OK);
    } else {
        assert_int_equal(dv_buf_size(&R.body), 0);
    }
}

static uint16_t lookup_f(const char *key, uint8_t doc_flags, const dv_subdoc_spec *specs, size_t n)
{
    dv_sd_lookup_req q = {VB, 0, key, strlen(key), doc_flags, specs, n, 0, NOW, 0};
    dv_buf_reset(&R.body);
    dv_sd_lookup(store, &q, &R);
    decode(0);
    if (R.status == DV_STATUS_SUCCESS || R.status == DV_STATUS_SUBDOC_MULTI_PATH_FAILURE)
        assert_int_equal(NE, n);
    return R.status;
}

/* One lookup spec on key: its status (the document-level status when it fails as a whole). */
static uint16_t get1(const char *key, uint8_t op, uint8_t flags, const char *path)
{
    dv_subdoc_spec s = sp(op, flags, path, NULL);
    uint16_t st = lookup_f(key, DV_SUBDOC_DOC_ACCESS_DELETED, &s, 1);
    if (NE != 1) return st;
    return E[0].status;
}

static void assert_entry(size_t i, uint16_t status, const char *value)
{
    assert_true(i < NE);
    if (E[i].status != status)
        fail_msg("entry %zu: status 0x%x, want 0x%x", i, E[i].status, status);
    if (value &&
        (E[i].value_len != strlen(value) || memcmp(E[i].value, value, E[i].value_len) != 0))
        fail_msg("entry %zu: %.*s, want %s", i, (int)E[i].value_len, (const char *)E[i].value,
                 value);
}

/* The value of a lookup that must succeed, as a NUL-terminated copy in a static buffer. */
static const char *val1(const char *key, uint8_t flags, const char *path)
{
    static char out[1024];
    uint16_t st = get1(key, DV_OP_SUBDOC_GET, flags, path);
    if (st != DV_STATUS_SUCCESS) fail_msg("get %s: status 0x%x", path, st);
    assert_true(E[0].value_len < sizeof out);
    memcpy(out, E[0].value, E[0].value_len);
    out[E[0].value_len] = 0;
    return out;
}

typedef struct mopts {
    uint64_t cas;
    uint8_t doc_flags;
    int has_expiry, has_flags, preserve_ttl, single;
    uint32_t expiry, flags;
} mopts;

static uint16_t mutate_o(const char *key, const mopts *o, const dv_subdoc_spec *specs, size_t n)
{
    dv_sd_mutate_req q = {0};
    q.vbucket = VB;
    q.key = key;
    q.nkey = strlen(key);
    q.cas = o->cas;
    q.x.has_doc_flags = o->doc_flags != 0;
    q.x.doc_flags = o->doc_flags;
    q.x.has_expiry = (uint8_t)o->has_expiry;
    q.x.expiry = o->expiry;
    q.x.has_user_flags = (uint8_t)o->has_flags;
    q.x.user_flags = o->flags;
    q.preserve_ttl = o->preserve_ttl;
    q.specs = specs;
    q.nspecs = n;
    q.single = (uint8_t)o->single;
    q.now = NOW;
    dv_buf_reset(&R.body);
    dv_sd_mutate(store, &q, &R);
    if (!o->single) decode(1);
    return R.status;
}

static uint16_t mutate_f(const char *key, uint8_t doc_flags, const dv_subdoc_spec *specs, size_t n)
{
    mopts o = {0};
    o.doc_flags = doc_flags;
    return mutate_o(key, &o, specs, n);
}

/* One mutation spec: the document-level status, or the spec's status on a path failure. */
static uint16_t mut1(const char *key, uint8_t doc_flags, uint8_t op, uint8_t flags,
                     const char *path, const char *value)
{
    dv_subdoc_spec s = sp(op, flags, path, value);
    uint16_t st = mutate_f(key, doc_flags, &s, 1);
    if (st == DV_STATUS_SUBDOC_MULTI_PATH_FAILURE) {
        assert_int_equal(NE, 1);
        assert_int_equal(E[0].index, 0);
        return E[0].status;
    }
    return st;
}

/* ---- lookups ---- */

static void lookups(void **state)
{
    (void)state;
    const char *doc = "{\"n\": 0.10, \"s\":\"x\\\"y\", \"a\":[1, [2,3], {\"k\":null}],"
                      "\"o\":{\"p\":{\"q\":true}}, \"e\":{}}";
    uint64_t cas = set_doc("l", doc);
    dv_subdoc_spec specs[] = {
        sp(DV_OP_SUBDOC_GET, 0, "n", NULL),        sp(DV_OP_SUBDOC_GET, 0, "s", NULL),
        sp(DV_OP_SUBDOC_GET, 0, "a[1]", NULL),     sp(DV_OP_SUBDOC_GET, 0, "a[-1].k", NULL),
        sp(DV_OP_SUBDOC_EXISTS, 0, "o.p.q", NULL), sp(DV_OP_SUBDOC_GET_COUNT, 0, "a", NULL),
        sp(DV_OP_SUBDOC_GET_COUNT, 0, "", NULL),   sp(DV_OP_SUBDOC_GET, 0, "o", NULL),
        sp(DV_SUBDOC_OP_GET_DOC, 0, "", NULL),     sp(DV_OP_SUBDOC_GET_COUNT, 0, "e", NULL),
    };
    assert_int_equal(lookup_f("l", 0, specs, 10), DV_STATUS_SUCCESS);
    assert_true(R.cas == cas);
    assert_int_equal(R.datatype, 0);
    assert_entry(0, 0, "0.10"); /* the stored spelling */
    assert_entry(1, 0, "\"x\\\"y\"");
    assert_entry(2, 0, "[2,3]");
    assert_entry(3, 0, "null");
    assert_entry(4, 0, "");
    assert_entry(5, 0, "3");
    assert_entry(6, 0, "5");
    assert_entry(7, 0, "{\"p\":{\"q\":true}}");
    assert_entry(9, 0, "0");
    assert_int_equal(E[8].value_len, strlen(doc));
    assert_memory_equal(E[8].value, doc, strlen(doc));

    /* Per-spec failures make a multi-path failure; the other specs still answer. */
    dv_subdoc_spec bad[] = {
        sp(DV_OP_SUBDOC_GET, 0, "missing", NULL), sp(DV_OP_SUBDOC_GET, 0, "a[3]", NULL),
        sp(DV_OP_SUBDOC_GET, 0, "n.x", NULL),     sp(DV_OP_SUBDOC_GET, 0, "o[0]", NULL),
        sp(DV_OP_SUBDOC_GET, 0, "a[-2]", NULL),   sp(DV_OP_SUBDOC_GET, 0, "a[", NULL),
        sp(DV_OP_SUBDOC_GET_COUNT, 0, "n", NULL), sp(DV_OP_SUBDOC_EXISTS, 0, "nope", NULL),
        sp(DV_OP_SUBDOC_GET, 0, "n", NULL),
    };
    assert_int_equal(lookup_f("l", 0, bad, 9), DV_STATUS_SUBDOC_MULTI_PATH_FAILURE);
    assert_true(R.cas == cas);
    assert_entry(0, DV_STATUS_SUBDOC_PATH_ENOENT, "");
    assert_entry(1, DV_STATUS_SUBDOC_PATH_ENOENT, "");
    assert_entry(2, DV_STATUS_SUBDOC_PATH_MISMATCH, "");
    assert_entry(3, DV_STATUS_SUBDOC_PATH_MISMATCH, "");
    assert_entry(4, DV_STATUS_SUBDOC_PATH_EINVAL, "");
    assert_entry(5, DV_STATUS_SUBDOC_PATH_EINVAL, "");
    assert_entry(6, DV_STATUS_SUBDOC_PATH_MISMATCH, "");
    assert_entry(7, DV_STATUS_SUBDOC_PATH_ENOENT, "");
    assert_entry(8, 0, "0.10");

    /* Missing documents, other vbuckets. */
    assert_int_equal(lookup_f("nodoc", 0, specs, 1), DV_STATUS_KEY_ENOENT);
    assert_true(R.cas == 0);
    dv_sd_lookup_req q = {16, 0, "l", 1, 0, specs, 1, 0, NOW, 0};
    dv_sd_lookup(store, &q, &R);
    assert_int_equal(R.status, DV_STATUS_NOT_MY_VBUCKET);

    /* A body that is not JSON: path specs fail, the whole-document GET works. */
    kv(DV_OP_SET, "bin", "not; json", 0);
    dv_subdoc_spec b2[] = {sp(DV_OP_SUBDOC_GET, 0, "a", NULL),
                           sp(DV_SUBDOC_OP_GET_DOC, 0, "", NULL)};
    assert_int_equal(lookup_f("bin", 0, b2, 2), DV_STATUS_SUBDOC_MULTI_PATH_FAILURE);
    assert_entry(0, DV_STATUS_SUBDOC_DOC_NOTJSON, "");
    assert_entry(1, 0, "not; json");
}

static void single_path_lookups(void **state)
{
    (void)state;
    uint64_t cas = set_doc("sp", "{\"a\":{\"b\":[1,2]}}");
    dv_subdoc_spec s = sp(DV_OP_SUBDOC_GET, 0, "a.b", NULL);
    dv_sd_lookup_req q = {VB, 0, "sp", 2, 0, &s, 1, 1, NOW, 0};
    dv_buf_reset(&R.body);
    dv_sd_lookup(store, &q, &R);
    assert_int_equal(R.status, DV_STATUS_SUCCESS);
    assert_true(R.cas == cas);
    assert_int_equal(R.datatype, DV_DATATYPE_JSON);
    assert_int_equal(dv_buf_size(&R.body), 5);
    assert_memory_equal(dv_buf_head(&R.body), "[1,2]", 5);
    /* A failing spec is the status of the command. */
    s = sp(DV_OP_SUBDOC_GET, 0, "a.c", NULL);
    dv_buf_reset(&R.body);
    dv_sd_lookup(store, &q, &R);
    assert_int_equal(R.status, DV_STATUS_SUBDOC_PATH_ENOENT);
    assert_int_equal(dv_buf_size(&R.body), 0);
    s = sp(DV_OP_SUBDOC_GET_COUNT, 0, "a.b", NULL);
    dv_sd_lookup(store, &q, &R);
    assert_int_equal(R.status, DV_STATUS_SUCCESS);
    assert_memory_equal(dv_buf_head(&R.body), "2", 1);
    s = sp(DV_OP_SUBDOC_EXISTS, 0, "a", NULL);
    dv_buf_reset(&R.body);
    dv_sd_lookup(store, &q, &R);
    assert_int_equal(R.status, DV_STATUS_SUCCESS);
    assert_int_equal(dv_buf_size(&R.body), 0);
    assert_int_equal(R.datatype, 0);
}

static void paths_and_depth(void **state)
{
    (void)state;
    set_doc("p", "{\"a.b\":1,\"c`d\":2,\"q\\\"t\":3,\"[x]\":4,\"\xc3\xa9\":5}");
    assert_string_equal(val1("p", 0, "`a.b`"), "1");
    assert_string_equal(val1("p", 0, "`c``d`"), "2");
    assert_string_equal(val1("p", 0, "q\\\"t"), "3");
    assert_string_equal(val1("p", 0, "`[x]`"), "4");
    assert_string_equal(val1("p", 0, "\xc3\xa9"), "5");
    assert_int_equal(get1("p", DV_OP_SUBDOC_GET, 0, "a.b"), DV_STATUS_SUBDOC_PATH_ENOENT);

    /* 32 nested objects: a 31-component path reaches the innermost; 32 components are too
     * many (kv_engine's limits). */
    char doc[512] = "", path[256] = "";
    for (int i = 1; i < 32; i++) {
        snprintf(doc + strlen(doc), sizeof doc - strlen(doc), "{\"%d\":", i);
        snprintf(path + strlen(path), sizeof path - strlen(path), i > 1 ? ".%d" : "%d", i);
    }
    strcat(doc, "{}");
    for (int i = 1; i < 32; i++) strcat(doc, "}");
    set_doc("deep", doc);
    assert_string_equal(val1("deep", 0, path), "{}");
    strcat(path, ".32");
    assert_int_equal(get1("deep", DV_OP_SUBDOC_GET, 0, path), DV_STATUS_SUBDOC_PATH_E2BIG);

    /* A value nested beyond 33 levels cannot be walked: DOC_E2DEEP where it is scanned. */
    char big[256] = "{\"a\":";
    for (int i = 0; i < 40; i++) strcat(big, "[");
    for (int i = 0; i < 40; i++) strcat(big, "]");
    strcat(big, ",\"b\":1}");
    set_doc("toodeep", big);
    assert_int_equal(get1("toodeep", DV_OP_SUBDOC_GET, 0, "b"), DV_STATUS_SUBDOC_DOC_E2DEEP);
    assert_int_equal(get1("toodeep", DV_OP_SUBDOC_GET, 0, "a"), DV_STATUS_SUBDOC_DOC_E2DEEP);
    assert_int_equal(mut1("toodeep", 0, DV_OP_SUBDOC_DICT_UPSERT, 0, "a", "1"),
                     DV_STATUS_SUBDOC_DOC_E2DEEP);
}

/* ---- mutations on the body ---- */

static void dict_mutations(void **state)
{
    (void)state;
    uint64_t cas = set_doc("d", "{ \"n\" : 0.10, \"o\": {\"x\":1} }");
    assert_int_equal(mut1("d", 0, DV_OP_SUBDOC_DICT_ADD, 0, "new", "[1, 2]"), 0);
    assert_true(R.cas != cas && R.cas != 0);
    assert_int_not_equal(R.seqno, 0);
    assert_true(R.vb_uuid != 0);
    assert_body("d", "{ \"n\" : 0.10, \"o\": {\"x\":1} ,\"new\":[1, 2]}");
    assert_int_equal(mut1("d", 0, DV_OP_SUBDOC_DICT_ADD, 0, "n", "1"),
                     DV_STATUS_SUBDOC_PATH_EEXISTS);
    assert_int_equal(mut1("d", 0, DV_OP_SUBDOC_DICT_UPSERT, 0, "o.x", "\"y\""), 0);
    assert_int_equal(mut1("d", 0, DV_OP_SUBDOC_REPLACE, 0, "new[0]", "{}"), 0);
    assert_body("d", "{ \"n\" : 0.10, \"o\": {\"x\":\"y\"} ,\"new\":[{}, 2]}");
    assert_int_equal(mut1("d", 0, DV_OP_SUBDOC_REPLACE, 0, "nope", "1"),
                     DV_STATUS_SUBDOC_PATH_ENOENT);
    assert_int_equal(mut1("d", 0, DV_OP_SUBDOC_DICT_UPSERT, 0, "new[0]", "1"),
                     DV_STATUS_SUBDOC_PATH_EINVAL);
    assert_int_equal(mut1("d", 0, DV_OP_SUBDOC_DICT_UPSERT, 0, "n[0]", "1"),
                     DV_STATUS_SUBDOC_PATH_MISMATCH);
    /* Intermediate objects only with MKDIR_P. */
    assert_int_equal(mut1("d", 0, DV_OP_SUBDOC_DICT_UPSERT, 0, "a.b.c", "true"),
                     DV_STATUS_SUBDOC_PATH_ENOENT);
    assert_int_equal(mut1("d", 0, DV_OP_SUBDOC_DICT_UPSERT, MK, "o.b.c", "true"), 0);
    assert_string_equal(val1("d", 0, "o"), "{\"x\":\"y\",\"b\":{\"c\":true}}");
    assert_int_equal(mut1("d", 0, DV_OP_SUBDOC_DICT_UPSERT, MK, "new.b", "1"),
                     DV_STATUS_SUBDOC_PATH_MISMATCH);
    /* Values must be one JSON value. */
    static const char *const bad[] = {"{", "1,2", "abc", "'x'", "[1,]", "\"\\x\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mut1("d", 0, DV_OP_SUBDOC_DICT_UPSERT, 0, "v", bad[i]),
                         DV_STATUS_SUBDOC_VALUE_CANTINSERT);
    char deepv[80] = "";
    for (int i = 0; i < 32; i++) strcat(deepv, "[");
    for (int i = 0; i < 32; i++) strcat(deepv, "]");
    assert_int_equal(mut1("d", 0, DV_OP_SUBDOC_DICT_UPSERT, 0, "v", deepv),
                     DV_STATUS_SUBDOC_VALUE_ETOODEEP);
    deepv[31] = 0;
    memset(deepv + 31, ']', 31);
    deepv[62] = 0;
    assert_int_equal(mut1("d", 0, DV_OP_SUBDOC_DICT_UPSERT, 0, "v", deepv), 0);

    /* DELETE takes the member and one comma. */
    set_doc("del", "{\"a\":1, \"b\" : [1, 2 ,3], \"c\":{}}");
    assert_int_equal(mut1("del", 0, DV_OP_SUBDOC_DELETE, 0, "b[1]", NULL), 0);
    assert_body("del", "{\"a\":1, \"b\" : [1, 3], \"c\":{}}");
    assert_int_equal(mut1("del", 0, DV_OP_SUBDOC_DELETE, 0, "b[-1]", NULL), 0);
    assert_body("del", "{\"a\":1, \"b\" : [1], \"c\":{}}");
    assert_int_equal(mut1("del", 0, DV_OP_SUBDOC_DELETE, 0, "c", NULL), 0);
    assert_body("del", "{\"a\":1, \"b\" : [1]}");
    assert_int_equal(mut1("del", 0, DV_OP_SUBDOC_DELETE, 0, "a", NULL), 0);
    assert_body("del", "{ \"b\" : [1]}");
    assert_int_equal(mut1("del", 0, DV_OP_SUBDOC_DELETE, 0, "b[0]", NULL), 0);
    assert_int_equal(mut1("del", 0, DV_OP_SUBDOC_DELETE, 0, "b", NULL), 0);
    assert_body("del", "{ }");
    assert_int_equal(mut1("del", 0, DV_OP_SUBDOC_DELETE, 0, "b", NULL),
                     DV_STATUS_SUBDOC_PATH_ENOENT);

    /* A body that is not JSON. */
    kv(DV_OP_SET, "text", "hello", 0);
    assert_int_equal(mut1("text", 0, DV_OP_SUBDOC_DICT_UPSERT, 0, "a", "1"),
                     DV_STATUS_SUBDOC_DOC_NOTJSON);
    assert_body("text", "hello");
}

static void array_mutations(void **state)
{
    (void)state;
    set_doc("arr", "{\"a\":[ ],\"b\":[1, 2 ]}");
    assert_int_equal(mut1("arr", 0, DV_OP_SUBDOC_ARRAY_PUSH_LAST, 0, "a", "1,\"x\""), 0);
    assert_int_equal(mut1("arr", 0, DV_OP_SUBDOC_ARRAY_PUSH_LAST, 0, "b", "3"), 0);
    assert_int_equal(mut1("arr", 0, DV_OP_SUBDOC_ARRAY_PUSH_FIRST, 0, "b", "0"), 0);
    assert_body("arr", "{\"a\":[1,\"x\"],\"b\":[0,1, 2 ,3]}");
    assert_int_equal(mut1("arr", 0, DV_OP_SUBDOC_ARRAY_INSERT, 0, "b[2]", "1.5"), 0);
    assert_int_equal(mut1("arr", 0, DV_OP_SUBDOC_ARRAY_INSERT, 0, "a[2]", "true"), 0);
    assert_body("arr", "{\"a\":[1,\"x\",true],\"b\":[0,1, 1.5,2 ,3]}");
    assert_int_equal(mut1("arr", 0, DV_OP_SUBDOC_ARRAY_INSERT, 0, "a[9]", "1"),
                     DV_STATUS_SUBDOC_PATH_ENOENT);
    assert_int_equal(mut1("arr", 0, DV_OP_SUBDOC_ARRAY_INSERT, 0, "a[-1]", "1"),
                     DV_STATUS_SUBDOC_PATH_EINVAL);
    assert_int_equal(mut1("arr", 0, DV_OP_SUBDOC_ARRAY_INSERT, 0, "a", "1"),
                     DV_STATUS_SUBDOC_PATH_EINVAL);
    assert_int_equal(mut1("arr", 0, DV_OP_SUBDOC_ARRAY_PUSH_LAST, 0, "nope", "1"),
                     DV_STATUS_SUBDOC_PATH_ENOENT);
    assert_int_equal(mut1("arr", 0, DV_OP_SUBDOC_ARRAY_PUSH_FIRST, MK, "n.m", "1"), 0);
    assert_string_equal(val1("arr", 0, "n"), "{\"m\":[1]}");
    assert_int_equal(mut1("arr", 0, DV_OP_SUBDOC_ARRAY_PUSH_LAST, 0, "n", "1"),
                     DV_STATUS_SUBDOC_PATH_MISMATCH);
    assert_int_equal(mut1("arr", 0, DV_OP_SUBDOC_ARRAY_PUSH_LAST, 0, "a", "1,"),
                     DV_STATUS_SUBDOC_VALUE_CANTINSERT);

    /* ADD_UNIQUE: one primitive, an array of primitives. */
    set_doc("u", "{\"t\":[\"a\", 1],\"m\":[1,{}],\"e\":[]}");
    assert_int_equal(mut1("u", 0, DV_OP_SUBDOC_ARRAY_ADD_UNIQUE, 0, "t", "\"a\""),
                     DV_STATUS_SUBDOC_PATH_EEXISTS);
    assert_int_equal(mut1("u", 0, DV_OP_SUBDOC_ARRAY_ADD_UNIQUE, 0, "t", "1"),
                     DV_STATUS_SUBDOC_PATH_EEXISTS);
    assert_int_equal(mut1("u", 0, DV_OP_SUBDOC_ARRAY_ADD_UNIQUE, 0, "t", "\"b\""), 0);
    assert_int_equal(mut1("u", 0, DV_OP_SUBDOC_ARRAY_ADD_UNIQUE, 0, "e", "null"), 0);
    assert_body("u", "{\"t\":[\"a\", 1,\"b\"],\"m\":[1,{}],\"e\":[null]}");
    assert_int_equal(mut1("u", 0, DV_OP_SUBDOC_ARRAY_ADD_UNIQUE, 0, "t", "{}"),
                     DV_STATUS_SUBDOC_VALUE_CANTINSERT);
    assert_int_equal(mut1("u", 0, DV_OP_SUBDOC_ARRAY_ADD_UNIQUE, 0, "t", "1,2"),
                     DV_STATUS_SUBDOC_VALUE_CANTINSERT);
    assert_int_equal(mut1("u", 0, DV_OP_SUBDOC_ARRAY_ADD_UNIQUE, 0, "m", "2"),
                     DV_STATUS_SUBDOC_PATH_MISMATCH);
    assert_int_equal(mut1("u", 0, DV_OP_SUBDOC_ARRAY_ADD_UNIQUE, 0, "m", "1"),
                     DV_STATUS_SUBDOC_PATH_EEXISTS);

    /* The root array, with an empty path. */
    set_doc("root", "[1]");
    assert_int_equal(mut1("root", 0, DV_OP_SUBDOC_ARRAY_PUSH_LAST, 0, "", "2"), 0);
    assert_int_equal(mut1("root", 0, DV_OP_SUBDOC_ARRAY_PUSH_FIRST, 0, "", "0"), 0);
    assert_body("root", "[0,1,2]");
    assert_int_equal(mut1("root", 0, DV_OP_SUBDOC_ARRAY_PUSH_LAST, 0, "", "[3]"), 0);
    assert_string_equal(val1("root", 0, "[-1][0]"), "3");
}

static void counters(void **state)
{
    (void)state;
    set_doc("c", "{\"n\":5,\"f\":1.5,\"s\":\"1\",\"big\":99999999999999999999,"
                 "\"max\":9223372036854775806}");
    dv_subdoc_spec two[] = {sp(DV_OP_SUBDOC_COUNTER, 0, "n", "10"),
                            sp(DV_OP_SUBDOC_DICT_UPSERT, 0, "x", "1"),
                            sp(DV_OP_SUBDOC_COUNTER, 0, "new", "-3")};
    assert_int_equal(mutate_f("c", 0, two, 3), DV_STATUS_SUCCESS);
    assert_int_equal(NE, 2); /* only the counters have a result */
    assert_int_equal(E[0].index, 0);
    assert_entry(0, 0, "15");
    assert_int_equal(E[1].index, 2);
    assert_entry(1, 0, "-3");
    assert_string_equal(val1("c", 0, "n"), "15");
    assert_string_equal(val1("c", 0, "new"), "-3");
    static const char *const bad_delta[] = {
        "0", "01", "-0", "+1", "1.5", "abc", "", "9223372036854775808", " 1"};
    for (size_t i = 0; i < sizeof bad_delta / sizeof bad_delta[0]; i++) {
        dv_subdoc_spec s = sp(DV_OP_SUBDOC_COUNTER, 0, "n", bad_delta[i]);
        assert_int_equal(mutate_f("c", 0, &s, 1), DV_STATUS_SUBDOC_MULTI_PATH_FAILURE);
        assert_entry(0, DV_STATUS_SUBDOC_DELTA_EINVAL, NULL);
    }
    assert_int_equal(mut1("c", 0, DV_OP_SUBDOC_COUNTER, 0, "f", "1"),
                     DV_STATUS_SUBDOC_PATH_MISMATCH);
    assert_int_equal(mut1("c", 0, DV_OP_SUBDOC_COUNTER, 0, "s", "1"),
                     DV_STATUS_SUBDOC_PATH_MISMATCH);
    assert_int_equal(mut1("c", 0, DV_OP_SUBDOC_COUNTER, 0, "big", "1"),
                     DV_STATUS_SUBDOC_NUM_ERANGE);
    assert_int_equal(mut1("c", 0, DV_OP_SUBDOC_COUNTER, 0, "max", "1"), 0);
    assert_int_equal(mut1("c", 0, DV_OP_SUBDOC_COUNTER, 0, "max", "1"),
                     DV_STATUS_SUBDOC_VALUE_CANTINSERT);
    assert_int_equal(mut1("c", 0, DV_OP_SUBDOC_COUNTER, 0, "a.b", "1"),
                     DV_STATUS_SUBDOC_PATH_ENOENT);
    assert_int_equal(mut1("c", 0, DV_OP_SUBDOC_COUNTER, MK, "a.b", "-9223372036854775808"), 0);
    assert_string_equal(val1("c", 0, "a"), "{\"b\":-9223372036854775808}");
    assert_int_equal(mut1("c", 0, DV_OP_SUBDOC_COUNTER, 0, "a.b", "-1"),
                     DV_STATUS_SUBDOC_VALUE_CANTINSERT);

    /* Single-path COUNTER answers with the bare number. */
    mopts o = {0};
    o.single = 1;
    dv_subdoc_spec s = sp(DV_OP_SUBDOC_COUNTER, 0, "n", "-20");
    assert_int_equal(mutate_o("c", &o, &s, 1), DV_STATUS_SUCCESS);
    assert_int_equal(R.datatype, DV_DATATYPE_JSON);
    assert_int_equal(dv_buf_size(&R.body), 2);
    assert_memory_equal(dv_buf_head(&R.body), "-5", 2);
    s = sp(DV_OP_SUBDOC_COUNTER, 0, "s", "1");
    assert_int_equal(mutate_o("c", &o, &s, 1), DV_STATUS_SUBDOC_PATH_MISMATCH);
    assert_int_equal(dv_buf_size(&R.body), 0);
}

static void all_or_nothing(void **state)
{
    (void)state;
    uint64_t cas = set_doc("aon", "{\"a\":1}");
    dv_subdoc_spec specs[] = {
        sp(DV_OP_SUBDOC_DICT_UPSERT, 0, "b", "2"), sp(DV_OP_SUBDOC_COUNTER, 0, "a", "1"),
        sp(DV_OP_SUBDOC_REPLACE, 0, "zz", "3"), sp(DV_OP_SUBDOC_DICT_UPSERT, 0, "c", "4")};
    assert_int_equal(mutate_f("aon", 0, specs, 4), DV_STATUS_SUBDOC_MULTI_PATH_FAILURE);
    assert_int_equal(NE, 1);
    assert_int_equal(E[0].index, 2);
    assert_int_equal(E[0].status, DV_STATUS_SUBDOC_PATH_ENOENT);
    assert_true(R.cas == 0);
    assert_body("aon", "{\"a\":1}");
    dv_item *it = item("aon");
    assert_true(it->cas == cas);
    dv_item_release(it);
    /* Specs see the changes of the specs before them. */
    dv_subdoc_spec seq[] = {
        sp(DV_OP_SUBDOC_DICT_ADD, 0, "l", "[]"), sp(DV_OP_SUBDOC_ARRAY_PUSH_LAST, 0, "l", "1"),
        sp(DV_OP_SUBDOC_ARRAY_PUSH_LAST, 0, "l", "2"), sp(DV_OP_SUBDOC_DELETE, 0, "a", NULL)};
    assert_int_equal(mutate_f("aon", 0, seq, 4), DV_STATUS_SUCCESS);
    assert_int_equal(NE, 0);
    assert_body("aon", "{\"l\":[1,2]}");
}

/* ---- document flags, CAS, locks, expiry ---- */

static void document_flags(void **state)
{
    (void)state;
    assert_int_equal(mut1("mk", 0, DV_OP_SUBDOC_DICT_UPSERT, 0, "a", "1"), DV_STATUS_KEY_ENOENT);
    /* MKDOC creates the document (and its parents); the root follows the first path. */
    assert_int_equal(mut1("mk", DV_SUBDOC_DOC_MKDOC, DV_OP_SUBDOC_DICT_UPSERT, 0, "a.b", "1"), 0);
    assert_body("mk", "{\"a\":{\"b\":1}}");
    dv_item *it = item("mk");
    assert_int_equal(it->datatype, DV_DATATYPE_JSON);
    assert_int_equal(it->flags, 0);
    dv_item_release(it);
    assert_int_equal(mut1("mk", DV_SUBDOC_DOC_MKDOC, DV_OP_SUBDOC_DICT_UPSERT, 0, "a.c", "2"), 0);
    assert_body("mk", "{\"a\":{\"b\":1,\"c\":2}}");
    assert_int_equal(mut1("mkarr", DV_SUBDOC_DOC_MKDOC, DV_OP_SUBDOC_ARRAY_PUSH_LAST, 0, "", "7"),
                     0);
    assert_body("mkarr", "[7]");
    /* ADD inserts only. */
    assert_int_equal(mut1("mk", DV_SUBDOC_DOC_ADD, DV_OP_SUBDOC_DICT_UPSERT, 0, "z", "1"),
                     DV_STATUS_KEY_EEXISTS);
    assert_int_equal(mut1("add", DV_SUBDOC_DOC_ADD, DV_OP_SUBDOC_COUNTER, 0, "n", "4"), 0);
    assert_body("add", "{\"n\":4}");
    mopts o = {0};
    o.doc_flags = DV_SUBDOC_DOC_ADD;
    o.cas = 1;
    dv_subdoc_spec s = sp(DV_OP_SUBDOC_DICT_UPSERT, 0, "z", "1");
    assert_int_equal(mutate_o("add2", &o, &s, 1), DV_STATUS_EINVAL);

    /* CAS */
    uint64_t cas = set_doc("cas", "{}");
    o = (mopts){0};
    o.cas = cas + 1;
    assert_int_equal(mutate_o("cas", &o, &s, 1), DV_STATUS_KEY_EEXISTS);
    o.cas = cas;
    assert_int_equal(mutate_o("cas", &o, &s, 1), DV_STATUS_SUCCESS);
    assert_true(R.cas > cas);
    dv_item *cur = item("cas");
    assert_true(cur->cas == R.cas);
    assert_int_equal(cur->seqno, R.seqno);
    assert_int_equal(cur->revid, 2);
    dv_item_release(cur);
    assert_int_equal(mutate_o("cas", &o, &s, 1), DV_STATUS_KEY_EEXISTS);
}

static void locks(void **state)
{
    (void)state;
    set_doc("lk", "{\"a\":1}");
    dv_kv_req l = {0};
    l.opcode = DV_OP_GET_LOCKED;
    l.vbucket = VB;
    l.key = "lk";
    l.nkey = 2;
    l.now = NOW;
    dv_kv_res lr;
    dv_kv_execute(store, &l, &lr);
    assert_int_equal(lr.status, 0);
    dv_item_release(lr.item);
    uint64_t lock_cas = lr.cas;
    /* kv_engine reads a locked document with its CAS hidden and refuses. */
    assert_int_equal(get1("lk", DV_OP_SUBDOC_GET, 0, "a"), DV_STATUS_LOCKED);
    dv_subdoc_spec s = sp(DV_OP_SUBDOC_DICT_UPSERT, 0, "b", "2");
    mopts o = {0};
    assert_int_equal(mutate_o("lk", &o, &s, 1), DV_STATUS_LOCKED);
    o.cas = lock_cas + 1;
    assert_int_equal(mutate_o("lk", &o, &s, 1), DV_STATUS_LOCKED);
    o.cas = lock_cas;
    assert_int_equal(mutate_o("lk", &o, &s, 1), DV_STATUS_SUCCESS);
    /* The mutation with the lock CAS unlocked the document. */
    assert_string_equal(val1("lk", 0, "b"), "2");
}

static void expiry_and_flags(void **state)
{
    (void)state;
    mopts o = {0};
    o.doc_flags = DV_SUBDOC_DOC_MKDOC;
    o.has_expiry = 1;
    o.expiry = 100;
    o.has_flags = 1;
    o.flags = 0x02000000;
    dv_subdoc_spec s = sp(DV_OP_SUBDOC_DICT_UPSERT, 0, "a", "1");
    assert_int_equal(mutate_o("ttl", &o, &s, 1), DV_STATUS_SUCCESS);
    dv_item *it = item("ttl");
    assert_int_equal(it->exptime, NOW + 100);
    assert_int_equal(it->flags, 0x02000000);
    dv_item_release(it);
    /* preserve_ttl keeps it; flags not given are kept. */
    o = (mopts){0};
    o.preserve_ttl = 1;
    assert_int_equal(mutate_o("ttl", &o, &s, 1), DV_STATUS_SUCCESS);
    it = item("ttl");
    assert_int_equal(it->exptime, NOW + 100);
    assert_int_equal(it->flags, 0x02000000);
    dv_item_release(it);
    /* A mutation without expiry clears it, as Couchbase does. */
    o.preserve_ttl = 0;
    assert_int_equal(mutate_o("ttl", &o, &s, 1), DV_STATUS_SUCCESS);
    it = item("ttl");
    assert_int_equal(it->exptime, 0);
    dv_item_release(it);
    /* The expiry is visible through $document. */
    o.has_expiry = 1;
    o.expiry = NOW + 500;
    assert_int_equal(mutate_o("ttl", &o, &s, 1), DV_STATUS_SUCCESS);
    char want[32];
    snprintf(want, sizeof want, "%u", NOW + 500);
    assert_string_equal(val1("ttl", XA, "$document.exptime"), want);
    assert_string_equal(val1("ttl", XA, "$document.flags"), "33554432");
}

/* ---- xattrs ---- */

static void xattrs(void **state)
{
    (void)state;
    set_doc("x", "{\"body\":true}");
    dv_subdoc_spec specs[] = {sp(DV_OP_SUBDOC_DICT_UPSERT, XA | MK, "_sync.rev", "\"1-a\""),
                              sp(DV_OP_SUBDOC_DICT_UPSERT, XA, "meta", "{\"n\": 1}"),
                              sp(DV_OP_SUBDOC_ARRAY_PUSH_LAST, XA | MK, "meta.l", "1"),
                              sp(DV_OP_SUBDOC_DICT_UPSERT, 0, "b2", "2")};
    assert_int_equal(mutate_f("x", 0, specs, 4), DV_STATUS_SUCCESS);
    assert_xattrs("x", "_sync={\"rev\":\"1-a\"};meta={\"n\": 1,\"l\":[1]};");
    assert_body("x", "{\"body\":true,\"b2\":2}");
    assert_string_equal(val1("x", XA, "_sync.rev"), "\"1-a\"");
    assert_string_equal(val1("x", XA, "meta"), "{\"n\": 1,\"l\":[1]}");
    assert_int_equal(get1("x", DV_OP_SUBDOC_GET, XA, "nope"), DV_STATUS_SUBDOC_PATH_ENOENT);
    assert_int_equal(get1("x", DV_OP_SUBDOC_GET_COUNT, XA, "meta.l"), 0);
    assert_string_equal(val1("x", XA, "$XTOC"), "[\"_sync\",\"meta\"]");
    /* A full-document write keeps system xattrs and drops user xattrs (kv.c). */
    set_doc("x", "{\"v\":2}");
    assert_xattrs("x", "_sync={\"rev\":\"1-a\"};");
    assert_int_equal(mut1("x", 0, DV_OP_SUBDOC_DELETE, XA, "_sync", NULL), 0);
    assert_xattrs("x", "");
    /* Invalid keys fail the whole request. */
    static const char *const bad[] = {"",   ".a",    "_",    "$", "1234567890123456",
                                      "#x", "\x01a", "a\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mut1("x", 0, DV_OP_SUBDOC_DICT_UPSERT, XA, bad[i], "1"),
                         DV_STATUS_XATTR_EINVAL);
        assert_int_equal(get1("x", DV_OP_SUBDOC_GET, XA, bad[i]), DV_STATUS_XATTR_EINVAL);
    }
    assert_int_equal(mut1("x", 0, DV_OP_SUBDOC_DICT_UPSERT, XA, "123456789012345", "1"), 0);
    /* MKDOC with only xattr specs creates a document whose body is {}. */
    assert_int_equal(
        mut1("xnew", DV_SUBDOC_DOC_MKDOC, DV_OP_SUBDOC_DICT_UPSERT, XA, "txn.id", "\"t1\""), 0);
    assert_body("xnew", "{}");
    assert_xattrs("xnew", "txn={\"id\":\"t1\"};");
}

static void document_vattr(void **state)
{
    (void)state;
    set_doc("v", "{\"a\":1}");
    assert_int_equal(mut1("v", 0, DV_OP_SUBDOC_DICT_UPSERT, XA, "u", "true"), 0);
    dv_item *it = item("v");
    char want[512];
    snprintf(want, sizeof want,
             "{\"CAS\":\"0x%016" PRIx64 "\",\"datatype\":[\"json\",\"xattr\"],\"deleted\":false,"
             "\"exptime\":0,\"flags\":0,\"last_modified\":\"%" PRIu64 "\",\"revid\":\"2\","
             "\"seqno\":\"0x%016" PRIx64 "\",\"value_bytes\":7,\"value_crc32c\":\"0x%08" PRIx32
             "\",\"vbucket_uuid\":\"0x%016" PRIx64 "\"}",
             it->cas, it->cas / 1000000000u, it->seqno, dv_crc32c("{\"a\":1}", 7), R.vb_uuid);
    dv_item_release(it);
    assert_string_equal(val1("v", XA, "$document"), want);
    assert_string_equal(val1("v", XA, "$document.revid"), "\"2\"");
    assert_string_equal(val1("v", XA, "$document.datatype[1]"), "\"xattr\"");
    assert_string_equal(val1("v", XA, "$vbucket.HLC.mode"), "\"real\"");
    snprintf(want, sizeof want, "\"%u\"", NOW);
    assert_string_equal(val1("v", XA, "$vbucket.HLC.now"), want);
    assert_int_equal(get1("v", DV_OP_SUBDOC_GET, XA, "$nope"),
                     DV_STATUS_SUBDOC_XATTR_UNKNOWN_VATTR);
    assert_int_equal(get1("v", DV_OP_SUBDOC_GET, XA, "$document.nope"),
                     DV_STATUS_SUBDOC_PATH_ENOENT);
    /* The official core's get-with-expiry: two virtual xattrs and the body. */
    dv_subdoc_spec specs[] = {sp(DV_OP_SUBDOC_GET, XA, "$document.flags", NULL),
                              sp(DV_OP_SUBDOC_GET, XA, "$document.exptime", NULL),
                              sp(DV_SUBDOC_OP_GET_DOC, 0, "", NULL)};
    assert_int_equal(lookup_f("v", 0, specs, 3), DV_STATUS_SUCCESS);
    assert_entry(0, 0, "0");
    assert_entry(1, 0, "0");
    assert_entry(2, 0, "{\"a\":1}");
    /* Known CRC-32C vector. */
    assert_true(dv_crc32c("123456789", 9) == 0xe3069283u);
}

static void macros(void **state)
{
    (void)state;
    uint64_t old = set_doc("m", "{\"a\":1}");
    dv_subdoc_spec specs[] = {
        sp(DV_OP_SUBDOC_DICT_UPSERT, XA | MK | MAC, "_meta.cas", "\"${Mutation.CAS}\""),
        sp(DV_OP_SUBDOC_DICT_UPSERT, XA | MK | MAC, "_meta.seq", "\"${Mutation.seqno}\""),
        sp(DV_OP_SUBDOC_DICT_UPSERT, XA | MK | MAC, "_meta.crc", "\"${Mutation.value_crc32c}\""),
        sp(DV_OP_SUBDOC_DICT_UPSERT, XA | MK | MAC, "_meta.old", "\"${$document.CAS}\""),
        sp(DV_OP_SUBDOC_DICT_UPSERT, XA | MK | MAC, "_meta.exp", "\"${$document.exptime}\""),
        sp(DV_OP_SUBDOC_DICT_UPSERT, 0, "b", "2"),
    };
    assert_int_equal(mutate_f("m", 0, specs, 6), DV_STATUS_SUCCESS);
    uint64_t cas = R.cas, swapped = 0;
    for (int i = 0; i < 8; i++) swapped = swapped << 8 | ((cas >> (8 * i)) & 0xff);
    char want[512];
    snprintf(want, sizeof want,
             "{\"cas\":\"0x%016" PRIx64 "\",\"seq\":\"0x%016" PRIx64 "\",\"crc\":\"0x%08" PRIx32
             "\",\"old\":\"0x%016" PRIx64 "\",\"exp\":0}",
             swapped, R.seqno, dv_crc32c("{\"a\":1,\"b\":2}", 13), old);
    assert_string_equal(val1("m", XA, "_meta"), want);
    /* The macro must be the whole value. */
    assert_int_equal(mut1("m", 0, DV_OP_SUBDOC_DICT_UPSERT, XA | MAC, "x", "\"${Mutation.cas}\""),
                     DV_STATUS_SUBDOC_XATTR_UNKNOWN_MACRO);
    assert_int_equal(
        mut1("m", 0, DV_OP_SUBDOC_DICT_UPSERT, XA | MAC, "x", "{\"c\":\"${Mutation.CAS}\"}"),
        DV_STATUS_SUBDOC_XATTR_UNKNOWN_MACRO);
    assert_int_equal(
        mut1("m", 0, DV_OP_SUBDOC_DICT_UPSERT, XA | MAC, "x", "\"${$document.value_crc32c}\""),
        DV_STATUS_SUBDOC_XATTR_UNKNOWN_VATTR_MACRO);
    /* Without EXPAND_MACROS the text is stored as given. */
    assert_int_equal(mut1("m", 0, DV_OP_SUBDOC_DICT_UPSERT, XA, "x", "\"${Mutation.CAS}\""), 0);
    assert_string_equal(val1("m", XA, "x"), "\"${Mutation.CAS}\"");
}

static void tombstones(void **state)
{
    (void)state;
    set_doc("t", "{\"a\":1}");
    dv_subdoc_spec xs[] = {sp(DV_OP_SUBDOC_DICT_UPSERT, XA, "_sys", "1"),
                           sp(DV_OP_SUBDOC_DICT_UPSERT, XA, "user", "2")};
    assert_int_equal(mutate_f("t", 0, xs, 2), DV_STATUS_SUCCESS);
    /* Whole-document DELETE: a tombstone keeping the system xattrs. */
    dv_subdoc_spec del[] = {sp(DV_OP_SUBDOC_DICT_UPSERT, XA, "_txn", "\"x\""),
                            sp(DV_SUBDOC_OP_DELETE_DOC, 0, "", NULL)};
    assert_int_equal(mutate_f("t", 0, del, 2), DV_STATUS_SUCCESS);
    dv_item *it = item("t");
    assert_int_equal(it->deleted, 1);
    assert_int_equal(it->nvalue, 0);
    dv_item_release(it);
    assert_xattrs("t", "_sys=1;_txn=\"x\";");
    assert_int_equal(kv(DV_OP_GET, "t", NULL, 0).status, DV_STATUS_KEY_ENOENT);

    /* Reading needs ACCESS_DELETED. */
    dv_subdoc_spec g[] = {sp(DV_OP_SUBDOC_GET, XA, "_sys", NULL),
                          sp(DV_OP_SUBDOC_GET, XA, "$document.deleted", NULL),
                          sp(DV_SUBDOC_OP_GET_DOC, 0, "", NULL)};
    assert_int_equal(lookup_f("t", 0, g, 2), DV_STATUS_KEY_ENOENT);
    assert_int_equal(lookup_f("t", DV_SUBDOC_DOC_ACCESS_DELETED, g, 2),
                     DV_STATUS_SUBDOC_SUCCESS_DELETED);
    assert_entry(0, 0, "1");
    assert_entry(1, 0, "true");
    assert_int_equal(lookup_f("t", DV_SUBDOC_DOC_ACCESS_DELETED, g, 3),
                     DV_STATUS_SUBDOC_MULTI_PATH_FAILURE_DELETED);
    assert_entry(2, DV_STATUS_SUBDOC_PATH_ENOENT, "");

    /* Mutating a tombstone's xattrs leaves it deleted. */
    assert_int_equal(mut1("t", 0, DV_OP_SUBDOC_DICT_UPSERT, XA, "_sys", "3"), DV_STATUS_KEY_ENOENT);
    assert_int_equal(
        mut1("t", DV_SUBDOC_DOC_ACCESS_DELETED, DV_OP_SUBDOC_DICT_UPSERT, XA, "_sys", "3"),
        DV_STATUS_SUBDOC_SUCCESS_DELETED);
    it = item("t");
    assert_int_equal(it->deleted, 1);
    dv_item_release(it);
    assert_int_equal(
        mut1("t", DV_SUBDOC_DOC_ACCESS_DELETED, DV_SUBDOC_OP_SET_DOC, 0, "", "{\"b\":1}"),
        DV_STATUS_SUBDOC_DELETED_DOCUMENT_CANT_HAVE_VALUE);
    assert_int_equal(mut1("t", DV_SUBDOC_DOC_ACCESS_DELETED | DV_SUBDOC_DOC_ADD,
                          DV_OP_SUBDOC_DICT_UPSERT, XA, "_sys", "4"),
                     DV_STATUS_KEY_EEXISTS);
    /* REVIVE_DOCUMENT brings it back with a body. */
    dv_subdoc_spec rv[] = {sp(DV_OP_SUBDOC_DICT_UPSERT, XA, "_sys", "5"),
                           sp(DV_SUBDOC_OP_SET_DOC, 0, "", "{\"back\":1}")};
    assert_int_equal(
        mutate_f("t", DV_SUBDOC_DOC_ACCESS_DELETED | DV_SUBDOC_DOC_REVIVE_DOCUMENT, rv, 2),
        DV_STATUS_SUCCESS);
    assert_body("t", "{\"back\":1}");
    it = item("t");
    assert_int_equal(it->deleted, 0);
    assert_int_equal(it->datatype, DV_DATATYPE_JSON);
    dv_item_release(it);
    assert_int_equal(
        mutate_f("t", DV_SUBDOC_DOC_ACCESS_DELETED | DV_SUBDOC_DOC_REVIVE_DOCUMENT, rv, 2),
        DV_STATUS_SUBDOC_CAN_ONLY_REVIVE_DELETED_DOCUMENTS);

    /* CREATE_AS_DELETED makes a tombstone with xattrs only. */
    uint8_t cad =
        DV_SUBDOC_DOC_ADD | DV_SUBDOC_DOC_CREATE_AS_DELETED | DV_SUBDOC_DOC_ACCESS_DELETED;
    assert_int_equal(mut1("cad", cad, DV_OP_SUBDOC_DICT_UPSERT, XA | MK, "txn.op", "\"ins\""),
                     DV_STATUS_SUBDOC_SUCCESS_DELETED);
    it = item("cad");
    assert_int_equal(it->deleted, 1);
    assert_int_equal(it->nvalue, 0);
    dv_item_release(it);
    assert_xattrs("cad", "txn={\"op\":\"ins\"};");
    assert_int_equal(mut1("cad2", cad, DV_OP_SUBDOC_DICT_UPSERT, 0, "a", "1"),
                     DV_STATUS_SUBDOC_DOC_NOTJSON);
    assert_null(item("cad2"));
}

static void whole_document(void **state)
{
    (void)state;
    /* The SDK's insert/replace with xattrs: xattr specs then a whole-document SET. */
    dv_subdoc_spec ins[] = {sp(DV_OP_SUBDOC_DICT_UPSERT, XA | MK, "txn.stgd", "{\"v\":9}"),
                            sp(DV_SUBDOC_OP_SET_DOC, 0, "", "plain text")};
    assert_int_equal(mutate_f("w", DV_SUBDOC_DOC_ADD, ins, 2), DV_STATUS_SUCCESS);
    assert_body("w", "plain text");
    dv_item *it = item("w");
    assert_int_equal(it->datatype, 0);
    dv_item_release(it);
    /* REPLACE_BODY_WITH_XATTR moves the staged value into the body. */
    dv_subdoc_spec rb[] = {sp(DV_OP_SUBDOC_REPLACE_BODY_WITH_XATTR, XA, "txn.stgd", NULL),
                           sp(DV_OP_SUBDOC_DELETE, XA, "txn", NULL)};
    assert_int_equal(mutate_f("w", 0, rb, 2), DV_STATUS_SUCCESS);
    assert_body("w", "{\"v\":9}");
    assert_xattrs("w", "");
    it = item("w");
    assert_int_equal(it->datatype, DV_DATATYPE_JSON);
    dv_item_release(it);
    assert_int_equal(mut1("w", 0, DV_OP_SUBDOC_REPLACE_BODY_WITH_XATTR, XA, "txn.stgd", NULL),
                     DV_STATUS_SUBDOC_PATH_ENOENT);
    /* Binary xattr values round-trip. */
    uint8_t bin[] = {0, 1, 2, 0xff, 'x'};
    dv_subdoc_spec b = {
        DV_OP_SUBDOC_DICT_UPSERT, XA | DV_SUBDOC_PATH_BINARY_VALUE, "raw", 3, bin, sizeof bin};
    assert_int_equal(mutate_f("w", 0, &b, 1), DV_STATUS_SUCCESS);
    assert_string_equal(val1("w", XA, "raw"), "\"cb-content-base64-encoded:AAEC/3g=\"");
    dv_subdoc_spec g = sp(DV_OP_SUBDOC_GET, XA | DV_SUBDOC_PATH_BINARY_VALUE, "raw", NULL);
    assert_int_equal(lookup_f("w", 0, &g, 1), DV_STATUS_SUCCESS);
    assert_int_equal(E[0].value_len, sizeof bin);
    assert_memory_equal(E[0].value, bin, sizeof bin);
    assert_int_equal(mut1("w", 0, DV_OP_SUBDOC_DICT_UPSERT, XA, "txt", "\"abc\""), 0);
    g = sp(DV_OP_SUBDOC_GET, XA | DV_SUBDOC_PATH_BINARY_VALUE, "txt", NULL);
    assert_int_equal(lookup_f("w", 0, &g, 1), DV_STATUS_SUBDOC_MULTI_PATH_FAILURE);
    assert_entry(0, DV_STATUS_SUBDOC_PATH_MISMATCH, ""); /* 0xd8 is unknown to the core */
}

static void limits(void **state)
{
    (void)state;
    size_t n = DV_MAX_VALUE_LEN - 100;
    char *big = dv_malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "{\"a\":1}", 7);
    big[n] = 0;
    set_doc("big", big);
    dv_free(big);
    assert_int_equal(mut1("big", 0, DV_OP_SUBDOC_DICT_UPSERT, 0, "s", "\"xxxxxxxx\""), 0);
    char v[200];
    memset(v, 'x', sizeof v);
    v[0] = '"';
    v[sizeof v - 2] = '"';
    v[sizeof v - 1] = 0;
    assert_int_equal(mut1("big", 0, DV_OP_SUBDOC_DICT_UPSERT, 0, "t", v), DV_STATUS_E2BIG);
    assert_int_equal(mut1("big", 0, DV_OP_SUBDOC_DICT_UPSERT, XA, "t", v), DV_STATUS_E2BIG);
    assert_string_equal(val1("big", 0, "s"), "\"xxxxxxxx\"");
    /* Malformed requests the session would not pass are refused, not crashed on. */
    dv_sd_mutate_req q = {0};
    q.key = "big";
    q.nkey = 3;
    dv_sd_mutate(store, &q, &R);
    assert_int_equal(R.status, DV_STATUS_EINVAL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(lookups),         T(single_path_lookups),
        T(paths_and_depth), T(dict_mutations),
        T(array_mutations), T(counters),
        T(all_or_nothing),  T(document_flags),
        T(locks),           T(expiry_and_flags),
        T(xattrs),          T(document_vattr),
        T(macros),          T(tombstones),
        T(whole_document),  T(limits),
    };
    return TU_RUN(tests);
}
