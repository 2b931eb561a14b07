/* The protocol's constants, each listed once: magics, opcodes, statuses, HELLO features,
 * datatype bits, frame-info ids and sub-document flags. Tables are X-macros so that names,
 * lookups and the error map are generated from the same rows. */
#ifndef DV_MCBP_PROTOCOL_H
#define DV_MCBP_PROTOCOL_H

#include <stdint.h>

/* clang-format off */

enum {
    DV_MAGIC_REQ = 0x80,        /* client -> server request */
    DV_MAGIC_ALT_REQ = 0x08,    /* request with flexible framing extras */
    DV_MAGIC_RES = 0x81,        /* server -> client response */
    DV_MAGIC_ALT_RES = 0x18,    /* response with framing extras */
    DV_MAGIC_SERVER_REQ = 0x82, /* server push (duplex) */
    DV_MAGIC_SERVER_RES = 0x83, /* client answer to a push */
};

#define DV_HEADER_LEN 24

/* X(NAME, code): client opcodes (magic 0x80/0x08). */
#define DV_OPCODES(X)                                                                              \
    X(GET, 0x00)                                                                                   \
    X(SET, 0x01)                                                                                   \
    X(ADD, 0x02)                                                                                   \
    X(REPLACE, 0x03)                                                                               \
    X(DELETE, 0x04)                                                                                \
    X(INCREMENT, 0x05)                                                                             \
    X(DECREMENT, 0x06)                                                                             \
    X(QUIT, 0x07)                                                                                  \
    X(FLUSH, 0x08)                                                                                 \
    X(GETQ, 0x09)                                                                                  \
    X(NOOP, 0x0a)                                                                                  \
    X(VERSION, 0x0b)                                                                               \
    X(GETK, 0x0c)                                                                                  \
    X(GETKQ, 0x0d)                                                                                 \
    X(APPEND, 0x0e)                                                                                \
    X(PREPEND, 0x0f)                                                                               \
    X(STAT, 0x10)                                                                                  \
    X(SETQ, 0x11)                                                                                  \
    X(ADDQ, 0x12)                                                                                  \
    X(REPLACEQ, 0x13)                                                                              \
    X(DELETEQ, 0x14)                                                                               \
    X(INCREMENTQ, 0x15)                                                                            \
    X(DECREMENTQ, 0x16)                                                                            \
    X(QUITQ, 0x17)                                                                                 \
    X(FLUSHQ, 0x18)                                                                                \
    X(APPENDQ, 0x19)                                                                               \
    X(PREPENDQ, 0x1a)                                                                              \
    X(VERBOSITY, 0x1b)                                                                             \
    X(TOUCH, 0x1c)                                                                                 \
    X(GAT, 0x1d)                                                                                   \
    X(GATQ, 0x1e)                                                                                  \
    X(HELLO, 0x1f)                                                                                 \
    X(SASL_LIST_MECHS, 0x20)                                                                       \
    X(SASL_AUTH, 0x21)                                                                             \
    X(SASL_STEP, 0x22)                                                                             \
    X(GET_REPLICA, 0x83)                                                                           \
    X(SELECT_BUCKET, 0x89)                                                                         \
    X(OBSERVE_SEQNO, 0x91)                                                                         \
    X(OBSERVE, 0x92)                                                                               \
    X(EVICT_KEY, 0x93)                                                                             \
    X(GET_LOCKED, 0x94)                                                                            \
    X(UNLOCK_KEY, 0x95)                                                                            \
    X(GET_META, 0xa0)                                                                              \
    X(GET_CLUSTER_CONFIG, 0xb5)                                                                    \
    X(GET_RANDOM_KEY, 0xb6)                                                                        \
    X(COLLECTIONS_SET_MANIFEST, 0xb9)                                                              \
    X(GET_COLLECTIONS_MANIFEST, 0xba)                                                              \
    X(GET_COLLECTION_ID, 0xbb)                                                                     \
    X(GET_SCOPE_ID, 0xbc)                                                                          \
    X(SUBDOC_GET, 0xc5)                                                                            \
    X(SUBDOC_EXISTS, 0xc6)                                                                         \
    X(SUBDOC_DICT_ADD, 0xc7)                                                                       \
    X(SUBDOC_DICT_UPSERT, 0xc8)                                                                    \
    X(SUBDOC_DELETE, 0xc9)                                                                         \
    X(SUBDOC_REPLACE, 0xca)                                                                        \
    X(SUBDOC_ARRAY_PUSH_LAST, 0xcb)                                                                \
    X(SUBDOC_ARRAY_PUSH_FIRST, 0xcc)                                                               \
    X(SUBDOC_ARRAY_INSERT, 0xcd)                                                                   \
    X(SUBDOC_ARRAY_ADD_UNIQUE, 0xce)                                                               \
    X(SUBDOC_COUNTER, 0xcf)                                                                        \
    X(SUBDOC_MULTI_LOOKUP, 0xd0)                                                                   \
    X(SUBDOC_MULTI_MUTATION, 0xd1)                                                                 \
    X(SUBDOC_GET_COUNT, 0xd2)                                                                      \
    X(SUBDOC_REPLACE_BODY_WITH_XATTR, 0xd3)                                                        \
    X(RANGE_SCAN_CREATE, 0xda)                                                                     \
    X(RANGE_SCAN_CONTINUE, 0xdb)                                                                   \
    X(RANGE_SCAN_CANCEL, 0xdc)                                                                     \
    X(GET_ERROR_MAP, 0xfe)

