#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/endian.h"
#include "base/log.h"
#include "divan/error.h"

static void buf_append_and_consume(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_buf_append(&b, "abc", 3), 0);
    assert_int_equal(dv_buf_append_u8(&b, 0x80), 0);
    assert_int_equal(dv_buf_append_be16(&b, 0x0102), 0);
    assert_int_equal(dv_buf_append_be32(&b, 0x03040506), 0);
    assert_int_equal(dv_buf_append_be64(&b, 0x0708090a0b0c0d0eull), 0);
    assert_int_equal(dv_buf_size(&b), 18);
    static const uint8_t want[] = {'a', 'b', 'c', 0x80, 1,  2,  3,  4,  5,
                                   6,   7,   8,   9,    10, 11, 12, 13, 14};
    assert_memory_equal(dv_buf_head(&b), want, sizeof want);
    dv_buf_consume(&b, 4);
    assert_int_equal(dv_load_be16(dv_buf_head(&b)), 0x0102);
    assert_int_equal(dv_load_be32(dv_buf_head(&b) + 2), 0x03040506);
    assert_true(dv_load_be64(dv_buf_head(&b) + 6) == 0x0708090a0b0c0d0eull);
    dv_buf_consume(&b, dv_buf_size(&b));
    assert_int_equal(dv_buf_size(&b), 0);
    assert_int_equal(b.off, 0);
    dv_buf_free(&b);
}

static void buf_grows_and_keeps_content(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    for (int i = 0; i < 100000; i++) assert_int_equal(dv_buf_append_be32(&b, (uint32_t)i), 0);
    dv_buf_consume(&b, 4 * 50000);
    for (int i = 0; i < 1000; i++) assert_int_equal(dv_buf_append_be32(&b, (uint32_t)i), 0);
    assert_int_equal(dv_buf_size(&b), 4 * 51000);
    assert_int_equal(dv_load_be32(dv_buf_head(&b)), 50000);
    assert_int_equal(dv_load_be32(dv_buf_head(&b) + 4 * 49999), 99999);
    assert_int_equal(dv_load_be32(dv_buf_head(&b) + 4 * 50000), 0);
    assert_int_equal(dv_buf_printf(&b, "%s-%d", "x", 42), 0);
    assert_memory_equal(dv_buf_head(&b) + 4 * 51000, "x-42", 4);
    dv_buf_free(&b);
}

static void buf_reserve_refuses_absurd_sizes(void **state)
{
    (void)state;
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_buf_append(&b, "x", 1), 0);
    assert_null(dv_buf_reserve(&b, SIZE_MAX));
    assert_int_equal(dv_buf_size(&b), 1);
    dv_buf_free(&b);
}

static int fail_after;
static void *failing_malloc(size_t n)
{
    return fail_after-- > 0 ? malloc(n) : NULL;
}

static void allocator_hooks_and_count(void **state)
{
    (void)state;
    long before = dv_alloc_live();
    char *s = dv_strdup("hello");
    assert_string_equal(s, "hello");
    if (before >= 0) assert_int_equal(dv_alloc_live(), before + 1);
    dv_free(s);
    if (before >= 0) assert_int_equal(dv_alloc_live(), before);

    fail_after = 0;
    dv_set_allocator(&(dv_allocator){failing_malloc, realloc, free});
    dv_buf b = DV_BUF_INIT;
    assert_int_equal(dv_buf_append(&b, "abc", 3), -1);
    assert_int_equal(dv_buf_size(&b), 0);
    assert_null(dv_strdup("x"));
    dv_set_allocator(NULL);
    assert_int_equal(dv_alloc_live(), before);
}

static int log_calls;
static char log_line[64];
static void capture(void *ud, dv_log_level level, const char *sub, const char *msg)
{
    (void)ud;
    (void)level;
    (void)sub;
    log_calls++;
    snprintf(log_line, sizeof log_line, "%s", msg);
}

static int evaluated(void)
{
    log_calls += 100;
    return 1;
}

static void log_hook_and_levels(void **state)
{
    (void)state;
    dv_set_log_hook(capture, NULL, DV_LOG_INFO);
    dv_log(DV_LOG_INFO, "test", "n=%d", 7);
    assert_int_equal(log_calls, 1);
    assert_string_equal(log_line, "n=7");
    dv_log(DV_LOG_DEBUG, "test", "skipped %d", evaluated());
    assert_int_equal(log_calls, 1); /* arguments not evaluated above the level */
    dv_set_log_hook(NULL, NULL, DV_LOG_WARN);
}

