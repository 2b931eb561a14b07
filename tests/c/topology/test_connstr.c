#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "divan/error.h"
#include "topology/connstr.h"

/* Parse a NUL-terminated string that must be accepted. */
static dv_connstr *ok(const char *s)
{
    dv_connstr *cs = NULL;
    char err[256];
    int rc = dv_connstr_parse(s, strlen(s), &cs, err, sizeof err);
    if (rc != 0) fail_msg("'%s' rejected: %s", s, err);
    assert_non_null(cs);
    assert_true(cs->nhosts >= 1);
    return cs;
}

/* Parse a string that must be rejected with a message containing want. */
static void bad(const char *s, size_t len, const char *want)
{
    dv_connstr *cs = (dv_connstr *)1;
    char err[256];
    int rc = dv_connstr_parse(s, len, &cs, err, sizeof err);
    if (rc == 0) {
        dv_connstr_free(cs);
        fail_msg("'%.*s' accepted, expected an error containing '%s'", (int)len, s, want);
    }
    assert_int_equal(rc, DV_ERR_INVALID_ARGUMENT);
    assert_null(cs);
    if (!strstr(err, want)) fail_msg("'%.*s': error '%s' lacks '%s'", (int)len, s, err, want);
}

static void bad_s(const char *s, const char *want)
{
    bad(s, strlen(s), want);
}

static bool has_warning(const dv_connstr *cs, const char *want)
{
    for (size_t i = 0; i < cs->nwarnings; i++)
        if (strstr(cs->warnings[i], want)) return true;
    return false;
}

static void schemes_default_ports_and_tls(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        dv_connstr_scheme scheme;
        const char *name;
        uint16_t port;
        bool tls;
        bool given;
    } cases[] = {
        {"localhost", DV_SCHEME_COUCHBASE, "couchbase", 11210, false, false},
        {"couchbase://localhost", DV_SCHEME_COUCHBASE, "couchbase", 11210, false, true},
        {"COUCHBASE://localhost", DV_SCHEME_COUCHBASE, "couchbase", 11210, false, true},
        {"couchbases://localhost", DV_SCHEME_COUCHBASES, "couchbases", 11207, true, true},
        {"http://localhost", DV_SCHEME_HTTP, "http", 8091, false, true},
        {"https://localhost", DV_SCHEME_HTTPS, "https", 18091, true, true},
        {"couchbase2://localhost", DV_SCHEME_COUCHBASE2, "couchbase2", 18098, true, true},
        {"couchbase+dnssrv://example.com", DV_SCHEME_COUCHBASE_DNSSRV, "couchbase+dnssrv", 11210,
         false, true},
        {"couchbases+dnssrv://example.com", DV_SCHEME_COUCHBASES_DNSSRV, "couchbases+dnssrv", 11207,
         true, true},
        {"memcached://localhost", DV_SCHEME_MEMCACHED, "memcached", 11211, false, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dv_connstr *cs = ok(cases[i].s);
        assert_int_equal(cs->scheme, cases[i].scheme);
        assert_string_equal(cs->scheme_name, cases[i].name);
        assert_int_equal(cs->tls, cases[i].tls);
        assert_int_equal(cs->scheme_given, cases[i].given);
        assert_int_equal(cs->default_port, cases[i].port);
        assert_int_equal(cs->nhosts, 1);
        assert_int_equal(cs->hosts[0].port, cases[i].port);
        assert_false(cs->hosts[0].port_given);
        assert_null(cs->bucket);
        dv_connstr_free(cs);
    }
    dv_connstr *cs = ok("couchbase+explicit://a:11210,b:11211");
    assert_int_equal(cs->scheme, DV_SCHEME_COUCHBASE_EXPLICIT);
    assert_int_equal(cs->default_port, 0);
    assert_int_equal(cs->hosts[1].port, 11211);
    dv_connstr_free(cs);
}

