"""``make bench``: every comparison in one run, with one report and its plots.

    .venv/bin/python bench/run.py            # quick (BENCH=quick): 3 short repetitions, ~3 min
    .venv/bin/python bench/run.py --full     # BENCH=full: 3 repetitions of long runs, ~15 min

1. asyncio client (asyncio_kv.py): ours, the official acouchbase and the loop's floor;
2. blocking client (blocking_kv.py): sequential operations and get_multi, ours and official;
3. server (server_load.py): divan-server and memcached under `divan load`, CPU per operation;
4. memory and start-up (server_load.py);
5. the query service (query_bench.py): plain HTTP and both SDKs' cluster.query;
6. persistence (persist_bench.py): plain writes on disk vs in memory, persistToMajority writes
   at 1, 16 and 256 in flight, restart with a million documents;
7. TLS (tls_bench.py): both SDKs' asyncio loop over couchbases:// and plain TCP on one server,
   and the handshake's time;
8. KV range scans (scan_bench.py): documents/s of a full scan of 100,000 documents, both SDKs.

Writes bench/results/latest.md (medians and ratios, with the machine it ran on) and the PNG plots
beside it (plots.py).
"""

import argparse
import sys
import time
from pathlib import Path

import asyncio_kv
import blocking_kv
import persist_bench
import plots
import query_bench
import scan_bench
import server_load
import tls_bench
from common import can_pin, machine

RESULTS = Path(__file__).resolve().parent / "results"
# (repetitions, seconds per client run and its warm-up, seconds per server run)
PLANS = {"quick": (3, 0.5, 0.25, 1.0), "full": (3, 3.0, 0.5, 10.0)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="the long runs (BENCH=full)")
    p.add_argument("--no-pin", dest="pin", action="store_false")
    p.add_argument("--out", default=str(RESULTS), help="the results directory")
    args = p.parse_args()
    plan = "full" if args.full else "quick"
    reps, client_s, warmup, server_s = PLANS[plan]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    client = argparse.Namespace(reps=reps, seconds=client_s, warmup=warmup, pin=args.pin)
    server = argparse.Namespace(reps=reps, seconds=server_s, pin=args.pin)

    header = machine(can_pin(args.pin))
    print(header, file=sys.stderr)
    began = time.monotonic()
    sections = []
    print("== asyncio client", file=sys.stderr)
    a = asyncio_kv.measure(client)
    sections.append(asyncio_kv.report(a, client))
    print("== blocking client", file=sys.stderr)
    b = blocking_kv.measure(client)
    sections.append(blocking_kv.report(b, client))
    print("== server, memory, start-up", file=sys.stderr)
    s = server_load.measure(server)
    sections.append(server_load.report(s, server))
    print("== query service", file=sys.stderr)
    query = argparse.Namespace(reps=reps, seconds=client_s, warmup=warmup, pin=args.pin,
                               docs=100_000)
    sections.append(query_bench.report(query_bench.measure(query), query))
    print("== persistence", file=sys.stderr)
    sections.append(persist_bench.report(persist_bench.measure(server), server))
    print("== TLS", file=sys.stderr)
    sections.append(tls_bench.report(tls_bench.measure(client), client))
    print("== range scans", file=sys.stderr)
    scan = argparse.Namespace(reps=reps, pin=args.pin, docs=100_000)
    sections.append(scan_bench.report(scan_bench.measure(scan), scan))
    images = plots.draw(out, a, b, s)

    text = ["# divan benchmarks (%s)" % plan, "", header,
            "- run: %s, %.0f s" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                   time.monotonic() - began), ""]
    text += sections
    text += ["## Plots", ""] + ["![%s](%s)" % (i.stem, i.name) for i in images]
    (out / "latest.md").write_text("\n".join(text) + "\n")
    print("bench: wrote %s and %d plots" % (out / "latest.md", len(images)), file=sys.stderr)


if __name__ == "__main__":
    main()
