"""Fixtures for divan's asyncio API (acouchbase) against a private divan-server.

Run: PYTHONPATH=python:<build>/python .venv/bin/python -m pytest tests/python/asyncio
The server is the one built beside the imported couchbase._core (<build>/bin/divan-server),
unless DIVAN_SERVER names another.
"""

import atexit
import os
import queue
import re
import subprocess
import threading
from pathlib import Path

import pytest

from couchbase import _core

PORTS_LINE = re.compile(r"^divan-server kv=(\d+) http=(\d+)$")


def _server_binary() -> str:
    if os.environ.get("DIVAN_SERVER"):
        return os.environ["DIVAN_SERVER"]
    return str(Path(_core.__file__).resolve().parents[2] / "bin" / "divan-server")


class Server:
    """A divan-server on free ports with the user user/password and the bucket default."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [_server_binary(), "--kv-port", "0", "--http-port", "0", "--user", "user:password"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        self._reader = None
        atexit.register(self.stop)
        lines = queue.Queue()

        def read_stdout():
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        self._reader = threading.Thread(target=read_stdout, daemon=True)
        self._reader.start()
        try:
            line = lines.get(timeout=10)
        except queue.Empty:
            line = None
        m = PORTS_LINE.match(line.strip()) if line else None
        if not m:
            self.stop()
            raise RuntimeError("divan-server did not print its ports line: %r" % (line,))
        self.kv, self.http = int(m.group(1)), int(m.group(2))
        self.connstr = "couchbase://127.0.0.1:%d" % self.kv

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._reader is None:
            return
        self._reader.join(timeout=10)
        if self.proc.stdout and not self._reader.is_alive():
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    assert s.proc.poll() is None, "divan-server died during the tests"
    s.stop()
