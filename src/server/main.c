/* divan-server: the program. Parses the flags, builds the users and buckets, starts the KV
 * listener (net + sessions), the REST listener and the expiry pager, prints the ports in use
 * on one line and serves until SIGINT or SIGTERM. */
#include <errno.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/bucket.h"
#include "server/http_limits.h"
#include "server/net.h"
#include "server/persist_users.h"
#include "server/qsvc.h"
#include "server/rest.h"
#include "server/session.h"
#include "server/tls.h"
#include "server/users.h"

#define MAX_FLAGS         64
#define PAGER_SECONDS     5
#define TOMBSTONE_SECONDS 3600

static const char usage[] =
    "usage: divan-server [options]\n"
    "\n"
    "A Couchbase-compatible server: the KV protocol and the management REST API. Buckets are\n"
    "kept on disk (--data-dir) and loaded at start; ephemeral ones stay in memory.\n"
    "\n"
    "  --host ADDR          address to listen on (default 127.0.0.1; 0.0.0.0 for all)\n"
    "  --kv-port N          KV (memcached binary protocol) port (default 11210; 0 = any free)\n"
    "  --http-port N        management REST port (default 8091; 0 = any free)\n"
    "  --query-port N       SQL++ query service port (default 8093; 0 = any free)\n"
    "  --threads N          KV worker threads, each with its own event loop (default: cores,\n"
    "                       at most 4)\n"
    "  --bucket NAME[:OPTS] serve a bucket; OPTS is key=value,... with ramQuotaMB, replicas,\n"
    "                       type (couchbase|ephemeral), flush (0|1), durabilityMinLevel\n"
    "                       (none|majority|majorityAndPersistActive|persistToMajority), maxTTL.\n"
    "                       Repeatable. Default: one bucket \"default\".\n"
    "  --user NAME:PASSWORD[:ROLES]\n"
    "                       a user; ROLES in Couchbase's syntax, comma-separated, e.g.\n"
    "                       admin or data_reader[default],data_writer[default] (default\n"
    "                       admin). Repeatable. Default: Administrator:password:admin.\n"
    "  --data-dir DIR       keep every couchbase bucket's data in DIR (created if absent;\n"
    "                       the buckets kept there are loaded at start). Default:\n"
    "                       $XDG_DATA_HOME/divan-server, else ~/.local/share/divan-server\n"
    "  --ephemeral          keep nothing on disk: every bucket lives in memory only, and the\n"
    "                       persisting durability levels are refused\n"
    "  --flush-interval MS  plain writes reach disk within this many milliseconds (default\n"
    "                       100); durable writes are committed at once\n"
    "\n"
    "TLS (docs/server.md): with a certificate and its key, TLS twins of the three listeners\n"
    "  --tls-cert FILE      PEM certificate chain of the server, leaf first\n"
    "  --tls-key FILE       PEM private key of that certificate\n"
    "  --tls-ca FILE        PEM CAs of client certificates: a verified client certificate\n"
    "                       authenticates as the user it names (no SASL)\n"
    "  --tls-client-auth enable|mandatory\n"
    "                       with --tls-ca: a certificate may be presented (default), or must\n"
    "  --tls-cert-user PATH[:PREFIX[:DELIMITERS]]\n"
    "                       how a client certificate names its user, as Couchbase's\n"
    "                       clientCertAuth prefixes: PATH is subject.cn, san.dnsname,\n"
    "                       san.email or san.uri. Repeatable, tried in order. Default:\n"
    "                       subject.cn\n"
    "  --tls-kv-port N      TLS KV port (default 11207; 0 = any free)\n"
    "  --tls-http-port N    HTTPS management REST port (default 18091; 0 = any free)\n"
    "  --tls-query-port N   HTTPS query service port (default 18093; 0 = any free)\n"
    "  --plain-auth any|tls SASL PLAIN on every connection (default) or only on TLS ones\n"
    "\n"
    "Limits (docs/server.md says what a client sees at each):\n"
    "  --max-pending-out BYTES      unsent replies per connection before it is no longer\n"
    "                               served until they drain (default 64M; K, M, G suffixes)\n"
    "  --max-pending-total BYTES    unsent replies of all connections before only clients\n"
    "                               that read are served (default 256M)\n"
    "  --preauth-max-frame BYTES    largest request body before authentication (default 16K)\n"
    "  --preauth-timeout SECONDS    time to authenticate (default 30)\n"
    "  --max-preauth-connections N  connections awaiting authentication (default 1000)\n"
    "  --frame-timeout SECONDS      time to send the rest of a started request (default 60)\n"
    "  --max-auth-failures N        failed SASL attempts before a connection is closed\n"
    "                               (default 3)\n"
    "  --range-scan-timeout SECONDS idle time after which a range scan is cancelled\n"
    "                               (default 60)\n"
    "  --max-range-scans N          open range scans per connection (default 16)\n"
    "  --max-bucket-range-scans N   open range scans per bucket (default 1024)\n"
    "  --rest-max-per-ip N          REST connections per client address (default 64)\n"
    "  --rest-header-timeout SECONDS  time to send a REST request's headers (default 10)\n"
    "\n"
    "  --verbose            log connections and authentication failures to stderr\n"
    "  --help               this text\n"
    "  --version            divan-server's version\n"
    "\n"
    "Once the listeners are bound, one line is printed to stdout:\n"
    "  divan-server kv=PORT http=PORT query=PORT\n"
    "and with TLS, on the same line: kvs=PORT https=PORT querys=PORT\n";

