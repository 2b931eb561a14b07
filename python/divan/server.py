"""A private divan-server on free ports, for tests and scripts.

    with divan.server.DivanServer() as server:
        cluster = Cluster(server.connstr, ClusterOptions(
            PasswordAuthenticator(server.username, server.password)))

The binary is $DIVAN_SERVER if set, else the one shipped in this package (divan/_bin), else
``divan-server`` on PATH. Unless ``args`` give ``--data-dir`` or ``--ephemeral``, the server
keeps its data in a temporary directory of its own (``data_dir``), removed when it stops; it is
stopped (SIGTERM, then SIGKILL) when the block ends.

``python -m divan.server [options]`` (and the ``divan-server`` command an install puts on PATH)
runs that binary in the foreground with the options given (``--help`` lists them; by default
ports 11210 and 8091, user Administrator/password, bucket ``default``).
"""

import atexit
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import List, NoReturn, Optional, Sequence

__all__ = ["DivanServer", "find_binary", "main"]

# The server's first line, "divan-server kv=PORT http=PORT query=PORT", maybe with more fields
# after (query= absent from a server without the query service).
_PORTS_LINE = re.compile(r"^divan-server kv=(\d+) http=(\d+)(?: query=(\d+))?(?:\s|$)")
# With TLS (--tls-cert), the TLS ports follow on the same line.
_TLS_PORTS = re.compile(r"\skvs=(\d+) https=(\d+) querys=(\d+)(?:\s|$)")


def find_binary() -> str:
    """The divan-server binary to run (see the module's documentation)."""
    env = os.environ.get("DIVAN_SERVER")
    if env:
        return env
    shipped = Path(__file__).resolve().parent / "_bin" / "divan-server"
    if shipped.is_file():
        return str(shipped)
    found = shutil.which("divan-server")
    if found:
        return found
    raise FileNotFoundError("no divan-server binary: set DIVAN_SERVER or put it on PATH")


class DivanServer:
    """divan-server on free ports (127.0.0.1) with the admin ``username``/``password`` and the
    bucket ``default``.

    ``buckets``: the buckets instead of ``default``, each as divan-server's ``--bucket`` takes it
    (``"name"`` or ``"name:ramQuotaMB=256,type=ephemeral,flush=1"``). ``users``: more users, as
    ``--user`` takes them (``"name:password"`` for an admin, ``"name:password:data_reader[b]"``).
    ``args``: any other divan-server options (``divan-server --help``). Without ``--data-dir``
    or ``--ephemeral`` among them, the data goes to a new temporary directory (``data_dir``),
    removed by ``stop()``.

    ``connstr`` is ``couchbase://127.0.0.1:<kv port>``; ``kv_port``, ``http_port`` and
    ``query_port`` (the SQL++ service; 0 for a server that has none) are the ports it chose.
    With ``--tls-cert`` and ``--tls-key`` in ``args``, ``tls_connstr`` is
    ``couchbases://127.0.0.1:<TLS kv port>``, and ``tls_kv_port``, ``https_port`` and
    ``tls_query_port`` are the TLS ports (0 without TLS).
    ``start()``/``stop()`` or a ``with`` block."""

    def __init__(self, username: str = "user", password: str = "password",
                 args: Sequence[str] = (), binary: Optional[str] = None,
                 start_timeout: float = 30.0, buckets: Sequence[str] = (),
                 users: Sequence[str] = ()) -> None:
        for name, value in (("args", args), ("buckets", buckets), ("users", users)):
            if isinstance(value, str):
                raise TypeError("DivanServer: %s is a sequence of strings, not a string" % name)
        self.username = username
        self.password = password
        self.buckets: List[str] = [b.split(":", 1)[0] for b in buckets] or ["default"]
        self._argv: List[str] = [binary or find_binary(), "--kv-port", "0", "--http-port", "0",
                                 "--query-port", "0", "--tls-kv-port", "0", "--tls-http-port", "0",
                                 "--tls-query-port", "0", "--user", "%s:%s" % (username, password)]
        for u in users:
            self._argv += ["--user", u]
        for b in buckets:
            self._argv += ["--bucket", b]
        self._argv += args
        self.data_dir: Optional[str] = None
        self._own_dir = not any(a == "--ephemeral" or a == "--data-dir" or
                                a.startswith("--data-dir=") for a in args)
        self._start_timeout = start_timeout
        self._proc: Optional["subprocess.Popen[str]"] = None
        self._reader: Optional[threading.Thread] = None
        self.kv_port = 0
        self.http_port = 0
        self.query_port = 0
        self.tls_kv_port = 0
        self.https_port = 0
        self.tls_query_port = 0

    @property
    def connstr(self) -> str:
        return "couchbase://127.0.0.1:%d" % self.kv_port

    @property
    def tls_connstr(self) -> str:
        if not self.tls_kv_port:
            raise RuntimeError("DivanServer: started without TLS (--tls-cert, --tls-key)")
        return "couchbases://127.0.0.1:%d" % self.tls_kv_port

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not started"
        return self._proc.pid

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> "DivanServer":
        if self._proc is not None:
            raise RuntimeError("already started")
        argv = self._argv
        if self._own_dir:
            self.data_dir = tempfile.mkdtemp(prefix="divan-server-")
            argv = argv + ["--data-dir", self.data_dir]
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, text=True)
        atexit.register(self.stop)  # no server outlives this process, whatever happens
        lines: "queue.Queue[Optional[str]]" = queue.Queue()
        out = self._proc.stdout
        assert out is not None

        def read() -> None:  # drains stdout for the server's lifetime
            for line in out:
                lines.put(line)
            lines.put(None)

        self._reader = threading.Thread(target=read, name="divan-server stdout", daemon=True)
        self._reader.start()
        try:
            line = lines.get(timeout=self._start_timeout)
        except queue.Empty:
            line = None
        m = _PORTS_LINE.match(line.strip()) if line else None
        if not m:
            code = self._proc.poll()
            self.stop()
            raise RuntimeError("divan-server did not start (exit status %s, first line %r)"
                               % (code, line))
        self.kv_port, self.http_port = int(m.group(1)), int(m.group(2))
        self.query_port = int(m.group(3)) if m.group(3) else 0
        t = _TLS_PORTS.search(line) if line else None
        if t:
            self.tls_kv_port, self.https_port, self.tls_query_port = map(int, t.groups())
        return self

    def stop(self) -> Optional[int]:
        """SIGTERM, then SIGKILL after 10 s. The exit status: 0 for a clean stop, negative for
        a signal (-9: it had to be killed), None if it was not running."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        atexit.unregister(self.stop)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=10)
            self._reader = None
        if proc.stdout is not None:
            proc.stdout.close()
        if self._own_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None
        return proc.returncode

    def __enter__(self) -> "DivanServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _exec(binary: str, name: str) -> NoReturn:
    """Replace this process by ``binary`` with this command line's arguments (signals, the exit
    status and the terminal go to it directly)."""
    here = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if here is not None and Path(binary).resolve() == here:  # the console script found itself
        sys.exit("%s: the %s binary is missing from this install (divan/_bin); reinstall "
                 "divan-server or set DIVAN_SERVER" % (name, name))
    try:
        os.execv(binary, [name, *sys.argv[1:]])
    except OSError as e:
        sys.exit("%s: cannot run %s: %s" % (name, binary, e))


def main() -> NoReturn:
    """``divan-server`` and ``python -m divan.server``: the server in the foreground."""
    try:
        binary = find_binary()
    except FileNotFoundError as e:
        sys.exit("divan-server: %s" % e)
    _exec(binary, "divan-server")


if __name__ == "__main__":
    main()
