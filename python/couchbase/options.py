"""Options classes of the official SDK 4.x, with its merge and conversion rules.

Every options class is a ``dict`` whose keys are the option names; a ``None`` value is dropped.
An operation takes ``*opts, **kwargs``: only ``opts[0]`` is read, copied, and updated with the
keyword arguments (kwargs win). :func:`forward_args` then converts the values into what divan's
engine takes: timeouts to milliseconds, expiry to the server's expiry (30-day rule), lock_time to
seconds, durability to a level or a client-durability dict, read_preference to its value.
"""

from abc import ABC, abstractmethod
from datetime import timedelta
from enum import Enum
from typing import Any, Dict, Iterable, List, Optional, Set, Union

from couchbase._utils import (timedelta_as_milliseconds, timedelta_as_seconds,
                              timedelta_as_timestamp)
from couchbase.auth import Authenticator
from couchbase.durability import DurabilityParser, DurabilityType
from couchbase.exceptions import InvalidArgumentException
from couchbase.replica_reads import ReadPreference
from couchbase.subdocument import StoreSemantics
from couchbase.transcoder import Transcoder

# --------------------------------------------------------------------------------------------
# counter value wrappers


class _BoundedInt:
    """An int checked against [_low, _high] at construction; subclasses name the bounds."""

    _name = ""
    _low = 0
    _high = 0
    _range = ""

    def __init__(self, value: int) -> None:
        if not isinstance(value, int):
            raise InvalidArgumentException("%s must be an int, got %s." % (self._name, type(value).__name__))
        if not self._low <= value <= self._high:
            raise InvalidArgumentException("%s must be between %s, got %d." % (self._name, self._range, value))
        self._value = value

    @property
    def value(self) -> int:
        return self._value

    def __repr__(self) -> str:
        return "%s(%d)" % (type(self).__name__, self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, type(self)) and type(other) is type(self) \
            and other._value == self._value

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._value))


class DeltaValueBase(_BoundedInt):
    """A counter delta: an int from 0 to 2**63-1."""

    _name, _low, _high, _range = "DeltaValue", 0, 0x7FFFFFFFFFFFFFFF, "0 and 2**63-1"

    @classmethod
    def is_valid(cls, value: Any) -> bool:
        return isinstance(value, DeltaValueBase)


class DeltaValue(DeltaValueBase):
    pass


class SignedInt64Base(_BoundedInt):
    """A signed 64-bit int, e.g. a counter's initial value (negative: do not create)."""

    _name, _low, _high, _range = "SignedInt64", -0x8000000000000000, 0x7FFFFFFFFFFFFFFF, "-2**63 and 2**63-1"

    @classmethod
    def is_valid(cls, value: Any) -> bool:
        return isinstance(value, SignedInt64Base)


class UnsignedInt32(_BoundedInt):
    """An unsigned 32-bit int."""

    _name, _low, _high, _range = "UnsignedInt32", 0, 0xFFFFFFFF, "0 and 2**32-1"


class UnsignedInt64(_BoundedInt):
    """An unsigned 64-bit int (the query metrics' counts)."""

    _name, _low, _high, _range = "UnsignedInt64", 0, 0xFFFFFFFFFFFFFFFF, "0 and 2**64-1"


class SignedInt64(SignedInt64Base):
    pass


# --------------------------------------------------------------------------------------------
# base


class OptionsBase(Dict[str, Any]):
    """A dict of options; ``None`` values are left out."""

    _VALID_OPTS: Set[str] = set()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__({k: v for k, v in kwargs.items() if v is not None})

    @classmethod
    def get_valid_keys(cls) -> List[str]:
        return sorted(cls._VALID_OPTS)


class OptionsTimeoutBase(OptionsBase):
    _VALID_OPTS = {"timeout", "span", "parent_span"}


# --------------------------------------------------------------------------------------------
# key-value


