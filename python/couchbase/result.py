"""Results: of KV operations (GetResult, GetReplicaResult, ExistsResult, MutationResult with its
MutationToken, CounterResult, LookupInResult, LookupInReplicaResult, MutateInResult) and of ping and diagnostics
(PingResult, DiagnosticsResult).

Each wraps the C ``couchbase._core.Result`` the engine produced; a document's content is decoded
by the transcoder on first access, not when the reply arrives.
"""

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from couchbase.constants import FMT_JSON
from couchbase.diagnostics import (ClusterState, EndpointDiagnosticsReport, EndpointPingReport,
                                   EndpointState, ServiceType)
from couchbase.exceptions import (DocumentNotFoundException, InvalidArgumentException,
                                  InvalidIndexException, build_exception)
from couchbase.transcoder import Transcoder

if TYPE_CHECKING:
    from couchbase._core import Result as _CoreResult

_PATH_NOT_FOUND = 113  # couchbase._errors: PATH_NOT_FOUND
_STATUS_PATH_NOT_FOUND = 0xC0
_SUBDOC_EXISTS = 0xC6


class MutationToken:
    """The vbucket sequence number a mutation was given (for consistency and durability)."""

    def __init__(self, token: Tuple[int, int, int, Optional[str]]) -> None:
        self._token = token

    @property
    def partition_uuid(self) -> int:
        return self._token[0]

    @property
    def sequence_number(self) -> int:
        return self._token[1]

    @property
    def partition_id(self) -> int:
        return self._token[2]

    @property
    def bucket_name(self) -> Optional[str]:
        return self._token[3]

    def as_tuple(self) -> Tuple[int, int, int, Optional[str]]:
        """(partition_id, partition_uuid, sequence_number, bucket_name), the official order."""
        return (self.partition_id, self.partition_uuid, self.sequence_number, self.bucket_name)

    def as_dict(self) -> Dict[str, Any]:
        return {"partition_id": self.partition_id, "partition_uuid": self.partition_uuid,
                "sequence_number": self.sequence_number, "bucket_name": self.bucket_name}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MutationToken) and self._token == other._token

    def __hash__(self) -> int:
        return hash(self._token)

    def __repr__(self) -> str:
        return "MutationToken:%r" % (self.as_dict(),)


class Result:
    """Common to every result: the document's CAS and key (``key`` is None in the results of
    get_multi and exists_multi, as in the official SDK)."""

    __slots__ = ("_core", "_keyless")
    _keyless: bool

    def __init__(self, core: "_CoreResult", _extra: Any = None) -> None:
        self._core = core

    @property
    def cas(self) -> int:
        return self._core.cas

    @property
    def key(self) -> Optional[str]:
        return None if getattr(self, "_keyless", False) else self._core.key

    @property
    def success(self) -> bool:
        return True


class MutationResult(Result):
    __slots__ = ()

    def mutation_token(self) -> Optional[MutationToken]:
        token = self._core.token
        return MutationToken(token) if token is not None else None

    def __repr__(self) -> str:
        return "MutationResult(cas=%d)" % self.cas


