#include "server/store.h"

#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"

struct dv_vbucket {
    pthread_mutex_t mu;
    dv_store *store;
    dv_item **table;
    size_t mask; /* table size - 1 (a power of two) */
    size_t count;
    uint64_t uuid;
    uint64_t high_seqno;
    uint64_t last_cas;
    uint16_t id;
    /* The persistence queue (store.h), when the store is tracked. */
    dv_item **q;
    size_t nq, capq;
    atomic_size_t nq_hint;
    atomic_uint_fast64_t persisted;
    struct vlock *locks; /* the locked items (few): matched by address, only for items marked
                          * locked, so a record outliving its item is never read through */
};

typedef struct vlock {
    struct vlock *next;
    const dv_item *it;
    uint32_t until;
    uint64_t cas;
} vlock;

struct dv_store {
    _Atomic(const dv_store_hook *) hook;
    int tracked;
    unsigned nvb;
    atomic_uint_fast64_t items, tombstones, bytes, reclaimed;
    dv_vbucket vbs[];
};

#define INITIAL_SLOTS 16

dv_item *dv_item_new(uint32_t cid, const void *key, uint32_t nkey, const void *xattr,
                     uint32_t nxattr, const void *value, uint32_t nvalue)
{
    if (nkey > UINT16_MAX) return NULL;
    size_t size = offsetof(dv_item, data) + (size_t)nkey + nxattr + nvalue;
    dv_item *it = dv_malloc(size);
    if (!it) return NULL;
    memset(it, 0, offsetof(dv_item, data));
    atomic_init(&it->refs, 1);
    it->cid = cid;
    it->nkey = (uint16_t)nkey;
    it->nxattr = nxattr;
    it->nvalue = nvalue;
    if (key && nkey) memcpy(it->data, key, nkey);
    if (xattr && nxattr) memcpy(it->data + nkey, xattr, nxattr);
    if (value && nvalue) memcpy(it->data + nkey + nxattr, value, nvalue);
    return it;
}

dv_item *dv_item_ref(dv_item *it)
{
    atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed);
    return it;
}

void dv_item_release(dv_item *it)
{
    if (it && atomic_fetch_sub_explicit(&it->refs, 1, memory_order_acq_rel) == 1) dv_free(it);
}

static size_t item_bytes(const dv_item *it)
{
    return offsetof(dv_item, data) + it->nkey + it->nxattr + it->nvalue;
}

/* FNV-1a over the key, mixed with the collection id. */
static uint32_t key_hash(uint32_t cid, const void *key, size_t n)
{
    const uint8_t *p = key;
    uint64_t h = 0xcbf29ce484222325ull ^ cid;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return (uint32_t)(h ^ (h >> 32));
}

dv_store *dv_store_new(unsigned nvb, uint64_t seed)
{
    if (nvb == 0 || nvb > 65535) return NULL;
    dv_store *s = dv_calloc(1, sizeof *s + nvb * sizeof(dv_vbucket));
    if (!s) return NULL;
    s->nvb = nvb;
    uint64_t x = seed ^ 0x9e3779b97f4a7c15ull;
    for (unsigned i = 0; i < nvb; i++) {
        dv_vbucket *vb = &s->vbs[i];
        vb->table = dv_calloc(INITIAL_SLOTS, sizeof *vb->table);
        if (!vb->table) {
            s->nvb = i;
            dv_store_free(s);
            return NULL;
        }
        pthread_mutex_init(&vb->mu, NULL);
        vb->store = s;
        vb->mask = INITIAL_SLOTS - 1;
        vb->id = (uint16_t)i;
        /* splitmix64: distinct, non-zero uuids per vbucket */
        x += 0x9e3779b97f4a7c15ull;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        vb->uuid = (z ^ (z >> 31)) | 1;
    }
    return s;
}

static void account(dv_store *s, const dv_item *it, int sign)
{
    uint64_t b = item_bytes(it);
    if (sign > 0) {
        atomic_fetch_add(&s->bytes, b);
        atomic_fetch_add(it->deleted ? &s->tombstones : &s->items, 1);
    } else {
        atomic_fetch_sub(&s->bytes, b);
        atomic_fetch_sub(it->deleted ? &s->tombstones : &s->items, 1);
    }
}

void dv_store_free(dv_store *s)
{
    if (!s) return;
    for (unsigned i = 0; i < s->nvb; i++) {
        dv_vbucket *vb = &s->vbs[i];
        for (size_t j = 0; j <= vb->mask; j++) {
            for (dv_item *it = vb->table[j], *next; it; it = next) {
                next = it->next;
                dv_item_release(it);
            }
        }
        for (size_t j = 0; j < vb->nq; j++) dv_item_release(vb->q[j]);
        for (vlock *l = vb->locks, *next; l; l = next) {
            next = l->next;
            dv_free(l);
        }
        dv_free(vb->q);
        dv_free(vb->table);
        pthread_mutex_destroy(&vb->mu);
    }
    dv_free(s);
}

