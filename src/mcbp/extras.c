#include "mcbp/extras.h"

#include <string.h>

#include "base/endian.h"
#include "mcbp/frame.h"

void dv_extras_store_encode(uint8_t out[DV_EXTRAS_STORE_LEN], uint32_t flags, uint32_t expiry)
{
    dv_store_be32(out, flags);
    dv_store_be32(out + 4, expiry);
}

int dv_extras_store_decode(const uint8_t *p, size_t n, uint32_t *flags, uint32_t *expiry)
{
    if (n != DV_EXTRAS_STORE_LEN) return DV_MCBP_EEXTRAS;
    *flags = dv_load_be32(p);
    *expiry = dv_load_be32(p + 4);
    return DV_MCBP_OK;
}

void dv_extras_u32_encode(uint8_t out[DV_EXTRAS_U32_LEN], uint32_t v)
{
    dv_store_be32(out, v);
}

int dv_extras_u32_decode(const uint8_t *p, size_t n, uint32_t *v)
{
    if (n != DV_EXTRAS_U32_LEN) return DV_MCBP_EEXTRAS;
    *v = dv_load_be32(p);
    return DV_MCBP_OK;
}

int dv_extras_lock_time_decode(const uint8_t *p, size_t n, uint32_t *seconds)
{
    if (n == 0) {
        *seconds = 0;
        return DV_MCBP_OK;
    }
    return dv_extras_u32_decode(p, n, seconds);
}

void dv_extras_counter_encode(uint8_t out[DV_EXTRAS_COUNTER_LEN], const dv_counter_extras *c)
{
    dv_store_be64(out, c->delta);
    dv_store_be64(out + 8, c->initial);
    dv_store_be32(out + 16, c->expiry);
}

int dv_extras_counter_decode(const uint8_t *p, size_t n, dv_counter_extras *c)
{
    if (n != DV_EXTRAS_COUNTER_LEN) return DV_MCBP_EEXTRAS;
    c->delta = dv_load_be64(p);
    c->initial = dv_load_be64(p + 8);
    c->expiry = dv_load_be32(p + 16);
    return DV_MCBP_OK;
}

void dv_extras_token_encode(uint8_t out[DV_EXTRAS_TOKEN_LEN], const dv_mutation_token *t)
{
    dv_store_be64(out, t->vbucket_uuid);
    dv_store_be64(out + 8, t->seqno);
}

int dv_extras_token_decode(const uint8_t *p, size_t n, dv_mutation_token *t)
{
    if (n != DV_EXTRAS_TOKEN_LEN) return DV_MCBP_EEXTRAS;
    t->vbucket_uuid = dv_load_be64(p);
    t->seqno = dv_load_be64(p + 8);
    return DV_MCBP_OK;
}

void dv_extras_get_meta_encode(uint8_t out[DV_EXTRAS_GET_META_LEN], const dv_get_meta *m)
{
    dv_store_be32(out, m->deleted);
    dv_store_be32(out + 4, m->flags);
    dv_store_be32(out + 8, m->expiry);
    dv_store_be64(out + 12, m->seqno);
    out[20] = m->datatype;
}

int dv_extras_get_meta_decode(const uint8_t *p, size_t n, dv_get_meta *m)
{
    if (n != DV_EXTRAS_GET_META_LEN && n != DV_EXTRAS_GET_META_LEN - 1) return DV_MCBP_EEXTRAS;
    m->deleted = dv_load_be32(p);
    m->flags = dv_load_be32(p + 4);
    m->expiry = dv_load_be32(p + 8);
    m->seqno = dv_load_be64(p + 12);
    m->datatype = n == DV_EXTRAS_GET_META_LEN ? p[20] : 0;
    return DV_MCBP_OK;
}

void dv_extras_config_version_encode(uint8_t out[DV_EXTRAS_CONFIG_VERSION_LEN],
                                     const dv_config_version *v)
{
    dv_store_be64(out, (uint64_t)v->epoch);
    dv_store_be64(out + 8, (uint64_t)v->revision);
}

int dv_extras_config_version_decode(const uint8_t *p, size_t n, dv_config_version *v)
{
    if (n != DV_EXTRAS_CONFIG_VERSION_LEN) return DV_MCBP_EEXTRAS;
    v->epoch = (int64_t)dv_load_be64(p);
    v->revision = (int64_t)dv_load_be64(p + 8);
    return DV_MCBP_OK;
}

