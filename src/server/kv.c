#include "server/kv.h"

#include <string.h>

#include "base/alloc.h"
#include "base/endian.h"
#include "mcbp/extras.h"
#include "mcbp/protocol.h"

uint32_t dv_kv_expiry_abs(uint32_t expiry, uint32_t now)
{
    if (expiry == 0) return 0;
    if (expiry <= DV_EXPIRY_RELATIVE_MAX) return now + expiry;
    /* An absolute time already past expires the document at once. */
    return expiry > now ? expiry : (now ? now : 1);
}

/* The system xattrs (keys starting with '_') of it, as a new blob in out (at least
 * it->nxattr bytes); returns its size, 0 when there are none. Full-document writes and
 * deletions keep these and drop user xattrs, as Couchbase does. */
static uint32_t system_xattrs(const dv_item *it, uint8_t *out)
{
    if (!it || it->nxattr < 4) return 0;
    const uint8_t *p = (const uint8_t *)dv_item_xattr(it), *end = p + it->nxattr;
    uint32_t n = 4;
    for (p += 4; p + 4 <= end;) {
        uint32_t len = dv_load_be32(p);
        if (len > (size_t)(end - p - 4)) break;
        if (len && p[4] == '_') {
            memcpy(out + n, p, 4 + (size_t)len);
            n += 4 + len;
        }
        p += 4 + (size_t)len;
    }
    if (n == 4) return 0;
    dv_store_be32(out, n - 4);
    return n;
}

/* A new item for key with value and the given system xattrs of cur; NULL on no memory. */
static dv_item *make_item(const dv_kv_req *req, const dv_item *cur, const void *value,
                          size_t nvalue)
{
    uint8_t stack[256], *xa = stack;
    if (cur && cur->nxattr > sizeof stack) {
        xa = dv_malloc(cur->nxattr);
        if (!xa) return NULL;
    }
    uint32_t nx = system_xattrs(cur, xa);
    dv_item *it = dv_item_new(req->cid, req->key, (uint32_t)req->nkey, nx ? xa : NULL, nx, value,
                              (uint32_t)nvalue);
    if (xa != stack) dv_free(xa);
    return it;
}

/* Lock and CAS rules shared by the mutations of an existing document. */
static uint16_t check_cas(dv_vbucket *vb, const dv_kv_req *req, const dv_item *cur)
{
    uint64_t lock_cas;
    if (dv_vbucket_locked(vb, cur, req->now, &lock_cas))
        return req->cas == lock_cas ? 0 : DV_STATUS_LOCKED;
    if (req->cas && req->cas != cur->cas) return DV_STATUS_KEY_EEXISTS;
    return 0;
}

static void finish(dv_vbucket *vb, dv_item *it, dv_kv_res *res)
{
    res->cas = dv_vbucket_install(vb, it, 0);
    res->seqno = it->seqno;
    res->vb_uuid = dv_vbucket_uuid(vb);
    res->status = DV_STATUS_SUCCESS;
}

static void store_doc(dv_vbucket *vb, const dv_kv_req *req, dv_item *cur, dv_kv_res *res)
{
    int live = cur && !cur->deleted;
    if (req->opcode == DV_OP_ADD) {
        if (live) {
            res->status = DV_STATUS_KEY_EEXISTS;
            return;
        }
        if (req->cas) {
            res->status = DV_STATUS_EINVAL;
            return;
        }
    } else if (!live) {
        if (req->opcode == DV_OP_REPLACE || req->cas) {
            res->status = DV_STATUS_KEY_ENOENT;
            return;
        }
    } else if ((res->status = check_cas(vb, req, cur)) != 0) {
        return;
    }
    dv_item *it = make_item(req, live ? cur : NULL, req->value, req->nvalue);
    if (!it) {
        res->status = DV_STATUS_ENOMEM;
        return;
    }
    it->flags = req->flags;
    it->datatype = req->datatype & DV_DATATYPE_JSON;
    it->exptime =
        req->preserve_ttl && live ? cur->exptime : dv_kv_expiry_abs(req->expiry, req->now);
    finish(vb, it, res);
}

static void remove_doc(dv_vbucket *vb, const dv_kv_req *req, dv_item *cur, dv_kv_res *res)
{
    if (!cur || cur->deleted) {
        res->status = DV_STATUS_KEY_ENOENT;
        return;
    }
    if ((res->status = check_cas(vb, req, cur)) != 0) return;
    dv_item *it = make_item(req, cur, NULL, 0);
    if (!it) {
        res->status = DV_STATUS_ENOMEM;
        return;
    }
    it->deleted = 1;
    it->flags = cur->flags;
    finish(vb, it, res);
}

