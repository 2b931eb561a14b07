/* The engine's connections and buckets (kv-protocol.md §10.1, §10.2, §10.5, §10.6):
 *
 *  - a bucket bootstraps on the hosts of the connection string in turn (in the order written);
 *    out of hosts, it starts again after 500 ms, until bootstrap_timeout. An attempt gets a
 *    share of the time left (the time left over the hosts left in the round, plus one share for
 *    another round; at least 1 s), so that a seed that accepts the connection and never
 *    answers costs a slice, not the whole timeout, and is tried again in the next round (a
 *    single seed too, on a fresh connection); what each attempt came to is kept for the error
 *    of a failed open;
 *  - every connection does the whole handshake: HELLO + SASL_LIST_MECHS + SASL_AUTH in one
 *    flush, SASL_STEP, then GET_ERROR_MAP (if XERROR was acked) + SELECT_BUCKET +
 *    GET_CLUSTER_CONFIG in one flush; the config reply makes it ready;
 *  - the first config opens one connection per KV node ("slots", index = the config's node
 *    index; the bootstrap connection is kept for its node); a newer config (GET_CLUSTER_CONFIG,
 *    a NOT_MY_VBUCKET body, a push, the 2.5 s poll) opens and closes connections to match;
 *  - a lost connection is reopened at once, then with backoff while it keeps failing;
 *  - the HTTP fall-back (issue 4): when no host gave a config over KV (for a reason other than
 *    authentication or a missing bucket), or when the connection string asks for it
 *    (bootstrap_on=http, host=http), the bucket's terse config is read with
 *    GET /pools/default/b/<bucket> from a host's management port (8091, or the port given with
 *    =http) on a plain connection of its own; 401 -> AUTHENTICATION_FAILURE, 404 ->
 *    BUCKET_NOT_FOUND, anything else -> the next host. The config is then applied as any
 *    other, and KV connections to the nodes do not need GET_CLUSTER_CONFIG to work;
 *  - the cluster-level connection (dv_engine_connect) is the bucket "" (b->cluster): the same
 *    bootstrap without SELECT_BUCKET and without the HTTP round; its config needs no map
 *    (NO_BUCKET / KEY_ENOENT: fabricated), and it keeps its one connection (no per-node ones). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/endian.h"
#include "base/log.h"
#include "client/engine_int.h"
#include "divan/error.h"
#include "mcbp/hello.h"
#include "mcbp/opcode.h"

#define BOOT_RESTART_MS   500
#define BOOT_MIN_SHARE_MS 1000 /* an attempt gets at least this (or what is left) */
#define HTTP_MGMT_PORT    8091
#define HTTPS_MGMT_PORT   18091

static const char AGENT[] = "{\"a\":\"divan/0.1.0\"}";

/* ---- connections ---------------------------------------------------------------------------- */

static conn *conn_new(dv_engine *e, bucket *b, const char *host, uint16_t port, int http)
{
    conn *c = dv_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->host = dv_strdup(host);
    dv_buf nb = DV_BUF_INIT;
    int v6 = strchr(host, ':') != NULL;
    if (!c->host || dv_buf_printf(&nb, v6 ? "[%s]:%u" : "%s:%u", host, (unsigned)port) ||
        dv_buf_append_u8(&nb, 0)) {
        dv_buf_free(&nb);
        dv_free(c->host);
        dv_free(c);
        return NULL;
    }
    c->name = (char *)nb.data; /* NUL-terminated, owned */
    if (++e->next_conn_id == 0) e->next_conn_id = 1;
    c->id = e->next_conn_id;
    c->b = b;
    c->port = port;
    c->state = CONN_CONNECTING;
    c->http = http;
    dv_http_resp_init(&c->resp);
    uint64_t now = eng_now(e);
    c->opened_at = now;
    c->connect_deadline = now + e->connect_timeout_ns;
    c->ready_deadline = now + e->bootstrap_timeout_ns;
    c->next = e->conns;
    e->conns = c;
    eng_arm(e, conn_next(c));
    e->h.connect(e->h.ud, c->id, c->host, port);
    return c;
}

static void conn_free(conn *c)
{
    dv_sasl_client_free(c->sasl);
    if (c->has_errmap) dv_errmap_free(&c->errmap);
    dv_buf_free(&c->in);
    dv_buf_free(&c->out);
    dv_http_resp_free(&c->resp);
    dv_free(c->ctls);
    dv_free(c->host);
    dv_free(c->name);
    dv_free(c);
}

void conn_reap(dv_engine *e)
{
    if (e->depth) return;
    for (conn **pp = &e->conns; *pp;) {
        conn *c = *pp;
        if (c->state == CONN_DEAD && c->refs == 0) {
            *pp = c->next;
            conn_free(c);
        } else {
            pp = &c->next;
        }
    }
}

static conn *conn_live(dv_engine *e, uint32_t id)
{
    conn *c = eng_conn_by_id(e, id);
    return c && c->state != CONN_DEAD ? c : NULL;
}

int conn_send_ctl(dv_engine *e, conn *c, ctl_kind kind, uint8_t opcode, const void *key,
                  size_t keylen, const void *value, size_t vlen, uint32_t *opaque)
{
    if (c->nctl == c->capctl) {
        size_t ncap = c->capctl ? c->capctl * 2 : 8;
        ctl *n = dv_realloc(c->ctls, ncap * sizeof *n);
        if (!n) return -1;
        c->ctls = n;
        c->capctl = ncap;
    }
    dv_frame f;
    memset(&f, 0, sizeof f);
    f.magic = DV_MAGIC_REQ;
    f.opcode = opcode;
    f.opaque = eng_opaque(e);
    f.key = key;
    f.key_len = keylen;
    f.value = value;
    f.value_len = vlen;
    if (dv_frame_encode(&c->out, &f) != DV_MCBP_OK) return -1;
    c->ctls[c->nctl++] = (ctl){.opaque = f.opaque, .kind = kind, .sent_at = eng_now(e)};
    if (opaque) *opaque = f.opaque;
    return 0;
}

static void ctl_remove(conn *c, size_t i)
{
    memmove(&c->ctls[i], &c->ctls[i + 1], (c->nctl - i - 1) * sizeof *c->ctls);
    c->nctl--;
}

void coll_drop(bucket *b, coll *k)
{
    for (coll **pp = &b->colls; *pp; pp = &(*pp)->next)
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    dv_free(k->scope);
    dv_free(k->name);
    dv_free(k);
}

