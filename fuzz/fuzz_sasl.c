/* Fuzz the SASL parsers of src/sasl.
 *
 * Input: one selector byte, then two messages separated by the first '\n'.
 *   selector bits 0-1: mechanism (0 PLAIN, 1 SCRAM-SHA1, 2 SCRAM-SHA256, 3 SCRAM-SHA512)
 *   selector bit 2:    0 = server (messages are client-first and client-final, or the PLAIN
 *                      value), 1 = client (messages are server-first and server-final)
 * The server knows user "user" with password "pencil" (salt 0x00..0x0f, 4096 iterations) and
 * answers with the nonce "SNONCE"; the client sends the nonce "CNONCE" and, to keep iterations
 * cheap, accepts at most 64 PBKDF2 iterations from the server. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "divan/error.h"
#include "sasl/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t salt[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* Derived once: the harness's only state, read-only after the first call. */
static dv_sasl_creds user_creds;
static int have_creds;

static int lookup(void *ud, const char *user, size_t user_len, dv_sasl_creds *out)
{
    (void)ud;
    if (user_len != 4 || memcmp(user, "user", 4) != 0) return 0;
    *out = user_creds;
    return 1;
}

static void run_server(dv_sasl_mech mech, const uint8_t *m1, size_t l1, const uint8_t *m2,
                       size_t l2, int has_second)
{
    static const uint8_t key[] = "fuzz fake-salt key";
    dv_sasl_server_config cfg = {lookup, NULL, key, sizeof key - 1, 0, "SNONCE"};
    dv_sasl_server *s = dv_sasl_server_new(mech, &cfg);
    if (!s) __builtin_trap();
    const uint8_t *out;
    size_t out_len;
    dv_sasl_result r = dv_sasl_server_step(s, m1, l1, &out, &out_len);
    if (r != DV_SASL_ERROR && !out) __builtin_trap();
    if (r == DV_SASL_CONTINUE && has_second) {
        r = dv_sasl_server_step(s, m2, l2, &out, &out_len);
        /* Success needs the real password's proof; the user must then be known. */
        if (r == DV_SASL_SUCCESS && strcmp(dv_sasl_server_user(s), "user") != 0) __builtin_trap();
    }
    if (r == DV_SASL_ERROR && dv_sasl_server_error(s) == DV_ERR_OK) __builtin_trap();
    dv_sasl_server_free(s);
}

static void run_client(dv_sasl_mech mech, const uint8_t *m1, size_t l1, const uint8_t *m2,
                       size_t l2, int has_second)
{
    dv_sasl_client_config cfg = {mech, "us,er=", "pencil", "CNONCE", 64};
    dv_sasl_client *c;
    const uint8_t *out;
    size_t out_len;
    if (dv_sasl_client_start(&cfg, &c, &out, &out_len) != DV_ERR_OK) __builtin_trap();
    dv_sasl_result r = dv_sasl_client_step(c, m1, l1, &out, &out_len);
    if (r == DV_SASL_CONTINUE && has_second) r = dv_sasl_client_step(c, m2, l2, &out, &out_len);
    if (r == DV_SASL_ERROR && dv_sasl_client_error(c) == DV_ERR_OK) __builtin_trap();
    dv_sasl_client_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!have_creds) {
        if (dv_sasl_creds_derive(&user_creds, "pencil", 6, salt, sizeof salt, 4096) != DV_ERR_OK)
            __builtin_trap();
        have_creds = 1;
    }
    if (size < 1) return 0;
    dv_sasl_mech mech = (dv_sasl_mech)(data[0] & 3);
    int client = data[0] & 4;
    const uint8_t *m1 = data + 1, *m2 = NULL;
    size_t l1 = size - 1, l2 = 0;
    const uint8_t *nl = memchr(m1, '\n', l1);
    if (nl) {
        m2 = nl + 1;
        l2 = (size_t)(data + size - m2);
        l1 = (size_t)(nl - m1);
    }
    if (client)
        run_client(mech, m1, l1, m2, l2, nl != NULL);
    else
        run_server(mech, m1, l1, m2, l2, nl != NULL);
    return 0;
}
