"""The official exception of each failure a user can provoke against one node, asserted on both
SDKs (the official SDK is the judge of which class each one is)."""

import asyncio
import json
import os
import signal
from datetime import timedelta

import pytest

import couchbase.subdocument as SD
from acouchbase.cluster import Cluster
from couchbase.auth import PasswordAuthenticator
from couchbase.exceptions import (AmbiguousTimeoutException, BucketNotFoundException,
                                  CouchbaseException, DeltaInvalidException,
                                  DocumentLockedException, DocumentNotJsonException,
                                  InvalidArgumentException, InvalidValueException,
                                  PathInvalidException, PathTooBigException,
                                  ScopeNotFoundException, UnAmbiguousTimeoutException,
                                  ValueFormatException, ValueTooDeepException)
from couchbase.options import ClusterOptions
from couchbase.transcoder import RawBinaryTranscoder, RawStringTranscoder
from divan.server import DivanServer
from sdk_under_test import stop_process

SHORT = timedelta(milliseconds=500)

# name -> (what to await, given the collection, the bucket and the case's key maker; the
# exception it raises)
CASES = {
    "value above 20 MiB": (lambda c, b, k: c.upsert(k("big"), "x" * (21 << 20)),
                           CouchbaseException),
    "increment of JSON": (lambda c, b, k: c.binary().increment(k("json")), DeltaInvalidException),
    "sub-document on binary": (lambda c, b, k: c.mutate_in(k("bin"), [SD.upsert("a", 1)]),
                               DocumentNotJsonException),
    "malformed path": (lambda c, b, k: c.mutate_in(k("json"), [SD.upsert("a[", 1)]),
                       PathInvalidException),
    "path too deep": (lambda c, b, k: c.mutate_in(
        k("json"), [SD.upsert(".".join(["p"] * 40), 1, create_parents=True)]), PathTooBigException),
    "value too deep": (lambda c, b, k: c.mutate_in(
        k("json"), [SD.upsert("deep", json.loads("[" * 40 + "]" * 40))]), ValueTooDeepException),
    "counter overflow": (lambda c, b, k: c.mutate_in(k("json"), [SD.increment("n", 1)]),
                         InvalidValueException),
    "get of the empty path": (lambda c, b, k: c.lookup_in(k("json"), [SD.get("")]),
                              InvalidArgumentException),
    "unknown collection": (lambda c, b, k: b.collection("nope").get("x", timeout=SHORT),
                           UnAmbiguousTimeoutException),
    "unknown scope": (lambda c, b, k: b.scope("nope").collection("x").get("x", timeout=SHORT),
                      ScopeNotFoundException),
    "lock of a locked document": (lambda c, b, k: c.get_and_lock(
        k("locked"), timedelta(seconds=5), timeout=SHORT), DocumentLockedException),
}


async def _content(future):
    return (await future).content_as[str]


@pytest.mark.parametrize("name", sorted(CASES))
def test_error(run_with, name):
    make, expected = CASES[name]

    def k(key):  # each case its own documents
        return "%s/%s" % (name, key)

    async def test(coll, bucket):
        await coll.upsert(k("json"), {"a": 1, "n": 9223372036854775807})
        await coll.upsert(k("bin"), b"\x01\x02", transcoder=RawBinaryTranscoder())
        await coll.upsert(k("locked"), {"l": 1})
        await coll.get_and_lock(k("locked"), timedelta(seconds=5))
        with pytest.raises(expected) as info:
            await make(coll, bucket, k)
        assert type(info.value) is expected  # not merely a subclass
    run_with(test)


def test_content_that_is_not_json(run_with):
    async def test(coll, _bucket):
        await coll.upsert("badjson", "{not json", transcoder=RawStringTranscoder())
        with pytest.raises(ValueFormatException):
            await _content(coll.get("badjson"))
    run_with(test)


def test_unknown_bucket(server, run):
    async def main():
        cluster = Cluster(server.connstr, ClusterOptions(PasswordAuthenticator("user", "password")))
        with pytest.raises(BucketNotFoundException):
            await cluster.bucket("nope").on_connect()
        await cluster.close()
    run(main())


def test_timeouts_of_a_hung_server(run):
    """A server that stops answering (SIGSTOP): a write's outcome is unknown, a read's is not."""
    with DivanServer() as server:
        async def main():
            cluster = Cluster(server.connstr,
                              ClusterOptions(PasswordAuthenticator("user", "password")))
            bucket = cluster.bucket("default")
            await bucket.on_connect()
            coll = bucket.default_collection()
            await coll.upsert("hung", 0)
            stop_process(server.pid)
            try:
                with pytest.raises(AmbiguousTimeoutException):
                    await coll.upsert("hung", 1, timeout=SHORT)
                with pytest.raises(UnAmbiguousTimeoutException):
                    await coll.get("hung", timeout=SHORT)
            finally:
                os.kill(server.pid, signal.SIGCONT)
            # the server answers again: so does the client
            assert (await asyncio.wait_for(coll.get("hung"), 10)).content_as[int] in (0, 1)
            await cluster.close()
        run(main())
