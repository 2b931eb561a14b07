/* The server's TLS connection (server/tls.c) against an OpenSSL client, in memory: handshake,
 * request and reply bytes both ways, client certificates and their user mapping, and the
 * errors of a bad set-up. The certificates are made here, valid for an hour. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "server/tls.h"

static char dir[] = "/tmp/divan-tls-XXXXXX";
static char path_ca[64], path_srv[64], path_srv_key[64], path_other_ca[64];
static X509 *ca, *other_ca;
static EVP_PKEY *ca_key, *other_key;
static long serial = 1;

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v;
    X509V3_set_ctx_nodb(&v);
    X509V3_set_ctx(&v, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v, nid, value);
    assert_non_null(e);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

/* A certificate for key named cn, signed by issuer (NULL: itself), with SANs if given. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey, const char *san)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    if (!issuer) add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
    if (san) add_ext(x, issuer ? issuer : x, NID_subject_alt_name, san);
    assert_true(X509_sign(x, ikey ? ikey : key, EVP_sha256()) > 0);
    return x;
}

static void write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (x) PEM_write_X509(f, x);
    if (k) PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir)) return -1;
    snprintf(path_ca, sizeof path_ca, "%s/ca.pem", dir);
    snprintf(path_other_ca, sizeof path_other_ca, "%s/other.pem", dir);
    snprintf(path_srv, sizeof path_srv, "%s/srv.pem", dir);
    snprintf(path_srv_key, sizeof path_srv_key, "%s/srv.key", dir);
    ca_key = EVP_EC_gen("P-256");
    other_key = EVP_EC_gen("P-256");
    ca = make_cert(ca_key, "test CA", NULL, NULL, NULL);
    other_ca = make_cert(other_key, "other CA", NULL, NULL, NULL);
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *srv = make_cert(k, "divan-server", ca, ca_key, "IP:127.0.0.1");
    write_pem(path_ca, ca, NULL);
    write_pem(path_other_ca, other_ca, NULL);
    write_pem(path_srv, srv, NULL);
    write_pem(path_srv_key, NULL, k);
    X509_free(srv);
    EVP_PKEY_free(k);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path_ca);
    unlink(path_other_ca);
    unlink(path_srv);
    unlink(path_srv_key);
    rmdir(dir);
    X509_free(ca);
    X509_free(other_ca);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    return 0;
}

/* A client and the server side, joined by memory. */
typedef struct pair {
    SSL_CTX *cctx;
    SSL *cli;
    BIO *crb, *cwb;
    dv_tls *t;
    dv_tls_conn *srv;
    dv_buf plain, wire;
    char err[256];
    int failed, closed;
} pair;

static void pair_open(pair *p, const dv_tls_options *o, X509 *cert, EVP_PKEY *key)
{
    memset(p, 0, sizeof *p);
    p->t = dv_tls_new(o, p->err, sizeof p->err);
    if (!p->t) fail_msg("dv_tls_new: %s", p->err);
    p->srv = dv_tls_conn_new(p->t);
    assert_non_null(p->srv);
    p->cctx = SSL_CTX_new(TLS_client_method());
    X509_STORE_add_cert(SSL_CTX_get_cert_store(p->cctx), ca);
    SSL_CTX_set_verify(p->cctx, SSL_VERIFY_PEER, NULL);
    if (cert) {
        SSL_CTX_use_certificate(p->cctx, cert);
        SSL_CTX_use_PrivateKey(p->cctx, key);
    }
    p->cli = SSL_new(p->cctx);
    p->crb = BIO_new(BIO_s_mem());
    p->cwb = BIO_new(BIO_s_mem());
    SSL_set_bio(p->cli, p->crb, p->cwb);
    SSL_set_connect_state(p->cli);
}

