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

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t tu_mono_ms(void);

/* Start argv[0] (a path) with stdin on /dev/null; its stdout and stderr on new pipes whose read
 * ends go to *out_fd and *err_fd, or inherited where those are NULL. Fails the test if it cannot
 * start. Returns its pid. */
int tu_spawn(char *const argv[], int *out_fd, int *err_fd);

/* A TCP connection to 127.0.0.1:port, or -1. */
int tu_dial(int port);

/* Run bin with args (NULL-terminated) to completion, within guard_ms (else it is killed and the
 * test fails): its stdout and stderr as strings the caller frees, and its exit status (128 +
 * the signal if one ended it). */
int tu_capture(const char *bin, const char *const *args, int guard_ms, char **out, char **err);

/* Read one line (without the newline) within timeout_ms; 0, or -1 on EOF or timeout. */
int tu_read_line(int fd, char *buf, size_t len, int timeout_ms);

/* The path of one of the build's programs: $env if set, else bin/<name> of the build tree the
 * test binary lives in. */
void tu_program(const char *name, const char *env, char *out, size_t len);

#endif
