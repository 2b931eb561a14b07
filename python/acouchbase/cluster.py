"""The asyncio Cluster, Bucket, Scope, Collection and BinaryCollection (AsyncCluster, ... as the
official SDK names them; acouchbase.bucket, .scope, .collection and .binary_collection re-export
them from their official module paths).

Every operation returns an ``asyncio.Future`` made and resolved in C on the loop's thread; the C
result is wrapped in its ``couchbase.result`` class by the engine's completion, not by a
Python callback.
"""

import asyncio
import uuid
from datetime import timedelta
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from couchbase import _core
from couchbase.auth import Authenticator
from couchbase.constants import FMT_COMMON_MASK, FMT_JSON
from couchbase._utils import (timedelta_as_milliseconds, timedelta_as_seconds,
                              timedelta_as_timestamp)
from couchbase.diagnostics import ClusterState, ServiceType
from couchbase.exceptions import (DocumentNotFoundException, DocumentUnretrievableException,
                                  FeatureUnavailableException, InvalidArgumentException,
                                  UnAmbiguousTimeoutException, error_message)
from couchbase.options import (AppendOptions, ClusterOptions, DecrementOptions,
                               DiagnosticsOptions, ExistsOptions, GetAllReplicasOptions,
                               GetAndLockOptions, GetAndTouchOptions, GetAnyReplicaOptions,
                               GetOptions, IncrementOptions, InsertOptions, LookupInOptions,
                               MutateInOptions, PingOptions, PrependOptions, RemoveOptions,
                               ReplaceOptions, TouchOptions, UnlockOptions, UpsertOptions,
                               WaitUntilReadyOptions, check_expiry_and_preserve, forward_args,
                               forward_counter_args, mutate_in_store_semantics)
from couchbase.replica_reads import ReadPreference
from couchbase.result import (CounterResult, DiagnosticsResult, ExistsResult, GetReplicaResult,
                              GetResult, LookupInResult, MutateInResult, MutationResult,
                              PingResult)
from couchbase.subdocument import check_lookup_in_specs, check_mutate_in_specs
from couchbase.transcoder import JSONTranscoder, Transcoder

# dv_op_kind of include/divan/client.h
(_KV_GET, _KV_GET_AND_TOUCH, _KV_GET_AND_LOCK, _KV_GET_REPLICA, _KV_EXISTS, _KV_INSERT, _KV_UPSERT,
 _KV_REPLACE, _KV_REMOVE, _KV_TOUCH, _KV_UNLOCK, _KV_APPEND, _KV_PREPEND, _KV_INCREMENT,
 _KV_DECREMENT, _KV_LOOKUP_IN, _KV_MUTATE_IN) = range(17)


def _retrieve(future: "asyncio.Future[Any]") -> None:
    """Mark an internal future's failure as seen: it is reported by on_connect() and by the
    operations themselves, not logged as "never retrieved" when nobody awaited it."""
    if not future.cancelled():
        future.exception()


_SDK = "divan-python/0.1.0"
_ERR_OK, _ERR_UNAMBIGUOUS_TIMEOUT = 0, 14  # couchbase._errors
_ENDPOINT_STATES = ("disconnected", "connecting", "connected")
_REPLICAS = 3  # the most a bucket can have; the engine fails an index not in the map at once
_Endpoint = Tuple[int, str, Optional[str], int, int, int, int]


def _report(report_id: Optional[str], kv: List[Dict[str, Any]]) -> Dict[str, Any]:
    """A report's raw form, as the official SDK's core gives it (KV endpoints only)."""
    return {"id": report_id or str(uuid.uuid4()), "version": 2, "sdk": _SDK,
            "services": {ServiceType.KeyValue.value: kv} if kv else {}}


def _ping_report(report_id: Optional[str], endpoints: Iterable[_Endpoint]) -> PingResult:
    services = []
    for ep_id, remote, bucket, _state, _last, err, latency in endpoints:
        state = ("ok" if err == _ERR_OK else
                 "timeout" if err == _ERR_UNAMBIGUOUS_TIMEOUT else "error")
        services.append({"type": ServiceType.KeyValue.value, "id": "0x%x" % ep_id,
                         "remote": remote, "bucket": bucket,
                         "latency": latency if err == _ERR_OK else None, "state": state,
                         "error": None if err == _ERR_OK else error_message(err)})
    return PingResult(_report(report_id, services))


