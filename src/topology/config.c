/* Cluster configs: parse (client), render (server), compare. JSON through jansson. */
#include "topology/config.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/errmsg.h"

static const char *const service_names[DV_SVC__COUNT] = {
    [DV_SVC_KV] = "kv",
    [DV_SVC_KV_SSL] = "kvSSL",
    [DV_SVC_MGMT] = "mgmt",
    [DV_SVC_MGMT_SSL] = "mgmtSSL",
    [DV_SVC_CAPI] = "capi",
    [DV_SVC_CAPI_SSL] = "capiSSL",
    [DV_SVC_N1QL] = "n1ql",
    [DV_SVC_N1QL_SSL] = "n1qlSSL",
    [DV_SVC_FTS] = "fts",
    [DV_SVC_FTS_SSL] = "ftsSSL",
    [DV_SVC_CBAS] = "cbas",
    [DV_SVC_CBAS_SSL] = "cbasSSL",
    [DV_SVC_EVENTING] = "eventingAdminPort",
    [DV_SVC_EVENTING_SSL] = "eventingSSL",
};

const char *dv_service_name(dv_service svc)
{
    return (unsigned)svc < DV_SVC__COUNT ? service_names[svc] : "unknown";
}

#define HOST_MARKER "$HOST"

/* ---- model ------------------------------------------------------------------------------ */

static void node_clear(dv_config_node *n)
{
    dv_free(n->hostname);
    dv_free(n->node_uuid);
    dv_free(n->server_group);
    if (n->alt) dv_free(n->alt->hostname);
    dv_free(n->alt);
}

void dv_config_free(dv_config *cfg)
{
    if (!cfg) return;
    dv_free(cfg->name);
    dv_free(cfg->uuid);
    for (size_t i = 0; i < cfg->nbucket_caps; i++) dv_free(cfg->bucket_caps[i]);
    dv_free(cfg->bucket_caps);
    for (size_t i = 0; i < cfg->ncluster_caps; i++) {
        dv_free(cfg->cluster_caps[i].service);
        dv_free(cfg->cluster_caps[i].name);
    }
    dv_free(cfg->cluster_caps);
    dv_free(cfg->cluster_name);
    dv_free(cfg->cluster_uuid);
    for (size_t i = 0; i < cfg->nnodes; i++) node_clear(&cfg->nodes[i]);
    dv_free(cfg->nodes);
    dv_vbmap_free(&cfg->vbmap);
    dv_free(cfg);
}

dv_config *dv_config_new(void)
{
    return dv_calloc(1, sizeof(dv_config));
}

dv_error dv_config_set_string(char **slot, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = dv_strdup(value))) return DV_ERR_NO_MEMORY;
    dv_free(*slot);
    *slot = copy;
    return DV_ERR_OK;
}

/* Grow an array of n elements of size sz by one zeroed element; NULL on failure. */
static void *grow(void **arr, size_t *n, size_t sz)
{
    if (*n >= SIZE_MAX / sz - 1) return NULL;
    char *p = dv_realloc(*arr, (*n + 1) * sz);
    if (!p) return NULL;
    *arr = p;
    memset(p + *n * sz, 0, sz);
    return p + (*n)++ * sz;
}

dv_config_node *dv_config_add_node(dv_config *cfg)
{
    return grow((void **)&cfg->nodes, &cfg->nnodes, sizeof *cfg->nodes);
}

dv_error dv_config_add_bucket_cap(dv_config *cfg, const char *cap)
{
    char *copy = dv_strdup(cap);
    if (!copy) return DV_ERR_NO_MEMORY;
    char **slot = grow((void **)&cfg->bucket_caps, &cfg->nbucket_caps, sizeof *slot);
    if (!slot) {
        dv_free(copy);
        return DV_ERR_NO_MEMORY;
    }
    *slot = copy;
    return DV_ERR_OK;
}

dv_error dv_config_add_cluster_cap(dv_config *cfg, const char *service, const char *name)
{
    char *s = dv_strdup(service), *n = dv_strdup(name);
    dv_config_cap *cap = NULL;
    if (s && n) cap = grow((void **)&cfg->cluster_caps, &cfg->ncluster_caps, sizeof *cap);
    if (!cap) {
        dv_free(s);
        dv_free(n);
        return DV_ERR_NO_MEMORY;
    }
    cap->service = s;
    cap->name = n;
    return DV_ERR_OK;
}

static int str_eq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static int node_equal(const dv_config_node *a, const dv_config_node *b)
{
    if (!str_eq(a->hostname, b->hostname) || !a->this_node != !b->this_node ||
        !str_eq(a->node_uuid, b->node_uuid) || !str_eq(a->server_group, b->server_group) ||
        memcmp(a->ports, b->ports, sizeof a->ports) != 0 || !a->alt != !b->alt)
        return 0;
    return !a->alt || (str_eq(a->alt->hostname, b->alt->hostname) &&
                       memcmp(a->alt->ports, b->alt->ports, sizeof a->alt->ports) == 0);
}

