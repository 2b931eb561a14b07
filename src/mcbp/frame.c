#include "mcbp/frame.h"

#include <string.h>

#include "base/endian.h"

const char *dv_mcbp_strerror(int rc)
{
    switch (rc) {
#define DV_X_(name, num, msg)                                                                      \
    case num:                                                                                      \
        return msg;
        DV_MCBP_RCS(DV_X_)
#undef DV_X_
    }
    return "unknown result";
}

dv_error dv_mcbp_rc_error(int rc)
{
    switch (rc) {
    case DV_MCBP_OK:
        return DV_ERR_OK;
    case DV_MCBP_NEED_MORE:
        return DV_ERR_NEED_MORE_DATA;
    case DV_MCBP_ENOMEM:
        return DV_ERR_NO_MEMORY;
    default:
        return DV_ERR_PROTOCOL_ERROR;
    }
}

int dv_magic_valid(uint8_t magic)
{
    switch (magic) {
    case DV_MAGIC_REQ:
    case DV_MAGIC_ALT_REQ:
    case DV_MAGIC_RES:
    case DV_MAGIC_ALT_RES:
    case DV_MAGIC_SERVER_REQ:
    case DV_MAGIC_SERVER_RES:
        return 1;
    }
    return 0;
}

int dv_magic_is_response(uint8_t magic)
{
    return magic == DV_MAGIC_RES || magic == DV_MAGIC_ALT_RES || magic == DV_MAGIC_SERVER_RES;
}

static int magic_is_alt(uint8_t magic)
{
    return magic == DV_MAGIC_ALT_REQ || magic == DV_MAGIC_ALT_RES;
}

/* ---- decoding ---- */

int dv_frame_decode(const uint8_t *p, size_t n, size_t max_body, dv_frame *out, size_t *consumed)
{
    if (n < 1) return DV_MCBP_NEED_MORE;
    if (!dv_magic_valid(p[0])) return DV_MCBP_EMAGIC;
    if (n < DV_HEADER_LEN) return DV_MCBP_NEED_MORE;

    size_t fe, keylen;
    if (magic_is_alt(p[0])) {
        fe = p[2];
        keylen = p[3];
    } else {
        fe = 0;
        keylen = dv_load_be16(p + 2);
    }
    size_t extlen = p[4];
    uint32_t body = dv_load_be32(p + 8);
    if (fe + extlen + keylen > body) return DV_MCBP_ELENGTH;
    if (body > max_body) return DV_MCBP_ETOOBIG;
    if (n - DV_HEADER_LEN < body) return DV_MCBP_NEED_MORE;

    const uint8_t *b = p + DV_HEADER_LEN;
    dv_frame f;
    memset(&f, 0, sizeof f);
    f.magic = p[0];
    f.opcode = p[1];
    f.datatype = p[5];
    f.vbucket = dv_load_be16(p + 6);
    f.opaque = dv_load_be32(p + 12);
    f.cas = dv_load_be64(p + 16);
    f.framing_len = fe;
    f.extras_len = extlen;
    f.key_len = keylen;
    f.value_len = body - fe - extlen - keylen;
    if (fe) f.framing = b;
    if (extlen) f.extras = b + fe;
    if (keylen) f.key = b + fe + extlen;
    if (f.value_len) f.value = b + fe + extlen + keylen;
    *out = f;
    *consumed = DV_HEADER_LEN + (size_t)body;
    return DV_MCBP_OK;
}

/* ---- encoding ---- */

/* Check the frame's sizes and choose the magic; fills the 24 header bytes with a body length
 * that covers framing, extras, key and value_len. */
static int header_build(uint8_t h[DV_HEADER_LEN], const dv_frame *f, size_t value_len)
{
    uint8_t magic = f->magic;
    if (!dv_magic_valid(magic)) return DV_MCBP_EMAGIC;
    if (f->framing_len) {
        if (magic == DV_MAGIC_REQ)
            magic = DV_MAGIC_ALT_REQ;
        else if (magic == DV_MAGIC_RES)
            magic = DV_MAGIC_ALT_RES;
        else if (!magic_is_alt(magic))
            return DV_MCBP_ERANGE;
    }
    if (f->extras_len > 0xff) return DV_MCBP_ERANGE;
    if (magic_is_alt(magic)) {
        if (f->framing_len > 0xff || f->key_len > 0xff) return DV_MCBP_ERANGE;
    } else if (f->key_len > 0xffff) {
        return DV_MCBP_ERANGE;
    }
    uint64_t body = (uint64_t)f->framing_len + f->extras_len + f->key_len;
    if (value_len > UINT32_MAX || body + value_len > UINT32_MAX) return DV_MCBP_ERANGE;
    body += value_len;

    h[0] = magic;
    h[1] = f->opcode;
    if (magic_is_alt(magic)) {
        h[2] = (uint8_t)f->framing_len;
        h[3] = (uint8_t)f->key_len;
    } else {
        dv_store_be16(h + 2, (uint16_t)f->key_len);
    }
    h[4] = (uint8_t)f->extras_len;
    h[5] = f->datatype;
    dv_store_be16(h + 6, f->vbucket);
    dv_store_be32(h + 8, (uint32_t)body);
    dv_store_be32(h + 12, f->opaque);
    dv_store_be64(h + 16, f->cas);
    return DV_MCBP_OK;
}

