/* Cluster configs: parsing, host substitution, validation, ordering, generation
 * (kv-protocol.md 7, 10.2). */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "topology/config.h"

/* The documents of kv-protocol.md 7.4 and 7.5, verbatim. */
static const char DOC_BUCKET_7_4[] =
    "{\n"
    "  \"rev\": 1,\n"
    "  \"revEpoch\": 1,\n"
    "  \"name\": \"default\",\n"
    "  \"uuid\": \"5c2a8b6de1f44e3c9a0b7f61d2e8c3a4\",\n"
    "  \"nodeLocator\": \"vbucket\",\n"
    "  \"collectionsManifestUid\": \"0\",\n"
    "  \"bucketCapabilitiesVer\": \"\",\n"
    "  \"bucketCapabilities\": [\"collections\", \"durableWrite\", \"tombstonedUserXAttrs\", "
    "\"couchapi\", \"dcp\", \"cbhello\", \"touch\", \"cccp\", \"xdcrCheckpointing\", \"nodesExt\", "
    "\"xattr\"],\n"
    "  \"clusterCapabilitiesVer\": [1, 0],\n"
    "  \"clusterCapabilities\": { \"n1ql\": [] },\n"
    "  \"nodes\": [\n"
    "    { \"hostname\": \"$HOST:8091\", \"ports\": { \"direct\": 11210 },\n"
    "      \"couchApiBase\": \"http://$HOST:8092/default%2B5c2a8b6de1f44e3c9a0b7f61d2e8c3a4\" }\n"
    "  ],\n"
    "  \"nodesExt\": [\n"
    "    { \"services\": { \"kv\": 11210, \"kvSSL\": 11207, \"mgmt\": 8091, \"mgmtSSL\": 18091 },\n"
    "      \"thisNode\": true,\n"
    "      \"nodeUUID\": \"a6f0c0e1b2d34c5d8e9f001122334455\" }\n"
    "  ],\n"
    "  \"vBucketServerMap\": {\n"
    "    \"hashAlgorithm\": \"CRC\",\n"
    "    \"numReplicas\": 0,\n"
    "    \"serverList\": [\"$HOST:11210\"],\n"
    "    \"vBucketMap\": [[0], [0], [0], [0], [0], [0], [0], [0]]\n"
    "  }\n"
    "}\n";

static const char DOC_CLUSTER_7_4[] = "{\n"
                                      "  \"rev\": 1,\n"
                                      "  \"revEpoch\": 1,\n"
                                      "  \"clusterName\": \"demo\",\n"
                                      "  \"clusterUUID\": \"0e3f4b5c6d7e8f901a2b3c4d5e6f7081\",\n"
                                      "  \"nodesExt\": [\n"
                                      "    { \"services\": { \"kv\": 11210, \"mgmt\": 8091 },\n"
                                      "      \"thisNode\": true,\n"
                                      "      \"nodeUUID\": \"a6f0c0e1b2d34c5d8e9f001122334455\" }\n"
                                      "  ],\n"
                                      "  \"clusterCapabilitiesVer\": [1, 0],\n"
                                      "  \"clusterCapabilities\": { \"n1ql\": [] }\n"
                                      "}\n";

static const char DOC_THREE_NODE_7_5[] =
    "{\n"
    "  \"rev\": 42,\n"
    "  \"revEpoch\": 1,\n"
    "  \"name\": \"travel-sample\",\n"
    "  \"uuid\": \"9e1d2c3b4a5f60718293a4b5c6d7e8f9\",\n"
    "  \"nodeLocator\": \"vbucket\",\n"
    "  \"collectionsManifestUid\": \"c\",\n"
    "  \"bucketCapabilitiesVer\": \"\",\n"
    "  \"bucketCapabilities\": [\"collections\", \"durableWrite\", \"tombstonedUserXAttrs\", "
    "\"couchapi\", \"dcp\", \"cbhello\", \"touch\", \"cccp\", \"xdcrCheckpointing\", \"nodesExt\", "
    "\"xattr\"],\n"
    "  \"clusterCapabilitiesVer\": [1, 0],\n"
    "  \"clusterCapabilities\": { \"n1ql\": [\"enhancedPreparedStatements\", \"readFromReplica\"] "
    "},\n"
    "  \"nodes\": [\n"
    "    { \"hostname\": \"node1.example.com:8091\", \"ports\": { \"direct\": 11210 },\n"
    "      \"couchApiBase\": "
    "\"http://node1.example.com:8092/travel-sample%2B9e1d2c3b4a5f60718293a4b5c6d7e8f9\" },\n"
    "    { \"hostname\": \"node2.example.com:8091\", \"ports\": { \"direct\": 11210 },\n"
    "      \"couchApiBase\": "
    "\"http://node2.example.com:8092/travel-sample%2B9e1d2c3b4a5f60718293a4b5c6d7e8f9\" },\n"
    "    { \"hostname\": \"node3.example.com:8091\", \"ports\": { \"direct\": 11210 },\n"
    "      \"couchApiBase\": "
    "\"http://node3.example.com:8092/travel-sample%2B9e1d2c3b4a5f60718293a4b5c6d7e8f9\" }\n"
    "  ],\n"
    "  \"nodesExt\": [\n"
    "    { \"hostname\": \"node1.example.com\",\n"
    "      \"services\": { \"kv\": 11210, \"kvSSL\": 11207, \"mgmt\": 8091, \"mgmtSSL\": 18091, "
    "\"n1ql\": 8093, \"n1qlSSL\": 18093 },\n"
    "      \"nodeUUID\": \"00000000000000000000000000000001\" },\n"
    "    { \"hostname\": \"node2.example.com\",\n"
    "      \"services\": { \"kv\": 11210, \"kvSSL\": 11207, \"mgmt\": 8091, \"mgmtSSL\": 18091, "
    "\"n1ql\": 8093, \"n1qlSSL\": 18093 },\n"
    "      \"nodeUUID\": \"00000000000000000000000000000002\",\n"
    "      \"thisNode\": true },\n"
    "    { \"hostname\": \"node3.example.com\",\n"
    "      \"services\": { \"kv\": 11210, \"kvSSL\": 11207, \"mgmt\": 8091, \"mgmtSSL\": 18091, "
    "\"n1ql\": 8093, \"n1qlSSL\": 18093 },\n"
    "      \"nodeUUID\": \"00000000000000000000000000000003\" }\n"
    "  ],\n"
    "  \"vBucketServerMap\": {\n"
    "    \"hashAlgorithm\": \"CRC\",\n"
    "    \"numReplicas\": 1,\n"
    "    \"serverList\": [\"node1.example.com:11210\", \"node2.example.com:11210\", "
    "\"node3.example.com:11210\"],\n"
    "    \"vBucketMap\": [[0, 1], [1, 2], [2, 0], [0, 1], [1, 2], [2, 0], [0, 1], [1, 2]]\n"
    "  }\n"
    "}\n";

