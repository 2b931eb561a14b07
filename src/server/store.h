/* divan-server's in-memory document store.
 *
 * A store holds the vbuckets of one bucket; the vbucket is the unit of locking. Documents are
 * immutable, reference-counted items: a mutation builds a new item and installs it in place of
 * the old one, so a reader can take a reference under the lock and serialise the item after
 * releasing it. The few mutable fields (hash chain, queue marks, the locked mark) are touched
 * only under the vbucket's lock. A lock's time and CAS live in the vbucket, not the item: few
 * documents are ever locked, and every one would pay for the fields.
 *
 * Usage, for every operation:
 *     dv_vbucket *vb = dv_store_lock(store, vbid);
 *     dv_item *cur = dv_vbucket_find(vb, cid, key, nkey, now);   // NULL, live or tombstone
 *     ... decide, build a new item ...
 *     cas = dv_vbucket_install(vb, item);                        // takes the reference
 *     dv_vbucket_unlock(vb);
 */
#ifndef DV_SERVER_STORE_H
#define DV_SERVER_STORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dv_item {
    struct dv_item *next; /* hash chain; under the vbucket lock */
    uint64_t cas;
    uint64_t seqno;
    uint64_t revid;
    atomic_uint refs;
    uint32_t hash;
    uint32_t cid;     /* collection id */
    uint32_t flags;   /* user flags, stored and returned as given */
    uint32_t exptime; /* absolute Unix seconds; 0 = never */
    uint32_t nxattr;  /* size of the xattr blob (with its u32 length prefix); 0 = none */
    uint32_t nvalue;
    uint16_t nkey;    /* keys are at most 250 bytes */
    uint8_t datatype; /* JSON bit of the body; values are stored uncompressed */
    uint8_t deleted;  /* tombstone; DV_ITEM_PURGED in a persistence queue only */
    uint8_t queued;   /* in its vbucket's persistence queue, not yet taken; under the lock */
    uint8_t replaced; /* queued, and a newer change of its key is queued too; under the lock */
    uint8_t locked;   /* GET_LOCKED set a lock (its vbucket's lock list says until when) */
    char data[];      /* key, xattr blob, value: right after the fields (no padding) */
} dv_item;

static inline const char *dv_item_key(const dv_item *it)
{
    return it->data;
}
static inline const char *dv_item_xattr(const dv_item *it)
{
    return it->data + it->nkey;
}
static inline const char *dv_item_value(const dv_item *it)
{
    return it->data + it->nkey + it->nxattr;
}

/* A new item with one reference, the given bytes copied in, other fields zero. NULL on
 * allocation failure. Any of the pointers may be NULL to leave that part uninitialised. */
dv_item *dv_item_new(uint32_t cid, const void *key, uint32_t nkey, const void *xattr,
                     uint32_t nxattr, const void *value, uint32_t nvalue);
dv_item *dv_item_ref(dv_item *it);
void dv_item_release(dv_item *it);

typedef struct dv_store dv_store;
typedef struct dv_vbucket dv_vbucket;

/* In a vbucket's persistence queue (below): the key was dropped without a tombstone (expired,
 * purged, its collection dropped, the bucket flushed); storage deletes its record. */
#define DV_ITEM_PURGED 2

typedef struct dv_store_stats {
    uint64_t items;      /* live documents */
    uint64_t tombstones; /* deleted documents kept for their metadata */
    uint64_t bytes;      /* item memory */
    uint64_t reclaimed;  /* expired items and old tombstones reclaimed */
} dv_store_stats;

/* A write hook: fn runs after every install (new documents, replacements, tombstones), under
 * the vbucket's lock, with the item installed. It must not take the vbucket lock or block. */
typedef struct dv_store_hook {
    void (*fn)(void *ud, const dv_item *it);
    void *ud;
} dv_store_hook;

/* Set (or clear, with NULL) the store's hook; h must outlive its use. Clearing waits until no
 * hook call is running (it takes every vbucket lock once), so h may be freed afterwards. */
void dv_store_set_hook(dv_store *s, const dv_store_hook *h);
const dv_store_hook *dv_store_get_hook(dv_store *s);

/* nvb vbuckets (1..65535); seed feeds the vbucket uuids. NULL on allocation failure. */
dv_store *dv_store_new(unsigned nvb, uint64_t seed);
void dv_store_free(dv_store *s);
unsigned dv_store_nvb(const dv_store *s);

/* Vbucket vb without its lock (for the functions that say they need none); vb < nvb. */
dv_vbucket *dv_store_vbucket(dv_store *s, uint16_t vb);
/* Lock vbucket vb; NULL if vb is out of range. */
dv_vbucket *dv_store_lock(dv_store *s, uint16_t vb);
void dv_vbucket_unlock(dv_vbucket *vb);