class _ContentProxy:
    """``result.content_as[T]``: the content converted by T (``dict``, ``str``, ``int``, ...)."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def __getitem__(self, kind: Any) -> Any:
        return kind(self._value)


class GetResult(Result):
    """A document read: ``content_as[T]``, ``value``, ``content`` (the 3.x API), ``flags``."""

    __slots__ = ("_transcoder", "_decoded", "_has_value")

    def __init__(self, core: Any, transcoder: Transcoder) -> None:
        self._core = core  # Result.__init__'s one field, without its call (one per read)
        self._transcoder = transcoder
        self._has_value = False

    @property
    def value(self) -> Any:
        if not self._has_value:
            self._decoded = self._transcoder.decode_value(self._core.value or b"", self._core.flags)
            self._has_value = True
        return self._decoded

    content = value

    @property
    def content_as(self) -> _ContentProxy:
        return _ContentProxy(self.value)

    @property
    def flags(self) -> int:
        return self._core.flags

    @property
    def expiry_time(self) -> Optional[datetime]:
        """The expiry as a naive local datetime (only with ``with_expiry=True``), else None."""
        expiry = self._core.expiry
        return datetime.fromtimestamp(expiry) if expiry else None

    @property
    def expiryTime(self) -> Optional[datetime]:  # noqa: N802 - the deprecated official name
        """Deprecated: ``expiry_time``."""
        return self.expiry_time

    def __repr__(self) -> str:
        return "GetResult(cas=%d, flags=0x%x)" % (self.cas, self.flags)


class GetReplicaResult(GetResult):
    """A document read from the active copy or a replica: ``is_replica`` says which."""

    __slots__ = ("_replica",)

    def __init__(self, core: Any, extra: Tuple[Transcoder, bool]) -> None:
        super().__init__(core, extra[0])
        self._replica = extra[1]

    @property
    def is_replica(self) -> bool:
        return self._replica

    @property
    def is_active(self) -> bool:
        """Deprecated: ``not is_replica``."""
        return not self._replica

    def __repr__(self) -> str:
        return "GetReplicaResult(cas=%d, flags=0x%x, is_replica=%s)" % (
            self.cas, self.flags, self._replica)


class ExistsResult(Result):
    """``exists``: whether the document exists (a missing one does not raise)."""

    __slots__ = ()

    @property
    def exists(self) -> bool:
        return bool(self._core.exists) and not self._core.deleted

    def __repr__(self) -> str:
        return "ExistsResult(exists=%r, cas=%d)" % (self.exists, self.cas)


class CounterResult(MutationResult):
    """``content``: the counter's value after the increment or decrement."""

    __slots__ = ()

    @property
    def content(self) -> int:
        return int(self._core.counter)

    def __repr__(self) -> str:
        return "CounterResult(content=%d, cas=%d)" % (self.content, self.cas)


class _IndexedContent:
    """``result.content_as[T](index)``: the spec's value converted by T."""

    __slots__ = ("_result", "_kind")

    def __init__(self, result: "_SubdocResult", kind: Callable[[Any], Any]) -> None:
        self._result = result
        self._kind = kind

    def __call__(self, index: int) -> Any:
        return self._kind(self._result._field(index))


class _IndexedProxy:
    __slots__ = ("_result",)

    def __init__(self, result: "_SubdocResult") -> None:
        self._result = result

    def __getitem__(self, kind: Any) -> _IndexedContent:
        return _IndexedContent(self._result, kind)


class _SubdocResult(Result):
    """Per-spec fields of a lookup_in or mutate_in, JSON-decoded through the transcoder on
    access; a spec's failure raises its exception (PathNotFoundException, ...) then."""

    __slots__ = ("_key", "_transcoder", "_ops")

    def __init__(self, core: Any, extra: Tuple[str, Transcoder, Tuple[int, ...]]) -> None:
        super().__init__(core)
        self._key, self._transcoder, self._ops = extra

    def _spec(self, index: int) -> Tuple[int, int, Optional[bytes]]:
        specs = self._core.specs or ()
        if not isinstance(index, int) or index < 0 or index >= len(specs):
            raise InvalidIndexException("Provided index (%r) is invalid." % (index,))
        spec: Tuple[int, int, Optional[bytes]] = specs[index]
        return spec

    def _raise(self, err: int, status: int) -> None:
        raise build_exception(err, {"key": self._key, "status_code": status,
                                    "context_type": "KeyValueErrorContext"})

    def _field(self, index: int) -> Any:
        err, status, value = self._spec(index)
        if index < len(self._ops) and self._ops[index] == _SUBDOC_EXISTS:
            if err not in (0, _PATH_NOT_FOUND):
                self._raise(err, status)
            return err == 0 and status == 0
        if err:
            self._raise(err, status)
        if value is None:
            if status == 0xFFFF:
                raise DocumentNotFoundException("No status for spec %d." % index)
            return None
        if not value:
            return value
        return self._transcoder.decode_value(value, FMT_JSON)

    @property
    def content_as(self) -> _IndexedProxy:
        return _IndexedProxy(self)