static const char *const BUCKET_CAPS[] = {
    "collections", "durableWrite", "tombstonedUserXAttrs", "couchapi", "dcp",  "cbhello",
    "touch",       "cccp",         "xdcrCheckpointing",    "nodesExt", "xattr"};
#define NCAPS (sizeof BUCKET_CAPS / sizeof BUCKET_CAPS[0])

static dv_config *parse_ok(const char *doc, const char *bootstrap, const char *peer)
{
    dv_config *cfg = NULL;
    char err[256];
    dv_error rc = dv_config_parse(doc, strlen(doc), bootstrap, peer, &cfg, err, sizeof err);
    if (rc != DV_ERR_OK) fail_msg("parse failed: %s", err);
    assert_non_null(cfg);
    return cfg;
}

/* Parse must fail with PARSING_FAILURE and a message containing want. */
static void parse_bad(const char *doc, const char *want)
{
    dv_config *cfg = (dv_config *)1;
    char err[256];
    assert_int_equal(dv_config_parse(doc, strlen(doc), "h", "1.2.3.4", &cfg, err, sizeof err),
                     DV_ERR_PARSING_FAILURE);
    assert_null(cfg);
    if (!strstr(err, want)) fail_msg("error \"%s\" does not mention \"%s\"", err, want);
}

static void bucket_config_of_7_4(void **state)
{
    (void)state;
    dv_config *cfg = parse_ok(DOC_BUCKET_7_4, NULL, NULL);
    assert_true(cfg->has_rev && cfg->rev == 1);
    assert_true(cfg->has_rev_epoch && cfg->rev_epoch == 1);
    assert_string_equal(cfg->name, "default");
    assert_string_equal(cfg->uuid, "5c2a8b6de1f44e3c9a0b7f61d2e8c3a4");
    assert_int_equal(cfg->locator, DV_LOCATOR_VBUCKET);
    assert_true(cfg->has_manifest_uid);
    assert_true(cfg->manifest_uid == 0);
    assert_int_equal(cfg->nbucket_caps, NCAPS);
    for (size_t i = 0; i < NCAPS; i++) assert_string_equal(cfg->bucket_caps[i], BUCKET_CAPS[i]);
    assert_int_equal(cfg->ncluster_caps, 0);
    assert_null(cfg->cluster_name);
    assert_null(cfg->cluster_uuid);
    assert_int_equal(cfg->nnodes, 1);
    const dv_config_node *n = &cfg->nodes[0];
    assert_null(n->hostname); /* absent, and no bootstrap host to put in its place */
    assert_true(n->this_node);
    assert_string_equal(n->node_uuid, "a6f0c0e1b2d34c5d8e9f001122334455");
    assert_null(n->server_group);
    assert_null(n->alt);
    assert_int_equal(n->ports[DV_SVC_KV], 11210);
    assert_int_equal(n->ports[DV_SVC_KV_SSL], 11207);
    assert_int_equal(n->ports[DV_SVC_MGMT], 8091);
    assert_int_equal(n->ports[DV_SVC_MGMT_SSL], 18091);
    assert_int_equal(n->ports[DV_SVC_N1QL], 0);
    assert_int_equal(n->ports[DV_SVC_CAPI], 0);
    assert_int_equal(cfg->num_replicas, 0);
    assert_int_equal(cfg->vbmap.nvb, 8);
    assert_int_equal(cfg->vbmap.width, 1);
    for (uint32_t vb = 0; vb < 8; vb++) assert_int_equal(dv_vbmap_get(&cfg->vbmap, vb, 0), 0);
    dv_config_free(cfg);
}

static void cluster_config_of_7_4(void **state)
{
    (void)state;
    dv_config *cfg = parse_ok(DOC_CLUSTER_7_4, "localhost", "127.0.0.1");
    assert_true(cfg->has_rev && cfg->rev == 1);
    assert_true(cfg->has_rev_epoch && cfg->rev_epoch == 1);
    assert_null(cfg->name);
    assert_null(cfg->uuid);
    assert_int_equal(cfg->locator, DV_LOCATOR_NONE);
    assert_false(cfg->has_manifest_uid);
    assert_int_equal(cfg->nbucket_caps, 0);
    assert_string_equal(cfg->cluster_name, "demo");
    assert_string_equal(cfg->cluster_uuid, "0e3f4b5c6d7e8f901a2b3c4d5e6f7081");
    assert_int_equal(cfg->nnodes, 1);
    assert_string_equal(cfg->nodes[0].hostname, "localhost");
    assert_true(cfg->nodes[0].this_node);
    assert_int_equal(cfg->nodes[0].ports[DV_SVC_KV], 11210);
    assert_int_equal(cfg->nodes[0].ports[DV_SVC_MGMT], 8091);
    assert_int_equal(cfg->nodes[0].ports[DV_SVC_KV_SSL], 0);
    assert_int_equal(cfg->vbmap.nvb, 0);
    assert_int_equal(dv_config_route(cfg, "foo", 3, 0, NULL), -1);
    dv_config_free(cfg);
}

