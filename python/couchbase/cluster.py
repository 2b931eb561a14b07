"""The blocking Cluster, Bucket, Scope, Collection and BinaryCollection (couchbase.bucket,
.scope, .collection and .binary_collection re-export them from their official module paths).

Every call waits for its result with the GIL released, on libdivan's own driver thread
(``couchbase._core.BlockingCluster``), so one Cluster is shared by any number of threads.
``*_multi`` sends all its operations at once and waits for them together.
"""

import time
from datetime import timedelta
from typing import Any, Dict, Iterator, List

from couchbase import _core
from couchbase._datastructures import LegacyMethods, StructureMethods
from couchbase._kv import (BinaryLogic, ClusterSettings, CollectionLogic, Combine, Endpoint,
                           Request, ScopeLogic, check_open, diagnostics_report, new_credentials,
                           http_ping_args, http_ping_entry, http_pings, ping_report,
                           pings_kv)
from couchbase.auth import Authenticator
from couchbase.datastructures import CouchbaseList, CouchbaseMap, CouchbaseQueue, CouchbaseSet
from couchbase.diagnostics import ClusterState
from couchbase.exceptions import (CouchbaseException, InvalidArgumentException,
                                  UnAmbiguousTimeoutException)
from couchbase.auth import (CertificateAuthenticator, JwtAuthenticator,  # noqa: F401 - 3.x paths
                            PasswordAuthenticator)
from couchbase.options import (ClusterOptions, ClusterTimeoutOptions,  # noqa: F401 - 3.x paths
                               ClusterTracingOptions, Compression, DiagnosticsOptions,
                               PingOptions, WaitUntilReadyOptions, forward_args)
from couchbase.n1ql import N1QLRequest, QueryRequest
from couchbase.n1ql import QueryProfile, QueryScanConsistency  # noqa: F401 - 3.x paths
from couchbase.options import QueryOptions  # noqa: F401 - imported from here by old code
from couchbase.result import ClusterInfoResult, QueryResult
from couchbase.result import (CounterResult, DiagnosticsResult, ExistsResult, GetReplicaResult,
                              GetResult, LookupInReplicaResult, LookupInResult,
                              MultiCounterResult, MultiExistsResult, MultiGetReplicaResult,
                              MultiGetResult, MultiMutationResult, MutateInResult,
                              MutationResult, PingResult, ScanResultIterable)
from couchbase.kv_range_scan import RangeScanRequest, ScanType, scan_spec
from couchbase.options import ScanOptions

from couchbase.management._run import cluster_info, run_blocking
from couchbase.management.buckets import BucketManager
from couchbase.management.collections import CollectionManager
from couchbase.management.queries import CollectionQueryIndexManager, QueryIndexManager
from couchbase.management.users import UserManager