typedef struct options {
    const char *host;
    int kv_port, http_port, query_port, threads, verbose, ephemeral;
    const char *buckets[MAX_FLAGS];
    int nbuckets;
    const char *users[MAX_FLAGS];
    int nusers;
    const char *data_dir;
    dv_tls_options tls;
    int tls_kv_port, tls_http_port, tls_query_port;
    uint32_t flush_ms;
    dv_net_options net;
    dv_session_limits session;
    dv_http_limits rest;
} options;

static void die_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "divan-server: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see divan-server --help)\n");
    exit(2);
}

static int parse_int(const char *flag, const char *v, int lo, int hi)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "divan-server: %s wants a number from %d to %d, not \"%s\"\n", flag, lo, hi,
                v);
        exit(2);
    }
    return (int)n;
}

/* A byte count with an optional K, M or G suffix (powers of 1024). */
static size_t parse_size(const char *flag, const char *v)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10;
    if (*end == 'M' || *end == 'm') shift = 20;
    if (*end == 'G' || *end == 'g') shift = 30;
    if (shift) end++;
    if (errno || end == v || *end || v[0] == '-' || n == 0 || n > (SIZE_MAX >> 31)) {
        fprintf(stderr, "divan-server: %s wants a byte count such as 65536 or 64M, not \"%s\"\n",
                flag, v);
        exit(2);
    }
    return (size_t)n << shift;
}

/* Seconds (fractions allowed) as milliseconds, at least 1 ms, at most a day. */
static uint32_t parse_seconds_ms(const char *flag, const char *v)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= 0.001 && d <= 86400)) {
        fprintf(stderr, "divan-server: %s wants seconds from 0.001 to 86400, not \"%s\"\n", flag,
                v);
        exit(2);
    }
    return (uint32_t)(d * 1000 + 0.5);
}

