/* divan-server's KV range scans (RANGE_SCAN_CREATE / CONTINUE / CANCEL) over a store.
 *
 * A bucket holds one scan table. A create takes a snapshot of one vbucket's matching items:
 * under the vbucket's lock it takes a reference to each (items are immutable), then releases
 * the lock and sorts them by key, so later writes do not show in the scan. A continue
 * serialises from the snapshot without any vbucket lock. Scans belong to the connection that
 * created them (its owner): at most max_per_conn per owner and max_per_bucket per table; an
 * owner's scans are dropped when it goes; a scan idle for idle_timeout seconds is cancelled
 * (swept on the next create, continue or cancel of any connection). The table is thread-safe;
 * a scan being continued is held by that caller until dv_scans_release. */
#ifndef DV_SERVER_SCAN_H
#define DV_SERVER_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mcbp/rscan.h"
#include "server/store.h"

typedef struct dv_scan_limits {
    unsigned max_per_conn;   /* 0 = DV_SCAN_DEFAULT_PER_CONN */
    unsigned max_per_bucket; /* 0 = DV_SCAN_DEFAULT_PER_BUCKET */
    uint32_t idle_timeout;   /* seconds; 0 = DV_SCAN_DEFAULT_IDLE_TIMEOUT */
} dv_scan_limits;

#define DV_SCAN_DEFAULT_PER_CONN     16u
#define DV_SCAN_DEFAULT_PER_BUCKET   1024u
#define DV_SCAN_DEFAULT_IDLE_TIMEOUT 60u
/* The records one continue returns at most (about: whole records), whatever its byte limit:
 * past it the continue ends with "more", which bounds the replies a connection buffers. */
#define DV_SCAN_CONTINUE_MAX_BYTES (4u * 1024u * 1024u)

typedef struct dv_scans dv_scans;
typedef struct dv_scan dv_scan;

dv_scans *dv_scans_new(void);
/* Frees every scan (no caller may hold one). */
void dv_scans_free(dv_scans *t);
size_t dv_scans_count(dv_scans *t);

/* Create a scan of vbucket vb as spec asks, owned by owner. Returns DV_STATUS_SUCCESS with
 * id, or: KEY_ENOENT nothing matches (no scan is kept), VB_UUID_NOT_EQUAL the snapshot
 * requirement names another vbucket uuid, ETMPFAIL its seqno is above the vbucket's high
 * seqno, EBUSY a scan limit is reached, NOT_MY_VBUCKET vb is out of range, ENOMEM. */
uint16_t dv_scans_create(dv_scans *t, dv_store *store, uint16_t vb, const dv_rscan_create *spec,
                         const void *owner, const dv_scan_limits *lim, uint32_t now,
                         uint8_t id[DV_RSCAN_ID_LEN]);
/* Take scan id for a continue: SUCCESS with *out, KEY_ENOENT no such scan (or another owner's:
 * scans are per connection), EBUSY it is being continued. Sweeps idle scans first. */
uint16_t dv_scans_acquire(dv_scans *t, const uint8_t id[DV_RSCAN_ID_LEN], const void *owner,
                          const dv_scan_limits *lim, uint32_t now, dv_scan **out);
uint32_t dv_scan_cid(const dv_scan *sc);
uint16_t dv_scan_vbucket(const dv_scan *sc);
int dv_scan_key_only(const dv_scan *sc);

/* One continue's progress across calls of dv_scan_fill. */
typedef struct dv_scan_run {
    uint32_t item_limit, byte_limit; /* 0 = none */
    uint64_t deadline_ns;            /* dv_clock_now_ns() bound; 0 = none */
    uint64_t items, bytes;           /* sent so far */
} dv_scan_run;

#define DV_SCAN_CHUNK    0 /* out reached chunk bytes: send it, call again */
#define DV_SCAN_MORE     1 /* a limit of this continue was reached, the scan has more */
#define DV_SCAN_COMPLETE 2 /* the scan is done */
#define DV_SCAN_NOMEM    3

/* Append the next records to out (items expired at now are skipped), at least one per
 * continue unless the scan is done. */
int dv_scan_fill(dv_scan *sc, dv_scan_run *run, uint32_t now, dv_buf *out, size_t chunk);
/* Give the scan back; done (complete) frees it. Returns 1 if the scan was cancelled while
 * held (it is freed then), else 0. */
int dv_scans_release(dv_scans *t, dv_scan *sc, int done, uint32_t now);
/* SUCCESS, or KEY_ENOENT for no such scan of this owner. A held scan is freed on release. */
uint16_t dv_scans_cancel(dv_scans *t, const uint8_t id[DV_RSCAN_ID_LEN], const void *owner,
                         const dv_scan_limits *lim, uint32_t now);
/* Drop every scan of owner (its connection closed or left the bucket). */
void dv_scans_drop_owner(dv_scans *t, const void *owner);

#endif
