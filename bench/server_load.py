"""divan-server against Debian's memcached: throughput, CPU per operation, memory, start-up.

- load: ``divan load --memcached`` (memcached's plain binary protocol, one blocking thread per
  connection) against memcached and, with ``--sasl`` (it logs in and selects the bucket first),
  against divan-server: the same loader for both servers; and ``divan load`` (libdivan, the
  Couchbase handshake, as the SDKs) against divan-server. GET/SET 90/10 and 50/50; 1 request
  in flight on 1 and 16 connections, 16 on 1 and 16, 256 on 1 (pipelined); 100-byte documents
  on 10,000 keys. For each: ops/s and the server's CPU time per operation (user + system, from
  /proc/PID/stat over the measured run), and divan/memcached ratios.
- memory: each server's resident set (VmRSS) once it holds 1,000,000 documents of 100 bytes.
divan-server runs with --ephemeral here (in memory, as memcached); persist_bench.py measures
what persistence costs.
- start-up: divan-server's time from exec to its first answer on the KV port (median of 5).

Both servers run with one worker thread on CPU 0 and the load tool on CPU 1 where there are two
CPUs; memcached is started with a memory limit large enough to hold the million documents.

    .venv/bin/python bench/server_load.py --quick     # 1 repetition of 2 s
    .venv/bin/python bench/server_load.py             # 3 repetitions of 10 s
"""

import contextlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time

from common import REPO, can_pin, divan_server, fmt, median, ratio, server_bench_main

DIVAN = str(REPO / "build/bin/divan")
SERVER = os.environ.get("DIVAN_SERVER") or str(REPO / "build/bin/divan-server")
MEMCACHED = shutil.which("memcached") or "/usr/bin/memcached"
KEYS = 10_000
SIZE = 100
MILLION = 1_000_000
SERVERS = ("divan", "memcached")
# server, loader: "plain" is divan load --memcached (--sasl on divan-server), "libdivan" divan load
RUNS = (("divan", "plain"), ("memcached", "plain"), ("divan", "libdivan"))
# (gets %, requests in flight per connection, connections)
LOADS = [(r, i, c) for r in (90, 50) for i, c in ((1, 1), (1, 16), (16, 1), (16, 16), (256, 1))]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for %d" % pid)


def answered(port):
    """Whether something on port answers a memcached NOOP (any status counts)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(struct.pack(">BBHBBHIIQ", 0x80, 0x0A, 0, 0, 0, 0, 0, 1, 0))
            return len(s.recv(24)) > 0
    except OSError:
        return False


@contextlib.contextmanager
def started(kind, pin):
    """(pid, port) of a fresh server of this kind, stopped afterwards."""
    if kind == "divan":
        with divan_server(pin, ["--ephemeral"]) as server:  # in memory, as memcached
            yield server.pid, server.kv_port
        return
    port = free_port()
    argv = [MEMCACHED, "-p", str(port), "-U", "0", "-l", "127.0.0.1", "-t", "1", "-m", "2048"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]  # memcached will not run as root
    if pin:
        argv = ["taskset", "-c", "0"] + argv
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not answered(port):  # polls until the server answers
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("memcached did not start (%s)" % " ".join(argv))
        yield proc.pid, port
    finally:
        proc.terminate()
        proc.wait()


def load(kind, port, pin, extra, loader=None):
    """The JSON summary of one divan load run (by default libdivan's on divan-server)."""
    if loader is None:
        loader = "libdivan" if kind == "divan" else "plain"
    if loader == "libdivan":
        argv = [DIVAN, "load", "-U", "couchbase://127.0.0.1:%d" % port, "-u", "user",
                "-p", "password"]
    else:
        argv = [DIVAN, "load", "--memcached", "-U", "memcached://127.0.0.1:%d" % port]
        if kind == "divan":
            argv += ["--sasl", "-u", "user", "-p", "password"]
    argv += ["--keys", str(KEYS), "--size", str(SIZE), "--json", "--quiet"] + extra
    if pin:
        argv = ["taskset", "-c", "1"] + argv
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(argv), r.stderr.strip()[-500:]))
    return json.loads(r.stdout.strip().splitlines()[-1])


def measure_loads(args, pin):
    """{(server, loader, ratio, in_flight, conns): [(ops/s, cpu µs/op), ...]} over the
    repetitions."""
    results = {}
    for rep in range(args.reps):
        for kind in SERVERS:
            with started(kind, pin) as (pid, port):
                load(kind, port, pin, ["-n", "1"], "plain")  # populates every key (vbucket 0)
                if kind == "divan":
                    load(kind, port, pin, ["-n", "1"])  # and on the keys' own vbuckets
                for server, loader in RUNS:
                    if server != kind:
                        continue
                    for gets, in_flight, conns in LOADS:
                        before = cpu_seconds(pid)
                        got = load(kind, port, pin, [
                            "--no-populate", "-d", str(args.seconds), "-r", str(gets),
                            "-i", str(in_flight), "-c", str(conns)], loader)
                        cpu = cpu_seconds(pid) - before
                        ops = got["ops_per_sec"]
                        per_op = cpu / got["ops"] * 1e6 if got["ops"] else None
                        results.setdefault((kind, loader, gets, in_flight, conns), []).append(
                            (ops, per_op))
                        print("rep %d %-9s %-8s get %d%% %3d in flight %2d conns: %.0f ops/s, "
                              "%s us/op" % (rep + 1, kind, loader, gets, in_flight, conns, ops,
                                            "?" if per_op is None else "%.2f" % per_op),
                              file=sys.stderr)
    return results