static void three_node_config_of_7_5(void **state)
{
    (void)state;
    dv_config *cfg = parse_ok(DOC_THREE_NODE_7_5, "node1.example.com", "10.0.0.2");
    assert_true(cfg->rev == 42 && cfg->rev_epoch == 1);
    assert_string_equal(cfg->name, "travel-sample");
    assert_string_equal(cfg->uuid, "9e1d2c3b4a5f60718293a4b5c6d7e8f9");
    assert_true(cfg->has_manifest_uid && cfg->manifest_uid == 0xc);
    assert_int_equal(cfg->ncluster_caps, 2);
    assert_string_equal(cfg->cluster_caps[0].service, "n1ql");
    assert_string_equal(cfg->cluster_caps[0].name, "enhancedPreparedStatements");
    assert_string_equal(cfg->cluster_caps[1].service, "n1ql");
    assert_string_equal(cfg->cluster_caps[1].name, "readFromReplica");
    assert_int_equal(cfg->nnodes, 3);
    for (size_t i = 0; i < 3; i++) {
        const dv_config_node *n = &cfg->nodes[i];
        char host[32], uuid[40];
        snprintf(host, sizeof host, "node%zu.example.com", i + 1);
        snprintf(uuid, sizeof uuid, "%032zu", i + 1);
        assert_string_equal(n->hostname, host);
        assert_string_equal(n->node_uuid, uuid);
        assert_int_equal(n->this_node, i == 1);
        assert_int_equal(n->ports[DV_SVC_KV], 11210);
        assert_int_equal(n->ports[DV_SVC_KV_SSL], 11207);
        assert_int_equal(n->ports[DV_SVC_MGMT], 8091);
        assert_int_equal(n->ports[DV_SVC_MGMT_SSL], 18091);
        assert_int_equal(n->ports[DV_SVC_N1QL], 8093);
        assert_int_equal(n->ports[DV_SVC_N1QL_SSL], 18093);
        assert_int_equal(n->ports[DV_SVC_FTS], 0);
    }
    assert_int_equal(cfg->num_replicas, 1);
    assert_int_equal(cfg->vbmap.nvb, 8);
    assert_int_equal(cfg->vbmap.width, 2);
    dv_config_free(cfg);
}

/* The worked examples of 7.6 against the map of 7.5. */
static void keys_route_as_in_the_worked_examples(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        uint16_t vb;
        int active, replica;
    } ex[] = {
        {"foo", 3, 0, 1}, {"hello", 0, 0, 1},      {"counter", 2, 2, 0},
        {"a", 7, 1, 2},   {"airline_10", 1, 1, 2},
    };
    dv_config *cfg = parse_ok(DOC_THREE_NODE_7_5, NULL, NULL);
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        uint16_t vb = 0xffff;
        size_t n = strlen(ex[i].key);
        assert_int_equal(dv_config_route(cfg, ex[i].key, n, 0, &vb), ex[i].active);
        assert_int_equal(vb, ex[i].vb);
        assert_int_equal(dv_config_route(cfg, ex[i].key, n, 1, NULL), ex[i].replica);
        assert_int_equal(dv_config_route(cfg, ex[i].key, n, 2, NULL), -1);
    }
    dv_config_free(cfg);
}

/* 7.3: "$HOST" becomes the socket's peer address, an absent or empty hostname the host the
 * user bootstrapped with; without either, the hostname stays as written. */
static void host_substitution(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"rev\":5,\"nodesExt\":["
        "{\"hostname\":\"$HOST\",\"services\":{\"kv\":11210}},"
        "{\"services\":{\"kv\":11211}},"
        "{\"hostname\":\"\",\"services\":{\"kv\":11212}},"
        "{\"hostname\":\"db.example.com\",\"services\":{\"kv\":11213},"
        " \"alternateAddresses\":{\"external\":{\"hostname\":\"$HOST\",\"ports\":{\"kv\":31210}}}},"
        "{\"hostname\":\"$HOSTS\",\"services\":{\"mgmt\":8091}}]}";
    dv_config *cfg = parse_ok(doc, "localhost", "192.0.2.7");
    assert_string_equal(cfg->nodes[0].hostname, "192.0.2.7");
    assert_string_equal(cfg->nodes[1].hostname, "localhost");
    assert_string_equal(cfg->nodes[2].hostname, "localhost");
    assert_string_equal(cfg->nodes[3].hostname, "db.example.com");
    assert_string_equal(cfg->nodes[3].alt->hostname, "$HOST"); /* only nodesExt hostnames */
    assert_int_equal(cfg->nodes[3].alt->ports[DV_SVC_KV], 31210);
    assert_string_equal(cfg->nodes[4].hostname, "$HOSTS");
    dv_config_free(cfg);

    cfg = parse_ok(doc, NULL, NULL);
    assert_string_equal(cfg->nodes[0].hostname, "$HOST");
    assert_null(cfg->nodes[1].hostname);
    assert_null(cfg->nodes[2].hostname);
    assert_string_equal(cfg->nodes[3].hostname, "db.example.com");
    dv_config_free(cfg);
}