static void hosts_ports_and_separators(void **state)
{
    (void)state;
    dv_connstr *cs = ok("couchbase://node1.example.com:12000,10.0.0.2;node3_x-y~z=cccp,n4:1=HTTP");
    assert_int_equal(cs->nhosts, 4);
    assert_string_equal(cs->hosts[0].host, "node1.example.com");
    assert_int_equal(cs->hosts[0].port, 12000);
    assert_true(cs->hosts[0].port_given);
    assert_int_equal(cs->hosts[0].type, DV_HOST_DNS);
    assert_int_equal(cs->hosts[0].mode, DV_MODE_NONE);
    assert_string_equal(cs->hosts[1].host, "10.0.0.2");
    assert_int_equal(cs->hosts[1].type, DV_HOST_IPV4);
    assert_int_equal(cs->hosts[1].port, 11210);
    assert_false(cs->hosts[1].is_ipv6);
    assert_string_equal(cs->hosts[2].host, "node3_x-y~z");
    assert_int_equal(cs->hosts[2].mode, DV_MODE_CCCP);
    assert_int_equal(cs->hosts[2].port, 11210);
    assert_false(cs->hosts[2].port_given);
    assert_int_equal(cs->hosts[3].port, 1);
    assert_int_equal(cs->hosts[3].mode, DV_MODE_HTTP);
    dv_connstr_free(cs);

    cs = ok("couchbases://h:65535");
    assert_int_equal(cs->hosts[0].port, 65535);
    dv_connstr_free(cs);
}

static void ipv6_hosts(void **state)
{
    (void)state;
    dv_connstr *cs = ok("couchbase://[::1],[fe80::1:2]:11300=gcccp;[2001:db8::ffff:1.2.3.4]=mcd");
    assert_int_equal(cs->nhosts, 3);
    assert_string_equal(cs->hosts[0].host, "::1");
    assert_true(cs->hosts[0].is_ipv6);
    assert_int_equal(cs->hosts[0].type, DV_HOST_IPV6);
    assert_int_equal(cs->hosts[0].port, 11210);
    assert_false(cs->hosts[0].port_given);
    assert_string_equal(cs->hosts[1].host, "fe80::1:2");
    assert_int_equal(cs->hosts[1].port, 11300);
    assert_int_equal(cs->hosts[1].mode, DV_MODE_GCCCP);
    assert_string_equal(cs->hosts[2].host, "2001:db8::ffff:1.2.3.4");
    assert_int_equal(cs->hosts[2].mode, DV_MODE_MCD);
    dv_connstr_free(cs);

    cs = ok("couchbase://[fe80::1%25eth0]:11210");
    assert_string_equal(cs->hosts[0].host, "fe80::1%eth0");
    assert_true(cs->hosts[0].is_ipv6);
    dv_connstr_free(cs);

    cs = ok("[1:2:3:4:5:6:7:8]");
    assert_string_equal(cs->hosts[0].host, "1:2:3:4:5:6:7:8");
    dv_connstr_free(cs);
}

static void mode_suffixes(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        dv_connstr_mode mode;
    } cases[] = {
        {"h=mcd", DV_MODE_MCD},     {"h=MCD", DV_MODE_MCD},        {"h:11210=cccp", DV_MODE_CCCP},
        {"h=GcCcP", DV_MODE_GCCCP}, {"h:8091=http", DV_MODE_HTTP}, {"h=mcds", DV_MODE_MCDS},
        {"h=https", DV_MODE_HTTPS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dv_connstr *cs = ok(cases[i].s);
        assert_int_equal(cs->hosts[0].mode, cases[i].mode);
        assert_string_equal(cs->hosts[0].host, "h");
        dv_connstr_free(cs);
    }
}

static void bucket_path(void **state)
{
    (void)state;
    dv_connstr *cs = ok("couchbase://localhost/travel-sample");
    assert_string_equal(cs->bucket, "travel-sample");
    assert_int_equal(cs->nraw_options, 0);
    dv_connstr_free(cs);

    cs = ok("couchbase://a,b/my_bucket.1%25?kv_timeout=1s");
    assert_int_equal(cs->nhosts, 2);
    assert_string_equal(cs->bucket, "my_bucket.1%");
    assert_int_equal(cs->options.kv_timeout_ms, 1000);
    dv_connstr_free(cs);

    cs = ok("couchbase://localhost/");
    assert_null(cs->bucket);
    dv_connstr_free(cs);

    cs = ok("couchbase://localhost/?kv_timeout=3");
    assert_null(cs->bucket);
    assert_int_equal(cs->options.kv_timeout_ms, 3);
    dv_connstr_free(cs);

    bad_s("couchbase://h/a/b", "invalid character '/' in bucket name");
    bad_s("couchbase://h/a%20b", "invalid character ' ' in bucket name");
}

