"""A full scan of a bucket of 100k documents of 1 KiB (100 MiB): every document once, and neither
the client nor the server grows by more than a fraction of the data while scanning (peak
resident memory, from /proc: VmHWM after clear_refs resets it)."""

import os

import pytest

from couchbase.kv_range_scan import RangeScan
from couchbase.options import ScanOptions

from conftest import BIG

PAD = "x" * 1000
BOUND_MIB = 48  # about half the data: a client or server holding the whole scan fails


def hwm_reset(pid):
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


def kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


@pytest.fixture(scope="module")
def big(server):
    from couchbase.cluster import Cluster
    from conftest import options
    c = Cluster(server.connstr, options())
    coll = c.bucket("big").default_collection()
    for start in range(0, BIG, 5000):
        docs = {f"doc{i:06d}": {"i": i, "pad": PAD} for i in range(start, start + 5000)}
        assert coll.upsert_multi(docs).all_ok
    c.close()
    return BIG


def full_scan(fe, server, big, opts):
    """Scan bucket big through fe: (client, server) growth of peak resident memory in MiB."""
    me = os.getpid()
    fe.coll("big")  # connected before measuring
    seen = bytearray(big)
    count = [0]

    def each(row):
        i = row.content["i"]
        assert row.id == f"doc{i:06d}"
        seen[i] += 1
        count[0] += 1

    before = kib(me, "VmRSS"), kib(server.pid, "VmRSS")
    hwm_reset(me)
    hwm_reset(server.pid)
    rows = fe.scan(RangeScan(), opts, bucket="big", each=each, keep=False, timeout=300)
    growth = ((kib(me, "VmHWM") - before[0]) // 1024, (kib(server.pid, "VmHWM") - before[1]) // 1024)
    assert not rows
    assert count[0] == big
    assert set(seen) == {1}, "some document was missed or seen twice"
    return growth


@pytest.mark.parametrize("opts", [ScanOptions(), ScanOptions(batch_item_limit=200, concurrency=4)],
                         ids=["defaults", "concurrency4"])
def test_full_scan_of_100k_documents(fe, server, big, opts):
    _, server_growth = full_scan(fe, server, big, opts)
    assert server_growth < BOUND_MIB, "the server grew by %d MiB" % server_growth


@pytest.mark.divan_only("the official SDK's scan buffers what the server sends ahead of the "
                        "reader: 7 to 119 MiB for this scan, depending on the options and the run")
@pytest.mark.parametrize("opts", [ScanOptions(), ScanOptions(batch_item_limit=200, concurrency=4)],
                         ids=["defaults", "concurrency4"])
def test_client_memory_is_bounded(fe, server, big, opts):
    client_growth, _ = full_scan(fe, server, big, opts)
    assert client_growth < BOUND_MIB, "the client grew by %d MiB" % client_growth
