"""Exceptions of the ``couchbase`` package, named and shaped as in the official SDK 4.x.

The hierarchy is flat: almost every class derives directly from :class:`CouchbaseException`
(timeouts do *not* derive from :class:`TimeoutException`). The mapping from an error number (the
official core's ``errc`` values, which divan's C engine reports) to a class is generated from
divan's error table (``include/divan/error.h`` -> ``couchbase/_errors.py``); :func:`exception_class_for`
adds the official ErrorMapper rules that depend only on data, such as turning a timed-out KV
operation whose retry reasons include ``key_value_locked`` into :class:`DocumentLockedException`.
"""

import re
from typing import Any, Dict, Mapping, Optional, Set, Type

from couchbase import _errors

# --------------------------------------------------------------------------------------------
# error contexts


def _field(name: str) -> Any:
    """A read-only property for one member of a context's dict (None when absent)."""
    return property(lambda self: self._base.get(name))


class ErrorContext:
    """What the engine knew when an operation failed: where it was sent and why it was retried.

    Built from the dict the C layer produces; unknown keys are kept and shown by ``str()``.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._base: Dict[str, Any] = dict(kwargs)

    last_dispatched_to = _field("last_dispatched_to")

    last_dispatched_from = _field("last_dispatched_from")

    @property
    def retry_attempts(self) -> int:
        return int(self._base.get("retry_attempts") or 0)

    @property
    def retry_reasons(self) -> Set[str]:
        return set(self._base.get("retry_reasons") or ())

    @classmethod
    def from_dict(cls, data: Optional[Mapping[str, Any]]) -> Optional["ErrorContext"]:
        """The context subclass named by ``data['context_type']`` (a KV context when it has a key)."""
        if data is None:
            return None
        if isinstance(data, ErrorContext):
            return data
        ctype = data.get("context_type")
        klass = _CONTEXT_TYPES.get(ctype) if ctype else None
        if klass is None:
            klass = KeyValueErrorContext if "key" in data else ErrorContext
        return klass(**data)

    def _fields(self) -> Dict[str, Any]:
        return {k: v for k, v in self._base.items() if k != "context_type" and v is not None}

    def __repr__(self) -> str:
        return "%s(%s)" % (type(self).__name__, self._fields())

    __str__ = __repr__


class KeyValueErrorContext(ErrorContext):
    """Context of a failed KV operation: the document's key and keyspace, the server status."""

    key = _field("key")

    bucket_name = _field("bucket_name")

    scope_name = _field("scope_name")

    collection_name = _field("collection_name")


class SubdocumentErrorContext(KeyValueErrorContext):
    """KV context of a sub-document operation: which path failed first."""

    first_error_path = _field("first_error_path")

    first_error_index = _field("first_error_index")

    @property
    def deleted(self) -> bool:
        return bool(self._base.get("deleted", False))


class HTTPErrorContext(ErrorContext):
    """Context of a failed HTTP request (management, query, ...)."""

    method = _field("method")

    response_code = _field("response_code")

    path = _field("path")

    response_body = _field("response_body")

    client_context_id = _field("client_context_id")


class QueryErrorContext(HTTPErrorContext):
    """Context of a failed query: the statement, the request body, the first error."""

    statement = _field("statement")

    parameters = _field("parameters")

    first_error_code = _field("first_error_code")

    first_error_message = _field("first_error_message")

    http_status = _field("http_status")


class AnalyticsErrorContext(HTTPErrorContext):
    pass


class SearchErrorContext(HTTPErrorContext):
    pass


class ViewErrorContext(HTTPErrorContext):
    pass


class ManagementErrorContext(ErrorContext):
    response_code = _field("response_code")

    path = _field("path")

    content = _field("content")

    client_context_id = _field("client_context_id")


class TransactionsErrorContext(ErrorContext):
    failure_type = _field("failure_type")


_CONTEXT_TYPES: Dict[str, Type[ErrorContext]] = {
    c.__name__: c
    for c in (ErrorContext, KeyValueErrorContext, SubdocumentErrorContext, HTTPErrorContext,
              QueryErrorContext, AnalyticsErrorContext, SearchErrorContext, ViewErrorContext,
              ManagementErrorContext, TransactionsErrorContext)
}
# short forms divan's C layer may use for context_type
_CONTEXT_TYPES.update({"key_value": KeyValueErrorContext, "subdocument": SubdocumentErrorContext,
                       "http": HTTPErrorContext, "query": QueryErrorContext,
                       "management": ManagementErrorContext})

