/* HELLO (kv-protocol.md §4): the value is a list of u16 feature codes. A set of features is a
 * bit mask: bit k stands for code k; codes of 64 and above are not representable (none is
 * defined) and are dropped when parsing. */
#ifndef DV_MCBP_HELLO_H
#define DV_MCBP_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mcbp/protocol.h"

typedef uint64_t dv_features;

#define DV_FEATURE_BIT(code) ((dv_features)1 << (code))
static inline int dv_features_has(dv_features set, unsigned code)
{
    return code < 64 && (set >> code & 1);
}

/* Append the codes in the given order (a client's request). DV_MCBP_OK or DV_MCBP_ENOMEM. */
int dv_hello_encode(dv_buf *b, const uint16_t *codes, size_t n);
/* Append a set in ascending order (a server's answer). */
int dv_hello_encode_set(dv_buf *b, dv_features set);
/* Parse a list: DV_MCBP_OK and *set, or DV_MCBP_EODD for an odd length. Duplicates collapse. */
int dv_hello_decode(const uint8_t *v, size_t n, dv_features *set);

/* The dependencies of §4.2 a HELLO must satisfy: 0x0d and 0x1f need 0x0c; 0x15, 0x18 and 0x22
 * need 0x06; 0x24 needs 0x06, 0x0b and 0x13. 1 if `set` satisfies them. */
int dv_hello_deps_ok(dv_features set);

/* A server's answer to a HELLO value: DV_STATUS_EINVAL for an odd length or a request that
 * breaks a dependency (kv_engine rejects the whole HELLO), else DV_STATUS_SUCCESS and *ack =
 * the requested features the server implements, minus any whose dependency is not also acked.
 * Encode *ack with dv_hello_encode_set (ascending, as kv_engine answers). */
dv_status dv_hello_answer(const uint8_t *v, size_t n, dv_features implemented, dv_features *ack);

#endif
