"""The asyncio Cluster, Bucket, Scope, Collection and BinaryCollection (AsyncCluster, ... as the
official SDK names them; acouchbase.bucket, .scope, .collection and .binary_collection re-export
them from their official module paths).

Every operation returns an ``asyncio.Future`` made and resolved in C on the loop's thread; the C
result is wrapped in its ``couchbase.result`` class by the engine's completion, not by a
Python callback.
"""

import asyncio
from datetime import timedelta
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Type

from acouchbase import get_event_loop  # noqa: F401 - the official import path
from acouchbase.datastructures import (CouchbaseList, CouchbaseMap, CouchbaseQueue,
                                       CouchbaseSet)
from couchbase import _core
from couchbase._datastructures import StructureMethods
from couchbase._kv import (BinaryLogic, ClusterSettings, CollectionLogic, Combine, Endpoint,
                           Request, ScopeLogic, check_open, diagnostics_report, new_credentials,
                           http_ping_args, http_ping_entry, http_pings, ping_report,
                           pings_kv, unretrievable)
from couchbase.auth import Authenticator
from couchbase.diagnostics import ClusterState
from couchbase.exceptions import InvalidArgumentException, UnAmbiguousTimeoutException
from couchbase.options import (DiagnosticsOptions, PingOptions, WaitUntilReadyOptions,
                               forward_args)
from acouchbase.n1ql import AsyncN1QLRequest
from couchbase.n1ql import QueryRequest
from couchbase.management._run import cluster_info, run_async
from couchbase.result import ClusterInfoResult, QueryResult
from couchbase.result import (CounterResult, DiagnosticsResult, ExistsResult, GetReplicaResult,
                              GetResult, LookupInReplicaResult, LookupInResult,
                              MultiCounterResult, MultiExistsResult, MultiGetReplicaResult,
                              MultiGetResult, MultiMutationResult, MutateInResult,
                              MutationResult, PingResult, ScanResultIterable)
from couchbase.kv_range_scan import ScanType, scan_spec
from couchbase.options import ScanOptions
from acouchbase.kv_range_scan import AsyncRangeScanRequest


def _retrieve(future: "asyncio.Future[Any]") -> None:
    """Mark an internal future's failure as seen: it is reported by on_connect() and by the
    operations themselves, not logged as "never retrieved" when nobody awaited it."""
    if not future.cancelled():
        future.exception()


def _settle(future: "asyncio.Future[Any]") -> None:
    if not future.done():
        future.set_result(None)


async def _sleep(loop: Any, seconds: float) -> None:
    """asyncio.sleep on any loop object (asyncio.sleep needs the running asyncio loop)."""
    done = loop.create_future()
    handle = loop.call_later(seconds, _settle, done)
    try:
        await done
    finally:
        handle.cancel()


def _gather(loop: Any, futures: List["asyncio.Future[Any]"]) -> "asyncio.Future[List[Any]]":
    """A future of every outcome (result or exception), in order; cancelling it cancels all."""
    if not futures:
        empty: "asyncio.Future[List[Any]]" = loop.create_future()
        empty.set_result([])
        return empty
    return asyncio.gather(*futures, return_exceptions=True)


