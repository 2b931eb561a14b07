"""Collection.scan: ranges, prefixes, sampling, ids only, consistency, limits, cancellation,
bad input, a scan during writes (each on the blocking and the asyncio front end)."""

import gc
import threading
import zlib
from datetime import timedelta

import pytest

from couchbase.exceptions import (AlreadyQueriedException, InvalidArgumentException)
from couchbase.kv_range_scan import PrefixScan, RangeScan, SamplingScan, ScanTerm
from couchbase.mutation_state import MutationState
from couchbase.options import ScanOptions
from couchbase.result import ScanResultIterable
from divan.server import DivanServer

from conftest import FRONT_ENDS, front_end, load

IDS = ScanOptions(ids_only=True)


def ids(rows):
    return sorted(r.id for r in rows)


def keys(key, rng):
    return [f"{key}:{i:05d}" for i in rng]


def test_prefix_scan_documents(fe, writer, key):
    load(writer, key + ":", 50)
    writer.upsert(key + ";after", {"x": 1})  # right after the prefix's range
    writer.upsert(key + "9before", {"x": 1})  # before it
    rows = fe.scan(PrefixScan(key + ":"))
    assert ids(rows) == keys(key, range(50))
    for r in rows:
        assert not r.ids_only
        assert r.content == {"i": int(r.id[-5:])}
        assert r.cas != 0
        assert r.expiry_time is None


def test_range_inclusive_and_exclusive(fe, writer, key):
    load(writer, key + ":", 10)
    lo, hi = f"{key}:00002", f"{key}:00006"
    assert ids(fe.scan(RangeScan(ScanTerm(lo), ScanTerm(hi)), IDS)) == keys(key, range(2, 7))
    excl = RangeScan(ScanTerm(lo, exclusive=True), ScanTerm(hi, exclusive=True))
    assert ids(fe.scan(excl, IDS)) == keys(key, range(3, 6))
    half = RangeScan(ScanTerm(lo, exclusive=False), ScanTerm(hi, exclusive=True))
    assert ids(fe.scan(half, IDS)) == keys(key, range(2, 6))


def test_open_ended_ranges(fe, writer, key):
    load(writer, key + ":", 10)
    mine = lambda rows: [i for i in ids(rows) if i.startswith(key + ":")]  # noqa: E731
    assert mine(fe.scan(RangeScan(ScanTerm(f"{key}:00007")), IDS)) == keys(key, range(7, 10))
    assert mine(fe.scan(RangeScan(None, ScanTerm(f"{key}:00002")), IDS)) == keys(key, range(3))
    assert mine(fe.scan(RangeScan(), IDS)) == keys(key, range(10))


def test_ids_only(fe, writer, key):
    load(writer, key + ":", 20)
    rows = fe.scan(PrefixScan(key + ":"), IDS)
    assert ids(rows) == keys(key, range(20))
    assert all(r.ids_only for r in rows)


def test_ids_only_result_refuses_content(writer, key):
    load(writer, key + ":", 3)
    for r in writer.scan(PrefixScan(key + ":"), IDS):
        with pytest.raises(InvalidArgumentException):
            r.cas
        with pytest.raises(InvalidArgumentException):
            r.content_as[dict]
        with pytest.raises(InvalidArgumentException):
            r.expiry_time


def test_empty_prefix_and_range(fe, key):
    assert fe.scan(PrefixScan(key + ":nothing:")) == []
    assert fe.scan(RangeScan(ScanTerm(key + ":b"), ScanTerm(key + ":a"))) == []


def test_sampling_is_bounded_and_seeded(fe, writer, key):
    # Sampling scans the whole collection: other tests' documents count too.
    load(writer, key + ":", 200)
    a = ids(fe.scan(SamplingScan(30, seed=42), IDS))
    b = ids(fe.scan(SamplingScan(30, seed=42), IDS))
    assert len(a) == 30
    assert len(set(a)) == 30
    assert a == b
    rows = fe.scan(SamplingScan(5))
    assert len(rows) == 5
    assert all(r.cas for r in rows)


