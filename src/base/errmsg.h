/* Error messages for callers that pass a buffer: parsers report what is wrong in words. */
#ifndef DV_BASE_ERRMSG_H
#define DV_BASE_ERRMSG_H

#include <stddef.h>

/* Format the message into buf (if buf and len are non-zero) and return err. */
int dv_errmsg(char *buf, size_t len, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