class LookupInResult(_SubdocResult):
    """``content_as[T](i)`` and ``exists(i)`` per spec, in the order of the specs."""

    __slots__ = ()

    def exists(self, index: int) -> bool:
        err, status, _value = self._spec(index)
        if err == _PATH_NOT_FOUND or status == _STATUS_PATH_NOT_FOUND:
            return False
        if err == 0:
            return True
        self._raise(err, status)
        return False

    def __repr__(self) -> str:
        return "LookupInResult(cas=%d)" % self.cas


class LookupInReplicaResult(LookupInResult):
    """A lookup_in from the active copy or a replica: ``is_replica`` says which."""

    __slots__ = ("_replica",)

    def __init__(self, core: Any, extra: Tuple[str, Transcoder, Tuple[int, ...], bool]) -> None:
        super().__init__(core, extra[:3])
        self._replica = extra[3]

    @property
    def is_replica(self) -> bool:
        return self._replica

    def __repr__(self) -> str:
        return "LookupInReplicaResult(cas=%d, is_replica=%s)" % (self.cas, self._replica)


class MutateInResult(_SubdocResult, MutationResult):
    """A mutation result whose ``content_as[T](i)`` gives what a spec returned (a counter)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MutateInResult(cas=%d)" % self.cas


class _Report:
    """The common part of ping and diagnostics reports: ``id``, ``version``, ``sdk`` and
    ``endpoints`` (a dict from ServiceType to a list of endpoint reports)."""

    _endpoint_class: Any = None

    def __init__(self, raw: Dict[str, Any]) -> None:
        self._raw = raw
        self._endpoints: Dict[ServiceType, List[Any]] = {}
        for service, endpoints in raw.get("services", {}).items():
            kind = ServiceType(service)
            self._endpoints[kind] = [self._endpoint_class(kind, e) for e in endpoints]

    @property
    def id(self) -> Optional[str]:
        return self._raw.get("id")

    @property
    def version(self) -> Optional[int]:
        return self._raw.get("version")

    @property
    def sdk(self) -> Optional[str]:
        return self._raw.get("sdk")

    @property
    def endpoints(self) -> Dict[ServiceType, List[Any]]:
        return self._endpoints

    def as_json(self) -> str:
        return json.dumps({"version": self.version, "id": self.id, "sdk": self.sdk,
                           "services": {k.value: [e.as_dict() for e in v]
                                        for k, v in self._endpoints.items()}})

    def __repr__(self) -> str:
        return "%s:%s" % (type(self).__name__, self.as_json())


class ScanResult:
    """One document of a KV range scan (``Collection.scan``): ``id``; unless the scan was
    ``ids_only``, also ``cas``, ``expiry_time`` and ``content_as[T]``."""

    __slots__ = ("_item", "_ids_only", "_transcoder", "_decoded", "_has_value")

    def __init__(self, item: Tuple[Any, ...], ids_only: bool, transcoder: Transcoder) -> None:
        # (key,) or (key, cas, flags, expiry, datatype, value) as couchbase._core gives it
        self._item = item
        self._ids_only = ids_only
        self._transcoder = transcoder
        self._has_value = False

    @property
    def id(self) -> Optional[str]:
        return str(self._item[0])

    @property
    def ids_only(self) -> bool:
        return self._ids_only

    @property
    def key(self) -> Optional[str]:
        return self.id

    @property
    def success(self) -> bool:
        return True

    @property
    def flags(self) -> int:
        """The document's flags (0 on an ids-only scan)."""
        return 0 if self._ids_only else int(self._item[2])

    def _body(self, what: str) -> None:
        if self._ids_only:
            raise InvalidArgumentException(
                "No %s available when scan is requested with `ScanOptions` ids_only set to "
                "True." % what)

    @property
    def cas(self) -> int:
        self._body("cas")
        return int(self._item[1])

    @property
    def expiry_time(self) -> Optional[datetime]:
        self._body("expiry_time")
        expiry = self._item[3]
        return datetime.fromtimestamp(expiry) if expiry else None

    @property
    def value(self) -> Any:
        self._body("content")
        if not self._has_value:
            self._decoded = self._transcoder.decode_value(self._item[5], self._item[2])
            self._has_value = True
        return self._decoded

    @property
    def content_as(self) -> _ContentProxy:
        return _ContentProxy(self.value)

    def __repr__(self) -> str:
        return "ScanResult(id=%r, ids_only=%r)" % (self._item[0], self._ids_only)


