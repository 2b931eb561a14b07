"""KV range scans (``Collection.scan``) on the blocking and asyncio front ends, against a private
divan-server, for divan's SDK and the official one (scripts/run-pysuite both tests/python/scan).

Every test gets ``fe``: the front end under test, which runs a scan where that front end runs
it (blocking: a thread of its own; asyncio: a loop in a thread of its own) and waits for it with
a bound, so that a scan that never ends fails the test instead of hanging the run. Documents are
written with the blocking API; each test writes its own keys under a prefix of its own.
"""

import asyncio
import faulthandler
import sys
import threading
import uuid
from datetime import timedelta

import pytest

from sdk_under_test import SDK

from couchbase.auth import PasswordAuthenticator
from couchbase.cluster import Cluster
from couchbase.options import ClusterOptions, ClusterTimeoutOptions
from divan.server import DivanServer

pytest_plugins = ["sdk_under_test"]

BOUND = 60  # seconds any one scan may take before the test fails
TIMEOUTS = ClusterTimeoutOptions(kv_timeout=timedelta(seconds=5),
                                 connect_timeout=timedelta(seconds=5),
                                 bootstrap_timeout=timedelta(seconds=10))
BIG = 100_000  # documents of the bucket "big"


def options():
    return ClusterOptions(PasswordAuthenticator("user", "password"), timeout_options=TIMEOUTS)


class Hung(AssertionError):
    pass


