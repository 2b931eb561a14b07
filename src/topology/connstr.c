/* Connection-string parser (kv-protocol.md §9). One pass over the bytes, left to right:
 * scheme, host list, bucket, options. The result lives in one allocation (struct, host and
 * option arrays, then a string pool sized from the input); warnings are allocated apart. */
#include "topology/connstr.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/errmsg.h"
#include "divan/error.h"

/* ---- character classes (no locale) ---------------------------------------------------- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_val(char c)
{
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive equality of s[0..n) with a NUL-terminated literal. */
static bool ieq(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    if (l != n) return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != lower(lit[i])) return false;
    return true;
}

static bool eq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static bool is_host_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_key_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == '-';
}

static bool is_bucket_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == '-' || c == '%';
}

static bool is_zone_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == '-' || c == '~';
}

/* ---- IP literals ----------------------------------------------------------------------- */

/* Dotted quad, each part 0..255 without leading zeros. */
static bool ipv4_valid(const char *s, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || s[i] != '.') return false;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < n && is_digit(s[i]) && i - start < 3) v = v * 10 + (unsigned)(s[i++] - '0');
        size_t dl = i - start;
        if (dl == 0 || v > 255 || (dl > 1 && s[start] == '0')) return false;
        if (i < n && is_digit(s[i])) return false;
    }
    return i == n;
}

/* RFC 4291 text form: eight groups of 1..4 hex digits, at most one "::", optionally ending in
 * a dotted quad that counts as two groups. */
static bool ipv6_valid(const char *s, size_t n)
{
    size_t i = 0, groups = 0;
    bool dbl = false;
    if (n < 2) return false;
    if (s[0] == ':') {
        if (s[1] != ':') return false;
        dbl = true;
        i = 2;
    }
    while (i < n) {
        size_t start = i;
        while (i < n && hex_val(s[i]) >= 0) i++;
        if (i < n && s[i] == '.') {
            if (!ipv4_valid(s + start, n - start)) return false;
            groups += 2;
            break;
        }
        size_t gl = i - start;
        if (gl == 0 || gl > 4) return false;
        groups++;
        if (i == n) break;
        if (s[i] != ':') return false;
        i++;
        if (i < n && s[i] == ':') {
            if (dbl) return false;
            dbl = true;
            i++;
        } else if (i == n) {
            return false; /* a single trailing ':' */
        }
    }
    return dbl ? groups <= 7 : groups == 8;
}

int dv_host_is_ip_literal(const char *host, size_t len)
{
    if (!host) return 0;
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
    }
    const char *pct = memchr(host, '%', len);
    if (pct) return ipv6_valid(host, (size_t)(pct - host)) && pct + 1 < host + len;
    return ipv4_valid(host, len) || ipv6_valid(host, len);
}

/* ---- durations and booleans ----------------------------------------------------------- */

static const struct {
    const char *name;
    uint64_t ns;
} duration_units[] = {
    {"ns", 1ull},           {"us", 1000ull},      {"\xc2\xb5s", 1000ull}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000ull},                                               /* U+03BC Greek mu */
    {"ms", 1000000ull},     {"s", 1000000000ull}, {"m", 60000000000ull},  {"h", 3600000000000ull},
};

int dv_parse_duration_ms(const char *s, size_t len, uint64_t *out_ms)
{
    if (!s || !out_ms || len == 0) return DV_ERR_INVALID_ARGUMENT;

    /* A bare integer is milliseconds; bounded so that it also fits in nanoseconds. */
    size_t i = 0;
    while (i < len && is_digit(s[i])) i++;
    if (i == len) {
        uint64_t v = 0;
        for (i = 0; i < len; i++) {
            uint64_t d = (uint64_t)(s[i] - '0');
            if (v > (UINT64_MAX / 1000000ull - d) / 10) return DV_ERR_INVALID_ARGUMENT;
            v = v * 10 + d;
        }
        *out_ms = v;
        return 0;
    }

    i = 0;
    if (s[0] == '-') return DV_ERR_INVALID_ARGUMENT; /* no negative timeouts */
    if (s[0] == '+') i++;
    if (i == len) return DV_ERR_INVALID_ARGUMENT;
    if (len - i == 1 && s[i] == '0') {
        *out_ms = 0;
        return 0;
    }

    uint64_t total = 0;
    while (i < len) {
        uint64_t v = 0, f = 0, scale = 1;
        bool pre = false, post = false;
        while (i < len && is_digit(s[i])) {
            uint64_t d = (uint64_t)(s[i++] - '0');
            if (v > (UINT64_MAX - d) / 10) return DV_ERR_INVALID_ARGUMENT;
            v = v * 10 + d;
            pre = true;
        }
        if (i < len && s[i] == '.') {
            i++;
            /* Nine fractional digits are kept; the rest is below any useful precision. */
            while (i < len && is_digit(s[i])) {
                if (scale < 1000000000ull) {
                    f = f * 10 + (uint64_t)(s[i] - '0');
                    scale *= 10;
                }
                i++;
                post = true;
            }
        }
        if (!pre && !post) return DV_ERR_INVALID_ARGUMENT;

        size_t u0 = i;
        while (i < len && !is_digit(s[i]) && s[i] != '.') i++;
        if (u0 == i) return DV_ERR_INVALID_ARGUMENT; /* missing unit */
        uint64_t unit = 0;
        for (size_t k = 0; k < sizeof duration_units / sizeof duration_units[0]; k++)
            if (eq(s + u0, i - u0, duration_units[k].name)) unit = duration_units[k].ns;
        if (!unit) return DV_ERR_INVALID_ARGUMENT;

        if (v && unit > UINT64_MAX / v) return DV_ERR_INVALID_ARGUMENT;
        uint64_t part = v * unit;
        /* f/scale of a unit, exactly: f < scale <= 1e9, so neither product overflows. */
        uint64_t frac = f * (unit / scale) + (f * (unit % scale)) / scale;
        if (part > UINT64_MAX - frac) return DV_ERR_INVALID_ARGUMENT;
        part += frac;
        if (total > UINT64_MAX - part) return DV_ERR_INVALID_ARGUMENT;
        total += part;
    }
    *out_ms = total / 1000000ull;
    return 0;
}

