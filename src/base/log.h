/* Logging through the one hook of divan/base.h. */
#ifndef DV_BASE_LOG_H
#define DV_BASE_LOG_H

#include "divan/base.h"

extern dv_log_level dv_log_max_level;

void dv_log_emit(dv_log_level level, const char *subsystem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Arguments are evaluated only when the level is enabled. */
#define dv_log(level, subsystem, ...)                                                              \
    do {                                                                                           \
        if ((level) <= dv_log_max_level) dv_log_emit((level), (subsystem), __VA_ARGS__);           \
    } while (0)

#endif