void conn_poll(dv_engine *e, conn *c)
{
    if (c->state != CONN_READY) return;
    /* One poll at a time; one unanswered for a whole interval is given up (its late reply,
     * if any, matches nothing and is dropped). */
    uint64_t now = eng_now(e);
    for (size_t i = 0; i < c->nctl; i++)
        if (c->ctls[i].kind == CTL_POLL) {
            if (now - c->ctls[i].sent_at < e->poll_interval_ns) return;
            ctl_remove(c, i);
            break;
        }
    conn_send_ctl(e, c, CTL_POLL, DV_OP_GET_CLUSTER_CONFIG, NULL, 0, NULL, 0, NULL);
}

static void boot_failed(dv_engine *e, bucket *b, dv_error err);
static void boot_note(dv_engine *e, bucket *b, const conn *c, dv_error err, int connected, int cut);

/* The management port of a seed without one (the HTTP fall-back's): 18091 under TLS. */
static uint16_t mgmt_port(const dv_engine *e)
{
    return e->tls ? HTTPS_MGMT_PORT : HTTP_MGMT_PORT;
}

static slot *slot_of(bucket *b, const conn *c)
{
    for (size_t i = 0; i < b->nslots; i++)
        if (b->slots[i].c == c) return &b->slots[i];
    return NULL;
}

static void slot_connect(dv_engine *e, bucket *b, slot *s)
{
    s->reconnect_at = 0;
    s->c = conn_new(e, b, s->host, s->port, 0);
    if (!s->c) { /* out of memory: try again later */
        s->reconnect_at = eng_now(e) + DV_NS_PER_SEC;
        eng_arm(e, s->reconnect_at);
    }
}

void conn_down(dv_engine *e, conn *c, dv_error err, int we_close)
{
    if (c->state == CONN_DEAD) return;
    int was_ready = c->state == CONN_READY, was_connected = c->state != CONN_CONNECTING;
    /* What a user debugging "why does it time out" needs first: the node and the reason, as it
     * happens (the operation's error comes at its deadline). INFO, under the default stderr
     * hook's WARN: the error a program reports is the operation's, so the divan tool still says
     * one line. A close the engine asked for (shutdown, bucket closed, node left) is debug. */
    if (!was_connected)
        dv_log(DV_LOG_INFO, "client", "connect to %s failed: %s", c->name, dv_strerror(err));
    else if (err == DV_ERR_AUTHENTICATION_FAILURE)
        dv_log(DV_LOG_INFO, "client", "%s: authentication failed", c->name);
    else if (err != DV_ERR_REQUEST_CANCELED)
        dv_log(DV_LOG_INFO, "client", "%s: connection lost: %s", c->name, dv_strerror(err));
    else
        dv_log(DV_LOG_DEBUG, "client", "%s: connection closed", c->name);
    if (we_close) e->h.close(e->h.ud, c->id);
    c->state = CONN_DEAD;
    dv_sasl_client_free(c->sasl);
    c->sasl = NULL;
    dv_buf_free(&c->in);
    dv_buf_free(&c->out);
    dv_http_resp_free(&c->resp);
    bucket *b = c->b;
    /* Collection ids being resolved on c are forgotten: the next dispatch asks again. */
    for (coll *k = b->colls, *nx; k; k = nx) {
        nx = k->next;
        if (!k->known && k->conn == c->id) coll_drop(b, k);
    }
    ping_conn_lost(e, c);
    c->nctl = 0;
    eng_conn_lost(e, c);
    if (b->boot == c) {
        b->boot = NULL;
        boot_note(e, b, c, err, was_connected, 0);
        boot_failed(e, b, err);
        return;
    }
    slot *s = slot_of(b, c);
    if (!s) return; /* closed because its node left the config */
    s->c = NULL;
    s->attempts++;
    /* Reconnect at once after losing a working connection, then back off. */
    uint64_t delay_ms = was_ready && s->attempts == 1 ? 0 : dv_op_backoff_ms(s->attempts - 1);
    if (was_ready) s->attempts = 1;
    if (delay_ms == 0 && !e->closing) {
        slot_connect(e, b, s);
    } else {
        s->reconnect_at = eng_now(e) + delay_ms * DV_NS_PER_MS;
        eng_arm(e, s->reconnect_at);
    }
}

void conn_tick(dv_engine *e, conn *c, uint64_t now)
{
    if ((c->state == CONN_CONNECTING && now >= c->connect_deadline) ||
        ((c->state == CONN_CONNECTING || c->state == CONN_HANDSHAKE) && now >= c->ready_deadline))
        conn_down(e, c, DV_ERR_UNAMBIGUOUS_TIMEOUT, 1);
}

uint64_t conn_next(const conn *c)
{
    if (c->state == CONN_CONNECTING)
        return c->connect_deadline < c->ready_deadline ? c->connect_deadline : c->ready_deadline;
    if (c->state == CONN_HANDSHAKE) return c->ready_deadline;
    return 0;
}

/* ---- buckets -------------------------------------------------------------------------------- */

bucket *eng_bucket(dv_engine *e, const char *name, int create)
{
    for (bucket *b = e->buckets; b; b = b->next)
        if (strcmp(b->name, name) == 0) return b;
    if (!create) return NULL;
    bucket *b = dv_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->name = dv_strdup(name);
    if (!b->name) {
        dv_free(b);
        return NULL;
    }
    b->cluster = name[0] == '\0';
    b->next = e->buckets;
    e->buckets = b;
    bucket_boot_start(e, b);
    return b;
}

/* Whether host h is tried in the KV round / the HTTP round. A host with a KV mode (mcd, cccp,
 * gcccp) is KV only, one with =http HTTP only (=mcds and =https want TLS: KV, which fails
 * there as any TLS does); the others follow bootstrap_on. */
static int host_allowed(const dv_engine *e, const dv_connstr_host *h, int http)
{
    dv_bootstrap_on on = e->cs->options.bootstrap_on;
    if (h->mode == DV_MODE_HTTP) return http;
    if (h->mode != DV_MODE_NONE) return !http;
    return http ? on != DV_BOOTSTRAP_ON_CCCP : on != DV_BOOTSTRAP_ON_HTTP;
}

/* Failures over KV that HTTP would not cure: no HTTP round after them. */
static int kv_decisive(dv_error err)
{
    return err == DV_ERR_AUTHENTICATION_FAILURE || err == DV_ERR_RATE_LIMITED ||
           err == DV_ERR_QUOTA_LIMITED;
}

