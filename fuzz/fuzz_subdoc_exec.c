/* Fuzz the sub-document engine (server/subdoc.h) and its JSON scanner on arbitrary documents,
 * xattrs and requests.
 *
 * Input: u8 selector | u16 body length | body | u16 xattr length | xattr section | specs.
 * The xattr section is key\0value\0 pairs, made into a blob, or, when it starts with 0xff, the
 * raw blob that follows (malformed blobs). The specs are decoded both as a multi-lookup and as a
 * multi-mutation request; whatever decodes is run on a store holding the document. Selector
 * bits: 0 the document's CAS, 1 single-path, 2 ACCESS_DELETED for the lookup, 3-5 the
 * mutation's doc flags, 6 an expiry, 7 the document is a tombstone (when its body is empty).
 *
 * Checks: responses decode with the client's decoders (so only statuses the official core knows
 * appear per spec); values a GET returns are JSON; a stored document's datatype matches its
 * body and its xattr blob is well formed; and path mutations of a JSON body leave JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/endian.h"
#include "mcbp/protocol.h"
#include "mcbp/subdoc.h"
#include "server/jsonpath.h"
#include "server/subdoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

#define NOW 1800000000u

static int is_json(const void *p, size_t n)
{
    return dv_json_validate(p, n, DV_JSON_MAX_LEVELS, NULL, NULL) == DV_JSON_OK;
}

/* Take a u16-prefixed section; NULL when the input is too short. */
static const uint8_t *take(const uint8_t **p, size_t *n, size_t *len)
{
    if (*n < 2) return NULL;
    size_t l = dv_load_be16(*p);
    if (l > *n - 2) l = *n - 2;
    const uint8_t *s = *p + 2;
    *p += 2 + l;
    *n -= 2 + l;
    *len = l;
    return s;
}

/* key\0value\0... into a blob (u32 total, u32 len | key\0value\0 per pair). */
static void make_blob(dv_buf *b, const uint8_t *p, size_t n)
{
    dv_buf_append_be32(b, 0);
    size_t i = 0;
    while (i < n) {
        const uint8_t *k = memchr(p + i, 0, n - i);
        if (!k) break;
        size_t nk = (size_t)(k - (p + i)), vs = i + nk + 1;
        const uint8_t *v = vs < n ? memchr(p + vs, 0, n - vs) : NULL;
        if (!v) break;
        size_t nv = (size_t)(v - (p + vs));
        dv_buf_append_be32(b, (uint32_t)(nk + nv + 2));
        dv_buf_append(b, p + i, nk + 1);
        dv_buf_append(b, p + vs, nv + 1);
        i = vs + nv + 1;
    }
    if (dv_buf_size(b) == 4)
        dv_buf_reset(b);
    else
        dv_store_be32(b->data + b->off, (uint32_t)(dv_buf_size(b) - 4));
}

/* The stored document must be consistent: its datatype, and its xattr blob unless a malformed
 * one was stored to begin with (the engine passes xattrs it does not touch through). */
static void check_item(dv_store *s, int body_was_json, int whole_doc, int blob_ok)
{
    dv_vbucket *vb = dv_store_lock(s, 0);
    dv_item *it = dv_vbucket_find(vb, 0, "k", 1, NOW);
    CHECK(it != NULL);
    int json = is_json(dv_item_value(it), it->nvalue);
    CHECK(json == ((it->datatype & DV_DATATYPE_JSON) != 0));
    if (body_was_json && !whole_doc) CHECK(json || (it->deleted && it->nvalue == 0));
    if (it->nxattr && blob_ok) {
        const uint8_t *b = (const uint8_t *)dv_item_xattr(it);
        CHECK(it->nxattr >= 4 && dv_load_be32(b) + 4 == it->nxattr);
    }
    dv_vbucket_unlock(vb);
}