typedef enum dv_opcode {
#define DV_X_(name, code) DV_OP_##name = code,
    DV_OPCODES(DV_X_)
#undef DV_X_
} dv_opcode;

/* Opcodes inside a sub-document spec that are not standalone sub-document commands. */
enum {
    DV_SUBDOC_OP_GET_DOC = 0x00, /* whole-document get (lookup, empty path) */
    DV_SUBDOC_OP_SET_DOC = 0x01, /* whole-document set (mutation, empty path) */
    DV_SUBDOC_OP_DELETE_DOC = 0x04,
};

/* Server-initiated opcodes (magic 0x82). */
enum {
    DV_SERVER_OP_CLUSTERMAP_CHANGE = 0x01,
    DV_SERVER_OP_AUTHENTICATE = 0x02,
    DV_SERVER_OP_ACTIVE_EXTERNAL_USERS = 0x03,
};

/* X(NAME, code, "description", "error map attributes", dv_error for a generic operation)
 * The error is what the status means when the opcode gives it no special meaning; see
 * dv_mcbp_status_error() for the per-opcode cases. Rows with an empty attribute list are known
 * to the official core but not served in divan's error map (gone from current servers). */
#define DV_STATUSES(X)                                                                             \
    X(SUCCESS, 0x00, "Success", "success", OK)                                                     \
    X(KEY_ENOENT, 0x01, "Not Found", "item-only", DOCUMENT_NOT_FOUND)                              \
    X(KEY_EEXISTS, 0x02, "Key exists", "item-only", CAS_MISMATCH)                                  \
    X(E2BIG, 0x03, "Value too big", "invalid-input", VALUE_TOO_LARGE)                              \
    X(EINVAL, 0x04, "Invalid packet", "internal,invalid-input", INVALID_ARGUMENT)                  \
    X(NOT_STORED, 0x05, "Not Stored", "item-only", DOCUMENT_NOT_FOUND)                             \
    X(DELTA_BADVAL, 0x06, "Non-numeric server-side value", "item-only,invalid-input",              \
      DELTA_INVALID)                                                                               \
    X(NOT_MY_VBUCKET, 0x07, "Server does not own this vbucket",                                    \
      "fetch-config,retry-now", REQUEST_CANCELED)                                                  \
    X(NO_BUCKET, 0x08, "Not connected to a bucket", "conn-state-invalidated", BUCKET_NOT_FOUND)    \
    X(LOCKED, 0x09, "Requested resource is locked", "item-locked,item-only,retry-later",           \
      DOCUMENT_LOCKED)                                                                             \
    X(DCP_STREAM_NOT_FOUND, 0x0a, "No DCP stream", "dcp", REQUEST_CANCELED)                        \
    X(OPAQUE_NO_MATCH, 0x0b, "Opaque does not match", "dcp", REQUEST_CANCELED)                     \
    X(EWOULD_THROTTLE, 0x0c, "Would throttle", "rate-limit,retry-later", TEMPORARY_FAILURE)        \
    X(ECONFIG_ONLY, 0x0d, "Config only bucket", "fetch-config,retry-later", TEMPORARY_FAILURE)     \
    X(NOT_LOCKED, 0x0e, "Requested resource is not locked", "item-only", DOCUMENT_NOT_LOCKED)      \
    X(CAS_VALUE_INVALID, 0x0f, "Invalid CAS value", "invalid-input", INVALID_ARGUMENT)             \
    X(AUTH_STALE, 0x1f, "Authentication stale", "conn-state-invalidated,auth",                     \
      AUTHENTICATION_FAILURE)                                                                      \
    X(AUTH_ERROR, 0x20, "Auth failure", "auth", AUTHENTICATION_FAILURE)                            \
    X(AUTH_CONTINUE, 0x21, "Continue authentication", "special-handling,auth", OK)                 \
    X(ERANGE, 0x22, "Outside range", "invalid-input", REQUEST_CANCELED)                            \
    X(ROLLBACK, 0x23, "Rollback", "dcp", REQUEST_CANCELED)                                         \
    X(EACCESS, 0x24, "No access", "support,auth", AUTHENTICATION_FAILURE)                          \
    X(NOT_INITIALIZED, 0x25, "Node not initialized", "temp,retry-later", TEMPORARY_FAILURE)        \
    X(ENCRYPTION_KEY_NOT_AVAILABLE, 0x26, "Encryption key not available", "special-handling",      \
      INTERNAL_SERVER_FAILURE)                                                                     \
    X(CHECKSUM_MISMATCH, 0x27, "Checksum mismatch", "invalid-input", INVALID_ARGUMENT)             \
    X(EXPIRY_OVERFLOW, 0x28, "Expiry overflows 32-bit time", "invalid-input", INVALID_ARGUMENT)    \
    X(LOCK_EXPIRY_OVERFLOW, 0x29, "Lock expiry overflows", "invalid-input", INVALID_ARGUMENT)      \
    X(RATE_LIMITED_NETWORK_INGRESS, 0x30, "Rate limited: network ingress", "rate-limit",           \
      RATE_LIMITED)                                                                                \
    X(RATE_LIMITED_NETWORK_EGRESS, 0x31, "Rate limited: network egress", "rate-limit",             \
      RATE_LIMITED)                                                                                \
    X(RATE_LIMITED_MAX_CONNECTIONS, 0x32, "Rate limited: max connections", "rate-limit",           \
      RATE_LIMITED)                                                                                \
    X(RATE_LIMITED_MAX_COMMANDS, 0x33, "Rate limited: max commands", "rate-limit", RATE_LIMITED)   \
    X(SCOPE_SIZE_LIMIT_EXCEEDED, 0x34, "Scope size limit exceeded", "", QUOTA_LIMITED)             \
    X(BUCKET_SIZE_LIMIT_EXCEEDED, 0x35, "Bucket size limit exceeded", "system-constraint",         \
      QUOTA_LIMITED)                                                                               \
    X(BUCKET_RESIDENT_RATIO_TOO_LOW, 0x36, "Bucket resident ratio too low", "system-constraint",   \
      QUOTA_LIMITED)                                                                               \
    X(BUCKET_DATA_SIZE_TOO_BIG, 0x37, "Bucket data size too big", "system-constraint",             \
      QUOTA_LIMITED)                                                                               \
    X(BUCKET_DISK_SPACE_TOO_LOW, 0x38, "Bucket disk space too low", "system-constraint",           \
      QUOTA_LIMITED)                                                                               \
    X(BUCKET_PAUSED, 0x50, "Bucket paused", "temp", TEMPORARY_FAILURE)                             \
    X(CANCELLED, 0x51, "Cancelled", "", REQUEST_CANCELED)                                          \
    X(UNKNOWN_FRAME_INFO, 0x80, "Unknown frame info", "support,invalid-input", REQUEST_CANCELED)   \
    X(UNKNOWN_COMMAND, 0x81, "Unknown command", "support", UNSUPPORTED_OPERATION)                  \
    X(ENOMEM, 0x82, "Out of memory", "temp,retry-later", TEMPORARY_FAILURE)                        \
    X(NOT_SUPPORTED, 0x83, "Not supported", "support", UNSUPPORTED_OPERATION)                      \
    X(EINTERNAL, 0x84, "Internal error", "internal", INTERNAL_SERVER_FAILURE)                      \
    X(EBUSY, 0x85, "Server too busy", "temp,retry-later", TEMPORARY_FAILURE)                       \
    X(ETMPFAIL, 0x86, "Temporary failure", "temp,retry-now", TEMPORARY_FAILURE)                    \
    X(XATTR_EINVAL, 0x87, "Invalid XATTR", "invalid-input", INVALID_ARGUMENT)                      \
    X(UNKNOWN_COLLECTION, 0x88, "Unknown collection", "item-only,fetch-config",                    \
      COLLECTION_NOT_FOUND)                                                                        \
    X(NO_COLLECTIONS_MANIFEST, 0x89, "No collections manifest", "", REQUEST_CANCELED)              \
    X(CANNOT_APPLY_COLLECTIONS_MANIFEST, 0x8a, "Cannot apply collections manifest", "internal",    \
      REQUEST_CANCELED)                                                                            \
    X(COLLECTIONS_MANIFEST_AHEAD, 0x8b, "Collections manifest ahead", "", REQUEST_CANCELED)        \
    X(UNKNOWN_SCOPE, 0x8c, "Unknown scope", "item-only,fetch-config", SCOPE_NOT_FOUND)             \
    X(DCP_STREAM_ID_INVALID, 0x8d, "Invalid DCP stream id", "dcp", REQUEST_CANCELED)               \
    X(DURABILITY_INVALID_LEVEL, 0xa0, "Invalid durability level", "item-only,invalid-input",       \
      DURABILITY_LEVEL_NOT_AVAILABLE)                                                              \
    X(DURABILITY_IMPOSSIBLE, 0xa1, "Durability impossible", "item-only", DURABILITY_IMPOSSIBLE)    \
    X(SYNC_WRITE_IN_PROGRESS, 0xa2, "Synchronous write in progress",                               \
      "item-only,retry-later", DURABLE_WRITE_IN_PROGRESS)                                          \
    X(SYNC_WRITE_AMBIGUOUS, 0xa3, "Synchronous write ambiguous", "item-only",                      \
      DURABILITY_AMBIGUOUS)                                                                        \
    X(SYNC_WRITE_RE_COMMIT_IN_PROGRESS, 0xa4, "Synchronous write re-commit in progress",           \
      "item-only,retry-later", DURABLE_WRITE_RE_COMMIT_IN_PROGRESS)                                \
    X(RANGE_SCAN_CANCELLED, 0xa5, "Range scan cancelled", "", REQUEST_CANCELED)                    \
    X(RANGE_SCAN_MORE, 0xa6, "Range scan has more", "success", OK)                                 \
    X(RANGE_SCAN_COMPLETE, 0xa7, "Range scan complete", "success", OK)                             \
    X(VB_UUID_NOT_EQUAL, 0xa8, "VBucket UUID not equal", "", MUTATION_TOKEN_OUTDATED)              \
    X(SUBDOC_PATH_ENOENT, 0xc0, "Subdoc: path not found", "item-only,subdoc", PATH_NOT_FOUND)      \
    X(SUBDOC_PATH_MISMATCH, 0xc1, "Subdoc: path mismatch", "item-only,subdoc", PATH_MISMATCH)      \
    X(SUBDOC_PATH_EINVAL, 0xc2, "Subdoc: invalid path", "item-only,subdoc,invalid-input",          \
      PATH_INVALID)                                                                                \
    X(SUBDOC_PATH_E2BIG, 0xc3, "Subdoc: path too big", "item-only,subdoc,invalid-input",           \
      PATH_TOO_BIG)                                                                                \
    X(SUBDOC_DOC_E2DEEP, 0xc4, "Subdoc: document too deep", "item-only,subdoc", PATH_TOO_DEEP)     \
    X(SUBDOC_VALUE_CANTINSERT, 0xc5, "Subdoc: cannot insert value",                                \
      "item-only,subdoc,invalid-input", VALUE_INVALID)                                             \
    X(SUBDOC_DOC_NOTJSON, 0xc6, "Subdoc: document not JSON", "item-only,subdoc",                   \
      DOCUMENT_NOT_JSON)                                                                           \
    X(SUBDOC_NUM_ERANGE, 0xc7, "Subdoc: number out of range", "item-only,subdoc", NUMBER_TOO_BIG)  \
    X(SUBDOC_DELTA_EINVAL, 0xc8, "Subdoc: invalid delta", "item-only,subdoc,invalid-input",        \
      DELTA_INVALID)                                                                               \
    X(SUBDOC_PATH_EEXISTS, 0xc9, "Subdoc: path already exists", "item-only,subdoc", PATH_EXISTS)   \
    X(SUBDOC_VALUE_ETOODEEP, 0xca, "Subdoc: value too deep", "item-only,subdoc,invalid-input",     \
      VALUE_TOO_DEEP)                                                                              \
    X(SUBDOC_INVALID_COMBO, 0xcb, "Subdoc: invalid combination of commands",                       \
      "subdoc,invalid-input", INVALID_ARGUMENT)                                                    \
    X(SUBDOC_MULTI_PATH_FAILURE, 0xcc, "Subdoc: some paths failed", "success,subdoc", OK)          \
    X(SUBDOC_SUCCESS_DELETED, 0xcd, "Subdoc: success on a deleted document", "success,subdoc", OK) \
    X(SUBDOC_XATTR_INVALID_FLAG_COMBO, 0xce, "Subdoc: invalid xattr flag combination",             \
      "item-only,subdoc,invalid-input", XATTR_INVALID_KEY_COMBO)                                   \
    X(SUBDOC_XATTR_INVALID_KEY_COMBO, 0xcf, "Subdoc: invalid xattr key combination",               \
      "item-only,subdoc,invalid-input", XATTR_INVALID_KEY_COMBO)                                   \
    X(SUBDOC_XATTR_UNKNOWN_MACRO, 0xd0, "Subdoc: unknown xattr macro",                             \
      "item-only,subdoc,invalid-input", XATTR_UNKNOWN_MACRO)                                       \
    X(SUBDOC_XATTR_UNKNOWN_VATTR, 0xd1, "Subdoc: unknown virtual xattr",                           \
      "item-only,subdoc,invalid-input", XATTR_UNKNOWN_VIRTUAL_ATTRIBUTE)                           \
    X(SUBDOC_XATTR_CANT_MODIFY_VATTR, 0xd2, "Subdoc: cannot modify virtual xattr",                 \
      "item-only,subdoc,invalid-input", XATTR_CANNOT_MODIFY_VIRTUAL_ATTRIBUTE)                     \
    X(SUBDOC_MULTI_PATH_FAILURE_DELETED, 0xd3, "Subdoc: some paths failed on a deleted document",  \
      "success,subdoc", OK)                                                                        \
    X(SUBDOC_INVALID_XATTR_ORDER, 0xd4, "Subdoc: xattr specs must come first",                     \
      "item-only,subdoc,invalid-input", INVALID_ARGUMENT)                                          \
    X(SUBDOC_XATTR_UNKNOWN_VATTR_MACRO, 0xd5, "Subdoc: unknown virtual xattr macro",               \
      "item-only,subdoc,invalid-input", XATTR_UNKNOWN_MACRO)                                       \
    X(SUBDOC_CAN_ONLY_REVIVE_DELETED_DOCUMENTS, 0xd6, "Subdoc: can only revive deleted documents", \
      "item-only,subdoc,invalid-input", CANNOT_REVIVE_LIVING_DOCUMENT)                             \
    X(SUBDOC_DELETED_DOCUMENT_CANT_HAVE_VALUE, 0xd7, "Subdoc: deleted document cannot have value", \
      "item-only,subdoc,invalid-input", INVALID_ARGUMENT)                                          \
    X(SUBDOC_FIELD_NOT_BINARY_VALUE, 0xd8, "Subdoc: field is not a binary value",                  \
      "item-only,subdoc,invalid-input", INVALID_ARGUMENT)

