/* The range-scan commands' bodies (docs/server.md, Range scans; kv_engine's
 * docs/range_scans): the JSON value of RANGE_SCAN_CREATE, the 28-byte extras of
 * RANGE_SCAN_CONTINUE, and the records a continue answers with.
 *
 * Records, concatenated in a response value with no padding:
 *   keys only:  leb128(key length) key
 *   documents:  flags u32, expiry u32, seqno u64, cas u64, datatype u8 (25 bytes, big endian),
 *               leb128(key length) key, leb128(value length) value
 * A continue response's 4-byte extras say which: 0 keys, 1 documents. */
#ifndef DV_MCBP_RSCAN_H
#define DV_MCBP_RSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define DV_RSCAN_ID_LEN              16
#define DV_RSCAN_CONTINUE_EXTRAS_LEN 28
#define DV_RSCAN_DOC_META_LEN        25
/* The longest range bound: a 250-byte key and a 0xff or two past it. */
#define DV_RSCAN_TERM_MAX 256

typedef struct dv_rscan_create {
    uint32_t cid; /* "collection": hex; 0 when absent */
    int key_only; /* "key_only" */
    int sampling; /* 1: "sampling" given, 0: "range" given */
    uint8_t start[DV_RSCAN_TERM_MAX], end[DV_RSCAN_TERM_MAX];
    size_t start_len, end_len;
    int excl_start, excl_end; /* "excl_start" / "excl_end" instead of "start" / "end" */
    uint64_t samples, seed;
    int has_snapshot; /* "snapshot_requirements" */
    uint64_t vb_uuid; /* decimal string (a number is accepted too) */
    uint64_t seqno;
    uint64_t timeout_ms;
    int seqno_exists;
} dv_rscan_create;

/* Parse a create value. 0 with *out filled, or -1 with a reason in err: not a JSON object,
 * both or neither of "range" and "sampling", a bound missing, not a string or not base64, a
 * bound longer than DV_RSCAN_TERM_MAX, "samples" missing or 0, a bad collection id, or
 * snapshot requirements without "vb_uuid" or "seqno". Unknown keys are ignored. */
int dv_rscan_create_parse(const void *p, size_t n, dv_rscan_create *out, char *err, size_t errlen);

typedef struct dv_rscan_continue {
    uint8_t id[DV_RSCAN_ID_LEN];
    uint32_t item_limit; /* 0 = none */
    uint32_t time_limit_ms;
    uint32_t byte_limit;
} dv_rscan_continue;

void dv_rscan_continue_decode(const uint8_t x[DV_RSCAN_CONTINUE_EXTRAS_LEN], dv_rscan_continue *c);
void dv_rscan_continue_encode(uint8_t x[DV_RSCAN_CONTINUE_EXTRAS_LEN], const dv_rscan_continue *c);

typedef struct dv_rscan_doc {
    uint32_t flags, expiry;
    uint64_t seqno, cas;
    uint8_t datatype;
    const uint8_t *key;
    size_t nkey;
    const uint8_t *value;
    size_t nvalue;
} dv_rscan_doc;

/* Append one record: 0, or -1 on allocation failure (b may hold part of it then). */
int dv_rscan_put_key(dv_buf *b, const void *key, size_t nkey);
int dv_rscan_put_doc(dv_buf *b, const dv_rscan_doc *d);
/* Read the record at p[0..n) (views into p): the bytes it takes, or -1 when it is truncated or
 * its lengths are bad. n must be > 0. */
long dv_rscan_get_key(const uint8_t *p, size_t n, const uint8_t **key, size_t *nkey);
long dv_rscan_get_doc(const uint8_t *p, size_t n, dv_rscan_doc *d);

#endif
