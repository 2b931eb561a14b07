/* The server side: PLAIN and SCRAM-SHA* (RFC 5802 without channel binding), checked the way
 * kv_engine checks them (kv-protocol.md §5.3).
 *
 * Unknown users: SCRAM answers a normal-looking server-first (fake salt, see
 * dv_sasl_server_config) and fails only when the proof arrives, exactly like a wrong password,
 * after the same amount of work; PLAIN runs the same PBKDF2 as for a real user. */
#include <string.h>

#include <openssl/crypto.h>

#include "base/alloc.h"
#include "divan/error.h"
#include "sasl/sasl_int.h"

enum server_state {
    S_START,      /* waiting for the SASL_AUTH value */
    S_SENT_FIRST, /* SCRAM: server-first sent, waiting for client-final */
    S_DONE,       /* authenticated */
    S_FAILED,
};

struct dv_sasl_server {
    dv_sasl_mech mech;
    dv_sasl_hash hash;
    dv_sasl_server_config cfg;
    enum server_state state;
    int err;
    const char *reason;
    char *user; /* unescaped, NUL-terminated */
    size_t user_len;
    int user_known;
    dv_sasl_scram_secret secret; /* the user's, or a fake one */
    dv_buf gs2;                  /* the client's GS2 header, e.g. "n,," */
    dv_buf nonce;                /* cnonce + snonce */
    dv_buf auth;                 /* AuthMessage, built as messages arrive */
    dv_buf out;
};

#define SNONCE_RANDOM_BYTES 16

static dv_sasl_result server_fail(dv_sasl_server *s, int err, const char *reason)
{
    s->state = S_FAILED;
    s->err = err;
    s->reason = reason;
    dv_buf_reset(&s->out);
    return DV_SASL_ERROR;
}

static dv_sasl_result bad_message(dv_sasl_server *s, const char *reason)
{
    return server_fail(s, DV_ERR_PROTOCOL_ERROR, reason);
}

dv_sasl_server *dv_sasl_server_new(dv_sasl_mech mech, const dv_sasl_server_config *cfg)
{
    if (!cfg || !cfg->lookup || (unsigned)mech >= DV_SASL_MECH_COUNT) return NULL;
    if (cfg->snonce && !dv_sasl_nonce_valid(cfg->snonce, strlen(cfg->snonce))) return NULL;
    dv_sasl_server *s = dv_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->mech = mech;
    (void)dv_sasl_mech_hash(mech, &s->hash);
    s->cfg = *cfg;
    if (!s->cfg.fake_iterations) s->cfg.fake_iterations = DV_SASL_MIN_ITERATIONS;
    s->state = S_START;
    s->reason = "";
    return s;
}

void dv_sasl_server_free(dv_sasl_server *s)
{
    if (!s) return;
    if (s->user) {
        OPENSSL_cleanse(s->user, s->user_len);
        dv_free(s->user);
    }
    dv_sasl_buf_wipe(&s->gs2);
    dv_sasl_buf_wipe(&s->nonce);
    dv_sasl_buf_wipe(&s->auth);
    dv_sasl_buf_wipe(&s->out);
    OPENSSL_cleanse(s, sizeof *s);
    dv_free(s);
}

const char *dv_sasl_server_user(const dv_sasl_server *s)
{
    return s && s->state == S_DONE ? s->user : NULL;
}

int dv_sasl_server_error(const dv_sasl_server *s)
{
    return s ? s->err : DV_ERR_INVALID_ARGUMENT;
}

const char *dv_sasl_server_reason(const dv_sasl_server *s)
{
    return s && s->reason ? s->reason : "";
}

/* Undo saslname escaping (=2C -> ',', =3D -> '='); a bare '=' or ',' is an error. Returns a
 * new NUL-terminated string or NULL (*err says why). */
static char *unescape_name(const char *p, size_t len, size_t *out_len, int *err)
{
    char *u = dv_malloc(len + 1);
    size_t o = 0;
    *err = DV_ERR_NO_MEMORY;
    if (!u) return NULL;
    *err = DV_ERR_PROTOCOL_ERROR;
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '=') {
            u[o++] = p[i];
        } else if (len - i >= 3 && p[i + 1] == '2' && p[i + 2] == 'C') {
            u[o++] = ',';
            i += 2;
        } else if (len - i >= 3 && p[i + 1] == '3' && p[i + 2] == 'D') {
            u[o++] = '=';
            i += 2;
        } else {
            dv_free(u);
            return NULL;
        }
    }
    if (o == 0) {
        dv_free(u);
        return NULL;
    }
    u[o] = 0;
    *out_len = o;
    return u;
}

/* A stand-in secret for an unknown user (see dv_sasl_server_config). Its keys are random:
 * they are never used to succeed. */
