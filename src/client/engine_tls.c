/* TLS for couchbases://, inside the engine and still sans-I/O: OpenSSL on memory BIOs sits
 * between the engine's connections and the driver's hooks, so that every driver (the libuv one,
 * the Python extension on asyncio and on Twisted) speaks TLS without knowing it, and a loop
 * iteration's requests still leave in one write per connection.
 *
 * Under TLS, e->h holds this file's hooks and e->outer the driver's: a connection the engine
 * asks for is a TCP connection to the driver; once the driver reports it connected, the
 * handshake runs over it, and only then does the engine hear "connected". Bytes the engine
 * writes are encrypted, bytes the driver delivers decrypted. A failed handshake closes the
 * connection and reports it closed with TLS_FAILURE, with OpenSSL's reason kept for the
 * bootstrap's report ("certificate verify failed: hostname mismatch", ...).
 *
 * Verification (tls_verify=peer, the default): the chain against the trust store
 * (trust_store_path, else the system's CAs and Capella's root CA, as the official core), and the
 * name the engine connects to against the certificate (an IP SAN for an address, a DNS SAN or
 * else the CN for a name), as the official core does since its hostname verification
 * (CXXCBC-838); SNI carries the name. With a Capella host in the connection string only TLS 1.3
 * is offered, as by the official core. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/alloc.h"
#include "base/errmsg.h"
#include "base/log.h"
#include "client/capella_ca.h"
#include "client/engine_int.h"

typedef struct link {
    struct link *next;
    uint32_t id;
    SSL *ssl;
    BIO *rb, *wb; /* owned by ssl */
    int ready;    /* handshake done, the engine told */
} link;

struct eng_tls {
    SSL_CTX *ctx;
    link *links;
    dv_buf wire; /* ciphertext on its way to the driver */
};

static void ssl_reason(char *out, size_t n, const char *what, const char *file)
{
    unsigned long code = ERR_peek_last_error();
    char r[256] = "unknown error";
    if (code) ERR_error_string_n(code, r, sizeof r);
    ERR_clear_error();
    snprintf(out, n, "%s%s%s: %s", what, file ? " " : "", file ? file : "", r);
}

static link *find(struct eng_tls *t, uint32_t id)
{
    for (link *l = t->links; l; l = l->next)
        if (l->id == id) return l;
    return NULL;
}

static void drop(struct eng_tls *t, uint32_t id)
{
    for (link **p = &t->links; *p; p = &(*p)->next)
        if ((*p)->id == id) {
            link *l = *p;
            *p = l->next;
            SSL_free(l->ssl);
            dv_free(l);
            return;
        }
}

/* Hand what TLS wrote to the driver; 0, or -1 out of memory. */
static int drain(dv_engine *e, link *l)
{
    struct eng_tls *t = e->tls;
    size_t n;
    while ((n = BIO_ctrl_pending(l->wb)) > 0) {
        uint8_t *p = dv_buf_reserve(&t->wire, n);
        if (!p) return -1;
        int r = BIO_read(l->wb, p, (int)n);
        if (r <= 0) break;
        dv_buf_commit(&t->wire, (size_t)r);
    }
    if (dv_buf_size(&t->wire)) {
        e->outer.write(e->outer.ud, l->id, dv_buf_head(&t->wire), dv_buf_size(&t->wire));
        dv_buf_reset(&t->wire);
    }
    return 0;
}