static void default_options(void **state)
{
    (void)state;
    dv_connstr *cs = ok("couchbase://localhost");
    const dv_connstr_options *o = &cs->options;
    assert_int_equal(o->kv_timeout_ms, 2500);
    assert_int_equal(o->kv_durable_timeout_ms, 10000);
    assert_int_equal(o->connect_timeout_ms, 10000);
    assert_int_equal(o->kv_connect_timeout_ms, 2000);
    assert_int_equal(o->bootstrap_timeout_ms, 10000);
    assert_int_equal(o->resolve_timeout_ms, 2000);
    assert_int_equal(o->query_timeout_ms, 75000);
    assert_int_equal(o->analytics_timeout_ms, 75000);
    assert_int_equal(o->search_timeout_ms, 75000);
    assert_int_equal(o->view_timeout_ms, 75000);
    assert_int_equal(o->management_timeout_ms, 75000);
    assert_int_equal(o->tcp_keep_alive_interval_ms, 60000);
    assert_int_equal(o->config_poll_interval_ms, 2500);
    assert_int_equal(o->config_poll_floor_ms, 50);
    assert_int_equal(o->idle_http_connection_timeout_ms, 1000);
    assert_int_equal(o->max_http_connections, 0);
    assert_true(o->enable_mutation_tokens);
    assert_true(o->enable_unordered_execution);
    assert_true(o->enable_clustermap_notification);
    assert_true(o->enable_compression);
    assert_true(o->enable_tcp_keep_alive);
    assert_true(o->enable_dns_srv);
    assert_true(o->enable_tracing);
    assert_true(o->enable_metrics);
    assert_true(o->enable_app_telemetry);
    assert_true(o->tls_disable_deprecated_protocols);
    assert_false(o->show_queries);
    assert_false(o->preserve_bootstrap_nodes_order);
    assert_false(o->enable_lazy_connections);
    assert_false(o->allow_enterprise_analytics);
    assert_false(o->dump_configuration);
    assert_false(o->tls_disable_v1_2);
    assert_false(o->disable_mozilla_ca_certificates);
    assert_int_equal(o->ip_protocol, DV_IP_ANY);
    assert_int_equal(o->tls_verify, DV_TLS_VERIFY_PEER);
    assert_int_equal(o->bootstrap_on, DV_BOOTSTRAP_ON_ALL);
    assert_string_equal(o->network, "auto");
    assert_string_equal(o->user_agent_extra, "");
    assert_null(o->trust_certificate);
    assert_null(o->server_group);
    assert_int_equal(cs->nwarnings, 0);

    dv_connstr_options d;
    dv_connstr_options_init(&d);
    assert_int_equal(d.kv_timeout_ms, o->kv_timeout_ms);
    assert_string_equal(d.network, "auto");
    dv_connstr_free(cs);
}

