"""The Twisted Cluster, Bucket, Scope, Collection and BinaryCollection (TxCluster, ... as the
official SDK also names them; txcouchbase.bucket, .scope, .collection and .binary_collection
re-export them from their official module paths).

The asyncio front end's classes, run on the installed reactor through ``ReactorLoop``: every
operation returns a ``Deferred`` (cancelling it cancels the operation). As in the official SDK
there is no ``Cluster.connect``: construct, then wait for ``on_connect()``. Unlike it, the
reactor need not be running yet when the Cluster is made.
"""

import asyncio
from datetime import timedelta
from functools import partial
from typing import Any, Callable, Coroutine, Dict, Iterator, List
from weakref import WeakKeyDictionary

from twisted.internet.defer import CancelledError, Deferred

from acouchbase.cluster import AsyncBucket, AsyncCluster, AsyncScope, LoopCollection
from couchbase._kv import BinaryLogic, CollectionLogic, Combine, Request
from couchbase.options import DiagnosticsOptions, PingOptions, WaitUntilReadyOptions
from couchbase.result import (CounterResult, DiagnosticsResult, ExistsResult, GetReplicaResult,
                              GetResult, LookupInReplicaResult, LookupInResult,
                              MultiCounterResult, MultiExistsResult, MultiGetReplicaResult,
                              MultiGetResult, MultiMutationResult, MutateInResult,
                              MutationResult, PingResult)
from couchbase.result import ClusterInfoResult, QueryResult
from txcouchbase._reactor import ReactorLoop
from txcouchbase.n1ql import fetch_result


_loops: "WeakKeyDictionary[Any, ReactorLoop]" = WeakKeyDictionary()


def _reactor_loop() -> ReactorLoop:
    """The loop of the installed reactor (one per reactor, shared by its clusters)."""
    from twisted.internet import reactor
    loop = _loops.get(reactor)
    if loop is None:
        loop = _loops[reactor] = ReactorLoop(reactor)
    return loop


def _submit_deferred(submit: Callable[..., Any], *args: Any, **fields: Any) -> "Deferred[Any]":
    """TxCollection's fast-path submit: the core's future as a Deferred."""
    return _deferred(submit(*args, **fields))


def _deferred(future: "asyncio.Future[Any]") -> "Deferred[Any]":
    """A Deferred of the future's outcome; cancelling it cancels the future (and so the
    operation), and it then fails with twisted's CancelledError."""

    def done(f: "asyncio.Future[Any]") -> None:
        if d.called:  # cancelled: the outcome is nobody's
            if not f.cancelled():
                f.exception()
            return
        if f.cancelled():
            d.errback(CancelledError())
            return
        exc = f.exception()
        if exc is None:
            d.callback(f.result())
        else:
            d.errback(exc)

    def cancel(_: "Deferred[Any]") -> None:
        future.cancel()

    d: "Deferred[Any]" = Deferred(cancel)
    future.add_done_callback(done)
    return d


class TxCluster(AsyncCluster):
    """A cluster connection on the installed reactor; the constructor starts connecting and
    ``on_connect()`` gives a Deferred of it."""

    @staticmethod
    def _default_loop() -> Any:
        return _reactor_loop()

    def _deferred(self, coro: Coroutine[Any, Any, Any]) -> "Deferred[Any]":
        return _deferred(self._loop.create_task(coro))

    _is_twisted = True

    def _manager_deferred(self, coro: Any) -> Any:
        return self._deferred(coro)

    def on_connect(self) -> "Deferred[None]":  # type: ignore[override]
        return self._deferred(self._on_connect())

    def query(self, statement: str, *options: Any,  # type: ignore[override]
              **kwargs: Any) -> "Deferred[QueryResult]":
        """A Deferred of the query's result, fired once the whole response arrived."""
        self._check_open()
        req = self._query_request(statement, options, kwargs, None)
        return self._deferred(fetch_result(self._core.http_request, req))

    def bucket(self, bucket_name: str) -> "TxBucket":
        bucket = super().bucket(bucket_name)
        assert isinstance(bucket, TxBucket)
        return bucket

    def ping(self, *opts: PingOptions,  # type: ignore[override]
             **kwargs: Any) -> "Deferred[PingResult]":
        return self._deferred(self._ping(*opts, **kwargs))

    def diagnostics(self, *opts: DiagnosticsOptions,  # type: ignore[override]
                    **kwargs: Any) -> "Deferred[DiagnosticsResult]":
        return self._deferred(self._diagnostics(*opts, **kwargs))

    def cluster_info(self, *opts: Any,  # type: ignore[override]
                     **kwargs: Any) -> "Deferred[ClusterInfoResult]":
        return self._deferred(self._cluster_info(*opts, **kwargs))

    def wait_until_ready(self, timeout: timedelta,  # type: ignore[override]
                         *opts: WaitUntilReadyOptions, **kwargs: Any) -> "Deferred[None]":
        return self._deferred(self._wait_until_ready(timeout, *opts, **kwargs))

    def close(self) -> "Deferred[None]":  # type: ignore[override]
        return self._deferred(self._close())


