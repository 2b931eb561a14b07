/* dv_res_dup (src/client/res.c): the copy holds everything the result points to, in memory of
 * its own, and is freed in one call. */
#include "testutil.h"

#include <string.h>

#include "base/alloc.h"
#include "divan/client.h"

static void full_result(void **state)
{
    (void)state;
    char key[] = {'k', 0, 'y'}; /* any bytes, not NUL-terminated */
    char value[] = "{\"a\":1}", v0[] = "\"x\"", bucket[] = "b", node[] = "h:1";
    char reasons[] = "key_value_locked", remote[] = "h:11210";
    dv_error_context ctx = {.opcode = 0xd0,
                            .status = 0xc0,
                            .key = key,
                            .key_len = sizeof key,
                            .bucket = bucket,
                            .scope = "s",
                            .collection = NULL,
                            .node = node,
                            .elapsed_us = 7,
                            .retries = 2,
                            .retry_reasons = reasons,
                            .message = ""};
    dv_subdoc_res specs[2] = {{DV_ERR_OK, 0, v0, 3}, {DV_ERR_PATH_NOT_FOUND, 0xc0, NULL, 0}};
    dv_endpoint eps[1] = {
        {3, remote, "127.0.0.1:5000", NULL, DV_ENDPOINT_CONNECTED, 5, DV_ERR_OK, 9, "query"}};
    dv_res res = {.err = DV_ERR_OK,
                  .ctx = &ctx,
                  .cas = 42,
                  .flags = 0x2000000,
                  .datatype = 1,
                  .value = value,
                  .value_len = strlen(value),
                  .has_token = 1,
                  .token = {1, 2, 3, bucket},
                  .specs = specs,
                  .nspecs = 2,
                  .endpoints = eps,
                  .nendpoints = 1};
    dv_res *c = dv_res_dup(&res);
    assert_non_null(c);
    /* the source's memory changes: the copy must not */
    memset(key, '?', sizeof key);
    memset(value, '?', strlen(value));
    memset(v0, '?', 3);
    bucket[0] = node[0] = reasons[0] = remote[0] = '?';
    assert_int_equal(c->cas, 42);
    assert_int_equal(c->value_len, 7);
    assert_memory_equal(c->value, "{\"a\":1}", 7);
    assert_int_equal(c->ctx->key_len, 3);
    assert_memory_equal(c->ctx->key, "k\0y", 3);
    assert_int_equal(c->ctx->key[3], 0);
    assert_string_equal(c->ctx->bucket, "b");
    assert_string_equal(c->ctx->scope, "s");
    assert_null(c->ctx->collection);
    assert_string_equal(c->ctx->node, "h:1");
    assert_string_equal(c->ctx->retry_reasons, "key_value_locked");
    assert_int_equal(c->ctx->retries, 2);
    assert_string_equal(c->token.bucket_name, "b");
    assert_int_equal(c->token.partition_id, 3);
    assert_int_equal(c->nspecs, 2);
    assert_memory_equal(c->specs[0].value, "\"x\"", 3);
    assert_null(c->specs[1].value);
    assert_int_equal(c->specs[1].err, DV_ERR_PATH_NOT_FOUND);
    assert_int_equal(c->nendpoints, 1);
    assert_string_equal(c->endpoints[0].remote, "h:11210");
    assert_string_equal(c->endpoints[0].local, "127.0.0.1:5000");
    assert_null(c->endpoints[0].bucket);
    assert_int_equal(c->endpoints[0].latency_us, 9);
    assert_string_equal(c->endpoints[0].service, "query");
    dv_res_free(c);
}

static void bare_result(void **state)
{
    (void)state;
    dv_error_context ctx = {.status = 0xffff};
    dv_res res = {.err = DV_ERR_DOCUMENT_NOT_FOUND, .ctx = &ctx};
    dv_res *c = dv_res_dup(&res);
    assert_non_null(c);
    assert_int_equal(c->err, DV_ERR_DOCUMENT_NOT_FOUND);
    assert_null(c->value);
    assert_null(c->specs);
    assert_null(c->endpoints);
    assert_null(c->ctx->key);
    assert_int_equal(c->ctx->status, 0xffff);
    assert_ptr_not_equal(c->ctx, &ctx);
    dv_res_free(c);
    assert_null(dv_res_dup(NULL));
    dv_res_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_result),
        cmocka_unit_test(bare_result),
    };
    return TU_RUN(tests);
}