/* Under the lock. The item for (cid, key), live or tombstone, or NULL. A live item whose expiry
 * has passed at time now is reclaimed and reported absent. Borrowed until the unlock; take a
 * reference to keep it longer. */
dv_item *dv_vbucket_find(dv_vbucket *vb, uint32_t cid, const void *key, size_t nkey, uint32_t now);
/* Under the lock. 1 while a lock set by GET_LOCKED holds it at time now (*lock_cas, if not
 * NULL: the CAS that unlocks it), else 0. */
int dv_vbucket_locked(dv_vbucket *vb, const dv_item *it, uint32_t now, uint64_t *lock_cas);
/* Under the lock. Lock it from now until `until` (Unix seconds) with `cas`: 0, or -1 out of
 * memory. A newer version of the document is not locked: installing one releases the lock. */
int dv_vbucket_lock_item(dv_vbucket *vb, dv_item *it, uint32_t now, uint32_t until, uint64_t cas);
/* Under the lock. Release its lock. */
void dv_vbucket_unlock_item(dv_vbucket *vb, dv_item *it);
/* Under the lock. Install it, replacing the item with the same (cid, key) if any; assigns a
 * new CAS (unique, increasing, a hybrid logical clock) and the vbucket's next seqno unless
 * keep_cas is set (then it->cas is kept and only the seqno advances). Takes over the caller's
 * reference. Returns the item's CAS. */
uint64_t dv_vbucket_install(dv_vbucket *vb, dv_item *it, int keep_cas);
/* Under the lock. Drop the item for (cid, key) entirely (no tombstone). */
void dv_vbucket_purge(dv_vbucket *vb, uint32_t cid, const void *key, size_t nkey);
/* Under the lock. Call fn for every live item of collection cid (not deleted, not expired at
 * now), in no particular order, until fn returns non-zero; returns that value or 0. The items
 * are borrowed until the unlock (fn may take references). */
int dv_vbucket_each(dv_vbucket *vb, uint32_t cid, uint32_t now, int (*fn)(void *ud, dv_item *it),
                    void *ud);
uint64_t dv_vbucket_uuid(const dv_vbucket *vb);
uint64_t dv_vbucket_high_seqno(const dv_vbucket *vb);
uint16_t dv_vbucket_id(const dv_vbucket *vb);
/* A fresh CAS value for lock tokens. */
uint64_t dv_vbucket_next_cas(dv_vbucket *vb);

/* ---- Persistence (server/persist.h drains these) ------------------------------------------
 *
 * Once dv_store_track is called, every install and every removal of a vbucket appends to that
 * vbucket's queue, in order, under its lock: the installed item (a reference) or a
 * DV_ITEM_PURGED marker with the removed key. The storage layer takes each queue whole, writes
 * it in one transaction, and on success records the highest seqno written as the vbucket's
 * persisted seqno; on failure it puts the queue back in front of what came meanwhile. */
void dv_store_track(dv_store *s);
int dv_store_tracked(const dv_store *s);
/* Under the lock. Move the queue to *items (an array the caller frees with dv_free after
 * releasing each item), *n entries; *items is NULL when it is empty. An entry whose key changed
 * again before the take is left out (the newer one, later in the queue, stands for both).
 * Returns the highest seqno of the queue, left-out entries included: once the entries taken are
 * on disk, so is the vbucket up to that seqno. */
uint64_t dv_vbucket_take_queue(dv_vbucket *vb, dv_item ***items, size_t *n);
/* Under the lock. Put a taken queue back in front of the current one (takes over items). */
void dv_vbucket_requeue(dv_vbucket *vb, dv_item **items, size_t n);
/* Entries queued and not yet taken (read without the lock: a hint). */
size_t dv_vbucket_queued(dv_vbucket *vb);
/* The highest seqno known to be on disk (the high seqno when the store is not tracked). */
uint64_t dv_vbucket_persisted_seqno(dv_vbucket *vb);
void dv_vbucket_set_persisted_seqno(dv_vbucket *vb, uint64_t seqno);
/* Recovery, before the store is served: install an item as read from disk (its CAS, seqno and
 * revid kept, nothing queued), and set the vbucket's uuid, high seqno and last CAS. */
void dv_vbucket_restore(dv_vbucket *vb, dv_item *it);
void dv_vbucket_restore_state(dv_vbucket *vb, uint64_t uuid, uint64_t high_seqno,
                              uint64_t last_cas);
uint64_t dv_vbucket_last_cas(const dv_vbucket *vb);

/* Reclaim expired items and tombstones older than tombstone_ttl seconds, one vbucket lock at a
 * time. Returns the number of items reclaimed. */
uint64_t dv_store_page(dv_store *s, uint32_t now, uint32_t tombstone_ttl);
/* Drop every item of collection cid (all when cid is UINT32_MAX). */
void dv_store_drop_collection(dv_store *s, uint32_t cid);
void dv_store_stats_get(dv_store *s, dv_store_stats *out);

#endif