void dv_store_set_hook(dv_store *s, const dv_store_hook *h)
{
    atomic_store(&s->hook, h);
    if (!h)
        for (unsigned i = 0; i < s->nvb; i++) {
            pthread_mutex_lock(&s->vbs[i].mu);
            pthread_mutex_unlock(&s->vbs[i].mu);
        }
}

const dv_store_hook *dv_store_get_hook(dv_store *s)
{
    return atomic_load(&s->hook);
}

int dv_vbucket_each(dv_vbucket *vb, uint32_t cid, uint32_t now, int (*fn)(void *ud, dv_item *it),
                    void *ud)
{
    for (size_t j = 0; j <= vb->mask; j++)
        for (dv_item *it = vb->table[j]; it; it = it->next) {
            if (it->cid != cid || it->deleted || (it->exptime && it->exptime <= now)) continue;
            int rc = fn(ud, it);
            if (rc) return rc;
        }
    return 0;
}

unsigned dv_store_nvb(const dv_store *s)
{
    return s->nvb;
}

dv_vbucket *dv_store_vbucket(dv_store *s, uint16_t vb)
{
    return &s->vbs[vb];
}

dv_vbucket *dv_store_lock(dv_store *s, uint16_t vb)
{
    if (vb >= s->nvb) return NULL;
    pthread_mutex_lock(&s->vbs[vb].mu);
    return &s->vbs[vb];
}

void dv_vbucket_unlock(dv_vbucket *vb)
{
    pthread_mutex_unlock(&vb->mu);
}

int dv_vbucket_locked(dv_vbucket *vb, const dv_item *it, uint32_t now, uint64_t *lock_cas)
{
    if (!it->locked) return 0;
    for (const vlock *l = vb->locks; l; l = l->next)
        if (l->it == it) {
            if (l->until <= now) return 0;
            if (lock_cas) *lock_cas = l->cas;
            return 1;
        }
    return 0;
}

int dv_vbucket_lock_item(dv_vbucket *vb, dv_item *it, uint32_t now, uint32_t until, uint64_t cas)
{
    vlock *found = NULL;
    /* Records of items not locked any more (replaced, expired): dropped by their time. */
    for (vlock **pp = &vb->locks; *pp;) {
        vlock *l = *pp;
        if (l->it == it) {
            found = l;
        } else if (l->until <= now) {
            *pp = l->next;
            dv_free(l);
            continue;
        }
        pp = &l->next;
    }
    if (!found) {
        if (!(found = dv_malloc(sizeof *found))) return -1;
        found->it = it;
        found->next = vb->locks;
        vb->locks = found;
    }
    found->until = until;
    found->cas = cas;
    it->locked = 1;
    return 0;
}

void dv_vbucket_unlock_item(dv_vbucket *vb, dv_item *it)
{
    it->locked = 0;
    for (vlock **pp = &vb->locks; *pp; pp = &(*pp)->next)
        if ((*pp)->it == it) {
            vlock *l = *pp;
            *pp = l->next;
            dv_free(l);
            return;
        }
}

static dv_item **slot_of(dv_vbucket *vb, uint32_t hash, uint32_t cid, const void *key, size_t nkey)
{
    dv_item **pp = &vb->table[hash & vb->mask];
    for (; *pp; pp = &(*pp)->next) {
        dv_item *it = *pp;
        if (it->hash == hash && it->cid == cid && it->nkey == nkey &&
            memcmp(it->data, key, nkey) == 0)
            break;
    }
    return pp;
}

/* Under the lock: append to the persistence queue (takes the reference). An allocation failure
 * drops the entry: the write stays served from memory but may not reach disk. */
static void enqueue(dv_vbucket *vb, dv_item *it)
{
    if (vb->nq == vb->capq) {
        size_t cap = vb->capq ? vb->capq * 2 : 64;
        dv_item **q = dv_realloc(vb->q, cap * sizeof *q);
        if (!q) {
            dv_item_release(it);
            return;
        }
        vb->q = q;
        vb->capq = cap;
    }
    it->queued = 1;
    vb->q[vb->nq++] = it;
    atomic_store(&vb->nq_hint, vb->nq);
}

/* Under the lock: old leaves the table; a queued version of it needs no write of its own. */
static void supersede(dv_item *old)
{
    if (old->queued) old->replaced = 1;
}

static void enqueue_purge(dv_vbucket *vb, const dv_item *old)
{
    dv_item *m = dv_item_new(old->cid, old->data, old->nkey, NULL, 0, NULL, 0);
    if (!m) return;
    m->deleted = DV_ITEM_PURGED;
    enqueue(vb, m);
}

