#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>

static dv_allocator hooks = {malloc, realloc, free};

#ifdef DV_ALLOC_COUNT
#include <stdatomic.h>
static atomic_long live;
#define COUNT(d) atomic_fetch_add_explicit(&live, (d), memory_order_relaxed)
#else
#define COUNT(d) ((void)0)
#endif

void dv_set_allocator(const dv_allocator *a)
{
    if (a)
        hooks = *a;
    else
        hooks = (dv_allocator){malloc, realloc, free};
}

long dv_alloc_live(void)
{
#ifdef DV_ALLOC_COUNT
    return atomic_load(&live);
#else
    return -1;
#endif
}

void *dv_malloc(size_t size)
{
    void *p = hooks.malloc(size ? size : 1);
    if (p) COUNT(1);
    return p;
}

void *dv_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = dv_malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *dv_realloc(void *ptr, size_t size)
{
    if (!ptr) return dv_malloc(size);
    return hooks.realloc(ptr, size ? size : 1);
}

void dv_free(void *ptr)
{
    if (!ptr) return;
    COUNT(-1);
    hooks.free(ptr);
}

char *dv_strndup(const char *s, size_t n)
{
    char *p = dv_malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *dv_strdup(const char *s)
{
    return dv_strndup(s, strlen(s));
}
