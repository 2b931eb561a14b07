#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "divan/error.h"
#include "sasl/sasl.h"
#include "sasl/sasl_int.h"

/* ---- helpers ---- */

typedef struct user_entry {
    const char *name;
    dv_sasl_creds creds;
} user_entry;

typedef struct user_db {
    user_entry users[4];
    int n;
    int lookups;
} user_db;

static int db_lookup(void *ud, const char *user, size_t user_len, dv_sasl_creds *out)
{
    user_db *db = ud;
    db->lookups++;
    assert_int_equal(strlen(user), user_len);
    for (int i = 0; i < db->n; i++) {
        if (strcmp(db->users[i].name, user) == 0) {
            *out = db->users[i].creds;
            return 1;
        }
    }
    return 0;
}

static const uint8_t salt16[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void db_add(user_db *db, const char *name, const char *password, const uint8_t *salt,
                   size_t salt_len)
{
    user_entry *e = &db->users[db->n++];
    e->name = name;
    assert_int_equal(
        dv_sasl_creds_derive(&e->creds, password, strlen(password), salt, salt_len, 4096),
        DV_ERR_OK);
}

static dv_sasl_server_config server_cfg(user_db *db, const char *snonce)
{
    dv_sasl_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.lookup = db_lookup;
    cfg.lookup_ud = db;
    cfg.snonce = snonce;
    return cfg;
}

static void assert_bytes(const uint8_t *p, size_t len, const char *want)
{
    if (len != strlen(want) || memcmp(p, want, len) != 0) {
        fprintf(stderr, "got  %.*s\nwant %s\n", (int)len, (const char *)p, want);
        fail();
    }
}

static dv_sasl_result server_feed(dv_sasl_server *s, const char *msg, const uint8_t **out,
                                  size_t *out_len)
{
    return dv_sasl_server_step(s, msg, strlen(msg), out, out_len);
}

static dv_sasl_result client_feed(dv_sasl_client *c, const char *msg, const uint8_t **out,
                                  size_t *out_len)
{
    return dv_sasl_client_step(c, msg, strlen(msg), out, out_len);
}

/* ---- names ---- */

static void mech_names(void **state)
{
    (void)state;
    assert_string_equal(dv_sasl_mech_name(DV_SASL_PLAIN), "PLAIN");
    assert_string_equal(dv_sasl_mech_name(DV_SASL_SCRAM_SHA1), "SCRAM-SHA1");
    assert_string_equal(dv_sasl_mech_name(DV_SASL_SCRAM_SHA256), "SCRAM-SHA256");
    assert_string_equal(dv_sasl_mech_name(DV_SASL_SCRAM_SHA512), "SCRAM-SHA512");
    assert_null(dv_sasl_mech_name((dv_sasl_mech)4));
    assert_string_equal(dv_sasl_mech_list(), "SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1 PLAIN");
    dv_sasl_mech m;
    assert_int_equal(dv_sasl_mech_parse("SCRAM-SHA512", 12, &m), 0);
    assert_int_equal(m, DV_SASL_SCRAM_SHA512);
    assert_int_equal(dv_sasl_mech_parse("PLAIN", 5, &m), 0);
    assert_int_equal(m, DV_SASL_PLAIN);
    assert_int_equal(dv_sasl_mech_parse("SCRAM-SHA5", 10, &m), -1);
    assert_int_equal(dv_sasl_mech_parse("plain", 5, &m), -1);
    assert_int_equal(dv_sasl_mech_parse("SCRAM-SHA1 ", 11, &m), -1);
    assert_int_equal(dv_sasl_mech_parse("SCRAM-SHA-1", 11, &m), -1);
}

/* ---- base64 ---- */

static void base64_round_trip_and_strictness(void **state)
{
    (void)state;
    static const struct {
        const char *raw, *enc;
    } v[] = {{"", ""},        {"f", "Zg=="},         {"fo", "Zm8="},
             {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
             {"n,,", "biws"}, {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        dv_buf b = DV_BUF_INIT;
        assert_int_equal(dv_base64_encode(&b, (const uint8_t *)v[i].raw, strlen(v[i].raw)), 0);
        assert_bytes(b.data ? b.data : (const uint8_t *)"", b.len, v[i].enc);
        dv_buf_free(&b);
        uint8_t out[16];
        size_t n = 99;
        assert_int_equal(
            dv_base64_decode(v[i].enc, strlen(v[i].enc), DV_BASE64_STRICT, out, sizeof out, &n), 0);
        assert_int_equal(n, strlen(v[i].raw));
        assert_memory_equal(out, v[i].raw, n);
    }
    static const char *bad[] = {"Zg=",  "Zg",   "Z===", "====",     "Zm9v=", "Zm=v",  "Z!9v",
                                "Zh==", "Zm9=", "Zm 9", "Zg==Zg==", "=Zm9",  "Zm9v\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t out[16];
        size_t n;
        assert_int_equal(
            dv_base64_decode(bad[i], strlen(bad[i]), DV_BASE64_STRICT, out, sizeof out, &n), -1);
    }
}

/* ---- credentials ---- */

static void creds_derive_and_check(void **state)
{
    (void)state;
    dv_sasl_creds c;
    assert_int_equal(dv_sasl_creds_derive(&c, "pw", 2, salt16, 16, 4095), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_sasl_creds_derive(&c, "pw", 2, salt16, 0, 4096), DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_sasl_creds_derive(&c, "pencil", 6, NULL, 0, 0), DV_ERR_OK);
    for (int h = 0; h < DV_SASL_HASH_COUNT; h++) {
        assert_int_equal(c.scram[h].iterations, 4096);
        assert_int_equal(c.scram[h].salt_len, DV_SASL_SALT_LEN);
    }
    /* Random salts differ per hash. */
    assert_memory_not_equal(c.scram[0].salt, c.scram[1].salt, DV_SASL_SALT_LEN);
    assert_int_equal(dv_sasl_creds_check_password(&c, "pencil", 6), DV_ERR_OK);
    assert_int_equal(dv_sasl_creds_check_password(&c, "pencik", 6), DV_ERR_AUTHENTICATION_FAILURE);
    assert_int_equal(dv_sasl_creds_check_password(&c, "pencil!", 7), DV_ERR_AUTHENTICATION_FAILURE);
    assert_int_equal(dv_sasl_creds_check_password(&c, "", 0), DV_ERR_AUTHENTICATION_FAILURE);

    /* The record holds no password: only salt, iterations and the two keys. The RFC 5802
     * SHA-1 example gives a known StoredKey for "pencil" with salt QSXCR+Q6sek8bf92. */
    uint8_t salt[12];
    size_t salt_len;
    assert_int_equal(
        dv_base64_decode("QSXCR+Q6sek8bf92", 16, DV_BASE64_STRICT, salt, sizeof salt, &salt_len),
        0);
    assert_int_equal(dv_sasl_creds_derive(&c, "pencil", 6, salt, salt_len, 4096), DV_ERR_OK);
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_base64_encode(&b, c.scram[DV_SASL_HASH_SHA1].stored_key, 20), 0);
    assert_bytes(b.data, b.len, "6dlGYMOdZcOPutkcNY8U2g7vK9Y=");
    dv_buf_reset(&b);
    assert_int_equal(dv_base64_encode(&b, c.scram[DV_SASL_HASH_SHA1].server_key, 20), 0);
    assert_bytes(b.data, b.len, "D+CSWLOshSulAsxiupA+qs2/fTE=");
    dv_buf_free(&b);
}

/* ---- published vectors ---- */

typedef struct vector {
    dv_sasl_mech mech;
    const char *user, *password, *cnonce, *snonce, *salt64;
    const char *client_first, *server_first, *client_final, *server_final;
} vector;

#define KV_FIRST  "n,,n=Administrator,r=0a1b2c3d4e5f6071"
#define KV_SFIRST "r=0a1b2c3d4e5f60718899aabbccddeeff,s=AAECAwQFBgcICQoLDA0ODw==,i=4096"
#define KV_R      "c=biws,r=0a1b2c3d4e5f60718899aabbccddeeff,p="

static const vector vectors[] = {
    {DV_SASL_SCRAM_SHA512, "Administrator", "password", "0a1b2c3d4e5f6071", "8899aabbccddeeff",
     "AAECAwQFBgcICQoLDA0ODw==", KV_FIRST, KV_SFIRST,
     KV_R
     "13sOWGF9/deinmLai3+4uBndjipZUyocGACKTgvm2awrVq2Ol5z9mnY0zZY/6dsJyTBcXwRzRoSKRzwZCeGfcQ==",
     "v=r2M8sFmvXIj1Z43CI1a5IHi9D6URNLarITklmmEwUo2a0UO0+o9dztF3Z1xLbguFS29tHg9aBpxAY1AdHXm89Q=="},
    {DV_SASL_SCRAM_SHA256, "Administrator", "password", "0a1b2c3d4e5f6071", "8899aabbccddeeff",
     "AAECAwQFBgcICQoLDA0ODw==", KV_FIRST, KV_SFIRST,
     KV_R "A0XR43YBFODxoB/lzoWMU0n5Q2z7osgMZ+mjwSLrYy0=",
     "v=ZFcDceyyNDOOyhT+m5ZbDF5/2oWCTAWipqgkkVMkni8="},
    {DV_SASL_SCRAM_SHA1, "Administrator", "password", "0a1b2c3d4e5f6071", "8899aabbccddeeff",
     "AAECAwQFBgcICQoLDA0ODw==", KV_FIRST, KV_SFIRST,
     KV_R "fDSmBwFjFwSmv8ezyj7J/tQ7JyY=", "v=uU/H9MbzRtCRFtQqhh6LhltzAQo="},
    /* RFC 5802 section 5 */
    {DV_SASL_SCRAM_SHA1, "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j",
     "QSXCR+Q6sek8bf92", "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
     "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
     "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="},
    /* RFC 7677 section 3 */
    {DV_SASL_SCRAM_SHA256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO",
     "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
     "W22ZaJ0SNY7soEsUEjb6gQ==", "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
     "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
     "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjf"
     "MHgsqmmiz7AndVQ=",
     "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="},
};

static void client_matches_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const vector *v = &vectors[i];
        dv_sasl_client_config cfg = {v->mech, v->user, v->password, v->cnonce, 0};
        dv_sasl_client *c;
        const uint8_t *out;
        size_t len;
        assert_int_equal(dv_sasl_client_start(&cfg, &c, &out, &len), DV_ERR_OK);
        assert_bytes(out, len, v->client_first);
        assert_int_equal(client_feed(c, v->server_first, &out, &len), DV_SASL_CONTINUE);
        assert_bytes(out, len, v->client_final);
        if (client_feed(c, v->server_final, &out, &len) != DV_SASL_SUCCESS) {
            fprintf(stderr, "%s\n", dv_sasl_client_reason(c));
            fail();
        }
        assert_int_equal(dv_sasl_client_error(c), DV_ERR_OK);
        /* The conversation is over. */
        assert_int_equal(client_feed(c, v->server_final, &out, &len), DV_SASL_ERROR);
        assert_int_equal(dv_sasl_client_error(c), DV_ERR_INVALID_ARGUMENT);
        dv_sasl_client_free(c);
    }
}