int dv_config_equal(const dv_config *a, const dv_config *b)
{
    if (a->has_rev_epoch != b->has_rev_epoch || (a->has_rev_epoch && a->rev_epoch != b->rev_epoch))
        return 0;
    if (a->has_rev != b->has_rev || (a->has_rev && a->rev != b->rev)) return 0;
    if (a->has_manifest_uid != b->has_manifest_uid ||
        (a->has_manifest_uid && a->manifest_uid != b->manifest_uid))
        return 0;
    if (!str_eq(a->name, b->name) || !str_eq(a->uuid, b->uuid) || a->locator != b->locator ||
        !str_eq(a->cluster_name, b->cluster_name) || !str_eq(a->cluster_uuid, b->cluster_uuid))
        return 0;
    if (a->nbucket_caps != b->nbucket_caps || a->ncluster_caps != b->ncluster_caps ||
        a->nnodes != b->nnodes || a->num_replicas != b->num_replicas)
        return 0;
    for (size_t i = 0; i < a->nbucket_caps; i++)
        if (!str_eq(a->bucket_caps[i], b->bucket_caps[i])) return 0;
    for (size_t i = 0; i < a->ncluster_caps; i++)
        if (!str_eq(a->cluster_caps[i].service, b->cluster_caps[i].service) ||
            !str_eq(a->cluster_caps[i].name, b->cluster_caps[i].name))
            return 0;
    for (size_t i = 0; i < a->nnodes; i++)
        if (!node_equal(&a->nodes[i], &b->nodes[i])) return 0;
    return dv_vbmap_equal(&a->vbmap, &b->vbmap);
}

/* Copy an optional string; 0 on allocation failure. */
static int dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    return !src || (*dst = dv_strdup(src)) != NULL;
}

dv_config *dv_config_clone(const dv_config *src)
{
    dv_config *c = dv_config_new();
    if (!c) return NULL;
    c->has_rev_epoch = src->has_rev_epoch;
    c->rev_epoch = src->rev_epoch;
    c->has_rev = src->has_rev;
    c->rev = src->rev;
    c->locator = src->locator;
    c->has_manifest_uid = src->has_manifest_uid;
    c->manifest_uid = src->manifest_uid;
    c->num_replicas = src->num_replicas;
    if (!dup_opt(&c->name, src->name) || !dup_opt(&c->uuid, src->uuid) ||
        !dup_opt(&c->cluster_name, src->cluster_name) ||
        !dup_opt(&c->cluster_uuid, src->cluster_uuid))
        goto fail;
    for (size_t i = 0; i < src->nbucket_caps; i++)
        if (dv_config_add_bucket_cap(c, src->bucket_caps[i]) != DV_ERR_OK) goto fail;
    for (size_t i = 0; i < src->ncluster_caps; i++)
        if (dv_config_add_cluster_cap(c, src->cluster_caps[i].service, src->cluster_caps[i].name) !=
            DV_ERR_OK)
            goto fail;
    if (src->nnodes) {
        if (!(c->nodes = dv_calloc(src->nnodes, sizeof *c->nodes))) goto fail;
        c->nnodes = src->nnodes;
    }
    for (size_t i = 0; i < src->nnodes; i++) {
        const dv_config_node *s = &src->nodes[i];
        dv_config_node *d = &c->nodes[i];
        d->this_node = s->this_node;
        memcpy(d->ports, s->ports, sizeof d->ports);
        if (!dup_opt(&d->hostname, s->hostname) || !dup_opt(&d->node_uuid, s->node_uuid) ||
            !dup_opt(&d->server_group, s->server_group))
            goto fail;
        if (s->alt) {
            if (!(d->alt = dv_calloc(1, sizeof *d->alt))) goto fail;
            memcpy(d->alt->ports, s->alt->ports, sizeof d->alt->ports);
            if (!dup_opt(&d->alt->hostname, s->alt->hostname)) goto fail;
        }
    }
    if (dv_vbmap_copy(&c->vbmap, &src->vbmap) != DV_ERR_OK) goto fail;
    return c;
fail:
    dv_config_free(c);
    return NULL;
}

/* ---- ordering and replacement (10.2) ---------------------------------------------------- */

static int cmp_opt(int has_a, int64_t a, int has_b, int64_t b)
{
    if (has_a != has_b) return has_a ? 1 : -1;
    if (!has_a || a == b) return 0;
    return a < b ? -1 : 1;
}

int dv_config_rev_compare(const dv_config *a, const dv_config *b)
{
    int c = cmp_opt(a->has_rev_epoch, a->rev_epoch, b->has_rev_epoch, b->rev_epoch);
    return c ? c : cmp_opt(a->has_rev, a->rev, b->has_rev, b->rev);
}

int dv_config_should_replace(const dv_config *current, const dv_config *candidate, int pushed,
                             const char **why)
{
    const char *reason = NULL;
    if (!candidate)
        reason = "no config";
    else if (candidate->locator == DV_LOCATOR_VBUCKET && candidate->vbmap.nvb == 0)
        reason = "empty vBucketMap";
    else if (current && current->vbmap.nvb && !candidate->vbmap.nvb)
        reason = "no vBucketMap where the current config has one";
    else if (current && current->vbmap.nvb && candidate->vbmap.nvb != current->vbmap.nvb)
        reason = "number of vbuckets changed";
    else if (current && dv_config_rev_compare(candidate, current) <= 0)
        reason = "not newer than the current config";
    else if (current && pushed && !str_eq(candidate->name, current->name))
        reason = "pushed config is for another bucket";
    if (why) *why = reason;
    return reason == NULL;
}