static void put(uint8_t **dst, const uint8_t *src, size_t n)
{
    if (n) memcpy(*dst, src, n);
    *dst += n;
}

static int frame_write(dv_buf *b, const dv_frame *f, size_t value_len, int with_value)
{
    uint8_t h[DV_HEADER_LEN];
    int rc = header_build(h, f, value_len);
    if (rc) return rc;
    size_t total = DV_HEADER_LEN + f->framing_len + f->extras_len + f->key_len;
    if (with_value) total += value_len;
    uint8_t *dst = dv_buf_reserve(b, total);
    if (!dst) return DV_MCBP_ENOMEM;
    uint8_t *start = dst;
    put(&dst, h, DV_HEADER_LEN);
    put(&dst, f->framing, f->framing_len);
    put(&dst, f->extras, f->extras_len);
    put(&dst, f->key, f->key_len);
    if (with_value) put(&dst, f->value, value_len);
    dv_buf_commit(b, (size_t)(dst - start));
    return DV_MCBP_OK;
}

int dv_frame_encode(dv_buf *b, const dv_frame *f)
{
    return frame_write(b, f, f->value_len, 1);
}

int dv_frame_begin(dv_buf *b, const dv_frame *f, size_t *mark)
{
    /* Offsets are kept relative to the unconsumed head: dv_buf_reserve may move the bytes to
     * the front of the buffer, but never reorders them. */
    size_t at = dv_buf_size(b);
    int rc = frame_write(b, f, 0, 0);
    if (rc) return rc;
    *mark = at;
    return DV_MCBP_OK;
}

int dv_frame_end(dv_buf *b, size_t mark)
{
    size_t size = dv_buf_size(b);
    if (mark > size || size - mark < DV_HEADER_LEN) return DV_MCBP_ERANGE;
    uint8_t *h = b->data + b->off + mark;
    /* The header already counts framing, extras and key; add what was appended since. */
    size_t written = size - mark - DV_HEADER_LEN;
    if (written > UINT32_MAX) return DV_MCBP_ERANGE;
    dv_store_be32(h + 8, (uint32_t)written);
    return DV_MCBP_OK;
}

/* ---- frame infos ---- */

void dv_frame_info_iter_init(dv_frame_info_iter *it, const uint8_t *fe, size_t n)
{
    it->p = fe;
    it->n = fe ? n : 0;
    it->pos = 0;
}

int dv_frame_info_next(dv_frame_info_iter *it, dv_frame_info *out)
{
    size_t pos = it->pos, n = it->n;
    if (pos >= n) return 0;
    uint8_t first = it->p[pos++];
    unsigned id = first >> 4, len = first & 0x0f;
    if (id == 0x0f) {
        if (pos >= n) return DV_MCBP_ETRUNCATED;
        id += it->p[pos++];
    }
    if (len == 0x0f) {
        if (pos >= n) return DV_MCBP_ETRUNCATED;
        len += it->p[pos++];
    }
    if (n - pos < len) return DV_MCBP_ETRUNCATED;
    out->id = (uint16_t)id;
    out->len = (uint16_t)len;
    out->data = len ? it->p + pos : NULL;
    it->pos = pos + len;
    return 1;
}

int dv_frame_info_write(uint8_t *out, uint16_t id, const void *data, size_t len)
{
    if (id > DV_FRAME_INFO_MAX_ID || len > DV_FRAME_INFO_MAX_LEN) return DV_MCBP_ERANGE;
    size_t k = 1;
    uint8_t hi = id < 15 ? (uint8_t)id : 15, lo = len < 15 ? (uint8_t)len : 15;
    out[0] = (uint8_t)(hi << 4 | lo);
    if (hi == 15) out[k++] = (uint8_t)(id - 15);
    if (lo == 15) out[k++] = (uint8_t)(len - 15);
    if (len) memcpy(out + k, data, len);
    return (int)(k + len);
}

