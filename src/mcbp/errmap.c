/* XERROR bodies and the error map: see errmap.h. */
#include "mcbp/errmap.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "mcbp/protocol.h"

/* ---- helpers ---- */

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* 1..max_digits hex digits, nothing else. */
static int parse_hex(const char *s, size_t len, size_t max_digits, uint64_t *out)
{
    if (len == 0 || len > max_digits) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        int d = hex_digit((unsigned char)s[i]);
        if (d < 0) return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

static int dump_to_buf(const char *p, size_t n, void *ud)
{
    return dv_buf_append((dv_buf *)ud, p, n);
}

/* Serialize root compactly onto out; on failure out is left as it was. */
static dv_error dump_json(dv_buf *out, const json_t *root)
{
    size_t mark = dv_buf_size(out);
    if (json_dump_callback(root, dump_to_buf, out, JSON_COMPACT) != 0) {
        out->len = out->off + mark;
        return DV_ERR_NO_MEMORY;
    }
    return DV_ERR_OK;
}

/* A JSON string member of obj: 0 and *s = NULL when absent or null, -1 when of another type. */
static int get_string(const json_t *obj, const char *key, const json_t **s)
{
    const json_t *v = json_object_get(obj, key);
    *s = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return -1;
    *s = v;
    return 0;
}

static char *copy_string(const json_t *s)
{
    return dv_strndup(json_string_value(s), json_string_length(s));
}

/* ---- XERROR ---- */

void dv_xerror_free(dv_xerror *x)
{
    dv_free(x->context);
    dv_free(x->ref);
    memset(x, 0, sizeof *x);
}

dv_error dv_xerror_parse(const uint8_t *p, size_t len, dv_xerror *out)
{
    memset(out, 0, sizeof *out);
    if (len == 0) return DV_ERR_OK;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)p, len, 0, &jerr);
    if (!root) return DV_ERR_PARSING_FAILURE;
    dv_error rc = DV_ERR_PARSING_FAILURE;
    const json_t *s;
    if (!json_is_object(root)) goto done;
    const json_t *err = json_object_get(root, "error");
    if (err && !json_is_null(err)) {
        if (!json_is_object(err)) goto done;
        if (get_string(err, "context", &s) < 0) goto done;
        if (s && !(out->context = copy_string(s))) {
            rc = DV_ERR_NO_MEMORY;
            goto done;
        }
        if (get_string(err, "ref", &s) < 0) goto done;
        if (s && !(out->ref = copy_string(s))) {
            rc = DV_ERR_NO_MEMORY;
            goto done;
        }
    }
    if (get_string(root, "manifest_uid", &s) < 0) goto done;
    if (s) {
        if (parse_hex(json_string_value(s), json_string_length(s), 16, &out->manifest_uid) < 0)
            goto done;
        out->has_manifest_uid = 1;
    }
    rc = DV_ERR_OK;
done:
    json_decref(root);
    if (rc != DV_ERR_OK) dv_xerror_free(out);
    return rc;
}

/* Set key to a new JSON string; -1 if s is not UTF-8 or memory ran out. */
static int set_string(json_t *obj, const char *key, const char *s)
{
    json_t *v = json_string(s);
    return v ? json_object_set_new(obj, key, v) : -1;
}

dv_error dv_xerror_build(dv_buf *out, const char *context, const char *ref, int has_manifest_uid,
                         uint64_t manifest_uid)
{
    if (!context && !ref && !has_manifest_uid) return DV_ERR_OK;
    dv_error rc = DV_ERR_INVALID_ARGUMENT;
    json_t *root = json_object();
    if (!root) return DV_ERR_NO_MEMORY;
    if (context || ref) {
        json_t *err = json_object();
        if (!err || json_object_set_new(root, "error", err) != 0) goto done;
        if (context && set_string(err, "context", context) != 0) goto done;
        if (ref && set_string(err, "ref", ref) != 0) goto done;
    }
    if (has_manifest_uid) {
        char hex[17];
        snprintf(hex, sizeof hex, "%" PRIx64, manifest_uid);
        if (set_string(root, "manifest_uid", hex) != 0) goto done;
    }
    rc = dump_json(out, root);
done:
    json_decref(root);
    return rc;
}

/* ---- attributes ---- */

static const char *const attr_names[] = {
#define DV_X_(name, str, v) str,
    DV_ERRMAP_ATTRS(DV_X_)
#undef DV_X_
};

static const unsigned char attr_versions[] = {
#define DV_X_(name, str, v) v,
    DV_ERRMAP_ATTRS(DV_X_)
#undef DV_X_
};

uint32_t dv_errmap_attr_from_name(const char *name, size_t len)
{
    for (size_t i = 0; i < DV_ERRMAP_ATTR_COUNT; i++)
        if (strlen(attr_names[i]) == len && memcmp(attr_names[i], name, len) == 0) return 1u << i;
    return 0;
}