/* From (boot_http, boot_host) on, the first host to try; 0 when the round is over. */
static int boot_find(dv_engine *e, bucket *b)
{
    for (;;) {
        if (b->boot_host >= e->cs->nhosts) {
            if (b->boot_http || b->cluster || kv_decisive(b->boot_err)) return 0;
            b->boot_http = 1;
            b->boot_host = 0;
            continue;
        }
        if (host_allowed(e, &e->cs->hosts[b->boot_host], b->boot_http)) return 1;
        b->boot_host++;
    }
}

static void boot_retry_later(dv_engine *e, bucket *b)
{
    b->boot_host = 0;
    b->boot_http = 0;
    b->boot_retry_at = eng_now(e) + BOOT_RESTART_MS * DV_NS_PER_MS;
    eng_arm(e, b->boot_retry_at);
}

/* How many hosts of the connection string the current round has still to try, the current
 * one included. */
static size_t boot_hosts_left(const dv_engine *e, const bucket *b)
{
    size_t left = 0;
    for (size_t i = b->boot_host; i < e->cs->nhosts; i++)
        if (host_allowed(e, &e->cs->hosts[i], b->boot_http)) left++;
    return left;
}

/* Connect to the host boot_find chose, over KV or HTTP, for its share of the time left. */
static void boot_connect(dv_engine *e, bucket *b)
{
    const dv_connstr_host *h = &e->cs->hosts[b->boot_host];
    if (b->boot_http)
        b->boot = conn_new(e, b, h->host,
                           h->mode == DV_MODE_HTTP && h->port_given ? h->port : mgmt_port(e), 1);
    else
        b->boot = conn_new(e, b, h->host, h->port, 0);
    if (!b->boot) {
        boot_retry_later(e, b);
        return;
    }
    size_t left = boot_hosts_left(e, b);
    uint64_t now = eng_now(e);
    if (left > 0 && b->boot_deadline > now) {
        uint64_t rest = b->boot_deadline - now, share = rest / (left + 1);
        uint64_t floor = BOOT_MIN_SHARE_MS * DV_NS_PER_MS;
        if (share < floor) share = rest < floor ? rest : floor;
        uint64_t until = now + share;
        conn *c = b->boot;
        if (until < c->ready_deadline) c->ready_deadline = until;
        if (until < c->connect_deadline) c->connect_deadline = until;
        eng_arm(e, conn_next(c));
    }
}

/* Record what a bootstrap attempt on c came to; cut: ended by the bootstrap timeout itself,
 * which says something only about a host that had no earlier attempt. */
static void boot_note(dv_engine *e, bucket *b, const conn *c, dv_error err, int connected, int cut)
{
    if (!b->tries || b->boot_host >= e->cs->nhosts) return;
    struct boot_try *t = &b->tries[2 * b->boot_host + (b->boot_http ? 1 : 0)];
    if (cut && t->attempts++) return;
    if (!cut) t->attempts++;
    unsigned long long ms = (eng_now(e) - c->opened_at) / DV_NS_PER_MS;
    if (err == DV_ERR_UNAMBIGUOUS_TIMEOUT) {
        if (ms < t->waited_ms) return; /* a shorter wait says less than the one kept */
        t->waited_ms = ms;
    }
    if (err == DV_ERR_UNAMBIGUOUS_TIMEOUT && connected)
        snprintf(t->why, sizeof t->why, "connected, but no answer to the %s within %llu ms",
                 c->http ? "HTTP request" : "handshake", ms);
    else if (err == DV_ERR_UNAMBIGUOUS_TIMEOUT)
        snprintf(t->why, sizeof t->why, "no connection within %llu ms", ms);
    else if (c->tls_why[0])
        snprintf(t->why, sizeof t->why, "TLS: %s", c->tls_why);
    else
        snprintf(t->why, sizeof t->why, "%s (%s)", dv_strerror(err), dv_error_name(err));
}

const char *bucket_boot_report(dv_engine *e, bucket *b)
{
    if (b->state == B_READY) return NULL;
    dv_buf_reset(&b->boot_msg);
    int any = 0;
    /* The attempt in progress, if any, is the one at (boot_host, boot_http). */
    size_t current = b->boot ? 2 * b->boot_host + (b->boot_http ? 1 : 0) : SIZE_MAX;
    for (size_t i = 0; b->tries && i < 2 * e->cs->nhosts; i++) {
        const struct boot_try *t = &b->tries[i];
        if (!t->attempts && i != current) continue;
        const dv_connstr_host *h = &e->cs->hosts[i / 2];
        int v6 = strchr(h->host, ':') != NULL;
        uint16_t port =
            i % 2 ? (h->mode == DV_MODE_HTTP && h->port_given ? h->port : mgmt_port(e)) : h->port;
        int rc = dv_buf_printf(
            &b->boot_msg, "%s%s%s%s:%u over %s: ", any ? "; " : "bootstrap tried ", v6 ? "[" : "",
            h->host, v6 ? "]" : "", (unsigned)port, i % 2 ? "HTTP" : "KV");
        if (!rc && t->attempts)
            rc = dv_buf_printf(&b->boot_msg, "%s (%u attempt%s)%s", t->why, t->attempts,
                               t->attempts == 1 ? "" : "s", i == current ? ", and " : "");
        if (!rc && i == current)
            rc = dv_buf_printf(
                &b->boot_msg, "%s for %llu ms now",
                b->boot->state == CONN_CONNECTING ? "connecting"
                                                  : "connected, waiting for an answer",
                (unsigned long long)((eng_now(e) - b->boot->opened_at) / DV_NS_PER_MS));
        if (rc) break;
        any = 1;
    }
    if (dv_buf_append_u8(&b->boot_msg, 0)) return "";
    return (const char *)dv_buf_head(&b->boot_msg);
}

void bucket_boot_start(dv_engine *e, bucket *b)
{
    b->state = B_BOOT;
    b->err = DV_ERR_OK;
    b->boot_host = 0;
    b->boot_http = 0;
    b->boot_err = DV_ERR_OK;
    b->boot_retry_at = 0;
    b->boot_deadline = eng_now(e) + e->bootstrap_timeout_ns;
    dv_free(b->tries);
    b->tries = e->cs->nhosts ? dv_calloc(2 * e->cs->nhosts, sizeof *b->tries) : NULL;
    eng_arm(e, b->boot_deadline);
    if (boot_find(e, b))
        boot_connect(e, b);
    else
        boot_retry_later(e, b); /* no host can be tried: until bootstrap_timeout */
}