static void unlink_item(dv_vbucket *vb, dv_item **pp)
{
    dv_item *it = *pp;
    if (vb->store->tracked) {
        supersede(it);
        enqueue_purge(vb, it);
    }
    *pp = it->next;
    it->next = NULL;
    vb->count--;
    account(vb->store, it, -1);
    dv_item_release(it);
}

static int expired(const dv_item *it, uint32_t now)
{
    return !it->deleted && it->exptime && it->exptime <= now;
}

dv_item *dv_vbucket_find(dv_vbucket *vb, uint32_t cid, const void *key, size_t nkey, uint32_t now)
{
    dv_item **pp = slot_of(vb, key_hash(cid, key, nkey), cid, key, nkey);
    if (!*pp) return NULL;
    if (expired(*pp, now)) {
        unlink_item(vb, pp);
        atomic_fetch_add(&vb->store->reclaimed, 1);
        return NULL;
    }
    return *pp;
}

static void grow(dv_vbucket *vb)
{
    size_t n = (vb->mask + 1) * 2;
    dv_item **t = dv_calloc(n, sizeof *t);
    if (!t) return; /* keep the longer chains; still correct */
    for (size_t j = 0; j <= vb->mask; j++) {
        for (dv_item *it = vb->table[j], *next; it; it = next) {
            next = it->next;
            it->next = t[it->hash & (n - 1)];
            t[it->hash & (n - 1)] = it;
        }
    }
    dv_free(vb->table);
    vb->table = t;
    vb->mask = n - 1;
}

uint64_t dv_vbucket_next_cas(dv_vbucket *vb)
{
    uint64_t c = dv_clock_wall_ns() & ~0xffffull;
    vb->last_cas = c > vb->last_cas ? c : vb->last_cas + 1;
    return vb->last_cas;
}

uint64_t dv_vbucket_install(dv_vbucket *vb, dv_item *it, int keep_cas)
{
    it->hash = key_hash(it->cid, it->data, it->nkey);
    if (!keep_cas) it->cas = dv_vbucket_next_cas(vb);
    it->seqno = ++vb->high_seqno;
    it->revid = 1;
    dv_item **pp = slot_of(vb, it->hash, it->cid, it->data, it->nkey);
    if (*pp) {
        dv_item *old = *pp;
        it->next = old->next;
        it->revid = old->revid + 1;
        old->next = NULL;
        supersede(old);
        account(vb->store, old, -1);
        dv_item_release(old);
    } else {
        it->next = NULL;
        vb->count++;
    }
    *pp = it;
    account(vb->store, it, 1);
    if (vb->count > vb->mask + 1) grow(vb);
    if (vb->store->tracked) enqueue(vb, dv_item_ref(it));
    const dv_store_hook *h = atomic_load(&vb->store->hook);
    if (h) h->fn(h->ud, it);
    return it->cas;
}

void dv_vbucket_purge(dv_vbucket *vb, uint32_t cid, const void *key, size_t nkey)
{
    dv_item **pp = slot_of(vb, key_hash(cid, key, nkey), cid, key, nkey);
    if (*pp) unlink_item(vb, pp);
}

uint64_t dv_vbucket_uuid(const dv_vbucket *vb)
{
    return vb->uuid;
}

uint64_t dv_vbucket_high_seqno(const dv_vbucket *vb)
{
    return vb->high_seqno;
}

uint16_t dv_vbucket_id(const dv_vbucket *vb)
{
    return vb->id;
}

/* ---- Persistence ------------------------------------------------------------------------ */

void dv_store_track(dv_store *s)
{
    s->tracked = 1;
}

int dv_store_tracked(const dv_store *s)
{
    return s->tracked;
}

uint64_t dv_vbucket_take_queue(dv_vbucket *vb, dv_item ***items, size_t *n)
{
    size_t k = 0;
    uint64_t high = 0;
    for (size_t j = 0; j < vb->nq; j++) {
        dv_item *it = vb->q[j];
        if (it->seqno > high) high = it->seqno;
        if (it->replaced) {
            dv_item_release(it);
            continue;
        }
        it->queued = 0;
        vb->q[k++] = it;
    }
    vb->nq = k;
    *items = vb->q;
    *n = vb->nq;
    vb->q = NULL;
    vb->nq = vb->capq = 0;
    atomic_store(&vb->nq_hint, 0);
    return high;
}

