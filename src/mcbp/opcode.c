#include "mcbp/opcode.h"

#include <string.h>

#include "mcbp/leb128.h"

const char *dv_opcode_name(uint8_t opcode)
{
    switch (opcode) {
#define DV_X_(name, code)                                                                          \
    case code:                                                                                     \
        return #name;
        DV_OPCODES(DV_X_)
#undef DV_X_
    }
    return NULL;
}

const char *dv_status_name(uint16_t status)
{
    switch (status) {
#define DV_X_(name, code, desc, attrs, err)                                                        \
    case code:                                                                                     \
        return #name;
        DV_STATUSES(DV_X_)
#undef DV_X_
    }
    return NULL;
}

const char *dv_feature_name(uint16_t feature)
{
    switch (feature) {
#define DV_X_(name, code)                                                                          \
    case code:                                                                                     \
        return #name;
        DV_FEATURES(DV_X_)
#undef DV_X_
    }
    return NULL;
}

const char *dv_server_opcode_name(uint8_t opcode)
{
    switch (opcode) {
    case DV_SERVER_OP_CLUSTERMAP_CHANGE:
        return "CLUSTERMAP_CHANGE";
    case DV_SERVER_OP_AUTHENTICATE:
        return "AUTHENTICATE";
    case DV_SERVER_OP_ACTIVE_EXTERNAL_USERS:
        return "ACTIVE_EXTERNAL_USERS";
    }
    return NULL;
}

/* ---- the extras table (§2.1) ---- */

#define L     DV_EXTRAS_LEN
#define TOKEN (L(0) | L(16))
#define DOC   (DV_OPF_KEY | DV_OPF_COLLECTION)
#define MUT   (DOC | DV_OPF_MUTATION)
#define BARE  (DV_OPF_NO_KEY | DV_OPF_NO_VALUE)
/* Single-path sub-document extras: u16 path length, u8 path flags, then optional expiry, user
 * flags and doc flags. */
#define SD_LOOKUP   (L(3) | L(4))
#define SD_MUTATION (L(3) | L(4) | L(7) | L(8) | L(11) | L(12))

/* One SHAPE_<opcode> per row of DV_OPCODES (a missing one fails the build): request extras,
 * success-response extras, DV_OPF_* flags, fixed value length, privilege (kv_engine's
 * mcbp_privileges; P(UNSET) refuses the opcode to everyone, as FLUSH is refused over KV). */
#define P(x) DV_PRIV_##x