static int fake_secret(dv_sasl_server *s, dv_sasl_scram_secret *out)
{
    memset(out, 0, sizeof *out);
    out->iterations = s->cfg.fake_iterations;
    out->salt_len = DV_SASL_SALT_LEN;
    if (s->cfg.fake_salt_key && s->cfg.fake_salt_key_len) {
        uint8_t mac[DV_SASL_MAX_DIGEST];
        dv_buf msg = DV_BUF_INIT;
        const char *name = dv_sasl_mech_name(s->mech);
        int rc = -1;
        if (dv_buf_append(&msg, name, strlen(name)) == 0 && dv_buf_append_u8(&msg, 0) == 0 &&
            dv_buf_append(&msg, s->user, s->user_len) == 0)
            rc = dv_sasl_hmac(DV_SASL_HASH_SHA256, s->cfg.fake_salt_key, s->cfg.fake_salt_key_len,
                              msg.data, msg.len, mac);
        dv_buf_free(&msg);
        if (rc != 0) return -1;
        memcpy(out->salt, mac, DV_SASL_SALT_LEN);
    } else if (dv_sasl_random(out->salt, DV_SASL_SALT_LEN) != 0) {
        return -1;
    }
    if (dv_sasl_random(out->stored_key, sizeof out->stored_key) != 0 ||
        dv_sasl_random(out->server_key, sizeof out->server_key) != 0)
        return -1;
    return 0;
}

/* Ask the caller for the user's credentials; fills s->secret (real or fake). */
static int lookup_user(dv_sasl_server *s, dv_sasl_hash hash)
{
    dv_sasl_creds creds;
    memset(&creds, 0, sizeof creds);
    s->user_known = s->cfg.lookup(s->cfg.lookup_ud, s->user, s->user_len, &creds) == 1;
    if (s->user_known) s->secret = creds.scram[hash];
    OPENSSL_cleanse(&creds, sizeof creds);
    if (!s->user_known) return fake_secret(s, &s->secret);
    if (s->secret.salt_len < 1 || s->secret.salt_len > DV_SASL_MAX_SALT || s->secret.iterations < 1)
        return -1;
    return 0;
}

/* ---- PLAIN: authzid NUL user NUL password ---- */

static dv_sasl_result plain_step(dv_sasl_server *s, const char *in, size_t len)
{
    const char *nul1 = memchr(in, 0, len);
    if (!nul1) return bad_message(s, "PLAIN: expected authzid NUL user NUL password");
    const char *user = nul1 + 1;
    const char *nul2 = memchr(user, 0, len - (size_t)(user - in));
    if (!nul2) return bad_message(s, "PLAIN: expected authzid NUL user NUL password");
    const char *pw = nul2 + 1;
    size_t authz_len = (size_t)(nul1 - in), user_len = (size_t)(nul2 - user);
    size_t pw_len = len - (size_t)(pw - in);
    if (memchr(pw, 0, pw_len)) return bad_message(s, "PLAIN: NUL in the password");
    if (user_len == 0) return bad_message(s, "PLAIN: empty user name");
    if (authz_len && (authz_len != user_len || memcmp(in, user, user_len) != 0))
        return bad_message(s, "PLAIN: authorization identity differs from the user");

    s->user = dv_strndup(user, user_len);
    if (!s->user) return server_fail(s, DV_ERR_NO_MEMORY, "out of memory");
    s->user_len = user_len;
    if (lookup_user(s, DV_SASL_HASH_SHA512) != 0)
        return server_fail(s, DV_ERR_INTERNAL_SDK, "invalid credentials record or crypto failure");
    dv_sasl_creds creds;
    memset(&creds, 0, sizeof creds);
    creds.scram[DV_SASL_HASH_SHA512] = s->secret;
    int rc = dv_sasl_creds_check_password(&creds, pw, pw_len);
    OPENSSL_cleanse(&creds, sizeof creds);
    if (rc != DV_ERR_OK && rc != DV_ERR_AUTHENTICATION_FAILURE)
        return server_fail(s, rc, "crypto failure");
    if (!s->user_known) return server_fail(s, DV_ERR_AUTHENTICATION_FAILURE, "unknown user");
    if (rc != DV_ERR_OK) return server_fail(s, DV_ERR_AUTHENTICATION_FAILURE, "wrong password");
    s->state = S_DONE;
    return DV_SASL_SUCCESS;
}

/* ---- SCRAM ---- */