def _diagnostics_report(report_id: Optional[str],
                        endpoints: Iterable[_Endpoint]) -> DiagnosticsResult:
    services = [{"type": ServiceType.KeyValue.value, "id": "0x%x" % ep_id, "remote": remote,
                 "bucket": bucket,
                 "last_activity": last or None, "state": _ENDPOINT_STATES[state]}
                for ep_id, remote, bucket, state, last, _err, _latency in endpoints]
    return DiagnosticsResult(_report(report_id, services))


def _service_types(args: Dict[str, Any]) -> List[ServiceType]:
    kinds = args.get("service_types")
    if kinds is None:
        return list(ServiceType)
    if not isinstance(kinds, (list, set)):
        raise InvalidArgumentException("service_types must be a list or set of ServiceType.")
    return list(kinds)


def _ms(options: Dict[str, Any], key: str) -> int:
    """A ClusterOptions timeout in ms for the engine (0: its default)."""
    value = options.get(key)
    return 0 if value is None else timedelta_as_milliseconds(value)


class AsyncCluster:
    """A cluster connection on the running loop. The constructor starts connecting (so it needs a
    running loop); ``await cluster.on_connect()`` waits for it."""

    def __init__(self, connstr: str, options: Optional[ClusterOptions] = None,
                 **kwargs: Any) -> None:
        opts: Dict[str, Any] = dict(options or {})
        opts.update(kwargs)
        auth = opts.get("authenticator")
        if not isinstance(auth, Authenticator):
            raise InvalidArgumentException("ClusterOptions need an authenticator.")
        self._loop = asyncio.get_running_loop()
        self._transcoder: Transcoder = opts.get("transcoder") or JSONTranscoder()
        self._core = _core.AsyncCluster(
            self._loop, connstr, auth.get("username"), auth.get("password"),
            kv_timeout_ms=_ms(opts, "kv_timeout"),
            kv_durable_timeout_ms=_ms(opts, "kv_durable_timeout"),
            connect_timeout_ms=_ms(opts, "connect_timeout"),
            bootstrap_timeout_ms=_ms(opts, "bootstrap_timeout"))
        self._closed = False
        self._server_group = opts.get("preferred_server_group")
        self._buckets: Dict[str, "Bucket"] = {}
        self._connect = self._core.connect()
        self._connect.add_done_callback(_retrieve)

    @classmethod
    async def connect(cls, connstr: str, options: Optional[ClusterOptions] = None,
                      **kwargs: Any) -> "AsyncCluster":
        cluster = cls(connstr, options, **kwargs)
        await cluster.on_connect()
        return cluster

    async def on_connect(self) -> None:
        self._check_open()
        await self._connect

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("Cannot perform operations on a closed cluster. Create a new "
                               "cluster instance to reconnect.")

    @property
    def connected(self) -> bool:
        return self._connect.done() and self._connect.exception() is None

    def bucket(self, bucket_name: str) -> "Bucket":
        self._check_open()
        bucket = Bucket(self, bucket_name)
        self._buckets[bucket_name] = bucket
        return bucket

    async def _endpoints(self, buckets: Iterable[Optional[str]]) -> List[_Endpoint]:
        await self.on_connect()
        got = await asyncio.gather(*(self._core.ping(b) for b in buckets))
        return [ep for report in got for ep in report]

    async def ping(self, *opts: PingOptions, **kwargs: Any) -> PingResult:
        """A NOOP on every KV connection: the cluster's own and those of its open buckets.
        divan reports KV endpoints only (the other services are not pinged)."""
        args = forward_args(kwargs, *opts)
        kinds = _service_types(args)
        endpoints: List[_Endpoint] = []
        if ServiceType.KeyValue in kinds:
            endpoints = await self._endpoints([None, *self._buckets])
        return _ping_report(args.get("report_id"), endpoints)

    async def diagnostics(self, *opts: DiagnosticsOptions, **kwargs: Any) -> DiagnosticsResult:
        """The state of every KV connection, without sending anything."""
        args = forward_args(kwargs, *opts)
        await self.on_connect()
        return _diagnostics_report(args.get("report_id"), await self._core.diagnostics())

    async def wait_until_ready(self, timeout: timedelta, *opts: WaitUntilReadyOptions,
                               **kwargs: Any) -> None:
        """Until diagnostics report ``desired_state`` (default Online), polling every 100 ms as
        the official SDK does; UnAmbiguousTimeoutException after ``timeout``."""
        args = forward_args(kwargs, *opts)
        desired = args.get("desired_state") or ClusterState.Online
        _service_types(args)
        if not isinstance(timeout, timedelta):
            raise InvalidArgumentException("timeout must be a timedelta.")
        deadline = self._loop.time() + timeout.total_seconds()
        try:
            await asyncio.wait_for(asyncio.shield(self._connect),
                                   max(0.0, deadline - self._loop.time()))
        except asyncio.TimeoutError:
            raise UnAmbiguousTimeoutException("Desired state not found.") from None
        while True:
            if (await self.diagnostics()).state == desired:
                return
            if self._loop.time() >= deadline:
                raise UnAmbiguousTimeoutException("Desired state not found.")
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        """Fail what is pending (RequestCanceledException) and close the connections. As in the
        official SDK, closing a cluster whose connection failed raises that failure again."""
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

    @property
    def name(self) -> str:
        return self._name

    async def on_connect(self) -> None:
        await self._open

    def default_scope(self) -> "Scope":
        return Scope(self, "_default")

    def scope(self, name: str) -> "Scope":
        return Scope(self, name)

    def default_collection(self) -> "Collection":
        return Collection(self.default_scope(), "_default")

    def collection(self, name: str) -> "Collection":
        return Collection(self.default_scope(), name)

    async def ping(self, *opts: PingOptions, **kwargs: Any) -> PingResult:
        """A NOOP on each KV connection of this bucket."""
        args = forward_args(kwargs, *opts)
        endpoints: List[_Endpoint] = []
        if ServiceType.KeyValue in _service_types(args):
            await self.on_connect()
            endpoints = await self._cluster._endpoints([self._name])
        return _ping_report(args.get("report_id"), endpoints)