static void options_override_and_decode(void **state)
{
    (void)state;
    dv_connstr *cs =
        ok("couchbase://h?kv_timeout=10s&key_value_durable_timeout=1m30s&kv_connect_timeout=750ms"
           "&connect_timeout=3s&bootstrap_timeout=2.5s&resolve_timeout=100&query_timeout=1h"
           "&analytics_timeout=90s&search_timeout=1m&view_timeout=2m&management_timeout=5s"
           "&tcp_keep_alive_interval=30s&config_poll_interval=1s&config_poll_floor=10ms"
           "&idle_http_connection_timeout=4500ms&max_http_connections=16"
           "&enable_mutation_tokens=false&enable_unordered_execution=no"
           "&enable_clustermap_notification=off&enable_compression=0&enable_tcp_keep_alive=FALSE"
           "&enable_dns_srv=false&show_queries=yes&preserve_bootstrap_nodes_order=on"
           "&dump_configuration=1&tls_verify=none&ip_protocol=force_ipv6&network=external"
           "&user_agent_extra=my%20app%2F1.0+x&trust_certificate=%2Ftmp%2Fca.pem"
           "&server_group=group%201&bootstrap_on=cccp");
    const dv_connstr_options *o = &cs->options;
    assert_int_equal(o->kv_timeout_ms, 10000);
    assert_int_equal(o->kv_durable_timeout_ms, 90000);
    assert_int_equal(o->kv_connect_timeout_ms, 750);
    assert_int_equal(o->connect_timeout_ms, 3000);
    assert_int_equal(o->bootstrap_timeout_ms, 2500);
    assert_int_equal(o->resolve_timeout_ms, 100);
    assert_int_equal(o->query_timeout_ms, 3600000);
    assert_int_equal(o->analytics_timeout_ms, 90000);
    assert_int_equal(o->search_timeout_ms, 60000);
    assert_int_equal(o->view_timeout_ms, 120000);
    assert_int_equal(o->management_timeout_ms, 5000);
    assert_int_equal(o->tcp_keep_alive_interval_ms, 30000);
    assert_int_equal(o->config_poll_interval_ms, 1000);
    assert_int_equal(o->config_poll_floor_ms, 10);
    assert_int_equal(o->idle_http_connection_timeout_ms, 4500);
    assert_int_equal(o->max_http_connections, 16);
    assert_false(o->enable_mutation_tokens);
    assert_false(o->enable_unordered_execution);
    assert_false(o->enable_clustermap_notification);
    assert_false(o->enable_compression);
    assert_false(o->enable_tcp_keep_alive);
    assert_false(o->enable_dns_srv);
    assert_true(o->show_queries);
    assert_true(o->preserve_bootstrap_nodes_order);
    assert_true(o->dump_configuration);
    assert_int_equal(o->tls_verify, DV_TLS_VERIFY_NONE);
    assert_int_equal(o->ip_protocol, DV_IP_FORCE_IPV6);
    assert_string_equal(o->network, "external");
    assert_string_equal(o->user_agent_extra, "my app/1.0+x"); /* '+' stays literal */
    assert_string_equal(o->trust_certificate, "/tmp/ca.pem");
    assert_string_equal(o->server_group, "group 1");
    assert_int_equal(o->bootstrap_on, DV_BOOTSTRAP_ON_CCCP);
    assert_int_equal(cs->nwarnings, 0);

    /* The raw list keeps every pair, in order, decoded. */
    assert_int_equal(cs->nraw_options, 32);
    assert_string_equal(cs->raw_options[0].key, "kv_timeout");
    assert_string_equal(cs->raw_options[0].value, "10s");
    assert_string_equal(cs->raw_options[28].key, "user_agent_extra");
    assert_string_equal(cs->raw_options[28].value, "my app/1.0+x");
    dv_connstr_free(cs);

    /* Aliases, later keys win, force_ipv4, lcb's ipv6, and the raw list keeps duplicates. */
    cs = ok("h?key_value_timeout=1s&kv_timeout=2s&force_ipv4=true&kv_durable_timeout=3s");
    assert_int_equal(cs->options.kv_timeout_ms, 2000);
    assert_int_equal(cs->options.kv_durable_timeout_ms, 3000);
    assert_int_equal(cs->options.ip_protocol, DV_IP_FORCE_IPV4);
    assert_int_equal(cs->nraw_options, 4);
    dv_connstr_free(cs);
    cs = ok("h?ipv6=only");
    assert_int_equal(cs->options.ip_protocol, DV_IP_FORCE_IPV6);
    dv_connstr_free(cs);
    cs = ok("h?force_ipv4=false&user_agent_extra=&a=1&&");
    assert_int_equal(cs->options.ip_protocol, DV_IP_ANY);
    assert_string_equal(cs->options.user_agent_extra, "");
    assert_int_equal(cs->nraw_options, 3);
    assert_string_equal(cs->raw_options[2].value, "1");
    dv_connstr_free(cs);
}

/* The Python SDK's legacy TLS keys: ssl=no_verify and the trust store's other names. */
static void legacy_tls_keys(void **state)
{
    (void)state;
    static const char *const trust[] = {"truststorepath", "certpath", "trust_store_path"};
    for (size_t i = 0; i < 3; i++) {
        char s[128];
        snprintf(s, sizeof s, "couchbases://h?ssl=no_verify&%s=%%2Fca.pem", trust[i]);
        dv_connstr *cs = ok(s);
        assert_int_equal(cs->options.tls_verify, DV_TLS_VERIFY_NONE);
        assert_string_equal(cs->options.trust_certificate, "/ca.pem");
        assert_int_equal(cs->nwarnings, 0);
        dv_connstr_free(cs);
    }
    bad_s("couchbases://h?ssl=yes", "invalid value 'yes' for option 'ssl'");
}

