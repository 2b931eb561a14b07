/* Key -> vbucket hashing and vbucket maps (kv-protocol.md 7.5, 7.6). */
#include "testutil.h"

#include <string.h>

#include "topology/vbucket.h"

/* The table of kv-protocol.md 7.6: key, crc32, h15, vbucket for 1024/128/64/8 vbuckets. */
static const struct {
    const char *key;
    uint32_t crc;
    uint16_t h15, vb1024, vb128, vb64, vb8;
} hash_table[] = {
    {"", 0x00000000u, 0, 0, 0, 0, 0},
    {"a", 0xe8b7be43u, 26807, 183, 55, 55, 7},
    {"foo", 0x8c736521u, 3187, 115, 115, 51, 3},
    {"hello", 0x3610a686u, 13840, 528, 16, 16, 0},
    {"Hello", 0xf7d18982u, 30673, 977, 81, 17, 1},
    {"key", 0x8a90aba9u, 2704, 656, 16, 16, 0},
    {"counter", 0xc1229478u, 16674, 290, 34, 34, 2},
    {"airline_10", 0x0d694ea7u, 3433, 361, 105, 41, 1},
    {"user::123", 0xe288c9edu, 25224, 648, 8, 8, 0},
    {"123456789", 0xcbf43926u, 19444, 1012, 116, 52, 4},
    {"docid-0", 0xcaa6b6acu, 19110, 678, 38, 38, 6},
    {"docid-1", 0xbda1863au, 15777, 417, 33, 33, 1},
    {"\xc3\xa9t\xc3\xa9", 0x44d16cd4u, 17617, 209, 81, 17, 1}, /* "été" in UTF-8 */
};

static void crc_and_vbuckets_match_the_reference_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof hash_table / sizeof hash_table[0]; i++) {
        const char *k = hash_table[i].key;
        size_t n = strlen(k);
        assert_int_equal(dv_crc32(k, n), hash_table[i].crc);
        assert_int_equal(dv_vbucket_hash(k, n), hash_table[i].h15);
        assert_int_equal(dv_vbucket_of(k, n, 1024), hash_table[i].vb1024);
        assert_int_equal(dv_vbucket_of(k, n, 128), hash_table[i].vb128);
        assert_int_equal(dv_vbucket_of(k, n, 64), hash_table[i].vb64);
        assert_int_equal(dv_vbucket_of(k, n, 8), hash_table[i].vb8);
    }
}

static void hash_uses_every_byte_and_no_more(void **state)
{
    (void)state;
    /* Keys are byte strings: an embedded NUL counts, bytes past len do not. */
    assert_int_not_equal(dv_crc32("a\0b", 3), dv_crc32("a", 1));
    assert_int_equal(dv_crc32("foobar", 3), 0x8c736521u);
    assert_int_equal(dv_vbucket_of("foo", 3, 1), 0);
    assert_int_equal(dv_vbucket_of("foo", 3, 0), 0);
    /* More vbuckets than the 15-bit hash can reach still map below 32768. */
    assert_int_equal(dv_vbucket_of("Hello", 5, 65536), 30673);
}

static void spread_reproduces_the_three_node_example(void **state)
{
    (void)state;
    static const int16_t want[8][2] = {{0, 1}, {1, 2}, {2, 0}, {0, 1},
                                       {1, 2}, {2, 0}, {0, 1}, {1, 2}};
    dv_vbmap m;
    assert_int_equal(dv_vbmap_spread(&m, 8, 3, 1), DV_ERR_OK);
    assert_int_equal(m.nvb, 8);
    assert_int_equal(m.width, 2);
    for (uint32_t vb = 0; vb < 8; vb++)
        for (uint32_t i = 0; i < 2; i++) assert_int_equal(dv_vbmap_get(&m, vb, i), want[vb][i]);
    /* Out of range reads are "no node". */
    assert_int_equal(dv_vbmap_get(&m, 8, 0), -1);
    assert_int_equal(dv_vbmap_get(&m, 0, 2), -1);
    dv_vbmap_free(&m);
    assert_null(m.nodes);
    assert_int_equal(m.nvb, 0);
}