static void server_matches_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const vector *v = &vectors[i];
        uint8_t salt[32];
        size_t salt_len;
        assert_int_equal(dv_base64_decode(v->salt64, strlen(v->salt64), DV_BASE64_STRICT, salt,
                                          sizeof salt, &salt_len),
                         0);
        user_db db = {0};
        db_add(&db, v->user, v->password, salt, salt_len);
        dv_sasl_server_config cfg = server_cfg(&db, v->snonce);
        dv_sasl_server *s = dv_sasl_server_new(v->mech, &cfg);
        assert_non_null(s);
        const uint8_t *out;
        size_t len;
        assert_int_equal(server_feed(s, v->client_first, &out, &len), DV_SASL_CONTINUE);
        assert_bytes(out, len, v->server_first);
        assert_null(dv_sasl_server_user(s));
        assert_int_equal(server_feed(s, v->client_final, &out, &len), DV_SASL_SUCCESS);
        assert_bytes(out, len, v->server_final);
        assert_string_equal(dv_sasl_server_user(s), v->user);
        assert_int_equal(dv_sasl_server_error(s), DV_ERR_OK);
        assert_int_equal(db.lookups, 1);
        assert_int_equal(server_feed(s, v->client_final, &out, &len), DV_SASL_ERROR);
        assert_null(dv_sasl_server_user(s));
        dv_sasl_server_free(s);
    }
}

