/* The frame codec against the hex examples of kv-protocol.md §2.9: decode every field, re-encode
 * to the same bytes, split at every byte, many frames per buffer, lying lengths. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/endian.h"
#include "mcbp/extras.h"
#include "mcbp/frame.h"
#include "mcbp/leb128.h"

#define Z8 " 00 00 00 00 00 00 00 00 "

typedef struct vector {
    const char *name;
    const char *hex;
    uint8_t magic, opcode, datatype;
    uint16_t vbucket_or_status;
    uint32_t opaque;
    uint64_t cas;
    const char *framing, *extras, *key, *value; /* hex of each section, "" when empty */
} vector;

static const vector vectors[] = {
    {"GET foo", "80 00 00 04 00 00 00 73 00 00 00 04 00 00 00 10" Z8 "00 66 6f 6f", 0x80, 0x00,
     0x00, 115, 0x10, 0, "", "", "00 66 6f 6f", ""},
    {"GET response",
     "81 00 00 00 04 01 00 00 00 00 00 0b 00 00 00 10  17 d4 c5 e6 f7 a8 00 00"
     "02 00 00 00 7b 22 61 22 3a 31 7d",
     0x81, 0x00, 0x01, 0, 0x10, 0x17d4c5e6f7a80000ull, "", "02 00 00 00", "",
     "7b 22 61 22 3a 31 7d"},
    {"SET durable",
     "08 01 04 04 08 01 00 73 00 00 00 17 00 00 00 11" Z8
     "13 01 23 28  02 00 00 00 00 00 00 00  00 66 6f 6f  7b 22 61 22 3a 31 7d",
     0x08, 0x01, 0x01, 115, 0x11, 0, "13 01 23 28", "02 00 00 00 00 00 00 00", "00 66 6f 6f",
     "7b 22 61 22 3a 31 7d"},
    {"SET response",
     "81 01 00 00 10 00 00 00 00 00 00 10 00 00 00 11  17 d4 c5 e6 f7 a9 00 00"
     "00 00 ab cd 00 00 12 34 00 00 00 00 00 00 00 2a",
     0x81, 0x01, 0x00, 0, 0x11, 0x17d4c5e6f7a90000ull, "",
     "00 00 ab cd 00 00 12 34 00 00 00 00 00 00 00 2a", "", ""},
    {"INCREMENT",
     "80 05 00 08 14 00 01 22 00 00 00 1c 00 00 00 30" Z8
     "00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00  08 63 6f 75 6e 74 65 72",
     0x80, 0x05, 0x00, 290, 0x30, 0, "",
     "00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00", "08 63 6f 75 6e 74 65 72", ""},
    {"GET_COLLECTION_ID",
     "80 bb 00 00 00 00 00 00 00 00 00 11 00 00 00 20" Z8
     "69 6e 76 65 6e 74 6f 72 79 2e 61 69 72 6c 69 6e 65",
     0x80, 0xbb, 0x00, 0, 0x20, 0, "", "", "",
     "69 6e 76 65 6e 74 6f 72 79 2e 61 69 72 6c 69 6e 65"},
    {"GET_COLLECTION_ID response",
     "81 bb 00 00 0c 00 00 00 00 00 00 0c 00 00 00 20" Z8 "00 00 00 00 00 00 00 0c 00 00 00 08",
     0x81, 0xbb, 0x00, 0, 0x20, 0, "", "00 00 00 00 00 00 00 0c 00 00 00 08", "", ""},
    {"SASL_AUTH",
     "80 21 00 05 00 00 00 00 00 00 00 1c 00 00 00 03" Z8
     "50 4c 41 49 4e  00 41 64 6d 69 6e 69 73 74 72 61 74 6f 72 00 70 61 73 73 77 6f 72 64",
     0x80, 0x21, 0x00, 0, 0x03, 0, "", "", "50 4c 41 49 4e",
     "00 41 64 6d 69 6e 69 73 74 72 61 74 6f 72 00 70 61 73 73 77 6f 72 64"},
    {"clustermap push",
     "82 01 00 07 10 00 00 00 00 00 00 17 00 00 00 00" Z8
     "00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 07  64 65 66 61 75 6c 74",
     0x82, 0x01, 0x00, 0, 0, 0, "", "00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 07",
     "64 65 66 61 75 6c 74", ""},
};
#define NVEC (sizeof vectors / sizeof vectors[0])

