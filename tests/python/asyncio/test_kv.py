"""The asyncio Collection's KV and binary operations on divan-server, with the official results
and error mapping; named scopes and collections created over divan-server's REST API."""

import asyncio
import base64
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta

import pytest

from acouchbase.cluster import Cluster
from couchbase.auth import PasswordAuthenticator
from couchbase.durability import DurabilityLevel, ServerDurability
from couchbase.exceptions import (AmbiguousTimeoutException, CasMismatchException,
                                  DocumentExistsException, DocumentLockedException,
                                  DocumentNotFoundException, DocumentNotLockedException,
                                  InvalidArgumentException)
from couchbase.options import (ClusterOptions, DeltaValue, GetOptions, IncrementOptions,
                               InsertOptions, ReplaceOptions, SignedInt64, UpsertOptions)
from couchbase.result import CounterResult, ExistsResult, GetResult, MutationResult
from couchbase.transcoder import RawBinaryTranscoder



def test_result_types(run_with):
    async def test(coll, _bucket):
        res = await coll.upsert("kv-types", {"a": 1})
        assert isinstance(res, MutationResult) and res.cas
        token = res.mutation_token()
        assert token is not None and token.bucket_name == "default"
        assert token.as_tuple() == (token.partition_id, token.partition_uuid,
                                    token.sequence_number, "default")
        got = await coll.get("kv-types")
        assert isinstance(got, GetResult)
        assert got.content_as[dict] == {"a": 1} and got.cas == res.cas
        assert got.expiry_time is None
    run_with(test)


def test_exists(run_with):
    async def test(coll, _bucket):
        await coll.upsert("kv-exists", 1)
        res = await coll.exists("kv-exists")
        assert isinstance(res, ExistsResult) and res.exists and res.cas
        assert (await coll.exists("kv-exists-missing")).exists is False
        await coll.remove("kv-exists")
        assert (await coll.exists("kv-exists")).exists is False
    run_with(test)


def test_insert_replace_remove(run_with):
    async def test(coll, _bucket):
        first = await coll.insert("kv-irr", {"v": 1}, InsertOptions(timeout=timedelta(seconds=2)))
        with pytest.raises(DocumentExistsException):
            await coll.insert("kv-irr", {"v": 2})
        with pytest.raises(DocumentNotFoundException):
            await coll.replace("kv-irr-missing", {"v": 1})
        second = await coll.replace("kv-irr", {"v": 2}, ReplaceOptions(cas=first.cas))
        assert second.cas != first.cas
        with pytest.raises(CasMismatchException):
            await coll.replace("kv-irr", {"v": 3}, cas=first.cas)
        with pytest.raises(CasMismatchException):
            await coll.remove("kv-irr", cas=first.cas)
        assert (await coll.get("kv-irr")).content_as[dict] == {"v": 2}
        removed = await coll.remove("kv-irr", cas=second.cas)
        assert removed.cas
        with pytest.raises(DocumentNotFoundException):
            await coll.get("kv-irr")
        with pytest.raises(DocumentNotFoundException):
            await coll.remove("kv-irr")
        with pytest.raises(InvalidArgumentException):
            await coll.replace("kv-irr", 1, expiry=timedelta(seconds=5), preserve_expiry=True)
    run_with(test)


def test_expiry_and_touch(run_with):
    async def test(coll, _bucket):
        before = datetime.now()
        await coll.upsert("kv-exp", "x", UpsertOptions(expiry=timedelta(seconds=100)))
        got = await coll.get("kv-exp", GetOptions(with_expiry=True))
        assert got.content_as[str] == "x"
        assert (before + timedelta(seconds=98) <= got.expiry_time
                <= datetime.now() + timedelta(seconds=101))
        # preserve_expiry keeps it, a plain upsert clears it
        await coll.upsert("kv-exp", "y", preserve_expiry=True)
        assert (await coll.get("kv-exp", with_expiry=True)).expiry_time is not None
        await coll.upsert("kv-exp", "z")
        assert (await coll.get("kv-exp", with_expiry=True)).expiry_time is None
        # 30 days and more becomes an absolute time
        await coll.upsert("kv-exp", "z", expiry=timedelta(days=40))
        exp = (await coll.get("kv-exp", with_expiry=True)).expiry_time
        assert abs((exp - datetime.now()) - timedelta(days=40)) < timedelta(seconds=5)
        touched = await coll.touch("kv-exp", timedelta(seconds=1))
        assert isinstance(touched, MutationResult) and touched.cas
        with pytest.raises(DocumentNotFoundException):
            await coll.touch("kv-exp-missing", timedelta(seconds=1))
        await coll.upsert("kv-gat", {"g": 1})
        gat = await coll.get_and_touch("kv-gat", timedelta(seconds=50))
        assert gat.content_as[dict] == {"g": 1}
        exp = (await coll.get("kv-gat", with_expiry=True)).expiry_time
        assert exp is not None and exp > datetime.now() + timedelta(seconds=40)
        with pytest.raises(InvalidArgumentException):
            await coll.touch("kv-gat", 5)
    run_with(test)


