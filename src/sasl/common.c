/* Mechanism names, base64, the SCRAM key schedule and server credentials. */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base/alloc.h"
#include "divan/error.h"
#include "sasl/sasl_int.h"

static const char *const mech_names[DV_SASL_MECH_COUNT] = {
    [DV_SASL_PLAIN] = "PLAIN",
    [DV_SASL_SCRAM_SHA1] = "SCRAM-SHA1",
    [DV_SASL_SCRAM_SHA256] = "SCRAM-SHA256",
    [DV_SASL_SCRAM_SHA512] = "SCRAM-SHA512",
};

const char *dv_sasl_mech_name(dv_sasl_mech mech)
{
    if ((unsigned)mech >= DV_SASL_MECH_COUNT) return NULL;
    return mech_names[mech];
}

int dv_sasl_mech_parse(const char *name, size_t len, dv_sasl_mech *out)
{
    if (!name) return -1;
    for (unsigned i = 0; i < DV_SASL_MECH_COUNT; i++) {
        if (strlen(mech_names[i]) == len && memcmp(mech_names[i], name, len) == 0) {
            *out = (dv_sasl_mech)i;
            return 0;
        }
    }
    return -1;
}

const char *dv_sasl_mech_list(void)
{
    return "SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1 PLAIN";
}

int dv_sasl_mech_hash(dv_sasl_mech mech, dv_sasl_hash *out)
{
    switch (mech) {
    case DV_SASL_SCRAM_SHA1:
        *out = DV_SASL_HASH_SHA1;
        return 0;
    case DV_SASL_SCRAM_SHA256:
        *out = DV_SASL_HASH_SHA256;
        return 0;
    case DV_SASL_SCRAM_SHA512:
        *out = DV_SASL_HASH_SHA512;
        return 0;
    default:
        return -1;
    }
}

size_t dv_sasl_hash_size(dv_sasl_hash hash)
{
    switch (hash) {
    case DV_SASL_HASH_SHA1:
        return 20;
    case DV_SASL_HASH_SHA256:
        return 32;
    case DV_SASL_HASH_SHA512:
        return 64;
    default:
        return 0;
    }
}

static const EVP_MD *hash_md(dv_sasl_hash h)
{
    switch (h) {
    case DV_SASL_HASH_SHA1:
        return EVP_sha1();
    case DV_SASL_HASH_SHA256:
        return EVP_sha256();
    case DV_SASL_HASH_SHA512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

/* ---- crypto ---- */

int dv_sasl_hmac(dv_sasl_hash h, const uint8_t *key, size_t key_len, const void *data, size_t len,
                 uint8_t *out)
{
    const EVP_MD *md = hash_md(h);
    unsigned int n = 0;
    if (!md || key_len > INT_MAX) return -1;
    if (!HMAC(md, key, (int)key_len, data, len, out, &n)) return -1;
    return n == dv_sasl_hash_size(h) ? 0 : -1;
}

int dv_sasl_digest(dv_sasl_hash h, const void *data, size_t len, uint8_t *out)
{
    const EVP_MD *md = hash_md(h);
    unsigned int n = 0;
    if (!md || !EVP_Digest(data, len, out, &n, md, NULL)) return -1;
    return n == dv_sasl_hash_size(h) ? 0 : -1;
}

int dv_sasl_salted_password(dv_sasl_hash h, const char *pw, size_t pw_len, const uint8_t *salt,
                            size_t salt_len, uint32_t iterations, uint8_t *out)
{
    const EVP_MD *md = hash_md(h);
    if (!md || pw_len > INT_MAX || salt_len > INT_MAX || iterations < 1 || iterations > INT_MAX)
        return -1;
    /* OpenSSL wants a non-NULL password pointer even when it is empty. */
    if (!PKCS5_PBKDF2_HMAC(pw_len ? pw : "", (int)pw_len, salt, (int)salt_len, (int)iterations, md,
                           (int)dv_sasl_hash_size(h), out))
        return -1;
    return 0;
}

int dv_sasl_scram_keys(dv_sasl_hash h, const uint8_t *salted, uint8_t *client_key,
                       uint8_t *stored_key, uint8_t *server_key)
{
    size_t n = dv_sasl_hash_size(h);
    uint8_t ck[DV_SASL_MAX_DIGEST];
    int rc = -1;
    if (!n) return -1;
    if (dv_sasl_hmac(h, salted, n, "Client Key", 10, ck) != 0) goto out;
    if (stored_key && dv_sasl_digest(h, ck, n, stored_key) != 0) goto out;
    if (server_key && dv_sasl_hmac(h, salted, n, "Server Key", 10, server_key) != 0) goto out;
    if (client_key) memcpy(client_key, ck, n);
    rc = 0;
out:
    OPENSSL_cleanse(ck, sizeof ck);
    return rc;
}

int dv_sasl_random(uint8_t *out, size_t n)
{
    if (n > INT_MAX) return -1;
    return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
}

int dv_sasl_random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[64];
    if (n > sizeof raw || dv_sasl_random(raw, n) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * n] = 0;
    return 0;
}

int dv_sasl_nonce_valid(const char *s, size_t len)
{
    if (!len) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || c == ',') return 0;
    }
    return 1;
}

