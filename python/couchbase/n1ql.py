"""SQL++ (N1QL) queries: the official SDK's enums and metadata classes, and divan's query
request over libdivan's streamed rows (``_core ... query_rows``, include/divan/rows.h).

A query is built from ``(statement, *options, **kwargs)`` by the official rules
(query-service.md §9.1, §2.1): the first ``QueryOptions`` is the options object, every other
positional value a positional parameter, kwargs override options, and a kwarg that is not an
option is a named parameter. :class:`N1QLRequest` then runs it lazily, on the first iteration:
one ``POST /query/service`` to a node with the query service. The rows are handed out as they
arrive, each decoded when it is reached (libdivan splits them out of the response in C and
holds at most two batches of about 1 MiB: a slow reader pauses the response); the rest of the
response comes at the end, and a failed query raises the mapped exception then, after any rows
the service sent first (§6). ``metadata()`` is there once the rows were consumed.
``adhoc=False`` uses the enhanced prepared flow (``PREPARE ... auto_execute``, then
``prepared``), re-preparing on 4040/4050/4070 (§3). Errors map as in §7: the official regexes
over the body and each error, then the core's table by code.
"""

import json
import re
import time
import uuid
from datetime import timedelta
from enum import Enum
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Type

from couchbase.exceptions import PYCBC_ERROR_MAP, ErrorMapper  # noqa: F401 - official names
from couchbase.exceptions import (AlreadyQueriedException, AmbiguousTimeoutException,
                                  AuthenticationException, BucketNotFoundException,
                                  CasMismatchException, CouchbaseException,
                                  DocumentExistsException, DocumentNotFoundException,
                                  FeatureUnavailableException, InternalServerFailureException,
                                  InvalidArgumentException, KeyspaceNotFoundException,
                                  ParsingFailedException, QueryErrorContext,
                                  QueryIndexAlreadyExistsException, QueryIndexNotFoundException,
                                  QuotaLimitedException, RateLimitedException,
                                  ScopeNotFoundException, ServiceUnavailableException,
                                  UnAmbiguousTimeoutException)
from couchbase.options import QueryOptions, UnsignedInt64
from couchbase.serializer import DefaultJsonSerializer, Serializer

DEFAULT_QUERY_TIMEOUT_MS = 75000
TIMEOUT_EXPIRED = 2 ** 64 - 1  # DV_TIMEOUT_EXPIRED of include/divan/client.h
QUERY_PATH = "/query/service"


class QueryScanConsistency(Enum):
    """How fresh the indexes a query reads must be (AT_PLUS only through consistent_with)."""

    NOT_BOUNDED = "not_bounded"
    REQUEST_PLUS = "request_plus"
    AT_PLUS = "at_plus"


class QueryProfile(Enum):
    OFF = "off"
    PHASES = "phases"
    TIMINGS = "timings"


class QueryStatus(Enum):
    RUNNING = "running"
    SUCCESS = "success"
    ERRORS = "errors"
    COMPLETED = "completed"
    STOPPED = "stopped"
    TIMEOUT = "timeout"
    CLOSED = "closed"
    FATAL = "fatal"
    ABORTED = "aborted"
    UNKNOWN = "unknown"

    @classmethod
    def from_str(cls, value: str) -> "QueryStatus":
        if isinstance(value, str):
            for status in cls:
                if status.value == value.lower():
                    return status
        raise InvalidArgumentException(message="%s is not a valid QueryStatus option" % value)


class QueryProblem:
    def __init__(self, raw: Dict[str, Any]) -> None:
        self._raw = raw

    def code(self) -> int:
        return int(self._raw.get("code", 0))

    def message(self) -> str:
        return str(self._raw.get("message", ""))

    def __repr__(self) -> str:
        return "%s:%r" % (type(self).__name__, self._raw)


class QueryWarning(QueryProblem):
    pass


class QueryError(QueryProblem):
    pass


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_US = {"ns": 0.001, "us": 1.0, "µs": 1.0, "μs": 1.0, "ms": 1000.0, "s": 1e6, "m": 6e7,
            "h": 3.6e9}


def parse_duration(text: Any) -> timedelta:
    """A Go duration string of the query service ("3.5ms", "1m2.5s", "850.3µs") as a
    timedelta; a number is taken as nanoseconds."""
    if isinstance(text, (int, float)):
        return timedelta(microseconds=text / 1000)
    us = 0.0
    for number, unit in _DURATION.findall(str(text)):
        us += float(number) * _UNIT_US[unit]
    return timedelta(microseconds=us)


