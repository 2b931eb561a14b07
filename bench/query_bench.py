"""Query service throughput: queries/s, client and server CPU per query.

One divan-server with N documents {"i": i, "g": i % 100} (100,000 by default), a primary index
and an index on `i`. Statements:
- point: `USE KEYS $1` of one random document;
- indexed equality: `WHERE i = $1` (one row, through the index);
- 1,000 rows: `WHERE i >= $1 AND i < $1 + 1000` (an index range, all rows fetched);
- full scan: `COUNT(*) ... WHERE g = 7` over every document (no index on g).

Clients: plain HTTP (one keep-alive connection from this process, as curl would), and each SDK's
`cluster.query` in a child on its own interpreter (divan's, the official one) on the blocking
front end (one thread) and on asyncio (16 concurrent tasks). A client whose SDK has no
`cluster.query` shows `n/a`. `cpu/q` columns are CPU time per query from /proc (the client's
own process; the server's), which the noise of a shared machine does not distort as much as
queries/s.

    .venv/bin/python bench/query_bench.py --quick      # smoke run
    .venv/bin/python bench/query_bench.py --out q.md   # 3 repetitions of 3 s, median
"""

import argparse
import base64
import http.client
import json
import os
import random
import sys
import time
from pathlib import Path

from common import (add_run_options, can_pin, check_sdk, divan_server, fmt, median, ratio,
                    run_child, run_main, standalone)

SCRIPT = str(Path(__file__).resolve())
KINDS = ("ours", "official")
FRONTS = ("blocking", "asyncio")
TASKS = 16
STATEMENTS = {
    "point": "SELECT d.* FROM `default` d USE KEYS $1",
    "indexed equality": "SELECT d.* FROM `default` d WHERE i = $1",
    "1,000 rows": "SELECT d.* FROM `default` d WHERE i >= $1 AND i < $1 + 1000",
    "full scan": "SELECT COUNT(*) AS n FROM `default` WHERE g = 7",
}
ROWS = {"point": 1, "indexed equality": 1, "1,000 rows": 1000, "full scan": 1}
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def args_for(name, rnd, docs):
    if name == "point":
        return ["d%d" % rnd.randrange(docs)]
    if name == "indexed equality":
        return [rnd.randrange(docs)]
    if name == "1,000 rows":
        return [rnd.randrange(docs - 1000)]
    return None


def timed(run, seconds, warmup, server_pid):
    """{qps, client CPU us/query, server CPU us/query} of run() (which does n queries and
    returns n) repeated for `seconds` after `warmup`."""
    t_end = time.perf_counter() + warmup
    while time.perf_counter() < t_end:
        run()
    n = 0
    c0, s0, t0 = time.process_time(), cpu_seconds(server_pid), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n += run()
    elapsed = time.perf_counter() - t0
    client, server = time.process_time() - c0, cpu_seconds(server_pid) - s0
    return {"qps": n / elapsed, "client_us": client / n * 1e6, "server_us": server / n * 1e6}


# ---------------------------------------------------------------------------------------------
# Worker: one SDK, one front end, one statement, printed as one JSON line.

def worker(args):
    check_sdk(args.worker)
    from datetime import timedelta

    from couchbase.auth import PasswordAuthenticator
    from couchbase.options import ClusterOptions
    try:
        from couchbase.options import QueryOptions
    except ImportError:  # an SDK without query
        print(json.dumps({"na": True}))
        return

    rnd = random.Random(1)
    stmt = STATEMENTS[args.statement]
    opts = ClusterOptions(PasswordAuthenticator("user", "password"))

    def options():
        v = args_for(args.statement, rnd, args.docs)
        return QueryOptions(positional_parameters=v) if v is not None else QueryOptions()

    if args.front == "blocking":
        from couchbase.cluster import Cluster
        cluster = Cluster(args.connstr, opts)
        if not hasattr(cluster, "query"):
            print(json.dumps({"na": True}))
            return
        cluster.wait_until_ready(timedelta(seconds=10))

        def run():
            rows = list(cluster.query(stmt, options()))
            assert len(rows) == ROWS[args.statement], rows
            return 1
        out = timed(run, args.seconds, args.warmup, args.server_pid)
        cluster.close()
    else:
        import asyncio

        from acouchbase.cluster import Cluster

        async def main():
            cluster = Cluster(args.connstr, opts)
            if not hasattr(cluster, "query"):
                return {"na": True}
            await cluster.on_connect()

            async def one():
                n = 0
                async for _ in cluster.query(stmt, options()):
                    n += 1
                assert n == ROWS[args.statement], n

            async def run_async(seconds, warmup):
                loop = asyncio.get_running_loop()
                t_end = loop.time() + warmup
                while loop.time() < t_end:
                    await asyncio.gather(*(one() for _ in range(TASKS)))
                n = 0
                c0, s0, t0 = time.process_time(), cpu_seconds(args.server_pid), time.perf_counter()
                while time.perf_counter() - t0 < seconds:
                    await asyncio.gather(*(one() for _ in range(TASKS)))
                    n += TASKS
                elapsed = time.perf_counter() - t0
                return {"qps": n / elapsed,
                        "client_us": (time.process_time() - c0) / n * 1e6,
                        "server_us": (cpu_seconds(args.server_pid) - s0) / n * 1e6}
            try:
                return await run_async(args.seconds, args.warmup)
            finally:
                await cluster.close()
        out = asyncio.run(main())
    print(json.dumps(out))