class AsyncCluster:
    """A cluster connection on the running loop (outside one: the current loop, as
    ``get_event_loop()`` gives). The constructor starts connecting; ``await cluster.on_connect()``
    waits for it. ``loop=`` names another loop.

    The coroutines here await only the loop's own futures, so the Twisted front end runs them
    on its reactor's loop unchanged."""

    def __init__(self, connstr: str, *options: Any, **kwargs: Any) -> None:
        loop = kwargs.pop("loop", None)
        settings = ClusterSettings(connstr, options, kwargs)
        self._loop: Any = loop or self._default_loop()
        self._authenticator = settings.authenticator
        self._transcoder = settings.transcoder
        self._server_group = settings.server_group
        self._core = _core.AsyncCluster(self._loop, *settings.core_args, **settings.core_kwargs)
        self._closed = False
        self._buckets: Dict[str, "AsyncBucket"] = {}
        self._query_timeout_ms = settings.query_timeout_ms
        self._management_timeout_ms = settings.management_timeout_ms
        self._prepared: Dict[str, str] = {}  # statement -> prepared name (adhoc=False)
        self._connect = self._core.connect()
        self._connect.add_done_callback(_retrieve)

    @staticmethod
    def _default_loop() -> Any:
        """The running loop, else (a constructor called outside a loop, as the official SDK
        allows) the current one, made if there is none."""
        return get_event_loop()

    @classmethod
    async def connect(cls, connstr: str, *options: Any, **kwargs: Any) -> "AsyncCluster":
        cluster = cls(connstr, *options, **kwargs)
        await cluster.on_connect()
        return cluster

    async def on_connect(self) -> None:
        await self._on_connect()

    async def _on_connect(self) -> None:
        self._check_open()
        await asyncio.shield(self._connect)  # a cancelled wait leaves the connect going

    def _check_open(self) -> None:
        check_open(self._closed)

    @property
    def connected(self) -> bool:
        return (self._connect.done() and not self._connect.cancelled()
                and self._connect.exception() is None)

    _bucket_class: "Type[AsyncBucket]"

    def set_authenticator(self, authenticator: Authenticator) -> None:
        """Credentials for the connections opened from now on (open ones keep theirs); the
        same kind of authenticator as before."""
        self._check_open()
        self._core.set_credentials(*new_credentials(self._authenticator, authenticator))
        self._authenticator = authenticator

    def query(self, statement: str, *options: Any, **kwargs: Any) -> QueryResult:
        """A SQL++ query (a plain method, as upstream): its result runs it on the first
        ``async for`` step or ``await result.execute()``."""
        self._check_open()
        return QueryResult(self._query(statement, options, kwargs, None))

    def _query(self, statement: str, options: Any, kwargs: Dict[str, Any],
               context: Any) -> AsyncN1QLRequest:
        return AsyncN1QLRequest(self._loop, self._core.query_rows,
                                self._query_request(statement, options, kwargs, context))

    def _query_request(self, statement: str, options: Any, kwargs: Dict[str, Any],
                       context: Any) -> QueryRequest:
        return QueryRequest(statement, options, kwargs, self._query_timeout_ms, context,
                            self._prepared)

    def buckets(self) -> Any:
        """The bucket manager (coroutine methods; Deferreds in txcouchbase)."""
        self._check_open()
        return self._manager("buckets", "BucketManager")

    @property
    def loop(self) -> Any:
        """The loop this cluster runs on."""
        return self._loop

    async def cluster_info(self, *options: Any, **kwargs: Any) -> ClusterInfoResult:
        """The cluster's nodes and server version (GET /pools/default)."""
        return await self._cluster_info(*options, **kwargs)

    async def _cluster_info(self, *options: Any, **kwargs: Any) -> ClusterInfoResult:
        self._check_open()
        result: ClusterInfoResult = await run_async(
            self._loop, self._core.http_request,
            cluster_info(self._management_timeout_ms, options, kwargs))
        return result

    def users(self) -> Any:
        """The user manager (coroutines; Deferreds in txcouchbase)."""
        self._check_open()
        return self._manager("users", "UserManager")

    def query_indexes(self) -> Any:
        """The query index manager (coroutines; Deferreds in txcouchbase)."""
        self._check_open()
        return self._manager("queries", "QueryIndexManager")

    def _manager(self, module: str, name: str, *args: Any) -> Any:
        """The front end's manager class ``name`` of ``<package>.management.<module>``."""
        import importlib
        package = "txcouchbase" if self._is_twisted else "acouchbase"
        cls = getattr(importlib.import_module("%s.management.%s" % (package, module)), name)
        return cls(self._core.http_request, self._management_timeout_ms, *args,
                   loop=self._loop, deferred=self._manager_deferred)

    _is_twisted = False

    def _manager_deferred(self, coro: Any) -> Any:
        return coro

    def bucket(self, bucket_name: str) -> "AsyncBucket":
        self._check_open()
        bucket = self._bucket_class(self, bucket_name)
        self._buckets[bucket_name] = bucket
        return bucket

    async def _endpoints(self, buckets: Iterable[Optional[str]]) -> List[Endpoint]:
        await self._on_connect()
        got = await _gather(self._loop, [self._core.ping(b) for b in buckets])
        for report in got:
            if isinstance(report, BaseException):
                raise report
        return [ep for report in got for ep in report]

    async def ping(self, *opts: PingOptions, **kwargs: Any) -> PingResult:
        """A NOOP on every KV connection (the cluster's own and those of its open buckets),
        and one request to the query and the management service."""
        return await self._ping(*opts, **kwargs)

    async def _ping(self, *opts: PingOptions, **kwargs: Any) -> PingResult:
        args = forward_args(kwargs, *opts)
        endpoints: List[Endpoint] = []
        if pings_kv(args):
            endpoints = await self._endpoints([None, *self._buckets])
        pings = http_pings(args)
        futures = []
        for _kind, service, path in pings:
            a, kw = http_ping_args(service, path, args)
            futures.append(self._core.http_request(*a, **kw))
        outcomes = await _gather(self._loop, futures)
        http = [http_ping_entry(p[0], o) for p, o in zip(pings, outcomes)]
        return ping_report(args.get("report_id"), endpoints, http)

    async def diagnostics(self, *opts: DiagnosticsOptions, **kwargs: Any) -> DiagnosticsResult:
        """The state of every KV connection, without sending anything."""
        return await self._diagnostics(*opts, **kwargs)

    async def _diagnostics(self, *opts: DiagnosticsOptions,
                           **kwargs: Any) -> DiagnosticsResult:
        args = forward_args(kwargs, *opts)
        await self._on_connect()
        return diagnostics_report(args.get("report_id"), await self._core.diagnostics())

    async def wait_until_ready(self, timeout: timedelta, *opts: WaitUntilReadyOptions,
                               **kwargs: Any) -> None:
        """Until diagnostics report ``desired_state`` (default Online), polling every 100 ms as
        the official SDK does; UnAmbiguousTimeoutException after ``timeout``."""
        await self._wait_until_ready(timeout, *opts, **kwargs)

    async def _wait_until_ready(self, timeout: timedelta, *opts: WaitUntilReadyOptions,
                                **kwargs: Any) -> None:
        args = forward_args(kwargs, *opts)
        desired = args.get("desired_state") or ClusterState.Online
        pings_kv(args)
        if not isinstance(timeout, timedelta):
            raise InvalidArgumentException("timeout must be a timedelta.")
        deadline = self._loop.time() + timeout.total_seconds()
        connected = self._loop.create_future()
        self._connect.add_done_callback(lambda _: _settle(connected))
        handle = self._loop.call_later(timeout.total_seconds(), _settle, connected)
        try:
            await connected
        finally:
            handle.cancel()
        if not self._connect.done():
            raise UnAmbiguousTimeoutException("Desired state not found.")
        while True:
            if (await self._diagnostics()).state == desired:
                return
            if self._loop.time() >= deadline:
                raise UnAmbiguousTimeoutException("Desired state not found.")
            await _sleep(self._loop, 0.1)

    async def close(self) -> None:
        """Fail what is pending (RequestCanceledException) and close the connections. As in the
        official SDK, closing a cluster whose connection failed raises that failure again."""
        await self._close()

    async def _close(self) -> None:
        if self._closed:
            return
        failed = self._connect.done() and not self._connect.cancelled()
        self._core.close()
        self._closed = True
        failure = self._connect.exception() if failed else None
        if failure is not None:
            raise failure