# --------------------------------------------------------------------------------------------
# the base exception

_ROWS_BY_NUMBER = {row[1]: row for row in _errors.ERROR_ROWS}


class CouchbaseException(Exception):
    """Base of every divan/Couchbase error.

    ``CouchbaseException(base=None, message=None, context=None, error_code=None, exc_info=None)``;
    a plain string as the first argument is taken as the message (``X('msg')``). ``base`` may be
    the lower-level exception this one wraps; it becomes :attr:`inner_cause`.
    """

    def __init__(self, base: Any = None, message: Optional[str] = None,
                 context: Any = None, error_code: Optional[int] = None,
                 exc_info: Optional[Mapping[str, Any]] = None) -> None:
        if isinstance(base, str) and message is None:
            message, base = base, None
        self._base = base
        self._message = message
        if isinstance(context, Mapping):
            context = ErrorContext.from_dict(context)
        # as upstream, an exception without a context has an empty one
        self._context: ErrorContext = context if context is not None else ErrorContext()
        self._error_code = error_code
        self._exc_info: Dict[str, Any] = dict(exc_info) if exc_info else {}
        super().__init__(message)

    @property
    def error_code(self) -> Optional[int]:
        """The official core's error number (``couchbase::errc``), if known."""
        return self._error_code

    @property
    def error_context(self) -> ErrorContext:
        return self._context

    @property
    def context(self) -> ErrorContext:
        """Deprecated alias of :attr:`error_context`."""
        return self._context

    @property
    def message(self) -> Optional[str]:
        return self._message

    @property
    def inner_cause(self) -> Optional[BaseException]:
        cause = self._exc_info.get("inner_cause")
        if cause is None and isinstance(self._base, BaseException):
            cause = self._base
        return cause

    def _details(self) -> str:
        parts = []
        if self._error_code is not None:
            parts.append("ec=%d" % self._error_code)
            row = _ROWS_BY_NUMBER.get(self._error_code)
            if row is not None:
                parts.append("category=%s" % row[2])
        if self._message:
            parts.append("message=%s" % self._message)
        if self._context._fields():
            parts.append("context=%s" % (self._context,))
        cause = self.inner_cause
        if cause is not None:
            parts.append("inner_cause=%r" % (cause,))
        return "<" + ", ".join(parts) + ">"

    def __str__(self) -> str:
        if type(self) is CouchbaseException:
            return self._details()
        return "%s(%s)" % (type(self).__name__, self._details())

    def __repr__(self) -> str:
        return "%s(%s)" % (type(self).__name__, self._details())


# Written out (not generated) so that static analysis and IDEs see every class.
# timeouts: NOT subclasses of TimeoutException, as in the official SDK
class TimeoutException(CouchbaseException):
    """A generic timeout; KV operations raise the (Un)Ambiguous variants instead."""


class AmbiguousTimeoutException(CouchbaseException):
    """A mutation timed out: it may or may not have been applied."""


class UnAmbiguousTimeoutException(CouchbaseException):
    """An operation timed out without side effects (reads)."""


# common
class InternalServerFailureException(CouchbaseException): pass  # noqa: E701
class MissingConnectionException(CouchbaseException): pass  # noqa: E701
class TemporaryFailException(CouchbaseException): pass  # noqa: E701
class RequestCanceledException(CouchbaseException): pass  # noqa: E701
class InvalidArgumentException(CouchbaseException): pass  # noqa: E701
class AuthenticationException(CouchbaseException): pass  # noqa: E701
class BucketNotFoundException(CouchbaseException): pass  # noqa: E701
class ValueFormatException(CouchbaseException): pass  # noqa: E701
class HTTPException(CouchbaseException): pass  # noqa: E701
class ServiceUnavailableException(CouchbaseException): pass  # noqa: E701
class FeatureUnavailableException(CouchbaseException): pass  # noqa: E701
class InternalSDKException(CouchbaseException): pass  # noqa: E701
class UnsupportedOperation(CouchbaseException): pass  # noqa: E701
class RateLimitedException(CouchbaseException): pass  # noqa: E701
class QuotaLimitedException(CouchbaseException): pass  # noqa: E701
class ParsingFailedException(CouchbaseException): pass  # noqa: E701
class AlreadyQueriedException(CouchbaseException): pass  # noqa: E701
class KeyspaceNotFoundException(CouchbaseException): pass  # noqa: E701
class UnsuccessfulOperationException(CouchbaseException): pass  # noqa: E701
class InvalidIndexException(CouchbaseException): pass  # noqa: E701
class MissingTokenException(CouchbaseException): pass  # noqa: E701
class QueueEmpty(CouchbaseException): pass  # noqa: E701
class FeatureNotFoundException(CouchbaseException): pass  # noqa: E701

