#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "server/bucket.h"
#include "topology/config.h"
#include "topology/manifest.h"

static dv_error parse(const char *arg, dv_bucket_settings *s, char *err)
{
    err[0] = '\0';
    return dv_bucket_settings_parse_flag(arg, s, err, 256);
}

static void flag_good(void **state)
{
    (void)state;
    dv_bucket_settings s;
    char err[256];
    assert_int_equal(parse("travel-sample", &s, err), DV_ERR_OK);
    assert_string_equal(s.name, "travel-sample");
    assert_int_equal(s.type, DV_BUCKET_COUCHBASE);
    assert_int_equal(s.ram_quota_mb, 100);
    assert_int_equal(s.num_replicas, 0);
    assert_int_equal(s.flush_enabled, 1);
    assert_int_equal(s.durability_min_level, DV_DURABILITY_NONE);

    assert_int_equal(parse("b_1%x.y:ramQuotaMB=256,replicas=2,type=ephemeral,flush=0,"
                           "durabilityMinLevel=majority,maxTTL=3600",
                           &s, err),
                     DV_ERR_OK);
    assert_string_equal(s.name, "b_1%x.y");
    assert_int_equal(s.ram_quota_mb, 256);
    assert_int_equal(s.num_replicas, 2);
    assert_int_equal(s.type, DV_BUCKET_EPHEMERAL);
    assert_int_equal(s.eviction_policy, DV_EVICTION_NO);
    assert_int_equal(s.flush_enabled, 0);
    assert_int_equal(s.durability_min_level, DV_DURABILITY_MAJORITY);
    assert_int_equal(s.max_ttl, 3600);

    assert_int_equal(
        parse("b:numReplicas=1,flush=true,durabilityMinLevel=persistToMajority", &s, err),
        DV_ERR_OK);
    assert_int_equal(s.num_replicas, 1);
    assert_int_equal(s.durability_min_level, DV_DURABILITY_PERSIST_TO_MAJORITY);

    char longname[101];
    memset(longname, 'a', 100);
    longname[100] = '\0';
    assert_int_equal(parse(longname, &s, err), DV_ERR_OK);
    assert_int_equal(strlen(s.name), 100);
}

static void flag_bad(void **state)
{
    (void)state;
    static const struct {
        const char *arg;
        const char *needle;
    } cases[] = {
        {"", "not valid"},
        {".hidden", "not valid"},
        {"sp ace", "not valid"},
        {"a/b", "not valid"},
        {":ramQuotaMB=100", "not valid"},
        {"b:", "key=value"},
        {"b:flush", "key=value"},
        {"b:=1", "key=value"},
        {"b:flush=1,", "key=value"},
        {"b:color=red", "unknown option \"color\""},
        {"b:ramQuotaMB=99", "bad value \"99\" for ramQuotaMB"},
        {"b:ramQuotaMB=12x", "bad value"},
        {"b:ramQuotaMB=", "bad value"},
        {"b:replicas=4", "bad value \"4\" for replicas"},
        {"b:replicas=-1", "bad value"},
        {"b:type=memcached", "bad value \"memcached\" for type"},
        {"b:flush=yes", "bad value"},
        {"b:durabilityMinLevel=all", "bad value"},
        {"b:maxTTL=2147483648", "bad value"},
        {"b:type=ephemeral,durabilityMinLevel=persistToMajority", "not valid for an ephemeral"},
    };
    char longname[102];
    memset(longname, 'a', 101);
    longname[101] = '\0';
    dv_bucket_settings s;
    char err[256];
    assert_int_equal(parse(longname, &s, err), DV_ERR_INVALID_ARGUMENT);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&s, 0x5a, sizeof s);
        assert_int_equal(parse(cases[i].arg, &s, err), DV_ERR_INVALID_ARGUMENT);
        if (!strstr(err, cases[i].needle)) fail_msg("%s: message \"%s\"", cases[i].arg, err);
        assert_int_equal(s.ram_quota_mb, 0x5a5a5a5a); /* untouched */
    }
}

