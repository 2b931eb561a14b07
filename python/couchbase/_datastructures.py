"""The datastructures (CouchbaseList, CouchbaseMap, CouchbaseSet, CouchbaseQueue) once, for
the blocking and the asyncio front ends.

Each operation is a generator of steps: it yields ``(method, args)`` for a call on the
collection (``get``, ``insert``, ``remove``, ``lookup_in``, ``mutate_in``) or ``(SLEEP, seconds)``,
and is sent the call's result or thrown its exception. ``run_blocking`` drives the steps with
plain calls, ``run_async`` with awaits, so the rules (create on first use, the CAS retry loops of
``CouchbaseSet.remove`` and ``CouchbaseQueue.pop``, the official errors) are written once.
"""

import time
from datetime import timedelta
from typing import Any, Callable, Dict, Generator, List, Optional, Tuple

from couchbase.exceptions import (CasMismatchException, DocumentExistsException,
                                  DocumentNotFoundException, InvalidArgumentException,
                                  PathExistsException, PathNotFoundException, QueueEmpty,
                                  UnAmbiguousTimeoutException)
from couchbase.options import LookupInOptions, MutateInOptions
from couchbase.result import OperationResult
from couchbase.subdocument import (array_addunique, array_append, array_prepend, count,
                                   exists, get, remove, replace, upsert)

Step = Tuple[str, Tuple[Any, ...]]
Steps = Generator[Step, Any, Any]
SLEEP = "sleep"


class _Done(Exception):
    """The steps finished with ``value``."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


def _next(steps: Steps, value: Any, exc: Optional[BaseException]) -> Step:
    """The next step, after handing the last one's outcome in; _Done at the end."""
    try:
        return steps.throw(exc) if exc is not None else steps.send(value)
    except StopIteration as stop:
        raise _Done(stop.value) from None


def run_blocking(coll: Any, steps: Steps) -> Any:
    """The steps' value, each call made on coll and waited for."""
    value: Any = None
    exc: Optional[BaseException] = None
    try:
        while True:
            method, args = _next(steps, value, exc)
            value, exc = None, None
            try:
                if method == SLEEP:
                    time.sleep(args[0])
                else:
                    value = getattr(coll, method)(*args)
            except Exception as e:  # noqa: B902 - thrown into the steps
                exc = e
    except _Done as done:
        return done.value


async def run_async(coll: Any, steps: Steps, sleep: Callable[[float], Any]) -> Any:
    """The same with each call awaited; ``sleep(seconds)`` is the front end's awaitable."""
    value: Any = None
    exc: Optional[BaseException] = None
    try:
        while True:
            method, args = _next(steps, value, exc)
            value, exc = None, None
            try:
                value = await (sleep(args[0]) if method == SLEEP else getattr(coll, method)(*args))
            except Exception as e:  # noqa: B902 - thrown into the steps
                exc = e
    except _Done as done:
        return done.value


class StructureMethods:
    """``couchbase_list(key)`` and the others of a Collection; ``_structures`` names the front
    end's four classes (list, map, set, queue)."""

    _structures: Tuple[Any, Any, Any, Any]

    def couchbase_list(self, key: str) -> Any:
        return self._structures[0](key, self)

    def couchbase_map(self, key: str) -> Any:
        return self._structures[1](key, self)

    def couchbase_set(self, key: str) -> Any:
        return self._structures[2](key, self)

    def couchbase_queue(self, key: str) -> Any:
        return self._structures[3](key, self)


def _field(result: Any) -> Any:
    """The first spec's value of a lookup_in result; None where the path is missing (the
    official SDK's get_at past the end, or map get of a missing key, gives None, not an
    error)."""
    try:
        return result.content_as[lambda v: v](0)
    except PathNotFoundException:
        return None


