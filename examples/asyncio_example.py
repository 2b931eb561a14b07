"""The asyncio example of divan's brief, run by `make demo` against divan-server on localhost.

Until divan's own Python SDK lands, `make demo` runs this with the official SDK (PyPI
`couchbase` 4.x), which has `content_as[dict]` but no longer the 3.x `.content`.
"""

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
    person = get_result.content_as[dict]
    print("upsert cas:", upsert_result.cas)
    print("doc1:", person)
    await cluster.close()


asyncio.run(main())
