"""The ``*_multi`` operations: the official SDK has them on the blocking API only; divan also on
acouchbase and txcouchbase (one Future or Deferred of the MultiResult)."""

from datetime import timedelta

import pytest

from couchbase.exceptions import (CasMismatchException, DocumentExistsException,
                                  DocumentNotFoundException, InvalidArgumentException)
from couchbase.options import (DeltaValue, GetMultiOptions, GetOptions, IncrementMultiOptions,
                               SignedInt64, UpsertMultiOptions)
from couchbase.result import (MultiCounterResult, MultiExistsResult, MultiGetReplicaResult,
                              MultiGetResult, MultiMutationResult)
from couchbase.transcoder import RawStringTranscoder
from sdk_under_test import SDK


@pytest.fixture
def kv(kv, fe):
    if SDK == "official" and fe.name != "blocking":
        pytest.skip("the official SDK lacks this: *_multi on its async front ends")
    return kv


def test_upsert_get_and_remove_many(kv, key):
    _, _, coll = kv
    docs = {key(str(i)): {"i": i} for i in range(100)}
    up = coll.upsert_multi(docs)
    assert isinstance(up, MultiMutationResult) and up.all_ok
    assert set(up.results) == set(docs) and up.exceptions == {}
    got = coll.get_multi(list(docs))
    assert isinstance(got, MultiGetResult) and got.all_ok
    assert {k: r.content_as[dict] for k, r in got.results.items()} == docs
    assert all(got.results[k].cas == up.results[k].cas for k in docs)
    assert coll.remove_multi(list(docs)).all_ok
    gone = coll.get_multi(list(docs))
    assert not gone.all_ok and gone.results == {}
    assert all(isinstance(e, DocumentNotFoundException) for e in gone.exceptions.values())


def test_a_result_or_an_exception_per_key(kv, key):
    _, _, coll = kv
    coll.upsert(key("a"), 1)
    inserted = coll.insert_multi({key("a"): 2, key("b"): 3})
    assert not inserted.all_ok
    assert list(inserted.results) == [key("b")]
    assert isinstance(inserted.exceptions[key("a")], DocumentExistsException)
    replaced = coll.replace_multi({key("a"): 4, key("c"): 5})
    assert list(replaced.results) == [key("a")]
    assert isinstance(replaced.exceptions[key("c")], DocumentNotFoundException)
    exists = coll.exists_multi([key("a"), key("c")])
    assert isinstance(exists, MultiExistsResult)
    assert {k: r.exists for k, r in exists.results.items()} == {key("a"): True, key("c"): False}
    with pytest.raises(DocumentNotFoundException):
        coll.get_multi([key("a"), key("c")], return_exceptions=False)


def test_options_per_key(kv, key):
    _, _, coll = kv
    coll.upsert_multi({key("a"): 1, key("b"): 2}, UpsertMultiOptions(
        expiry=timedelta(hours=1), per_key_options={key("b"): {"expiry": timedelta(0)}}))
    assert coll.get(key("a"), with_expiry=True).expiry_time is not None
    assert coll.get(key("b"), with_expiry=True).expiry_time is None


@pytest.mark.divan_only(reason="get_multi's with_expiry (4.6.3 accepts it and returns no expiry)")
def test_get_multi_with_expiry(kv, key):
    _, _, coll = kv
    coll.upsert_multi({key("a"): 1, key("b"): 2}, expiry=timedelta(hours=1))
    got = coll.get_multi([key("a"), key("b")], GetMultiOptions(with_expiry=True))
    assert all(r.expiry_time is not None for r in got.results.values())
    got = coll.get_multi([key("a"), key("b")],
                         per_key_options={key("b"): GetOptions(with_expiry=True)})
    assert got.results[key("a")].expiry_time is None  # with_expiry was for b only
    assert got.results[key("b")].expiry_time is not None


def test_lock_touch_and_unlock_many(kv, key):
    _, _, coll = kv
    keys = [key(str(i)) for i in range(5)]
    coll.upsert_multi({k: 0 for k in keys})
    assert coll.touch_multi(keys, timedelta(hours=1)).all_ok
    locked = coll.get_and_lock_multi(keys, timedelta(seconds=10))
    assert isinstance(locked, MultiGetResult) and locked.all_ok
    unlocked = coll.unlock_multi(locked)
    assert unlocked == {k: None for k in keys}
    assert coll.upsert_multi({k: 1 for k in keys}).all_ok  # unlocked: writable at once


