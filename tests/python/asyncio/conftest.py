"""Fixtures for the asyncio API (acouchbase) against a private divan-server.

The same modules run on divan's SDK and on the official one, each in its own interpreter:
    DIVAN_SDK=divan    PYTHONPATH=python:<build>/python .venv/bin/python -m pytest tests/python/asyncio
    DIVAN_SDK=official PYTHONPATH=<dir with only divan/> .venv-official/bin/python -m pytest ...
(scripts/run-pysuite does both). DIVAN_SERVER names the server binary. Tests of what the official
SDK lacks are marked ``divan_only`` (tests/python/sdk_under_test.py); every test runs on the
standard loop and on uvloop (the ``run`` fixture).
"""

import asyncio

import pytest
import uvloop

from divan.server import DivanServer

pytest_plugins = ["sdk_under_test"]

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


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
