"""The official module paths and aliases of the three front ends."""

import importlib

import pytest

NAMES = [
    ("couchbase.cluster", "Cluster"), ("couchbase.bucket", "Bucket"), ("couchbase.scope", "Scope"),
    ("couchbase.collection", "Collection"), ("couchbase.collection", "CBCollection"),
    ("couchbase.binary_collection", "BinaryCollection"),
    # 3.x import paths of the options, still used by the official examples
    ("couchbase.collection", "GetOptions"), ("couchbase.collection", "UpsertOptions"),
    ("couchbase.collection", "DeltaValue"), ("couchbase.collection", "SignedInt64"),
    ("couchbase.options", "GetMultiOptions"), ("couchbase.options", "UnlockMultiOptions"),
    ("couchbase.result", "MultiGetResult"), ("couchbase.result", "MultiMutationResult"),
    ("couchbase.result", "LookupInReplicaResult"),
    ("txcouchbase.cluster", "Cluster"), ("txcouchbase.cluster", "TxCluster"),
    ("txcouchbase.bucket", "Bucket"), ("txcouchbase.bucket", "TxBucket"),
    ("txcouchbase.scope", "TxScope"), ("txcouchbase.collection", "TxCollection"),
    ("txcouchbase.binary_collection", "BinaryCollection"),
]


@pytest.mark.parametrize("module,name", NAMES)
def test_importable(module, name):
    assert getattr(importlib.import_module(module), name) is not None


def test_aliases():
    import couchbase.cluster
    import couchbase.collection
    import txcouchbase.cluster
    assert issubclass(couchbase.collection.CBCollection, couchbase.collection.Collection)
    assert txcouchbase.cluster.TxCluster is txcouchbase.cluster.Cluster
    assert couchbase.cluster.Cluster.connect  # a static method constructing Cluster
