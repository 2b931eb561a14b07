#include "base/errmsg.h"

#include <stdarg.h>
#include <stdio.h>

int dv_errmsg(char *buf, size_t len, int err, const char *fmt, ...)
{
    if (buf && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, len, fmt, ap);
        va_end(ap);
    }
    return err;
}
