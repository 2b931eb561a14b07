"""The blocking official Python SDK (couchbase.cluster.Cluster) against divan-server.

The same checks as tests/interop/node, asserting what the SDK shows against Couchbase Server.
"""

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import couchbase.subdocument as SD
import pytest
from couchbase.durability import DurabilityLevel, ServerDurability
from couchbase.exceptions import (
    AuthenticationException,
    BucketNotFoundException,
    CasMismatchException,
    DocumentExistsException,
    DocumentLockedException,
    DocumentNotFoundException,
    DocumentNotLockedException,
    PathExistsException,
    PathNotFoundException,
    ScopeAlreadyExistsException,
)
from couchbase.options import (
    DecrementOptions,
    DeltaValue,
    GetOptions,
    IncrementOptions,
    InsertOptions,
    RemoveOptions,
    ReplaceOptions,
    SignedInt64,
    UpsertOptions,
)
from couchbase.transcoder import RawBinaryTranscoder

from conftest import ADMIN, connect

RAW = RawBinaryTranscoder()


def near(when, seconds, slack=60):
    """True if datetime `when` is `seconds` from now, give or take `slack`."""
    return abs(when.timestamp() - (time.time() + seconds)) <= slack


def test_upsert_get(coll, key):
    doc = {"name": "Ted", "age": 80, "tags": ["a", "b"], "nested": {"x": 1.5, "ok": True, "none": None}}
    up = coll.upsert(key, doc)
    got = coll.get(key)
    assert got.content_as[dict] == doc
    assert got.cas == up.cas
    up2 = coll.upsert(key, {"name": "Ted", "age": 81})
    assert up2.cas != up.cas
    assert coll.get(key).content_as[dict] == {"name": "Ted", "age": 81}


def test_insert_existing(coll, key):
    coll.insert(key, {"v": 1})
    with pytest.raises(DocumentExistsException):
        coll.insert(key, {"v": 2})
    assert coll.get(key).content_as[dict] == {"v": 1}


def test_get_missing(coll, key):
    with pytest.raises(DocumentNotFoundException):
        coll.get(key)


def test_replace_cas(coll, key):
    first = coll.upsert(key, {"v": 1})
    second = coll.upsert(key, {"v": 2})
    with pytest.raises(CasMismatchException):
        coll.replace(key, {"v": 3}, ReplaceOptions(cas=first.cas))
    assert coll.get(key).content_as[dict] == {"v": 2}
    coll.replace(key, {"v": 4}, ReplaceOptions(cas=second.cas))
    assert coll.get(key).content_as[dict] == {"v": 4}
    with pytest.raises(DocumentNotFoundException):
        coll.replace(key + "-missing", {"v": 1})


def test_remove(coll, key):
    coll.upsert(key, {"v": 1})
    assert coll.remove(key).cas
    with pytest.raises(DocumentNotFoundException):
        coll.get(key)
    with pytest.raises(DocumentNotFoundException):
        coll.remove(key)
    coll.insert(key, {"v": 2})
    assert coll.get(key).content_as[dict] == {"v": 2}


def test_touch_and_expiry(coll, key):
    coll.upsert(key, {"v": 1}, UpsertOptions(expiry=timedelta(hours=2)))
    got = coll.get(key, GetOptions(with_expiry=True))
    assert got.content_as[dict] == {"v": 1}
    assert near(got.expiry_time, 7200), got.expiry_time

    coll.touch(key, timedelta(hours=1))
    got = coll.get(key, GetOptions(with_expiry=True))
    assert got.content_as[dict] == {"v": 1}
    assert near(got.expiry_time, 3600), got.expiry_time

    gat = coll.get_and_touch(key, timedelta(minutes=10))
    assert gat.content_as[dict] == {"v": 1}
    assert near(coll.get(key, GetOptions(with_expiry=True)).expiry_time, 600)

    with pytest.raises(DocumentNotFoundException):
        coll.touch(key + "-missing", timedelta(seconds=10))


