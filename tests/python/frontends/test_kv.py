"""KV, sub-document and binary operations, the same on the three front ends."""

from datetime import timedelta

import pytest

import couchbase.subdocument as SD
from couchbase.exceptions import (CasMismatchException, DocumentExistsException,
                                  DocumentLockedException, DocumentNotFoundException,
                                  DocumentUnretrievableException, InvalidArgumentException,
                                  AmbiguousTimeoutException, PathMismatchException,
                                  PathNotFoundException)
from couchbase.options import DeltaValue, GetOptions, SignedInt64, UpsertOptions
from couchbase.result import (CounterResult, ExistsResult, GetReplicaResult, GetResult,
                              LookupInReplicaResult, LookupInResult, MutateInResult,
                              MutationResult)
from couchbase.transcoder import RawBinaryTranscoder


def test_upsert_then_get(kv, key):
    _, _, coll = kv
    up = coll.upsert(key(), {"name": "Ted", "age": 80})
    assert isinstance(up, MutationResult) and up.cas
    got = coll.get(key())
    assert isinstance(got, GetResult)
    assert got.content_as[dict] == {"name": "Ted", "age": 80}
    assert got.value == {"name": "Ted", "age": 80}
    assert got.cas == up.cas


@pytest.mark.divan_only(reason="GetResult.content (the 3.x API)")
def test_content_of_the_3x_api(kv, key):
    _, _, coll = kv
    coll.upsert(key(), [1, 2])
    assert coll.get(key()).content == [1, 2]


def test_missing_and_existing_documents(kv, key):
    _, _, coll = kv
    with pytest.raises(DocumentNotFoundException):
        coll.get(key())
    with pytest.raises(DocumentNotFoundException):
        coll.replace(key(), 1)
    with pytest.raises(DocumentNotFoundException):
        coll.remove(key())
    coll.insert(key(), 1)
    with pytest.raises(DocumentExistsException):
        coll.insert(key(), 2)
    assert coll.get(key()).content_as[int] == 1
    coll.remove(key())
    with pytest.raises(DocumentNotFoundException):
        coll.get(key())


def test_cas(kv, key):
    _, _, coll = kv
    first = coll.upsert(key(), "a")
    second = coll.replace(key(), "b", cas=first.cas)
    assert second.cas != first.cas
    with pytest.raises(CasMismatchException):
        coll.replace(key(), "c", cas=first.cas)
    with pytest.raises(CasMismatchException):
        coll.remove(key(), cas=first.cas)
    assert coll.get(key()).content_as[str] == "b"


def test_options_objects_and_kwargs(kv, key):
    """The first options object is read, and kwargs override it."""
    _, _, coll = kv
    coll.upsert(key(), {"a": 1}, UpsertOptions(expiry=timedelta(seconds=100)))
    got = coll.get(key(), GetOptions(with_expiry=False), with_expiry=True)
    assert got.expiry_time is not None


def test_exists(kv, key):
    _, _, coll = kv
    assert isinstance(coll.exists(key()), ExistsResult)
    assert coll.exists(key()).exists is False
    coll.upsert(key(), 1)
    assert coll.exists(key()).exists is True


def test_expiry(kv, key):
    _, _, coll = kv
    coll.upsert(key(), 1)
    assert coll.get(key(), with_expiry=True).expiry_time is None
    coll.touch(key(), timedelta(hours=1))
    assert coll.get(key(), with_expiry=True).expiry_time is not None
    got = coll.get_and_touch(key(), timedelta(hours=2))
    assert got.content_as[int] == 1


def test_lock_and_unlock(kv, key):
    _, _, coll = kv
    coll.upsert(key(), 1)
    locked = coll.get_and_lock(key(), timedelta(seconds=10))
    with pytest.raises((DocumentLockedException, AmbiguousTimeoutException)):
        coll.upsert(key(), 2, timeout=timedelta(milliseconds=300))
    with pytest.raises(CasMismatchException):
        coll.unlock(key(), locked.cas + 1)
    assert coll.unlock(key(), locked.cas) is None
    coll.upsert(key(), 3)
    assert coll.get(key()).content_as[int] == 3


def test_sub_document(kv, key):
    _, _, coll = kv
    coll.upsert(key(), {"name": "Ted", "tags": ["a"]})
    mutated = coll.mutate_in(key(), [SD.upsert("age", 80), SD.array_append("tags", "b")])
    assert isinstance(mutated, MutateInResult) and mutated.cas
    looked = coll.lookup_in(key(), [SD.get("name"), SD.exists("nope"), SD.get("tags")])
    assert isinstance(looked, LookupInResult)
    assert looked.content_as[str](0) == "Ted"
    assert looked.exists(1) is False
    assert looked.content_as[list](2) == ["a", "b"]
    with pytest.raises(PathNotFoundException):
        coll.mutate_in(key(), [SD.replace("nope", 1)])
    assert coll.get(key()).content_as[dict] == {"name": "Ted", "tags": ["a", "b"], "age": 80}


