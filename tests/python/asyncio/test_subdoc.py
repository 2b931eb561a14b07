"""lookup_in and mutate_in on divan-server: per-spec results, lazy per-spec errors on
lookups, path errors of mutations at call time, counters, store semantics, xattrs."""

import asyncio
from datetime import timedelta

import pytest

import couchbase.subdocument as SD
from acouchbase.cluster import Cluster
from couchbase.auth import PasswordAuthenticator
from couchbase.exceptions import (CasMismatchException, DocumentExistsException,
                                  DocumentNotFoundException, InvalidArgumentException,
                                  InvalidIndexException, PathExistsException,
                                  PathMismatchException, PathNotFoundException)
from couchbase.options import ClusterOptions, LookupInOptions, MutateInOptions
from couchbase.result import LookupInResult, MutateInResult



DOC = {"name": "Ted", "age": 80, "tags": ["a", "b"], "addr": {"city": "Oslo"}}


def test_lookup_in(run_with):
    async def test(coll, _bucket):
        up = await coll.upsert("sd-look", DOC)
        fut = coll.lookup_in("sd-look", (SD.get("name"), SD.exists("age"), SD.exists("nope"),
                                         SD.count("tags"), SD.get("addr"), SD.get("missing"),
                                         SD.get_full()), LookupInOptions(timeout=timedelta(seconds=2)))
        res = await fut
        assert isinstance(res, LookupInResult) and res.cas == up.cas
        assert res.content_as[str](0) == "Ted"
        assert res.content_as[bool](1) is True and res.exists(1)
        assert res.content_as[bool](2) is False and res.exists(2) is False
        assert res.content_as[int](3) == 2
        assert res.content_as[dict](4) == {"city": "Oslo"}
        assert res.exists(5) is False
        with pytest.raises(PathNotFoundException):
            res.content_as[dict](5)
        assert res.content_as[dict](6) == DOC
        with pytest.raises(InvalidIndexException):
            res.content_as[str](7)
        single = await coll.lookup_in("sd-look", [SD.get("tags")])
        assert single.content_as[list](0) == ["a", "b"]
        with pytest.raises(PathMismatchException):
            (await coll.lookup_in("sd-look", [SD.get("name.first")])).content_as[str](0)
        with pytest.raises(DocumentNotFoundException):
            await coll.lookup_in("sd-look-missing", [SD.get("name")])
        with pytest.raises(InvalidArgumentException):
            await coll.lookup_in("sd-look", [SD.upsert("x", 1)])
    run_with(test)


def test_mutate_in(run_with):
    async def test(coll, _bucket):
        up = await coll.upsert("sd-mut", DOC)
        res = await coll.mutate_in("sd-mut", (
            SD.upsert("name", "Bob"), SD.insert("addr.zip", "0150"), SD.array_append("tags", "c"),
            SD.array_prepend("tags", "z"), SD.remove("age"), SD.increment("visits", 150),
            SD.upsert("deep.er", True, create_parents=True)), MutateInOptions(cas=up.cas))
        assert isinstance(res, MutateInResult) and res.cas != up.cas
        assert res.mutation_token() is not None
        assert res.content_as[int](5) == 150
        doc = (await coll.get("sd-mut")).content_as[dict]
        assert doc == {"name": "Bob", "tags": ["z", "a", "b", "c"], "visits": 150,
                       "addr": {"city": "Oslo", "zip": "0150"}, "deep": {"er": True}}
        counter = await coll.mutate_in("sd-mut", [SD.decrement("visits", 50)])
        assert counter.content_as[int](0) == 100
        with pytest.raises(PathNotFoundException):
            await coll.mutate_in("sd-mut", [SD.replace("no.such", 1)])
        with pytest.raises(PathNotFoundException):
            await coll.mutate_in("sd-mut", [SD.upsert("name", "X"), SD.remove("gone")])
        assert (await coll.get("sd-mut")).content_as[dict]["name"] == "Bob"
        with pytest.raises(PathExistsException):
            await coll.mutate_in("sd-mut", [SD.insert("name", "X")])
        with pytest.raises(CasMismatchException):
            await coll.mutate_in("sd-mut", [SD.upsert("name", "X")], cas=up.cas)
        with pytest.raises(DocumentNotFoundException):
            await coll.mutate_in("sd-mut-missing", [SD.upsert("a", 1)])
    run_with(test)


def test_mutate_in_store_semantics_and_xattrs(run_with):
    async def test(coll, _bucket):
        await coll.mutate_in("sd-sem", [SD.upsert("a", 1)],
                             store_semantics=SD.StoreSemantics.UPSERT)
        with pytest.raises(DocumentExistsException):
            await coll.mutate_in("sd-sem", [SD.upsert("a", 2)],
                                 store_semantics=SD.StoreSemantics.INSERT)
        await coll.mutate_in("sd-sem2", [SD.upsert("b", 2)], insert_doc=True)
        assert (await coll.get("sd-sem2")).content_as[dict] == {"b": 2}
        await coll.mutate_in("sd-sem", [SD.upsert("meta.owner", "me", xattr=True,
                                                  create_parents=True)],
                             expiry=timedelta(seconds=100))
        res = await coll.lookup_in("sd-sem", [SD.get("meta.owner", xattr=True), SD.get("a")])
        assert res.content_as[str](0) == "me" and res.content_as[int](1) == 1
        assert (await coll.get("sd-sem", with_expiry=True)).expiry_time is not None
        assert (await coll.get("sd-sem")).content_as[dict] == {"a": 1}
    run_with(test)
