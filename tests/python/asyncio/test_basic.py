"""The asyncio API's first slice on divan-server: the seed example, errors, many operations in
flight, cancellation, close with operations pending, no leaks."""

import asyncio
import gc
import os
import sys
from datetime import timedelta

import pytest

import acouchbase.cluster
import couchbase.auth
import couchbase.cluster
import couchbase.subdocument as SD
from couchbase.exceptions import (AuthenticationException, DocumentLockedException,
                                  DocumentNotFoundException,
                                  RequestCanceledException, UnAmbiguousTimeoutException)


async def open_collection(server):
    cluster = acouchbase.cluster.Cluster(server.connstr, couchbase.cluster.ClusterOptions(
        couchbase.auth.PasswordAuthenticator("user", "password")))
    bucket = cluster.bucket("default")
    await bucket.on_connect()
    return cluster, bucket.default_collection()

DIVAN = os.environ.get("DIVAN_SDK", "divan") == "divan"


@pytest.mark.divan_only("GetResult.content, the 3.x name of the content")
def test_seed_example(server, run):
    async def main():
        cluster = acouchbase.cluster.Cluster(server.connstr, couchbase.cluster.ClusterOptions(
            couchbase.auth.PasswordAuthenticator("user", "password")))
        bucket = cluster.bucket("default")
        await bucket.on_connect()
        collection = bucket.default_collection()
        upsert_result = await collection.upsert("doc1", dict(name="Ted", age=80))
        get_result = await collection.get("doc1")
        person = get_result.content
        print(person)
        assert upsert_result.cas == get_result.cas
        assert get_result.content_as[dict] == get_result.value == person
        await cluster.close()
        return person

    assert run(main()) == {"name": "Ted", "age": 80}


def test_seed_example_4x(server, run):
    async def main():
        cluster = await acouchbase.cluster.Cluster.connect(
            server.connstr, couchbase.cluster.ClusterOptions(
                couchbase.auth.PasswordAuthenticator("user", "password")))
        bucket = cluster.bucket("default")
        await bucket.on_connect()
        await cluster.on_connect()
        collection = bucket.default_collection()
        upsert_result = await collection.upsert("doc4", dict(name="Ted", age=80))
        get_result = await collection.get("doc4")
        assert upsert_result.cas == get_result.cas
        assert get_result.content_as[dict] == get_result.value
        await cluster.close()
        return get_result.content_as[dict]

    assert run(main()) == {"name": "Ted", "age": 80}


@pytest.mark.divan_only("operations return asyncio.Future (the official SDK returns coroutines)")
def test_operations_return_futures(server, run):
    async def main():
        cluster, coll = await open_collection(server)
        f = coll.upsert("fut", [1, 2, 3])
        assert isinstance(f, asyncio.Future)
        await f
        for f in (coll.get("fut"), coll.exists("fut"), coll.touch("fut", timedelta(0)),
                  coll.lookup_in("fut", [SD.get("[0]")]),
                  coll.mutate_in("fut", [SD.array_append("", 4)]),
                  coll.binary().increment("fut-ctr"), coll.binary().append("fut-raw", b"x")):
            assert isinstance(f, asyncio.Future)
            await asyncio.gather(f, return_exceptions=True)
        assert (await coll.get("fut")).content_as[list] == [1, 2, 3, 4]
        await cluster.close()

    run(main())


def test_wrong_password_fails_on_connect(server, run):
    async def main():
        cluster = acouchbase.cluster.Cluster(server.connstr, couchbase.cluster.ClusterOptions(
            couchbase.auth.PasswordAuthenticator("user", "wrong")))
        with pytest.raises(AuthenticationException):
            await cluster.on_connect()
        with pytest.raises(AuthenticationException):  # as the official SDK's close does
            await cluster.close()

    run(main())


def test_no_server_times_out_on_connect(run):
    import socket
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main():
        cluster = acouchbase.cluster.Cluster(
            "couchbase://127.0.0.1:%d" % port,
            couchbase.cluster.ClusterOptions(
                couchbase.auth.PasswordAuthenticator("user", "password"),
                bootstrap_timeout=timedelta(seconds=1)))
        with pytest.raises(UnAmbiguousTimeoutException):
            await cluster.on_connect()
        with pytest.raises(UnAmbiguousTimeoutException):  # as the official SDK's close does
            await cluster.close()

    run(main())


def test_get_missing_raises_document_not_found(server, run):
    async def main():
        cluster, coll = await open_collection(server)
        with pytest.raises(DocumentNotFoundException) as info:
            await coll.get("no-such-doc")
        assert info.value.context.key == "no-such-doc"
        await cluster.close()

    run(main())


