/* divan-server's TLS on OpenSSL with memory BIOs; see tls.h. */
#include "server/tls.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/alloc.h"

struct dv_tls {
    SSL_CTX *ctx;
    dv_tls_rule rules[DV_TLS_MAX_RULES];
    int nrules;
};

struct dv_tls_conn {
    dv_tls *t;
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
};

#define PLAIN_CHUNK (16 * 1024)

/* The newest OpenSSL error as text after `what`. */
static void ssl_error(char *err, size_t errlen, const char *what, const char *file)
{
    unsigned long e = ERR_peek_last_error();
    char reason[256] = "unknown error";
    if (e) ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    if (file)
        snprintf(err, errlen, "%s %s: %s", what, file, reason);
    else
        snprintf(err, errlen, "%s: %s", what, reason);
}

int dv_tls_rule_parse(const char *text, dv_tls_rule *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    const char *c1 = strchr(text, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    size_t plen = c1 ? (size_t)(c1 - text) : strlen(text);
    const char *pre = c1 ? c1 + 1 : "";
    size_t prelen = c2 ? (size_t)(c2 - pre) : strlen(pre);
    const char *del = c2 ? c2 + 1 : "";
    static const char *const paths[] = {"subject.cn", "san.dnsname", "san.email", "san.uri"};
    int known = 0;
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        if (plen == strlen(paths[i]) && !memcmp(text, paths[i], plen)) known = 1;
    if (!known) {
        snprintf(err, errlen,
                 "a certificate rule starts with subject.cn, san.dnsname, san.email or san.uri, "
                 "not \"%.*s\"",
                 (int)plen, text);
        return -1;
    }
    if (prelen >= sizeof r->prefix || strlen(del) >= sizeof r->delimiter) {
        snprintf(err, errlen, "a certificate rule's prefix or delimiter is too long");
        return -1;
    }
    memcpy(r->path, text, plen);
    memcpy(r->prefix, pre, prelen);
    memcpy(r->delimiter, del, strlen(del));
    return 0;
}

dv_tls *dv_tls_new(const dv_tls_options *opt, char *err, size_t errlen)
{
    dv_tls *t = dv_calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (!t->ctx) {
        ssl_error(err, errlen, "cannot make a TLS context", NULL);
        goto fail;
    }
    /* TLS 1.2 and 1.3, as Couchbase Server's default minimum. */
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_id_context(t->ctx, (const unsigned char *)"divan", 5);
    if (SSL_CTX_use_certificate_chain_file(t->ctx, opt->cert_file) != 1) {
        ssl_error(err, errlen, "cannot load the certificate", opt->cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx, opt->key_file, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
            ssl_error(err, errlen, "the private key does not match the certificate", opt->key_file);
        else
            ssl_error(err, errlen, "cannot load the private key", opt->key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(t->ctx) != 1) {
        ssl_error(err, errlen, "the private key does not match the certificate", opt->key_file);
        goto fail;
    }
    if (opt->ca_file) {
        if (SSL_CTX_load_verify_locations(t->ctx, opt->ca_file, NULL) != 1) {
            ssl_error(err, errlen, "cannot load the client CA", opt->ca_file);
            goto fail;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(opt->ca_file);
        if (names) SSL_CTX_set_client_CA_list(t->ctx, names);
        int mode = SSL_VERIFY_PEER;
        if (opt->client_mode == DV_TLS_CLIENT_MANDATORY) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(t->ctx, mode, NULL);
    }
    if (opt->nrules > 0) {
        t->nrules = opt->nrules > DV_TLS_MAX_RULES ? DV_TLS_MAX_RULES : opt->nrules;
        memcpy(t->rules, opt->rules, (size_t)t->nrules * sizeof *t->rules);
    } else {
        strcpy(t->rules[0].path, "subject.cn");
        t->nrules = 1;
    }
    return t;
fail:
    dv_tls_free(t);
    return NULL;
}

void dv_tls_free(dv_tls *t)
{
    if (!t) return;
    SSL_CTX_free(t->ctx);
    dv_free(t);
}

dv_tls_conn *dv_tls_conn_new(dv_tls *t)
{
    dv_tls_conn *c = dv_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->t = t;
    c->ssl = SSL_new(t->ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->rbio || !c->wbio) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        SSL_free(c->ssl);
        dv_free(c);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_accept_state(c->ssl);
    return c;
}

void dv_tls_conn_free(dv_tls_conn *c)
{
    if (!c) return;
    SSL_free(c->ssl);
    dv_free(c);
}

/* Move what TLS wrote into its memory BIO to wire. */
static int drain(dv_tls_conn *c, dv_buf *wire)
{
    size_t n;
    while ((n = BIO_ctrl_pending(c->wbio)) > 0) {
        uint8_t *p = dv_buf_reserve(wire, n);
        if (!p) return -1;
        int r = BIO_read(c->wbio, p, (int)n);
        if (r <= 0) break;
        dv_buf_commit(wire, (size_t)r);
    }
    return 0;
}

int dv_tls_conn_feed(dv_tls_conn *c, const void *p, size_t n, dv_buf *plain, dv_buf *wire,
                     char *err, size_t errlen)
{
    if (n && BIO_write(c->rbio, p, (int)n) != (int)n) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int closed = 0;
    for (;;) {
        uint8_t *dst = dv_buf_reserve(plain, PLAIN_CHUNK);
        if (!dst) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        int r = SSL_read(c->ssl, dst, PLAIN_CHUNK);
        if (r > 0) {
            dv_buf_commit(plain, (size_t)r);
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            closed = 1;
            break;
        }
        long v = SSL_get_verify_result(c->ssl);
        if (v != X509_V_OK && SSL_get0_peer_certificate(c->ssl))
            snprintf(err, errlen, "TLS handshake: the client certificate: %s",
                     X509_verify_cert_error_string(v));
        else
            ssl_error(err, errlen, SSL_is_init_finished(c->ssl) ? "TLS" : "TLS handshake", NULL);
        drain(c, wire);
        return -1;
    }
    if (drain(c, wire) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return closed;
}

int dv_tls_conn_seal(dv_tls_conn *c, dv_buf *plain, dv_buf *wire)
{
    if (!SSL_is_init_finished(c->ssl)) return 0; /* kept until the handshake is done */
    while (dv_buf_size(plain)) {
        size_t n = dv_buf_size(plain);
        if (n > (1u << 30)) n = 1u << 30;
        int r = SSL_write(c->ssl, dv_buf_head(plain), (int)n);
        if (r <= 0) {
            ERR_clear_error();
            return -1;
        }
        dv_buf_consume(plain, (size_t)r);
    }
    return drain(c, wire);
}

int dv_tls_conn_ready(const dv_tls_conn *c)
{
    return SSL_is_init_finished(c->ssl);
}

int dv_tls_conn_has_peer_cert(const dv_tls_conn *c)
{
    return SSL_get0_peer_certificate(c->ssl) && SSL_get_verify_result(c->ssl) == X509_V_OK;
}

/* One candidate: the value must start with the rule's prefix; the name is what follows, up to
 * the first delimiter character. */
static int offer(const dv_tls_rule *r, const unsigned char *v, int len,
                 int (*fn)(void *, const char *), void *ud)
{
    if (len <= 0 || memchr(v, 0, (size_t)len)) return 0;
    size_t pl = strlen(r->prefix);
    if ((size_t)len < pl || memcmp(v, r->prefix, pl)) return 0;
    char name[256];
    size_t n = (size_t)len - pl;
    if (n >= sizeof name) return 0;
    memcpy(name, v + pl, n);
    name[n] = '\0';
    name[strcspn(name, r->delimiter)] = '\0';
    return name[0] ? fn(ud, name) : 0;
}

int dv_tls_conn_peer_users(const dv_tls_conn *c, int (*fn)(void *ud, const char *name), void *ud)
{
    if (!dv_tls_conn_has_peer_cert(c)) return 0;
    X509 *cert = SSL_get0_peer_certificate(c->ssl);
    for (int i = 0; i < c->t->nrules; i++) {
        const dv_tls_rule *r = &c->t->rules[i];
        int rc = 0;
        if (!strcmp(r->path, "subject.cn")) {
            X509_NAME *subj = X509_get_subject_name(cert);
            for (int at = -1;
                 !rc && (at = X509_NAME_get_index_by_NID(subj, NID_commonName, at)) >= 0;) {
                ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, at));
                rc = offer(r, ASN1_STRING_get0_data(s), ASN1_STRING_length(s), fn, ud);
            }
        } else {
            int type = !strcmp(r->path, "san.dnsname") ? GEN_DNS
                       : !strcmp(r->path, "san.email") ? GEN_EMAIL
                                                       : GEN_URI;
            GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
            for (int k = 0; !rc && sans && k < sk_GENERAL_NAME_num(sans); k++) {
                const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, k);
                if (g->type != type) continue;
                const ASN1_IA5STRING *s = g->d.ia5;
                rc = offer(r, ASN1_STRING_get0_data(s), ASN1_STRING_length(s), fn, ud);
            }
            GENERAL_NAMES_free(sans);
        }
        if (rc) return rc;
    }
    return 0;
}