#define SHAPE_GET             L(0), L(4), DOC | DV_OPF_NO_VALUE, 0, P(READ)
#define SHAPE_SET             L(8), TOKEN, MUT, 0, P(WRITE)
#define SHAPE_ADD             L(8), TOKEN, MUT, 0, P(WRITE)
#define SHAPE_REPLACE         L(8), TOKEN, MUT, 0, P(WRITE)
#define SHAPE_DELETE          L(0), TOKEN, MUT, 0, P(WRITE)
#define SHAPE_INCREMENT       L(20), TOKEN, MUT | DV_OPF_NO_VALUE, 0, P(READ_WRITE)
#define SHAPE_DECREMENT       L(20), TOKEN, MUT | DV_OPF_NO_VALUE, 0, P(READ_WRITE)
#define SHAPE_QUIT            L(0), L(0), BARE, 0, P(NONE)
#define SHAPE_FLUSH           L(0) | L(4), L(0), BARE, 0, P(UNSET)
#define SHAPE_GETQ            L(0), L(4), DOC | DV_OPF_NO_VALUE | DV_OPF_QUIET, 0, P(READ)
#define SHAPE_NOOP            L(0), L(0), BARE, 0, P(CONNECTION)
#define SHAPE_VERSION         L(0), L(0), BARE, 0, P(CONNECTION)
#define SHAPE_GETK            L(0), L(4), DOC | DV_OPF_NO_VALUE, 0, P(READ)
#define SHAPE_GETKQ           L(0), L(4), DOC | DV_OPF_NO_VALUE | DV_OPF_QUIET, 0, P(READ)
#define SHAPE_APPEND          L(0), TOKEN, MUT, 0, P(WRITE)
#define SHAPE_PREPEND         L(0), TOKEN, MUT, 0, P(WRITE)
#define SHAPE_STAT            L(0), L(0), DV_OPF_NO_VALUE, 0, P(BUCKET)
#define SHAPE_SETQ            L(8), TOKEN, MUT | DV_OPF_QUIET, 0, P(WRITE)
#define SHAPE_ADDQ            L(8), TOKEN, MUT | DV_OPF_QUIET, 0, P(WRITE)
#define SHAPE_REPLACEQ        L(8), TOKEN, MUT | DV_OPF_QUIET, 0, P(WRITE)
#define SHAPE_DELETEQ         L(0), TOKEN, MUT | DV_OPF_QUIET, 0, P(WRITE)
#define SHAPE_INCREMENTQ      L(20), TOKEN, MUT | DV_OPF_NO_VALUE | DV_OPF_QUIET, 0, P(READ_WRITE)
#define SHAPE_DECREMENTQ      L(20), TOKEN, MUT | DV_OPF_NO_VALUE | DV_OPF_QUIET, 0, P(READ_WRITE)
#define SHAPE_QUITQ           L(0), L(0), BARE | DV_OPF_QUIET, 0, P(NONE)
#define SHAPE_FLUSHQ          L(0) | L(4), L(0), BARE | DV_OPF_QUIET, 0, P(UNSET)
#define SHAPE_APPENDQ         L(0), TOKEN, MUT | DV_OPF_QUIET, 0, P(WRITE)
#define SHAPE_PREPENDQ        L(0), TOKEN, MUT | DV_OPF_QUIET, 0, P(WRITE)
#define SHAPE_VERBOSITY       L(4), L(0), BARE, 0, P(ADMIN)
#define SHAPE_TOUCH           L(4), L(0), DOC | DV_OPF_NO_VALUE, 0, P(WRITE)
#define SHAPE_GAT             L(4), L(4), DOC | DV_OPF_NO_VALUE, 0, P(READ_WRITE)
#define SHAPE_GATQ            L(4), L(4), DOC | DV_OPF_NO_VALUE | DV_OPF_QUIET, 0, P(READ_WRITE)
#define SHAPE_HELLO           L(0), L(0), 0, 0, P(NONE)
#define SHAPE_SASL_LIST_MECHS L(0), L(0), BARE, 0, P(NONE)
#define SHAPE_SASL_AUTH       L(0), L(0), DV_OPF_KEY, 0, P(NONE)
#define SHAPE_SASL_STEP       L(0), L(0), DV_OPF_KEY, 0, P(NONE)
#define SHAPE_GET_REPLICA     L(0), L(4), DOC | DV_OPF_NO_VALUE, 0, P(READ)
#define SHAPE_SELECT_BUCKET   L(0), L(0), DV_OPF_KEY | DV_OPF_NO_VALUE, 0, P(CONNECTION)
#define SHAPE_OBSERVE_SEQNO   L(0), L(0), DV_OPF_NO_KEY | DV_OPF_VALUE_FIXED, 8, P(READ_ANY)
#define SHAPE_OBSERVE         L(0), L(0), DV_OPF_NO_KEY, 0, P(READ_ANY)
#define SHAPE_EVICT_KEY       L(0), L(0), DOC | DV_OPF_NO_VALUE, 0, P(ADMIN)
#define SHAPE_GET_LOCKED      L(0) | L(4), L(4), DOC | DV_OPF_NO_VALUE, 0, P(READ)
#define SHAPE_UNLOCK_KEY      L(0), L(0), DOC | DV_OPF_NO_VALUE, 0, P(READ)
/* GET_META: version byte optional; response v1 (20 bytes) or v2 (21, with datatype). */
#define SHAPE_GET_META                 L(0) | L(1), L(20) | L(21), DOC | DV_OPF_NO_VALUE, 0, P(READ)
#define SHAPE_GET_CLUSTER_CONFIG       L(0) | L(16), L(0), BARE, 0, P(CONNECTION)
#define SHAPE_GET_RANDOM_KEY           L(0) | L(4), L(4), BARE, 0, P(READ_ANY)
#define SHAPE_COLLECTIONS_SET_MANIFEST L(0), L(0), DV_OPF_NO_KEY, 0, P(ADMIN)
#define SHAPE_GET_COLLECTIONS_MANIFEST L(0), L(0), BARE, 0, P(BUCKET)
/* The path travels in the value; older clients put it in the key, kv_engine takes both. */
#define SHAPE_GET_COLLECTION_ID              L(0), L(12), 0, 0, P(BUCKET)
#define SHAPE_GET_SCOPE_ID                   L(0), L(12), 0, 0, P(BUCKET)
#define SHAPE_SUBDOC_GET                     SD_LOOKUP, L(0), DOC, 0, P(READ)
#define SHAPE_SUBDOC_EXISTS                  SD_LOOKUP, L(0), DOC, 0, P(READ)
#define SHAPE_SUBDOC_DICT_ADD                SD_MUTATION, TOKEN, MUT, 0, P(WRITE)
#define SHAPE_SUBDOC_DICT_UPSERT             SD_MUTATION, TOKEN, MUT, 0, P(WRITE)
#define SHAPE_SUBDOC_DELETE                  SD_MUTATION, TOKEN, MUT, 0, P(WRITE)
#define SHAPE_SUBDOC_REPLACE                 SD_MUTATION, TOKEN, MUT, 0, P(WRITE)
#define SHAPE_SUBDOC_ARRAY_PUSH_LAST         SD_MUTATION, TOKEN, MUT, 0, P(WRITE)
#define SHAPE_SUBDOC_ARRAY_PUSH_FIRST        SD_MUTATION, TOKEN, MUT, 0, P(WRITE)
#define SHAPE_SUBDOC_ARRAY_INSERT            SD_MUTATION, TOKEN, MUT, 0, P(WRITE)
#define SHAPE_SUBDOC_ARRAY_ADD_UNIQUE        SD_MUTATION, TOKEN, MUT, 0, P(WRITE)
#define SHAPE_SUBDOC_COUNTER                 SD_MUTATION, TOKEN, MUT, 0, P(READ_WRITE)
#define SHAPE_SUBDOC_MULTI_LOOKUP            L(0) | L(1), L(0), DOC, 0, P(READ)
#define SHAPE_SUBDOC_MULTI_MUTATION          L(0) | L(1) | L(4) | L(5) | L(8) | L(9), TOKEN, MUT, 0, P(WRITE)
#define SHAPE_SUBDOC_GET_COUNT               SD_LOOKUP, L(0), DOC, 0, P(READ)
#define SHAPE_SUBDOC_REPLACE_BODY_WITH_XATTR SD_MUTATION, TOKEN, MUT, 0, P(WRITE)
/* Range scans: create carries its collection in the JSON value; continue = 16-byte scan id
 * and three u32 limits; cancel = scan id. Responses are not checked. */
