/* The sub-document engine: see subdoc.h.
 *
 * A request works on two texts: the body, and the xattrs presented as one JSON object
 * {"key":value,...} (kv_engine does the same, so xattr paths are ordinary paths whose first
 * component is the xattr key). Each mutation spec splices its text into a scratch buffer that
 * then becomes the text; nothing touches the store until every spec has succeeded. Lookups take
 * a reference to the item and work without the vbucket lock; mutations hold the lock from the
 * read to the install, so no other writer can slip in between. */
#include "server/subdoc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/clock.h"
#include "base/endian.h"
#include "mcbp/protocol.h"
#include "server/jsonpath.h"
#include "server/kv.h"

#define XATTR_KEY_LIMIT 16              /* an xattr key is shorter than this */
#define SYS_XATTRS_MAX  (1024u * 1024u) /* system xattrs may add this much to a document */
#define BINARY_PREFIX   "\"cb-content-base64-encoded:"
#define MACRO_CAS       "\"${Mutation.CAS}\""
#define MACRO_SEQNO     "\"${Mutation.seqno}\""
#define MACRO_CRC       "\"${Mutation.value_crc32c}\""
#define VMACRO_PREFIX   "\"${$document"
#define VMACRO_SUFFIX   "}\""
#define LIT(s)          s, sizeof(s) - 1

/* ---- CRC-32C, four bits at a time ---- */

static const uint32_t crc_nibble[16] = {
    0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
    0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9, 0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

uint32_t dv_crc32c(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        c = (c >> 4) ^ crc_nibble[c & 15];
        c = (c >> 4) ^ crc_nibble[c & 15];
    }
    return c ^ 0xffffffffu;
}

/* ---- output with a sticky allocation failure ---- */

typedef struct sd_w {
    dv_buf *b;
    int err;
} sd_w;

static void put(sd_w *w, const void *p, size_t n)
{
    if (!w->err && n && dv_buf_append(w->b, p, n) != 0) w->err = 1;
}

static void putf(sd_w *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(sd_w *w, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0) put(w, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

static const char *buf_bytes(const dv_buf *b)
{
    return dv_buf_size(b) ? (const char *)dv_buf_head(b) : "";
}

static int contains(const char *h, size_t nh, const char *nd, size_t nn)
{
    for (size_t i = 0; nn && i + nn <= nh; i++)
        if (h[i] == nd[0] && memcmp(h + i, nd, nn) == 0) return 1;
    return 0;
}

static int equals(const char *p, size_t n, const char *lit, size_t nlit)
{
    return n == nlit && memcmp(p, lit, n) == 0;
}

/* ---- base64 for BINARY_VALUE xattrs ---- */

static void b64_encode(sd_w *w, const uint8_t *p, size_t n)
{
    if (!w->err && dv_base64_encode(w->b, p, n) != 0) w->err = 1;
}

/* Strict decoding (padded, canonical, no whitespace); -1 when p is not base64. */
static int b64_decode(sd_w *w, const char *p, size_t n)
{
    size_t max = dv_base64_decoded_max(n), got = 0;
    uint8_t *d = w->err ? NULL : dv_buf_reserve(w->b, max ? max : 1);
    if (!w->err && !d) w->err = 1;
    if (w->err) return 0; /* the writer reports it */
    if (dv_base64_decode(p, n, DV_BASE64_STRICT, d, max, &got) != 0) return -1;
    dv_buf_commit(w->b, got);
    return 0;
}

/* ---- the xattr blob: u32 total, then u32 len | key \0 value \0 per pair ---- */

typedef struct xa_pair {
    const char *key, *val;
    size_t nkey, nval;
} xa_pair;

/* The pair at *off (0 to start); 0 at the end or at the first malformed entry. */
static int xa_next(const char *blob, size_t n, size_t *off, xa_pair *pr)
{
    const uint8_t *b = (const uint8_t *)blob;
    if (n < 4) return 0;
    size_t end = (size_t)dv_load_be32(b) + 4;
    if (end > n) end = n;
    size_t o = *off ? *off : 4;
    if (o > end || end - o < 4) return 0;
    size_t len = dv_load_be32(b + o);
    if (len < 2 || len > end - o - 4) return 0;
    const char *e = blob + o + 4;
    const char *z = memchr(e, 0, len);
    if (!z || z == e + len - 1 || e[len - 1] != 0) return 0;
    pr->key = e;
    pr->nkey = (size_t)(z - e);
    pr->val = z + 1;
    pr->nval = len - pr->nkey - 2;
    *off = o + 4 + len;
    return 1;
}

/* ---- request context ---- */

enum { J_UNKNOWN = 1 }; /* sd_text.json before validation */

/* A text being worked on: its bytes (borrowed, or in own once edited) and whether it is JSON. */
typedef struct sd_text {
    const char *p;
    size_t n;
    dv_buf own;
    int json; /* DV_JSON_OK, DV_JSON_EINVAL, DV_JSON_EDEPTH or J_UNKNOWN */
} sd_text;

typedef struct sd_ctx {
    const dv_subdoc_spec *specs;
    size_t nspecs;
    uint8_t doc_flags;
    int mutation;
    const dv_item *in; /* the stored document; NULL when it is being created */
    uint64_t vb_uuid;
    uint32_t now;
    sd_text body, xattr; /* xattr: the xattrs as one JSON object, once built */
    int have_xattr, xattr_changed, delete_doc, macros;
    dv_buf scratch;
    dv_buf vdoc, vvb, vxtoc; /* $document, $vbucket, $XTOC, built on first use */
    char pad[3][24];         /* placeholders of the three mutation macros */
    size_t npad[3];
    uint16_t status[DV_SUBDOC_MAX_SPECS];
    const char *val[DV_SUBDOC_MAX_SPECS]; /* per-spec result */
    size_t nval[DV_SUBDOC_MAX_SPECS];
    dv_buf owned[DV_SUBDOC_MAX_SPECS]; /* values made for a spec (binary, virtual macros) */
    char num[DV_SUBDOC_MAX_SPECS][24];
    int nomem;
    uint8_t xtoc_hide; /* DV_SD_XTOC_HIDE_* */
} sd_ctx;

static void text_borrow(sd_text *t, const char *p, size_t n)
{
    t->p = n ? p : "";
    t->n = n;
    t->json = J_UNKNOWN;
}

/* The scratch buffer becomes the text (the old storage becomes scratch). */
static void text_take(sd_text *t, dv_buf *scratch)
{
    dv_buf tmp = t->own;
    t->own = *scratch;
    *scratch = tmp;
    dv_buf_reset(scratch);
    t->p = buf_bytes(&t->own);
    t->n = dv_buf_size(&t->own);
}

static int text_set(sd_ctx *ctx, sd_text *t, const char *p, size_t n)
{
    dv_buf_reset(&ctx->scratch);
    if (dv_buf_append(&ctx->scratch, p, n) != 0) return -1;
    text_take(t, &ctx->scratch);
    t->json = J_UNKNOWN;
    return 0;
}

/* SUCCESS when the text is JSON a path operation can work on. */
static uint16_t text_status(sd_text *t)
{
    if (t->json == J_UNKNOWN)
        t->json = dv_json_validate(t->p, t->n, DV_JSON_MAX_LEVELS, NULL, NULL);
    if (t->json == DV_JSON_OK) return DV_STATUS_SUCCESS;
    return t->json == DV_JSON_EDEPTH ? DV_STATUS_SUBDOC_DOC_E2DEEP : DV_STATUS_SUBDOC_DOC_NOTJSON;
}

static const char *item_blob(const dv_item *it, size_t *n)
{
    *n = it ? it->nxattr : 0;
    return it ? dv_item_xattr(it) : "";
}

/* Present the item's xattrs as a JSON object (once). */
static void ensure_xattr(sd_ctx *ctx)
{
    if (ctx->have_xattr) return;
    ctx->have_xattr = 1;
    size_t n, off = 0;
    const char *blob = item_blob(ctx->in, &n);
    sd_w w = {&ctx->scratch, 0};
    xa_pair pr;
    dv_buf_reset(&ctx->scratch);
    put(&w, "{", 1);
    for (int first = 1; xa_next(blob, n, &off, &pr); first = 0) {
        if (!first) put(&w, ",", 1);
        put(&w, "\"", 1);
        put(&w, pr.key, pr.nkey);
        put(&w, "\":", 2);
        put(&w, pr.val, pr.nval);
    }
    put(&w, "}", 1);
    if (w.err) ctx->nomem = 1;
    text_take(&ctx->xattr, &ctx->scratch);
    ctx->xattr.json = J_UNKNOWN;
}

static void ctx_init(sd_ctx *ctx, const dv_subdoc_spec *specs, size_t n, uint8_t doc_flags,
                     int mutation)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->specs = specs;
    ctx->nspecs = n;
    ctx->doc_flags = doc_flags;
    ctx->mutation = mutation;
    text_borrow(&ctx->body, "", 0);
    text_borrow(&ctx->xattr, "{}", 2);
}

static void ctx_free(sd_ctx *ctx)
{
    dv_buf_free(&ctx->body.own);
    dv_buf_free(&ctx->xattr.own);
    dv_buf_free(&ctx->scratch);
    dv_buf_free(&ctx->vdoc);
    dv_buf_free(&ctx->vvb);
    dv_buf_free(&ctx->vxtoc);
    for (size_t i = 0; i < DV_SUBDOC_MAX_SPECS; i++) dv_buf_free(&ctx->owned[i]);
}

/* ---- virtual xattrs ---- */

static void put_hex64(sd_w *w, uint64_t v)
{
    putf(w, "\"0x%016" PRIx64 "\"", v);
}

/* The value of one $document field for the input document; 0 for an unknown name. Fields are
 * those of kv_engine; `macro` leaves out value_crc32c, which its macros do not offer. */
static int vdoc_field(sd_ctx *ctx, sd_w *w, const char *name, size_t n, int macro)
{
    const dv_item *it = ctx->in;
    if (equals(name, n, LIT("CAS"))) {
        put_hex64(w, it ? it->cas : 0);
    } else if (equals(name, n, LIT("datatype"))) {
        int json = it && (it->datatype & DV_DATATYPE_JSON), xattr = it && it->nxattr;
        put(w, "[", 1);
        if (json) put(w, LIT("\"json\""));
        if (json && xattr) put(w, ",", 1);
        if (xattr) put(w, LIT("\"xattr\""));
        if (!json && !xattr) put(w, LIT("\"raw\""));
        put(w, "]", 1);
    } else if (equals(name, n, LIT("deleted"))) {
        if (it && it->deleted)
            put(w, LIT("true"));
        else
            put(w, LIT("false"));
    } else if (equals(name, n, LIT("exptime"))) {
        putf(w, "%" PRIu32, it ? it->exptime : 0);
    } else if (equals(name, n, LIT("flags"))) {
        putf(w, "%" PRIu32, it ? it->flags : 0);
    } else if (equals(name, n, LIT("last_modified")) && it) {
        putf(w, "\"%" PRIu64 "\"", it->cas / 1000000000u); /* the CAS is an HLC in ns */
    } else if (equals(name, n, LIT("revid"))) {
        putf(w, "\"%" PRIu64 "\"", it ? it->revid : 0);
    } else if (equals(name, n, LIT("seqno"))) {
        put_hex64(w, it ? it->seqno : 0);
    } else if (equals(name, n, LIT("value_bytes"))) {
        putf(w, "%" PRIu32, it ? it->nvalue : 0);
    } else if (equals(name, n, LIT("value_crc32c")) && !macro) {
        putf(w, "\"0x%08" PRIx32 "\"", it ? dv_crc32c(dv_item_value(it), it->nvalue) : 0);
    } else if (equals(name, n, LIT("vbucket_uuid"))) {
        put_hex64(w, ctx->vb_uuid);
    } else {
        return 0;
    }
    return 1;
}

/* The $document object, keys in the order kv_engine's JSON library writes them. */
static void vdoc_object(sd_ctx *ctx, sd_w *w)
{
    static const char *const names[] = {"CAS",         "datatype",      "deleted",     "exptime",
                                        "flags",       "last_modified", "revid",       "seqno",
                                        "value_bytes", "value_crc32c",  "vbucket_uuid"};
    int first = 1;
    put(w, "{", 1);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t mark = dv_buf_size(w->b);
        if (!first) put(w, ",", 1);
        putf(w, "\"%s\":", names[i]);
        if (!vdoc_field(ctx, w, names[i], strlen(names[i]), 0)) {
            if (!w->err) w->b->len = w->b->off + mark; /* field not available */
            continue;
        }
        first = 0;
    }
    put(w, "}", 1);
}

