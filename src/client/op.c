/* The client operation codec: see op.h. An op is one allocation: the dv_op, then the spec
 * array, then every byte the request pointed to (names, key, value, paths, spec values). */
#include "client/op.h"

#include <stdalign.h>
#include <string.h>

#include "base/alloc.h"
#include "base/endian.h"
#include "base/errmsg.h"
#include "mcbp/compress.h"
#include "mcbp/errmap.h"
#include "mcbp/extras.h"
#include "base/base64.h"
#include "mcbp/leb128.h"
#include "mcbp/rscan.h"
#include "mcbp/subdoc.h"

#define DURABLE_DEFAULT_TIMEOUT_MS 10000u

/* The lookup behind get(with_expiry), decoded back into a GET result. */
enum { WE_EXPTIME, WE_FLAGS, WE_DOC, WE_COUNT };
static const dv_subdoc_spec with_expiry_specs[WE_COUNT] = {
    {DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_XATTR, "$document.exptime", 17, NULL, 0},
    {DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_XATTR, "$document.flags", 15, NULL, 0},
    {DV_SUBDOC_OP_GET_DOC, 0, "", 0, NULL, 0},
};

static const uint8_t kind_opcode[DV_KV_OP_KIND_COUNT] = {
    [DV_KV_GET] = DV_OP_GET,
    [DV_KV_GET_AND_TOUCH] = DV_OP_GAT,
    [DV_KV_GET_AND_LOCK] = DV_OP_GET_LOCKED,
    [DV_KV_GET_REPLICA] = DV_OP_GET_REPLICA,
    [DV_KV_EXISTS] = DV_OP_GET_META,
    [DV_KV_INSERT] = DV_OP_ADD,
    [DV_KV_UPSERT] = DV_OP_SET,
    [DV_KV_REPLACE] = DV_OP_REPLACE,
    [DV_KV_REMOVE] = DV_OP_DELETE,
    [DV_KV_TOUCH] = DV_OP_TOUCH,
    [DV_KV_UNLOCK] = DV_OP_UNLOCK_KEY,
    [DV_KV_APPEND] = DV_OP_APPEND,
    [DV_KV_PREPEND] = DV_OP_PREPEND,
    [DV_KV_INCREMENT] = DV_OP_INCREMENT,
    [DV_KV_DECREMENT] = DV_OP_DECREMENT,
    [DV_KV_LOOKUP_IN] = DV_OP_SUBDOC_MULTI_LOOKUP,
    [DV_KV_MUTATE_IN] = DV_OP_SUBDOC_MULTI_MUTATION,
    [DV_KV_NOOP] = DV_OP_NOOP,
    [DV_KV_OBSERVE_SEQNO] = DV_OP_OBSERVE_SEQNO,
    [DV_KV_RANGE_SCAN_CREATE] = DV_OP_RANGE_SCAN_CREATE,
    [DV_KV_RANGE_SCAN_CONTINUE] = DV_OP_RANGE_SCAN_CONTINUE,
    [DV_KV_RANGE_SCAN_CANCEL] = DV_OP_RANGE_SCAN_CANCEL,
};

static const char *const kind_name[DV_KV_OP_KIND_COUNT] = {
    "get",
    "get_and_touch",
    "get_and_lock",
    "get_replica",
    "exists",
    "insert",
    "upsert",
    "replace",
    "remove",
    "touch",
    "unlock",
    "append",
    "prepend",
    "increment",
    "decrement",
    "lookup_in",
    "mutate_in",
    "noop",
    "observe_seqno",
    "range_scan_create",
    "range_scan_continue",
    "range_scan_cancel",
};

static int is_scan(dv_op_kind k)
{
    return k == DV_KV_RANGE_SCAN_CREATE || k == DV_KV_RANGE_SCAN_CONTINUE ||
           k == DV_KV_RANGE_SCAN_CANCEL;
}

/* The keyless kinds: routed otherwise (NOOP: vbucket 0's node; scans: req.vbucket). */
static int has_no_key(dv_op_kind k)
{
    return k == DV_KV_NOOP || is_scan(k);
}

static int takes_value(dv_op_kind k)
{
    return k == DV_KV_INSERT || k == DV_KV_UPSERT || k == DV_KV_REPLACE || k == DV_KV_APPEND ||
           k == DV_KV_PREPEND;
}

/* Kinds the official SDK offers durability for. */
static int takes_durability(dv_op_kind k)
{
    return takes_value(k) || k == DV_KV_REMOVE || k == DV_KV_INCREMENT || k == DV_KV_DECREMENT ||
           k == DV_KV_MUTATE_IN;
}

static int is_counter(dv_op_kind k)
{
    return k == DV_KV_INCREMENT || k == DV_KV_DECREMENT;
}

/* Mutations whose success may carry a mutation token. */
static int is_mutation(dv_op_kind k)
{
    return takes_durability(k);
}

static int is_get_family(dv_op_kind k)
{
    return k == DV_KV_GET || k == DV_KV_GET_AND_TOUCH || k == DV_KV_GET_AND_LOCK ||
           k == DV_KV_GET_REPLICA;
}

static int is_default_name(const char *s)
{
    return !s || strcmp(s, "_default") == 0;
}

static int is_xattr(const dv_subdoc_op *s)
{
    return (s->flags & DV_SUBDOC_PATH_XATTR) != 0;
}

/* ---- dv_op_new ---- */