def test_lock_unlock(run_with):
    async def test(coll, _bucket):
        await coll.upsert("kv-lock", {"l": 1})
        locked = await coll.get_and_lock("kv-lock", timedelta(seconds=10))
        assert locked.content_as[dict] == {"l": 1}
        t0 = time.monotonic()
        with pytest.raises((DocumentLockedException, AmbiguousTimeoutException)):
            await coll.upsert("kv-lock", {"l": 2}, timeout=timedelta(milliseconds=300))
        assert time.monotonic() - t0 < 3
        with pytest.raises(CasMismatchException):
            await coll.unlock("kv-lock", locked.cas + 1)
        assert await coll.unlock("kv-lock", locked.cas) is None
        await coll.upsert("kv-lock", {"l": 3})
        with pytest.raises(DocumentNotLockedException):
            await coll.unlock("kv-lock", (await coll.get("kv-lock")).cas)
        with pytest.raises(DocumentNotFoundException):
            await coll.get_and_lock("kv-lock-missing", timedelta(seconds=1))
    run_with(test)


def test_durability_majority(run_with):
    async def test(coll, _bucket):
        dur = ServerDurability(DurabilityLevel.MAJORITY)
        res = await coll.upsert("kv-dur", {"d": 1}, UpsertOptions(durability=dur))
        assert res.cas and res.mutation_token() is not None
        await coll.replace("kv-dur", {"d": 2}, durability=dur)
        await coll.binary().increment("kv-dur-ctr", durability=dur)
        await coll.remove("kv-dur", durability=dur)
        with pytest.raises(DocumentNotFoundException):
            await coll.get("kv-dur")
    run_with(test)


def test_counters(run_with):
    async def test(coll, _bucket):
        binary = coll.binary()
        res = await binary.increment("kv-ctr", IncrementOptions(initial=SignedInt64(10)))
        assert isinstance(res, CounterResult) and res.content == 10 and res.cas
        res = await binary.increment("kv-ctr", delta=DeltaValue(5))
        assert res.content == 15
        res = await binary.decrement("kv-ctr", delta=DeltaValue(20))
        assert res.content == 0  # counters do not go below zero
        assert (await coll.get("kv-ctr")).content_as[int] == 0
        with pytest.raises(DocumentNotFoundException):
            await binary.increment("kv-ctr-missing", initial=SignedInt64(-1))
        with pytest.raises(DocumentNotFoundException):
            await binary.decrement("kv-ctr-missing", initial=SignedInt64(-1))
        assert (await binary.decrement("kv-ctr-new")).content == 0
        with pytest.raises(InvalidArgumentException):
            await binary.increment("kv-ctr", delta=5)
    run_with(test)


def test_append_prepend(run_with):
    async def test(coll, _bucket):
        raw = RawBinaryTranscoder()
        await coll.upsert("kv-bin", b"mid", transcoder=raw)
        res = await coll.binary().append("kv-bin", b"-end")
        assert isinstance(res, MutationResult) and res.cas
        await coll.binary().prepend("kv-bin", "start-")
        got = await coll.get("kv-bin", transcoder=raw)
        assert got.content_as[bytes] == b"start-mid-end"
        with pytest.raises(DocumentNotFoundException):
            await coll.binary().append("kv-bin-missing", b"x")
    run_with(test)


def test_gather_many(run_with):
    async def test(coll, _bucket):
        keys = ["kv-many-%d" % i for i in range(200)]
        await asyncio.gather(*(coll.upsert(k, {"k": k}) for k in keys))
        found = await asyncio.gather(*(coll.exists(k) for k in keys))
        assert all(r.exists for r in found)
        got = await asyncio.gather(*(coll.get(k) for k in keys))
        assert [g.content_as[dict]["k"] for g in got] == keys
    run_with(test)


def rest(server, method, path, form=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (server.http_port, path), data=data,
                                 method=method)
    req.add_header("Authorization", "Basic " + base64.b64encode(b"user:password").decode())
    with urllib.request.urlopen(req, timeout=5) as resp:
        return resp.status, resp.read()


def test_named_scope_and_collection(server, run_with):
    base = "/pools/default/buckets/default/scopes"
    status, _ = rest(server, "POST", base, {"name": "inventory"})
    assert status == 200
    status, _ = rest(server, "POST", base + "/inventory/collections", {"name": "hotels"})
    assert status == 200
    rest(server, "POST", base + "/_default/collections", {"name": "plain"})

    async def test(default, bucket):
        hotels = bucket.scope("inventory").collection("hotels")
        assert hotels.name == "hotels"
        await hotels.upsert("kv-coll", {"where": "hotels"})
        assert (await hotels.get("kv-coll")).content_as[dict] == {"where": "hotels"}
        with pytest.raises(DocumentNotFoundException):
            await default.get("kv-coll")
        plain = bucket.collection("plain")
        await plain.insert("kv-coll", {"where": "plain"})
        assert (await plain.get("kv-coll")).content_as[dict] == {"where": "plain"}
        assert (await hotels.get("kv-coll")).content_as[dict] == {"where": "hotels"}
        assert (await hotels.binary().increment("kv-coll-ctr")).content == 0
    run_with(test)


def test_lenient_options_as_in_the_official_sdk(run_with):
    """What the official SDK does with odd option values, copied: a durability of another type
    is ignored, an expiry past 2106 is cut to the protocol's 32 bits."""
    async def test(coll, _bucket):
        await coll.upsert("kv-lenient", 1, durability="majority")
        await coll.upsert("kv-lenient", 2, UpsertOptions(durability=1))
        before = int(time.time())
        await coll.upsert("kv-lenient", 3, expiry=timedelta(days=365 * 200))
        got = await coll.get("kv-lenient", with_expiry=True)
        assert got.content_as[int] == 3
        stored = int(got.expiry_time.timestamp())
        assert stored in {(before + d + 365 * 200 * 86400) & 0xFFFFFFFF for d in range(3)}
    run_with(test)