/* The text a virtual-xattr lookup works on, or SUBDOC_XATTR_UNKNOWN_VATTR. */
static uint16_t vattr_text(sd_ctx *ctx, const dv_subdoc_spec *s, const char **p, size_t *n)
{
    size_t k = 0;
    while (k < s->path_len && s->path[k] != '.' && s->path[k] != '[') k++;
    dv_buf *b;
    if (equals(s->path, k, LIT("$document"))) {
        b = &ctx->vdoc;
        if (!dv_buf_size(b)) {
            sd_w w = {b, 0};
            put(&w, LIT("{\"$document\":"));
            vdoc_object(ctx, &w);
            put(&w, "}", 1);
            if (w.err) ctx->nomem = 1;
        }
    } else if (equals(s->path, k, LIT("$vbucket"))) {
        b = &ctx->vvb;
        if (!dv_buf_size(b)) {
            sd_w w = {b, 0};
            putf(&w, "{\"$vbucket\":{\"HLC\":{\"mode\":\"real\",\"now\":\"%" PRIu32 "\"}}}",
                 ctx->now);
            if (w.err) ctx->nomem = 1;
        }
    } else if (equals(s->path, k, LIT("$XTOC"))) {
        b = &ctx->vxtoc;
        if (!dv_buf_size(b)) {
            sd_w w = {b, 0};
            size_t nb, off = 0;
            const char *blob = item_blob(ctx->in, &nb);
            xa_pair pr;
            put(&w, LIT("{\"$XTOC\":["));
            for (int first = 1; xa_next(blob, nb, &off, &pr);) {
                int sys = pr.nkey && pr.key[0] == '_';
                if (ctx->xtoc_hide & (sys ? DV_SD_XTOC_HIDE_SYSTEM : DV_SD_XTOC_HIDE_USER))
                    continue;
                if (!first) put(&w, ",", 1);
                first = 0;
                put(&w, "\"", 1);
                put(&w, pr.key, pr.nkey);
                put(&w, "\"", 1);
            }
            put(&w, "]}", 2);
            if (w.err) ctx->nomem = 1;
        }
    } else {
        return DV_STATUS_SUBDOC_XATTR_UNKNOWN_VATTR;
    }
    *p = buf_bytes(b);
    *n = dv_buf_size(b);
    return DV_STATUS_SUCCESS;
}

/* ---- path operations on one JSON text ---- */

