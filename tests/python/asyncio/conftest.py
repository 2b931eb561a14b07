"""Fixtures for the asyncio API (acouchbase) against a private divan-server.

The same modules run on divan's SDK and on the official one, each in its own interpreter:
    DIVAN_SDK=divan    PYTHONPATH=python:<build>/python .venv/bin/python -m pytest tests/python/asyncio
    DIVAN_SDK=official PYTHONPATH=<dir with only divan/> .venv-official/bin/python -m pytest ...
(scripts/run-pysuite does both). DIVAN_SERVER names the server binary. Tests of what the official
SDK lacks are marked ``divan_only`` and skipped on it; every test runs on the standard loop and on
uvloop (the ``run`` fixture).
"""

import asyncio
import os

import pytest
import uvloop

import couchbase
from divan.server import DivanServer

SDK = os.environ.get("DIVAN_SDK", "divan")
LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


def _check_sdk():
    """The SDK under test is the one DIVAN_SDK names: a wrong path must not test the other one."""
    try:
        from couchbase import _core  # noqa: F401
        found = "divan"
    except ImportError:
        found = "official"
    if found != SDK:
        raise pytest.UsageError("DIVAN_SDK=%s but %s imports the %s SDK"
                                % (SDK, couchbase.__file__, found))


_check_sdk()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "divan_only(reason): tests a feature the official SDK lacks (skipped on it)")


def pytest_collection_modifyitems(config, items):
    if SDK != "official":
        return
    for item in items:
        mark = item.get_closest_marker("divan_only")
        if mark:
            reason = mark.kwargs.get("reason") or (mark.args[0] if mark.args else "")
            item.add_marker(pytest.mark.skip(reason="the official SDK lacks this: " + reason))


@pytest.fixture(scope="module", params=sorted(LOOPS))
def loop_name(request):
    return request.param


@pytest.fixture(scope="module")
def server(loop_name):
    """A divan-server per module and loop kind: each run of a module starts from an empty bucket."""
    with DivanServer() as s:
        yield s
        assert s.running(), "divan-server died during the tests"


@pytest.fixture
def run(loop_name):
    """run(coro, timeout=30): runs coro to completion in a new loop of the parametrised kind."""
    def run(coro, timeout=30):
        with asyncio.Runner(loop_factory=LOOPS[loop_name]) as runner:
            return runner.run(asyncio.wait_for(coro, timeout))
    return run


@pytest.fixture
def run_with(server, run):
    """run_with(test, timeout=20): await test(collection, bucket) on the default collection of a
    fresh Cluster (user/password, bucket default), closed afterwards."""
    from acouchbase.cluster import Cluster
    from couchbase.auth import PasswordAuthenticator
    from couchbase.options import ClusterOptions

    def run_with(test, timeout=20):
        async def main():
            cluster = Cluster(server.connstr,
                              ClusterOptions(PasswordAuthenticator("user", "password")))
            try:
                bucket = cluster.bucket("default")
                await bucket.on_connect()
                return await test(bucket.default_collection(), bucket)
            finally:
                await cluster.close()
        return run(main(), timeout)
    return run_with
