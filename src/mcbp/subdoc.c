/* Sub-document codec: see subdoc.h. The validation order follows kv_engine's validators, so
 * that divan-server answers a bad request with the status a Couchbase node would give. */
#include "mcbp/subdoc.h"
#include <string.h>

#include "base/endian.h"
#include "mcbp/opcode.h"

#define LOOKUP_SPEC_HDR    4 /* u8 opcode | u8 flags | u16 path_len */
#define MUTATION_SPEC_HDR  8 /* ... | u32 value_len */
#define LOOKUP_RES_HDR     6 /* u16 status | u32 value_len */
#define MUTATION_RES_HDR   7 /* u8 index | u16 status | u32 value_len */
#define MUTATION_FAIL_LEN  3 /* u8 index | u16 status */
#define SINGLE_EXTRAS_BASE 3

#define FAIL(status, msg)                                                                          \
    do {                                                                                           \
        if (why) *why = (msg);                                                                     \
        return (status);                                                                           \
    } while (0)

#define P_MKDIR  DV_SUBDOC_PATH_MKDIR_P
#define P_XATTR  DV_SUBDOC_PATH_XATTR
#define P_MACRO  DV_SUBDOC_PATH_EXPAND_MACROS
#define P_BINARY DV_SUBDOC_PATH_BINARY_VALUE
#define P_KNOWN  (P_MKDIR | P_XATTR | P_MACRO | P_BINARY)

/* What each spec opcode allows. */
typedef struct op_traits {
    uint8_t opcode;
    uint8_t mutation;       /* belongs in a multi-mutation */
    uint8_t whole_doc;      /* operates on the whole body: the path must be empty */
    uint8_t has_value;      /* a value is required (and forbidden otherwise) */
    uint8_t empty_path_ok;  /* an empty path addresses the document root */
    uint8_t valid_flags;    /* path flags the opcode accepts */
    uint8_t required_flags; /* path flags it needs */
    uint8_t singleton;      /* must be the only body spec (whole-document delete) */
} op_traits;

static const op_traits traits[] = {
    /* lookups */
    {DV_SUBDOC_OP_GET_DOC, 0, 1, 0, 1, 0, 0, 0},
    {DV_OP_SUBDOC_GET, 0, 0, 0, 0, P_XATTR | P_BINARY, 0, 0},
    {DV_OP_SUBDOC_EXISTS, 0, 0, 0, 0, P_XATTR, 0, 0},
    {DV_OP_SUBDOC_GET_COUNT, 0, 0, 0, 1, P_XATTR, 0, 0},
    /* mutations */
    {DV_SUBDOC_OP_SET_DOC, 1, 1, 1, 1, 0, 0, 0},
    {DV_SUBDOC_OP_DELETE_DOC, 1, 1, 0, 1, 0, 0, 1},
    {DV_OP_SUBDOC_DICT_ADD, 1, 0, 1, 0, P_MKDIR | P_XATTR | P_MACRO | P_BINARY, 0, 0},
    {DV_OP_SUBDOC_DICT_UPSERT, 1, 0, 1, 0, P_MKDIR | P_XATTR | P_MACRO | P_BINARY, 0, 0},
    {DV_OP_SUBDOC_DELETE, 1, 0, 0, 0, P_XATTR, 0, 0},
    {DV_OP_SUBDOC_REPLACE, 1, 0, 1, 0, P_XATTR | P_MACRO | P_BINARY, 0, 0},
    {DV_OP_SUBDOC_ARRAY_PUSH_LAST, 1, 0, 1, 1, P_MKDIR | P_XATTR | P_MACRO, 0, 0},
    {DV_OP_SUBDOC_ARRAY_PUSH_FIRST, 1, 0, 1, 1, P_MKDIR | P_XATTR | P_MACRO, 0, 0},
    {DV_OP_SUBDOC_ARRAY_INSERT, 1, 0, 1, 0, P_XATTR | P_MACRO, 0, 0},
    {DV_OP_SUBDOC_ARRAY_ADD_UNIQUE, 1, 0, 1, 1, P_MKDIR | P_XATTR, 0, 0},
    {DV_OP_SUBDOC_COUNTER, 1, 0, 1, 0, P_MKDIR | P_XATTR, 0, 0},
    {DV_OP_SUBDOC_REPLACE_BODY_WITH_XATTR, 1, 0, 0, 0, P_XATTR, P_XATTR, 0},
};

