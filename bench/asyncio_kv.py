"""Throughput of the asyncio API (acouchbase): divan's SDK against the official one.

Both SDKs run the asyncio example's loop (upsert a document, then get it back) against one
divan-server, on the standard asyncio loop and on uvloop, with 1, 16, 64 and 256 concurrent tasks.
A third column, the floor, is the same loop with each operation replaced by a future the event loop
resolves on its next turn: what the loop alone costs, so ours/floor is how close the SDK gets to it.

    .venv/bin/python bench/asyncio_kv.py            # 3 repetitions of 3 s, the median reported
    .venv/bin/python bench/asyncio_kv.py --quick    # smoke run: 1 repetition of 1 s

The driver starts divan-server and runs each measurement in a child process (this script with
--worker) on the right interpreter: .venv + python/ + build/python for ours, .venv-official for the
official SDK, which never sees divan's packages. One upsert and one get count as two operations.
"""

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

from common import (add_run_options, can_pin, check_sdk, divan_server, fmt, median, ratio,
                    run_child, run_main, standalone)

SCRIPT = str(Path(__file__).resolve())
LOOPS = ("asyncio", "uvloop")
TASKS = (1, 16, 64, 256)
KINDS = ("floor", "ours", "official")
NKEYS = 10_000
DOC = {"pad": "x" * (100 - len(json.dumps({"pad": ""})))}  # 100 bytes of JSON


# ---------------------------------------------------------------------------------------------
# Worker: one measurement in this process, printed as one JSON line.

async def run_tasks(op, ntasks, warmup, seconds):
    """Runs ntasks tasks that each await op() in a loop; returns (ops/s, ops per second of this
    process's CPU time, all its threads) counted after the warm-up. op() returns how many
    operations it completed."""
    count, counting, running = 0, False, True

    async def task():
        nonlocal count
        while running:
            n = await op()
            if counting:
                count += n

    tasks = [asyncio.create_task(task()) for _ in range(ntasks)]
    await asyncio.sleep(warmup)
    counting, start, cpu = True, time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    counting, running = False, False
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await asyncio.gather(*tasks)
    return count / elapsed, count / cpu if cpu > 0 else None


async def floor_main(args):
    loop = asyncio.get_running_loop()

    async def op():  # two "operations", each a future resolved on the loop's next turn
        for _ in range(2):
            fut = loop.create_future()
            loop.call_soon(fut.set_result, None)
            await fut
        return 2

    return await run_tasks(op, args.tasks, args.warmup, args.seconds)


async def sdk_main(args):
    import acouchbase.cluster
    import couchbase.auth
    import couchbase.cluster

    cluster = acouchbase.cluster.Cluster(args.connstr, couchbase.cluster.ClusterOptions(
        couchbase.auth.PasswordAuthenticator("user", "password")))
    bucket = cluster.bucket("default")
    await bucket.on_connect()
    collection = bucket.default_collection()
    keys = ["bench-%05d" % i for i in range(NKEYS)]

    async def preload(part):
        for key in part:
            await collection.upsert(key, DOC)

    await asyncio.gather(*(preload(keys[i::64]) for i in range(64)))

    async def op():  # the example's loop on a random key
        key = random.choice(keys)
        await collection.upsert(key, DOC)
        result = await collection.get(key)
        result.content_as[dict]
        return 2

    try:
        return await run_tasks(op, args.tasks, args.warmup, args.seconds)
    finally:
        await cluster.close()


def worker(args):
    if args.worker != "floor":  # the interpreter must hold the SDK the driver asked for
        check_sdk(args.worker)
    if args.loop == "uvloop":
        import uvloop
        factory = uvloop.new_event_loop
    else:
        factory = asyncio.new_event_loop
    main = floor_main if args.worker == "floor" else sdk_main
    with asyncio.Runner(loop_factory=factory) as runner:
        ops, cpu_ops = runner.run(main(args))
    print(json.dumps({"ops": ops, "cpu_ops": cpu_ops}))


# ---------------------------------------------------------------------------------------------
# Driver: the server, the children, the table.

def measure_one(kind, loop, tasks, connstr, args, pin):
    """(ops/s, ops per client CPU-second) of one child, (None, None) if it failed."""
    got = run_child(kind, SCRIPT, ["--loop", loop, "--tasks", str(tasks), "--connstr", connstr,
                                   "--seconds", str(args.seconds), "--warmup", str(args.warmup)],
                    pin, args.seconds + args.warmup + 120)
    return (got["ops"], got["cpu_ops"]) if got else (None, None)


def measure(args):
    """{(kind, loop, tasks): [ops/s per repetition, None if it failed]}, and the same under
    ("cpu", kind, loop, tasks) for ops per client CPU-second."""
    pin = can_pin(args.pin)
    results = {}
    with divan_server(pin) as server:
        for rep in range(args.reps):  # repetitions interleaved across configurations
            for loop in LOOPS:
                for tasks in TASKS:
                    for kind in KINDS:
                        ops, cpu_ops = measure_one(kind, loop, tasks, server.connstr, args, pin)
                        results.setdefault((kind, loop, tasks), []).append(ops)
                        results.setdefault(("cpu", kind, loop, tasks), []).append(cpu_ops)
                        print("rep %d %-8s %-7s %3d tasks: %s" % (rep + 1, kind, loop, tasks,
                              "error" if ops is None else "%.0f ops/s" % ops), file=sys.stderr)
            if not server.running():
                raise RuntimeError("divan-server died")
    return results


def report(results, args):
    out = ["## asyncio client (acouchbase)", "",
           "%d repetition(s) of %g s after %g s of warm-up, median; %d keys, %d-byte JSON "
           "documents; one upsert + one get = 2 ops; floor: the same loop with each operation a "
           "future resolved by call_soon. /CPU-s: operations per second of the client "
           "process's CPU time (all its threads), which the noise of a shared machine distorts "
           "least; the ratios marked CPU compare those." % (
               args.reps, args.seconds, args.warmup, NKEYS, len(json.dumps(DOC))), "",
           "| loop | tasks | ours ops/s | official ops/s | ours/official | floor ops/s "
           "| ours/floor | ours ops/CPU-s | official ops/CPU-s | ours/official CPU "
           "| ours/floor CPU |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for loop in LOOPS:
        for tasks in TASKS:
            ours, official, floor = (median(results.get((k, loop, tasks)))
                                     for k in ("ours", "official", "floor"))
            c_ours, c_off, c_floor = (median(results.get(("cpu", k, loop, tasks)))
                                      for k in ("ours", "official", "floor"))
            out.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                loop, tasks, fmt(ours), fmt(official), fmt(ratio(ours, official), True),
                fmt(floor), fmt(ratio(ours, floor), True), fmt(c_ours), fmt(c_off),
                fmt(ratio(c_ours, c_off), True), fmt(ratio(c_ours, c_floor), True)))
    return "\n".join(out) + "\n"


def driver(args):
    standalone("divan asyncio KV benchmark", measure, report, args)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_options(p)
    # worker mode (run by the driver)
    p.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    p.add_argument("--loop", choices=LOOPS, default="asyncio", help=argparse.SUPPRESS)
    p.add_argument("--tasks", type=int, default=1, help=argparse.SUPPRESS)
    run_main(p, worker, driver)


if __name__ == "__main__":
    main()