class QueryMetrics:
    def __init__(self, raw: Dict[str, Any]) -> None:
        self._raw = raw

    def elapsed_time(self) -> timedelta:
        return parse_duration(self._raw.get("elapsedTime", 0))

    def execution_time(self) -> timedelta:
        return parse_duration(self._raw.get("executionTime", 0))

    def _count(self, key: str) -> UnsignedInt64:
        return UnsignedInt64(int(self._raw.get(key, 0)))

    def sort_count(self) -> UnsignedInt64:
        return self._count("sortCount")

    def result_count(self) -> UnsignedInt64:
        return self._count("resultCount")

    def result_size(self) -> UnsignedInt64:
        return self._count("resultSize")

    def mutation_count(self) -> UnsignedInt64:
        return self._count("mutationCount")

    def error_count(self) -> UnsignedInt64:
        return self._count("errorCount")

    def warning_count(self) -> UnsignedInt64:
        return self._count("warningCount")

    def __repr__(self) -> str:
        return "QueryMetrics:%r" % (self._raw,)


def _problem(raw: Dict[str, Any]) -> Dict[str, Any]:
    out = {"code": raw.get("code", 0), "message": raw.get("msg", "")}
    if "reason" in raw:
        out["reason"] = raw["reason"]
    if "retry" in raw:
        out["retry"] = raw["retry"]
    return out


class QueryMetaData:
    """What the response said besides its rows (the response body's members)."""

    def __init__(self, raw: Dict[str, Any]) -> None:
        self._raw = raw

    def request_id(self) -> str:
        return str(self._raw.get("requestID", ""))

    def client_context_id(self) -> str:
        return str(self._raw.get("clientContextID", ""))

    def status(self) -> QueryStatus:
        return QueryStatus.from_str(str(self._raw.get("status", "unknown")))

    def signature(self) -> Optional[Any]:
        return self._raw.get("signature")

    def warnings(self) -> List[QueryWarning]:
        return [QueryWarning(_problem(w)) for w in self._raw.get("warnings") or []]

    def errors(self) -> List[QueryError]:
        return [QueryError(_problem(w)) for w in self._raw.get("errors") or []]

    def metrics(self) -> Optional[QueryMetrics]:
        metrics = self._raw.get("metrics")
        return QueryMetrics(metrics) if isinstance(metrics, dict) else None

    def profile(self) -> Optional[Any]:
        return self._raw.get("profile")

    def __repr__(self) -> str:
        return "QueryMetaData:%r" % ({k: v for k, v in self._raw.items() if k != "results"},)


# ---- the request ------------------------------------------------------------------------------

_VALID_OPTS = {"timeout", "read_only", "scan_consistency", "consistent_with", "adhoc",
               "client_context_id", "max_parallelism", "pipeline_batch", "pipeline_cap",
               "profile", "query_context", "raw", "scan_cap", "scan_wait", "metrics",
               "flex_index", "preserve_expiry", "use_replica", "serializer",
               "positional_parameters", "named_parameters", "span", "parent_span"}


def _ms(value: Any, what: str) -> int:
    if isinstance(value, timedelta):
        return int(value.total_seconds() * 1000)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value * 1000)
    raise InvalidArgumentException(message="%s must be a timedelta, int or float." % what)


def _enum_value(value: Any, enum: Type[Enum], what: str) -> str:
    if isinstance(value, enum):
        return str(value.value)
    if isinstance(value, str) and value in [e.value for e in enum]:
        return value
    raise InvalidArgumentException(message="Excepted %s to be either of type %s or str "
                                   "representation of %s" % (what, enum.__name__, enum.__name__))


def split_query_args(options: Tuple[Any, ...],
                     kwargs: Dict[str, Any]) -> Tuple[Dict[str, Any], List[Any], Dict[str, Any]]:
    """The official ``create_query_object`` rules: (options, positional, named)."""
    opt: Dict[str, Any] = {}
    positional: List[Any] = []
    for o in options:
        if isinstance(o, QueryOptions):
            opt = o
        else:
            positional.append(o)
    args = dict(opt)
    args.update(kwargs)
    pos = args.pop("positional_parameters", None) or []
    if positional:
        pos = positional
    named = dict(args.pop("named_parameters", None) or {})
    for k in [k for k in args if k not in _VALID_OPTS]:
        named[k] = args.pop(k)
    return args, list(pos), named