class _Structure:
    """One datastructure document: ``_empty`` is what a first use creates."""

    _empty: Callable[[], Any] = list

    def __init__(self, key: str, collection: Any) -> None:
        self._key = key
        self._collection = collection

    def _run(self, steps: Steps) -> Any:
        raise NotImplementedError

    def _created(self, method: str, *args: Any) -> Steps:
        """The call, the document created empty first if it is missing."""
        try:
            return (yield method, args)
        except DocumentNotFoundException:
            try:
                yield "insert", (self._key, self._empty())
            except DocumentExistsException:
                pass
            return (yield method, args)

    def _content(self) -> Steps:
        result = yield from self._created("get", self._key)
        return result.content_as[self._empty]

    def _in_range(self, call: Steps, message: str) -> Steps:
        try:
            return (yield from call)
        except PathNotFoundException:
            raise InvalidArgumentException(message) from None

    def _lookup(self, spec: Any) -> Steps:
        """The value of one lookup spec (the document created if missing)."""
        result = yield from self._created("lookup_in", self._key, (spec,))
        return _field(result)

    def _size(self) -> Steps:
        return (yield from self._lookup(count("")))

    def _clear(self) -> Steps:
        try:
            yield "remove", (self._key,)
        except DocumentNotFoundException:
            pass

    def _cas_retry(self, attempt: Callable[[], Steps], timeout: Optional[timedelta],
                   what: str) -> Steps:
        """attempt() until it returns without a CAS mismatch, waiting 50 ms, then 550 ms, then
        each second between tries (the official schedule); UnAmbiguousTimeoutException after
        timeout (10 s)."""
        limit = (timeout or timedelta(seconds=10)).total_seconds()
        start = time.monotonic()
        interval = 0.05
        while True:
            try:
                return (yield from attempt())
            except CasMismatchException:
                pass
            interval = min(interval + 0.5, 1.0)
            left = limit - (time.monotonic() - start)
            if left <= 0:
                raise UnAmbiguousTimeoutException(what)
            yield SLEEP, (min(interval, left),)

    def size(self) -> Any:
        """The number of items."""
        return self._run(self._size())

    def clear(self) -> Any:
        """Remove the whole document (a missing one is fine)."""
        return self._run(self._clear())


class ListLogic(_Structure):
    """A JSON array in one document."""

    def append(self, value: Any) -> Any:
        return self._run(self._created("mutate_in", self._key, (array_append("", value),)))

    def prepend(self, value: Any) -> Any:
        return self._run(self._created("mutate_in", self._key, (array_prepend("", value),)))

    def set_at(self, index: int, value: Any) -> Any:
        return self._run(self._in_range(
            self._created("mutate_in", self._key, (replace("[%d]" % index, value),)),
            "Index: %d is out of range." % index))

    def get_at(self, index: int) -> Any:
        """The item (None past the end, as in the official SDK)."""
        return self._run(self._lookup(get("[%d]" % index)))

    def remove_at(self, index: int) -> Any:
        return self._run(self._in_range(
            self._created("mutate_in", self._key, (remove("[%d]" % index),)),
            "Index: %d is out of range." % index))

    def _index_of(self, value: Any) -> Steps:
        items = yield from self._content()
        return next((i for i, v in enumerate(items) if v == value), -1)

    def index_of(self, value: Any) -> Any:
        """The index of the first item equal to value, -1 if none is."""
        return self._run(self._index_of(value))

    def get_all(self) -> Any:
        return self._run(self._content())