int dv_frame_info_append(dv_buf *b, uint16_t id, const void *data, size_t len)
{
    uint8_t tmp[DV_FRAME_INFO_MAX_SIZE];
    int n = dv_frame_info_write(tmp, id, data, len);
    if (n < 0) return n;
    return dv_buf_append(b, tmp, (size_t)n) ? DV_MCBP_ENOMEM : DV_MCBP_OK;
}

int dv_frame_info_append_durability(dv_buf *b, uint8_t level, uint16_t timeout_ms)
{
    uint8_t d[3] = {level, 0, 0};
    if (!timeout_ms) return dv_frame_info_append(b, DV_FRAME_DURABILITY, d, 1);
    dv_store_be16(d + 1, timeout_ms);
    return dv_frame_info_append(b, DV_FRAME_DURABILITY, d, 3);
}

int dv_frame_info_append_preserve_ttl(dv_buf *b)
{
    return dv_frame_info_append(b, DV_FRAME_PRESERVE_TTL, NULL, 0);
}

int dv_frame_info_append_impersonate(dv_buf *b, const char *user, size_t len)
{
    if (!len) return DV_MCBP_ERANGE;
    return dv_frame_info_append(b, DV_FRAME_IMPERSONATE, user, len);
}

int dv_frame_info_append_server_duration(dv_buf *b, uint64_t micros)
{
    uint8_t d[2];
    dv_store_be16(d, dv_server_duration_encode(micros));
    return dv_frame_info_append(b, DV_RES_FRAME_SERVER_DURATION, d, 2);
}

/* ---- server duration: x^1.74 without libm ---- */

#define LN2 0.69314718055994530942

/* Natural logarithm of a normal positive double: x = m * 2^e with m in [1/sqrt2, sqrt2], then
 * ln(m) = 2 atanh((m - 1) / (m + 1)) by its series (|s| < 0.172, so 20 terms are plenty). */
static double ln_pos(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    int e = (int)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    double m;
    memcpy(&m, &bits, sizeof m);
    if (m > 1.4142135623730951) {
        m /= 2;
        e++;
    }
    double s = (m - 1) / (m + 1), s2 = s * s, term = s, sum = 0;
    for (int i = 1; i < 40; i += 2) {
        sum += term / i;
        term *= s2;
    }
    return 2 * sum + e * LN2;
}

/* e^y for |y| < 700: y = k ln2 + r with |r| <= ln2/2, Taylor series for e^r, then 2^k. */
static double exp_small(double y)
{
    int k = (int)(y / LN2 + (y >= 0 ? 0.5 : -0.5));
    double r = y - k * LN2, term = 1, sum = 1;
    for (int i = 1; i < 30; i++) {
        term *= r / i;
        sum += term;
    }
    uint64_t bits = (uint64_t)(k + 1023) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return sum * scale;
}

static double pow_pos(double x, double y)
{
    return x <= 0 ? 0 : exp_small(y * ln_pos(x));
}

uint16_t dv_server_duration_encode(uint64_t micros)
{
    if (!micros) return 0;
    /* 65535.5^1.74 / 2 is about 1.2e8 us: anything above saturates. */
    if (micros >= 200000000u) return 65535;
    double x = pow_pos((double)micros * 2, 1.0 / 1.74) + 0.5;
    return x >= 65535 ? 65535 : (uint16_t)x;
}

uint32_t dv_server_duration_decode(uint16_t encoded)
{
    return (uint32_t)(pow_pos(encoded, 1.74) / 2 + 0.5);
}

int dv_frame_server_duration(const dv_frame *f, uint32_t *micros)
{
    dv_frame_info_iter it;
    dv_frame_info fi;
    dv_frame_info_iter_init(&it, f->framing, f->framing_len);
    while (dv_frame_info_next(&it, &fi) > 0) {
        if (fi.id == DV_RES_FRAME_SERVER_DURATION && fi.len == 2) {
            *micros = dv_server_duration_decode(dv_load_be16(fi.data));
            return 1;
        }
    }
    return 0;
}

/* ---- request frame-info validation ---- */

static int is_subdoc_mutation(uint8_t opcode)
{
    switch (opcode) {
    case DV_OP_SUBDOC_DICT_ADD:
    case DV_OP_SUBDOC_DICT_UPSERT:
    case DV_OP_SUBDOC_DELETE:
    case DV_OP_SUBDOC_REPLACE:
    case DV_OP_SUBDOC_ARRAY_PUSH_LAST:
    case DV_OP_SUBDOC_ARRAY_PUSH_FIRST:
    case DV_OP_SUBDOC_ARRAY_INSERT:
    case DV_OP_SUBDOC_ARRAY_ADD_UNIQUE:
    case DV_OP_SUBDOC_COUNTER:
    case DV_OP_SUBDOC_MULTI_MUTATION:
    case DV_OP_SUBDOC_REPLACE_BODY_WITH_XATTR:
        return 1;
    }
    return 0;
}