def _scan_vectors(state: Any) -> Dict[str, Dict[str, List[Any]]]:
    from couchbase.mutation_state import MutationState
    if not isinstance(state, MutationState) or not state._sv:
        raise TypeError("Passed empty or invalid state")
    vectors: Dict[str, Dict[str, List[Any]]] = {}
    for token in state._sv:
        per = vectors.setdefault(str(token.bucket_name), {})
        vb = str(token.partition_id)
        if vb not in per or per[vb][0] < token.sequence_number:
            per[vb] = [token.sequence_number, str(token.partition_uuid)]
    return vectors


class QueryRequest:
    """One query's request body and client-side settings, and its prepared-statement state."""

    def __init__(self, statement: str, options: Tuple[Any, ...], kwargs: Dict[str, Any],
                 default_timeout_ms: int = 0, query_context: Optional[str] = None,
                 prepared_cache: Optional[Dict[str, str]] = None) -> None:
        if not isinstance(statement, str):
            raise InvalidArgumentException(message="The statement must be a str.")
        args, positional, named = split_query_args(options, kwargs)
        self.statement = statement
        timeout = args.get("timeout")
        self.timeout_ms = (_ms(timeout, "timeout") if timeout is not None
                           else default_timeout_ms or DEFAULT_QUERY_TIMEOUT_MS)
        self.read_only = bool(args.get("read_only", False))
        self.adhoc = bool(args.get("adhoc", True))
        serializer = args.get("serializer")
        if serializer is not None and not isinstance(serializer, Serializer):
            raise InvalidArgumentException(
                message="Serializer should implement Serializer interface.")
        self.serializer: Optional[Serializer] = serializer
        self._cache = prepared_cache if prepared_cache is not None else {}
        body: Dict[str, Any] = {}
        self.client_context_id = str(args.get("client_context_id") or uuid.uuid4())
        body["client_context_id"] = self.client_context_id
        server_ms = self.timeout_ms - 500 if self.timeout_ms > 5000 else self.timeout_ms
        body["timeout"] = "%dms" % max(server_ms, 0)
        if not args.get("metrics", False):
            body["metrics"] = False
        if positional:
            body["args"] = positional
        for name, value in named.items():
            body[name if name.startswith("$") else "$" + name] = value
        consistency = None
        if "scan_consistency" in args:
            consistency = _enum_value(args["scan_consistency"], QueryScanConsistency,
                                      "consistency")
            if consistency == QueryScanConsistency.AT_PLUS.value:
                raise InvalidArgumentException(
                    message="Cannot set consistency to AT_PLUS.  Use consistent_with instead or "
                    "set consistency to NOT_BOUNDED or REQUEST_PLUS")
        if args.get("consistent_with") is not None:
            if consistency not in (None, QueryScanConsistency.NOT_BOUNDED.value):
                raise TypeError("consistent_with not valid with other consistency options")
            consistency = QueryScanConsistency.AT_PLUS.value
            body["scan_vectors"] = _scan_vectors(args["consistent_with"])
        if consistency is not None:
            body["scan_consistency"] = consistency
        if "scan_wait" in args and consistency in ("request_plus", "at_plus"):
            body["scan_wait"] = "%dms" % _ms(args["scan_wait"], "scan_wait")
        if self.read_only:
            body["readonly"] = True
        if "profile" in args:
            body["profile"] = _enum_value(args["profile"], QueryProfile, "profile")
        for key in ("pipeline_batch", "pipeline_cap", "scan_cap", "max_parallelism"):
            if key in args:
                body[key] = str(int(args[key]))
        if args.get("flex_index"):
            body["use_fts"] = True
        if args.get("preserve_expiry"):
            body["preserve_expiry"] = True
        if "use_replica" in args:
            body["use_replica"] = "on" if args["use_replica"] else "off"
        context = args.get("query_context", query_context)
        if context is not None:
            body["query_context"] = str(context)
        raw = args.get("raw")
        if raw is not None:
            if not isinstance(raw, dict):
                raise TypeError("Raw option must be of type Dict[str, Any].")
            for k in raw:
                if not isinstance(k, str):
                    raise TypeError("key for raw value must be str")
            body.update(raw)
        self.body = body
        self._prepared_sent = False
        self.deadline = time.monotonic() + self.timeout_ms / 1000.0

    def attempt(self) -> Tuple[bytes, int]:
        """The body of the next attempt and its timeout in ms (what is left of the query's)."""
        body = dict(self.body)
        self._prepared_sent = False
        if not self.adhoc:
            name = self._cache.get(self.statement)
            if name is None:
                body["statement"] = "PREPARE " + self.statement
                body["auto_execute"] = True
            else:
                body["prepared"] = name
                self._prepared_sent = True
        else:
            body["statement"] = self.statement
        left = self.deadline - time.monotonic()
        timeout_ms = int(left * 1000) if left > 0.0005 else TIMEOUT_EXPIRED
        return json.dumps(body).encode(), max(timeout_ms, 1)

    def context(self, status: int = 0, body: bytes = b"", first: Optional[Dict[str, Any]] = None,
                node: str = "") -> QueryErrorContext:
        return QueryErrorContext(
            statement=self.statement, parameters=json.dumps(self.body),
            first_error_code=first.get("code") if first else None,
            first_error_message=first.get("msg") if first else None,
            client_context_id=self.client_context_id,
            response_body=body.decode("utf-8", "replace") if body else None,
            http_status=status or None, response_code=status or None, method="POST",
            path=QUERY_PATH, last_dispatched_to=node or None)

    def transport_error(self, exc: CouchbaseException) -> CouchbaseException:
        """The engine's error (timeout, no query node, cancelled) with a query context."""
        klass: Type[CouchbaseException] = type(exc)
        if self.read_only and klass is AmbiguousTimeoutException:
            klass = UnAmbiguousTimeoutException
        return klass(message=exc.message, context=self.context(), error_code=exc.error_code)

    def handle(self, status: int, body: bytes) -> Optional[Tuple[List[Any], Dict[str, Any]]]:
        """(rows, the response's other members), or None to send again (prepared statement
        gone); raises the mapped exception for a failed query."""
        try:
            doc = json.loads(body) if body.strip() else None
        except ValueError:
            doc = None
            raise ParsingFailedException(message="the query response is not JSON",
                                         context=self.context(status, body),
                                         error_code=8) from None
        if not isinstance(doc, dict):
            if status == 503:
                raise ServiceUnavailableException(message="service not available",
                                                  context=self.context(status, body),
                                                  error_code=4)
            raise InternalServerFailureException(message="empty query response",
                                                 context=self.context(status, body),
                                                 error_code=5)
        if doc.get("status") == "success":
            if not self.adhoc and not self._prepared_sent and isinstance(doc.get("prepared"),
                                                                         str):
                self._cache[self.statement] = doc["prepared"]
            rows = doc.pop("results", None) or []
            return rows, doc
        errors = [e for e in doc.get("errors") or [] if isinstance(e, dict)]
        first = errors[0] if errors else None
        if first and not self.adhoc and first.get("code") in (4040, 4050, 4070):
            self._cache.pop(self.statement, None)
            if time.monotonic() < self.deadline:
                return None
        raise map_query_error(body, errors, self.context(status, body, first))


