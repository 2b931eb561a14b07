"""Large query results stream: the rows are handed out as they arrive with bounded client
memory (a reader slower than the network pauses the response), and a reader that stops early
cancels the query without harm to the next one."""

import asyncio

import pytest

from conftest import query, raw
from sdk_under_test import SDK

ROWS = 100_000
PAD = 1000
# About 100 MB of rows, made by the service without any documents.
BIG = "SELECT i, REPEAT('x', %d) AS pad FROM ARRAY_RANGE(0, $n) AS i" % PAD


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/self/status" % field)


def _consume(fe, cluster, n):
    """Iterate the rows of BIG without keeping them: (count, sum of i, last pad length)."""
    target = raw(cluster)
    seen = [0, 0, 0]

    def take(row):
        seen[0] += 1
        seen[1] += row["i"]
        seen[2] = len(row["pad"])

    if fe.name == "asyncio":
        async def run():
            async for row in target.query(BIG, n=n).rows():
                take(row)
        fe.run(run)
    else:
        for row in fe.run(lambda: target.query(BIG, n=n)).rows():
            take(row)
    return tuple(seen)


@pytest.mark.divan_only("the memory bound of divan's row stream")
def test_large_result_streams_with_bounded_memory(fe, kv):
    if fe.name == "twisted":
        pytest.skip("txcouchbase's Deferred fires with the whole result, as the official one")
    cluster, _, _ = kv
    before = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:  # the peak (VmHWM) starts again from here
        f.write("5")
    count, total, pad = _consume(fe, cluster, ROWS)
    peak = _status_kb("VmHWM")
    assert (count, total, pad) == (ROWS, ROWS * (ROWS - 1) // 2, PAD)
    # ~100 MB went through; a client holding the response, or its rows, would grow by more.
    assert peak - before < 40 * 1024, "client memory grew by %d kB" % (peak - before)


def test_reader_that_stops_early(fe, kv):
    if fe.name == "asyncio" and SDK == "official":
        pytest.skip("the official acouchbase 4.6.3 aborts the process when an async for over a "
                    "query's rows stops early")
    cluster, _, _ = kv
    target = raw(cluster)
    if fe.name == "asyncio":
        async def run():
            got = []
            result = target.query(BIG, n=ROWS)
            async for row in result.rows():
                got.append(row["i"])
                if len(got) == 10:
                    break
            return got, result.metadata()
        got, meta = fe.run(run)
    else:
        result = fe.run(lambda: target.query(BIG, n=ROWS))
        got = []
        for row in result.rows():
            got.append(row["i"])
            if len(got) == 10:
                break
        meta = result.metadata()
    assert got == list(range(10))
    assert meta is None  # the rows were not all consumed
    # The service and the connection pool are fine for the next query.
    assert query(fe, cluster, "SELECT RAW 1 + 1")[0] == [2]


@pytest.mark.divan_only("divan's engine counts its pending requests")
def test_cancelled_task_cancels_stream(fe, kv):
    if fe.name != "asyncio":
        pytest.skip("asyncio only")
    cluster, _, _ = kv
    target = raw(cluster)

    async def run():
        first = asyncio.get_running_loop().create_future()

        async def rows():
            async for row in target.query(BIG, n=ROWS).rows():
                if not first.done():
                    first.set_result(row["i"])
        task = asyncio.ensure_future(rows())
        assert await first == 0  # streaming has begun
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return target._core.pending()

    assert fe.run(run) == 0
    assert query(fe, cluster, "SELECT RAW 3")[0] == [3]