static void parse_args(int argc, char **argv, options *o)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->host = "127.0.0.1";
    o->kv_port = 11210;
    o->http_port = 8091;
    o->query_port = 8093;
    o->tls_kv_port = 11207;
    o->tls_http_port = 18091;
    o->tls_query_port = 18093;
    o->threads = cores < 1 ? 1 : cores > 4 ? 4 : (int)cores;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            exit(0);
        }
        if (!strcmp(a, "--version")) {
            printf("divan-server %s\n", DV_VERSION);
            exit(0);
        }
        if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            o->verbose = 1;
            continue;
        }
        if (!strcmp(a, "--ephemeral")) {
            o->ephemeral = 1;
            continue;
        }
        /* Every other flag takes a value, as "--flag value" or "--flag=value". */
        const char *eq = strchr(a, '=');
        char name[32];
        const char *v;
        if (eq && a[0] == '-' && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            v = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
            if (i + 1 >= argc) die_usage("%s needs a value", a);
            v = argv[++i];
        }
        if (!strcmp(name, "--host"))
            o->host = v;
        else if (!strcmp(name, "--kv-port"))
            o->kv_port = parse_int(name, v, 0, 65535);
        else if (!strcmp(name, "--http-port"))
            o->http_port = parse_int(name, v, 0, 65535);
        else if (!strcmp(name, "--query-port"))
            o->query_port = parse_int(name, v, 0, 65535);
        else if (!strcmp(name, "--threads"))
            o->threads = parse_int(name, v, 1, 64);
        else if (!strcmp(name, "--tls-cert"))
            o->tls.cert_file = v;
        else if (!strcmp(name, "--tls-key"))
            o->tls.key_file = v;
        else if (!strcmp(name, "--tls-ca"))
            o->tls.ca_file = v;
        else if (!strcmp(name, "--tls-client-auth")) {
            if (!strcmp(v, "enable"))
                o->tls.client_mode = DV_TLS_CLIENT_ENABLE;
            else if (!strcmp(v, "mandatory"))
                o->tls.client_mode = DV_TLS_CLIENT_MANDATORY;
            else
                die_usage("--tls-client-auth is enable or mandatory, not %s", v);
        } else if (!strcmp(name, "--tls-cert-user")) {
            char err[256];
            if (o->tls.nrules >= DV_TLS_MAX_RULES) die_usage("too many %s rules", name);
            if (dv_tls_rule_parse(v, &o->tls.rules[o->tls.nrules++], err, sizeof err) != 0)
                die_usage("--tls-cert-user: %s", err);
        } else if (!strcmp(name, "--tls-kv-port"))
            o->tls_kv_port = parse_int(name, v, 0, 65535);
        else if (!strcmp(name, "--tls-http-port"))
            o->tls_http_port = parse_int(name, v, 0, 65535);
        else if (!strcmp(name, "--tls-query-port"))
            o->tls_query_port = parse_int(name, v, 0, 65535);
        else if (!strcmp(name, "--plain-auth")) {
            if (strcmp(v, "any") && strcmp(v, "tls"))
                die_usage("--plain-auth is any or tls, not %s", v);
            o->session.plain_needs_tls = !strcmp(v, "tls");
        } else if (!strcmp(name, "--data-dir"))
            o->data_dir = v;
        else if (!strcmp(name, "--flush-interval"))
            o->flush_ms = (uint32_t)parse_int(name, v, 1, 3600000);
        else if (!strcmp(name, "--bucket") && o->nbuckets < MAX_FLAGS)
            o->buckets[o->nbuckets++] = v;
        else if (!strcmp(name, "--user") && o->nusers < MAX_FLAGS)
            o->users[o->nusers++] = v;
        else if (!strcmp(name, "--max-pending-out"))
            o->net.max_pending_out = parse_size(name, v);
        else if (!strcmp(name, "--max-pending-total"))
            o->net.max_pending_total = parse_size(name, v);
        else if (!strcmp(name, "--preauth-max-frame"))
            o->session.preauth_max_body = parse_size(name, v);
        else if (!strcmp(name, "--preauth-timeout"))
            o->net.preauth_timeout_ms = parse_seconds_ms(name, v);
        else if (!strcmp(name, "--max-preauth-connections"))
            o->net.max_preauth = (unsigned)parse_int(name, v, 1, 1000000);
        else if (!strcmp(name, "--frame-timeout"))
            o->net.frame_timeout_ms = parse_seconds_ms(name, v);
        else if (!strcmp(name, "--max-auth-failures"))
            o->session.max_auth_failures = (unsigned)parse_int(name, v, 1, 1000000);
        else if (!strcmp(name, "--range-scan-timeout"))
            o->session.scans.idle_timeout = (uint32_t)parse_int(name, v, 1, 86400);
        else if (!strcmp(name, "--max-range-scans"))
            o->session.scans.max_per_conn = (unsigned)parse_int(name, v, 1, 1000000);
        else if (!strcmp(name, "--max-bucket-range-scans"))
            o->session.scans.max_per_bucket = (unsigned)parse_int(name, v, 1, 1000000);
        else if (!strcmp(name, "--rest-max-per-ip"))
            o->rest.max_per_ip = (unsigned)parse_int(name, v, 1, 1000000);
        else if (!strcmp(name, "--rest-header-timeout"))
            o->rest.header_timeout_ms = parse_seconds_ms(name, v);
        else
            die_usage("unknown option %s", a);
    }
    if (!o->tls.cert_file != !o->tls.key_file)
        die_usage("%s", "--tls-cert and --tls-key go together");
    if (o->tls.ca_file && !o->tls.cert_file)
        die_usage("%s", "--tls-ca needs --tls-cert and --tls-key");
}

