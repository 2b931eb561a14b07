"""cluster.query_indexes() and collection.query_indexes() against divan-server's query
service, on the three front ends and both SDKs: primary and secondary indexes, ignore flags,
deferred indexes built and watched, the official exceptions."""

import uuid
from datetime import timedelta

import pytest

from couchbase.exceptions import (QueryIndexAlreadyExistsException, QueryIndexNotFoundException,
                                  WatchQueryIndexTimeoutException)
from couchbase.management.buckets import CreateBucketSettings
from couchbase.management.options import (CreatePrimaryQueryIndexOptions,
                                          CreateQueryIndexOptions, DropQueryIndexOptions,
                                          WatchQueryIndexOptions)


@pytest.fixture
def bucket_name(fe, kv):
    """A bucket of its own (no indexes yet), dropped afterwards."""
    cluster, _, _ = kv
    buckets = fe.sync(cluster.buckets())
    name = "qi-" + uuid.uuid4().hex[:8]
    buckets.create_bucket(CreateBucketSettings(name=name, ram_quota_mb=100))
    yield name
    buckets.drop_bucket(name)


def test_primary_and_secondary(fe, kv, bucket_name):
    cluster, _, _ = kv
    ixm = fe.sync(cluster.query_indexes())
    assert ixm.get_all_indexes(bucket_name) == []
    ixm.create_primary_index(bucket_name)
    with pytest.raises(QueryIndexAlreadyExistsException):
        ixm.create_primary_index(bucket_name)
    ixm.create_primary_index(bucket_name, CreatePrimaryQueryIndexOptions(ignore_if_exists=True))
    ixm.create_index(bucket_name, "by_fld", ["fld1", "fld2"],
                     CreateQueryIndexOptions(condition="fld1 = 1"))
    indexes = ixm.get_all_indexes(bucket_name)
    assert [i.name for i in indexes] == ["#primary", "by_fld"]  # primary first
    primary, second = indexes
    assert primary.is_primary and primary.bucket_name == bucket_name
    assert primary.state == "online" and primary.type == "gsi"
    assert not second.is_primary and len(second.index_key) == 2
    ixm.drop_index(bucket_name, "by_fld")
    with pytest.raises(QueryIndexNotFoundException):
        ixm.drop_index(bucket_name, "by_fld")
    ixm.drop_index(bucket_name, "by_fld", DropQueryIndexOptions(ignore_if_not_exists=True))
    ixm.drop_primary_index(bucket_name)
    assert ixm.get_all_indexes(bucket_name) == []


def test_deferred_build_and_watch(fe, kv, bucket_name):
    cluster, _, _ = kv
    ixm = fe.sync(cluster.query_indexes())
    for n in ("d1", "d2"):
        ixm.create_index(bucket_name, n, ["f_" + n], CreateQueryIndexOptions(deferred=True))
    assert {i.state for i in ixm.get_all_indexes(bucket_name)} == {"deferred"}
    with pytest.raises(WatchQueryIndexTimeoutException):
        ixm.watch_indexes(bucket_name, ["d1"], WatchQueryIndexOptions(
            timeout=timedelta(milliseconds=500)))
    with pytest.raises(QueryIndexNotFoundException):
        ixm.watch_indexes(bucket_name, ["nope"], WatchQueryIndexOptions(
            timeout=timedelta(seconds=5)))
    ixm.build_deferred_indexes(bucket_name)
    ixm.watch_indexes(bucket_name, ["d1", "d2"], WatchQueryIndexOptions(
        timeout=timedelta(seconds=10)))
    assert {i.state for i in ixm.get_all_indexes(bucket_name)} == {"online"}


def test_collection_manager(fe, kv, bucket_name):
    if fe.name == "twisted":
        pytest.skip("txcouchbase has no collection.query_indexes(), as upstream")
    cluster, _, _ = kv
    coll = fe.sync(fe.bucket(cluster._obj, bucket_name).default_collection())
    ixm = fe.sync(coll.query_indexes())
    ixm.create_primary_index()
    names = [i.name for i in ixm.get_all_indexes()]
    assert names == ["#primary"]
    ixm.drop_primary_index()
    assert ixm.get_all_indexes() == []