typedef struct sd_op {
    uint8_t opcode;
    int mkdir; /* create missing parents (MKDIR_P, or implied by MKDOC / ADD) */
    const char *path;
    size_t npath;
    const char *v; /* the value to insert */
    size_t nv;
    size_t idx; /* spec index, for results */
} sd_op;

static uint16_t json_status(int rc)
{
    switch (rc) {
    case DV_JSON_MISMATCH:
        return DV_STATUS_SUBDOC_PATH_MISMATCH;
    case DV_JSON_EDEPTH:
        return DV_STATUS_SUBDOC_DOC_E2DEEP;
    default:
        return DV_STATUS_SUBDOC_DOC_NOTJSON;
    }
}

static uint16_t value_status(int rc)
{
    return rc == DV_JSON_EDEPTH ? DV_STATUS_SUBDOC_VALUE_ETOODEEP
                                : DV_STATUS_SUBDOC_VALUE_CANTINSERT;
}

/* out = p[0..a) + ins1 + ins2 + p[b..n) */
static uint16_t splice(dv_buf *out, const char *p, size_t n, size_t a, size_t b, const char *i1,
                       size_t n1, const char *i2, size_t n2)
{
    sd_w w = {out, 0};
    dv_buf_reset(out);
    put(&w, p, a);
    put(&w, i1, n1);
    put(&w, i2, n2);
    put(&w, p + b, n - b);
    return w.err ? DV_STATUS_ENOMEM : DV_STATUS_SUCCESS;
}

/* Create the missing part of the path (components from hit->depth on) inside the deepest
 * existing container, which must be an object, with the value (wrapped in [] when array). */
static uint16_t mkdir_p(dv_buf *out, const char *p, size_t n, const dv_json_hit *hit,
                        const dv_path *path, const char *v, size_t nv, int array)
{
    if (hit->ctype != '{') return DV_STATUS_SUBDOC_PATH_ENOENT;
    for (size_t k = hit->depth; k < path->n; k++)
        if (path->c[k].is_index) return DV_STATUS_SUBDOC_PATH_ENOENT;
    size_t at = hit->cend - 1; /* the closing brace */
    sd_w w = {out, 0};
    dv_buf_reset(out);
    put(&w, p, at);
    if (hit->ccount) put(&w, ",", 1);
    for (size_t k = hit->depth; k < path->n; k++) {
        if (k > hit->depth) put(&w, "{", 1);
        put(&w, "\"", 1);
        put(&w, path->c[k].key, path->c[k].nkey);
        put(&w, "\":", 2);
    }
    if (array) put(&w, "[", 1);
    put(&w, v, nv);
    if (array) put(&w, "]", 1);
    for (size_t k = hit->depth + 1; k < path->n; k++) put(&w, "}", 1);
    put(&w, p + at, n - at);
    return w.err ? DV_STATUS_ENOMEM : DV_STATUS_SUCCESS;
}

static uint16_t op_get(sd_ctx *ctx, const sd_op *op, const char *p, size_t n, size_t root,
                       const dv_path *path)
{
    dv_json_hit hit;
    int rc = dv_json_find(p, n, root, path, path->n, &hit);
    if (rc != DV_JSON_OK) return json_status(rc);
    if (!hit.found) return DV_STATUS_SUBDOC_PATH_ENOENT;
    if (op->opcode == DV_OP_SUBDOC_GET_COUNT) {
        if (p[hit.vstart] != '{' && p[hit.vstart] != '[') return DV_STATUS_SUBDOC_PATH_MISMATCH;
        dv_json_iter it;
        dv_json_child c;
        dv_json_iter_init(&it, p, n, hit.vstart, hit.vlevel);
        while ((rc = dv_json_iter_next(&it, &c)) == 1)
            if ((rc = dv_json_iter_skip(&it, NULL)) != DV_JSON_OK) break;
        if (rc < 0) return json_status(rc);
        int k = snprintf(ctx->num[op->idx], sizeof ctx->num[0], "%zu", it.count);
        ctx->val[op->idx] = ctx->num[op->idx];
        ctx->nval[op->idx] = (size_t)k;
        return DV_STATUS_SUCCESS;
    }
    size_t end;
    rc = dv_json_scan(p, n, hit.vstart, hit.vlevel, DV_JSON_DOC_LEVELS, &end);
    if (rc != DV_JSON_OK) return json_status(rc);
    if (op->opcode == DV_OP_SUBDOC_GET) {
        ctx->val[op->idx] = p + hit.vstart;
        ctx->nval[op->idx] = end - hit.vstart;
    }
    return DV_STATUS_SUCCESS;
}

/* DICT_ADD, DICT_UPSERT, REPLACE */
static uint16_t op_store(const sd_op *op, const char *p, size_t n, size_t root, const dv_path *path,
                         dv_buf *out)
{
    if (path->n == 0) return DV_STATUS_SUBDOC_VALUE_CANTINSERT;
    int rc =
        dv_json_validate(op->v, op->nv, DV_JSON_DOC_LEVELS - 1 - (unsigned)path->n, NULL, NULL);
    if (rc != DV_JSON_OK) return value_status(rc);
    dv_json_hit hit;
    rc = dv_json_find(p, n, root, path, path->n, &hit);
    if (rc != DV_JSON_OK) return json_status(rc);
    if (op->opcode != DV_OP_SUBDOC_REPLACE && path->c[path->n - 1].is_index)
        return DV_STATUS_SUBDOC_PATH_EINVAL;
    if (hit.found) {
        if (op->opcode == DV_OP_SUBDOC_DICT_ADD) return DV_STATUS_SUBDOC_PATH_EEXISTS;
        size_t end;
        rc = dv_json_scan(p, n, hit.vstart, hit.vlevel, DV_JSON_DOC_LEVELS, &end);
        if (rc != DV_JSON_OK) return json_status(rc);
        return splice(out, p, n, hit.vstart, end, op->v, op->nv, NULL, 0);
    }
    if (op->opcode == DV_OP_SUBDOC_REPLACE) return DV_STATUS_SUBDOC_PATH_ENOENT;
    if (hit.depth + 1 != path->n && !op->mkdir) return DV_STATUS_SUBDOC_PATH_ENOENT;
    return mkdir_p(out, p, n, &hit, path, op->v, op->nv, 0);
}

static uint16_t op_remove(const char *p, size_t n, size_t root, const dv_path *path, dv_buf *out)
{
    if (path->n == 0) return DV_STATUS_SUBDOC_VALUE_CANTINSERT;
    dv_json_hit hit;
    int rc = dv_json_find(p, n, root, path, path->n, &hit);
    if (rc != DV_JSON_OK) return json_status(rc);
    if (!hit.found) return DV_STATUS_SUBDOC_PATH_ENOENT;
    size_t end;
    rc = dv_json_scan(p, n, hit.vstart, hit.vlevel, DV_JSON_DOC_LEVELS, &end);
    if (rc != DV_JSON_OK) return json_status(rc);
    /* Take one comma with the member: the following one, or else the preceding one. */
    size_t a = hit.kstart, b = end, j = dv_json_ws(p, n, end);
    if (j < n && p[j] == ',') {
        b = j + 1;
    } else {
        size_t k = a;
        while (k > 0 &&
               (p[k - 1] == ' ' || p[k - 1] == '\t' || p[k - 1] == '\n' || p[k - 1] == '\r'))
            k--;
        if (k > 0 && p[k - 1] == ',') a = k - 1;
    }
    return splice(out, p, n, a, b, NULL, 0, NULL, 0);
}

