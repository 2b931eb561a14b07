/* dv_res_dup: a result that outlives its callback, in one allocation. */
#include <stdalign.h>
#include <string.h>

#include "base/alloc.h"
#include "divan/client.h"

/* Lays the copy out in one block: pass 1 (base NULL) only counts, pass 2 copies. */
typedef struct arena {
    char *base;
    size_t used;
} arena;

static void *arena_put(arena *a, const void *p, size_t n, size_t align)
{
    a->used = (a->used + align - 1) / align * align;
    void *at = a->base ? a->base + a->used : NULL;
    if (at && n) memcpy(at, p, n);
    a->used += n;
    return at;
}

/* n bytes of p and a NUL after them. */
static const char *arena_bytes_z(arena *a, const void *p, size_t n)
{
    char *at = arena_put(a, p, n, 1);
    arena_put(a, "", 1, 1);
    return at;
}

static const char *arena_str(arena *a, const char *s)
{
    return s ? arena_bytes_z(a, s, strlen(s)) : NULL;
}

static void layout(arena *a, const dv_res *src, dv_res *dst)
{
    dv_error_context *ctx = arena_put(a, src->ctx, sizeof *src->ctx, alignof(dv_error_context));
    dv_subdoc_res *specs =
        src->nspecs ? arena_put(a, src->specs, src->nspecs * sizeof *specs, alignof(dv_subdoc_res))
                    : NULL;
    dv_endpoint *eps = src->nendpoints ? arena_put(a, src->endpoints, src->nendpoints * sizeof *eps,
                                                   alignof(dv_endpoint))
                                       : NULL;
    const char *key = src->ctx->key ? arena_bytes_z(a, src->ctx->key, src->ctx->key_len) : NULL;
    const char *strs[] = {arena_str(a, src->ctx->bucket),        arena_str(a, src->ctx->scope),
                          arena_str(a, src->ctx->collection),    arena_str(a, src->ctx->node),
                          arena_str(a, src->ctx->retry_reasons), arena_str(a, src->ctx->message)};
    const void *value = src->value ? arena_put(a, src->value, src->value_len, 1) : NULL;
    const char *token_bucket = src->has_token ? arena_str(a, src->token.bucket_name) : NULL;
    for (size_t i = 0; i < src->nspecs; i++) {
        const void *v = src->specs[i].value
                            ? arena_put(a, src->specs[i].value, src->specs[i].value_len, 1)
                            : NULL;
        if (specs) specs[i].value = v;
    }
    for (size_t i = 0; i < src->nendpoints; i++) {
        const char *remote = arena_str(a, src->endpoints[i].remote);
        const char *bucket = arena_str(a, src->endpoints[i].bucket);
        if (eps) {
            eps[i].remote = remote;
            eps[i].bucket = bucket;
        }
    }
    if (!dst) return;
    *dst = *src;
    ctx->key = key;
    ctx->bucket = strs[0];
    ctx->scope = strs[1];
    ctx->collection = strs[2];
    ctx->node = strs[3];
    ctx->retry_reasons = strs[4];
    ctx->message = strs[5];
    dst->ctx = ctx;
    dst->value = value;
    dst->token.bucket_name = token_bucket;
    dst->specs = specs;
    dst->endpoints = eps;
}

dv_res *dv_res_dup(const dv_res *res)
{
    if (!res || !res->ctx) return NULL;
    arena a = {NULL, sizeof(dv_res)};
    layout(&a, res, NULL);
    dv_res *copy = dv_malloc(a.used);
    if (!copy) return NULL;
    a.base = (char *)copy;
    a.used = sizeof(dv_res);
    layout(&a, res, copy);
    return copy;
}

void dv_res_free(dv_res *res)
{
    dv_free(res);
}
