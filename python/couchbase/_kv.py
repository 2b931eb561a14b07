# mypy: disable-error-code="no-any-return"
"""What the three front ends (couchbase, acouchbase, txcouchbase) share: the KV operations as
requests for ``couchbase._core``, and the cluster options and reports.

A collection's method checks and converts its arguments into a request, ``(args, kwargs)`` of
the core's ``submit``, and hands it to its front end's ``_run``: the blocking front end waits
for the result, the asyncio one returns the Future, the Twisted one a Deferred. Several requests
(replica reads, ``*_multi``) go to ``_run_all`` together, with a function that combines their
outcomes (each a result or an exception) into one value.
"""

import uuid
from functools import partial
from datetime import timedelta
from typing import (Any, Callable, Dict, Generic, Iterable, Iterator, List, Optional, Sequence,
                    Tuple, TypeVar, Union)

from couchbase import __version__
from couchbase._utils import (timedelta_as_milliseconds, timedelta_as_seconds,
                              timedelta_as_timestamp)
from couchbase.auth import Authenticator
from couchbase.constants import FMT_COMMON_MASK, FMT_JSON
from couchbase.diagnostics import ServiceType
from couchbase.exceptions import (DocumentNotFoundException, DocumentUnretrievableException,
                                  InvalidArgumentException,
                                  error_message, error_name)
from couchbase.options import (AppendMultiOptions, AppendOptions, DecrementMultiOptions,
                               DecrementOptions, ExistsMultiOptions, ExistsOptions,
                               GetAllReplicasMultiOptions, GetAllReplicasOptions,
                               GetAndLockMultiOptions, GetAndLockOptions, GetAndTouchOptions,
                               GetAnyReplicaMultiOptions, GetAnyReplicaOptions, GetMultiOptions,
                               GetOptions, IncrementMultiOptions, IncrementOptions,
                               InsertMultiOptions, InsertOptions, LockMultiOptions,
                               LookupInAllReplicasOptions, LookupInAnyReplicaOptions,
                               LookupInOptions, MutateInOptions, PrependMultiOptions,
                               PrependOptions, RemoveMultiOptions, RemoveOptions,
                               ReplaceMultiOptions, ReplaceOptions, TouchMultiOptions,
                               TouchOptions, UnlockMultiOptions, UnlockOptions,
                               TLSVerifyMode, UpsertMultiOptions, UpsertOptions,
                               check_expiry_and_preserve,
                               forward_args, forward_counter_args, merge_options,
                               mutate_in_store_semantics)
from couchbase.replica_reads import ReadPreference
from couchbase.result import (CounterResult, DiagnosticsResult, ExistsResult, GetReplicaResult,
                              GetResult, LookupInReplicaResult, LookupInResult,
                              MultiCounterResult, MultiExistsResult, MultiGetReplicaResult,
                              MultiGetResult, MultiMutationResult, MutateInResult,
                              MutationResult, PingResult, ProjectedGetResult)
from couchbase.subdocument import check_lookup_in_specs, check_mutate_in_specs
from couchbase.subdocument import get as sd_get
from couchbase.subdocument import with_expiry as with_expiry_spec
from couchbase.transcoder import JSONTranscoder, Transcoder

# dv_op_kind of include/divan/client.h
(KV_GET, KV_GET_AND_TOUCH, KV_GET_AND_LOCK, KV_GET_REPLICA, KV_EXISTS, KV_INSERT, KV_UPSERT,
 KV_REPLACE, KV_REMOVE, KV_TOUCH, KV_UNLOCK, KV_APPEND, KV_PREPEND, KV_INCREMENT,
 KV_DECREMENT, KV_LOOKUP_IN, KV_MUTATE_IN) = range(17)

Request = Tuple[Tuple[Any, ...], Dict[str, Any]]
Combine = Callable[[List[Any]], Any]

MAX_LOOKUP_SPECS = 16  # the paths one lookup_in takes
TIMEOUT_EXPIRED = 2 ** 64 - 1  # DV_TIMEOUT_EXPIRED of include/divan/client.h
REPLICAS = 3  # the most a bucket can have; the engine fails an index not in the map at once


def no_result(_core: Any, _extra: Any) -> None:
    return None


# ---- cluster options and reports ----------------------------------------------------------


class ClusterSettings:
    """A Cluster's constructor arguments: the first options object, overridden by kwargs."""

    def __init__(self, connstr: str, options: Sequence[Any], kwargs: Dict[str, Any]) -> None:
        opts: Dict[str, Any] = dict(options[0] or {}) if options else {}
        opts.update(kwargs)
        auth = opts.get("authenticator")
        if not isinstance(auth, Authenticator):
            raise InvalidArgumentException("ClusterOptions need an authenticator.")
        self.authenticator = auth
        self.transcoder: Transcoder = opts.get("transcoder") or JSONTranscoder()
        self.server_group: Optional[str] = opts.get("preferred_server_group")
        self.core_args = (_with_options(connstr, opts), auth.get("username"),
                          auth.get("password"))
        self.query_timeout_ms = _ms(opts, "query_timeout")
        self.management_timeout_ms = _ms(opts, "management_timeout")
        self.core_kwargs: Dict[str, Any] = {
            "kv_timeout_ms": _ms(opts, "kv_timeout"),
            "kv_durable_timeout_ms": _ms(opts, "kv_durable_timeout"),
            "connect_timeout_ms": _ms(opts, "connect_timeout"),
            "bootstrap_timeout_ms": _ms(opts, "bootstrap_timeout")}
        self.core_kwargs.update(_tls_kwargs(opts, auth))


