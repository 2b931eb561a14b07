/* Sub-document codec (kv-protocol.md §2.7): the specs of SUBDOC_MULTI_LOOKUP (0xd0) and
 * SUBDOC_MULTI_MUTATION (0xd1) requests, their extras, the extras of single-path requests, and
 * the bodies of both multi-path responses. Shared by client and server.
 *
 * Everything works on byte ranges (the extras or value bytes of a frame). Decoders never read
 * past their input and return views into it: decoded paths and values are borrowed from the
 * caller's bytes. Request decoders return the dv_status a server must answer, so that the same
 * rules serve the server (validation) and the client (dv_subdoc_specs_check, before sending).
 * Encoders append to a dv_buf and leave it unchanged when they fail. */
#ifndef DV_MCBP_SUBDOC_H
#define DV_MCBP_SUBDOC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "divan/error.h"
#include "mcbp/protocol.h"

/* One spec of a multi-path request. Lookup specs have no value (value_len 0). */
typedef struct dv_subdoc_spec {
    uint8_t opcode;   /* DV_OP_SUBDOC_* or DV_SUBDOC_OP_*_DOC */
    uint8_t flags;    /* DV_SUBDOC_PATH_* */
    const char *path; /* not NUL-terminated */
    size_t path_len;
    const uint8_t *value; /* mutation specs only */
    size_t value_len;
} dv_subdoc_spec;

/* 1 if the opcode may appear in a multi-lookup spec (0x00, 0xc5, 0xc6, 0xd2) or in a
 * multi-mutation spec (0x01, 0x04, 0xc7..0xcf, 0xd3). */
int dv_subdoc_is_lookup_op(uint8_t opcode);
int dv_subdoc_is_mutation_op(uint8_t opcode);

/* The rules a server applies to a list of specs (mutation: 0 for a multi-lookup, 1 for a
 * multi-mutation): 1..16 specs, opcodes of the right kind (else SUBDOC_INVALID_COMBO), known
 * path flags valid for the opcode (else EINVAL), EXPAND_MACROS/BINARY_VALUE only with
 * XATTR_PATH (else SUBDOC_XATTR_INVALID_FLAG_COMBO), paths of at most 1024 bytes (else
 * SUBDOC_PATH_E2BIG), empty paths for whole-document opcodes and non-empty ones where the
 * opcode needs a path (else EINVAL), an xattr path non-empty (else XATTR_EINVAL) and not a
 * virtual xattr in a mutation (else SUBDOC_XATTR_CANT_MODIFY_VATTR), a value exactly where the
 * opcode takes one (else EINVAL), xattr specs before body specs (else
 * SUBDOC_INVALID_XATTR_ORDER), and a whole-document DELETE as the only body spec (else
 * SUBDOC_INVALID_COMBO). Returns DV_STATUS_SUCCESS or the first failure; *why (if not NULL)
 * receives a static message suitable for an XERROR context. */
dv_status dv_subdoc_specs_check(int mutation, const dv_subdoc_spec *specs, size_t n,
                                const char **why);

/* Request value: lookup specs are `u8 opcode | u8 flags | u16 path_len | path`, mutation specs
 * `u8 opcode | u8 flags | u16 path_len | u32 value_len | path | value`. The encoders refuse
 * (DV_ERR_INVALID_ARGUMENT) only what cannot be represented: a path over 65535 bytes, a value
 * in a lookup spec or over 4 GiB; call dv_subdoc_specs_check for the protocol rules.
 * DV_ERR_NO_MEMORY on allocation failure. */
dv_error dv_subdoc_lookup_encode(dv_buf *out, const dv_subdoc_spec *specs, size_t n);
dv_error dv_subdoc_mutation_encode(dv_buf *out, const dv_subdoc_spec *specs, size_t n);

/* Decode and validate a request value into out (room for DV_SUBDOC_MAX_SPECS specs; views
 * into p). A truncated spec or trailing bytes too short for a spec give EINVAL, more than 16
 * specs or none SUBDOC_INVALID_COMBO; then the rules of dv_subdoc_specs_check. *n is the
 * number of specs decoded (also on failure, up to the one that failed). */
dv_status dv_subdoc_lookup_decode(const uint8_t *p, size_t len,
                                  dv_subdoc_spec out[DV_SUBDOC_MAX_SPECS], size_t *n,
                                  const char **why);
dv_status dv_subdoc_mutation_decode(const uint8_t *p, size_t len,
                                    dv_subdoc_spec out[DV_SUBDOC_MAX_SPECS], size_t *n,
                                    const char **why);

/* The optional fields of sub-document extras, in wire order: u32 expiry, u32 user flags (only
 * after an expiry), u8 doc flags (DV_SUBDOC_DOC_*). */
typedef struct dv_subdoc_extras {
    uint8_t has_expiry, has_user_flags, has_doc_flags;
    uint32_t expiry;
    uint32_t user_flags;
    uint8_t doc_flags;
} dv_subdoc_extras;

/* Multi-lookup extras: nothing, or one byte of doc flags (only ACCESS_DELETED or REPLICA_READ,
 * not both). Encode writes the byte only when doc_flags is not zero, like the official core. */
dv_status dv_subdoc_lookup_extras_decode(const uint8_t *p, size_t len, uint8_t *doc_flags,
                                         const char **why);