class AsyncBucket:
    def __init__(self, cluster: "AsyncCluster", name: str) -> None:
        self._cluster = cluster
        self._name = name
        self._open = cluster._core.open_bucket(name)
        self._open.add_done_callback(_retrieve)

    def collections(self) -> Any:
        """The collection manager of this bucket (coroutines; Deferreds in txcouchbase)."""
        self._cluster._check_open()
        return self._cluster._manager("collections", "CollectionManager", self._name)

    @property
    def name(self) -> str:
        return self._name

    async def on_connect(self) -> None:
        await asyncio.shield(self._open)

    async def close(self) -> None:
        """Close this bucket's connections (its pending operations raise
        RequestCanceledException); a later operation on it opens it again, as in the official
        SDK."""
        self._close()

    def _close(self) -> None:
        self._cluster._check_open()
        self._cluster._core.close_bucket(self._name)
        self._cluster._buckets.pop(self._name, None)

    _scope_class: "Type[AsyncScope]"

    def default_scope(self) -> "AsyncScope":
        return self.scope("_default")

    def scope(self, name: str) -> "AsyncScope":
        return self._scope_class(self, name)

    def default_collection(self) -> "AsyncCollection":
        return self.default_scope().collection("_default")

    def collection(self, name: str) -> "AsyncCollection":
        return self.default_scope().collection(name)

    async def ping(self, *opts: PingOptions, **kwargs: Any) -> PingResult:
        """A NOOP on each KV connection of this bucket."""
        return await self._ping(*opts, **kwargs)

    async def _ping(self, *opts: PingOptions, **kwargs: Any) -> PingResult:
        args = forward_args(kwargs, *opts)
        endpoints: List[Endpoint] = []
        if pings_kv(args):
            await asyncio.shield(self._open)
            endpoints = await self._cluster._endpoints([self._name])
        return ping_report(args.get("report_id"), endpoints)