static void call_waiters(bucket *b, dv_error err, const char *msg)
{
    waiter *w = b->waiters;
    b->waiters = NULL;
    while (w) {
        waiter *nx = w->next;
        dv_error_context ctx = {
            .status = 0xffff, .bucket = b->name, .node = "", .retry_reasons = "", .message = msg};
        dv_res res = {.err = err, .ctx = &ctx};
        w->cb(w->ud, &res);
        dv_free(w);
        w = nx;
    }
}

dv_error dv_engine_close_bucket(dv_engine *e, const char *name)
{
    if (!name || !*name) return DV_ERR_INVALID_ARGUMENT;
    bucket *b = eng_bucket(e, name, 0);
    if (!b) return DV_ERR_OK;
    eng_enter(e);
    /* Its connections close without reconnecting (taken out of their slots first)... */
    conn *boot = b->boot;
    b->boot = NULL;
    if (boot) conn_down(e, boot, DV_ERR_REQUEST_CANCELED, 1);
    for (size_t i = 0; i < b->nslots; i++) {
        conn *c = b->slots[i].c;
        b->slots[i].c = NULL;
        if (c) conn_down(e, c, DV_ERR_REQUEST_CANCELED, 1);
    }
    /* ... what waits for it fails, and the bucket is forgotten: the next use opens it anew. */
    call_waiters(b, DV_ERR_REQUEST_CANCELED, "the bucket was closed");
    eng_fail_bucket_ops(e, b, DV_ERR_REQUEST_CANCELED);
    for (bucket **pp = &e->buckets; *pp; pp = &(*pp)->next)
        if (*pp == b) {
            *pp = b->next;
            break;
        }
    for (conn *c = e->conns; c; c = c->next)
        if (c->b == b) c->b = NULL; /* dead now, reaped once no operation names them */
    bucket_free(e, b);
    eng_leave(e);
    return DV_ERR_OK;
}

/* The open failed for good: tell the waiters; operations waiting for the bucket fail with the
 * same error, except on a timeout (they time out at their own deadlines). */
static void bucket_fail(dv_engine *e, bucket *b, dv_error err)
{
    b->state = B_FAILED;
    b->err = err;
    b->boot_retry_at = 0;
    const char *why = bucket_boot_report(e, b);
    call_waiters(b, err, why ? why : "");
    if (err != DV_ERR_UNAMBIGUOUS_TIMEOUT) eng_fail_bucket_ops(e, b, err);
}

/* Failures that another attempt on the same host would not cure. */
static int fatal_error(dv_error err)
{
    return err == DV_ERR_AUTHENTICATION_FAILURE || err == DV_ERR_HANDSHAKE_FAILURE ||
           err == DV_ERR_PROTOCOL_ERROR || err == DV_ERR_RATE_LIMITED ||
           err == DV_ERR_QUOTA_LIMITED;
}

static void boot_failed(dv_engine *e, bucket *b, dv_error err)
{
    if (b->state != B_BOOT || e->closing) return;
    if (err == DV_ERR_BUCKET_NOT_FOUND) {
        bucket_fail(e, b, err);
        return;
    }
    if (fatal_error(err)) b->boot_err = err;
    b->boot_host++;
    if (boot_find(e, b)) {
        boot_connect(e, b);
        return;
    }
    if (b->boot_err != DV_ERR_OK) {
        bucket_fail(e, b, b->boot_err);
        return;
    }
    boot_retry_later(e, b);
}

static int same_node(const char *h1, uint16_t p1, const char *h2, uint16_t p2)
{
    return p1 == p2 && strcmp(h1, h2) == 0;
}

/* Make the slots match b->cfg: keep connections to nodes still there, open the new ones, close
 * the others. */
static void rebuild_slots(dv_engine *e, bucket *b)
{
    if (b->cluster) { /* one connection, to the bootstrap host, whatever the config lists */
        if (!b->boot || b->slots) return;
        slot *s = dv_calloc(1, sizeof *s);
        char *h = dv_strdup(b->boot->host);
        if (!s || !h) {
            dv_free(s);
            dv_free(h);
            return;
        }
        s->host = h;
        s->port = b->boot->port;
        s->c = b->boot;
        b->boot = NULL;
        b->slots = s;
        b->nslots = 1;
        return;
    }
    const dv_config *cfg = b->cfg;
    slot *ns = dv_calloc(cfg->nnodes ? cfg->nnodes : 1, sizeof *ns);
    if (!ns) return; /* keep the old slots; the next config tries again */
    for (size_t i = 0; i < cfg->nnodes; i++) {
        const dv_config_node *n = &cfg->nodes[i];
        uint16_t port = n->ports[eng_svc(e, DV_SVC_KV)];
        if (!port || !n->hostname) continue;
        ns[i].host = dv_strdup(n->hostname);
        if (!ns[i].host) continue;
        ns[i].port = port;
        int found = 0;
        for (size_t j = 0; j < b->nslots && !found; j++) {
            slot *o = &b->slots[j];
            if (o->host && same_node(o->host, o->port, ns[i].host, port)) {
                ns[i].c = o->c;
                ns[i].attempts = o->attempts;
                ns[i].reconnect_at = o->reconnect_at;
                dv_free(o->host);
                o->host = NULL;
                o->c = NULL;
                found = 1;
            }
        }
        if (!found && b->boot && same_node(b->boot->host, b->boot->port, ns[i].host, port)) {
            ns[i].c = b->boot;
            b->boot = NULL;
        }
    }
    slot *old = b->slots;
    size_t nold = b->nslots;
    b->slots = ns;
    b->nslots = cfg->nnodes;
    for (size_t j = 0; j < nold; j++) {
        dv_free(old[j].host);
        if (old[j].c) conn_down(e, old[j].c, DV_ERR_OK, 1);
    }
    dv_free(old);
    if (b->boot) { /* the bootstrap host is not a KV node of the config */
        conn *c = b->boot;
        b->boot = NULL;
        conn_down(e, c, DV_ERR_OK, 1);
    }
    uint64_t now = eng_now(e);
    for (size_t i = 0; i < b->nslots; i++) {
        slot *s = &b->slots[i];
        if (s->host && !s->c && s->reconnect_at <= now) slot_connect(e, b, s);
    }
}

