/* divan-server's bucket registry: the cluster (this one node) and its buckets.
 *
 * A dv_cluster holds the cluster's and the node's identity, the ports the node serves, a
 * cluster config revision and the buckets by name. A read-write lock guards the list: workers
 * look buckets up concurrently, REST creates and deletes them.
 *
 * A dv_bucket holds its name, uuid, settings, collections manifest, config revision and its
 * dv_store of 1024 vbuckets. Settings, manifest and revision are guarded by the bucket's own
 * read-write lock; every function below is thread-safe.
 *
 * Lifetime rule: buckets are reference counted. dv_cluster_get_bucket and
 * dv_cluster_list_buckets return references; the holder (a session that selected the bucket, a
 * REST request) releases each with dv_bucket_release. Deleting a bucket removes it from the
 * cluster and marks it deleted (dv_bucket_deleted), but the bucket, its store and manifest stay
 * valid until the last reference is released, so a session in the middle of an operation
 * finishes it safely; sessions should check dv_bucket_deleted before starting the next one and
 * then drop the reference. A bucket never points back to its cluster, so references may
 * outlive dv_cluster_free. */
#ifndef DV_SERVER_BUCKET_H
#define DV_SERVER_BUCKET_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "divan/error.h"
#include "mcbp/protocol.h"
#include "server/scan.h"
#include "server/store.h"
#include "topology/manifest.h"

#define DV_BUCKET_NAME_MAX 100 /* bytes of a bucket name */
#define DV_BUCKET_NVB      1024
#define DV_BUCKET_MAX_TTL  2147483647u

typedef enum dv_bucket_type {
    DV_BUCKET_COUCHBASE, /* "membase" in the REST bucket object, "couchbase" in forms */
    DV_BUCKET_EPHEMERAL,
} dv_bucket_type;

/* A durability level: DV_DURABILITY_* of mcbp/protocol.h (NONE 0 .. PERSIST_TO_MAJORITY 3). */
typedef unsigned dv_durability_level;

typedef enum dv_eviction_policy {
    DV_EVICTION_VALUE_ONLY, /* "valueOnly" */
    DV_EVICTION_FULL,       /* "fullEviction" */
    DV_EVICTION_NO,         /* "noEviction" (ephemeral) */
    DV_EVICTION_NRU,        /* "nruEviction" (ephemeral) */
} dv_eviction_policy;

typedef enum dv_compression_mode {
    DV_COMPRESSION_OFF,
    DV_COMPRESSION_PASSIVE,
    DV_COMPRESSION_ACTIVE,
} dv_compression_mode;

typedef struct dv_bucket_settings {
    char name[DV_BUCKET_NAME_MAX + 1];
    dv_bucket_type type;
    uint32_t ram_quota_mb; /* >= 100; recorded, not enforced */
    uint32_t num_replicas; /* 0..3 */
    uint32_t max_ttl;      /* seconds, 0 = none; at most DV_BUCKET_MAX_TTL */
    int flush_enabled;
    dv_durability_level durability_min_level;
    dv_eviction_policy eviction_policy;
    dv_compression_mode compression_mode;
    /* storageBackend=magma: a label (divan's store is the same for both), which allows the
     * history retention settings, as Couchbase Server 7.2+ allows them on magma only. */
    int magma;
    int history_default;      /* historyRetentionCollectionDefault (magma; default true) */
    uint64_t history_bytes;   /* historyRetentionBytes (recorded, not enforced) */
    uint32_t history_seconds; /* historyRetentionSeconds (recorded, not enforced) */
} dv_bucket_settings;

/* Names and values as the REST API and the --bucket flag spell them. The parsers take len bytes
 * and return 0, or -1 for an unknown spelling (*out unchanged). Type accepts "couchbase",
 * "membase" and "ephemeral". */
const char *dv_bucket_type_name(dv_bucket_type t); /* "couchbase", "ephemeral" */
int dv_bucket_type_parse(const char *s, size_t len, dv_bucket_type *out);
const char *dv_durability_level_name(dv_durability_level l);
int dv_durability_level_parse(const char *s, size_t len, dv_durability_level *out);
const char *dv_eviction_policy_name(dv_eviction_policy p);
int dv_eviction_policy_parse(const char *s, size_t len, dv_eviction_policy *out);
const char *dv_compression_mode_name(dv_compression_mode m);
int dv_compression_mode_parse(const char *s, size_t len, dv_compression_mode *out);

