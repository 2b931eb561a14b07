/* Allocation through the hooks of divan/base.h. */
#ifndef DV_BASE_ALLOC_H
#define DV_BASE_ALLOC_H

#include <stddef.h>
#include "divan/base.h"

void *dv_malloc(size_t size);
void *dv_calloc(size_t n, size_t size);
void *dv_realloc(void *ptr, size_t size);
void dv_free(void *ptr);
/* NUL-terminated copy of n bytes; NULL on allocation failure. */
char *dv_strndup(const char *s, size_t n);
char *dv_strdup(const char *s);

#endif
