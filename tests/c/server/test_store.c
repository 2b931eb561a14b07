#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

#include "server/store.h"

static dv_item *doc(uint32_t cid, const char *key, const char *value)
{
    dv_item *it =
        dv_item_new(cid, key, (uint32_t)strlen(key), NULL, 0, value, (uint32_t)strlen(value));
    assert_non_null(it);
    return it;
}

static uint64_t put(dv_store *s, uint16_t vbid, dv_item *it)
{
    dv_vbucket *vb = dv_store_lock(s, vbid);
    uint64_t cas = dv_vbucket_install(vb, it, 0);
    dv_vbucket_unlock(vb);
    return cas;
}

/* A reference to the item for key, or NULL. */
static dv_item *get(dv_store *s, uint16_t vbid, uint32_t cid, const char *key, uint32_t now)
{
    dv_vbucket *vb = dv_store_lock(s, vbid);
    dv_item *it = dv_vbucket_find(vb, cid, key, strlen(key), now);
    if (it) dv_item_ref(it);
    dv_vbucket_unlock(vb);
    return it;
}

/* GET_LOCKED's locks live in the vbucket: they hold until their time or an unlock, and a newer
 * version of the document is not locked. Items take only their fields and bytes. */
static void locks(void **state)
{
    (void)state;
    dv_store *s = dv_store_new(4, 1);
    assert_non_null(s);
    put(s, 1, doc(0, "a", "1"));
    put(s, 1, doc(0, "b", "2"));
    dv_vbucket *vb = dv_store_lock(s, 1);
    dv_item *a = dv_vbucket_find(vb, 0, "a", 1, 100), *b = dv_vbucket_find(vb, 0, "b", 1, 100);
    uint64_t cas = 0;
    assert_int_equal(dv_vbucket_locked(vb, a, 100, &cas), 0);
    assert_int_equal(dv_vbucket_lock_item(vb, a, 100, 115, 77), 0);
    assert_int_equal(dv_vbucket_lock_item(vb, b, 100, 130, 88), 0);
    assert_int_equal(dv_vbucket_locked(vb, a, 114, &cas), 1);
    assert_true(cas == 77);
    assert_int_equal(dv_vbucket_locked(vb, a, 115, NULL), 0); /* its time is up */
    dv_vbucket_unlock_item(vb, b);
    assert_int_equal(dv_vbucket_locked(vb, b, 101, NULL), 0);
    /* locked again after its lock ran out (the old record is reused or dropped) */
    assert_int_equal(dv_vbucket_lock_item(vb, a, 120, 140, 99), 0);
    assert_int_equal(dv_vbucket_locked(vb, a, 121, &cas), 1);
    assert_true(cas == 99);
    dv_vbucket_unlock(vb);
    put(s, 1, doc(0, "a", "new"));
    vb = dv_store_lock(s, 1);
    assert_int_equal(dv_vbucket_locked(vb, dv_vbucket_find(vb, 0, "a", 1, 121), 121, NULL), 0);
    dv_vbucket_unlock(vb);
    dv_store_free(s);                                          /* frees the records left */
    assert_null(dv_item_new(0, "k", 70000, NULL, 0, NULL, 0)); /* no key is that long */
    assert_int_equal(offsetof(dv_item, data), 67);
}

static void install_find_replace(void **state)
{
    (void)state;
    dv_store *s = dv_store_new(1024, 1);
    assert_non_null(s);
    assert_null(dv_store_lock(s, 1024));
    uint64_t c1 = put(s, 5, doc(0, "k", "v1"));
    dv_item *it = get(s, 5, 0, "k", 100);
    assert_non_null(it);
    assert_int_equal(it->nvalue, 2);
    assert_memory_equal(dv_item_value(it), "v1", 2);
    assert_true(it->cas == c1);
    assert_int_equal(it->seqno, 1);

    uint64_t c2 = put(s, 5, doc(0, "k", "value2"));
    assert_true(c2 > c1);
    /* The reader's reference still sees the old value. */
    assert_memory_equal(dv_item_value(it), "v1", 2);
    dv_item_release(it);
    it = get(s, 5, 0, "k", 100);
    assert_memory_equal(dv_item_value(it), "value2", 6);
    assert_int_equal(it->seqno, 2);
    assert_int_equal(it->revid, 2);
    dv_item_release(it);

    /* Same key, other collection or other vbucket: distinct documents. */
    assert_null(get(s, 5, 8, "k", 100));
    assert_null(get(s, 6, 0, "k", 100));
    dv_store_stats st;
    dv_store_stats_get(s, &st);
    assert_int_equal(st.items, 1);
    dv_store_free(s);
}

