/* The client side: PLAIN and SCRAM-SHA* (RFC 5802, GS2 header "n,,"). */
#include <string.h>

#include <openssl/crypto.h>

#include "base/alloc.h"
#include "divan/error.h"
#include "sasl/sasl_int.h"

enum client_state {
    C_SENT_FIRST, /* waiting for server-first (SCRAM) or the final answer (PLAIN) */
    C_SENT_FINAL, /* SCRAM: waiting for server-final */
    C_DONE,       /* succeeded */
    C_FAILED,
};

struct dv_sasl_client {
    dv_sasl_mech mech;
    dv_sasl_hash hash;
    enum client_state state;
    int err;
    const char *reason;
    uint32_t max_iterations;
    char *password; /* SCRAM: kept until server-first arrives, then wiped */
    size_t password_len;
    char *cnonce;
    size_t cnonce_len;
    dv_buf first; /* client-first-message; its bare part starts after "n,," */
    dv_buf out;   /* the last output */
    uint8_t server_signature[DV_SASL_MAX_DIGEST];
};

#define GS2_HEADER     "n,,"
#define GS2_HEADER_LEN 3

static dv_sasl_result client_fail(dv_sasl_client *c, int err, const char *reason)
{
    c->state = C_FAILED;
    c->err = err;
    c->reason = reason;
    dv_sasl_buf_wipe(&c->out);
    return DV_SASL_ERROR;
}

static void forget_password(dv_sasl_client *c)
{
    if (c->password) {
        OPENSSL_cleanse(c->password, c->password_len);
        dv_free(c->password);
        c->password = NULL;
        c->password_len = 0;
    }
}

void dv_sasl_client_free(dv_sasl_client *c)
{
    if (!c) return;
    forget_password(c);
    dv_free(c->cnonce);
    dv_sasl_buf_wipe(&c->first);
    dv_sasl_buf_wipe(&c->out);
    OPENSSL_cleanse(c, sizeof *c);
    dv_free(c);
}

/* saslname: ',' -> "=2C", '=' -> "=3D". */
static int append_escaped(dv_buf *b, const char *s)
{
    for (; *s; s++) {
        int rc = *s == ','   ? dv_buf_append(b, "=2C", 3)
                 : *s == '=' ? dv_buf_append(b, "=3D", 3)
                             : dv_buf_append_u8(b, (uint8_t)*s);
        if (rc) return -1;
    }
    return 0;
}

static int client_first(dv_sasl_client *c, const char *user)
{
    if (dv_buf_append(&c->first, GS2_HEADER "n=", GS2_HEADER_LEN + 2) ||
        append_escaped(&c->first, user) || dv_buf_append(&c->first, ",r=", 3) ||
        dv_buf_append(&c->first, c->cnonce, c->cnonce_len))
        return DV_ERR_NO_MEMORY;
    return DV_ERR_OK;
}

int dv_sasl_client_start(const dv_sasl_client_config *cfg, dv_sasl_client **out,
                         const uint8_t **msg, size_t *msg_len)
{
    if (out) *out = NULL;
    if (!cfg || !out || !cfg->user || !cfg->user[0] || !cfg->password ||
        (unsigned)cfg->mech >= DV_SASL_MECH_COUNT)
        return DV_ERR_INVALID_ARGUMENT;
    if (cfg->cnonce && !dv_sasl_nonce_valid(cfg->cnonce, strlen(cfg->cnonce)))
        return DV_ERR_INVALID_ARGUMENT;

    dv_sasl_client *c = dv_calloc(1, sizeof *c);
    if (!c) return DV_ERR_NO_MEMORY;
    c->mech = cfg->mech;
    c->state = C_SENT_FIRST;
    c->reason = "";
    c->max_iterations = cfg->max_iterations ? cfg->max_iterations : DV_SASL_MAX_ITERATIONS;
    int rc = DV_ERR_OK;

    if (cfg->mech == DV_SASL_PLAIN) {
        /* authzid (empty) NUL user NUL password */
        if (dv_buf_append_u8(&c->out, 0) || dv_buf_append(&c->out, cfg->user, strlen(cfg->user)) ||
            dv_buf_append_u8(&c->out, 0) ||
            dv_buf_append(&c->out, cfg->password, strlen(cfg->password)))
            rc = DV_ERR_NO_MEMORY;
    } else {
        char random_nonce[33];
        const char *nonce = cfg->cnonce;
        (void)dv_sasl_mech_hash(cfg->mech, &c->hash);
        if (!nonce) {
            if (dv_sasl_random_hex(random_nonce, 16) != 0) rc = DV_ERR_INTERNAL_SDK;
            nonce = random_nonce;
        }
        if (rc == DV_ERR_OK) {
            c->cnonce_len = strlen(nonce);
            c->password_len = strlen(cfg->password);
            c->cnonce = dv_strndup(nonce, c->cnonce_len);
            c->password = dv_strndup(cfg->password, c->password_len);
            if (!c->cnonce || !c->password) rc = DV_ERR_NO_MEMORY;
        }
        if (rc == DV_ERR_OK) rc = client_first(c, cfg->user);
        if (rc == DV_ERR_OK && dv_buf_append(&c->out, c->first.data, c->first.len))
            rc = DV_ERR_NO_MEMORY;
    }
    if (rc != DV_ERR_OK) {
        dv_sasl_client_free(c);
        return rc;
    }
    if (msg) *msg = dv_buf_head(&c->out);
    if (msg_len) *msg_len = dv_buf_size(&c->out);
    *out = c;
    return DV_ERR_OK;
}

