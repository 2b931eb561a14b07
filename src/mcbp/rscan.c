/* The range-scan bodies; see rscan.h. */
#include "mcbp/rscan.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/endian.h"
#include "mcbp/frame.h"
#include "mcbp/leb128.h"

/* ---- Create ------------------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *why)
{
    if (errlen) snprintf(err, errlen, "%s", why);
    return -1;
}

/* One bound of a range: name or its exclusive spelling, base64. 0, or -1. */
static int get_term(json_t *range, const char *incl, const char *excl, uint8_t *out, size_t *len,
                    int *exclusive)
{
    json_t *v = json_object_get(range, incl);
    *exclusive = 0;
    if (!v) {
        v = json_object_get(range, excl);
        *exclusive = 1;
    }
    if (!json_is_string(v)) return -1;
    /* Standard base64, the padding optional. */
    return dv_base64_decode(json_string_value(v), json_string_length(v), DV_BASE64_LOOSE, out,
                            DV_RSCAN_TERM_MAX, len);
}

/* A real stands for an integer above INT64_MAX (see dv_rscan_create_parse). */
static int real_u64(json_t *v, uint64_t *out)
{
    double d = json_real_value(v);
    if (!(d >= 0 && d < 18446744073709551616.0) || d != (double)(uint64_t)d) return -1;
    *out = (uint64_t)d;
    return 0;
}

static int get_u64(json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) return real_u64(v, out);
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        if (!*s || *s == '-') return -1;
        unsigned long long x = strtoull(s, &end, 10);
        if (errno || *end) return -1;
        *out = x;
        return 0;
    }
    return -1;
}

static int parse_root(json_t *root, dv_rscan_create *out, char *err, size_t errlen)
{
    if (!json_is_object(root)) return fail(err, errlen, "the value is not a JSON object");
    json_t *v = json_object_get(root, "collection");
    if (v) {
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        char *end;
        errno = 0;
        unsigned long x = *s && *s != '-' ? strtoul(s, &end, 16) : 0;
        if (!*s || *s == '-' || errno || *end || x > UINT32_MAX)
            return fail(err, errlen, "collection is not a hexadecimal collection id");
        out->cid = (uint32_t)x;
    }
    v = json_object_get(root, "key_only");
    if (v && !json_is_boolean(v)) return fail(err, errlen, "key_only is not a boolean");
    out->key_only = json_is_true(v);
    json_t *range = json_object_get(root, "range");
    json_t *sampling = json_object_get(root, "sampling");
    if (!!range == !!sampling) return fail(err, errlen, "exactly one of range and sampling");
    if (range) {
        if (!json_is_object(range)) return fail(err, errlen, "range is not an object");
        if (get_term(range, "start", "excl_start", out->start, &out->start_len, &out->excl_start) ||
            get_term(range, "end", "excl_end", out->end, &out->end_len, &out->excl_end))
            return fail(err, errlen, "range needs base64 start and end keys");
    } else {
        out->sampling = 1;
        if (!json_is_object(sampling)) return fail(err, errlen, "sampling is not an object");
        if (get_u64(json_object_get(sampling, "samples"), &out->samples) || !out->samples)
            return fail(err, errlen, "sampling needs a positive samples");
        v = json_object_get(sampling, "seed");
        out->seed = 0;
        if (v && json_is_integer(v))
            out->seed = (uint64_t)json_integer_value(v);
        else if (v && (!json_is_real(v) || real_u64(v, &out->seed)))
            return fail(err, errlen, "seed is not a number");
    }
    json_t *snap = json_object_get(root, "snapshot_requirements");
    if (snap) {
        out->has_snapshot = 1;
        if (!json_is_object(snap) || get_u64(json_object_get(snap, "vb_uuid"), &out->vb_uuid) ||
            get_u64(json_object_get(snap, "seqno"), &out->seqno))
            return fail(err, errlen, "snapshot_requirements needs vb_uuid and seqno");
        v = json_object_get(snap, "timeout_ms");
        if (v && get_u64(v, &out->timeout_ms))
            return fail(err, errlen, "timeout_ms is not a number");
        v = json_object_get(snap, "seqno_exists");
        if (v && !json_is_boolean(v)) return fail(err, errlen, "seqno_exists is not a boolean");
        out->seqno_exists = json_is_true(v);
    }
    return 0;
}

