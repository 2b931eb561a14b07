/* The frame codec (kv-protocol.md §1): a 24-byte header and a body of framing extras, extras,
 * key and value, for all six magics. Sans-I/O: the decoder returns views into the caller's
 * bytes, the encoder appends to a dv_buf.
 *
 * Server loop:
 *     while ((rc = dv_frame_decode(head, size, max, &f, &used)) == DV_MCBP_OK) {
 *         handle(&f);             // f points into head; valid until the bytes are consumed
 *         head += used, size -= used;
 *     }
 *     if (rc < 0) close the connection (dv_mcbp_strerror(rc) says why);
 *     else keep the unconsumed bytes and wait for more (rc == DV_MCBP_NEED_MORE).
 */
#ifndef DV_MCBP_FRAME_H
#define DV_MCBP_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "divan/error.h"
#include "mcbp/protocol.h"

/* Result codes of divan's mcbp codec (frame, frame infos, HELLO, LEB128, snappy). Negative
 * values are errors; each names what is wrong with the input. */
#define DV_MCBP_RCS(X)                                                                             \
    X(OK, 0, "ok")                                                                                 \
    X(NEED_MORE, 1, "incomplete frame: need more bytes")                                           \
    X(EMAGIC, -1, "bad magic byte")                                                                \
    X(ELENGTH, -2, "framing extras, extras and key exceed the body length")                        \
    X(ETOOBIG, -3, "length above the allowed maximum")                                             \
    X(ETRUNCATED, -4, "truncated input")                                                           \
    X(ERANGE, -5, "field does not fit its header slot")                                            \
    X(ENOMEM, -6, "out of memory")                                                                 \
    X(ELEB128, -7, "bad LEB128 collection id")                                                     \
    X(EKEY, -8, "empty key after the collection id")                                               \
    X(EODD, -9, "feature list of odd length")                                                      \
    X(ECORRUPT, -10, "corrupt snappy data")                                                        \
    X(EEXTRAS, -11, "extras of the wrong length")                                                  \
    X(EVALUE, -12, "value of the wrong length or format")

typedef enum dv_mcbp_rc {
#define DV_X_(name, num, msg) DV_MCBP_##name = num,
    DV_MCBP_RCS(DV_X_)
#undef DV_X_
} dv_mcbp_rc;

/* Static message for a result code ("unknown result" if not one). */
const char *dv_mcbp_strerror(int rc);
/* What a codec failure means to a user: NO_MEMORY, NEED_MORE_DATA, else PROTOCOL_ERROR. */
dv_error dv_mcbp_rc_error(int rc);

/* 1 for the six magics of §1.1. */
int dv_magic_valid(uint8_t magic);
/* 1 for 0x81, 0x18, 0x83 (response layout: offset 6 is a status). */
int dv_magic_is_response(uint8_t magic);

/* One frame. Decoding fills every field, with pointers into the input (NULL when a section is
 * empty). Encoding reads every field; body sections may point anywhere. */
typedef struct dv_frame {
    uint8_t magic;
    uint8_t opcode;
    uint8_t datatype;
    union {
        uint16_t vbucket; /* requests (0x80, 0x08, 0x82) */
        uint16_t status;  /* responses (0x81, 0x18, 0x83) */
    };
    uint32_t opaque;
    uint64_t cas;
    const uint8_t *framing; /* framing extras (alt magics only) */
    size_t framing_len;
    const uint8_t *extras;
    size_t extras_len;
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
} dv_frame;

/* Default bound for dv_frame_decode: a 20 MiB value plus room for the rest, like kv_engine's
 * maximum packet size. */
#define DV_FRAME_DEFAULT_MAX_BODY (30u * 1024u * 1024u)

/* Decode the first frame of p[0..n). Returns
 *   DV_MCBP_OK         *out filled, *consumed = 24 + body length;
 *   DV_MCBP_NEED_MORE  the frame is incomplete (nothing read past n);
 *   DV_MCBP_EMAGIC     first byte is not a magic (reported as soon as one byte is there);
 *   DV_MCBP_ELENGTH    FE + extras + key exceed the body length;
 *   DV_MCBP_ETOOBIG    body length above max_body.
 * Header errors are reported as soon as the 24 header bytes are there, before the body. */
int dv_frame_decode(const uint8_t *p, size_t n, size_t max_body, dv_frame *out, size_t *consumed);

/* Append the frame (header and body) to b. The magic is the caller's, except that a classic
 * request/response magic (0x80/0x81) becomes 0x08/0x18 when framing extras are present. Returns
 * DV_MCBP_OK, DV_MCBP_EMAGIC (unknown magic), DV_MCBP_ERANGE (framing extras on 0x82/0x83,
 * FE or key above 255 in an alt frame, key above 65535, extras above 255, body above 4 GiB) or
 * DV_MCBP_ENOMEM; b is unchanged on failure. */
int dv_frame_encode(dv_buf *b, const dv_frame *f);

/* The same in two steps, for values built in place: dv_frame_begin writes the header, framing
 * extras, extras and key of f (f->value is ignored) and stores in *mark where the frame starts;
 * the caller then appends the value to b; dv_frame_end patches the body length. The mark stays
 * valid while the caller only appends to b. */
int dv_frame_begin(dv_buf *b, const dv_frame *f, size_t *mark);
int dv_frame_end(dv_buf *b, size_t mark);

