/* Arbitrary bytes through the frame codec as a server session would see them: decode frames
 * until need-more or error, and for every frame run the frame-info, request, key, extras, HELLO
 * and snappy parsers. Properties checked: decoding never reads past the input, a decoded frame
 * re-encodes to exactly its bytes, and snappy round-trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mcbp/compress.h"
#include "mcbp/extras.h"
#include "mcbp/frame.h"
#include "mcbp/hello.h"
#include "mcbp/leb128.h"
#include "mcbp/opcode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BODY (1u << 20)

static void check(int cond)
{
    if (!cond) abort();
}

static void extras(const dv_frame *f)
{
    const uint8_t *p = f->extras;
    size_t n = f->extras_len;
    uint32_t a, b;
    uint64_t u;
    dv_counter_extras c;
    dv_mutation_token t;
    dv_get_meta m;
    dv_config_version v;
    dv_observe_seqno o;
    (void)dv_extras_store_decode(p, n, &a, &b);
    (void)dv_extras_u32_decode(p, n, &a);
    (void)dv_extras_lock_time_decode(p, n, &a);
    if (dv_extras_counter_decode(p, n, &c) == DV_MCBP_OK) {
        uint8_t out[DV_EXTRAS_COUNTER_LEN];
        dv_extras_counter_encode(out, &c);
        check(memcmp(out, p, n) == 0);
    }
    if (dv_extras_token_decode(p, n, &t) == DV_MCBP_OK) {
        uint8_t out[DV_EXTRAS_TOKEN_LEN];
        dv_extras_token_encode(out, &t);
        check(memcmp(out, p, n) == 0);
    }
    (void)dv_extras_get_meta_decode(p, n, &m);
    (void)dv_extras_config_version_decode(p, n, &v);
    (void)dv_extras_clustermap_push_decode(p, n, &v);
    (void)dv_extras_collection_id_decode(p, n, &u, &a);
    (void)dv_observe_seqno_decode(f->value, f->value_len, &o);
    (void)dv_value_u64_decode(f->value, f->value_len, &u);
    (void)dv_request_extras_ok(f->opcode, n);
    (void)dv_response_extras_ok(f->opcode, f->status, n);
}

static void frame_infos(const dv_frame *f)
{
    dv_frame_info_iter it;
    dv_frame_info fi;
    dv_frame_info_iter_init(&it, f->framing, f->framing_len);
    int rc;
    while ((rc = dv_frame_info_next(&it, &fi)) > 0) {
        check(fi.id <= DV_FRAME_INFO_MAX_ID && fi.len <= DV_FRAME_INFO_MAX_LEN);
        /* Re-encoding gives the same bytes (the encoding is unique). */
        uint8_t out[DV_FRAME_INFO_MAX_SIZE];
        int k = dv_frame_info_write(out, fi.id, fi.data, fi.len);
        check(k > 0 && (size_t)k <= it.pos);
        check(memcmp(out, it.p + it.pos - (size_t)k, (size_t)k) == 0);
    }
    check(rc == 0 || rc == DV_MCBP_ETRUNCATED);
    dv_frame_reqs r;
    (void)dv_frame_reqs_parse(f->opcode, f->framing, f->framing_len, &r);
    uint32_t us;
    (void)dv_frame_server_duration(f, &us);
}

static void snappy(const dv_frame *f, dv_buf *scratch)
{
    uint8_t dt = f->datatype;
    dv_buf_reset(scratch);
    if (dt & DV_DATATYPE_SNAPPY) {
        int rc = dv_snappy_decompress(f->value, f->value_len, MAX_BODY, scratch, &dt);
        check(rc == DV_MCBP_OK || rc == DV_MCBP_ECORRUPT || rc == DV_MCBP_ETOOBIG ||
              rc == DV_MCBP_ENOMEM);
        if (rc == DV_MCBP_OK) check(!(dt & DV_DATATYPE_SNAPPY));
        return;
    }
    /* Compress, inflate, compare. */
    if (dv_snappy_compress(f->value, f->value_len, scratch, &dt) == 1) {
        dv_buf back = DV_BUF_INIT;
        check(dt & DV_DATATYPE_SNAPPY);
        check(dv_snappy_decompress(dv_buf_head(scratch), dv_buf_size(scratch), f->value_len, &back,
                                   &dt) == DV_MCBP_OK);
        check(dv_buf_size(&back) == f->value_len);
        check(memcmp(dv_buf_head(&back), f->value, f->value_len) == 0);
        dv_buf_free(&back);
    }
}

static void one_frame(const dv_frame *f, const uint8_t *bytes, size_t used, dv_buf *scratch)
{
    /* Re-encode: the very same bytes. */
    dv_buf_reset(scratch);
    check(dv_frame_encode(scratch, f) == DV_MCBP_OK);
    check(dv_buf_size(scratch) == used);
    check(memcmp(dv_buf_head(scratch), bytes, used) == 0);

    frame_infos(f);
    extras(f);
    dv_request_info ri;
    (void)dv_request_check(f, 1, &ri);
    (void)dv_request_check(f, 0, &ri);
    uint32_t cid;
    const uint8_t *user;
    size_t ulen;
    if (dv_key_split(f->key, f->key_len, &cid, &user, &ulen) == DV_MCBP_OK) {
        check(user > f->key && user + ulen == f->key + f->key_len);
        uint8_t pre[DV_LEB128_MAX];
        size_t k = dv_leb128_encode(cid, pre);
        check(k == (size_t)(user - f->key) && memcmp(pre, f->key, k) == 0);
    }
    dv_features set, ack;
    if (dv_hello_decode(f->value, f->value_len, &set) == DV_MCBP_OK) {
        if (dv_hello_answer(f->value, f->value_len, ~(dv_features)0, &ack) == DV_STATUS_SUCCESS)
            check(ack == set && dv_hello_deps_ok(ack));
    }
    (void)dv_opcode_name(f->opcode);
    (void)dv_status_name(f->status);
    (void)dv_mcbp_status_error(f->opcode, f->status);
    (void)dv_mcbp_status_retry(f->opcode, f->status);
    snappy(f, scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) return 0;
    dv_buf scratch = DV_BUF_INIT;
    size_t off = 0;
    for (;;) {
        dv_frame f;
        size_t used = 0;
        int rc = dv_frame_decode(data + off, size - off, MAX_BODY, &f, &used);
        if (rc != DV_MCBP_OK) {
            check(rc == DV_MCBP_NEED_MORE || rc == DV_MCBP_EMAGIC || rc == DV_MCBP_ELENGTH ||
                  rc == DV_MCBP_ETOOBIG);
            break;
        }
        check(used >= DV_HEADER_LEN && used <= size - off);
        one_frame(&f, data + off, used, &scratch);
        off += used;
    }

    /* The whole input as a framing-extras section, a key and a HELLO value. */
    dv_frame raw = {.magic = DV_MAGIC_ALT_REQ, .opcode = size ? data[0] : 0};
    raw.framing = size ? data : NULL;
    raw.framing_len = size;
    frame_infos(&raw);
    uint32_t v;
    size_t len;
    if (dv_leb128_decode(data, size, &v, &len) == DV_MCBP_OK) {
        uint8_t out[DV_LEB128_MAX];
        check(dv_leb128_encode(v, out) == len && memcmp(out, data, len) == 0);
    }
    dv_features set;
    (void)dv_hello_decode(data, size, &set);
    dv_buf_free(&scratch);
    return 0;
}