/* Install cfg if it replaces the current one (10.2); takes ownership. */
static int bucket_apply(dv_engine *e, bucket *b, dv_config *cfg, int pushed)
{
    if (!dv_config_should_replace(b->cfg, cfg, pushed, NULL)) {
        dv_config_free(cfg);
        return 0;
    }
    dv_log(DV_LOG_INFO, "client", "bucket \"%s\": config rev %lld (%u nodes)",
           b->cluster ? "" : b->name, cfg->has_rev ? (long long)cfg->rev : -1LL,
           (unsigned)cfg->nnodes);
    dv_config_free(b->cfg);
    b->cfg = cfg;
    rebuild_slots(e, b);
    eng_redispatch(e, b);
    return 1;
}

void bucket_take_config(dv_engine *e, bucket *b, conn *c, const uint8_t *json, size_t len,
                        int pushed)
{
    if (b->state != B_READY) return; /* the bootstrap's own GET_CLUSTER_CONFIG decides */
    dv_config *cfg = NULL;
    if (dv_config_parse((const char *)json, len, c->host, c->host, &cfg, NULL, 0) != DV_ERR_OK)
        return;
    bucket_apply(e, b, cfg, pushed);
}

void bucket_tick(dv_engine *e, bucket *b, uint64_t now)
{
    if (b->state == B_BOOT) {
        if (now >= b->boot_deadline) {
            conn *c = b->boot;
            b->boot = NULL;
            if (c) boot_note(e, b, c, DV_ERR_UNAMBIGUOUS_TIMEOUT, c->state != CONN_CONNECTING, 1);
            if (c) conn_down(e, c, DV_ERR_UNAMBIGUOUS_TIMEOUT, 1);
            bucket_fail(e, b, DV_ERR_UNAMBIGUOUS_TIMEOUT);
        } else if (b->boot_retry_at && b->boot_retry_at <= now && !b->boot) {
            b->boot_retry_at = 0;
            if (boot_find(e, b))
                boot_connect(e, b);
            else
                boot_retry_later(e, b);
        }
        return;
    }
    if (b->state != B_READY) return;
    /* A collection-id lookup unanswered for kv_timeout is asked again. */
    int expired = 0;
    for (coll *k = b->colls, *nx; k; k = nx) {
        nx = k->next;
        if (!k->known && now - k->sent_at >= e->kv_timeout_ns) {
            coll_drop(b, k);
            expired = 1;
        }
    }
    if (expired) eng_redispatch(e, b);
    for (size_t i = 0; i < b->nslots; i++) {
        slot *s = &b->slots[i];
        if (s->host && !s->c && s->reconnect_at <= now) slot_connect(e, b, s);
    }
    if (b->poll_at && b->poll_at <= now) {
        /* Config polling: one GET_CLUSTER_CONFIG per interval, on the connections in turn. */
        b->poll_at = now + e->poll_interval_ns;
        for (size_t k = 0; k < b->nslots; k++) {
            size_t i = (b->poll_rr + k) % b->nslots;
            conn *c = b->slots[i].c;
            if (c && c->state == CONN_READY) {
                conn_poll(e, c);
                b->poll_rr = i + 1;
                break;
            }
        }
    }
}

uint64_t bucket_next(const bucket *b, uint64_t kv_timeout_ns)
{
    uint64_t next = 0;
    if (b->state == B_BOOT) {
        next = earliest(next, b->boot_deadline);
        next = earliest(next, b->boot_retry_at);
    } else if (b->state == B_READY) {
        next = earliest(next, b->poll_at);
        for (const coll *k = b->colls; k; k = k->next)
            if (!k->known) next = earliest(next, k->sent_at + kv_timeout_ns);
        for (size_t i = 0; i < b->nslots; i++)
            if (b->slots[i].host && !b->slots[i].c)
                next = earliest(next, b->slots[i].reconnect_at ? b->slots[i].reconnect_at : 1);
    }
    return next;
}

void bucket_free(dv_engine *e, bucket *b)
{
    (void)e;
    for (size_t i = 0; i < b->nslots; i++) dv_free(b->slots[i].host);
    dv_free(b->slots);
    while (b->colls) {
        coll *k = b->colls;
        b->colls = k->next;
        dv_free(k->scope);
        dv_free(k->name);
        dv_free(k);
    }
    while (b->waiters) {
        waiter *w = b->waiters;
        b->waiters = w->next;
        dv_free(w);
    }
    dv_config_free(b->cfg);
    dv_free(b->tries);
    dv_buf_free(&b->boot_msg);
    dv_free(b->name);
    dv_free(b);
}

/* ---- the handshake -------------------------------------------------------------------------- */

static dv_sasl_mech sasl_mech(const dv_engine *e)
{
    return e->tls ? DV_SASL_PLAIN : DV_SASL_SCRAM_SHA512;
}

static void send_hello_and_auth(dv_engine *e, conn *c)
{
    /* The official core's list (§4.3), minus what divan does not implement (tracing, unordered
     * execution: replies stay in order; subdoc extensions it does not use). */
    const dv_connstr_options *o = &e->cs->options;
    uint16_t codes[20];
    size_t n = 0;
    codes[n++] = DV_FEATURE_TCP_NODELAY;
    codes[n++] = DV_FEATURE_XATTR;
    codes[n++] = DV_FEATURE_XERROR;
    codes[n++] = DV_FEATURE_SELECT_BUCKET;
    codes[n++] = DV_FEATURE_JSON;
    codes[n++] = DV_FEATURE_DUPLEX;
    codes[n++] = DV_FEATURE_ALT_REQUEST_SUPPORT;
    codes[n++] = DV_FEATURE_SYNC_REPLICATION;
    codes[n++] = DV_FEATURE_VATTR;
    codes[n++] = DV_FEATURE_COLLECTIONS;
    codes[n++] = DV_FEATURE_PRESERVE_TTL;
    if (o->enable_clustermap_notification) {
        codes[n++] = DV_FEATURE_CLUSTERMAP_CHANGE_NOTIFICATION;
        codes[n++] = DV_FEATURE_DEDUPE_NOT_MY_VBUCKET_CLUSTERMAP;
    }
    if (o->enable_compression) codes[n++] = DV_FEATURE_SNAPPY;
    if (o->enable_mutation_tokens) codes[n++] = DV_FEATURE_MUTATION_SEQNO;
    dv_buf v = DV_BUF_INIT;
    int rc = dv_hello_encode(&v, codes, n);
    if (rc == DV_MCBP_OK)
        rc = conn_send_ctl(e, c, CTL_HELLO, DV_OP_HELLO, AGENT, sizeof AGENT - 1, dv_buf_head(&v),
                           dv_buf_size(&v), NULL);
    dv_buf_free(&v);
    /* A client certificate authenticated the connection: no SASL; the rest of the handshake
     * follows HELLO's answer. */
    if (e->cert_auth) {
        if (rc) conn_down(e, c, DV_ERR_NO_MEMORY, 1);
        return;
    }
    if (rc == 0)
        rc = conn_send_ctl(e, c, CTL_LIST_MECHS, DV_OP_SASL_LIST_MECHS, NULL, 0, NULL, 0, NULL);
    /* The official core does not negotiate: SCRAM-SHA512 on plain TCP, PLAIN over TLS (§5.4). */
    const uint8_t *msg = NULL;
    size_t mlen = 0;
    dv_sasl_mech m = sasl_mech(e);
    dv_sasl_client_config sc = {.mech = m, .user = e->user, .password = e->pass};
    dv_error err = DV_ERR_NO_MEMORY;
    if (rc == 0) {
        err = dv_sasl_client_start(&sc, &c->sasl, &msg, &mlen);
        if (err == DV_ERR_OK) {
            const char *mech = dv_sasl_mech_name(m);
            if (conn_send_ctl(e, c, CTL_AUTH, DV_OP_SASL_AUTH, mech, strlen(mech), msg, mlen, NULL))
                err = DV_ERR_NO_MEMORY;
        }
    }
    if (err != DV_ERR_OK) conn_down(e, c, err, 1);
}

