"""KV range scans: documents/s of a full scan (``collection.scan(RangeScan())``) of 100,000
documents, divan's SDK and the official one, blocking and asyncio.

One divan-server with N documents {"i": i, "g": i % 100, "pad": 100 bytes} (loaded over the
query service). Each repetition is one full scan in a child on its own interpreter, with the
official defaults (50 items, 15,000 bytes per batch, concurrency 1) and with concurrency 4 and
batches of 500; every document's content is decoded (``content_as[dict]``). docs/s is
documents over the scan's wall time; cpu/doc the client's and the server's CPU time per
document from /proc. The official acouchbase scan starts its core's scan holding the GIL and can
deadlock (tests/python/scan/conftest.py): a child that does not finish in 180 s counts as hung,
and the median is over the repetitions that finished.

    .venv/bin/python bench/scan_bench.py --quick      # smoke run
    .venv/bin/python bench/scan_bench.py --out s.md   # 3 repetitions, median
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from common import (add_run_options, can_pin, check_sdk, divan_server, fmt, median, ratio,
                    run_child, run_main, standalone)
from query_bench import Http, cpu_seconds

SCRIPT = str(Path(__file__).resolve())
KINDS = ("ours", "official")
FRONTS = ("blocking", "asyncio")
SHAPES = {"defaults": {}, "concurrency 4, 500/batch": {"concurrency": 4,
                                                        "batch_item_limit": 500}}


def worker(args):
    check_sdk(args.worker)
    from couchbase.auth import PasswordAuthenticator
    from couchbase.kv_range_scan import RangeScan
    from couchbase.options import ClusterOptions, ScanOptions

    opts = ClusterOptions(PasswordAuthenticator("user", "password"))
    scan_opts = ScanOptions(**SHAPES[args.shape])

    def measured(count):
        c0, s0, t0 = time.process_time(), cpu_seconds(args.server_pid), time.perf_counter()
        n = count()
        elapsed = time.perf_counter() - t0
        assert n == args.docs, n
        return {"dps": n / elapsed, "client_us": (time.process_time() - c0) / n * 1e6,
                "server_us": (cpu_seconds(args.server_pid) - s0) / n * 1e6}

    if args.front == "blocking":
        from couchbase.cluster import Cluster
        cluster = Cluster(args.connstr, opts)
        coll = cluster.bucket("default").default_collection()
        coll.exists("warm-up")

        def count():
            n = 0
            for r in coll.scan(RangeScan(), scan_opts):
                r.content_as[dict]
                n += 1
            return n
        out = measured(count)
        cluster.close()
    else:
        import asyncio

        from acouchbase.cluster import Cluster

        async def main():
            cluster = Cluster(args.connstr, opts)
            await cluster.on_connect()
            bucket = cluster.bucket("default")
            await bucket.on_connect()
            coll = bucket.default_collection()
            t = {}

            async def count():
                n = 0
                async for r in coll.scan(RangeScan(), scan_opts):
                    r.content_as[dict]
                    n += 1
                return n
            c0, s0, t0 = time.process_time(), cpu_seconds(args.server_pid), time.perf_counter()
            n = await count()
            t["elapsed"] = time.perf_counter() - t0
            assert n == args.docs, n
            await cluster.close()
            return {"dps": n / t["elapsed"], "client_us": (time.process_time() - c0) / n * 1e6,
                    "server_us": (cpu_seconds(args.server_pid) - s0) / n * 1e6}
        out = asyncio.run(main())
    print(json.dumps(out))


def load(h, docs):
    h.query("INSERT INTO `default` (KEY k, VALUE v) SELECT 'd' || TOSTRING(i) AS k, "
            "{'i': i, 'g': i %% 100, 'pad': REPEAT('x', 100)} AS v "
            "FROM ARRAY_RANGE(0, %d) AS i" % docs)  # each worker checks it scans them all


def measure(args):
    """{(client, front, shape): [result dict per repetition, None if it failed]}."""
    pin = can_pin(args.pin)
    results = {}
    with divan_server(pin) as server:
        load(Http(server.query_port), args.docs)
        for rep in range(args.reps):
            for shape in SHAPES:
                for front in FRONTS:
                    for kind in KINDS:
                        got = run_child(kind, SCRIPT, [
                            "--front", front, "--shape", shape, "--docs", str(args.docs),
                            "--connstr", server.connstr, "--server-pid", str(server.pid)],
                            pin, 180)
                        results.setdefault((kind, front, shape), []).append(got)
                        print("rep %d %s %s %s: %s" % (
                            rep + 1, kind, front, shape,
                            "error" if not got else "%.0f docs/s" % got["dps"]), file=sys.stderr)
            if not server.running():
                raise RuntimeError("divan-server died")
    return results


def med(runs, field):
    """The median over the repetitions that finished (the official acouchbase scan can hang:
    see the module's docstring), None if none did."""
    done = [r[field] for r in runs or [] if r is not None]
    return median(done) if done else None


def failed(runs):
    n = sum(1 for r in runs or [] if r is None)
    return " (%d of %d hung or failed)" % (n, len(runs)) if n else ""


def report(results, args):
    out = ["## KV range scan", "",
           "%d repetition(s) of a full scan of %d documents (each decoded), median; cpu/doc: CPU "
           "time per document (us), the client's and the server's." % (args.reps, args.docs), "",
           "| options | client | front end | docs/s | client cpu/doc | server cpu/doc "
           "| ours/official (docs/s) |",
           "|---|---|---|---:|---:|---:|---:|"]
    for shape in SHAPES:
        for front in FRONTS:
            for kind in KINDS:
                runs = results.get((kind, front, shape))
                dps, cu, su = (med(runs, f) for f in ("dps", "client_us", "server_us"))
                r = ""
                if kind == "ours":
                    r = fmt(ratio(dps, med(results.get(("official", front, shape)), "dps")),
                            True)
                cpu = (lambda x: "error" if x is None else "%.1f" % x)
                out.append("| %s | %s | %s | %s%s | %s | %s | %s |" % (
                    shape, kind, front, fmt(dps), failed(runs), cpu(cu), cpu(su), r))
    return "\n".join(out) + "\n"


def driver(args):
    standalone("divan range-scan benchmark", measure, report, args)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_options(p)
    p.add_argument("--docs", type=int, default=100_000, help="documents loaded (100,000)")
    p.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    p.add_argument("--front", choices=FRONTS, default="blocking", help=argparse.SUPPRESS)
    p.add_argument("--shape", choices=list(SHAPES), help=argparse.SUPPRESS)
    p.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    run_main(p, worker, driver)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