/* ---- client and server together ---- */

/* Run a whole conversation; returns the server's final result. */
static dv_sasl_result converse(user_db *db, dv_sasl_mech mech, const char *user,
                               const char *password, dv_sasl_result *client_result)
{
    dv_sasl_client_config ccfg = {mech, user, password, NULL, 0};
    dv_sasl_server_config scfg = server_cfg(db, NULL);
    dv_sasl_client *c;
    dv_sasl_server *s = dv_sasl_server_new(mech, &scfg);
    const uint8_t *msg, *answer;
    size_t msg_len, answer_len;
    assert_non_null(s);
    assert_int_equal(dv_sasl_client_start(&ccfg, &c, &msg, &msg_len), DV_ERR_OK);
    dv_sasl_result sr = dv_sasl_server_step(s, msg, msg_len, &answer, &answer_len);
    *client_result = DV_SASL_ERROR;
    if (sr == DV_SASL_CONTINUE) {
        assert_int_equal(dv_sasl_client_step(c, answer, answer_len, &msg, &msg_len),
                         DV_SASL_CONTINUE);
        sr = dv_sasl_server_step(s, msg, msg_len, &answer, &answer_len);
    }
    if (sr == DV_SASL_SUCCESS) {
        *client_result = dv_sasl_client_step(c, answer, answer_len, NULL, NULL);
        assert_string_equal(dv_sasl_server_user(s), user);
    } else {
        assert_int_equal(sr, DV_SASL_ERROR);
        assert_int_equal(dv_sasl_server_error(s), DV_ERR_AUTHENTICATION_FAILURE);
        assert_true(strlen(dv_sasl_server_reason(s)) > 0);
        assert_null(dv_sasl_server_user(s));
    }
    dv_sasl_client_free(c);
    dv_sasl_server_free(s);
    return sr;
}

static void client_and_server_agree(void **state)
{
    (void)state;
    user_db db = {0};
    db_add(&db, "Administrator", "password", NULL, 0);
    db_add(&db, "we,ird=name", "p=ss,word", NULL, 0);
    db_add(&db, "empty", "", NULL, 0);
    for (int m = 0; m < DV_SASL_MECH_COUNT; m++) {
        dv_sasl_result cr;
        assert_int_equal(converse(&db, (dv_sasl_mech)m, "Administrator", "password", &cr),
                         DV_SASL_SUCCESS);
        assert_int_equal(cr, DV_SASL_SUCCESS);
        assert_int_equal(converse(&db, (dv_sasl_mech)m, "we,ird=name", "p=ss,word", &cr),
                         DV_SASL_SUCCESS);
        assert_int_equal(cr, DV_SASL_SUCCESS);
        assert_int_equal(converse(&db, (dv_sasl_mech)m, "empty", "", &cr), DV_SASL_SUCCESS);
        assert_int_equal(cr, DV_SASL_SUCCESS);
        assert_int_equal(converse(&db, (dv_sasl_mech)m, "Administrator", "passwore", &cr),
                         DV_SASL_ERROR);
        assert_int_equal(converse(&db, (dv_sasl_mech)m, "Administrator", "", &cr), DV_SASL_ERROR);
        assert_int_equal(converse(&db, (dv_sasl_mech)m, "nobody", "password", &cr), DV_SASL_ERROR);
        assert_int_equal(converse(&db, (dv_sasl_mech)m, "administrator", "password", &cr),
                         DV_SASL_ERROR);
    }
}

