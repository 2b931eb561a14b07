/* Connection strings (kv-protocol.md §9): the one string a user gives to reach a cluster.
 *
 *   [scheme "://"] host [":" port] ["=" mode] { ("," | ";") host [":" port] ["=" mode] }
 *                  ["/" bucket] ["?" key "=" value { "&" key "=" value }]
 *
 * dv_connstr_parse() turns it into hosts, an optional bucket, the raw options in order and a
 * typed dv_connstr_options filled with the official core's defaults. Malformed input gives
 * DV_ERR_INVALID_ARGUMENT and a message naming the offending part; unknown option keys are kept
 * and reported as warnings, never errors. Pure parsing: no DNS, no sockets. */
#ifndef DV_TOPOLOGY_CONNSTR_H
#define DV_TOPOLOGY_CONNSTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits: longer input, more hosts or longer host names are rejected with a clear error. */
#define DV_CONNSTR_MAX_LEN   65536
#define DV_CONNSTR_MAX_HOSTS 64
#define DV_CONNSTR_MAX_HOST  255

typedef enum dv_connstr_scheme {
    DV_SCHEME_COUCHBASE = 0,      /* couchbase:// or no scheme: 11210, plain */
    DV_SCHEME_COUCHBASES,         /* couchbases://: 11207, TLS */
    DV_SCHEME_HTTP,               /* http://: 8091, plain (the official core still speaks KV) */
    DV_SCHEME_HTTPS,              /* https://: 18091, TLS (same remark) */
    DV_SCHEME_COUCHBASE2,         /* couchbase2://: 18098, TLS, Protostellar (gRPC), not MCBP */
    DV_SCHEME_COUCHBASE_DNSSRV,   /* couchbase+dnssrv:// (lcb): one host, always DNS SRV */
    DV_SCHEME_COUCHBASES_DNSSRV,  /* couchbases+dnssrv:// (lcb): same, TLS */
    DV_SCHEME_COUCHBASE_EXPLICIT, /* couchbase+explicit:// (lcb): every host names its port */
    DV_SCHEME_MEMCACHED,          /* memcached:// (lcb): 11211, plain */
} dv_connstr_scheme;

/* Per-host bootstrap mode suffix ("host:port=mode"), case-insensitive in the string. mcd, cccp
 * and gcccp all mean KV bootstrap; mcds and https are lcb's TLS variants. */
typedef enum dv_connstr_mode {
    DV_MODE_NONE = 0, /* no suffix */
    DV_MODE_MCD,
    DV_MODE_CCCP,
    DV_MODE_GCCCP,
    DV_MODE_HTTP,
    DV_MODE_MCDS,
    DV_MODE_HTTPS,
} dv_connstr_mode;

typedef enum dv_host_type {
    DV_HOST_DNS = 0, /* a name to resolve */
    DV_HOST_IPV4,
    DV_HOST_IPV6, /* was written in brackets; stored without them */
} dv_host_type;

typedef struct dv_connstr_host {
    const char *host; /* NUL-terminated, without brackets (IPv6 zone ids keep their '%') */
    uint16_t port;    /* the explicit port, else the scheme's default (0 for +explicit) */
    bool port_given;  /* a port was written for this host */
    bool is_ipv6;     /* type == DV_HOST_IPV6 */
    dv_host_type type;
    dv_connstr_mode mode;
} dv_connstr_host;

/* One "key=value" of the query part, in order; value percent-decoded ('+' stays '+'). */
typedef struct dv_connstr_option {
    const char *key;
    const char *value;
} dv_connstr_option;

typedef enum dv_ip_protocol {
    DV_IP_ANY = 0,
    DV_IP_FORCE_IPV4,
    DV_IP_FORCE_IPV6,
} dv_ip_protocol;

typedef enum dv_tls_verify {
    DV_TLS_VERIFY_PEER = 0,
    DV_TLS_VERIFY_NONE,
} dv_tls_verify;

typedef enum dv_bootstrap_on {
    DV_BOOTSTRAP_ON_ALL = 0, /* lcb bootstrap_on=all (the default) */
    DV_BOOTSTRAP_ON_CCCP,
    DV_BOOTSTRAP_ON_HTTP,
} dv_bootstrap_on;

/* The known option keys, typed. Durations are milliseconds. The comment gives key(s) and
 * default; dv_connstr_options_init() sets the defaults. */