int dv_config_route(const dv_config *cfg, const void *key, size_t len, uint32_t replica,
                    uint16_t *vb)
{
    uint16_t v = dv_vbucket_of(key, len, cfg->vbmap.nvb);
    if (vb) *vb = v;
    int node = dv_vbmap_get(&cfg->vbmap, v, replica);
    return node >= 0 && (size_t)node < cfg->nnodes ? node : -1;
}

/* ---- parsing ---------------------------------------------------------------------------- */

typedef struct parser {
    char *err;
    size_t errlen;
    const char *bootstrap_host;
    const char *peer_ip;
} parser;

#define perr(p, ...)                                                                               \
    ((dv_error)dv_errmsg((p)->err, (p)->errlen, DV_ERR_PARSING_FAILURE, __VA_ARGS__))
#define oom(p) ((dv_error)dv_errmsg((p)->err, (p)->errlen, DV_ERR_NO_MEMORY, "out of memory"))

/* Optional string member: *out stays NULL when absent. */
static dv_error get_str(parser *p, const json_t *obj, const char *what, const char *key, char **out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) return DV_ERR_OK;
    if (!json_is_string(v)) return perr(p, "%s%s must be a string", what, key);
    if (!(*out = dv_strndup(json_string_value(v), json_string_length(v)))) return oom(p);
    return DV_ERR_OK;
}

static dv_error get_i64(parser *p, const json_t *obj, const char *key, int *has, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) return DV_ERR_OK;
    if (!json_is_integer(v)) return perr(p, "%s must be an integer", key);
    *has = 1;
    *out = (int64_t)json_integer_value(v);
    return DV_ERR_OK;
}

/* Hex digits without 0x, 1..16 of them. */
static int parse_hex_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        int d;
        char c = s[i];
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return 0;
        if (v >> 60) return 0;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 1;
}

/* The known ports of a services (or alternate ports) object; other members are ignored. */
static dv_error get_ports(parser *p, const json_t *obj, const char *what, uint16_t *ports)
{
    if (!json_is_object(obj)) return perr(p, "%s must be an object", what);
    for (int s = 0; s < DV_SVC__COUNT; s++) {
        const json_t *v = json_object_get(obj, service_names[s]);
        if (!v) continue;
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535)
            return perr(p, "%s.%s must be a port number (0..65535)", what, service_names[s]);
        ports[s] = (uint16_t)json_integer_value(v);
    }
    return DV_ERR_OK;
}

/* Apply the host rules of 7.3 to a hostname as written (NULL: absent). */
static dv_error set_host(parser *p, dv_config_node *n, const char *host, size_t len)
{
    const char *use = host;
    if (!host || len == 0)
        use = p->bootstrap_host;
    else if (len == strlen(HOST_MARKER) && memcmp(host, HOST_MARKER, len) == 0 && p->peer_ip)
        use = p->peer_ip;
    if (!use) return DV_ERR_OK;
    n->hostname = use == host ? dv_strndup(host, len) : dv_strdup(use);
    return n->hostname ? DV_ERR_OK : oom(p);
}

static dv_error parse_node_ext(parser *p, const json_t *o, size_t i, dv_config_node *n)
{
    char what[64];
    dv_error rc;
    if (!json_is_object(o)) return perr(p, "nodesExt[%zu] must be an object", i);
    const json_t *svc = json_object_get(o, "services");
    snprintf(what, sizeof what, "nodesExt[%zu].services", i);
    if (!svc) return perr(p, "%s is missing", what);
    if ((rc = get_ports(p, svc, what, n->ports)) != DV_ERR_OK) return rc;

    snprintf(what, sizeof what, "nodesExt[%zu].", i);
    const json_t *h = json_object_get(o, "hostname");
    if (h && !json_is_string(h)) return perr(p, "%shostname must be a string", what);
    rc = set_host(p, n, h ? json_string_value(h) : NULL, h ? json_string_length(h) : 0);
    if (rc != DV_ERR_OK) return rc;
    const json_t *t = json_object_get(o, "thisNode");
    if (t && !json_is_boolean(t)) return perr(p, "%sthisNode must be a boolean", what);
    n->this_node = json_is_true(t);
    if ((rc = get_str(p, o, what, "nodeUUID", &n->node_uuid)) != DV_ERR_OK) return rc;
    if ((rc = get_str(p, o, what, "serverGroup", &n->server_group)) != DV_ERR_OK) return rc;

    const json_t *alt = json_object_get(o, "alternateAddresses");
    if (!alt) return DV_ERR_OK;
    if (!json_is_object(alt)) return perr(p, "%salternateAddresses must be an object", what);
    const json_t *ext = json_object_get(alt, "external");
    if (!ext) return DV_ERR_OK;
    snprintf(what, sizeof what, "nodesExt[%zu].alternateAddresses.external", i);
    if (!json_is_object(ext)) return perr(p, "%s must be an object", what);
    if (!(n->alt = dv_calloc(1, sizeof *n->alt))) return oom(p);
    const json_t *ah = json_object_get(ext, "hostname");
    if (!json_is_string(ah)) return perr(p, "%s.hostname must be a string", what);
    if (!(n->alt->hostname = dv_strndup(json_string_value(ah), json_string_length(ah))))
        return oom(p);
    const json_t *ap = json_object_get(ext, "ports");
    if (!ap) return DV_ERR_OK;
    snprintf(what, sizeof what, "nodesExt[%zu].alternateAddresses.external.ports", i);
    return get_ports(p, ap, what, n->alt->ports);
}