static void send_select_and_config(dv_engine *e, conn *c)
{
    static const uint8_t errmap_version[2] = {0, 2};
    int rc = 0;
    if (dv_features_has(c->features, DV_FEATURE_XERROR))
        rc = conn_send_ctl(e, c, CTL_ERRMAP, DV_OP_GET_ERROR_MAP, NULL, 0, errmap_version, 2, NULL);
    if (rc == 0 && !c->b->cluster)
        rc = conn_send_ctl(e, c, CTL_SELECT, DV_OP_SELECT_BUCKET, c->b->name, strlen(c->b->name),
                           NULL, 0, NULL);
    if (rc == 0)
        rc = conn_send_ctl(e, c, CTL_CONFIG, DV_OP_GET_CLUSTER_CONFIG, NULL, 0, NULL, 0, NULL);
    if (rc) conn_down(e, c, DV_ERR_NO_MEMORY, 1);
}

static dv_error auth_error(uint16_t status)
{
    if (status >= DV_STATUS_RATE_LIMITED_NETWORK_INGRESS &&
        status <= DV_STATUS_RATE_LIMITED_MAX_COMMANDS)
        return DV_ERR_RATE_LIMITED;
    if (status == DV_STATUS_SCOPE_SIZE_LIMIT_EXCEEDED) return DV_ERR_QUOTA_LIMITED;
    return DV_ERR_AUTHENTICATION_FAILURE;
}

/* The handshake's GET_CLUSTER_CONFIG answered with a usable config (or, cfg NULL, without one
 * on a node of a bucket that already has a config): c is ready. */
static void conn_ready(dv_engine *e, conn *c, dv_config *cfg)
{
    bucket *b = c->b;
    c->state = CONN_READY;
    dv_sasl_client_free(c->sasl);
    c->sasl = NULL;
    if (b->state == B_BOOT && b->boot == c) {
        b->state = B_READY;
        b->boot_retry_at = 0;
        if (!b->cluster) { /* the cluster connection relies on pushes */
            b->poll_at = eng_now(e) + e->poll_interval_ns;
            eng_arm(e, b->poll_at);
        }
        if (!bucket_apply(e, b, cfg, 0)) { /* cannot happen for a parsed, non-empty map */
            b->state = B_BOOT;
            b->boot = NULL;
            conn_down(e, c, DV_ERR_PROTOCOL_ERROR, 1);
            boot_failed(e, b, DV_ERR_PROTOCOL_ERROR);
            return;
        }
        call_waiters(b, DV_ERR_OK, "");
        return;
    }
    slot *s = slot_of(b, c);
    if (s) s->attempts = 0;
    if (b->state == B_READY && cfg)
        bucket_apply(e, b, cfg, 0);
    else
        dv_config_free(cfg);
    eng_redispatch(e, b);
}

/* The official core on a server without cluster-level configs (NO_BUCKET, or KEY_ENOENT): a
 * one-node config of the bootstrap host's KV service, with no revision, so that any real
 * config (a push) replaces it. */
static dv_config *fabricate_config(const dv_engine *e, const conn *c)
{
    dv_config *cfg = dv_config_new();
    dv_config_node *n = cfg ? dv_config_add_node(cfg) : NULL;
    if (!n || dv_config_set_string(&n->hostname, c->host) != DV_ERR_OK) {
        dv_config_free(cfg);
        return NULL;
    }
    n->this_node = 1;
    n->ports[eng_svc(e, DV_SVC_KV)] = c->port;
    return cfg;
}

/* The bucket-less GET_CLUSTER_CONFIG answered: the cluster config (no vBucketMap needed). */
static void cluster_config(dv_engine *e, conn *c, const dv_frame *f)
{
    dv_config *cfg = NULL;
    if (f->status == DV_STATUS_NO_BUCKET || f->status == DV_STATUS_KEY_ENOENT)
        cfg = fabricate_config(e, c);
    else if (f->status == DV_STATUS_SUCCESS &&
             dv_config_parse((const char *)f->value, f->value_len, c->host, c->host, &cfg, NULL,
                             0) != DV_ERR_OK)
        cfg = NULL;
    if (!cfg) {
        conn_down(e, c, DV_ERR_PROTOCOL_ERROR, 1); /* as the official core: the next host */
        return;
    }
    conn_ready(e, c, cfg);
}