class ScanResultIterable:
    """What ``Collection.scan`` returns: iterate it (``for``; ``async for`` in acouchbase), or
    ``rows()``; ``cancel_scan()`` stops the scan."""

    def __init__(self, scan_request: Any) -> None:
        self._request = scan_request

    def rows(self) -> Any:
        if hasattr(self._request, "__aiter__"):
            return self.__aiter__()
        return self.__iter__()

    def cancel_scan(self) -> None:
        self._request.cancel_scan()

    def __iter__(self) -> Any:
        return self._request.__iter__()

    def __aiter__(self) -> Any:
        return self._request.__aiter__()

    def __repr__(self) -> str:
        return "ScanResultIterable:{}".format(self._request)


class PingResult(_Report):
    """What ``ping()`` measured on each endpoint (``EndpointPingReport``)."""

    _endpoint_class = EndpointPingReport


class DiagnosticsResult(_Report):
    """The state of each connection (``EndpointDiagnosticsReport``) and ``state``: Online when
    every endpoint is connected, Degraded when some are, Offline when none is."""

    _endpoint_class = EndpointDiagnosticsReport

    @property
    def state(self) -> ClusterState:
        states = [e.state for v in self._endpoints.values() for e in v]
        connected = sum(1 for st in states if st == EndpointState.Connected)
        if connected == len(states):
            return ClusterState.Online
        return ClusterState.Degraded if connected else ClusterState.Offline


class OperationResult:
    """What the deprecated datastructure methods of Collection return: CAS and token."""

    def __init__(self, cas: Optional[int], mut_token: Optional[MutationToken]) -> None:
        self._cas = cas
        self._mutation_token = mut_token

    @property
    def cas(self) -> Optional[int]:
        return self._cas

    def mutation_token(self) -> Optional[MutationToken]:
        return self._mutation_token

    def __repr__(self) -> str:
        return "OperationResult(mutation_token=%s, cas=%s)" % (self._mutation_token, self._cas)


class ValueResult(OperationResult):
    """An OperationResult with the value the operation read."""

    def __init__(self, cas: Optional[int], mut_token: Optional[MutationToken],
                 value: Any) -> None:
        super().__init__(cas, mut_token)
        self._value = value

    @property
    def value(self) -> Any:
        return self._value


def _keyless(outcomes: Dict[str, Any]) -> None:
    """The official get_multi and exists_multi give results whose ``key`` is None."""
    for value in outcomes.values():
        if isinstance(value, Result):
            value._keyless = True


class MultiResult:
    """The outcome per key of a ``*_multi`` operation: ``results`` holds the keys that succeeded,
    ``exceptions`` those that failed; ``all_ok`` is True when none did. With
    ``return_exceptions=False`` the first failure (in the keys' order) is raised instead."""

    _kind = "MultiResult"

    def __init__(self, outcomes: Dict[str, Any], return_exceptions: bool = True) -> None:
        self._outcomes = outcomes
        self._all_ok = True
        for value in outcomes.values():
            if isinstance(value, BaseException):
                if not return_exceptions:
                    raise value
                self._all_ok = False

    @property
    def all_ok(self) -> bool:
        return self._all_ok

    @property
    def results(self) -> Dict[str, Any]:
        return {k: v for k, v in self._outcomes.items() if not isinstance(v, BaseException)}

    @property
    def exceptions(self) -> Dict[str, BaseException]:
        return {k: v for k, v in self._outcomes.items() if isinstance(v, BaseException)}

    def __repr__(self) -> str:
        return "%s( %s )" % (self._kind, ", ".join("%s:%s" % kv for kv in self._outcomes.items()))