# ClusterOptions that libdivan reads from the connection string, where the official core takes
# them too; an option given in ClusterOptions is appended (it wins over the string's).
_CONNSTR_BOOLS = ("enable_mutation_tokens", "enable_unordered_execution",
                  "enable_clustermap_notification", "enable_compression",
                  "enable_tcp_keep_alive", "enable_dns_srv", "show_queries")


def _tls_kwargs(opts: Dict[str, Any], auth: Authenticator) -> Dict[str, Any]:
    """The engine's TLS options: the trust store (ClusterOptions' trust_store_path, else the
    authenticator's: PasswordAuthenticator's cert_path is a trust store, as upstream), the verify
    mode, and a CertificateAuthenticator's certificate and key."""
    a = auth.as_dict()
    kw: Dict[str, Any] = {}
    trust = opts.get("trust_store_path") or a.get("trust_store_path")
    if trust is not None:
        kw["trust_store_path"] = str(trust)
    if opts.get("tls_verify") is not None:
        kw["tls_verify"] = TLSVerifyMode.to_str(opts["tls_verify"])
    if a.get("cert_path") is not None and "username" not in a:
        kw["cert_path"], kw["key_path"] = a["cert_path"], a.get("key_path")
    return kw


def _with_options(connstr: str, opts: Dict[str, Any]) -> str:
    extra = ["%s=%s" % (k, "true" if opts[k] else "false")
             for k in _CONNSTR_BOOLS if opts.get(k) is not None]
    if opts.get("network") is not None:
        extra.append("network=%s" % opts["network"])
    if opts.get("idle_http_connection_timeout") is not None:  # libdivan reads it from there
        extra.append("idle_http_connection_timeout=%dms"
                     % timedelta_as_milliseconds(opts["idle_http_connection_timeout"]))
    if not extra:
        return connstr
    return connstr + ("&" if "?" in connstr else "?") + "&".join(extra)


def new_credentials(current: Authenticator, new: Any) -> Tuple[str, str]:
    """set_authenticator's check: the same kind of authenticator as the cluster's (the official
    rule); its user name and password for the engine."""
    if not isinstance(new, Authenticator):
        raise InvalidArgumentException("The authenticator must be one of couchbase.auth's.")
    if type(new) is not type(current):
        raise InvalidArgumentException(
            "Cannot change authenticator type when updating credentials")
    return str(new.get("username")), str(new.get("password"))


def check_open(closed: bool) -> None:
    """What every front end raises once its Cluster is closed (the official message)."""
    if closed:
        raise RuntimeError("Cannot perform operations on a closed cluster. Create a new "
                           "cluster instance to reconnect.")


def _ms(options: Dict[str, Any], key: str) -> int:
    """A ClusterOptions timeout in ms for the engine (0: its default)."""
    value = options.get(key)
    return 0 if value is None else timedelta_as_milliseconds(value)


_SDK = "divan-python/" + __version__
_ENDPOINT_STATES = ("disconnected", "connecting", "connected")
Endpoint = Tuple[int, str, Optional[str], int, int, int, int, Optional[str], Optional[str]]


def _report(report_id: Optional[str], kv: List[Dict[str, Any]]) -> Dict[str, Any]:
    """A report's raw form, as the official SDK's core gives it (KV endpoints only)."""
    return {"id": report_id or str(uuid.uuid4()), "version": 2, "sdk": _SDK,
            "services": {ServiceType.KeyValue.value: kv} if kv else {}}


# The HTTP services a cluster ping reaches, and the request it sends to each.
HTTP_PINGS = ((ServiceType.Query, "query", "/admin/ping"),
              (ServiceType.Management, "mgmt", "/pools"))


def http_pings(args: Dict[str, Any]) -> List[Tuple[ServiceType, str, str]]:
    """The HTTP services ping's ``service_types`` (default: all) ask for."""
    kinds = args.get("service_types")
    return [p for p in HTTP_PINGS if kinds is None or p[0] in kinds]


def http_ping_args(service: str, path: str, args: Dict[str, Any]) -> Tuple[Tuple[Any, ...],
                                                                              Dict[str, Any]]:
    """http_request's arguments for one service's ping."""
    return ((service, "GET", path), {"timeout_ms": int(args.get("timeout") or 0),
                                     "idempotent": True, "detail": True})


