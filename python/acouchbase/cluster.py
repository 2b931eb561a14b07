"""The asyncio Cluster, Bucket, Scope and Collection (a first slice: upsert and get).

Every operation returns an ``asyncio.Future`` made and resolved in C on the loop's thread; the C
result is wrapped in its ``couchbase.result`` class by the engine's completion, not by a
Python callback.
"""

import asyncio
from datetime import timedelta
from typing import Any, Dict, Optional

from couchbase import _core
from couchbase.auth import Authenticator
from couchbase.constants import FMT_COMMON_MASK, FMT_JSON
from couchbase.exceptions import InvalidArgumentException
from couchbase.options import ClusterOptions, forward_args
from couchbase.result import GetResult, MutationResult
from couchbase.transcoder import JSONTranscoder, Transcoder

# dv_op_kind of include/divan/client.h
_KV_GET = 0
_KV_UPSERT = 6


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
        self._connect = self._core.connect()
        self._connect.add_done_callback(_retrieve)

    @classmethod
    async def connect(cls, connstr: str, options: Optional[ClusterOptions] = None,
                      **kwargs: Any) -> "Cluster":
        cluster = cls(connstr, options, **kwargs)
        await cluster.on_connect()
        return cluster

    async def on_connect(self) -> None:
        await self._connect

    @property
    def connected(self) -> bool:
        return self._connect.done() and self._connect.exception() is None

    def bucket(self, bucket_name: str) -> "Bucket":
        return Bucket(self, bucket_name)

    async def close(self) -> None:
        """Fail what is pending (RequestCanceledException) and close the connections."""
        self._core.close()


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

    def upsert(self, key: str, value: Any, *opts: Any,
               **kwargs: Any) -> "asyncio.Future[MutationResult]":
        args = forward_args(kwargs, *opts)
        transcoder = args.get("transcoder") or self._transcoder
        data, flags = transcoder.encode_value(value)
        bucket, scope, collection = self._keyspace
        return self._core.submit(
            _KV_UPSERT, bucket, scope, collection, key, data, flags=flags,
            datatype=1 if flags & FMT_COMMON_MASK == FMT_JSON else 0,
            expiry=args.get("expiry", 0), durability=args.get("durability_level", 0),
            preserve_expiry=bool(args.get("preserve_expiry")),
            timeout_ms=args.get("timeout", 0), result_type=MutationResult)

    def get(self, key: str, *opts: Any, **kwargs: Any) -> "asyncio.Future[GetResult]":
        args = forward_args(kwargs, *opts)
        bucket, scope, collection = self._keyspace
        return self._core.submit(
            _KV_GET, bucket, scope, collection, key, with_expiry=bool(args.get("with_expiry")),
            timeout_ms=args.get("timeout", 0), result_type=GetResult,
            extra=args.get("transcoder") or self._transcoder)


__all__ = ["Cluster", "Bucket", "Scope", "Collection"]