/* The value trimmed of surrounding whitespace. */
static void trim(const char **v, size_t *nv)
{
    size_t s = dv_json_ws(*v, *nv, 0), e = *nv;
    while (e > s && ((*v)[e - 1] == ' ' || (*v)[e - 1] == '\t' || (*v)[e - 1] == '\n' ||
                     (*v)[e - 1] == '\r'))
        e--;
    *v += s;
    *nv = e - s;
}

/* ARRAY_PUSH_LAST, ARRAY_PUSH_FIRST, ARRAY_ADD_UNIQUE */
static uint16_t op_push(const sd_op *op, const char *p, size_t n, size_t root, const dv_path *path,
                        dv_buf *out)
{
    int first = op->opcode == DV_OP_SUBDOC_ARRAY_PUSH_FIRST;
    int unique = op->opcode == DV_OP_SUBDOC_ARRAY_ADD_UNIQUE;
    /* The values go one level below the array the path names. */
    unsigned maxl = DV_JSON_DOC_LEVELS - 2 - (unsigned)path->n;
    int rc;
    if (unique) {
        size_t vs;
        rc = dv_json_validate(op->v, op->nv, maxl, &vs, NULL);
        if (rc == DV_JSON_OK && (op->v[vs] == '{' || op->v[vs] == '[')) rc = DV_JSON_EINVAL;
    } else {
        rc = dv_json_validate_list(op->v, op->nv, maxl);
    }
    if (rc != DV_JSON_OK) return value_status(rc);
    /* kv_engine looks for path[0]: one component more than the path */
    if (first && path->n == DV_PATH_MAX_COMPONENTS) return DV_STATUS_SUBDOC_PATH_E2BIG;
    dv_json_hit hit;
    rc = dv_json_find(p, n, root, path, path->n, &hit);
    if (rc != DV_JSON_OK) return json_status(rc);
    if (!hit.found)
        return op->mkdir ? mkdir_p(out, p, n, &hit, path, op->v, op->nv, 1)
                         : DV_STATUS_SUBDOC_PATH_ENOENT;
    if (p[hit.vstart] != '[') return DV_STATUS_SUBDOC_PATH_MISMATCH;
    const char *uv = op->v;
    size_t nuv = op->nv;
    trim(&uv, &nuv);
    dv_json_iter it;
    dv_json_child c;
    dv_json_iter_init(&it, p, n, hit.vstart, hit.vlevel);
    while ((rc = dv_json_iter_next(&it, &c)) == 1) {
        if (first) return splice(out, p, n, c.vstart, c.vstart, op->v, op->nv, ",", 1);
        size_t end;
        if (unique && (p[c.vstart] == '{' || p[c.vstart] == '['))
            return DV_STATUS_SUBDOC_PATH_MISMATCH; /* uniqueness needs primitives */
        if ((rc = dv_json_iter_skip(&it, &end)) != DV_JSON_OK) break;
        if (unique && end - c.vstart == nuv && memcmp(p + c.vstart, uv, nuv) == 0)
            return DV_STATUS_SUBDOC_PATH_EEXISTS;
    }
    if (rc < 0) return json_status(rc);
    size_t close = it.i - 1; /* the closing bracket */
    if (it.count == 0) return splice(out, p, n, hit.vstart + 1, close, op->v, op->nv, NULL, 0);
    return splice(out, p, n, close, close, ",", 1, op->v, op->nv);
}

static uint16_t op_insert(const sd_op *op, const char *p, size_t n, size_t root,
                          const dv_path *path, dv_buf *out)
{
    int rc = dv_json_validate_list(op->v, op->nv, DV_JSON_DOC_LEVELS - 1 - (unsigned)path->n);
    if (rc != DV_JSON_OK) return value_status(rc);
    if (path->n == 0 || !path->c[path->n - 1].is_index || path->c[path->n - 1].index < 0)
        return DV_STATUS_SUBDOC_PATH_EINVAL;
    dv_json_hit hit;
    rc = dv_json_find(p, n, root, path, path->n, &hit);
    if (rc != DV_JSON_OK) return json_status(rc);
    if (hit.found) return splice(out, p, n, hit.vstart, hit.vstart, op->v, op->nv, ",", 1);
    if (hit.depth + 1 != path->n) return DV_STATUS_SUBDOC_PATH_ENOENT;
    uint64_t idx = (uint64_t)path->c[path->n - 1].index;
    size_t close = hit.cend - 1;
    if (hit.ccount == 0 && idx == 0)
        return splice(out, p, n, hit.cstart + 1, close, op->v, op->nv, NULL, 0);
    if (idx == hit.ccount) return splice(out, p, n, close, close, ",", 1, op->v, op->nv);
    return DV_STATUS_SUBDOC_PATH_ENOENT;
}

/* A counter delta: an optional '-', digits without a leading zero, in int64, not 0. */
static int parse_delta(const char *v, size_t nv, int64_t *out)
{
    size_t i = nv && v[0] == '-';
    if (i == nv || v[i] == '0') return -1;
    uint64_t acc = 0, lim = i ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < nv; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        uint64_t d = (uint64_t)(v[i] - '0');
        if (acc > (lim - d) / 10) return -1;
        acc = acc * 10 + d;
    }
    if (v[0] == '-')
        *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    else
        *out = (int64_t)acc;
    return 0;
}

static uint16_t op_counter(sd_ctx *ctx, const sd_op *op, const char *p, size_t n, size_t root,
                           const dv_path *path, dv_buf *out)
{
    int64_t delta, cur;
    if (parse_delta(op->v, op->nv, &delta) != 0) return DV_STATUS_SUBDOC_DELTA_EINVAL;
    dv_json_hit hit;
    int rc = dv_json_find(p, n, root, path, path->n, &hit);
    if (rc != DV_JSON_OK) return json_status(rc);
    char *num = ctx->num[op->idx];
    uint16_t st;
    if (hit.found) {
        rc = dv_json_int64(p, n, hit.vstart, &cur);
        if (rc == DV_JSON_MISMATCH) return DV_STATUS_SUBDOC_PATH_MISMATCH;
        if (rc == DV_JSON_ERANGE) return DV_STATUS_SUBDOC_NUM_ERANGE;
        if ((delta >= 0 && cur >= 0 && INT64_MAX - delta < cur) ||
            (delta < 0 && cur < 0 && delta < INT64_MIN - cur))
            return DV_STATUS_SUBDOC_VALUE_CANTINSERT; /* kv_engine maps the overflow so */
        size_t end;
        rc = dv_json_scan(p, n, hit.vstart, hit.vlevel, DV_JSON_DOC_LEVELS, &end);
        if (rc != DV_JSON_OK) return json_status(rc);
        int k = snprintf(num, sizeof ctx->num[0], "%" PRId64, cur + delta);
        st = splice(out, p, n, hit.vstart, end, num, (size_t)k, NULL, 0);
    } else {
        if (!op->mkdir && hit.depth + 1 != path->n) return DV_STATUS_SUBDOC_PATH_ENOENT;
        if (hit.ctype != '{') return DV_STATUS_SUBDOC_PATH_ENOENT;
        if (path->n == 0 || path->c[path->n - 1].is_index) return DV_STATUS_SUBDOC_PATH_EINVAL;
        int k = snprintf(num, sizeof ctx->num[0], "%" PRId64, delta);
        st = mkdir_p(out, p, n, &hit, path, num, (size_t)k, 0);
    }
    if (st == DV_STATUS_SUCCESS) {
        ctx->val[op->idx] = num;
        ctx->nval[op->idx] = strlen(num);
    }
    return st;
}

/* Run one path operation on the JSON text p (already known to be JSON). Mutations write the
 * new text to out. */