dv_error dv_subdoc_lookup_extras_encode(dv_buf *out, uint8_t doc_flags);

/* Multi-mutation extras: lengths 0, 1, 4, 5, 8 or 9, else EINVAL; doc flags must be a valid
 * mutation combination (MKDOC with ADD, REPLICA_READ, REVIVE_DOCUMENT without ACCESS_DELETED
 * or with CREATE_AS_DELETED, CREATE_AS_DELETED without MKDOC or ADD, unknown bits: EINVAL).
 * Encode writes the expiry when has_expiry or has_user_flags, then the user flags if
 * has_user_flags, then the doc flags if has_doc_flags; it does not check the doc flags. */
dv_status dv_subdoc_mutation_extras_decode(const uint8_t *p, size_t len, dv_subdoc_extras *out,
                                           const char **why);
dv_error dv_subdoc_mutation_extras_encode(dv_buf *out, const dv_subdoc_extras *x);

/* A single-path request (opcodes 0xc5..0xcf, 0xd2, 0xd3): extras `u16 path_len | u8 path
 * flags` then the multi-mutation extras (lengths 3, 4, 7, 8, 11, 12; lookups 3 or 4); body =
 * the bytes after the key: path, then value. */
typedef struct dv_subdoc_single {
    dv_subdoc_spec spec; /* opcode, path flags, path and value (views into body) */
    dv_subdoc_extras x;
} dv_subdoc_single;

dv_status dv_subdoc_single_decode(uint8_t opcode, const uint8_t *extras, size_t extras_len,
                                  const uint8_t *body, size_t body_len, dv_subdoc_single *out,
                                  const char **why);
/* The extras of a single-path request (for tests and tools; the official core never sends
 * single-path commands). */
dv_error dv_subdoc_single_extras_encode(dv_buf *out, uint16_t path_len, uint8_t path_flags,
                                        const dv_subdoc_extras *x);

/* One result of a multi-path response. For lookups index is the position (spec order); for
 * mutations it is the spec the entry belongs to. */
typedef struct dv_subdoc_result {
    uint8_t index;
    uint16_t status;
    const uint8_t *value; /* view into the response, or the caller's bytes when encoding */
    size_t value_len;
} dv_subdoc_result;

/* Lookup response value: one `u16 status | u32 value_len | value` per spec, in spec order.
 * Encode refuses (DV_ERR_INVALID_ARGUMENT) more than 16 results, a value over 4 GiB, and any
 * status dv_subdoc_status_known() rejects. Decode fills at most max results (index = position)
 * and gives DV_ERR_PROTOCOL_ERROR for a truncated body or more than max results; *n is the
 * number decoded. */
dv_error dv_subdoc_lookup_res_encode(dv_buf *out, const dv_subdoc_result *r, size_t n);
dv_error dv_subdoc_lookup_res_decode(const uint8_t *p, size_t len, dv_subdoc_result *out,
                                     size_t max, size_t *n);

/* Multi-mutation response value, by the response's status:
 *  SUCCESS / SUBDOC_SUCCESS_DELETED: zero or more `u8 index | u16 status | u32 value_len |
 *    value` (specs that produce a value), indexes below 16 and increasing, statuses SUCCESS;
 *  SUBDOC_MULTI_PATH_FAILURE(_DELETED): exactly one `u8 index | u16 status`, the first failing
 *    spec, status not SUCCESS and no value.
 * Any other top-level status carries no sub-document body: DV_ERR_INVALID_ARGUMENT. Encode also
 * refuses per-entry statuses dv_subdoc_status_known() rejects; decode gives
 * DV_ERR_PROTOCOL_ERROR for a body that breaks these rules or has more than max entries. */
dv_error dv_subdoc_mutation_res_encode(dv_buf *out, uint16_t top_status, const dv_subdoc_result *r,
                                       size_t n);
dv_error dv_subdoc_mutation_res_decode(uint16_t top_status, const uint8_t *p, size_t len,
                                       dv_subdoc_result *out, size_t max, size_t *n);

/* 1 if the official core accepts this status inside a per-spec result. It asserts (aborting the
 * process) on the statuses it does not know: 0x0c, 0x0f, 0x26..0x29, 0x35..0x38, 0x50, 0x51,
 * 0xd8, and on any status not in the table (kv-protocol.md §3.1, §14.9). */
int dv_subdoc_status_known(uint16_t status);
/* The status to put in a per-spec result instead: the status itself when known, else the
 * closest known one (0xd8 -> SUBDOC_PATH_MISMATCH, invalid-input codes -> EINVAL, quota codes
 * -> SCOPE_SIZE_LIMIT_EXCEEDED (quota_limited), temporary ones -> ETMPFAIL, the rest ->
 * EINTERNAL). */
uint16_t dv_subdoc_status_for_spec(uint16_t status);

/* What a per-spec status means to the user: DV_ERR_OK for the success statuses,
 * SUBDOC_PATH_ENOENT -> DV_ERR_PATH_NOT_FOUND and so on (the last column of DV_STATUSES);
 * DV_ERR_PROTOCOL_ERROR for a status not in the table. */
dv_error dv_subdoc_status_error(uint16_t status);

#endif