/* 1 if name (len bytes) is a valid bucket name: 1..100 bytes of A-Z a-z 0-9 . _ % -, not
 * starting with '.'. */
int dv_bucket_name_valid(const char *name, size_t len);

/* Defaults for a new bucket: couchbase, 100 MB, 0 replicas (Couchbase defaults to 1, but a
 * single node cannot then serve durable writes, 11.2), maxTTL 0, flush disabled, durability
 * none, valueOnly eviction, passive compression. name is copied (truncated to
 * DV_BUCKET_NAME_MAX; check it with dv_bucket_settings_validate). */
void dv_bucket_settings_default(dv_bucket_settings *s, const char *name);

/* DV_ERR_OK, or DV_ERR_INVALID_ARGUMENT with a message in errbuf (may be NULL) for a bad name,
 * quota, replica count, maxTTL, an eviction policy not of the bucket type, or a persisting
 * durability minimum on an ephemeral bucket. */
dv_error dv_bucket_settings_validate(const dv_bucket_settings *s, char *errbuf, size_t errlen);

/* Parse the server flag value `NAME[:key=value,...]`, keys ramQuotaMB, replicas (or
 * numReplicas), type, flush (0/1/true/false), durabilityMinLevel, maxTTL. Starts from
 * dv_bucket_settings_default with flush enabled (a development server). DV_ERR_OK, or
 * DV_ERR_INVALID_ARGUMENT with a message naming the problem in errbuf. */
dv_error dv_bucket_settings_parse_flag(const char *arg, dv_bucket_settings *out, char *errbuf,
                                       size_t errlen);

/* ---- Buckets ------------------------------------------------------------------------------ */

typedef struct dv_bucket dv_bucket;

dv_bucket *dv_bucket_ref(dv_bucket *b);
/* Drop a reference; the last one frees the bucket and its store. NULL is ignored. */
void dv_bucket_release(dv_bucket *b);

/* Immutable for the bucket's life. */
const char *dv_bucket_name(const dv_bucket *b);
const char *dv_bucket_uuid(const dv_bucket *b); /* 32 hex digits */
dv_store *dv_bucket_store(dv_bucket *b);
/* The bucket's storage (server/persist.h); NULL when it lives in memory only (an ephemeral
 * bucket, or a server without a data directory). */
struct dv_persist *dv_bucket_persist(dv_bucket *b);
/* The bucket's range scans (server/scan.h). */
dv_scans *dv_bucket_scans(dv_bucket *b);

/* 1 once the bucket has been deleted from its cluster. */
int dv_bucket_deleted(const dv_bucket *b);
/* A snapshot of the settings. */
void dv_bucket_settings_get(dv_bucket *b, dv_bucket_settings *out);
/* Replace the settings (REST update): the name and type cannot change (DV_ERR_INVALID_ARGUMENT
 * with a message); bumps the config revision. */
dv_error dv_bucket_update(dv_bucket *b, const dv_bucket_settings *s, char *errbuf, size_t errlen);
/* The bucket config revision: 1 at creation, +1 on every change of settings, manifest or of
 * the cluster's ports. */
int64_t dv_bucket_rev(dv_bucket *b);

/* Drop every document. DV_ERR_BUCKET_NOT_FLUSHABLE if flush is disabled. */
dv_error dv_bucket_flush(dv_bucket *b);

/* The durability decision of kv-protocol.md 11.2/11.3 for a write on this node. requested is
 * the level of the request's frame info, 0 when the request has none (the caller answers EINVAL
 * for a malformed frame and DURABILITY_INVALID_LEVEL for an explicit 0 on the wire); levels
 * above 3 are invalid. The effective level is the higher of requested and the bucket's
 * durabilityMinLevel, written to *effective (may be NULL). Returns DV_STATUS_SUCCESS (write,
 * durably if *effective > 0), DV_STATUS_DURABILITY_INVALID_LEVEL (level > 3, or a persisting
 * level on an ephemeral bucket) or DV_STATUS_DURABILITY_IMPOSSIBLE (a durable write with
 * replicas this single node cannot place). */
