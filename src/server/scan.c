/* divan-server's range scans; see scan.h. */
#include "server/scan.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "mcbp/protocol.h"

struct dv_scan {
    struct dv_scan *next;
    uint8_t id[DV_RSCAN_ID_LEN];
    const void *owner;
    uint16_t vb;
    uint32_t cid;
    int key_only;
    dv_item **items; /* the snapshot, sorted by key; one reference each */
    size_t n, pos;
    uint32_t last_used; /* Unix seconds */
    int held, cancelled;
};

struct dv_scans {
    pthread_mutex_t lock;
    dv_scan *head;
    size_t count;
};

dv_scans *dv_scans_new(void)
{
    dv_scans *t = dv_calloc(1, sizeof *t);
    if (!t) return NULL;
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        dv_free(t);
        return NULL;
    }
    return t;
}

static void scan_free(dv_scan *sc)
{
    for (size_t i = sc->pos; i < sc->n; i++) dv_item_release(sc->items[i]);
    dv_free(sc->items);
    dv_free(sc);
}

void dv_scans_free(dv_scans *t)
{
    if (!t) return;
    for (dv_scan *sc = t->head, *nx; sc; sc = nx) {
        nx = sc->next;
        scan_free(sc);
    }
    pthread_mutex_destroy(&t->lock);
    dv_free(t);
}

size_t dv_scans_count(dv_scans *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->count;
    pthread_mutex_unlock(&t->lock);
    return n;
}

static uint32_t idle_timeout(const dv_scan_limits *lim)
{
    return lim && lim->idle_timeout ? lim->idle_timeout : DV_SCAN_DEFAULT_IDLE_TIMEOUT;
}

/* Under the lock: unlink (and free unless held, then mark cancelled) every scan matching. */
static void unlink_if(dv_scans *t, int (*match)(const dv_scan *, const void *), const void *arg)
{
    for (dv_scan **pp = &t->head; *pp;) {
        dv_scan *sc = *pp;
        if (!match(sc, arg)) {
            pp = &sc->next;
            continue;
        }
        *pp = sc->next;
        t->count--;
        if (sc->held)
            sc->cancelled = 1;
        else
            scan_free(sc);
    }
}

typedef struct idle_arg {
    uint32_t now, timeout;
} idle_arg;

static int is_idle(const dv_scan *sc, const void *arg)
{
    const idle_arg *a = arg;
    return !sc->held && a->now >= sc->last_used && a->now - sc->last_used >= a->timeout;
}

static void sweep(dv_scans *t, const dv_scan_limits *lim, uint32_t now)
{
    idle_arg a = {now, idle_timeout(lim)};
    unlink_if(t, is_idle, &a);
}

/* ---- Create --------------------------------------------------------------------------------- */

static int term_cmp(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    if (c) return c;
    return na < nb ? -1 : na > nb;
}

static int item_cmp(const void *x, const void *y)
{
    const dv_item *a = *(dv_item *const *)x, *b = *(dv_item *const *)y;
    return term_cmp((const uint8_t *)dv_item_key(a), a->nkey, (const uint8_t *)dv_item_key(b),
                    b->nkey);
}

typedef struct collect {
    const dv_rscan_create *spec;
    dv_item **items;
    size_t n, cap;
    int nomem;
} collect;

static int in_range(const dv_rscan_create *s, const dv_item *it)
{
    if (s->sampling) return 1;
    const uint8_t *k = (const uint8_t *)dv_item_key(it);
    int lo = term_cmp(k, it->nkey, s->start, s->start_len);
    int hi = term_cmp(k, it->nkey, s->end, s->end_len);
    return (s->excl_start ? lo > 0 : lo >= 0) && (s->excl_end ? hi < 0 : hi <= 0);
}

static void sort_items(collect *c)
{
    if (c->n > 1) qsort(c->items, c->n, sizeof *c->items, item_cmp);
}

static int collect_one(void *ud, dv_item *it)
{
    collect *c = ud;
    if (!in_range(c->spec, it)) return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        dv_item **p = dv_realloc(c->items, cap * sizeof *p);
        if (!p) {
            c->nomem = 1;
            return 1;
        }
        c->items = p;
        c->cap = cap;
    }
    c->items[c->n++] = dv_item_ref(it);
    return 0;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Keep a seeded random choice of samples items (all when there are fewer), in key order. The
 * choice depends only on the seed, the vbucket and the vbucket's keys. */