static dv_error check_specs(const dv_req *r, char *err, size_t errlen)
{
    int mutation = r->kind == DV_KV_MUTATE_IN;
    const char *what = mutation ? "mutate_in" : "lookup_in";
    if (!r->specs || r->nspecs < 1 || r->nspecs > DV_MAX_SPECS)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "%s needs 1 to %d specs, got %zu",
                         what, DV_MAX_SPECS, r->specs ? r->nspecs : 0);
    for (size_t i = 0; i < r->nspecs; i++) {
        const dv_subdoc_op *s = &r->specs[i];
        int ok = mutation ? dv_subdoc_is_mutation_op(s->opcode) : dv_subdoc_is_lookup_op(s->opcode);
        if (!ok)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "spec %zu: opcode 0x%02x is not a %s opcode", i, s->opcode,
                             mutation ? "mutation" : "lookup");
        if (s->path_len && !s->path)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "spec %zu: path is NULL", i);
        if (s->path_len > UINT16_MAX)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "spec %zu: path of %zu bytes is too long", i, s->path_len);
        if (s->value_len && !s->value)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "spec %zu: value is NULL", i);
        if (!mutation && s->value_len)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "spec %zu: a lookup spec has no value", i);
        if (s->value_len > DV_MAX_VALUE_LEN)
            return dv_errmsg(err, errlen, DV_ERR_VALUE_TOO_LARGE,
                             "spec %zu: value of %zu bytes is above 20 MiB", i, s->value_len);
        if (mutation && r->preserve_expiry && s->opcode == DV_OP_SUBDOC_DICT_ADD)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "preserve_expiry cannot be used with an insert spec");
    }
    return DV_ERR_OK;
}

static dv_error check_req(const dv_req *r, char *err, size_t errlen)
{
    if ((unsigned)r->kind >= DV_KV_OP_KIND_COUNT)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "unknown operation kind %d",
                         (int)r->kind);
    dv_op_kind k = r->kind;
    const char *name = kind_name[k];
    if (!r->bucket || !*r->bucket)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "%s: no bucket name", name);
    if (is_scan(k)) {
        const dv_scan_req *sc = r->scan;
        if (!sc) return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "%s: no scan", name);
        if (k == DV_KV_RANGE_SCAN_CREATE && sc->sampling && !sc->samples)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "%s: a sampling scan needs a limit above 0", name);
        if (k == DV_KV_RANGE_SCAN_CREATE && !sc->sampling &&
            (!sc->start || !sc->end || !sc->start_len || !sc->end_len ||
             sc->start_len > DV_SCAN_TERM_MAX || sc->end_len > DV_SCAN_TERM_MAX))
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "%s: range terms must be 1 to %d bytes", name, DV_SCAN_TERM_MAX);
    } else if (k != DV_KV_NOOP) {
        if (!r->key || r->key_len == 0)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "%s: the key is empty", name);
        if (r->key_len > DV_MAX_KEY_LEN)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "%s: key of %zu bytes is longer than %d", name, r->key_len,
                             DV_MAX_KEY_LEN);
    }
    if (takes_value(k)) {
        if (r->value_len && !r->value)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "%s: value is NULL", name);
        if (r->value_len > DV_MAX_VALUE_LEN)
            return dv_errmsg(err, errlen, DV_ERR_VALUE_TOO_LARGE,
                             "%s: value of %zu bytes is above the 20 MiB limit", name,
                             r->value_len);
        if (r->datatype & ~DV_DATATYPE_JSON)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "%s: datatype 0x%02x: only JSON (0x01) may be given", name,
                             r->datatype);
    }
    if (r->durability > DV_DURABILITY_PERSIST_TO_MAJORITY)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "%s: durability level %u is not 0..3", name, r->durability);
    if (r->durability && !takes_durability(k))
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "%s does not take a durability level", name);
    if (r->persist_to > 5 || r->replicate_to > 3)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "%s: persist_to %u is not 0..5 or replicate_to %u not 0..3", name,
                         r->persist_to, r->replicate_to);
    if ((r->persist_to || r->replicate_to) && (!takes_durability(k) || r->durability))
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         r->durability ? "%s: client durability cannot go with a durability level"
                                       : "%s does not take client durability",
                         name);
    if (k == DV_KV_OBSERVE_SEQNO && r->replica_index > 3)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "observe_seqno: replica index %u is not 0..3", r->replica_index);
    if (r->preserve_expiry) {
        if (k != DV_KV_UPSERT && k != DV_KV_REPLACE && k != DV_KV_MUTATE_IN)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "%s does not take preserve_expiry", name);
        if (r->expiry && k != DV_KV_UPSERT)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "%s: expiry and preserve_expiry cannot both be set", name);
    }
    if (r->cas &&
        (k == DV_KV_INSERT || (k == DV_KV_MUTATE_IN && r->store_semantics == DV_STORE_INSERT)))
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "%s: an insert takes no CAS", name);
    if (r->cas && k == DV_KV_MUTATE_IN && r->store_semantics == DV_STORE_UPSERT)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "mutate_in: upsert semantics take no CAS");
    if (k == DV_KV_UNLOCK && !r->cas)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "unlock needs the CAS that get_and_lock returned");
    if (k == DV_KV_GET_REPLICA && (r->replica_index < 1 || r->replica_index > 3))
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "get_replica: replica index %u is not 1..3", r->replica_index);
    if (k == DV_KV_LOOKUP_IN && r->replica_index > 3)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "lookup_in: replica index %u is not 0..3", r->replica_index);
    if (k == DV_KV_LOOKUP_IN && r->replica_index && r->access_deleted)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "lookup_in: a replica read cannot access deleted documents");
    if (is_counter(k)) {
        if (r->delta > INT64_MAX)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "%s: delta %llu is above 2^63-1",
                             name, (unsigned long long)r->delta);
        if (r->has_initial && r->initial > INT64_MAX)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "%s: initial %llu is above 2^63-1", name,
                             (unsigned long long)r->initial);
        if (r->has_initial && r->expiry == DV_COUNTER_NO_CREATE)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "%s: expiry 0xffffffff means \"do not create\"; it cannot go with "
                             "an initial value",
                             name);
    }
    if (k == DV_KV_MUTATE_IN && (unsigned)r->store_semantics > DV_STORE_INSERT)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "mutate_in: store semantics %d is not replace, upsert or insert",
                         (int)r->store_semantics);
    if (k == DV_KV_LOOKUP_IN || k == DV_KV_MUTATE_IN) return check_specs(r, err, errlen);
    return DV_ERR_OK;
}