/* Only without nodesExt is the legacy nodes list read. */
static void legacy_nodes_fallback(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"rev\":3,\"name\":\"b\",\"nodeLocator\":\"vbucket\",\"nodes\":["
        "{\"hostname\":\"$HOST:8091\",\"ports\":{\"direct\":11210},\"couchApiBase\":\"x\"},"
        "{\"hostname\":\"[::1]:9000\",\"ports\":{\"direct\":12000},\"thisNode\":true},"
        "{\"hostname\":\"old.example.com:8091\",\"ports\":{\"direct\":11210}}],"
        "\"vBucketServerMap\":{\"serverList\":[\"a:1\",\"b:2\",\"c:3\"],"
        "\"vBucketMap\":[[2,0],[1,-1]]}}";
    dv_config *cfg = parse_ok(doc, "boot", "10.1.1.1");
    assert_int_equal(cfg->nnodes, 3);
    assert_string_equal(cfg->nodes[0].hostname, "10.1.1.1");
    assert_int_equal(cfg->nodes[0].ports[DV_SVC_MGMT], 8091);
    assert_int_equal(cfg->nodes[0].ports[DV_SVC_KV], 11210);
    assert_string_equal(cfg->nodes[1].hostname, "::1");
    assert_int_equal(cfg->nodes[1].ports[DV_SVC_MGMT], 9000);
    assert_int_equal(cfg->nodes[1].ports[DV_SVC_KV], 12000);
    assert_true(cfg->nodes[1].this_node);
    assert_string_equal(cfg->nodes[2].hostname, "old.example.com");
    assert_int_equal(cfg->num_replicas, 1); /* absent: row width - 1 */
    assert_int_equal(dv_vbmap_get(&cfg->vbmap, 0, 0), 2);
    dv_config_free(cfg);

    /* With nodesExt present, nodes is ignored even when it is malformed. */
    cfg = parse_ok("{\"nodes\":7,\"nodesExt\":[{\"services\":{}}]}", NULL, NULL);
    assert_int_equal(cfg->nnodes, 1);
    dv_config_free(cfg);
}

static void malformed_configs_get_clear_errors(void **state)
{
    (void)state;
#define NE "\"nodesExt\":[{\"services\":{\"kv\":11210}},{\"services\":{\"kv\":11211}}]"
#define VBM(rows)                                                                                  \
    "{\"name\":\"b\",\"nodeLocator\":\"vbucket\"," NE ",\"vBucketServerMap\":" rows "}"
    static const struct {
        const char *doc, *want;
    } bad[] = {
        {"", "invalid JSON"},
        {"{\"rev\":1", "invalid JSON"},
        {"[1,2]", "must be a JSON object"},
        {"{\"rev\":1}", "nodesExt is missing"},
        {"{\"nodesExt\":{}}", "nodesExt must be an array"},
        {"{\"nodesExt\":[]}", "nodesExt is empty"},
        {"{\"nodesExt\":[7]}", "nodesExt[0] must be an object"},
        {"{\"nodesExt\":[{\"hostname\":\"a\"}]}", "nodesExt[0].services is missing"},
        {"{\"nodesExt\":[{\"services\":[]}]}", "nodesExt[0].services must be an object"},
        {"{\"nodesExt\":[{\"services\":{\"kv\":65536}}]}", "nodesExt[0].services.kv"},
        {"{\"nodesExt\":[{\"services\":{\"mgmt\":-1}}]}", "nodesExt[0].services.mgmt"},
        {"{\"nodesExt\":[{\"services\":{\"kvSSL\":\"11207\"}}]}", "nodesExt[0].services.kvSSL"},
        {"{\"nodesExt\":[{\"services\":{},\"hostname\":1}]}", "nodesExt[0].hostname"},
        {"{\"nodesExt\":[{\"services\":{},\"thisNode\":1}]}", "nodesExt[0].thisNode"},
        {"{\"nodesExt\":[{\"services\":{},\"nodeUUID\":1}]}", "nodesExt[0].nodeUUID"},
        {"{\"nodesExt\":[{\"services\":{},\"alternateAddresses\":{\"external\":{}}}]}",
         "alternateAddresses.external.hostname"},
        {"{\"nodesExt\":[{\"services\":{},\"alternateAddresses\":"
         "{\"external\":{\"hostname\":\"x\",\"ports\":{\"kv\":1e3}}}}]}",
         "alternateAddresses.external.ports.kv"},
        {"{\"rev\":\"1\"," NE "}", "rev must be an integer"},
        {"{\"rev\":1.0," NE "}", "rev must be an integer"},
        {"{\"revEpoch\":null," NE "}", "revEpoch must be an integer"},
        {"{\"name\":5," NE "}", "name must be a string"},
        {"{\"uuid\":[]," NE "}", "uuid must be a string"},
        {"{\"nodeLocator\":\"crc\"," NE "}", "nodeLocator"},
        {"{\"collectionsManifestUid\":12," NE "}", "collectionsManifestUid"},
        {"{\"collectionsManifestUid\":\"0x1\"," NE "}", "collectionsManifestUid"},
        {"{\"collectionsManifestUid\":\"\"," NE "}", "collectionsManifestUid"},
        {"{\"collectionsManifestUid\":\"10000000000000000\"," NE "}", "collectionsManifestUid"},
        {"{\"bucketCapabilities\":[\"xattr\",1]," NE "}", "bucketCapabilities[1]"},
        {"{\"clusterCapabilities\":{\"n1ql\":\"x\"}," NE "}", "clusterCapabilities.n1ql"},
        {"{\"nodeLocator\":\"vbucket\"," NE "}", "vBucketServerMap is missing"},
        {VBM("[]"), "vBucketServerMap must be an object"},
        {VBM("{}"), "vBucketMap is missing"},
        {VBM("{\"vBucketMap\":[]}"), "vBucketMap is empty"},
        {VBM("{\"vBucketMap\":{}}"), "vBucketMap must be an array"},
        {VBM("{\"vBucketMap\":[[]]}"), "vBucketMap[0]"},
        {VBM("{\"vBucketMap\":[[0,1,-1,-1,-1]]}"), "vBucketMap[0]"},
        {VBM("{\"vBucketMap\":[[0,1],[1]]}"), "vBucketMap[1]"},
        {VBM("{\"vBucketMap\":[[0,1],7]}"), "vBucketMap[1]"},
        {VBM("{\"vBucketMap\":[[0,1],[1,2]]}"), "vBucketMap[1][1]"},
        {VBM("{\"vBucketMap\":[[0,1],[-2,0]]}"), "vBucketMap[1][0]"},
        {VBM("{\"vBucketMap\":[[0,\"1\"]]}"), "vBucketMap[0][1]"},
        {VBM("{\"vBucketMap\":[[0,1]],\"numReplicas\":4}"), "numReplicas"},
        {VBM("{\"vBucketMap\":[[0,1]],\"numReplicas\":\"1\"}"), "numReplicas"},
        {VBM("{\"vBucketMap\":[[0,1]],\"hashAlgorithm\":\"MD5\"}"), "hashAlgorithm"},
        {"{\"nodes\":[{\"hostname\":\"a:8091\"}]}", "nodes[0].ports.direct"},
        {"{\"nodes\":[{\"hostname\":\"a:80x1\",\"ports\":{\"direct\":1}}]}", "nodes[0].hostname"},
        {"{\"nodes\":[{\"hostname\":\"a:\",\"ports\":{\"direct\":1}}]}", "nodes[0].hostname"},
        {"{\"nodes\":[{\"hostname\":\"a:99999\",\"ports\":{\"direct\":1}}]}", "nodes[0].hostname"},
        {"{\"nodes\":[{\"ports\":{\"direct\":1}}]}", "nodes[0].hostname"},
    };
#undef VBM
#undef NE
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) parse_bad(bad[i].doc, bad[i].want);
    /* Without room for a message the error is still reported. */
    dv_config *cfg;
    assert_int_equal(dv_config_parse("{}", 2, NULL, NULL, &cfg, NULL, 0), DV_ERR_PARSING_FAILURE);
}

