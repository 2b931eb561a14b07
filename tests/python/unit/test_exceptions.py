"""The official exception hierarchy: names, bases, attributes and str() form."""
import inspect

import pytest

import couchbase.exceptions as E

ALL = [c for _n, c in inspect.getmembers(E, inspect.isclass)
       if issubclass(c, E.CouchbaseException) and c is not E.CouchbaseException]

OFFICIAL_NAMES = """
AmbiguousTimeoutException UnAmbiguousTimeoutException TimeoutException
InternalServerFailureException MissingConnectionException TemporaryFailException RequestCanceledException
InvalidArgumentException AuthenticationException BucketNotFoundException ValueFormatException
HTTPException ServiceUnavailableException FeatureUnavailableException InternalSDKException
UnsupportedOperation RateLimitedException QuotaLimitedException ParsingFailedException
AlreadyQueriedException KeyspaceNotFoundException UnsuccessfulOperationException InvalidIndexException
MissingTokenException QueueEmpty FeatureNotFoundException CasMismatchException CASMismatchException
DocumentExistsException DocumentLockedException DocumentNotLockedException DocumentNotFoundException
DocumentNotJsonException DocumentUnretrievableException DurabilityImpossibleException
DurabilityInvalidLevelException DurabilitySyncWriteAmbiguousException
DurabilitySyncWriteInProgressException DeltaInvalidException InvalidValueException
SubdocCantInsertValueException NumberTooBigException PathExistsException PathInvalidException
PathMismatchException SubdocPathMismatchException PathNotFoundException PathTooBigException
PathTooDeepException ValueTooDeepException MutationTokenOutdatedException RangeScanCompletedException
BucketAlreadyExistsException BucketDoesNotExistException BucketNotFlushableException
CollectionAlreadyExistsException CollectionNotFoundException ScopeAlreadyExistsException
ScopeNotFoundException GroupNotFoundException UserNotFoundException QueryIndexAlreadyExistsException
QueryIndexNotFoundException WatchQueryIndexTimeoutException SearchIndexNotFoundException
DataverseAlreadyExistsException DataverseNotFoundException DatasetNotFoundException
DatasetAlreadyExistsException AnalyticsLinkExistsException AnalyticsLinkNotFoundException
DesignDocumentNotFoundException TransactionException TransactionOperationFailed TransactionFailed
TransactionExpired TransactionCommitAmbiguous CryptoException EncryptionFailureException
DecryptionFailureException CryptoKeyNotFoundException InvalidCryptoKeyException
EncrypterNotFoundException DecrypterNotFoundException EncrypterAlreadyExistsException
DecrypterAlreadyExistsException InvalidCipherTextException
""".split()


def test_official_names_exist():
    missing = [n for n in OFFICIAL_NAMES if not hasattr(E, n)]
    assert not missing
    eventing = [n for n in dir(E) if n.startswith("EventingFunction") and n.endswith("Exception")]
    assert len(eventing) == 8


def test_everything_is_a_couchbase_exception():
    assert issubclass(E.CouchbaseException, Exception)
    for cls in ALL:
        assert issubclass(cls, E.CouchbaseException)


def test_hierarchy_is_flat_except_transactions_and_crypto():
    for cls in ALL:
        if cls in (E.TransactionException, E.CryptoException):
            continue
        if issubclass(cls, E.TransactionException):
            assert cls.__bases__ == (E.TransactionException,)
        elif issubclass(cls, E.CryptoException):
            assert cls.__bases__ == (E.CryptoException,)
        else:
            assert cls.__bases__ == (E.CouchbaseException,), cls


def test_timeouts_are_not_timeout_exceptions():
    assert not issubclass(E.AmbiguousTimeoutException, E.TimeoutException)
    assert not issubclass(E.UnAmbiguousTimeoutException, E.TimeoutException)
    assert not issubclass(E.AmbiguousTimeoutException, TimeoutError)


def test_aliases():
    assert E.CASMismatchException is E.CasMismatchException
    assert E.SubdocCantInsertValueException is E.InvalidValueException
    assert E.SubdocPathMismatchException is E.PathMismatchException


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_str_of_every_subclass(cls):
    s = str(cls("m"))
    assert s.startswith(cls.__name__ + "(")
    assert "message=m" in s


def test_base_str_and_attributes():
    inner = ValueError("boom")
    ctx = {"context_type": "SubdocumentErrorContext", "key": "k", "first_error_path": "a.b",
           "first_error_index": 1, "retry_reasons": ["x"]}
    exc = E.CouchbaseException(base=inner, message="failed", context=ctx, error_code=113)
    s = str(exc)
    assert s.startswith("<") and "ec=113" in s and "category=key_value" in s
    assert "message=failed" in s and "a.b" in s
    assert exc.message == "failed" and exc.error_code == 113
    assert exc.inner_cause is inner
    assert exc.context is exc.error_context
    assert isinstance(exc.error_context, E.SubdocumentErrorContext)
    assert exc.error_context.first_error_path == "a.b"
    assert exc.error_context.first_error_index == 1
    assert exc.error_context.retry_reasons == {"x"}


def test_inner_cause_from_exc_info_and_raising():
    cause = KeyError("k")
    exc = E.DocumentNotFoundException(message="nope", exc_info={"inner_cause": cause})
    assert exc.inner_cause is cause
    with pytest.raises(E.CouchbaseException) as info:
        raise exc
    assert info.value.message == "nope"


def test_defaults_are_empty():
    exc = E.InvalidArgumentException()
    assert exc.message is None and exc.error_code is None
    assert isinstance(exc.error_context, E.ErrorContext) and exc.error_context.retry_reasons == set()
    assert exc.inner_cause is None
    assert str(exc) == "InvalidArgumentException(<>)"