static void on_ctl(dv_engine *e, conn *c, ctl k, const dv_frame *f)
{
    uint16_t st = f->status;
    bucket *b = c->b;
    switch (k.kind) {
    case CTL_HELLO:
        if (st != DV_STATUS_SUCCESS ||
            dv_hello_decode(f->value, f->value_len, &c->features) != DV_MCBP_OK)
            conn_down(e, c, DV_ERR_HANDSHAKE_FAILURE, 1);
        else if (e->cert_auth)
            send_select_and_config(e, c);
        return;
    case CTL_LIST_MECHS: /* the content is ignored, as by the official core */
        if (st != DV_STATUS_SUCCESS) conn_down(e, c, auth_error(st), 1);
        return;
    case CTL_AUTH:
    case CTL_STEP: {
        const uint8_t *out = NULL;
        size_t olen = 0;
        if (!c->sasl) return;
        if (k.kind == CTL_AUTH && st == DV_STATUS_AUTH_CONTINUE) {
            if (dv_sasl_client_step(c->sasl, f->value, f->value_len, &out, &olen) !=
                DV_SASL_CONTINUE) {
                conn_down(e, c, DV_ERR_AUTHENTICATION_FAILURE, 1);
                return;
            }
            const char *mech = dv_sasl_mech_name(sasl_mech(e));
            if (conn_send_ctl(e, c, CTL_STEP, DV_OP_SASL_STEP, mech, strlen(mech), out, olen, NULL))
                conn_down(e, c, DV_ERR_NO_MEMORY, 1);
            return;
        }
        if (st != DV_STATUS_SUCCESS) {
            conn_down(e, c, auth_error(st), 1);
            return;
        }
        /* SASL_STEP SUCCESS carries the server's signature: verify it (§13.2). */
        if (k.kind == CTL_STEP &&
            dv_sasl_client_step(c->sasl, f->value, f->value_len, &out, &olen) != DV_SASL_SUCCESS) {
            conn_down(e, c, DV_ERR_AUTHENTICATION_FAILURE, 1);
            return;
        }
        dv_sasl_client_free(c->sasl);
        c->sasl = NULL;
        send_select_and_config(e, c);
        return;
    }
    case CTL_ERRMAP:
        if (st != DV_STATUS_SUCCESS ||
            dv_errmap_parse(f->value, f->value_len, &c->errmap, NULL, 0) != DV_ERR_OK) {
            conn_down(e, c, DV_ERR_PROTOCOL_ERROR, 1);
            return;
        }
        c->has_errmap = 1;
        return;
    case CTL_SELECT:
        if (st == DV_STATUS_SUCCESS) return;
        /* KEY_ENOENT: not ready yet, start over; EACCESS (and the rest): no such bucket. */
        conn_down(e, c,
                  st == DV_STATUS_KEY_ENOENT ? DV_ERR_TEMPORARY_FAILURE : DV_ERR_BUCKET_NOT_FOUND,
                  1);
        return;
    case CTL_CONFIG: {
        if (b->cluster) {
            cluster_config(e, c, f);
            return;
        }
        /* A node of a bucket bootstrapped over HTTP need not give a config over KV. */
        int optional = b->state == B_READY && b->boot_http && b->boot != c;
        if (st == DV_STATUS_KEY_ENOENT && !optional) {
            conn_down(e, c, DV_ERR_CONFIGURATION_NOT_AVAILABLE, 1);
            return;
        }
        dv_config *cfg = NULL;
        if (st != DV_STATUS_SUCCESS ||
            dv_config_parse((const char *)f->value, f->value_len, c->host, c->host, &cfg, NULL,
                            0) != DV_ERR_OK) {
            if (optional) {
                conn_ready(e, c, NULL);
                return;
            }
            conn_down(e, c, DV_ERR_PROTOCOL_ERROR, 1);
            return;
        }
        if (cfg->vbmap.nvb == 0 && optional) {
            dv_config_free(cfg);
            conn_ready(e, c, NULL);
            return;
        }
        if (cfg->vbmap.nvb == 0) { /* not ready: start over */
            dv_config_free(cfg);
            conn_down(e, c, DV_ERR_CONFIGURATION_NOT_AVAILABLE, 1);
            return;
        }
        conn_ready(e, c, cfg);
        return;
    }
    case CTL_POLL:
        if (st == DV_STATUS_SUCCESS && f->value_len)
            bucket_take_config(e, b, c, f->value, f->value_len, 0);
        return;
    case CTL_PING:
        ping_answered(e, c, k.opaque);
        return;
    case CTL_CID: {
        coll *kk = b->colls;
        while (kk && (kk->known || kk->conn != c->id || kk->opaque != k.opaque)) kk = kk->next;
        if (!kk) return; /* given up on (asked again since) */
        if (st == DV_STATUS_SUCCESS && f->extras_len == 12) {
            kk->cid = dv_load_be32(f->extras + 8);
            kk->known = 1;
            eng_redispatch(e, b);
            return;
        }
        /* Unlink first (the waiting operations may look it up again from their callbacks). */
        for (coll **pp = &b->colls; *pp; pp = &(*pp)->next)
            if (*pp == kk) {
                *pp = kk->next;
                break;
            }
        kk->next = NULL;
        eng_cid_failed(e, b, kk, st == DV_STATUS_SUCCESS ? DV_STATUS_EINVAL : st);
        dv_free(kk->scope);
        dv_free(kk->name);
        dv_free(kk);
        return;
    }
    }
}

void conn_frame(dv_engine *e, conn *c, const dv_frame *f)
{
    if (f->magic == DV_MAGIC_SERVER_REQ) {
        /* A pushed config (§10.5): no answer is expected. */
        if (f->opcode == DV_SERVER_OP_CLUSTERMAP_CHANGE && f->value_len)
            bucket_take_config(e, c->b, c, f->value, f->value_len, 1);
        return;
    }
    if (!dv_magic_is_response(f->magic)) {
        conn_down(e, c, DV_ERR_PROTOCOL_ERROR, 1);
        return;
    }
    for (size_t i = 0; i < c->nctl; i++)
        if (c->ctls[i].opaque == f->opaque) {
            ctl k = c->ctls[i];
            ctl_remove(c, i);
            on_ctl(e, c, k, f);
            return;
        }
    /* Only operations still in flight on this connection; a late reply is dropped. */
    dv_op *op = eng_inflight(e, f->opaque);
    if (op && op->conn == c->id) eng_op_reply(e, c, op, f);
}

/* ---- the HTTP config bootstrap --------------------------------------------------------------- */

static void http_send(dv_engine *e, conn *c)
{
    dv_buf path = DV_BUF_INIT;
    int rc = dv_http_bucket_path(&path, c->b->name) || dv_buf_append_u8(&path, 0) ||
             dv_http_request(&c->out, c->host, c->port, (const char *)dv_buf_head(&path), e->user,
                             e->pass);
    dv_buf_free(&path);
    if (rc) conn_down(e, c, DV_ERR_NO_MEMORY, 1);
}