static void run(const uint8_t sel, const uint8_t *body, size_t nbody, const dv_buf *blob,
                int blob_ok, const uint8_t *specs_bytes, size_t nspecs_bytes)
{
    dv_store *s = dv_store_new(1, 1);
    if (!s) return;
    int body_json = is_json(body, nbody);
    dv_vbucket *vb = dv_store_lock(s, 0);
    dv_item *it = dv_item_new(0, "k", 1, dv_buf_head(blob), (uint32_t)dv_buf_size(blob), body,
                              (uint32_t)nbody);
    if (!it) {
        dv_vbucket_unlock(vb);
        dv_store_free(s);
        return;
    }
    it->datatype = body_json ? DV_DATATYPE_JSON : 0;
    it->deleted = (sel & 0x80) && nbody == 0;
    uint64_t cas = dv_vbucket_install(vb, it, 0);
    dv_vbucket_unlock(vb);

    dv_subdoc_spec specs[DV_SUBDOC_MAX_SPECS];
    size_t n = 0;
    dv_sd_res res;
    dv_buf_init(&res.body);
    uint8_t single = (sel & 0x02) != 0;

    if (dv_subdoc_lookup_decode(specs_bytes, nspecs_bytes, specs, &n, NULL) == DV_STATUS_SUCCESS &&
        (!single || n == 1)) {
        uint8_t df = (sel & 0x04) ? DV_SUBDOC_DOC_ACCESS_DELETED : 0;
        /* sel bits 3-4: the $XTOC names a user may not see. */
        dv_sd_lookup_req q = {0, 0, "k", 1, df, specs, n, single, NOW, (uint8_t)((sel >> 3) & 3)};
        dv_sd_lookup(s, &q, &res);
        dv_subdoc_result r[DV_SUBDOC_MAX_SPECS];
        size_t nr;
        uint16_t st = res.status;
        if (!single && (st == DV_STATUS_SUCCESS || st == DV_STATUS_SUBDOC_MULTI_PATH_FAILURE ||
                        st == DV_STATUS_SUBDOC_SUCCESS_DELETED ||
                        st == DV_STATUS_SUBDOC_MULTI_PATH_FAILURE_DELETED)) {
            CHECK(dv_subdoc_lookup_res_decode(dv_buf_head(&res.body), dv_buf_size(&res.body), r,
                                              DV_SUBDOC_MAX_SPECS, &nr) == DV_ERR_OK);
            CHECK(nr == n);
            for (size_t i = 0; i < nr; i++) {
                if (r[i].status != DV_STATUS_SUCCESS) CHECK(r[i].value_len == 0);
                if (r[i].status == DV_STATUS_SUCCESS && specs[i].opcode == DV_OP_SUBDOC_GET &&
                    !(specs[i].flags & DV_SUBDOC_PATH_BINARY_VALUE))
                    CHECK(is_json(r[i].value, r[i].value_len));
            }
        } else if (!single) {
            CHECK(dv_buf_size(&res.body) == 0);
        }
    }

    n = 0;
    dv_buf_reset(&res.body);
    if (dv_subdoc_mutation_decode(specs_bytes, nspecs_bytes, specs, &n, NULL) ==
            DV_STATUS_SUCCESS &&
        (!single || n == 1)) {
        static const uint8_t flags[8] = {0,
                                         DV_SUBDOC_DOC_MKDOC,
                                         DV_SUBDOC_DOC_ADD,
                                         DV_SUBDOC_DOC_ACCESS_DELETED,
                                         DV_SUBDOC_DOC_MKDOC | DV_SUBDOC_DOC_CREATE_AS_DELETED,
                                         DV_SUBDOC_DOC_ACCESS_DELETED |
                                             DV_SUBDOC_DOC_REVIVE_DOCUMENT,
                                         DV_SUBDOC_DOC_ADD | DV_SUBDOC_DOC_ACCESS_DELETED,
                                         DV_SUBDOC_DOC_MKDOC | DV_SUBDOC_DOC_ACCESS_DELETED};
        dv_sd_mutate_req q = {0};
        q.key = "k";
        q.nkey = 1;
        q.x.doc_flags = flags[(sel >> 3) & 7];
        q.x.has_doc_flags = q.x.doc_flags != 0;
        q.x.has_expiry = (sel & 0x40) != 0;
        q.x.expiry = 100;
        q.cas = (sel & 0x01) && !(q.x.doc_flags & DV_SUBDOC_DOC_ADD) ? cas : 0;
        q.specs = specs;
        q.nspecs = n;
        q.single = single;
        q.now = NOW;
        int whole = 0;
        for (size_t i = 0; i < n; i++)
            whole |= specs[i].opcode == DV_SUBDOC_OP_SET_DOC ||
                     specs[i].opcode == DV_OP_SUBDOC_REPLACE_BODY_WITH_XATTR;
        dv_sd_mutate(s, &q, &res);
        uint16_t st = res.status;
        dv_subdoc_result r[DV_SUBDOC_MAX_SPECS];
        size_t nr;
        if (st == DV_STATUS_SUCCESS || st == DV_STATUS_SUBDOC_SUCCESS_DELETED) {
            if (!single)
                CHECK(dv_subdoc_mutation_res_decode(st, dv_buf_head(&res.body),
                                                    dv_buf_size(&res.body), r, DV_SUBDOC_MAX_SPECS,
                                                    &nr) == DV_ERR_OK);
            CHECK(res.cas != 0 && res.seqno == 2);
            check_item(s, body_json, whole, blob_ok);
        } else if (st == DV_STATUS_SUBDOC_MULTI_PATH_FAILURE && !single) {
            CHECK(dv_subdoc_mutation_res_decode(st, dv_buf_head(&res.body), dv_buf_size(&res.body),
                                                r, DV_SUBDOC_MAX_SPECS, &nr) == DV_ERR_OK);
            CHECK(nr == 1 && r[0].index < n);
        } else if (!single) {
            CHECK(dv_buf_size(&res.body) == 0);
        }
    }
    dv_buf_free(&res.body);
    dv_store_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t sel = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1, nbody = 0, nx = 0;
    const uint8_t *body = take(&p, &n, &nbody);
    if (!body) return 0;
    const uint8_t *xs = take(&p, &n, &nx);
    if (!xs) return 0;
    dv_buf blob = DV_BUF_INIT;
    if (nx && xs[0] == 0xff) /* raw, possibly malformed */
        dv_buf_append(&blob, xs + 1, nx - 1);
    else
        make_blob(&blob, xs, nx);
    run(sel, body, nbody, &blob, !(nx && xs[0] == 0xff), p, n);
    dv_buf_free(&blob);
    return 0;
}