class AsyncScope(ScopeLogic):
    _bucket: "AsyncBucket"
    _collection_class: "Type[AsyncCollection]"

    def collection(self, name: str) -> "AsyncCollection":
        return self._collection_class(self, name)

    def query(self, statement: str, *options: Any, **kwargs: Any) -> QueryResult:
        """A query in this scope (query_context `bucket`.`scope`, unless given)."""
        cluster = self._bucket._cluster
        cluster._check_open()
        return QueryResult(cluster._query(statement, options, kwargs, self._query_context()))


class LoopCollection:
    """How a collection runs its requests on a loop: each becomes the loop's future
    (txcouchbase's collection makes them Deferreds). Mixed into a CollectionLogic."""

    _keyspace: Tuple[str, str, str]
    _submit: Callable[..., Any]

    def __init__(self, scope: "AsyncScope", name: str) -> None:
        self._scope = scope
        self._name = name
        bucket = scope._bucket
        cluster = bucket._cluster
        self._loop = cluster._loop
        self._core = cluster._core
        self._transcoder = cluster._transcoder
        self._server_group = cluster._server_group
        self._keyspace = (bucket._name, scope._name, name)
        self._submit = self._core.submit

    def _run(self, req: Request) -> Any:
        return self._core.submit(*req[0], **req[1])

    def _start(self, reqs: List[Request]) -> List["asyncio.Future[Any]"]:
        futures: List["asyncio.Future[Any]"] = []
        try:
            for req in reqs:
                futures.append(self._core.submit(*req[0], **req[1]))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return futures

    def _run_all(self, reqs: List[Request], combine: Combine) -> Any:
        return _then(_gather(self._loop, self._start(reqs)), combine)

    def _run_any(self, reqs: List[Request], key: str) -> Any:
        """Resolved by the first copy to answer; the other reads are then cancelled."""
        reads = self._start(reqs)
        first: "asyncio.Future[Any]" = self._loop.create_future()

        def settle(_: "asyncio.Future[Any]") -> None:
            # a read may be done before its own callbacks ran: look at all of them each time
            if first.done():
                return
            for read in reads:
                if read.done() and not read.cancelled() and read.exception() is None:
                    first.set_result(read.result())
                    for other in reads:
                        other.cancel()
                    return
            if all(r.done() for r in reads):
                first.set_exception(unretrievable(key))

        def cancel(_: Any) -> None:
            if first.cancelled():
                for read in reads:
                    read.cancel()

        for read in reads:
            read.add_done_callback(_retrieve)
            read.add_done_callback(settle)
        first.add_done_callback(cancel)
        if not reads:  # no copy could be asked (the read preference)
            first.set_exception(unretrievable(key))
        return first