# ---------------------------------------------------------------------------------------------
# Driver: the server and its documents, plain HTTP here, the SDKs in children, the table.

class Http:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.auth = "Basic " + base64.b64encode(b"user:password").decode()

    def query(self, statement, args=None):
        body = {"statement": statement}
        if args is not None:
            body["args"] = args
        self.conn.request("POST", "/query/service", json.dumps(body),
                          {"content-type": "application/json", "authorization": self.auth})
        r = json.loads(self.conn.getresponse().read())
        if r["status"] != "success":
            raise RuntimeError(r)
        return r["results"]


def load(h, docs):
    h.query("INSERT INTO `default` (KEY k, VALUE v) SELECT 'd' || TOSTRING(i) AS k, "
            "{'i': i, 'g': i %% 100} AS v FROM ARRAY_RANGE(0, %d) AS i" % docs)
    h.query("CREATE PRIMARY INDEX ON `default`")
    h.query("CREATE INDEX ix_i ON `default`(i)")
    assert len(h.query(STATEMENTS["1,000 rows"], [5])) == 1000


def measure(args):
    """{(client, front, statement): [result dict per repetition, None if it failed]}."""
    pin = can_pin(args.pin)
    results = {}
    with divan_server(pin) as server:
        h = Http(server.query_port)
        load(h, args.docs)
        rnd = random.Random(2)
        for rep in range(args.reps):
            for name, stmt in STATEMENTS.items():
                def run(stmt=stmt, name=name):
                    rows = h.query(stmt, args_for(name, rnd, args.docs))
                    assert len(rows) == ROWS[name]
                    return 1
                got = timed(run, args.seconds, args.warmup, server.pid)
                results.setdefault(("HTTP", "-", name), []).append(got)
                print("rep %d HTTP %s: %.0f q/s" % (rep + 1, name, got["qps"]), file=sys.stderr)
                if name == "full scan":
                    continue  # the server's cost alone; the SDKs add nothing to see there
                for front in FRONTS:
                    for kind in KINDS:
                        got = run_child(kind, SCRIPT, [
                            "--front", front, "--statement", name, "--docs", str(args.docs),
                            "--connstr", server.connstr, "--server-pid", str(server.pid),
                            "--seconds", str(args.seconds), "--warmup", str(args.warmup)],
                            pin, args.seconds + args.warmup + 120)
                        results.setdefault((kind, front, name), []).append(got)
                        print("rep %d %s %s %s: %s" % (
                            rep + 1, kind, front, name,
                            "error" if not got else got.get("na") and "n/a"
                            or "%.0f q/s" % got["qps"]), file=sys.stderr)
            if not server.running():
                raise RuntimeError("divan-server died")
    return results


def med(runs, field):
    if not runs or any(r is None or r.get("na") for r in runs):
        return None
    return median([r[field] for r in runs])


def report(results, args):
    out = ["## Query service", "",
           "%d repetition(s) of %g s after %g s of warm-up, median; %d documents; blocking: one "
           "thread, asyncio: %d concurrent queries; cpu/q: CPU time per query (us); n/a: the SDK "
           "has no cluster.query." % (args.reps, args.seconds, args.warmup, args.docs, TASKS), "",
           "| statement | client | front end | queries/s | client cpu/q | server cpu/q "
           "| queries per client CPU-s | ours/official (q/s) | ours/official (per CPU-s) |",
           "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for name in STATEMENTS:
        rows = [("HTTP", "-")] + ([(k, f) for f in FRONTS for k in KINDS]
                                  if name != "full scan" else [])
        for kind, front in rows:
            runs = results.get((kind, front, name))
            qps, cu, su = (med(runs, f) for f in ("qps", "client_us", "server_us"))
            per_cpu = 1e6 / cu if cu else None
            r_q = r_c = ""
            if kind == "ours":
                off = results.get(("official", front, name))
                o_qps, o_cu = med(off, "qps"), med(off, "client_us")
                r_q = fmt(ratio(qps, o_qps), True)
                r_c = fmt(ratio(per_cpu, 1e6 / o_cu if o_cu else None), True)
            na = bool(runs) and all(r is not None and r.get("na") for r in runs)
            cell = (lambda x: "n/a") if na else fmt
            if na and r_q:
                r_q = r_c = "n/a"
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                name, kind, front, cell(qps), cell(cu), cell(su), cell(per_cpu), r_q, r_c))
    return "\n".join(out) + "\n"


def driver(args):
    standalone("divan query benchmark", measure, report, args)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_options(p)
    p.add_argument("--docs", type=int, default=100_000, help="documents loaded (100,000)")
    p.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    p.add_argument("--front", choices=FRONTS, default="blocking", help=argparse.SUPPRESS)
    p.add_argument("--statement", choices=list(STATEMENTS), help=argparse.SUPPRESS)
    p.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    run_main(p, worker, driver)


if __name__ == "__main__":
    main()