/* The response is complete: its config bootstraps the bucket, or its status says why not. */
static void http_done(dv_engine *e, conn *c, int we_close)
{
    bucket *b = c->b;
    int st = c->resp.status;
    dv_error err = DV_ERR_OK;
    dv_config *cfg = NULL;
    if (st == 401)
        err = DV_ERR_AUTHENTICATION_FAILURE;
    else if (st == 404)
        err = DV_ERR_BUCKET_NOT_FOUND;
    else if (st != 200)
        err = DV_ERR_SERVICE_NOT_AVAILABLE; /* the next host */
    else if (dv_config_parse((const char *)dv_buf_head(&c->resp.body), dv_buf_size(&c->resp.body),
                             c->host, c->host, &cfg, NULL, 0) != DV_ERR_OK)
        err = DV_ERR_DECODING_FAILURE;
    else if (cfg->vbmap.nvb == 0) /* not ready yet */
        err = DV_ERR_CONFIGURATION_NOT_AVAILABLE;
    if (err != DV_ERR_OK || b->state != B_BOOT || b->boot != c) {
        dv_config_free(cfg);
        conn_down(e, c, err, we_close); /* boot_failed: the next host */
        return;
    }
    /* Done with this connection; the config opens the KV connections (rebuild_slots). */
    b->boot = NULL;
    conn_down(e, c, DV_ERR_OK, we_close);
    b->state = B_READY;
    b->boot_retry_at = 0;
    b->poll_at = eng_now(e) + e->poll_interval_ns;
    eng_arm(e, b->poll_at);
    if (!bucket_apply(e, b, cfg, 0)) { /* an older config of a previous open is newer */
        b->state = B_BOOT;
        boot_failed(e, b, DV_ERR_PROTOCOL_ERROR);
        return;
    }
    call_waiters(b, DV_ERR_OK, "");
}

static void http_data(dv_engine *e, conn *c, const uint8_t *p, size_t n)
{
    dv_http_rc rc = dv_http_resp_feed(&c->resp, p, n);
    if (rc == DV_HTTP_DONE)
        http_done(e, c, 1);
    else if (rc == DV_HTTP_ERROR)
        conn_down(e, c, DV_ERR_DECODING_FAILURE, 1);
}

/* ---- the driver's events -------------------------------------------------------------------- */

/* An event for a connection that is not a KV one: an HTTP service request's, if any. */
static hreq *http_event(dv_engine *e, uint32_t id)
{
    hreq *h = e->hreqs ? http_by_conn(e, id) : NULL;
    if (h) eng_enter(e);
    return h;
}

/* An idle kept-alive HTTP connection: closed by the peer (forgotten), or sending bytes
 * nobody asked for (closed). 1 if id was one. */
static int idle_event(dv_engine *e, uint32_t id, int close_it)
{
    if (!e->idle || !http_idle_event(e, id)) return 0;
    if (close_it) e->h.close(e->h.ud, id);
    return 1;
}

void eng_on_connected(dv_engine *e, uint32_t id)
{
    conn *c = conn_live(e, id);
    hreq *h = c ? NULL : http_event(e, id);
    if (h) {
        http_connected(e, h);
        eng_leave(e);
        return;
    }
    if (!c || c->state != CONN_CONNECTING) return;
    eng_enter(e);
    c->state = CONN_HANDSHAKE;
    if (c->http)
        http_send(e, c);
    else
        send_hello_and_auth(e, c);
    eng_leave(e);
}

void dv_engine_local_address(dv_engine *e, uint32_t id, const char *addr)
{
    conn *c = conn_live(e, id);
    if (c && addr) snprintf(c->local, sizeof c->local, "%s", addr);
}

void eng_on_data(dv_engine *e, uint32_t id, const uint8_t *p, size_t n)
{
    conn *c = conn_live(e, id);
    hreq *h = c ? NULL : http_event(e, id);
    if (h) {
        http_on_data(e, h, p, n);
        eng_leave(e);
        return;
    }
    if (!c && idle_event(e, id, 1)) return;
    if (!c || c->state == CONN_CONNECTING) return;
    eng_enter(e);
    c->last_activity = eng_now(e);
    if (c->http) {
        http_data(e, c, p, n);
    } else if (dv_buf_append(&c->in, p, n)) {
        conn_down(e, c, DV_ERR_NO_MEMORY, 1);
    } else {
        for (;;) {
            dv_frame f;
            size_t used = 0;
            int rc = dv_frame_decode(dv_buf_head(&c->in), dv_buf_size(&c->in),
                                     DV_FRAME_DEFAULT_MAX_BODY, &f, &used);
            if (rc == DV_MCBP_NEED_MORE) break;
            if (rc != DV_MCBP_OK) {
                conn_down(e, c, DV_ERR_PROTOCOL_ERROR, 1);
                break;
            }
            conn_frame(e, c, &f);
            if (c->state == CONN_DEAD) break;
            dv_buf_consume(&c->in, used);
        }
    }
    eng_leave(e);
}

void eng_conn_tls_failed(dv_engine *e, uint32_t id, const char *why)
{
    conn *c = conn_live(e, id);
    if (c) snprintf(c->tls_why, sizeof c->tls_why, "%s", why);
}

void eng_on_closed(dv_engine *e, uint32_t id, dv_error err)
{
    conn *c = conn_live(e, id);
    hreq *h = c ? NULL : http_event(e, id);
    if (h) {
        http_on_closed(e, h, err);
        eng_leave(e);
        return;
    }
    if (!c) {
        idle_event(e, id, 0);
        return;
    }
    eng_enter(e);
    if (c->http && c->state == CONN_HANDSHAKE && err == DV_ERR_OK &&
        dv_http_resp_eof(&c->resp) == DV_HTTP_DONE) /* a body delimited by the close */
        http_done(e, c, 0);
    else
        conn_down(e, c, err != DV_ERR_OK ? err : DV_ERR_REQUEST_CANCELED, 0);
    eng_leave(e);
}

void dv_engine_flush(dv_engine *e)
{
    for (conn *c = e->conns; c; c = c->next) {
        if ((c->state != CONN_HANDSHAKE && c->state != CONN_READY) || !dv_buf_size(&c->out))
            continue;
        c->last_activity = eng_now(e);
        e->h.write(e->h.ud, c->id, dv_buf_head(&c->out), dv_buf_size(&c->out));
        dv_buf_reset(&c->out);
    }
    if (e->hreqs) http_flush(e);
}