class GetOptions(OptionsTimeoutBase):
    _VALID_OPTS = OptionsTimeoutBase._VALID_OPTS | {"with_expiry", "project", "transcoder"}

    def __init__(self, timeout: Optional[timedelta] = None, with_expiry: Optional[bool] = None,
                 project: Optional[List[str]] = None, transcoder: Optional[Transcoder] = None,
                 **kwargs: Any) -> None:
        super().__init__(timeout=timeout, with_expiry=with_expiry, project=project,
                         transcoder=transcoder, **kwargs)


class GetAnyReplicaOptions(OptionsTimeoutBase):
    _VALID_OPTS = OptionsTimeoutBase._VALID_OPTS | {"transcoder", "read_preference"}

    def __init__(self, timeout: Optional[timedelta] = None, transcoder: Optional[Transcoder] = None,
                 read_preference: Optional[ReadPreference] = None, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, transcoder=transcoder, read_preference=read_preference,
                         **kwargs)


class GetAllReplicasOptions(GetAnyReplicaOptions):
    pass


class ExistsOptions(OptionsTimeoutBase):
    def __init__(self, timeout: Optional[timedelta] = None, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, **kwargs)


class InsertOptions(OptionsTimeoutBase):
    _VALID_OPTS = OptionsTimeoutBase._VALID_OPTS | {"expiry", "durability", "transcoder"}

    def __init__(self, timeout: Optional[timedelta] = None, expiry: Optional[timedelta] = None,
                 durability: Optional[DurabilityType] = None,
                 transcoder: Optional[Transcoder] = None, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, expiry=expiry, durability=durability,
                         transcoder=transcoder, **kwargs)


class UpsertOptions(OptionsTimeoutBase):
    _VALID_OPTS = OptionsTimeoutBase._VALID_OPTS | {"expiry", "preserve_expiry", "durability",
                                                    "transcoder"}

    def __init__(self, timeout: Optional[timedelta] = None, expiry: Optional[timedelta] = None,
                 preserve_expiry: Optional[bool] = None,
                 durability: Optional[DurabilityType] = None,
                 transcoder: Optional[Transcoder] = None, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, expiry=expiry, preserve_expiry=preserve_expiry,
                         durability=durability, transcoder=transcoder, **kwargs)


class ReplaceOptions(OptionsTimeoutBase):
    _VALID_OPTS = OptionsTimeoutBase._VALID_OPTS | {"expiry", "cas", "preserve_expiry",
                                                    "durability", "transcoder"}

    def __init__(self, timeout: Optional[timedelta] = None, expiry: Optional[timedelta] = None,
                 cas: Optional[int] = None, preserve_expiry: Optional[bool] = None,
                 durability: Optional[DurabilityType] = None,
                 transcoder: Optional[Transcoder] = None, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, expiry=expiry, cas=cas, preserve_expiry=preserve_expiry,
                         durability=durability, transcoder=transcoder, **kwargs)


class RemoveOptions(OptionsTimeoutBase):
    _VALID_OPTS = OptionsTimeoutBase._VALID_OPTS | {"cas", "durability"}

    def __init__(self, timeout: Optional[timedelta] = None, cas: Optional[int] = None,
                 durability: Optional[DurabilityType] = None, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, cas=cas, durability=durability, **kwargs)


class TouchOptions(OptionsTimeoutBase):
    def __init__(self, timeout: Optional[timedelta] = None, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, **kwargs)


class GetAndTouchOptions(OptionsTimeoutBase):
    _VALID_OPTS = OptionsTimeoutBase._VALID_OPTS | {"transcoder"}

    def __init__(self, timeout: Optional[timedelta] = None, transcoder: Optional[Transcoder] = None,
                 **kwargs: Any) -> None:
        super().__init__(timeout=timeout, transcoder=transcoder, **kwargs)


class GetAndLockOptions(GetAndTouchOptions):
    pass


class UnlockOptions(OptionsTimeoutBase):
    def __init__(self, timeout: Optional[timedelta] = None, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, **kwargs)