static void concat(dv_vbucket *vb, const dv_kv_req *req, dv_item *cur, dv_kv_res *res)
{
    if (!cur || cur->deleted) {
        res->status = DV_STATUS_NOT_STORED;
        return;
    }
    if ((res->status = check_cas(vb, req, cur)) != 0) return;
    size_t n = (size_t)cur->nvalue + req->nvalue;
    if (n > DV_MAX_VALUE_LEN) {
        res->status = DV_STATUS_E2BIG;
        return;
    }
    /* Build key | xattrs | value in one item, then fill the value. */
    dv_item *it = dv_item_new(req->cid, req->key, (uint32_t)req->nkey, dv_item_xattr(cur),
                              cur->nxattr, NULL, (uint32_t)n);
    if (!it) {
        res->status = DV_STATUS_ENOMEM;
        return;
    }
    char *v = (char *)dv_item_value(it);
    const void *first = req->opcode == DV_OP_APPEND ? dv_item_value(cur) : req->value;
    size_t nfirst = req->opcode == DV_OP_APPEND ? cur->nvalue : req->nvalue;
    const void *second = req->opcode == DV_OP_APPEND ? req->value : dv_item_value(cur);
    if (nfirst) memcpy(v, first, nfirst);
    if (n - nfirst) memcpy(v + nfirst, second, n - nfirst);
    it->flags = cur->flags;
    it->exptime = cur->exptime;
    it->datatype = 0; /* the result is not known to be JSON */
    finish(vb, it, res);
}