static const op_traits *find_traits(uint8_t opcode)
{
    for (size_t i = 0; i < sizeof traits / sizeof traits[0]; i++)
        if (traits[i].opcode == opcode) return &traits[i];
    return NULL;
}

int dv_subdoc_is_lookup_op(uint8_t opcode)
{
    const op_traits *t = find_traits(opcode);
    return t && !t->mutation;
}

int dv_subdoc_is_mutation_op(uint8_t opcode)
{
    const op_traits *t = find_traits(opcode);
    return t && t->mutation;
}

/* ---- validation ---- */

/* The rules that concern one spec alone; t is the opcode's traits (kind already checked). */
static dv_status check_one(const op_traits *t, const dv_subdoc_spec *s, const char **why)
{
    uint8_t f = s->flags;
    if (f & ~P_KNOWN) FAIL(DV_STATUS_EINVAL, "unknown sub-document path flags");
    if ((f & (P_MACRO | P_BINARY)) && !(f & P_XATTR))
        FAIL(DV_STATUS_SUBDOC_XATTR_INVALID_FLAG_COMBO,
             "EXPAND_MACROS and BINARY_VALUE require the XATTR_PATH flag");
    if (f & ~t->valid_flags) FAIL(DV_STATUS_EINVAL, "path flags not valid for this opcode");
    if ((f & t->required_flags) != t->required_flags)
        FAIL(DV_STATUS_EINVAL, "opcode requires the XATTR_PATH flag");
    if (s->path_len > DV_SUBDOC_MAX_PATH_LEN)
        FAIL(DV_STATUS_SUBDOC_PATH_E2BIG, "path longer than 1024 bytes");
    if (t->whole_doc && s->path_len > 0)
        FAIL(DV_STATUS_EINVAL, "whole-document operations take an empty path");
    if (f & P_XATTR) {
        if (s->path_len == 0) FAIL(DV_STATUS_XATTR_EINVAL, "empty xattr path");
        if (t->mutation && s->path[0] == '$')
            FAIL(DV_STATUS_SUBDOC_XATTR_CANT_MODIFY_VATTR, "virtual xattrs cannot be modified");
    } else if (!t->empty_path_ok && s->path_len == 0) {
        FAIL(DV_STATUS_EINVAL, "this opcode requires a path");
    }
    if (t->has_value && s->value_len == 0) FAIL(DV_STATUS_EINVAL, "this opcode requires a value");
    if (!t->has_value && s->value_len != 0)
        FAIL(DV_STATUS_EINVAL, "this opcode does not take a value");
    return DV_STATUS_SUCCESS;
}

/* Rules across the specs of one request. */
typedef struct seq_state {
    int body_seen; /* a spec on the body was seen: no xattr spec may follow */
    int closed;    /* a whole-document delete was seen: nothing may follow */
} seq_state;

static dv_status check_next(seq_state *st, int mutation, const dv_subdoc_spec *s, const char **why)
{
    if (st->closed)
        FAIL(DV_STATUS_SUBDOC_INVALID_COMBO, "no spec may follow a whole-document delete");
    const op_traits *t = find_traits(s->opcode);
    if (!t) FAIL(DV_STATUS_SUBDOC_INVALID_COMBO, "unknown sub-document spec opcode");
    if (t->mutation != (mutation != 0))
        FAIL(DV_STATUS_SUBDOC_INVALID_COMBO,
             mutation ? "lookup opcode in a multi-mutation" : "mutation opcode in a multi-lookup");
    dv_status rc = check_one(t, s, why);
    if (rc != DV_STATUS_SUCCESS) return rc;
    if (s->flags & P_XATTR) {
        if (st->body_seen)
            FAIL(DV_STATUS_SUBDOC_INVALID_XATTR_ORDER, "xattr specs must come before body specs");
    } else {
        if (t->singleton && st->body_seen)
            FAIL(DV_STATUS_SUBDOC_INVALID_COMBO,
                 "a whole-document delete must be the only body spec");
        st->body_seen = 1;
    }
    if (t->singleton) st->closed = 1;
    return DV_STATUS_SUCCESS;
}