/* RFC 4648's vectors both ways; what each mode refuses. */
static void base64_both_ways(void **state)
{
    (void)state;
    static const char *const raw[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        dv_buf b = DV_BUF_INIT;
        assert_int_equal(dv_base64_encode(&b, raw[i], strlen(raw[i])), 0);
        assert_int_equal(dv_buf_size(&b), strlen(enc[i]));
        if (strlen(enc[i])) assert_memory_equal(dv_buf_head(&b), enc[i], strlen(enc[i]));
        dv_buf_free(&b);
        uint8_t out[8];
        size_t n = 99;
        assert_int_equal(
            dv_base64_decode(enc[i], strlen(enc[i]), DV_BASE64_STRICT, out, sizeof out, &n), 0);
        assert_int_equal(n, strlen(raw[i]));
        assert_memory_equal(out, raw[i], n);
    }
    uint8_t out[8];
    size_t n;
    /* loose: no padding needed, unused bits ignored; strict refuses both */
    assert_int_equal(dv_base64_decode("Zm8", 3, DV_BASE64_LOOSE, out, sizeof out, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(dv_base64_decode("Zm8", 3, DV_BASE64_STRICT, out, sizeof out, &n), -1);
    assert_int_equal(dv_base64_decode("Zm9=", 4, DV_BASE64_LOOSE, out, sizeof out, &n), 0);
    assert_int_equal(dv_base64_decode("Zm9=", 4, DV_BASE64_STRICT, out, sizeof out, &n), -1);
    static const char *const bad[] = {"Z", "Zm=v", "Zm9v*A==", "Zg===", "=Zg="};
    for (size_t i = 0; i < 5; i++)
        for (int mode = DV_BASE64_STRICT; mode <= DV_BASE64_LOOSE; mode++)
            assert_int_equal(dv_base64_decode(bad[i], strlen(bad[i]), mode, out, sizeof out, &n),
                             -1);
    assert_int_equal(dv_base64_decode("Zm9vYmFy", 8, DV_BASE64_STRICT, out, 5, &n), -1);
}

static void clock_is_monotonic(void **state)
{
    (void)state;
    uint64_t a = dv_clock_now_ns(), b = dv_clock_now_ns();
    assert_true(b >= a);
    /* wall clock is after 2020-01-01 */
    assert_true(dv_clock_wall_ns() > 1577836800ull * DV_NS_PER_SEC);
}

static void error_table(void **state)
{
    (void)state;
    assert_int_equal(DV_ERR_DOCUMENT_NOT_FOUND, 101);
    assert_int_equal(DV_ERR_CAS_MISMATCH, 9);
    assert_string_equal(dv_strerror(DV_ERR_DOCUMENT_NOT_FOUND), "document not found");
    assert_string_equal(dv_error_name(DV_ERR_DOCUMENT_EXISTS), "DOCUMENT_EXISTS");
    assert_string_equal(dv_error_python_class(DV_ERR_DOCUMENT_EXISTS), "DocumentExistsException");
    assert_string_equal(dv_error_python_class(DV_ERR_VALUE_TOO_LARGE), "CouchbaseException");
    assert_string_equal(dv_error_python_class(DV_ERR_OK), "CouchbaseException");
    assert_int_equal(dv_error_category_of(DV_ERR_PATH_EXISTS), DV_CAT_KEY_VALUE);
    assert_string_equal(dv_error_category_name(DV_CAT_NETWORK), "network");
    assert_true(dv_error_retryable(DV_ERR_TEMPORARY_FAILURE));
    assert_true(dv_error_retryable(DV_ERR_DOCUMENT_LOCKED));
    assert_false(dv_error_retryable(DV_ERR_DOCUMENT_NOT_FOUND));
    assert_string_equal(dv_strerror(4242), "unknown error");
    assert_null(dv_error_name(4242));
}

/* Every row: sorted by number (dv_strerror relies on it), named, with a category. */
static void error_table_is_sorted(void **state)
{
    (void)state;
    static const int nums[] = {
#define DV_X_(name, num, cat, retry, py, msg) num,
        DV_ERRORS(DV_X_)
#undef DV_X_
    };
    for (size_t i = 1; i < sizeof nums / sizeof nums[0]; i++) {
        assert_true(nums[i - 1] < nums[i]);
        assert_non_null(dv_error_name(nums[i]));
        assert_int_not_equal(dv_error_category_of(nums[i]), DV_CAT_NONE);
    }
}

/* The official SDK's exception classes (python-api.md 2.2) all have a row. */
static void error_table_covers_python_exceptions(void **state)
{
    (void)state;
    static const char *classes[] = {
        "AmbiguousTimeoutException",
        "UnAmbiguousTimeoutException",
        "TimeoutException",
        "InternalServerFailureException",
        "MissingConnectionException",
        "TemporaryFailException",
        "RequestCanceledException",
        "InvalidArgumentException",
        "AuthenticationException",
        "BucketNotFoundException",
        "ValueFormatException",
        "HTTPException",
        "ServiceUnavailableException",
        "FeatureUnavailableException",
        "InternalSDKException",
        "UnsupportedOperation",
        "RateLimitedException",
        "QuotaLimitedException",
        "ParsingFailedException",
        "AlreadyQueriedException",
        "KeyspaceNotFoundException",
        "UnsuccessfulOperationException",
        "InvalidIndexException",
        "MissingTokenException",
        "QueueEmpty",
        "FeatureNotFoundException",
        "CasMismatchException",
        "DocumentExistsException",
        "DocumentLockedException",
        "DocumentNotLockedException",
        "DocumentNotFoundException",
        "DocumentNotJsonException",
        "DocumentUnretrievableException",
        "DurabilityImpossibleException",
        "DurabilityInvalidLevelException",
        "DurabilitySyncWriteAmbiguousException",
        "DurabilitySyncWriteInProgressException",
        "DeltaInvalidException",
        "InvalidValueException",
        "NumberTooBigException",
        "PathExistsException",
        "PathInvalidException",
        "PathMismatchException",
        "PathNotFoundException",
        "PathTooBigException",
        "PathTooDeepException",
        "ValueTooDeepException",
        "MutationTokenOutdatedException",
        "RangeScanCompletedException",
        "BucketAlreadyExistsException",
        "BucketDoesNotExistException",
        "BucketNotFlushableException",
        "CollectionAlreadyExistsException",
        "CollectionNotFoundException",
        "ScopeAlreadyExistsException",
        "ScopeNotFoundException",
        "GroupNotFoundException",
        "UserNotFoundException",
        "QueryIndexAlreadyExistsException",
        "QueryIndexNotFoundException",
        "WatchQueryIndexTimeoutException",
        "SearchIndexNotFoundException",
        "DataverseAlreadyExistsException",
        "DataverseNotFoundException",
        "DatasetNotFoundException",
        "DatasetAlreadyExistsException",
        "AnalyticsLinkExistsException",
        "AnalyticsLinkNotFoundException",
        "DesignDocumentNotFoundException",
        "EventingFunctionNotFoundException",
        "EventingFunctionNotDeployedException",
        "EventingFunctionCompilationFailureException",
        "EventingFunctionIdenticalKeyspaceException",
        "EventingFunctionNotBootstrappedException",
        "EventingFunctionNotUnDeployedException",
        "EventingFunctionPausedException",
        "EventingFunctionAlreadyDeployedException",
        "TransactionException",
        "TransactionOperationFailed",
        "TransactionFailed",
        "TransactionExpired",
        "TransactionCommitAmbiguous",
        "CryptoException",
        "EncryptionFailureException",
        "DecryptionFailureException",
        "CryptoKeyNotFoundException",
        "InvalidCryptoKeyException",
        "EncrypterNotFoundException",
        "DecrypterNotFoundException",
        "EncrypterAlreadyExistsException",
        "DecrypterAlreadyExistsException",
        "InvalidCipherTextException",
    };
    static const char *have[] = {
#define DV_X_(name, num, cat, retry, py, msg) py,
        DV_ERRORS(DV_X_)
#undef DV_X_
    };
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        int found = 0;
        for (size_t j = 0; j < sizeof have / sizeof have[0]; j++)
            if (strcmp(classes[i], have[j]) == 0) found = 1;
        if (!found) fail_msg("no error row for %s", classes[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_append_and_consume),
        cmocka_unit_test(buf_grows_and_keeps_content),
        cmocka_unit_test(buf_reserve_refuses_absurd_sizes),
        cmocka_unit_test(allocator_hooks_and_count),
        cmocka_unit_test(log_hook_and_levels),
        cmocka_unit_test(base64_both_ways),
        cmocka_unit_test(clock_is_monotonic),
        cmocka_unit_test(error_table),
        cmocka_unit_test(error_table_is_sorted),
        cmocka_unit_test(error_table_covers_python_exceptions),
    };
    return TU_RUN(tests);
}
