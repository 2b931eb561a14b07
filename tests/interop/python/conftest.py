"""Fixtures for the official Couchbase Python SDK against divan-server.

Run with the SDK's own virtual environment and only divan's `divan` helper package on the path
(scripts/run-interop does): the official SDK and divan's SDK share module names, so they never
meet in one interpreter. DIVAN_SERVER names the server binary (divan.server.DivanServer).
"""

from datetime import timedelta

import pytest
from couchbase.auth import PasswordAuthenticator
from couchbase.cluster import Cluster
from couchbase.options import ClusterOptions, ClusterTimeoutOptions
from divan.server import DivanServer

ADMIN = ("Administrator", "password")

# Small timeouts: a hang fails in seconds, not minutes.
TIMEOUTS = ClusterTimeoutOptions(
    kv_timeout=timedelta(seconds=2.5),
    kv_durable_timeout=timedelta(seconds=5),
    connect_timeout=timedelta(seconds=3),
    bootstrap_timeout=timedelta(seconds=5),
    management_timeout=timedelta(seconds=5),
)


def connect(server, user=ADMIN[0], password=ADMIN[1]):
    """A blocking Cluster on the test server (the caller closes it)."""
    opts = ClusterOptions(PasswordAuthenticator(user, password), timeout_options=TIMEOUTS)
    return Cluster(server.connstr, opts)


@pytest.fixture(scope="session")
def server():
    # Administrator for the blocking checks; `user` for the example of the project brief.
    srv = DivanServer(*ADMIN, args=("--threads", "2", "--user", "user:password"))
    srv.start()
    yield srv
    assert srv.running(), "divan-server died during the tests"
    assert srv.stop() == 0, "divan-server did not stop cleanly on SIGTERM"


@pytest.fixture(scope="session")
def cluster(server):
    c = connect(server)
    yield c
    c.close()


@pytest.fixture(scope="session")
def bucket(cluster):
    return cluster.bucket("default")


@pytest.fixture(scope="session")
def coll(bucket):
    return bucket.default_collection()


@pytest.fixture
def key(request):
    """A key unique to the test."""
    return f"py-{request.node.name}"