const char *dv_errmap_attr_name(uint32_t bit)
{
    for (size_t i = 0; i < DV_ERRMAP_ATTR_COUNT; i++)
        if (bit == 1u << i) return attr_names[i];
    return NULL;
}

/* ---- error map: build ---- */

typedef struct status_row {
    uint16_t code;
    const char *name, *desc, *attrs;
} status_row;

static const status_row status_rows[] = {
#define DV_X_(name, code, desc, attrs, err) {code, #name, desc, attrs},
    DV_STATUSES(DV_X_)
#undef DV_X_
};

/* 1 if every attribute of a row (comma-separated) belongs to the given map version. */
static int row_in_version(const status_row *r, unsigned version)
{
    for (const char *a = r->attrs; *a;) {
        const char *end = strchr(a, ',');
        size_t n = end ? (size_t)(end - a) : strlen(a);
        uint32_t bit = dv_errmap_attr_from_name(a, n);
        for (size_t i = 0; i < DV_ERRMAP_ATTR_COUNT; i++)
            if (bit == 1u << i && attr_versions[i] > version) return 0;
        a += n + (end ? 1 : 0);
    }
    return 1;
}

/* {"name":..,"desc":..,"attrs":[..]} for one row; attrs is comma-separated. */
static json_t *build_entry(const status_row *r)
{
    json_t *e = json_object(), *attrs = json_array();
    if (!e || !attrs || json_object_set_new(e, "name", json_string(r->name)) != 0 ||
        json_object_set_new(e, "desc", json_string(r->desc)) != 0)
        goto fail;
    for (const char *a = r->attrs; *a;) {
        const char *end = strchr(a, ',');
        size_t n = end ? (size_t)(end - a) : strlen(a);
        if (json_array_append_new(attrs, json_stringn(a, n)) != 0) goto fail;
        a += n + (end ? 1 : 0);
    }
    if (json_object_set_new(e, "attrs", attrs) != 0) {
        attrs = NULL; /* owned (and freed) by e on failure */
        goto fail;
    }
    return e;
fail:
    json_decref(attrs);
    json_decref(e);
    return NULL;
}

dv_error dv_errmap_build(dv_buf *out, unsigned version, uint16_t revision)
{
    if (version < 1 || version > DV_ERRMAP_VERSION) return DV_ERR_INVALID_ARGUMENT;
    dv_error rc = DV_ERR_NO_MEMORY;
    json_t *root = json_object(), *errors = json_object();
    if (!root || !errors) {
        json_decref(errors);
        goto done;
    }
    if (json_object_set_new(root, "version", json_integer(version)) != 0 ||
        json_object_set_new(root, "revision", json_integer(revision)) != 0 ||
        json_object_set_new(root, "errors", errors) != 0)
        goto done;
    for (size_t i = 0; i < sizeof status_rows / sizeof status_rows[0]; i++) {
        const status_row *r = &status_rows[i];
        if (!r->attrs[0]) continue; /* known to clients but not served */
        if (!row_in_version(r, version)) continue;
        char key[8];
        snprintf(key, sizeof key, "%x", (unsigned)r->code);
        if (json_object_set_new(errors, key, build_entry(r)) != 0) goto done;
    }
    rc = dump_json(out, root);
done:
    json_decref(root);
    return rc;
}

/* ---- error map: parse ---- */

