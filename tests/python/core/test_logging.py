"""couchbase.configure_logging: libdivan's log lines reach Python's logging, as with the official
SDK (a refused connection is logged before the timeout exception, a wrong password and the
config a bucket takes are logged too), on the blocking and the asyncio front ends."""

import asyncio
import logging
import socket
from datetime import timedelta

import pytest

import couchbase
from couchbase import _core
from couchbase.auth import PasswordAuthenticator
from couchbase.cluster import Cluster
from couchbase.exceptions import CouchbaseException
from couchbase.options import ClusterOptions, ClusterTimeoutOptions

import acouchbase.cluster


@pytest.fixture
def log(caplog):
    couchbase.configure_logging("couchbase", logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="couchbase")
    yield caplog
    _core.set_log_hook(None)


def closed_port():
    """A port nothing listens on (bound, then closed: the kernel refuses connections to it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def options(password="password"):
    return ClusterOptions(PasswordAuthenticator("user", password),
                          timeout_options=ClusterTimeoutOptions(
                              connect_timeout=timedelta(seconds=2),
                              bootstrap_timeout=timedelta(seconds=2)))


def messages(log):
    return [(r.name, r.levelno, r.getMessage()) for r in log.records]


def test_refused_connection_is_logged_before_the_exception_blocking(log):
    with pytest.raises(CouchbaseException):
        Cluster("couchbase://127.0.0.1:%d" % closed_port(), options())
    # The records were taken while Cluster() waited: they precede the exception.
    lines = [m for n, lv, m in messages(log) if n == "couchbase" and lv >= logging.INFO]
    assert any("connection refused" in m for m in lines), messages(log)
    assert any("connect to 127.0.0.1:" in m and "failed" in m for m in lines), messages(log)


def test_refused_connection_is_logged_before_the_exception_asyncio(log):
    async def attempt():
        cluster = acouchbase.cluster.Cluster("couchbase://127.0.0.1:%d" % closed_port(),
                                             options())
        try:
            with pytest.raises(CouchbaseException):
                await cluster.on_connect()
            return list(log.records)
        finally:
            with pytest.raises(CouchbaseException):  # close() reports the failed connect
                await cluster.close()

    before = asyncio.run(attempt())
    lines = [r.getMessage() for r in before if r.levelno >= logging.INFO]
    assert any("ConnectionRefusedError" in m for m in lines), messages(log)


def test_wrong_password_and_config_are_logged(divan_server, log):
    with pytest.raises(CouchbaseException):
        Cluster(divan_server.connstr, options(password="wrong"))
    assert any("authentication failed" in m and lv == logging.INFO
               for _, lv, m in messages(log)), messages(log)
    log.clear()
    cluster = Cluster(divan_server.connstr, options())
    cluster.bucket("default").default_collection().upsert("logged", 1)
    cluster.close()
    assert any('bucket "default": config rev' in m and lv == logging.INFO
               for _, lv, m in messages(log)), messages(log)


def test_level_filters_and_none_restores(divan_server, caplog):
    couchbase.configure_logging("couchbase", logging.WARNING)
    caplog.set_level(logging.DEBUG, logger="couchbase")
    try:
        cluster = Cluster(divan_server.connstr, options())
        cluster.bucket("default").default_collection().upsert("quiet", 1)
        cluster.close()
    finally:
        _core.set_log_hook(None)
    assert not [r for r in caplog.records if r.levelno < logging.WARNING], messages(caplog)
