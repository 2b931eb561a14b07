"""The asyncio Cluster and Bucket beyond KV: connect, ping, diagnostics, wait_until_ready,
replica reads, many operations in flight, use after fork."""

import asyncio
import os
import socket
from datetime import timedelta

import pytest

from acouchbase.cluster import Cluster
from couchbase.auth import PasswordAuthenticator
from couchbase.diagnostics import ClusterState, EndpointState, PingState, ServiceType
from couchbase.exceptions import (DocumentNotFoundException, DocumentUnretrievableException,
                                  InvalidArgumentException, UnAmbiguousTimeoutException)
from couchbase.options import (ClusterOptions, GetAnyReplicaOptions, PingOptions,
                               WaitUntilReadyOptions)
from couchbase.replica_reads import ReadPreference
from couchbase.result import DiagnosticsResult, GetReplicaResult, PingResult

AUTH = ClusterOptions(PasswordAuthenticator("user", "password"))


def free_port():
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connect_coroutine_ping_and_diagnostics(server, run):
    async def main():
        cluster = await Cluster.connect(server.connstr, AUTH)
        ping = await cluster.ping()
        assert isinstance(ping, PingResult) and ping.id
        kv = ping.endpoints[ServiceType.KeyValue]
        assert kv and all(e.state == PingState.OK for e in kv)
        assert all(e.remote == "127.0.0.1:%d" % server.kv_port for e in kv)
        assert all(e.latency is not None for e in kv)
        assert '"key_value"' in ping.as_json()

        bucket = cluster.bucket("default")
        await bucket.on_connect()
        mine = await bucket.ping(PingOptions(report_id="mine"))
        assert mine.id == "mine"
        assert [e.state for e in mine.endpoints[ServiceType.KeyValue]] == [PingState.OK]
        everything = await cluster.ping(service_types=[ServiceType.KeyValue])
        assert len(everything.endpoints[ServiceType.KeyValue]) >= 2  # the cluster's and the bucket's
        with pytest.raises(InvalidArgumentException):
            await cluster.ping(service_types=ServiceType.KeyValue)  # not a list or set

        diag = await cluster.diagnostics(report_id="d")
        assert isinstance(diag, DiagnosticsResult) and diag.id == "d"
        assert diag.state == ClusterState.Online
        kv = diag.endpoints[ServiceType.KeyValue]
        assert kv and all(e.state == EndpointState.Connected for e in kv)
        assert "default" in [e.namespace for e in kv]
        await cluster.wait_until_ready(timedelta(seconds=10))
        await cluster.wait_until_ready(timedelta(seconds=10),
                                       WaitUntilReadyOptions(desired_state=ClusterState.Online))
        await cluster.close()

    run(main())


def test_wait_until_ready_times_out_without_a_server(run):
    async def main():
        cluster = Cluster("couchbase://127.0.0.1:%d" % free_port(), ClusterOptions(
            PasswordAuthenticator("user", "password"), bootstrap_timeout=timedelta(seconds=5)))
        with pytest.raises(UnAmbiguousTimeoutException):
            await cluster.wait_until_ready(timedelta(milliseconds=500))
        try:
            await cluster.close()
        except UnAmbiguousTimeoutException:
            pass  # the connect's own failure, when it came before the close

    run(main())


def test_replica_reads(run_with):
    async def test(coll, _bucket):
        up = await coll.upsert("rep", {"copy": 1})
        any_copy = await coll.get_any_replica("rep", GetAnyReplicaOptions(
            timeout=timedelta(seconds=5)))
        assert isinstance(any_copy, GetReplicaResult)
        assert any_copy.content_as[dict] == {"copy": 1} and any_copy.cas == up.cas
        # divan-server is one node: the active copy is the only one
        assert any_copy.is_replica is False and any_copy.is_active is True
        copies = list(await coll.get_all_replicas("rep"))
        assert [(c.content_as[dict], c.is_replica) for c in copies] == [({"copy": 1}, False)]
        with pytest.raises(DocumentUnretrievableException):
            await coll.get_any_replica("rep-missing")
        with pytest.raises(DocumentNotFoundException):
            await coll.get_all_replicas("rep-missing")
        with pytest.raises(DocumentUnretrievableException):
            await coll.get_any_replica(
                "rep", read_preference=ReadPreference.SELECTED_SERVER_GROUP)
    run_with(test)


def test_five_thousand_operations_in_flight(run_with):
    async def test(coll, _bucket):
        n = 5000
        tasks = [asyncio.ensure_future(coll.upsert("many%d" % i, {"i": i})) for i in range(n)]
        ups = await asyncio.gather(*tasks)
        assert all(r.cas for r in ups)
        gets = await asyncio.gather(*(coll.get("many%d" % i) for i in range(n)))
        assert [g.content_as[dict]["i"] for g in gets] == list(range(n))
    run_with(test, timeout=120)


def _child(connstr):
    """In a forked child: a new Cluster on a new loop reads what the parent wrote."""
    async def main():
        cluster = Cluster(connstr, AUTH)
        bucket = cluster.bucket("default")
        await bucket.on_connect()
        coll = bucket.default_collection()
        got = (await coll.get("forked")).content_as[dict]
        await coll.upsert("from-child", {"pid": os.getpid()})
        await cluster.close()
        return got

    return asyncio.run(asyncio.wait_for(main(), 20)) == {"parent": True}


def test_use_after_fork(server, run):
    async def main():
        cluster = Cluster(server.connstr, AUTH)
        bucket = cluster.bucket("default")
        await bucket.on_connect()
        coll = bucket.default_collection()
        await coll.upsert("forked", {"parent": True})
        pid = os.fork()
        if pid == 0:  # the child never returns into pytest
            code = 1
            try:
                code = 0 if _child(server.connstr) else 3
            finally:
                os._exit(code)
        _, status = await asyncio.get_running_loop().run_in_executor(None, os.waitpid, pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # the parent's cluster is untouched by the child's
        assert (await coll.get("from-child")).content_as[dict]["pid"] == pid
        assert (await coll.get("forked")).content_as[dict] == {"parent": True}
        await cluster.close()

    run(main())