def bounded(fn, timeout=BOUND):
    """fn() on a daemon thread; its result, or Hung after timeout seconds."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as exc:  # handed to the test's thread
            out["error"] = exc
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise Hung("the scan did not end within %d s" % timeout)
    if "error" in out:
        raise out["error"]
    return out["value"]


class Row:
    """What a test reads of a ScanResult, taken while iterating."""

    def __init__(self, r):
        self.id = r.id
        self.ids_only = r.ids_only
        if not r.ids_only:
            self.cas = r.cas
            self.content = r.content_as[dict]
            self.expiry_time = r.expiry_time


class Blocking:
    name = "blocking"

    def __init__(self, server):
        self.cluster = Cluster(server.connstr, options())
        self.bucket_cache = {}

    def coll(self, bucket="default"):
        if bucket not in self.bucket_cache:
            self.bucket_cache[bucket] = self.cluster.bucket(bucket).default_collection()
        return self.bucket_cache[bucket]

    def scan(self, scan_type, *opts, bucket="default", limit=None, each=None, keep=True,
             timeout=BOUND):
        """Rows of coll.scan(scan_type, *opts): all, or the first `limit`; each(row) is called
        on every row as it comes (keep=False: the rows are not kept, [] is returned)."""
        def run():
            rows = []
            for r in self.coll(bucket).scan(scan_type, *opts):
                row = Row(r)
                if each:
                    each(row)
                if keep:
                    rows.append(row)
                if limit is not None and len(rows) >= limit:
                    break
            return rows
        return bounded(run, timeout)

    def call(self, fn, timeout=BOUND):
        """fn(collection) where this front end runs (scan() itself, cancel_scan, ...)."""
        return bounded(lambda: fn(self.coll()), timeout)

    def iterate(self, iterable, n, timeout=BOUND):
        """The first n rows of an iterable coll.scan() returned (iteration left open)."""
        def run():
            it = iter(iterable)
            return [Row(next(it)) for _ in range(n)], it
        return bounded(run, timeout)

    def rest(self, it, timeout=BOUND):
        return bounded(lambda: [Row(r) for r in it], timeout)

    def close(self):
        self.cluster.close()


class Asyncio:
    name = "asyncio"

    def __init__(self, server):
        from acouchbase.cluster import Cluster as AsyncCluster
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def connect():
            cluster = AsyncCluster(server.connstr, options())
            await cluster.on_connect()
            return cluster
        self.cluster = self.run(connect())
        self.bucket_cache = {}

    def run(self, coro, timeout=BOUND):
        fut = asyncio.run_coroutine_threadsafe(asyncio.wait_for(coro, timeout), self.loop)
        try:
            return fut.result(timeout + 5)
        except (asyncio.TimeoutError, TimeoutError):
            fut.cancel()
            raise Hung("the scan did not end within %d s" % timeout)

    def coll(self, bucket="default"):
        if bucket not in self.bucket_cache:
            async def opened():
                b = self.cluster.bucket(bucket)
                await b.on_connect()
                return b.default_collection()
            self.bucket_cache[bucket] = self.run(opened())
        return self.bucket_cache[bucket]

    def scan(self, scan_type, *opts, bucket="default", limit=None, each=None, keep=True,
             timeout=BOUND):
        coll = self.coll(bucket)

        async def run():
            rows = []
            async for r in coll.scan(scan_type, *opts):
                row = Row(r)
                if each:
                    each(row)
                if keep:
                    rows.append(row)
                if limit is not None and len(rows) >= limit:
                    break
            return rows
        return self.run(run(), timeout)

    def call(self, fn, timeout=BOUND):
        coll = self.coll()

        async def run():
            return fn(coll)
        return self.run(run(), timeout)

    def iterate(self, iterable, n, timeout=BOUND):
        async def run():
            it = iterable.__aiter__()
            return [Row(await it.__anext__()) for _ in range(n)], it
        return self.run(run(), timeout)

    def rest(self, it, timeout=BOUND):
        async def run():
            return [Row(r) async for r in it]
        return self.run(run(), timeout)

    def close(self):
        self.run(self.cluster.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


FRONT_ENDS = {"blocking": Blocking, "asyncio": Asyncio}

# The official acouchbase scan starts the core's scan (pycbc_kv_range_scan, which waits for the
# core's orchestrator) on the loop's thread without releasing the GIL. When the core's I/O thread
# is then inside any Python callback of the same cluster (the completion of the last awaited
# operation, a bucket's bootstrap), it waits for the GIL and the scan waits for it: both hang
# for good (seen with gdb: range_scan_orchestrator::scan() under handle_range_scan_op holding
# the GIL, the I/O thread in take_gil from sock_send of call_soon_threadsafe). No test can
# avoid that window without sleeping, so the official SDK's asyncio scans are not run.
OFFICIAL_ASYNCIO = "the official acouchbase scan can deadlock (it waits for its core holding " \
                   "the GIL; see conftest.py)"


def front_end(name, server):
    if SDK == "official" and name == "asyncio":
        pytest.skip(OFFICIAL_ASYNCIO)
    return FRONT_ENDS[name](server)


@pytest.fixture(autouse=True)
def watchdog():
    """A bound no deadlock escapes: faulthandler's own thread (it needs no GIL) dumps every
    thread's stack and ends the run if a test takes far too long."""
    faulthandler.dump_traceback_later(6 * BOUND, exit=True, file=sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def server():
    with DivanServer("Administrator", "password", users=("user:password",),
                     buckets=("default", "big:ramQuotaMB=1024")) as s:
        yield s
        assert s.running(), "divan-server died during the tests"


@pytest.fixture(scope="module")
def writer(server):
    """A blocking collection for writing the tests' documents."""
    c = Cluster(server.connstr, options())
    yield c.bucket("default").default_collection()
    c.close()


@pytest.fixture(scope="module", params=sorted(FRONT_ENDS))
def fe(request, server):
    f = front_end(request.param, server)
    yield f
    f.close()


@pytest.fixture
def key():
    return "scan-" + uuid.uuid4().hex[:10]


def load(coll, prefix, n, body=None):
    """n documents prefix00000.. with {"i": i} (or body); the MultiMutationResult."""
    docs = {f"{prefix}{i:05d}": dict(body or {}, i=i) for i in range(n)}
    res = coll.upsert_multi(docs)
    assert res.all_ok
    return res