# ---- errors (query-service.md §7) -------------------------------------------------------------

QUERY_ERROR_MAPPING: Dict[str, Type[CouchbaseException]] = {
    r".*Keyspace not found.*": KeyspaceNotFoundException,
    r".*Scope not found.*": ScopeNotFoundException,
    r".*No index available.*": QueryIndexNotFoundException,
    r".*[iI]ndex.*not found.*": QueryIndexNotFoundException,
    r".*[iI]ndex.*already exists.*": QueryIndexAlreadyExistsException,
}

_Core = Tuple[int, Type[CouchbaseException]]
_PARSING: _Core = (8, ParsingFailedException)
_INTERNAL: _Core = (5, InternalServerFailureException)


def _core_error(first: Dict[str, Any]) -> _Core:
    """The official core's errc (and its class) for the first error."""
    code = first.get("code")
    msg = str(first.get("msg", ""))
    low = msg.lower()
    reason = first.get("reason") if isinstance(first.get("reason"), dict) else {}
    rcode = reason.get("code") if reason else None
    if code == 1065:
        if "Unrecognized parameter in request" in msg and "preserve_expiry" in msg:
            return 15, FeatureUnavailableException
        return 3, InvalidArgumentException
    if code == 1080:
        return 14, UnAmbiguousTimeoutException
    if code == 3000:
        return _PARSING
    if code in (4060, 4080, 4090):
        return 203, CouchbaseException
    if code == 4300:
        return 18, QueryIndexAlreadyExistsException
    if code == 5000:
        if "index" in low and "already exist" in low:
            return 18, QueryIndexAlreadyExistsException
        if "Index does not exist" in msg or ("index" in low and "not found" in low):
            return 17, QueryIndexNotFoundException
        if "Bucket Not Found" in msg:
            return 10, BucketNotFoundException
        if "Limit for number of indexes that can be created per scope has been reached" in msg:
            return 22, QuotaLimitedException
        return _INTERNAL
    if code == 12009:
        if "CAS mismatch" in msg or rcode == 12033:
            return 9, CasMismatchException
        if rcode == 17014:
            return 101, DocumentNotFoundException
        if rcode == 17012:
            return 105, DocumentExistsException
        return 204, CouchbaseException
    if code in (12004, 12016):
        return 17, QueryIndexNotFoundException
    if code == 13014:
        return 6, AuthenticationException
    if code in (1191, 1192, 1193, 1194):
        return 21, RateLimitedException
    if isinstance(code, int) and (12000 <= code < 13000 or 14000 <= code < 15000):
        return 202, CouchbaseException
    if isinstance(code, int) and 4000 <= code < 5000:
        return 201, CouchbaseException
    return _INTERNAL