/* Move the bytes each side has for the other, a few rounds. */
static void pump(pair *p)
{
    for (int round = 0; round < 8 && !p->failed; round++) {
        SSL_do_handshake(p->cli);
        char buf[16384];
        int n;
        size_t moved = 0;
        while ((n = BIO_read(p->cwb, buf, sizeof buf)) > 0) {
            int rc = dv_tls_conn_feed(p->srv, buf, (size_t)n, &p->plain, &p->wire, p->err,
                                      sizeof p->err);
            if (rc < 0) p->failed = 1;
            if (rc == 1) p->closed = 1;
            moved += (size_t)n;
        }
        if (dv_buf_size(&p->wire)) {
            BIO_write(p->crb, dv_buf_head(&p->wire), (int)dv_buf_size(&p->wire));
            moved += dv_buf_size(&p->wire);
            dv_buf_reset(&p->wire);
        }
        if (!moved && SSL_is_init_finished(p->cli)) break;
    }
}

static void pair_close(pair *p)
{
    SSL_free(p->cli);
    SSL_CTX_free(p->cctx);
    dv_tls_conn_free(p->srv);
    dv_tls_free(p->t);
    dv_buf_free(&p->plain);
    dv_buf_free(&p->wire);
}

static dv_tls_options server_opts(const char *ca_file)
{
    dv_tls_options o = {0};
    o.cert_file = path_srv;
    o.key_file = path_srv_key;
    o.ca_file = ca_file;
    return o;
}

static void test_bytes_both_ways(void **state)
{
    (void)state;
    dv_tls_options o = server_opts(NULL);
    pair p;
    pair_open(&p, &o, NULL, NULL);
    pump(&p);
    assert_false(p.failed);
    assert_true(dv_tls_conn_ready(p.srv));
    assert_false(dv_tls_conn_has_peer_cert(p.srv));
    assert_int_equal(SSL_get_verify_result(p.cli), X509_V_OK);

    assert_int_equal(SSL_write(p.cli, "request bytes", 13), 13);
    pump(&p);
    assert_int_equal(dv_buf_size(&p.plain), 13);
    assert_memory_equal(dv_buf_head(&p.plain), "request bytes", 13);

    dv_buf reply = DV_BUF_INIT;
    static char big[100000];
    memset(big, 'r', sizeof big);
    dv_buf_append(&reply, big, sizeof big);
    assert_int_equal(dv_tls_conn_seal(p.srv, &reply, &p.wire), 0);
    assert_int_equal(dv_buf_size(&reply), 0);
    BIO_write(p.crb, dv_buf_head(&p.wire), (int)dv_buf_size(&p.wire));
    dv_buf_reset(&p.wire);
    size_t got = 0;
    char buf[16384];
    int n;
    while ((n = SSL_read(p.cli, buf, sizeof buf)) > 0) {
        for (int i = 0; i < n; i++) assert_int_equal(buf[i], 'r');
        got += (size_t)n;
    }
    assert_int_equal(got, sizeof big);
    dv_buf_free(&reply);

    SSL_shutdown(p.cli);
    pump(&p);
    assert_true(p.closed);
    pair_close(&p);
}

static int collect(void *ud, const char *name)
{
    char *out = ud;
    if (strlen(out) + strlen(name) + 2 > 128) return 0;
    strcat(out, name);
    strcat(out, ";");
    return 0; /* keep going: every candidate */
}

static int take_second(void *ud, const char *name)
{
    int *n = ud;
    (void)name;
    return ++*n == 2 ? 7 : 0;
}