def http_ping_entry(kind: ServiceType, outcome: Any) -> Dict[str, Any]:
    """A ping report's entry for an HTTP service from http_request's (status, body, node,
    elapsed_us), or the exception it raised."""
    if isinstance(outcome, BaseException):
        ctx = getattr(outcome, "error_context", None)
        remote = getattr(ctx, "last_dispatched_to", None) or ""
        timeout = type(outcome).__name__ in ("AmbiguousTimeoutException",
                                             "UnAmbiguousTimeoutException")
        return {"type": kind.value, "id": "0x0", "remote": remote, "local": None,
                "bucket": None, "latency": None, "state": "timeout" if timeout else "error",
                "error": str(getattr(outcome, "message", None) or outcome)}
    status, _body, node, latency = outcome
    ok = 200 <= status < 300
    return {"type": kind.value, "id": "0x0", "remote": node, "local": None, "bucket": None,
            "latency": latency if ok else None, "state": "ok" if ok else "error",
            "error": None if ok else "HTTP %d" % status}


def ping_report(report_id: Optional[str], endpoints: Iterable[Endpoint],
                http: Iterable[Dict[str, Any]] = ()) -> PingResult:
    services = []
    for ep_id, remote, bucket, _state, _last, err, latency, local, _svc in endpoints:
        state = ("ok" if not err else
                 "timeout" if error_name(err) == "UNAMBIGUOUS_TIMEOUT" else "error")
        services.append({"type": ServiceType.KeyValue.value, "id": "0x%x" % ep_id,
                         "remote": remote, "local": local, "bucket": bucket,
                         "latency": None if err else latency, "state": state,
                         "error": error_message(err) if err else None})
    report = _report(report_id, services)
    for entry in http:
        report["services"].setdefault(entry["type"], []).append(entry)
    return PingResult(report)


_SERVICE_OF = {None: ServiceType.KeyValue, "query": ServiceType.Query,
               "mgmt": ServiceType.Management}


def diagnostics_report(report_id: Optional[str],
                       endpoints: Iterable[Endpoint]) -> DiagnosticsResult:
    """KV connections, and the HTTP ones (kept-alive or carrying a request) by service."""
    report = _report(report_id, [])
    for ep_id, remote, bucket, state, last, _err, _latency, local, svc in endpoints:
        kind = _SERVICE_OF.get(svc, ServiceType.KeyValue)
        report["services"].setdefault(kind.value, []).append(
            {"type": kind.value, "id": "0x%x" % ep_id, "remote": remote, "local": local,
             "bucket": bucket, "last_activity": last or None,
             "state": _ENDPOINT_STATES[state]})
    return DiagnosticsResult(report)


def pings_kv(args: Dict[str, Any]) -> bool:
    """Whether ping's ``service_types`` (default: all) include KV; checks the option's type."""
    kinds = args.get("service_types")
    if kinds is None:
        return True
    if not isinstance(kinds, (list, set, tuple)):
        raise InvalidArgumentException("service_types must be a list or set of ServiceType.")
    return ServiceType.KeyValue in kinds


# ---- scopes and collections ----------------------------------------------------------------


class ScopeLogic:
    """A scope of a bucket (``_bucket``: the front end's Bucket, which has ``_name``); each
    front end adds ``collection(name)``."""

    def __init__(self, bucket: Any, name: str) -> None:
        self._bucket = bucket
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def bucket_name(self) -> str:
        return str(self._bucket._name)

    @staticmethod
    def default_name() -> str:
        return "_default"

    def _query_context(self) -> str:
        """What Scope.query sends as query_context (no ``default:`` prefix, as upstream)."""
        return "`%s`.`%s`" % (self._bucket._name, self._name)


def unretrievable(key: str) -> DocumentUnretrievableException:
    """What a read of any copy raises when no copy could be read."""
    return DocumentUnretrievableException("no copy of %r could be read" % key)


def _first_copy(key: str, outcomes: List[Any]) -> Any:
    """The first copy read (of the active and replica reads, in that order)."""
    for outcome in outcomes:
        if not isinstance(outcome, BaseException):
            return outcome
    raise unretrievable(key)


def _all_copies(key: str, outcomes: List[Any]) -> Iterator[Any]:
    if not outcomes:  # no copy could be asked (the read preference)
        raise unretrievable(key)
    found = [r for r in outcomes if not isinstance(r, BaseException)]
    if not found:
        raise DocumentNotFoundException("no copy of %r was found" % key)
    return iter(found)


def _list_of_copies(key: str, outcomes: List[Any]) -> List[Any]:
    return list(_all_copies(key, outcomes))


def _only(_key: str, outcomes: List[Any]) -> Any:
    return outcomes[0]


def _unlocked(outcomes: Dict[str, Any], return_exceptions: bool) -> Dict[str, Any]:
    """unlock_multi's result: {key: None or the exception}."""
    for value in outcomes.values():
        if isinstance(value, BaseException) and not return_exceptions:
            raise value
    return outcomes


