/* Helpers shared by the sasl layer's client and server; not for other layers. */
#ifndef DV_SASL_INT_H
#define DV_SASL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/base64.h"
#include "base/buf.h"
#include "sasl/sasl.h"

/* The hash of a SCRAM mechanism; -1 for PLAIN or a value out of range. */
int dv_sasl_mech_hash(dv_sasl_mech mech, dv_sasl_hash *out);

/* Crypto on OpenSSL; each returns 0, or -1 on failure. out holds dv_sasl_hash_size(h) bytes. */
int dv_sasl_hmac(dv_sasl_hash h, const uint8_t *key, size_t key_len, const void *data, size_t len,
                 uint8_t *out);
int dv_sasl_digest(dv_sasl_hash h, const void *data, size_t len, uint8_t *out);
/* SaltedPassword = PBKDF2-HMAC-H(password, salt, iterations, digest size). */
int dv_sasl_salted_password(dv_sasl_hash h, const char *pw, size_t pw_len, const uint8_t *salt,
                            size_t salt_len, uint32_t iterations, uint8_t *out);
/* From SaltedPassword: ClientKey, StoredKey = H(ClientKey), ServerKey (any may be NULL). */
int dv_sasl_scram_keys(dv_sasl_hash h, const uint8_t *salted, uint8_t *client_key,
                       uint8_t *stored_key, uint8_t *server_key);
int dv_sasl_random(uint8_t *out, size_t n);
/* n random bytes as 2n lowercase hex digits and a NUL (out holds 2n + 1). */
int dv_sasl_random_hex(char *out, size_t n);

/* 1 if s is a usable nonce: non-empty, printable ASCII 0x20..0x7e (space included, as the
 * official core sends it) except ','. */
int dv_sasl_nonce_valid(const char *s, size_t len);

/* Overwrite a buffer's memory, then free it. */
void dv_sasl_buf_wipe(dv_buf *b);

/* One comma-separated attribute of a SCRAM message. */
typedef struct dv_sasl_field {
    const char *p;
    size_t len;
} dv_sasl_field;
/* Split in[0..len) on ','; stores up to max fields and returns how many there are (which may
 * be more than max). */
size_t dv_sasl_split(const char *in, size_t len, dv_sasl_field *f, size_t max);
/* 1 if the field is "<name>=...", then *val / *val_len is what follows '='. */
int dv_sasl_attr(const dv_sasl_field *f, char name, const char **val, size_t *val_len);

#endif