/* client-first: n,[a=<authzid>],n=<user>,r=<cnonce>; answers server-first. */
static dv_sasl_result scram_first(dv_sasl_server *s, const char *in, size_t len)
{
    dv_sasl_field f[4];
    const char *v, *az_p = NULL, *name, *cnonce;
    size_t v_len, az_plen = 0, name_len, cnonce_len;
    size_t nf = dv_sasl_split(in, len, f, 4);

    if (f[0].len == 1 && f[0].p[0] == 'y')
        return bad_message(s, "client-first-message: channel binding flag 'y' not supported");
    if (dv_sasl_attr(&f[0], 'p', &v, &v_len))
        return bad_message(s, "client-first-message: channel binding not supported");
    if (f[0].len != 1 || f[0].p[0] != 'n' || nf < 2)
        return bad_message(s, "client-first-message: must start with the GS2 header \"n,\"");
    if (f[1].len && !dv_sasl_attr(&f[1], 'a', &az_p, &az_plen))
        return bad_message(s, "client-first-message: invalid authorization identity");
    if (nf >= 3 && dv_sasl_attr(&f[2], 'm', &v, &v_len))
        return bad_message(s, "client-first-message: unsupported mandatory extension (m=)");
    if (nf < 4) return bad_message(s, "client-first-message: truncated, need n= and r=");
    if (!dv_sasl_attr(&f[2], 'n', &name, &name_len))
        return bad_message(s, "client-first-message: expected n=<user>");
    if (!dv_sasl_attr(&f[3], 'r', &cnonce, &cnonce_len))
        return bad_message(s, "client-first-message: expected r=<nonce> after n=");
    if (nf > 4) return bad_message(s, "client-first-message: only n= and r= are allowed");
    if (!dv_sasl_nonce_valid(cnonce, cnonce_len))
        return bad_message(s, "client-first-message: invalid nonce");

    int err;
    s->user = unescape_name(name, name_len, &s->user_len, &err);
    if (!s->user)
        return server_fail(s, err,
                           err == DV_ERR_NO_MEMORY
                               ? "out of memory"
                               : "client-first-message: invalid user name (empty or bad escape)");
    if (f[1].len) {
        size_t az_len;
        char *az = unescape_name(az_p, az_plen, &az_len, &err);
        int same = az && az_len == s->user_len && memcmp(az, s->user, az_len) == 0;
        dv_free(az);
        if (!az && err == DV_ERR_NO_MEMORY) return server_fail(s, err, "out of memory");
        if (!same)
            return bad_message(s, "client-first-message: authorization identity differs from user");
    }

    if (lookup_user(s, s->hash) != 0)
        return server_fail(s, DV_ERR_INTERNAL_SDK, "invalid credentials record or crypto failure");

    char random_nonce[2 * SNONCE_RANDOM_BYTES + 1];
    const char *snonce = s->cfg.snonce;
    if (!snonce) {
        if (dv_sasl_random_hex(random_nonce, SNONCE_RANDOM_BYTES) != 0)
            return server_fail(s, DV_ERR_INTERNAL_SDK, "random generator failure");
        snonce = random_nonce;
    }
    const char *bare = f[2].p;
    size_t bare_len = len - (size_t)(bare - in);
    dv_buf *o = &s->out;
    if (dv_buf_append(&s->gs2, in, (size_t)(bare - in)) ||
        dv_buf_append(&s->nonce, cnonce, cnonce_len) ||
        dv_buf_append(&s->nonce, snonce, strlen(snonce)) || dv_buf_append(o, "r=", 2) ||
        dv_buf_append(o, s->nonce.data, s->nonce.len) || dv_buf_append(o, ",s=", 3) ||
        dv_base64_encode(o, s->secret.salt, s->secret.salt_len) ||
        dv_buf_printf(o, ",i=%u", (unsigned)s->secret.iterations) ||
        dv_buf_append(&s->auth, bare, bare_len) || dv_buf_append_u8(&s->auth, ',') ||
        dv_buf_append(&s->auth, o->data, o->len))
        return server_fail(s, DV_ERR_NO_MEMORY, "out of memory");
    s->state = S_SENT_FIRST;
    return DV_SASL_CONTINUE;
}

