"""Query service throughput: queries/s and server CPU per query, through plain HTTP (one
keep-alive connection, as curl would) and through the official Python SDK's cluster.query.

    DIVAN_SERVER=build/bin/divan-server PYTHONPATH=<dir holding only python/divan> \\
        .venv-official/bin/python bench/query_bench.py [--docs 100000] [--seconds 2]

Three statements over N documents {"i": i, "g": i % 100}: a USE KEYS point read, an equality on
an indexed field (one row), and a filtered full scan (WHERE on an unindexed field over every
document). Not part of `make bench` yet (the official SDK lives in its own venv).
"""

import argparse
import base64
import http.client
import json
import os
import random
import time

from divan.server import DivanServer

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Http:
    def __init__(self, port, user, password):
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()

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


def measure(run, seconds, pid):
    """(queries/s, server CPU microseconds per query) of run() repeated for `seconds`."""
    n = 0
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        run()
        n += 1
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    return n / elapsed, cpu / n * 1e6


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=int, default=100000)
    p.add_argument("--seconds", type=float, default=2.0)
    a = p.parse_args()
    with DivanServer("Administrator", "password", args=("--threads", "2")) as srv:
        h = Http(srv.query_port, "Administrator", "password")
        h.query("INSERT INTO `default` (KEY k, VALUE v) SELECT 'd' || TOSTRING(i) AS k, "
                "{'i': i, 'g': i %% 100} AS v FROM ARRAY_RANGE(0, %d) AS i" % a.docs)
        h.query("CREATE PRIMARY INDEX ON `default`")
        h.query("CREATE INDEX ix_i ON `default`(i)")
        rnd = random.Random(1)
        stmts = {
            "USE KEYS point read": ("SELECT d.* FROM `default` d USE KEYS $1",
                                    lambda: ["d%d" % rnd.randrange(a.docs)]),
            "indexed equality (1 row)": ("SELECT d.* FROM `default` d WHERE i = $1",
                                         lambda: [rnd.randrange(a.docs)]),
            "filtered full scan": ("SELECT COUNT(*) AS n FROM `default` WHERE g = 7",
                                   lambda: None),
            "indexed range (100 rows)": ("SELECT RAW META().id FROM `default` WHERE i >= $1 AND i < $1 + 100",
                                         lambda: [rnd.randrange(a.docs - 100)]),
        }
        assert len(h.query(stmts["indexed equality (1 row)"][0], [5])) == 1
        rows = []
        for name, (stmt, args) in stmts.items():
            qps, cpu = measure(lambda: h.query(stmt, args()), a.seconds, srv.pid)
            rows.append((name, "HTTP", qps, cpu))
        from couchbase.auth import PasswordAuthenticator
        from couchbase.cluster import Cluster
        from couchbase.options import ClusterOptions, QueryOptions
        from datetime import timedelta
        c = Cluster(srv.connstr, ClusterOptions(PasswordAuthenticator("Administrator", "password")))
        c.wait_until_ready(timedelta(seconds=10))
        for name, (stmt, args) in stmts.items():
            def run(stmt=stmt, args=args):
                v = args()
                opts = QueryOptions(positional_parameters=v) if v is not None else QueryOptions()
                c.query(stmt, opts).execute()
            qps, cpu = measure(run, a.seconds, srv.pid)
            rows.append((name, "official Python SDK", qps, cpu))
        c.close()
    print("| statement (%d documents) | client | queries/s | server CPU us/query |" % a.docs)
    print("|---|---|---:|---:|")
    for name, client, qps, cpu in rows:
        print("| %s | %s | %.0f | %.0f |" % (name, client, qps, cpu))


if __name__ == "__main__":
    main()