/* A legacy nodes[] entry: {"hostname":"host:8091","ports":{"direct":11210}}. */
static dv_error parse_node_legacy(parser *p, const json_t *o, size_t i, dv_config_node *n)
{
    if (!json_is_object(o)) return perr(p, "nodes[%zu] must be an object", i);
    const json_t *h = json_object_get(o, "hostname");
    if (!json_is_string(h)) return perr(p, "nodes[%zu].hostname must be a string", i);
    const char *s = json_string_value(h);
    size_t len = json_string_length(h), hlen = len;
    const char *colon = NULL;
    for (size_t k = 0; k < len; k++)
        if (s[k] == ':') colon = s + k;
    if (colon) {
        unsigned long port = 0;
        size_t plen = len - (size_t)(colon + 1 - s);
        if (plen == 0 || plen > 5) return perr(p, "nodes[%zu].hostname has a bad port", i);
        for (const char *c = colon + 1; c < s + len; c++) {
            if (*c < '0' || *c > '9') return perr(p, "nodes[%zu].hostname has a bad port", i);
            port = port * 10 + (unsigned long)(*c - '0');
        }
        if (port > 65535) return perr(p, "nodes[%zu].hostname has a bad port", i);
        n->ports[DV_SVC_MGMT] = (uint16_t)port;
        hlen = (size_t)(colon - s);
    }
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
        s++;
        hlen -= 2;
    }
    dv_error rc = set_host(p, n, s, hlen);
    if (rc != DV_ERR_OK) return rc;
    const json_t *ports = json_object_get(o, "ports");
    const json_t *direct = json_object_get(ports, "direct");
    if (!json_is_object(ports) || !json_is_integer(direct) || json_integer_value(direct) < 0 ||
        json_integer_value(direct) > 65535)
        return perr(p, "nodes[%zu].ports.direct must be a port number (0..65535)", i);
    n->ports[DV_SVC_KV] = (uint16_t)json_integer_value(direct);
    const json_t *t = json_object_get(o, "thisNode");
    if (t && !json_is_boolean(t)) return perr(p, "nodes[%zu].thisNode must be a boolean", i);
    n->this_node = json_is_true(t);
    return DV_ERR_OK;
}

static dv_error parse_nodes(parser *p, const json_t *root, dv_config *cfg)
{
    const json_t *list = json_object_get(root, "nodesExt");
    const char *key = "nodesExt";
    int legacy = 0;
    if (!list && (list = json_object_get(root, "nodes")) != NULL) {
        key = "nodes";
        legacy = 1;
    }
    if (!list) return perr(p, "nodesExt is missing");
    if (!json_is_array(list)) return perr(p, "%s must be an array", key);
    size_t n = json_array_size(list);
    if (n == 0) return perr(p, "%s is empty", key);
    if (n > DV_VBMAP_MAX_NODES)
        return perr(p, "%s has more than %u nodes", key, DV_VBMAP_MAX_NODES);
    if (!(cfg->nodes = dv_calloc(n, sizeof *cfg->nodes))) return oom(p);
    cfg->nnodes = n;
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(list, i);
        dv_error rc = legacy ? parse_node_legacy(p, o, i, &cfg->nodes[i])
                             : parse_node_ext(p, o, i, &cfg->nodes[i]);
        if (rc != DV_ERR_OK) return rc;
    }
    return DV_ERR_OK;
}