typedef enum dv_status {
#define DV_X_(name, code, desc, attrs, err) DV_STATUS_##name = code,
    DV_STATUSES(DV_X_)
#undef DV_X_
} dv_status;

/* X(NAME, code): HELLO feature codes. */
#define DV_FEATURES(X)                                                                             \
    X(DATATYPE, 0x01)                                                                              \
    X(TLS, 0x02)                                                                                   \
    X(TCP_NODELAY, 0x03)                                                                           \
    X(MUTATION_SEQNO, 0x04)                                                                        \
    X(TCP_DELAY, 0x05)                                                                             \
    X(XATTR, 0x06)                                                                                 \
    X(XERROR, 0x07)                                                                                \
    X(SELECT_BUCKET, 0x08)                                                                         \
    X(COLLECTIONS_PROTOTYPE, 0x09)                                                                 \
    X(SNAPPY, 0x0a)                                                                                \
    X(JSON, 0x0b)                                                                                  \
    X(DUPLEX, 0x0c)                                                                                \
    X(CLUSTERMAP_CHANGE_NOTIFICATION, 0x0d)                                                        \
    X(UNORDERED_EXECUTION, 0x0e)                                                                   \
    X(TRACING, 0x0f)                                                                               \
    X(ALT_REQUEST_SUPPORT, 0x10)                                                                   \
    X(SYNC_REPLICATION, 0x11)                                                                      \
    X(COLLECTIONS, 0x12)                                                                           \
    X(SNAPPY_EVERYWHERE, 0x13)                                                                     \
    X(PRESERVE_TTL, 0x14)                                                                          \
    X(VATTR, 0x15)                                                                                 \
    X(PITR, 0x16)                                                                                  \
    X(SUBDOC_CREATE_AS_DELETED, 0x17)                                                              \
    X(SUBDOC_DOCUMENT_MACRO_SUPPORT, 0x18)                                                         \
    X(SUBDOC_REPLACE_BODY_WITH_XATTR, 0x19)                                                        \
    X(REPORT_UNIT_USAGE, 0x1a)                                                                     \
    X(NON_BLOCKING_THROTTLING_MODE, 0x1b)                                                          \
    X(SUBDOC_REPLICA_READ, 0x1c)                                                                   \
    X(GET_CLUSTER_CONFIG_WITH_KNOWN_VERSION, 0x1d)                                                 \
    X(DEDUPE_NOT_MY_VBUCKET_CLUSTERMAP, 0x1e)                                                      \
    X(CLUSTERMAP_CHANGE_NOTIFICATION_BRIEF, 0x1f)                                                  \
    X(SUBDOC_ALLOWS_ACCESS_ON_MULTIPLE_XATTR_KEYS, 0x20)                                           \
    X(SUBDOC_BINARY_XATTR, 0x21)                                                                   \
    X(RANGE_SCAN_INCLUDE_XATTR, 0x22)                                                              \
    X(SUBDOC_ALLOW_REPLICA_READ_ON_DELETED_DOCS, 0x23)                                             \
    X(GET_RANDOM_KEY_INCLUDE_XATTR, 0x24)                                                          \
    X(MUTATE_WITH_META, 0x25)                                                                      \
    X(DCP_SKIP_DELETES_IN_INITIAL_BACKFILL, 0x26)