static void random_nonces_differ(void **state)
{
    (void)state;
    dv_sasl_client_config cfg = {DV_SASL_SCRAM_SHA512, "u", "p", NULL, 0};
    dv_sasl_client *a, *b;
    const uint8_t *ma, *mb;
    size_t la, lb;
    assert_int_equal(dv_sasl_client_start(&cfg, &a, &ma, &la), DV_ERR_OK);
    assert_int_equal(dv_sasl_client_start(&cfg, &b, &mb, &lb), DV_ERR_OK);
    assert_int_equal(la, strlen("n,,n=u,r=") + 32);
    assert_int_equal(la, lb);
    assert_memory_equal(ma, "n,,n=u,r=", 9);
    assert_memory_not_equal(ma, mb, la);
    dv_sasl_client_free(a);
    dv_sasl_client_free(b);
}

/* ---- server specifics ---- */

static void server_accepts_official_spaced_nonce(void **state)
{
    (void)state;
    const char *cnonce = "0xffffffcd 0xfffffffb 0x25 0x0d 0x1a 0x57 0x04 0xffffff8d";
    user_db db = {0};
    db_add(&db, "Administrator", "password", salt16, 16);
    dv_sasl_server_config scfg = server_cfg(&db, "8899aabbccddeeff");
    dv_sasl_server *s = dv_sasl_server_new(DV_SASL_SCRAM_SHA512, &scfg);
    dv_sasl_client_config ccfg = {DV_SASL_SCRAM_SHA512, "Administrator", "password", cnonce, 0};
    dv_sasl_client *c;
    const uint8_t *msg, *answer;
    size_t msg_len, answer_len;
    assert_int_equal(dv_sasl_client_start(&ccfg, &c, &msg, &msg_len), DV_ERR_OK);
    assert_bytes(msg, msg_len,
                 "n,,n=Administrator,r=0xffffffcd 0xfffffffb 0x25 0x0d 0x1a 0x57 0x04 0xffffff8d");
    assert_int_equal(dv_sasl_server_step(s, msg, msg_len, &answer, &answer_len), DV_SASL_CONTINUE);
    assert_bytes(answer, answer_len,
                 "r=0xffffffcd 0xfffffffb 0x25 0x0d 0x1a 0x57 0x04 0xffffff8d8899aabbccddeeff,"
                 "s=AAECAwQFBgcICQoLDA0ODw==,i=4096");
    assert_int_equal(dv_sasl_client_step(c, answer, answer_len, &msg, &msg_len), DV_SASL_CONTINUE);
    assert_int_equal(dv_sasl_server_step(s, msg, msg_len, &answer, &answer_len), DV_SASL_SUCCESS);
    assert_int_equal(dv_sasl_client_step(c, answer, answer_len, NULL, NULL), DV_SASL_SUCCESS);
    dv_sasl_client_free(c);
    dv_sasl_server_free(s);
}

static void unknown_user_fails_only_at_final_step(void **state)
{
    (void)state;
    user_db db = {0};
    db_add(&db, "Administrator", "password", salt16, 16);
    static const uint8_t key[] = "server secret";
    char first[2][256];
    for (int round = 0; round < 2; round++) {
        dv_sasl_server_config scfg = server_cfg(&db, "SN");
        scfg.fake_salt_key = key;
        scfg.fake_salt_key_len = sizeof key - 1;
        dv_sasl_server *s = dv_sasl_server_new(DV_SASL_SCRAM_SHA256, &scfg);
        dv_sasl_client_config ccfg = {DV_SASL_SCRAM_SHA256, "ghost", "password", "CN", 0};
        dv_sasl_client *c;
        const uint8_t *msg, *answer;
        size_t msg_len, answer_len;
        assert_int_equal(dv_sasl_client_start(&ccfg, &c, &msg, &msg_len), DV_ERR_OK);
        assert_int_equal(dv_sasl_server_step(s, msg, msg_len, &answer, &answer_len),
                         DV_SASL_CONTINUE);
        /* Looks like any user's: r=, a 16-byte salt, 4096 iterations. */
        assert_true(answer_len < sizeof first[0]);
        memcpy(first[round], answer, answer_len);
        first[round][answer_len] = 0;
        assert_memory_equal(first[round], "r=CNSN,s=", 9);
        assert_int_equal(strlen(first[round]), strlen("r=CNSN,s=AAECAwQFBgcICQoLDA0ODw==,i=4096"));
        assert_string_equal(first[round] + answer_len - 7, ",i=4096");
        assert_int_equal(dv_sasl_client_step(c, answer, answer_len, &msg, &msg_len),
                         DV_SASL_CONTINUE);
        assert_int_equal(dv_sasl_server_step(s, msg, msg_len, &answer, &answer_len), DV_SASL_ERROR);
        assert_int_equal(answer_len, 0);
        assert_int_equal(dv_sasl_server_error(s), DV_ERR_AUTHENTICATION_FAILURE);
        dv_sasl_client_free(c);
        dv_sasl_server_free(s);
    }
    /* With a key, the fake salt is stable, like a real user's. */
    assert_string_equal(first[0], first[1]);
}

