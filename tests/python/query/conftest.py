"""The query suite on the three front ends (the frontends suite's fixtures: fe, server, kv,
key), with ``query(fe, target, statement, *options, **kwargs)`` -> (rows, metadata) that
consumes a result the way each front end does: iteration (blocking), ``async for`` on the loop
(acouchbase), iteration of the result a Deferred fired with (txcouchbase)."""

import pytest

from frontends.conftest import *  # noqa: F401,F403 - fe, server, kv, key, options, ...
from frontends.conftest import _front_ends  # noqa: F401 - the session fixture stopping them

pytest_plugins = ["sdk_under_test"]


def raw(obj):
    """The object a fe.sync() wrapper wraps (or obj itself)."""
    return getattr(obj, "_obj", obj)


def query(fe, target, statement, *opts, **kwargs):
    """(rows, metadata) of target.query(...) as the front end consumes it."""
    target = raw(target)
    if fe.name == "asyncio":
        async def consume():
            result = target.query(statement, *opts, **kwargs)
            rows = [row async for row in result.rows()]
            return rows, result.metadata()
        return fe.run(consume)
    result = fe.run(lambda: target.query(statement, *opts, **kwargs))
    rows = list(result.rows())
    return rows, result.metadata()


def result_of(fe, target, statement, *opts, **kwargs):
    """The QueryResult itself (in txcouchbase: what its Deferred fired with)."""
    target = raw(target)
    if fe.name == "asyncio":
        return target.query(statement, *opts, **kwargs)
    return fe.run(lambda: target.query(statement, *opts, **kwargs))


@pytest.fixture(scope="session")
def indexed(server):
    """The server's default bucket with a primary index."""
    from frontends.conftest import Blocking
    fe = Blocking()
    cluster = fe.cluster(server.connstr, options())  # noqa: F405
    try:
        list(cluster.query("CREATE PRIMARY INDEX ON `default`"))
    except Exception as exc:  # already there from another run of the fixture
        assert "already exists" in str(exc)
    cluster.close()
    return server