/* Bump allocator over the op's single block. */
typedef struct arena {
    uint8_t *p;
} arena;

static const void *arena_copy(arena *a, const void *src, size_t n)
{
    if (!n) return NULL;
    void *d = a->p;
    memcpy(d, src, n);
    a->p += n;
    return d;
}

static const char *arena_str(arena *a, const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    return arena_copy(a, s, n);
}

static size_t str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

dv_error dv_op_new(const dv_req *req, dv_op **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!req) return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "no request");
    dv_error rc = check_req(req, err, errlen);
    if (rc) return rc;

    dv_op_kind k = req->kind;
    int has_key = !has_no_key(k), has_value = takes_value(k);
    int scan = is_scan(k);
    size_t nspecs = (k == DV_KV_LOOKUP_IN || k == DV_KV_MUTATE_IN) ? req->nspecs : 0;

    /* Sizes: the op, the spec array (aligned), then bytes. The limits checked above keep the
     * sum far from overflow (16 specs of at most 20 MiB each). */
    size_t head = sizeof(dv_op);
    size_t align = alignof(dv_subdoc_op);
    head = (head + align - 1) / align * align;
    size_t bytes = str_size(req->bucket) + str_size(req->scope) + str_size(req->collection);
    if (has_key) bytes += req->key_len;
    if (has_value) bytes += req->value_len;
    for (size_t i = 0; i < nspecs; i++) bytes += req->specs[i].path_len + req->specs[i].value_len;
    /* A scan: its dv_scan_req (aligned, after the specs, of which it has none) and terms. */
    size_t scan_at = head, scan_size = 0;
    if (scan) {
        scan_at = (head + alignof(dv_scan_req) - 1) / alignof(dv_scan_req) * alignof(dv_scan_req);
        scan_size = scan_at - head + sizeof(dv_scan_req);
        if (k == DV_KV_RANGE_SCAN_CREATE && !req->scan->sampling)
            bytes += req->scan->start_len + req->scan->end_len;
    }

    uint8_t *block = dv_malloc(head + nspecs * sizeof(dv_subdoc_op) + scan_size + bytes);
    if (!block) return dv_errmsg(err, errlen, DV_ERR_NO_MEMORY, "out of memory");
    dv_op *op = (dv_op *)block;
    memset(op, 0, sizeof *op);
    op->req = *req;
    op->opcode = kind_opcode[k];
    if (k == DV_KV_GET && req->with_expiry) op->opcode = DV_OP_SUBDOC_MULTI_LOOKUP;

    dv_subdoc_op *specs = (dv_subdoc_op *)(block + head);
    arena a = {(uint8_t *)(specs + nspecs) + scan_size};
    dv_req *r = &op->req;
    if (scan) {
        dv_scan_req *sc = (dv_scan_req *)(block + scan_at);
        *sc = *req->scan;
        if (k == DV_KV_RANGE_SCAN_CREATE && !sc->sampling) {
            sc->start = arena_copy(&a, req->scan->start, sc->start_len);
            sc->end = arena_copy(&a, req->scan->end, sc->end_len);
        } else {
            sc->start = sc->end = NULL;
            sc->start_len = sc->end_len = 0;
        }
        r->scan = sc;
    } else {
        r->scan = NULL;
    }
    r->bucket = arena_str(&a, req->bucket);
    r->scope = arena_str(&a, req->scope);
    r->collection = arena_str(&a, req->collection);
    r->key = has_key ? arena_copy(&a, req->key, req->key_len) : NULL;
    r->key_len = has_key ? req->key_len : 0;
    r->value = has_value ? arena_copy(&a, req->value, req->value_len) : NULL;
    r->value_len = has_value ? req->value_len : 0;
    r->specs = nspecs ? specs : NULL;
    r->nspecs = nspecs;
    for (size_t i = 0; i < nspecs; i++) {
        specs[i] = req->specs[i];
        specs[i].path = arena_copy(&a, req->specs[i].path, req->specs[i].path_len);
        specs[i].value = arena_copy(&a, req->specs[i].value, req->specs[i].value_len);
        if (!specs[i].path) specs[i].path = "";
    }
    /* Wire order: xattr specs first, each group in the caller's order. */
    size_t w = 0;
    for (size_t i = 0; i < nspecs; i++)
        if (is_xattr(&specs[i])) op->wire[w++] = (uint8_t)i;
    for (size_t i = 0; i < nspecs; i++)
        if (!is_xattr(&specs[i])) op->wire[w++] = (uint8_t)i;
    *out = op;
    return DV_ERR_OK;
}

