/* Per-opcode knowledge, generated from protocol.h's tables where possible: names, the extras
 * layout of §2.1, the checks a server applies to a request before dispatching it, and what a
 * response status means to the client (§3.1, python-api.md §2.4). */
#ifndef DV_MCBP_OPCODE_H
#define DV_MCBP_OPCODE_H

#include <stddef.h>
#include <stdint.h>

#include "divan/error.h"
#include "mcbp/frame.h"
#include "mcbp/protocol.h"

/* Names from the X-macro tables ("GET", "KEY_ENOENT", "XERROR"); NULL if not in the table. */
const char *dv_opcode_name(uint8_t opcode);
const char *dv_status_name(uint16_t status);
const char *dv_feature_name(uint16_t feature);
/* Server-initiated (magic 0x82) opcode names: "CLUSTERMAP_CHANGE", ...; NULL if unknown. */
const char *dv_server_opcode_name(uint8_t opcode);

/* Bit k of an extras mask: k bytes of extras are valid. */
#define DV_EXTRAS_LEN(k) (1u << (k))

/* Request shape flags. */
enum {
    DV_OPF_KEY = 0x01,        /* a key is required */
    DV_OPF_NO_KEY = 0x02,     /* a key is not allowed */
    DV_OPF_NO_VALUE = 0x04,   /* a value is not allowed */
    DV_OPF_COLLECTION = 0x08, /* the key names a document: LEB128 collection id prefix */
    DV_OPF_MUTATION = 0x10,   /* success may carry a 16-byte mutation token */
    DV_OPF_QUIET = 0x20,      /* the Q variant of a memcached command */
    DV_OPF_VALUE_FIXED = 0x40 /* the value must be exactly value_len bytes */
};

/* The privilege a request needs, after kv_engine's per-opcode rules (mcbp_privileges). A server
 * refuses an opcode whose row has none (DV_PRIV_UNSET) with EACCESS, as kv_engine does with an
 * empty privilege chain. Document privileges apply to the collection the key names; a server
 * adds what sub-document paths need (xattr privileges) once it has decoded them. */
typedef enum dv_privilege {
    DV_PRIV_UNSET = 0,      /* no entry: refused for everyone */
    DV_PRIV_NONE = 1,       /* served before authentication (HELLO, SASL, error map, QUIT) */
    DV_PRIV_CONNECTION = 2, /* any authenticated user, no bucket needed */
    DV_PRIV_BUCKET = 3,     /* any authenticated user with a bucket selected */
    DV_PRIV_READ = 4,       /* Read on the document's collection */
    DV_PRIV_WRITE = 5,      /* Upsert/Insert/Delete on the document's collection */
    DV_PRIV_READ_WRITE = 6, /* both (counters, GAT, SUBDOC_COUNTER) */
    DV_PRIV_READ_ANY = 7,   /* Read on at least one collection of the bucket (OBSERVE_SEQNO) */
    DV_PRIV_ADMIN = 8,      /* node administration (full admin only) */
} dv_privilege;

typedef struct dv_opcode_info {
    const char *name;
    uint32_t req_extras; /* DV_EXTRAS_LEN mask of valid request extras lengths */
    uint32_t res_extras; /* valid extras lengths of a successful response; 0 = not checked */
    uint8_t flags;       /* DV_OPF_* */
    uint8_t value_len;   /* with DV_OPF_VALUE_FIXED */
    uint8_t privilege;   /* dv_privilege */
} dv_opcode_info;

/* The privilege of a client opcode; DV_PRIV_UNSET for one not in the table or without one. */
dv_privilege dv_opcode_privilege(uint8_t opcode);

/* The row of a client opcode (magic 0x80/0x08); NULL for an opcode not in DV_OPCODES. */
const dv_opcode_info *dv_opcode_info_get(uint8_t opcode);

/* 1 if `len` bytes of extras are valid for a request of this opcode / for its response with this
 * status. Responses: the success statuses (SUCCESS and the sub-document success variants) are
 * checked against the table; other statuses carry no extras. Unknown opcodes: 0. */
int dv_request_extras_ok(uint8_t opcode, size_t len);
int dv_response_extras_ok(uint8_t opcode, uint16_t status, size_t len);

/* What a server learns from checking a request. Views point into the frame. */
typedef struct dv_request_info {
    dv_frame_reqs fr;        /* the framing extras */
    uint32_t cid;            /* collection id (0 without a collection prefix) */
    const uint8_t *user_key; /* key without its collection prefix */
    size_t user_key_len;
} dv_request_info;

/* The checks a server applies to a request before dispatching it, in this order; returns the
 * status to answer, DV_STATUS_SUCCESS if the request may be dispatched:
 *   magic not 0x80/0x08                                   -> EINVAL
 *   opcode not in DV_OPCODES                              -> UNKNOWN_COMMAND
 *   framing extras (dv_frame_reqs_parse)                  -> its status
 *   extras length not valid for the opcode                -> EINVAL
 *   datatype with bits outside JSON|SNAPPY|XATTR          -> EINVAL
 *   key missing / present against the table               -> EINVAL
 *   with collections and a document key: bad LEB128 prefix, empty user key -> EINVAL
 *   user key longer than 250 bytes                        -> EINVAL
 *   value present against the table, or not the fixed size, or HELLO of odd length -> EINVAL
 * `collections` says whether the connection negotiated Collections (0x12). */
dv_status dv_request_check(const dv_frame *f, int collections, dv_request_info *out);

/* What a status means to the user of an operation with this opcode (§3.1, python-api §2.4):
 * KEY_EEXISTS -> DOCUMENT_EXISTS for ADD, CAS_MISMATCH otherwise; NOT_STORED ->
 * DOCUMENT_EXISTS for ADD, DOCUMENT_NOT_FOUND otherwise; LOCKED on UNLOCK_KEY -> CAS_MISMATCH;
 * EACCESS on SELECT_BUCKET -> BUCKET_NOT_FOUND; the rest from DV_STATUSES' last column;
 * DV_ERR_PROTOCOL_ERROR for a status not in the table. For a sub-document mutation with insert
 * semantics (doc flag ADD) pass DV_OP_ADD as the opcode. */
dv_error dv_mcbp_status_error(uint8_t opcode, uint16_t status);

/* Whether the official core resends the request on this status, and why (§3.1, §10.4). */
typedef enum dv_retry {
    DV_RETRY_NONE = 0,
    DV_RETRY_NOT_MY_VBUCKET,    /* apply the config in the body, re-route, resend */
    DV_RETRY_LOCKED,            /* backoff; not for UNLOCK_KEY */
    DV_RETRY_TEMPORARY_FAILURE, /* ETMPFAIL only (not EBUSY, ENOMEM, NOT_INITIALIZED) */
    DV_RETRY_SYNC_WRITE_IN_PROGRESS,
    DV_RETRY_SYNC_WRITE_RE_COMMIT_IN_PROGRESS,
    DV_RETRY_COLLECTION_OUTDATED, /* UNKNOWN_COLLECTION: re-resolve the id after 500 ms */
    DV_RETRY_CONFIG_ONLY,         /* ECONFIG_ONLY: fetch a new config, then resend */
} dv_retry;

dv_retry dv_mcbp_status_retry(uint8_t opcode, uint16_t status);
/* The retry reason as the official core names it in error contexts ("key_value_locked", ...);
 * "do_not_retry" for DV_RETRY_NONE. */
const char *dv_retry_name(dv_retry r);

#endif