class Cluster:
    """A cluster connection; the constructor connects (and raises if it cannot)."""

    def __init__(self, connstr: str, *options: Any, **kwargs: Any) -> None:
        settings = ClusterSettings(connstr, options, kwargs)
        self._authenticator = settings.authenticator
        self._transcoder = settings.transcoder
        self._server_group = settings.server_group
        self._buckets: Dict[str, "Bucket"] = {}
        self._closed = False
        self._query_timeout_ms = settings.query_timeout_ms
        self._management_timeout_ms = settings.management_timeout_ms
        self._prepared: Dict[str, str] = {}  # statement -> prepared name (adhoc=False)
        self._core = _core.BlockingCluster(*settings.core_args, **settings.core_kwargs)
        try:
            self._core.connect()
        except BaseException:
            self._core.close()
            raise

    @staticmethod
    def connect(connstr: str, *options: Any, **kwargs: Any) -> "Cluster":
        return Cluster(connstr, *options, **kwargs)

    def _check_open(self) -> None:
        check_open(self._closed)

    @property
    def connected(self) -> bool:
        return not self._closed

    def set_authenticator(self, authenticator: Authenticator) -> None:
        """Credentials for the connections opened from now on (open ones keep theirs); the
        same kind of authenticator as before."""
        self._check_open()
        self._core.set_credentials(*new_credentials(self._authenticator, authenticator))
        self._authenticator = authenticator

    def bucket(self, bucket_name: str) -> "Bucket":
        """The bucket, opened (this waits until it has a configuration)."""
        self._check_open()
        bucket = Bucket(self, bucket_name)
        self._buckets[bucket_name] = bucket
        return bucket

    def query(self, statement: str, *options: Any, **kwargs: Any) -> QueryResult:
        """A SQL++ query, run on the first iteration of its result (QueryOptions, positional
        parameters as extra arguments, named parameters as unknown keyword arguments)."""
        self._check_open()
        return QueryResult(N1QLRequest(self._core.query_rows,
                                       self._query_request(statement, options, kwargs, None)))

    def _query_request(self, statement: str, options: Any, kwargs: Dict[str, Any],
                       context: Any) -> QueryRequest:
        return QueryRequest(statement, options, kwargs, self._query_timeout_ms, context,
                            self._prepared)

    def buckets(self) -> "BucketManager":
        """The bucket manager."""
        self._check_open()
        return BucketManager(self._core.http_request, self._management_timeout_ms)

    def cluster_info(self, *options: Any, **kwargs: Any) -> ClusterInfoResult:
        """The cluster's nodes and server version (GET /pools/default)."""
        self._check_open()
        result: ClusterInfoResult = run_blocking(
            self._core.http_request, cluster_info(self._management_timeout_ms, options, kwargs))
        return result

    def users(self) -> "UserManager":
        """The user manager."""
        self._check_open()
        return UserManager(self._core.http_request, self._management_timeout_ms)

    def query_indexes(self) -> "QueryIndexManager":
        """The query index manager."""
        self._check_open()
        return QueryIndexManager(self._core.http_request, self._management_timeout_ms)

    def _endpoints(self, buckets: List[Any]) -> List[Endpoint]:
        self._check_open()
        return [ep for b in buckets for ep in self._core.ping(b)]

    def ping(self, *opts: PingOptions, **kwargs: Any) -> PingResult:
        """A NOOP on every KV connection (the cluster's own and those of its open buckets),
        and one request to the query and the management service."""
        args = forward_args(kwargs, *opts)
        endpoints = self._endpoints([None, *self._buckets]) if pings_kv(args) else []
        http = []
        for kind, service, path in http_pings(args):
            a, kw = http_ping_args(service, path, args)
            try:
                outcome: Any = self._core.http_request(*a, **kw)
            except CouchbaseException as exc:
                outcome = exc
            http.append(http_ping_entry(kind, outcome))
        return ping_report(args.get("report_id"), endpoints, http)

    def diagnostics(self, *opts: DiagnosticsOptions, **kwargs: Any) -> DiagnosticsResult:
        """The state of every KV connection, without sending anything."""
        args = forward_args(kwargs, *opts)
        self._check_open()
        return diagnostics_report(args.get("report_id"), self._core.diagnostics())

    def wait_until_ready(self, timeout: timedelta, *opts: WaitUntilReadyOptions,
                         **kwargs: Any) -> None:
        """Until diagnostics report ``desired_state`` (default Online), polling every 100 ms as
        the official SDK does; UnAmbiguousTimeoutException after ``timeout``."""
        args = forward_args(kwargs, *opts)
        desired = args.get("desired_state") or ClusterState.Online
        pings_kv(args)
        if not isinstance(timeout, timedelta):
            raise InvalidArgumentException("timeout must be a timedelta.")
        deadline = time.monotonic() + timeout.total_seconds()
        while self.diagnostics().state != desired:
            if time.monotonic() >= deadline:
                raise UnAmbiguousTimeoutException("Desired state not found.")
            time.sleep(0.1)

    def close(self) -> None:
        """Fail what is pending (RequestCanceledException) and close the connections."""
        if not self._closed:
            self._closed = True
            self._core.close()


