/* The collections manifest (kv-protocol.md 6.3): the JSON returned by GET_COLLECTIONS_MANIFEST
 * and GET /pools/default/buckets/<bucket>/scopes; parse (client), render (server), look up.
 *
 * Uids are hex strings without 0x in JSON; collection and scope ids are u32 (the collection id
 * is the LEB128 key prefix), the manifest uid u64. A dv_manifest owns everything it points to. */
#ifndef DV_TOPOLOGY_MANIFEST_H
#define DV_TOPOLOGY_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "divan/error.h"

#define DV_MANIFEST_NAME_MAX 251

typedef struct dv_collection {
    char *name;
    uint32_t uid;
    int has_max_ttl;
    int32_t max_ttl; /* maxTTL seconds; 0 = none, -1 = never expire */
    int has_history;
    int history;
} dv_collection;

typedef struct dv_scope {
    char *name;
    uint32_t uid;
    dv_collection *collections;
    size_t ncollections;
} dv_scope;

typedef struct dv_manifest {
    uint64_t uid;
    dv_scope *scopes;
    size_t nscopes;
} dv_manifest;

/* 1 if name (len bytes) is a valid scope or collection name: 1..251 bytes of A-Z a-z 0-9 _ - %;
 * with user_created, it must also not start with _ or % (those are the system's). */
int dv_manifest_name_valid(const char *name, size_t len, int user_created);

/* Parse a manifest document of len bytes. Requires uid, scopes, and each scope's and
 * collection's name and uid (maxTTL and history optional); names must be valid, uids hex, scope
 * names and uids unique, collection names unique within a scope and collection uids unique in
 * the manifest. Returns DV_ERR_OK and a new manifest in *out, DV_ERR_PARSING_FAILURE (message in
 * errbuf, which may be NULL) or DV_ERR_NO_MEMORY. */
dv_error dv_manifest_parse(const char *json, size_t len, dv_manifest **out, char *errbuf,
                           size_t errlen);

/* A new manifest holding uid 0 and the _default scope with the _default collection (ids 0). */
dv_manifest *dv_manifest_new_default(void);
void dv_manifest_free(dv_manifest *m);
int dv_manifest_equal(const dv_manifest *a, const dv_manifest *b);

/* Builders: the new scope/collection (zeroed but for name and uid) is owned by m/scope and valid
 * until the next add; NULL on allocation failure. Names are copied, not checked. */
dv_scope *dv_manifest_add_scope(dv_manifest *m, const char *name, uint32_t uid);
dv_collection *dv_manifest_add_collection(dv_scope *scope, const char *name, uint32_t uid);

/* Find a scope by name (len bytes); NULL if none. */
const dv_scope *dv_manifest_find_scope(const dv_manifest *m, const char *name, size_t len);

/* Resolve "scope.collection" (len bytes) as GET_COLLECTION_ID does: exactly one '.', an empty
 * part means _default. Returns DV_ERR_OK with the id in *cid, DV_ERR_INVALID_ARGUMENT for a
 * malformed path, DV_ERR_SCOPE_NOT_FOUND or DV_ERR_COLLECTION_NOT_FOUND. */
dv_error dv_manifest_lookup(const dv_manifest *m, const char *path, size_t len, uint32_t *cid);

/* Append the manifest JSON to out. DV_ERR_INVALID_ARGUMENT (out unchanged) if a name is not
 * valid (so that dv_manifest_parse would refuse the result), DV_ERR_NO_MEMORY. */
dv_error dv_manifest_write_json(const dv_manifest *m, dv_buf *out);

#endif