#define SHAPE_RANGE_SCAN_CREATE   L(0), 0, DV_OPF_NO_KEY, 0, P(READ_ANY)
#define SHAPE_RANGE_SCAN_CONTINUE L(28), 0, BARE, 0, P(READ_ANY)
#define SHAPE_RANGE_SCAN_CANCEL   L(16), 0, BARE, 0, P(READ_ANY)
#define SHAPE_GET_ERROR_MAP       L(0), L(0), DV_OPF_NO_KEY | DV_OPF_VALUE_FIXED, 2, P(NONE)

static const dv_opcode_info table[256] = {
#define DV_X_(name, code) [code] = {#name, SHAPE_##name},
    DV_OPCODES(DV_X_)
#undef DV_X_
};

#undef L
#undef P

const dv_opcode_info *dv_opcode_info_get(uint8_t opcode)
{
    return table[opcode].name ? &table[opcode] : NULL;
}

dv_privilege dv_opcode_privilege(uint8_t opcode)
{
    return (dv_privilege)table[opcode].privilege;
}

int dv_request_extras_ok(uint8_t opcode, size_t len)
{
    const dv_opcode_info *oi = dv_opcode_info_get(opcode);
    return oi && len < 32 && (oi->req_extras & DV_EXTRAS_LEN(len));
}

static int status_is_success(uint16_t status)
{
    switch (status) {
    case DV_STATUS_SUCCESS:
    case DV_STATUS_SUBDOC_MULTI_PATH_FAILURE:
    case DV_STATUS_SUBDOC_SUCCESS_DELETED:
    case DV_STATUS_SUBDOC_MULTI_PATH_FAILURE_DELETED:
        return 1;
    }
    return 0;
}

int dv_response_extras_ok(uint8_t opcode, uint16_t status, size_t len)
{
    const dv_opcode_info *oi = dv_opcode_info_get(opcode);
    if (!oi) return 0;
    if (!status_is_success(status)) return len == 0;
    if (!oi->res_extras) return 1;
    return len < 32 && (oi->res_extras & DV_EXTRAS_LEN(len));
}

dv_status dv_request_check(const dv_frame *f, int collections, dv_request_info *out)
{
    dv_request_info r;
    memset(&r, 0, sizeof r);
    if (f->magic != DV_MAGIC_REQ && f->magic != DV_MAGIC_ALT_REQ) return DV_STATUS_EINVAL;
    const dv_opcode_info *oi = dv_opcode_info_get(f->opcode);
    if (!oi) return DV_STATUS_UNKNOWN_COMMAND;
    dv_status st = dv_frame_reqs_parse(f->opcode, f->framing, f->framing_len, &r.fr);
    if (st != DV_STATUS_SUCCESS) return st;
    if (!dv_request_extras_ok(f->opcode, f->extras_len)) return DV_STATUS_EINVAL;
    if (f->datatype & ~(DV_DATATYPE_JSON | DV_DATATYPE_SNAPPY | DV_DATATYPE_XATTR))
        return DV_STATUS_EINVAL;

    if ((oi->flags & DV_OPF_KEY) && !f->key_len) return DV_STATUS_EINVAL;
    if ((oi->flags & DV_OPF_NO_KEY) && f->key_len) return DV_STATUS_EINVAL;
    r.user_key = f->key;
    r.user_key_len = f->key_len;
    if ((oi->flags & DV_OPF_COLLECTION) && collections) {
        if (dv_key_split(f->key, f->key_len, &r.cid, &r.user_key, &r.user_key_len) != DV_MCBP_OK)
            return DV_STATUS_EINVAL;
    }
    if (r.user_key_len > DV_MAX_KEY_LEN) return DV_STATUS_EINVAL;

    if ((oi->flags & DV_OPF_NO_VALUE) && f->value_len) return DV_STATUS_EINVAL;
    if ((oi->flags & DV_OPF_VALUE_FIXED) && f->value_len != oi->value_len) return DV_STATUS_EINVAL;
    if (f->opcode == DV_OP_HELLO && (f->value_len & 1)) return DV_STATUS_EINVAL;
    if (out) *out = r;
    return DV_STATUS_SUCCESS;
}