static uint16_t path_op(sd_ctx *ctx, const sd_op *op, const char *p, size_t n, dv_buf *out)
{
    dv_path path;
    int rc = dv_path_parse(&path, op->path, op->npath);
    if (rc == DV_PATH_E2BIG) return DV_STATUS_SUBDOC_PATH_E2BIG;
    if (rc != DV_PATH_OK) return DV_STATUS_SUBDOC_PATH_EINVAL;
    size_t root = dv_json_ws(p, n, 0);
    switch (op->opcode) {
    case DV_OP_SUBDOC_GET:
    case DV_OP_SUBDOC_EXISTS:
    case DV_OP_SUBDOC_GET_COUNT:
        return op_get(ctx, op, p, n, root, &path);
    }
    if (!out) return DV_STATUS_EINVAL;
    switch (op->opcode) {
    case DV_OP_SUBDOC_DICT_ADD:
    case DV_OP_SUBDOC_DICT_UPSERT:
    case DV_OP_SUBDOC_REPLACE:
        return op_store(op, p, n, root, &path, out);
    case DV_OP_SUBDOC_DELETE:
        return op_remove(p, n, root, &path, out);
    case DV_OP_SUBDOC_ARRAY_PUSH_LAST:
    case DV_OP_SUBDOC_ARRAY_PUSH_FIRST:
    case DV_OP_SUBDOC_ARRAY_ADD_UNIQUE:
        return op_push(op, p, n, root, &path, out);
    case DV_OP_SUBDOC_ARRAY_INSERT:
        return op_insert(op, p, n, root, &path, out);
    case DV_OP_SUBDOC_COUNTER:
        return op_counter(ctx, op, p, n, root, &path, out);
    default:
        return DV_STATUS_EINVAL;
    }
}

/* ---- request checks shared by lookups and mutations ---- */

static int is_punct_or_cntrl(unsigned char c)
{
    return c < 0x20 || c == 0x7f ||
           (c < 0x80 && !(c == ' ' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                          (c >= 'A' && c <= 'Z')));
}

/* kv_engine's xattr key rules: valid UTF-8 without NUL, a key (up to '.' or '[') of 1..15 bytes
 * that does not start with punctuation or a control character, except '_' (system xattrs)
 * and '$' (virtual ones), which need at least one more byte. */
static int xattr_key_ok(const char *path, size_t n)
{
    if (n == 0 || !dv_json_utf8_valid(path, n) || memchr(path, 0, n)) return 0;
    unsigned char c0 = (unsigned char)path[0];
    int special = c0 == '_' || c0 == '$';
    if (is_punct_or_cntrl(c0) && !special) return 0;
    size_t k = 0;
    while (k < n && path[k] != '.' && path[k] != '[') k++;
    return k > 0 && k < XATTR_KEY_LIMIT && !(special && k == 1);
}

static int macro_ok(const char *v, size_t n)
{
    return equals(v, n, LIT(MACRO_CAS)) || equals(v, n, LIT(MACRO_SEQNO)) ||
           equals(v, n, LIT(MACRO_CRC)) ||
           (n >= sizeof VMACRO_PREFIX - 1 + sizeof VMACRO_SUFFIX - 1 &&
            memcmp(v, LIT(VMACRO_PREFIX)) == 0 &&
            memcmp(v + n - (sizeof VMACRO_SUFFIX - 1), LIT(VMACRO_SUFFIX)) == 0);
}

/* The validation kv_engine does beyond what the codec checks: xattr keys and macros. */
static uint16_t check_specs(const dv_subdoc_spec *specs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const dv_subdoc_spec *s = &specs[i];
        if (!(s->flags & DV_SUBDOC_PATH_XATTR)) continue;
        if (!xattr_key_ok(s->path, s->path_len)) return DV_STATUS_XATTR_EINVAL;
        if ((s->flags & DV_SUBDOC_PATH_EXPAND_MACROS) &&
            !macro_ok((const char *)s->value, s->value_len))
            return DV_STATUS_SUBDOC_XATTR_UNKNOWN_MACRO;
    }
    return DV_STATUS_SUCCESS;
}

static int is_whole_doc(uint8_t op)
{
    return op == DV_SUBDOC_OP_GET_DOC || op == DV_SUBDOC_OP_SET_DOC ||
           op == DV_SUBDOC_OP_DELETE_DOC || op == DV_OP_SUBDOC_REPLACE_BODY_WITH_XATTR;
}

/* GET with BINARY_VALUE: the xattr must hold a string made by a BINARY_VALUE mutation. */
static uint16_t decode_binary(sd_ctx *ctx, size_t i)
{
    const char *v = ctx->val[i];
    size_t nv = ctx->nval[i], np = sizeof BINARY_PREFIX - 1;
    if (nv < np + 1 || memcmp(v, BINARY_PREFIX, np) != 0 || v[nv - 1] != '"')
        return DV_STATUS_SUBDOC_FIELD_NOT_BINARY_VALUE;
    sd_w w = {&ctx->owned[i], 0};
    dv_buf_reset(w.b);
    if (b64_decode(&w, v + np, nv - np - 1) != 0) return DV_STATUS_SUBDOC_FIELD_NOT_BINARY_VALUE;
    if (w.err) return DV_STATUS_ENOMEM;
    ctx->val[i] = buf_bytes(w.b);
    ctx->nval[i] = dv_buf_size(w.b);
    return DV_STATUS_SUCCESS;
}

/* ---- lookups ---- */

static uint16_t lookup_spec(sd_ctx *ctx, size_t i)
{
    const dv_subdoc_spec *s = &ctx->specs[i];
    ctx->val[i] = NULL;
    ctx->nval[i] = 0;
    if (!dv_subdoc_is_lookup_op(s->opcode)) return DV_STATUS_EINVAL;
    if (s->opcode == DV_SUBDOC_OP_GET_DOC) {
        if (ctx->body.n == 0) return DV_STATUS_SUBDOC_PATH_ENOENT;
        ctx->val[i] = ctx->body.p;
        ctx->nval[i] = ctx->body.n;
        return DV_STATUS_SUCCESS;
    }
    const char *p = "";
    size_t n = 0;
    uint16_t st;
    if (s->flags & DV_SUBDOC_PATH_XATTR) {
        if (s->path_len && s->path[0] == '$') {
            st = vattr_text(ctx, s, &p, &n);
        } else {
            ensure_xattr(ctx);
            st = text_status(&ctx->xattr);
            p = ctx->xattr.p;
            n = ctx->xattr.n;
        }
    } else {
        st = text_status(&ctx->body);
        p = ctx->body.p;
        n = ctx->body.n;
    }
    if (st != DV_STATUS_SUCCESS || ctx->nomem) return st;
    sd_op op = {s->opcode, 0, s->path, s->path_len, NULL, 0, i};
    st = path_op(ctx, &op, p, n, NULL);
    if (st == DV_STATUS_SUCCESS && s->opcode == DV_OP_SUBDOC_GET &&
        (s->flags & DV_SUBDOC_PATH_BINARY_VALUE))
        st = decode_binary(ctx, i);
    return st;
}

static void fail(dv_sd_res *res, uint16_t status)
{
    res->status = status;
    res->cas = 0;
}

static void res_reset(dv_sd_res *res)
{
    res->status = DV_STATUS_SUCCESS;
    res->cas = res->vb_uuid = res->seqno = 0;
    res->datatype = 0;
}