class MapLogic(_Structure):
    """A JSON object in one document."""

    _empty = dict

    def add(self, mapkey: str, value: Any) -> Any:
        return self._run(self._created("mutate_in", self._key, (upsert(mapkey, value),)))

    def get(self, mapkey: str) -> Any:
        return self._run(self._lookup(get(mapkey)))

    def remove(self, mapkey: str) -> Any:
        return self._run(self._in_range(
            self._created("mutate_in", self._key, (remove(mapkey),)),
            "Key: %s is not in the map." % mapkey))

    def _exists(self, mapkey: str) -> Steps:
        result = yield from self._created("lookup_in", self._key, (exists(mapkey),))
        return result.exists(0)

    def exists(self, key: str) -> Any:
        return self._run(self._exists(key))

    def _view(self, fn: Callable[[Dict[str, Any]], Any]) -> Steps:
        content = yield from self._content()
        return fn(content)

    def keys(self) -> Any:
        return self._run(self._view(lambda d: list(d.keys())))

    def values(self) -> Any:
        return self._run(self._view(lambda d: list(d.values())))

    def get_all(self) -> Any:
        return self._run(self._content())

    def items(self) -> Any:
        """A generator of (key, value) pairs."""
        return self._run(self._view(lambda d: ((k, v) for k, v in d.items())))


class SetLogic(_Structure):
    """A JSON array of unique primitive values in one document."""

    def _add(self, value: Any) -> Steps:
        try:
            yield from self._created("mutate_in", self._key, (array_addunique("", value),))
        except PathExistsException:
            return False
        return True

    def add(self, value: Any) -> Any:
        """True if value was added, False if it was there already."""
        return self._run(self._add(value))

    def _remove_once(self, value: Any) -> Steps:
        result = yield from self._created("get", self._key)
        items = result.content_as[list]
        if value in items:
            yield "mutate_in", (self._key, (remove("[%d]" % items.index(value)),),
                                MutateInOptions(cas=result.cas))

    def remove(self, value: Any, timeout: Optional[timedelta] = None) -> Any:
        return self._run(self._cas_retry(lambda: self._remove_once(value), timeout,
                                         "Unable to remove %s from the CouchbaseSet." % (value,)))

    def _contains(self, value: Any) -> Steps:
        items = yield from self._content()
        return value in items

    def contains(self, value: Any) -> Any:
        return self._run(self._contains(value))

    def values(self) -> Any:
        return self._run(self._content())


class QueueLogic(_Structure):
    """A FIFO queue as a JSON array: push at the front, pop from the back."""

    def push(self, value: Any) -> Any:
        return self._run(self._created("mutate_in", self._key, (array_prepend("", value),)))

    def _pop_once(self) -> Steps:
        result = yield from self._created("lookup_in", self._key, (get("[-1]"),))
        try:
            yield "mutate_in", (self._key, (remove("[-1]"),), MutateInOptions(cas=result.cas))
        except PathNotFoundException:
            raise QueueEmpty("No items to remove from the queue") from None
        return _field(result)

    def pop(self, timeout: Optional[timedelta] = None) -> Any:
        """The oldest item, removed; QueueEmpty if there is none."""
        return self._run(self._cas_retry(self._pop_once, timeout,
                                         "Unable to pop from the CouchbaseQueue."))