dv_status dv_subdoc_specs_check(int mutation, const dv_subdoc_spec *specs, size_t n,
                                const char **why)
{
    if (n == 0) FAIL(DV_STATUS_SUBDOC_INVALID_COMBO, "a request needs at least one spec");
    if (n > DV_SUBDOC_MAX_SPECS) FAIL(DV_STATUS_SUBDOC_INVALID_COMBO, "more than 16 specs");
    seq_state st = {0, 0};
    for (size_t i = 0; i < n; i++) {
        dv_status rc = check_next(&st, mutation, &specs[i], why);
        if (rc != DV_STATUS_SUCCESS) return rc;
    }
    return DV_STATUS_SUCCESS;
}

static dv_status check_lookup_doc_flags(uint8_t f, const char **why)
{
    if (f & ~(DV_SUBDOC_DOC_ACCESS_DELETED | DV_SUBDOC_DOC_REPLICA_READ))
        FAIL(DV_STATUS_EINVAL, "doc flags not valid for a lookup");
    if ((f & DV_SUBDOC_DOC_ACCESS_DELETED) && (f & DV_SUBDOC_DOC_REPLICA_READ))
        FAIL(DV_STATUS_EINVAL, "deleted documents cannot be read on replicas");
    return DV_STATUS_SUCCESS;
}

static dv_status check_mutation_doc_flags(uint8_t f, const char **why)
{
    const uint8_t valid = DV_SUBDOC_DOC_MKDOC | DV_SUBDOC_DOC_ADD | DV_SUBDOC_DOC_ACCESS_DELETED |
                          DV_SUBDOC_DOC_CREATE_AS_DELETED | DV_SUBDOC_DOC_REVIVE_DOCUMENT;
    if (f & ~valid) FAIL(DV_STATUS_EINVAL, "doc flags not valid for a mutation");
    if ((f & DV_SUBDOC_DOC_MKDOC) && (f & DV_SUBDOC_DOC_ADD))
        FAIL(DV_STATUS_EINVAL, "doc flags MKDOC and ADD exclude each other");
    if ((f & DV_SUBDOC_DOC_CREATE_AS_DELETED) && !(f & (DV_SUBDOC_DOC_MKDOC | DV_SUBDOC_DOC_ADD)))
        FAIL(DV_STATUS_EINVAL, "CREATE_AS_DELETED requires MKDOC or ADD");
    if (f & DV_SUBDOC_DOC_REVIVE_DOCUMENT) {
        if (!(f & DV_SUBDOC_DOC_ACCESS_DELETED))
            FAIL(DV_STATUS_EINVAL, "REVIVE_DOCUMENT requires ACCESS_DELETED");
        if (f & DV_SUBDOC_DOC_CREATE_AS_DELETED)
            FAIL(DV_STATUS_EINVAL, "REVIVE_DOCUMENT excludes CREATE_AS_DELETED");
    }
    return DV_STATUS_SUCCESS;
}

/* ---- request specs ---- */

static void put_bytes(uint8_t **w, const void *p, size_t n)
{
    if (n) memcpy(*w, p, n);
    *w += n;
}

static dv_error encode_specs(dv_buf *out, int mutation, const dv_subdoc_spec *specs, size_t n)
{
    size_t hdr = mutation ? MUTATION_SPEC_HDR : LOOKUP_SPEC_HDR, total = 0;
    for (size_t i = 0; i < n; i++) {
        const dv_subdoc_spec *s = &specs[i];
        if (s->path_len > UINT16_MAX) return DV_ERR_INVALID_ARGUMENT;
        if (!mutation && s->value_len) return DV_ERR_INVALID_ARGUMENT;
        if (s->value_len > UINT32_MAX) return DV_ERR_INVALID_ARGUMENT;
        size_t sz = hdr + s->path_len;
        if (s->value_len > SIZE_MAX - sz || sz + s->value_len > SIZE_MAX - total)
            return DV_ERR_INVALID_ARGUMENT;
        total += sz + s->value_len;
    }
    if (total == 0) return DV_ERR_OK;
    uint8_t *w = dv_buf_reserve(out, total);
    if (!w) return DV_ERR_NO_MEMORY;
    for (size_t i = 0; i < n; i++) {
        const dv_subdoc_spec *s = &specs[i];
        w[0] = s->opcode;
        w[1] = s->flags;
        dv_store_be16(w + 2, (uint16_t)s->path_len);
        if (mutation) dv_store_be32(w + 4, (uint32_t)s->value_len);
        w += hdr;
        put_bytes(&w, s->path, s->path_len);
        if (mutation) put_bytes(&w, s->value, s->value_len);
    }
    dv_buf_commit(out, total);
    return DV_ERR_OK;
}

