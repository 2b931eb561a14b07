/* The index's collation-ordered skip list (src/query/sorted.c) against a plain reference: random
 * inserts and removals of values that repeat, then every seek (inclusive and exclusive) walked
 * to the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <jansson.h>

#include "query/eval.h"
#include "query/sorted.h"

#define N 400

static uint64_t rng = 88172645463325252ull;
static unsigned next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

static json_t *value_of(unsigned r)
{
    switch (r % 4) { /* mixed types, in several collation classes */
    case 0:
        return json_integer((json_int_t)(r / 4 % 50));
    case 1:
        return json_real((double)(r / 4 % 50) + 0.5);
    case 2: {
        char s[8];
        snprintf(s, sizeof s, "s%02u", r / 4 % 30);
        return json_string(s);
    }
    default:
        return (r / 4) % 2 ? json_true() : json_null();
    }
}

static void test_matches_reference(void **state)
{
    (void)state;
    q_sorted *o = q_sorted_new();
    assert_non_null(o);
    json_t *vals[N] = {0}, *entries[N] = {0};
    int live[N] = {0};
    for (int round = 0; round < 4000; round++) {
        unsigned i = next_rand() % N;
        if (live[i]) {
            q_sorted_remove(o, vals[i], entries[i]);
            json_decref(vals[i]);
            json_decref(entries[i]);
            live[i] = 0;
        } else {
            vals[i] = value_of(next_rand());
            entries[i] = json_integer(i);
            assert_int_equal(q_sorted_insert(o, vals[i], entries[i]), 0);
            live[i] = 1;
        }
    }
    /* the walk from the start is every live entry once, in collation order */
    size_t seen = 0, want = 0;
    for (int i = 0; i < N; i++) want += live[i];
    const json_t *prev = NULL;
    for (q_sorted_node *n = q_sorted_seek(o, NULL, 1); n; n = q_sorted_next(n)) {
        json_int_t i = json_integer_value(q_sorted_entry(n));
        assert_true(live[i]);
        assert_ptr_equal(q_sorted_value(n), vals[i]);
        if (prev) assert_true(q_collate(prev, q_sorted_value(n)) <= 0);
        prev = q_sorted_value(n);
        seen++;
    }
    assert_int_equal(seen, want);
    /* a seek from each live value: exactly the entries >= (or >) it */
    for (int k = 0; k < N; k++) {
        if (!live[k]) continue;
        for (int incl = 0; incl < 2; incl++) {
            size_t expect = 0, got = 0;
            for (int i = 0; i < N; i++) {
                int c = live[i] ? q_collate(vals[i], vals[k]) : -1;
                expect += c > 0 || (c == 0 && incl);
            }
            for (q_sorted_node *n = q_sorted_seek(o, vals[k], incl); n; n = q_sorted_next(n)) got++;
            assert_int_equal(got, expect);
        }
    }
    q_sorted_free(o);
    for (int i = 0; i < N; i++)
        if (live[i]) {
            json_decref(vals[i]);
            json_decref(entries[i]);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_matches_reference)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
