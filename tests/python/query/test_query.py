"""Cluster.query and Scope.query against divan-server's query service, on the three front
ends and both SDKs: options as request fields, results and metadata, errors by the official
mapping, consistency and timeouts."""

import asyncio
import os
import signal
from datetime import timedelta

import pytest

from conftest import query, raw, result_of
from couchbase.exceptions import (AlreadyQueriedException, AmbiguousTimeoutException,
                                  KeyspaceNotFoundException, ParsingFailedException,
                                  ScopeNotFoundException, UnAmbiguousTimeoutException)
from couchbase.mutation_state import MutationState
from couchbase.n1ql import QueryMetaData, QueryProfile, QueryScanConsistency, QueryStatus
from couchbase.options import QueryOptions
from divan.server import DivanServer
from frontends.conftest import options
from sdk_under_test import SDK, stop_process

RP = QueryScanConsistency.REQUEST_PLUS


@pytest.fixture
def docs(kv, indexed, key):
    """Three documents of a batch of their own; (cluster, bucket, batch)."""
    cluster, bucket, coll = kv
    batch = key("batch")
    for i in range(3):
        coll.upsert("%s-%d" % (batch, i), {"batch": batch, "n": i})
    return cluster, bucket, batch


def test_parameters(fe, docs):
    cluster, _, batch = docs
    stmt = "SELECT d.n FROM `default` d WHERE d.batch = $batch ORDER BY d.n"
    want = [{"n": 0}, {"n": 1}, {"n": 2}]
    # named: as keyword arguments, in named_parameters, and both (the keyword wins)
    assert query(fe, cluster, stmt, scan_consistency=RP, batch=batch)[0] == want
    assert query(fe, cluster, stmt, QueryOptions(named_parameters={"batch": batch},
                                                 scan_consistency=RP))[0] == want
    assert query(fe, cluster, stmt, QueryOptions(named_parameters={"batch": "nope"},
                                                 scan_consistency=RP), batch=batch)[0] == want
    # positional: extra arguments beat positional_parameters
    stmt = "SELECT RAW d.n FROM `default` d WHERE d.batch = $1 AND d.n >= $2 ORDER BY d.n"
    assert query(fe, cluster, stmt, QueryOptions(scan_consistency=RP), batch, 1)[0] == [1, 2]
    assert query(fe, cluster, stmt, QueryOptions(positional_parameters=[batch, 2],
                                                 scan_consistency=RP))[0] == [2]
    assert query(fe, cluster, stmt, QueryOptions(positional_parameters=["x", 0],
                                                 scan_consistency=RP), batch, 0)[0] == [0, 1, 2]
    # raw fields go into the request as they are
    assert query(fe, cluster, "SELECT RAW $1 + 1", raw={"args": [41]})[0] == [42]


def test_metadata(fe, docs):
    cluster, _, batch = docs
    rows, meta = query(fe, cluster, "SELECT d.n FROM `default` d WHERE d.batch = $b",
                       QueryOptions(client_context_id="ctx-" + batch, scan_consistency=RP),
                       b=batch)
    assert len(rows) == 3
    assert isinstance(meta, QueryMetaData)
    assert meta.status() == QueryStatus.SUCCESS
    assert isinstance(meta.request_id(), str) and meta.request_id()
    assert meta.client_context_id() == "ctx-" + batch
    assert meta.signature() is not None
    assert meta.warnings() == []
    assert meta.metrics() is None  # metrics are off by default (the request says so)
    assert meta.profile() is None
    rows, meta = query(fe, cluster, "SELECT RAW 1", metrics=True, profile=QueryProfile.TIMINGS)
    metrics = meta.metrics()
    assert rows == [1]
    assert metrics.result_count().value == 1 and metrics.result_size().value > 0
    assert metrics.error_count().value == 0 and metrics.mutation_count().value == 0
    assert timedelta(0) < metrics.elapsed_time() < timedelta(seconds=30)
    assert meta.profile() is not None


def test_lazy_and_once(fe, docs):
    cluster, _, _ = docs
    if fe.name == "asyncio":
        async def twice():
            result = raw(cluster).query("SELECT RAW 7")
            assert result.metadata() is None
            assert await result.execute() == [7]
            assert result.metadata().status() == QueryStatus.SUCCESS
            with pytest.raises(AlreadyQueriedException):
                async for _ in result:
                    pass
        fe.run(twice)
        return
    result = result_of(fe, cluster, "SELECT RAW 7")
    assert result.metadata() is None
    # (the official txcouchbase's QueryResult has no working execute(): AttributeError)
    assert (result.execute() if fe.name == "blocking" else list(result.rows())) == [7]
    assert result.metadata().status() == QueryStatus.SUCCESS
    if SDK == "official" and fe.name == "twisted":
        return  # the official txcouchbase iterates a second time forever (unbounded memory)
    with pytest.raises(AlreadyQueriedException):
        list(result.rows())


def test_scope_query(fe, docs):
    if SDK == "official" and fe.name == "twisted":
        pytest.skip("the official TxScope.query raises AttributeError (txcouchbase 4.6.3)")
    cluster, bucket, batch = docs
    scope = raw(bucket).default_scope()
    rows, _ = query(fe, scope, "SELECT RAW n FROM `_default` WHERE batch = $1 ORDER BY n",
                    batch, scan_consistency=RP)
    assert rows == [0, 1, 2]
    with pytest.raises(ScopeNotFoundException):
        query(fe, raw(bucket).scope("no-such-scope"), "SELECT * FROM c")
    # a context given in the options wins
    rows, _ = query(fe, cluster, "SELECT RAW COUNT(*) FROM `_default` WHERE batch = $1", batch,
                    query_context="`default`.`_default`", scan_consistency=RP)
    assert rows == [3]