void dv_op_free(dv_op *op)
{
    dv_free(op);
}

/* ---- dv_op_encode ---- */

static uint16_t durability_timeout(const dv_op *op, const dv_op_route *route)
{
    uint64_t ms = route->remaining_ms  ? route->remaining_ms
                  : op->req.timeout_ms ? op->req.timeout_ms
                                       : DURABLE_DEFAULT_TIMEOUT_MS;
    ms = ms / 10 * 9 + (ms % 10) * 9 / 10; /* 90%, without overflow */
    if (ms < 1) ms = 1;
    if (ms > 65534) ms = 65534;
    return (uint16_t)ms;
}

/* A tiny dv_buf over a stack array: sub-document extras are at most 9 bytes, so the buffer
 * never has to grow (and never frees the array). */
typedef struct small_buf {
    uint8_t mem[16];
    dv_buf b;
} small_buf;

static void small_buf_init(small_buf *s)
{
    s->b.data = s->mem;
    s->b.off = 0;
    s->b.len = 0;
    s->b.cap = sizeof s->mem;
}

/* The JSON value of RANGE_SCAN_CREATE (the official core's spelling). */
static dv_error scan_create_json(const dv_scan_req *sc, uint32_t cid, dv_buf *out)
{
    int rc = dv_buf_printf(out, "{\"collection\":\"%x\"", (unsigned)cid);
    if (!rc && sc->ids_only) rc = dv_buf_printf(out, ",\"key_only\":true");
    if (!rc && sc->sampling) {
        rc = dv_buf_printf(out, ",\"sampling\":{\"samples\":%llu,\"seed\":%llu}",
                           (unsigned long long)sc->samples,
                           (unsigned long long)(sc->seed & INT64_MAX));
    } else if (!rc) {
        rc = dv_buf_printf(out, ",\"range\":{\"%s\":\"", sc->excl_start ? "excl_start" : "start");
        if (!rc) rc = dv_base64_encode(out, sc->start, sc->start_len);
        if (!rc) rc = dv_buf_printf(out, "\",\"%s\":\"", sc->excl_end ? "excl_end" : "end");
        if (!rc) rc = dv_base64_encode(out, sc->end, sc->end_len);
        if (!rc) rc = dv_buf_printf(out, "\"}");
    }
    if (!rc && sc->has_snapshot)
        rc = dv_buf_printf(out,
                           ",\"snapshot_requirements\":{\"vb_uuid\":\"%llu\",\"seqno\":%llu,"
                           "\"timeout_ms\":%u}",
                           (unsigned long long)sc->vb_uuid, (unsigned long long)sc->seqno, 5000u);
    if (!rc) rc = dv_buf_printf(out, "}");
    return rc ? DV_ERR_NO_MEMORY : DV_ERR_OK;
}

