"""pytest fixtures for code that talks to Couchbase: ``divan_server`` is a private divan-server
(divan.server.DivanServer), one per test module; ``divan_connstr`` is its connection string.

Enable with ``-p divan.pytest_plugin`` or ``pytest_plugins = ["divan.pytest_plugin"]`` in a
conftest.py; an installed divan registers it by itself (the ``pytest11`` entry point).
"""

from typing import Iterator

import pytest

from divan.server import DivanServer


@pytest.fixture(scope="module")
def divan_server() -> Iterator[DivanServer]:
    with DivanServer() as server:
        yield server
        assert server.running(), "divan-server died during the tests"


@pytest.fixture(scope="module")
def divan_connstr(divan_server: DivanServer) -> str:
    return divan_server.connstr
