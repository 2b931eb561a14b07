/* SASL on the KV connection (kv-protocol.md §5): PLAIN and SCRAM-SHA1/SHA256/SHA512 (RFC 5802
 * without channel binding), as sans-I/O conversations for both sides.
 *
 * A conversation turns message values into message values; the caller carries them in
 * SASL_AUTH / SASL_STEP requests (client) or maps the result to a status (server):
 *
 *   server result      status to send       value to send
 *   DV_SASL_SUCCESS    SUCCESS 0x00         the output (server-final `v=...`; empty for PLAIN)
 *   DV_SASL_CONTINUE   AUTH_CONTINUE 0x21   the output (server-first)
 *   DV_SASL_ERROR      AUTH_ERROR 0x20      nothing (ENOMEM 0x82 if the error is DV_ERR_NO_MEMORY)
 *
 * Client: send SASL_AUTH(mech name, first message); on AUTH_CONTINUE feed the value to
 * dv_sasl_client_step, which must return DV_SASL_CONTINUE, and send its output as SASL_STEP;
 * on SUCCESS feed the value to dv_sasl_client_step, which must return DV_SASL_SUCCESS (for SCRAM
 * it verifies the server signature; for PLAIN any value is accepted). Any other combination is
 * an authentication failure.
 *
 * Outputs are borrowed: valid until the next step or free of the same conversation. Reasons are
 * static strings for logs; a server must not send them to the client (they tell unknown users
 * from wrong passwords). Passwords are used as given (bytes, normally UTF-8): no SASLprep. */
#ifndef DV_SASL_SASL_H
#define DV_SASL_SASL_H

#include <stddef.h>
#include <stdint.h>

typedef enum dv_sasl_mech {
    DV_SASL_PLAIN = 0,
    DV_SASL_SCRAM_SHA1 = 1,
    DV_SASL_SCRAM_SHA256 = 2,
    DV_SASL_SCRAM_SHA512 = 3,
} dv_sasl_mech;
#define DV_SASL_MECH_COUNT 4

/* "PLAIN", "SCRAM-SHA1", "SCRAM-SHA256", "SCRAM-SHA512"; NULL for a value out of range. */
const char *dv_sasl_mech_name(dv_sasl_mech mech);
/* Exact, case-sensitive match of one of the four names (e.g. a SASL_AUTH key); 0 and *out set,
 * or -1. */
int dv_sasl_mech_parse(const char *name, size_t len, dv_sasl_mech *out);
/* The SASL_LIST_MECHS value: "SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1 PLAIN". */
const char *dv_sasl_mech_list(void);

typedef enum dv_sasl_result {
    DV_SASL_SUCCESS = 0,  /* done: authenticated (server) or server verified (client) */
    DV_SASL_CONTINUE = 1, /* send the output and expect another message */
    DV_SASL_ERROR = 2,    /* failed for good; see *_error() and *_reason() */
} dv_sasl_result;

/* ---- Server-side credentials ---------------------------------------------------------------
 * What a server keeps per user: for each SCRAM hash only (salt, iterations, StoredKey,
 * ServerKey), never the password. PLAIN is verified by re-deriving the SHA-512 StoredKey. */

typedef enum dv_sasl_hash {
    DV_SASL_HASH_SHA1 = 0,
    DV_SASL_HASH_SHA256 = 1,
    DV_SASL_HASH_SHA512 = 2,
} dv_sasl_hash;
#define DV_SASL_HASH_COUNT     3
#define DV_SASL_MIN_ITERATIONS 4096 /* RFC 5802 minimum; dv_sasl_creds_derive refuses fewer */
#define DV_SASL_SALT_LEN       16   /* length of random salts */
#define DV_SASL_MAX_SALT       64
#define DV_SASL_MAX_DIGEST     64
#define DV_SASL_MAX_MESSAGE    8192    /* longer incoming messages are refused */
#define DV_SASL_MAX_ITERATIONS 1000000 /* default client limit on a server's iteration count */

typedef struct dv_sasl_scram_secret {
    uint8_t salt[DV_SASL_MAX_SALT];
    size_t salt_len; /* 1..DV_SASL_MAX_SALT */
    uint32_t iterations;
    uint8_t stored_key[DV_SASL_MAX_DIGEST]; /* H(HMAC(SaltedPassword, "Client Key")) */
    uint8_t server_key[DV_SASL_MAX_DIGEST]; /* HMAC(SaltedPassword, "Server Key") */
} dv_sasl_scram_secret;                     /* keys use the hash's digest size (20/32/64) */

typedef struct dv_sasl_creds {
    dv_sasl_scram_secret scram[DV_SASL_HASH_COUNT]; /* indexed by dv_sasl_hash */
} dv_sasl_creds;

/* Digest size of a hash: 20, 32, 64 (0 if out of range). */
size_t dv_sasl_hash_size(dv_sasl_hash hash);

/* Derive a user's credentials from the password at user creation. salt == NULL: a fresh
 * random DV_SASL_SALT_LEN-byte salt per hash; otherwise this salt (1..DV_SASL_MAX_SALT bytes)
 * for all three (tests). iterations: 0 means DV_SASL_MIN_ITERATIONS; fewer than that, or more
 * than INT_MAX, is DV_ERR_INVALID_ARGUMENT. Returns DV_ERR_OK or a dv_error. */
int dv_sasl_creds_derive(dv_sasl_creds *out, const char *password, size_t password_len,
                         const uint8_t *salt, size_t salt_len, uint32_t iterations);