dv_error dv_op_encode(const dv_op *op, const dv_op_route *route, dv_buf *out)
{
    const dv_req *r = &op->req;
    dv_op_kind k = r->kind;
    int collections = dv_features_has(route->features, DV_FEATURE_COLLECTIONS);
    if (!collections && (!is_default_name(r->scope) || !is_default_name(r->collection)))
        return DV_ERR_FEATURE_NOT_AVAILABLE;

    dv_frame f;
    memset(&f, 0, sizeof f);
    f.magic = DV_MAGIC_REQ; /* dv_frame_encode switches to 0x08 when framing extras follow */
    f.opcode = op->opcode;
    f.vbucket = route->vbucket;
    f.opaque = route->opaque;
    f.cas = r->cas;

    /* Framing extras: durability (level + timeout), preserve TTL. */
    uint8_t fe[2 * DV_FRAME_INFO_MAX_SIZE];
    size_t fe_len = 0;
    if (r->durability) {
        uint8_t d[3] = {r->durability, 0, 0};
        dv_store_be16(d + 1, durability_timeout(op, route));
        fe_len += (size_t)dv_frame_info_write(fe + fe_len, DV_FRAME_DURABILITY, d, 3);
    }
    if (r->preserve_expiry)
        fe_len += (size_t)dv_frame_info_write(fe + fe_len, DV_FRAME_PRESERVE_TTL, NULL, 0);
    f.framing = fe_len ? fe : NULL;
    f.framing_len = fe_len;

    /* Key: the LEB128 collection id, then the user key (OBSERVE_SEQNO: none, the key only
     * chose the vbucket). */
    uint8_t key[DV_LEB128_MAX + DV_MAX_KEY_LEN];
    size_t key_len = 0;
    if (!has_no_key(k) && k != DV_KV_OBSERVE_SEQNO) {
        if (collections) key_len = dv_leb128_encode(route->cid, key);
        memcpy(key + key_len, r->key, r->key_len);
        key_len += r->key_len;
        f.key = key;
        f.key_len = key_len;
    }

    /* Extras. */
    uint8_t ex[DV_RSCAN_CONTINUE_EXTRAS_LEN];
    small_buf sx;
    small_buf_init(&sx);
    int json = dv_features_has(route->features, DV_FEATURE_JSON);
    switch (k) {
    case DV_KV_INSERT:
    case DV_KV_UPSERT:
    case DV_KV_REPLACE:
        dv_extras_store_encode(ex, r->flags, r->expiry);
        f.extras_len = DV_EXTRAS_STORE_LEN;
        if (json) f.datatype = r->datatype & DV_DATATYPE_JSON;
        break;
    case DV_KV_GET_AND_TOUCH:
    case DV_KV_TOUCH:
        dv_extras_u32_encode(ex, r->expiry);
        f.extras_len = DV_EXTRAS_U32_LEN;
        break;
    case DV_KV_GET_AND_LOCK:
        dv_extras_u32_encode(ex, r->lock_time);
        f.extras_len = DV_EXTRAS_U32_LEN;
        break;
    case DV_KV_EXISTS:
        ex[0] = DV_GET_META_VERSION;
        f.extras_len = 1;
        break;
    case DV_KV_INCREMENT:
    case DV_KV_DECREMENT: {
        dv_counter_extras c = {r->delta, r->has_initial ? r->initial : 0,
                               r->has_initial ? r->expiry : DV_COUNTER_NO_CREATE};
        dv_extras_counter_encode(ex, &c);
        f.extras_len = DV_EXTRAS_COUNTER_LEN;
        break;
    }
    case DV_KV_LOOKUP_IN: {
        /* A lookup on a replica (lookup_in_any_replica) says so with the REPLICA_READ flag. */
        uint8_t df = r->access_deleted ? DV_SUBDOC_DOC_ACCESS_DELETED : 0;
        if (r->replica_index) df = DV_SUBDOC_DOC_REPLICA_READ;
        if (dv_subdoc_lookup_extras_encode(&sx.b, df) != DV_ERR_OK) return DV_ERR_NO_MEMORY;
        break;
    }
    case DV_KV_MUTATE_IN: {
        dv_subdoc_extras x;
        memset(&x, 0, sizeof x);
        x.has_expiry = r->expiry != 0;
        x.expiry = r->expiry;
        if (r->store_semantics == DV_STORE_UPSERT) x.doc_flags |= DV_SUBDOC_DOC_MKDOC;
        if (r->store_semantics == DV_STORE_INSERT) x.doc_flags |= DV_SUBDOC_DOC_ADD;
        if (r->access_deleted) x.doc_flags |= DV_SUBDOC_DOC_ACCESS_DELETED;
        x.has_doc_flags = x.doc_flags != 0;
        if (dv_subdoc_mutation_extras_encode(&sx.b, &x) != DV_ERR_OK) return DV_ERR_NO_MEMORY;
        break;
    }
    case DV_KV_RANGE_SCAN_CONTINUE: {
        dv_rscan_continue c = {.item_limit = r->scan->item_limit,
                               .time_limit_ms = r->scan->time_limit_ms,
                               .byte_limit = r->scan->byte_limit};
        memcpy(c.id, r->scan->id, DV_RSCAN_ID_LEN);
        dv_rscan_continue_encode(ex, &c);
        f.extras_len = DV_RSCAN_CONTINUE_EXTRAS_LEN;
        break;
    }
    case DV_KV_RANGE_SCAN_CANCEL:
        memcpy(ex, r->scan->id, DV_RSCAN_ID_LEN);
        f.extras_len = DV_RSCAN_ID_LEN;
        break;
    case DV_KV_RANGE_SCAN_CREATE:
        if (json) f.datatype = DV_DATATYPE_JSON;
        break;
    default:
        break;
    }
    if (f.extras_len) {
        f.extras = ex;
    } else if (dv_buf_size(&sx.b)) {
        f.extras = dv_buf_head(&sx.b);
        f.extras_len = dv_buf_size(&sx.b);
    }

    /* Header, framing extras, extras and key; then the value in place. */
    size_t start = dv_buf_size(out), mark;
    int mrc = dv_frame_begin(out, &f, &mark);
    if (mrc) return mrc == DV_MCBP_ENOMEM ? DV_ERR_NO_MEMORY : DV_ERR_INVALID_ARGUMENT;

    dv_error rc = DV_ERR_OK;
    if (k == DV_KV_LOOKUP_IN || k == DV_KV_MUTATE_IN || op->opcode == DV_OP_SUBDOC_MULTI_LOOKUP) {
        dv_subdoc_spec specs[DV_MAX_SPECS];
        const dv_subdoc_spec *wire = specs;
        size_t n = r->nspecs;
        if (k == DV_KV_GET) {
            wire = with_expiry_specs;
            n = WE_COUNT;
        }
        for (size_t i = 0; wire == specs && i < n; i++) {
            const dv_subdoc_op *s = &r->specs[op->wire[i]];
            specs[i] =
                (dv_subdoc_spec){s->opcode, s->flags, s->path, s->path_len, s->value, s->value_len};
        }
        rc = k == DV_KV_MUTATE_IN ? dv_subdoc_mutation_encode(out, wire, n)
                                  : dv_subdoc_lookup_encode(out, wire, n);
    } else if (k == DV_KV_RANGE_SCAN_CREATE) {
        rc = scan_create_json(r->scan, collections ? route->cid : 0, out);
    } else if (k == DV_KV_OBSERVE_SEQNO) {
        uint8_t uuid[8];
        dv_value_u64_encode(uuid, r->vbucket_uuid);
        if (dv_buf_append(out, uuid, sizeof uuid)) rc = DV_ERR_NO_MEMORY;
    } else if (r->value_len) {
        int compressed = 0;
        if ((k == DV_KV_INSERT || k == DV_KV_UPSERT || k == DV_KV_REPLACE) &&
            dv_features_has(route->features, DV_FEATURE_SNAPPY)) {
            uint8_t dt = 0;
            compressed = dv_snappy_compress(r->value, r->value_len, out, &dt);
            if (compressed < 0) rc = DV_ERR_NO_MEMORY;
            /* The header's datatype byte gains the SNAPPY bit. */
            if (compressed == 1) out->data[out->off + mark + 5] |= DV_DATATYPE_SNAPPY;
        }
        if (!rc && !compressed && dv_buf_append(out, r->value, r->value_len)) rc = DV_ERR_NO_MEMORY;
    }
    if (!rc && dv_frame_end(out, mark)) rc = DV_ERR_INVALID_ARGUMENT;
    if (rc) {
        out->len = out->off + start; /* drop the partial frame */
        return rc;
    }
    return DV_ERR_OK;
}

