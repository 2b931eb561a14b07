"""divan-server's persistence: what it costs plain writes, what durable writes reach, restart.

- plain writes (100% upserts, 16 in flight, 1 connection, 100-byte documents on 10,000 keys)
  on a server with a data directory and on an --ephemeral one: ops/s and their ratio;
- persistToMajority writes at 1, 16 and 256 in flight (1 connection): ops/s, p50 and p99
  latency (each is acknowledged once its commit is on disk);
- restart: a server holding 1,000,000 documents of 100 bytes is stopped (SIGTERM) and started
  again on its directory: the time from exec to its first answer on the KV port, and its RSS.

    .venv/bin/python bench/persist_bench.py --quick   # 1 repetition of 2 s
    .venv/bin/python bench/persist_bench.py           # 3 repetitions of 10 s
"""

import os
import subprocess
import sys
import tempfile
import time

from common import can_pin, divan_server, fmt, median, ratio, server_bench_main
from server_load import MILLION, SERVER, answered, free_port, load, rss_bytes

IN_FLIGHT = (1, 16, 256)


def plain(pin, seconds, args):
    with divan_server(pin, args) as server:
        load("divan", server.kv_port, pin, ["-n", "1"])
        got = load("divan", server.kv_port, pin, ["--no-populate", "-d", str(seconds), "-r", "0",
                                                   "-i", "16"])
        return got["ops_per_sec"]


def durable(pin, seconds, in_flight):
    with divan_server(pin) as server:
        got = load("divan", server.kv_port, pin, [
            "--no-populate", "-d", str(seconds), "-r", "0", "-i", str(in_flight),
            "--durability", "persistToMajority"])
        if got.get("errors"):
            raise RuntimeError("%d durable writes failed" % got["errors"])
        lat = got["latency_us"]
        return got["ops_per_sec"], lat["p50"], lat["p99"]


def restart(pin):
    """(seconds from exec to the first answer, RSS bytes) for a million documents."""
    with tempfile.TemporaryDirectory(prefix="divan-bench-") as d:
        data = os.path.join(d, "data")
        with divan_server(pin, ["--data-dir", data]) as server:
            summary = load("divan", server.kv_port, pin, ["--keys", str(MILLION), "-n", "1",
                                                          "-c", "4", "-i", "64"])
            if summary.get("errors"):
                raise RuntimeError("%d errors while storing" % summary["errors"])
        port = free_port()
        argv = [SERVER, "--kv-port", str(port), "--http-port", "0", "--query-port", "0",
                "--data-dir", data]
        if pin:
            argv = ["taskset", "-c", "0"] + argv + ["--threads", "1"]
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not answered(port):  # polls until the first answer
                if proc.poll() is not None:
                    raise RuntimeError("divan-server exited")
            took = time.perf_counter() - start
            return took, rss_bytes(proc.pid)
        finally:
            proc.terminate()
            proc.wait()


def measure(args):
    pin = can_pin(args.pin)
    out = {"plain": {"disk": [], "memory": []}, "durable": {n: [] for n in IN_FLIGHT}}
    for rep in range(args.reps):
        out["plain"]["disk"].append(plain(pin, args.seconds, []))
        out["plain"]["memory"].append(plain(pin, args.seconds, ["--ephemeral"]))
        for n in IN_FLIGHT:
            out["durable"][n].append(durable(pin, args.seconds, n))
        print("rep %d: plain %.0f ops/s on disk, %.0f in memory; durable %s" % (
            rep + 1, out["plain"]["disk"][-1], out["plain"]["memory"][-1],
            ", ".join("%d in flight %.0f ops/s" % (n, out["durable"][n][-1][0])
                      for n in IN_FLIGHT)), file=sys.stderr)
    out["restart"] = restart(pin)
    print("restart with %d documents: %.2f s, RSS %.0f MiB" % (
        MILLION, out["restart"][0], out["restart"][1] / 2**20), file=sys.stderr)
    return out


def report(data, args):
    disk, mem = median(data["plain"]["disk"]), median(data["plain"]["memory"])
    out = ["## Persistence", "",
           "divan-server with a data directory (LMDB, commit window 100 ms) and with "
           "--ephemeral; `divan load`, 1 connection, 100-byte documents; %d repetition(s) of "
           "%g s, median." % (args.reps, args.seconds), "",
           "| plain writes, 16 in flight | ops/s |", "|---|---:|",
           "| on disk | %s |" % fmt(disk), "| in memory (--ephemeral) | %s |" % fmt(mem),
           "| on disk / in memory | %s |" % fmt(ratio(disk, mem), True), "",
           "| persistToMajority, in flight | ops/s | p50 µs | p99 µs |", "|---:|---:|---:|---:|"]
    for n in IN_FLIGHT:
        runs = data["durable"][n]
        out.append("| %d | %s | %s | %s |" % (n, fmt(median([r[0] for r in runs])),
                                               fmt(median([r[1] for r in runs])),
                                               fmt(median([r[2] for r in runs]))))
    took, rss = data["restart"]
    out += ["", "Restart with %d documents of 100 bytes (exec to the first answer): %.2f s, "
            "RSS then %.0f MiB (the store, and LMDB's pages read while loading)." % (
                MILLION, took, rss / 2**20)]
    return "\n".join(out) + "\n"


def main():
    server_bench_main(__doc__, measure, report)


if __name__ == "__main__":
    main()