def _outcome(fn: Callable[[str, List[Any]], Any], key: str, outcomes: List[Any]) -> Any:
    """fn's value, or the exception it raised (one key's outcome in a multi result)."""
    try:
        return fn(key, outcomes)
    except Exception as exc:  # noqa: B902 - becomes that key's outcome
        return exc


# What the operations return, one type per kind of result: the result itself (blocking), its
# Future (asyncio) or its Deferred (Twisted); each front end names them as CollectionLogic's and
# BinaryLogic's type arguments, in this order.
GetT = TypeVar("GetT")  # GetResult
ExistsT = TypeVar("ExistsT")  # ExistsResult
MutationT = TypeVar("MutationT")  # MutationResult
UnlockT = TypeVar("UnlockT")  # None
ReplicaT = TypeVar("ReplicaT")  # GetReplicaResult
ReplicasT = TypeVar("ReplicasT")  # Iterator[GetReplicaResult]
LookupInT = TypeVar("LookupInT")  # LookupInResult
MutateInT = TypeVar("MutateInT")  # MutateInResult
MultiGetT = TypeVar("MultiGetT")  # MultiGetResult
MultiExistsT = TypeVar("MultiExistsT")  # MultiExistsResult
MultiMutationT = TypeVar("MultiMutationT")  # MultiMutationResult
MultiUnlockT = TypeVar("MultiUnlockT")  # Dict[str, Any]: None or the exception per key
MultiReplicaT = TypeVar("MultiReplicaT")  # MultiGetReplicaResult
LookupInReplicaT = TypeVar("LookupInReplicaT")  # LookupInReplicaResult
LookupInReplicasT = TypeVar("LookupInReplicasT")  # Iterator[LookupInReplicaResult]
CounterT = TypeVar("CounterT")  # CounterResult
BinMutationT = TypeVar("BinMutationT")  # MutationResult
MultiCounterT = TypeVar("MultiCounterT")  # MultiCounterResult
BinMultiMutationT = TypeVar("BinMultiMutationT")  # MultiMutationResult


