#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>

dv_log_level dv_log_max_level = DV_LOG_WARN;
static dv_log_fn hook;
static void *hook_ud;

void dv_set_log_hook(dv_log_fn fn, void *ud, dv_log_level max_level)
{
    hook = fn;
    hook_ud = ud;
    dv_log_max_level = max_level;
}

static const char *level_names[] = {"error", "warn", "info", "debug", "trace"};

void dv_log_emit(dv_log_level level, const char *subsystem, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (hook)
        hook(hook_ud, level, subsystem, line);
    else if (level <= DV_LOG_WARN)
        fprintf(stderr, "divan %s [%s] %s\n", level_names[level], subsystem, line);
}