/* A copy in a buffer of exactly n bytes, so that AddressSanitizer sees any read past it. */
static uint8_t *exact(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    assert_non_null(q);
    if (n) memcpy(q, p, n);
    return q;
}

static void check_section(const uint8_t *got, size_t got_len, const char *hex)
{
    size_t n;
    uint8_t *want = tu_hex(hex, &n);
    assert_int_equal(got_len, n);
    if (n) {
        assert_non_null(got);
        assert_memory_equal(got, want, n);
    } else {
        assert_null(got);
    }
    free(want);
}

static void check_fields(const dv_frame *f, const vector *v)
{
    assert_int_equal(f->magic, v->magic);
    assert_int_equal(f->opcode, v->opcode);
    assert_int_equal(f->datatype, v->datatype);
    assert_int_equal(f->vbucket, v->vbucket_or_status);
    assert_int_equal(f->opaque, v->opaque);
    assert_true(f->cas == v->cas);
    check_section(f->framing, f->framing_len, v->framing);
    check_section(f->extras, f->extras_len, v->extras);
    check_section(f->key, f->key_len, v->key);
    check_section(f->value, f->value_len, v->value);
}

static void vectors_decode_and_reencode(void **state)
{
    (void)state;
    for (size_t i = 0; i < NVEC; i++) {
        size_t n;
        uint8_t *hex = tu_hex(vectors[i].hex, &n);
        uint8_t *p = exact(hex, n);
        free(hex);
        dv_frame f;
        size_t used = 0;
        assert_int_equal(dv_frame_decode(p, n, DV_FRAME_DEFAULT_MAX_BODY, &f, &used), DV_MCBP_OK);
        assert_int_equal(used, n);
        check_fields(&f, &vectors[i]);

        dv_buf b = DV_BUF_INIT;
        assert_int_equal(dv_frame_encode(&b, &f), DV_MCBP_OK);
        assert_int_equal(dv_buf_size(&b), n);
        assert_memory_equal(dv_buf_head(&b), p, n);
        dv_buf_free(&b);
        free(p);
    }
}

/* Every proper prefix needs more; the whole frame decodes; nothing is read past the prefix. */
static void split_at_every_byte(void **state)
{
    (void)state;
    for (size_t i = 0; i < NVEC; i++) {
        size_t n;
        uint8_t *p = tu_hex(vectors[i].hex, &n);
        for (size_t k = 0; k < n; k++) {
            uint8_t *q = exact(p, k);
            dv_frame f;
            size_t used = 0;
            assert_int_equal(dv_frame_decode(q, k, DV_FRAME_DEFAULT_MAX_BODY, &f, &used),
                             DV_MCBP_NEED_MORE);
            free(q);
        }
        free(p);
    }
}

/* A stream of all vectors, delivered in chunks of every size from 1 byte, decodes to the same
 * frames in order, as a session's read loop would see it. */
static void stream_in_chunks(void **state)
{
    (void)state;
    dv_buf all = DV_BUF_INIT;
    for (size_t i = 0; i < NVEC; i++) {
        size_t n;
        uint8_t *p = tu_hex(vectors[i].hex, &n);
        assert_int_equal(dv_buf_append(&all, p, n), 0);
        free(p);
    }
    size_t total = dv_buf_size(&all);
    for (size_t chunk = 1; chunk <= total; chunk++) {
        dv_buf in = DV_BUF_INIT;
        size_t fed = 0, next = 0;
        while (fed < total || dv_buf_size(&in)) {
            if (fed < total) {
                size_t k = total - fed < chunk ? total - fed : chunk;
                assert_int_equal(dv_buf_append(&in, dv_buf_head(&all) + fed, k), 0);
                fed += k;
            }
            dv_frame f;
            size_t used;
            int rc;
            while ((rc = dv_frame_decode(dv_buf_head(&in), dv_buf_size(&in),
                                         DV_FRAME_DEFAULT_MAX_BODY, &f, &used)) == DV_MCBP_OK) {
                assert_true(next < NVEC);
                check_fields(&f, &vectors[next++]);
                dv_buf_consume(&in, used);
            }
            assert_int_equal(rc, DV_MCBP_NEED_MORE);
            if (fed == total && dv_buf_size(&in)) fail_msg("leftover bytes");
        }
        assert_int_equal(next, NVEC);
        dv_buf_free(&in);
    }
    dv_buf_free(&all);
}