# key-value
class CasMismatchException(CouchbaseException): pass  # noqa: E701
CASMismatchException = CasMismatchException
class DocumentExistsException(CouchbaseException): pass  # noqa: E701
class DocumentLockedException(CouchbaseException): pass  # noqa: E701
class DocumentNotLockedException(CouchbaseException): pass  # noqa: E701
class DocumentNotFoundException(CouchbaseException): pass  # noqa: E701
class DocumentNotJsonException(CouchbaseException): pass  # noqa: E701
class DocumentUnretrievableException(CouchbaseException): pass  # noqa: E701
class DurabilityImpossibleException(CouchbaseException): pass  # noqa: E701
class DurabilityInvalidLevelException(CouchbaseException): pass  # noqa: E701
class DurabilitySyncWriteAmbiguousException(CouchbaseException): pass  # noqa: E701
class DurabilitySyncWriteInProgressException(CouchbaseException): pass  # noqa: E701
class DeltaInvalidException(CouchbaseException): pass  # noqa: E701
class InvalidValueException(CouchbaseException): pass  # noqa: E701
SubdocCantInsertValueException = InvalidValueException
class NumberTooBigException(CouchbaseException): pass  # noqa: E701
class PathExistsException(CouchbaseException): pass  # noqa: E701
class PathInvalidException(CouchbaseException): pass  # noqa: E701
class PathMismatchException(CouchbaseException): pass  # noqa: E701
SubdocPathMismatchException = PathMismatchException
class PathNotFoundException(CouchbaseException): pass  # noqa: E701
class PathTooBigException(CouchbaseException): pass  # noqa: E701
class PathTooDeepException(CouchbaseException): pass  # noqa: E701
class ValueTooDeepException(CouchbaseException): pass  # noqa: E701
class MutationTokenOutdatedException(CouchbaseException): pass  # noqa: E701
class RangeScanCompletedException(CouchbaseException): pass  # noqa: E701

# management
class BucketAlreadyExistsException(CouchbaseException): pass  # noqa: E701
class BucketDoesNotExistException(CouchbaseException): pass  # noqa: E701
class BucketNotFlushableException(CouchbaseException): pass  # noqa: E701
class CollectionAlreadyExistsException(CouchbaseException): pass  # noqa: E701
class CollectionNotFoundException(CouchbaseException): pass  # noqa: E701
class ScopeAlreadyExistsException(CouchbaseException): pass  # noqa: E701
class ScopeNotFoundException(CouchbaseException): pass  # noqa: E701
class GroupNotFoundException(CouchbaseException): pass  # noqa: E701
class UserNotFoundException(CouchbaseException): pass  # noqa: E701
class QueryIndexAlreadyExistsException(CouchbaseException): pass  # noqa: E701
class QueryIndexNotFoundException(CouchbaseException): pass  # noqa: E701
class WatchQueryIndexTimeoutException(CouchbaseException): pass  # noqa: E701
class SearchIndexNotFoundException(CouchbaseException): pass  # noqa: E701
class DataverseAlreadyExistsException(CouchbaseException): pass  # noqa: E701
class DataverseNotFoundException(CouchbaseException): pass  # noqa: E701
class DatasetNotFoundException(CouchbaseException): pass  # noqa: E701
class DatasetAlreadyExistsException(CouchbaseException): pass  # noqa: E701
class AnalyticsLinkExistsException(CouchbaseException): pass  # noqa: E701
class AnalyticsLinkNotFoundException(CouchbaseException): pass  # noqa: E701
class DesignDocumentNotFoundException(CouchbaseException): pass  # noqa: E701
class EventingFunctionNotFoundException(CouchbaseException): pass  # noqa: E701
class EventingFunctionNotDeployedException(CouchbaseException): pass  # noqa: E701
class EventingFunctionCompilationFailureException(CouchbaseException): pass  # noqa: E701
class EventingFunctionIdenticalKeyspaceException(CouchbaseException): pass  # noqa: E701
class EventingFunctionNotBootstrappedException(CouchbaseException): pass  # noqa: E701
class EventingFunctionNotUnDeployedException(CouchbaseException): pass  # noqa: E701
class EventingFunctionAlreadyDeployedException(CouchbaseException): pass  # noqa: E701
class EventingFunctionPausedException(CouchbaseException): pass  # noqa: E701

