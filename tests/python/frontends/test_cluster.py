"""Connecting, closing, ping/diagnostics and timeouts, the same on the three front ends."""

import asyncio
import inspect
import json
import os
import signal
from datetime import timedelta

import pytest
from conftest import options

from couchbase.diagnostics import ClusterState, PingState, ServiceType
from couchbase.exceptions import (AmbiguousTimeoutException, AuthenticationException,
                                  UnAmbiguousTimeoutException)
from couchbase.result import DiagnosticsResult, PingResult
from divan.server import DivanServer
from sdk_under_test import SDK, stop_process

SHORT = timedelta(milliseconds=500)


def test_the_seed_example(fe, server):
    """The README's example, in each front end's own words."""
    cluster, bucket, coll = fe.open(server.connstr)
    coll.upsert("doc1", dict(name="Ted", age=80))
    assert coll.get("doc1").content_as[dict] == {"name": "Ted", "age": 80}
    cluster.close()


def test_wrong_password(fe, server):
    with pytest.raises(AuthenticationException):
        cluster = fe.cluster(server.connstr, options("wrong"))
        fe.sync(cluster).close()  # not reached when the connect raised


def test_closed_cluster(fe, server):
    cluster, _, coll = fe.open(server.connstr)
    cluster.close()
    cluster.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed cluster"):
        coll.get("doc1")


def test_ping_and_diagnostics(kv, server):
    cluster, bucket, _ = kv
    ping = cluster.ping()
    assert isinstance(ping, PingResult)
    endpoints = ping.endpoints[ServiceType.KeyValue]
    assert endpoints and all(e.state == PingState.OK for e in endpoints)
    assert "127.0.0.1:%d" % server.kv_port in [e.remote for e in endpoints]
    assert [e.state for e in bucket.ping().endpoints[ServiceType.KeyValue]] == [PingState.OK]
    diag = cluster.diagnostics()
    assert isinstance(diag, DiagnosticsResult) and diag.state == ClusterState.Online
    assert cluster.wait_until_ready(timedelta(seconds=10)) is None
    # each endpoint says which local address its connection has, in the objects and the JSON
    for report in (ping, diag):
        kv_eps = report.endpoints[ServiceType.KeyValue]
        assert all(e.local and e.local.startswith("127.0.0.1:") for e in kv_eps)
        raw = json.loads(report.as_json())
        assert all(e["local"].startswith("127.0.0.1:") for e in raw["services"]["key_value"])
        assert isinstance(raw["id"], str) and raw["version"] == 2 and raw["sdk"]


def test_timeouts_of_a_hung_server(fe):
    """A server that stops answering (SIGSTOP): a write's outcome is unknown, a read's is not;
    the per-operation timeout is honoured."""
    with DivanServer() as server:
        cluster, _, coll = fe.open(server.connstr)
        coll.upsert("hung", 0)
        stop_process(server.pid)
        try:
            with pytest.raises(AmbiguousTimeoutException):
                coll.upsert("hung", 1, timeout=SHORT)
            with pytest.raises(UnAmbiguousTimeoutException):
                coll.get("hung", timeout=SHORT)
        finally:
            os.kill(server.pid, signal.SIGCONT)
        assert coll.get("hung").content_as[int] in (0, 1)  # it answers again: so does the client
        cluster.close()


def test_twisted_runs_on_the_chosen_reactor():
    from twisted.internet import reactor
    from conftest import REACTOR
    expected = {"default": "EPollReactor", "asyncio": "AsyncioSelectorReactor"}[REACTOR]
    assert type(reactor).__name__ == expected


def test_a_cancelled_wait_leaves_the_connection(fe, server):
    """Cancelling a wait for the connect or the bucket (a Deferred or a task) cancels the wait,
    not the connection: waiting again works, and so do operations."""
    if fe.name == "blocking":
        pytest.skip("the blocking Cluster connects in its constructor")

    def cancel_waits():
        cluster = fe.module.Cluster(server.connstr, options())
        bucket = cluster.bucket("default")
        for wait in (cluster.on_connect(), bucket.on_connect()):
            if inspect.iscoroutine(wait):
                wait = asyncio.ensure_future(wait)
            wait.cancel()
        return cluster, bucket

    cluster, bucket = fe.run(cancel_waits)
    fe.run(cluster.on_connect)
    fe.run(bucket.on_connect)
    coll = fe.sync(bucket.default_collection())
    coll.upsert("after-cancel", 1)
    assert coll.get("after-cancel").content_as[int] == 1
    fe.sync(cluster).close()


@pytest.mark.parametrize("where", ["connstr", "options"])
def test_mutation_tokens_disabled(fe, server, where):
    """enable_mutation_tokens=False, in the connection string or ClusterOptions: the token has
    the vbucket but uuid and sequence number 0, as the official SDK gives."""
    if where == "connstr":
        cluster = fe.cluster(server.connstr + "?enable_mutation_tokens=false", options())
    else:
        opts = options()
        opts["enable_mutation_tokens"] = False
        cluster = fe.cluster(server.connstr, opts)
    bucket = fe.bucket(cluster, "default")
    token = fe.sync(bucket.default_collection()).upsert("tokens-off", 1).mutation_token()
    assert (token.partition_uuid, token.sequence_number) == (0, 0)
    assert token.bucket_name == "default"
    fe.sync(cluster).close()


def test_set_authenticator(fe):
    """New credentials serve the connections opened afterwards (a bucket opened now fails with a
    wrong password); open ones keep theirs; the kind of authenticator cannot change."""
    from couchbase.auth import JwtAuthenticator, PasswordAuthenticator
    from couchbase.exceptions import InvalidArgumentException
    if SDK == "official" and fe.name == "twisted":
        pytest.skip("the official txcouchbase has no set_authenticator")
    with DivanServer(args=["--bucket", "default", "--bucket", "other"]) as server:
        cluster = fe.cluster(server.connstr, options())
        coll = fe.sync(fe.bucket(cluster, "default").default_collection())
        with pytest.raises(InvalidArgumentException):
            cluster.set_authenticator(JwtAuthenticator("token"))
        cluster.set_authenticator(PasswordAuthenticator("user", "wrong"))
        assert coll.upsert("set-auth", 1).cas  # the open connection keeps its credentials
        with pytest.raises(AuthenticationException):
            fe.bucket(cluster, "other")  # a new connection, with the new password
        cluster.set_authenticator(PasswordAuthenticator("user", "password"))
        assert fe.sync(fe.bucket(cluster, "other").default_collection()).upsert("k", 1).cas
        fe.sync(cluster).close()


def test_bucket_close(fe, server):
    """Bucket.close closes the bucket's connections (diagnostics no longer list them); a later
    operation opens it again, as in the official SDK; closing twice is fine."""
    cluster, bucket, coll = fe.open(server.connstr)
    coll.upsert("bucket-close", 1)
    def kv_buckets():
        return [e.namespace for e in cluster.diagnostics().endpoints.get(ServiceType.KeyValue, [])]
    assert "default" in kv_buckets()
    bucket.close()
    assert "default" not in kv_buckets()
    bucket.close()
    assert coll.get("bucket-close").content_as[int] == 1  # opened again
    cluster.close()