class LegacyMethods:
    """The deprecated datastructure methods of the official blocking Collection (``list_append``,
    ``map_get``, ``queue_pop``, ...) on the Collection's own calls; ``couchbase_list(key)`` and
    the others are the current API. A missing path raises IndexError (lists, sets, queues) or
    KeyError (maps); with ``create=True`` a missing document is made first."""

    def _sd(self, key: str, spec: Any, kwargs: Dict[str, Any], create: bool = False,
            empty: Any = None, missing: Any = IndexError) -> Any:
        """The mutate_in result, or the lookup's value."""
        lookup = spec.is_lookup
        call = getattr(self, "lookup_in" if lookup else "mutate_in")
        opts = (LookupInOptions if lookup else MutateInOptions)(**kwargs)
        try:
            try:
                result = call(key, (spec,), opts)
            except DocumentNotFoundException:
                if not create:
                    raise
                try:
                    getattr(self, "insert")(key, empty)
                except DocumentExistsException:
                    pass
                result = call(key, (spec,), opts)
            return (_field(result), result.cas) if lookup else result
        except PathNotFoundException:
            raise missing(spec.path) from None

    def _mutation(self, key: str, spec: Any, kwargs: Dict[str, Any], create: bool = False,
                  empty: Any = None, missing: Any = IndexError) -> OperationResult:
        result = self._sd(key, spec, kwargs, create, empty, missing)
        return OperationResult(result.cas, result.mutation_token())

    def _value(self, key: str, spec: Any, kwargs: Dict[str, Any],
               missing: Any = IndexError) -> Any:
        return self._sd(key, spec, kwargs, missing=missing)[0]

    def list_append(self, key: str, value: Any, create: bool = False,
                    **kwargs: Any) -> OperationResult:
        return self._mutation(key, array_append("", value), kwargs, bool(create), [])

    def list_prepend(self, key: str, value: Any, create: bool = False,
                     **kwargs: Any) -> OperationResult:
        return self._mutation(key, array_prepend("", value), kwargs, bool(create), [])

    def list_set(self, key: str, index: int, value: Any, **kwargs: Any) -> OperationResult:
        return self._mutation(key, replace("[%d]" % index, value), kwargs)

    def list_get(self, key: str, index: int, **kwargs: Any) -> Any:
        return self._value(key, get("[%d]" % index), kwargs)

    def list_remove(self, key: str, index: int, **kwargs: Any) -> OperationResult:
        return self._mutation(key, remove("[%d]" % index), kwargs)

    def list_size(self, key: str, **kwargs: Any) -> int:
        return int(self._value(key, count(""), kwargs))

    def map_add(self, key: str, mapkey: str, value: Any, create: bool = False,
                **kwargs: Any) -> OperationResult:
        return self._mutation(key, upsert(mapkey, value), kwargs, bool(create), {}, KeyError)

    def map_get(self, key: str, mapkey: str, **kwargs: Any) -> Any:
        return self._value(key, get(mapkey), kwargs, KeyError)

    def map_remove(self, key: str, mapkey: str, **kwargs: Any) -> OperationResult:
        return self._mutation(key, remove(mapkey), kwargs, missing=KeyError)

    def map_size(self, key: str, **kwargs: Any) -> int:
        return int(self._value(key, count(""), kwargs, KeyError))

    def set_add(self, key: str, value: Any, create: bool = False,
                **kwargs: Any) -> Optional[OperationResult]:
        """The OperationResult, or None if value was there already."""
        try:
            return self._mutation(key, array_addunique("", value), kwargs, bool(create), [])
        except PathExistsException:
            return None

    def set_remove(self, key: str, value: Any, **kwargs: Any) -> Optional[OperationResult]:
        """The OperationResult, or None if value was not there (retried on a CAS mismatch)."""
        while True:
            got = getattr(self, "get")(key)
            items: List[Any] = got.content_as[list]
            if value not in items:
                return None
            try:
                return self.list_remove(key, items.index(value), **{**kwargs, "cas": got.cas})
            except CasMismatchException:
                continue

    def set_size(self, key: str, **kwargs: Any) -> int:
        return self.list_size(key, **kwargs)

    def set_contains(self, key: str, value: Any, **kwargs: Any) -> bool:
        return value in getattr(self, "get")(key).content_as[list]

    def queue_push(self, key: str, value: Any, create: bool = False,
                   **kwargs: Any) -> OperationResult:
        return self.list_prepend(key, value, create=create, **kwargs)

    def queue_pop(self, key: str, **kwargs: Any) -> Any:
        """The oldest item, removed; QueueEmpty if there is none."""
        while True:
            try:
                value, cas = self._sd(key, get("[-1]"), {})
                self._mutation(key, remove("[-1]"), {**kwargs, "cas": cas})
                return value
            except IndexError:
                raise QueueEmpty("No items to remove from the queue") from None
            except CasMismatchException:
                continue

    def queue_size(self, key: str) -> int:
        return self.list_size(key)