static void unknown_keys_are_warnings(void **state)
{
    (void)state;
    dv_connstr *cs = ok("couchbase://h?foo=bar&kv_timeout=1s&bar_baz=%41");
    assert_int_equal(cs->nwarnings, 2);
    assert_true(has_warning(cs, "unknown option 'foo' (value 'bar')"));
    assert_true(has_warning(cs, "unknown option 'bar_baz' (value 'A')"));
    assert_int_equal(cs->nraw_options, 3);
    assert_string_equal(cs->raw_options[2].key, "bar_baz");
    assert_string_equal(cs->raw_options[2].value, "A");
    assert_int_equal(cs->options.kv_timeout_ms, 1000);
    dv_connstr_free(cs);

    /* Other warnings: management port with the KV scheme, legacy http://, SRV with hosts. */
    cs = ok("couchbase://h:8091");
    assert_true(has_warning(cs, "management (HTTP) port"));
    dv_connstr_free(cs);
    cs = ok("couchbase://h:8091=http");
    assert_int_equal(cs->nwarnings, 0);
    dv_connstr_free(cs);
    cs = ok("http://h");
    assert_true(has_warning(cs, "legacy scheme"));
    dv_connstr_free(cs);
    cs = ok("couchbase://a,b?enable_dns_srv=true");
    assert_true(has_warning(cs, "enable_dns_srv"));
    dv_connstr_free(cs);
}

static void durations(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t ms;
    } good[] = {
        {"2500", 2500},
        {"0", 0},
        {"2500ms", 2500},
        {"2.5s", 2500},
        {"1m", 60000},
        {"1h", 3600000},
        {"1m30s", 90000},
        {"1h2m3s4ms", 3723004},
        {"500us", 0},
        {"1500us", 1},
        {"10ns", 0},
        {"1.5ms", 1},
        {".5s", 500},
        {"1.s", 1000},
        {"+3s", 3000},
        {"0.001s", 1},
        {"1.1s", 1100},
        {"0.1h", 360000},
        {"2\xc2\xb5s", 0},
        {"3000000\xce\xbcs", 3000},
        {"1.0000000001s", 1000},
        {"18446744073709ms", 18446744073709ull},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t ms = 12345;
        if (dv_parse_duration_ms(good[i].s, strlen(good[i].s), &ms) != 0)
            fail_msg("duration '%s' rejected", good[i].s);
        if (ms != good[i].ms)
            fail_msg("duration '%s': %llu ms, want %llu", good[i].s, (unsigned long long)ms,
                     (unsigned long long)good[i].ms);
    }
    static const char *const badd[] = {
        "",
        "s",
        "-1s",
        "-0",
        "1x",
        "1 s",
        "1.5",
        "..5s",
        "1ss",
        "ms",
        "1s2",
        "+",
        "1S",
        "1d",
        ".s",
        "99999999999999999999",
        "18446744073710ms",
        "9999999h",
    };
    for (size_t i = 0; i < sizeof badd / sizeof badd[0]; i++) {
        uint64_t ms = 0;
        if (dv_parse_duration_ms(badd[i], strlen(badd[i]), &ms) == 0)
            fail_msg("duration '%s' accepted as %llu", badd[i], (unsigned long long)ms);
    }
    /* Not NUL-terminated: only len bytes count. */
    uint64_t ms = 0;
    assert_int_equal(dv_parse_duration_ms("25s00", 3, &ms), 0);
    assert_int_equal(ms, 25000);
}

static void booleans(void **state)
{
    (void)state;
    static const char *const t[] = {"true", "yes", "on", "1", "TRUE", "Yes", "ON"};
    static const char *const f[] = {"false", "no", "off", "0", "False", "NO", "Off"};
    static const char *const x[] = {"", "2", "truee", "y", "n", "enable", "tru"};
    for (size_t i = 0; i < 7; i++) {
        bool b = false;
        assert_int_equal(dv_parse_bool(t[i], strlen(t[i]), &b), 0);
        assert_true(b);
        assert_int_equal(dv_parse_bool(f[i], strlen(f[i]), &b), 0);
        assert_false(b);
        assert_int_equal(dv_parse_bool(x[i], strlen(x[i]), &b), DV_ERR_INVALID_ARGUMENT);
    }
}

