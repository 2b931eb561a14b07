"""What the benchmark drivers share: the children's interpreters (divan's SDK or the official
one, each in its own process), the pinned divan-server, the machine's description and the
table's number formats."""

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def child_cmd(kind):
    """(argv prefix, environment) for a child running divan's SDK ("ours"), the official one
    ("official", which never sees divan's packages) or none ("floor")."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if kind == "official":
        return [str(REPO / ".venv-official/bin/python")], env
    if kind == "ours":
        env["PYTHONPATH"] = "%s:%s" % (REPO / "python", REPO / "build/python")
    return [str(REPO / ".venv/bin/python")], env


def check_sdk(kind):
    """In a child: stop if the couchbase that imports is not the SDK the driver asked for."""
    import couchbase
    try:
        from couchbase import _core  # noqa: F401  (divan's extension)
        found = "ours"
    except ImportError:
        found = "official"
    if found != kind:
        sys.exit("asked for %s, imported %s from %s" % (kind, found, couchbase.__file__))


def probe(kind):
    """Python and SDK versions of a child's interpreter."""
    argv, env = child_cmd(kind)
    code = ("import sys, couchbase; print('Python %s, couchbase %s (%s)' % (sys.version.split()[0],"
            " couchbase.__version__, couchbase.__file__))")
    try:
        r = subprocess.run(argv + ["-c", code], env=env, capture_output=True, text=True)
    except OSError as e:
        return "error: %s" % e
    return r.stdout.strip() if r.returncode == 0 else "error: " + r.stderr.strip()[-300:]


def can_pin(wanted):
    return wanted and shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def run_child(kind, script, argv, pin, timeout):
    """The JSON object a child (script --worker kind ...) printed last, or None (its stderr
    printed) if it failed. Pinned, the child runs on CPU 1."""
    prefix, env = child_cmd(kind)
    cmd = (["taskset", "-c", "1"] if pin else []) + prefix + [script, "--worker", kind] + argv
    try:
        r = subprocess.run(cmd, env=env, cwd=REPO / "bench", capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode == 0:
            return json.loads(r.stdout.strip().splitlines()[-1])
        err = r.stderr
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as e:
        err = repr(e)
    print("FAILED %s %s:\n%s" % (kind, " ".join(argv), err), file=sys.stderr)
    return None


def machine(pin):
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines = ["- machine: %d CPUs (nproc), %s, %s" % (os.cpu_count(), model, platform.platform()),
             "- ours: " + probe("ours"), "- official: " + probe("official"),
             "- pinning: " + ("server on CPU 0 (--threads 1), client on CPU 1" if pin else "none")]
    return "\n".join(lines)


@contextlib.contextmanager
def divan_server(pin, args=()):
    """A divan-server for the run (on CPU 0 with one worker thread when pinned); args: more
    server flags (without --data-dir or --ephemeral it keeps its data in a temporary
    directory)."""
    sys.path.insert(0, str(REPO / "python"))  # divan.server only (no SDK in the driver)
    from divan.server import DivanServer

    binary = os.environ.get("DIVAN_SERVER") or str(REPO / "build/bin/divan-server")
    server = DivanServer(binary=binary, args=(["--threads", "1"] if pin else []) + list(args))
    server.start()
    try:
        if pin:
            subprocess.run(["taskset", "-a", "-p", "-c", "0", str(server.pid)], check=True,
                           stdout=subprocess.DEVNULL)
        yield server
    finally:
        server.stop()


def add_run_options(p):
    """The driver's options both benchmarks take."""
    p.add_argument("--seconds", type=float, default=3.0, help="measured time per run (3)")
    p.add_argument("--warmup", type=float, default=0.5, help="unmeasured time before (0.5)")
    p.add_argument("--reps", type=int, default=3, help="repetitions; the median is shown (3)")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 repetition of 1 s")
    p.add_argument("--no-pin", dest="pin", action="store_false",
                   help="do not pin the server to CPU 0 and the client to CPU 1")
    p.add_argument("--out", help="also write the Markdown report to this file")
    p.add_argument("--connstr", help=argparse.SUPPRESS)  # the worker's


def standalone(title, measure, report, args):
    """A benchmark run on its own: the machine, its measurements and its report, to stdout
    and --out."""
    header = machine(can_pin(args.pin))
    print(header, file=sys.stderr)
    began = time.monotonic()
    results = measure(args)
    text = "# %s\n\n%s\n- run time: %.0f s\n\n%s" % (title, header, time.monotonic() - began,
                                                     report(results, args))
    sys.stdout.write(text)
    if args.out:
        Path(args.out).write_text(text)


def server_bench_main(doc, measure, report):
    """The command line of a server benchmark (server_load.py, persist_bench.py) run alone."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="measured time per run (10)")
    p.add_argument("--reps", type=int, default=3, help="repetitions; the median is shown (3)")
    p.add_argument("--quick", action="store_true", help="1 repetition of 2 s")
    p.add_argument("--no-pin", dest="pin", action="store_false")
    args = p.parse_args()
    if args.quick:
        args.reps, args.seconds = 1, 2.0
    sys.stdout.write(report(measure(args), args))


def run_main(p, worker, driver):
    """Parse p's arguments and run the worker (a child) or the driver."""
    args = p.parse_args()
    if args.quick:
        args.reps, args.seconds = 1, 1.0
    (worker if args.worker else driver)(args)


def median(runs):
    """The median of a configuration's repetitions; None if any of them failed."""
    return None if not runs or None in runs else statistics.median(runs)


def fmt(x, ratio=False):
    return "error" if x is None else ("%.2f" % x if ratio else "{:,.0f}".format(x))


def ratio(a, b):
    return a / b if a and b else None