/* ---- dv_op_decode ---- */

/* Where the specs array goes in scratch: after the bytes, aligned. Returns its offset or
 * SIZE_MAX on allocation failure. */
static size_t scratch_specs(dv_buf *scratch, size_t n)
{
    size_t align = alignof(dv_subdoc_res);
    size_t at = (dv_buf_size(scratch) + align - 1) / align * align;
    size_t need = at - dv_buf_size(scratch) + n * sizeof(dv_subdoc_res);
    uint8_t *p = dv_buf_reserve(scratch, need);
    if (!p) return SIZE_MAX;
    memset(p, 0, need);
    dv_buf_commit(scratch, need);
    return at;
}

/* Decimal u32 as $document.exptime / $document.flags give it; empty is 0 (as the official core
 * reads it). */
static int parse_u32(const uint8_t *p, size_t n, uint32_t *v)
{
    uint64_t x = 0;
    if (n > 10) return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        x = x * 10 + (uint64_t)(p[i] - '0');
    }
    if (x > UINT32_MAX) return -1;
    *v = (uint32_t)x;
    return 0;
}

static int is_subdoc_top_success(uint16_t st)
{
    return st == DV_STATUS_SUCCESS || st == DV_STATUS_SUBDOC_SUCCESS_DELETED ||
           st == DV_STATUS_SUBDOC_MULTI_PATH_FAILURE ||
           st == DV_STATUS_SUBDOC_MULTI_PATH_FAILURE_DELETED;
}

static int is_deleted_status(uint16_t st)
{
    return st == DV_STATUS_SUBDOC_SUCCESS_DELETED ||
           st == DV_STATUS_SUBDOC_MULTI_PATH_FAILURE_DELETED;
}

/* get(with_expiry): the three lookup results back into a GET result. */
static dv_error decode_with_expiry(const uint8_t *v, size_t n, dv_res *res)
{
    dv_subdoc_result rr[WE_COUNT];
    size_t count = 0;
    if (dv_subdoc_lookup_res_decode(v, n, rr, WE_COUNT, &count) != DV_ERR_OK || count != WE_COUNT)
        return DV_ERR_PROTOCOL_ERROR;
    for (size_t i = 0; i < WE_COUNT; i++)
        if (rr[i].status != DV_STATUS_SUCCESS) return dv_subdoc_status_error(rr[i].status);
    if (parse_u32(rr[WE_EXPTIME].value, rr[WE_EXPTIME].value_len, &res->expiry) ||
        parse_u32(rr[WE_FLAGS].value, rr[WE_FLAGS].value_len, &res->flags))
        return DV_ERR_PARSING_FAILURE;
    res->value = rr[WE_DOC].value;
    res->value_len = rr[WE_DOC].value_len;
    /* The lookup loses the document's datatype: the common flags say whether it is JSON. */
    res->datatype =
        (res->flags & DV_FLAGS_COMMON_MASK) == DV_FLAGS_JSON ? DV_DATATYPE_JSON : DV_DATATYPE_RAW;
    return DV_ERR_OK;
}

static dv_error decode_lookup(const dv_op *op, uint16_t st, const uint8_t *v, size_t n,
                              dv_subdoc_res *specs, dv_res *res)
{
    size_t ns = op->req.nspecs, count = 0;
    dv_subdoc_result rr[DV_MAX_SPECS];
    if (dv_subdoc_lookup_res_decode(v, n, rr, ns, &count) != DV_ERR_OK || count != ns)
        return DV_ERR_PROTOCOL_ERROR;
    for (size_t i = 0; i < ns; i++) {
        dv_subdoc_res *s = &specs[op->wire[i]];
        s->status = rr[i].status;
        s->err = dv_subdoc_status_error(rr[i].status);
        s->value = rr[i].value;
        s->value_len = rr[i].value_len;
        /* An exists spec answers true or false, as the official core gives it: a missing path
         * is "false", not an error. */
        if (op->req.specs[op->wire[i]].opcode == DV_OP_SUBDOC_EXISTS) {
            if (s->err == DV_ERR_PATH_NOT_FOUND) s->err = DV_ERR_OK;
            if (s->err == DV_ERR_OK) {
                int yes = rr[i].status == DV_STATUS_SUCCESS;
                s->value = yes ? "true" : "false";
                s->value_len = yes ? 4 : 5;
            }
        }
    }
    res->deleted = is_deleted_status(st);
    return DV_ERR_OK;
}

