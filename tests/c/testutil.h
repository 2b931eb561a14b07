/* Helpers shared by the C unit tests. */
#ifndef DV_TESTUTIL_H
#define DV_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Parse a hex dump ("80 00 0a ..", whitespace ignored) into a new buffer of *len bytes; the
 * caller frees it with free(). Fails the test on a malformed dump. */
uint8_t *tu_hex(const char *hex, size_t *len);

/* Fail unless p[0..n) holds exactly the bytes of the hex dump. */
void tu_assert_hex(const void *p, size_t n, const char *hex);

/* Run the group, then fail if any allocation made through divan's hooks is still live. */
int tu_run(const char *name, const struct CMUnitTest *tests, size_t n);
#define TU_RUN(tests) tu_run(__FILE__, tests, sizeof(tests) / sizeof((tests)[0]))

#endif
