"""The crash test of persistence: a client writes with persistToMajority, 64 writes in flight,
the server is killed with SIGKILL at a random moment and started again on the same data
directory, and every acknowledged write is there with its value and CAS. Plain writes older
than the flush delay survive too. Repeated with different seeds, on both SDKs.

Each of the 64 writers owns its keys and has one write in flight at a time, so a key's last
acknowledged write is its newest one, unless the write in flight when the server died reached
the disk first (then that newer value is found, which is also correct)."""

import asyncio
import datetime
import os
import random
import signal
import time

import pytest

from conftest import FLUSH_MS, connect

ROUNDS = int(os.environ.get("DIVAN_CRASH_ROUNDS", "20"))
IN_FLIGHT = 64
KEYS_PER_WRITER = 20
PLAIN_KEYS = 200


async def crash_round(node, seed):
    from couchbase.durability import DurabilityLevel, ServerDurability
    from couchbase.options import UpsertOptions

    rnd = random.Random(seed)
    srv = node.start()
    cluster, bucket = await connect(srv)
    coll = bucket.default_collection()
    # Plain writes, then longer than the flush delay: they must be on disk by then.
    plain = {}
    for i in range(PLAIN_KEYS):
        key = "plain-%d-%d" % (seed, i)
        plain[key] = (await coll.upsert(key, {"plain": i})).cas
    time.sleep(4 * FLUSH_MS / 1000)  # the documented bound is what is tested here

    acked = {}    # key -> (value, cas) of its last acknowledged write
    pending = {}  # key -> value of the write in flight when the server died
    dur = UpsertOptions(durability=ServerDurability(DurabilityLevel.PERSIST_TO_MAJORITY),
                        timeout=datetime.timedelta(seconds=10))
    killed = asyncio.Event()
    count = [0]

    async def writer(w):
        n = 0
        while not killed.is_set():
            key = "dur-%d-%d" % (w, n % KEYS_PER_WRITER)
            value = {"seed": seed, "w": w, "n": n}
            pending[key] = value
            res = await coll.upsert(key, value, dur)
            if killed.is_set():
                return  # answered after the kill: counted as unacknowledged
            acked[key] = (value, res.cas)
            count[0] += 1
            del pending[key]
            n += 1

    tasks = [asyncio.ensure_future(writer(w)) for w in range(IN_FLIGHT)]
    await asyncio.sleep(rnd.uniform(0.05, 0.6))
    killed.set()
    os.kill(srv.pid, signal.SIGKILL)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert srv.stop() == -9
    try:
        await cluster.close()
    except Exception:
        pass

    srv = node.start()
    cluster, bucket = await connect(srv)
    coll = bucket.default_collection()
    lost = []
    sem = asyncio.Semaphore(64)

    async def check(key, want_value, want_cas, alt):
        async with sem:
            try:
                got = await coll.get(key)
            except Exception as e:  # DocumentNotFoundException: lost
                lost.append((key, repr(e)))
                return
            value = got.content_as[dict]
            if value == want_value and got.cas == want_cas:
                return
            if alt is not None and value == alt:
                return
            lost.append((key, value, got.cas, want_value, want_cas))

    checks = [check(k, v, c, pending.get(k)) for k, (v, c) in acked.items()]
    checks += [check(k, {"plain": int(k.rsplit("-", 1)[1])}, c, None) for k, c in plain.items()]
    await asyncio.gather(*checks)
    await cluster.close()
    node.stop()
    return count[0], len(acked), lost


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_acknowledged_writes_survive_sigkill(node, run, seed):
    n, keys, lost = run(crash_round(node, seed))
    print("seed %d: %d durable writes acknowledged (%d keys, each checked), %d plain, %d lost"
          % (seed, n, keys, PLAIN_KEYS, len(lost)))
    assert n > 0, "no durable write was acknowledged before the kill"
    assert lost == []