static dv_error parse_vbmap(parser *p, const json_t *m, dv_config *cfg)
{
    if (!json_is_object(m)) return perr(p, "vBucketServerMap must be an object");
    const json_t *h = json_object_get(m, "hashAlgorithm");
    if (h && (!json_is_string(h) || strcmp(json_string_value(h), "CRC") != 0))
        return perr(p, "vBucketServerMap.hashAlgorithm must be \"CRC\"");
    const json_t *map = json_object_get(m, "vBucketMap");
    if (!map) return perr(p, "vBucketServerMap.vBucketMap is missing");
    if (!json_is_array(map)) return perr(p, "vBucketServerMap.vBucketMap must be an array");
    size_t nvb = json_array_size(map);
    if (nvb == 0) return perr(p, "vBucketServerMap.vBucketMap is empty");
    if (nvb > DV_VBMAP_MAX_VBUCKETS)
        return perr(p, "vBucketServerMap.vBucketMap has more than %u rows", DV_VBMAP_MAX_VBUCKETS);
    const json_t *row0 = json_array_get(map, 0);
    size_t width = json_array_size(row0);
    if (!json_is_array(row0) || width == 0 || width > DV_VBMAP_MAX_WIDTH)
        return perr(p, "vBucketServerMap.vBucketMap[0] must be an array of 1..%u node indexes",
                    DV_VBMAP_MAX_WIDTH);
    dv_error rc = dv_vbmap_init(&cfg->vbmap, (uint32_t)nvb, (uint32_t)width);
    if (rc != DV_ERR_OK) return oom(p);
    for (size_t vb = 0; vb < nvb; vb++) {
        const json_t *row = json_array_get(map, vb);
        if (!json_is_array(row) || json_array_size(row) != width)
            return perr(p, "vBucketServerMap.vBucketMap[%zu] must be an array of %zu node indexes",
                        vb, width);
        for (size_t i = 0; i < width; i++) {
            const json_t *e = json_array_get(row, i);
            if (!json_is_integer(e) || json_integer_value(e) < -1 ||
                json_integer_value(e) >= (json_int_t)cfg->nnodes)
                return perr(p,
                            "vBucketServerMap.vBucketMap[%zu][%zu] must be -1 or a node index "
                            "below %zu",
                            vb, i, cfg->nnodes);
            dv_vbmap_set(&cfg->vbmap, (uint32_t)vb, (uint32_t)i, (int16_t)json_integer_value(e));
        }
    }
    const json_t *r = json_object_get(m, "numReplicas");
    if (!r)
        cfg->num_replicas = (uint32_t)width - 1;
    else if (!json_is_integer(r) || json_integer_value(r) < 0 ||
             json_integer_value(r) >= DV_VBMAP_MAX_WIDTH)
        return perr(p, "vBucketServerMap.numReplicas must be an integer 0..%u",
                    DV_VBMAP_MAX_WIDTH - 1);
    else
        cfg->num_replicas = (uint32_t)json_integer_value(r);
    return DV_ERR_OK;
}

static dv_error parse_caps(parser *p, const json_t *root, dv_config *cfg)
{
    const json_t *bc = json_object_get(root, "bucketCapabilities");
    if (bc) {
        if (!json_is_array(bc)) return perr(p, "bucketCapabilities must be an array");
        size_t n = json_array_size(bc);
        if (n && !(cfg->bucket_caps = dv_calloc(n, sizeof *cfg->bucket_caps))) return oom(p);
        for (size_t i = 0; i < n; i++) {
            const json_t *v = json_array_get(bc, i);
            if (!json_is_string(v)) return perr(p, "bucketCapabilities[%zu] must be a string", i);
            char *s = dv_strndup(json_string_value(v), json_string_length(v));
            if (!s) return oom(p);
            cfg->bucket_caps[cfg->nbucket_caps++] = s;
        }
    }
    const json_t *cc = json_object_get(root, "clusterCapabilities");
    if (!cc) return DV_ERR_OK;
    if (!json_is_object(cc)) return perr(p, "clusterCapabilities must be an object");
    const char *svc;
    const json_t *list;
    json_object_foreach((json_t *)cc, svc, list)
    {
        if (!json_is_array(list)) return perr(p, "clusterCapabilities.%s must be an array", svc);
        for (size_t i = 0; i < json_array_size(list); i++) {
            const json_t *v = json_array_get(list, i);
            if (!json_is_string(v))
                return perr(p, "clusterCapabilities.%s[%zu] must be a string", svc, i);
            if (dv_config_add_cluster_cap(cfg, svc, json_string_value(v)) != DV_ERR_OK)
                return oom(p);
        }
    }
    return DV_ERR_OK;
}

static dv_error parse_root(parser *p, const json_t *root, dv_config *cfg)
{
    dv_error rc;
    if (!json_is_object(root)) return perr(p, "config must be a JSON object");
    if ((rc = get_i64(p, root, "rev", &cfg->has_rev, &cfg->rev)) != DV_ERR_OK) return rc;
    if ((rc = get_i64(p, root, "revEpoch", &cfg->has_rev_epoch, &cfg->rev_epoch)) != DV_ERR_OK)
        return rc;
    if ((rc = get_str(p, root, "", "name", &cfg->name)) != DV_ERR_OK) return rc;
    if ((rc = get_str(p, root, "", "uuid", &cfg->uuid)) != DV_ERR_OK) return rc;
    if ((rc = get_str(p, root, "", "clusterName", &cfg->cluster_name)) != DV_ERR_OK) return rc;
    if ((rc = get_str(p, root, "", "clusterUUID", &cfg->cluster_uuid)) != DV_ERR_OK) return rc;

    const json_t *loc = json_object_get(root, "nodeLocator");
    if (loc) {
        const char *s = json_is_string(loc) ? json_string_value(loc) : "";
        if (strcmp(s, "vbucket") == 0)
            cfg->locator = DV_LOCATOR_VBUCKET;
        else if (strcmp(s, "ketama") == 0)
            cfg->locator = DV_LOCATOR_KETAMA;
        else
            return perr(p, "nodeLocator must be \"vbucket\" or \"ketama\"");
    }
    const json_t *uid = json_object_get(root, "collectionsManifestUid");
    if (uid) {
        if (!json_is_string(uid) ||
            !parse_hex_u64(json_string_value(uid), json_string_length(uid), &cfg->manifest_uid))
            return perr(p, "collectionsManifestUid must be a string of 1..16 hex digits");
        cfg->has_manifest_uid = 1;
    }
    if ((rc = parse_caps(p, root, cfg)) != DV_ERR_OK) return rc;
    if ((rc = parse_nodes(p, root, cfg)) != DV_ERR_OK) return rc;

    const json_t *m = json_object_get(root, "vBucketServerMap");
    if (m) return parse_vbmap(p, m, cfg);
    if (cfg->locator == DV_LOCATOR_VBUCKET)
        return perr(p, "vBucketServerMap is missing (nodeLocator is \"vbucket\")");
    return DV_ERR_OK;
}