def test_consistent_with(fe, writer, key):
    res = load(writer, key + ":", 30)
    state = MutationState(*res.results.values())
    got = fe.scan(PrefixScan(key + ":"), ScanOptions(consistent_with=state, ids_only=True))
    assert ids(got) == keys(key, range(30))


def test_batch_limits(fe, writer, key):
    load(writer, key + ":", 120, {"pad": "x" * 40})
    for opts in (ScanOptions(batch_item_limit=1), ScanOptions(batch_item_limit=7, ids_only=True),
                 ScanOptions(batch_byte_limit=1), ScanOptions(batch_byte_limit=100,
                                                              batch_item_limit=3),
                 ScanOptions(batch_time_limit=timedelta(seconds=5))):
        assert ids(fe.scan(PrefixScan(key + ":"), opts)) == keys(key, range(120))


def test_concurrency(fe, writer, key):
    load(writer, key + ":", 300)
    want = keys(key, range(300))
    for n in (1, 4, 16):
        assert ids(fe.scan(PrefixScan(key + ":"), ScanOptions(concurrency=n, ids_only=True))) \
            == want


def vbucket(key):
    """The vbucket of a key in a 1024-vbucket bucket (CRC-32, as the SDKs hash)."""
    return ((zlib.crc32(key.encode()) >> 16) & 0x7FFF) % 1024


def test_each_vbucket_in_key_order(fe, writer, key):
    """The server sends each vbucket's keys in order: a scan keeps that order per vbucket."""
    load(writer, key + ":", 300)
    rows = fe.scan(PrefixScan(key + ":"), ScanOptions(concurrency=4, batch_item_limit=5))
    per_vb = {}
    for r in rows:
        per_vb.setdefault(vbucket(r.id), []).append(r.id)
    assert sum(len(v) for v in per_vb.values()) == 300
    assert len(per_vb) > 50
    for ids_ in per_vb.values():
        assert ids_ == sorted(ids_)


@pytest.mark.divan_only("divan's scan yields the vbuckets in order (the official core in the "
                        "order its streams deliver)")
@pytest.mark.parametrize("concurrency", [1, 3, 16])
def test_vbuckets_in_order(fe, writer, key, concurrency):
    load(writer, key + ":", 300)
    rows = fe.scan(PrefixScan(key + ":"), ScanOptions(concurrency=concurrency,
                                                       batch_item_limit=4))
    order = [(vbucket(r.id), r.id) for r in rows]
    assert len(order) == 300
    assert order == sorted(order)


def test_bad_arguments(fe, key):
    bad = [
        lambda c: c.scan(SamplingScan(0)),
        lambda c: c.scan(SamplingScan(-3)),
        lambda c: c.scan("not a scan type"),
        lambda c: c.scan(PrefixScan(key), ScanOptions(concurrency=0)),
        lambda c: c.scan(PrefixScan(key), ScanOptions(consistent_with=MutationState())),
    ]
    for make in bad:
        with pytest.raises(InvalidArgumentException):
            # raised by scan() or by the first step of the iteration, as the SDK does it
            it = fe.call(make)
            fe.rest(it)


def test_iterable_once(fe, writer, key):
    load(writer, key + ":", 5)
    it = fe.call(lambda c: c.scan(PrefixScan(key + ":"), IDS))
    assert isinstance(it, ScanResultIterable)
    assert ids(fe.rest(it)) == keys(key, range(5))
    with pytest.raises(AlreadyQueriedException):
        fe.rest(it)


def test_cancel_scan_ends_the_iteration(fe, writer, key):
    load(writer, key + ":", 300)
    it = fe.call(lambda c: c.scan(PrefixScan(key + ":"), ScanOptions(batch_item_limit=2)))
    first, running = fe.iterate(it, 3)
    assert all(r.id.startswith(key + ":") for r in first)
    fe.call(lambda c: running.cancel_scan())
    rest = fe.rest(running)
    assert len(first) + len(rest) < 300
    # the server serves a new scan at once
    assert len(fe.scan(PrefixScan(key + ":"), IDS)) == 300