static void server_unescapes_names(void **state)
{
    (void)state;
    user_db db = {0};
    db_add(&db, "a,b=c", "pw", salt16, 16);
    dv_sasl_client_config ccfg = {DV_SASL_SCRAM_SHA1, "a,b=c", "pw", "nonce", 0};
    dv_sasl_client *c;
    const uint8_t *msg, *answer;
    size_t msg_len, answer_len;
    assert_int_equal(dv_sasl_client_start(&ccfg, &c, &msg, &msg_len), DV_ERR_OK);
    assert_bytes(msg, msg_len, "n,,n=a=2Cb=3Dc,r=nonce");
    dv_sasl_server_config scfg = server_cfg(&db, "X");
    dv_sasl_server *s = dv_sasl_server_new(DV_SASL_SCRAM_SHA1, &scfg);
    assert_int_equal(dv_sasl_server_step(s, msg, msg_len, &answer, &answer_len), DV_SASL_CONTINUE);
    assert_int_equal(dv_sasl_client_step(c, answer, answer_len, &msg, &msg_len), DV_SASL_CONTINUE);
    assert_int_equal(dv_sasl_server_step(s, msg, msg_len, &answer, &answer_len), DV_SASL_SUCCESS);
    assert_string_equal(dv_sasl_server_user(s), "a,b=c");
    assert_int_equal(dv_sasl_client_step(c, answer, answer_len, NULL, NULL), DV_SASL_SUCCESS);
    dv_sasl_client_free(c);
    dv_sasl_server_free(s);
}

static void server_accepts_matching_authzid(void **state)
{
    (void)state;
    user_db db = {0};
    db_add(&db, "user", "pencil", salt16, 16);
    dv_sasl_server_config scfg = server_cfg(&db, "S");
    /* GS2 header "n,a=user," -> c=bixhPXVzZXIs */
    dv_sasl_server *s = dv_sasl_server_new(DV_SASL_SCRAM_SHA256, &scfg);
    const uint8_t *out;
    size_t len;
    assert_int_equal(server_feed(s, "n,a=user,n=user,r=C", &out, &len), DV_SASL_CONTINUE);
    /* A c= of the plain "n,," header no longer matches. */
    assert_int_equal(
        server_feed(s, "c=biws,r=CS,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &out, &len),
        DV_SASL_ERROR);
    assert_int_equal(dv_sasl_server_error(s), DV_ERR_PROTOCOL_ERROR);
    dv_sasl_server_free(s);

    s = dv_sasl_server_new(DV_SASL_SCRAM_SHA256, &scfg);
    assert_int_equal(server_feed(s, "n,a=user,n=user,r=C", &out, &len), DV_SASL_CONTINUE);
    assert_int_equal(
        server_feed(s, "c=bixhPXVzZXIs,r=CS,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &out,
                    &len),
        DV_SASL_ERROR);
    /* Gets as far as the proof check. */
    assert_int_equal(dv_sasl_server_error(s), DV_ERR_AUTHENTICATION_FAILURE);
    dv_sasl_server_free(s);

    s = dv_sasl_server_new(DV_SASL_SCRAM_SHA256, &scfg);
    assert_int_equal(server_feed(s, "n,a=admin,n=user,r=C", &out, &len), DV_SASL_ERROR);
    dv_sasl_server_free(s);
}

static void server_rejects_malformed_client_first(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "n",
        "n,",
        "n,,",
        "n,,n=user",
        "n,,n=user,",
        "n,,n=user,r=",
        "n,,r=abc,n=user",
        "n,,n=user,r=abc,x=extra",
        "n,,n=user,r=abc,",
        "n,,m=ext,n=user,r=abc",
        "y,,n=user,r=abc",
        "p=tls-unique,,n=user,r=abc",
        "N,,n=user,r=abc",
        ",,n=user,r=abc",
        "nn,,n=user,r=abc",
        "n,x,n=user,r=abc",
        "n,,n=,r=abc",
        "n,,n=us=er,r=abc",
        "n,,n=us=2,r=abc",
        "n,,n=us=2c,r=abc",
        "n,,n=user,r=ab\x01",
        "n,,n=user,r=ab\x7f",
        "n,,n=user,r=ab\xc3\xa9",
        "n,,n=user,rr=abc",
        "n,,user,abc",
        " n,,n=user,r=abc",
    };
    user_db db = {0};
    db_add(&db, "user", "pencil", salt16, 16);
    dv_sasl_server_config scfg = server_cfg(&db, NULL);
    for (int m = DV_SASL_SCRAM_SHA1; m <= DV_SASL_SCRAM_SHA512; m++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            dv_sasl_server *s = dv_sasl_server_new((dv_sasl_mech)m, &scfg);
            const uint8_t *out = (const uint8_t *)"x";
            size_t len = 1;
            if (server_feed(s, bad[i], &out, &len) != DV_SASL_ERROR) {
                fprintf(stderr, "accepted: %s\n", bad[i]);
                fail();
            }
            assert_null(out);
            assert_int_equal(len, 0);
            assert_int_equal(dv_sasl_server_error(s), DV_ERR_PROTOCOL_ERROR);
            assert_true(strlen(dv_sasl_server_reason(s)) > 0);
            /* Failed for good. */
            assert_int_equal(server_feed(s, "n,,n=user,r=abc", &out, &len), DV_SASL_ERROR);
            dv_sasl_server_free(s);
        }
        /* An embedded NUL. */
        dv_sasl_server *s = dv_sasl_server_new((dv_sasl_mech)m, &scfg);
        assert_int_equal(dv_sasl_server_step(s, "n,,n=us\0er,r=abc", 16, NULL, NULL),
                         DV_SASL_ERROR);
        dv_sasl_server_free(s);
    }
    assert_int_equal(db.lookups, 0);
}