static void spread_is_even_and_never_puts_two_copies_on_one_node(void **state)
{
    (void)state;
    dv_vbmap m;
    assert_int_equal(dv_vbmap_spread(&m, 1024, 3, 2), DV_ERR_OK);
    unsigned active[3] = {0};
    for (uint32_t vb = 0; vb < 1024; vb++) {
        int a = dv_vbmap_get(&m, vb, 0), r1 = dv_vbmap_get(&m, vb, 1), r2 = dv_vbmap_get(&m, vb, 2);
        assert_true(a >= 0 && a < 3);
        assert_true(a != r1 && a != r2 && r1 != r2);
        active[a]++;
    }
    assert_int_equal(active[0], 342);
    assert_int_equal(active[1], 341);
    assert_int_equal(active[2], 341);
    dv_vbmap_free(&m);

    /* The single-node shape: one column of zeros. */
    assert_int_equal(dv_vbmap_spread(&m, 1024, 1, 0), DV_ERR_OK);
    assert_int_equal(m.width, 1);
    for (uint32_t vb = 0; vb < 1024; vb++) assert_int_equal(dv_vbmap_get(&m, vb, 0), 0);
    dv_vbmap_free(&m);
}

static void spread_pads_with_minus_one_when_replicas_exceed_nodes(void **state)
{
    (void)state;
    dv_vbmap m;
    assert_int_equal(dv_vbmap_spread(&m, 4, 2, 3), DV_ERR_OK);
    assert_int_equal(m.width, 4);
    static const int16_t want[4][4] = {
        {0, 1, -1, -1}, {1, 0, -1, -1}, {0, 1, -1, -1}, {1, 0, -1, -1}};
    for (uint32_t vb = 0; vb < 4; vb++)
        for (uint32_t i = 0; i < 4; i++) assert_int_equal(dv_vbmap_get(&m, vb, i), want[vb][i]);
    dv_vbmap_free(&m);

    /* One node with one replica: the real single-node shape [0, -1]. */
    assert_int_equal(dv_vbmap_spread(&m, 16, 1, 1), DV_ERR_OK);
    for (uint32_t vb = 0; vb < 16; vb++) {
        assert_int_equal(dv_vbmap_get(&m, vb, 0), 0);
        assert_int_equal(dv_vbmap_get(&m, vb, 1), -1);
    }
    dv_vbmap_free(&m);
}

static void spread_refuses_impossible_maps(void **state)
{
    (void)state;
    dv_vbmap m;
    assert_int_equal(dv_vbmap_spread(&m, 1024, 0, 0), DV_ERR_INVALID_ARGUMENT);
    assert_null(m.nodes);
    assert_int_equal(dv_vbmap_spread(&m, 0, 1, 0), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_vbmap_spread(&m, DV_VBMAP_MAX_VBUCKETS + 1, 1, 0), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_vbmap_spread(&m, 1024, 2, DV_VBMAP_MAX_WIDTH), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_vbmap_spread(&m, 1024, DV_VBMAP_MAX_NODES + 1, 1), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_vbmap_init(&m, 8, 0), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(m.nvb, 0);
}

static void copy_and_equal(void **state)
{
    (void)state;
    dv_vbmap a, b, c, empty = DV_VBMAP_INIT, empty2 = DV_VBMAP_INIT;
    assert_int_equal(dv_vbmap_spread(&a, 64, 4, 1), DV_ERR_OK);
    assert_int_equal(dv_vbmap_copy(&b, &a), DV_ERR_OK);
    assert_true(dv_vbmap_equal(&a, &b));
    dv_vbmap_set(&b, 63, 1, -1);
    assert_false(dv_vbmap_equal(&a, &b));
    assert_int_equal(dv_vbmap_get(&a, 63, 1), (63 + 1) % 4);
    assert_int_equal(dv_vbmap_spread(&c, 64, 4, 2), DV_ERR_OK);
    assert_false(dv_vbmap_equal(&a, &c)); /* same rows, other width */
    assert_false(dv_vbmap_equal(&a, &empty));
    assert_true(dv_vbmap_equal(&empty, &empty2));
    assert_int_equal(dv_vbmap_copy(&empty2, &empty), DV_ERR_OK);
    assert_null(empty2.nodes);
    dv_vbmap_free(&a);
    dv_vbmap_free(&b);
    dv_vbmap_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc_and_vbuckets_match_the_reference_table),
        cmocka_unit_test(hash_uses_every_byte_and_no_more),
        cmocka_unit_test(spread_reproduces_the_three_node_example),
        cmocka_unit_test(spread_is_even_and_never_puts_two_copies_on_one_node),
        cmocka_unit_test(spread_pads_with_minus_one_when_replicas_exceed_nodes),
        cmocka_unit_test(spread_refuses_impossible_maps),
        cmocka_unit_test(copy_and_equal),
    };
    return TU_RUN(tests);
}
