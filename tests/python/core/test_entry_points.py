"""``python -m divan.server`` runs divan-server in the foreground (the same process, serving,
stopped by SIGTERM with status 0); ``--version`` on it and on ``python -m divan.tool``. (The
installed ``divan-server`` and ``divan`` commands are checked by scripts/check-wheel.)"""

import os
import signal
import subprocess
import sys

from couchbase.auth import PasswordAuthenticator
from couchbase.cluster import Cluster
from couchbase.options import ClusterOptions


def test_python_m_divan_server_serves_in_the_foreground():
    # Every port chosen free: a fixed one (8093) may be taken by another server on the machine.
    proc = subprocess.Popen([sys.executable, "-m", "divan.server", "--kv-port", "0",
                             "--http-port", "0", "--query-port", "0", "--ephemeral",
                             "--user", "fg:fgpass", "--bucket", "fg"],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline().split()
        assert line[0] == "divan-server", line
        kv = int(dict(f.split("=", 1) for f in line[1:])["kv"])
        cluster = Cluster("couchbase://127.0.0.1:%d" % kv,
                          ClusterOptions(PasswordAuthenticator("fg", "fgpass")))
        cluster.bucket("fg").default_collection().upsert("k", 1)
        cluster.close()
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGTERM)  # the process python started is the server itself
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_version():
    env = dict(os.environ)
    if env.get("DIVAN_SERVER"):  # a build tree (scripts/run-pysuite): its bin/divan beside it
        env["DIVAN_TOOL"] = os.path.join(os.path.dirname(env["DIVAN_SERVER"]), "divan")
    for module, name in (("divan.server", "divan-server"), ("divan.tool", "divan")):
        out = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True,
                             text=True, timeout=30, check=True, env=env).stdout
        assert out.startswith(name + " 0."), out