dv_status dv_bucket_durability(const dv_bucket_settings *s, unsigned requested,
                               dv_durability_level *effective);

/* ---- Scopes and collections ---------------------------------------------------------------- */

/* Each change bumps the manifest uid by one and the config revision, and on success writes the
 * new manifest uid to *uid (may be NULL). New scope and collection ids count from 8, each kind
 * separately, and are never reused within the bucket. Errors: DV_ERR_SCOPE_EXISTS,
 * DV_ERR_COLLECTION_EXISTS, DV_ERR_SCOPE_NOT_FOUND, DV_ERR_COLLECTION_NOT_FOUND,
 * DV_ERR_INVALID_ARGUMENT (a name not valid for a user-created scope or collection, dropping
 * the _default scope, maxTTL below -1), DV_ERR_NO_MEMORY. Dropping a collection (or a scope)
 * drops its documents. */
dv_error dv_bucket_create_scope(dv_bucket *b, const char *scope, uint64_t *uid);
dv_error dv_bucket_drop_scope(dv_bucket *b, const char *scope, uint64_t *uid);

typedef struct dv_collection_spec {
    int has_max_ttl;
    int32_t max_ttl; /* seconds; 0 = the bucket's, -1 = never expire */
    int has_history;
    int history;
} dv_collection_spec;

/* spec may be NULL (no maxTTL, no history). */
dv_error dv_bucket_create_collection(dv_bucket *b, const char *scope, const char *collection,
                                     const dv_collection_spec *spec, uint64_t *uid);
dv_error dv_bucket_drop_collection(dv_bucket *b, const char *scope, const char *collection,
                                   uint64_t *uid);
/* Change a collection's maxTTL and history (what spec has); a new manifest uid. Errors as
 * dv_bucket_drop_collection, DV_ERR_INVALID_ARGUMENT for a maxTTL below -1. */
dv_error dv_bucket_update_collection(dv_bucket *b, const char *scope, const char *collection,
                                     const dv_collection_spec *spec, uint64_t *uid);

/* Resolve "scope.collection" (len bytes) as GET_COLLECTION_ID does (dv_manifest_lookup): the
 * id in *cid and the manifest uid it was found in in *manifest_uid (may be NULL). */
dv_error dv_bucket_lookup_collection(dv_bucket *b, const char *path, size_t len, uint32_t *cid,
                                     uint64_t *manifest_uid);
/* The collection's maxTTL (0 = none set, -1 = never expire) in *max_ttl; errors as above. */
dv_error dv_bucket_collection_max_ttl(dv_bucket *b, uint32_t cid, int32_t *max_ttl);
/* The collection cid: its maxTTL as above, and its scope's and its own names copied into scope
 * and collection (each DV_MANIFEST_NAME_MAX + 1 bytes; either may be NULL). DV_ERR_OK or
 * DV_ERR_COLLECTION_NOT_FOUND. */
dv_error dv_bucket_collection_find(dv_bucket *b, uint32_t cid, int32_t *max_ttl, char *scope,
                                   char *collection);
/* Resolve a scope name (len bytes) as GET_SCOPE_ID does: its id in *sid and the manifest uid
 * in *manifest_uid. DV_ERR_OK or DV_ERR_SCOPE_NOT_FOUND. */
dv_error dv_bucket_lookup_scope(dv_bucket *b, const char *name, size_t len, uint32_t *sid,
                                uint64_t *manifest_uid);
uint64_t dv_bucket_manifest_uid(dv_bucket *b);
/* Append the manifest JSON (6.3) to out. */
dv_error dv_bucket_manifest_json(dv_bucket *b, dv_buf *out);

/* ---- The cluster ----------------------------------------------------------------------------- */

typedef struct dv_cluster dv_cluster;

/* A cluster named name (NULL: "divan") with random cluster and node uuids, serving kv_port and
 * mgmt_port, config revision 1, no buckets. NULL on allocation failure. */
dv_cluster *dv_cluster_new(const char *name, uint16_t kv_port, uint16_t mgmt_port);
/* Drops the cluster's references to its buckets (see the lifetime rule above). */
void dv_cluster_free(dv_cluster *c);