def test_thousand_concurrent_operations(server, run):
    async def main():
        cluster, coll = await open_collection(server)
        n = 1000
        ups = await asyncio.gather(*(coll.upsert("k%d" % i, {"i": i}) for i in range(n)))
        assert all(r.cas for r in ups)
        gets = await asyncio.gather(*(coll.get("k%d" % i) for i in range(n)))
        assert [g.content_as[dict]["i"] for g in gets] == list(range(n))
        await cluster.close()

    run(main())


def test_cancelled_get_does_not_break_later_operations(server, run):
    async def main():
        cluster, coll = await open_collection(server)
        await coll.upsert("c", {"v": 1})
        f = asyncio.ensure_future(coll.get("c"))
        f.cancel()
        with pytest.raises(asyncio.CancelledError):
            await f
        # cancelled after it was written: its late reply must be dropped safely
        futures = [asyncio.ensure_future(coll.get("c")) for _ in range(10)]
        await asyncio.sleep(0)
        for g in futures[::2]:
            g.cancel()
        await asyncio.gather(*futures, return_exceptions=True)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(coll.get("c"), 0)  # wait_for's own cancellation
        assert (await coll.get("c")).content_as[dict] == {"v": 1}
        if DIVAN:  # nothing left in the engine
            assert cluster._core.pending() == 0
        await cluster.close()

    run(main())


def test_close_fails_pending_operations(server, run):
    async def main():
        cluster, coll = await open_collection(server)
        await coll.upsert("locked", 0)
        await coll.get_and_lock("locked", timedelta(seconds=10))
        # writes to a locked document are retried until their timeout: they are pending at close
        futures = [asyncio.ensure_future(coll.upsert("locked", i)) for i in range(20)]
        for _ in range(3):
            await asyncio.sleep(0)
        assert not any(f.done() for f in futures)
        await cluster.close()
        results = await asyncio.gather(*futures, return_exceptions=True)
        # none succeeds: cancelled while waiting to retry because of the lock, the official SDK
        # reports the lock; cancelled in flight, the cancellation
        assert all(isinstance(r, (DocumentLockedException, RequestCanceledException))
                   for r in results), results[:3]
        with pytest.raises(RuntimeError, match="closed cluster"):
            await coll.get("locked")
        with pytest.raises(RuntimeError, match="closed cluster"):
            cluster.bucket("default")
        await cluster.close()  # a second close does nothing

    run(main())


def test_no_leak_over_many_operations(server, run):
    async def rounds(coll, n):
        for _ in range(n // 100):
            await asyncio.gather(*(coll.upsert("leak%d" % i, {"i": i}) for i in range(50)))
            await asyncio.gather(*(coll.get("leak%d" % i) for i in range(50)))

    async def main():
        cluster, coll = await open_collection(server)
        await rounds(coll, 2000)  # warm up caches and free lists
        gc.collect()
        before = sys.getallocatedblocks()
        await rounds(coll, 10000)
        gc.collect()
        grown = sys.getallocatedblocks() - before
        await cluster.close()
        return grown

    # a leak of one object per operation would be >= 10000 blocks
    grown = run(main(), timeout=120)
    print("allocated blocks grown over 10000 operations:", grown)
    assert grown < 1000


@pytest.mark.divan_only("divan's allocation counters")
def test_close_frees_the_engine(server, run):
    async def main():
        for _ in range(3):
            cluster, coll = await open_collection(server)
            await coll.upsert("free", {"a": 1})
            pending = coll.get("free")
            await cluster.close()
            with pytest.raises(RequestCanceledException):
                await pending

    run(main())
    gc.collect()
    from couchbase import _core
    assert _core._alloc_live() in (0, -1)


def test_official_module_paths(server, run):
    from acouchbase.binary_collection import BinaryCollection
    from acouchbase.bucket import AsyncBucket
    from acouchbase.cluster import AsyncCluster
    from acouchbase.collection import AsyncCollection
    from acouchbase.scope import AsyncScope

    async def main():
        cluster, coll = await open_collection(server)
        assert type(cluster) is AsyncCluster and acouchbase.cluster.Cluster is AsyncCluster
        assert isinstance(cluster.bucket("default"), AsyncBucket)
        assert isinstance(cluster.bucket("default").default_scope(), AsyncScope)
        assert isinstance(coll, AsyncCollection)
        assert isinstance(coll.binary(), BinaryCollection)
        await cluster.close()

    run(main())