dv_error dv_subdoc_lookup_encode(dv_buf *out, const dv_subdoc_spec *specs, size_t n)
{
    return encode_specs(out, 0, specs, n);
}

dv_error dv_subdoc_mutation_encode(dv_buf *out, const dv_subdoc_spec *specs, size_t n)
{
    return encode_specs(out, 1, specs, n);
}

static dv_status decode_specs(int mutation, const uint8_t *p, size_t len, dv_subdoc_spec *out,
                              size_t *n, const char **why)
{
    size_t hdr = mutation ? MUTATION_SPEC_HDR : LOOKUP_SPEC_HDR, off = 0, count = 0;
    seq_state st = {0, 0};
    *n = 0;
    while (off < len) {
        if (count == DV_SUBDOC_MAX_SPECS)
            FAIL(DV_STATUS_SUBDOC_INVALID_COMBO, "more than 16 specs");
        size_t rem = len - off;
        if (rem < hdr) FAIL(DV_STATUS_EINVAL, "sub-document spec truncated");
        const uint8_t *h = p + off;
        dv_subdoc_spec s;
        s.opcode = h[0];
        s.flags = h[1];
        s.path_len = dv_load_be16(h + 2);
        s.value_len = mutation ? dv_load_be32(h + 4) : 0;
        if (s.path_len > rem - hdr) FAIL(DV_STATUS_EINVAL, "sub-document spec path truncated");
        if (s.value_len > rem - hdr - s.path_len)
            FAIL(DV_STATUS_EINVAL, "sub-document spec value truncated");
        s.path = (const char *)(h + hdr);
        s.value = mutation ? h + hdr + s.path_len : NULL;
        out[count++] = s;
        *n = count;
        dv_status rc = check_next(&st, mutation, &s, why);
        if (rc != DV_STATUS_SUCCESS) return rc;
        off += hdr + s.path_len + s.value_len;
    }
    if (count == 0) FAIL(DV_STATUS_SUBDOC_INVALID_COMBO, "a request needs at least one spec");
    return DV_STATUS_SUCCESS;
}

dv_status dv_subdoc_lookup_decode(const uint8_t *p, size_t len,
                                  dv_subdoc_spec out[DV_SUBDOC_MAX_SPECS], size_t *n,
                                  const char **why)
{
    return decode_specs(0, p, len, out, n, why);
}

dv_status dv_subdoc_mutation_decode(const uint8_t *p, size_t len,
                                    dv_subdoc_spec out[DV_SUBDOC_MAX_SPECS], size_t *n,
                                    const char **why)
{
    return decode_specs(1, p, len, out, n, why);
}

/* ---- extras ---- */

dv_status dv_subdoc_lookup_extras_decode(const uint8_t *p, size_t len, uint8_t *doc_flags,
                                         const char **why)
{
    *doc_flags = 0;
    if (len > 1) FAIL(DV_STATUS_EINVAL, "multi-lookup extras must be 0 or 1 byte");
    if (len == 1) *doc_flags = p[0];
    return check_lookup_doc_flags(*doc_flags, why);
}

dv_error dv_subdoc_lookup_extras_encode(dv_buf *out, uint8_t doc_flags)
{
    if (!doc_flags) return DV_ERR_OK;
    return dv_buf_append_u8(out, doc_flags) ? DV_ERR_NO_MEMORY : DV_ERR_OK;
}

/* The optional tail shared by multi-mutation and single-path extras: lengths 0, 1, 4, 5, 8, 9. */
static dv_status decode_tail(const uint8_t *p, size_t len, dv_subdoc_extras *x, const char **why)
{
    memset(x, 0, sizeof *x);
    if (len > 9 || len == 2 || len == 3 || len == 6 || len == 7)
        FAIL(DV_STATUS_EINVAL, "invalid sub-document extras length");
    if (len >= 4) {
        x->has_expiry = 1;
        x->expiry = dv_load_be32(p);
    }
    if (len >= 8) {
        x->has_user_flags = 1;
        x->user_flags = dv_load_be32(p + 4);
    }
    if (len & 1) {
        x->has_doc_flags = 1;
        x->doc_flags = p[len - 1];
    }
    return DV_STATUS_SUCCESS;
}