def test_binary(kv, key, fe):
    _, _, coll = kv
    binary = fe.sync(coll.binary())
    counter = binary.increment(key("n"), delta=DeltaValue(5), initial=SignedInt64(10))
    assert isinstance(counter, CounterResult) and counter.content == 10
    assert binary.increment(key("n"), delta=DeltaValue(5)).content == 15
    assert binary.decrement(key("n"), delta=DeltaValue(20)).content == 0
    with pytest.raises(InvalidArgumentException):
        binary.increment(key("n"), delta=5)
    coll.upsert(key("s"), b"b", transcoder=RawBinaryTranscoder())
    binary.append(key("s"), b"c")
    binary.prepend(key("s"), "a")
    assert coll.get(key("s"), transcoder=RawBinaryTranscoder()).value == b"abc"
    with pytest.raises(DocumentNotFoundException):
        binary.append(key("none"), b"x")


def test_replica_reads(kv, key):
    _, _, coll = kv
    coll.upsert(key(), {"a": 1})
    any_copy = coll.get_any_replica(key())
    assert isinstance(any_copy, GetReplicaResult)
    assert any_copy.content_as[dict] == {"a": 1} and any_copy.is_replica is False
    copies = list(coll.get_all_replicas(key()))
    assert [c.content_as[dict] for c in copies] == [{"a": 1}]
    with pytest.raises(DocumentUnretrievableException):
        coll.get_any_replica(key("none"))
    with pytest.raises(DocumentNotFoundException):
        list(coll.get_all_replicas(key("none")))


def test_lookup_in_replicas(kv, key):
    _, _, coll = kv
    coll.upsert(key(), {"a": 1, "b": [1, 2]})
    any_copy = coll.lookup_in_any_replica(key(), [SD.get("a"), SD.count("b")])
    assert isinstance(any_copy, LookupInReplicaResult) and any_copy.is_replica is False
    assert any_copy.content_as[int](0) == 1 and any_copy.content_as[int](1) == 2
    copies = list(coll.lookup_in_all_replicas(key(), [SD.exists("a"), SD.exists("c")]))
    assert [(c.exists(0), c.exists(1)) for c in copies] == [(True, False)]
    with pytest.raises(DocumentUnretrievableException):
        coll.lookup_in_any_replica(key("none"), [SD.get("a")])
    with pytest.raises(DocumentNotFoundException):
        list(coll.lookup_in_all_replicas(key("none"), [SD.get("a")]))


def test_scopes_and_names(kv):
    _, bucket, coll = kv
    assert bucket.name == "default"
    assert coll.name == "_default"
    assert bucket.default_scope().name == "_default"


def test_result_keys_and_expiry_time(kv, key):
    """``key`` of a result is the document's key; ``expiryTime`` is the deprecated name of
    ``expiry_time``."""
    _, _, coll = kv
    assert coll.upsert(key(), 1, expiry=timedelta(hours=1)).key == key()
    got = coll.get(key(), with_expiry=True)
    assert got.key == key()
    assert got.expiryTime == got.expiry_time and got.expiry_time is not None
    assert coll.exists(key()).key == key()
    assert coll.lookup_in(key(), [SD.exists("x")]).key == key()


PROJECTED = {"name": "Ted", "age": 80, "addr": {"city": "X", "geo": {"lat": 1, "lon": 2}},
             "tags": ["a", "b", {"t": 3}]}


@pytest.mark.parametrize("paths,expected", [
    (["name"], {"name": "Ted"}),
    (["name", "age", "missing"], {"name": "Ted", "age": 80}),
    (["addr.geo.lat", "name"], {"addr": {"geo": {"lat": 1}}, "name": "Ted"}),
    (["addr.geo", "addr.geo.lat"], {"addr": {"geo": {"lat": 1, "lon": 2}}}),
    (["tags[1]"], {"tags": ["b"]}),
    (["tags[0]", "tags[2].t"], {"tags": ["a", {"t": 3}]}),
    ([], {}),
])
def test_projection(kv, key, paths, expected):
    _, _, coll = kv
    coll.upsert(key(), PROJECTED)
    got = coll.get(key(), GetOptions(project=paths))
    assert got.content_as[dict] == expected
    assert got.cas


