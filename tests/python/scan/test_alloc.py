"""divan's scans free everything they hold: scans read out, cancelled, abandoned mid-way (with
creates and continues in flight) and left open when their cluster closes."""

import gc

import pytest

from couchbase.kv_range_scan import PrefixScan
from couchbase.options import ScanOptions

from conftest import FRONT_ENDS, load, options


@pytest.mark.divan_only("divan's allocation counters")
def test_scans_free_what_they_hold(server):
    from couchbase import _core
    from couchbase.cluster import Cluster
    c = Cluster(server.connstr, options())
    load(c.bucket("default").default_collection(), "alloc:", 500)
    c.close()
    for name in sorted(FRONT_ENDS):
        f = FRONT_ENDS[name](server)
        opts = ScanOptions(batch_item_limit=3, concurrency=8)
        assert len(f.scan(PrefixScan("alloc:"), opts)) == 500
        assert len(f.scan(PrefixScan("alloc:"), opts, limit=7)) == 7  # abandoned
        it = f.call(lambda c: c.scan(PrefixScan("alloc:"), opts))
        _, running = f.iterate(it, 5)
        f.call(lambda c: running.cancel_scan())
        it = f.call(lambda c: c.scan(PrefixScan("alloc:"), opts))
        _, still_open = f.iterate(it, 5)  # open while its cluster closes
        f.close()
        del it, running, still_open
    gc.collect()
    live = _core._alloc_live()
    assert live in (0, -1), "%d allocations of libdivan still live" % live