def test_lock_unlock(coll, key):
    coll.upsert(key, {"v": 1})
    locked = coll.get_and_lock(key, timedelta(seconds=15))
    assert locked.content_as[dict] == {"v": 1}
    # Against Couchbase Server the server answers LOCKED and the SDK retries the write (retry
    # reason key_value_locked) until its timeout; the Python SDK then raises DocumentLockedException
    # (it maps a KV error whose retry reasons name the lock to that class).
    with pytest.raises(DocumentLockedException) as err:
        coll.upsert(key, {"v": 2}, UpsertOptions(timeout=timedelta(seconds=1)))
    assert "key_value_locked" in (err.value.context.retry_reasons or set()), err.value
    assert coll.get(key).content_as[dict] == {"v": 1}, "readers still see the old value"
    other = coll.upsert(key + "-other", {"v": 0})
    with pytest.raises(CasMismatchException):
        coll.unlock(key, other.cas)

    coll.unlock(key, locked.cas)
    coll.upsert(key, {"v": 3})
    assert coll.get(key).content_as[dict] == {"v": 3}
    with pytest.raises(DocumentNotLockedException):
        coll.unlock(key, locked.cas)

    again = coll.get_and_lock(key, timedelta(seconds=15))
    coll.replace(key, {"v": 4}, ReplaceOptions(cas=again.cas))  # the lock CAS releases the lock
    assert coll.get(key).content_as[dict] == {"v": 4}


def test_counters(coll, key):
    binary = coll.binary()
    res = binary.increment(key, IncrementOptions(delta=DeltaValue(5), initial=SignedInt64(10)))
    assert res.content == 10, "a missing counter is created with the initial value"
    assert binary.increment(key, IncrementOptions(delta=DeltaValue(5))).content == 15
    assert binary.decrement(key, DecrementOptions(delta=DeltaValue(3))).content == 12
    assert binary.decrement(key, DecrementOptions(delta=DeltaValue(100))).content == 0
    assert coll.get(key).content_as[int] == 0

    res = binary.decrement(key + "-down", DecrementOptions(delta=DeltaValue(1), initial=SignedInt64(7)))
    assert res.content == 7
    # The Python SDK's default initial value is 0: a missing counter is created. A negative
    # initial value means "do not create", and then a missing counter is DocumentNotFound.
    assert binary.increment(key + "-default").content == 0
    no_create = SignedInt64(-1)
    with pytest.raises(DocumentNotFoundException):
        binary.increment(key + "-missing", IncrementOptions(initial=no_create))
    with pytest.raises(DocumentNotFoundException):
        binary.decrement(key + "-missing", DecrementOptions(initial=no_create))


def test_append_prepend(coll, key):
    binary = coll.binary()
    coll.upsert(key, b"middle", UpsertOptions(transcoder=RAW))
    binary.append(key, b"-end")
    binary.prepend(key, "start-")
    assert coll.get(key, GetOptions(transcoder=RAW)).value == b"start-middle-end"
    with pytest.raises(DocumentNotFoundException):
        binary.append(key + "-missing", b"x")


def test_exists(coll, key):
    up = coll.upsert(key, {"v": 1})
    res = coll.exists(key)
    assert res.exists is True
    assert res.cas == up.cas
    assert coll.exists(key + "-missing").exists is False
    coll.remove(key)
    assert coll.exists(key).exists is False


def test_subdocument(coll, key):
    coll.upsert(key, {"name": "Ted", "age": 80, "tags": ["a", "b"], "addr": {"city": "Oslo"}})
    mut = coll.mutate_in(key, (
        SD.upsert("addr.zip", "0150"),
        SD.array_append("tags", "c"),
        SD.increment("age", 1),
        SD.upsert("audit.by", "interop", xattr=True, create_parents=True),
        SD.insert("extra.deep.flag", True, create_parents=True),
    ))
    assert mut.content_as[int](2) == 81, "the counter spec returns the new value"

    look = coll.lookup_in(key, (
        SD.get("addr"),
        SD.exists("tags"),
        SD.count("tags"),
        SD.get("audit.by", xattr=True),
        SD.get("no.such.path"),
        SD.exists("missing"),
        SD.get("extra.deep.flag"),
    ))
    assert look.cas == mut.cas
    assert look.content_as[dict](0) == {"city": "Oslo", "zip": "0150"}
    assert look.exists(1) is True
    assert look.content_as[int](2) == 3
    assert look.content_as[str](3) == "interop"
    with pytest.raises(PathNotFoundException):
        look.content_as[str](4)  # the per-spec error
    assert look.exists(5) is False
    assert look.content_as[bool](6) is True

    body = {"name": "Ted", "age": 81, "tags": ["a", "b", "c"], "addr": {"city": "Oslo", "zip": "0150"},
            "extra": {"deep": {"flag": True}}}
    assert coll.get(key).content_as[dict] == body, "the xattr is not part of the body"

    with pytest.raises(PathNotFoundException):
        coll.mutate_in(key, (SD.upsert("name", "Fred"), SD.replace("no.such.path", 1)))
    assert coll.get(key).content_as[dict] == body, "a failing mutation changes nothing"
    with pytest.raises(PathExistsException):
        coll.mutate_in(key, (SD.insert("name", "X"),))
    with pytest.raises(DocumentNotFoundException):
        coll.lookup_in(key + "-missing", (SD.get("a"),))