class MultiGetResult(MultiResult):
    _kind = "MultiGetResult"

    def __init__(self, outcomes: Dict[str, Any], return_exceptions: bool = True) -> None:
        super().__init__(outcomes, return_exceptions)
        _keyless(outcomes)

    @property
    def results(self) -> Dict[str, GetResult]:
        return super().results


class MultiGetReplicaResult(MultiResult):
    """get_any_replica_multi: a GetReplicaResult per key; get_all_replicas_multi: a list of
    them per key."""

    _kind = "MultiGetReplicaResult"

    @property
    def results(self) -> Dict[str, Any]:
        return super().results


class MultiExistsResult(MultiResult):
    _kind = "MultiExistsResult"

    def __init__(self, outcomes: Dict[str, Any], return_exceptions: bool = True) -> None:
        super().__init__(outcomes, return_exceptions)
        _keyless(outcomes)

    @property
    def results(self) -> Dict[str, ExistsResult]:
        return super().results


class MultiMutationResult(MultiResult):
    _kind = "MultiMutationResult"

    @property
    def results(self) -> Dict[str, MutationResult]:
        return super().results


class MultiCounterResult(MultiResult):
    _kind = "MultiCounterResult"

    @property
    def results(self) -> Dict[str, CounterResult]:
        return super().results


def _path_segments(path: str) -> List[Any]:
    """A sub-document path as keys (str) and array indexes (int): ``a.b[2].`c.d` `` gives
    ``['a', 'b', 2, 'c.d']``."""
    segs: List[Any] = []
    i, n, cur = 0, len(path), ""
    while i < n:
        ch = path[i]
        if ch == "`":
            end = path.find("`", i + 1)
            end = n if end < 0 else end
            cur += path[i + 1:end]
            i = end + 1
        elif ch == ".":
            segs.append(cur)
            cur = ""
            i += 1
        elif ch == "[":
            if cur:
                segs.append(cur)
                cur = ""
            end = path.find("]", i)
            end = n if end < 0 else end
            segs.append(int(path[i + 1:end]))
            i = end + 1
            if i < n and path[i] == ".":
                i += 1
        else:
            cur += ch
            i += 1
    if cur:
        segs.append(cur)
    return segs


def project_into(out: Dict[str, Any], path: str, value: Any) -> None:
    """Put one projected path's value into the projection, as the official SDK builds it: keys
    make objects, an array index appends to an array (``tags[1]`` gives ``{"tags": [...]}``)."""
    segs = _path_segments(path)
    node: Any = out
    for i, seg in enumerate(segs):
        last = i == len(segs) - 1
        child: Any = value if last else ([] if isinstance(segs[i + 1], int) else {})
        if isinstance(node, list):
            node.append(child)
            node = child
        elif last:
            node[seg] = value
        else:
            node = node.setdefault(seg, child)


def project_document(doc: Any, paths: List[str]) -> Dict[str, Any]:
    """The projection of a whole document (more paths than one lookup_in takes); a path that
    is missing, or goes through a value of another type, is left out."""
    out: Dict[str, Any] = {}
    for path in paths:
        node, found = doc, True
        for seg in _path_segments(path):
            if isinstance(seg, int) and isinstance(node, list) and -len(node) <= seg < len(node):
                node = node[seg]
            elif isinstance(seg, str) and isinstance(node, dict) and seg in node:
                node = node[seg]
            else:
                found = False
                break
        if found:
            project_into(out, path, node)
    return out