static void test_client_certificate_names_users(void **state)
{
    (void)state;
    dv_tls_options o = server_opts(path_ca);
    char err[128];
    assert_int_equal(dv_tls_rule_parse("subject.cn", &o.rules[o.nrules++], err, sizeof err), 0);
    assert_int_equal(dv_tls_rule_parse("san.email::@", &o.rules[o.nrules++], err, sizeof err), 0);
    assert_int_equal(dv_tls_rule_parse("san.dnsname:db-:.", &o.rules[o.nrules++], err, sizeof err),
                     0);
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *c = make_cert(k, "alice", ca, ca_key,
                        "email:bob@example.com,DNS:db-carol.example.com,DNS:other.example.com");
    pair p;
    pair_open(&p, &o, c, k);
    pump(&p);
    assert_false(p.failed);
    assert_true(dv_tls_conn_has_peer_cert(p.srv));
    char names[128] = "";
    assert_int_equal(dv_tls_conn_peer_users(p.srv, collect, names), 0);
    assert_string_equal(names, "alice;bob;carol;");
    int seen = 0;
    assert_int_equal(dv_tls_conn_peer_users(p.srv, take_second, &seen), 7);
    assert_int_equal(seen, 2);
    pair_close(&p);
    X509_free(c);
    EVP_PKEY_free(k);
}

static void test_certificate_of_another_ca_is_refused(void **state)
{
    (void)state;
    dv_tls_options o = server_opts(path_ca);
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *c = make_cert(k, "Administrator", other_ca, other_key, NULL);
    pair p;
    pair_open(&p, &o, c, k);
    pump(&p);
    assert_true(p.failed);
    if (!strstr(p.err, "certificate")) fail_msg("error \"%s\" does not say certificate", p.err);
    pair_close(&p);
    X509_free(c);
    EVP_PKEY_free(k);
}

static void test_mandatory_needs_a_certificate(void **state)
{
    (void)state;
    dv_tls_options o = server_opts(path_ca);
    o.client_mode = DV_TLS_CLIENT_MANDATORY;
    pair p;
    pair_open(&p, &o, NULL, NULL);
    pump(&p);
    assert_true(p.failed);
    pair_close(&p);
    o.client_mode = DV_TLS_CLIENT_ENABLE; /* optional: no certificate is fine */
    pair_open(&p, &o, NULL, NULL);
    pump(&p);
    assert_false(p.failed);
    assert_true(dv_tls_conn_ready(p.srv));
    pair_close(&p);
}

static void test_bad_setup_says_which_file(void **state)
{
    (void)state;
    char err[512];
    dv_tls_options o = server_opts(NULL);
    o.key_file = path_ca; /* a certificate, not a key */
    assert_null(dv_tls_new(&o, err, sizeof err));
    if (!strstr(err, "private key") || !strstr(err, path_ca)) fail_msg("error: %s", err);
    o = server_opts(NULL);
    o.cert_file = "/nonexistent/cert.pem";
    assert_null(dv_tls_new(&o, err, sizeof err));
    if (!strstr(err, "/nonexistent/cert.pem")) fail_msg("error: %s", err);
    /* A key of another certificate. */
    o = server_opts(NULL);
    o.cert_file = path_ca;
    assert_null(dv_tls_new(&o, err, sizeof err));
    if (!strstr(err, "does not match")) fail_msg("error: %s", err);
}

static void test_rule_parse(void **state)
{
    (void)state;
    dv_tls_rule r;
    char err[256];
    assert_int_equal(dv_tls_rule_parse("san.uri:users/:/?", &r, err, sizeof err), 0);
    assert_string_equal(r.path, "san.uri");
    assert_string_equal(r.prefix, "users/");
    assert_string_equal(r.delimiter, "/?");
    assert_int_equal(dv_tls_rule_parse("subject.o", &r, err, sizeof err), -1);
    if (!strstr(err, "subject.cn")) fail_msg("error: %s", err);
    char longp[200];
    memset(longp, 'p', sizeof longp);
    memcpy(longp, "subject.cn:", 11);
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(dv_tls_rule_parse(longp, &r, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_both_ways),
        cmocka_unit_test(test_client_certificate_names_users),
        cmocka_unit_test(test_certificate_of_another_ca_is_refused),
        cmocka_unit_test(test_mandatory_needs_a_certificate),
        cmocka_unit_test(test_bad_setup_says_which_file),
        cmocka_unit_test(test_rule_parse),
    };
    if (setup(NULL) != 0) return 1;
    int rc = TU_RUN(tests);
    teardown(NULL);
    return rc;
}