/* Decimal 1..max, digits only. */
static int parse_iterations(const char *s, size_t len, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 10) return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v < 1 || v > max) return -1;
    *out = (uint32_t)v;
    return 0;
}

/* server-first: exactly r=<cnonce><snonce>,s=<salt>,i=<iterations>. Builds client-final. */
static dv_sasl_result on_server_first(dv_sasl_client *c, const char *in, size_t len)
{
    dv_sasl_field f[3];
    const char *nonce, *salt64, *iter;
    size_t nonce_len, salt64_len, iter_len;
    size_t nf = dv_sasl_split(in, len, f, 3);
    if (nf >= 1 && dv_sasl_attr(&f[0], 'm', &nonce, &nonce_len))
        return client_fail(c, DV_ERR_PROTOCOL_ERROR,
                           "server-first-message: unsupported mandatory extension (m=)");
    if (nf < 3) return client_fail(c, DV_ERR_PROTOCOL_ERROR, "server-first-message: truncated");
    if (nf > 3)
        return client_fail(c, DV_ERR_PROTOCOL_ERROR, "server-first-message: extra attributes");
    if (!dv_sasl_attr(&f[0], 'r', &nonce, &nonce_len) ||
        !dv_sasl_attr(&f[1], 's', &salt64, &salt64_len) ||
        !dv_sasl_attr(&f[2], 'i', &iter, &iter_len))
        return client_fail(c, DV_ERR_PROTOCOL_ERROR,
                           "server-first-message: expected r=, s= and i= in this order");
    if (!dv_sasl_nonce_valid(nonce, nonce_len))
        return client_fail(c, DV_ERR_PROTOCOL_ERROR, "server-first-message: invalid nonce");
    if (nonce_len <= c->cnonce_len || memcmp(nonce, c->cnonce, c->cnonce_len) != 0)
        return client_fail(c, DV_ERR_PROTOCOL_ERROR,
                           "server-first-message: nonce does not extend the client nonce");

    uint32_t iterations;
    if (parse_iterations(iter, iter_len, c->max_iterations, &iterations) != 0)
        return client_fail(c, DV_ERR_PROTOCOL_ERROR,
                           "server-first-message: invalid or excessive iteration count");

    size_t cap = dv_base64_decoded_max(salt64_len), salt_len = 0;
    uint8_t *salt = dv_malloc(cap);
    if (!salt) return client_fail(c, DV_ERR_NO_MEMORY, "out of memory");
    if (dv_base64_decode(salt64, salt64_len, DV_BASE64_STRICT, salt, cap, &salt_len) != 0 ||
        salt_len == 0) {
        dv_free(salt);
        return client_fail(c, DV_ERR_PROTOCOL_ERROR, "server-first-message: invalid salt");
    }

    const size_t n = dv_sasl_hash_size(c->hash);
    uint8_t salted[DV_SASL_MAX_DIGEST], client_key[DV_SASL_MAX_DIGEST];
    uint8_t stored_key[DV_SASL_MAX_DIGEST], server_key[DV_SASL_MAX_DIGEST];
    uint8_t proof[DV_SASL_MAX_DIGEST];
    dv_buf auth = DV_BUF_INIT;
    int rc = DV_ERR_INTERNAL_SDK;
    const char *reason = "crypto failure";

    if (dv_sasl_salted_password(c->hash, c->password, c->password_len, salt, salt_len, iterations,
                                salted) != 0 ||
        dv_sasl_scram_keys(c->hash, salted, client_key, stored_key, server_key) != 0)
        goto out;
    forget_password(c);

    /* client-final-message-without-proof, then AuthMessage. */
    dv_buf_reset(&c->out);
    rc = DV_ERR_NO_MEMORY;
    reason = "out of memory";
    if (dv_buf_append(&c->out, "c=biws,r=", 9) || dv_buf_append(&c->out, nonce, nonce_len))
        goto out;
    if (dv_buf_append(&auth, c->first.data + GS2_HEADER_LEN, c->first.len - GS2_HEADER_LEN) ||
        dv_buf_append_u8(&auth, ',') || dv_buf_append(&auth, in, len) ||
        dv_buf_append_u8(&auth, ',') || dv_buf_append(&auth, c->out.data, c->out.len))
        goto out;
    rc = DV_ERR_INTERNAL_SDK;
    reason = "crypto failure";
    if (dv_sasl_hmac(c->hash, stored_key, n, auth.data, auth.len, proof) != 0 ||
        dv_sasl_hmac(c->hash, server_key, n, auth.data, auth.len, c->server_signature) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) proof[i] ^= client_key[i];
    rc = DV_ERR_NO_MEMORY;
    reason = "out of memory";
    if (dv_buf_append(&c->out, ",p=", 3) || dv_base64_encode(&c->out, proof, n)) goto out;
    rc = DV_ERR_OK;
out:
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(client_key, sizeof client_key);
    OPENSSL_cleanse(stored_key, sizeof stored_key);
    OPENSSL_cleanse(server_key, sizeof server_key);
    OPENSSL_cleanse(proof, sizeof proof);
    dv_sasl_buf_wipe(&auth);
    dv_free(salt);
    if (rc != DV_ERR_OK) return client_fail(c, rc, reason);
    c->state = C_SENT_FINAL;
    return DV_SASL_CONTINUE;
}