static void set_why(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_why(char *why, size_t why_len, const char *fmt, ...)
{
    if (!why || !why_len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

void dv_errmap_free(dv_errmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        dv_free(m->entries[i].name);
        dv_free(m->entries[i].desc);
    }
    dv_free(m->entries);
    memset(m, 0, sizeof *m);
}

static int cmp_entry(const void *a, const void *b)
{
    const dv_errmap_entry *x = a, *y = b;
    return (x->status > y->status) - (x->status < y->status);
}

/* Fill e from one member of "errors"; the caller has counted e in the map so it is freed on
 * failure. */
static dv_error parse_entry(const char *key, const json_t *v, dv_errmap_entry *e, char *why,
                            size_t why_len)
{
    uint64_t code;
    const json_t *s;
    if (parse_hex(key, strlen(key), 4, &code) < 0) {
        set_why(why, why_len, "errors[\"%.40s\"]: key is not a status in hex", key);
        return DV_ERR_PARSING_FAILURE;
    }
    e->status = (uint16_t)code;
    if (!json_is_object(v)) {
        set_why(why, why_len, "errors[\"%s\"]: not an object", key);
        return DV_ERR_PARSING_FAILURE;
    }
    static const char *const members[] = {"name", "desc"};
    for (size_t i = 0; i < 2; i++) {
        if (!json_object_get(v, members[i])) {
            set_why(why, why_len, "errors[\"%s\"]: missing \"%s\"", key, members[i]);
            return DV_ERR_PARSING_FAILURE;
        }
        if (get_string(v, members[i], &s) < 0 || !s) {
            set_why(why, why_len, "errors[\"%s\"]: \"%s\" must be a string", key, members[i]);
            return DV_ERR_PARSING_FAILURE;
        }
        char *copy = copy_string(s);
        if (!copy) return DV_ERR_NO_MEMORY;
        if (i == 0)
            e->name = copy;
        else
            e->desc = copy;
    }
    const json_t *attrs = json_object_get(v, "attrs");
    if (!attrs) {
        set_why(why, why_len, "errors[\"%s\"]: missing \"attrs\"", key);
        return DV_ERR_PARSING_FAILURE;
    }
    if (!json_is_array(attrs)) goto bad_attrs;
    for (size_t i = 0; i < json_array_size(attrs); i++) {
        const json_t *a = json_array_get(attrs, i);
        if (!json_is_string(a)) goto bad_attrs;
        e->attrs |= dv_errmap_attr_from_name(json_string_value(a), json_string_length(a));
    }
    return DV_ERR_OK;
bad_attrs:
    set_why(why, why_len, "errors[\"%s\"]: \"attrs\" must be an array of strings", key);
    return DV_ERR_PARSING_FAILURE;
}

dv_error dv_errmap_parse(const uint8_t *p, size_t len, dv_errmap *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof *out);
    set_why(why, why_len, "%s", "");
    json_error_t jerr;
    json_t *root = json_loadb(p ? (const char *)p : "", len, 0, &jerr);
    if (!root) {
        set_why(why, why_len, "error map is not valid JSON: %s (line %d, column %d)", jerr.text,
                jerr.line, jerr.column);
        return DV_ERR_PARSING_FAILURE;
    }
    dv_error rc = DV_ERR_PARSING_FAILURE;
    if (!json_is_object(root)) {
        set_why(why, why_len, "error map is not a JSON object");
        goto done;
    }
    const json_t *version = json_object_get(root, "version");
    if (json_is_integer(version)) out->version = json_integer_value(version);
    const json_t *rev = json_object_get(root, "revision");
    if (!rev) {
        set_why(why, why_len, "error map: missing \"revision\"");
        goto done;
    }
    if (!json_is_integer(rev) || json_integer_value(rev) < 0 ||
        json_integer_value(rev) > UINT16_MAX) {
        set_why(why, why_len, "error map: \"revision\" must be an integer from 0 to 65535");
        goto done;
    }
    out->revision = (uint16_t)json_integer_value(rev);
    const json_t *errors = json_object_get(root, "errors");
    if (!errors) {
        set_why(why, why_len, "error map: missing \"errors\"");
        goto done;
    }
    if (!json_is_object(errors)) {
        set_why(why, why_len, "error map: \"errors\" must be an object");
        goto done;
    }
    size_t n = json_object_size(errors);
    if (n) {
        out->entries = dv_calloc(n, sizeof *out->entries);
        if (!out->entries) {
            rc = DV_ERR_NO_MEMORY;
            goto done;
        }
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)errors, key, v)
    {
        if (out->n == n) break; /* cannot happen: the object is not modified */
        rc = parse_entry(key, v, &out->entries[out->n++], why, why_len);
        if (rc != DV_ERR_OK) goto done;
    }
    if (out->n > 1) qsort(out->entries, out->n, sizeof *out->entries, cmp_entry);
    for (size_t i = 1; i < out->n; i++) {
        if (out->entries[i].status == out->entries[i - 1].status) {
            set_why(why, why_len, "error map: status 0x%x listed twice",
                    (unsigned)out->entries[i].status);
            rc = DV_ERR_PARSING_FAILURE;
            goto done;
        }
    }
    rc = DV_ERR_OK;
done:
    json_decref(root);
    if (rc != DV_ERR_OK) dv_errmap_free(out);
    return rc;
}

const dv_errmap_entry *dv_errmap_find(const dv_errmap *m, uint16_t status)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->entries[mid].status == status) return &m->entries[mid];
        if (m->entries[mid].status < status)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int dv_errmap_retryable(const dv_errmap *m, uint16_t status)
{
    const dv_errmap_entry *e = dv_errmap_find(m, status);
    if (!e) return 0;
    const uint32_t retry =
        DV_ERRMAP_ATTR_RETRY_NOW | DV_ERRMAP_ATTR_RETRY_LATER | DV_ERRMAP_ATTR_AUTO_RETRY;
    return (e->attrs & retry) && !(e->attrs & DV_ERRMAP_ATTR_NO_RETRY);
}

const char *dv_errmap_name(const dv_errmap *m, uint16_t status)
{
    const dv_errmap_entry *e = dv_errmap_find(m, status);
    return e ? e->name : NULL;
}
