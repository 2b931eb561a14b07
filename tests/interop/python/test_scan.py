"""The official Python SDK's KV range scans (collection.scan) against divan-server.

Each test writes its own keys under a prefix unique to it, so that scans of one test do not
see another's documents; the 10k-document scan uses its own bucket.
"""

import threading
from datetime import timedelta

import pytest
from couchbase.exceptions import InvalidArgumentException
from couchbase.kv_range_scan import PrefixScan, RangeScan, SamplingScan, ScanTerm
from couchbase.management.buckets import CreateBucketSettings
from couchbase.mutation_state import MutationState
from couchbase.options import ScanOptions

from conftest import connect


def load(coll, prefix, n, body=None):
    docs = {f"{prefix}{i:05d}": (body or {"i": i}) for i in range(n)}
    res = coll.upsert_multi(docs)
    assert res.all_ok
    return res


def ids(result):
    return sorted(r.id for r in result)


def test_prefix_scan_documents(coll, key):
    load(coll, key + ":", 50)
    coll.upsert(key + ";other", {"x": 1})  # sorts right after the prefix range
    rows = list(coll.scan(PrefixScan(key + ":")))
    assert sorted(r.id for r in rows) == [f"{key}:{i:05d}" for i in range(50)]
    for r in rows:
        assert not r.ids_only
        assert r.content_as[dict] == {"i": int(r.id[-5:])}
        assert r.cas != 0


def test_range_inclusive_and_exclusive(coll, key):
    load(coll, key + ":", 10)
    lo, hi = f"{key}:00002", f"{key}:00006"
    both = ids(coll.scan(RangeScan(ScanTerm(lo), ScanTerm(hi)), ScanOptions(ids_only=True)))
    assert both == [f"{key}:{i:05d}" for i in range(2, 7)]
    excl = ids(
        coll.scan(
            RangeScan(ScanTerm(lo, exclusive=True), ScanTerm(hi, exclusive=True)),
            ScanOptions(ids_only=True),
        )
    )
    assert excl == [f"{key}:{i:05d}" for i in range(3, 6)]


def test_ids_only(coll, key):
    load(coll, key + ":", 20)
    rows = list(coll.scan(PrefixScan(key + ":"), ScanOptions(ids_only=True)))
    assert len(rows) == 20
    assert all(r.ids_only for r in rows)


def test_empty_range(coll, key):
    assert list(coll.scan(PrefixScan(key + ":nothing:"))) == []


def test_sampling_is_bounded_and_seeded(coll, key):
    # Sampling scans the whole collection: it sees other tests' documents too.
    load(coll, key + ":", 200)
    a = ids(coll.scan(SamplingScan(30, seed=42), ScanOptions(ids_only=True)))
    b = ids(coll.scan(SamplingScan(30, seed=42), ScanOptions(ids_only=True)))
    assert len(a) == 30
    assert len(set(a)) == 30
    assert a == b


def test_batch_limits(coll, key):
    load(coll, key + ":", 120)
    for opts in (
        ScanOptions(batch_item_limit=1),
        ScanOptions(batch_item_limit=7, ids_only=True),
        ScanOptions(batch_byte_limit=1),
        ScanOptions(batch_byte_limit=100, batch_item_limit=3),
    ):
        assert ids(coll.scan(PrefixScan(key + ":"), opts)) == [f"{key}:{i:05d}" for i in range(120)]


def test_consistent_with(coll, key):
    res = load(coll, key + ":", 30)
    state = MutationState(*res.results.values())
    got = ids(coll.scan(PrefixScan(key + ":"), ScanOptions(consistent_with=state, ids_only=True)))
    assert len(got) == 30


def test_cancel_by_dropping_the_iterator(server, coll, key):
    load(coll, key + ":", 300)
    for _ in range(5):
        it = iter(coll.scan(PrefixScan(key + ":"), ScanOptions(batch_item_limit=2)))
        first = next(it)
        assert first.id.startswith(key + ":")
        it.cancel_scan()
        del it
    # The server still answers and serves new scans after the cancellations.
    assert len(ids(coll.scan(PrefixScan(key + ":"), ScanOptions(ids_only=True)))) == 300
    assert server.running()


def test_scan_during_writes(cluster, coll, key):
    load(coll, key + ":", 500)
    stop = threading.Event()
    errors = []

    def writer():
        c2 = connect_same(cluster)
        try:
            i = 0
            while not stop.is_set() and i < 5000:
                c2.upsert(f"{key}:{i % 500:05d}", {"i": i % 500, "gen": i})
                c2.upsert(f"{key}:new{i:05d}", {"i": i})
                i += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(3):
            got = ids(coll.scan(PrefixScan(key + ":0"), ScanOptions(ids_only=True)))
            # The 500 original keys are never deleted: each scan sees each of them once.
            assert got == [f"{key}:{i:05d}" for i in range(500)]
    finally:
        stop.set()
        t.join(timeout=30)
    assert not errors


def connect_same(cluster):
    return cluster.bucket("default").default_collection()


def test_unknown_collection_and_bad_input(bucket):
    with pytest.raises(InvalidArgumentException):
        list(bucket.default_collection().scan(SamplingScan(0)))


def test_ten_thousand_documents(server, cluster):
    bm = cluster.buckets()
    bm.create_bucket(CreateBucketSettings(name="scan10k", ram_quota_mb=100))
    try:
        b = cluster.bucket("scan10k")
        coll = b.default_collection()
        for start in range(0, 10000, 2000):
            docs = {f"doc{i:05d}": {"i": i, "pad": "x" * 50} for i in range(start, start + 2000)}
            assert coll.upsert_multi(docs).all_ok
        n = 0
        seen = set()
        for r in coll.scan(RangeScan(), ScanOptions(batch_item_limit=500)):
            n += 1
            seen.add(r.id)
            assert r.content_as[dict]["i"] == int(r.id[3:])
        assert n == 10000
        assert len(seen) == 10000
        assert len(list(coll.scan(RangeScan(), ScanOptions(ids_only=True, concurrency=4)))) == 10000
    finally:
        bm.drop_bucket("scan10k")


@pytest.fixture(scope="module")
def one_scan_server():
    """A server that lets a connection hold one open scan and never times scans out: a scan the
    SDK leaves open blocks every later scan of that connection."""
    from divan.server import DivanServer

    srv = DivanServer(
        "Administrator",
        "password",
        args=("--threads", "1", "--max-range-scans", "1", "--range-scan-timeout", "3600"),
    )
    srv.start()
    yield srv
    assert srv.stop() == 0


@pytest.mark.parametrize("how", ["cancel_scan", "drop"])
def test_cancellation_releases_the_server_scan(one_scan_server, how):
    c = connect(one_scan_server)
    try:
        coll = c.bucket("default").default_collection()
        load(coll, f"cancel-{how}:", 3000)
        quick = ScanOptions(batch_item_limit=1, timeout=timedelta(seconds=5))
        for _ in range(3):
            it = iter(coll.scan(PrefixScan(f"cancel-{how}:"), quick))
            assert next(it).id.startswith(f"cancel-{how}:")
            if how == "cancel_scan":
                it.cancel_scan()
            del it
            # Would time out on EBUSY if the scan above were still open on the server.
            got = ids(coll.scan(PrefixScan(f"cancel-{how}:"), quick))
            assert len(got) == 3000
    finally:
        c.close()
