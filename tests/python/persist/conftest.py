"""Fixtures for the persistence suites: a divan-server on a data directory of the test's own,
started, killed (SIGKILL) and started again on the same directory.

Runs on divan's SDK and on the official one (scripts/run-pysuite both tests/python/persist).
"""

import asyncio

import pytest

from divan.server import DivanServer

pytest_plugins = ["sdk_under_test"]

FLUSH_MS = 50  # the server's --flush-interval in these tests


class Node:
    """A divan-server on one data directory, restartable."""

    def __init__(self, data_dir, args=()):
        self.data_dir = str(data_dir)
        self.args = list(args)
        self.srv = None

    def start(self):
        self.srv = DivanServer(args=["--data-dir", self.data_dir,
                                     "--flush-interval", str(FLUSH_MS)] + self.args).start()
        return self.srv

    def kill(self):
        import os
        import signal
        os.kill(self.srv.pid, signal.SIGKILL)
        assert self.srv.stop() == -9

    def stop(self):
        if self.srv is not None:
            code = self.srv.stop()
            self.srv = None
            return code
        return None


@pytest.fixture
def node(tmp_path):
    n = Node(tmp_path / "data")
    yield n
    n.stop()


@pytest.fixture
def run():
    def run(coro, timeout=120):
        with asyncio.Runner() as runner:
            return runner.run(asyncio.wait_for(coro, timeout))
    return run


def rest(srv, method, path, form=None):
    """(status, body) of a REST call as the admin user."""
    import base64
    import urllib.error
    import urllib.parse
    import urllib.request
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (srv.http_port, path), data=data,
                                 method=method)
    req.add_header("Authorization", "Basic " + base64.b64encode(b"user:password").decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


async def connect(srv, bucket="default"):
    from acouchbase.cluster import Cluster
    from couchbase.auth import PasswordAuthenticator
    from couchbase.options import ClusterOptions
    cluster = Cluster(srv.connstr, ClusterOptions(PasswordAuthenticator("user", "password")))
    b = cluster.bucket(bucket)
    await b.on_connect()
    return cluster, b