void dv_sd_lookup(dv_store *s, const dv_sd_lookup_req *req, dv_sd_res *res)
{
    res_reset(res);
    size_t n = req->nspecs;
    if (!req->specs || n == 0 || n > DV_SUBDOC_MAX_SPECS || (req->single && n != 1)) {
        fail(res, DV_STATUS_EINVAL);
        return;
    }
    uint16_t st = check_specs(req->specs, n);
    if (st != DV_STATUS_SUCCESS) {
        fail(res, st);
        return;
    }
    dv_vbucket *vb = dv_store_lock(s, req->vbucket);
    if (!vb) {
        fail(res, DV_STATUS_NOT_MY_VBUCKET);
        return;
    }
    dv_item *cur = dv_vbucket_find(vb, req->cid, req->key, req->nkey, req->now);
    if (!cur || (cur->deleted && !(req->doc_flags & DV_SUBDOC_DOC_ACCESS_DELETED))) {
        dv_vbucket_unlock(vb);
        fail(res, DV_STATUS_KEY_ENOENT);
        return;
    }
    if (dv_vbucket_locked(vb, cur, req->now, NULL)) {
        dv_vbucket_unlock(vb);
        fail(res, DV_STATUS_LOCKED);
        return;
    }
    /* Items are immutable: work on a reference without holding the lock. */
    dv_item *it = dv_item_ref(cur);
    uint64_t uuid = dv_vbucket_uuid(vb);
    dv_vbucket_unlock(vb);

    sd_ctx *ctx = dv_malloc(sizeof *ctx);
    if (!ctx) {
        dv_item_release(it);
        fail(res, DV_STATUS_ENOMEM);
        return;
    }
    ctx_init(ctx, req->specs, n, req->doc_flags, 0);
    ctx->xtoc_hide = req->xtoc_hide;
    ctx->in = it;
    ctx->vb_uuid = uuid;
    ctx->now = req->now;
    text_borrow(&ctx->body, dv_item_value(it), it->nvalue);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        ctx->status[i] = lookup_spec(ctx, i);
        if (ctx->status[i] == DV_STATUS_ENOMEM) ctx->nomem = 1;
        ok &= ctx->status[i] == DV_STATUS_SUCCESS;
    }
    int deleted = it->deleted;
    if (ctx->nomem) {
        fail(res, DV_STATUS_ENOMEM);
    } else if (req->single) {
        st = ctx->status[0];
        if (st == DV_STATUS_SUCCESS) {
            res->status = deleted ? DV_STATUS_SUBDOC_SUCCESS_DELETED : DV_STATUS_SUCCESS;
            res->cas = it->cas;
            if (dv_buf_append(&res->body, ctx->val[0], ctx->nval[0]) != 0)
                fail(res, DV_STATUS_ENOMEM);
            else if (ctx->nval[0] && !(req->specs[0].flags & DV_SUBDOC_PATH_BINARY_VALUE))
                res->datatype = DV_DATATYPE_JSON;
        } else {
            fail(res, st);
        }
    } else {
        dv_subdoc_result r[DV_SUBDOC_MAX_SPECS];
        for (size_t i = 0; i < n; i++) {
            r[i].index = (uint8_t)i;
            r[i].status = dv_subdoc_status_for_spec(ctx->status[i]);
            int good = ctx->status[i] == DV_STATUS_SUCCESS;
            r[i].value = good ? (const uint8_t *)ctx->val[i] : NULL;
            r[i].value_len = good ? ctx->nval[i] : 0;
        }
        if (dv_subdoc_lookup_res_encode(&res->body, r, n) != DV_ERR_OK) {
            fail(res, DV_STATUS_ENOMEM);
        } else {
            if (ok)
                res->status = deleted ? DV_STATUS_SUBDOC_SUCCESS_DELETED : DV_STATUS_SUCCESS;
            else
                res->status = deleted ? DV_STATUS_SUBDOC_MULTI_PATH_FAILURE_DELETED
                                      : DV_STATUS_SUBDOC_MULTI_PATH_FAILURE;
            res->cas = it->cas;
        }
    }
    ctx_free(ctx);
    dv_free(ctx);
    dv_item_release(it);
}

/* ---- mutations ---- */

/* Placeholders for the mutation macros: JSON strings of the expanded length that appear
 * nowhere in the xattrs or the spec values, replaced once the CAS, seqno and body are known.
 * Candidates come from a clock-seeded generator, so that a document cannot be made to hold
 * them in advance; -1 if none was found in many tries. */
static int make_pads(sd_ctx *ctx)
{
    uint64_t x = dv_clock_now_ns() ^ ctx->vb_uuid;
    for (int m = 0; m < 3; m++) {
        int width = m == 2 ? 8 : 16, tries = 0;
        for (;;) {
            if (++tries > 100) return -1;
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t v = width == 8 ? (x >> 32) : x;
            ctx->npad[m] =
                (size_t)snprintf(ctx->pad[m], sizeof ctx->pad[m], "\"0x%0*" PRIx64 "\"", width, v);
            int clash = contains(ctx->xattr.p, ctx->xattr.n, ctx->pad[m], ctx->npad[m]);
            for (size_t i = 0; i < ctx->nspecs && !clash; i++)
                clash = contains((const char *)ctx->specs[i].value, ctx->specs[i].value_len,
                                 ctx->pad[m], ctx->npad[m]);
            for (int k = 0; k < m && !clash; k++)
                clash = equals(ctx->pad[k], ctx->npad[k], ctx->pad[m], ctx->npad[m]);
            if (!clash) break;
        }
    }
    return 0;
}

/* The value a mutation spec inserts: as given, a macro placeholder, an expanded virtual macro
 * (SUBDOC_XATTR_UNKNOWN_VATTR_MACRO when unknown), or a BINARY_VALUE encoding. */
static uint16_t spec_value(sd_ctx *ctx, size_t i, const char **v, size_t *nv)
{
    const dv_subdoc_spec *s = &ctx->specs[i];
    const char *sv = (const char *)s->value;
    size_t n = s->value_len;
    *v = n ? sv : "";
    *nv = n;
    if (s->flags & DV_SUBDOC_PATH_EXPAND_MACROS) {
        const char *names[3] = {MACRO_CAS, MACRO_SEQNO, MACRO_CRC};
        for (int m = 0; m < 3; m++) {
            if (equals(sv, n, names[m], strlen(names[m]))) {
                *v = ctx->pad[m];
                *nv = ctx->npad[m];
                return DV_STATUS_SUCCESS;
            }
        }
        /* "${$document}" or "${$document.<field>}" */
        size_t np = sizeof VMACRO_PREFIX - 1, ns = sizeof VMACRO_SUFFIX - 1;
        const char *name = sv + np;
        size_t nname = n - np - ns;
        sd_w w = {&ctx->owned[i], 0};
        dv_buf_reset(w.b);
        if (nname == 0)
            vdoc_object(ctx, &w);
        else if (name[0] != '.' || !vdoc_field(ctx, &w, name + 1, nname - 1, 1))
            return DV_STATUS_SUBDOC_XATTR_UNKNOWN_VATTR_MACRO;
        if (w.err) return DV_STATUS_ENOMEM;
        *v = buf_bytes(w.b);
        *nv = dv_buf_size(w.b);
    } else if (s->flags & DV_SUBDOC_PATH_BINARY_VALUE) {
        sd_w w = {&ctx->owned[i], 0};
        dv_buf_reset(w.b);
        put(&w, LIT(BINARY_PREFIX));
        b64_encode(&w, s->value, n);
        put(&w, "\"", 1);
        if (w.err) return DV_STATUS_ENOMEM;
        *v = buf_bytes(w.b);
        *nv = dv_buf_size(w.b);
    }
    return DV_STATUS_SUCCESS;
}