/* client-final: c=<base64 GS2 header>,r=<cnonce+snonce>,p=<base64 proof>; answers v=. */
static dv_sasl_result scram_final(dv_sasl_server *s, const char *in, size_t len)
{
    dv_sasl_field f[3];
    const char *cb, *nonce, *proof64;
    size_t cb_len, nonce_len, proof64_len;
    size_t nf = dv_sasl_split(in, len, f, 3);
    if (nf < 3) return bad_message(s, "client-final-message: truncated, need c=, r= and p=");
    if (nf > 3) return bad_message(s, "client-final-message: only c=, r= and p= are allowed");
    if (!dv_sasl_attr(&f[0], 'c', &cb, &cb_len) || !dv_sasl_attr(&f[1], 'r', &nonce, &nonce_len) ||
        !dv_sasl_attr(&f[2], 'p', &proof64, &proof64_len))
        return bad_message(s, "client-final-message: expected c=, r= and p= in this order");

    /* c= must be the base64 of the GS2 header of client-first ("biws" for "n,,"). */
    uint8_t gs2[3 * (DV_SASL_MAX_MESSAGE / 4)];
    size_t gs2_len = 0;
    if (dv_base64_decoded_max(cb_len) > sizeof gs2 ||
        dv_base64_decode(cb, cb_len, DV_BASE64_STRICT, gs2, sizeof gs2, &gs2_len) != 0)
        return bad_message(s, "client-final-message: invalid base64 in c=");
    if (gs2_len != s->gs2.len || memcmp(gs2, s->gs2.data, gs2_len) != 0)
        return bad_message(s, "client-final-message: c= does not match the GS2 header");
    if (nonce_len != s->nonce.len || memcmp(nonce, s->nonce.data, nonce_len) != 0)
        return bad_message(s, "client-final-message: nonce mismatch");

    const size_t n = dv_sasl_hash_size(s->hash);
    uint8_t proof[DV_SASL_MAX_DIGEST + 3];
    size_t proof_len = 0;
    if (dv_base64_decoded_max(proof64_len) > sizeof proof ||
        dv_base64_decode(proof64, proof64_len, DV_BASE64_STRICT, proof, sizeof proof, &proof_len) !=
            0 ||
        proof_len != n)
        return bad_message(s, "client-final-message: invalid proof encoding or length");

    /* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
    size_t without_proof = (size_t)(f[2].p - 1 - in);
    if (dv_buf_append_u8(&s->auth, ',') || dv_buf_append(&s->auth, in, without_proof))
        return server_fail(s, DV_ERR_NO_MEMORY, "out of memory");

    uint8_t sig[DV_SASL_MAX_DIGEST], key[DV_SASL_MAX_DIGEST];
    int ok = 0, crypto_ok = 0;
    if (dv_sasl_hmac(s->hash, s->secret.stored_key, n, s->auth.data, s->auth.len, sig) == 0) {
        for (size_t i = 0; i < n; i++) key[i] = proof[i] ^ sig[i]; /* the ClientKey */
        if (dv_sasl_digest(s->hash, key, n, sig) == 0) {
            crypto_ok = 1;
            ok = CRYPTO_memcmp(sig, s->secret.stored_key, n) == 0;
        }
    }
    OPENSSL_cleanse(key, sizeof key);
    if (!crypto_ok) return server_fail(s, DV_ERR_INTERNAL_SDK, "crypto failure");
    if (!s->user_known) return server_fail(s, DV_ERR_AUTHENTICATION_FAILURE, "unknown user");
    if (!ok) return server_fail(s, DV_ERR_AUTHENTICATION_FAILURE, "wrong password");

    if (dv_sasl_hmac(s->hash, s->secret.server_key, n, s->auth.data, s->auth.len, sig) != 0)
        return server_fail(s, DV_ERR_INTERNAL_SDK, "crypto failure");
    dv_buf_reset(&s->out);
    if (dv_buf_append(&s->out, "v=", 2) || dv_base64_encode(&s->out, sig, n))
        return server_fail(s, DV_ERR_NO_MEMORY, "out of memory");
    s->state = S_DONE;
    return DV_SASL_SUCCESS;
}

dv_sasl_result dv_sasl_server_step(dv_sasl_server *s, const void *in, size_t in_len,
                                   const uint8_t **out, size_t *out_len)
{
    dv_sasl_result r;
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!s) return DV_SASL_ERROR;
    if (s->state == S_DONE || s->state == S_FAILED) {
        s->state = S_FAILED;
        s->err = DV_ERR_INVALID_ARGUMENT;
        s->reason = "the conversation is over";
        dv_buf_reset(&s->out);
        return DV_SASL_ERROR;
    }
    if (!in && in_len) return server_fail(s, DV_ERR_INVALID_ARGUMENT, "no input");
    if (!in) in = "";
    if (in_len > DV_SASL_MAX_MESSAGE) return bad_message(s, "client message too long");
    if (s->mech == DV_SASL_PLAIN) {
        r = plain_step(s, in, in_len);
    } else if (memchr(in, 0, in_len)) {
        r = bad_message(s, "client message contains NUL");
    } else if (s->state == S_START) {
        r = scram_first(s, in, in_len);
    } else {
        r = scram_final(s, in, in_len);
    }
    if (r != DV_SASL_ERROR) {
        if (out) *out = s->out.data ? dv_buf_head(&s->out) : (const uint8_t *)"";
        if (out_len) *out_len = dv_buf_size(&s->out);
    }
    return r;
}