/* ---- The expiry pager ---------------------------------------------------------------------- */

typedef struct pager {
    dv_cluster *cluster;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
} pager;

static void *pager_main(void *p)
{
    pager *pg = p;
    pthread_mutex_lock(&pg->mu);
    while (!pg->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += PAGER_SECONDS;
        while (!pg->stop && pthread_cond_timedwait(&pg->cv, &pg->mu, &until) != ETIMEDOUT) {
        }
        if (pg->stop) break;
        pthread_mutex_unlock(&pg->mu);
        dv_bucket **list;
        size_t n;
        if (dv_cluster_list_buckets(pg->cluster, &list, &n) == DV_ERR_OK) {
            uint32_t now = (uint32_t)(dv_clock_wall_ns() / 1000000000u);
            for (size_t i = 0; i < n; i++)
                dv_store_page(dv_bucket_store(list[i]), now, TOMBSTONE_SECONDS);
            dv_cluster_list_free(list, n);
        }
        pthread_mutex_lock(&pg->mu);
    }
    pthread_mutex_unlock(&pg->mu);
    return NULL;
}

static int pager_start(pager *pg, dv_cluster *c)
{
    pthread_condattr_t ca;
    pg->cluster = c;
    pg->stop = 0;
    pthread_mutex_init(&pg->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pg->cv, &ca);
    pthread_condattr_destroy(&ca);
    return pthread_create(&pg->thread, NULL, pager_main, pg);
}

static void pager_stop(pager *pg)
{
    pthread_mutex_lock(&pg->mu);
    pg->stop = 1;
    pthread_cond_signal(&pg->cv);
    pthread_mutex_unlock(&pg->mu);
    pthread_join(pg->thread, NULL);
    pthread_cond_destroy(&pg->cv);
    pthread_mutex_destroy(&pg->mu);
}

/* ---- Wiring -------------------------------------------------------------------------------- */

static void *on_open(void *ud, const char *peer, const char *local_ip)
{
    (void)local_ip;
    dv_log(DV_LOG_DEBUG, "server", "connection from %s", peer);
    return dv_session_new(ud, peer);
}

static long on_data(void *session, const uint8_t *p, size_t n, dv_buf *out, size_t limit)
{
    return dv_session_read(session, p, n, out, limit);
}

static int on_held(void *session)
{
    return dv_session_held(session);
}

static void on_release(void *session, dv_buf *out)
{
    dv_session_release(session, out);
}

static int on_authenticated(void *session)
{
    return dv_session_authenticated(session);
}

static void on_notify(void *session, dv_buf *out)
{
    dv_session_notify(session, out);
}

static void on_close(void *session)
{
    dv_session_free(session);
}

/* The users, for the TLS listener's certificate mapping. */
static dv_users *server_users;

static int cert_user(void *session, const char *name)
{
    dv_user *u = dv_users_get(server_users, name, strlen(name));
    if (!u) return 0;
    dv_session_authenticate(session, u);
    dv_user_release(u);
    dv_log(DV_LOG_INFO, "server", "client certificate: authenticated as %s", name);
    return 1;
}

static int on_secured(void *session, const dv_tls_conn *tls)
{
    dv_session_set_tls(session);
    if (!dv_tls_conn_has_peer_cert(tls)) return 0; /* SASL follows */
    return dv_tls_conn_peer_users(tls, cert_user, session) ? 0 : -1;
}

/* A whole (small) file as a string; NULL with a message. */
static char *slurp(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *p = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > (1u << 24)) break;
            char *q = dv_realloc(p, cap);
            if (!q) break;
            p = q;
        }
        size_t r = fread(p + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f) || !feof(f);
    fclose(f);
    if (bad || !p) {
        snprintf(err, errlen, "cannot read %s", path);
        dv_free(p);
        return NULL;
    }
    p[n] = '\0';
    return p;
}

/* The users kept in the data directory; NULL with --ephemeral. */
static dv_users_store *users_store;

static void on_rest_change(void *ud)
{
    dv_users_store_save(users_store); /* writes only when users or groups changed */
    dv_net_broadcast(ud);
}

