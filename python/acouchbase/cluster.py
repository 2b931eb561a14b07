"""The asyncio Cluster, Bucket, Scope, Collection and BinaryCollection.

Every operation returns an ``asyncio.Future`` made and resolved in C on the loop's thread; the C
result is wrapped in its ``couchbase.result`` class by the engine's completion, not by a
Python callback.
"""

import asyncio
from datetime import timedelta
from typing import Any, Dict, Optional, Union

from couchbase import _core
from couchbase.auth import Authenticator
from couchbase.constants import FMT_COMMON_MASK, FMT_JSON
from couchbase._utils import timedelta_as_seconds, timedelta_as_timestamp
from couchbase.exceptions import FeatureUnavailableException, InvalidArgumentException
from couchbase.options import (AppendOptions, ClusterOptions, DecrementOptions, ExistsOptions,
                               GetAndLockOptions, GetAndTouchOptions, GetOptions,
                               IncrementOptions, InsertOptions, LookupInOptions, MutateInOptions,
                               PrependOptions, RemoveOptions, ReplaceOptions, TouchOptions,
                               UnlockOptions, UpsertOptions, check_expiry_and_preserve,
                               forward_args, forward_counter_args, mutate_in_store_semantics)
from couchbase.result import (CounterResult, ExistsResult, GetResult, LookupInResult,
                              MutateInResult, MutationResult)
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


def _ms(options: Dict[str, Any], key: str) -> int:
    value = options.get(key)
    if value is None:
        return 0
    if not isinstance(value, timedelta):
        raise InvalidArgumentException("%s must be a timedelta." % key)
    return int(value.total_seconds() * 1000)


class Cluster:
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
        self._connect = self._core.connect()
        self._connect.add_done_callback(_retrieve)

    @classmethod
    async def connect(cls, connstr: str, options: Optional[ClusterOptions] = None,
                      **kwargs: Any) -> "Cluster":
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
        return Bucket(self, bucket_name)

    async def close(self) -> None:
        """Fail what is pending (RequestCanceledException) and close the connections. As in the
        official SDK, closing a cluster whose connection failed raises that failure again."""
        if self._closed:
            return
        self._core.close()
        self._closed = True
        if self._connect.done() and not self._connect.cancelled():
            failure = self._connect.exception()
            if failure is not None:
                raise failure


class Bucket:
    def __init__(self, cluster: Cluster, name: str) -> None:
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


class Scope:
    def __init__(self, bucket: Bucket, name: str) -> None:
        self._bucket = bucket
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def collection(self, name: str) -> "Collection":
        return Collection(self, name)


class Collection:
    """KV and sub-document operations on one collection; each returns an ``asyncio.Future``."""

    def __init__(self, scope: Scope, name: str) -> None:
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

    def __init__(self, collection: Collection) -> None:
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


__all__ = ["Cluster", "Bucket", "Scope", "Collection", "BinaryCollection"]
