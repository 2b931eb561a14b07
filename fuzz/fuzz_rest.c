/* Arbitrary bytes into the REST API's parsers (server/rest_form.h): the first byte picks the
 * parser ('f' form body, 'a' Authorization header, 'h' Host header, 'r' the role lists of the
 * RBAC endpoints, 'u' the console's path and If-None-Match lookup, else percent-decoding). They
 * must never read past len, crash or leak, and what they accept must be well formed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "divan/error.h"
#include "server/rest_form.h"
#include "server/ui.h"
#include "server/users.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int host_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           strchr(".-_:[]%", c) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    char which = (char)data[0];
    size--;
    /* An exact-size heap copy, so that ASan catches any read past the end. */
    char *s = malloc(size ? size : 1);
    if (!s) return 0;
    if (size) memcpy(s, data + 1, size);

    if (which == 'f') {
        dv_form f;
        char err[128];
        dv_error rc = dv_form_parse(&f, s, size, err, sizeof err);
        if (rc == DV_ERR_OK) {
            if (f.n > DV_FORM_MAX_FIELDS) abort();
            for (size_t i = 0; i < f.n; i++) {
                const dv_form_field *fl = &f.v[i];
                if (fl->name_len == 0 || fl->name[fl->name_len] || fl->value[fl->value_len])
                    abort();
                if (fl->name_len + fl->value_len > size) abort();
                if (dv_form_get(&f, fl->name) == NULL && strlen(fl->name) == fl->name_len) abort();
            }
            (void)dv_form_duplicate(&f);
            dv_form_clear(&f);
        } else if ((rc != DV_ERR_INVALID_ARGUMENT && rc != DV_ERR_NO_MEMORY) || f.v || f.n) {
            abort();
        }
    } else if (which == 'a') {
        char out[256];
        const char *user, *pw;
        size_t ul, pl;
        if (dv_rest_basic_auth(s, size, out, sizeof out, &user, &ul, &pw, &pl) == 0) {
            if (ul == 0 || user != out || user[ul] || pw[pl] || pw != out + ul + 1) abort();
            if (ul + pl + 2 > sizeof out) abort();
        }
    } else if (which == 'r') {
        /* A role list as PUT /settings/rbac/users and groups take it: what parses formats back
         * into a list that parses to the same text. */
        dv_roles r;
        char err[256];
        if (dv_roles_parse(&r, s, size, err, sizeof err) == DV_ERR_OK) {
            size_t need = dv_roles_format(&r, NULL, 0);
            char *text = malloc(need + 1), *again = malloc(need + 1);
            if (text && again) {
                if (dv_roles_format(&r, text, need + 1) != need || strlen(text) != need) abort();
                dv_roles r2;
                if (dv_roles_parse(&r2, text, need, err, sizeof err) != DV_ERR_OK) abort();
                if (r2.n != r.n || dv_roles_format(&r2, again, need + 1) != need ||
                    strcmp(text, again) != 0)
                    abort();
                dv_roles_clear(&r2);
            }
            free(text);
            free(again);
            dv_roles_clear(&r);
        } else if (r.v || r.n) {
            abort();
        }
    } else if (which == 'u') {
        /* A path after /ui, a NUL, then an If-None-Match header value. */
        size_t plen = strnlen(s, size);
        char *inm = NULL;
        if (plen < size) {
            inm = malloc(size - plen);
            if (inm) {
                memcpy(inm, s + plen + 1, size - plen - 1);
                inm[size - plen - 1] = '\0';
            }
        }
        dv_ui_reply r = dv_ui_lookup(s, plen, inm);
        if (r.status == 200 || r.status == 304) {
            if (!r.file || dv_ui_find(r.file->name, strlen(r.file->name)) != r.file) abort();
        } else if (r.status == 301) {
            if (plen != 0 || !r.location) abort();
        } else if (r.status != 404 || r.file) {
            abort();
        }
        free(inm);
    } else if (which == 'h') {
        char host[DV_REST_HOST_MAX + 1];
        int n = dv_rest_host_parse(s, size, host, sizeof host);
        if (n >= 0) {
            if (n == 0 || (size_t)n > size || host[n] || (size_t)n != strlen(host)) abort();
            for (int i = 0; i < n; i++)
                if (!host_char(host[i])) abort();
        } else if (n != -1) {
            abort();
        }
    } else {
        char *out = malloc(size + 1);
        if (out) {
            long n = dv_url_decode(s, size, which == '+', out);
            if (n < -1 || n > (long)size || (n >= 0 && out[n])) abort();
            free(out);
        }
    }
    free(s);
    return 0;
}