/* Every prefix of a valid document is refused, never read past (ASan build). */
static void truncated_documents_are_refused(void **state)
{
    (void)state;
    size_t n = strlen(DOC_THREE_NODE_7_5);
    for (size_t len = 0; len < n - 2; len++) {
        char *copy = test_malloc(len ? len : 1);
        memcpy(copy, DOC_THREE_NODE_7_5, len);
        dv_config *cfg = (dv_config *)1;
        assert_int_not_equal(dv_config_parse(copy, len, NULL, NULL, &cfg, NULL, 0), DV_ERR_OK);
        assert_null(cfg);
        test_free(copy);
    }
}

static dv_config *revs(int has_epoch, int64_t epoch, int has_rev, int64_t rev)
{
    dv_config *c = dv_config_new();
    assert_non_null(c);
    c->has_rev_epoch = has_epoch;
    c->rev_epoch = epoch;
    c->has_rev = has_rev;
    c->rev = rev;
    return c;
}

static void revisions_order_by_epoch_then_rev(void **state)
{
    (void)state;
    /* In increasing order; absent is lower than any present value. */
    dv_config *c[] = {
        revs(0, 0, 0, 0),  revs(0, 0, 1, -5),   revs(0, 0, 1, 7),
        revs(1, -3, 0, 0), revs(1, -3, 1, 100), revs(1, 1, 1, 1),
        revs(1, 1, 1, 42), revs(1, 2, 0, 0),    revs(1, 2, 1, 1),
    };
    size_t n = sizeof c / sizeof c[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int cmp = dv_config_rev_compare(c[i], c[j]);
            if (i < j)
                assert_true(cmp < 0);
            else if (i > j)
                assert_true(cmp > 0);
            else
                assert_int_equal(cmp, 0);
        }
    for (size_t i = 0; i < n; i++) dv_config_free(c[i]);
}

static void replacement_rules(void **state)
{
    (void)state;
    const char *why = NULL;
    dv_config *cur = parse_ok(DOC_THREE_NODE_7_5, NULL, NULL); /* rev (1, 42), 8 vbuckets */
    dv_config *next = dv_config_clone(cur);
    assert_non_null(next);

    /* First config: anything usable. */
    assert_true(dv_config_should_replace(NULL, cur, 0, &why));
    assert_null(why);
    /* Same revision: ignored (bumping rev is the server's job). */
    assert_false(dv_config_should_replace(cur, next, 0, &why));
    assert_string_equal(why, "not newer than the current config");
    next->rev = 43;
    assert_true(dv_config_should_replace(cur, next, 0, &why));
    assert_true(dv_config_should_replace(cur, next, 1, &why));
    /* An older rev in a newer epoch is newer; a newer rev in an older epoch is not. */
    next->rev = 1;
    next->rev_epoch = 2;
    assert_true(dv_config_should_replace(cur, next, 0, NULL));
    next->rev = 100;
    next->rev_epoch = 0;
    assert_false(dv_config_should_replace(cur, next, 0, NULL));
    next->has_rev_epoch = 0;
    next->rev_epoch = 0;
    assert_false(dv_config_should_replace(cur, next, 0, NULL));
    next->has_rev_epoch = 1;
    next->rev_epoch = 1;
    next->rev = 43;

    /* A push for another bucket (or a bucket-less one) is dropped; a fetched one is not
     * checked by name. */
    assert_int_equal(dv_config_set_string(&next->name, "other"), DV_ERR_OK);
    assert_false(dv_config_should_replace(cur, next, 1, &why));
    assert_string_equal(why, "pushed config is for another bucket");
    assert_true(dv_config_should_replace(cur, next, 0, NULL));
    assert_int_equal(dv_config_set_string(&next->name, NULL), DV_ERR_OK);
    assert_false(dv_config_should_replace(cur, next, 1, NULL));
    assert_int_equal(dv_config_set_string(&next->name, "travel-sample"), DV_ERR_OK);
    assert_true(dv_config_should_replace(cur, next, 1, NULL));

    /* The vbucket count never changes. */
    dv_vbmap_free(&next->vbmap);
    assert_int_equal(dv_vbmap_spread(&next->vbmap, 16, 3, 1), DV_ERR_OK);
    assert_false(dv_config_should_replace(cur, next, 0, &why));
    assert_string_equal(why, "number of vbuckets changed");
    /* Nor does the map disappear or come empty. */
    dv_vbmap_free(&next->vbmap);
    assert_false(dv_config_should_replace(cur, next, 0, &why));
    assert_false(dv_config_should_replace(NULL, next, 0, &why));
    assert_string_equal(why, "empty vBucketMap");
    assert_false(dv_config_should_replace(cur, NULL, 0, NULL));

    /* Bucket-less sessions: pushes without a name are accepted when newer. */
    dv_config *g1 = parse_ok(DOC_CLUSTER_7_4, NULL, NULL), *g2 = dv_config_clone(g1);
    assert_non_null(g2);
    g2->rev = 2;
    assert_true(dv_config_should_replace(g1, g2, 1, NULL));
    assert_false(dv_config_should_replace(g2, g1, 1, NULL));
    assert_int_equal(dv_config_set_string(&g2->name, "default"), DV_ERR_OK);
    assert_false(dv_config_should_replace(g1, g2, 1, NULL));
    dv_config_free(g1);
    dv_config_free(g2);
    dv_config_free(cur);
    dv_config_free(next);
}