class ProjectedGetResult(GetResult):
    """get(project=[...]): the document cut to the projected paths. Up to 16 paths (15 with
    with_expiry) are one lookup_in, each path's value put into the projection (missing paths
    left out, other path errors raised); more are a full read projected here."""

    __slots__ = ("_paths", "_lookup", "_key_name", "_with_expiry")

    def __init__(self, core: Any, extra: Tuple[str, Transcoder, List[str], bool, bool]) -> None:
        self._key_name, transcoder, self._paths, self._lookup, with_expiry = extra
        super().__init__(core, transcoder)
        self._with_expiry = with_expiry

    @property
    def value(self) -> Any:
        if self._has_value:
            return self._decoded
        if not self._lookup:
            self._decoded = project_document(super().value, self._paths)
            return self._decoded
        specs = self._core.specs or ()
        first = 1 if self._with_expiry else 0
        out: Dict[str, Any] = {}
        for path, (err, status, raw) in zip(self._paths, specs[first:]):
            if err == _PATH_NOT_FOUND:
                continue
            if err:
                raise build_exception(err, {"key": self._key_name, "status_code": status,
                                            "context_type": "KeyValueErrorContext"})
            if raw is not None:
                project_into(out, path, self._transcoder.decode_value(raw, FMT_JSON))
        self._decoded = out
        self._has_value = True
        return out

    content = value

    @property
    def flags(self) -> int:
        return FMT_JSON if self._lookup else self._core.flags

    @property
    def expiry_time(self) -> Optional[datetime]:
        if not self._lookup:
            return super().expiry_time
        specs = self._core.specs or ()
        if not self._with_expiry or not specs or specs[0][2] is None:
            return None
        seconds = int(specs[0][2] or b"0")
        return datetime.fromtimestamp(seconds) if seconds else None


class QueryResult:
    """The rows and metadata of a query (``Cluster.query``, ``Scope.query``). The query runs
    on the first iteration (``for row in result``, ``rows()``, ``execute()``); iterating a
    second time raises AlreadyQueriedException; ``metadata()`` is None until the rows were
    consumed. In acouchbase ``rows()`` is an async iterator (``async for``) and ``execute()``
    is awaited."""

    def __init__(self, n1ql_request: Any) -> None:
        self._request = n1ql_request

    def rows(self) -> Any:
        if getattr(self._request, "is_async", False):
            return self.__aiter__()
        return self.__iter__()

    def execute(self) -> Any:
        return self._request.execute()

    def metadata(self) -> Any:
        return self._request.metadata()

    def __iter__(self) -> Any:
        return self._request.__iter__()

    def __aiter__(self) -> Any:
        return self._request.__aiter__()

    def __repr__(self) -> str:
        return "QueryResult:{}".format(self._request)


class ClusterInfoResult:
    """``cluster.cluster_info()``: the cluster's ``GET /pools/default`` (``nodes``) and the
    server version its nodes report (None when they differ), as "X.Y.Z-BUILD-EDITION"."""

    def __init__(self, raw: Dict[str, Any]) -> None:
        self._raw = raw

    @property
    def nodes(self) -> Optional[List[Dict[str, Any]]]:
        nodes = self._raw.get("info", {}).get("nodes")
        return nodes if isinstance(nodes, list) else None

    def _version(self) -> Optional[str]:
        versions = {str(n.get("version")) for n in self.nodes or [] if n.get("version")}
        return versions.pop() if len(versions) == 1 else None

    @property
    def server_version(self) -> Optional[str]:
        v = self._version()
        return v[:10] if v else None  # "X.Y.Z-BUILD", cut as upstream does

    @property
    def server_version_short(self) -> Optional[float]:
        v = self._version()
        return float(v[:3]) if v else None

    @property
    def server_version_full(self) -> Optional[str]:
        return self._version()

    @property
    def server_version_build(self) -> Optional[int]:
        parts = (self._version() or "").split("-")
        return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None

    def _edition(self) -> Optional[str]:
        parts = (self._version() or "").split("-")
        return parts[2].upper() if len(parts) == 3 else None

    @property
    def is_enterprise(self) -> Optional[bool]:
        ed = self._edition()
        return ed == "ENTERPRISE" if ed else None

    @property
    def is_community(self) -> Optional[bool]:
        ed = self._edition()
        return ed == "COMMUNITY" if ed else None

    def __repr__(self) -> str:
        return "ClusterInfoResult:%r" % (self._raw,)