static void names(void **state)
{
    (void)state;
    assert_true(dv_bucket_name_valid("a.b-c_d%e", 9));
    assert_false(dv_bucket_name_valid(".a", 2));
    assert_false(dv_bucket_name_valid("", 0));
    dv_durability_level l;
    assert_int_equal(dv_durability_level_parse("majorityAndPersistActive", 24, &l), 0);
    assert_int_equal(l, DV_DURABILITY_MAJORITY_AND_PERSIST_TO_ACTIVE);
    assert_string_equal(dv_durability_level_name(l), "majorityAndPersistActive");
    dv_bucket_type t;
    assert_int_equal(dv_bucket_type_parse("membase", 7, &t), 0);
    assert_int_equal(t, DV_BUCKET_COUCHBASE);
    dv_eviction_policy e;
    assert_int_equal(dv_eviction_policy_parse("fullEviction", 12, &e), 0);
    assert_string_equal(dv_eviction_policy_name(e), "fullEviction");
    dv_compression_mode m;
    assert_int_equal(dv_compression_mode_parse("active", 6, &m), 0);
    assert_int_equal(dv_compression_mode_parse("Active", 6, &m), -1);
    assert_string_equal(dv_compression_mode_name(m), "active");
}

static void create_get_delete_list(void **state)
{
    (void)state;
    dv_cluster *c = dv_cluster_new("test", 11210, 8091);
    assert_non_null(c);
    assert_string_equal(dv_cluster_name(c), "test");
    assert_int_equal(strlen(dv_cluster_uuid(c)), 32);
    assert_int_equal(strlen(dv_cluster_node_uuid(c)), 32);
    int64_t rev0 = dv_cluster_rev(c);

    assert_int_equal(dv_cluster_create_default_bucket(c), DV_ERR_OK);
    assert_true(dv_cluster_rev(c) > rev0);
    dv_bucket *d = dv_cluster_get_bucket(c, "default", 7);
    assert_non_null(d);
    dv_bucket_settings s;
    dv_bucket_settings_get(d, &s);
    assert_int_equal(s.num_replicas, 0);
    assert_int_equal(s.flush_enabled, 1);
    assert_int_equal(s.type, DV_BUCKET_COUCHBASE);
    assert_int_equal(strlen(dv_bucket_uuid(d)), 32);
    assert_int_equal(strspn(dv_bucket_uuid(d), "0123456789abcdef"), 32);
    assert_int_equal(dv_store_nvb(dv_bucket_store(d)), 1024);

    char err[256];
    dv_bucket_settings_default(&s, "default");
    assert_int_equal(dv_cluster_create_bucket(c, &s, NULL, err, sizeof err), DV_ERR_BUCKET_EXISTS);
    assert_non_null(strstr(err, "already exists"));
    dv_bucket_settings_default(&s, ".x");
    assert_int_equal(dv_cluster_create_bucket(c, &s, NULL, err, sizeof err),
                     DV_ERR_INVALID_ARGUMENT);

    dv_bucket *e = NULL;
    dv_bucket_settings_default(&s, "eph");
    s.type = DV_BUCKET_EPHEMERAL;
    assert_int_equal(dv_cluster_create_bucket(c, &s, &e, err, sizeof err),
                     DV_ERR_INVALID_ARGUMENT); /* valueOnly is not an ephemeral policy */
    s.eviction_policy = DV_EVICTION_NO;
    assert_int_equal(dv_cluster_create_bucket(c, &s, &e, err, sizeof err), DV_ERR_OK);
    assert_non_null(e);
    assert_string_equal(dv_bucket_name(e), "eph");
    assert_string_not_equal(dv_bucket_uuid(e), dv_bucket_uuid(d));

    assert_null(dv_cluster_get_bucket(c, "nope", 4));
    assert_null(dv_cluster_get_bucket(c, "defaul", 6));

    dv_bucket **list;
    size_t n;
    assert_int_equal(dv_cluster_list_buckets(c, &list, &n), DV_ERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(dv_bucket_name(list[0]), "default");
    assert_string_equal(dv_bucket_name(list[1]), "eph");
    dv_cluster_list_free(list, n);

    /* Update: the name and type are fixed, other settings change and bump the rev. */
    int64_t brev = dv_bucket_rev(d);
    dv_bucket_settings_get(d, &s);
    s.num_replicas = 1;
    assert_int_equal(dv_bucket_update(d, &s, err, sizeof err), DV_ERR_OK);
    assert_true(dv_bucket_rev(d) > brev);
    s.type = DV_BUCKET_EPHEMERAL;
    s.eviction_policy = DV_EVICTION_NO;
    assert_int_equal(dv_bucket_update(d, &s, err, sizeof err), DV_ERR_INVALID_ARGUMENT);

    /* Deleting keeps a held reference valid. */
    assert_false(dv_bucket_deleted(e));
    assert_int_equal(dv_cluster_delete_bucket(c, "eph"), DV_ERR_OK);
    assert_int_equal(dv_cluster_delete_bucket(c, "eph"), DV_ERR_BUCKET_NOT_FOUND);
    assert_true(dv_bucket_deleted(e));
    assert_null(dv_cluster_get_bucket(c, "eph", 3));
    assert_string_equal(dv_bucket_name(e), "eph");
    assert_int_equal(dv_bucket_create_scope(e, "s", NULL), DV_ERR_OK);
    dv_bucket_release(e);

    assert_int_equal(dv_cluster_list_buckets(c, &list, &n), DV_ERR_OK);
    assert_int_equal(n, 1);
    dv_cluster_list_free(list, n);

    /* A reference may outlive the cluster. */
    dv_cluster_free(c);
    assert_true(dv_bucket_deleted(d));
    dv_bucket_release(d);
}

static void scopes_and_collections(void **state)
{
    (void)state;
    dv_cluster *c = dv_cluster_new(NULL, 11210, 8091);
    dv_bucket *b = NULL;
    dv_bucket_settings s;
    dv_bucket_settings_default(&s, "b");
    assert_int_equal(dv_cluster_create_bucket(c, &s, &b, NULL, 0), DV_ERR_OK);
    assert_int_equal(dv_bucket_manifest_uid(b), 0);
    int64_t rev = dv_bucket_rev(b);
    uint64_t uid = 99;

    assert_int_equal(dv_bucket_create_scope(b, "inventory", &uid), DV_ERR_OK);
    assert_int_equal(uid, 1);
    assert_true(dv_bucket_rev(b) > rev);
    rev = dv_bucket_rev(b);
    assert_int_equal(dv_bucket_create_scope(b, "inventory", &uid), DV_ERR_SCOPE_EXISTS);
    assert_int_equal(dv_bucket_create_scope(b, "_default", &uid), DV_ERR_SCOPE_EXISTS);
    assert_int_equal(dv_bucket_create_scope(b, "_sys", &uid), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_bucket_create_scope(b, "a.b", &uid), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_bucket_create_scope(b, "", &uid), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(uid, 1);
    assert_int_equal(dv_bucket_rev(b), rev); /* failures change nothing */

    dv_collection_spec spec = {1, 3600, 1, 0};
    assert_int_equal(dv_bucket_create_collection(b, "inventory", "airline", NULL, &uid), DV_ERR_OK);
    assert_int_equal(uid, 2);
    assert_int_equal(dv_bucket_create_collection(b, "inventory", "route", &spec, &uid), DV_ERR_OK);
    assert_int_equal(uid, 3);
    assert_true(dv_bucket_rev(b) > rev);
    assert_int_equal(dv_bucket_create_collection(b, "inventory", "route", NULL, &uid),
                     DV_ERR_COLLECTION_EXISTS);
    assert_int_equal(dv_bucket_create_collection(b, "nope", "x", NULL, &uid),
                     DV_ERR_SCOPE_NOT_FOUND);
    assert_int_equal(dv_bucket_create_collection(b, "inventory", "%x", NULL, &uid),
                     DV_ERR_INVALID_ARGUMENT);
    spec.max_ttl = -2;
    assert_int_equal(dv_bucket_create_collection(b, "inventory", "y", &spec, &uid),
                     DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(uid, 3);

    /* Ids count from 8; the manifest JSON round-trips through the parser. */
    uint32_t cid = 0;
    uint64_t muid = 0;
    assert_int_equal(dv_bucket_lookup_collection(b, "inventory.airline", 17, &cid, &muid),
                     DV_ERR_OK);
    assert_int_equal(cid, 8);
    assert_int_equal(muid, 3);
    assert_int_equal(dv_bucket_lookup_collection(b, "inventory.route", 15, &cid, NULL), DV_ERR_OK);
    assert_int_equal(cid, 9);
    int32_t ttl = 0;
    assert_int_equal(dv_bucket_collection_max_ttl(b, 9, &ttl), DV_ERR_OK);
    assert_int_equal(ttl, 3600);
    assert_int_equal(dv_bucket_collection_max_ttl(b, 77, &ttl), DV_ERR_COLLECTION_NOT_FOUND);
    assert_int_equal(dv_bucket_lookup_collection(b, ".", 1, &cid, NULL), DV_ERR_OK);
    assert_int_equal(cid, 0);
    assert_int_equal(dv_bucket_lookup_collection(b, "inventory.x", 11, &cid, NULL),
                     DV_ERR_COLLECTION_NOT_FOUND);
    assert_int_equal(dv_bucket_lookup_collection(b, "zz.x", 4, &cid, NULL), DV_ERR_SCOPE_NOT_FOUND);
    assert_int_equal(dv_bucket_lookup_collection(b, "noperiod", 8, &cid, NULL),
                     DV_ERR_INVALID_ARGUMENT);

    dv_buf out = DV_BUF_INIT;
    assert_int_equal(dv_bucket_manifest_json(b, &out), DV_ERR_OK);
    dv_manifest *m = NULL;
    assert_int_equal(
        dv_manifest_parse((const char *)dv_buf_head(&out), dv_buf_size(&out), &m, NULL, 0),
        DV_ERR_OK);
    assert_int_equal(m->uid, 3);
    assert_int_equal(m->nscopes, 2);
    assert_string_equal(m->scopes[1].name, "inventory");
    assert_int_equal(m->scopes[1].uid, 8);
    assert_int_equal(m->scopes[1].ncollections, 2);
    assert_int_equal(m->scopes[1].collections[1].max_ttl, 3600);
    assert_true(m->scopes[1].collections[1].has_history);
    assert_false(m->scopes[1].collections[1].history);
    dv_manifest_free(m);
    dv_buf_free(&out);

    /* Dropping a collection drops its documents and leaves others. */
    dv_store *st = dv_bucket_store(b);
    dv_item *it = dv_item_new(8, "k", 1, NULL, 0, "v", 1);
    dv_vbucket *vb = dv_store_lock(st, 5);
    dv_vbucket_install(vb, it, 0);
    dv_vbucket_install(vb, dv_item_new(0, "k", 1, NULL, 0, "v", 1), 0);
    dv_vbucket_unlock(vb);
    rev = dv_bucket_rev(b);
    assert_int_equal(dv_bucket_drop_collection(b, "inventory", "airline", &uid), DV_ERR_OK);
    assert_int_equal(uid, 4);
    assert_true(dv_bucket_rev(b) > rev);
    vb = dv_store_lock(st, 5);
    assert_null(dv_vbucket_find(vb, 8, "k", 1, 0));
    assert_non_null(dv_vbucket_find(vb, 0, "k", 1, 0));
    dv_vbucket_unlock(vb);
    assert_int_equal(dv_bucket_drop_collection(b, "inventory", "airline", &uid),
                     DV_ERR_COLLECTION_NOT_FOUND);
    assert_int_equal(dv_bucket_drop_collection(b, "nope", "airline", &uid), DV_ERR_SCOPE_NOT_FOUND);
    assert_int_equal(dv_bucket_lookup_collection(b, "inventory.airline", 17, &cid, &muid),
                     DV_ERR_COLLECTION_NOT_FOUND);
    assert_int_equal(muid, 4);

    /* A recreated collection gets a new id. */
    assert_int_equal(dv_bucket_create_collection(b, "inventory", "airline", NULL, &uid), DV_ERR_OK);
    assert_int_equal(dv_bucket_lookup_collection(b, "inventory.airline", 17, &cid, NULL),
                     DV_ERR_OK);
    assert_int_equal(cid, 10);

    /* Scopes: _default cannot be dropped; dropping a scope drops its collections. */
    assert_int_equal(dv_bucket_drop_scope(b, "_default", &uid), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_bucket_drop_scope(b, "nope", &uid), DV_ERR_SCOPE_NOT_FOUND);
    assert_int_equal(dv_bucket_create_scope(b, "second", &uid), DV_ERR_OK);
    assert_int_equal(uid, 6);
    assert_int_equal(dv_bucket_lookup_collection(b, "second._default", 15, &cid, NULL),
                     DV_ERR_COLLECTION_NOT_FOUND);
    vb = dv_store_lock(st, 5);
    dv_vbucket_install(vb, dv_item_new(9, "r", 1, NULL, 0, "v", 1), 0);
    dv_vbucket_unlock(vb);
    assert_int_equal(dv_bucket_drop_scope(b, "inventory", &uid), DV_ERR_OK);
    assert_int_equal(uid, 7);
    vb = dv_store_lock(st, 5);
    assert_null(dv_vbucket_find(vb, 9, "r", 1, 0));
    dv_vbucket_unlock(vb);
    assert_int_equal(dv_bucket_lookup_collection(b, "inventory.route", 15, &cid, NULL),
                     DV_ERR_SCOPE_NOT_FOUND);
    assert_int_equal(dv_bucket_create_scope(b, "inventory", &uid), DV_ERR_OK);
    assert_int_equal(dv_bucket_create_collection(b, "inventory", "route", NULL, &uid), DV_ERR_OK);
    assert_int_equal(dv_bucket_lookup_collection(b, "inventory.route", 15, &cid, NULL), DV_ERR_OK);
    assert_int_equal(cid, 11);
    /* The _default collection may be dropped. */
    assert_int_equal(dv_bucket_drop_collection(b, "_default", "_default", &uid), DV_ERR_OK);
    assert_int_equal(dv_bucket_lookup_collection(b, "_default._default", 17, &cid, NULL),
                     DV_ERR_COLLECTION_NOT_FOUND);

    dv_bucket_release(b);
    dv_cluster_free(c);
}

static dv_config *parse_config(dv_buf *out)
{
    dv_config *cfg = NULL;
    char err[256] = "";
    dv_error rc = dv_config_parse((const char *)dv_buf_head(out), dv_buf_size(out), "localhost",
                                  "127.0.0.1", &cfg, err, sizeof err);
    if (rc != DV_ERR_OK) fail_msg("config does not parse: %s", err);
    return cfg;
}

static int has_cap(const dv_config *cfg, const char *cap)
{
    for (size_t i = 0; i < cfg->nbucket_caps; i++)
        if (strcmp(cfg->bucket_caps[i], cap) == 0) return 1;
    return 0;
}

static void configs(void **state)
{
    (void)state;
    dv_cluster *c = dv_cluster_new("demo", 0, 0);
    dv_cluster_set_ports(c, 12000, 9000);
    uint16_t kv, mgmt;
    dv_cluster_ports(c, &kv, &mgmt);
    assert_int_equal(kv, 12000);
    assert_int_equal(mgmt, 9000);
    dv_bucket_settings s;
    assert_int_equal(dv_bucket_settings_parse_flag("travel:replicas=2", &s, NULL, 0), DV_ERR_OK);
    dv_bucket *b = NULL;
    assert_int_equal(dv_cluster_create_bucket(c, &s, &b, NULL, 0), DV_ERR_OK);

    dv_buf out = DV_BUF_INIT;
    assert_int_equal(dv_cluster_bucket_config_json(c, b, &out), DV_ERR_OK);
    dv_config *cfg = parse_config(&out);
    assert_string_equal(cfg->name, "travel");
    assert_string_equal(cfg->uuid, dv_bucket_uuid(b));
    assert_int_equal(cfg->locator, DV_LOCATOR_VBUCKET);
    assert_true(cfg->has_rev && cfg->has_rev_epoch);
    assert_int_equal(cfg->rev_epoch, 1);
    assert_int_equal(cfg->rev, dv_bucket_rev(b));
    assert_true(cfg->has_manifest_uid);
    assert_int_equal(cfg->manifest_uid, 0);
    assert_int_equal(cfg->nnodes, 1);
    assert_true(cfg->nodes[0].this_node);
    assert_string_equal(cfg->nodes[0].hostname, "localhost"); /* omitted: the bootstrap host */
    assert_int_equal(cfg->nodes[0].ports[DV_SVC_KV], 12000);
    assert_int_equal(cfg->nodes[0].ports[DV_SVC_MGMT], 9000);
    assert_int_equal(cfg->nodes[0].ports[DV_SVC_N1QL], 0);
    assert_string_equal(cfg->nodes[0].node_uuid, dv_cluster_node_uuid(c));
    assert_string_equal(cfg->cluster_name, "demo");
    assert_int_equal(cfg->num_replicas, 2);
    assert_int_equal(cfg->vbmap.nvb, 1024);
    assert_int_equal(cfg->vbmap.width, 3);
    for (uint32_t vb = 0; vb < 1024; vb++) {
        assert_int_equal(dv_vbmap_get(&cfg->vbmap, vb, 0), 0);
        assert_int_equal(dv_vbmap_get(&cfg->vbmap, vb, 1), -1);
        assert_int_equal(dv_vbmap_get(&cfg->vbmap, vb, 2), -1);
    }
    static const char *const caps[] = {"collections", "durableWrite", "tombstonedUserXAttrs",
                                       "xattr",       "cccp",         "nodesExt",
                                       "touch"};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) assert_true(has_cap(cfg, caps[i]));
    int64_t rev = cfg->rev;
    dv_config_free(cfg);

    /* A change raises rev and the manifest uid. */
    assert_int_equal(dv_bucket_create_scope(b, "s1", NULL), DV_ERR_OK);
    dv_buf_reset(&out);
    assert_int_equal(dv_cluster_bucket_config_json(c, b, &out), DV_ERR_OK);
    cfg = parse_config(&out);
    assert_true(cfg->rev > rev);
    assert_int_equal(cfg->manifest_uid, 1);
    rev = cfg->rev;
    dv_config_free(cfg);
    dv_cluster_set_ports(c, 12001, 9001);
    dv_buf_reset(&out);
    assert_int_equal(dv_cluster_bucket_config_json(c, b, &out), DV_ERR_OK);
    cfg = parse_config(&out);
    assert_true(cfg->rev > rev);
    assert_int_equal(cfg->nodes[0].ports[DV_SVC_KV], 12001);
    dv_config_free(cfg);

    /* The cluster-level config: no name, no map. */
    dv_buf_reset(&out);
    assert_int_equal(dv_cluster_config_json(c, &out), DV_ERR_OK);
    assert_null(memmem(dv_buf_head(&out), dv_buf_size(&out), "vBucketServerMap", 16));
    assert_null(memmem(dv_buf_head(&out), dv_buf_size(&out), "\"name\"", 6));
    cfg = parse_config(&out);
    assert_null(cfg->name);
    assert_int_equal(cfg->vbmap.nvb, 0);
    assert_int_equal(cfg->rev, dv_cluster_rev(c));
    assert_int_equal(cfg->nnodes, 1);
    assert_true(cfg->nodes[0].this_node);
    assert_int_equal(cfg->nodes[0].ports[DV_SVC_MGMT], 9001);
    assert_string_equal(cfg->cluster_uuid, dv_cluster_uuid(c));
    dv_config_free(cfg);

    /* A zero-replica bucket has one-entry rows. */
    dv_bucket_release(b);
    assert_int_equal(dv_cluster_create_default_bucket(c), DV_ERR_OK);
    b = dv_cluster_get_bucket(c, "default", 7);
    dv_buf_reset(&out);
    assert_int_equal(dv_cluster_bucket_config_json(c, b, &out), DV_ERR_OK);
    cfg = parse_config(&out);
    assert_int_equal(cfg->num_replicas, 0);
    assert_int_equal(cfg->vbmap.width, 1);
    assert_int_equal(cfg->vbmap.nvb, 1024);
    dv_config_free(cfg);

    dv_buf_free(&out);
    dv_bucket_release(b);
    dv_cluster_free(c);
}

static void durability(void **state)
{
    (void)state;
    static const struct {
        dv_bucket_type type;
        unsigned replicas;
        dv_durability_level min;
        unsigned requested;
        dv_status status;
        dv_durability_level effective;
    } cases[] = {
        /* couchbase, 0 replicas: every level works; the minimum upgrades the request */
        {DV_BUCKET_COUCHBASE, 0, 0, 0, DV_STATUS_SUCCESS, 0},
        {DV_BUCKET_COUCHBASE, 0, 0, 1, DV_STATUS_SUCCESS, 1},
        {DV_BUCKET_COUCHBASE, 0, 0, 2, DV_STATUS_SUCCESS, 2},
        {DV_BUCKET_COUCHBASE, 0, 0, 3, DV_STATUS_SUCCESS, 3},
        {DV_BUCKET_COUCHBASE, 0, 0, 4, DV_STATUS_DURABILITY_INVALID_LEVEL, 0},
        {DV_BUCKET_COUCHBASE, 0, 1, 0, DV_STATUS_SUCCESS, 1},
        {DV_BUCKET_COUCHBASE, 0, 3, 1, DV_STATUS_SUCCESS, 3},
        {DV_BUCKET_COUCHBASE, 0, 1, 3, DV_STATUS_SUCCESS, 3},
        /* replicas cannot be placed on one node */
        {DV_BUCKET_COUCHBASE, 1, 0, 0, DV_STATUS_SUCCESS, 0},
        {DV_BUCKET_COUCHBASE, 1, 0, 1, DV_STATUS_DURABILITY_IMPOSSIBLE, 0},
        {DV_BUCKET_COUCHBASE, 2, 0, 3, DV_STATUS_DURABILITY_IMPOSSIBLE, 0},
        {DV_BUCKET_COUCHBASE, 3, 0, 1, DV_STATUS_DURABILITY_IMPOSSIBLE, 0},
        {DV_BUCKET_COUCHBASE, 1, 1, 0, DV_STATUS_DURABILITY_IMPOSSIBLE, 0},
        /* ephemeral: majority only */
        {DV_BUCKET_EPHEMERAL, 0, 0, 1, DV_STATUS_SUCCESS, 1},
        {DV_BUCKET_EPHEMERAL, 0, 0, 2, DV_STATUS_DURABILITY_INVALID_LEVEL, 0},
        {DV_BUCKET_EPHEMERAL, 0, 0, 3, DV_STATUS_DURABILITY_INVALID_LEVEL, 0},
        {DV_BUCKET_EPHEMERAL, 0, 1, 0, DV_STATUS_SUCCESS, 1},
        {DV_BUCKET_EPHEMERAL, 1, 0, 1, DV_STATUS_DURABILITY_IMPOSSIBLE, 0},
        {DV_BUCKET_EPHEMERAL, 0, 0, 0, DV_STATUS_SUCCESS, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dv_bucket_settings s;
        dv_bucket_settings_default(&s, "b");
        s.type = cases[i].type;
        s.num_replicas = cases[i].replicas;
        s.durability_min_level = cases[i].min;
        dv_durability_level eff = 7;
        dv_status st = dv_bucket_durability(&s, cases[i].requested, &eff);
        if (st != cases[i].status || eff != cases[i].effective)
            fail_msg("case %zu: status 0x%x effective %d", i, (unsigned)st, (int)eff);
    }
}

static void flush(void **state)
{
    (void)state;
    dv_cluster *c = dv_cluster_new(NULL, 11210, 8091);
    assert_int_equal(dv_cluster_create_default_bucket(c), DV_ERR_OK);
    dv_bucket *b = dv_cluster_get_bucket(c, "default", 7);
    dv_store *st = dv_bucket_store(b);
    for (uint16_t v = 0; v < 1024; v += 100) {
        dv_vbucket *vb = dv_store_lock(st, v);
        dv_vbucket_install(vb, dv_item_new(0, "k", 1, NULL, 0, "v", 1), 0);
        dv_vbucket_unlock(vb);
    }
    dv_store_stats stats;
    dv_store_stats_get(st, &stats);
    assert_int_equal(stats.items, 11);
    assert_int_equal(dv_bucket_flush(b), DV_ERR_OK);
    dv_store_stats_get(st, &stats);
    assert_int_equal(stats.items, 0);

    dv_bucket_settings s;
    dv_bucket_settings_get(b, &s);
    s.flush_enabled = 0;
    assert_int_equal(dv_bucket_update(b, &s, NULL, 0), DV_ERR_OK);
    assert_int_equal(dv_bucket_flush(b), DV_ERR_BUCKET_NOT_FLUSHABLE);
    dv_bucket_release(b);
    dv_cluster_free(c);
}

typedef struct race {
    dv_cluster *c;
    atomic_int stop;
    atomic_long seen;
} race;

/* A session: select the bucket, resolve a collection, write, drop the reference. */
static void *reader(void *arg)
{
    race *r = arg;
    while (!atomic_load(&r->stop)) {
        dv_bucket *b = dv_cluster_get_bucket(r->c, "b", 1);
        if (!b) continue;
        uint32_t cid;
        if (dv_bucket_lookup_collection(b, "s.c", 3, &cid, NULL) == DV_ERR_OK) {
            dv_vbucket *vb = dv_store_lock(dv_bucket_store(b), 3);
            dv_vbucket_install(vb, dv_item_new(cid, "k", 1, NULL, 0, "v", 1), 0);
            dv_vbucket_unlock(vb);
            atomic_fetch_add(&r->seen, 1);
        }
        dv_buf out = DV_BUF_INIT;
        assert_int_equal(dv_bucket_manifest_json(b, &out), DV_ERR_OK);
        dv_buf_free(&out);
        dv_bucket_release(b);
    }
    return NULL;
}

static void concurrent_sessions(void **state)
{
    (void)state;
    race r = {.c = dv_cluster_new(NULL, 11210, 8091)};
    atomic_init(&r.stop, 0);
    atomic_init(&r.seen, 0);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, reader, &r), 0);
    dv_bucket_settings s;
    dv_bucket_settings_default(&s, "b");
    for (int round = 0; round < 50; round++) {
        dv_bucket *b = NULL;
        assert_int_equal(dv_cluster_create_bucket(r.c, &s, &b, NULL, 0), DV_ERR_OK);
        assert_int_equal(dv_bucket_create_scope(b, "s", NULL), DV_ERR_OK);
        for (int k = 0; k < 5; k++) {
            assert_int_equal(dv_bucket_create_collection(b, "s", "c", NULL, NULL), DV_ERR_OK);
            assert_int_equal(dv_bucket_drop_collection(b, "s", "c", NULL), DV_ERR_OK);
        }
        assert_int_equal(dv_bucket_create_collection(b, "s", "c", NULL, NULL), DV_ERR_OK);
        dv_bucket_release(b);
        assert_int_equal(dv_cluster_delete_bucket(r.c, "b"), DV_ERR_OK);
    }
    atomic_store(&r.stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    dv_cluster_free(r.c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flag_good),
        cmocka_unit_test(flag_bad),
        cmocka_unit_test(names),
        cmocka_unit_test(create_get_delete_list),
        cmocka_unit_test(scopes_and_collections),
        cmocka_unit_test(configs),
        cmocka_unit_test(durability),
        cmocka_unit_test(flush),
        cmocka_unit_test(concurrent_sessions),
    };
    return TU_RUN(tests);
}
