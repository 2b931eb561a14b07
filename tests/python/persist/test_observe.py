"""Client-side PersistTo (the SDK polls OBSERVE_SEQNO until the write's seqno is persisted)
and the legacy OBSERVE-based answers, against a server that persists: the write is on disk when
the SDK says so, so it survives a SIGKILL."""

import pytest

from couchbase.durability import ClientDurability, PersistToExtended
from couchbase.options import UpsertOptions

from conftest import connect


@pytest.mark.divan_only("the official core counts persist_to=active as met by any OBSERVE_SEQNO "
                        "answer (persisted >= 0 replicas), so it does not wait for the disk; "
                        "persist_to=one needs a replica this single node does not have")
def test_persist_to_active_survives_sigkill(node, run):
    async def write():
        cluster, bucket = await connect(node.start())
        coll = bucket.default_collection()
        res = await coll.upsert("observed", {"v": 1}, UpsertOptions(
            durability=ClientDurability(persist_to=PersistToExtended.ACTIVE)))
        await cluster.close()
        return res.cas

    async def read():
        cluster, bucket = await connect(node.start())
        got = await bucket.default_collection().get("observed")
        await cluster.close()
        return got.content_as[dict], got.cas

    cas = run(write())
    node.kill()
    assert run(read()) == ({"v": 1}, cas)