/* ---- generation ------------------------------------------------------------------------- */

static char *render(const dv_config *cfg, int this_node)
{
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_config_write_json(cfg, this_node, &b), DV_ERR_OK);
    assert_int_equal(dv_buf_append_u8(&b, 0), 0);
    char *s = test_malloc(dv_buf_size(&b));
    memcpy(s, dv_buf_head(&b), dv_buf_size(&b));
    dv_buf_free(&b);
    return s;
}

static json_t *load(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j) fail_msg("generated JSON does not load: %s", e.text);
    return j;
}

/* What divan-server sends for a single node bound to all interfaces. */
static dv_config *single_node(void)
{
    dv_config *cfg = dv_config_new();
    assert_non_null(cfg);
    cfg->has_rev = cfg->has_rev_epoch = 1;
    cfg->rev = 7;
    cfg->rev_epoch = 1;
    assert_int_equal(dv_config_set_string(&cfg->name, "default"), DV_ERR_OK);
    assert_int_equal(dv_config_set_string(&cfg->uuid, "5c2a8b6de1f44e3c9a0b7f61d2e8c3a4"), 0);
    cfg->locator = DV_LOCATOR_VBUCKET;
    cfg->has_manifest_uid = 1;
    cfg->manifest_uid = 0x1a;
    for (size_t i = 0; i < NCAPS; i++)
        assert_int_equal(dv_config_add_bucket_cap(cfg, BUCKET_CAPS[i]), DV_ERR_OK);
    dv_config_node *n = dv_config_add_node(cfg);
    assert_non_null(n);
    n->ports[DV_SVC_KV] = 11210;
    n->ports[DV_SVC_MGMT] = 8091;
    n->this_node = 1;
    assert_int_equal(dv_config_set_string(&n->node_uuid, "a6f0c0e1b2d34c5d8e9f001122334455"), 0);
    assert_int_equal(dv_vbmap_spread(&cfg->vbmap, 1024, 1, 0), DV_ERR_OK);
    return cfg;
}

static void single_node_round_trip(void **state)
{
    (void)state;
    dv_config *cfg = single_node();
    char *json = render(cfg, 0);

    /* The document has the shape of 7.4. */
    json_t *j = load(json);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "default");
    assert_string_equal(json_string_value(json_object_get(j, "nodeLocator")), "vbucket");
    assert_string_equal(json_string_value(json_object_get(j, "collectionsManifestUid")), "1a");
    assert_string_equal(json_string_value(json_object_get(j, "bucketCapabilitiesVer")), "");
    assert_int_equal(json_array_size(json_object_get(j, "bucketCapabilities")), NCAPS);
    json_t *ccv = json_object_get(j, "clusterCapabilitiesVer");
    assert_int_equal(json_array_size(ccv), 2);
    assert_int_equal(json_integer_value(json_array_get(ccv, 0)), 1);
    assert_int_equal(json_integer_value(json_array_get(ccv, 1)), 0);
    json_t *cc = json_object_get(j, "clusterCapabilities");
    assert_int_equal(json_object_size(cc), 1);
    assert_true(json_is_array(json_object_get(cc, "n1ql")));
    json_t *legacy = json_array_get(json_object_get(j, "nodes"), 0);
    assert_string_equal(json_string_value(json_object_get(legacy, "hostname")), "$HOST:8091");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(legacy, "ports"), "direct")), 11210);
    assert_string_equal(json_string_value(json_object_get(legacy, "couchApiBase")),
                        "http://$HOST:8092/default%2B5c2a8b6de1f44e3c9a0b7f61d2e8c3a4");
    json_t *ext = json_array_get(json_object_get(j, "nodesExt"), 0);
    assert_null(json_object_get(ext, "hostname")); /* 7.3: omitted for the node itself */
    assert_true(json_is_true(json_object_get(ext, "thisNode")));
    json_t *m = json_object_get(j, "vBucketServerMap");
    assert_string_equal(json_string_value(json_object_get(m, "hashAlgorithm")), "CRC");
    assert_int_equal(json_integer_value(json_object_get(m, "numReplicas")), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(m, "serverList"), 0)),
                        "$HOST:11210");
    assert_int_equal(json_array_size(json_object_get(m, "vBucketMap")), 1024);
    json_decref(j);

    /* Parsed back, every field is equal. */
    dv_config *back = parse_ok(json, NULL, NULL);
    assert_true(dv_config_equal(cfg, back));
    dv_config_free(back);

    /* A client substitutes the name it bootstrapped with. */
    back = parse_ok(json, "localhost", "127.0.0.1");
    assert_string_equal(back->nodes[0].hostname, "localhost");
    assert_int_equal(dv_config_route(back, "foo", 3, 0, NULL), 0);
    uint16_t vb;
    dv_config_route(back, "counter", 7, 0, &vb);
    assert_int_equal(vb, 290);
    dv_config_free(back);

    /* "$HOST" and "" in the model mean the node itself too. */
    assert_int_equal(dv_config_set_string(&cfg->nodes[0].hostname, "$HOST"), DV_ERR_OK);
    char *again = render(cfg, 0);
    assert_string_equal(again, json);
    test_free(again);
    test_free(json);
    dv_config_free(cfg);
}