static dv_error decode_mutation(const dv_op *op, uint16_t st, const uint8_t *v, size_t n,
                                dv_subdoc_res *specs, dv_res *res)
{
    size_t ns = op->req.nspecs, count = 0;
    dv_subdoc_result rr[DV_MAX_SPECS];
    if (dv_subdoc_mutation_res_decode(st, v, n, rr, ns, &count) != DV_ERR_OK)
        return DV_ERR_PROTOCOL_ERROR;
    for (size_t i = 0; i < count; i++)
        if (rr[i].index >= ns) return DV_ERR_PROTOCOL_ERROR;
    res->deleted = is_deleted_status(st);
    if (st == DV_STATUS_SUBDOC_MULTI_PATH_FAILURE ||
        st == DV_STATUS_SUBDOC_MULTI_PATH_FAILURE_DELETED) {
        /* Nothing was applied: the failing spec's error is the operation's. */
        dv_subdoc_res *s = &specs[op->wire[rr[0].index]];
        s->status = rr[0].status;
        s->err = dv_subdoc_status_error(rr[0].status);
        res->cas = 0;
        return s->err == DV_ERR_OK ? DV_ERR_PROTOCOL_ERROR : s->err;
    }
    for (size_t i = 0; i < count; i++) {
        dv_subdoc_res *s = &specs[op->wire[rr[i].index]];
        s->value = rr[i].value;
        s->value_len = rr[i].value_len;
    }
    return DV_ERR_OK;
}

/* A mutation's token; without one in the reply (tokens not negotiated) the vbucket with uuid and
 * seqno 0, as the official core gives. */
static void decode_token(const dv_op *op, const dv_frame *f, dv_res *res)
{
    dv_mutation_token t;
    if (dv_extras_token_decode(f->extras, f->extras_len, &t) != DV_MCBP_OK)
        t = (dv_mutation_token){0, 0};
    res->has_token = 1;
    res->token.partition_uuid = t.vbucket_uuid;
    res->token.sequence_number = t.seqno;
    res->token.partition_id = op->vbucket;
    res->token.bucket_name = op->req.bucket;
}

/* A range-scan reply: the create's scan id; a continue's records, with partial for a frame
 * before the last and scan_more on the last. */
static dv_op_verdict decode_scan(const dv_op *op, const dv_frame *f, uint16_t st, const uint8_t *v,
                                 size_t vlen, dv_res *res)
{
    dv_op_kind k = op->req.kind;
    res->cas = 0;
    int ok = st == DV_STATUS_SUCCESS;
    if (k == DV_KV_RANGE_SCAN_CONTINUE)
        ok = ok || st == DV_STATUS_RANGE_SCAN_MORE || st == DV_STATUS_RANGE_SCAN_COMPLETE;
    if (!ok) {
        res->err = dv_mcbp_status_error(op->opcode, st);
        if (res->err == DV_ERR_OK) res->err = DV_ERR_PROTOCOL_ERROR;
        return DV_OP_DONE;
    }
    if (k == DV_KV_RANGE_SCAN_CREATE) {
        if (vlen != DV_RSCAN_ID_LEN) {
            res->err = DV_ERR_PROTOCOL_ERROR;
            return DV_OP_DONE;
        }
        res->value = v;
        res->value_len = vlen;
    } else if (k == DV_KV_RANGE_SCAN_CONTINUE) {
        if (f->extras_len && dv_extras_u32_decode(f->extras, f->extras_len, &res->flags)) {
            res->err = DV_ERR_PROTOCOL_ERROR;
            return DV_OP_DONE;
        }
        res->value = vlen ? v : NULL;
        res->value_len = vlen;
        res->partial = st == DV_STATUS_SUCCESS;
        res->scan_more = st == DV_STATUS_RANGE_SCAN_MORE;
    }
    return DV_OP_DONE;
}

