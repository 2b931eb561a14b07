"""The asyncio example of divan's brief, run by `make demo` against divan-server on localhost,
on divan's own SDK (python/ and the _core extension built in build/python)."""

import asyncio

import acouchbase.cluster
import couchbase.auth
import couchbase.cluster


async def main():
    cluster = acouchbase.cluster.Cluster("couchbase://localhost", couchbase.cluster.ClusterOptions(
        couchbase.auth.PasswordAuthenticator("user", "password")))
    bucket = cluster.bucket("default")
    await bucket.on_connect()
    collection = bucket.default_collection()
    upsert_result = await collection.upsert("doc1", dict(name="Ted", age=80))
    get_result = await collection.get("doc1")
    person = get_result.content
    print("upsert cas:", upsert_result.cas)
    print("doc1:", person)
    await cluster.close()


asyncio.run(main())