def measure_memory(pin):
    """{server: RSS bytes holding a million 100-byte documents}."""
    out = {}
    for kind in SERVERS:
        with started(kind, pin) as (pid, port):
            empty = rss_bytes(pid)
            summary = load(kind, port, pin, ["--keys", str(MILLION), "-n", "1", "-c", "4",
                                             "-i", "64"])
            if summary.get("errors"):
                raise RuntimeError("%s: %d errors while storing" % (kind, summary["errors"]))
            out[kind] = {"empty": empty, "full": rss_bytes(pid)}
            print("%s: RSS %.0f MiB empty, %.0f MiB with %d documents" % (
                kind, empty / 2**20, out[kind]["full"] / 2**20, MILLION), file=sys.stderr)
    return out


def measure_startup(reps=5):
    """Median seconds from exec to divan-server's first answer on its KV port."""
    times = []
    for _ in range(reps):
        port = free_port()
        start = time.perf_counter()
        proc = subprocess.Popen([SERVER, "--kv-port", str(port), "--http-port", "0",
                                 "--query-port", "0", "--ephemeral"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not answered(port):  # polls until the first answer
                if proc.poll() is not None:
                    raise RuntimeError("divan-server exited")
            times.append(time.perf_counter() - start)
        finally:
            proc.terminate()
            proc.wait()
    return median(times)


def measure(args):
    pin = can_pin(args.pin)
    return {"pin": pin, "loads": measure_loads(args, pin), "memory": measure_memory(pin),
            "startup": measure_startup()}


def report(data, args):
    loads = data["loads"]

    def med(kind, loader, load, i):
        runs = loads.get((kind, loader) + load)
        return median([r[i] for r in runs]) if runs and None not in runs else None

    out = ["## Server: divan-server and memcached", "",
           "The same loader for both servers: `divan load --memcached` against memcached %s, "
           "and with `--sasl` (SASL PLAIN and SELECT_BUCKET first) against divan-server "
           "(`--ephemeral`, one worker thread); `libdivan`: `divan load` (the SDKs' client "
           "core, Couchbase handshake) against divan-server. %d keys, %d-byte documents; %d "
           "repetition(s) of %g s, median; server CPU per op = its user + system time over the "
           "run / ops." % (memcached_version(), KEYS, SIZE, args.reps, args.seconds), "",
           "| gets | in flight | conns | divan ops/s | memcached ops/s | divan/memcached "
           "| divan CPU µs/op | memcached CPU µs/op | CPU ratio | libdivan ops/s "
           "| libdivan CPU µs/op |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for load in LOADS:
        d_ops, m_ops = med("divan", "plain", load, 0), med("memcached", "plain", load, 0)
        d_cpu, m_cpu = med("divan", "plain", load, 1), med("memcached", "plain", load, 1)
        l_ops, l_cpu = med("divan", "libdivan", load, 0), med("divan", "libdivan", load, 1)
        out.append("| %d%% | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            load[0], load[1], load[2], fmt(d_ops), fmt(m_ops), fmt(ratio(d_ops, m_ops), True),
            fmt(d_cpu, True), fmt(m_cpu, True), fmt(ratio(d_cpu, m_cpu), True), fmt(l_ops),
            fmt(l_cpu, True)))
    mem = data["memory"]
    out += ["", "## Memory and start-up", "",
            "| server | RSS empty (MiB) | RSS with 1M × 100-byte documents (MiB) | per document (bytes) |",
            "|---|---:|---:|---:|"]
    for kind in SERVERS:
        m = mem[kind]
        out.append("| %s | %.1f | %.1f | %.0f |" % (kind, m["empty"] / 2**20, m["full"] / 2**20,
                                                     (m["full"] - m["empty"]) / MILLION))
    out += ["", "divan/memcached RSS with the documents: %s. divan-server start-up (exec to its "
            "first answer on the KV port, median of 5): %.1f ms." % (
                fmt(ratio(mem["divan"]["full"], mem["memcached"]["full"]), True),
                data["startup"] * 1e3)]
    return "\n".join(out) + "\n"


def memcached_version():
    try:
        r = subprocess.run([MEMCACHED, "-V"], capture_output=True, text=True)
        return r.stdout.strip()
    except OSError:
        return "(not found)"


def main():
    server_bench_main(__doc__, measure, report)


if __name__ == "__main__":
    main()
