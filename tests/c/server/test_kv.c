#include "testutil.h"

#include <string.h>

#include "divan/base.h"
#include "mcbp/protocol.h"
#include "server/kv.h"

#define NOW 1800000000u

static dv_store *store;

static int setup(void **state)
{
    (void)state;
    store = dv_store_new(1024, 7);
    return store ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    dv_store_free(store);
    return 0;
}

static dv_kv_req req(uint8_t op, const char *key, const char *value)
{
    dv_kv_req r = {0};
    r.opcode = op;
    r.vbucket = 3;
    r.key = key;
    r.nkey = strlen(key);
    r.value = value;
    r.nvalue = value ? strlen(value) : 0;
    r.now = NOW;
    return r;
}

static dv_kv_res run(dv_kv_req r)
{
    dv_kv_res res;
    dv_kv_execute(store, &r, &res);
    return res;
}

/* The status of op, releasing any item. */
static uint16_t status_of(dv_kv_req r)
{
    dv_kv_res res = run(r);
    if (res.item) dv_item_release(res.item);
    return res.status;
}

static void assert_stored(const char *key, const char *value)
{
    dv_kv_res res = run(req(DV_OP_GET, key, NULL));
    assert_int_equal(res.status, DV_STATUS_SUCCESS);
    assert_int_equal(res.item->nvalue, strlen(value));
    assert_memory_equal(dv_item_value(res.item), value, strlen(value));
    dv_item_release(res.item);
}

static void set_get_add_replace(void **state)
{
    (void)state;
    dv_kv_req r = req(DV_OP_SET, "doc", "{\"a\":1}");
    r.flags = 0x02000000;
    r.datatype = DV_DATATYPE_JSON;
    dv_kv_res set = run(r);
    assert_int_equal(set.status, 0);
    assert_int_not_equal(set.cas, 0);
    assert_int_equal(set.seqno, 1);
    assert_int_not_equal(set.vb_uuid, 0);

    dv_kv_res get = run(req(DV_OP_GET, "doc", NULL));
    assert_int_equal(get.status, 0);
    assert_true(get.cas == set.cas);
    assert_int_equal(get.item->flags, 0x02000000);
    assert_int_equal(get.item->datatype, DV_DATATYPE_JSON);
    dv_item_release(get.item);

    assert_int_equal(status_of(req(DV_OP_ADD, "doc", "x")), DV_STATUS_KEY_EEXISTS);
    assert_int_equal(status_of(req(DV_OP_ADD, "new", "x")), 0);
    assert_int_equal(status_of(req(DV_OP_REPLACE, "missing", "x")), DV_STATUS_KEY_ENOENT);
    assert_int_equal(status_of(req(DV_OP_GET, "missing", NULL)), DV_STATUS_KEY_ENOENT);

    r = req(DV_OP_REPLACE, "doc", "v2");
    r.cas = set.cas + 1;
    assert_int_equal(status_of(r), DV_STATUS_KEY_EEXISTS); /* CAS mismatch */
    r.cas = set.cas;
    assert_int_equal(status_of(r), 0);
    assert_stored("doc", "v2");

    r = req(DV_OP_SET, "absent-cas", "x");
    r.cas = 42;
    assert_int_equal(status_of(r), DV_STATUS_KEY_ENOENT);
    r = req(DV_OP_ADD, "add-cas", "x");
    r.cas = 42;
    assert_int_equal(status_of(r), DV_STATUS_EINVAL);
}

static void delete_leaves_tombstone(void **state)
{
    (void)state;
    assert_int_equal(status_of(req(DV_OP_SET, "del", "x")), 0);
    dv_kv_res d = run(req(DV_OP_DELETE, "del", NULL));
    assert_int_equal(d.status, 0);
    assert_int_equal(status_of(req(DV_OP_GET, "del", NULL)), DV_STATUS_KEY_ENOENT);
    assert_int_equal(status_of(req(DV_OP_DELETE, "del", NULL)), DV_STATUS_KEY_ENOENT);
    dv_kv_res meta = run(req(DV_OP_GET_META, "del", NULL));
    assert_int_equal(meta.status, 0);
    assert_int_equal(meta.deleted, 1);
    assert_true(meta.cas == d.cas);
    assert_int_equal(status_of(req(DV_OP_GET_META, "never", NULL)), DV_STATUS_KEY_ENOENT);
    /* Insert over a tombstone works. */
    assert_int_equal(status_of(req(DV_OP_ADD, "del", "again")), 0);
}

static void append_prepend(void **state)
{
    (void)state;
    assert_int_equal(status_of(req(DV_OP_APPEND, "ap", "x")), DV_STATUS_NOT_STORED);
    assert_int_equal(status_of(req(DV_OP_SET, "ap", "mid")), 0);
    assert_int_equal(status_of(req(DV_OP_APPEND, "ap", "-end")), 0);
    assert_int_equal(status_of(req(DV_OP_PREPEND, "ap", "start-")), 0);
    assert_stored("ap", "start-mid-end");
}

static void counters(void **state)
{
    (void)state;
    dv_kv_req r = req(DV_OP_INCREMENT, "ctr", NULL);
    r.delta = 1;
    r.expiry = DV_COUNTER_NO_CREATE;
    assert_int_equal(status_of(r), DV_STATUS_KEY_ENOENT);
    r.expiry = 0;
    r.initial = 10;
    dv_kv_res c = run(r);
    assert_int_equal(c.status, 0);
    assert_int_equal(c.counter, 10); /* created with the initial value */
    c = run(r);
    assert_int_equal(c.counter, 11);
    assert_stored("ctr", "11");
    r.opcode = DV_OP_DECREMENT;
    r.delta = 100;
    c = run(r);
    assert_int_equal(c.counter, 0); /* clamps at zero */

    assert_int_equal(status_of(req(DV_OP_SET, "big", "18446744073709551615")), 0);
    r = req(DV_OP_INCREMENT, "big", NULL);
    r.delta = 2;
    c = run(r);
    assert_int_equal(c.counter, 1); /* wraps at 2^64 */

    assert_int_equal(status_of(req(DV_OP_SET, "text", "abc")), 0);
    r = req(DV_OP_INCREMENT, "text", NULL);
    r.delta = 1;
    assert_int_equal(status_of(r), DV_STATUS_DELTA_BADVAL);
}

