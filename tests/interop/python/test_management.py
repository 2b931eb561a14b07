"""The official SDK's bucket and collection managers against divan-server: what its tooling
and tests read (configuredHostname, Couchbase 7.2+ history retention, collection updates, the
texts it maps to exceptions)."""

import json
import urllib.request
import uuid
from base64 import b64encode
from datetime import timedelta

import pytest
from conftest import ADMIN
from couchbase.exceptions import (BucketDoesNotExistException, CollectionNotFoundException,
                                  InvalidArgumentException)
from couchbase.management.buckets import CreateBucketSettings, StorageBackend
from couchbase.management.collections import (CreateCollectionSettings,
                                              UpdateCollectionSettings)


def rest(server, path):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (server.http_port, path))
    token = b64encode(("%s:%s" % ADMIN).encode()).decode()
    req.add_header("Authorization", "Basic " + token)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_nodes_list_their_configured_hostname(server):
    node = rest(server, "/pools/nodes")["nodes"][0]
    assert node["configuredHostname"] == node["hostname"]


def test_drop_of_a_missing_bucket(cluster):
    with pytest.raises(BucketDoesNotExistException):
        cluster.buckets().drop_bucket("no-such-bucket")


def test_history_retention_on_magma_only(cluster):
    buckets = cluster.buckets()
    name = "mag-" + uuid.uuid4().hex[:6]
    buckets.create_bucket(CreateBucketSettings(
        name=name, ram_quota_mb=100, storage_backend=StorageBackend.MAGMA,
        history_retention_bytes=2 ** 31, history_retention_duration=timedelta(minutes=10)))
    try:
        got = buckets.get_bucket(name)
        assert got.storage_backend == StorageBackend.MAGMA
        assert got.history_retention_collection_default is True
        assert got.history_retention_duration == timedelta(minutes=10)
    finally:
        buckets.drop_bucket(name)
    with pytest.raises(InvalidArgumentException):
        buckets.create_bucket(CreateBucketSettings(
            name=name, ram_quota_mb=100, storage_backend=StorageBackend.COUCHSTORE,
            history_retention_collection_default=True))


def test_update_a_collection(cluster):
    manager = cluster.bucket("default").collections()
    name = "c-" + uuid.uuid4().hex[:6]
    manager.create_collection("_default", name, CreateCollectionSettings(
        max_expiry=timedelta(seconds=30)))
    manager.update_collection("_default", name, UpdateCollectionSettings(
        max_expiry=timedelta(seconds=90)))
    spec = next(c for s in manager.get_all_scopes() if s.name == "_default"
                for c in s.collections if c.name == name)
    assert spec.max_expiry == timedelta(seconds=90)
    with pytest.raises(InvalidArgumentException):  # history needs a magma bucket
        manager.update_collection("_default", name, UpdateCollectionSettings(history=True))
    with pytest.raises(CollectionNotFoundException):
        manager.update_collection("_default", "nope", UpdateCollectionSettings(
            max_expiry=timedelta(seconds=5)))
    manager.drop_collection("_default", name)