/* ---- status meaning ---- */

static int is_insert(uint8_t opcode)
{
    return opcode == DV_OP_ADD || opcode == DV_OP_ADDQ;
}

dv_error dv_mcbp_status_error(uint8_t opcode, uint16_t status)
{
    /* The statuses whose meaning depends on the command. */
    if (status == DV_STATUS_KEY_EEXISTS)
        return is_insert(opcode) ? DV_ERR_DOCUMENT_EXISTS : DV_ERR_CAS_MISMATCH;
    if (status == DV_STATUS_NOT_STORED)
        return is_insert(opcode) ? DV_ERR_DOCUMENT_EXISTS : DV_ERR_DOCUMENT_NOT_FOUND;
    if (status == DV_STATUS_LOCKED && opcode == DV_OP_UNLOCK_KEY) return DV_ERR_CAS_MISMATCH;
    if (status == DV_STATUS_EACCESS && opcode == DV_OP_SELECT_BUCKET)
        return DV_ERR_BUCKET_NOT_FOUND;

    switch (status) {
#define DV_X_(name, code, desc, attrs, err)                                                        \
    case code:                                                                                     \
        return DV_ERR_##err;
        DV_STATUSES(DV_X_)
#undef DV_X_
    }
    return DV_ERR_PROTOCOL_ERROR;
}

dv_retry dv_mcbp_status_retry(uint8_t opcode, uint16_t status)
{
    switch (status) {
    case DV_STATUS_NOT_MY_VBUCKET:
        return DV_RETRY_NOT_MY_VBUCKET;
    case DV_STATUS_LOCKED:
        return opcode == DV_OP_UNLOCK_KEY ? DV_RETRY_NONE : DV_RETRY_LOCKED;
    case DV_STATUS_ETMPFAIL:
        return DV_RETRY_TEMPORARY_FAILURE;
    case DV_STATUS_EBUSY: /* a scan limit: another scan is about to end (retry-later) */
        return opcode == DV_OP_RANGE_SCAN_CREATE ? DV_RETRY_TEMPORARY_FAILURE : DV_RETRY_NONE;
    case DV_STATUS_SYNC_WRITE_IN_PROGRESS:
        return DV_RETRY_SYNC_WRITE_IN_PROGRESS;
    case DV_STATUS_SYNC_WRITE_RE_COMMIT_IN_PROGRESS:
        return DV_RETRY_SYNC_WRITE_RE_COMMIT_IN_PROGRESS;
    case DV_STATUS_UNKNOWN_COLLECTION:
        return DV_RETRY_COLLECTION_OUTDATED;
    case DV_STATUS_ECONFIG_ONLY:
        return DV_RETRY_CONFIG_ONLY;
    }
    return DV_RETRY_NONE;
}

const char *dv_retry_name(dv_retry r)
{
    switch (r) {
    case DV_RETRY_NONE:
        return "do_not_retry";
    case DV_RETRY_NOT_MY_VBUCKET:
        return "key_value_not_my_vbucket";
    case DV_RETRY_LOCKED:
        return "key_value_locked";
    case DV_RETRY_TEMPORARY_FAILURE:
        return "key_value_temporary_failure";
    case DV_RETRY_SYNC_WRITE_IN_PROGRESS:
        return "key_value_sync_write_in_progress";
    case DV_RETRY_SYNC_WRITE_RE_COMMIT_IN_PROGRESS:
        return "key_value_sync_write_re_commit_in_progress";
    case DV_RETRY_COLLECTION_OUTDATED:
        return "key_value_collection_outdated";
    case DV_RETRY_CONFIG_ONLY:
        /* divan's name: the official core refreshes the config before resending. */
        return "key_value_config_only";
    }
    return "unknown";
}