class AsyncScope:
    def __init__(self, bucket: "AsyncBucket", name: str) -> None:
        self._bucket = bucket
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def collection(self, name: str) -> "Collection":
        return Collection(self, name)


class AsyncCollection:
    """KV and sub-document operations on one collection; each returns an ``asyncio.Future``."""

    def __init__(self, scope: "AsyncScope", name: str) -> None:
        self._scope = scope
        self._name = name
        bucket = scope._bucket
        self._core = bucket._cluster._core
        self._transcoder = bucket._cluster._transcoder
        self._keyspace = (bucket._name, scope._name, name)

    @property
    def name(self) -> str:
        return self._name

    def _submit(self, kind: int, key: str, args: Dict[str, Any], result_type: Any,
                extra: Any = None, **fields: Any) -> "asyncio.Future[Any]":
        if not isinstance(key, str):
            raise InvalidArgumentException("The document key must be a str.")
        if "replicate_to" in args or "persist_to" in args:
            raise FeatureUnavailableException("Client (observe-based) durability is not supported.")
        bucket, scope, collection = self._keyspace
        return self._core.submit(kind, bucket, scope, collection, key,
                                 timeout_ms=args.get("timeout", 0), result_type=result_type,
                                 extra=extra, **fields)

    def _store(self, kind: int, key: str, value: Any, args: Dict[str, Any],
               **fields: Any) -> "asyncio.Future[MutationResult]":
        transcoder = args.get("transcoder") or self._transcoder
        data, flags = transcoder.encode_value(value)
        return self._submit(
            kind, key, args, MutationResult, value=data, flags=flags,
            datatype=1 if flags & FMT_COMMON_MASK == FMT_JSON else 0,
            expiry=args.get("expiry", 0), durability=args.get("durability_level", 0), **fields)

    def get(self, key: str, *opts: GetOptions, **kwargs: Any) -> "asyncio.Future[GetResult]":
        args = forward_args(kwargs, *opts)
        return self._submit(_KV_GET, key, args, GetResult,
                            args.get("transcoder") or self._transcoder,
                            with_expiry=bool(args.get("with_expiry")))

    def exists(self, key: str, *opts: ExistsOptions,
               **kwargs: Any) -> "asyncio.Future[ExistsResult]":
        return self._submit(_KV_EXISTS, key, forward_args(kwargs, *opts), ExistsResult)

    def insert(self, key: str, value: Any, *opts: InsertOptions,
               **kwargs: Any) -> "asyncio.Future[MutationResult]":
        return self._store(_KV_INSERT, key, value, forward_args(kwargs, *opts))

    def upsert(self, key: str, value: Any, *opts: UpsertOptions,
               **kwargs: Any) -> "asyncio.Future[MutationResult]":
        args = forward_args(kwargs, *opts)
        return self._store(_KV_UPSERT, key, value, args,
                           preserve_expiry=bool(args.get("preserve_expiry")))

    def replace(self, key: str, value: Any, *opts: ReplaceOptions,
                **kwargs: Any) -> "asyncio.Future[MutationResult]":
        args = forward_args(kwargs, *opts)
        check_expiry_and_preserve(args)
        return self._store(_KV_REPLACE, key, value, args, cas=args.get("cas") or 0,
                           preserve_expiry=bool(args.get("preserve_expiry")))

    def remove(self, key: str, *opts: RemoveOptions,
               **kwargs: Any) -> "asyncio.Future[MutationResult]":
        args = forward_args(kwargs, *opts)
        return self._submit(_KV_REMOVE, key, args, MutationResult, cas=args.get("cas") or 0,
                            durability=args.get("durability_level", 0))

    def touch(self, key: str, expiry: timedelta, *opts: TouchOptions,
              **kwargs: Any) -> "asyncio.Future[MutationResult]":
        args = forward_args(kwargs, *opts)
        return self._submit(_KV_TOUCH, key, args, MutationResult,
                            expiry=timedelta_as_timestamp(expiry))

    def get_and_touch(self, key: str, expiry: timedelta, *opts: GetAndTouchOptions,
                      **kwargs: Any) -> "asyncio.Future[GetResult]":
        args = forward_args(kwargs, *opts)
        return self._submit(_KV_GET_AND_TOUCH, key, args, GetResult,
                            args.get("transcoder") or self._transcoder,
                            expiry=timedelta_as_timestamp(expiry))

    def get_and_lock(self, key: str, lock_time: timedelta, *opts: GetAndLockOptions,
                     **kwargs: Any) -> "asyncio.Future[GetResult]":
        args = forward_args(kwargs, *opts)
        return self._submit(_KV_GET_AND_LOCK, key, args, GetResult,
                            args.get("transcoder") or self._transcoder,
                            lock_time=timedelta_as_seconds(lock_time))

    def unlock(self, key: str, cas: int, *opts: UnlockOptions,
               **kwargs: Any) -> "asyncio.Future[None]":
        args = forward_args(kwargs, *opts)
        return self._submit(_KV_UNLOCK, key, args, _none, cas=cas)

    def _replica_reads(self, key: str, args: Dict[str, Any]) -> List["asyncio.Future[Any]"]:
        """The active copy's read and one per replica, all sent at once."""
        if (args.get("read_preference") in (ReadPreference.SELECTED_SERVER_GROUP,
                                             ReadPreference.SELECTED_SERVER_GROUP.value)
                and not self._scope._bucket._cluster._server_group):
            raise DocumentUnretrievableException(
                "read_preference SELECTED_SERVER_GROUP needs preferred_server_group")
        transcoder = args.get("transcoder") or self._transcoder
        reads = [self._submit(_KV_GET, key, args, GetReplicaResult, (transcoder, False))]
        for index in range(1, _REPLICAS + 1):
            reads.append(self._submit(_KV_GET_REPLICA, key, args, GetReplicaResult,
                                      (transcoder, True), replica_index=index))
        return reads

    def get_any_replica(self, key: str, *opts: GetAnyReplicaOptions,
                        **kwargs: Any) -> "asyncio.Future[GetReplicaResult]":
        """The first copy to answer, active or replica; DocumentUnretrievableException if none
        can."""
        reads = self._replica_reads(key, forward_args(kwargs, *opts))
        first: "asyncio.Future[GetReplicaResult]" = self._scope._bucket._cluster._loop.create_future()

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
                first.set_exception(DocumentUnretrievableException(
                    "no copy of %r could be read" % key))

        def cancel(_: Any) -> None:
            if first.cancelled():
                for read in reads:
                    read.cancel()

        for read in reads:
            read.add_done_callback(_retrieve)
            read.add_done_callback(settle)
        first.add_done_callback(cancel)
        return first

    def get_all_replicas(self, key: str, *opts: GetAllReplicasOptions,
                         **kwargs: Any) -> "asyncio.Future[Iterator[GetReplicaResult]]":
        """Every copy that answers, the active one first, as a plain iterator (as the official
        asyncio API gives); DocumentNotFoundException if none does."""
        reads = self._replica_reads(key, forward_args(kwargs, *opts))
        gathered = asyncio.gather(*reads, return_exceptions=True)

        def copies(results: List[Any]) -> Iterator[GetReplicaResult]:
            found = [r for r in results if isinstance(r, GetReplicaResult)]
            if not found:
                raise DocumentNotFoundException("no copy of %r was found" % key)
            return iter(found)

        return _then(gathered, copies)

    def lookup_in(self, key: str, spec: Any, *opts: LookupInOptions,
                  **kwargs: Any) -> "asyncio.Future[LookupInResult]":
        args = forward_args(kwargs, *opts)
        specs = check_lookup_in_specs(spec)
        transcoder = args.get("transcoder") or self._transcoder
        wire = [tuple(s.to_wire(transcoder)) for s in specs]
        return self._submit(_KV_LOOKUP_IN, key, args, LookupInResult,
                            (key, transcoder, tuple(w[0] for w in wire)), specs=wire,
                            access_deleted=bool(args.get("access_deleted")))

    def mutate_in(self, key: str, spec: Any, *opts: MutateInOptions,
                  **kwargs: Any) -> "asyncio.Future[MutateInResult]":
        args = forward_args(kwargs, *opts)
        check_expiry_and_preserve(args)
        semantics = mutate_in_store_semantics(args)
        specs = check_mutate_in_specs(spec, bool(args.get("preserve_expiry")))
        transcoder = args.get("transcoder") or self._transcoder
        wire = [tuple(s.to_wire(transcoder)) for s in specs]
        return self._submit(_KV_MUTATE_IN, key, args, MutateInResult,
                            (key, transcoder, tuple(w[0] for w in wire)), specs=wire,
                            store_semantics=int(semantics), cas=args.get("cas") or 0,
                            expiry=args.get("expiry", 0),
                            durability=args.get("durability_level", 0),
                            preserve_expiry=bool(args.get("preserve_expiry")),
                            access_deleted=bool(args.get("access_deleted")))

    def binary(self) -> "BinaryCollection":
        return BinaryCollection(self)