dv_op_verdict dv_op_decode(const dv_op *op, const dv_frame *f, dv_res *res, dv_buf *scratch,
                           dv_retry *reason)
{
    const dv_req *r = &op->req;
    dv_op_kind k = r->kind;
    const dv_error_context *ctx = res->ctx;
    memset(res, 0, sizeof *res);
    res->ctx = ctx;
    *reason = DV_RETRY_NONE;
    dv_buf_reset(scratch);

    if (f->opcode != op->opcode) {
        res->err = DV_ERR_PROTOCOL_ERROR;
        return DV_OP_DONE;
    }
    uint16_t st = f->status;
    res->cas = f->cas;

    /* The value, inflated into scratch if compressed (kept by offset: scratch may move). */
    const uint8_t *v = f->value;
    size_t vlen = f->value_len;
    uint8_t dt = f->datatype;
    int inflated = 0;
    if ((dt & DV_DATATYPE_SNAPPY) && vlen) {
        int rc = dv_snappy_decompress(v, vlen, DV_FRAME_DEFAULT_MAX_BODY, scratch, &dt);
        if (rc != DV_MCBP_OK) {
            res->err = dv_mcbp_rc_error(rc);
            return DV_OP_DONE;
        }
        inflated = 1;
        vlen = dv_buf_size(scratch);
    }
    dt &= (uint8_t)~DV_DATATYPE_SNAPPY;

    /* Insert semantics make KEY_EEXISTS mean DOCUMENT_EXISTS for a sub-document mutation. */
    uint8_t map_op = op->opcode;
    if (k == DV_KV_MUTATE_IN && r->store_semantics == DV_STORE_INSERT) map_op = DV_OP_ADD;

    /* Sub-document replies keep their specs array in scratch, after the inflated bytes. */
    int subdoc = k == DV_KV_LOOKUP_IN || k == DV_KV_MUTATE_IN;
    size_t specs_at = SIZE_MAX;
    if (subdoc && is_subdoc_top_success(st)) {
        specs_at = scratch_specs(scratch, r->nspecs);
        if (specs_at == SIZE_MAX) {
            res->err = DV_ERR_NO_MEMORY;
            return DV_OP_DONE;
        }
    }
    if (inflated) v = dv_buf_head(scratch);

    dv_retry why = dv_mcbp_status_retry(op->opcode, st);
    if (why != DV_RETRY_NONE) {
        res->err = dv_mcbp_status_error(map_op, st);
        *reason = why;
        if (why == DV_RETRY_NOT_MY_VBUCKET) {
            res->value = vlen ? v : NULL;
            res->value_len = vlen;
            res->datatype = dt;
            return DV_OP_NOT_MY_VBUCKET;
        }
        return why == DV_RETRY_COLLECTION_OUTDATED ? DV_OP_UNKNOWN_COLLECTION : DV_OP_RETRY;
    }

    if (is_scan(k)) return decode_scan(op, f, st, v, vlen, res);

    /* exists(): a missing key or a tombstone is an answer, not an error. */
    if (k == DV_KV_EXISTS) {
        if (st == DV_STATUS_KEY_ENOENT) return DV_OP_DONE;
        if (st == DV_STATUS_SUCCESS) {
            dv_get_meta m;
            if (dv_extras_get_meta_decode(f->extras, f->extras_len, &m) != DV_MCBP_OK) {
                res->err = DV_ERR_PROTOCOL_ERROR;
                return DV_OP_DONE;
            }
            res->deleted = m.deleted != 0;
            res->exists = !res->deleted;
            res->flags = m.flags;
            res->expiry = m.expiry;
            res->datatype = m.datatype;
            return DV_OP_DONE;
        }
    }

    int success = st == DV_STATUS_SUCCESS || (subdoc && is_subdoc_top_success(st)) ||
                  (op->opcode == DV_OP_SUBDOC_MULTI_LOOKUP && is_subdoc_top_success(st));
    if (!success) {
        res->cas = 0; /* a CAS only with success, like the official core */
        res->err = dv_mcbp_status_error(map_op, st);
        /* A success-like status this operation cannot get (AUTH_CONTINUE, subdoc on GET...). */
        if (res->err == DV_ERR_OK) res->err = DV_ERR_PROTOCOL_ERROR;
        return DV_OP_DONE;
    }

    if (k == DV_KV_GET && r->with_expiry) {
        res->err = decode_with_expiry(v, vlen, res);
        if (res->err) {
            res->value = NULL;
            res->value_len = 0;
            res->flags = res->expiry = 0;
        }
        return DV_OP_DONE;
    }
    if (subdoc) {
        dv_subdoc_res *specs = (dv_subdoc_res *)(scratch->data + scratch->off + specs_at);
        res->err = k == DV_KV_LOOKUP_IN ? decode_lookup(op, st, v, vlen, specs, res)
                                        : decode_mutation(op, st, v, vlen, specs, res);
        if (res->err != DV_ERR_PROTOCOL_ERROR) {
            res->specs = specs;
            res->nspecs = r->nspecs;
        }
        if (!res->err && k == DV_KV_MUTATE_IN) decode_token(op, f, res);
        return DV_OP_DONE;
    }
    if (is_get_family(k)) {
        if (f->extras_len && dv_extras_u32_decode(f->extras, f->extras_len, &res->flags)) {
            res->err = DV_ERR_PROTOCOL_ERROR;
            return DV_OP_DONE;
        }
        res->value = vlen ? v : NULL;
        res->value_len = vlen;
        res->datatype = dt;
        return DV_OP_DONE;
    }
    if (k == DV_KV_OBSERVE_SEQNO) {
        dv_observe_seqno o;
        if (dv_observe_seqno_decode(v, vlen, &o) != DV_MCBP_OK) {
            res->err = DV_ERR_PROTOCOL_ERROR;
            return DV_OP_DONE;
        }
        res->persisted_seqno = o.last_persisted_seqno;
        res->current_seqno = o.current_seqno;
        return DV_OP_DONE;
    }
    if (is_counter(k) && dv_value_u64_decode(v, vlen, &res->counter) != DV_MCBP_OK) {
        res->err = DV_ERR_PROTOCOL_ERROR;
        return DV_OP_DONE;
    }
    if (is_mutation(k)) decode_token(op, f, res);
    return DV_OP_DONE;
}

uint64_t dv_op_backoff_ms(unsigned n)
{
    static const uint64_t table[] = {1, 10, 50, 100, 500, 1000};
    return n < sizeof table / sizeof table[0] ? table[n] : 1000;
}

const char *dv_op_error_message(const dv_frame *f, char *out, size_t outlen)
{
    if (!out || !outlen) return out;
    out[0] = '\0';
    if (f->status == DV_STATUS_SUCCESS || !(f->datatype & DV_DATATYPE_JSON) || !f->value_len ||
        (f->datatype & DV_DATATYPE_SNAPPY))
        return out;
    dv_xerror x;
    if (dv_xerror_parse(f->value, f->value_len, &x) != DV_ERR_OK) return out;
    if (x.context) {
        size_t n = strlen(x.context);
        if (n >= outlen) n = outlen - 1;
        memcpy(out, x.context, n);
        out[n] = '\0';
    }
    dv_xerror_free(&x);
    return out;
}
