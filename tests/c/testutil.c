#include "testutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "divan/base.h"

uint8_t *tu_hex(const char *hex, size_t *len)
{
    size_t n = 0, cap = strlen(hex) / 2 + 1;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        if (isspace((unsigned char)*p)) continue;
        assert_true(isxdigit((unsigned char)*p));
        int v = isdigit((unsigned char)*p) ? *p - '0' : tolower((unsigned char)*p) - 'a' + 10;
        if (hi < 0)
            hi = v;
        else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_int_equal(hi, -1);
    *len = n;
    return out;
}

void tu_assert_hex(const void *p, size_t n, const char *hex)
{
    size_t wn;
    uint8_t *want = tu_hex(hex, &wn);
    assert_int_equal(n, wn);
    if (n) assert_memory_equal(p, want, n);
    free(want);
}

int tu_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
    int failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    long live = dv_alloc_live();
    if (live > 0) {
        fprintf(stderr, "%s: %ld allocations still live at exit\n", name, live);
        failed++;
    }
    return failed;
}