class CollectionLogic(Generic[GetT, ExistsT, MutationT, UnlockT, ReplicaT, ReplicasT, LookupInT,
                              MutateInT, MultiGetT, MultiExistsT, MultiMutationT, MultiUnlockT,
                              MultiReplicaT, LookupInReplicaT, LookupInReplicasT]):
    """The KV, sub-document and ``*_multi`` operations of a collection, on any front end.

    A front end sets ``_core`` (its ``couchbase._core`` cluster), ``_keyspace``,
    ``_transcoder``, ``_server_group`` and ``_submit`` and implements ``_run`` and
    ``_run_all``. Methods return what those return: a result (blocking), a Future (asyncio) or
    a Deferred (Twisted).
    """

    _keyspace: Tuple[str, str, str]
    _transcoder: Transcoder
    _server_group: Optional[str]
    _name: str
    # The plain call's submit: the core's submit, or (Twisted) a function of the same
    # arguments that returns what _run returns.
    _submit: Callable[..., Any]

    @property
    def name(self) -> str:
        return self._name

    @staticmethod
    def default_name() -> str:
        return "_default"

    def _run(self, req: Request) -> Any:
        raise NotImplementedError

    def _run_all(self, reqs: List[Request], combine: Combine) -> Any:
        raise NotImplementedError

    def _run_any(self, reqs: List[Request], key: str) -> Any:
        """The first copy that answers (here: the first in order, once all have answered or
        timed out; the async front ends answer with the first)."""
        return self._run_all(reqs, partial(_first_copy, key))

    # ---- requests

    def _req(self, kind: int, key: str, args: Dict[str, Any], result_type: Any,
             extra: Any = None, **fields: Any) -> Request:
        if not isinstance(key, str):
            raise InvalidArgumentException("The document key must be a str.")
        if "replicate_to" in args or "persist_to" in args:  # ClientDurability
            fields["persist_to"] = int(args["persist_to"])
            fields["replicate_to"] = int(args["replicate_to"])
        timeout = args.get("timeout")
        # a given timeout under 1 ms has run out already (the official SDK's rule); absent: 0,
        # the cluster's default
        fields["timeout_ms"] = 0 if timeout is None else timeout or TIMEOUT_EXPIRED
        fields["result_type"] = result_type
        fields["extra"] = extra
        return (kind, *self._keyspace, key), fields

    def _store_req(self, kind: int, key: str, value: Any, args: Dict[str, Any],
                   **fields: Any) -> Request:
        transcoder = args.get("transcoder") or self._transcoder
        data, flags = transcoder.encode_value(value)
        return self._req(
            kind, key, args, MutationResult, value=data, flags=flags,
            datatype=1 if flags & FMT_COMMON_MASK == FMT_JSON else 0,
            expiry=args.get("expiry", 0), durability=args.get("durability_level", 0), **fields)

    def _get_req(self, key: str, args: Dict[str, Any]) -> Request:
        transcoder = args.get("transcoder") or self._transcoder
        with_expiry = bool(args.get("with_expiry"))
        paths = args.get("project")
        if paths is None:
            return self._req(KV_GET, key, args, GetResult, transcoder, with_expiry=with_expiry)
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise InvalidArgumentException("Project must be a list of strings.")
        paths = [p for p in paths if p]
        if not paths or len(paths) + with_expiry > MAX_LOOKUP_SPECS:
            return self._req(KV_GET, key, args, ProjectedGetResult,
                             (key, transcoder, paths, False, with_expiry),
                             with_expiry=with_expiry)
        specs = ([with_expiry_spec()] if with_expiry else []) + [sd_get(p) for p in paths]
        wire = [tuple(s.to_wire(transcoder)) for s in specs]
        return self._req(KV_LOOKUP_IN, key, args, ProjectedGetResult,
                         (key, transcoder, paths, True, with_expiry), specs=wire)

    def _exists_req(self, key: str, args: Dict[str, Any]) -> Request:
        return self._req(KV_EXISTS, key, args, ExistsResult)

    def _insert_req(self, key: str, value: Any, args: Dict[str, Any]) -> Request:
        return self._store_req(KV_INSERT, key, value, args)

    def _upsert_req(self, key: str, value: Any, args: Dict[str, Any]) -> Request:
        return self._store_req(KV_UPSERT, key, value, args,
                               preserve_expiry=bool(args.get("preserve_expiry")))

    def _replace_req(self, key: str, value: Any, args: Dict[str, Any]) -> Request:
        check_expiry_and_preserve(args)
        return self._store_req(KV_REPLACE, key, value, args, cas=args.get("cas") or 0,
                               preserve_expiry=bool(args.get("preserve_expiry")))

    def _remove_req(self, key: str, args: Dict[str, Any]) -> Request:
        return self._req(KV_REMOVE, key, args, MutationResult, cas=args.get("cas") or 0,
                         durability=args.get("durability_level", 0))

    def _touch_req(self, key: str, expiry: Any, args: Dict[str, Any]) -> Request:
        return self._req(KV_TOUCH, key, args, MutationResult,
                         expiry=timedelta_as_timestamp(expiry))

    def _get_and_touch_req(self, key: str, expiry: Any, args: Dict[str, Any]) -> Request:
        return self._req(KV_GET_AND_TOUCH, key, args, GetResult,
                         args.get("transcoder") or self._transcoder,
                         expiry=timedelta_as_timestamp(expiry))

    def _get_and_lock_req(self, key: str, lock_time: Any, args: Dict[str, Any]) -> Request:
        return self._req(KV_GET_AND_LOCK, key, args, GetResult,
                         args.get("transcoder") or self._transcoder,
                         lock_time=timedelta_as_seconds(lock_time))

    def _unlock_req(self, key: str, cas: int, args: Dict[str, Any]) -> Request:
        return self._req(KV_UNLOCK, key, args, no_result, cas=cas)

    def _unreadable(self, args: Dict[str, Any]) -> bool:
        """Whether the read preference excludes every copy (SELECTED_SERVER_GROUP without a
        preferred_server_group): then no copy is asked, and the read (each key's, in a
        ``*_multi``) fails with DocumentUnretrievableException."""
        return (args.get("read_preference") == ReadPreference.SELECTED_SERVER_GROUP.value
                and not self._server_group)

    def _replica_reqs(self, key: str, args: Dict[str, Any]) -> List[Request]:
        """The active copy's read and one per replica."""
        if self._unreadable(args):
            return []
        transcoder = args.get("transcoder") or self._transcoder
        reads = [self._req(KV_GET, key, args, GetReplicaResult, (transcoder, False))]
        for index in range(1, REPLICAS + 1):
            reads.append(self._req(KV_GET_REPLICA, key, args, GetReplicaResult,
                                   (transcoder, True), replica_index=index))
        return reads

    def _wire(self, key: str, specs: Any,
              args: Dict[str, Any]) -> Tuple[List[Tuple[Any, ...]], Tuple[Any, ...]]:
        """Checked sub-document specs as the core takes them, and the result's extra."""
        transcoder = args.get("transcoder") or self._transcoder
        wire = [tuple(s.to_wire(transcoder)) for s in specs]
        return wire, (key, transcoder, tuple(w[0] for w in wire))

    def _lookup_in_replica_reqs(self, key: str, spec: Any,
                                args: Dict[str, Any]) -> List[Request]:
        """The lookup on the active copy (replica index 0) and on each replica."""
        wire, extra = self._wire(key, check_lookup_in_specs(spec), args)
        if self._unreadable(args):
            return []
        return [self._req(KV_LOOKUP_IN, key, args, LookupInReplicaResult, (*extra, index > 0),
                          specs=wire, replica_index=index) for index in range(REPLICAS + 1)]

    # ---- single operations

    # The common call, a str key and no options, goes straight to the core's submit with the
    # request's fields as arguments (what _req would build for an empty options dict); any
    # other call takes the checked path through forward_args and _req.

    def _fast_store(self, kind: int, key: str, value: Any) -> Any:
        data, flags = self._transcoder.encode_value(value)
        b, s, c = self._keyspace
        return self._submit(kind, b, s, c, key, data, flags,
                            1 if flags & FMT_COMMON_MASK == FMT_JSON else 0,
                            result_type=MutationResult)

    def get(self, key: str, *opts: GetOptions, **kwargs: Any) -> GetT:
        if opts or kwargs or key.__class__ is not str:
            return self._run(self._get_req(key, forward_args(kwargs, *opts)))
        b, s, c = self._keyspace
        return self._submit(KV_GET, b, s, c, key, result_type=GetResult, extra=self._transcoder)

    def exists(self, key: str, *opts: ExistsOptions, **kwargs: Any) -> ExistsT:
        if opts or kwargs or key.__class__ is not str:
            return self._run(self._exists_req(key, forward_args(kwargs, *opts)))
        b, s, c = self._keyspace
        return self._submit(KV_EXISTS, b, s, c, key, result_type=ExistsResult)

    def insert(self, key: str, value: Any, *opts: InsertOptions, **kwargs: Any) -> MutationT:
        if opts or kwargs or key.__class__ is not str:
            return self._run(self._insert_req(key, value, forward_args(kwargs, *opts)))
        return self._fast_store(KV_INSERT, key, value)

    def upsert(self, key: str, value: Any, *opts: UpsertOptions, **kwargs: Any) -> MutationT:
        if opts or kwargs or key.__class__ is not str:
            return self._run(self._upsert_req(key, value, forward_args(kwargs, *opts)))
        return self._fast_store(KV_UPSERT, key, value)

    def replace(self, key: str, value: Any, *opts: ReplaceOptions, **kwargs: Any) -> MutationT:
        if opts or kwargs or key.__class__ is not str:
            return self._run(self._replace_req(key, value, forward_args(kwargs, *opts)))
        return self._fast_store(KV_REPLACE, key, value)

    def remove(self, key: str, *opts: RemoveOptions, **kwargs: Any) -> MutationT:
        if opts or kwargs or key.__class__ is not str:
            return self._run(self._remove_req(key, forward_args(kwargs, *opts)))
        b, s, c = self._keyspace
        return self._submit(KV_REMOVE, b, s, c, key, result_type=MutationResult)

    def touch(self, key: str, expiry: timedelta, *opts: TouchOptions, **kwargs: Any) -> MutationT:
        return self._run(self._touch_req(key, expiry, forward_args(kwargs, *opts)))

    def get_and_touch(self, key: str, expiry: timedelta, *opts: GetAndTouchOptions,
                      **kwargs: Any) -> GetT:
        return self._run(self._get_and_touch_req(key, expiry, forward_args(kwargs, *opts)))

    def get_and_lock(self, key: str, lock_time: timedelta, *opts: GetAndLockOptions,
                     **kwargs: Any) -> GetT:
        return self._run(self._get_and_lock_req(key, lock_time, forward_args(kwargs, *opts)))

    def unlock(self, key: str, cas: int, *opts: UnlockOptions, **kwargs: Any) -> UnlockT:
        return self._run(self._unlock_req(key, cas, forward_args(kwargs, *opts)))

    def get_any_replica(self, key: str, *opts: GetAnyReplicaOptions, **kwargs: Any) -> ReplicaT:
        """The first copy to answer, active or replica; DocumentUnretrievableException if none
        can."""
        return self._run_any(self._replica_reqs(key, forward_args(kwargs, *opts)), key)

    def get_all_replicas(self, key: str, *opts: GetAllReplicasOptions, **kwargs: Any) -> ReplicasT:
        """Every copy that answers, the active one first, as an iterator (also in the async
        front ends, as the official SDK gives); DocumentNotFoundException if none does."""
        return self._run_all(self._replica_reqs(key, forward_args(kwargs, *opts)),
                             partial(_all_copies, key))

    def lookup_in(self, key: str, spec: Any, *opts: LookupInOptions, **kwargs: Any) -> LookupInT:
        args = forward_args(kwargs, *opts)
        wire, extra = self._wire(key, check_lookup_in_specs(spec), args)
        return self._run(self._req(KV_LOOKUP_IN, key, args, LookupInResult, extra, specs=wire,
                                   access_deleted=bool(args.get("access_deleted"))))

    def lookup_in_any_replica(self, key: str, spec: Any, *opts: LookupInAnyReplicaOptions,
                              **kwargs: Any) -> LookupInReplicaT:
        """lookup_in on the first copy to answer; DocumentUnretrievableException if none can."""
        return self._run_any(
            self._lookup_in_replica_reqs(key, spec, forward_args(kwargs, *opts)), key)

    def lookup_in_all_replicas(self, key: str, spec: Any, *opts: LookupInAllReplicasOptions,
                               **kwargs: Any) -> LookupInReplicasT:
        """lookup_in on every copy that answers, the active one first, as an iterator;
        DocumentNotFoundException if none does."""
        return self._run_all(
            self._lookup_in_replica_reqs(key, spec, forward_args(kwargs, *opts)),
            partial(_all_copies, key))

    def mutate_in(self, key: str, spec: Any, *opts: MutateInOptions, **kwargs: Any) -> MutateInT:
        args = forward_args(kwargs, *opts)
        check_expiry_and_preserve(args)
        semantics = mutate_in_store_semantics(args)
        wire, extra = self._wire(
            key, check_mutate_in_specs(spec, bool(args.get("preserve_expiry"))), args)
        return self._run(self._req(KV_MUTATE_IN, key, args, MutateInResult, extra, specs=wire,
                                   store_semantics=int(semantics), cas=args.get("cas") or 0,
                                   expiry=args.get("expiry", 0),
                                   durability=args.get("durability_level", 0),
                                   preserve_expiry=bool(args.get("preserve_expiry")),
                                   access_deleted=bool(args.get("access_deleted"))))

    # ---- multi operations

    def _multi(self, keys: Any, opts: Sequence[Any], kwargs: Dict[str, Any],
               build: Callable[..., Any], result_class: Callable[..., Any],
               reduce: Callable[[str, List[Any]], Any] = _only, with_values: bool = False,
               forward: Callable[..., Dict[str, Any]] = forward_args) -> Any:
        """One ``*_multi``: every key's request(s) built and checked first (a bad argument
        raises before anything is sent), all sent at once, ``reduce`` turning a key's outcomes
        into one. A per-key option overrides the shared one (None leaves it); for counters a
        per-key entry keeps the shared delta unless it sets its own (the official SDK resets it
        to 1)."""
        if with_values and not isinstance(keys, dict):
            raise InvalidArgumentException("Expected keys_and_docs to be a dict.")
        if not with_values and not isinstance(keys, list):
            raise InvalidArgumentException("Expected keys to be a list.")
        merged = merge_options(opts, kwargs)
        per_key = merged.pop("per_key_options", None) or {}
        return_exceptions = merged.pop("return_exceptions", True)
        names: List[str] = list(keys)
        reqs: List[Request] = []
        bounds = [0]
        shared: Optional[Dict[str, Any]] = None  # the shared options, converted once
        for name in names:
            own = per_key.get(name)
            if own:
                override = {k: v for k, v in own.items() if v is not None}
                args = forward({**merged, **override})
            else:
                if shared is None:
                    shared = forward(dict(merged))
                args = shared  # the builders only read it
            got = build(name, keys[name], args) if with_values else build(name, args)
            reqs.extend(got if isinstance(got, list) else [got])
            bounds.append(len(reqs))

        def combine(outcomes: List[Any]) -> Any:
            return result_class({name: _outcome(reduce, name, outcomes[bounds[i]:bounds[i + 1]])
                                 for i, name in enumerate(names)}, return_exceptions)

        return self._run_all(reqs, combine)

    def get_multi(self, keys: List[str], *opts: GetMultiOptions, **kwargs: Any) -> MultiGetT:
        return self._multi(keys, opts, kwargs, self._get_req, MultiGetResult)

    def exists_multi(self, keys: List[str], *opts: ExistsMultiOptions,
                     **kwargs: Any) -> MultiExistsT:
        return self._multi(keys, opts, kwargs, self._exists_req, MultiExistsResult)

    def insert_multi(self, keys_and_docs: Dict[str, Any], *opts: InsertMultiOptions,
                     **kwargs: Any) -> MultiMutationT:
        return self._multi(keys_and_docs, opts, kwargs, self._insert_req, MultiMutationResult,
                           with_values=True)

    def upsert_multi(self, keys_and_docs: Dict[str, Any], *opts: UpsertMultiOptions,
                     **kwargs: Any) -> MultiMutationT:
        return self._multi(keys_and_docs, opts, kwargs, self._upsert_req, MultiMutationResult,
                           with_values=True)

    def replace_multi(self, keys_and_docs: Dict[str, Any], *opts: ReplaceMultiOptions,
                      **kwargs: Any) -> MultiMutationT:
        return self._multi(keys_and_docs, opts, kwargs, self._replace_req, MultiMutationResult,
                           with_values=True)

    def remove_multi(self, keys: List[str], *opts: RemoveMultiOptions,
                     **kwargs: Any) -> MultiMutationT:
        return self._multi(keys, opts, kwargs, self._remove_req, MultiMutationResult)

    def touch_multi(self, keys: List[str], expiry: timedelta, *opts: TouchMultiOptions,
                    **kwargs: Any) -> MultiMutationT:
        return self._multi(keys, opts, kwargs,
                           lambda k, args: self._touch_req(k, expiry, args), MultiMutationResult)

    def get_and_lock_multi(self, keys: List[str], lock_time: timedelta,
                           *opts: GetAndLockMultiOptions,
                           **kwargs: Any) -> MultiGetT:
        return self._multi(keys, opts, kwargs,
                           lambda k, args: self._get_and_lock_req(k, lock_time, args),
                           MultiGetResult)

    def lock_multi(self, keys: List[str], lock_time: timedelta, *opts: LockMultiOptions,
                   **kwargs: Any) -> MultiGetT:
        """Deprecated: get_and_lock_multi."""
        return self.get_and_lock_multi(keys, lock_time, *opts, **kwargs)

    def unlock_multi(self, keys: Any, *opts: UnlockMultiOptions, **kwargs: Any) -> MultiUnlockT:
        """keys: {key: cas}, or the MultiGetResult of get_and_lock_multi (or a
        MultiMutationResult); gives {key: None or the exception}."""
        if isinstance(keys, (MultiGetResult, MultiMutationResult)):
            keys = {k: r.cas for k, r in keys.results.items()}
        if not isinstance(keys, dict) or not all(
                isinstance(k, str) and isinstance(c, int) for k, c in keys.items()):
            raise InvalidArgumentException(
                "keys must be a dict of key to CAS, a MultiGetResult or a MultiMutationResult.")
        return self._multi(keys, opts, kwargs, self._unlock_req, _unlocked, with_values=True)

    def get_any_replica_multi(self, keys: List[str], *opts: GetAnyReplicaMultiOptions,
                              **kwargs: Any) -> MultiReplicaT:
        return self._multi(keys, opts, kwargs, self._replica_reqs, MultiGetReplicaResult,
                           reduce=_first_copy)

    def get_all_replicas_multi(self, keys: List[str], *opts: GetAllReplicasMultiOptions,
                               **kwargs: Any) -> MultiReplicaT:
        return self._multi(keys, opts, kwargs, self._replica_reqs, MultiGetReplicaResult,
                           reduce=_list_of_copies)


