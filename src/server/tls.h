/* divan-server's TLS, on OpenSSL: a server context made from PEM files, and a connection that
 * turns the socket's ciphertext into request bytes and reply bytes into ciphertext through
 * memory BIOs, so that the net layer keeps its own reads and writes (one write per batch).
 *
 * Client certificates: with a CA given, the server asks for a certificate and verifies it
 * against that CA; a connection without one is accepted (Couchbase's "enable" state) unless
 * the mode is mandatory. A verified certificate names its user by the mapping rules (Couchbase's
 * clientCertAuth prefixes): for each rule in order, each value of the rule's field (subject.cn,
 * san.dnsname, san.email, san.uri) that starts with the prefix gives, without the prefix, the
 * text up to the first character of the delimiter set; the caller takes the first candidate that
 * is a known user. */
#ifndef DV_SERVER_TLS_H
#define DV_SERVER_TLS_H

#include <stddef.h>

#include "base/buf.h"

typedef struct dv_tls dv_tls;
typedef struct dv_tls_conn dv_tls_conn;

typedef enum { DV_TLS_CLIENT_ENABLE, DV_TLS_CLIENT_MANDATORY } dv_tls_client_mode;

#define DV_TLS_MAX_RULES 8

typedef struct dv_tls_rule {
    char path[16]; /* subject.cn, san.dnsname, san.email or san.uri */
    char prefix[64];
    char delimiter[16];
} dv_tls_rule;

typedef struct dv_tls_options {
    const char *cert_file; /* PEM chain, leaf first */
    const char *key_file;  /* PEM private key */
    const char *ca_file;   /* PEM CAs of client certificates; NULL: none asked for */
    dv_tls_client_mode client_mode;
    dv_tls_rule rules[DV_TLS_MAX_RULES]; /* none given: subject.cn, whole */
    int nrules;
} dv_tls_options;

/* Parse a rule "path[:prefix[:delimiter]]" (neither prefix nor delimiter holds a colon); 0,
 * or -1 with a message. */
int dv_tls_rule_parse(const char *text, dv_tls_rule *r, char *err, size_t errlen);

/* A context from the files; NULL with a message that names the file and the reason. */
dv_tls *dv_tls_new(const dv_tls_options *opt, char *err, size_t errlen);
void dv_tls_free(dv_tls *t);

dv_tls_conn *dv_tls_conn_new(dv_tls *t);
void dv_tls_conn_free(dv_tls_conn *c);

/* Ciphertext p[0..n) from the socket: the request bytes it carries are appended to plain, and
 * what TLS has to send (handshake records, tickets, alerts) to wire. Returns 1 once the
 * connection is closed by the peer's close_notify, 0 otherwise, -1 on a TLS failure (a message
 * in err; an alert for the peer may be in wire). */
int dv_tls_conn_feed(dv_tls_conn *c, const void *p, size_t n, dv_buf *plain, dv_buf *wire,
                     char *err, size_t errlen);
/* Encrypt all of plain (consumed) into wire. 0, or -1 on failure. */
int dv_tls_conn_seal(dv_tls_conn *c, dv_buf *plain, dv_buf *wire);
/* 1 once the handshake is done. */
int dv_tls_conn_ready(const dv_tls_conn *c);
/* Once ready: call fn with each user name the verified client certificate maps to, in rule
 * order, until fn returns non-zero; returns that value, 0 when none matched or there is no
 * verified certificate. */
int dv_tls_conn_peer_users(const dv_tls_conn *c, int (*fn)(void *ud, const char *name), void *ud);
/* 1 when the peer presented a certificate that verified. */
int dv_tls_conn_has_peer_cert(const dv_tls_conn *c);

#endif