def test_replica_reads_of_many(kv, key):
    _, _, coll = kv
    coll.upsert(key("a"), "x")
    any_copy = coll.get_any_replica_multi([key("a"), key("none")])
    assert isinstance(any_copy, MultiGetReplicaResult)
    assert any_copy.results[key("a")].content_as[str] == "x"
    assert key("none") in any_copy.exceptions
    every = coll.get_all_replicas_multi([key("a")])
    assert [r.content_as[str] for r in every.results[key("a")]] == ["x"]


def test_binary_many(kv, key, fe):
    _, _, coll = kv
    binary = fe.sync(coll.binary())
    counted = binary.increment_multi([key("x"), key("y")], IncrementMultiOptions(
        initial=SignedInt64(7), per_key_options={key("y"): {"initial": SignedInt64(1)}}))
    assert isinstance(counted, MultiCounterResult)
    assert {k: r.content for k, r in counted.results.items()} == {key("x"): 7, key("y"): 1}
    counted = binary.decrement_multi([key("x")], delta=DeltaValue(2))
    assert counted.results[key("x")].content == 5
    coll.upsert_multi({key("s"): "b"}, transcoder=RawStringTranscoder())
    assert binary.append_multi({key("s"): "c"}).all_ok
    assert binary.prepend_multi({key("s"): b"a"}).all_ok
    assert coll.get(key("s"), transcoder=RawStringTranscoder()).value == "abc"


def test_bad_arguments(kv, key):
    _, _, coll = kv
    with pytest.raises(InvalidArgumentException):
        coll.get_multi(key("a"))  # not a list
    with pytest.raises(InvalidArgumentException):
        coll.upsert_multi([key("a")])  # not a dict
    assert coll.get_multi([]).all_ok


def test_a_bad_argument_sends_nothing(kv, key):
    _, _, coll = kv
    coll.upsert_multi({key("a"): 1, key("b"): 2})
    locked = coll.get_and_lock(key("a"), timedelta(seconds=10))
    with pytest.raises(InvalidArgumentException):
        coll.unlock_multi({key("a"): locked.cas, key("b"): "not a cas"})
    with pytest.raises(CasMismatchException):  # a is still locked: nothing was sent
        coll.unlock(key("a"), locked.cas + 1)
    coll.unlock(key("a"), locked.cas)


def test_result_keys(kv, key):
    """As in the official SDK: the mutations of a *_multi know their keys, the reads do not."""
    _, _, coll = kv
    docs = {key("a"): 1, key("b"): 2}
    assert {k: r.key for k, r in coll.upsert_multi(docs).results.items()} == {k: k for k in docs}
    assert {r.key for r in coll.get_multi(list(docs)).results.values()} == {None}
    assert {r.key for r in coll.exists_multi(list(docs)).results.values()} == {None}


@pytest.mark.parametrize("method", ["get_any_replica_multi", "get_all_replicas_multi"])
def test_unreadable_read_preference_is_each_keys_outcome(kv, key, method):
    """SELECTED_SERVER_GROUP without a preferred group reads no copy: each key's outcome is
    DocumentUnretrievableException, returned (return_exceptions) or raised."""
    from couchbase.exceptions import DocumentUnretrievableException
    from couchbase.replica_reads import ReadPreference
    _, _, coll = kv
    coll.upsert(key(), 1)
    keys = [key(), key("missing")]
    pref = ReadPreference.SELECTED_SERVER_GROUP
    res = getattr(coll, method)(keys, read_preference=pref)
    assert not res.all_ok and res.results == {}
    assert all(isinstance(e, DocumentUnretrievableException) for e in res.exceptions.values())
    with pytest.raises(DocumentUnretrievableException):
        getattr(coll, method)(keys, read_preference=pref, return_exceptions=False)


def test_client_durability_of_many(kv, key):
    from couchbase.durability import ClientDurability, PersistToExtended, ReplicateTo
    from couchbase.exceptions import DurabilityImpossibleException
    _, _, coll = kv
    docs = {key(str(i)): i for i in range(20)}
    durable = UpsertMultiOptions(durability=ClientDurability(persist_to=PersistToExtended.ACTIVE))
    assert coll.upsert_multi(docs, durable).all_ok
    res = coll.upsert_multi(docs, durability=ClientDurability(replicate_to=ReplicateTo.ONE))
    assert not res.all_ok
    assert all(isinstance(e, DurabilityImpossibleException) for e in res.exceptions.values())