/* server-final: exactly v=<base64 ServerSignature>, or e=<error>. */
static dv_sasl_result on_server_final(dv_sasl_client *c, const char *in, size_t len)
{
    dv_sasl_field f[1];
    const char *v;
    size_t v_len;
    size_t nf = dv_sasl_split(in, len, f, 1);
    if (dv_sasl_attr(&f[0], 'e', &v, &v_len))
        return client_fail(c, DV_ERR_AUTHENTICATION_FAILURE,
                           "server-final-message: the server reported an error (e=)");
    if (!dv_sasl_attr(&f[0], 'v', &v, &v_len))
        return client_fail(c, DV_ERR_PROTOCOL_ERROR, "server-final-message: missing v=");
    if (nf != 1)
        return client_fail(c, DV_ERR_PROTOCOL_ERROR, "server-final-message: extra attributes");
    const size_t n = dv_sasl_hash_size(c->hash);
    uint8_t sig[DV_SASL_MAX_DIGEST + 3]; /* room for a padded decode of a too-long value */
    size_t sig_len = 0;
    if (dv_base64_decoded_max(v_len) > sizeof sig ||
        dv_base64_decode(v, v_len, DV_BASE64_STRICT, sig, sizeof sig, &sig_len) != 0 ||
        sig_len != n)
        return client_fail(c, DV_ERR_PROTOCOL_ERROR,
                           "server-final-message: invalid server signature encoding");
    if (CRYPTO_memcmp(sig, c->server_signature, n) != 0)
        return client_fail(c, DV_ERR_AUTHENTICATION_FAILURE,
                           "server-final-message: server signature mismatch");
    dv_buf_reset(&c->out);
    c->state = C_DONE;
    return DV_SASL_SUCCESS;
}

dv_sasl_result dv_sasl_client_step(dv_sasl_client *c, const void *in, size_t in_len,
                                   const uint8_t **out, size_t *out_len)
{
    dv_sasl_result r;
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!c) return DV_SASL_ERROR;
    if (c->state == C_DONE || c->state == C_FAILED) {
        c->state = C_FAILED;
        c->err = DV_ERR_INVALID_ARGUMENT;
        c->reason = "the conversation is over";
        return DV_SASL_ERROR;
    }
    if (!in && in_len) return client_fail(c, DV_ERR_INVALID_ARGUMENT, "no input");
    if (!in) in = "";
    if (c->mech == DV_SASL_PLAIN) {
        /* PLAIN has no server data: the SUCCESS status is the answer. */
        dv_sasl_buf_wipe(&c->out);
        c->state = C_DONE;
        return DV_SASL_SUCCESS;
    }
    if (in_len > DV_SASL_MAX_MESSAGE)
        return client_fail(c, DV_ERR_PROTOCOL_ERROR, "server message too long");
    if (in_len && memchr(in, 0, in_len))
        return client_fail(c, DV_ERR_PROTOCOL_ERROR, "server message contains NUL");
    if (c->state == C_SENT_FIRST)
        r = on_server_first(c, in, in_len);
    else
        r = on_server_final(c, in, in_len);
    if (r == DV_SASL_CONTINUE) {
        if (out) *out = c->out.data ? dv_buf_head(&c->out) : (const uint8_t *)"";
        if (out_len) *out_len = dv_buf_size(&c->out);
    }
    return r;
}

int dv_sasl_client_error(const dv_sasl_client *c)
{
    return c ? c->err : DV_ERR_INVALID_ARGUMENT;
}

const char *dv_sasl_client_reason(const dv_sasl_client *c)
{
    return c && c->reason ? c->reason : "";
}