/* The 7.5 cluster built by hand, rendered for node 2, equals the document of 7.5. */
static void three_node_round_trip(void **state)
{
    (void)state;
    dv_config *cfg = dv_config_new();
    assert_non_null(cfg);
    cfg->has_rev = cfg->has_rev_epoch = 1;
    cfg->rev = 42;
    cfg->rev_epoch = 1;
    assert_int_equal(dv_config_set_string(&cfg->name, "travel-sample"), DV_ERR_OK);
    assert_int_equal(dv_config_set_string(&cfg->uuid, "9e1d2c3b4a5f60718293a4b5c6d7e8f9"), 0);
    cfg->locator = DV_LOCATOR_VBUCKET;
    cfg->has_manifest_uid = 1;
    cfg->manifest_uid = 0xc;
    for (size_t i = 0; i < NCAPS; i++)
        assert_int_equal(dv_config_add_bucket_cap(cfg, BUCKET_CAPS[i]), DV_ERR_OK);
    assert_int_equal(dv_config_add_cluster_cap(cfg, "n1ql", "enhancedPreparedStatements"), 0);
    assert_int_equal(dv_config_add_cluster_cap(cfg, "n1ql", "readFromReplica"), 0);
    for (int i = 0; i < 3; i++) {
        dv_config_node *n = dv_config_add_node(cfg);
        assert_non_null(n);
        char host[32], uuid[40];
        snprintf(host, sizeof host, "node%d.example.com", i + 1);
        snprintf(uuid, sizeof uuid, "%032d", i + 1);
        assert_int_equal(dv_config_set_string(&n->hostname, host), DV_ERR_OK);
        assert_int_equal(dv_config_set_string(&n->node_uuid, uuid), DV_ERR_OK);
        n->ports[DV_SVC_KV] = 11210;
        n->ports[DV_SVC_KV_SSL] = 11207;
        n->ports[DV_SVC_MGMT] = 8091;
        n->ports[DV_SVC_MGMT_SSL] = 18091;
        n->ports[DV_SVC_N1QL] = 8093;
        n->ports[DV_SVC_N1QL_SSL] = 18093;
    }
    cfg->num_replicas = 1;
    assert_int_equal(dv_vbmap_spread(&cfg->vbmap, 8, 3, 1), DV_ERR_OK);

    char *json = render(cfg, 1);
    dv_config *back = parse_ok(json, "node1.example.com", "10.0.0.9");
    dv_config *doc = parse_ok(DOC_THREE_NODE_7_5, NULL, NULL);
    assert_true(dv_config_equal(back, doc));
    assert_false(dv_config_equal(back, cfg)); /* cfg has no thisNode flag set */
    cfg->nodes[1].this_node = 1;
    assert_true(dv_config_equal(back, cfg));

    /* serverList and the legacy nodes list follow nodesExt order. */
    json_t *j = load(json);
    json_t *sl = json_object_get(json_object_get(j, "vBucketServerMap"), "serverList");
    assert_int_equal(json_array_size(sl), 3);
    assert_string_equal(json_string_value(json_array_get(sl, 2)), "node3.example.com:11210");
    json_t *n2 = json_array_get(json_object_get(j, "nodes"), 1);
    assert_string_equal(json_string_value(json_object_get(n2, "hostname")),
                        "node2.example.com:8091");
    assert_string_equal(json_string_value(json_object_get(n2, "couchApiBase")),
                        "http://node2.example.com:8092/travel-sample%2B"
                        "9e1d2c3b4a5f60718293a4b5c6d7e8f9");
    json_t *ext = json_object_get(j, "nodesExt");
    assert_null(json_object_get(json_array_get(ext, 0), "thisNode"));
    assert_true(json_is_true(json_object_get(json_array_get(ext, 1), "thisNode")));
    json_decref(j);

    /* Each node gets its own copy, differing only in thisNode. */
    char *for0 = render(cfg, 0);
    dv_config *back0 = parse_ok(for0, NULL, NULL);
    assert_true(back0->nodes[0].this_node && !back0->nodes[1].this_node);
    /* -1 renders the model's own flags. */
    char *own = render(cfg, -1);
    assert_string_equal(own, json);

    test_free(own);
    test_free(for0);
    test_free(json);
    dv_config_free(back0);
    dv_config_free(back);
    dv_config_free(doc);
    dv_config_free(cfg);
}

