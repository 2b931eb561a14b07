"""The managers' machinery, written once for the three front ends.

A manager's logic method is a generator: it yields an :class:`HttpCall` (one request to the
management or query service) or a :class:`Sleep`, and is sent back the call's parsed value (or
has the call's exception thrown into it); its return value is the method's. Each front end
drives the generator its own way: :func:`run_blocking` on the caller's thread,
:func:`run_async` on the loop (a coroutine; txcouchbase wraps it in a Deferred).

Errors follow management-api.md §1: the manager's regexes over the raw body, then over the
text found in a JSON body (a JSON string, each ``"<code> <msg>"`` of an ``errors`` list, each
value of an ``errors`` object, a top-level ``name``), else the class of the error code the
core would give (from the HTTP status)."""

import json
import re
import time
from datetime import timedelta
from typing import (Any, Callable, Dict, Generator, List, Mapping, Optional, Tuple, Type,
                    TypeVar, Union)
from urllib.parse import quote, urlencode

from couchbase.exceptions import (AmbiguousTimeoutException, CouchbaseException,
                                  HTTPErrorContext, InvalidArgumentException,
                                  PYCBC_ERROR_MAP, ParsingFailedException,
                                  UnAmbiguousTimeoutException)

DEFAULT_MGMT_TIMEOUT_MS = 75000
T = TypeVar("T")


class HttpCall:
    """One request; ``parse(status, body)`` gives the value sent back to the logic (and may
    raise). ``service``: "mgmt" or "query"."""

    def __init__(self, method: str, path: str, parse: Callable[[int, bytes], Any],
                 form: Optional[Union[Dict[str, Any], List[Tuple[str, Any]]]] = None,
                 json_body: Optional[Dict[str, Any]] = None, service: str = "mgmt",
                 timeout_ms: int = 0, idempotent: bool = False) -> None:
        self.method = method
        self.path = path
        self.parse = parse
        self.service = service
        self.timeout_ms = timeout_ms
        self.idempotent = idempotent
        self.body: Optional[bytes] = None
        self.content_type: Optional[str] = None
        if form is not None:
            self.body = urlencode(form).encode()
            self.content_type = "application/x-www-form-urlencoded"
        elif json_body is not None:
            self.body = json.dumps(json_body).encode()
            self.content_type = "application/json"

    def args(self) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
        return ((self.service, self.method, self.path, self.body, self.content_type),
                {"timeout_ms": self.timeout_ms, "idempotent": self.idempotent})

    def context(self, status: int = 0, body: bytes = b"") -> HTTPErrorContext:
        return HTTPErrorContext(method=self.method, path=self.path,
                                response_code=status or None,
                                response_body=body.decode("utf-8", "replace") if body else None)

    def transport_error(self, exc: CouchbaseException) -> CouchbaseException:
        """The engine's error with this request's context (every management timeout is
        ambiguous, as the official core gives it)."""
        klass: Type[CouchbaseException] = type(exc)
        if klass is UnAmbiguousTimeoutException and self.service == "mgmt":
            klass = AmbiguousTimeoutException
        return klass(message=exc.message, context=self.context(), error_code=exc.error_code)


class Sleep:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


Logic = Generator[Union[HttpCall, Sleep], Any, T]


def run_blocking(http_request: Callable[..., Tuple[int, bytes]], gen: "Logic[T]") -> T:
    value: Any = None
    error: Optional[BaseException] = None
    while True:
        try:
            step = gen.throw(error) if error is not None else gen.send(value)
        except StopIteration as stop:
            result: T = stop.value
            return result
        value, error = None, None
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            continue
        args, kwargs = step.args()
        try:
            status, body = http_request(*args, **kwargs)
        except CouchbaseException as exc:
            error = step.transport_error(exc)
            continue
        try:
            value = step.parse(status, body)
        except CouchbaseException as exc:
            error = exc


async def run_async(loop: Any, http_request: Callable[..., Any], gen: "Logic[T]") -> T:
    value: Any = None
    error: Optional[BaseException] = None
    while True:
        try:
            step = gen.throw(error) if error is not None else gen.send(value)
        except StopIteration as stop:
            result: T = stop.value
            return result
        value, error = None, None
        if isinstance(step, Sleep):
            done = loop.create_future()
            handle = loop.call_later(step.seconds, lambda f=done: f.done() or f.set_result(None))
            try:
                await done
            finally:
                handle.cancel()
            continue
        args, kwargs = step.args()
        try:
            status, body = await http_request(*args, **kwargs)
        except CouchbaseException as exc:
            error = step.transport_error(exc)
            continue
        try:
            value = step.parse(status, body)
        except CouchbaseException as exc:
            error = exc


# ---- options ------------------------------------------------------------------------------------


