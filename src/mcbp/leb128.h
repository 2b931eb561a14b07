/* The collection id prefix of a protocol key (kv-protocol.md §6.1): unsigned LEB128, seven bits
 * at a time, least significant group first, 0x80 on every byte but the last. Decoding follows
 * kv_engine: at most 5 bytes, shortest encoding only, value within 32 bits. */
#ifndef DV_MCBP_LEB128_H
#define DV_MCBP_LEB128_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define DV_LEB128_MAX 5

/* Writes 1..5 bytes into out and returns the count. */
size_t dv_leb128_encode(uint32_t v, uint8_t out[DV_LEB128_MAX]);
/* Decode the prefix of p[0..n): DV_MCBP_OK with *v and *len (bytes used), or DV_MCBP_ELEB128
 * for no stop byte within min(n, 5) bytes, a non-canonical encoding (e.g. 81 00), or a value
 * above 32 bits. */
int dv_leb128_decode(const uint8_t *p, size_t n, uint32_t *v, size_t *len);

/* Split a protocol key into collection id and user key (a view into key). DV_MCBP_ELEB128 for
 * a bad prefix, DV_MCBP_EKEY when nothing follows the prefix. */
int dv_key_split(const uint8_t *key, size_t n, uint32_t *cid, const uint8_t **user,
                 size_t *user_len);
/* Append prefix + user key to b: DV_MCBP_OK or DV_MCBP_ENOMEM. */
int dv_key_append(dv_buf *b, uint32_t cid, const void *user, size_t user_len);

#endif