@pytest.fixture(scope="module")
def one_scan_server():
    """A server that lets a connection hold one open scan and never times scans out: a scan
    left open blocks every later scan of that connection."""
    with DivanServer("Administrator", "password", users=("user:password",),
                     args=("--threads", "1", "--max-range-scans", "1",
                           "--range-scan-timeout", "3600")) as s:
        yield s


@pytest.mark.parametrize("name", sorted(FRONT_ENDS))
@pytest.mark.parametrize("how", ["cancel_scan", "break", "drop"])
def test_abandoned_scans_are_released(one_scan_server, name, how):
    f = front_end(name, one_scan_server)
    try:
        from couchbase.cluster import Cluster
        from conftest import options
        w = Cluster(one_scan_server.connstr, options())
        load(w.bucket("default").default_collection(), f"rel-{how}:", 2000)
        w.close()
        quick = ScanOptions(batch_item_limit=1, timeout=timedelta(seconds=5))
        for _ in range(3):
            if how == "break":
                assert len(f.scan(PrefixScan(f"rel-{how}:"), quick, limit=1)) == 1
            else:
                it = f.call(lambda c: c.scan(PrefixScan(f"rel-{how}:"), quick))
                first, running = f.iterate(it, 1)
                assert first[0].id.startswith(f"rel-{how}:")
                if how == "cancel_scan":
                    f.call(lambda c: running.cancel_scan())
                del it, running
                # A dropped iteration is released when it is collected: now, for a test that
                # does not depend on when the collector runs (an async iterator is held by
                # reference cycles of the task that returned it).
                gc.collect()
            # fails (the scan limit's EBUSY) if the scan above still held the server's scan
            assert len(f.scan(PrefixScan(f"rel-{how}:"), IDS)) == 2000
    finally:
        f.close()


def test_scan_during_writes(fe, server, writer, key):
    load(writer, key + ":", 500)
    stop = threading.Event()
    errors = []

    def write():
        from couchbase.cluster import Cluster
        from conftest import options
        c = Cluster(server.connstr, options())
        coll = c.bucket("default").default_collection()
        try:
            i = 0
            while not stop.is_set() and i < 20000:
                coll.upsert(f"{key}:{i % 500:05d}", {"i": i % 500, "gen": i})
                coll.upsert(f"{key}:new{i:05d}", {"i": i})
                coll.remove(f"{key}:new{i:05d}")
                i += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            c.close()

    t = threading.Thread(target=write, daemon=True)
    t.start()
    try:
        for _ in range(3):
            rows = fe.scan(PrefixScan(key + ":0"))
            # The 500 original keys are never deleted: each scan sees each of them once, with
            # a document that was written at some point.
            assert ids(rows) == keys(key, range(500))
            assert all(r.content["i"] == int(r.id[-5:]) for r in rows)
    finally:
        stop.set()
        t.join(30)
    assert not errors


@pytest.mark.divan_only("builds MutationTokens by hand (the official class takes the core's form)")
def test_consistent_with_an_unreachable_token(fe, writer, key):
    from couchbase.exceptions import MutationTokenOutdatedException, UnAmbiguousTimeoutException
    from couchbase.result import MutationToken
    res = writer.upsert(key + ":0", {"i": 0})
    t = res.mutation_token()
    # another vbucket history (uuid): the server refuses the scan of that vbucket
    wrong_uuid = MutationState()
    wrong_uuid.add_mutation_token(MutationToken(
        (t.partition_uuid ^ 1, t.sequence_number, t.partition_id, t.bucket_name)))
    with pytest.raises(MutationTokenOutdatedException):
        fe.scan(PrefixScan(key + ":"), ScanOptions(consistent_with=wrong_uuid))
    # a seqno the vbucket never reaches: retried until the timeout
    ahead = MutationState()
    ahead.add_mutation_token(MutationToken(
        (t.partition_uuid, t.sequence_number + 1000, t.partition_id, t.bucket_name)))
    with pytest.raises(UnAmbiguousTimeoutException):
        fe.scan(PrefixScan(key + ":"), ScanOptions(consistent_with=ahead,
                                                   timeout=timedelta(milliseconds=300)))
