/* divan: export macro, allocator and logging hooks. */
#ifndef DIVAN_BASE_H
#define DIVAN_BASE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DV_API __attribute__((visibility("default")))
#else
#define DV_API
#endif

/* Allocator hooks. Every allocation divan makes goes through these. Install before any other
 * call; the table is copied. Passing NULL restores malloc/realloc/free. */
typedef struct dv_allocator {
    void *(*malloc)(size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);
} dv_allocator;

DV_API void dv_set_allocator(const dv_allocator *allocator);

/* Number of live allocations made through the hooks, in builds with DV_ALLOC_COUNT (debug and
 * test builds); -1 where counting is compiled out. Tests assert it is zero at exit. */
DV_API long dv_alloc_live(void);

typedef enum dv_log_level {
    DV_LOG_ERROR = 0,
    DV_LOG_WARN = 1,
    DV_LOG_INFO = 2,
    DV_LOG_DEBUG = 3,
    DV_LOG_TRACE = 4,
} dv_log_level;

/* The logging hook: one formatted line, without a trailing newline, borrowed for the call. */
typedef void (*dv_log_fn)(void *ud, dv_log_level level, const char *subsystem, const char *msg);

/* Install a hook (NULL: lines at or below WARN go to stderr, the rest are dropped) and the most
 * verbose level that is formatted at all. */
DV_API void dv_set_log_hook(dv_log_fn fn, void *ud, dv_log_level max_level);

#ifdef __cplusplus
}
#endif
#endif