static void expiry_rules(void **state)
{
    (void)state;
    assert_int_equal(dv_kv_expiry_abs(0, NOW), 0);
    assert_int_equal(dv_kv_expiry_abs(10, NOW), NOW + 10);
    assert_int_equal(dv_kv_expiry_abs(2592000, NOW), NOW + 2592000);
    assert_int_equal(dv_kv_expiry_abs(2592001, NOW), NOW); /* absolute, past: expire now */
    assert_int_equal(dv_kv_expiry_abs(NOW + 50, NOW), NOW + 50);

    dv_kv_req r = req(DV_OP_SET, "exp", "x");
    r.expiry = 10;
    assert_int_equal(status_of(r), 0);
    dv_kv_req g = req(DV_OP_GET, "exp", NULL);
    g.now = NOW + 9;
    assert_int_equal(status_of(g), 0);
    g.now = NOW + 10;
    assert_int_equal(status_of(g), DV_STATUS_KEY_ENOENT);

    r = req(DV_OP_SET, "ttl", "x");
    r.expiry = 100;
    assert_int_equal(status_of(r), 0);
    r = req(DV_OP_SET, "ttl", "y");
    r.preserve_ttl = 1;
    assert_int_equal(status_of(r), 0);
    dv_kv_res m = run(req(DV_OP_GET_META, "ttl", NULL));
    assert_int_equal(m.exptime, NOW + 100);

    dv_kv_req t = req(DV_OP_GAT, "ttl", NULL);
    t.expiry = 5;
    dv_kv_res gat = run(t);
    assert_int_equal(gat.status, 0);
    assert_int_equal(gat.item->exptime, NOW + 5);
    assert_memory_equal(dv_item_value(gat.item), "y", 1);
    dv_item_release(gat.item);
    t = req(DV_OP_TOUCH, "nothing", NULL);
    assert_int_equal(status_of(t), DV_STATUS_KEY_ENOENT);
}

static void locking(void **state)
{
    (void)state;
    dv_kv_res set = run(req(DV_OP_SET, "lk", "v"));
    dv_kv_req l = req(DV_OP_GET_LOCKED, "lk", NULL);
    l.lock_time = 5;
    dv_kv_res lk = run(l);
    assert_int_equal(lk.status, 0);
    assert_true(lk.cas != set.cas);
    dv_item_release(lk.item);

    dv_kv_res get = run(req(DV_OP_GET, "lk", NULL));
    assert_true(get.cas == DV_CAS_LOCKED); /* others see the locked CAS */
    dv_item_release(get.item);
    assert_int_equal(status_of(l), DV_STATUS_LOCKED);
    assert_int_equal(status_of(req(DV_OP_SET, "lk", "w")), DV_STATUS_LOCKED);
    assert_int_equal(status_of(req(DV_OP_TOUCH, "lk", NULL)), DV_STATUS_LOCKED);

    dv_kv_req u = req(DV_OP_UNLOCK_KEY, "lk", NULL);
    u.cas = lk.cas + 1;
    assert_int_equal(status_of(u), DV_STATUS_LOCKED);
    u.cas = lk.cas;
    assert_int_equal(status_of(u), 0);
    assert_int_equal(status_of(u), DV_STATUS_NOT_LOCKED);

    /* A write with the lock CAS unlocks. */
    lk = run(l);
    dv_item_release(lk.item);
    dv_kv_req w = req(DV_OP_SET, "lk", "w");
    w.cas = lk.cas;
    assert_int_equal(status_of(w), 0);
    assert_int_equal(status_of(req(DV_OP_SET, "lk", "z")), 0);

    /* The lock expires. */
    lk = run(l);
    dv_item_release(lk.item);
    dv_kv_req later = req(DV_OP_SET, "lk", "q");
    later.now = NOW + 5;
    assert_int_equal(status_of(later), 0);
}

static void limits_and_routing(void **state)
{
    (void)state;
    dv_kv_req r = req(DV_OP_SET, "k", "x");
    r.nvalue = DV_MAX_VALUE_LEN + 1;
    assert_int_equal(status_of(r), DV_STATUS_E2BIG);
    r = req(DV_OP_GET, "k", NULL);
    r.vbucket = 1024;
    assert_int_equal(status_of(r), DV_STATUS_NOT_MY_VBUCKET);
    r = req(DV_OP_NOOP, "k", NULL);
    assert_int_equal(status_of(r), DV_STATUS_UNKNOWN_COMMAND);
    /* Collections are separate key spaces. */
    r = req(DV_OP_SET, "same", "zero");
    assert_int_equal(status_of(r), 0);
    r.cid = 8;
    r.value = "eight";
    r.nvalue = 5;
    assert_int_equal(status_of(r), 0);
    assert_stored("same", "zero");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_get_add_replace), cmocka_unit_test(delete_leaves_tombstone),
        cmocka_unit_test(append_prepend),      cmocka_unit_test(counters),
        cmocka_unit_test(expiry_rules),        cmocka_unit_test(locking),
        cmocka_unit_test(limits_and_routing),
    };
    int failed =
        _cmocka_run_group_tests("kv", tests, sizeof tests / sizeof tests[0], setup, teardown);
    return failed + (dv_alloc_live() > 0);
}