def map_query_error(body: bytes, errors: List[Dict[str, Any]],
                    context: QueryErrorContext) -> CouchbaseException:
    """The exception for a failed query: the official regexes over the raw body, then over
    each error as "<code> <msg>", win; else the core's class for the first error."""
    first = errors[0] if errors else None
    number, klass = _core_error(first) if first else _INTERNAL
    text = body.decode("utf-8", "replace")
    override: Optional[Type[CouchbaseException]] = None
    for pattern, cls in QUERY_ERROR_MAPPING.items():
        if re.match(pattern, text):
            override = cls
            break
    for err in errors:
        if override is not None:
            break
        line = "%s %s" % (err.get("code"), err.get("msg"))
        for pattern, cls in QUERY_ERROR_MAPPING.items():
            if re.match(pattern, line):
                override = cls
                break
    message = str(first.get("msg")) if first else "the query failed"
    return (override or klass)(message=message, context=context, error_code=number)


# ---- running it -------------------------------------------------------------------------------


class QueryOutcome:
    """The rows of a finished query (decoded on the way out) and its metadata."""

    def __init__(self, rows: List[Any], meta: Dict[str, Any],
                 serializer: Optional[Serializer]) -> None:
        self.rows = rows
        self.meta = QueryMetaData(meta)
        self.serializer = serializer

    def iter_rows(self) -> Iterator[Any]:
        if self.serializer is None or isinstance(self.serializer, DefaultJsonSerializer):
            return iter(self.rows)
        ser = self.serializer
        return (ser.deserialize(json.dumps(row).encode()) for row in self.rows)


ROW_BATCH = 256  # rows taken from the stream at a time


def batch_decoder(req: QueryRequest) -> Callable[[List[bytes]], List[Any]]:
    """How a batch of rows' JSON bytes becomes their values: the query's serializer row by
    row, else (the default) one parse of the batch as an array, which gives what parsing each
    row would and costs one call instead of one per row."""
    ser = req.serializer if req.serializer is not None else DefaultJsonSerializer()

    def one(raw: bytes) -> Any:
        try:
            return ser.deserialize(raw)
        except ValueError:
            raise ParsingFailedException(message="a row of the query response is not JSON",
                                         context=req.context(), error_code=8) from None

    def batch(rows: List[bytes]) -> List[Any]:
        if req.serializer is None:
            try:
                got = _decode_rows(b"[" + b",".join(rows) + b"]")
                if len(got) == len(rows):
                    return got
            except ValueError:
                pass  # found row by row below
        return [one(raw) for raw in rows]
    return batch


_JSON = json.JSONDecoder()


def _decode_rows(text: bytes) -> List[Any]:
    value = _JSON.decode(text.decode("utf-8", "surrogatepass"))
    if not isinstance(value, list):
        raise ValueError("not an array")
    return value


