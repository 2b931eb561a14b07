"""The bucket manager (``cluster.buckets()``): create, update, drop, get, list, flush and
describe buckets over the management REST API (management-api.md §2), with the official
settings classes and error texts."""

from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import Any, Dict, List, Optional, Tuple, Type

from couchbase.durability import DurabilityLevel
from couchbase.exceptions import (BucketAlreadyExistsException, BucketDoesNotExistException,
                                  BucketNotFlushableException, CouchbaseException,
                                  FeatureUnavailableException, InvalidArgumentException,
                                  RateLimitedException)
from couchbase.management._run import (HttpCall, Logic, ManagerBase, check_name, esc,
                                       front_end_methods, merge, mgmt_error, parse_json,
                                       timeout_ms)
from couchbase.management.options import (BucketDescribeOptions,  # noqa: F401 - official path
                                          CreateBucketOptions, DropBucketOptions,
                                          FlushBucketOptions, GetAllBucketOptions,
                                          GetBucketOptions, UpdateBucketOptions)


class BucketType(Enum):
    COUCHBASE = "membase"
    MEMCACHED = "memcached"
    EPHEMERAL = "ephemeral"
    UNKNOWN = "unknown"


class CompressionMode(Enum):
    OFF = "off"
    PASSIVE = "passive"
    ACTIVE = "active"
    UNKNOWN = "unknown"


class ConflictResolutionType(Enum):
    TIMESTAMP = "lww"
    SEQUENCE_NUMBER = "seqno"
    CUSTOM = "custom"
    UNKNOWN = "unknown"


class EvictionPolicyType(Enum):
    NOT_RECENTLY_USED = "nruEviction"
    NO_EVICTION = "noEviction"
    FULL = "fullEviction"
    VALUE_ONLY = "valueOnly"


class EjectionMethod(Enum):
    FULL_EVICTION = "fullEviction"
    VALUE_ONLY = "valueOnly"


class StorageBackend(Enum):
    UNDEFINED = "undefined"
    COUCHSTORE = "couchstore"
    MAGMA = "magma"


_DURABILITY_WIRE = {DurabilityLevel.NONE: "none", DurabilityLevel.MAJORITY: "majority",
                    DurabilityLevel.MAJORITY_AND_PERSIST_TO_ACTIVE: "majorityAndPersistActive",
                    DurabilityLevel.PERSIST_TO_MAJORITY: "persistToMajority"}
_DURABILITY_READ = {v: k for k, v in _DURABILITY_WIRE.items()}

_PROPS = ("name", "bucket_type", "ram_quota_mb", "num_replicas", "replica_index",
          "flush_enabled", "max_expiry", "compression_mode", "eviction_policy",
          "minimum_durability_level", "storage_backend", "history_retention_collection_default",
          "history_retention_bytes", "history_retention_duration", "num_vbuckets")


class BucketSettings(Dict[str, Any]):
    """A bucket's settings: a dict (``settings["num_replicas"]``) with a property per key
    (``settings.num_replicas``); ``name`` is required. ``max_ttl`` is the deprecated name of
    ``max_expiry``."""

    def __init__(self, **kwargs: Any) -> None:
        if "max_ttl" in kwargs and "max_expiry" not in kwargs:
            kwargs["max_expiry"] = kwargs.pop("max_ttl")
        kwargs.pop("max_ttl", None)
        name = kwargs.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidArgumentException(message="A bucket's settings need a name.")
        super().__init__({k: v for k, v in kwargs.items() if v is not None})

    name = property(lambda self: self.get("name"))
    bucket_type = property(lambda self: self.get("bucket_type"))
    ram_quota_mb = property(lambda self: self.get("ram_quota_mb"))
    num_replicas = property(lambda self: self.get("num_replicas"))
    replica_index = property(lambda self: self.get("replica_index"))
    flush_enabled = property(lambda self: self.get("flush_enabled"))
    max_expiry = property(lambda self: self.get("max_expiry"))
    max_ttl = property(lambda self: self.get("max_expiry"))
    compression_mode = property(lambda self: self.get("compression_mode"))
    eviction_policy = property(lambda self: self.get("eviction_policy"))
    conflict_resolution_type = property(lambda self: self.get("conflict_resolution_type"))
    minimum_durability_level = property(lambda self: self.get("minimum_durability_level"))
    storage_backend = property(lambda self: self.get("storage_backend"))
    history_retention_collection_default = property(
        lambda self: self.get("history_retention_collection_default"))
    history_retention_bytes = property(lambda self: self.get("history_retention_bytes"))
    history_retention_duration = property(lambda self: self.get("history_retention_duration"))
    num_vbuckets = property(lambda self: self.get("num_vbuckets"))

    @classmethod
    def from_server(cls, doc: Dict[str, Any]) -> "BucketSettings":
        """The settings a GET of the bucket reads back."""
        kw: Dict[str, Any] = {"name": doc.get("name")}
        btype = doc.get("bucketType")
        kw["bucket_type"] = next((t for t in BucketType if t.value == btype), BucketType.UNKNOWN)
        raw = (doc.get("quota") or {}).get("rawRAM")
        if isinstance(raw, int):
            kw["ram_quota_mb"] = raw // (1024 * 1024)
        kw["num_replicas"] = doc.get("replicaNumber")
        kw["replica_index"] = doc.get("replicaIndex")
        kw["flush_enabled"] = "flush" in (doc.get("controllers") or {})
        if isinstance(doc.get("maxTTL"), int):
            kw["max_expiry"] = timedelta(seconds=doc["maxTTL"])
        for key, enum, wire in (("compression_mode", CompressionMode, "compressionMode"),
                                ("eviction_policy", EvictionPolicyType, "evictionPolicy"),
                                ("conflict_resolution_type", ConflictResolutionType,
                                 "conflictResolutionType"),
                                ("storage_backend", StorageBackend, "storageBackend")):
            value = doc.get(wire)
            if value is not None:
                kw[key] = next((e for e in enum if e.value == value), None)
        if doc.get("durabilityMinLevel") in _DURABILITY_READ:
            kw["minimum_durability_level"] = _DURABILITY_READ[doc["durabilityMinLevel"]]
        for key in ("historyRetentionCollectionDefault", "historyRetentionBytes"):
            if key in doc:
                kw["history_retention_collection_default" if key.endswith("Default")
                   else "history_retention_bytes"] = doc[key]
        if isinstance(doc.get("historyRetentionSeconds"), int):
            kw["history_retention_duration"] = timedelta(seconds=doc["historyRetentionSeconds"])
        if isinstance(doc.get("numVBuckets"), int):
            kw["num_vbuckets"] = doc["numVBuckets"]
        return cls(**kw)


