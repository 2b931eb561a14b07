"""pytest fixtures for code that talks to Couchbase: ``divan_server`` is a private divan-server
(divan.server.DivanServer), one per test module; ``divan_connstr`` is its connection string.

The server takes DivanServer's keyword arguments (``username``, ``password``, ``buckets``,
``users``, ``args``) from, in pytest's usual ways:

- the ``divan_server`` marker on the module::

      pytestmark = pytest.mark.divan_server(buckets=["travel", "cache:type=ephemeral"],
                                            users=["reader:secret:data_reader[travel]"])

- or indirect parametrization, one server per parameter::

      @pytest.mark.parametrize("divan_server", [{"args": ["--threads", "1"]}], indirect=True)
      def test_x(divan_server): ...

(parameters override the marker's values). The server is shared by the tests of a module with
the same parameters, so the marker belongs on the module (``pytestmark``), not on one test.

Enable with ``-p divan.pytest_plugin`` or ``pytest_plugins = ["divan.pytest_plugin"]`` in a
conftest.py; an installed divan-server registers it by itself (the ``pytest11`` entry point).
"""

# Annotations unevaluated: pytest.Config and pytest.FixtureRequest are public only since pytest 7,
# and this plugin is loaded into every pytest run of an environment with divan-server.
from __future__ import annotations

from typing import Any, Dict, Iterator

import pytest

from divan.server import DivanServer

_KEYS = ("username", "password", "buckets", "users", "args")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "divan_server(username=, password=, buckets=, users=, args=): the "
        "divan_server fixture's settings for this module (divan.pytest_plugin)")


def _settings(request: pytest.FixtureRequest) -> Dict[str, Any]:
    settings: Dict[str, Any] = {}
    marker = request.node.get_closest_marker("divan_server")
    if marker is not None:
        if marker.args:
            raise pytest.UsageError("divan_server marker: keyword arguments only (%s)"
                                    % ", ".join(_KEYS))
        settings.update(marker.kwargs)
    param = getattr(request, "param", None)
    if param is not None:
        if not isinstance(param, dict):
            raise pytest.UsageError("divan_server parameters are dicts of %s, not %r"
                                    % (", ".join(_KEYS), param))
        settings.update(param)
    unknown = sorted(set(settings) - set(_KEYS))
    if unknown:
        raise pytest.UsageError("divan_server: unknown setting(s) %s (known: %s)"
                                % (", ".join(unknown), ", ".join(_KEYS)))
    return settings


@pytest.fixture(scope="module")
def divan_server(request: pytest.FixtureRequest) -> Iterator[DivanServer]:
    with DivanServer(**_settings(request)) as server:
        yield server
        assert server.running(), "divan-server died during the tests"


@pytest.fixture(scope="module")
def divan_connstr(divan_server: DivanServer) -> str:
    return divan_server.connstr