static void ip_literals_and_dns_srv(void **state)
{
    (void)state;
    static const char *const yes[] = {"127.0.0.1", "255.255.255.255", "::1",
                                      "[::1]",     "fe80::1%eth0",    "::",
                                      "1::",       "::ffff:1.2.3.4",  "1:2:3:4:5:6:7:8"};
    static const char *const no[] = {"localhost", "1.2.3",       "256.1.1.1", "01.2.3.4",
                                     "1.2.3.4.5", "example.com", ":::",       "1:2:3:4:5:6:7:8:9",
                                     "[::1",      "1::2::3",     "12345::",   "",
                                     "fe80::1%"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!dv_host_is_ip_literal(yes[i], strlen(yes[i]))) fail_msg("'%s' not an IP", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (dv_host_is_ip_literal(no[i], strlen(no[i]))) fail_msg("'%s' taken for an IP", no[i]);

    static const struct {
        const char *s;
        int want;
    } srv[] = {
        {"couchbase://cluster.example.com", 1},
        {"couchbases://cluster.example.com", 1},
        {"cluster.example.com", 1},
        {"couchbase://cluster.example.com?enable_dns_srv=false", 0},
        {"couchbase://cluster.example.com:11210", 0},
        {"couchbase://cluster.example.com=cccp", 0},
        {"couchbase://127.0.0.1", 0},
        {"couchbase://[::1]", 0},
        {"couchbase://a,b", 0},
        {"http://cluster.example.com", 0},
        {"couchbase+dnssrv://cluster.example.com", 1},
    };
    for (size_t i = 0; i < sizeof srv / sizeof srv[0]; i++) {
        dv_connstr *cs = ok(srv[i].s);
        if (dv_connstr_wants_dns_srv(cs) != srv[i].want)
            fail_msg("'%s': wants_dns_srv != %d", srv[i].s, srv[i].want);
        dv_connstr_free(cs);
    }
}

static void malformed_strings(void **state)
{
    (void)state;
    bad("", 0, "empty connection string");
    bad_s("couchbas://h", "unknown scheme 'couchbas'");
    bad_s("ftp://h", "unknown scheme 'ftp'");
    bad_s("://h", "empty scheme");
    bad_s("couchbase://", "empty host");
    bad_s("couchbase:///bucket", "empty host");
    bad_s("couchbase://?kv_timeout=1s", "empty host");
    bad_s("couchbase://a,,b", "empty host");
    bad_s("couchbase://a;b,", "empty host");
    bad_s("couchbase://,a", "empty host");
    bad_s("couchbase://:11210", "empty host");
    bad_s("couchbase://[::1", "unterminated '['");
    bad_s("couchbase://[::1,b", "unterminated '['");
    bad_s("couchbase://[]", "empty IPv6 address");
    bad_s("couchbase://[::g]", "invalid IPv6 address");
    bad_s("couchbase://[::1]x", "after IPv6 address");
    bad_s("couchbase://[fe80::1%eth0]", "invalid IPv6 zone");
    bad_s("couchbase://::1", "must be enclosed in brackets");
    bad_s("couchbase://fe80::1:11210", "must be enclosed in brackets");
    bad_s("couchbase://h:abc", "invalid port 'abc'");
    bad_s("couchbase://h:0", "invalid port '0'");
    bad_s("couchbase://h:65536", "invalid port '65536'");
    bad_s("couchbase://h:", "invalid port ''");
    bad_s("couchbase://h:123456", "invalid port");
    bad_s("couchbase://[::1]:99999", "invalid port '99999'");
    bad_s("couchbase://h:-1", "invalid port");
    bad_s("couchbase://h=foo", "unknown bootstrap mode 'foo'");
    bad_s("couchbase://h:11210=", "unknown bootstrap mode ''");
    bad_s("couchbase://h=mcd=x", "unknown bootstrap mode");
    bad_s("couchbase://h?a=%zz", "invalid percent-escape '%zz'");
    bad_s("couchbase://h?a=%4", "invalid percent-escape '%4'");
    bad_s("couchbase://h?a=x%", "invalid percent-escape '%'");
    bad_s("couchbase://h/b%g1", "invalid percent-escape");
    bad_s("couchbase://h?a=%00", "%00");
    bad_s("couchbase://h?kv_timeout", "option 'kv_timeout' has no '='");
    bad_s("couchbase://h?a=1&b", "option 'b' has no '='");
    bad_s("couchbase://h?=1", "empty option key");
    bad_s("couchbase://h?a b=1", "invalid character ' ' in option key");
    bad_s("couchbase://h?a=b c", "invalid character 0x20 in value of option 'a'");
    bad_s("couchbase://h?a=1?b=2", "duplicate '?'");
    bad_s("couchbase://h/b?a=1?", "duplicate '?'");
    bad_s("couchbase://ho st", "invalid character ' ' in host");
    bad_s("couchbase://user@host", "invalid character '@' in host");
    bad_s("couchbase://999.1.1.1", "invalid IPv4 address");
    bad_s("couchbase://h?kv_timeout=fast", "invalid value 'fast' for option 'kv_timeout'");
    bad_s("couchbase://h?kv_timeout=-1s", "invalid value '-1s' for option 'kv_timeout'");
    bad_s("couchbase://h?enable_compression=maybe",
          "invalid value 'maybe' for option 'enable_compression'");
    bad_s("couchbase://h?ip_protocol=v6", "invalid value 'v6' for option 'ip_protocol'");
    bad_s("couchbase://h?tls_verify=all", "invalid value 'all' for option 'tls_verify'");
    bad_s("couchbase://h?max_http_connections=-1", "option 'max_http_connections'");
    bad_s("couchbase://h?network=", "invalid value '' for option 'network'");
    bad_s("couchbase+dnssrv://a,b", "exactly one host");
    bad_s("couchbase+dnssrv://a:11210", "takes no port");
    bad_s("couchbase+explicit://a", "needs a port");

    /* Too many hosts. */
    char many[1024] = "couchbase://";
    for (int i = 0; i <= DV_CONNSTR_MAX_HOSTS; i++) strcat(many, i ? ",h" : "h");
    bad_s(many, "too many hosts");
    /* Exactly the limit is fine. */
    many[strlen(many) - 2] = '\0';
    dv_connstr *cs = ok(many);
    assert_int_equal(cs->nhosts, DV_CONNSTR_MAX_HOSTS);
    dv_connstr_free(cs);

    /* Host names longer than 255 bytes. */
    char longhost[400];
    memset(longhost, 'a', sizeof longhost);
    memcpy(longhost, "couchbase://", 12);
    longhost[12 + 256] = '\0';
    bad_s(longhost, "host name too long");
    longhost[12 + 255] = '\0';
    cs = ok(longhost);
    assert_int_equal(strlen(cs->hosts[0].host), 255);
    dv_connstr_free(cs);

    /* A NUL byte inside the given length is just a bad character. */
    bad("couchbase://a\0b", 15, "invalid character");
}

static void not_nul_terminated(void **state)
{
    (void)state;
    /* The parser must stop at len: the tail beyond it is garbage that would fail. */
    const char *s = "couchbase://h1,h2/bkt?kv_timeout=5s&&&GARBAGE";
    size_t len = strlen("couchbase://h1,h2/bkt?kv_timeout=5s");
    char *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, s, len);
    dv_connstr *cs = NULL;
    char err[128];
    assert_int_equal(dv_connstr_parse(copy, len, &cs, err, sizeof err), 0);
    assert_int_equal(cs->nhosts, 2);
    assert_string_equal(cs->hosts[1].host, "h2");
    assert_string_equal(cs->bucket, "bkt");
    assert_int_equal(cs->options.kv_timeout_ms, 5000);
    dv_connstr_free(cs);
    free(copy);

    /* A tiny error buffer truncates but stays terminated; NULL is allowed too. */
    char small[8];
    assert_int_equal(dv_connstr_parse("x:0", 3, &cs, small, sizeof small), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(strlen(small), 7);
    assert_int_equal(dv_connstr_parse("x:0", 3, &cs, NULL, 0), DV_ERR_INVALID_ARGUMENT);
    assert_null(cs);
    dv_connstr_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schemes_default_ports_and_tls),
        cmocka_unit_test(hosts_ports_and_separators),
        cmocka_unit_test(ipv6_hosts),
        cmocka_unit_test(mode_suffixes),
        cmocka_unit_test(bucket_path),
        cmocka_unit_test(default_options),
        cmocka_unit_test(options_override_and_decode),
        cmocka_unit_test(legacy_tls_keys),
        cmocka_unit_test(unknown_keys_are_warnings),
        cmocka_unit_test(durations),
        cmocka_unit_test(booleans),
        cmocka_unit_test(ip_literals_and_dns_srv),
        cmocka_unit_test(malformed_strings),
        cmocka_unit_test(not_nul_terminated),
    };
    return TU_RUN(tests);
}