static size_t tail_len(const dv_subdoc_extras *x)
{
    size_t n = 0;
    if (x->has_expiry || x->has_user_flags) n += 4;
    if (x->has_user_flags) n += 4;
    if (x->has_doc_flags) n += 1;
    return n;
}

static uint8_t *encode_tail(uint8_t *w, const dv_subdoc_extras *x)
{
    if (x->has_expiry || x->has_user_flags) {
        dv_store_be32(w, x->expiry);
        w += 4;
    }
    if (x->has_user_flags) {
        dv_store_be32(w, x->user_flags);
        w += 4;
    }
    if (x->has_doc_flags) *w++ = x->doc_flags;
    return w;
}

dv_status dv_subdoc_mutation_extras_decode(const uint8_t *p, size_t len, dv_subdoc_extras *out,
                                           const char **why)
{
    dv_status rc = decode_tail(p, len, out, why);
    if (rc != DV_STATUS_SUCCESS) return rc;
    return check_mutation_doc_flags(out->doc_flags, why);
}

dv_error dv_subdoc_mutation_extras_encode(dv_buf *out, const dv_subdoc_extras *x)
{
    size_t n = tail_len(x);
    if (n == 0) return DV_ERR_OK;
    uint8_t *w = dv_buf_reserve(out, n);
    if (!w) return DV_ERR_NO_MEMORY;
    encode_tail(w, x);
    dv_buf_commit(out, n);
    return DV_ERR_OK;
}

dv_status dv_subdoc_single_decode(uint8_t opcode, const uint8_t *extras, size_t extras_len,
                                  const uint8_t *body, size_t body_len, dv_subdoc_single *out,
                                  const char **why)
{
    memset(out, 0, sizeof *out);
    const op_traits *t = find_traits(opcode);
    if (!t || t->whole_doc) FAIL(DV_STATUS_EINVAL, "not a single-path sub-document opcode");
    if (extras_len < SINGLE_EXTRAS_BASE) FAIL(DV_STATUS_EINVAL, "sub-document extras truncated");
    if (!t->mutation && extras_len != 3 && extras_len != 4)
        FAIL(DV_STATUS_EINVAL, "sub-document lookup extras must be 3 or 4 bytes");
    dv_status rc =
        decode_tail(extras + SINGLE_EXTRAS_BASE, extras_len - SINGLE_EXTRAS_BASE, &out->x, why);
    if (rc != DV_STATUS_SUCCESS) return rc;
    rc = t->mutation ? check_mutation_doc_flags(out->x.doc_flags, why)
                     : check_lookup_doc_flags(out->x.doc_flags, why);
    if (rc != DV_STATUS_SUCCESS) return rc;
    dv_subdoc_spec *s = &out->spec;
    s->opcode = opcode;
    s->flags = extras[2];
    s->path_len = dv_load_be16(extras);
    if (s->path_len > body_len) FAIL(DV_STATUS_EINVAL, "path longer than the request body");
    s->path = (const char *)body;
    s->value = body ? body + s->path_len : NULL; /* an empty body arrives as NULL */
    s->value_len = body_len - s->path_len;
    return check_one(t, s, why);
}

dv_error dv_subdoc_single_extras_encode(dv_buf *out, uint16_t path_len, uint8_t path_flags,
                                        const dv_subdoc_extras *x)
{
    size_t n = SINGLE_EXTRAS_BASE + tail_len(x);
    uint8_t *w = dv_buf_reserve(out, n);
    if (!w) return DV_ERR_NO_MEMORY;
    dv_store_be16(w, path_len);
    w[2] = path_flags;
    encode_tail(w + SINGLE_EXTRAS_BASE, x);
    dv_buf_commit(out, n);
    return DV_ERR_OK;
}

/* ---- responses ---- */

static int is_success_top(uint16_t s)
{
    return s == DV_STATUS_SUCCESS || s == DV_STATUS_SUBDOC_SUCCESS_DELETED;
}

static int is_failure_top(uint16_t s)
{
    return s == DV_STATUS_SUBDOC_MULTI_PATH_FAILURE ||
           s == DV_STATUS_SUBDOC_MULTI_PATH_FAILURE_DELETED;
}