int dv_parse_bool(const char *s, size_t len, bool *out)
{
    if (!s || !out) return DV_ERR_INVALID_ARGUMENT;
    if (ieq(s, len, "true") || ieq(s, len, "yes") || ieq(s, len, "on") || ieq(s, len, "1")) {
        *out = true;
        return 0;
    }
    if (ieq(s, len, "false") || ieq(s, len, "no") || ieq(s, len, "off") || ieq(s, len, "0")) {
        *out = false;
        return 0;
    }
    return DV_ERR_INVALID_ARGUMENT;
}

/* ---- defaults -------------------------------------------------------------------------- */

void dv_connstr_options_init(dv_connstr_options *o)
{
    memset(o, 0, sizeof *o);
    o->kv_timeout_ms = 2500;
    o->kv_durable_timeout_ms = 10000;
    o->connect_timeout_ms = 10000;
    o->kv_connect_timeout_ms = 2000;
    o->bootstrap_timeout_ms = 10000;
    o->resolve_timeout_ms = 2000;
    o->query_timeout_ms = 75000;
    o->analytics_timeout_ms = 75000;
    o->search_timeout_ms = 75000;
    o->view_timeout_ms = 75000;
    o->management_timeout_ms = 75000;
    o->tcp_keep_alive_interval_ms = 60000;
    o->config_poll_interval_ms = 2500;
    o->config_poll_floor_ms = 50;
    o->idle_http_connection_timeout_ms = 1000;
    o->max_http_connections = 0;
    o->enable_mutation_tokens = true;
    o->enable_unordered_execution = true;
    o->enable_clustermap_notification = true;
    o->enable_compression = true;
    o->enable_tcp_keep_alive = true;
    o->enable_dns_srv = true;
    o->enable_tracing = true;
    o->enable_metrics = true;
    o->enable_app_telemetry = true;
    o->tls_disable_deprecated_protocols = true;
    o->ip_protocol = DV_IP_ANY;
    o->tls_verify = DV_TLS_VERIFY_PEER;
    o->bootstrap_on = DV_BOOTSTRAP_ON_ALL;
    o->network = "auto";
    o->user_agent_extra = "";
}

/* ---- tables ---------------------------------------------------------------------------- */

static const struct {
    const char *name;
    dv_connstr_scheme scheme;
    uint16_t port;
    bool tls;
} schemes[] = {
    {"couchbase", DV_SCHEME_COUCHBASE, 11210, false},
    {"couchbases", DV_SCHEME_COUCHBASES, 11207, true},
    {"http", DV_SCHEME_HTTP, 8091, false},
    {"https", DV_SCHEME_HTTPS, 18091, true},
    {"couchbase2", DV_SCHEME_COUCHBASE2, 18098, true},
    {"couchbase+dnssrv", DV_SCHEME_COUCHBASE_DNSSRV, 11210, false},
    {"couchbases+dnssrv", DV_SCHEME_COUCHBASES_DNSSRV, 11207, true},
    {"couchbase+explicit", DV_SCHEME_COUCHBASE_EXPLICIT, 0, false},
    {"memcached", DV_SCHEME_MEMCACHED, 11211, false},
};

static const struct {
    const char *name;
    dv_connstr_mode mode;
} modes[] = {
    {"mcd", DV_MODE_MCD},   {"cccp", DV_MODE_CCCP}, {"gcccp", DV_MODE_GCCCP},
    {"http", DV_MODE_HTTP}, {"mcds", DV_MODE_MCDS}, {"https", DV_MODE_HTTPS},
};