static void log_stderr(void *ud, dv_log_level level, const char *subsystem, const char *msg)
{
    (void)level;
    (void)ud;
    fprintf(stderr, "divan-server: %s: %s\n", subsystem, msg);
}

static int fail(const char *what, const char *msg)
{
    fprintf(stderr, "divan-server: %s: %s\n", what, msg);
    return 1;
}

int main(int argc, char **argv)
{
    options o = {0};
    parse_args(argc, argv, &o);
#ifdef __GLIBC__
    /* Replies and request buffers of 128 KiB and more are mapped and unmapped on their own:
     * glibc's default raises the threshold after large frees and keeps freed reply buffers in
     * its arenas, so the memory the reply limits bound would stay resident after it drained. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
    dv_set_log_hook(log_stderr, NULL, o.verbose ? DV_LOG_INFO : DV_LOG_WARN);
    char err[512];
    dv_users *users = dv_users_new(0);
    dv_cluster *cluster = dv_cluster_new("divan", 0, 0);
    if (!users || !cluster) return fail("start-up", "out of memory");
    for (int i = 0; i < o.nusers; i++)
        if (dv_users_add_flag(users, o.users[i], err, sizeof err) != DV_ERR_OK)
            return fail("--user", err);
    if (o.nusers == 0 && dv_users_add_default(users, err, sizeof err) != DV_ERR_OK)
        return fail("--user", err);
    /* The data directory: the one given, else the user's default one, unless --ephemeral. */
    char default_dir[4096];
    if (o.ephemeral && o.data_dir) return fail("--ephemeral", "and --data-dir exclude each other");
    if (!o.ephemeral && !o.data_dir) {
        const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
        if (xdg && xdg[0] == '/')
            snprintf(default_dir, sizeof default_dir, "%s/divan-server", xdg);
        else if (home && home[0] == '/')
            snprintf(default_dir, sizeof default_dir, "%s/.local/share/divan-server", home);
        else
            return fail("data directory", "no HOME to keep data in: give --data-dir DIR, or "
                                          "--ephemeral for a server that keeps nothing");
        o.data_dir = default_dir;
    }
    /* Buckets kept in the data directory come first; a --bucket flag naming one of them
     * leaves it as it was kept (its settings change over REST). */
    int fresh = 1;
    if (o.data_dir && dv_cluster_open_data_dir(cluster, o.data_dir, o.flush_ms, &fresh, err,
                                               sizeof err) != DV_ERR_OK)
        return fail("data directory", err);
    if (o.data_dir &&
        dv_users_store_open(o.data_dir, users, &users_store, err, sizeof err) != DV_ERR_OK)
        return fail("data directory", err);
    for (int i = 0; i < o.nbuckets; i++) {
        dv_bucket_settings s;
        if (dv_bucket_settings_parse_flag(o.buckets[i], &s, err, sizeof err) != DV_ERR_OK)
            return fail("--bucket", err);
        dv_bucket *kept = dv_cluster_get_bucket(cluster, s.name, strlen(s.name));
        if (kept) {
            dv_bucket_release(kept);
            if (!fresh) continue;
        }
        if (dv_cluster_create_bucket(cluster, &s, NULL, err, sizeof err) != DV_ERR_OK)
            return fail("--bucket", err[0] ? err : "a bucket of that name exists already");
    }
    /* The default bucket comes with a new data directory (or none); one deleted is not
     * brought back at the next start. */
    if (o.nbuckets == 0 && fresh) {
        dv_bucket *kept = dv_cluster_get_bucket(cluster, "default", 7);
        if (kept)
            dv_bucket_release(kept);
        else if (dv_cluster_create_default_bucket(cluster) != DV_ERR_OK)
            return fail("start-up", "cannot create the default bucket");
    }

    /* Every thread started from here on inherits a mask without SIGINT and SIGTERM; the main
     * thread waits for them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    dv_session_ctx *ctx = dv_session_ctx_new(cluster, users);
    if (!ctx) return fail("start-up", "out of memory");
    dv_session_ctx_set_limits(ctx, &o.session);
    dv_net_options no = o.net;
    no.host = o.host;
    no.port = o.kv_port;
    no.threads = o.threads;
    dv_net_handlers h = {on_open,          on_data, on_notify, on_close,
                         on_authenticated, NULL,    on_held,   on_release};
    dv_net *net = dv_net_start(&no, &h, ctx, err, sizeof err);
    if (!net) return fail("KV listener", err);
    dv_rest_options ro = {0};
    ro.host = o.host;
    ro.port = o.http_port;
    ro.changed = on_rest_change;
    ro.ud = net;
    ro.limits = o.rest;
    dv_rest *rest = dv_rest_start(cluster, users, &ro, err, sizeof err);
    if (!rest) {
        dv_net_stop(net);
        return fail("REST listener", err);
    }
    dv_cluster_set_ports(cluster, (uint16_t)dv_net_port(net), (uint16_t)dv_rest_port(rest));
    dv_qsvc_options qo = {o.host, o.query_port, o.rest, NULL};
    dv_qsvc *qsvc = dv_qsvc_start(cluster, users, &qo, err, sizeof err);
    if (!qsvc) {
        dv_rest_stop(rest);
        dv_net_stop(net);
        return fail("query listener", err);
    }
    dv_cluster_set_query_port(cluster, (uint16_t)dv_qsvc_port(qsvc));

    /* TLS: the same services once more on their TLS ports. */
    dv_tls *tls = NULL;
    dv_net *net_tls = NULL;
    dv_rest *rest_tls = NULL;
    dv_qsvc *qsvc_tls = NULL;
    char *cert_pem = NULL, *key_pem = NULL;
    if (o.tls.cert_file) {
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
            return fail("TLS", "this libmicrohttpd has no TLS: HTTPS cannot be served");
        if (!(tls = dv_tls_new(&o.tls, err, sizeof err))) return fail("TLS", err);
        if (!(cert_pem = slurp(o.tls.cert_file, err, sizeof err)) ||
            !(key_pem = slurp(o.tls.key_file, err, sizeof err)))
            return fail("TLS", err);
        server_users = users;
        dv_net_options nt = no;
        nt.port = o.tls_kv_port;
        nt.tls = tls;
        dv_net_handlers ht = h;
        ht.secured = on_secured;
        if (!(net_tls = dv_net_start(&nt, &ht, ctx, err, sizeof err)))
            return fail("TLS KV listener", err);
        dv_rest_options rt = ro;
        rt.port = o.tls_http_port;
        rt.limits.tls_cert_pem = cert_pem;
        rt.limits.tls_key_pem = key_pem;
        if (!(rest_tls = dv_rest_start(cluster, users, &rt, err, sizeof err)))
            return fail("HTTPS REST listener", err);
        dv_qsvc_options qt = qo;
        qt.port = o.tls_query_port;
        qt.share = qsvc;
        qt.limits.tls_cert_pem = cert_pem;
        qt.limits.tls_key_pem = key_pem;
        if (!(qsvc_tls = dv_qsvc_start(cluster, users, &qt, err, sizeof err)))
            return fail("HTTPS query listener", err);
        dv_cluster_set_tls_ports(cluster, (uint16_t)dv_net_port(net_tls),
                                 (uint16_t)dv_rest_port(rest_tls),
                                 (uint16_t)dv_qsvc_port(qsvc_tls));
    }
    pager pg;
    if (pager_start(&pg, cluster) != 0) return fail("start-up", "cannot start the pager");

    printf("divan-server kv=%d http=%d query=%d", dv_net_port(net), dv_rest_port(rest),
           dv_qsvc_port(qsvc));
    if (tls)
        printf(" kvs=%d https=%d querys=%d", dv_net_port(net_tls), dv_rest_port(rest_tls),
               dv_qsvc_port(qsvc_tls));
    printf("\n");
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    dv_log(DV_LOG_INFO, "server", "signal %d: stopping", sig);

    pager_stop(&pg);
    dv_qsvc_stop(qsvc_tls);
    dv_rest_stop(rest_tls);
    dv_net_stop(net_tls);
    dv_qsvc_stop(qsvc);
    dv_rest_stop(rest);
    dv_net_stop(net);
    dv_tls_free(tls);
    dv_free(cert_pem);
    dv_free(key_pem);
    dv_session_ctx_free(ctx);
    dv_cluster_free(cluster);
    dv_users_store_free(users_store);
    dv_users_free(users);
    return 0;
}