class CreateBucketSettings(BucketSettings):
    """Settings of a bucket to create (adds ``conflict_resolution_type``)."""


@dataclass
class BucketDescribeResult:
    name: str
    uuid: str
    number_of_nodes: int
    number_of_replicas: int
    bucket_capabilities: List[str] = field(default_factory=list)
    storage_backend: Optional[StorageBackend] = None
    server_groups: Dict[str, Any] = field(default_factory=dict)


BUCKET_MGMT_ERROR_MAP: Dict[str, Type[CouchbaseException]] = {
    r"Bucket with given name (already|still) exists": BucketAlreadyExistsException,
    r"Requested resource not found": BucketDoesNotExistException,
    r".*non existent bucket.*": BucketDoesNotExistException,
    r".*Flush is disabled for the bucket.*": BucketNotFlushableException,
    r".*Limit\(s\) exceeded\s+\[.*\].*": RateLimitedException,
    r".*is supported only with developer preview enabled.*": FeatureUnavailableException,
}


def _seconds(value: Any) -> int:
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvalidArgumentException(message="Expected a timedelta or int seconds.")


def _enum(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _form(settings: BucketSettings, create: bool) -> List[Tuple[str, Any]]:
    """The form fields of a create (or update) request."""
    s = settings
    form: List[Tuple[str, Any]] = []
    btype = s.get("bucket_type", BucketType.COUCHBASE) or BucketType.COUCHBASE
    if create:
        form.append(("name", s["name"]))
        form.append(("bucketType", "couchbase" if btype == BucketType.COUCHBASE
                     else _enum(btype)))
        form.append(("ramQuotaMB", s.get("ram_quota_mb") or 100))
    elif s.get("ram_quota_mb"):
        form.append(("ramQuotaMB", s["ram_quota_mb"]))
    if "num_replicas" in s and not (create and btype == BucketType.MEMCACHED):
        form.append(("replicaNumber", s["num_replicas"]))
    if "replica_index" in s and not (create and btype == BucketType.EPHEMERAL):
        form.append(("replicaIndex", 1 if s["replica_index"] else 0))
    if "flush_enabled" in s:
        form.append(("flushEnabled", 1 if s["flush_enabled"] else 0))
    if "max_expiry" in s:
        form.append(("maxTTL", _seconds(s["max_expiry"])))
    if "compression_mode" in s:
        form.append(("compressionMode", _enum(s["compression_mode"])))
    if "eviction_policy" in s:
        form.append(("evictionPolicy", _enum(s["eviction_policy"])))
    if create and "conflict_resolution_type" in s:
        form.append(("conflictResolutionType", _enum(s["conflict_resolution_type"])))
    if "minimum_durability_level" in s:
        level = s["minimum_durability_level"]
        form.append(("durabilityMinLevel", _DURABILITY_WIRE.get(level, _enum(level))))
    if create and "storage_backend" in s:
        form.append(("storageBackend", _enum(s["storage_backend"])))
    if "history_retention_collection_default" in s:
        form.append(("historyRetentionCollectionDefault",
                     "true" if s["history_retention_collection_default"] else "false"))
    if "history_retention_bytes" in s:
        form.append(("historyRetentionBytes", s["history_retention_bytes"]))
    if "history_retention_duration" in s:
        form.append(("historyRetentionSeconds", _seconds(s["history_retention_duration"])))
    if create and "num_vbuckets" in s:
        form.append(("numVBuckets", s["num_vbuckets"]))
    return form


class BucketManagerLogic(ManagerBase):
    """The bucket manager's methods, as generators for the front ends' drivers."""

    _METHODS = ("create_bucket", "update_bucket", "drop_bucket", "get_bucket",
                "get_all_buckets", "flush_bucket", "bucket_describe")

    def _call(self, method: str, path: str, args: Dict[str, Any], ok: Tuple[int, ...],
              result: Any = None, form: Any = None, not_found: int = 10) -> HttpCall:
        def parse(status: int, body: bytes) -> Any:
            if status in ok:
                return result(call, status, body) if result else None
            code: Optional[int] = None
            if status == 404:
                code = not_found
            elif status == 400 and b"already exists" in body:
                code = 605  # bucket_exists: no class of its own, the text decides
            raise mgmt_error(call, status, body, BUCKET_MGMT_ERROR_MAP, code)
        call = HttpCall(method, path, parse, form=form,
                        timeout_ms=timeout_ms(args, self._timeout_ms), idempotent=method == "GET")
        return call

    def _create_bucket(self, settings: CreateBucketSettings, *options: Any,
                       **kwargs: Any) -> "Logic[None]":
        """Create a bucket (BucketAlreadyExistsException if it exists)."""
        if not isinstance(settings, BucketSettings):
            raise InvalidArgumentException(message="settings must be CreateBucketSettings.")
        args = merge(options, kwargs)
        yield self._call("POST", "/pools/default/buckets", args, (200, 202),
                         form=_form(settings, True))

    def _update_bucket(self, settings: BucketSettings, *options: Any,
                       **kwargs: Any) -> "Logic[None]":
        """Change a bucket's settings (not its type, conflict resolution or backend)."""
        if not isinstance(settings, BucketSettings):
            raise InvalidArgumentException(message="settings must be BucketSettings.")
        args = merge(options, kwargs)
        yield self._call("POST", "/pools/default/buckets/" + esc(settings["name"]), args, (200,),
                         form=_form(settings, False))

    def _drop_bucket(self, bucket_name: str, *options: Any, **kwargs: Any) -> "Logic[None]":
        """Delete a bucket (BucketDoesNotExistException if there is none)."""
        name = check_name(bucket_name, "bucket_name")
        yield self._call("DELETE", "/pools/default/buckets/" + esc(name),
                         merge(options, kwargs), (200,))

    def _get_bucket(self, bucket_name: str, *options: Any,
                    **kwargs: Any) -> "Logic[BucketSettings]":
        """A bucket's settings."""
        name = check_name(bucket_name, "bucket_name")
        got: BucketSettings = yield self._call(
            "GET", "/pools/default/buckets/" + esc(name), merge(options, kwargs), (200,),
            result=lambda c, st, b: BucketSettings.from_server(parse_json(c, st, b)))
        return got

    def _get_all_buckets(self, *options: Any, **kwargs: Any) -> "Logic[List[BucketSettings]]":
        """Every bucket's settings."""
        got: List[BucketSettings] = yield self._call(
            "GET", "/pools/default/buckets", merge(options, kwargs), (200,),
            result=lambda c, st, b: [BucketSettings.from_server(d) for d in parse_json(c, st, b)])
        return got

    def _flush_bucket(self, bucket_name: str, *options: Any, **kwargs: Any) -> "Logic[None]":
        """Remove every document of a bucket (BucketNotFlushableException when flush is
        disabled)."""
        name = check_name(bucket_name, "bucket_name")
        yield self._call("POST", "/pools/default/buckets/%s/controller/doFlush" % esc(name),
                         merge(options, kwargs), (200,))

    def _bucket_describe(self, bucket_name: str, *options: Any,
                         **kwargs: Any) -> "Logic[BucketDescribeResult]":
        """What the bucket's config says of it (nodes, replicas, capabilities)."""
        name = check_name(bucket_name, "bucket_name")

        def describe(c: HttpCall, st: int, b: bytes) -> BucketDescribeResult:
            doc = parse_json(c, st, b)
            backend = next((s for s in StorageBackend if s.value == doc.get("storageBackend")),
                           None)
            nodes = doc.get("nodesExt") or doc.get("nodes") or []
            return BucketDescribeResult(
                name=str(doc.get("name", name)), uuid=str(doc.get("uuid", "")),
                number_of_nodes=len(nodes),
                number_of_replicas=int((doc.get("vBucketServerMap") or {}).get("numReplicas",
                                                                               0)),
                bucket_capabilities=list(doc.get("bucketCapabilities") or []),
                storage_backend=backend)
        got: BucketDescribeResult = yield self._call(
            "GET", "/pools/default/b/" + esc(name), merge(options, kwargs), (200,),
            result=describe)
        return got


class BucketManager(BucketManagerLogic):
    """Blocking: each method waits for its answer."""


front_end_methods(BucketManager, BucketManagerLogic._METHODS, "blocking")

__all__ = ["BucketManager", "BucketSettings", "CreateBucketSettings", "BucketType",
           "CompressionMode", "ConflictResolutionType", "EvictionPolicyType", "EjectionMethod",
           "StorageBackend", "BucketDescribeResult", "BUCKET_MGMT_ERROR_MAP"]