static void cluster_level_generation(void **state)
{
    (void)state;
    dv_config *cfg = parse_ok(DOC_CLUSTER_7_4, NULL, NULL);
    char *json = render(cfg, 0);
    json_t *j = load(json);
    assert_null(json_object_get(j, "name"));
    assert_null(json_object_get(j, "vBucketServerMap"));
    assert_null(json_object_get(j, "nodes"));
    assert_null(json_object_get(j, "bucketCapabilities"));
    assert_string_equal(json_string_value(json_object_get(j, "clusterName")), "demo");
    json_decref(j);
    dv_config *back = parse_ok(json, NULL, NULL);
    assert_true(dv_config_equal(cfg, back));
    test_free(json);
    dv_config_free(back);
    dv_config_free(cfg);
}

/* IPv6 literals, alternate addresses, server groups and non-KV nodes survive a round trip. */
static void rich_round_trip(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"rev\":9,\"name\":\"b%1\",\"nodeLocator\":\"vbucket\",\"clusterName\":\"c\","
        "\"clusterCapabilities\":{\"search\":[\"vectorSearch\"],\"n1ql\":[\"indexAdvisor\"]},"
        "\"nodesExt\":["
        "{\"hostname\":\"::1\",\"services\":{\"kv\":11210,\"capi\":8092,\"fts\":8094},"
        " \"serverGroup\":\"rack 1\",\"alternateAddresses\":{\"external\":"
        " {\"hostname\":\"ext.example.com\",\"ports\":{\"kv\":31210,\"mgmt\":38091}}}},"
        "{\"hostname\":\"q.example.com\",\"services\":{\"n1ql\":8093,\"cbas\":8095,"
        " \"eventingAdminPort\":8096,\"eventingSSL\":18096,\"indexAdmin\":9100}}],"
        "\"vBucketServerMap\":{\"numReplicas\":2,\"vBucketMap\":[[0,-1,-1],[0,-1,-1]]}}";
    dv_config *cfg = parse_ok(doc, NULL, NULL);
    assert_int_equal(cfg->nodes[1].ports[DV_SVC_EVENTING], 8096);
    assert_int_equal(cfg->num_replicas, 2);
    char *json = render(cfg, -1);
    json_t *j = load(json);
    json_t *sl = json_object_get(json_object_get(j, "vBucketServerMap"), "serverList");
    assert_int_equal(json_array_size(sl), 1); /* only nodes with a kv port */
    assert_string_equal(json_string_value(json_array_get(sl, 0)), "[::1]:11210");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "nodes"), 0), "couchApiBase")),
                        "http://[::1]:8092/b%251");
    json_decref(j);
    dv_config *back = parse_ok(json, NULL, NULL);
    assert_true(dv_config_equal(cfg, back));
    dv_config *copy = dv_config_clone(back);
    assert_non_null(copy);
    assert_true(dv_config_equal(copy, cfg));
    copy->nodes[0].alt->ports[DV_SVC_KV] = 1;
    assert_false(dv_config_equal(copy, cfg));
    test_free(json);
    dv_config_free(copy);
    dv_config_free(back);
    dv_config_free(cfg);
}

static void generation_refuses_what_parsing_would_refuse(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_buf_append(&b, "keep", 4), 0);
    dv_config *cfg = single_node();

    assert_int_equal(dv_config_write_json(cfg, 1, &b), DV_ERR_INVALID_ARGUMENT); /* no node 1 */
    dv_vbmap_set(&cfg->vbmap, 5, 0, 1);
    assert_int_equal(dv_config_write_json(cfg, 0, &b), DV_ERR_INVALID_ARGUMENT);
    dv_vbmap_free(&cfg->vbmap);
    assert_int_equal(dv_config_write_json(cfg, 0, &b), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_vbmap_spread(&cfg->vbmap, 8, 1, 0), DV_ERR_OK);
    cfg->num_replicas = 4;
    assert_int_equal(dv_config_write_json(cfg, 0, &b), DV_ERR_INVALID_ARGUMENT);
    cfg->num_replicas = 0;
    assert_int_equal(dv_config_set_string(&cfg->nodes[0].hostname, "bad\xff"), DV_ERR_OK);
    assert_int_equal(dv_config_write_json(cfg, 0, &b), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_config_set_string(&cfg->nodes[0].hostname, NULL), DV_ERR_OK);
    assert_int_equal(dv_config_add_cluster_cap(cfg, "n1ql\xc0\x80", "x"), DV_ERR_OK);
    assert_int_equal(dv_config_write_json(cfg, 0, &b), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_buf_size(&b), 4);
    assert_memory_equal(dv_buf_head(&b), "keep", 4);

    dv_config *empty = dv_config_new();
    assert_int_equal(dv_config_write_json(empty, -1, &b), DV_ERR_INVALID_ARGUMENT); /* no nodes */
    dv_config_free(empty);

    /* Output is appended after what the buffer holds. */
    dv_config_free(cfg);
    cfg = single_node();
    assert_int_equal(dv_config_write_json(cfg, 0, &b), DV_ERR_OK);
    assert_memory_equal(dv_buf_head(&b), "keep{", 5);
    dv_buf_free(&b);
    dv_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bucket_config_of_7_4),
        cmocka_unit_test(cluster_config_of_7_4),
        cmocka_unit_test(three_node_config_of_7_5),
        cmocka_unit_test(keys_route_as_in_the_worked_examples),
        cmocka_unit_test(host_substitution),
        cmocka_unit_test(legacy_nodes_fallback),
        cmocka_unit_test(malformed_configs_get_clear_errors),
        cmocka_unit_test(truncated_documents_are_refused),
        cmocka_unit_test(revisions_order_by_epoch_then_rev),
        cmocka_unit_test(replacement_rules),
        cmocka_unit_test(single_node_round_trip),
        cmocka_unit_test(three_node_round_trip),
        cmocka_unit_test(cluster_level_generation),
        cmocka_unit_test(rich_round_trip),
        cmocka_unit_test(generation_refuses_what_parsing_would_refuse),
    };
    return TU_RUN(tests);
}
