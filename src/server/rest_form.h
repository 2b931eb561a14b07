/* The small parsers of divan-server's REST API (rest.c), kept apart so that they can be unit
 * tested and fuzzed without sockets: percent-decoding, application/x-www-form-urlencoded bodies,
 * the Authorization header of HTTP basic auth and the Host header.
 *
 * Everything here works on untrusted bytes with explicit lengths and never reads past them. */
#ifndef DV_SERVER_REST_FORM_H
#define DV_SERVER_REST_FORM_H

#include <stddef.h>

#include "divan/error.h"

/* At most this many fields in one form body; more is a bad request. */
#define DV_FORM_MAX_FIELDS 256
/* The longest host name or IP literal dv_rest_host_parse accepts (brackets included). */
#define DV_REST_HOST_MAX 255

/* Percent-decode len bytes of in into out, which has room for len + 1 bytes; with plus set,
 * '+' decodes to a space (form bodies; paths keep '+'). out is NUL-terminated. Returns the
 * decoded length, or -1 for a '%' not followed by two hex digits. */
long dv_url_decode(const char *in, size_t len, int plus, char *out);

typedef struct dv_form_field {
    const char *name; /* decoded, NUL-terminated; may contain NUL bytes before name_len */
    size_t name_len;
    const char *value;
    size_t value_len;
} dv_form_field;

typedef struct dv_form {
    dv_form_field *v;
    size_t n;
    char *mem; /* one block holding every decoded name and value */
} dv_form;

#define DV_FORM_INIT                                                                               \
    {                                                                                              \
        NULL, 0, NULL                                                                              \
    }

/* Parse a form body of len bytes: pairs separated by '&', empty pairs skipped (the official
 * core starts update bodies with '&'), a pair without '=' has an empty value. DV_ERR_OK and *f
 * filled (release with dv_form_clear); DV_ERR_INVALID_ARGUMENT with a message in err for a bad
 * escape, an empty name or more than DV_FORM_MAX_FIELDS fields; DV_ERR_NO_MEMORY. *f is empty
 * after a failure. */
dv_error dv_form_parse(dv_form *f, const char *body, size_t len, char *err, size_t errlen);
/* The first field named name (NUL-terminated), or NULL. */
const dv_form_field *dv_form_get(const dv_form *f, const char *name);
/* The first field whose name appears again later, or NULL. */
const dv_form_field *dv_form_duplicate(const dv_form *f);
void dv_form_clear(dv_form *f);

/* HTTP basic credentials from an Authorization header value of len bytes: "Basic " (the scheme
 * case-insensitive) and the base64 (padded, as RFC 7617 has it) of "user:password"; the user ends
 * at the first ':'. Decodes into out (cap bytes); *user and *password point into it,
 * NUL-terminated. Returns 0, or -1 for another scheme, bad base64, no ':', an empty user or too
 * little room. */
int dv_rest_basic_auth(const char *hdr, size_t len, char *out, size_t cap, const char **user,
                       size_t *user_len, const char **password, size_t *password_len);

/* The host of a Host header value of len bytes ("name", "name:port", "[v6]", "[v6]:port"),
 * written NUL-terminated to out (cap bytes) with the brackets of an IPv6 literal kept, so that
 * "host:port" strings can be formed from it. Host names may hold A-Z a-z 0-9 . - _; IPv6
 * literals hex digits, ':', '.' and a "%zone" of A-Z a-z 0-9 . - _; a port is 1..5 digits.
 * Returns the host's length, or -1 for an empty, malformed or too long value. */
int dv_rest_host_parse(const char *hdr, size_t len, char *out, size_t cap);

#endif
