/* libdivan's KV range scans: one scan of a collection over every vbucket of its bucket
 * (Python's Collection.scan), on top of the range-scan operations of client.h.
 *
 * A dv_kvscan issues RANGE_SCAN_CREATE and RANGE_SCAN_CONTINUE per vbucket through a submit
 * hook (dv_engine_submit's or dv_client_submit's shape), at most `concurrency` vbuckets at a
 * time holding a scan on the server, and hands the items back in vbucket order, each vbucket's
 * in key order (the server sorts them): the same order for the same data, whatever the
 * concurrency. Memory is bounded: a window of 2 x `concurrency` vbuckets (the others drained,
 * their last batches waiting to be read, so that the next creates overlap the reading), each
 * holding at most two batches (the one being read, the one arriving).
 * A sampling scan stops after `samples` items. KEY_ENOENT from a create (nothing in that
 * vbucket's range) is an empty vbucket, not an error.
 *
 * Lifetime: io.ud must stay valid until the last completion after dv_kvscan_free (a create
 * that was on the wire is let complete, then its scan cancelled on the server: cancelling the
 * operation would leave the server's scan open).
 *
 * Threads: completions may arrive on another thread than the one that reads (the native
 * driver): the scan has its own lock; dv_kvscan_next can wait for items (wait = 1) or return 0
 * at once, the ready hook then saying when to call again (an event loop). */
#ifndef DIVAN_SCAN_H
#define DIVAN_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "divan/client.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dv_kvscan dv_kvscan;

typedef struct dv_kvscan_io {
    void *ud;
    /* Submit req with cb; *id names it for cancel. An error return never calls back. */
    dv_error (*submit)(void *ud, const dv_req *req, dv_res_cb cb, void *cb_ud, uint64_t *id);
    /* Complete operation id now with REQUEST_CANCELED (NULL: operations run to their end). */
    void (*cancel)(void *ud, uint64_t id);
    /* dv_kvscan_next has something new to say (an item or the end), called with ready_ud from
     * a completion, with the scan's lock held: do not call into the scan from it. NULL: nobody
     * is told. Never called once dv_kvscan_free was. */
    void (*ready)(void *ready_ud);
    void *ready_ud;
} dv_kvscan_io;

typedef struct dv_kvscan_opts {
    const char *bucket, *scope, *collection; /* scope, collection NULL: _default */
    /* The scan: sampling, start/end (+ excl_*), samples, seed, ids_only as dv_scan_req says;
     * item_limit and byte_limit are the limits of each batch (0: the official defaults, 50
     * items and 15000 bytes); has_snapshot, vb_uuid, seqno and id are ignored (see tokens). */
    dv_scan_req spec;
    unsigned concurrency; /* vbuckets scanned at a time; 0: 1 */
    uint64_t timeout_ms;  /* each create and continue; 0: the cluster's KV timeout */
    /* consistent_with: the vbuckets these tokens name (of this bucket) must have reached them
     * (their uuid and seqno) before they are scanned. */
    const dv_token *tokens;
    size_t ntokens;
} dv_kvscan_opts;

typedef struct dv_kvscan_item {
    const void *key;
    size_t key_len;
    int ids_only; /* then only key is set */
    uint32_t flags, expiry;
    uint64_t seqno, cas;
    uint8_t datatype;
    const void *value;
    size_t value_len;
    uint16_t vbucket;
} dv_kvscan_item;

/* Start a scan: DV_ERR_OK and *out, or INVALID_ARGUMENT (message in err), NO_MEMORY, or the
 * first submit's error. */
DV_API dv_error dv_kvscan_new(const dv_kvscan_opts *o, const dv_kvscan_io *io, dv_kvscan **out,
                              char *err, size_t errlen);
/* The next item: 1 with *it (views valid until the next call on the scan); 0 none yet (wait
 * 0 only: call again after io.ready); -1 the scan ended: *err DV_ERR_OK when complete, else
 * why it failed (msg: the failing operation's context, may be NULL). */
DV_API int dv_kvscan_next(dv_kvscan *s, dv_kvscan_item *it, int wait, dv_error *err, char *msg,
                          size_t msglen);
/* Stop: operations in flight are cancelled (io.cancel) and the server's open scans too
 * (RANGE_SCAN_CANCEL); dv_kvscan_next then ends with REQUEST_CANCELED. */
DV_API void dv_kvscan_cancel(dv_kvscan *s);
/* Cancel if not ended, then free (the memory goes once the last completion has come). */
DV_API void dv_kvscan_free(dv_kvscan *s);
/* Operations submitted and not completed yet (for tests). */
DV_API size_t dv_kvscan_inflight(dv_kvscan *s);

#ifdef __cplusplus
}
#endif
#endif