int dv_extras_clustermap_push_decode(const uint8_t *p, size_t n, dv_config_version *v)
{
    if (n == 4) {
        v->epoch = 0;
        v->revision = dv_load_be32(p);
        return DV_MCBP_OK;
    }
    return dv_extras_config_version_decode(p, n, v);
}

void dv_extras_collection_id_encode(uint8_t out[DV_EXTRAS_COLLECTION_ID_LEN], uint64_t manifest_uid,
                                    uint32_t id)
{
    dv_store_be64(out, manifest_uid);
    dv_store_be32(out + 8, id);
}

int dv_extras_collection_id_decode(const uint8_t *p, size_t n, uint64_t *manifest_uid, uint32_t *id)
{
    if (n != DV_EXTRAS_COLLECTION_ID_LEN) return DV_MCBP_EEXTRAS;
    *manifest_uid = dv_load_be64(p);
    *id = dv_load_be32(p + 8);
    return DV_MCBP_OK;
}

int dv_observe_seqno_encode(dv_buf *b, const dv_observe_seqno *o)
{
    if (o->format > 1) return DV_MCBP_EVALUE;
    size_t n = o->format ? DV_OBSERVE_SEQNO_FAILOVER_LEN : DV_OBSERVE_SEQNO_LEN;
    uint8_t *p = dv_buf_reserve(b, n);
    if (!p) return DV_MCBP_ENOMEM;
    p[0] = o->format;
    dv_store_be16(p + 1, o->vbucket);
    dv_store_be64(p + 3, o->vbucket_uuid);
    dv_store_be64(p + 11, o->last_persisted_seqno);
    dv_store_be64(p + 19, o->current_seqno);
    if (o->format) {
        dv_store_be64(p + 27, o->old_vbucket_uuid);
        dv_store_be64(p + 35, o->last_received_seqno);
    }
    dv_buf_commit(b, n);
    return DV_MCBP_OK;
}

int dv_observe_seqno_decode(const uint8_t *p, size_t n, dv_observe_seqno *o)
{
    if (n < 1) return DV_MCBP_EVALUE;
    if (p[0] == 0 ? n != DV_OBSERVE_SEQNO_LEN : p[0] != 1 || n != DV_OBSERVE_SEQNO_FAILOVER_LEN)
        return DV_MCBP_EVALUE;
    o->format = p[0];
    o->vbucket = dv_load_be16(p + 1);
    o->vbucket_uuid = dv_load_be64(p + 3);
    o->last_persisted_seqno = dv_load_be64(p + 11);
    o->current_seqno = dv_load_be64(p + 19);
    o->old_vbucket_uuid = o->format ? dv_load_be64(p + 27) : 0;
    o->last_received_seqno = o->format ? dv_load_be64(p + 35) : 0;
    return DV_MCBP_OK;
}

int dv_observe_next(const uint8_t *p, size_t n, int response, size_t *pos, dv_observe_key *out)
{
    size_t at = *pos;
    if (at >= n) return 0;
    if (n - at < 4) return DV_MCBP_EVALUE;
    uint16_t vb = dv_load_be16(p + at), klen = dv_load_be16(p + at + 2);
    size_t need = 4 + (size_t)klen + (response ? 9 : 0);
    if (n - at < need || (!response && klen == 0)) return DV_MCBP_EVALUE;
    out->vbucket = vb;
    out->key_len = klen;
    out->key = p + at + 4;
    out->state = response ? p[at + 4 + klen] : 0;
    out->cas = response ? dv_load_be64(p + at + 5 + klen) : 0;
    *pos = at + need;
    return 1;
}

int dv_observe_append(dv_buf *b, int response, const dv_observe_key *k)
{
    size_t n = 4 + (size_t)k->key_len + (response ? 9 : 0);
    uint8_t *p = dv_buf_reserve(b, n);
    if (!p) return DV_MCBP_ENOMEM;
    dv_store_be16(p, k->vbucket);
    dv_store_be16(p + 2, k->key_len);
    if (k->key_len) memcpy(p + 4, k->key, k->key_len);
    if (response) {
        p[4 + k->key_len] = k->state;
        dv_store_be64(p + 5 + k->key_len, k->cas);
    }
    dv_buf_commit(b, n);
    return DV_MCBP_OK;
}

void dv_value_u64_encode(uint8_t out[8], uint64_t v)
{
    dv_store_be64(out, v);
}

int dv_value_u64_decode(const uint8_t *p, size_t n, uint64_t *v)
{
    if (n != 8) return DV_MCBP_EVALUE;
    *v = dv_load_be64(p);
    return DV_MCBP_OK;
}