# transactions
class TransactionException(CouchbaseException): pass  # noqa: E701
class TransactionOperationFailed(TransactionException): pass  # noqa: E701
class TransactionFailed(TransactionException): pass  # noqa: E701
class TransactionExpired(TransactionException): pass  # noqa: E701
class TransactionCommitAmbiguous(TransactionException): pass  # noqa: E701

# field-level encryption
class CryptoException(CouchbaseException): pass  # noqa: E701
class EncryptionFailureException(CryptoException): pass  # noqa: E701
class DecryptionFailureException(CryptoException): pass  # noqa: E701
class CryptoKeyNotFoundException(CryptoException): pass  # noqa: E701
class InvalidCryptoKeyException(CryptoException): pass  # noqa: E701
class EncrypterNotFoundException(CryptoException): pass  # noqa: E701
class DecrypterNotFoundException(CryptoException): pass  # noqa: E701
class EncrypterAlreadyExistsException(CryptoException): pass  # noqa: E701
class DecrypterAlreadyExistsException(CryptoException): pass  # noqa: E701
class InvalidCipherTextException(CryptoException): pass  # noqa: E701


class CouchbaseDeprecationWarning(UserWarning):
    """Warned when a deprecated name or option is used."""


# --------------------------------------------------------------------------------------------
# error number -> class, from the generated table

def _build_error_map() -> Dict[int, Type[CouchbaseException]]:
    table: Dict[int, Type[CouchbaseException]] = {}
    for _name, number, _cat, _retry, pycls, _msg in _errors.ERROR_ROWS:
        if not pycls:
            continue
        klass = globals().get(pycls)
        if not (isinstance(klass, type) and issubclass(klass, CouchbaseException)):
            raise ImportError("error.h names unknown exception class %r" % pycls)
        table[number] = klass
    return table


PYCBC_ERROR_MAP: Dict[int, Type[CouchbaseException]] = _build_error_map()

# retry reasons (regexes) that decide the class of a failed KV operation, as the official
# ErrorMapper does: a write to a locked document is retried until it times out, and surfaces
# as DocumentLockedException.
KV_ERROR_CONTEXT_MAPPING: Dict[str, Type[CouchbaseException]] = {
    "key_value_locked": DocumentLockedException,
    "key_value_temporary_failure": TemporaryFailException,
}


def error_name(error_code: int) -> Optional[str]:
    """The error table's name for ``error_code`` (e.g. ``'DOCUMENT_NOT_FOUND'``)."""
    row = _ROWS_BY_NUMBER.get(error_code)
    return row[0] if row else None


def error_message(error_code: int) -> str:
    row = _ROWS_BY_NUMBER.get(error_code)
    return row[5] if row else "unknown error"


def error_retryable(error_code: int) -> bool:
    row = _ROWS_BY_NUMBER.get(error_code)
    return bool(row and row[3])


def exception_class_for(error_code: int,
                        context: Optional[Mapping[str, Any]] = None) -> Type[CouchbaseException]:
    """The exception class for an error number and its (dict or ErrorContext) context.

    A KV context whose retry reasons match :data:`KV_ERROR_CONTEXT_MAPPING` wins (so a timeout
    after retrying ``key_value_locked`` is a :class:`DocumentLockedException`); otherwise the
    generated table decides, and an unknown number gives :class:`CouchbaseException`.
    """
    ctx = ErrorContext.from_dict(context) if context is not None else None
    if isinstance(ctx, KeyValueErrorContext):
        for reason in sorted(ctx.retry_reasons):
            for pattern, klass in KV_ERROR_CONTEXT_MAPPING.items():
                if re.match(pattern, reason):
                    return klass
    return PYCBC_ERROR_MAP.get(error_code, CouchbaseException)


def build_exception(error_code: int, context: Optional[Mapping[str, Any]] = None,
                    message: Optional[str] = None, base: Any = None,
                    exc_info: Optional[Mapping[str, Any]] = None) -> CouchbaseException:
    """An exception instance for an error the engine reported (message defaults to the table's)."""
    klass = exception_class_for(error_code, context)
    return klass(base=base, message=message or error_message(error_code),
                 context=ErrorContext.from_dict(context), error_code=error_code,
                 exc_info=exc_info)


class ErrorMapper:
    """Compatibility facade over :func:`build_exception` with the official name."""

    @staticmethod
    def build_exception(error_code: int, context: Optional[Mapping[str, Any]] = None,
                        message: Optional[str] = None, base: Any = None) -> CouchbaseException:
        return build_exception(error_code, context, message, base)