class AsyncCollection(LoopCollection, StructureMethods, CollectionLogic[
        "asyncio.Future[GetResult]", "asyncio.Future[ExistsResult]",
        "asyncio.Future[MutationResult]", "asyncio.Future[None]",
        "asyncio.Future[GetReplicaResult]", "asyncio.Future[Iterator[GetReplicaResult]]",
        "asyncio.Future[LookupInResult]", "asyncio.Future[MutateInResult]",
        "asyncio.Future[MultiGetResult]", "asyncio.Future[MultiExistsResult]",
        "asyncio.Future[MultiMutationResult]", "asyncio.Future[Dict[str, Any]]",
        "asyncio.Future[MultiGetReplicaResult]", "asyncio.Future[LookupInReplicaResult]",
        "asyncio.Future[Iterator[LookupInReplicaResult]]"]):
    """KV, sub-document and ``*_multi`` operations on one collection; each returns an
    ``asyncio.Future`` (``*_multi``: one Future of the MultiResult)."""

    def binary(self) -> "BinaryCollection":
        return BinaryCollection(self)

    def query_indexes(self) -> Any:
        """The query index manager of this collection (coroutines)."""
        cluster = self._scope._bucket._cluster
        cluster._check_open()
        return cluster._manager("queries", "CollectionQueryIndexManager", self._keyspace)

    def scan(self, scan_type: ScanType, *opts: ScanOptions, **kwargs: Any) -> ScanResultIterable:
        """A KV range scan of this collection (a plain call, as in the official SDK), iterated
        with ``async for``; cancelled by ``cancel_scan()`` or when dropped."""
        args = forward_args(kwargs, *opts)
        spec = scan_spec(scan_type, args)
        transcoder = args.get("transcoder") or self._transcoder
        core, keyspace = self._core, self._keyspace
        return ScanResultIterable(AsyncRangeScanRequest(
            lambda: core.scan(*keyspace, **spec), spec["ids_only"], transcoder, self._loop))

    def _sleep(self, seconds: float) -> Any:
        return _sleep(self._loop, seconds)

    _structures = (CouchbaseList, CouchbaseMap, CouchbaseSet, CouchbaseQueue)


class BinaryCollection(BinaryLogic[
        "asyncio.Future[CounterResult]", "asyncio.Future[MutationResult]",
        "asyncio.Future[MultiCounterResult]", "asyncio.Future[MultiMutationResult]"]):
    """Counters and raw appends on a collection's documents."""


AsyncCluster._bucket_class = AsyncBucket
AsyncBucket._scope_class = AsyncScope
AsyncScope._collection_class = AsyncCollection


def _then(future: "asyncio.Future[Any]", fn: Any) -> "asyncio.Future[Any]":
    """A future of fn(future's result) (or of its exception); cancelling it cancels future."""
    out = future.get_loop().create_future()

    def done(f: "asyncio.Future[Any]") -> None:
        if out.done():
            return
        if f.cancelled():
            out.cancel()
            return
        try:
            out.set_result(fn(f.result()))
        except BaseException as exc:  # noqa: B902 - handed to the awaiting caller
            out.set_exception(exc)

    future.add_done_callback(done)
    out.add_done_callback(lambda o: future.cancel() if o.cancelled() else None)
    return out


# The official names: AsyncCluster etc., with the short aliases most code uses.
Cluster = AsyncCluster
Bucket = AsyncBucket
Scope = AsyncScope
Collection = AsyncCollection

__all__ = ["AsyncCluster", "AsyncBucket", "AsyncScope", "AsyncCollection", "BinaryCollection",
           "Cluster", "Bucket", "Scope", "Collection"]