static void many_frames_in_one_buffer(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    uint8_t val[3] = {1, 2, 3};
    for (uint32_t i = 0; i < 1000; i++) {
        dv_frame f = {.magic = DV_MAGIC_REQ, .opcode = DV_OP_NOOP, .opaque = i};
        if (i % 3 == 0) {
            f.opcode = DV_OP_SET;
            f.value = val;
            f.value_len = i % 4;
        }
        assert_int_equal(dv_frame_encode(&b, &f), DV_MCBP_OK);
    }
    uint8_t *p = exact(dv_buf_head(&b), dv_buf_size(&b));
    size_t n = dv_buf_size(&b), off = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        dv_frame f;
        size_t used;
        assert_int_equal(dv_frame_decode(p + off, n - off, 64, &f, &used), DV_MCBP_OK);
        assert_int_equal(f.opaque, i);
        assert_int_equal(f.value_len, i % 3 == 0 ? i % 4 : 0);
        off += used;
    }
    assert_int_equal(off, n);
    dv_frame f;
    size_t used;
    assert_int_equal(dv_frame_decode(p + off, 0, 64, &f, &used), DV_MCBP_NEED_MORE);
    free(p);
    dv_buf_free(&b);
}

static int decode_hex(const char *hex, size_t max)
{
    size_t n;
    uint8_t *h = tu_hex(hex, &n);
    uint8_t *p = exact(h, n);
    free(h);
    dv_frame f;
    size_t used = 0;
    int rc = dv_frame_decode(p, n, max, &f, &used);
    free(p);
    return rc;
}

static void lying_lengths(void **state)
{
    (void)state;
    /* Alt request: FE 4 + extras 8 + key 4 = 16 > body 15. */
    assert_int_equal(decode_hex("08 01 04 04 08 00 00 00 00 00 00 0f 00 00 00 00" Z8, 1000),
                     DV_MCBP_ELENGTH);
    /* Classic: key 0xffff > body 4, reported from the header alone. */
    assert_int_equal(decode_hex("80 00 ff ff 00 00 00 00 00 00 00 04 00 00 00 00" Z8, 1000),
                     DV_MCBP_ELENGTH);
    /* Extras 5 > body 4. */
    assert_int_equal(decode_hex("81 00 00 00 05 00 00 00 00 00 00 04 00 00 00 00" Z8, 1000),
                     DV_MCBP_ELENGTH);
    /* Exactly fitting sections are fine. */
    assert_int_equal(
        decode_hex("08 01 01 01 01 00 00 00 00 00 00 03 00 00 00 00" Z8 "50 aa 6b", 1000),
        DV_MCBP_OK);
    /* A body of 4 GiB - 1 with 24 bytes present: too big for the limit, never read. */
    assert_int_equal(decode_hex("80 00 00 00 00 00 00 00 ff ff ff ff 00 00 00 00" Z8, 1000),
                     DV_MCBP_ETOOBIG);
    /* Within the limit but absent: need more, nothing read past the buffer. */
    assert_int_equal(decode_hex("80 00 00 00 00 00 00 00 ff ff ff ff 00 00 00 00" Z8, SIZE_MAX),
                     DV_MCBP_NEED_MORE);
    /* The limit is inclusive. */
    assert_int_equal(decode_hex("80 0a 00 00 00 00 00 00 00 00 00 02 00 00 00 00" Z8 "aa bb", 2),
                     DV_MCBP_OK);
    assert_int_equal(decode_hex("80 0a 00 00 00 00 00 00 00 00 00 03 00 00 00 00" Z8 "aa bb", 2),
                     DV_MCBP_ETOOBIG);
}

static void bad_magic(void **state)
{
    (void)state;
    static const uint8_t bad[] = {0x00, 0x01, 0x09, 0x19, 0x7f, 0x84, 0xff, 'G'};
    for (size_t i = 0; i < sizeof bad; i++) {
        uint8_t *p = exact(&bad[i], 1);
        dv_frame f;
        size_t used;
        assert_int_equal(dv_frame_decode(p, 1, 100, &f, &used), DV_MCBP_EMAGIC);
        free(p);
        assert_false(dv_magic_valid(bad[i]));
    }
    static const uint8_t good[] = {0x80, 0x08, 0x81, 0x18, 0x82, 0x83};
    for (size_t i = 0; i < sizeof good; i++) assert_true(dv_magic_valid(good[i]));
    assert_string_equal(dv_mcbp_strerror(DV_MCBP_EMAGIC), "bad magic byte");
    assert_string_equal(dv_mcbp_strerror(12345), "unknown result");
    assert_int_equal(dv_mcbp_rc_error(DV_MCBP_ELENGTH), DV_ERR_PROTOCOL_ERROR);
    assert_int_equal(dv_mcbp_rc_error(DV_MCBP_ENOMEM), DV_ERR_NO_MEMORY);
    assert_int_equal(dv_mcbp_rc_error(DV_MCBP_NEED_MORE), DV_ERR_NEED_MORE_DATA);
}

