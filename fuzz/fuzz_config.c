/* Fuzz the config and manifest parsers: arbitrary bytes as a cluster config (with and without
 * host substitution) and as a collections manifest. Whatever parses must render, and the
 * rendering must parse back to an equal model. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "topology/config.h"
#include "topology/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) abort();                                                                      \
    } while (0)

static void config_round_trip(const uint8_t *data, size_t size, const char *boot, const char *peer)
{
    dv_config *cfg = NULL;
    char err[200];
    dv_error rc = dv_config_parse((const char *)data, size, boot, peer, &cfg, err, sizeof err);
    if (rc != DV_ERR_OK) {
        CHECK(cfg == NULL && (rc == DV_ERR_PARSING_FAILURE || rc == DV_ERR_NO_MEMORY));
        return;
    }
    /* Routing any key stays within the node list. */
    int node = dv_config_route(cfg, data, size, 0, NULL);
    CHECK(node >= -1 && (node < 0 || (size_t)node < cfg->nnodes));

    /* The generator writes "$HOST" as an absent hostname (7.3); compare in that form. */
    for (size_t i = 0; i < cfg->nnodes; i++)
        if (cfg->nodes[i].hostname && strcmp(cfg->nodes[i].hostname, "$HOST") == 0)
            CHECK(dv_config_set_string(&cfg->nodes[i].hostname, NULL) == DV_ERR_OK);

    dv_buf out = DV_BUF_INIT;
    CHECK(dv_config_write_json(cfg, -1, &out) == DV_ERR_OK);
    dv_config *back = NULL;
    rc = dv_config_parse((const char *)dv_buf_head(&out), dv_buf_size(&out), boot, peer, &back, err,
                         sizeof err);
    CHECK(rc == DV_ERR_OK);
    CHECK(dv_config_equal(cfg, back));
    CHECK(dv_config_rev_compare(cfg, back) == 0);
    CHECK(!dv_config_should_replace(cfg, back, 1, NULL));

    dv_config *copy = dv_config_clone(back);
    CHECK(copy && dv_config_equal(copy, cfg));
    dv_config_free(copy);
    dv_config_free(back);
    dv_buf_free(&out);
    dv_config_free(cfg);
}

static void manifest_round_trip(const uint8_t *data, size_t size)
{
    dv_manifest *m = NULL;
    dv_error rc = dv_manifest_parse((const char *)data, size, &m, NULL, 0);
    if (rc != DV_ERR_OK) {
        CHECK(m == NULL);
        return;
    }
    uint32_t cid;
    rc = dv_manifest_lookup(m, (const char *)data, size > 64 ? 64 : size, &cid);
    CHECK(rc == DV_ERR_OK || rc == DV_ERR_INVALID_ARGUMENT || rc == DV_ERR_SCOPE_NOT_FOUND ||
          rc == DV_ERR_COLLECTION_NOT_FOUND);
    dv_buf out = DV_BUF_INIT;
    CHECK(dv_manifest_write_json(m, &out) == DV_ERR_OK);
    dv_manifest *back = NULL;
    CHECK(dv_manifest_parse((const char *)dv_buf_head(&out), dv_buf_size(&out), &back, NULL, 0) ==
          DV_ERR_OK);
    CHECK(dv_manifest_equal(m, back));
    dv_manifest_free(back);
    dv_buf_free(&out);
    dv_manifest_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    config_round_trip(data, size, NULL, NULL);
    config_round_trip(data, size, "localhost", "127.0.0.1");
    manifest_round_trip(data, size);
    /* Key hashing takes any bytes. */
    CHECK(dv_vbucket_of(data, size, 1024) < 1024);
    return 0;
}