class LookupInOptions(OptionsTimeoutBase):
    _VALID_OPTS = OptionsTimeoutBase._VALID_OPTS | {"access_deleted", "transcoder"}

    def __init__(self, timeout: Optional[timedelta] = None, access_deleted: Optional[bool] = None,
                 **kwargs: Any) -> None:
        super().__init__(timeout=timeout, access_deleted=access_deleted, **kwargs)


class LookupInAnyReplicaOptions(OptionsTimeoutBase):
    _VALID_OPTS = OptionsTimeoutBase._VALID_OPTS | {"read_preference"}

    def __init__(self, timeout: Optional[timedelta] = None,
                 read_preference: Optional[ReadPreference] = None, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, read_preference=read_preference, **kwargs)


class LookupInAllReplicasOptions(LookupInAnyReplicaOptions):
    pass


class MutateInOptions(OptionsTimeoutBase):
    _VALID_OPTS = OptionsTimeoutBase._VALID_OPTS | {
        "cas", "durability", "store_semantics", "access_deleted", "preserve_expiry", "expiry",
        "transcoder"}

    def __init__(self, timeout: Optional[timedelta] = None, cas: Optional[int] = None,
                 durability: Optional[DurabilityType] = None,
                 store_semantics: Optional[StoreSemantics] = None,
                 access_deleted: Optional[bool] = None, preserve_expiry: Optional[bool] = None,
                 expiry: Optional[timedelta] = None, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, cas=cas, durability=durability,
                         store_semantics=store_semantics, access_deleted=access_deleted,
                         preserve_expiry=preserve_expiry, expiry=expiry, **kwargs)


