/* divan-server's sub-document engine (kv-protocol.md §2.7): lookups and mutations of paths inside
 * a stored JSON document and its extended attributes, with kv_engine's semantics.
 *
 * The session decodes and validates a request with mcbp/subdoc.h (dv_subdoc_lookup_decode,
 * dv_subdoc_mutation_decode, dv_subdoc_single_decode and the extras decoders), then calls one of
 * the two entry points below; they take the vbucket lock, do the work, and fill a dv_sd_res from
 * which the session builds the response frame:
 *
 *   status    the response status (extended/XERROR statuses, like kv.h; a session for a client
 *             without XERROR remaps them);
 *   cas       the header CAS: the document's CAS for lookups (also on
 *             SUBDOC_MULTI_PATH_FAILURE), the new CAS for successful mutations, else 0;
 *   vb_uuid,  the mutation token (extras, when MUTATION_SEQNO was negotiated) of a successful
 *   seqno     mutation;
 *   body      the response value, appended to the caller's buffer (the caller owns it:
 *             dv_buf_init, dv_buf_reset, dv_buf_free); nothing is appended for a status that
 *             carries no sub-document body;
 *   datatype  the response datatype: 0, or DV_DATATYPE_JSON for the bare JSON value of a
 *             single-path response.
 *
 * Documents are edited in place: the bytes of the addressed value are located in the stored
 * text and replaced, so the rest of the document keeps its exact bytes. Extended attributes are
 * the item's xattr blob (u32 total length, then per pair u32 length + key\0value\0); sub-document
 * paths see them as one JSON object {"key":value,...}. */
#ifndef DV_SERVER_SUBDOC_H
#define DV_SERVER_SUBDOC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mcbp/subdoc.h"
#include "server/store.h"

typedef struct dv_sd_res {
    uint16_t status;
    uint64_t cas;
    uint64_t vb_uuid, seqno;
    dv_buf body;
    uint8_t datatype;
} dv_sd_res;

/* Multi-lookup (0xd0) or, with single set, one of the single-path lookups (0xc5 SUBDOC_GET,
 * 0xc6 SUBDOC_EXISTS, 0xd2 SUBDOC_GET_COUNT).
 *
 * Missing document, or a tombstone without DV_SUBDOC_DOC_ACCESS_DELETED: KEY_ENOENT. A document
 * locked by GET_LOCKED: LOCKED (kv_engine reads it with the hidden CAS and refuses). Otherwise
 * every spec runs:
 *   multi-path: status SUCCESS when all specs succeed, SUBDOC_MULTI_PATH_FAILURE when some
 *     fail (the _DELETED variants SUBDOC_SUCCESS_DELETED / SUBDOC_MULTI_PATH_FAILURE_DELETED
 *     on a tombstone); body = one `u16 status | u32 len | value` per spec, in spec order.
 *   single: status = the spec's status (SUCCESS or SUBDOC_SUCCESS_DELETED when it succeeds);
 *     body = the bare value (GET, GET_COUNT; nothing for EXISTS), datatype JSON when non-empty.
 * Spec statuses are limited to those the official core knows (dv_subdoc_status_for_spec). An
 * xattr key that is not valid gives XATTR_EINVAL for the whole request. */
typedef struct dv_sd_lookup_req {
    uint16_t vbucket;
    uint32_t cid;
    const void *key;
    size_t nkey;
    uint8_t doc_flags;           /* DV_SUBDOC_DOC_* of the decoded extras */
    const dv_subdoc_spec *specs; /* decoded and validated (1..16) */
    size_t nspecs;
    uint8_t single;    /* a single-path command: nspecs is 1, answer as described above */
    uint32_t now;      /* Unix seconds */
    uint8_t xtoc_hide; /* DV_SD_XTOC_HIDE_*: xattr names $XTOC leaves out (the reader's rights) */
} dv_sd_lookup_req;

enum { DV_SD_XTOC_HIDE_USER = 1, DV_SD_XTOC_HIDE_SYSTEM = 2 };

void dv_sd_lookup(dv_store *s, const dv_sd_lookup_req *req, dv_sd_res *res);

/* Multi-mutation (0xd1) or, with single set, one of the single-path mutations (0xc7..0xcf,
 * 0xd3).
 *
 * Document-level outcomes, before any spec runs: XATTR_EINVAL (bad xattr key),
 * SUBDOC_XATTR_UNKNOWN_MACRO (EXPAND_MACROS with a value that is not "${Mutation.CAS}",
 * "${Mutation.seqno}", "${Mutation.value_crc32c}" or "${$document...}"), EINVAL (ADD with a
 * CAS; single-path CREATE_AS_DELETED on a body path), NOT_MY_VBUCKET, KEY_ENOENT (no document
 * and neither MKDOC nor ADD; a tombstone counts as no document without ACCESS_DELETED),
 * KEY_EEXISTS (ADD on an existing document, or CAS mismatch), LOCKED (locked and the CAS is
 * not the lock CAS; with the lock CAS the mutation unlocks),
 * SUBDOC_CAN_ONLY_REVIVE_DELETED_DOCUMENTS, and after the specs ran:
 * SUBDOC_DELETED_DOCUMENT_CANT_HAVE_VALUE (a tombstone would get a body), E2BIG (body and user
 * xattrs over 20 MiB, or system xattrs over 1 MiB), ENOMEM.
 *
 * Specs run in order, xattr specs first (the decoder enforces it); the first failing spec stops
 * the request and nothing is stored:
 *   multi-path: SUBDOC_MULTI_PATH_FAILURE, body = `u8 index | u16 status`;
 *   single: the spec's status, no body.
 * On success the new item is installed (new CAS, next seqno, mutation token in res):
 *   multi-path: SUCCESS (SUBDOC_SUCCESS_DELETED when the document stays a tombstone), body =
 *     `u8 index | u16 0 | u32 len | value` for each spec that produces a value (COUNTER);
 *   single: same status, body = the COUNTER result, datatype JSON when there is one.
 * Expiry: req->x's expiry (dv_kv_expiry_abs) when given, else none; preserve_ttl keeps the
 * existing document's. User flags: req->x's when given, else the document's (0 for a new one). */
typedef struct dv_sd_mutate_req {
    uint16_t vbucket;
    uint32_t cid;
    const void *key;
    size_t nkey;
    uint64_t cas;       /* 0 = no compare */
    dv_subdoc_extras x; /* expiry, user flags, doc flags as decoded */
    int preserve_ttl;
    const dv_subdoc_spec *specs; /* decoded and validated (1..16) */
    size_t nspecs;
    uint8_t single; /* a single-path command: nspecs is 1, answer as described above */
    uint32_t now;   /* Unix seconds */
} dv_sd_mutate_req;

void dv_sd_mutate(dv_store *s, const dv_sd_mutate_req *req, dv_sd_res *res);

/* CRC-32C (Castagnoli) of data, as $document.value_crc32c and ${Mutation.value_crc32c} use. */
uint32_t dv_crc32c(const void *data, size_t len);

#endif