void dv_vbucket_requeue(dv_vbucket *vb, dv_item **items, size_t n)
{
    if (!n) {
        dv_free(items);
        return;
    }
    for (size_t j = 0; j < n; j++) items[j]->queued = 1;
    dv_item **q = dv_realloc(items, (n + vb->nq) * sizeof *q);
    if (!q) {
        /* Keep the older entries (they were acknowledged first); the newer ones are dropped
         * from the queue, and reach disk only with their next change. */
        for (size_t j = 0; j < vb->nq; j++) dv_item_release(vb->q[j]);
        dv_free(vb->q);
        vb->q = items;
        vb->nq = vb->capq = n;
    } else {
        if (vb->nq) memcpy(q + n, vb->q, vb->nq * sizeof *q);
        dv_free(vb->q);
        vb->q = q;
        vb->nq += n;
        vb->capq = vb->nq;
    }
    atomic_store(&vb->nq_hint, vb->nq);
}

size_t dv_vbucket_queued(dv_vbucket *vb)
{
    return atomic_load(&vb->nq_hint);
}

uint64_t dv_vbucket_persisted_seqno(dv_vbucket *vb)
{
    if (!vb->store->tracked) return vb->high_seqno;
    return atomic_load(&vb->persisted);
}

void dv_vbucket_set_persisted_seqno(dv_vbucket *vb, uint64_t seqno)
{
    atomic_store(&vb->persisted, seqno);
}

void dv_vbucket_restore(dv_vbucket *vb, dv_item *it)
{
    it->hash = key_hash(it->cid, it->data, it->nkey);
    dv_item **pp = slot_of(vb, it->hash, it->cid, it->data, it->nkey);
    if (*pp) {
        /* Two records of one key cannot come from one table; keep the newer. */
        if ((*pp)->seqno >= it->seqno) {
            dv_item_release(it);
            return;
        }
        dv_item *old = *pp;
        it->next = old->next;
        account(vb->store, old, -1);
        dv_item_release(old);
    } else {
        it->next = NULL;
        vb->count++;
    }
    *pp = it;
    account(vb->store, it, 1);
    if (it->seqno > vb->high_seqno) vb->high_seqno = it->seqno;
    if (it->cas > vb->last_cas) vb->last_cas = it->cas;
    if (vb->count > vb->mask + 1) grow(vb);
}

void dv_vbucket_restore_state(dv_vbucket *vb, uint64_t uuid, uint64_t high_seqno, uint64_t last_cas)
{
    if (uuid) vb->uuid = uuid;
    if (high_seqno > vb->high_seqno) vb->high_seqno = high_seqno;
    if (last_cas > vb->last_cas) vb->last_cas = last_cas;
    atomic_store(&vb->persisted, vb->high_seqno);
}

uint64_t dv_vbucket_last_cas(const dv_vbucket *vb)
{
    return vb->last_cas;
}

/* Remove every item of vb for which drop() says so. */
static uint64_t sweep(dv_vbucket *vb, int (*drop)(const dv_item *, const void *), const void *arg)
{
    uint64_t n = 0;
    for (size_t j = 0; j <= vb->mask; j++) {
        dv_item **pp = &vb->table[j];
        while (*pp) {
            if (drop(*pp, arg)) {
                unlink_item(vb, pp);
                n++;
            } else {
                pp = &(*pp)->next;
            }
        }
    }
    return n;
}

typedef struct page_arg {
    uint32_t now, tombstone_ttl;
} page_arg;

static int page_drop(const dv_item *it, const void *arg)
{
    const page_arg *a = arg;
    if (it->deleted) {
        /* The CAS is a hybrid logical clock: nanoseconds of the deletion. */
        uint64_t deleted_at = it->cas / DV_NS_PER_SEC;
        return a->tombstone_ttl && deleted_at + a->tombstone_ttl <= a->now;
    }
    return expired(it, a->now);
}

uint64_t dv_store_page(dv_store *s, uint32_t now, uint32_t tombstone_ttl)
{
    page_arg a = {now, tombstone_ttl};
    uint64_t total = 0;
    for (unsigned i = 0; i < s->nvb; i++) {
        dv_vbucket *vb = dv_store_lock(s, (uint16_t)i);
        total += sweep(vb, page_drop, &a);
        dv_vbucket_unlock(vb);
    }
    atomic_fetch_add(&s->reclaimed, total);
    return total;
}

static int cid_drop(const dv_item *it, const void *arg)
{
    uint32_t cid = *(const uint32_t *)arg;
    return cid == UINT32_MAX || it->cid == cid;
}

void dv_store_drop_collection(dv_store *s, uint32_t cid)
{
    for (unsigned i = 0; i < s->nvb; i++) {
        dv_vbucket *vb = dv_store_lock(s, (uint16_t)i);
        sweep(vb, cid_drop, &cid);
        dv_vbucket_unlock(vb);
    }
}

void dv_store_stats_get(dv_store *s, dv_store_stats *out)
{
    out->items = atomic_load(&s->items);
    out->tombstones = atomic_load(&s->tombstones);
    out->bytes = atomic_load(&s->bytes);
    out->reclaimed = atomic_load(&s->reclaimed);
}
