"""The asyncio example of the project brief, run unchanged on the official SDK against divan-server.

Two edits only: the connection string names the test server's KV port, and the official 4.x SDK
reads the document with get_result.content_as[dict] (it no longer has get_result.content).
"""

import asyncio

import acouchbase.cluster
import couchbase.auth
import couchbase.cluster
import couchbase.options
import pytest


# The example imports ClusterOptions from couchbase.cluster, which the 4.x SDK deprecates (it warns).
@pytest.mark.filterwarnings("ignore:Importing ClusterOptions from couchbase.cluster is deprecated")
def test_brief_example_on_asyncio(server, capsys):
    async def example():
        cluster = acouchbase.cluster.Cluster(server.connstr, couchbase.cluster.ClusterOptions(
            couchbase.auth.PasswordAuthenticator("user", "password")))
        bucket = cluster.bucket("default")
        await bucket.on_connect()
        collection = bucket.default_collection()
        upsert_result = await collection.upsert("doc1", dict(name="Ted", age=80))
        get_result = await collection.get("doc1")
        person = get_result.content_as[dict]
        print(person)
        assert upsert_result.cas == get_result.cas
        await cluster.close()
        return person

    person = asyncio.run(example())
    assert person == {"name": "Ted", "age": 80}
    assert "{'name': 'Ted', 'age': 80}" in capsys.readouterr().out


def test_asyncio_concurrent_operations(server):
    """2,000 upserts, then 2,000 gets, in flight together over three asyncio clusters."""
    n = 2000

    async def run():
        opts = couchbase.options.ClusterOptions(couchbase.auth.PasswordAuthenticator("user", "password"))
        clusters = [acouchbase.cluster.Cluster(server.connstr, opts) for _ in range(3)]
        colls = []
        for c in clusters:
            b = c.bucket("default")
            await b.on_connect()
            colls.append(b.default_collection())
        keys = [f"py-async-many-{i}" for i in range(n)]
        await asyncio.gather(*(colls[i % 3].upsert(k, {"i": i, "pad": "y" * (i % 100)})
                               for i, k in enumerate(keys)))
        got = await asyncio.gather(*(colls[(i + 1) % 3].get(k) for i, k in enumerate(keys)))
        for c in clusters:
            await c.close()
        return [g.content_as[dict] for g in got]

    docs = asyncio.run(run())
    assert docs == [{"i": i, "pad": "y" * (i % 100)} for i in range(n)]