int dv_opcode_supports_durability(uint8_t opcode)
{
    switch (opcode) {
    case DV_OP_SET:
    case DV_OP_ADD:
    case DV_OP_REPLACE:
    case DV_OP_DELETE:
    case DV_OP_INCREMENT:
    case DV_OP_DECREMENT:
    case DV_OP_APPEND:
    case DV_OP_PREPEND:
    case DV_OP_TOUCH:
    case DV_OP_GAT:
        return 1;
    }
    return is_subdoc_mutation(opcode);
}

int dv_opcode_supports_preserve_ttl(uint8_t opcode)
{
    switch (opcode) {
    case DV_OP_SET:
    case DV_OP_REPLACE:
    case DV_OP_INCREMENT:
    case DV_OP_DECREMENT:
    case DV_OP_APPEND:
    case DV_OP_PREPEND:
        return 1;
    }
    return is_subdoc_mutation(opcode);
}

dv_status dv_durability_check(const uint8_t *data, size_t len, uint8_t *level, uint16_t *timeout)
{
    if (len != 1 && len != 3) return DV_STATUS_EINVAL;
    uint8_t lv = data[0];
    if (lv < DV_DURABILITY_MAJORITY || lv > DV_DURABILITY_PERSIST_TO_MAJORITY)
        return DV_STATUS_DURABILITY_INVALID_LEVEL;
    uint16_t t = 0;
    if (len == 3) {
        t = dv_load_be16(data + 1);
        /* 0 and 0xffff are reserved; kv_engine's parser answers "invalid level" for them. */
        if (t == 0 || t == 0xffff) return DV_STATUS_DURABILITY_INVALID_LEVEL;
    }
    *level = lv;
    *timeout = t;
    return DV_STATUS_SUCCESS;
}

dv_status dv_frame_reqs_parse(uint8_t opcode, const uint8_t *fe, size_t n, dv_frame_reqs *out)
{
    dv_frame_reqs r;
    memset(&r, 0, sizeof r);
    dv_frame_info_iter it;
    dv_frame_info fi;
    dv_frame_info_iter_init(&it, fe, n);
    int rc;
    while ((rc = dv_frame_info_next(&it, &fi)) > 0) {
        dv_status st = DV_STATUS_SUCCESS;
        switch (fi.id) {
        case DV_FRAME_BARRIER:
            if (fi.len) st = DV_STATUS_EINVAL;
            r.barrier = 1;
            break;
        case DV_FRAME_DURABILITY:
            if (!dv_opcode_supports_durability(opcode))
                st = DV_STATUS_EINVAL;
            else
                st = dv_durability_check(fi.data, fi.len, &r.durability_level,
                                         &r.durability_timeout);
            break;
        case DV_FRAME_DCP_STREAM_ID:
            /* Only DCP commands carry a stream id, and divan has no DCP. */
            st = DV_STATUS_EINVAL;
            break;
        case DV_FRAME_IMPERSONATE:
            if (!fi.len) st = DV_STATUS_EINVAL;
            r.impersonate = fi.data;
            r.impersonate_len = fi.len;
            break;
        case DV_FRAME_PRESERVE_TTL:
            if (fi.len)
                st = DV_STATUS_EINVAL;
            else if (!dv_opcode_supports_preserve_ttl(opcode))
                st = DV_STATUS_NOT_SUPPORTED;
            r.preserve_ttl = 1;
            break;
        case DV_FRAME_IMPERSONATE_PRIVILEGE:
            if (!fi.len) st = DV_STATUS_EINVAL;
            r.extra_privileges++;
            break;
        case DV_FRAME_IMPERSONATE_TOKEN:
            if (fi.len != 2) {
                st = DV_STATUS_EINVAL;
                break;
            }
            r.has_impersonate_token = 1;
            r.impersonate_token = dv_load_be16(fi.data);
            break;
        default: /* includes the retired OpenTracing id 3 */
            st = DV_STATUS_UNKNOWN_FRAME_INFO;
            break;
        }
        if (st != DV_STATUS_SUCCESS) return st;
    }
    if (rc < 0) return DV_STATUS_EINVAL;
    if (out) *out = r;
    return DV_STATUS_SUCCESS;
}