dv_error dv_config_parse(const char *json, size_t len, const char *bootstrap_host,
                         const char *peer_ip, dv_config **out, char *errbuf, size_t errlen)
{
    parser p = {errbuf, errlen, bootstrap_host, peer_ip};
    *out = NULL;
    if (errbuf && errlen) errbuf[0] = 0;
    if (!json) return perr(&p, "no config");
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_out_of_memory) return oom(&p);
        return perr(&p, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                    jerr.text);
    }
    dv_config *cfg = dv_config_new();
    dv_error rc = cfg ? parse_root(&p, root, cfg) : oom(&p);
    json_decref(root);
    if (rc != DV_ERR_OK) {
        dv_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return DV_ERR_OK;
}

/* ---- rendering -------------------------------------------------------------------------- */

/* Building a jansson document: the first failure is kept in rc and later steps are skipped. */
typedef struct writer {
    dv_error rc;
} writer;

static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p++, n, min;
        uint32_t cp;
        if (c < 0x80) continue;
        if ((c & 0xE0) == 0xC0)
            n = 1, min = 0x80, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            n = 2, min = 0x800, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            n = 3, min = 0x10000, cp = c & 0x07;
        else
            return 0;
        for (unsigned k = 0; k < n; k++, p++) {
            if ((*p & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (*p & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    }
    return 1;
}

static json_t *w_new(writer *w, json_t *v)
{
    if (!v && w->rc == DV_ERR_OK) w->rc = DV_ERR_NO_MEMORY;
    return v;
}

static json_t *w_str(writer *w, const char *s)
{
    if (!utf8_valid(s)) {
        if (w->rc == DV_ERR_OK) w->rc = DV_ERR_INVALID_ARGUMENT;
        return NULL;
    }
    return w_new(w, json_string(s));
}

/* Steals v (may be NULL after an earlier failure). */
static void w_set(writer *w, json_t *obj, const char *key, json_t *v)
{
    if (!obj || !v) {
        json_decref(v);
        if (!v && w->rc == DV_ERR_OK) w->rc = DV_ERR_NO_MEMORY;
        return;
    }
    if (!utf8_valid(key)) {
        json_decref(v);
        if (w->rc == DV_ERR_OK) w->rc = DV_ERR_INVALID_ARGUMENT;
        return;
    }
    if (json_object_set_new(obj, key, v) != 0 && w->rc == DV_ERR_OK) w->rc = DV_ERR_NO_MEMORY;
}

static void w_push(writer *w, json_t *arr, json_t *v)
{
    if (!arr || !v) {
        json_decref(v);
        if (!v && w->rc == DV_ERR_OK) w->rc = DV_ERR_NO_MEMORY;
        return;
    }
    if (json_array_append_new(arr, v) != 0 && w->rc == DV_ERR_OK) w->rc = DV_ERR_NO_MEMORY;
}

static int is_self(const char *host)
{
    return !host || !*host || strcmp(host, HOST_MARKER) == 0;
}

/* "host:port" with IPv6 literals bracketed; "$HOST" for the node itself. */
static json_t *w_hostport(writer *w, const char *host, unsigned port)
{
    const char *h = is_self(host) ? HOST_MARKER : host;
    int v6 = strchr(h, ':') != NULL;
    dv_buf b = DV_BUF_INIT;
    json_t *v = NULL;
    if (dv_buf_printf(&b, "%s%s%s:%u", v6 ? "[" : "", h, v6 ? "]" : "", port) != 0 ||
        dv_buf_append_u8(&b, 0) != 0) {
        if (w->rc == DV_ERR_OK) w->rc = DV_ERR_NO_MEMORY;
    } else {
        v = w_str(w, (const char *)dv_buf_head(&b));
    }
    dv_buf_free(&b);
    return v;
}

static json_t *w_ports(writer *w, const uint16_t *ports)
{
    json_t *o = w_new(w, json_object());
    for (int s = 0; s < DV_SVC__COUNT; s++)
        if (ports[s]) w_set(w, o, service_names[s], w_new(w, json_integer(ports[s])));
    return o;
}

/* "/bucket%2Buuid" of couchApiBase, the name percent-encoded. */
static json_t *w_couch_base(writer *w, const dv_config *cfg, const dv_config_node *n)
{
    static const char hex[] = "0123456789ABCDEF";
    dv_buf path = DV_BUF_INIT;
    int bad = dv_buf_append_u8(&path, '/');
    for (const unsigned char *c = (const unsigned char *)cfg->name; *c && !bad; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '_' || *c == '.')
            bad = dv_buf_append_u8(&path, *c);
        else
            bad = dv_buf_printf(&path, "%%%c%c", hex[*c >> 4], hex[*c & 15]);
    }
    if (!bad && cfg->uuid) bad = dv_buf_printf(&path, "%%2B%s", cfg->uuid);
    if (!bad) bad = dv_buf_append_u8(&path, 0);
    json_t *v = NULL;
    if (bad) {
        if (w->rc == DV_ERR_OK) w->rc = DV_ERR_NO_MEMORY;
    } else {
        unsigned capi = n->ports[DV_SVC_CAPI] ? n->ports[DV_SVC_CAPI] : 8092;
        const char *h = is_self(n->hostname) ? HOST_MARKER : n->hostname;
        int v6 = strchr(h, ':') != NULL;
        dv_buf url = DV_BUF_INIT;
        if (dv_buf_printf(&url, "http://%s%s%s:%u%s", v6 ? "[" : "", h, v6 ? "]" : "", capi,
                          (const char *)dv_buf_head(&path)) != 0 ||
            dv_buf_append_u8(&url, 0) != 0) {
            if (w->rc == DV_ERR_OK) w->rc = DV_ERR_NO_MEMORY;
        } else {
            v = w_str(w, (const char *)dv_buf_head(&url));
        }
        dv_buf_free(&url);
    }
    dv_buf_free(&path);
    return v;
}

static json_t *w_cluster_caps(writer *w, const dv_config *cfg)
{
    json_t *o = w_new(w, json_object());
    for (size_t i = 0; o && i < cfg->ncluster_caps; i++) {
        const dv_config_cap *c = &cfg->cluster_caps[i];
        json_t *list = utf8_valid(c->service) ? json_object_get(o, c->service) : NULL;
        if (!list) {
            list = w_new(w, json_array());
            w_set(w, o, c->service, list);
            if (w->rc != DV_ERR_OK) break;
        }
        w_push(w, list, w_str(w, c->name));
    }
    if (o && !json_object_get(o, "n1ql")) w_set(w, o, "n1ql", w_new(w, json_array()));
    return o;
}

static json_t *w_node_ext(writer *w, const dv_config_node *n, int this_node)
{
    json_t *o = w_new(w, json_object());
    if (!is_self(n->hostname)) w_set(w, o, "hostname", w_str(w, n->hostname));
    w_set(w, o, "services", w_ports(w, n->ports));
    if (this_node) w_set(w, o, "thisNode", w_new(w, json_true()));
    if (n->node_uuid) w_set(w, o, "nodeUUID", w_str(w, n->node_uuid));
    if (n->server_group) w_set(w, o, "serverGroup", w_str(w, n->server_group));
    if (n->alt) {
        json_t *ext = w_new(w, json_object()), *alt = w_new(w, json_object());
        if (!n->alt->hostname && w->rc == DV_ERR_OK) w->rc = DV_ERR_INVALID_ARGUMENT;
        if (n->alt->hostname) w_set(w, ext, "hostname", w_str(w, n->alt->hostname));
        w_set(w, ext, "ports", w_ports(w, n->alt->ports));
        w_set(w, alt, "external", ext);
        w_set(w, o, "alternateAddresses", alt);
    }
    return o;
}

static json_t *w_vbmap(writer *w, const dv_config *cfg)
{
    json_t *m = w_new(w, json_object());
    w_set(w, m, "hashAlgorithm", w_str(w, "CRC"));
    w_set(w, m, "numReplicas", w_new(w, json_integer(cfg->num_replicas)));
    json_t *servers = w_new(w, json_array());
    for (size_t i = 0; i < cfg->nnodes && w->rc == DV_ERR_OK; i++) {
        const dv_config_node *n = &cfg->nodes[i];
        if (n->ports[DV_SVC_KV])
            w_push(w, servers, w_hostport(w, n->hostname, n->ports[DV_SVC_KV]));
    }
    w_set(w, m, "serverList", servers);
    json_t *rows = w_new(w, json_array());
    for (uint32_t vb = 0; vb < cfg->vbmap.nvb && w->rc == DV_ERR_OK; vb++) {
        json_t *row = w_new(w, json_array());
        for (uint32_t i = 0; i < cfg->vbmap.width; i++)
            w_push(w, row, w_new(w, json_integer(dv_vbmap_get(&cfg->vbmap, vb, i))));
        w_push(w, rows, row);
    }
    w_set(w, m, "vBucketMap", rows);
    return m;
}

/* Everything dv_config_parse would reject in a rendered cfg. */
static int renderable(const dv_config *cfg, int this_node)
{
    if (cfg->nnodes == 0 || cfg->nnodes > DV_VBMAP_MAX_NODES) return 0;
    if (this_node >= 0 && (size_t)this_node >= cfg->nnodes) return 0;
    if (cfg->locator == DV_LOCATOR_VBUCKET && cfg->vbmap.nvb == 0) return 0;
    if (cfg->vbmap.nvb) {
        if (cfg->vbmap.nvb > DV_VBMAP_MAX_VBUCKETS || cfg->vbmap.width == 0 ||
            cfg->vbmap.width > DV_VBMAP_MAX_WIDTH || cfg->num_replicas >= DV_VBMAP_MAX_WIDTH)
            return 0;
        size_t n = (size_t)cfg->vbmap.nvb * cfg->vbmap.width;
        for (size_t i = 0; i < n; i++)
            if (cfg->vbmap.nodes[i] < -1 || cfg->vbmap.nodes[i] >= (int)cfg->nnodes) return 0;
    }
    return cfg->locator == DV_LOCATOR_NONE || cfg->locator == DV_LOCATOR_VBUCKET ||
           cfg->locator == DV_LOCATOR_KETAMA;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return dv_buf_append(data, buffer, size);
}

dv_error dv_config_write_json(const dv_config *cfg, int this_node, dv_buf *out)
{
    if (!renderable(cfg, this_node)) return DV_ERR_INVALID_ARGUMENT;
    writer w = {DV_ERR_OK};
    json_t *root = w_new(&w, json_object());
    if (cfg->has_rev) w_set(&w, root, "rev", w_new(&w, json_integer(cfg->rev)));
    if (cfg->has_rev_epoch) w_set(&w, root, "revEpoch", w_new(&w, json_integer(cfg->rev_epoch)));
    if (cfg->name) w_set(&w, root, "name", w_str(&w, cfg->name));
    if (cfg->uuid) w_set(&w, root, "uuid", w_str(&w, cfg->uuid));
    if (cfg->locator != DV_LOCATOR_NONE)
        w_set(&w, root, "nodeLocator",
              w_str(&w, cfg->locator == DV_LOCATOR_VBUCKET ? "vbucket" : "ketama"));
    if (cfg->has_manifest_uid) {
        char hex[17];
        snprintf(hex, sizeof hex, "%llx", (unsigned long long)cfg->manifest_uid);
        w_set(&w, root, "collectionsManifestUid", w_str(&w, hex));
    }
    if (cfg->cluster_name) w_set(&w, root, "clusterName", w_str(&w, cfg->cluster_name));
    if (cfg->cluster_uuid) w_set(&w, root, "clusterUUID", w_str(&w, cfg->cluster_uuid));
    if (cfg->name || cfg->nbucket_caps) {
        w_set(&w, root, "bucketCapabilitiesVer", w_str(&w, ""));
        json_t *caps = w_new(&w, json_array());
        for (size_t i = 0; i < cfg->nbucket_caps; i++)
            w_push(&w, caps, w_str(&w, cfg->bucket_caps[i]));
        w_set(&w, root, "bucketCapabilities", caps);
    }
    json_t *ver = w_new(&w, json_array());
    w_push(&w, ver, w_new(&w, json_integer(1)));
    w_push(&w, ver, w_new(&w, json_integer(0)));
    w_set(&w, root, "clusterCapabilitiesVer", ver);
    w_set(&w, root, "clusterCapabilities", w_cluster_caps(&w, cfg));
    if (cfg->name) {
        json_t *nodes = w_new(&w, json_array());
        for (size_t i = 0; i < cfg->nnodes && w.rc == DV_ERR_OK; i++) {
            const dv_config_node *n = &cfg->nodes[i];
            if (!n->ports[DV_SVC_KV]) continue;
            json_t *o = w_new(&w, json_object()), *ports = w_new(&w, json_object());
            unsigned mgmt = n->ports[DV_SVC_MGMT] ? n->ports[DV_SVC_MGMT] : 8091;
            w_set(&w, o, "hostname", w_hostport(&w, n->hostname, mgmt));
            w_set(&w, ports, "direct", w_new(&w, json_integer(n->ports[DV_SVC_KV])));
            w_set(&w, o, "ports", ports);
            w_set(&w, o, "couchApiBase", w_couch_base(&w, cfg, n));
            w_push(&w, nodes, o);
        }
        w_set(&w, root, "nodes", nodes);
    }
    json_t *ext = w_new(&w, json_array());
    for (size_t i = 0; i < cfg->nnodes && w.rc == DV_ERR_OK; i++) {
        int self = this_node >= 0 ? (size_t)this_node == i : cfg->nodes[i].this_node;
        w_push(&w, ext, w_node_ext(&w, &cfg->nodes[i], self));
    }
    w_set(&w, root, "nodesExt", ext);
    if (cfg->vbmap.nvb) w_set(&w, root, "vBucketServerMap", w_vbmap(&w, cfg));

    if (w.rc == DV_ERR_OK) {
        size_t mark = out->len;
        if (json_dump_callback(root, dump_cb, out, JSON_COMPACT) != 0) {
            out->len = mark;
            w.rc = DV_ERR_NO_MEMORY;
        }
    }
    json_decref(root);
    return w.rc;
}
