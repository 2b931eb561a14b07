/* The cluster configuration ("CCCP" config, kv-protocol.md 7): the model, the parser the
 * client uses, the generator the server uses, and the rules for replacing one config by another.
 *
 * A dv_config owns everything it points to: strings and arrays come from divan's allocator and
 * are released by dv_config_free. A server may build one by hand (dv_config_new, the add/set
 * helpers below, dv_vbmap_spread for the map) and render it with dv_config_write_json. */
#ifndef DV_TOPOLOGY_CONFIG_H
#define DV_TOPOLOGY_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "divan/error.h"
#include "topology/vbucket.h"

/* Service ports of nodesExt[i].services, by their JSON names (dv_service_name). */
typedef enum dv_service {
    DV_SVC_KV,           /* "kv" */
    DV_SVC_KV_SSL,       /* "kvSSL" */
    DV_SVC_MGMT,         /* "mgmt" */
    DV_SVC_MGMT_SSL,     /* "mgmtSSL" */
    DV_SVC_CAPI,         /* "capi" (views) */
    DV_SVC_CAPI_SSL,     /* "capiSSL" */
    DV_SVC_N1QL,         /* "n1ql" */
    DV_SVC_N1QL_SSL,     /* "n1qlSSL" */
    DV_SVC_FTS,          /* "fts" */
    DV_SVC_FTS_SSL,      /* "ftsSSL" */
    DV_SVC_CBAS,         /* "cbas" */
    DV_SVC_CBAS_SSL,     /* "cbasSSL" */
    DV_SVC_EVENTING,     /* "eventingAdminPort" */
    DV_SVC_EVENTING_SSL, /* "eventingSSL" */
    DV_SVC__COUNT
} dv_service;

const char *dv_service_name(dv_service svc);

typedef enum dv_node_locator {
    DV_LOCATOR_NONE = 0, /* absent (cluster-level configs) */
    DV_LOCATOR_VBUCKET,  /* "vbucket": Couchbase and ephemeral buckets */
    DV_LOCATOR_KETAMA,   /* "ketama": memcached buckets */
} dv_node_locator;

/* alternateAddresses.external of a node (NAT, Kubernetes). */
typedef struct dv_config_alt {
    char *hostname;
    uint16_t ports[DV_SVC__COUNT]; /* 0 = not listed */
} dv_config_alt;

typedef struct dv_config_node {
    /* After parsing: the host name or IP literal the client should use (substituted as
     * described at dv_config_parse); NULL only if absent and no bootstrap host was given, and
     * "$HOST" only if no peer address was given. For the generator, NULL, "" and "$HOST" all
     * mean "the address the client reached this node by": "$HOST" in serverList and the legacy
     * nodes list, and no hostname at all in nodesExt (7.3). */
    char *hostname;
    int this_node;                 /* thisNode: the entry of the node that sent the config */
    char *node_uuid;               /* nodeUUID, or NULL */
    char *server_group;            /* serverGroup, or NULL */
    uint16_t ports[DV_SVC__COUNT]; /* 0 = service not offered */
    dv_config_alt *alt;            /* alternateAddresses.external, or NULL */
} dv_config_node;

/* One entry of clusterCapabilities: {"<service>": ["<name>", ...]}. */
typedef struct dv_config_cap {
    char *service;
    char *name;
} dv_config_cap;

typedef struct dv_config {
    int has_rev_epoch;
    int64_t rev_epoch; /* revEpoch */
    int has_rev;
    int64_t rev; /* rev */
    char *name;  /* bucket name; NULL on cluster-level configs */
    char *uuid;  /* bucket uuid, or NULL */
    dv_node_locator locator;
    int has_manifest_uid;
    uint64_t manifest_uid; /* collectionsManifestUid (a hex string in JSON) */
    char **bucket_caps;    /* bucketCapabilities */
    size_t nbucket_caps;
    dv_config_cap *cluster_caps; /* clusterCapabilities, flattened in document order */
    size_t ncluster_caps;
    char *cluster_name;    /* clusterName, or NULL */
    char *cluster_uuid;    /* clusterUUID, or NULL */
    dv_config_node *nodes; /* nodesExt, in order: vbmap entry k is nodes[k] */
    size_t nnodes;
    uint32_t num_replicas; /* vBucketServerMap.numReplicas */
    dv_vbmap vbmap;        /* vBucketServerMap.vBucketMap; nvb == 0: no map */
} dv_config;