enum opt_kind {
    K_DURATION,
    K_BOOL,
    K_COUNT,
    K_STRING,
    K_NETWORK,
    K_IP_PROTOCOL,
    K_FORCE_IPV4,
    K_LCB_IPV6,
    K_TLS_VERIFY,
    K_SSL_LEGACY, /* ssl=no_verify (libcouchbase's, which the Python SDK reads) */
    K_BOOTSTRAP_ON,
};

#define OPT(key, kind, field)                                                                      \
    {                                                                                              \
        key, kind, offsetof(dv_connstr_options, field)                                             \
    }
static const struct known_opt {
    const char *key;
    enum opt_kind kind;
    size_t off;
} known_opts[] = {
    OPT("kv_timeout", K_DURATION, kv_timeout_ms),
    OPT("key_value_timeout", K_DURATION, kv_timeout_ms),
    OPT("kv_durable_timeout", K_DURATION, kv_durable_timeout_ms),
    OPT("key_value_durable_timeout", K_DURATION, kv_durable_timeout_ms),
    OPT("connect_timeout", K_DURATION, connect_timeout_ms),
    OPT("kv_connect_timeout", K_DURATION, kv_connect_timeout_ms),
    OPT("bootstrap_timeout", K_DURATION, bootstrap_timeout_ms),
    OPT("resolve_timeout", K_DURATION, resolve_timeout_ms),
    OPT("query_timeout", K_DURATION, query_timeout_ms),
    OPT("analytics_timeout", K_DURATION, analytics_timeout_ms),
    OPT("search_timeout", K_DURATION, search_timeout_ms),
    OPT("view_timeout", K_DURATION, view_timeout_ms),
    OPT("management_timeout", K_DURATION, management_timeout_ms),
    OPT("tcp_keep_alive_interval", K_DURATION, tcp_keep_alive_interval_ms),
    OPT("config_poll_interval", K_DURATION, config_poll_interval_ms),
    OPT("config_poll_floor", K_DURATION, config_poll_floor_ms),
    OPT("idle_http_connection_timeout", K_DURATION, idle_http_connection_timeout_ms),
    OPT("max_http_connections", K_COUNT, max_http_connections),
    OPT("enable_mutation_tokens", K_BOOL, enable_mutation_tokens),
    OPT("enable_unordered_execution", K_BOOL, enable_unordered_execution),
    OPT("enable_clustermap_notification", K_BOOL, enable_clustermap_notification),
    OPT("enable_compression", K_BOOL, enable_compression),
    OPT("enable_tcp_keep_alive", K_BOOL, enable_tcp_keep_alive),
    OPT("enable_dns_srv", K_BOOL, enable_dns_srv),
    OPT("show_queries", K_BOOL, show_queries),
    OPT("enable_tracing", K_BOOL, enable_tracing),
    OPT("enable_metrics", K_BOOL, enable_metrics),
    OPT("enable_app_telemetry", K_BOOL, enable_app_telemetry),
    OPT("preserve_bootstrap_nodes_order", K_BOOL, preserve_bootstrap_nodes_order),
    OPT("enable_lazy_connections", K_BOOL, enable_lazy_connections),
    OPT("allow_enterprise_analytics", K_BOOL, allow_enterprise_analytics),
    OPT("dump_configuration", K_BOOL, dump_configuration),
    OPT("tls_disable_deprecated_protocols", K_BOOL, tls_disable_deprecated_protocols),
    OPT("tls_disable_v1_2", K_BOOL, tls_disable_v1_2),
    OPT("disable_mozilla_ca_certificates", K_BOOL, disable_mozilla_ca_certificates),
    OPT("ip_protocol", K_IP_PROTOCOL, ip_protocol),
    OPT("force_ipv4", K_FORCE_IPV4, ip_protocol),
    OPT("ipv6", K_LCB_IPV6, ip_protocol),
    OPT("tls_verify", K_TLS_VERIFY, tls_verify),
    OPT("ssl", K_SSL_LEGACY, tls_verify),
    OPT("bootstrap_on", K_BOOTSTRAP_ON, bootstrap_on),
    OPT("network", K_NETWORK, network),
    OPT("user_agent_extra", K_STRING, user_agent_extra),
    OPT("trust_certificate", K_STRING, trust_certificate),
    /* The Python SDK's legacy and ClusterOptions names of the trust store. */
    OPT("truststorepath", K_STRING, trust_certificate),
    OPT("certpath", K_STRING, trust_certificate),
    OPT("trust_store_path", K_STRING, trust_certificate),
    OPT("server_group", K_STRING, server_group),
    OPT("app_telemetry_endpoint", K_STRING, app_telemetry_endpoint),
};
#undef OPT