/* All six magics decode; alt magics read FE and key length from bytes 2 and 3. */
static void six_magics(void **state)
{
    (void)state;
    static const uint8_t magics[] = {0x80, 0x08, 0x81, 0x18, 0x82, 0x83};
    for (size_t i = 0; i < sizeof magics; i++) {
        uint8_t fe[1] = {0x50};
        uint8_t key[2] = {'k', 'y'};
        int alt = magics[i] == 0x08 || magics[i] == 0x18;
        dv_frame in = {.magic = magics[i],
                       .opcode = 0x42,
                       .datatype = 0x03,
                       .vbucket = 0xbeef,
                       .opaque = 0xdeadbeef,
                       .cas = 0x0102030405060708ull,
                       .framing = alt ? fe : NULL,
                       .framing_len = alt ? 1 : 0,
                       .key = key,
                       .key_len = 2};
        dv_buf b = DV_BUF_INIT;
        assert_int_equal(dv_frame_encode(&b, &in), DV_MCBP_OK);
        const uint8_t *h = dv_buf_head(&b);
        if (alt) {
            assert_int_equal(h[2], 1);
            assert_int_equal(h[3], 2);
        } else {
            assert_int_equal(dv_load_be16(h + 2), 2);
        }
        dv_frame out;
        size_t used;
        assert_int_equal(dv_frame_decode(h, dv_buf_size(&b), 100, &out, &used), DV_MCBP_OK);
        assert_int_equal(out.magic, magics[i]);
        assert_int_equal(dv_magic_is_response(out.magic), i == 2 || i == 3 || i == 5);
        assert_int_equal(out.vbucket, 0xbeef);
        assert_int_equal(out.status, 0xbeef);
        assert_int_equal(out.opaque, 0xdeadbeef);
        assert_int_equal(out.framing_len, alt ? 1 : 0);
        assert_int_equal(out.key_len, 2);
        assert_memory_equal(out.key, "ky", 2);
        dv_buf_free(&b);
    }
}

/* Built from parts with the helpers, the durable SET of §2.9 comes out byte for byte, with
 * magic 0x08 chosen because framing extras are present. */
static void build_set_durable(void **state)
{
    (void)state;
    dv_buf fe = DV_BUF_INIT, key = DV_BUF_INIT, out = DV_BUF_INIT;
    assert_int_equal(dv_frame_info_append_durability(&fe, DV_DURABILITY_MAJORITY, 9000),
                     DV_MCBP_OK);
    assert_int_equal(dv_key_append(&key, 0, "foo", 3), DV_MCBP_OK);
    uint8_t ex[DV_EXTRAS_STORE_LEN];
    dv_extras_store_encode(ex, DV_FLAGS_JSON, 0);
    dv_frame f = {.magic = DV_MAGIC_REQ,
                  .opcode = DV_OP_SET,
                  .datatype = DV_DATATYPE_JSON,
                  .vbucket = 115,
                  .opaque = 0x11,
                  .framing = dv_buf_head(&fe),
                  .framing_len = dv_buf_size(&fe),
                  .extras = ex,
                  .extras_len = sizeof ex,
                  .key = dv_buf_head(&key),
                  .key_len = dv_buf_size(&key),
                  .value = (const uint8_t *)"{\"a\":1}",
                  .value_len = 7};
    assert_int_equal(dv_frame_encode(&out, &f), DV_MCBP_OK);
    size_t n;
    uint8_t *want = tu_hex(vectors[2].hex, &n);
    assert_int_equal(dv_buf_size(&out), n);
    assert_memory_equal(dv_buf_head(&out), want, n);
    free(want);

    /* The same as a response magic becomes 0x18. */
    dv_buf_reset(&out);
    f.magic = DV_MAGIC_RES;
    assert_int_equal(dv_frame_encode(&out, &f), DV_MCBP_OK);
    assert_int_equal(dv_buf_head(&out)[0], DV_MAGIC_ALT_RES);
    dv_buf_free(&fe);
    dv_buf_free(&key);
    dv_buf_free(&out);
}