static uint16_t replace_body_with_xattr(sd_ctx *ctx, size_t i)
{
    const dv_subdoc_spec *s = &ctx->specs[i];
    ensure_xattr(ctx);
    uint16_t st = text_status(&ctx->xattr);
    if (st != DV_STATUS_SUCCESS) return st;
    sd_op op = {DV_OP_SUBDOC_GET, 0, s->path, s->path_len, NULL, 0, i};
    st = path_op(ctx, &op, ctx->xattr.p, ctx->xattr.n, NULL);
    if (st == DV_STATUS_SUCCESS && (s->flags & DV_SUBDOC_PATH_BINARY_VALUE))
        st = decode_binary(ctx, i);
    if (st != DV_STATUS_SUCCESS) return st;
    const char *v = ctx->val[i];
    size_t nv = ctx->nval[i];
    ctx->val[i] = NULL; /* no result for this spec */
    ctx->nval[i] = 0;
    return text_set(ctx, &ctx->body, v, nv) ? DV_STATUS_ENOMEM : DV_STATUS_SUCCESS;
}

static uint16_t mutate_spec(sd_ctx *ctx, size_t i)
{
    const dv_subdoc_spec *s = &ctx->specs[i];
    if (!dv_subdoc_is_mutation_op(s->opcode)) return DV_STATUS_EINVAL;
    switch (s->opcode) {
    case DV_SUBDOC_OP_SET_DOC:
        return text_set(ctx, &ctx->body, (const char *)s->value, s->value_len) ? DV_STATUS_ENOMEM
                                                                               : DV_STATUS_SUCCESS;
    case DV_SUBDOC_OP_DELETE_DOC:
        ctx->delete_doc = 1;
        return text_set(ctx, &ctx->body, "", 0) ? DV_STATUS_ENOMEM : DV_STATUS_SUCCESS;
    case DV_OP_SUBDOC_REPLACE_BODY_WITH_XATTR:
        return replace_body_with_xattr(ctx, i);
    }
    int xattr = (s->flags & DV_SUBDOC_PATH_XATTR) != 0;
    if (xattr && s->path_len && s->path[0] == '$') return DV_STATUS_SUBDOC_XATTR_CANT_MODIFY_VATTR;
    sd_text *t = xattr ? &ctx->xattr : &ctx->body;
    if (xattr) ensure_xattr(ctx);
    uint16_t st = text_status(t);
    if (st != DV_STATUS_SUCCESS) return st;
    sd_op op = {s->opcode, 0, s->path, s->path_len, NULL, 0, i};
    op.mkdir = (s->flags & DV_SUBDOC_PATH_MKDIR_P) ||
               (ctx->doc_flags & (DV_SUBDOC_DOC_MKDOC | DV_SUBDOC_DOC_ADD));
    st = spec_value(ctx, i, &op.v, &op.nv);
    if (st != DV_STATUS_SUCCESS) return st;
    st = path_op(ctx, &op, t->p, t->n, &ctx->scratch);
    if (st != DV_STATUS_SUCCESS) return st;
    text_take(t, &ctx->scratch);
    t->json = DV_JSON_OK; /* validated values spliced into JSON */
    if (xattr) ctx->xattr_changed = 1;
    return DV_STATUS_SUCCESS;
}

/* The body a created document starts with, from the first path spec as kv_engine decides it:
 * "[]" for a path starting with an index or an array operation on the root, "{}" otherwise. */
static const char *template_body(const dv_subdoc_spec *specs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const dv_subdoc_spec *s = &specs[i];
        if (is_whole_doc(s->opcode)) continue;
        size_t k = dv_json_ws(s->path, s->path_len, 0);
        if (k == s->path_len) {
            int array = s->opcode == DV_OP_SUBDOC_ARRAY_PUSH_LAST ||
                        s->opcode == DV_OP_SUBDOC_ARRAY_PUSH_FIRST ||
                        s->opcode == DV_OP_SUBDOC_ARRAY_ADD_UNIQUE;
            return array ? "[]" : "";
        }
        return s->path[k] == '[' ? "[]" : "{}";
    }
    return "";
}

/* Build the new xattr blob from the xattr text (dropping user xattrs when the document is
 * deleted) and measure it. */
static int build_blob(sd_ctx *ctx, dv_buf *blob, size_t *user, size_t *sys)
{
    const char *p = ctx->xattr.p;
    size_t n = ctx->xattr.n, root = dv_json_ws(p, n, 0);
    *user = *sys = 0;
    dv_buf_reset(blob);
    if (root >= n || p[root] != '{') return -1;
    sd_w w = {blob, 0};
    uint8_t z[4] = {0, 0, 0, 0};
    put(&w, z, 4);
    dv_json_iter it;
    dv_json_child c;
    int rc;
    dv_json_iter_init(&it, p, n, root, 1);
    while ((rc = dv_json_iter_next(&it, &c)) == 1) {
        size_t end;
        if ((rc = dv_json_iter_skip(&it, &end)) != DV_JSON_OK) break;
        const char *key = p + c.kstart + 1;
        size_t nkey = c.kend - c.kstart - 2, nval = end - c.vstart;
        int system = nkey && key[0] == '_';
        if (ctx->delete_doc && !system) continue;
        size_t len = nkey + nval + 2;
        if (len > UINT32_MAX - 8) return -1;
        uint8_t h[4];
        dv_store_be32(h, (uint32_t)len);
        put(&w, h, 4);
        put(&w, key, nkey);
        put(&w, z, 1);
        put(&w, p + c.vstart, nval);
        put(&w, z, 1);
        *(system ? sys : user) += len + 4;
    }
    if (rc < 0 || w.err) return -1;
    size_t total = dv_buf_size(blob);
    if (total == 4)
        dv_buf_reset(blob);
    else if (total - 4 > UINT32_MAX)
        return -1;
    else
        dv_store_be32(blob->data + blob->off, (uint32_t)(total - 4));
    return 0;
}

/* Replace every placeholder in the blob by its expansion (same length). */
static void expand_pads(sd_ctx *ctx, dv_buf *blob, uint64_t cas, uint64_t seqno, uint32_t crc)
{
    char exp[3][24];
    /* kv_engine writes the CAS in network byte order */
    uint64_t swapped = 0;
    for (int b = 0; b < 8; b++) swapped = swapped << 8 | ((cas >> (8 * b)) & 0xff);
    snprintf(exp[0], sizeof exp[0], "\"0x%016" PRIx64 "\"", swapped);
    snprintf(exp[1], sizeof exp[1], "\"0x%016" PRIx64 "\"", seqno);
    snprintf(exp[2], sizeof exp[2], "\"0x%08" PRIx32 "\"", crc);
    char *p = (char *)blob->data + blob->off;
    size_t n = dv_buf_size(blob);
    for (int m = 0; m < 3; m++) {
        size_t k = ctx->npad[m];
        for (size_t i = 0; k && i + k <= n; i++) {
            if (memcmp(p + i, ctx->pad[m], k) == 0) {
                memcpy(p + i, exp[m], k);
                i += k - 1;
            }
        }
    }
}