static void sample(collect *c, uint64_t samples, uint64_t seed, uint16_t vb)
{
    sort_items(c);
    if (samples >= c->n) return;
    uint64_t x = seed ^ ((uint64_t)vb << 48);
    for (size_t i = 0; i < samples; i++) {
        size_t j = i + (size_t)(splitmix64(&x) % (c->n - i));
        dv_item *tmp = c->items[i];
        c->items[i] = c->items[j];
        c->items[j] = tmp;
    }
    for (size_t i = samples; i < c->n; i++) dv_item_release(c->items[i]);
    c->n = (size_t)samples;
    sort_items(c);
}

static int owned_by(const dv_scan *sc, const void *owner)
{
    return sc->owner == owner;
}

static size_t owner_count(dv_scans *t, const void *owner)
{
    size_t n = 0;
    for (dv_scan *sc = t->head; sc; sc = sc->next) n += owned_by(sc, owner);
    return n;
}

static void new_id(uint8_t id[DV_RSCAN_ID_LEN])
{
    size_t got = 0;
    while (got < DV_RSCAN_ID_LEN) {
        ssize_t r = getrandom(id + got, DV_RSCAN_ID_LEN - got, 0);
        if (r > 0) got += (size_t)r;
    }
}

static dv_scan *find(dv_scans *t, const uint8_t id[DV_RSCAN_ID_LEN], const void *owner)
{
    for (dv_scan *sc = t->head; sc; sc = sc->next)
        if (sc->owner == owner && memcmp(sc->id, id, DV_RSCAN_ID_LEN) == 0) return sc;
    return NULL;
}

/* Room for one more scan of owner: 0, or EBUSY. Under the lock. */
static uint16_t room(dv_scans *t, const void *owner, const dv_scan_limits *lim)
{
    unsigned per_conn = lim && lim->max_per_conn ? lim->max_per_conn : DV_SCAN_DEFAULT_PER_CONN;
    unsigned per_bucket =
        lim && lim->max_per_bucket ? lim->max_per_bucket : DV_SCAN_DEFAULT_PER_BUCKET;
    if (t->count >= per_bucket || owner_count(t, owner) >= per_conn) return DV_STATUS_EBUSY;
    return 0;
}

uint16_t dv_scans_create(dv_scans *t, dv_store *store, uint16_t vb, const dv_rscan_create *spec,
                         const void *owner, const dv_scan_limits *lim, uint32_t now,
                         uint8_t id[DV_RSCAN_ID_LEN])
{
    pthread_mutex_lock(&t->lock);
    sweep(t, lim, now);
    uint16_t st = room(t, owner, lim);
    pthread_mutex_unlock(&t->lock);
    if (st) return st;

    dv_vbucket *v = dv_store_lock(store, vb);
    if (!v) return DV_STATUS_NOT_MY_VBUCKET;
    if (spec->has_snapshot) {
        if (dv_vbucket_uuid(v) != spec->vb_uuid)
            st = DV_STATUS_VB_UUID_NOT_EQUAL;
        else if (dv_vbucket_high_seqno(v) < spec->seqno)
            st = DV_STATUS_ETMPFAIL;
        if (st) {
            dv_vbucket_unlock(v);
            return st;
        }
    }
    collect c = {.spec = spec};
    dv_vbucket_each(v, spec->cid, now, collect_one, &c);
    dv_vbucket_unlock(v);

    dv_scan *sc = c.nomem ? NULL : dv_calloc(1, sizeof *sc);
    if (!sc) {
        for (size_t i = 0; i < c.n; i++) dv_item_release(c.items[i]);
        dv_free(c.items);
        return DV_STATUS_ENOMEM;
    }
    if (spec->sampling)
        sample(&c, spec->samples, spec->seed, vb);
    else
        sort_items(&c);
    if (c.n == 0) {
        dv_free(c.items);
        dv_free(sc);
        return DV_STATUS_KEY_ENOENT;
    }
    sc->owner = owner;
    sc->vb = vb;
    sc->cid = spec->cid;
    sc->key_only = spec->key_only;
    sc->items = c.items;
    sc->n = c.n;
    sc->last_used = now;
    new_id(sc->id);
    pthread_mutex_lock(&t->lock);
    st = room(t, owner, lim);
    if (!st) {
        sc->next = t->head;
        t->head = sc;
        t->count++;
    }
    pthread_mutex_unlock(&t->lock);
    if (st) {
        scan_free(sc);
        return st;
    }
    memcpy(id, sc->id, DV_RSCAN_ID_LEN);
    return DV_STATUS_SUCCESS;
}

