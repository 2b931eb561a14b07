/* The key-value operations of divan-server on a store: the semantics of each command, apart
 * from framing and sessions. A request names its vbucket, collection and key; the answer is a
 * status from mcbp/protocol.h with what the response carries. Statuses are the extended (XERROR)
 * ones; a session of a client without XERROR remaps them. */
#ifndef DV_SERVER_KV_H
#define DV_SERVER_KV_H

#include <stddef.h>
#include <stdint.h>

#include "server/store.h"

typedef struct dv_kv_req {
    uint8_t opcode; /* DV_OP_GET, SET, ADD, REPLACE, DELETE, APPEND, PREPEND, INCREMENT,
                       DECREMENT, TOUCH, GAT, GET_LOCKED, UNLOCK_KEY, GET_META */
    uint16_t vbucket;
    uint32_t cid;
    const void *key;
    size_t nkey;
    const void *value; /* uncompressed */
    size_t nvalue;
    uint8_t datatype; /* of value: DV_DATATYPE_JSON or 0 */
    uint64_t cas;     /* 0 = no compare */
    uint32_t flags;
    uint32_t expiry;    /* as on the wire: 0, relative (<= 30 days) or absolute */
    uint64_t delta;     /* counters */
    uint64_t initial;   /* counters */
    uint32_t lock_time; /* GET_LOCKED seconds; 0 = default */
    int preserve_ttl;   /* keep the document's expiry */
    uint32_t now;       /* Unix seconds */
} dv_kv_req;

typedef struct dv_kv_res {
    uint16_t status;
    uint64_t cas;
    dv_item *item;    /* GET, GAT, GET_LOCKED: a reference the caller releases */
    uint64_t counter; /* INCREMENT, DECREMENT */
    uint64_t vb_uuid; /* mutations: the mutation token */
    uint64_t seqno;
    /* GET_META */
    uint32_t deleted, flags, exptime;
    uint8_t datatype;
} dv_kv_res;

#define DV_LOCK_DEFAULT_SECONDS 15
#define DV_LOCK_MAX_SECONDS     30
#define DV_CAS_LOCKED           UINT64_MAX

/* The absolute expiry (Unix seconds, 0 = never) for an expiry as given on the wire. */
uint32_t dv_kv_expiry_abs(uint32_t expiry, uint32_t now);
/* The legacy OBSERVE state of (cid, key) in vbucket vb, with its CAS: FOUND_PERSISTED or
 * FOUND_NOT_PERSISTED by whether its seqno is on disk (dv_vbucket_persisted_seqno; a store
 * without storage reports everything persisted), LOGICAL_DEL for a deletion not yet on disk,
 * NOT_FOUND (CAS 0) when absent or deleted on disk. */
uint8_t dv_kv_observe(dv_store *store, uint16_t vb, uint32_t cid, const void *key, size_t nkey,
                      uint32_t now, uint64_t *cas);
/* Run one operation. res->item is set only on success of a reading operation. */
void dv_kv_execute(dv_store *store, const dv_kv_req *req, dv_kv_res *res);

#endif
