/* The two JSON documents of the error side of the protocol (kv-protocol.md §3.2, §3.3):
 *  - the XERROR body some error responses carry: {"error":{"context":..,"ref":..},
 *    "manifest_uid":"<hex>"};
 *  - the error map GET_ERROR_MAP (0xfe) returns: {"version":2,"revision":N,"errors":{"<hex
 *    status>":{"name":..,"desc":..,"attrs":[..]}}}.
 * Both are parsed (client) and built (server). JSON goes through jansson; what the parsers
 * return is copied into memory from divan's allocator hooks and owned by the caller. */
#ifndef DV_MCBP_ERRMAP_H
#define DV_MCBP_ERRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "divan/error.h"

/* ---- XERROR body ---- */

typedef struct dv_xerror {
    char *context; /* error.context, NUL-terminated; NULL when absent */
    char *ref;     /* error.ref; NULL when absent */
    int has_manifest_uid;
    uint64_t manifest_uid; /* top-level "manifest_uid", hex without 0x */
} dv_xerror;

/* Parse a body (all members optional; an empty body gives an empty dv_xerror). Malformed JSON,
 * a top level that is not an object, members of the wrong type or a manifest_uid that is not
 * 1..16 hex digits give DV_ERR_PARSING_FAILURE; out is then empty. Free with dv_xerror_free. */
dv_error dv_xerror_parse(const uint8_t *p, size_t len, dv_xerror *out);
void dv_xerror_free(dv_xerror *x);

/* Append a body; context and ref may be NULL and must be UTF-8 (else DV_ERR_INVALID_ARGUMENT,
 * nothing appended). With nothing to say, nothing is appended (an empty body is always
 * acceptable), so the caller sets the JSON datatype only when bytes were added. */
dv_error dv_xerror_build(dv_buf *out, const char *context, const char *ref, int has_manifest_uid,
                         uint64_t manifest_uid);

/* ---- error map ---- */

/* The highest version divan builds; GET_ERROR_MAP answers min(asked, this) (kv_engine's rule). */
#define DV_ERRMAP_VERSION 2

/* X(NAME, "attribute", version): the attributes of the error map and the map version that
 * introduced each. A version-1 map carries only version-1 attributes: libcouchbase 3.x refuses a
 * map with an attribute it does not know, and one above version 1. */
#define DV_ERRMAP_ATTRS(X)                                                                         \
    X(SUCCESS, "success", 1)                                                                       \
    X(ITEM_ONLY, "item-only", 1)                                                                   \
    X(INVALID_INPUT, "invalid-input", 1)                                                           \
    X(FETCH_CONFIG, "fetch-config", 1)                                                             \
    X(CONN_STATE_INVALIDATED, "conn-state-invalidated", 1)                                         \
    X(AUTH, "auth", 1)                                                                             \
    X(SPECIAL_HANDLING, "special-handling", 1)                                                     \
    X(SUPPORT, "support", 1)                                                                       \
    X(TEMP, "temp", 1)                                                                             \
    X(INTERNAL, "internal", 1)                                                                     \
    X(RETRY_NOW, "retry-now", 1)                                                                   \
    X(RETRY_LATER, "retry-later", 1)                                                               \
    X(SUBDOC, "subdoc", 1)                                                                         \
    X(DCP, "dcp", 1)                                                                               \
    X(AUTO_RETRY, "auto-retry", 1)                                                                 \
    X(ITEM_LOCKED, "item-locked", 1)                                                               \
    X(ITEM_DELETED, "item-deleted", 1)                                                             \
    X(RATE_LIMIT, "rate-limit", 2)                                                                 \
    X(NO_RETRY, "no-retry", 2)                                                                     \
    X(SYSTEM_CONSTRAINT, "system-constraint", 2)

enum {
#define DV_X_(name, str, v) DV_ERRMAP_BIT_##name,
    DV_ERRMAP_ATTRS(DV_X_)
#undef DV_X_
        DV_ERRMAP_ATTR_COUNT
};

/* Attribute bits. */
typedef enum dv_errmap_attr {
#define DV_X_(name, str, v) DV_ERRMAP_ATTR_##name = 1u << DV_ERRMAP_BIT_##name,
    DV_ERRMAP_ATTRS(DV_X_)
#undef DV_X_
} dv_errmap_attr;

/* The bit of an attribute name (0 if unknown: clients ignore unknown attributes), and back. */
uint32_t dv_errmap_attr_from_name(const char *name, size_t len);
const char *dv_errmap_attr_name(uint32_t bit);

typedef struct dv_errmap_entry {
    uint16_t status;
    uint32_t attrs; /* dv_errmap_attr bits */
    char *name;
    char *desc;
} dv_errmap_entry;

typedef struct dv_errmap {
    int64_t version; /* 0 when absent (the official core does not read it) */
    uint16_t revision;
    size_t n;
    dv_errmap_entry *entries; /* sorted by status */
} dv_errmap;

/* Parse a map. `revision` (integer 0..65535) and `errors` (object keyed by 1..4 hex digits)
 * are mandatory, and every entry needs `name` and `desc` (strings) and `attrs` (array of
 * strings), as the official core requires. Failures give DV_ERR_PARSING_FAILURE (or
 * DV_ERR_NO_MEMORY) with a message in why[why_len] (if why is not NULL), e.g.
 * `errors["86"]: missing "desc"`; out is then empty. Free with dv_errmap_free. */
dv_error dv_errmap_parse(const uint8_t *p, size_t len, dv_errmap *out, char *why, size_t why_len);
void dv_errmap_free(dv_errmap *m);

/* The entry for a status, or NULL. */
const dv_errmap_entry *dv_errmap_find(const dv_errmap *m, uint16_t status);
/* 1 if the map marks the status retryable (retry-now, retry-later or auto-retry, and not
 * no-retry); 0 otherwise or when the status is not in the map. */
int dv_errmap_retryable(const dv_errmap *m, uint16_t status);
/* The entry's name, or NULL. */
const char *dv_errmap_name(const dv_errmap *m, uint16_t status);

/* The server's map of the given version (1..DV_ERRMAP_VERSION, else DV_ERR_INVALID_ARGUMENT) and
 * revision: one entry for every row of DV_STATUSES whose attribute list is not empty and, for a
 * version-1 map, names only version-1 attributes (the others are not known to its readers). */
dv_error dv_errmap_build(dv_buf *out, unsigned version, uint16_t revision);

#endif
