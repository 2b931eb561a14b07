"""Throughput of the blocking API (couchbase): divan's SDK against the official one.

Three workloads against one divan-server, 10,000 keys of 100-byte JSON documents:
- sequential: upsert a random key then get it back (2 ops), in a loop, on 1 thread and on 8
  threads sharing one Cluster;
- get_multi: get_multi of 1,000 distinct random keys, in a loop (keys/s and batches/s).

    .venv/bin/python bench/blocking_kv.py            # 3 repetitions of 3 s, the median reported
    .venv/bin/python bench/blocking_kv.py --quick    # smoke run: 1 repetition of 1 s

As bench/asyncio_kv.py: each measurement is a child process on its SDK's interpreter, the server
pinned to CPU 0 and the children to CPU 1 where there are two CPUs.
"""

import argparse
import json
import random
import sys
import threading
import time
from pathlib import Path

from common import (add_run_options, can_pin, check_sdk, divan_server, fmt, median, ratio,
                    run_child, run_main, standalone)

SCRIPT = str(Path(__file__).resolve())
KINDS = ("ours", "official")
WORKLOADS = (("sequential", 1), ("sequential", 8), ("get_multi", 1))
NKEYS = 10_000
BATCH = 1_000
DOC = {"pad": "x" * (100 - len(json.dumps({"pad": ""})))}  # 100 bytes of JSON


# ---------------------------------------------------------------------------------------------
# Worker: one measurement in this process, printed as one JSON line.

def worker(args):
    check_sdk(args.worker)
    import couchbase.auth
    import couchbase.cluster

    cluster = couchbase.cluster.Cluster(args.connstr, couchbase.cluster.ClusterOptions(
        couchbase.auth.PasswordAuthenticator("user", "password")))
    coll = cluster.bucket("default").default_collection()
    keys = ["bench-%05d" % i for i in range(NKEYS)]
    for i in range(0, NKEYS, BATCH):
        coll.upsert_multi({k: DOC for k in keys[i:i + BATCH]})

    def sequential():
        key = random.choice(keys)
        coll.upsert(key, DOC)
        coll.get(key).content_as[dict]
        return 2

    def get_multi():
        got = coll.get_multi(random.sample(keys, BATCH))
        if not got.all_ok:
            raise RuntimeError("get_multi failed: %r" % list(got.exceptions.values())[:1])
        return BATCH

    op = sequential if args.workload == "sequential" else get_multi
    count, counting, running, errors = [0] * args.threads, False, True, []

    def loop(t):
        try:
            while running:
                n = op()
                if counting:
                    count[t] += n
        except Exception as e:  # reported by the driver
            errors.append(e)

    threads = [threading.Thread(target=loop, args=(t,)) for t in range(args.threads)]
    for t in threads:
        t.start()
    time.sleep(args.warmup)  # the measurement's window, not a synchronisation
    counting, start, cpu = True, time.perf_counter(), time.process_time()
    time.sleep(args.seconds)
    counting = False
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    running = False
    for t in threads:
        t.join()
    cluster.close()
    if errors:
        sys.exit("worker failed: %r" % errors[0])
    print(json.dumps({"ops": sum(count) / elapsed,
                      "cpu_ops": sum(count) / cpu if cpu > 0 else None}))


# ---------------------------------------------------------------------------------------------
# Driver

def measure(args):
    """{(kind, workload, threads): [ops/s per repetition, None if it failed]}, and the same
    under ("cpu", kind, workload, threads) for ops per client CPU-second."""
    pin = can_pin(args.pin)
    results = {}
    with divan_server(pin) as server:
        for rep in range(args.reps):
            for workload, threads in WORKLOADS:
                for kind in KINDS:
                    got = run_child(kind, SCRIPT, [
                        "--workload", workload, "--threads", str(threads),
                        "--connstr", server.connstr, "--seconds", str(args.seconds),
                        "--warmup", str(args.warmup)], pin, args.seconds + args.warmup + 120)
                    ops = got["ops"] if got else None
                    results.setdefault((kind, workload, threads), []).append(ops)
                    results.setdefault(("cpu", kind, workload, threads), []).append(
                        got["cpu_ops"] if got else None)
                    print("rep %d %-8s %-10s %d thread(s): %s" % (
                        rep + 1, kind, workload, threads,
                        "error" if ops is None else "%.0f ops/s" % ops), file=sys.stderr)
            if not server.running():
                raise RuntimeError("divan-server died")
    return results


def report(results, args):
    out = ["## Blocking client (couchbase.cluster.Cluster)", "",
           "%d repetition(s) of %g s after %g s of warm-up, median; %d keys, %d-byte JSON "
           "documents; sequential: one upsert + one get = 2 ops; get_multi: %d keys per call, "
           "each key one op." % (args.reps, args.seconds, args.warmup, NKEYS, len(json.dumps(DOC)),
                                 BATCH) + " /CPU-s: operations per second of the client "
           "process's CPU time (all its threads).", "",
           "| workload | threads | ours ops/s | official ops/s | ours/official | ours ops/CPU-s "
           "| official ops/CPU-s | ours/official CPU |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for workload, threads in WORKLOADS:
        ours, official = (median(results.get((k, workload, threads))) for k in KINDS)
        c_ours, c_off = (median(results.get(("cpu", k, workload, threads))) for k in KINDS)
        out.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
            workload, threads, fmt(ours), fmt(official), fmt(ratio(ours, official), True),
            fmt(c_ours), fmt(c_off), fmt(ratio(c_ours, c_off), True)))
    return "\n".join(out) + "\n"


def driver(args):
    standalone("divan blocking KV benchmark", measure, report, args)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_options(p)
    # worker mode (run by the driver)
    p.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    p.add_argument("--workload", choices=("sequential", "get_multi"), help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    run_main(p, worker, driver)


if __name__ == "__main__":
    main()