def test_errors(fe, docs):
    cluster, _, _ = docs
    with pytest.raises(ParsingFailedException) as info:
        query(fe, cluster, "I'm not N1QL!")
    ctx = info.value.error_context
    assert ctx.first_error_code == 3000
    assert ctx.statement == "I'm not N1QL!"
    assert ctx.client_context_id
    with pytest.raises(KeyspaceNotFoundException) as info:
        query(fe, cluster, "SELECT * FROM no_such_bucket")
    assert "Keyspace not found" in info.value.error_context.first_error_message


def test_consistent_with(fe, kv, indexed, key):
    cluster, _, coll = kv
    k = key()
    stmt = "SELECT RAW v FROM `default` USE KEYS $1"
    assert query(fe, cluster, stmt, k)[0] == []
    res = coll.upsert(k, {"v": 1})
    rows, _ = query(fe, cluster, stmt, QueryOptions(consistent_with=MutationState(res)), k)
    assert rows == [1]


def test_prepared(fe, docs):
    cluster, _, batch = docs
    stmt = "SELECT RAW d.n FROM `default` d WHERE d.batch = $1 ORDER BY d.n"
    for _ in range(2):  # prepared, then executed by name
        rows, meta = query(fe, cluster, stmt, batch, adhoc=False, metrics=True,
                           scan_consistency=RP)
        assert rows == [0, 1, 2]
        assert meta.metrics() is not None


@pytest.fixture
def paused(fe):
    """A server of its own, and a cluster of fe on it; then the server is stopped (SIGSTOP):
    it accepts connections and answers nothing."""
    with DivanServer() as s:
        cluster = fe.cluster(s.connstr, options())
        stop_process(s.pid)
        try:
            yield cluster
        finally:
            os.kill(s.pid, signal.SIGCONT)
            fe.run(cluster.close)


def test_timeout(fe, paused):
    # The client's timer: ambiguous, or unambiguous for a read-only query.
    with pytest.raises(AmbiguousTimeoutException):
        query(fe, paused, "SELECT 1", timeout=timedelta(milliseconds=300))
    with pytest.raises(UnAmbiguousTimeoutException):
        query(fe, paused, "SELECT 1", QueryOptions(timeout=timedelta(milliseconds=300),
                                                   read_only=True))


@pytest.mark.divan_only("the official acouchbase 4.6.3 aborts the process on this cancel")
def test_asyncio_cancel(fe, paused):
    if fe.name != "asyncio":
        pytest.skip("asyncio only")

    async def cancelled():
        async def rows():
            return [row async for row in paused.query("SELECT 1", timeout=timedelta(seconds=60))]
        task = asyncio.ensure_future(rows())
        await asyncio.sleep(0)  # the request is out (the task ran to its first await)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return getattr(paused, "_core", None)

    core = fe.run(cancelled)
    if core is not None:  # divan's SDK: the engine dropped the request
        assert core.pending() == 0


def test_ping_reports_query_and_management(fe, kv, server):
    from couchbase.diagnostics import PingState, ServiceType
    from couchbase.options import PingOptions
    cluster, _, _ = kv
    ping = cluster.ping()
    query_eps = ping.endpoints[ServiceType.Query]
    mgmt_eps = ping.endpoints[ServiceType.Management]
    assert [e.state for e in query_eps] == [PingState.OK]
    assert [e.state for e in mgmt_eps] == [PingState.OK]
    tls = bool(getattr(server, "tls_query_port", 0))  # DIVAN_TLS=1: the TLS ports
    assert query_eps[0].remote == "127.0.0.1:%d" % (server.tls_query_port if tls
                                                     else server.query_port)
    assert mgmt_eps[0].remote == "127.0.0.1:%d" % (server.https_port if tls else server.http_port)
    assert query_eps[0].latency > timedelta(0)
    only = cluster.ping(PingOptions(service_types=[ServiceType.Query]))
    assert set(only.endpoints) == {ServiceType.Query}


def test_diagnostics_lists_query_connections(fe, indexed):
    """After a query, its kept-alive connection is in diagnostics (idle for up to
    idle_http_connection_timeout, set long here)."""
    from couchbase.auth import PasswordAuthenticator
    from couchbase.diagnostics import EndpointState, ServiceType
    from couchbase.options import ClusterOptions, ClusterTimeoutOptions
    tls = dict(options())  # DIVAN_TLS=1: the trust store
    tls.pop("authenticator", None)
    cluster = fe.cluster(indexed.connstr, ClusterOptions(
        PasswordAuthenticator("user", "password"),
        timeout_options=ClusterTimeoutOptions(
            idle_http_connection_timeout=timedelta(seconds=60)), **tls))
    try:
        assert query(fe, cluster, "SELECT RAW 1")[0] == [1]
        diag = fe.run(lambda: cluster.diagnostics())
        eps = diag.endpoints.get(ServiceType.Query, [])
        assert [e.state for e in eps] == [EndpointState.Connected]
        port = indexed.tls_query_port or indexed.query_port
        assert eps[0].remote == "127.0.0.1:%d" % port
    finally:
        fe.run(cluster.close)