def test_durability_majority_without_replicas(coll, key):
    majority = ServerDurability(level=DurabilityLevel.MAJORITY)
    coll.upsert(key, {"v": 1}, UpsertOptions(durability=majority))
    coll.replace(key, {"v": 2}, ReplaceOptions(durability=majority))
    coll.insert(key + "-ins", {"v": 3}, InsertOptions(durability=majority))
    assert coll.get(key).content_as[dict] == {"v": 2}
    coll.remove(key, RemoveOptions(durability=majority))
    with pytest.raises(DocumentNotFoundException):
        coll.get(key)


def rest(server, method, path, form=None, auth=ADMIN):
    """Plain HTTP with basic auth to the management port: (status, body)."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{server.http_port}{path}", data=data, method=method)
    req.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=5) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_scopes_and_collections(server, bucket, coll, key):
    mgr = bucket.collections()
    mgr.create_scope("py_sdk_scope")
    mgr.create_collection("py_sdk_scope", "py_sdk_coll")
    with pytest.raises(ScopeAlreadyExistsException):
        mgr.create_scope("py_sdk_scope")
    scopes = {s.name: [c.name for c in s.collections] for s in mgr.get_all_scopes()}
    assert "py_sdk_coll" in scopes.get("py_sdk_scope", []), scopes

    base = "/pools/default/buckets/default/scopes"
    status, body = rest(server, "POST", base, {"name": "py_rest_scope"})
    assert status == 200, body
    status, body = rest(server, "POST", f"{base}/py_rest_scope/collections", {"name": "py_rest_coll"})
    assert status == 200, body
    status, body = rest(server, "GET", base)
    assert status == 200, body
    manifest = {s["name"]: [c["name"] for c in s["collections"]] for s in json.loads(body)["scopes"]}
    assert "py_rest_coll" in manifest.get("py_rest_scope", []), body
    status, _ = rest(server, "POST", base, {"name": "nope"}, auth=("Administrator", "wrong"))
    assert status == 401

    a = bucket.scope("py_sdk_scope").collection("py_sdk_coll")
    b = bucket.scope("py_rest_scope").collection("py_rest_coll")
    a.upsert(key, {"where": "sdk"})
    b.upsert(key, {"where": "rest"})
    coll.upsert(key, {"where": "default"})
    assert a.get(key).content_as[dict] == {"where": "sdk"}
    assert b.get(key).content_as[dict] == {"where": "rest"}
    assert coll.get(key).content_as[dict] == {"where": "default"}
    b.remove(key)
    with pytest.raises(DocumentNotFoundException):
        b.get(key)
    assert a.get(key).content_as[dict] == {"where": "sdk"}


def test_wrong_password(server):
    with pytest.raises(AuthenticationException):
        connect(server, password="wrong")
    with pytest.raises(AuthenticationException):
        connect(server, user="nobody")


def test_unknown_bucket(cluster, coll, key):
    # Opening a bucket waits for its bootstrap, which the server refuses (EACCESS on SELECT_BUCKET,
    # as Couchbase Server answers): the SDK raises BucketNotFoundException.
    with pytest.raises(BucketNotFoundException):
        cluster.bucket("no_such_bucket")
    coll.upsert(key, {"v": 1})  # the cluster still serves the real bucket
    assert coll.get(key).content_as[dict] == {"v": 1}


def test_many_concurrent_operations(server, coll):
    """2,000 upserts and 2,000 gets from 8 threads over 4 connections."""
    n = 2000
    extra = [connect(server) for _ in range(3)]
    colls = [coll] + [c.bucket("default").default_collection() for c in extra]
    value = lambda i: {"i": i, "pad": "x" * (i % 200)}  # noqa: E731

    def write(i):
        colls[i % 4].upsert(f"py-many-{i}", value(i))

    def read(i):
        return colls[(i + 1) % 4].get(f"py-many-{i}").content_as[dict]

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(n)))
        got = list(pool.map(read, range(n)))
    assert got == [value(i) for i in range(n)]

    # The multi-key API of the SDK: one call, many operations in flight.
    docs = {f"py-multi-{i}": value(i) for i in range(500)}
    assert coll.upsert_multi(docs).all_ok
    res = coll.get_multi(list(docs))
    assert res.all_ok
    assert {k: r.content_as[dict] for k, r in res.results.items()} == docs
    for c in extra:
        c.close()