void dv_sasl_buf_wipe(dv_buf *b)
{
    if (b->data) OPENSSL_cleanse(b->data, b->cap);
    dv_buf_free(b);
}

size_t dv_sasl_split(const char *in, size_t len, dv_sasl_field *f, size_t max)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && in[i] != ',') continue;
        if (n < max) {
            f[n].p = in + start;
            f[n].len = i - start;
        }
        n++;
        start = i + 1;
    }
    return n;
}

int dv_sasl_attr(const dv_sasl_field *f, char name, const char **val, size_t *val_len)
{
    if (f->len < 2 || f->p[0] != name || f->p[1] != '=') return 0;
    *val = f->p + 2;
    *val_len = f->len - 2;
    return 1;
}

/* ---- credentials ---- */

int dv_sasl_creds_derive(dv_sasl_creds *out, const char *password, size_t password_len,
                         const uint8_t *salt, size_t salt_len, uint32_t iterations)
{
    if (!out || (!password && password_len)) return DV_ERR_INVALID_ARGUMENT;
    if (iterations == 0) iterations = DV_SASL_MIN_ITERATIONS;
    if (iterations < DV_SASL_MIN_ITERATIONS || iterations > INT_MAX || password_len > INT_MAX)
        return DV_ERR_INVALID_ARGUMENT;
    if (salt && (salt_len < 1 || salt_len > DV_SASL_MAX_SALT)) return DV_ERR_INVALID_ARGUMENT;

    dv_sasl_creds c;
    uint8_t salted[DV_SASL_MAX_DIGEST];
    int rc = DV_ERR_OK;
    memset(&c, 0, sizeof c);
    for (int h = 0; h < DV_SASL_HASH_COUNT && rc == DV_ERR_OK; h++) {
        dv_sasl_scram_secret *s = &c.scram[h];
        if (salt) {
            memcpy(s->salt, salt, salt_len);
            s->salt_len = salt_len;
        } else if (dv_sasl_random(s->salt, DV_SASL_SALT_LEN) == 0) {
            s->salt_len = DV_SASL_SALT_LEN;
        } else {
            rc = DV_ERR_INTERNAL_SDK;
            break;
        }
        s->iterations = iterations;
        if (dv_sasl_salted_password((dv_sasl_hash)h, password, password_len, s->salt, s->salt_len,
                                    iterations, salted) != 0 ||
            dv_sasl_scram_keys((dv_sasl_hash)h, salted, NULL, s->stored_key, s->server_key) != 0)
            rc = DV_ERR_INTERNAL_SDK;
    }
    OPENSSL_cleanse(salted, sizeof salted);
    if (rc == DV_ERR_OK) *out = c;
    OPENSSL_cleanse(&c, sizeof c);
    return rc;
}

int dv_sasl_creds_check_password(const dv_sasl_creds *creds, const char *password,
                                 size_t password_len)
{
    const dv_sasl_scram_secret *s = &creds->scram[DV_SASL_HASH_SHA512];
    const size_t n = dv_sasl_hash_size(DV_SASL_HASH_SHA512);
    uint8_t salted[DV_SASL_MAX_DIGEST], stored[DV_SASL_MAX_DIGEST];
    int rc = DV_ERR_INTERNAL_SDK;
    if (!password && password_len) return DV_ERR_INVALID_ARGUMENT;
    if (s->salt_len < 1 || s->salt_len > DV_SASL_MAX_SALT) return DV_ERR_INTERNAL_SDK;
    if (dv_sasl_salted_password(DV_SASL_HASH_SHA512, password, password_len, s->salt, s->salt_len,
                                s->iterations, salted) == 0 &&
        dv_sasl_scram_keys(DV_SASL_HASH_SHA512, salted, NULL, stored, NULL) == 0)
        rc = CRYPTO_memcmp(stored, s->stored_key, n) == 0 ? DV_ERR_OK
                                                          : DV_ERR_AUTHENTICATION_FAILURE;
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(stored, sizeof stored);
    return rc;
}