class Bucket:
    def __init__(self, cluster: Cluster, name: str) -> None:
        self._cluster = cluster
        self._name = name
        cluster._core.open_bucket(name)

    @property
    def name(self) -> str:
        return self._name

    def close(self) -> None:
        """Close this bucket's connections (its pending operations raise
        RequestCanceledException); a later operation on it opens it again, as in the official
        SDK."""
        self._cluster._check_open()
        self._cluster._core.close_bucket(self._name)
        self._cluster._buckets.pop(self._name, None)

    def collections(self) -> "CollectionManager":
        """The collection manager of this bucket."""
        self._cluster._check_open()
        return CollectionManager(self._cluster._core.http_request,
                                 self._cluster._management_timeout_ms, self._name)

    def default_scope(self) -> "Scope":
        return Scope(self, "_default")

    def scope(self, name: str) -> "Scope":
        return Scope(self, name)

    def default_collection(self) -> "Collection":
        return Collection(self.default_scope(), "_default")

    def collection(self, name: str) -> "Collection":
        return Collection(self.default_scope(), name)

    def ping(self, *opts: PingOptions, **kwargs: Any) -> PingResult:
        """A NOOP on each KV connection of this bucket."""
        args = forward_args(kwargs, *opts)
        endpoints = self._cluster._endpoints([self._name]) if pings_kv(args) else []
        return ping_report(args.get("report_id"), endpoints)


class Scope(ScopeLogic):
    _bucket: Bucket

    def collection(self, name: str) -> "Collection":
        return Collection(self, name)

    def query(self, statement: str, *options: Any, **kwargs: Any) -> QueryResult:
        """A query in this scope (query_context `bucket`.`scope`, unless given)."""
        cluster = self._bucket._cluster
        cluster._check_open()
        req = cluster._query_request(statement, options, kwargs, self._query_context())
        return QueryResult(N1QLRequest(cluster._core.query_rows, req))


class Collection(LegacyMethods, StructureMethods, CollectionLogic[
        GetResult, ExistsResult, MutationResult, None, GetReplicaResult,
        Iterator[GetReplicaResult], LookupInResult, MutateInResult, MultiGetResult,
        MultiExistsResult, MultiMutationResult, Dict[str, Any], MultiGetReplicaResult,
        LookupInReplicaResult, Iterator[LookupInReplicaResult]]):
    """KV, sub-document and ``*_multi`` operations on one collection; each waits for its
    result."""

    def __init__(self, scope: Scope, name: str) -> None:
        self._scope = scope
        self._name = name
        cluster = scope._bucket._cluster
        self._core = cluster._core
        self._transcoder = cluster._transcoder
        self._server_group = cluster._server_group
        self._keyspace = (scope._bucket._name, scope._name, name)
        self._submit = self._core.submit

    def _run(self, req: Request) -> Any:
        return self._core.submit(*req[0], **req[1])

    def _run_all(self, reqs: List[Request], combine: Combine) -> Any:
        return combine(self._core.submit_all(reqs))

    def binary(self) -> "BinaryCollection":
        return BinaryCollection(self)

    def query_indexes(self) -> "CollectionQueryIndexManager":
        """The query index manager of this collection."""
        cluster = self._scope._bucket._cluster
        cluster._check_open()
        return CollectionQueryIndexManager(cluster._core.http_request,
                                           cluster._management_timeout_ms, self._keyspace)

    def scan(self, scan_type: ScanType, *opts: ScanOptions, **kwargs: Any) -> ScanResultIterable:
        """A KV range scan (RangeScan, PrefixScan or SamplingScan) of this collection; it
        starts when iterated and is cancelled by ``cancel_scan()`` or when dropped."""
        args = forward_args(kwargs, *opts)
        spec = scan_spec(scan_type, args)
        transcoder = args.get("transcoder") or self._transcoder
        core, keyspace = self._core, self._keyspace
        return ScanResultIterable(RangeScanRequest(lambda: core.scan(*keyspace, **spec),
                                                   spec["ids_only"], transcoder))

    _structures = (CouchbaseList, CouchbaseMap, CouchbaseSet, CouchbaseQueue)


class BinaryCollection(BinaryLogic[CounterResult, MutationResult, MultiCounterResult,
                                   MultiMutationResult]):
    """Counters and raw appends on a collection's documents."""


CBCollection = Collection  # the deprecated 3.x name

__all__ = ["Cluster", "Bucket", "Scope", "Collection", "CBCollection", "BinaryCollection",
           "ClusterOptions", "ClusterTimeoutOptions", "ClusterTracingOptions", "Compression",
           "DiagnosticsOptions", "PasswordAuthenticator", "CertificateAuthenticator",
           "JwtAuthenticator", "QueryOptions", "QueryScanConsistency", "QueryProfile",
           "QueryResult", "BucketManager", "CollectionManager", "QueryIndexManager",
           "CollectionQueryIndexManager", "UserManager"]
