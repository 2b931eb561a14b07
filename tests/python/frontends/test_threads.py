"""One blocking Cluster shared by threads."""

import threading

from couchbase.result import GetResult, MutationResult


def test_eight_threads_share_one_cluster(server):
    """8 threads × 10,000 operations (5,000 writes, then 5,000 reads of them) on one Cluster:
    no error, and every result is its own caller's (none lost, none swapped)."""
    from conftest import Blocking
    cluster, _, coll = Blocking().open(server.connstr)
    threads, per = 8, 5_000
    errors, seen = [], [None] * threads

    def work(t):
        try:
            written = {}
            for i in range(per):
                k = "thread%d-%d" % (t, i)
                r = coll.upsert(k, {"t": t, "i": i})
                assert isinstance(r, MutationResult)
                written[k] = r.cas
            read = {}
            for k in written:
                g = coll.get(k)
                assert isinstance(g, GetResult)
                read[k] = (g.cas, g.content_as[dict])
            seen[t] = (written, read)
        except Exception as exc:  # reported below, with the thread's number
            errors.append((t, exc))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    for t, (written, read) in enumerate(seen):
        assert len(read) == per
        for i in range(per):
            k = "thread%d-%d" % (t, i)
            assert read[k] == (written[k], {"t": t, "i": i})
    cluster.close()