/* Parse a config document of len bytes (not necessarily NUL-terminated).
 *
 * Host substitution follows the official C++ core (7.3): a nodesExt hostname equal to "$HOST"
 * (and the host part of a legacy "$HOST:8091") becomes peer_ip, the IP address of the socket
 * the config arrived on; an absent or empty hostname becomes bootstrap_host, the host name the
 * user gave. Either may be NULL to keep the hostname as written ("$HOST", or NULL if absent).
 *
 * nodesExt is used when present; only without it is the legacy `nodes` list read (hostname
 * "host:mgmtport", ports.direct = kv port). vBucketServerMap is required when nodeLocator is
 * "vbucket"; its vBucketMap must have at least one row, rows of equal length (1..4), and
 * entries that are -1 or an index into the node list.
 *
 * Returns DV_ERR_OK and a new config in *out, DV_ERR_PARSING_FAILURE for input that is not a
 * valid config (with a message naming the offending member in errbuf, if given) or
 * DV_ERR_NO_MEMORY. errbuf may be NULL. */
dv_error dv_config_parse(const char *json, size_t len, const char *bootstrap_host,
                         const char *peer_ip, dv_config **out, char *errbuf, size_t errlen);

/* A new, empty config (no rev, no name, no nodes, no map); NULL on allocation failure. */
dv_config *dv_config_new(void);
void dv_config_free(dv_config *cfg);
/* A deep copy; NULL on allocation failure. */
dv_config *dv_config_clone(const dv_config *cfg);
/* 1 if every field is equal (strings by content, NULL equal only to NULL). */
int dv_config_equal(const dv_config *a, const dv_config *b);

/* Builders. Strings are copied. dv_config_add_node returns a zeroed node owned by cfg (valid
 * until the next add), or NULL on allocation failure. dv_config_set_string replaces *slot (one
 * of the config's or a node's string members) with a copy of value (NULL clears it). */
dv_config_node *dv_config_add_node(dv_config *cfg);
dv_error dv_config_set_string(char **slot, const char *value);
dv_error dv_config_add_bucket_cap(dv_config *cfg, const char *cap);
dv_error dv_config_add_cluster_cap(dv_config *cfg, const char *service, const char *name);

/* Order configs by (revEpoch, rev), an absent member lower than any present one: <0 if a is
 * older than b, 0 if the same, >0 if newer. */
int dv_config_rev_compare(const dv_config *a, const dv_config *b);

/* Whether a client holding `current` (NULL: none yet) should switch to `candidate` (10.2):
 * the candidate's map must be non-empty when the current config has one, the vbucket count
 * unchanged, (revEpoch, rev) strictly newer and, for configs pushed by the server (pushed != 0),
 * the bucket name equal (or both absent). Returns 1 or 0; on 0, *why (if given) gets a static
 * reason for the log. */
int dv_config_should_replace(const dv_config *current, const dv_config *candidate, int pushed,
                             const char **why);

/* The node (index into cfg->nodes) holding copy `replica` (0 = active) of the key's vbucket,
 * or -1 if there is none; the vbucket goes to *vb if vb is not NULL. */
int dv_config_route(const dv_config *cfg, const void *key, size_t len, uint32_t replica,
                    uint16_t *vb);

/* Append the terse JSON of cfg to out (7.4): a bucket config when cfg->name is set (name,
 * uuid, nodeLocator, collectionsManifestUid, capabilities, legacy nodes, nodesExt,
 * vBucketServerMap), else a cluster-level config (no name, no vBucketServerMap). this_node is
 * the index of the node the document is for (it alone gets "thisNode": true), so one config
 * serves every node; -1 writes each node's own this_node flag instead. List nodes with a kv port
 * first, in map index order (7.3): serverList and the legacy nodes list hold the nodes with a kv
 * port, in node order. Returns DV_ERR_INVALID_ARGUMENT (out unchanged) if cfg cannot be rendered as
 * a document dv_config_parse accepts: a vbucket bucket without a map, map entries beyond the node
 * list, strings that are not UTF-8; DV_ERR_NO_MEMORY on allocation failure. */
dv_error dv_config_write_json(const dv_config *cfg, int this_node, dv_buf *out);

#endif