/* The handshake or the session failed: why, then closed for the driver and for the engine. */
static void fail(dv_engine *e, link *l)
{
    char why[160];
    long v = SSL_get_verify_result(l->ssl);
    if (!l->ready && v != X509_V_OK)
        snprintf(why, sizeof why, "certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
    else
        ssl_reason(why, sizeof why, l->ready ? "ended by the server" : "handshake failed", NULL);
    drain(e, l); /* the alert */
    uint32_t id = l->id;
    e->outer.close(e->outer.ud, id);
    drop(e->tls, id);
    eng_conn_tls_failed(e, id, why);
    eng_on_closed(e, id, DV_ERR_TLS_FAILURE);
}

/* ---- the hooks the engine calls ---- */

static uint64_t h_now(void *ud)
{
    dv_engine *e = ud;
    return e->outer.now(e->outer.ud);
}

static void h_timer(void *ud, uint64_t at)
{
    dv_engine *e = ud;
    e->outer.timer(e->outer.ud, at);
}

static void h_pause(void *ud, uint32_t id, int paused)
{
    dv_engine *e = ud;
    if (e->outer.pause) e->outer.pause(e->outer.ud, id, paused);
}

static int is_ip(const char *host)
{
    unsigned char a[16];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

static void h_connect(void *ud, uint32_t id, const char *host, uint16_t port)
{
    dv_engine *e = ud;
    link *l = dv_calloc(1, sizeof *l);
    SSL *ssl = l ? SSL_new(e->tls->ctx) : NULL;
    BIO *rb = ssl ? BIO_new(BIO_s_mem()) : NULL, *wb = rb ? BIO_new(BIO_s_mem()) : NULL;
    if (!wb) {
        BIO_free(rb);
        SSL_free(ssl);
        dv_free(l);
        ERR_clear_error();
        /* Connected to nothing: the connect timeout fails it, as any connection that never
         * comes up (a hook reports failure only by events, and none will come). */
        return;
    }
    SSL_set_bio(ssl, rb, wb);
    SSL_set_connect_state(ssl);
    if (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) {
        if (is_ip(host))
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
        else
            SSL_set1_host(ssl, host);
    }
    if (!is_ip(host)) SSL_set_tlsext_host_name(ssl, host);
    *l = (link){.next = e->tls->links, .id = id, .ssl = ssl, .rb = rb, .wb = wb};
    e->tls->links = l;
    e->outer.connect(e->outer.ud, id, host, port);
}

static void h_write(void *ud, uint32_t id, const uint8_t *p, size_t n)
{
    dv_engine *e = ud;
    link *l = find(e->tls, id);
    if (!l || !l->ready) return; /* the engine writes only once told "connected" */
    while (n) {
        int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
        int r = SSL_write(l->ssl, p, chunk);
        if (r <= 0) {
            ERR_clear_error();
            break;
        }
        p += r;
        n -= (size_t)r;
    }
    drain(e, l);
}

static void h_close(void *ud, uint32_t id)
{
    dv_engine *e = ud;
    drop(e->tls, id);
    e->outer.close(e->outer.ud, id);
}

/* ---- the events the driver reports ---- */

void dv_engine_connected(dv_engine *e, uint32_t id)
{
    link *l = e->tls ? find(e->tls, id) : NULL;
    if (!l) {
        eng_on_connected(e, id);
        return;
    }
    int r = SSL_do_handshake(l->ssl);
    if (r == 1 || SSL_get_error(l->ssl, r) == SSL_ERROR_WANT_READ)
        drain(e, l); /* the ClientHello */
    else
        fail(e, l);
}

void dv_engine_data(dv_engine *e, uint32_t id, const uint8_t *p, size_t n)
{
    link *l = e->tls ? find(e->tls, id) : NULL;
    if (!l) {
        eng_on_data(e, id, p, n);
        return;
    }
    if (BIO_write(l->rb, p, (int)n) != (int)n) {
        fail(e, l);
        return;
    }
    if (!l->ready) {
        int r = SSL_do_handshake(l->ssl);
        if (r != 1) {
            if (SSL_get_error(l->ssl, r) == SSL_ERROR_WANT_READ)
                drain(e, l);
            else
                fail(e, l);
            return;
        }
        l->ready = 1;
        drain(e, l);
        eng_on_connected(e, id);
    }
    uint8_t buf[16384];
    /* Each delivery may close the connection (and free its link): look it up again. */
    while ((l = find(e->tls, id)) != NULL) {
        int r = SSL_read(l->ssl, buf, sizeof buf);
        if (r > 0) {
            eng_on_data(e, id, buf, (size_t)r);
            continue;
        }
        int err = SSL_get_error(l->ssl, r);
        if (err == SSL_ERROR_WANT_READ) {
            drain(e, l); /* a key update's answer, if any */
        } else if (err != SSL_ERROR_ZERO_RETURN) {
            fail(e, l);
        }
        /* close_notify: the driver reports the close that follows */
        break;
    }
}

void dv_engine_closed(dv_engine *e, uint32_t id, dv_error err)
{
    if (e->tls) drop(e->tls, id);
    eng_on_closed(e, id, err);
}

/* ---- set-up ---- */

int eng_is_capella_host(const char *host)
{
    static const char suffix[] = "cloud.couchbase.com";
    size_t n = strlen(host), k = sizeof suffix - 1;
    if (n && host[n - 1] == '.') n--; /* one trailing dot */
    if (n < k || strncasecmp(host + n - k, suffix, k)) return 0;
    return n == k || host[n - k - 1] == '.';
}

/* Trust Capella's root CA besides the defaults. */
static void add_capella_ca(SSL_CTX *ctx)
{
    BIO *b = BIO_new_mem_buf(capella_ca_pem, (int)sizeof capella_ca_pem - 1);
    X509 *ca = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    if (ca) X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
    X509_free(ca);
    BIO_free(b);
    ERR_clear_error();
}

dv_error eng_tls_new(dv_engine *e, const dv_client_opts *o, char *err, size_t errlen)
{
    const dv_connstr_options *co = &e->cs->options;
    struct eng_tls *t = dv_calloc(1, sizeof *t);
    if (!t) return dv_errmsg(err, errlen, DV_ERR_NO_MEMORY, "out of memory");
    e->tls = t;
    char why[320];
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx) {
        ssl_reason(why, sizeof why, "cannot make a TLS context", NULL);
        return dv_errmsg(err, errlen, DV_ERR_NO_MEMORY, "%s", why);
    }
    int capella = 0;
    for (size_t i = 0; i < e->cs->nhosts; i++) capella |= eng_is_capella_host(e->cs->hosts[i].host);
    SSL_CTX_set_min_proto_version(t->ctx, co->tls_disable_v1_2 || capella ? TLS1_3_VERSION
                                                                          : TLS1_2_VERSION);
    int verify = o->tls_verify ? o->tls_verify == DV_CLIENT_TLS_VERIFY_PEER
                               : co->tls_verify == DV_TLS_VERIFY_PEER;
    const char *trust = o->trust_store_path ? o->trust_store_path : co->trust_certificate;
    if (trust) {
        if (SSL_CTX_load_verify_locations(t->ctx, trust, NULL) != 1) {
            ssl_reason(why, sizeof why, "cannot read the trust store", trust);
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "%s", why);
        }
    } else if (verify) {
        SSL_CTX_set_default_verify_paths(t->ctx);
        add_capella_ca(t->ctx);
    }
    SSL_CTX_set_verify(t->ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (o->cert_path || o->key_path) {
        if (!o->cert_path || !o->key_path)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "a client certificate needs both cert_path and key_path");
        if (SSL_CTX_use_certificate_chain_file(t->ctx, o->cert_path) != 1) {
            ssl_reason(why, sizeof why, "cannot read the client certificate", o->cert_path);
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "%s", why);
        }
        if (SSL_CTX_use_PrivateKey_file(t->ctx, o->key_path, SSL_FILETYPE_PEM) != 1) {
            ssl_reason(why, sizeof why, "cannot read the client key", o->key_path);
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "%s", why);
        }
        e->cert_auth = 1;
    }
    e->outer = e->h;
    e->h = (dv_engine_hooks){.ud = e,
                             .now = h_now,
                             .connect = h_connect,
                             .write = h_write,
                             .close = h_close,
                             .timer = h_timer,
                             .pause = h_pause};
    return DV_ERR_OK;
}

void eng_tls_free(dv_engine *e)
{
    struct eng_tls *t = e->tls;
    if (!t) return;
    while (t->links) drop(t, t->links->id);
    SSL_CTX_free(t->ctx);
    dv_buf_free(&t->wire);
    dv_free(t);
    e->tls = NULL;
}