class QueryStream:
    """One attempt of a query over ``query_rows``: its rows, then its outcome. Shared by the
    blocking and asyncio requests (which differ in how they wait for a batch)."""

    def __init__(self, query_rows: Callable[..., Any], req: QueryRequest,
                 decode: Callable[[List[bytes]], List[Any]]) -> None:
        body, timeout_ms = req.attempt()
        self.req = req
        self.decode = decode
        self.rows_seen = False
        try:
            self.rows = query_rows("query", "POST", QUERY_PATH, body, "application/json",
                                   timeout_ms=timeout_ms, idempotent=req.read_only)
        except CouchbaseException as exc:
            raise req.transport_error(exc) from None

    def take(self) -> Optional[List[Any]]:
        """The rows that have arrived, decoded ([]: none yet, asyncio only), or None at the
        end. An exception cancels the query."""
        try:
            batch: Optional[List[bytes]] = self.rows.next_batch(ROW_BATCH)
            if not batch:
                return batch
            self.rows_seen = True
            return self.decode(batch)
        except BaseException:
            self.rows.close()
            raise

    def finish(self) -> Optional["QueryMetaData"]:
        """Once the rows are through: the response's metadata, or None to send the query
        again (its prepared statement was gone); raises the query's exception."""
        try:
            status, meta = self.rows.result()[:2]
        except CouchbaseException as exc:
            raise self.req.transport_error(exc) from None
        finally:
            self.rows.close()
        got = self.req.handle(status, meta)
        if got is None and self.rows_seen:  # a retry cannot take rows back
            raise InternalServerFailureException(
                message="the query failed after rows were returned",
                context=self.req.context(status, meta), error_code=5)
        return QueryMetaData(got[1]) if got is not None else None


class FetchedRequest:
    """A query whose response is in (txcouchbase's Deferred fires with it): iteration gives
    the rows, or raises the query's exception, as the blocking request does."""

    def __init__(self, outcome: Optional[QueryOutcome], error: Optional[BaseException]) -> None:
        self._outcome = outcome
        self._error = error
        self._started = False
        self._done = False

    def __iter__(self) -> Iterator[Any]:
        if self._started:
            raise AlreadyQueriedException()
        self._started = True
        if self._error is not None:
            raise self._error
        assert self._outcome is not None
        return self._rows(self._outcome)

    def _rows(self, outcome: QueryOutcome) -> Iterator[Any]:
        yield from outcome.iter_rows()
        self._done = True

    def execute(self) -> List[Any]:
        return list(self)

    def metadata(self) -> Optional[QueryMetaData]:
        return self._outcome.meta if self._outcome is not None and self._done else None


class N1QLRequest:
    """A blocking query: sent on the first iteration, ``execute()`` or ``rows()``; its rows
    stream (the wait for the next batch releases the GIL)."""

    def __init__(self, query_rows: Callable[..., Any], request: QueryRequest) -> None:
        self._query_rows = query_rows
        self._request = request
        self._meta: Optional[QueryMetaData] = None
        self._started = False
        self._done = False

    @property
    def params(self) -> Dict[str, Any]:
        return self._request.body

    @property
    def serializer(self) -> Serializer:
        return self._request.serializer or DefaultJsonSerializer()

    @property
    def started_streaming(self) -> bool:
        return self._started

    @property
    def done_streaming(self) -> bool:
        return self._done

    @classmethod
    def generate_n1ql_request(cls, query_rows: Callable[..., Any],
                              request: QueryRequest) -> "N1QLRequest":
        return cls(query_rows, request)

    def __iter__(self) -> Iterator[Any]:
        if self._done or self._started:
            raise AlreadyQueriedException()
        self._started = True
        return self._rows()

    def _rows(self) -> Iterator[Any]:
        decode = batch_decoder(self._request)
        while self._meta is None:
            stream = QueryStream(self._query_rows, self._request, decode)
            while (rows := stream.take()) is not None:
                try:
                    yield from rows
                except BaseException:
                    stream.rows.close()  # a reader that stops (break, error) cancels the query
                    raise
            self._meta = stream.finish()
        self._done = True

    def execute(self) -> List[Any]:
        return list(self)

    def metadata(self) -> Optional[QueryMetaData]:
        return self._meta if self._done else None


__all__ = ["QueryScanConsistency", "QueryProfile", "QueryStatus", "QueryProblem",
           "QueryWarning", "QueryError", "QueryMetrics", "QueryMetaData", "N1QLRequest",
           "FetchedRequest", "QueryRequest", "QueryOutcome", "QueryStream", "batch_decoder",
           "QUERY_ERROR_MAPPING"]
