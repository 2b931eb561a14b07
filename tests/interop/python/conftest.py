"""Fixtures for the official Couchbase Python SDK against divan-server.

Run with the SDK's own virtual environment: .venv-official/bin/python -m pytest tests/interop/python
(the official SDK and divan's SDK share module names, so they never meet in one interpreter).
DIVAN_SERVER names the server binary; the default is <repo>/build/bin/divan-server.
"""

import atexit
import os
import queue
import re
import signal
import subprocess
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from couchbase.auth import PasswordAuthenticator
from couchbase.cluster import Cluster
from couchbase.options import ClusterOptions, ClusterTimeoutOptions

REPO = Path(__file__).resolve().parents[3]
SERVER = os.environ.get("DIVAN_SERVER", str(REPO / "build" / "bin" / "divan-server"))
ADMIN = ("Administrator", "password")
PORTS_LINE = re.compile(r"^divan-server kv=(\d+) http=(\d+)$")

# Small timeouts: a hang fails in seconds, not minutes.
TIMEOUTS = ClusterTimeoutOptions(
    kv_timeout=timedelta(seconds=2.5),
    kv_durable_timeout=timedelta(seconds=5),
    connect_timeout=timedelta(seconds=3),
    bootstrap_timeout=timedelta(seconds=5),
    management_timeout=timedelta(seconds=5),
)


class Server:
    """A divan-server on free ports; `kv` and `http` are the ports it printed."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [SERVER, "--kv-port", "0", "--http-port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        atexit.register(self._kill)  # no server outlives the test process, whatever happens
        lines = queue.Queue()

        def read_stdout():  # hands over each line and drains stdout until the server exits
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read_stdout, daemon=True).start()
        try:
            line = lines.get(timeout=10)
        except queue.Empty:
            line = "(nothing within 10 s)"
        m = PORTS_LINE.match(line.strip()) if line else None
        if not m:
            self._kill()
            raise RuntimeError(f"{SERVER} did not print its ports line; got {line!r}, exit {self.proc.poll()}")
        self.kv, self.http = int(m.group(1)), int(m.group(2))
        self.connstr = f"couchbase://127.0.0.1:{self.kv}"

    def stop(self):
        """SIGTERM; the server must exit 0 within 10 s."""
        assert self.proc.poll() is None, f"divan-server died during the tests (exit {self.proc.returncode})"
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._kill()
            raise AssertionError("divan-server did not stop within 10 s of SIGTERM")
        assert code == 0, f"divan-server exited {code} on SIGTERM"

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def connect(server, user=ADMIN[0], password=ADMIN[1]):
    """A blocking Cluster on the test server (the caller closes it)."""
    opts = ClusterOptions(PasswordAuthenticator(user, password), timeout_options=TIMEOUTS)
    return Cluster(server.connstr, opts)


@pytest.fixture(scope="session")
def server():
    # Administrator for the blocking checks; `user` for the example of the project brief.
    srv = Server(
        "--threads", "2",
        "--user", f"{ADMIN[0]}:{ADMIN[1]}:admin",
        "--user", "user:password",
    )
    yield srv
    srv.stop()


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
