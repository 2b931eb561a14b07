"""What the behavioural suites share (a pytest plugin: ``pytest_plugins = ["sdk_under_test"]``;
scripts/run-pysuite puts tests/python on the path).

DIVAN_SDK says which SDK the run tests, divan's or the official one; the run stops if the
``couchbase`` that imports is the other. Tests of what the official SDK lacks are marked
``divan_only(reason)`` and skipped on it.
"""

import os
import signal
import time

import pytest

import couchbase

SDK = os.environ.get("DIVAN_SDK", "divan")


def _check_sdk():
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


def stop_process(pid):
    """SIGSTOP pid and wait until every thread of it is stopped (the signal is asynchronous);
    SIGCONT resumes it."""
    os.kill(pid, signal.SIGSTOP)
    tasks = "/proc/%d/task" % pid
    while True:
        states = []
        for tid in os.listdir(tasks):
            with open(os.path.join(tasks, tid, "stat")) as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        if all(st in ("T", "t") for st in states):
            return
        time.sleep(0.001)  # polls a condition; the signal takes effect within microseconds