/* ---- Continue and cancel -------------------------------------------------------------------- */

uint16_t dv_scans_acquire(dv_scans *t, const uint8_t id[DV_RSCAN_ID_LEN], const void *owner,
                          const dv_scan_limits *lim, uint32_t now, dv_scan **out)
{
    pthread_mutex_lock(&t->lock);
    sweep(t, lim, now);
    dv_scan *sc = find(t, id, owner);
    uint16_t st = !sc ? DV_STATUS_KEY_ENOENT : sc->held ? DV_STATUS_EBUSY : DV_STATUS_SUCCESS;
    if (!st) {
        sc->held = 1;
        *out = sc;
    }
    pthread_mutex_unlock(&t->lock);
    return st;
}

uint32_t dv_scan_cid(const dv_scan *sc)
{
    return sc->cid;
}

uint16_t dv_scan_vbucket(const dv_scan *sc)
{
    return sc->vb;
}

int dv_scan_key_only(const dv_scan *sc)
{
    return sc->key_only;
}

static int limit_reached(const dv_scan_run *run)
{
    if (run->items == 0) return 0; /* at least one record per continue */
    if (run->item_limit && run->items >= run->item_limit) return 1;
    if (run->byte_limit && run->bytes >= run->byte_limit) return 1;
    return run->deadline_ns && dv_clock_now_ns() >= run->deadline_ns;
}

int dv_scan_fill(dv_scan *sc, dv_scan_run *run, uint32_t now, dv_buf *out, size_t chunk)
{
    size_t start = dv_buf_size(out);
    while (sc->pos < sc->n) {
        if (limit_reached(run)) return DV_SCAN_MORE;
        if (dv_buf_size(out) - start >= chunk) return DV_SCAN_CHUNK;
        dv_item *it = sc->items[sc->pos];
        size_t before = dv_buf_size(out);
        if (!(it->exptime && it->exptime <= now)) {
            int rc;
            if (sc->key_only) {
                rc = dv_rscan_put_key(out, dv_item_key(it), it->nkey);
            } else {
                dv_rscan_doc d = {it->flags,
                                  it->exptime,
                                  it->seqno,
                                  it->cas,
                                  (uint8_t)(it->datatype & DV_DATATYPE_JSON),
                                  (const uint8_t *)dv_item_key(it),
                                  it->nkey,
                                  (const uint8_t *)dv_item_value(it),
                                  it->nvalue};
                rc = dv_rscan_put_doc(out, &d);
            }
            if (rc) return DV_SCAN_NOMEM;
            run->items++;
            run->bytes += dv_buf_size(out) - before;
        }
        dv_item_release(it);
        sc->pos++;
    }
    return DV_SCAN_COMPLETE;
}

static int is_scan(const dv_scan *sc, const void *arg)
{
    return sc == arg;
}

int dv_scans_release(dv_scans *t, dv_scan *sc, int done, uint32_t now)
{
    pthread_mutex_lock(&t->lock);
    int cancelled = sc->cancelled;
    sc->held = 0;
    sc->last_used = now;
    if (!cancelled && done) unlink_if(t, is_scan, sc);
    pthread_mutex_unlock(&t->lock);
    if (cancelled) scan_free(sc);
    return cancelled;
}

uint16_t dv_scans_cancel(dv_scans *t, const uint8_t id[DV_RSCAN_ID_LEN], const void *owner,
                         const dv_scan_limits *lim, uint32_t now)
{
    pthread_mutex_lock(&t->lock);
    sweep(t, lim, now);
    dv_scan *sc = find(t, id, owner);
    if (sc) unlink_if(t, is_scan, sc);
    pthread_mutex_unlock(&t->lock);
    return sc ? DV_STATUS_SUCCESS : DV_STATUS_KEY_ENOENT;
}

void dv_scans_drop_owner(dv_scans *t, const void *owner)
{
    if (!t) return;
    pthread_mutex_lock(&t->lock);
    unlink_if(t, owned_by, owner);
    pthread_mutex_unlock(&t->lock);
}
