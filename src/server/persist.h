/* divan-server's persistence: one LMDB environment per bucket, under the store.
 *
 * The store stays the one place that knows a document's state; it queues what it installs and
 * removes (store.h, "Persistence"). A writer thread per bucket takes those queues, one commit
 * window at a time, and writes them in one LMDB transaction (group commit): a commit starts
 * when a durable write waits for one, or flush_ms after the last, whichever comes first. A
 * committed transaction is on disk (LMDB syncs it), so only then does a vbucket's persisted
 * seqno advance and are waiting durable writes acknowledged.
 *
 * An environment holds four tables:
 *   docs    key: vbucket (be16), collection id (be32), key bytes; value: a record (below)
 *   vbstate key: vbucket (be16); value: uuid, high seqno, last CAS (be64 each)
 *   meta    "format" (be32 DV_PERSIST_FORMAT), "clean" (1 byte: the last close was orderly),
 *           and blobs the bucket keeps (its settings, its manifest) by name
 * A start after an unclean stop gives every vbucket a new uuid, so mutation tokens from before
 * cannot be mistaken for ones of the new history.
 *
 * A write error (a full disk, an I/O error) aborts the transaction and puts the queues back:
 * nothing acknowledged from memory is lost while the server runs, durable writes waiting on
 * that commit are answered with a temporary failure, and the writer retries at the next
 * window. */
#ifndef DV_SERVER_PERSIST_H
#define DV_SERVER_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "divan/error.h"
#include "server/store.h"

#define DV_PERSIST_FORMAT           1
#define DV_PERSIST_DEFAULT_FLUSH_MS 100u

/* ---- Records ------------------------------------------------------------------------------ */

/* A document record: version (1 byte, DV_PERSIST_FORMAT), bits (1: deleted), datatype, a zero
 * byte, flags, expiry (be32 each), CAS, seqno, revid (be64 each), the xattr blob's length
 * (be32), the xattr blob, the value. */
#define DV_PERSIST_RECORD_HEADER 40
#define DV_PERSIST_KEY_HEADER    6

/* The record of item it into out (appended). DV_ERR_OK or DV_ERR_NO_MEMORY. */
dv_error dv_persist_record_encode(const dv_item *it, dv_buf *out);
/* The key of (vb, it->cid, it's key) into out (appended). */
dv_error dv_persist_key_encode(uint16_t vb, const dv_item *it, dv_buf *out);
/* A new item (one reference) from a key and a record as read from disk, its vbucket in *vb.
 * NULL with a reason in *why for a key or record that is not well formed, or no memory. */
dv_item *dv_persist_record_decode(const void *key, size_t nkey, const void *rec, size_t nrec,
                                  uint16_t *vb, const char **why);

/* ---- Environments ------------------------------------------------------------------------- */

/* mkdir -p with mode 0700: 0, or -1 with errno set. */
int dv_persist_mkdirs(const char *path);

typedef struct dv_persist dv_persist; /* also named in bucket.h */

/* Open (creating it if absent) the environment in directory dir (created, mode 0700).
 * DV_ERR_OK with *out set, or an error with a message in errbuf: a directory that is not
 * divan's (files in it, but no divan table), of a newer format, corrupt, locked by another
 * process, or not writable. Nothing in a directory refused is changed. */
dv_error dv_persist_open(const char *dir, dv_persist **out, char *errbuf, size_t errlen);

/* A blob kept by name in the meta table: DV_ERR_OK with its bytes appended to out,
 * DV_ERR_DOCUMENT_NOT_FOUND when there is none. */
dv_error dv_persist_meta_get(dv_persist *p, const char *name, dv_buf *out);
/* Write a blob synchronously (its own transaction, on disk when this returns). */
dv_error dv_persist_meta_put(dv_persist *p, const char *name, const void *data, size_t len);

/* Load every record into store (which must be new and not yet served), set the vbuckets'
 * uuids and seqnos (new uuids after an unclean stop), mark the environment in use, track the
 * store and start the writer thread with a commit window of flush_ms. Records of collections
 * for which keep(ud, cid) answers 0, and documents expired at now, are deleted, not loaded.
 * DV_ERR_OK, or an error with a message (a corrupt record). */
dv_error dv_persist_attach(dv_persist *p, dv_store *store, uint32_t flush_ms, uint32_t now,
                           int (*keep)(void *ud, uint32_t cid), void *ud, char *errbuf,
                           size_t errlen);

/* The commit a write installed before this call is part of (or an earlier one). */
uint64_t dv_persist_ticket(dv_persist *p);
/* Ask for a commit now and wait until commit `ticket` was attempted. The write is on disk when
 * its vbucket's persisted seqno (dv_vbucket_persisted_seqno) reached its seqno; it is not when
 * that commit failed. Returns at once after dv_persist_close. */
void dv_persist_wait(dv_persist *p, uint64_t ticket);

/* Ask for a commit now without waiting for it. */
void dv_persist_kick(dv_persist *p);

/* Counters for STAT and tests. */
typedef struct dv_persist_stats {
    uint64_t commits;  /* transactions committed */
    uint64_t failures; /* transactions that failed */
    uint64_t written;  /* records written or deleted */
    uint64_t queued;   /* entries waiting to be written */
} dv_persist_stats;
void dv_persist_stats_get(dv_persist *p, dv_persist_stats *out);

/* Stop the writer after a last commit, mark the environment closed cleanly (when that commit
 * succeeded) and close it; waits return at once from then on. With remove, delete the
 * directory and its files instead (the bucket was deleted). Idempotent. */
void dv_persist_close(dv_persist *p, int remove);
/* Close if not closed, and free p (once no session can wait on it). NULL is ignored. */
void dv_persist_free(dv_persist *p);

#endif