def merge(options: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """``options[0]`` updated with kwargs (kwargs win); None values dropped."""
    out: Dict[str, Any] = {}
    if options and options[0] is not None:
        out.update(options[0])
    out.update(kwargs)
    return {k: v for k, v in out.items() if v is not None}


def timeout_ms(args: Mapping[str, Any], default_ms: int) -> int:
    value = args.get("timeout")
    if value is None:
        return default_ms or DEFAULT_MGMT_TIMEOUT_MS
    if isinstance(value, timedelta):
        return max(int(value.total_seconds() * 1000), 1)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return max(int(value * 1000), 1)
    raise InvalidArgumentException(message="timeout must be a timedelta.")


def esc(name: str) -> str:
    """A name in a REST path, percent-encoded."""
    return quote(name, safe="")


# ---- errors -------------------------------------------------------------------------------------


def _texts(body: bytes) -> List[str]:
    """What the official ErrorMapper matches in a JSON body besides the raw text."""
    try:
        doc = json.loads(body)
    except ValueError:
        return []
    if isinstance(doc, str):
        return [doc]
    out: List[str] = []
    if isinstance(doc, dict):
        errors = doc.get("errors")
        if isinstance(errors, list):
            out += ["%s %s" % (e.get("code"), e.get("msg")) if isinstance(e, dict) else str(e)
                    for e in errors]
        elif isinstance(errors, dict):
            out += [str(v) for v in errors.values()]
        if isinstance(doc.get("_"), str):
            out.append(doc["_"])
        if isinstance(doc.get("name"), str):
            out.append(doc["name"])
    return out


def _status_code(status: int, text: str) -> int:
    """The official core's error code for a management reply it does not handle otherwise."""
    if status == 429:
        if "Limit(s) exceeded" in text:
            return 21
        if "Maximum number of collections has been reached for scope" in text:
            return 22
    if status == 400:
        return 3
    if status in (401, 403):
        return 6
    return 5


def mgmt_error(call: HttpCall, status: int, body: bytes,
               mapping: Mapping[str, Type[CouchbaseException]],
               code: Optional[int] = None) -> CouchbaseException:
    """The exception for a failed management reply: the manager's regexes first (raw body,
    then the JSON texts), else the class of ``code`` (default: by the HTTP status)."""
    text = body.decode("utf-8", "replace")
    klass: Optional[Type[CouchbaseException]] = None
    for candidate in [text] + _texts(body):
        for pattern, cls in mapping.items():
            if re.match(pattern, candidate):
                klass = cls
                break
        if klass is not None:
            break
    number = code if code is not None else _status_code(status, text)
    if klass is None:
        klass = PYCBC_ERROR_MAP.get(number, CouchbaseException)
    texts = _texts(body)
    message = texts[0] if texts else (text.strip() or "HTTP %d" % status)
    return klass(message=message, context=call.context(status, body), error_code=number)


def parse_json(call: HttpCall, status: int, body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise ParsingFailedException(message="the response is not JSON",
                                     context=call.context(status, body),
                                     error_code=8) from None


def check_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgumentException(message="%s must be a non-empty str." % what)
    return value


def front_end_methods(cls: Type[Any], names: Tuple[str, ...], kind: str) -> None:
    """Give cls (a logic subclass) the public methods: each drives ``self._<name>(...)``'s
    generator the way the front end ``kind`` ("blocking", "asyncio", "twisted") does."""
    for name in names:
        logic = getattr(cls, "_" + name)

        def make(logic: Any = logic, name: str = name) -> Any:
            method: Callable[..., Any]
            if kind == "blocking":
                def blocking(self: Any, *args: Any, **kwargs: Any) -> Any:
                    return run_blocking(self._http, logic(self, *args, **kwargs))
                method = blocking
            elif kind == "asyncio":
                async def coroutine(self: Any, *args: Any, **kwargs: Any) -> Any:
                    return await run_async(self._loop, self._http, logic(self, *args, **kwargs))
                method = coroutine
            else:
                def deferred(self: Any, *args: Any, **kwargs: Any) -> Any:
                    gen = logic(self, *args, **kwargs)
                    return self._deferred(run_async(self._loop, self._http, gen))
                method = deferred
            method.__name__ = name
            method.__qualname__ = "%s.%s" % (cls.__name__, name)
            method.__doc__ = logic.__doc__
            return method
        setattr(cls, name, make())


def cluster_info(default_timeout_ms: int, options: Tuple[Any, ...],
                 kwargs: Dict[str, Any]) -> "Logic[Any]":
    """``cluster.cluster_info()``: GET /pools/default as a ClusterInfoResult."""
    from couchbase.result import ClusterInfoResult
    args = merge(options, kwargs)

    def parse(status: int, body: bytes) -> Any:
        if status != 200:
            raise mgmt_error(call, status, body, {})
        return ClusterInfoResult({"info": parse_json(call, status, body)})
    call = HttpCall("GET", "/pools/default", parse, timeout_ms=timeout_ms(args, default_timeout_ms),
                    idempotent=True)
    got = yield call
    return got


class ManagerBase:
    """What every manager holds: the core's http_request, the default timeout, and (async
    front ends) the loop and the Deferred maker."""

    def __init__(self, http_request: Callable[..., Any], default_timeout_ms: int = 0,
                 loop: Any = None, deferred: Optional[Callable[[Any], Any]] = None) -> None:
        self._http = http_request
        self._timeout_ms = default_timeout_ms
        self._loop = loop
        self._deferred = deferred


__all__: List[str] = []
