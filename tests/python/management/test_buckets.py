"""cluster.buckets(): the bucket manager against divan-server, on the three front ends and
both SDKs (settings round trips, the official exceptions for the server's error texts)."""

import uuid
from datetime import timedelta

import pytest

from couchbase.exceptions import (BucketAlreadyExistsException, BucketDoesNotExistException,
                                  BucketNotFlushableException, InvalidArgumentException)
from couchbase.management.buckets import (BucketSettings, BucketType, CreateBucketSettings,
                                          StorageBackend)


@pytest.fixture
def buckets(fe, kv):
    cluster, _, _ = kv
    return fe.sync(cluster.buckets())


def test_create_get_update_drop(buckets):
    name = "mgmt-" + uuid.uuid4().hex[:8]
    buckets.create_bucket(CreateBucketSettings(name=name, bucket_type=BucketType.COUCHBASE,
                                               ram_quota_mb=100, num_replicas=0,
                                               flush_enabled=True,
                                               max_expiry=timedelta(seconds=60)))
    got = buckets.get_bucket(name)
    assert isinstance(got, BucketSettings)
    assert got.name == name and got["name"] == name
    assert got.bucket_type == BucketType.COUCHBASE
    assert got.ram_quota_mb == 100
    assert got.num_replicas == 0
    assert got.flush_enabled is True
    assert got.max_expiry == timedelta(seconds=60)
    assert got.storage_backend == StorageBackend.COUCHSTORE
    assert name in [b.name for b in buckets.get_all_buckets()]
    with pytest.raises(BucketAlreadyExistsException):
        buckets.create_bucket(CreateBucketSettings(name=name, ram_quota_mb=100))
    buckets.flush_bucket(name)
    buckets.update_bucket(BucketSettings(name=name, ram_quota_mb=200, flush_enabled=False,
                                         num_replicas=0))
    got = buckets.get_bucket(name)
    assert got.ram_quota_mb == 200 and got.flush_enabled is False
    with pytest.raises(BucketNotFlushableException):
        buckets.flush_bucket(name)
    buckets.drop_bucket(name)
    with pytest.raises(BucketDoesNotExistException):
        buckets.get_bucket(name)
    with pytest.raises(BucketDoesNotExistException):
        buckets.drop_bucket(name)
    assert name not in [b.name for b in buckets.get_all_buckets()]


def test_describe_and_bad_arguments(buckets):
    described = buckets.bucket_describe("default")
    assert described.name == "default"
    assert described.number_of_nodes == 1
    assert "collections" in described.bucket_capabilities
    with pytest.raises(InvalidArgumentException):
        buckets.get_bucket("")
    with pytest.raises(InvalidArgumentException):
        BucketSettings(name="")