static void encode_limits(void **state)
{
    (void)state;
    static uint8_t big[70000];
    dv_buf b = DV_BUF_INIT;
    dv_frame f = {.magic = 0x42};
    assert_int_equal(dv_frame_encode(&b, &f), DV_MCBP_EMAGIC);
    f.magic = DV_MAGIC_REQ;
    f.extras = big;
    f.extras_len = 256;
    assert_int_equal(dv_frame_encode(&b, &f), DV_MCBP_ERANGE);
    f.extras_len = 255;
    assert_int_equal(dv_frame_encode(&b, &f), DV_MCBP_OK);
    dv_buf_reset(&b);
    f.extras_len = 0;
    f.key = big;
    f.key_len = 65536;
    assert_int_equal(dv_frame_encode(&b, &f), DV_MCBP_ERANGE);
    f.key_len = 65535;
    assert_int_equal(dv_frame_encode(&b, &f), DV_MCBP_OK);
    dv_buf_reset(&b);
    /* Alt frames: key and framing extras of at most 255 bytes. */
    f.framing = big;
    f.framing_len = 1;
    f.key_len = 256;
    assert_int_equal(dv_frame_encode(&b, &f), DV_MCBP_ERANGE);
    f.key_len = 255;
    f.framing_len = 256;
    assert_int_equal(dv_frame_encode(&b, &f), DV_MCBP_ERANGE);
    f.framing_len = 255;
    assert_int_equal(dv_frame_encode(&b, &f), DV_MCBP_OK);
    dv_buf_reset(&b);
    /* Server pushes and their answers have no alt form. */
    f.magic = DV_MAGIC_SERVER_REQ;
    f.key_len = 1;
    f.framing_len = 1;
    assert_int_equal(dv_frame_encode(&b, &f), DV_MCBP_ERANGE);
    f.magic = DV_MAGIC_SERVER_RES;
    assert_int_equal(dv_frame_encode(&b, &f), DV_MCBP_ERANGE);
    assert_int_equal(dv_buf_size(&b), 0);
    dv_buf_free(&b);
}

/* begin / append value / end gives the same bytes as a single encode, also when the buffer
 * holds consumed bytes and has to move its content while growing. */
static void begin_end(void **state)
{
    (void)state;
    size_t n;
    uint8_t *want = tu_hex(vectors[1].hex, &n);
    dv_frame f;
    size_t used;
    assert_int_equal(dv_frame_decode(want, n, 100, &f, &used), DV_MCBP_OK);

    for (size_t pre = 0; pre < 200; pre += 37) {
        dv_buf b = DV_BUF_INIT;
        for (size_t i = 0; i < pre; i++) assert_int_equal(dv_buf_append_u8(&b, 0xee), 0);
        dv_buf_consume(&b, pre / 2);
        size_t mark;
        dv_frame hdr = f;
        hdr.value = NULL;
        hdr.value_len = 0;
        assert_int_equal(dv_frame_begin(&b, &hdr, &mark), DV_MCBP_OK);
        for (size_t i = 0; i < f.value_len; i++)
            assert_int_equal(dv_buf_append_u8(&b, f.value[i]), 0);
        assert_int_equal(dv_frame_end(&b, mark), DV_MCBP_OK);
        assert_int_equal(dv_buf_size(&b), pre - pre / 2 + n);
        assert_memory_equal(dv_buf_head(&b) + mark, want, n);
        assert_int_equal(dv_frame_end(&b, dv_buf_size(&b)), DV_MCBP_ERANGE);
        dv_buf_free(&b);
    }
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vectors_decode_and_reencode),
        cmocka_unit_test(split_at_every_byte),
        cmocka_unit_test(stream_in_chunks),
        cmocka_unit_test(many_frames_in_one_buffer),
        cmocka_unit_test(lying_lengths),
        cmocka_unit_test(bad_magic),
        cmocka_unit_test(six_magics),
        cmocka_unit_test(build_set_durable),
        cmocka_unit_test(encode_limits),
        cmocka_unit_test(begin_end),
    };
    return TU_RUN(tests);
}