class TxBucket(AsyncBucket):
    _cluster: TxCluster

    def on_connect(self) -> "Deferred[None]":  # type: ignore[override]
        return _deferred(asyncio.shield(self._open))

    def close(self) -> "Deferred[None]":  # type: ignore[override]
        return self._cluster._deferred(AsyncBucket.close(self))

    def ping(self, *opts: PingOptions,  # type: ignore[override]
             **kwargs: Any) -> "Deferred[PingResult]":
        return self._cluster._deferred(self._ping(*opts, **kwargs))

    def default_scope(self) -> "TxScope":
        return self.scope("_default")

    def scope(self, name: str) -> "TxScope":
        return TxScope(self, name)

    def default_collection(self) -> "TxCollection":  # type: ignore[override]
        return self.default_scope().collection("_default")

    def collection(self, name: str) -> "TxCollection":  # type: ignore[override]
        return self.default_scope().collection(name)


class TxScope(AsyncScope):
    _bucket: TxBucket

    def collection(self, name: str) -> "TxCollection":  # type: ignore[override]
        return TxCollection(self, name)

    def query(self, statement: str, *options: Any,  # type: ignore[override]
              **kwargs: Any) -> "Deferred[QueryResult]":
        """A Deferred of the query's result in this scope (query_context `bucket`.`scope`)."""
        cluster = self._bucket._cluster
        cluster._check_open()
        req = cluster._query_request(statement, options, kwargs, self._query_context())
        return cluster._deferred(fetch_result(cluster._core.http_request, req))


class TxCollection(LoopCollection, CollectionLogic[
        "Deferred[GetResult]", "Deferred[ExistsResult]", "Deferred[MutationResult]",
        "Deferred[None]", "Deferred[GetReplicaResult]", "Deferred[Iterator[GetReplicaResult]]",
        "Deferred[LookupInResult]", "Deferred[MutateInResult]", "Deferred[MultiGetResult]",
        "Deferred[MultiExistsResult]", "Deferred[MultiMutationResult]", "Deferred[Dict[str, Any]]",
        "Deferred[MultiGetReplicaResult]", "Deferred[LookupInReplicaResult]",
        "Deferred[Iterator[LookupInReplicaResult]]"]):
    """KV, sub-document and ``*_multi`` operations on one collection; each returns a
    Deferred."""

    def __init__(self, scope: "AsyncScope", name: str) -> None:
        super().__init__(scope, name)
        self._submit = partial(_submit_deferred, self._core.submit)

    def _run(self, req: Request) -> Any:
        return _deferred(super()._run(req))

    def _run_all(self, reqs: List[Request], combine: Combine) -> Any:
        return _deferred(super()._run_all(reqs, combine))

    def _run_any(self, reqs: List[Request], key: str) -> Any:
        return _deferred(super()._run_any(reqs, key))

    def binary(self) -> "BinaryCollection":
        return BinaryCollection(self)


class BinaryCollection(BinaryLogic[
        "Deferred[CounterResult]", "Deferred[MutationResult]", "Deferred[MultiCounterResult]",
        "Deferred[MultiMutationResult]"]):
    """Counters and raw appends on a collection's documents; each returns a Deferred."""


TxCluster._bucket_class = TxBucket

# The official names: the short ones, with the Tx* aliases.
Cluster = TxCluster
Bucket = TxBucket
Scope = TxScope
Collection = TxCollection

__all__ = ["TxCluster", "TxBucket", "TxScope", "TxCollection", "BinaryCollection", "Cluster",
           "Bucket", "Scope", "Collection"]
