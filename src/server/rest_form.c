/* Percent-decoding, form bodies, basic auth and Host headers for the REST API; see rest_form.h. */
#include "server/rest_form.h"

#include <limits.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/errmsg.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long dv_url_decode(const char *in, size_t len, int plus, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (len - i < 3) return -1;
            int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = plus && c == '+' ? ' ' : c;
        }
    }
    out[o] = '\0';
    return (long)o;
}

void dv_form_clear(dv_form *f)
{
    dv_free(f->v);
    dv_free(f->mem);
    f->v = NULL;
    f->mem = NULL;
    f->n = 0;
}

dv_error dv_form_parse(dv_form *f, const char *body, size_t len, char *err, size_t errlen)
{
    f->v = NULL;
    f->n = 0;
    f->mem = NULL;
    /* Count the pairs first so that one array and one block hold everything. */
    size_t pairs = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && body[j] != '&') j++;
        if (j > i) pairs++;
        i = j + 1;
    }
    if (pairs > DV_FORM_MAX_FIELDS)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "more than %d form fields",
                         DV_FORM_MAX_FIELDS);
    if (pairs == 0) return DV_ERR_OK;
    /* Decoded text is never longer than the input; each pair needs two NULs. */
    f->v = dv_calloc(pairs, sizeof *f->v);
    f->mem = dv_malloc(len + 2 * pairs);
    if (!f->v || !f->mem) {
        dv_form_clear(f);
        return DV_ERR_NO_MEMORY;
    }
    char *m = f->mem;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && body[j] != '&') j++;
        if (j > i) {
            const char *p = body + i;
            size_t plen = j - i;
            const char *eq = memchr(p, '=', plen);
            size_t nlen = eq ? (size_t)(eq - p) : plen;
            dv_form_field *fl = &f->v[f->n];
            long dn = dv_url_decode(p, nlen, 1, m);
            if (dn < 0) goto bad;
            if (dn == 0) {
                dv_form_clear(f);
                return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "form field without a name");
            }
            fl->name = m;
            fl->name_len = (size_t)dn;
            m += dn + 1;
            long dv = eq ? dv_url_decode(eq + 1, plen - nlen - 1, 1, m) : 0;
            if (dv < 0) goto bad;
            if (!eq) *m = '\0';
            fl->value = m;
            fl->value_len = (size_t)dv;
            m += dv + 1;
            f->n++;
        }
        i = j + 1;
    }
    return DV_ERR_OK;
bad:
    dv_form_clear(f);
    return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                     "malformed percent-encoding in the form body");
}

static int name_is(const dv_form_field *fl, const char *name, size_t len)
{
    return fl->name_len == len && memcmp(fl->name, name, len) == 0;
}

const dv_form_field *dv_form_get(const dv_form *f, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < f->n; i++)
        if (name_is(&f->v[i], name, len)) return &f->v[i];
    return NULL;
}

const dv_form_field *dv_form_duplicate(const dv_form *f)
{
    for (size_t i = 0; i < f->n; i++)
        for (size_t j = i + 1; j < f->n; j++)
            if (name_is(&f->v[j], f->v[i].name, f->v[i].name_len)) return &f->v[i];
    return NULL;
}

/* ---- basic auth ------------------------------------------------------------------------------ */

int dv_rest_basic_auth(const char *hdr, size_t len, char *out, size_t cap, const char **user,
                       size_t *user_len, const char **password, size_t *password_len)
{
    static const char scheme[] = "basic";
    size_t i = 0;
    while (i < len && hdr[i] == ' ') i++;
    if (len - i < sizeof scheme) return -1;
    for (size_t k = 0; k < sizeof scheme - 1; k++) {
        char c = hdr[i + k];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != scheme[k]) return -1;
    }
    i += sizeof scheme - 1;
    if (hdr[i] != ' ') return -1;
    while (i < len && hdr[i] == ' ') i++;
    size_t end = len;
    while (end > i && hdr[end - 1] == ' ') end--;
    if (cap == 0) return -1;
    size_t n; /* standard padded base64, as RFC 7617 has it */
    if (dv_base64_decode(hdr + i, end - i, DV_BASE64_STRICT, (uint8_t *)out, cap - 1, &n) != 0)
        return -1;
    out[n] = '\0';
    const char *colon = memchr(out, ':', n);
    if (!colon || colon == out) return -1;
    *user = out;
    *user_len = (size_t)(colon - out);
    out[*user_len] = '\0';
    *password = colon + 1;
    *password_len = (size_t)n - *user_len - 1;
    return 0;
}

/* ---- Host header ----------------------------------------------------------------------------- */

static int name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static int port_ok(const char *p, size_t len)
{
    if (len == 0 || len > 5) return 0;
    for (size_t i = 0; i < len; i++)
        if (p[i] < '0' || p[i] > '9') return 0;
    return 1;
}

int dv_rest_host_parse(const char *hdr, size_t len, char *out, size_t cap)
{
    size_t hlen;
    if (len > 0 && hdr[0] == '[') {
        const char *close = memchr(hdr, ']', len);
        if (!close) return -1;
        hlen = (size_t)(close - hdr) + 1;
        if (hlen < 3) return -1;
        int zone = 0;
        for (size_t i = 1; i + 1 < hlen; i++) {
            char c = hdr[i];
            if (c == '%' && !zone && i > 1) {
                zone = 1;
                if (i + 2 == hlen) return -1; /* empty zone */
            } else if (zone ? !name_char(c) : !(hexval(c) >= 0 || c == ':' || c == '.')) {
                return -1;
            }
        }
    } else {
        const char *colon = memchr(hdr, ':', len);
        hlen = colon ? (size_t)(colon - hdr) : len;
        if (hlen == 0) return -1;
        for (size_t i = 0; i < hlen; i++)
            if (!name_char(hdr[i])) return -1;
    }
    if (hlen < len && (hdr[hlen] != ':' || !port_ok(hdr + hlen + 1, len - hlen - 1))) return -1;
    if (hlen > DV_REST_HOST_MAX || hlen + 1 > cap) return -1;
    memcpy(out, hdr, hlen);
    out[hlen] = '\0';
    return (int)hlen;
}