const char *dv_cluster_name(const dv_cluster *c);
const char *dv_cluster_uuid(const dv_cluster *c);      /* 32 hex digits */
const char *dv_cluster_node_uuid(const dv_cluster *c); /* 32 hex digits */
void dv_cluster_ports(dv_cluster *c, uint16_t *kv_port, uint16_t *mgmt_port);
/* Set the ports once bound (e.g. after binding port 0); bumps every config revision. */
void dv_cluster_set_ports(dv_cluster *c, uint16_t kv_port, uint16_t mgmt_port);
/* The query service's port (0: none, the default); once set, configs list the n1ql service
 * with the enhancedPreparedStatements capability. Bumps every config revision. */
void dv_cluster_set_query_port(dv_cluster *c, uint16_t query_port);
/* The TLS twins of the KV, REST and query ports, advertised as kvSSL, mgmtSSL and n1qlSSL
 * (0: not served). */
void dv_cluster_set_tls_ports(dv_cluster *c, uint16_t kv, uint16_t mgmt, uint16_t query);
uint16_t dv_cluster_query_port(dv_cluster *c);
/* The cluster config revision: 1 at creation, +1 per bucket created or deleted and per port
 * change. */
int64_t dv_cluster_rev(dv_cluster *c);

/* Create a bucket from validated settings. DV_ERR_OK (and, if out is given, a reference in
 * *out), DV_ERR_INVALID_ARGUMENT (message in errbuf), DV_ERR_BUCKET_EXISTS, DV_ERR_NO_MEMORY. */
dv_error dv_cluster_create_bucket(dv_cluster *c, const dv_bucket_settings *s, dv_bucket **out,
                                  char *errbuf, size_t errlen);
/* The bucket the server has without a --bucket flag: `default`, couchbase, 0 replicas (so
 * that majority durability succeeds on one node), flush enabled. */
dv_error dv_cluster_create_default_bucket(dv_cluster *c);
/* Keep buckets in directory dir (created if absent): load the buckets kept there (each into
 * memory before the call returns; documents expired meanwhile are dropped), and give every
 * couchbase bucket created from now on a directory of its own (ephemeral ones stay in memory).
 * flush_ms is the writer's commit window (0: DV_PERSIST_DEFAULT_FLUSH_MS). *fresh says the
 * directory was new (or empty). Call once, before buckets are created or served. Errors, with
 * a message in errbuf: a directory that is not divan's, of a newer format, used by another
 * server, not writable, or a bucket in it that cannot be loaded (the server should stop:
 * nothing in it was changed). */
dv_error dv_cluster_open_data_dir(dv_cluster *c, const char *dir, uint32_t flush_ms, int *fresh,
                                  char *errbuf, size_t errlen);
/* 1 once a data directory is open. */
int dv_cluster_persistent(const dv_cluster *c);
/* A reference to the bucket named name (len bytes), or NULL. */
dv_bucket *dv_cluster_get_bucket(dv_cluster *c, const char *name, size_t len);
/* DV_ERR_OK or DV_ERR_BUCKET_NOT_FOUND. */
dv_error dv_cluster_delete_bucket(dv_cluster *c, const char *name);
/* References to every bucket, in creation order: *out is a new array of *n references (NULL
 * when there are none), released with dv_cluster_list_free. DV_ERR_OK or DV_ERR_NO_MEMORY. */
dv_error dv_cluster_list_buckets(dv_cluster *c, dv_bucket ***out, size_t *n);
void dv_cluster_list_free(dv_bucket **list, size_t n);

/* Append the bucket config JSON (7.2, 7.4) of b as this node serves it: 1024 vbuckets all
 * active on node 0, numReplicas rows padded with -1, no hostname ($HOST rules of 7.3), the kv
 * and mgmt ports, thisNode, bucketCapabilities, collectionsManifestUid, rev and revEpoch 1. */
dv_error dv_cluster_bucket_config_json(dv_cluster *c, dv_bucket *b, dv_buf *out);
/* Append the cluster-level config JSON: no name, no map, the cluster's rev. */
dv_error dv_cluster_config_json(dv_cluster *c, dv_buf *out);

#endif