typedef enum dv_feature {
#define DV_X_(name, code) DV_FEATURE_##name = code,
    DV_FEATURES(DV_X_)
#undef DV_X_
    DV_FEATURE_MAX = 0x27
} dv_feature;

/* Datatype bits. */
enum {
    DV_DATATYPE_RAW = 0x00,
    DV_DATATYPE_JSON = 0x01,
    DV_DATATYPE_SNAPPY = 0x02,
    DV_DATATYPE_XATTR = 0x04,
};

/* Request frame-info ids. */
enum {
    DV_FRAME_BARRIER = 0,
    DV_FRAME_DURABILITY = 1,
    DV_FRAME_DCP_STREAM_ID = 2,
    DV_FRAME_OPEN_TRACING = 3,
    DV_FRAME_IMPERSONATE = 4,
    DV_FRAME_PRESERVE_TTL = 5,
    DV_FRAME_IMPERSONATE_PRIVILEGE = 6,
    DV_FRAME_IMPERSONATE_TOKEN = 7,
};

/* Response frame-info ids. */
enum {
    DV_RES_FRAME_SERVER_DURATION = 0,
    DV_RES_FRAME_READ_UNITS = 1,
    DV_RES_FRAME_WRITE_UNITS = 2,
    DV_RES_FRAME_THROTTLE_DURATION = 3,
};