static const char *const kind_expect[] = {
    [K_DURATION] = "a duration such as 2500, 2500ms, 2.5s, 1m30s or 1h",
    [K_BOOL] = "true/false, yes/no, on/off or 1/0",
    [K_COUNT] = "a non-negative integer",
    [K_STRING] = "a string",
    [K_NETWORK] = "auto, default, external or an alternate-address network name",
    [K_IP_PROTOCOL] = "any, force_ipv4 or force_ipv6",
    [K_FORCE_IPV4] = "true/false, yes/no, on/off or 1/0",
    [K_LCB_IPV6] = "allow, disabled or only",
    [K_TLS_VERIFY] = "peer or none",
    [K_SSL_LEGACY] = "no_verify",
    [K_BOOTSTRAP_ON] = "all, cccp or http",
};

/* ---- the parser ------------------------------------------------------------------------ */

typedef struct parser {
    const char *s;
    size_t len;
    dv_connstr *cs;
    size_t hosts_cap, opts_cap;
    char *pool;
    size_t pool_used, pool_cap;
    size_t warn_cap;
    char *err;
    size_t errlen;
    char shown[2][80];
    int next_shown;
} parser;

/* A printable, bounded rendering of input bytes for messages (two live at a time). */
static const char *show(parser *p, const char *s, size_t n)
{
    char *d = p->shown[p->next_shown];
    p->next_shown ^= 1;
    size_t max = sizeof p->shown[0] - 4, o = 0;
    for (size_t i = 0; i < n && o < max; i++) {
        unsigned char c = (unsigned char)s[i];
        d[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n > max) memcpy(d + o, "...", 3), o += 3;
    d[o] = '\0';
    return d;
}

#define fail(p, ...) dv_errmsg((p)->err, (p)->errlen, DV_ERR_INVALID_ARGUMENT, __VA_ARGS__)
#define oom(p)       dv_errmsg((p)->err, (p)->errlen, DV_ERR_NO_MEMORY, "out of memory")

static int warn(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int warn(parser *p, const char *fmt, ...)
{
    dv_connstr *cs = p->cs;
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (cs->nwarnings == p->warn_cap) {
        size_t cap = p->warn_cap ? 2 * p->warn_cap : 4;
        const char **w = dv_realloc(cs->warnings, cap * sizeof *w);
        if (!w) return oom(p);
        cs->warnings = w;
        p->warn_cap = cap;
    }
    char *copy = dv_strdup(line);
    if (!copy) return oom(p);
    cs->warnings[cs->nwarnings++] = copy;
    return 0;
}

/* Room for n bytes plus a NUL in the pool; the pool is sized so this cannot run out. */
static char *pool_take(parser *p, size_t n)
{
    assert(p->pool_used + n + 1 <= p->pool_cap);
    if (p->pool_used + n + 1 > p->pool_cap) return NULL;
    char *d = p->pool + p->pool_used;
    p->pool_used += n + 1;
    d[n] = '\0';
    return d;
}

static char *pool_copy(parser *p, const char *s, size_t n)
{
    char *d = pool_take(p, n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Percent-decode s[0..n) into the pool ('+' stays '+'). what names the part for messages. */
static int pct_decode(parser *p, const char *s, size_t n, const char *what, const char **out)
{
    char *d = pool_take(p, n);
    if (!d) return fail(p, "internal error: connection string pool exhausted");
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            d[o++] = s[i];
            continue;
        }
        if (n - i < 3 || hex_val(s[i + 1]) < 0 || hex_val(s[i + 2]) < 0)
            return fail(p, "invalid percent-escape '%s' in %s (expected %%XX with two hex digits)",
                        show(p, s + i, n - i < 3 ? n - i : 3), what);
        int v = hex_val(s[i + 1]) * 16 + hex_val(s[i + 2]);
        if (v == 0) return fail(p, "percent-escape %%00 (NUL) is not allowed in %s", what);
        d[o++] = (char)v;
        i += 2;
    }
    d[o] = '\0';
    *out = d;
    return 0;
}

/* One "host[:port][=mode]" entry, e[0..n). */
static int parse_host(parser *p, const char *e, size_t n)
{
    dv_connstr *cs = p->cs;
    if (n == 0)
        return fail(p, "empty host in host list (two separators in a row, or one at an end)");
    if (cs->nhosts >= DV_CONNSTR_MAX_HOSTS)
        return fail(p, "too many hosts (limit %d)", DV_CONNSTR_MAX_HOSTS);
    assert(cs->nhosts < p->hosts_cap);
    dv_connstr_host *h = &cs->hosts[cs->nhosts];
    memset(h, 0, sizeof *h);
    h->port = cs->default_port;

    size_t j;
    if (e[0] == '[') {
        const char *close = memchr(e, ']', n);
        if (!close)
            return fail(p, "unterminated '[' in IPv6 host '%s' (missing ']')", show(p, e, n));
        const char *a = e + 1;
        size_t al = (size_t)(close - a);
        if (al == 0) return fail(p, "empty IPv6 address '[]'");
        if (al > DV_CONNSTR_MAX_HOST)
            return fail(p, "host name too long (%zu bytes, limit %d)", al, DV_CONNSTR_MAX_HOST);
        const char *pct = memchr(a, '%', al);
        size_t addr_len = pct ? (size_t)(pct - a) : al;
        if (!ipv6_valid(a, addr_len))
            return fail(p, "invalid IPv6 address '%s'", show(p, a, addr_len));
        char *d;
        if (pct) {
            /* A zone id, written "%25zone" (RFC 6874); stored as "addr%zone". */
            size_t zl = al - addr_len;
            if (zl < 4 || pct[1] != '2' || pct[2] != '5')
                return fail(p, "invalid IPv6 zone in '%s' (write it as %%25 and a name)",
                            show(p, a, al));
            for (size_t k = 3; k < zl; k++)
                if (!is_zone_char(pct[k]))
                    return fail(p, "invalid character in IPv6 zone of '%s'", show(p, a, al));
            d = pool_take(p, al - 2);
            if (!d) return fail(p, "internal error: connection string pool exhausted");
            memcpy(d, a, addr_len + 1);
            memcpy(d + addr_len + 1, pct + 3, zl - 3);
        } else {
            d = pool_copy(p, a, al);
            if (!d) return fail(p, "internal error: connection string pool exhausted");
        }
        h->host = d;
        h->type = DV_HOST_IPV6;
        h->is_ipv6 = true;
        j = (size_t)(close - e) + 1;
        if (j < n && e[j] != ':' && e[j] != '=')
            return fail(p,
                        "unexpected '%s' after IPv6 address in '%s' (expected ':port' or '=mode')",
                        show(p, e + j, 1), show(p, e, n));
    } else {
        const char *eqs = memchr(e, '=', n);
        size_t before_mode = eqs ? (size_t)(eqs - e) : n;
        const char *c1 = memchr(e, ':', before_mode);
        if (c1 && memchr(c1 + 1, ':', before_mode - (size_t)(c1 + 1 - e)))
            return fail(p, "IPv6 address '%s' must be enclosed in brackets, e.g. [::1]:11210",
                        show(p, e, before_mode));
        j = c1 ? (size_t)(c1 - e) : before_mode;
        if (j == 0) return fail(p, "empty host before '%s'", show(p, e, n));
        if (j > DV_CONNSTR_MAX_HOST)
            return fail(p, "host name too long (%zu bytes, limit %d)", j, DV_CONNSTR_MAX_HOST);
        bool numeric = true, dotted = false;
        for (size_t k = 0; k < j; k++) {
            if (!is_host_char(e[k]))
                return fail(p, "invalid character '%s' in host '%s'", show(p, e + k, 1),
                            show(p, e, j));
            if (e[k] == '.')
                dotted = true;
            else if (!is_digit(e[k]))
                numeric = false;
        }
        if (numeric && dotted) {
            if (!ipv4_valid(e, j)) return fail(p, "invalid IPv4 address '%s'", show(p, e, j));
            h->type = DV_HOST_IPV4;
        } else {
            h->type = DV_HOST_DNS;
        }
        h->host = pool_copy(p, e, j);
        if (!h->host) return fail(p, "internal error: connection string pool exhausted");
    }

    if (j < n && e[j] == ':') {
        size_t p0 = ++j;
        while (j < n && e[j] != '=') j++;
        uint32_t port = 0;
        bool ok = j > p0 && j - p0 <= 5;
        for (size_t k = p0; ok && k < j; k++) {
            if (!is_digit(e[k]))
                ok = false;
            else
                port = port * 10 + (uint32_t)(e[k] - '0');
        }
        if (!ok || port == 0 || port > 65535)
            return fail(p, "invalid port '%s' for host '%s' (expected 1..65535)",
                        show(p, e + p0, j - p0), show(p, h->host, strlen(h->host)));
        h->port = (uint16_t)port;
        h->port_given = true;
    }
    if (j < n) {
        assert(e[j] == '=');
        const char *m = e + j + 1;
        size_t ml = n - j - 1;
        for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++)
            if (ieq(m, ml, modes[k].name)) h->mode = modes[k].mode;
        if (h->mode == DV_MODE_NONE)
            return fail(p,
                        "unknown bootstrap mode '%s' for host '%s' (expected mcd, cccp, gcccp or "
                        "http)",
                        show(p, m, ml), show(p, h->host, strlen(h->host)));
    }
    cs->nhosts++;
    return 0;
}

static int parse_bucket(parser *p, const char *b, size_t n)
{
    if (n == 0) return 0; /* "couchbase://host/": a trailing slash, no bucket */
    const char *name;
    int rc = pct_decode(p, b, n, "bucket name", &name);
    if (rc) return rc;
    size_t nl = strlen(name);
    if (nl > 100) return fail(p, "bucket name too long (%zu bytes, limit 100)", nl);
    for (size_t k = 0; k < nl; k++)
        if (!is_bucket_char(name[k]))
            return fail(p,
                        "invalid character '%s' in bucket name '%s' (allowed: letters, digits, "
                        "'_', '-', '.', '%%')",
                        show(p, name + k, 1), show(p, name, nl));
    p->cs->bucket = name;
    return 0;
}

/* Store a known option's value in the typed struct; key and value are NUL-terminated. */
static int apply_option(parser *p, const struct known_opt *ko, const char *key, const char *v)
{
    dv_connstr_options *o = &p->cs->options;
    void *field = (char *)o + ko->off;
    size_t vl = strlen(v);
    bool b = false;
    bool ok = true;
    switch (ko->kind) {
    case K_DURATION:
        ok = dv_parse_duration_ms(v, vl, (uint64_t *)field) == 0;
        break;
    case K_BOOL:
        ok = dv_parse_bool(v, vl, &b) == 0;
        if (ok) *(bool *)field = b;
        break;
    case K_COUNT: {
        uint64_t n = 0;
        ok = vl > 0 && vl <= 19;
        for (size_t k = 0; ok && k < vl; k++) {
            if (!is_digit(v[k]))
                ok = false;
            else
                n = n * 10 + (uint64_t)(v[k] - '0');
        }
        if (ok) *(uint64_t *)field = n;
        break;
    }
    case K_STRING:
        *(const char **)field = v;
        break;
    case K_NETWORK:
        ok = vl > 0;
        if (ok) *(const char **)field = v;
        break;
    case K_IP_PROTOCOL:
        if (eq(v, vl, "any"))
            o->ip_protocol = DV_IP_ANY;
        else if (eq(v, vl, "force_ipv4"))
            o->ip_protocol = DV_IP_FORCE_IPV4;
        else if (eq(v, vl, "force_ipv6"))
            o->ip_protocol = DV_IP_FORCE_IPV6;
        else
            ok = false;
        break;
    case K_FORCE_IPV4:
        ok = dv_parse_bool(v, vl, &b) == 0;
        if (ok && b) o->ip_protocol = DV_IP_FORCE_IPV4;
        break;
    case K_LCB_IPV6:
        if (eq(v, vl, "allow"))
            o->ip_protocol = DV_IP_ANY;
        else if (eq(v, vl, "disabled"))
            o->ip_protocol = DV_IP_FORCE_IPV4;
        else if (eq(v, vl, "only"))
            o->ip_protocol = DV_IP_FORCE_IPV6;
        else
            ok = false;
        break;
    case K_TLS_VERIFY:
        if (eq(v, vl, "peer"))
            o->tls_verify = DV_TLS_VERIFY_PEER;
        else if (eq(v, vl, "none"))
            o->tls_verify = DV_TLS_VERIFY_NONE;
        else
            ok = false;
        break;
    case K_SSL_LEGACY:
        if (eq(v, vl, "no_verify"))
            o->tls_verify = DV_TLS_VERIFY_NONE;
        else
            ok = false;
        break;
    case K_BOOTSTRAP_ON:
        if (eq(v, vl, "all"))
            o->bootstrap_on = DV_BOOTSTRAP_ON_ALL;
        else if (eq(v, vl, "cccp"))
            o->bootstrap_on = DV_BOOTSTRAP_ON_CCCP;
        else if (eq(v, vl, "http"))
            o->bootstrap_on = DV_BOOTSTRAP_ON_HTTP;
        else
            ok = false;
        break;
    }
    if (!ok)
        return fail(p, "invalid value '%s' for option '%s' (expected %s)", show(p, v, vl),
                    show(p, key, strlen(key)), kind_expect[ko->kind]);
    return 0;
}

/* One "key=value" segment, e[0..n), n > 0. */
static int parse_option(parser *p, const char *e, size_t n)
{
    dv_connstr *cs = p->cs;
    const char *eqs = memchr(e, '=', n);
    if (!eqs) return fail(p, "option '%s' has no '=' (expected key=value)", show(p, e, n));
    size_t kl = (size_t)(eqs - e);
    if (kl == 0) return fail(p, "empty option key in '%s'", show(p, e, n));
    for (size_t k = 0; k < kl; k++)
        if (!is_key_char(e[k]))
            return fail(p, "invalid character '%s' in option key '%s'", show(p, e + k, 1),
                        show(p, e, kl));
    const char *v = eqs + 1;
    size_t vl = n - kl - 1;
    for (size_t k = 0; k < vl; k++) {
        unsigned char c = (unsigned char)v[k];
        if (c <= 0x20 || c == 0x7f)
            return fail(p, "invalid character 0x%02x in value of option '%s' (percent-encode it)",
                        c, show(p, e, kl));
    }
    const char *key = pool_copy(p, e, kl);
    if (!key) return fail(p, "internal error: connection string pool exhausted");
    char what[128];
    snprintf(what, sizeof what, "value of option '%s'", show(p, e, kl));
    const char *value;
    int rc = pct_decode(p, v, vl, what, &value);
    if (rc) return rc;

    assert(cs->nraw_options < p->opts_cap);
    cs->raw_options[cs->nraw_options].key = key;
    cs->raw_options[cs->nraw_options].value = value;
    cs->nraw_options++;

    for (size_t k = 0; k < sizeof known_opts / sizeof known_opts[0]; k++)
        if (strcmp(key, known_opts[k].key) == 0) return apply_option(p, &known_opts[k], key, value);
    return warn(p, "unknown option '%s' (value '%s') ignored", show(p, key, kl),
                show(p, value, strlen(value)));
}

static int parse_all(parser *p)
{
    const char *s = p->s;
    size_t len = p->len;
    dv_connstr *cs = p->cs;
    int rc;

    /* Scheme: whatever precedes the first "://" that comes before any '?'. */
    const char *q = memchr(s, '?', len);
    size_t qpos = q ? (size_t)(q - s) : len;
    size_t i = 0;
    size_t sep = SIZE_MAX;
    for (size_t k = 0; k + 3 <= qpos; k++)
        if (s[k] == ':' && s[k + 1] == '/' && s[k + 2] == '/') {
            sep = k;
            break;
        }
    size_t sc = 0; /* index in schemes[] */
    if (sep != SIZE_MAX) {
        if (sep == 0) return fail(p, "empty scheme before '://'");
        bool found = false;
        for (size_t k = 0; k < sizeof schemes / sizeof schemes[0]; k++)
            if (ieq(s, sep, schemes[k].name)) {
                sc = k;
                found = true;
            }
        if (!found)
            return fail(p,
                        "unknown scheme '%s' (expected couchbase, couchbases, http, https, "
                        "couchbase2, couchbase+dnssrv, couchbases+dnssrv, couchbase+explicit or "
                        "memcached)",
                        show(p, s, sep));
        cs->scheme_given = true;
        i = sep + 3;
    }
    cs->scheme = schemes[sc].scheme;
    cs->scheme_name = schemes[sc].name;
    cs->tls = schemes[sc].tls;
    cs->default_port = schemes[sc].port;

    /* Hosts: up to the bucket's '/' or the options' '?'. */
    size_t hend = i;
    while (hend < len && s[hend] != '/' && s[hend] != '?') hend++;
    if (hend == i)
        return fail(p, "empty host: no host given%s%s", cs->scheme_given ? " after " : "",
                    cs->scheme_given ? show(p, s, i) : "");
    for (size_t a = i; a <= hend;) {
        size_t b = a;
        while (b < hend && s[b] != ',' && s[b] != ';') b++;
        if ((rc = parse_host(p, s + a, b - a))) return rc;
        a = b + 1;
    }

    size_t k = hend;
    if (k < len && s[k] == '/') {
        size_t bend = k + 1;
        while (bend < len && s[bend] != '?') bend++;
        if ((rc = parse_bucket(p, s + k + 1, bend - k - 1))) return rc;
        k = bend;
    }
    if (k < len) {
        assert(s[k] == '?');
        const char *dup = memchr(s + k + 1, '?', len - k - 1);
        if (dup)
            return fail(p,
                        "duplicate '?' at offset %zu (options start at the first '?'; "
                        "percent-encode a '?' inside a value as %%3F)",
                        (size_t)(dup - s));
        for (size_t a = k + 1; a < len;) {
            size_t b = a;
            while (b < len && s[b] != '&') b++;
            if (b > a && (rc = parse_option(p, s + a, b - a))) return rc;
            a = b + 1;
        }
    }

    /* Rules of the lcb schemes. */
    if (cs->scheme == DV_SCHEME_COUCHBASE_DNSSRV || cs->scheme == DV_SCHEME_COUCHBASES_DNSSRV) {
        if (cs->nhosts != 1) return fail(p, "%s:// takes exactly one host", cs->scheme_name);
        if (cs->hosts[0].port_given) return fail(p, "%s:// takes no port", cs->scheme_name);
        if (cs->hosts[0].type != DV_HOST_DNS)
            return fail(p, "%s:// needs a DNS name, not an IP address", cs->scheme_name);
    }
    if (cs->scheme == DV_SCHEME_COUCHBASE_EXPLICIT)
        for (size_t h = 0; h < cs->nhosts; h++)
            if (!cs->hosts[h].port_given)
                return fail(p, "couchbase+explicit:// needs a port for every host ('%s' has none)",
                            show(p, cs->hosts[h].host, strlen(cs->hosts[h].host)));

    /* Warnings about strings that parse but probably do not do what was meant. */
    if (cs->scheme == DV_SCHEME_HTTP || cs->scheme == DV_SCHEME_HTTPS)
        if ((rc = warn(p,
                       "%s:// is a legacy scheme: the official core still bootstraps with the KV "
                       "protocol, on port %u unless given; prefer %s://",
                       cs->scheme_name, cs->default_port, cs->tls ? "couchbases" : "couchbase")))
            return rc;
    bool kv_scheme = cs->scheme == DV_SCHEME_COUCHBASE || cs->scheme == DV_SCHEME_COUCHBASES;
    for (size_t h = 0; kv_scheme && h < cs->nhosts; h++) {
        const dv_connstr_host *hp = &cs->hosts[h];
        if (hp->port_given && (hp->port == 8091 || hp->port == 18091) && hp->mode != DV_MODE_HTTP &&
            hp->mode != DV_MODE_HTTPS)
            if ((rc = warn(p,
                           "port %u of host '%s' is the management (HTTP) port, but %s:// "
                           "connects to it with the KV protocol (the KV port is %u)",
                           hp->port, show(p, hp->host, strlen(hp->host)), cs->scheme_name,
                           cs->default_port)))
                return rc;
    }
    if (cs->nhosts != 1)
        for (size_t o = 0; o < cs->nraw_options; o++)
            if (strcmp(cs->raw_options[o].key, "enable_dns_srv") == 0) {
                if ((rc = warn(p,
                               "option 'enable_dns_srv' has no effect with %zu hosts (DNS SRV "
                               "needs exactly one)",
                               cs->nhosts)))
                    return rc;
                break;
            }
    return 0;
}

static size_t align_up(size_t n)
{
    size_t a = _Alignof(max_align_t);
    return (n + a - 1) / a * a;
}

int dv_connstr_parse(const char *s, size_t len, dv_connstr **out, char *err, size_t errlen)
{
    parser p;
    memset(&p, 0, sizeof p);
    p.s = s;
    p.len = len;
    p.err = err;
    p.errlen = errlen;
    if (err && errlen) err[0] = '\0';
    if (!out) return fail(&p, "no output pointer");
    *out = NULL;
    if (!s || len == 0) return fail(&p, "empty connection string");
    if (len > DV_CONNSTR_MAX_LEN)
        return fail(&p, "connection string too long (%zu bytes, limit %d)", len,
                    DV_CONNSTR_MAX_LEN);

    /* Upper bounds from the bytes: entries are separated by ',' ';' (hosts) and '&' (options);
     * every stored string is a slice of the input (decoding only shrinks) plus its NUL. */
    size_t seps = 0, amps = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ',' || s[i] == ';')
            seps++;
        else if (s[i] == '&')
            amps++;
    }
    p.hosts_cap = seps + 1 < DV_CONNSTR_MAX_HOSTS ? seps + 1 : DV_CONNSTR_MAX_HOSTS;
    p.opts_cap = amps + 1;
    p.pool_cap = len + p.hosts_cap + 2 * p.opts_cap + 2;
    size_t off_hosts = align_up(sizeof(dv_connstr));
    size_t off_opts = off_hosts + align_up(p.hosts_cap * sizeof(dv_connstr_host));
    size_t off_pool = off_opts + align_up(p.opts_cap * sizeof(dv_connstr_option));
    char *block = dv_malloc(off_pool + p.pool_cap);
    if (!block) return oom(&p);
    dv_connstr *cs = (dv_connstr *)block;
    memset(cs, 0, sizeof *cs);
    cs->hosts = (dv_connstr_host *)(block + off_hosts);
    cs->raw_options = (dv_connstr_option *)(block + off_opts);
    dv_connstr_options_init(&cs->options);
    p.cs = cs;
    p.pool = block + off_pool;

    int rc = parse_all(&p);
    if (rc) {
        dv_connstr_free(cs);
        return rc;
    }
    *out = cs;
    return 0;
}

void dv_connstr_free(dv_connstr *cs)
{
    if (!cs) return;
    for (size_t i = 0; i < cs->nwarnings; i++) dv_free((void *)cs->warnings[i]);
    dv_free(cs->warnings);
    dv_free(cs);
}

int dv_connstr_wants_dns_srv(const dv_connstr *cs)
{
    if (!cs || cs->nhosts != 1) return 0;
    if (cs->scheme == DV_SCHEME_COUCHBASE_DNSSRV || cs->scheme == DV_SCHEME_COUCHBASES_DNSSRV)
        return 1;
    if (cs->scheme != DV_SCHEME_COUCHBASE && cs->scheme != DV_SCHEME_COUCHBASES) return 0;
    const dv_connstr_host *h = &cs->hosts[0];
    return cs->options.enable_dns_srv && h->type == DV_HOST_DNS && !h->port_given &&
           h->mode == DV_MODE_NONE;
}