void dv_sd_mutate(dv_store *s, const dv_sd_mutate_req *req, dv_sd_res *res)
{
    res_reset(res);
    size_t n = req->nspecs;
    uint8_t df = req->x.has_doc_flags ? req->x.doc_flags : 0;
    if (!req->specs || n == 0 || n > DV_SUBDOC_MAX_SPECS || (req->single && n != 1) ||
        ((df & DV_SUBDOC_DOC_ADD) && req->cas) ||
        (req->single && (df & DV_SUBDOC_DOC_CREATE_AS_DELETED) &&
         !(req->specs[0].flags & DV_SUBDOC_PATH_XATTR))) {
        fail(res, DV_STATUS_EINVAL);
        return;
    }
    uint16_t st = check_specs(req->specs, n);
    if (st != DV_STATUS_SUCCESS) {
        fail(res, st);
        return;
    }
    sd_ctx *ctx = dv_malloc(sizeof *ctx);
    if (!ctx) {
        fail(res, DV_STATUS_ENOMEM);
        return;
    }
    ctx_init(ctx, req->specs, n, df, 1);
    ctx->now = req->now;
    dv_buf blob = DV_BUF_INIT;
    dv_vbucket *vb = dv_store_lock(s, req->vbucket);
    if (!vb) {
        fail(res, DV_STATUS_NOT_MY_VBUCKET);
        goto out;
    }
    ctx->vb_uuid = dv_vbucket_uuid(vb);
    dv_item *cur = dv_vbucket_find(vb, req->cid, req->key, req->nkey, req->now);
    if (cur && cur->deleted && !(df & DV_SUBDOC_DOC_ACCESS_DELETED)) cur = NULL;
    if (cur) {
        if (df & DV_SUBDOC_DOC_ADD) {
            fail(res, DV_STATUS_KEY_EEXISTS);
            goto unlock;
        }
        uint64_t lock_cas;
        if (dv_vbucket_locked(vb, cur, req->now, &lock_cas)) {
            if (req->cas != lock_cas) {
                fail(res, DV_STATUS_LOCKED);
                goto unlock;
            }
        } else if (req->cas && req->cas != cur->cas) {
            fail(res, DV_STATUS_KEY_EEXISTS);
            goto unlock;
        }
        if ((df & DV_SUBDOC_DOC_REVIVE_DOCUMENT) && !cur->deleted) {
            fail(res, DV_STATUS_SUBDOC_CAN_ONLY_REVIVE_DELETED_DOCUMENTS);
            goto unlock;
        }
        text_borrow(&ctx->body, dv_item_value(cur), cur->nvalue);
    } else if (!(df & (DV_SUBDOC_DOC_MKDOC | DV_SUBDOC_DOC_ADD))) {
        fail(res, DV_STATUS_KEY_ENOENT);
        goto unlock;
    } else if (!(df & DV_SUBDOC_DOC_CREATE_AS_DELETED)) {
        const char *t = template_body(req->specs, n);
        text_borrow(&ctx->body, t, strlen(t));
    }
    ctx->in = cur;
    int in_deleted = cur ? cur->deleted : (df & DV_SUBDOC_DOC_CREATE_AS_DELETED) != 0;
    int revive = (df & DV_SUBDOC_DOC_REVIVE_DOCUMENT) != 0;

    for (size_t i = 0; i < n; i++) {
        if (req->specs[i].flags & DV_SUBDOC_PATH_EXPAND_MACROS) ctx->macros = 1;
    }
    if (ctx->macros) {
        ensure_xattr(ctx);
        if (make_pads(ctx) != 0) {
            fail(res, DV_STATUS_EINTERNAL);
            goto unlock;
        }
    }
    for (size_t i = 0; i < n; i++) {
        st = mutate_spec(ctx, i);
        if (ctx->nomem || st == DV_STATUS_ENOMEM) {
            fail(res, DV_STATUS_ENOMEM);
            goto unlock;
        }
        if (st == DV_STATUS_SUCCESS) continue;
        if (req->single) {
            fail(res, st);
        } else {
            dv_subdoc_result r = {(uint8_t)i, dv_subdoc_status_for_spec(st), NULL, 0};
            res->status = DV_STATUS_SUBDOC_MULTI_PATH_FAILURE;
            if (dv_subdoc_mutation_res_encode(&res->body, res->status, &r, 1) != DV_ERR_OK)
                fail(res, DV_STATUS_ENOMEM);
        }
        goto unlock;
    }
    if (in_deleted && !revive && ctx->body.n > 0) {
        fail(res, DV_STATUS_SUBDOC_DELETED_DOCUMENT_CANT_HAVE_VALUE);
        goto unlock;
    }

    /* The new xattrs: rebuilt when changed or pruned by a delete, else the stored bytes. */
    size_t user = 0, sys = 0;
    const char *xa;
    size_t nxa;
    if (ctx->xattr_changed || ctx->delete_doc) {
        ensure_xattr(ctx);
        if (ctx->nomem || build_blob(ctx, &blob, &user, &sys) != 0) {
            fail(res, ctx->nomem ? DV_STATUS_ENOMEM : DV_STATUS_EINTERNAL);
            goto unlock;
        }
        xa = buf_bytes(&blob);
        nxa = dv_buf_size(&blob);
    } else {
        xa = item_blob(cur, &nxa);
        user = nxa;
    }
    if (ctx->body.n + user > DV_MAX_VALUE_LEN || sys > SYS_XATTRS_MAX || nxa > UINT32_MAX) {
        fail(res, DV_STATUS_E2BIG);
        goto unlock;
    }
    uint64_t cas = dv_vbucket_next_cas(vb);
    if (ctx->macros && dv_buf_size(&blob))
        expand_pads(ctx, &blob, cas, dv_vbucket_high_seqno(vb) + 1,
                    dv_crc32c(ctx->body.p, ctx->body.n));
    dv_item *it = dv_item_new(req->cid, req->key, (uint32_t)req->nkey, xa, (uint32_t)nxa,
                              ctx->body.p, (uint32_t)ctx->body.n);
    if (!it) {
        fail(res, DV_STATUS_ENOMEM);
        goto unlock;
    }
    int deleted = ctx->delete_doc || (in_deleted && !revive);
    it->deleted = (uint8_t)deleted;
    it->flags = req->x.has_user_flags ? req->x.user_flags : cur ? cur->flags : 0;
    if (!deleted)
        it->exptime = req->preserve_ttl && cur ? cur->exptime
                      : req->x.has_expiry      ? dv_kv_expiry_abs(req->x.expiry, req->now)
                                               : 0;
    if (ctx->body.n &&
        dv_json_validate(ctx->body.p, ctx->body.n, DV_JSON_MAX_LEVELS, NULL, NULL) == DV_JSON_OK)
        it->datatype = DV_DATATYPE_JSON;
    it->cas = cas;
    res->cas = dv_vbucket_install(vb, it, 1);
    res->seqno = it->seqno;
    res->vb_uuid = ctx->vb_uuid;
    res->status = in_deleted && !revive ? DV_STATUS_SUBDOC_SUCCESS_DELETED : DV_STATUS_SUCCESS;

    /* Results of the specs that produce a value (COUNTER). */
    if (req->single) {
        if (ctx->nval[0]) {
            if (dv_buf_append(&res->body, ctx->val[0], ctx->nval[0]) != 0)
                res->status = DV_STATUS_ENOMEM; /* stored, but the answer is lost */
            else
                res->datatype = DV_DATATYPE_JSON;
        }
    } else {
        dv_subdoc_result r[DV_SUBDOC_MAX_SPECS];
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (req->specs[i].opcode != DV_OP_SUBDOC_COUNTER || !ctx->nval[i]) continue;
            r[k].index = (uint8_t)i;
            r[k].status = DV_STATUS_SUCCESS;
            r[k].value = (const uint8_t *)ctx->val[i];
            r[k].value_len = ctx->nval[i];
            k++;
        }
        if (k && dv_subdoc_mutation_res_encode(&res->body, res->status, r, k) != DV_ERR_OK)
            res->status = DV_STATUS_ENOMEM;
    }
unlock:
    dv_vbucket_unlock(vb);
out:
    dv_buf_free(&blob);
    ctx_free(ctx);
    dv_free(ctx);
}