dv_error dv_subdoc_lookup_res_encode(dv_buf *out, const dv_subdoc_result *r, size_t n)
{
    if (n > DV_SUBDOC_MAX_SPECS) return DV_ERR_INVALID_ARGUMENT;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!dv_subdoc_status_known(r[i].status)) return DV_ERR_INVALID_ARGUMENT;
        if (r[i].value_len > UINT32_MAX || r[i].value_len > SIZE_MAX - LOOKUP_RES_HDR - total)
            return DV_ERR_INVALID_ARGUMENT;
        total += LOOKUP_RES_HDR + r[i].value_len;
    }
    if (total == 0) return DV_ERR_OK;
    uint8_t *w = dv_buf_reserve(out, total);
    if (!w) return DV_ERR_NO_MEMORY;
    for (size_t i = 0; i < n; i++) {
        dv_store_be16(w, r[i].status);
        dv_store_be32(w + 2, (uint32_t)r[i].value_len);
        w += LOOKUP_RES_HDR;
        put_bytes(&w, r[i].value, r[i].value_len);
    }
    dv_buf_commit(out, total);
    return DV_ERR_OK;
}

dv_error dv_subdoc_lookup_res_decode(const uint8_t *p, size_t len, dv_subdoc_result *out,
                                     size_t max, size_t *n)
{
    size_t off = 0, count = 0;
    if (max > DV_SUBDOC_MAX_SPECS) max = DV_SUBDOC_MAX_SPECS;
    *n = 0;
    while (off < len) {
        size_t rem = len - off;
        if (count == max || rem < LOOKUP_RES_HDR) return DV_ERR_PROTOCOL_ERROR;
        const uint8_t *h = p + off;
        uint32_t vlen = dv_load_be32(h + 2);
        if (vlen > rem - LOOKUP_RES_HDR) return DV_ERR_PROTOCOL_ERROR;
        out[count].index = (uint8_t)count;
        out[count].status = dv_load_be16(h);
        out[count].value = h + LOOKUP_RES_HDR;
        out[count].value_len = vlen;
        *n = ++count;
        off += LOOKUP_RES_HDR + vlen;
    }
    return DV_ERR_OK;
}

dv_error dv_subdoc_mutation_res_encode(dv_buf *out, uint16_t top_status, const dv_subdoc_result *r,
                                       size_t n)
{
    if (is_failure_top(top_status)) {
        if (n != 1 || r[0].status == DV_STATUS_SUCCESS || r[0].value_len != 0 ||
            r[0].index >= DV_SUBDOC_MAX_SPECS || !dv_subdoc_status_known(r[0].status))
            return DV_ERR_INVALID_ARGUMENT;
        uint8_t *w = dv_buf_reserve(out, MUTATION_FAIL_LEN);
        if (!w) return DV_ERR_NO_MEMORY;
        w[0] = r[0].index;
        dv_store_be16(w + 1, r[0].status);
        dv_buf_commit(out, MUTATION_FAIL_LEN);
        return DV_ERR_OK;
    }
    if (!is_success_top(top_status) || n > DV_SUBDOC_MAX_SPECS) return DV_ERR_INVALID_ARGUMENT;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].status != DV_STATUS_SUCCESS || r[i].index >= DV_SUBDOC_MAX_SPECS ||
            (i > 0 && r[i].index <= r[i - 1].index))
            return DV_ERR_INVALID_ARGUMENT;
        if (r[i].value_len > UINT32_MAX || r[i].value_len > SIZE_MAX - MUTATION_RES_HDR - total)
            return DV_ERR_INVALID_ARGUMENT;
        total += MUTATION_RES_HDR + r[i].value_len;
    }
    if (total == 0) return DV_ERR_OK;
    uint8_t *w = dv_buf_reserve(out, total);
    if (!w) return DV_ERR_NO_MEMORY;
    for (size_t i = 0; i < n; i++) {
        w[0] = r[i].index;
        dv_store_be16(w + 1, r[i].status);
        dv_store_be32(w + 3, (uint32_t)r[i].value_len);
        w += MUTATION_RES_HDR;
        put_bytes(&w, r[i].value, r[i].value_len);
    }
    dv_buf_commit(out, total);
    return DV_ERR_OK;
}

