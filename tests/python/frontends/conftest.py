"""One behavioural suite for the three front ends: blocking ``couchbase``, asyncio
``acouchbase`` and Twisted ``txcouchbase``. Each test gets ``fe``, a FrontEnd that makes a
cluster of its kind and runs calls where that kind runs them: the blocking API on the test's
thread, acouchbase on an asyncio loop in a thread of its own, txcouchbase on the reactor, also in
its own thread. ``fe.sync(obj)`` wraps a cluster, bucket or collection so that every call waits
for its result, whatever the front end; a test then reads the same on all three.

The reactor is chosen per process: DIVAN_REACTOR=asyncio installs Twisted's asyncio reactor,
otherwise the default (epoll) reactor runs. The official txcouchbase always installs the asyncio
reactor when imported, so the official SDK runs on that one only.

DIVAN_TLS=1 runs the suite over TLS: the session's server gets certificates of a CA made for the
run, ``server.connstr`` is its couchbases:// address and ``options()`` trusts that CA.
"""

import asyncio
import concurrent.futures
import inspect
import os
import shutil
import tempfile
import threading
import uuid

import pytest

import pki
from sdk_under_test import SDK

pytest_plugins = ["sdk_under_test"]

REACTOR = os.environ.get("DIVAN_REACTOR", "default")
if SDK == "official":
    import txcouchbase  # noqa: F401 - installs the asyncio reactor, before anyone imports one
    REACTOR = "asyncio"
elif REACTOR == "asyncio":
    from twisted.internet import asyncioreactor
    asyncioreactor.install(asyncio.new_event_loop())
from twisted.internet import defer, reactor  # noqa: E402

import acouchbase.cluster  # noqa: E402
import couchbase.cluster  # noqa: E402
import txcouchbase.cluster  # noqa: E402
from couchbase.auth import PasswordAuthenticator  # noqa: E402
from couchbase.options import ClusterOptions  # noqa: E402
from divan.server import DivanServer  # noqa: E402

TIMEOUT = 30
FRONT_ENDS = ["blocking", "asyncio", "twisted"]
TLS = os.environ.get("DIVAN_TLS") == "1"
_trust = []  # DIVAN_TLS: the run's CA certificate


def options(password="password"):
    tls = {"trust_store_path": _trust[0]} if TLS and _trust else {}
    return ClusterOptions(PasswordAuthenticator("user", password), **tls)


class TlsServer(DivanServer):
    """A divan-server whose connstr and kv_port are its couchbases:// address and TLS port."""

    def start(self):
        super().start()
        self.kv_port = self.tls_kv_port
        return self

    @property
    def connstr(self):
        return self.tls_connstr


class Sync:
    """obj with each method call waited for (through fe.run); attributes pass through."""

    def __init__(self, fe, obj):
        self._fe = fe
        self._obj = obj

    def __getattr__(self, name):
        attr = getattr(self._obj, name)
        if not callable(attr):
            return attr
        return lambda *args, **kwargs: self._fe.run(lambda: attr(*args, **kwargs))


class FrontEnd:
    name = ""
    module = None  # the package's cluster module

    def run(self, fn, timeout=TIMEOUT):
        """fn() called where this front end runs; its result once it is ready."""
        raise NotImplementedError

    def sync(self, obj):
        return Sync(self, obj)

    def cluster(self, connstr, *opts, **kwargs):
        """A connected Cluster (raises what connecting raises)."""
        async def connect():
            cluster = self.module.Cluster(connstr, *opts, **kwargs)
            await cluster.on_connect()
            return cluster
        return self.run(connect)

    def open(self, connstr, bucket="default"):
        """(cluster, bucket, default collection), connected, each wrapped by sync()."""
        cluster = self.cluster(connstr, options())
        b = self.bucket(cluster, bucket)
        return self.sync(cluster), self.sync(b), self.sync(b.default_collection())

    def bucket(self, cluster, name):
        """The bucket, opened."""
        async def opened():
            b = cluster.bucket(name)
            await b.on_connect()
            return b
        return self.run(opened)


class Blocking(FrontEnd):
    name = "blocking"
    module = couchbase.cluster

    def run(self, fn, timeout=TIMEOUT):
        return fn()

    def cluster(self, connstr, *opts, **kwargs):
        return couchbase.cluster.Cluster(connstr, *opts, **kwargs)

    def bucket(self, cluster, name):
        return cluster.bucket(name)


class AsyncioLoop(FrontEnd):
    name = "asyncio"
    module = acouchbase.cluster

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, fn, timeout=TIMEOUT):
        async def call():
            result = fn()
            return await result if inspect.isawaitable(result) else result
        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()


class Reactor(FrontEnd):
    name = "twisted"
    module = txcouchbase.cluster

    def __init__(self):
        self.thread = threading.Thread(target=reactor.run,
                                       kwargs={"installSignalHandlers": False}, daemon=True)
        self.thread.start()

    def run(self, fn, timeout=TIMEOUT):
        out = concurrent.futures.Future()

        def call():
            try:
                result = fn()
                if inspect.iscoroutine(result):
                    result = defer.Deferred.fromCoroutine(result)
                d = defer.maybeDeferred(lambda: result)
            except BaseException as exc:  # handed to the test's thread
                out.set_exception(exc)
                return
            d.addCallbacks(out.set_result, lambda f: out.set_exception(f.value))
        reactor.callFromThread(call)
        return out.result(timeout)

    def stop(self):
        reactor.callFromThread(reactor.stop)
        self.thread.join()


_made = {}


@pytest.fixture(scope="session", autouse=True)
def _front_ends():
    yield
    for fe in _made.values():
        if hasattr(fe, "stop"):
            fe.stop()


@pytest.fixture(params=FRONT_ENDS)
def fe(request):
    """The front end under test (one of each per session)."""
    kinds = {"blocking": Blocking, "asyncio": AsyncioLoop, "twisted": Reactor}
    if request.param not in _made:
        _made[request.param] = kinds[request.param]()
    return _made[request.param]


@pytest.fixture(scope="session")
def server():
    if not TLS:
        with DivanServer() as s:
            yield s
            assert s.running(), "divan-server died during the tests"
        return
    d = tempfile.mkdtemp(prefix="divan-pki-")
    try:
        p = pki.make(d)
        _trust.append(p["ca"])
        with TlsServer(args=pki.server_args(p)) as s:
            assert s.connstr.startswith("couchbases://")
            yield s
            assert s.running(), "divan-server died during the tests"
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def kv(fe, server):
    """(cluster, bucket, collection) of a fresh cluster of the front end, each wrapped by
    fe.sync(); closed afterwards."""
    cluster, bucket, coll = fe.open(server.connstr)
    yield cluster, bucket, coll
    cluster.close()


@pytest.fixture
def key(request):
    """key(name): a document key no other test uses."""
    unique = uuid.uuid4().hex[:8]
    return lambda name="doc": "%s-%s-%s" % (request.node.name, unique, name)