class ScanOptions(OptionsTimeoutBase):
    _VALID_OPTS = OptionsTimeoutBase._VALID_OPTS | {
        "ids_only", "consistent_with", "batch_byte_limit", "batch_item_limit", "batch_time_limit",
        "transcoder", "concurrency"}

    def __init__(self, timeout: Optional[timedelta] = None, ids_only: Optional[bool] = None,
                 consistent_with: Any = None, batch_byte_limit: Optional[int] = None,
                 batch_item_limit: Optional[int] = None,
                 batch_time_limit: Optional[timedelta] = None,
                 transcoder: Optional[Transcoder] = None, concurrency: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(timeout=timeout, ids_only=ids_only, consistent_with=consistent_with,
                         batch_byte_limit=batch_byte_limit, batch_item_limit=batch_item_limit,
                         batch_time_limit=batch_time_limit, transcoder=transcoder,
                         concurrency=concurrency, **kwargs)


# binary collection


class IncrementOptions(OptionsTimeoutBase):
    _VALID_OPTS = OptionsTimeoutBase._VALID_OPTS | {"expiry", "durability", "delta", "initial"}

    def __init__(self, timeout: Optional[timedelta] = None, expiry: Optional[timedelta] = None,
                 durability: Optional[DurabilityType] = None,
                 delta: Optional[DeltaValue] = None, initial: Optional[SignedInt64] = None,
                 **kwargs: Any) -> None:
        super().__init__(timeout=timeout, expiry=expiry, durability=durability, delta=delta,
                         initial=initial, **kwargs)


class DecrementOptions(IncrementOptions):
    pass


class AppendOptions(OptionsTimeoutBase):
    _VALID_OPTS = OptionsTimeoutBase._VALID_OPTS | {"durability", "cas"}

    def __init__(self, timeout: Optional[timedelta] = None,
                 durability: Optional[DurabilityType] = None, cas: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(timeout=timeout, durability=durability, cas=cas, **kwargs)


class PrependOptions(AppendOptions):
    pass


# cluster-level operations


class PingOptions(OptionsTimeoutBase):
    _VALID_OPTS = OptionsTimeoutBase._VALID_OPTS | {"report_id", "service_types"}

    def __init__(self, timeout: Optional[timedelta] = None, report_id: Optional[str] = None,
                 service_types: Optional[Iterable[Any]] = None, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, report_id=report_id, service_types=service_types,
                         **kwargs)


class DiagnosticsOptions(OptionsBase):
    _VALID_OPTS = {"report_id"}

    def __init__(self, report_id: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(report_id=report_id, **kwargs)


class WaitUntilReadyOptions(OptionsBase):
    _VALID_OPTS = {"desired_state", "service_types"}

    def __init__(self, desired_state: Any = None, service_types: Optional[Iterable[Any]] = None,
                 **kwargs: Any) -> None:
        super().__init__(desired_state=desired_state, service_types=service_types, **kwargs)


# query


class QueryOptions(OptionsTimeoutBase):
    """Options of ``Cluster.query`` and ``Scope.query`` (query-service.md §9.2): how each
    becomes a request field is :class:`couchbase.n1ql.QueryRequest`'s. ``timeout`` and
    ``scan_wait`` take a timedelta (``timeout`` also int/float seconds); ``consistent_with`` a
    MutationState; ``raw`` a dict of extra request fields (merged last)."""

    _VALID_OPTS = OptionsTimeoutBase._VALID_OPTS | {
        "read_only", "scan_consistency", "adhoc", "client_context_id", "max_parallelism",
        "positional_parameters", "named_parameters", "pipeline_batch", "pipeline_cap",
        "profile", "query_context", "scan_cap", "scan_wait", "metrics", "flex_index",
        "preserve_expiry", "use_replica", "consistent_with", "send_to_node", "raw",
        "serializer"}

    def __init__(self, timeout: Optional[timedelta] = None, read_only: Optional[bool] = None,
                 scan_consistency: Any = None, adhoc: Optional[bool] = None,
                 client_context_id: Optional[str] = None,
                 max_parallelism: Optional[int] = None,
                 positional_parameters: Optional[Iterable[Any]] = None,
                 named_parameters: Optional[Dict[str, Any]] = None,
                 pipeline_batch: Optional[int] = None, pipeline_cap: Optional[int] = None,
                 profile: Any = None, query_context: Optional[str] = None,
                 scan_cap: Optional[int] = None, scan_wait: Optional[timedelta] = None,
                 metrics: Optional[bool] = None, flex_index: Optional[bool] = None,
                 preserve_expiry: Optional[bool] = None, use_replica: Optional[bool] = None,
                 consistent_with: Any = None, send_to_node: Optional[str] = None,
                 raw: Optional[Dict[str, Any]] = None, span: Any = None,
                 parent_span: Any = None, serializer: Any = None, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, read_only=read_only,
                         scan_consistency=scan_consistency, adhoc=adhoc,
                         client_context_id=client_context_id, max_parallelism=max_parallelism,
                         positional_parameters=positional_parameters,
                         named_parameters=named_parameters, pipeline_batch=pipeline_batch,
                         pipeline_cap=pipeline_cap, profile=profile,
                         query_context=query_context, scan_cap=scan_cap, scan_wait=scan_wait,
                         metrics=metrics, flex_index=flex_index,
                         preserve_expiry=preserve_expiry, use_replica=use_replica,
                         consistent_with=consistent_with, send_to_node=send_to_node, raw=raw,
                         span=span, parent_span=parent_span, serializer=serializer, **kwargs)


# multi operations (blocking, and divan's async front ends): plain dicts with get_valid_keys()


class _MultiOptions(OptionsBase):
    """Options of a ``*_multi`` operation: its single operation's, plus ``per_key_options``
    ({key: options or dict}, overriding these for that key) and ``return_exceptions``
    (default True: failures are kept in the result rather than raised)."""

    _MULTI_OPTS = {"per_key_options", "return_exceptions"}


class GetMultiOptions(_MultiOptions):
    _VALID_OPTS = GetOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


class GetAnyReplicaMultiOptions(_MultiOptions):
    _VALID_OPTS = GetAnyReplicaOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


class GetAllReplicasMultiOptions(_MultiOptions):
    _VALID_OPTS = GetAllReplicasOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


class GetAndLockMultiOptions(_MultiOptions):
    _VALID_OPTS = GetAndLockOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


class LockMultiOptions(GetAndLockMultiOptions):  # the deprecated name
    _VALID_OPTS = GetAndLockOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


class ExistsMultiOptions(_MultiOptions):
    _VALID_OPTS = ExistsOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


class InsertMultiOptions(_MultiOptions):
    _VALID_OPTS = InsertOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


class UpsertMultiOptions(_MultiOptions):
    _VALID_OPTS = UpsertOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


class ReplaceMultiOptions(_MultiOptions):
    _VALID_OPTS = ReplaceOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


class RemoveMultiOptions(_MultiOptions):
    _VALID_OPTS = RemoveOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


class TouchMultiOptions(_MultiOptions):
    _VALID_OPTS = TouchOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


class UnlockMultiOptions(_MultiOptions):
    _VALID_OPTS = UnlockOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


class AppendMultiOptions(_MultiOptions):
    _VALID_OPTS = AppendOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


class PrependMultiOptions(_MultiOptions):
    _VALID_OPTS = PrependOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


class IncrementMultiOptions(_MultiOptions):
    _VALID_OPTS = IncrementOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


class DecrementMultiOptions(_MultiOptions):
    _VALID_OPTS = DecrementOptions._VALID_OPTS | _MultiOptions._MULTI_OPTS


# --------------------------------------------------------------------------------------------
# merging and conversion


def merge_options(options: Iterable[Any], kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """``opts[0]`` (if any) copied, then updated with ``kwargs``: kwargs win. None values drop."""
    opts = list(options)
    merged: Dict[str, Any] = {}
    if opts and opts[0] is not None:
        if not isinstance(opts[0], dict):
            raise InvalidArgumentException(
                "Expected an options object, got %s." % type(opts[0]).__name__)
        merged.update(opts[0])
    merged.update(kwargs)
    return {k: v for k, v in merged.items() if v is not None}


def forward_args(kwargs: Dict[str, Any], *options: Any) -> Dict[str, Any]:
    """Merge options then convert the values the engine takes in another unit.

    timeout -> int ms; expiry -> server expiry; lock_time -> int s; durability ->
    ``durability_level`` int or ``{'replicate_to', 'persist_to'}``; read_preference -> value.
    Type errors raise InvalidArgumentException.
    """
    if not kwargs and not options:  # the common call: no options at all
        return {}
    args = merge_options(options, kwargs)
    if "timeout" in args:
        args["timeout"] = timedelta_as_milliseconds(args["timeout"])
    if "expiry" in args:
        args["expiry"] = timedelta_as_timestamp(args["expiry"])
    if "lock_time" in args:
        args["lock_time"] = timedelta_as_seconds(args["lock_time"])
    if "durability" in args:
        parsed = DurabilityParser.parse_durability(args.pop("durability"))
        if isinstance(parsed, dict):
            args.update(parsed)
        elif parsed is not None:
            args["durability_level"] = parsed
    if "read_preference" in args:
        pref = args["read_preference"]
        if not isinstance(pref, ReadPreference):
            raise InvalidArgumentException("read_preference must be a ReadPreference.")
        args["read_preference"] = pref.value
    if "transcoder" in args and not isinstance(args["transcoder"], Transcoder):
        raise InvalidArgumentException("transcoder must implement encode_value and decode_value.")
    return args


def forward_counter_args(kwargs: Dict[str, Any], *options: Any) -> Dict[str, Any]:
    """:func:`forward_args` for increment/decrement: ``delta`` (default ``DeltaValue(1)``) must be
    a DeltaValue and ``initial`` (default ``SignedInt64(0)``) a SignedInt64, else
    InvalidArgumentException; they become ``delta`` and ``initial_value`` ints, and a negative
    initial is left out (the document is then not created)."""
    args = forward_args(kwargs, *options)
    delta = args.pop("delta", DeltaValue(1))
    initial = args.pop("initial", SignedInt64(0))
    if not DeltaValueBase.is_valid(delta):
        raise InvalidArgumentException(
            "Argument is not valid DeltaValue, got %s." % type(delta).__name__)
    if not SignedInt64Base.is_valid(initial):
        raise InvalidArgumentException(
            "Argument is not valid SignedInt64, got %s." % type(initial).__name__)
    args["delta"] = delta.value
    if initial.value >= 0:
        args["initial_value"] = initial.value
    return args


def check_expiry_and_preserve(args: Dict[str, Any]) -> None:
    """replace and mutate_in refuse ``expiry`` together with ``preserve_expiry=True``."""
    if args.get("preserve_expiry") and "expiry" in args:
        raise InvalidArgumentException(
            "The expiry and preserve_expiry options cannot both be set for replace or mutate_in.")


def mutate_in_store_semantics(args: Dict[str, Any]) -> StoreSemantics:
    """The store semantics of a mutate_in from ``store_semantics`` or the legacy ``insert_doc`` /
    ``upsert_doc`` / ``replace_doc`` kwargs (at most one of which may be set); pops the legacy keys."""
    legacy = [k for k in ("insert_doc", "upsert_doc", "replace_doc") if args.get(k) is not None]
    if len(legacy) > 1:
        raise InvalidArgumentException(
            "Cannot set more than one of insert_doc, upsert_doc and replace_doc.")
    semantics = args.get("store_semantics", StoreSemantics.REPLACE)
    for key, value in (("insert_doc", StoreSemantics.INSERT), ("upsert_doc", StoreSemantics.UPSERT),
                       ("replace_doc", StoreSemantics.REPLACE)):
        if args.pop(key, None):
            semantics = value
    if not isinstance(semantics, StoreSemantics):
        raise InvalidArgumentException("store_semantics must be a StoreSemantics.")
    return semantics


# --------------------------------------------------------------------------------------------
# cluster options

_TIMEOUT_CORE_KEYS = {
    "bootstrap_timeout": "bootstrap_timeout",
    "resolve_timeout": "resolve_timeout",
    "connect_timeout": "connect_timeout",
    "kv_timeout": "key_value_timeout",
    "kv_durable_timeout": "key_value_durable_timeout",
    "views_timeout": "view_timeout",
    "query_timeout": "query_timeout",
    "analytics_timeout": "analytics_timeout",
    "search_timeout": "search_timeout",
    "management_timeout": "management_timeout",
    "dns_srv_timeout": "dns_srv_timeout",
    "idle_http_connection_timeout": "idle_http_connection_timeout",
    "config_idle_redial_timeout": "config_idle_redial_timeout",
    "config_total_timeout": None,  # accepted and discarded, as upstream
}


class ClusterTimeoutOptions(OptionsBase):
    """Cluster-wide default timeouts (timedelta); :meth:`as_core_dict` gives the engine's keys in ms."""

    _VALID_OPTS = set(_TIMEOUT_CORE_KEYS)

    def __init__(self, bootstrap_timeout: Optional[timedelta] = None,
                 resolve_timeout: Optional[timedelta] = None,
                 connect_timeout: Optional[timedelta] = None,
                 kv_timeout: Optional[timedelta] = None,
                 kv_durable_timeout: Optional[timedelta] = None,
                 views_timeout: Optional[timedelta] = None,
                 query_timeout: Optional[timedelta] = None,
                 analytics_timeout: Optional[timedelta] = None,
                 search_timeout: Optional[timedelta] = None,
                 management_timeout: Optional[timedelta] = None,
                 dns_srv_timeout: Optional[timedelta] = None,
                 idle_http_connection_timeout: Optional[timedelta] = None,
                 config_idle_redial_timeout: Optional[timedelta] = None,
                 config_total_timeout: Optional[timedelta] = None, **kwargs: Any) -> None:
        given = dict(locals())
        for k in ("self", "kwargs", "__class__"):
            given.pop(k, None)
        given.update(kwargs)
        super().__init__(**given)

    def as_core_dict(self) -> Dict[str, int]:
        out: Dict[str, int] = {}
        for key, value in self.items():
            core = _TIMEOUT_CORE_KEYS.get(key)
            if core is not None:
                out[core] = timedelta_as_milliseconds(value)
        return out


class ClusterTracingOptions(OptionsBase):
    """Threshold-logging tracer settings (accepted; divan's tracing is minimal)."""


class ClusterMetricsOptions(OptionsBase):
    """Logging-meter settings (accepted; divan's metrics are minimal)."""


class ClusterOrphanReportingOptions(OptionsBase):
    """Orphaned-response reporting settings (accepted)."""


class TLSVerifyMode(Enum):
    """How a TLS connection verifies the server: ``PEER`` (the chain and the name) or ``NONE``;
    ``NO_VERIFY`` is ``NONE``'s other name."""

    NONE = "none"
    PEER = "peer"
    NO_VERIFY = "no_verify"

    @classmethod
    def from_str(cls, value: str) -> "TLSVerifyMode":
        if isinstance(value, str):
            if value == "no_verify":
                return cls.NONE
            for m in cls:
                if m.value == value:
                    return m
        raise InvalidArgumentException(f"{value} is not a valid TLSVerifyMode option. "
                                       "Excepted str representation of type TLSVerifyMode.")

    @classmethod
    def to_str(cls, value: "Union[TLSVerifyMode, str]") -> str:
        if isinstance(value, str):
            value = cls.from_str(value)
        if isinstance(value, TLSVerifyMode):
            return "none" if value in (cls.NONE, cls.NO_VERIFY) else "peer"
        raise InvalidArgumentException(f"{value} is not a valid TLSVerifyMode option. "
                                       "Excepted TLS verify mode to be either of type "
                                       "TLSVerifyMode or str representation of TLSVerifyMode.")


_IGNORED_CLUSTER_OPTS = {"lockmode", "log_redaction", "compression", "compression_min_size",
                         "compression_min_ratio"}
_NESTED_CLUSTER_OPTS = ("timeout_options", "tracing_options", "metrics_options",
                        "orphan_reporting_options")


class ClusterOptions(OptionsBase):
    """Cluster settings: an authenticator (mandatory) and any ClusterOptions key as kwargs.

    Nested ``timeout_options``/``tracing_options``/``metrics_options``/``orphan_reporting_options``
    objects are flattened into this dict; legacy no-op keys (lockmode, compression, ...) are dropped.
    """

    def __init__(self, authenticator: Authenticator,
                 timeout_options: Optional[ClusterTimeoutOptions] = None,
                 tracing_options: Optional[ClusterTracingOptions] = None,
                 metrics_options: Optional[ClusterMetricsOptions] = None,
                 orphan_reporting_options: Optional[ClusterOrphanReportingOptions] = None,
                 **kwargs: Any) -> None:
        if authenticator is None:
            raise InvalidArgumentException("Authenticator is mandatory.")
        if not isinstance(authenticator, Authenticator):
            raise InvalidArgumentException("authenticator must be one of couchbase.auth's authenticators.")
        flat: Dict[str, Any] = {}
        for nested in (timeout_options, tracing_options, metrics_options, orphan_reporting_options):
            if nested:
                flat.update(nested)
        flat.update({k: v for k, v in kwargs.items() if k not in _IGNORED_CLUSTER_OPTS})
        super().__init__(authenticator=authenticator, **flat)

    @classmethod
    def create_options_with_profile(cls, authenticator: Authenticator,
                                    profile_name: "Union[KnownConfigProfiles, str]"
                                    ) -> "ClusterOptions":
        opts = cls(authenticator)
        opts.apply_profile(profile_name)
        return opts

    def apply_profile(self, profile_name: "Union[KnownConfigProfiles, str]") -> None:
        """Apply a registered ConfigProfile (``KnownConfigProfiles.WanDevelopment`` or
        ``'wan_development'``, or one registered in ``CONFIG_PROFILES``)."""
        CONFIG_PROFILES.apply_profile(KnownConfigProfiles.to_str(profile_name)
                                      if isinstance(profile_name, KnownConfigProfiles)
                                      else profile_name, self)

    def timeouts(self) -> ClusterTimeoutOptions:
        """The timeout keys of these options, as a ClusterTimeoutOptions."""
        return ClusterTimeoutOptions(**{k: v for k, v in self.items() if k in _TIMEOUT_CORE_KEYS})


__all__ = [n for n in dir() if not n.startswith("_") and n not in (
    "Any", "Dict", "Iterable", "List", "Optional", "Set", "timedelta",
    "timedelta_as_milliseconds", "timedelta_as_seconds", "timedelta_as_timestamp")]


# --------------------------------------------------------------------------------------------
# configuration profiles


class KnownConfigProfiles(Enum):
    """The profiles every SDK knows."""

    WanDevelopment = "wan_development"

    @classmethod
    def from_str(cls, value: str) -> "KnownConfigProfiles":
        for member in cls:
            if member.value == value:
                return member
        raise InvalidArgumentException(
            "%s is not a valid KnownConfigProfiles option. Excepted str representation of type "
            "KnownConfigProfiles." % (value,))

    @classmethod
    def to_str(cls, value: "Union[KnownConfigProfiles, str]") -> str:
        if isinstance(value, KnownConfigProfiles):
            return value.value
        if isinstance(value, str) and any(m.value == value for m in cls):
            return value
        raise InvalidArgumentException(
            "%s is not a valid KnownConfigProfiles option. Expected KnownConfigProfiles or str "
            "representation of KnownConfigProfiles." % (value,))


class ConfigProfile(ABC):
    """A named set of ClusterOptions settings; ``apply`` writes them into the options."""

    @abstractmethod
    def apply(self, options: ClusterOptions) -> None:
        """Set this profile's options (overriding what was set before)."""


class WanDevelopmentProfile(ConfigProfile):
    """Long timeouts, for a cluster across a WAN from a developer's machine."""

    def apply(self, options: ClusterOptions) -> None:
        for key in ("kv_timeout", "kv_durable_timeout", "connect_timeout", "dns_srv_timeout",
                    "resolve_timeout"):
            options[key] = timedelta(seconds=20)
        for key in ("query_timeout", "analytics_timeout", "search_timeout", "management_timeout",
                    "views_timeout", "bootstrap_timeout"):
            options[key] = timedelta(seconds=120)


class ConfigProfiles:
    """The registered profiles by name."""

    def __init__(self) -> None:
        self._profiles: Dict[str, ConfigProfile] = {}
        self.register_profile(KnownConfigProfiles.WanDevelopment.value, WanDevelopmentProfile())

    def apply_profile(self, profile_name: str, options: ClusterOptions) -> None:
        if profile_name not in self._profiles:
            raise InvalidArgumentException("%s is not a registered profile." % (profile_name,))
        self._profiles[profile_name].apply(options)

    def register_profile(self, profile_name: str, profile: ConfigProfile) -> None:
        if not isinstance(profile, ConfigProfile):
            raise InvalidArgumentException(
                "A Configuration Profile must be derived from ConfigProfile")
        self._profiles[profile_name] = profile

    def unregister_profile(self, profile_name: str) -> Optional[ConfigProfile]:
        return self._profiles.pop(profile_name, None)


CONFIG_PROFILES = ConfigProfiles()


class Compression(Enum):
    """ClusterOptions ``compression`` values. divan's engine always negotiates snappy and
    compresses the values it sends on its own rule, so the option is accepted and has no
    effect."""

    NONE = "off"
    IN = "inflate_only"
    OUT = "deflate_only"
    INOUT = "on"
    FORCE = "force"