/* A stored counter: ASCII decimal digits only, fitting in 64 bits. */
static int parse_u64(const char *p, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static void counter(dv_vbucket *vb, const dv_kv_req *req, dv_item *cur, dv_kv_res *res)
{
    uint64_t v;
    uint32_t flags = 0, exptime;
    if (!cur || cur->deleted) {
        if (req->expiry == DV_COUNTER_NO_CREATE) {
            res->status = DV_STATUS_KEY_ENOENT;
            return;
        }
        v = req->initial;
        exptime = dv_kv_expiry_abs(req->expiry, req->now);
        cur = NULL;
    } else {
        if ((res->status = check_cas(vb, req, cur)) != 0) return;
        if (parse_u64(dv_item_value(cur), cur->nvalue, &v) != 0) {
            res->status = DV_STATUS_DELTA_BADVAL;
            return;
        }
        if (req->opcode == DV_OP_INCREMENT)
            v += req->delta; /* wraps at 2^64 */
        else
            v = v > req->delta ? v - req->delta : 0;
        flags = cur->flags;
        exptime = req->preserve_ttl || !req->expiry ? cur->exptime
                                                    : dv_kv_expiry_abs(req->expiry, req->now);
    }
    char digits[24];
    int nd = 0;
    uint64_t t = v;
    do {
        digits[sizeof digits - 1 - nd++] = (char)('0' + t % 10);
        t /= 10;
    } while (t);
    dv_item *it = make_item(req, cur, digits + sizeof digits - nd, (size_t)nd);
    if (!it) {
        res->status = DV_STATUS_ENOMEM;
        return;
    }
    it->flags = flags;
    it->exptime = exptime;
    it->datatype = DV_DATATYPE_JSON; /* a decimal number is JSON */
    res->counter = v;
    finish(vb, it, res);
}

static void touch(dv_vbucket *vb, const dv_kv_req *req, dv_item *cur, dv_kv_res *res)
{
    if (!cur || cur->deleted) {
        res->status = DV_STATUS_KEY_ENOENT;
        return;
    }
    if (dv_vbucket_locked(vb, cur, req->now, NULL)) {
        res->status = DV_STATUS_LOCKED;
        return;
    }
    dv_item *it = dv_item_new(req->cid, req->key, (uint32_t)req->nkey, dv_item_xattr(cur),
                              cur->nxattr, dv_item_value(cur), cur->nvalue);
    if (!it) {
        res->status = DV_STATUS_ENOMEM;
        return;
    }
    it->flags = cur->flags;
    it->datatype = cur->datatype;
    it->exptime = dv_kv_expiry_abs(req->expiry, req->now);
    finish(vb, it, res);
    if (req->opcode == DV_OP_GAT) res->item = dv_item_ref(it);
}

static void lock(dv_vbucket *vb, const dv_kv_req *req, dv_item *cur, dv_kv_res *res)
{
    if (!cur || cur->deleted) {
        res->status = DV_STATUS_KEY_ENOENT;
        return;
    }
    if (dv_vbucket_locked(vb, cur, req->now, NULL)) {
        res->status = DV_STATUS_LOCKED;
        return;
    }
    uint32_t t = req->lock_time;
    if (t == 0 || t > DV_LOCK_MAX_SECONDS) t = DV_LOCK_DEFAULT_SECONDS;
    uint64_t cas = dv_vbucket_next_cas(vb);
    if (dv_vbucket_lock_item(vb, cur, req->now, req->now + t, cas) != 0) {
        res->status = DV_STATUS_ENOMEM;
        return;
    }
    res->cas = cas;
    res->item = dv_item_ref(cur);
    res->status = DV_STATUS_SUCCESS;
}

static void unlock(dv_vbucket *vb, const dv_kv_req *req, dv_item *cur, dv_kv_res *res)
{
    uint64_t lock_cas = 0;
    if (!cur || cur->deleted)
        res->status = DV_STATUS_KEY_ENOENT;
    else if (!dv_vbucket_locked(vb, cur, req->now, &lock_cas))
        res->status = DV_STATUS_NOT_LOCKED;
    else if (req->cas != lock_cas)
        res->status = DV_STATUS_LOCKED;
    else {
        dv_vbucket_unlock_item(vb, cur);
        res->cas = cur->cas;
        res->status = DV_STATUS_SUCCESS;
    }
}

void dv_kv_execute(dv_store *store, const dv_kv_req *req, dv_kv_res *res)
{
    memset(res, 0, sizeof *res);
    if (req->nvalue > DV_MAX_VALUE_LEN) {
        res->status = DV_STATUS_E2BIG;
        return;
    }
    dv_vbucket *vb = dv_store_lock(store, req->vbucket);
    if (!vb) {
        res->status = DV_STATUS_NOT_MY_VBUCKET;
        return;
    }
    dv_item *cur = dv_vbucket_find(vb, req->cid, req->key, req->nkey, req->now);
    switch (req->opcode) {
    case DV_OP_GET:
        if (!cur || cur->deleted)
            res->status = DV_STATUS_KEY_ENOENT;
        else {
            res->item = dv_item_ref(cur);
            res->cas = dv_vbucket_locked(vb, cur, req->now, NULL) ? DV_CAS_LOCKED : cur->cas;
        }
        break;
    case DV_OP_SET:
    case DV_OP_ADD:
    case DV_OP_REPLACE:
        store_doc(vb, req, cur, res);
        break;
    case DV_OP_DELETE:
        remove_doc(vb, req, cur, res);
        break;
    case DV_OP_APPEND:
    case DV_OP_PREPEND:
        concat(vb, req, cur, res);
        break;
    case DV_OP_INCREMENT:
    case DV_OP_DECREMENT:
        counter(vb, req, cur, res);
        break;
    case DV_OP_TOUCH:
    case DV_OP_GAT:
        touch(vb, req, cur, res);
        break;
    case DV_OP_GET_LOCKED:
        lock(vb, req, cur, res);
        break;
    case DV_OP_UNLOCK_KEY:
        unlock(vb, req, cur, res);
        break;
    case DV_OP_GET_META:
        if (!cur)
            res->status = DV_STATUS_KEY_ENOENT;
        else {
            res->deleted = cur->deleted;
            res->flags = cur->flags;
            res->exptime = cur->exptime;
            res->seqno = cur->seqno;
            res->datatype = cur->datatype;
            res->cas = cur->cas;
        }
        break;
    default:
        res->status = DV_STATUS_UNKNOWN_COMMAND;
    }
    dv_vbucket_unlock(vb);
}

uint8_t dv_kv_observe(dv_store *store, uint16_t vb, uint32_t cid, const void *key, size_t nkey,
                      uint32_t now, uint64_t *cas)
{
    dv_vbucket *v = dv_store_lock(store, vb);
    *cas = 0;
    if (!v) return DV_OBSERVE_NOT_FOUND;
    const dv_item *it = dv_vbucket_find(v, cid, key, nkey, now);
    uint8_t state = DV_OBSERVE_NOT_FOUND;
    int on_disk = it && it->seqno <= dv_vbucket_persisted_seqno(v);
    if (it && !it->deleted) {
        state = on_disk ? DV_OBSERVE_FOUND_PERSISTED : DV_OBSERVE_FOUND_NOT_PERSISTED;
        *cas = it->cas;
    } else if (it && !on_disk) {
        state = DV_OBSERVE_LOGICAL_DEL;
        *cas = it->cas;
    }
    dv_vbucket_unlock(v);
    return state;
}