typedef struct dv_connstr_options {
    uint64_t kv_timeout_ms;              /* kv_timeout, key_value_timeout: 2500 */
    uint64_t kv_durable_timeout_ms;      /* kv_durable_timeout, key_value_durable_timeout: 10000 */
    uint64_t connect_timeout_ms;         /* connect_timeout: 10000 */
    uint64_t kv_connect_timeout_ms;      /* kv_connect_timeout: 2000 */
    uint64_t bootstrap_timeout_ms;       /* bootstrap_timeout: 10000 */
    uint64_t resolve_timeout_ms;         /* resolve_timeout: 2000 */
    uint64_t query_timeout_ms;           /* query_timeout: 75000 */
    uint64_t analytics_timeout_ms;       /* analytics_timeout: 75000 */
    uint64_t search_timeout_ms;          /* search_timeout: 75000 */
    uint64_t view_timeout_ms;            /* view_timeout: 75000 */
    uint64_t management_timeout_ms;      /* management_timeout: 75000 */
    uint64_t tcp_keep_alive_interval_ms; /* tcp_keep_alive_interval: 60000 */
    uint64_t config_poll_interval_ms;    /* config_poll_interval: 2500 */
    uint64_t config_poll_floor_ms;       /* config_poll_floor: 50 */
    uint64_t idle_http_connection_timeout_ms; /* idle_http_connection_timeout: 1000 */
    uint64_t max_http_connections;            /* max_http_connections: 0 = unlimited */

    bool enable_mutation_tokens;           /* true (HELLO 0x04) */
    bool enable_unordered_execution;       /* true (HELLO 0x0e) */
    bool enable_clustermap_notification;   /* true (HELLO 0x0d + 0x1e) */
    bool enable_compression;               /* true (HELLO 0x0a) */
    bool enable_tcp_keep_alive;            /* true */
    bool enable_dns_srv;                   /* true; see dv_connstr_wants_dns_srv() */
    bool show_queries;                     /* false */
    bool enable_tracing;                   /* true */
    bool enable_metrics;                   /* true */
    bool enable_app_telemetry;             /* true */
    bool preserve_bootstrap_nodes_order;   /* false: hosts are shuffled before use */
    bool enable_lazy_connections;          /* false */
    bool allow_enterprise_analytics;       /* false */
    bool dump_configuration;               /* false */
    bool tls_disable_deprecated_protocols; /* true */
    bool tls_disable_v1_2;                 /* false */
    bool disable_mozilla_ca_certificates;  /* false */

    dv_ip_protocol ip_protocol;   /* ip_protocol=any|force_ipv4|force_ipv6, force_ipv4=true,
                                     lcb ipv6=allow|disabled|only: any */
    dv_tls_verify tls_verify;     /* tls_verify=peer|none: peer */
    dv_bootstrap_on bootstrap_on; /* lcb bootstrap_on=all|cccp|http: all */

    const char *network;                /* network: "auto" ("default", "external", a name) */
    const char *user_agent_extra;       /* user_agent_extra: "" */
    const char *trust_certificate;      /* trust_certificate (a path): NULL */
    const char *server_group;           /* server_group: NULL */
    const char *app_telemetry_endpoint; /* app_telemetry_endpoint: NULL */
} dv_connstr_options;

typedef struct dv_connstr {
    dv_connstr_scheme scheme;
    const char *scheme_name; /* canonical lower-case name, e.g. "couchbase" */
    bool scheme_given;       /* the string had "scheme://" */
    bool tls;
    uint16_t default_port; /* the scheme's default (0 for couchbase+explicit) */

    dv_connstr_host *hosts; /* in the order written */
    size_t nhosts;          /* >= 1 after a successful parse */

    const char *bucket; /* percent-decoded, or NULL when absent */

    dv_connstr_option *raw_options; /* every option as written, duplicates included */
    size_t nraw_options;
    dv_connstr_options options; /* typed; later keys win */

    const char **warnings; /* for the caller to log: unknown keys, suspicious ports */
    size_t nwarnings;
} dv_connstr;

/* Parse len bytes of s (no NUL terminator needed). On success returns 0 and sets *out, which
 * the caller releases with dv_connstr_free(). On failure sets *out to NULL, writes a message
 * into err (when errlen > 0; truncated to fit) and returns DV_ERR_INVALID_ARGUMENT, or
 * DV_ERR_NO_MEMORY. */
int dv_connstr_parse(const char *s, size_t len, dv_connstr **out, char *err, size_t errlen);
void dv_connstr_free(dv_connstr *cs);

/* The defaults of every typed option (what a connection string without options yields). */
void dv_connstr_options_init(dv_connstr_options *opts);

/* 1 if the client should first look up DNS SRV records (_couchbase._tcp.<host>, or
 * _couchbases._tcp. with TLS): a +dnssrv scheme, or couchbase(s):// with exactly one host that
 * is a DNS name, without port or mode, and enable_dns_srv on. */
int dv_connstr_wants_dns_srv(const dv_connstr *cs);

/* 1 if host (len bytes) is an IPv4 dotted quad or an IPv6 address (brackets and a zone id
 * allowed), i.e. nothing to resolve; 0 for a DNS name or anything else. */
int dv_host_is_ip_literal(const char *host, size_t len);

/* Go-style duration ("2500ms", "2.5s", "1m30s", "1h", "500us", "10ns"; units ns, us, µs, ms,
 * s, m, h; decimals and concatenation; "0") or a bare integer meaning milliseconds. Sub-
 * millisecond remainders are truncated. Returns 0 and sets *out_ms, or DV_ERR_INVALID_ARGUMENT
 * (negative, missing or unknown unit, garbage, more than ~584 years). */
int dv_parse_duration_ms(const char *s, size_t len, uint64_t *out_ms);

/* true/yes/on/1 and false/no/off/0, case-insensitive. 0 and *out set, or
 * DV_ERR_INVALID_ARGUMENT. */
int dv_parse_bool(const char *s, size_t len, bool *out);

#endif