/* Durability levels (frame id 1). */
enum {
    DV_DURABILITY_NONE = 0,
    DV_DURABILITY_MAJORITY = 1,
    DV_DURABILITY_MAJORITY_AND_PERSIST_TO_ACTIVE = 2,
    DV_DURABILITY_PERSIST_TO_MAJORITY = 3,
};

/* Sub-document path flags (per spec) and document flags (extras). */
enum {
    DV_SUBDOC_PATH_MKDIR_P = 0x01,
    DV_SUBDOC_PATH_XATTR = 0x04,
    DV_SUBDOC_PATH_EXPAND_MACROS = 0x10,
    DV_SUBDOC_PATH_BINARY_VALUE = 0x20,
};
enum {
    DV_SUBDOC_DOC_MKDOC = 0x01,
    DV_SUBDOC_DOC_ADD = 0x02,
    DV_SUBDOC_DOC_ACCESS_DELETED = 0x04,
    DV_SUBDOC_DOC_CREATE_AS_DELETED = 0x08,
    DV_SUBDOC_DOC_REVIVE_DOCUMENT = 0x10,
    DV_SUBDOC_DOC_REPLICA_READ = 0x20,
};

/* Common flags (top byte of the document flags). */
enum {
    DV_FLAGS_COMMON_MASK = 0x0F000000u,
    DV_FLAGS_PRIVATE = 0x01000000u,
    DV_FLAGS_JSON = 0x02000000u,
    DV_FLAGS_BINARY = 0x03000000u,
    DV_FLAGS_STRING = 0x04000000u,
};

/* Limits. */
#define DV_MAX_KEY_LEN 250
#define DV_MAX_VALUE_LEN (20u * 1024u * 1024u)
#define DV_SUBDOC_MAX_SPECS 16
#define DV_SUBDOC_MAX_PATH_LEN 1024
#define DV_EXPIRY_RELATIVE_MAX 2592000u /* 30 days: larger expiries are absolute Unix times */
#define DV_COUNTER_NO_CREATE 0xFFFFFFFFu

/* clang-format on */

#endif