static void expiry_hides_and_reclaims(void **state)
{
    (void)state;
    dv_store *s = dv_store_new(4, 2);
    dv_item *it = doc(0, "e", "x");
    it->exptime = 1000;
    put(s, 0, it);
    dv_item *got = get(s, 0, 0, "e", 999);
    assert_non_null(got);
    dv_item_release(got);
    assert_null(get(s, 0, 0, "e", 1000)); /* never served once expired */
    dv_store_stats st;
    dv_store_stats_get(s, &st);
    assert_int_equal(st.items, 0);
    assert_int_equal(st.reclaimed, 1);

    /* The pager reclaims without a read. */
    for (int i = 0; i < 100; i++) {
        char key[16];
        snprintf(key, sizeof key, "p%d", i);
        it = doc(0, key, "x");
        it->exptime = i < 60 ? 500 : 0;
        put(s, (uint16_t)(i % 4), it);
    }
    assert_int_equal(dv_store_page(s, 600, 0), 60);
    dv_store_stats_get(s, &st);
    assert_int_equal(st.items, 40);
    dv_store_free(s);
}

static void tombstones_and_purge(void **state)
{
    (void)state;
    dv_store *s = dv_store_new(4, 3);
    put(s, 1, doc(0, "t", "x"));
    dv_item *tomb = doc(0, "t", "");
    tomb->deleted = 1;
    put(s, 1, tomb);
    dv_item *got = get(s, 1, 0, "t", 0);
    assert_non_null(got);
    assert_int_equal(got->deleted, 1);
    assert_int_equal(got->seqno, 2);
    dv_item_release(got);
    dv_store_stats st;
    dv_store_stats_get(s, &st);
    assert_int_equal(st.items, 0);
    assert_int_equal(st.tombstones, 1);
    dv_vbucket *vb = dv_store_lock(s, 1);
    dv_vbucket_purge(vb, 0, "t", 1);
    assert_null(dv_vbucket_find(vb, 0, "t", 1, 0));
    dv_vbucket_unlock(vb);
    dv_store_free(s);
}

static void grows_and_drops_collections(void **state)
{
    (void)state;
    dv_store *s = dv_store_new(1, 4);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        put(s, 0, doc((uint32_t)(i % 2 ? 8 : 0), key, "v"));
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        dv_item *it = get(s, 0, (uint32_t)(i % 2 ? 8 : 0), key, 0);
        assert_non_null(it);
        dv_item_release(it);
    }
    dv_store_drop_collection(s, 8);
    dv_store_stats st;
    dv_store_stats_get(s, &st);
    assert_int_equal(st.items, 2500);
    dv_vbucket *vb = dv_store_lock(s, 0);
    assert_int_equal(dv_vbucket_high_seqno(vb), 5000);
    assert_int_not_equal(dv_vbucket_uuid(vb), 0);
    dv_vbucket_unlock(vb);
    dv_store_free(s);
}

typedef struct worker {
    dv_store *s;
    int id;
} worker;

static void *hammer(void *arg)
{
    worker *w = arg;
    char key[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "w%d-%d", w->id, i % 100);
        put(w->s, (uint16_t)(i % 16), doc(0, key, "value"));
        dv_item *it = get(w->s, (uint16_t)(i % 16), 0, key, 0);
        if (it) dv_item_release(it);
    }
    return NULL;
}

/* Concurrent writers on shared vbuckets: every CAS unique per vbucket, counts exact. */
static void concurrent_writers(void **state)
{
    (void)state;
    dv_store *s = dv_store_new(16, 5);
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){s, i};
        pthread_create(&t[i], NULL, hammer, &w[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    dv_store_stats st;
    dv_store_stats_get(s, &st);
    /* key i%100 always lands in vbucket i%16: 4 workers x 100 keys, each in several vbuckets */
    uint64_t seqnos = 0;
    for (uint16_t v = 0; v < 16; v++) {
        dv_vbucket *vb = dv_store_lock(s, v);
        seqnos += dv_vbucket_high_seqno(vb);
        dv_vbucket_unlock(vb);
    }
    assert_int_equal(seqnos, 4 * 2000);
    assert_true(st.items > 0);
    dv_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(install_find_replace),        cmocka_unit_test(locks),
        cmocka_unit_test(expiry_hides_and_reclaims),   cmocka_unit_test(tombstones_and_purge),
        cmocka_unit_test(grows_and_drops_collections), cmocka_unit_test(concurrent_writers),
    };
    return TU_RUN(tests);
}