def test_projection_of_many_paths_and_bad_ones(kv, key):
    """More than 16 paths read the whole document and project it; a path of the wrong shape
    raises its sub-document exception; project must be a list of str."""
    _, _, coll = kv
    doc = {"f%d" % i: {"v": i} for i in range(20)}
    coll.upsert(key(), doc)
    paths = ["f%d.v" % i for i in range(18)] + ["nope"]
    assert coll.get(key(), project=paths).content_as[dict] == {
        "f%d" % i: {"v": i} for i in range(18)}
    got = coll.get(key(), project=["f1", "f2"], with_expiry=True)
    assert got.content_as[dict] == {"f1": {"v": 1}, "f2": {"v": 2}}
    assert got.expiry_time is None
    with pytest.raises(PathMismatchException):
        coll.get(key(), project=["f1.v.x"]).content_as[dict]
    with pytest.raises(InvalidArgumentException):
        coll.get(key(), project="f1")
    with pytest.raises(DocumentNotFoundException):
        coll.get(key("missing"), project=["f1"])


def test_mutation_macros_in_array_operations(kv, key):
    """A macro among array values is expanded in an xattr array (the CAS the write got)."""
    _, _, coll = kv
    coll.upsert(key(), {"a": 1})
    res = coll.mutate_in(key(), [SD.array_append("log", SD.MutationMacro.cas(), xattr=True,
                                                 create_parents=True)])
    coll.mutate_in(key(), [SD.array_prepend("seq", SD.MutationMacro.seq_no(), xattr=True,
                                            create_parents=True)])
    got = coll.lookup_in(key(), [SD.get("log", xattr=True), SD.get("seq", xattr=True)])
    (cas_macro,) = got.content_as[list](0)
    assert SD.convert_macro_cas_to_cas(cas_macro) == res.cas
    assert len(got.content_as[list](1)) == 1


def test_unreadable_read_preference(kv, key):
    from couchbase.replica_reads import ReadPreference
    _, _, coll = kv
    coll.upsert(key(), 1)
    pref = ReadPreference.SELECTED_SERVER_GROUP
    with pytest.raises(DocumentUnretrievableException):
        coll.get_any_replica(key(), read_preference=pref)
    with pytest.raises(DocumentUnretrievableException):
        coll.lookup_in_any_replica(key(), [SD.exists("a")], read_preference=pref)


@pytest.mark.divan_only(reason="the official SDK's outcome of a timeout under 1 ms depends on "
                        "a race (it mostly times out, sometimes the operation completes)")
def test_timeout_below_a_millisecond(kv, key):
    """A timeout under 1 ms (0 included) has run out before the operation starts: it is not the
    cluster's default; UnAmbiguousTimeoutException, and nothing is sent."""
    from couchbase.exceptions import UnAmbiguousTimeoutException
    _, _, coll = kv
    with pytest.raises(UnAmbiguousTimeoutException, match="below 1 ms"):
        coll.upsert(key(), 1, timeout=timedelta(microseconds=999))
    with pytest.raises(UnAmbiguousTimeoutException, match="below 1 ms"):
        coll.get(key(), GetOptions(timeout=timedelta(0)))
    with pytest.raises(UnAmbiguousTimeoutException):
        coll.get(key(), timeout=timedelta(0))
    with pytest.raises(DocumentNotFoundException):
        coll.get(key())


def test_client_durability(kv, key):
    """ClientDurability polls OBSERVE_SEQNO: persisting on the active copy is met at once on
    divan-server; asking for a replica the bucket lacks is DurabilityImpossibleException (after
    the write, as the official SDK)."""
    from couchbase.durability import ClientDurability, PersistTo, PersistToExtended, ReplicateTo
    from couchbase.exceptions import DurabilityImpossibleException
    from couchbase.options import RemoveOptions
    _, _, coll = kv
    active = ClientDurability(persist_to=PersistToExtended.ACTIVE)
    assert coll.upsert(key(), 1, UpsertOptions(durability=active)).cas
    assert coll.replace(key(), 2, durability=active).cas
    assert coll.mutate_in(key("sd"), [SD.upsert("a", 1)], durability=active,
                          store_semantics=SD.StoreSemantics.UPSERT).cas
    for impossible in (ClientDurability(replicate_to=ReplicateTo.ONE),
                       ClientDurability(persist_to=PersistTo.ONE),
                       ClientDurability(persist_to=PersistToExtended.FOUR)):
        with pytest.raises(DurabilityImpossibleException):
            coll.upsert(key(), 3, durability=impossible)
    assert coll.get(key()).content_as[int] == 3  # the write was made
    coll.remove(key(), RemoveOptions(durability=active))
    with pytest.raises(DocumentNotFoundException):
        coll.get(key())