/* Valid SCRAM-SHA256 client-final for the RFC 7677 exchange, then variations of it. */
static void server_rejects_malformed_client_final(void **state)
{
    (void)state;
    const vector *v = &vectors[4];
    static const char *bad[] = {
        "",
        "c=biws",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjf"
        "MHgsqmmiz7AndVQ",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjf"
        "MHgsqmmiz7AndVQ=,x=1",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,x=1,p=dHzbZapWIk4jUhN+Ute9ytag"
        "9zjfMHgsqmmiz7AndVQ=",
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjf"
        "MHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p=dHzbZapWIk4jUhN+Ute9ytag9zjf"
        "MHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0X,p=dHzbZapWIk4jUhN+Ute9ytag9zj"
        "fMHgsqmmiz7AndVQ=",
        "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjf"
        "MHgsqmmiz7AndVQ=",
        "c=biw,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfM"
        "Hgsqmmiz7AndVQ=",
        "c=,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgs"
        "qmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjf"
        "MHgsqmmiz7AndV!=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjf"
        "MHgsqmmiz7AndVQ=AAAA",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=fDSmBwFjFwSmv8ezyj7J/"
        "tQ7JyY=",
        "c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    };
    uint8_t salt[18];
    size_t salt_len;
    assert_int_equal(
        dv_base64_decode(v->salt64, 24, DV_BASE64_STRICT, salt, sizeof salt, &salt_len), 0);
    user_db db = {0};
    db_add(&db, v->user, v->password, salt, salt_len);
    dv_sasl_server_config scfg = server_cfg(&db, v->snonce);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dv_sasl_server *s = dv_sasl_server_new(v->mech, &scfg);
        const uint8_t *out;
        size_t len;
        assert_int_equal(server_feed(s, v->client_first, &out, &len), DV_SASL_CONTINUE);
        if (server_feed(s, bad[i], &out, &len) != DV_SASL_ERROR) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            fail();
        }
        assert_int_equal(dv_sasl_server_error(s), DV_ERR_PROTOCOL_ERROR);
        assert_null(dv_sasl_server_user(s));
        /* No second chance: the right message is refused now. */
        assert_int_equal(server_feed(s, v->client_final, &out, &len), DV_SASL_ERROR);
        dv_sasl_server_free(s);
    }
    /* A well-formed but wrong proof (one bit flipped) is an authentication failure. */
    dv_sasl_server *s = dv_sasl_server_new(v->mech, &scfg);
    const uint8_t *out;
    size_t len;
    assert_int_equal(server_feed(s, v->client_first, &out, &len), DV_SASL_CONTINUE);
    assert_int_equal(server_feed(s,
                                 "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="
                                 "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU=",
                                 &out, &len),
                     DV_SASL_ERROR);
    assert_int_equal(dv_sasl_server_error(s), DV_ERR_AUTHENTICATION_FAILURE);
    assert_int_equal(len, 0);
    dv_sasl_server_free(s);
}

