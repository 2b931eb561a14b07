/* One operation of the client engine, apart from connections and routing: an owned copy of the
 * request, its encoding as a request frame for a given route, and the decoding of the reply into
 * a dv_res with the official core's error mapping and retry decision (kv-protocol.md §2, §3,
 * §10.3, §10.4; python-api.md §2.4). Pure functions over bytes: unit-tested without an engine. */
#ifndef DV_CLIENT_OP_H
#define DV_CLIENT_OP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "divan/client.h"
#include "mcbp/frame.h"
#include "mcbp/hello.h"
#include "mcbp/opcode.h"

/* An accepted operation: the request deep-copied (key, value, names, specs), plus the engine's
 * bookkeeping fields, which op.c never touches beyond initialising them to zero. */
typedef struct dv_op {
    dv_req req;     /* pointers into this op's own memory */
    uint8_t opcode; /* the wire opcode chosen for req.kind */
    /* Sub-document specs in wire order: xattr specs first, otherwise the caller's order (the
     * official core sorts them the same way; kv_engine requires it). wire[i] is the index in
     * req.specs of the i-th spec sent; results are given back in req.specs order. */
    uint8_t wire[DV_MAX_SPECS];
    /* engine bookkeeping */
    uint64_t id;
    uint32_t opaque;
    uint64_t deadline_ns, submitted_ns, retry_at_ns;
    uint32_t conn;    /* connection it was written to, 0 if none */
    uint32_t cid;     /* resolved collection id */
    uint16_t vbucket; /* the vbucket it was sent to: dv_op_decode's token partition_id */
    int cid_known;
    unsigned retries;
    char retry_reasons[256];
    uint16_t last_status;
    dv_res_cb cb;
    void *ud;
    struct durwait *dw; /* client durability: polled once the mutation succeeded */
    struct dv_op *next, *prev;
} dv_op;

/* Check and copy a request: DV_ERR_OK and *out, DV_ERR_INVALID_ARGUMENT (with a message) for a
 * request the protocol cannot carry (empty or > 250-byte key, value > 20 MiB, specs count not
 * 1..16, a lookup opcode in a mutation, counter delta/initial rules, expiry together with
 * preserve_expiry on replace/mutate_in, ...), DV_ERR_NO_MEMORY. */
dv_error dv_op_new(const dv_req *req, dv_op **out, char *err, size_t errlen);
void dv_op_free(dv_op *op);

/* What the engine knows of the connection the op goes out on. */
typedef struct dv_op_route {
    uint16_t vbucket;
    uint32_t cid;         /* used when collections is set */
    dv_features features; /* acked by the node: COLLECTIONS, SNAPPY, JSON, XERROR, ... */
    uint32_t opaque;
    /* Time left to the op's deadline in ms, for the durability frame's timeout (90% of it, as
     * the official core sends); 0: the op's req.timeout_ms, or the durable default 10000. */
    uint64_t remaining_ms;
} dv_op_route;

/* Append the request frame for op on this route to out (snappy-compressing INSERT, UPSERT and
 * REPLACE values as the official core does when SNAPPY is acked). DV_ERR_OK, or
 * DV_ERR_NO_MEMORY / DV_ERR_INVALID_ARGUMENT / DV_ERR_FEATURE_NOT_AVAILABLE (a named collection
 * on a node without COLLECTIONS) (out unchanged). */
dv_error dv_op_encode(const dv_op *op, const dv_op_route *route, dv_buf *out);

/* What to do with a reply. */
typedef enum dv_op_verdict {
    DV_OP_DONE,           /* complete the op with res */
    DV_OP_RETRY,          /* resend after backoff; *reason is the official retry reason */
    DV_OP_NOT_MY_VBUCKET, /* apply the config in the reply's value (if JSON), re-route, resend */
    DV_OP_UNKNOWN_COLLECTION, /* re-resolve the collection id, then resend */
} dv_op_verdict;

/* Decode the reply f to op into res (views into f and scratch, valid until the next call with
 * the same scratch); decides retry or completion by the official rules. res->ctx is left for
 * the engine to set. scratch is reset first; it then holds the inflated value (snappy) and the
 * res->specs array (aligned, placed after the bytes). res->err is also set on the retry
 * verdicts (the error to report if retrying stops). NOT_MY_VBUCKET leaves the reply's body in
 * res->value/datatype (the config when JSON). *reason is DV_RETRY_NONE for DV_OP_DONE;
 * ECONFIG_ONLY gives DV_OP_RETRY with DV_RETRY_CONFIG_ONLY (fetch a config before resending).
 * As the official core: res->specs are in req.specs order (the wire order is undone); an exists
 * spec gives err OK and the value true/false (a missing path is false); a mutate_in whose spec
 * failed takes that spec's error; cas and token only on success. */
dv_op_verdict dv_op_decode(const dv_op *op, const dv_frame *f, dv_res *res, dv_buf *scratch,
                           dv_retry *reason);

/* The official backoff for the n-th retry (0-based): 1, 10, 50, 100, 500, 1000 ms, then 1000. */
uint64_t dv_op_backoff_ms(unsigned n);

/* The XERROR context of an error reply (kv-protocol.md §3.2), NUL-terminated in out; "" when
 * there is none (success, no JSON body, no context). Returns out. */
const char *dv_op_error_message(const dv_frame *f, char *out, size_t outlen);

#endif