dv_error dv_subdoc_mutation_res_decode(uint16_t top_status, const uint8_t *p, size_t len,
                                       dv_subdoc_result *out, size_t max, size_t *n)
{
    *n = 0;
    if (is_failure_top(top_status)) {
        if (len != MUTATION_FAIL_LEN || max == 0) return DV_ERR_PROTOCOL_ERROR;
        uint16_t st = dv_load_be16(p + 1);
        if (p[0] >= DV_SUBDOC_MAX_SPECS || st == DV_STATUS_SUCCESS) return DV_ERR_PROTOCOL_ERROR;
        out[0].index = p[0];
        out[0].status = st;
        out[0].value = NULL;
        out[0].value_len = 0;
        *n = 1;
        return DV_ERR_OK;
    }
    if (!is_success_top(top_status)) return DV_ERR_INVALID_ARGUMENT;
    size_t off = 0, count = 0;
    while (off < len) {
        size_t rem = len - off;
        if (count == max || rem < MUTATION_RES_HDR) return DV_ERR_PROTOCOL_ERROR;
        const uint8_t *h = p + off;
        uint32_t vlen = dv_load_be32(h + 3);
        if (vlen > rem - MUTATION_RES_HDR) return DV_ERR_PROTOCOL_ERROR;
        if (h[0] >= DV_SUBDOC_MAX_SPECS || (count > 0 && h[0] <= out[count - 1].index))
            return DV_ERR_PROTOCOL_ERROR;
        if (dv_load_be16(h + 1) != DV_STATUS_SUCCESS) return DV_ERR_PROTOCOL_ERROR;
        out[count].index = h[0];
        out[count].status = DV_STATUS_SUCCESS;
        out[count].value = h + MUTATION_RES_HDR;
        out[count].value_len = vlen;
        *n = ++count;
        off += MUTATION_RES_HDR + vlen;
    }
    return DV_ERR_OK;
}

/* ---- statuses ---- */

static int in_table(uint16_t status)
{
    switch (status) {
#define DV_X_(name, code, desc, attrs, err)                                                        \
    case code:                                                                                     \
        return 1;
        DV_STATUSES(DV_X_)
#undef DV_X_
    default:
        return 0;
    }
}

int dv_subdoc_status_known(uint16_t status)
{
    switch (status) {
    case DV_STATUS_EWOULD_THROTTLE:
    case DV_STATUS_CAS_VALUE_INVALID:
    case DV_STATUS_ENCRYPTION_KEY_NOT_AVAILABLE:
    case DV_STATUS_CHECKSUM_MISMATCH:
    case DV_STATUS_EXPIRY_OVERFLOW:
    case DV_STATUS_LOCK_EXPIRY_OVERFLOW:
    case DV_STATUS_BUCKET_SIZE_LIMIT_EXCEEDED:
    case DV_STATUS_BUCKET_RESIDENT_RATIO_TOO_LOW:
    case DV_STATUS_BUCKET_DATA_SIZE_TOO_BIG:
    case DV_STATUS_BUCKET_DISK_SPACE_TOO_LOW:
    case DV_STATUS_BUCKET_PAUSED:
    case DV_STATUS_CANCELLED:
    case DV_STATUS_SUBDOC_FIELD_NOT_BINARY_VALUE:
        return 0;
    default:
        return in_table(status);
    }
}

uint16_t dv_subdoc_status_for_spec(uint16_t status)
{
    if (dv_subdoc_status_known(status)) return status;
    switch (status) {
    case DV_STATUS_SUBDOC_FIELD_NOT_BINARY_VALUE:
        return DV_STATUS_SUBDOC_PATH_MISMATCH;
    case DV_STATUS_CAS_VALUE_INVALID:
    case DV_STATUS_CHECKSUM_MISMATCH:
    case DV_STATUS_EXPIRY_OVERFLOW:
    case DV_STATUS_LOCK_EXPIRY_OVERFLOW:
        return DV_STATUS_EINVAL;
    case DV_STATUS_BUCKET_SIZE_LIMIT_EXCEEDED:
    case DV_STATUS_BUCKET_RESIDENT_RATIO_TOO_LOW:
    case DV_STATUS_BUCKET_DATA_SIZE_TOO_BIG:
    case DV_STATUS_BUCKET_DISK_SPACE_TOO_LOW:
        return DV_STATUS_SCOPE_SIZE_LIMIT_EXCEEDED;
    case DV_STATUS_EWOULD_THROTTLE:
    case DV_STATUS_BUCKET_PAUSED:
        return DV_STATUS_ETMPFAIL;
    default:
        return DV_STATUS_EINTERNAL;
    }
}

dv_error dv_subdoc_status_error(uint16_t status)
{
    return dv_mcbp_status_error(DV_OP_SUBDOC_MULTI_LOOKUP, status);
}
