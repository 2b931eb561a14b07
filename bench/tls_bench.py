"""TLS: the asyncio example's loop (asyncio_kv.py's worker) over couchbases:// and over plain
TCP, on one divan-server that serves both, for divan's SDK and the official one; and the time of
a TLS handshake with the server's KV port.

    .venv/bin/python bench/tls_bench.py            # 3 repetitions of 3 s, the median reported
    .venv/bin/python bench/tls_bench.py --quick    # smoke run: 1 repetition of 1 s

The certificates are made for the run (tests/python/pki.py: a CA, a server certificate for
127.0.0.1, RSA 2048); the clients trust the CA through the connection string's
trust_store_path, which both SDKs read.
"""

import argparse
import shutil
import socket
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncio_kv
from common import add_run_options, can_pin, divan_server, fmt, median, ratio, run_main, standalone

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "python"))
import pki  # noqa: E402

KINDS = ("ours", "official")
TASKS = (1, 64)
HANDSHAKES = 50


def handshake_ms(port, ca):
    """The median time of a TCP connect plus TLS handshake to port, and of a TCP connect alone,
    in ms (HANDSHAKES each)."""
    ctx = ssl.create_default_context(cafile=ca)
    tls, tcp = [], []
    for _ in range(HANDSHAKES):
        t = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port)) as s:
            tcp.append(time.perf_counter() - t)
            with ctx.wrap_socket(s, server_hostname="127.0.0.1"):
                tls.append(time.perf_counter() - t)
    return statistics.median(tls) * 1000, statistics.median(tcp) * 1000


def measure(args):
    """{(kind, transport, tasks): [ops/s per repetition]}, the same under ("cpu", ...) for ops
    per client CPU-second, and "handshake": (TLS ms, TCP ms)."""
    pin = can_pin(args.pin)
    results = {}
    d = tempfile.mkdtemp(prefix="divan-bench-pki-")
    try:
        certs = pki.make(d)
        with divan_server(pin, ["--ephemeral", *pki.server_args(certs)]) as server:
            connstrs = {"plain": server.connstr,
                        "tls": server.tls_connstr + "?trust_store_path=" + certs["ca"]}
            for rep in range(args.reps):
                for tasks in TASKS:
                    for kind in KINDS:
                        for transport, connstr in connstrs.items():
                            ops, cpu = asyncio_kv.measure_one(kind, "asyncio", tasks, connstr,
                                                              args, pin)
                            results.setdefault((kind, transport, tasks), []).append(ops)
                            results.setdefault(("cpu", kind, transport, tasks), []).append(cpu)
                            print("rep %d %-8s %-5s %3d tasks: %s" % (
                                rep + 1, kind, transport, tasks,
                                "error" if ops is None else "%.0f ops/s" % ops), file=sys.stderr)
            results["handshake"] = handshake_ms(server.tls_kv_port, certs["ca"])
            if not server.running():
                raise RuntimeError("divan-server died")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return results


def report(results, args):
    tls_ms, tcp_ms = results["handshake"]
    out = ["## TLS (couchbases://)", "",
           "The asyncio example's loop (upsert + get = 2 ops, %d-byte documents) on the standard "
           "loop, %d repetition(s) of %g s, median, over plain TCP and over TLS to the same "
           "divan-server (RSA 2048, TLS 1.3). A TLS connect + handshake to the KV port takes "
           "%.2f ms (TCP connect alone: %.2f ms), median of %d." % (
               len(asyncio_kv.json.dumps(asyncio_kv.DOC)), args.reps, args.seconds, tls_ms,
               tcp_ms, HANDSHAKES), "",
           "| SDK | tasks | plain ops/s | TLS ops/s | TLS/plain | plain ops/CPU-s "
           "| TLS ops/CPU-s | TLS/plain CPU |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in KINDS:
        for tasks in TASKS:
            plain, tls = (median(results.get((kind, t, tasks))) for t in ("plain", "tls"))
            cp, ct = (median(results.get(("cpu", kind, t, tasks))) for t in ("plain", "tls"))
            out.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                kind, tasks, fmt(plain), fmt(tls), fmt(ratio(tls, plain), True), fmt(cp),
                fmt(ct), fmt(ratio(ct, cp), True)))
    for tasks in TASKS:
        o, f = (median(results.get((k, "tls", tasks))) for k in KINDS)
        co, cf = (median(results.get(("cpu", k, "tls", tasks))) for k in KINDS)
        out.append("")
        out.append("Over TLS at %d task(s), ours/official: %s ops/s, %s CPU-normalised." % (
            tasks, fmt(ratio(o, f), True), fmt(ratio(co, cf), True)))
    return "\n".join(out) + "\n"


def driver(args):
    standalone("divan TLS benchmark", measure, report, args)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_options(p)
    p.add_argument("--worker", help=argparse.SUPPRESS)  # the workers are asyncio_kv.py's
    run_main(p, None, driver)


if __name__ == "__main__":
    main()