/* Check a cleartext password (PLAIN, HTTP basic auth) against credentials: DV_ERR_OK if it
 * matches, DV_ERR_AUTHENTICATION_FAILURE if not, another dv_error on a crypto failure.
 * Costs one PBKDF2-HMAC-SHA512 with the stored iteration count. */
int dv_sasl_creds_check_password(const dv_sasl_creds *creds, const char *password,
                                 size_t password_len);

/* ---- Server conversation ------------------------------------------------------------------ */

/* Look a user up: fill *out and return 1, or return 0 if there is no such user. user is the
 * unescaped name, NUL-terminated (it never contains NUL). Called at most once per
 * conversation, from within dv_sasl_server_step. */
typedef int (*dv_sasl_lookup_fn)(void *ud, const char *user, size_t user_len, dv_sasl_creds *out);

typedef struct dv_sasl_server_config {
    dv_sasl_lookup_fn lookup; /* required */
    void *lookup_ud;
    /* Unknown users are not revealed before the final step: they get a server-first with a
     * fake salt and fail when the proof arrives, like a wrong password. With a secret key the
     * fake salt is HMAC-SHA256(key, mechanism NUL user) truncated to DV_SASL_SALT_LEN, so it is
     * stable across attempts like a real user's; without one (NULL) it is random per attempt,
     * which a prober asking twice can tell apart. Borrowed for the conversation's life. */
    const uint8_t *fake_salt_key;
    size_t fake_salt_key_len;
    uint32_t fake_iterations; /* iteration count shown for unknown users; 0: 4096 */
    /* Tests: fixed server nonce (printable ASCII except ','); NULL: 32 random hex digits. */
    const char *snonce;
} dv_sasl_server_config;

typedef struct dv_sasl_server dv_sasl_server;

/* A new conversation for one SASL_AUTH; the config is copied (its pointers are borrowed).
 * NULL on allocation failure or an invalid mechanism or config. */
dv_sasl_server *dv_sasl_server_new(dv_sasl_mech mech, const dv_sasl_server_config *cfg);
/* Feed the next client message: the SASL_AUTH value first, then SASL_STEP values. *out and
 * *out_len (both may be NULL) receive the value to answer with. After DV_SASL_SUCCESS or
 * DV_SASL_ERROR every further step is DV_SASL_ERROR. */
dv_sasl_result dv_sasl_server_step(dv_sasl_server *s, const void *in, size_t in_len,
                                   const uint8_t **out, size_t *out_len);
/* The authenticated user name after DV_SASL_SUCCESS, NULL otherwise. */
const char *dv_sasl_server_user(const dv_sasl_server *s);
/* After DV_SASL_ERROR: DV_ERR_AUTHENTICATION_FAILURE (wrong password, unknown user),
 * DV_ERR_PROTOCOL_ERROR (malformed client message), DV_ERR_NO_MEMORY, DV_ERR_INTERNAL_SDK
 * (crypto failure) or DV_ERR_INVALID_ARGUMENT (step after the end). DV_ERR_OK otherwise. */
int dv_sasl_server_error(const dv_sasl_server *s);
/* Why the last step failed, for the server's log; "" if it did not. */
const char *dv_sasl_server_reason(const dv_sasl_server *s);
void dv_sasl_server_free(dv_sasl_server *s);

/* ---- Client conversation ------------------------------------------------------------------ */

typedef struct dv_sasl_client_config {
    dv_sasl_mech mech;
    const char *user;     /* non-empty; ',' and '=' are escaped as =2C and =3D for SCRAM */
    const char *password; /* may be empty */
    /* Tests: fixed client nonce (printable ASCII, space allowed, no ','); NULL: 32 random hex
     * digits from RAND_bytes. */
    const char *cnonce;
    /* Refuse a server-first asking for more PBKDF2 iterations; 0: DV_SASL_MAX_ITERATIONS. */
    uint32_t max_iterations;
} dv_sasl_client_config;

typedef struct dv_sasl_client dv_sasl_client;

/* Start a conversation: *out receives it and *msg / *msg_len the first message (the SASL_AUTH
 * value, borrowed from the conversation). Returns DV_ERR_OK, DV_ERR_INVALID_ARGUMENT,
 * DV_ERR_NO_MEMORY or DV_ERR_INTERNAL_SDK; on error *out is NULL. */
int dv_sasl_client_start(const dv_sasl_client_config *cfg, dv_sasl_client **out,
                         const uint8_t **msg, size_t *msg_len);
/* Feed the value of the server's answer (see the top of this file). DV_SASL_CONTINUE: send
 * *out as the SASL_STEP value. DV_SASL_SUCCESS: authenticated and, for SCRAM, the server proved
 * it knows the credentials. */
dv_sasl_result dv_sasl_client_step(dv_sasl_client *c, const void *in, size_t in_len,
                                   const uint8_t **out, size_t *out_len);
/* After DV_SASL_ERROR: DV_ERR_AUTHENTICATION_FAILURE (server error or bad server signature),
 * DV_ERR_PROTOCOL_ERROR (malformed server message), DV_ERR_NO_MEMORY, DV_ERR_INTERNAL_SDK or
 * DV_ERR_INVALID_ARGUMENT (step after the end). DV_ERR_OK otherwise. */
int dv_sasl_client_error(const dv_sasl_client *c);
const char *dv_sasl_client_reason(const dv_sasl_client *c);
void dv_sasl_client_free(dv_sasl_client *c);

#endif