static void server_plain(void **state)
{
    (void)state;
    user_db db = {0};
    db_add(&db, "Administrator", "password", NULL, 0);
    dv_sasl_server_config scfg = server_cfg(&db, NULL);
    static const struct {
        const char *msg;
        size_t len;
        dv_sasl_result want;
        int err;
    } cases[] = {
        {"\0Administrator\0password", 23, DV_SASL_SUCCESS, DV_ERR_OK},
        {"Administrator\0Administrator\0password", 36, DV_SASL_SUCCESS, DV_ERR_OK},
        {"\0Administrator\0passwore", 23, DV_SASL_ERROR, DV_ERR_AUTHENTICATION_FAILURE},
        {"\0Administrator\0", 15, DV_SASL_ERROR, DV_ERR_AUTHENTICATION_FAILURE},
        {"\0nobody\0password", 16, DV_SASL_ERROR, DV_ERR_AUTHENTICATION_FAILURE},
        {"root\0Administrator\0password", 27, DV_SASL_ERROR, DV_ERR_PROTOCOL_ERROR},
        {"\0Administrator\0pass\0word", 24, DV_SASL_ERROR, DV_ERR_PROTOCOL_ERROR},
        {"\0\0password", 10, DV_SASL_ERROR, DV_ERR_PROTOCOL_ERROR},
        {"\0Administrator", 14, DV_SASL_ERROR, DV_ERR_PROTOCOL_ERROR},
        {"Administrator password", 22, DV_SASL_ERROR, DV_ERR_PROTOCOL_ERROR},
        {"", 0, DV_SASL_ERROR, DV_ERR_PROTOCOL_ERROR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dv_sasl_server *s = dv_sasl_server_new(DV_SASL_PLAIN, &scfg);
        const uint8_t *out;
        size_t len = 99;
        assert_int_equal(dv_sasl_server_step(s, cases[i].msg, cases[i].len, &out, &len),
                         cases[i].want);
        assert_int_equal(dv_sasl_server_error(s), cases[i].err);
        assert_int_equal(len, 0);
        if (cases[i].want == DV_SASL_SUCCESS)
            assert_string_equal(dv_sasl_server_user(s), "Administrator");
        else
            assert_null(dv_sasl_server_user(s));
        dv_sasl_server_free(s);
    }
}

static void server_config_is_checked(void **state)
{
    (void)state;
    user_db db = {0};
    dv_sasl_server_config scfg = server_cfg(&db, "bad,nonce");
    assert_null(dv_sasl_server_new(DV_SASL_SCRAM_SHA1, &scfg));
    scfg.snonce = NULL;
    assert_null(dv_sasl_server_new((dv_sasl_mech)7, &scfg));
    scfg.lookup = NULL;
    assert_null(dv_sasl_server_new(DV_SASL_SCRAM_SHA1, &scfg));
    assert_null(dv_sasl_server_new(DV_SASL_SCRAM_SHA1, NULL));
    /* Oversized messages are refused before parsing. */
    scfg = server_cfg(&db, NULL);
    dv_sasl_server *s = dv_sasl_server_new(DV_SASL_SCRAM_SHA1, &scfg);
    char *big = malloc(DV_SASL_MAX_MESSAGE + 1);
    memset(big, 'a', DV_SASL_MAX_MESSAGE + 1);
    memcpy(big, "n,,n=user,r=", 12);
    assert_int_equal(dv_sasl_server_step(s, big, DV_SASL_MAX_MESSAGE + 1, NULL, NULL),
                     DV_SASL_ERROR);
    free(big);
    dv_sasl_server_free(s);
}

/* ---- client specifics ---- */

static void client_rejects_bad_config(void **state)
{
    (void)state;
    dv_sasl_client *c = (dv_sasl_client *)1;
    dv_sasl_client_config cfg = {DV_SASL_SCRAM_SHA1, "", "pw", NULL, 0};
    assert_int_equal(dv_sasl_client_start(&cfg, &c, NULL, NULL), DV_ERR_INVALID_ARGUMENT);
    assert_null(c);
    cfg.user = "u";
    cfg.cnonce = "has,comma";
    assert_int_equal(dv_sasl_client_start(&cfg, &c, NULL, NULL), DV_ERR_INVALID_ARGUMENT);
    cfg.cnonce = "";
    assert_int_equal(dv_sasl_client_start(&cfg, &c, NULL, NULL), DV_ERR_INVALID_ARGUMENT);
    cfg.cnonce = NULL;
    cfg.password = NULL;
    assert_int_equal(dv_sasl_client_start(&cfg, &c, NULL, NULL), DV_ERR_INVALID_ARGUMENT);
    cfg.password = "pw";
    cfg.mech = (dv_sasl_mech)9;
    assert_int_equal(dv_sasl_client_start(&cfg, &c, NULL, NULL), DV_ERR_INVALID_ARGUMENT);
}

static void client_plain(void **state)
{
    (void)state;
    dv_sasl_client_config cfg = {DV_SASL_PLAIN, "Administrator", "password", NULL, 0};
    dv_sasl_client *c;
    const uint8_t *msg;
    size_t len;
    assert_int_equal(dv_sasl_client_start(&cfg, &c, &msg, &len), DV_ERR_OK);
    assert_int_equal(len, 23);
    assert_memory_equal(msg, "\0Administrator\0password", 23);
    assert_int_equal(dv_sasl_client_step(c, "", 0, NULL, NULL), DV_SASL_SUCCESS);
    dv_sasl_client_free(c);
}

static void client_rejects_tampered_server_signature(void **state)
{
    (void)state;
    const vector *v = &vectors[3];
    static const char *bad_final[] = {
        "v=rmF9pqV8S7suAoZWja4dJRkFsKE=", /* last byte changed */
        "v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "v=uU/H9MbzRtCRFtQqhh6LhltzAQo=", /* right form, another exchange */
    };
    for (size_t i = 0; i < sizeof bad_final / sizeof bad_final[0]; i++) {
        dv_sasl_client_config cfg = {v->mech, v->user, v->password, v->cnonce, 0};
        dv_sasl_client *c;
        assert_int_equal(dv_sasl_client_start(&cfg, &c, NULL, NULL), DV_ERR_OK);
        assert_int_equal(client_feed(c, v->server_first, NULL, NULL), DV_SASL_CONTINUE);
        assert_int_equal(client_feed(c, bad_final[i], NULL, NULL), DV_SASL_ERROR);
        assert_int_equal(dv_sasl_client_error(c), DV_ERR_AUTHENTICATION_FAILURE);
        assert_string_equal(dv_sasl_client_reason(c),
                            "server-final-message: server signature mismatch");
        /* And the right one cannot rescue it afterwards. */
        assert_int_equal(client_feed(c, v->server_final, NULL, NULL), DV_SASL_ERROR);
        dv_sasl_client_free(c);
    }
}

static void client_rejects_malformed_server_messages(void **state)
{
    (void)state;
    const vector *v = &vectors[3];
    static const char *bad_first[] = {
        "",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,m=x",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,",
        "m=x,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
        "s=QSXCR+Q6sek8bf92,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,i=4096",
        "r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096", /* no server part */
        "r=XXXX+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfc\x01,s=QSXCR+Q6sek8bf92,i=4096",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf9,i=4096",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8b!92,i=4096",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=,i=4096",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=0",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=-1",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=40x6",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=99999999999",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=1000001",
        "e=other-error",
    };
    for (size_t i = 0; i < sizeof bad_first / sizeof bad_first[0]; i++) {
        dv_sasl_client_config cfg = {v->mech, v->user, v->password, v->cnonce, 0};
        dv_sasl_client *c;
        const uint8_t *out = (const uint8_t *)"x";
        size_t len = 1;
        assert_int_equal(dv_sasl_client_start(&cfg, &c, NULL, NULL), DV_ERR_OK);
        if (client_feed(c, bad_first[i], &out, &len) != DV_SASL_ERROR) {
            fprintf(stderr, "accepted: %s\n", bad_first[i]);
            fail();
        }
        assert_null(out);
        assert_int_equal(len, 0);
        assert_int_equal(dv_sasl_client_error(c), DV_ERR_PROTOCOL_ERROR);
        dv_sasl_client_free(c);
    }
    static const char *bad_final[] = {
        "",
        "v=",
        "v=rmF9pqV8S7suAoZWja4dJRkFsKQ",
        "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=,x=1",
        "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=AAAA",
        "v=rmF9pqV8S7suAoZWja4dJRkFsK==",
        "V=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        "rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        "x=1,v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
    };
    for (size_t i = 0; i < sizeof bad_final / sizeof bad_final[0]; i++) {
        dv_sasl_client_config cfg = {v->mech, v->user, v->password, v->cnonce, 0};
        dv_sasl_client *c;
        assert_int_equal(dv_sasl_client_start(&cfg, &c, NULL, NULL), DV_ERR_OK);
        assert_int_equal(client_feed(c, v->server_first, NULL, NULL), DV_SASL_CONTINUE);
        if (client_feed(c, bad_final[i], NULL, NULL) != DV_SASL_ERROR) {
            fprintf(stderr, "accepted: %s\n", bad_final[i]);
            fail();
        }
        assert_int_equal(dv_sasl_client_error(c), DV_ERR_PROTOCOL_ERROR);
        dv_sasl_client_free(c);
    }
    /* A server error (e=) is an authentication failure. */
    dv_sasl_client_config cfg = {v->mech, v->user, v->password, v->cnonce, 0};
    dv_sasl_client *c;
    assert_int_equal(dv_sasl_client_start(&cfg, &c, NULL, NULL), DV_ERR_OK);
    assert_int_equal(client_feed(c, v->server_first, NULL, NULL), DV_SASL_CONTINUE);
    assert_int_equal(client_feed(c, "e=invalid-proof", NULL, NULL), DV_SASL_ERROR);
    assert_int_equal(dv_sasl_client_error(c), DV_ERR_AUTHENTICATION_FAILURE);
    dv_sasl_client_free(c);
    /* The iteration limit is the caller's. */
    cfg.max_iterations = 4095;
    assert_int_equal(dv_sasl_client_start(&cfg, &c, NULL, NULL), DV_ERR_OK);
    assert_int_equal(client_feed(c, v->server_first, NULL, NULL), DV_SASL_ERROR);
    dv_sasl_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mech_names),
        cmocka_unit_test(base64_round_trip_and_strictness),
        cmocka_unit_test(creds_derive_and_check),
        cmocka_unit_test(client_matches_vectors),
        cmocka_unit_test(server_matches_vectors),
        cmocka_unit_test(client_and_server_agree),
        cmocka_unit_test(random_nonces_differ),
        cmocka_unit_test(server_accepts_official_spaced_nonce),
        cmocka_unit_test(unknown_user_fails_only_at_final_step),
        cmocka_unit_test(server_unescapes_names),
        cmocka_unit_test(server_accepts_matching_authzid),
        cmocka_unit_test(server_rejects_malformed_client_first),
        cmocka_unit_test(server_rejects_malformed_client_final),
        cmocka_unit_test(server_plain),
        cmocka_unit_test(server_config_is_checked),
        cmocka_unit_test(client_rejects_bad_config),
        cmocka_unit_test(client_plain),
        cmocka_unit_test(client_rejects_tampered_server_signature),
        cmocka_unit_test(client_rejects_malformed_server_messages),
    };
    return TU_RUN(tests);
}