class BinaryCollection:
    """Counters and raw appends on a collection's documents."""

    def __init__(self, collection: "AsyncCollection") -> None:
        self._collection = collection

    def _counter(self, kind: int, key: str, opts: Any,
                 kwargs: Dict[str, Any]) -> "asyncio.Future[CounterResult]":
        args = forward_counter_args(kwargs, *opts)
        initial = args.get("initial_value")
        return self._collection._submit(
            kind, key, args, CounterResult, delta=args["delta"], initial=initial or 0,
            has_initial=initial is not None, expiry=args.get("expiry", 0),
            durability=args.get("durability_level", 0))

    def increment(self, key: str, *opts: IncrementOptions,
                  **kwargs: Any) -> "asyncio.Future[CounterResult]":
        return self._counter(_KV_INCREMENT, key, opts, kwargs)

    def decrement(self, key: str, *opts: DecrementOptions,
                  **kwargs: Any) -> "asyncio.Future[CounterResult]":
        return self._counter(_KV_DECREMENT, key, opts, kwargs)

    def _concat(self, kind: int, key: str, value: Any, opts: Any,
                kwargs: Dict[str, Any]) -> "asyncio.Future[MutationResult]":
        args = forward_args(kwargs, *opts)
        if isinstance(value, str):
            value = value.encode("utf-8")
        elif not isinstance(value, (bytes, bytearray)):
            raise InvalidArgumentException("The value must be str or bytes.")
        return self._collection._submit(
            kind, key, args, MutationResult, value=bytes(value), cas=args.get("cas") or 0,
            durability=args.get("durability_level", 0))

    def append(self, key: str, value: Union[str, bytes], *opts: AppendOptions,
               **kwargs: Any) -> "asyncio.Future[MutationResult]":
        return self._concat(_KV_APPEND, key, value, opts, kwargs)

    def prepend(self, key: str, value: Union[str, bytes], *opts: PrependOptions,
                **kwargs: Any) -> "asyncio.Future[MutationResult]":
        return self._concat(_KV_PREPEND, key, value, opts, kwargs)


def _none(_core: Any, _extra: Any) -> None:
    return None


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