/* ---- Frame infos (§1.3): the framing-extras section. ---- */

#define DV_FRAME_INFO_MAX_ID  270
#define DV_FRAME_INFO_MAX_LEN 270
/* Longest encoded frame info: one byte of nibbles, two escape bytes, the data. */
#define DV_FRAME_INFO_MAX_SIZE (3 + DV_FRAME_INFO_MAX_LEN)

typedef struct dv_frame_info {
    uint16_t id;
    uint16_t len;
    const uint8_t *data; /* view into the section; NULL when len is 0 */
} dv_frame_info;

typedef struct dv_frame_info_iter {
    const uint8_t *p;
    size_t n;
    size_t pos;
} dv_frame_info_iter;

void dv_frame_info_iter_init(dv_frame_info_iter *it, const uint8_t *fe, size_t n);
/* 1 and *out filled when an info was read, 0 at the end of the section, DV_MCBP_ETRUNCATED if
 * an escape byte or the data runs past the section (the iterator then stays at the error). */
int dv_frame_info_next(dv_frame_info_iter *it, dv_frame_info *out);

/* Encode one frame info into out (room for DV_FRAME_INFO_MAX_SIZE bytes is always enough);
 * returns its size, or DV_MCBP_ERANGE for an id or length above 270. */
int dv_frame_info_write(uint8_t *out, uint16_t id, const void *data, size_t len);
/* The same, appended to b: DV_MCBP_OK, DV_MCBP_ERANGE or DV_MCBP_ENOMEM. */
int dv_frame_info_append(dv_buf *b, uint16_t id, const void *data, size_t len);
/* Durability requirement (id 1): level 1..3; timeout_ms 0 omits the timeout (1-byte form),
 * otherwise the 3-byte form. The official core always sends the timeout. */
int dv_frame_info_append_durability(dv_buf *b, uint8_t level, uint16_t timeout_ms);
/* Preserve TTL (id 5, no payload). */
int dv_frame_info_append_preserve_ttl(dv_buf *b);
/* Impersonate user (id 4); a leading '^' names an external user. 1..270 bytes. */
int dv_frame_info_append_impersonate(dv_buf *b, const char *user, size_t len);
/* Response frame 0: server recv->send duration in microseconds (encoded as below). */
int dv_frame_info_append_server_duration(dv_buf *b, uint64_t micros);

/* Server duration encoding (response frame ids 0 and 3): encoded = round((us * 2)^(1/1.74)),
 * saturating at 65535; decode gives encoded^1.74 / 2 microseconds, rounded to the nearest. */
uint16_t dv_server_duration_encode(uint64_t micros);
uint32_t dv_server_duration_decode(uint16_t encoded);
/* The server duration of a response's framing extras: 1 and *micros set when a well-formed
 * frame id 0 of length 2 is there, else 0 (like the official core, which ignores the rest). */
int dv_frame_server_duration(const dv_frame *f, uint32_t *micros);

/* ---- Request frame-info validation (§1.3, §11.3) for a server. ---- */

/* What a request's framing extras ask for. Views point into the frame. */
typedef struct dv_frame_reqs {
    uint8_t barrier;
    uint8_t durability_level;    /* 0 when no durability frame */
    uint16_t durability_timeout; /* ms; 0 when absent (server default) */
    uint8_t preserve_ttl;
    const uint8_t *impersonate; /* user name, NULL if none */
    size_t impersonate_len;
    unsigned extra_privileges; /* number of id-6 frames; fetch them again by iterating */
    uint8_t has_impersonate_token;
    uint16_t impersonate_token;
} dv_frame_reqs;

/* 1 if the opcode accepts a durability frame / a preserve-TTL frame. */
int dv_opcode_supports_durability(uint8_t opcode);
int dv_opcode_supports_preserve_ttl(uint8_t opcode);

/* Check one durability frame's payload (length 1 or 3): DV_STATUS_SUCCESS, EINVAL for a bad
 * length, DURABILITY_INVALID_LEVEL for level 0 or above 3 or a reserved timeout (0, 0xffff),
 * as kv_engine's parser does. Fills level and timeout (0 when absent) on success. */
dv_status dv_durability_check(const uint8_t *data, size_t len, uint8_t *level, uint16_t *timeout);

/* Validate all frame infos of a request for its opcode, as kv_engine does; returns the status a
 * server must answer (DV_STATUS_SUCCESS when acceptable) and fills *out (may be NULL):
 *   truncated section                                  -> EINVAL
 *   unknown or retired id (3, 8..)                     -> UNKNOWN_FRAME_INFO
 *   barrier with a payload                             -> EINVAL
 *   durability on an opcode without durability         -> EINVAL
 *   durability with a bad payload                      -> dv_durability_check
 *   DCP stream id (no DCP here) or length not 2        -> EINVAL
 *   impersonate with an empty name                     -> EINVAL
 *   preserve-TTL with a payload                        -> EINVAL
 *   preserve-TTL on an opcode without it               -> NOT_SUPPORTED
 *   impersonate token of length other than 2           -> EINVAL
 * The first failing frame info decides. */
dv_status dv_frame_reqs_parse(uint8_t opcode, const uint8_t *fe, size_t n, dv_frame_reqs *out);

#endif
