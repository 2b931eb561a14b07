/* divan: the error table.
 *
 * Every error a user can see is one row of DV_ERRORS. From it come the C enum (dv_error),
 * dv_strerror(), dv_error_name(), the category and retryable queries, and the Python exception
 * classes. Numbers follow the official core's error codes (couchbase::errc), so that
 * `exception.error_code` means the same with divan as with the official SDK; errors the
 * official core has no code for use 5000 and above.
 *
 * Columns: X(NAME, number, CATEGORY, retryable, "PythonException", "message")
 * retryable: the operation may succeed if repeated unchanged (the engine retries these until
 * the deadline; they surface only when retrying is not allowed).
 */
#ifndef DIVAN_ERROR_H
#define DIVAN_ERROR_H

#include "divan/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DV_ERROR_CATEGORIES(X)                                                                     \
    X(NONE, "none")                                                                                \
    X(COMMON, "common")                                                                            \
    X(KEY_VALUE, "key_value")                                                                      \
    X(QUERY, "query")                                                                              \
    X(ANALYTICS, "analytics")                                                                      \
    X(SEARCH, "search")                                                                            \
    X(VIEW, "view")                                                                                \
    X(MANAGEMENT, "management")                                                                    \
    X(CRYPTO, "field_level_encryption")                                                            \
    X(NETWORK, "network")                                                                          \
    X(TRANSACTION, "transaction")                                                                  \
    X(SDK, "sdk")

