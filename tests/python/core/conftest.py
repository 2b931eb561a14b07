"""divan's extension couchbase._core on its own, against a private divan-server (divan's SDK
only: PYTHONPATH=python:<build>/python)."""

import pytest

from divan.server import DivanServer


@pytest.fixture(scope="module")
def server():
    with DivanServer() as s:
        yield s
        assert s.running(), "divan-server died during the tests"