AnyCollection = CollectionLogic[Any, Any, Any, Any, Any, Any, Any, Any, Any, Any, Any, Any, Any,
                                Any, Any]


class BinaryLogic(Generic[CounterT, BinMutationT, MultiCounterT, BinMultiMutationT]):
    """Counters and raw appends on a collection's documents (``collection.binary()``)."""

    def __init__(self, collection: "AnyCollection") -> None:
        self._collection = collection

    def _counter_req(self, kind: int, key: str, args: Dict[str, Any]) -> Request:
        initial = args.get("initial_value")
        return self._collection._req(
            kind, key, args, CounterResult, delta=args["delta"], initial=initial or 0,
            has_initial=initial is not None, expiry=args.get("expiry", 0),
            durability=args.get("durability_level", 0))

    def _concat_req(self, kind: int, key: str, value: Any, args: Dict[str, Any]) -> Request:
        if isinstance(value, str):
            value = value.encode("utf-8")
        elif not isinstance(value, (bytes, bytearray)):
            raise InvalidArgumentException("The value must be str or bytes.")
        return self._collection._req(
            kind, key, args, MutationResult, value=bytes(value), cas=args.get("cas") or 0,
            durability=args.get("durability_level", 0))

    def increment(self, key: str, *opts: IncrementOptions, **kwargs: Any) -> CounterT:
        return self._collection._run(
            self._counter_req(KV_INCREMENT, key, forward_counter_args(kwargs, *opts)))

    def decrement(self, key: str, *opts: DecrementOptions, **kwargs: Any) -> CounterT:
        return self._collection._run(
            self._counter_req(KV_DECREMENT, key, forward_counter_args(kwargs, *opts)))

    def append(self, key: str, value: Union[str, bytes], *opts: AppendOptions,
               **kwargs: Any) -> BinMutationT:
        return self._collection._run(
            self._concat_req(KV_APPEND, key, value, forward_args(kwargs, *opts)))

    def prepend(self, key: str, value: Union[str, bytes], *opts: PrependOptions,
                **kwargs: Any) -> BinMutationT:
        return self._collection._run(
            self._concat_req(KV_PREPEND, key, value, forward_args(kwargs, *opts)))

    def increment_multi(self, keys: List[str], *opts: IncrementMultiOptions,
                        **kwargs: Any) -> MultiCounterT:
        return self._collection._multi(keys, opts, kwargs,
                                       partial(self._counter_req, KV_INCREMENT),
                                       MultiCounterResult, forward=forward_counter_args)

    def decrement_multi(self, keys: List[str], *opts: DecrementMultiOptions,
                        **kwargs: Any) -> MultiCounterT:
        return self._collection._multi(keys, opts, kwargs,
                                       partial(self._counter_req, KV_DECREMENT),
                                       MultiCounterResult, forward=forward_counter_args)

    def append_multi(self, keys_and_values: Dict[str, Any], *opts: AppendMultiOptions,
                     **kwargs: Any) -> BinMultiMutationT:
        return self._collection._multi(keys_and_values, opts, kwargs,
                                       partial(self._concat_req, KV_APPEND),
                                       MultiMutationResult, with_values=True)

    def prepend_multi(self, keys_and_values: Dict[str, Any], *opts: PrependMultiOptions,
                      **kwargs: Any) -> BinMultiMutationT:
        return self._collection._multi(keys_and_values, opts, kwargs,
                                       partial(self._concat_req, KV_PREPEND),
                                       MultiMutationResult, with_values=True)