/* clang-format off */
#define DV_ERRORS(X)                                                                                              \
    X(OK,                                  0, NONE,       0, "",                                      "success")  \
    /* common */                                                                                                  \
    X(REQUEST_CANCELED,                    2, COMMON,     0, "RequestCanceledException",              "request canceled") \
    X(INVALID_ARGUMENT,                    3, COMMON,     0, "InvalidArgumentException",              "invalid argument") \
    X(SERVICE_NOT_AVAILABLE,               4, COMMON,     0, "ServiceUnavailableException",           "service not available") \
    X(INTERNAL_SERVER_FAILURE,             5, COMMON,     0, "InternalServerFailureException",        "internal server failure") \
    X(AUTHENTICATION_FAILURE,              6, COMMON,     0, "AuthenticationException",               "authentication failure") \
    X(TEMPORARY_FAILURE,                   7, COMMON,     1, "TemporaryFailException",                "temporary failure") \
    X(PARSING_FAILURE,                     8, COMMON,     0, "ParsingFailedException",                "parsing failure") \
    X(CAS_MISMATCH,                        9, COMMON,     0, "CasMismatchException",                  "CAS mismatch") \
    X(BUCKET_NOT_FOUND,                   10, COMMON,     0, "BucketNotFoundException",               "bucket not found") \
    X(COLLECTION_NOT_FOUND,               11, COMMON,     1, "CollectionNotFoundException",           "collection not found") \
    X(UNSUPPORTED_OPERATION,              12, COMMON,     0, "UnsupportedOperation",                  "unsupported operation") \
    X(AMBIGUOUS_TIMEOUT,                  13, COMMON,     0, "AmbiguousTimeoutException",             "ambiguous timeout") \
    X(UNAMBIGUOUS_TIMEOUT,                14, COMMON,     0, "UnAmbiguousTimeoutException",           "unambiguous timeout") \
    X(FEATURE_NOT_AVAILABLE,              15, COMMON,     0, "FeatureUnavailableException",           "feature not available") \
    X(SCOPE_NOT_FOUND,                    16, COMMON,     0, "ScopeNotFoundException",                "scope not found") \
    X(INDEX_NOT_FOUND,                    17, COMMON,     0, "QueryIndexNotFoundException",           "index not found") \
    X(INDEX_EXISTS,                       18, COMMON,     0, "QueryIndexAlreadyExistsException",      "index exists") \
    X(ENCODING_FAILURE,                   19, COMMON,     0, "ValueFormatException",                  "encoding failure") \
    X(DECODING_FAILURE,                   20, COMMON,     0, "ValueFormatException",                  "decoding failure") \
    X(RATE_LIMITED,                       21, COMMON,     0, "RateLimitedException",                  "rate limited") \
    X(QUOTA_LIMITED,                      22, COMMON,     0, "QuotaLimitedException",                 "quota limited") \
    /* key-value */                                                                                               \
    X(DOCUMENT_NOT_FOUND,                101, KEY_VALUE,  0, "DocumentNotFoundException",             "document not found") \
    X(DOCUMENT_IRRETRIEVABLE,            102, KEY_VALUE,  0, "DocumentUnretrievableException",        "document irretrievable") \
    X(DOCUMENT_LOCKED,                   103, KEY_VALUE,  1, "DocumentLockedException",               "document locked") \
    X(VALUE_TOO_LARGE,                   104, KEY_VALUE,  0, "CouchbaseException",                    "value too large") \
    X(DOCUMENT_EXISTS,                   105, KEY_VALUE,  0, "DocumentExistsException",               "document exists") \
    X(DURABILITY_LEVEL_NOT_AVAILABLE,    107, KEY_VALUE,  0, "DurabilityInvalidLevelException",       "durability level not available") \
    X(DURABILITY_IMPOSSIBLE,             108, KEY_VALUE,  0, "DurabilityImpossibleException",         "durability impossible") \
    X(DURABILITY_AMBIGUOUS,              109, KEY_VALUE,  0, "DurabilitySyncWriteAmbiguousException", "durability ambiguous") \
    X(DURABLE_WRITE_IN_PROGRESS,         110, KEY_VALUE,  1, "DurabilitySyncWriteInProgressException","durable write in progress") \
    X(DURABLE_WRITE_RE_COMMIT_IN_PROGRESS,111, KEY_VALUE, 1, "CouchbaseException",                    "durable write re-commit in progress") \
    X(PATH_NOT_FOUND,                    113, KEY_VALUE,  0, "PathNotFoundException",                 "path not found") \
    X(PATH_MISMATCH,                     114, KEY_VALUE,  0, "PathMismatchException",                 "path mismatch") \
    X(PATH_INVALID,                      115, KEY_VALUE,  0, "PathInvalidException",                  "path invalid") \
    X(PATH_TOO_BIG,                      116, KEY_VALUE,  0, "PathTooBigException",                   "path too big") \
    X(PATH_TOO_DEEP,                     117, KEY_VALUE,  0, "PathTooDeepException",                  "path too deep") \
    X(VALUE_TOO_DEEP,                    118, KEY_VALUE,  0, "ValueTooDeepException",                 "value too deep") \
    X(VALUE_INVALID,                     119, KEY_VALUE,  0, "InvalidValueException",                 "value invalid") \
    X(DOCUMENT_NOT_JSON,                 120, KEY_VALUE,  0, "DocumentNotJsonException",              "document not JSON") \
    X(NUMBER_TOO_BIG,                    121, KEY_VALUE,  0, "NumberTooBigException",                 "number too big") \
    X(DELTA_INVALID,                     122, KEY_VALUE,  0, "DeltaInvalidException",                 "delta invalid") \
    X(PATH_EXISTS,                       123, KEY_VALUE,  0, "PathExistsException",                   "path exists") \
    X(XATTR_UNKNOWN_MACRO,               124, KEY_VALUE,  0, "CouchbaseException",                    "xattr unknown macro") \
    X(XATTR_INVALID_KEY_COMBO,           126, KEY_VALUE,  0, "CouchbaseException",                    "xattr invalid key combination") \
    X(XATTR_UNKNOWN_VIRTUAL_ATTRIBUTE,   127, KEY_VALUE,  0, "CouchbaseException",                    "xattr unknown virtual attribute") \
    X(XATTR_CANNOT_MODIFY_VIRTUAL_ATTRIBUTE,128, KEY_VALUE,0,"CouchbaseException",                    "xattr cannot modify virtual attribute") \
    X(XATTR_NO_ACCESS,                   130, KEY_VALUE,  0, "CouchbaseException",                    "xattr no access") \
    X(DOCUMENT_NOT_LOCKED,               131, KEY_VALUE,  0, "DocumentNotLockedException",            "document not locked") \
    X(CANNOT_REVIVE_LIVING_DOCUMENT,     132, KEY_VALUE,  0, "CouchbaseException",                    "cannot revive living document") \
    X(MUTATION_TOKEN_OUTDATED,           133, KEY_VALUE,  0, "MutationTokenOutdatedException",        "mutation token outdated") \
    X(RANGE_SCAN_COMPLETED,              134, KEY_VALUE,  0, "RangeScanCompletedException",           "range scan completed") \
    /* query, analytics, search, views */                                                                         \
    X(PLANNING_FAILURE,                  201, QUERY,      0, "CouchbaseException",                    "query planning failure") \
    X(INDEX_FAILURE,                     202, QUERY,      0, "CouchbaseException",                    "query index failure") \
    X(PREPARED_STATEMENT_FAILURE,        203, QUERY,      0, "CouchbaseException",                    "prepared statement failure") \
    X(DML_FAILURE,                       204, QUERY,      0, "CouchbaseException",                    "DML failure") \
    X(COMPILATION_FAILURE,               301, ANALYTICS,  0, "CouchbaseException",                    "analytics compilation failure") \
    X(JOB_QUEUE_FULL,                    302, ANALYTICS,  1, "CouchbaseException",                    "analytics job queue full") \
    X(DATASET_NOT_FOUND,                 303, ANALYTICS,  0, "DatasetNotFoundException",              "dataset not found") \
    X(DATAVERSE_NOT_FOUND,               304, ANALYTICS,  0, "DataverseNotFoundException",            "dataverse not found") \
    X(DATASET_EXISTS,                    305, ANALYTICS,  0, "DatasetAlreadyExistsException",         "dataset exists") \
    X(DATAVERSE_EXISTS,                  306, ANALYTICS,  0, "DataverseAlreadyExistsException",       "dataverse exists") \
    X(LINK_NOT_FOUND,                    307, ANALYTICS,  0, "AnalyticsLinkNotFoundException",        "analytics link not found") \
    X(LINK_EXISTS,                       308, ANALYTICS,  0, "AnalyticsLinkExistsException",          "analytics link exists") \
    X(SEARCH_INDEX_NOT_READY,            401, SEARCH,     1, "CouchbaseException",                    "search index not ready") \
    X(CONSISTENCY_MISMATCH,              402, SEARCH,     0, "CouchbaseException",                    "search consistency mismatch") \
    X(VIEW_NOT_FOUND,                    501, VIEW,       0, "CouchbaseException",                    "view not found") \
    X(DESIGN_DOCUMENT_NOT_FOUND,         502, VIEW,       0, "DesignDocumentNotFoundException",       "design document not found") \
    /* management */                                                                                              \
    X(COLLECTION_EXISTS,                 601, MANAGEMENT, 0, "CollectionAlreadyExistsException",      "collection exists") \
    X(SCOPE_EXISTS,                      602, MANAGEMENT, 0, "ScopeAlreadyExistsException",           "scope exists") \
    X(USER_NOT_FOUND,                    603, MANAGEMENT, 0, "UserNotFoundException",                 "user not found") \
    X(GROUP_NOT_FOUND,                   604, MANAGEMENT, 0, "GroupNotFoundException",                "group not found") \
    X(BUCKET_EXISTS,                     605, MANAGEMENT, 0, "BucketAlreadyExistsException",          "bucket exists") \
    X(USER_EXISTS,                       606, MANAGEMENT, 0, "CouchbaseException",                    "user exists") \
    X(BUCKET_NOT_FLUSHABLE,              607, MANAGEMENT, 0, "BucketNotFlushableException",           "bucket not flushable") \
    X(EVENTING_FUNCTION_NOT_FOUND,       608, MANAGEMENT, 0, "EventingFunctionNotFoundException",     "eventing function not found") \
    X(EVENTING_FUNCTION_NOT_DEPLOYED,    609, MANAGEMENT, 0, "EventingFunctionNotDeployedException",  "eventing function not deployed") \
    X(EVENTING_FUNCTION_COMPILATION_FAILURE,610,MANAGEMENT,0,"EventingFunctionCompilationFailureException", "eventing function compilation failure") \
    X(EVENTING_FUNCTION_IDENTICAL_KEYSPACE,611, MANAGEMENT,0,"EventingFunctionIdenticalKeyspaceException", "eventing function source and metadata keyspaces are the same") \
    X(EVENTING_FUNCTION_NOT_BOOTSTRAPPED,612, MANAGEMENT, 0, "EventingFunctionNotBootstrappedException", "eventing function not bootstrapped") \
    X(EVENTING_FUNCTION_DEPLOYED,        613, MANAGEMENT, 0, "EventingFunctionNotUnDeployedException","eventing function deployed") \
    X(EVENTING_FUNCTION_PAUSED,          614, MANAGEMENT, 0, "EventingFunctionPausedException",       "eventing function paused") \
    /* field-level encryption */                                                                                  \
    X(GENERIC_CRYPTOGRAPHY_FAILURE,      700, CRYPTO,     0, "CryptoException",                       "cryptography failure") \
    X(ENCRYPTION_FAILURE,                701, CRYPTO,     0, "EncryptionFailureException",            "encryption failure") \
    X(DECRYPTION_FAILURE,                702, CRYPTO,     0, "DecryptionFailureException",            "decryption failure") \
    X(CRYPTO_KEY_NOT_FOUND,              703, CRYPTO,     0, "CryptoKeyNotFoundException",            "crypto key not found") \
    X(INVALID_CRYPTO_KEY,                704, CRYPTO,     0, "InvalidCryptoKeyException",             "invalid crypto key") \
    X(DECRYPTER_NOT_FOUND,               705, CRYPTO,     0, "DecrypterNotFoundException",            "decrypter not found") \
    X(ENCRYPTER_NOT_FOUND,               706, CRYPTO,     0, "EncrypterNotFoundException",            "encrypter not found") \
    X(INVALID_CIPHERTEXT,                707, CRYPTO,     0, "InvalidCipherTextException",            "invalid ciphertext") \
    /* network */                                                                                                 \
    X(RESOLVE_FAILURE,                  1001, NETWORK,    1, "CouchbaseException",                    "unable to resolve node address") \
    X(NO_ENDPOINTS_LEFT,                1002, NETWORK,    0, "CouchbaseException",                    "no endpoints left to connect") \
    X(HANDSHAKE_FAILURE,                1003, NETWORK,    0, "CouchbaseException",                    "protocol handshake failed") \
    X(PROTOCOL_ERROR,                   1004, NETWORK,    0, "CouchbaseException",                    "protocol error") \
    X(CONFIGURATION_NOT_AVAILABLE,      1005, NETWORK,    1, "CouchbaseException",                    "configuration not available") \
    X(CLUSTER_CLOSED,                   1006, NETWORK,    0, "CouchbaseException",                    "cluster closed") \
    X(END_OF_STREAM,                    1007, NETWORK,    0, "CouchbaseException",                    "end of stream") \
    X(NEED_MORE_DATA,                   1008, NETWORK,    0, "CouchbaseException",                    "need more data") \
    X(OPERATION_QUEUE_CLOSED,           1009, NETWORK,    0, "CouchbaseException",                    "operation queue closed") \
    X(OPERATION_QUEUE_FULL,             1010, NETWORK,    1, "CouchbaseException",                    "operation queue full") \
    X(REQUEST_ALREADY_QUEUED,           1011, NETWORK,    0, "CouchbaseException",                    "request already queued") \
    X(NETWORK_REQUEST_CANCELLED,        1012, NETWORK,    0, "CouchbaseException",                    "request cancelled") \
    X(BUCKET_CLOSED,                    1013, NETWORK,    0, "CouchbaseException",                    "bucket closed") \
    /* transactions */                                                                                            \
    X(TRANSACTION_FAILED,               1200, TRANSACTION,0, "TransactionFailed",                     "transaction failed") \
    X(TRANSACTION_EXPIRED,              1201, TRANSACTION,0, "TransactionExpired",                    "transaction expired") \
    X(TRANSACTION_FAILED_POST_COMMIT,   1202, TRANSACTION,0, "TransactionException",                  "transaction failed after commit") \
    X(TRANSACTION_AMBIGUOUS,            1203, TRANSACTION,0, "TransactionCommitAmbiguous",            "transaction commit ambiguous") \
    X(TRANSACTION_OP_FAILED,            1399, TRANSACTION,0, "TransactionOperationFailed",            "transaction operation failed") \
    /* SDK-side errors the official core has no code for */                                                       \
    X(INTERNAL_SDK,                     5000, SDK,        0, "InternalSDKException",                  "internal SDK error") \
    X(HTTP,                             5001, SDK,        0, "HTTPException",                         "HTTP error") \
    X(UNSUCCESSFUL_OPERATION,           5002, SDK,        0, "UnsuccessfulOperationException",        "unsuccessful operation") \
    X(TIMEOUT,                          5003, SDK,        0, "TimeoutException",                      "timeout") \
    X(MISSING_CONNECTION,               5004, SDK,        1, "MissingConnectionException",            "not connected") \
    X(ALREADY_QUERIED,                  5005, SDK,        0, "AlreadyQueriedException",               "query results already consumed") \
    X(KEYSPACE_NOT_FOUND,               5006, SDK,        0, "KeyspaceNotFoundException",             "keyspace not found") \
    X(INVALID_INDEX,                    5007, SDK,        0, "InvalidIndexException",                 "invalid index") \
    X(MISSING_TOKEN,                    5008, SDK,        0, "MissingTokenException",                 "missing mutation token") \
    X(QUEUE_EMPTY,                      5009, SDK,        0, "QueueEmpty",                            "queue empty") \
    X(FEATURE_NOT_FOUND,                5010, SDK,        0, "FeatureNotFoundException",              "feature not found") \
    X(BUCKET_DOES_NOT_EXIST,            5011, SDK,        0, "BucketDoesNotExistException",           "bucket does not exist") \
    X(WATCH_QUERY_INDEX_TIMEOUT,        5012, SDK,        0, "WatchQueryIndexTimeoutException",       "timed out watching query indexes") \
    X(SEARCH_INDEX_NOT_FOUND,           5013, SDK,        0, "SearchIndexNotFoundException",          "search index not found") \
    X(EVENTING_FUNCTION_ALREADY_DEPLOYED,5014, SDK,       0, "EventingFunctionAlreadyDeployedException", "eventing function already deployed") \
    X(ENCRYPTER_ALREADY_EXISTS,         5015, SDK,        0, "EncrypterAlreadyExistsException",       "encrypter already exists") \
    X(DECRYPTER_ALREADY_EXISTS,         5016, SDK,        0, "DecrypterAlreadyExistsException",       "decrypter already exists") \
    X(NO_MEMORY,                        5017, SDK,        0, "InternalSDKException",                  "out of memory") \
    X(TLS_FAILURE,                      5018, SDK,        0, "CouchbaseException",                    "TLS handshake failed")
/* clang-format on */

typedef enum dv_error_category {
#define DV_X_(name, str) DV_CAT_##name,
    DV_ERROR_CATEGORIES(DV_X_)
#undef DV_X_
} dv_error_category;

typedef enum dv_error {
#define DV_X_(name, num, cat, retry, py, msg) DV_ERR_##name = num,
    DV_ERRORS(DV_X_)
#undef DV_X_
} dv_error;

/* A static, human-readable message; "unknown error" for a number not in the table. */
DV_API const char *dv_strerror(int err);
/* The row's name, e.g. "DOCUMENT_NOT_FOUND"; NULL if unknown. */
DV_API const char *dv_error_name(int err);
DV_API dv_error_category dv_error_category_of(int err);
DV_API const char *dv_error_category_name(dv_error_category cat);
/* 1 if repeating the operation unchanged may succeed. */
DV_API int dv_error_retryable(int err);
/* The official Python SDK's exception class for this error ("CouchbaseException" if none). */
DV_API const char *dv_error_python_class(int err);

#ifdef __cplusplus
}
#endif
#endif