int dv_rscan_create_parse(const void *p, size_t n, dv_rscan_create *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_loadb(p ? (const char *)p : "", n, 0, &jerr);
    /* jansson's integers are int64: a number above that (the official core's random 64-bit
     * seed of a sampling scan without one) fails the parse; then the numbers are read as reals
     * (exact up to 2^53, which seqnos never reach; a seed only has to be repeatable). */
    if (!root) root = json_loadb(p ? (const char *)p : "", n, JSON_DECODE_INT_AS_REAL, &jerr);
    if (!root) return fail(err, errlen, "the value is not JSON");
    int rc = parse_root(root, out, err, errlen);
    json_decref(root);
    return rc;
}

/* ---- Continue ----------------------------------------------------------------------------- */

void dv_rscan_continue_decode(const uint8_t x[DV_RSCAN_CONTINUE_EXTRAS_LEN], dv_rscan_continue *c)
{
    memcpy(c->id, x, DV_RSCAN_ID_LEN);
    c->item_limit = dv_load_be32(x + 16);
    c->time_limit_ms = dv_load_be32(x + 20);
    c->byte_limit = dv_load_be32(x + 24);
}

void dv_rscan_continue_encode(uint8_t x[DV_RSCAN_CONTINUE_EXTRAS_LEN], const dv_rscan_continue *c)
{
    memcpy(x, c->id, DV_RSCAN_ID_LEN);
    dv_store_be32(x + 16, c->item_limit);
    dv_store_be32(x + 20, c->time_limit_ms);
    dv_store_be32(x + 24, c->byte_limit);
}

/* ---- Records ------------------------------------------------------------------------------ */

static int put_bytes(dv_buf *b, const void *p, size_t n)
{
    uint8_t len[DV_LEB128_MAX];
    if (n > UINT32_MAX) return -1;
    size_t k = dv_leb128_encode((uint32_t)n, len);
    return dv_buf_append(b, len, k) || dv_buf_append(b, p, n) ? -1 : 0;
}

int dv_rscan_put_key(dv_buf *b, const void *key, size_t nkey)
{
    return put_bytes(b, key, nkey);
}

int dv_rscan_put_doc(dv_buf *b, const dv_rscan_doc *d)
{
    uint8_t m[DV_RSCAN_DOC_META_LEN];
    dv_store_be32(m, d->flags);
    dv_store_be32(m + 4, d->expiry);
    dv_store_be64(m + 8, d->seqno);
    dv_store_be64(m + 16, d->cas);
    m[24] = d->datatype;
    if (dv_buf_append(b, m, sizeof m)) return -1;
    return put_bytes(b, d->key, d->nkey) || put_bytes(b, d->value, d->nvalue) ? -1 : 0;
}

static long get_bytes(const uint8_t *p, size_t n, const uint8_t **v, size_t *nv)
{
    uint32_t len;
    size_t k;
    if (dv_leb128_decode(p, n, &len, &k) != DV_MCBP_OK || len > n - k) return -1;
    *v = p + k;
    *nv = len;
    return (long)(k + len);
}

long dv_rscan_get_key(const uint8_t *p, size_t n, const uint8_t **key, size_t *nkey)
{
    return get_bytes(p, n, key, nkey);
}

long dv_rscan_get_doc(const uint8_t *p, size_t n, dv_rscan_doc *d)
{
    if (n < DV_RSCAN_DOC_META_LEN) return -1;
    d->flags = dv_load_be32(p);
    d->expiry = dv_load_be32(p + 4);
    d->seqno = dv_load_be64(p + 8);
    d->cas = dv_load_be64(p + 16);
    d->datatype = p[24];
    size_t pos = DV_RSCAN_DOC_META_LEN;
    long k = get_bytes(p + pos, n - pos, &d->key, &d->nkey);
    if (k < 0) return -1;
    pos += (size_t)k;
    long v = get_bytes(p + pos, n - pos, &d->value, &d->nvalue);
    if (v < 0) return -1;
    return (long)(pos + (size_t)v);
}
