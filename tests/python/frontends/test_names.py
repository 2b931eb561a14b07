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
    # the 3.x import style of the official examples
    ("couchbase.cluster", "ClusterOptions"), ("couchbase.cluster", "PasswordAuthenticator"),
    ("couchbase.cluster", "ClusterTimeoutOptions"), ("couchbase.cluster", "Compression"),
    ("acouchbase.cluster", "get_event_loop"), ("acouchbase", "get_event_loop"),
    ("acouchbase", "couchbase_loop_factory"), ("acouchbase", "LoopValidator"),
    ("couchbase.datastructures", "CouchbaseList"), ("couchbase.datastructures", "CouchbaseMap"),
    ("couchbase.datastructures", "CouchbaseSet"), ("couchbase.datastructures", "CouchbaseQueue"),
    ("acouchbase.datastructures", "CouchbaseList"), ("acouchbase.datastructures", "CouchbaseQueue"),
    ("couchbase.kv_range_scan", "RangeScan"), ("couchbase.kv_range_scan", "PrefixScan"),
    ("couchbase.kv_range_scan", "SamplingScan"), ("couchbase.kv_range_scan", "ScanTerm"),
    ("couchbase.options", "KnownConfigProfiles"), ("couchbase.options", "ConfigProfile"),
    ("couchbase.auth", "AuthDomain"), ("couchbase.result", "OperationResult"),
    ("couchbase", "get_metadata"), ("couchbase", "PYCBC_VERSION"),
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


def test_get_event_loop():
    import asyncio

    from acouchbase import get_event_loop
    mine = asyncio.new_event_loop()
    try:
        assert get_event_loop(mine) is mine
    finally:
        mine.close()
    loop = get_event_loop()
    assert isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_closed()
    assert get_event_loop() is loop


def test_config_profiles():
    from datetime import timedelta

    from couchbase.auth import PasswordAuthenticator
    from couchbase.exceptions import InvalidArgumentException
    from couchbase.options import ClusterOptions, KnownConfigProfiles
    opts = ClusterOptions.create_options_with_profile(PasswordAuthenticator("u", "p"),
                                                      KnownConfigProfiles.WanDevelopment)
    assert opts["kv_timeout"] == timedelta(seconds=20)
    assert KnownConfigProfiles.from_str("wan_development") is KnownConfigProfiles.WanDevelopment
    with pytest.raises(InvalidArgumentException):
        opts.apply_profile("no_such_profile")


def test_authenticators_as_dict():
    from couchbase.auth import (AuthDomain, CertificateAuthenticator, JwtAuthenticator,
                                PasswordAuthenticator)
    assert JwtAuthenticator("tok").as_dict() == {"jwt_token": "tok"}
    assert JwtAuthenticator("tok").valid_keys() == ["jwt_token"]
    password = PasswordAuthenticator("u", "p").as_dict()
    assert (password["username"], password["password"]) == ("u", "p")
    assert "trust_store_path" in PasswordAuthenticator("u", "p", cert_path="/ca.pem").as_dict()
    assert CertificateAuthenticator("/c.pem", "/k.pem").as_dict() == {
        "cert_path": "/c.pem", "key_path": "/k.pem"}
    assert AuthDomain.to_str(AuthDomain.External) == "external"
    assert AuthDomain.from_str("local") is AuthDomain.Local


def test_scan_types():
    from couchbase.exceptions import InvalidArgumentException
    from couchbase.kv_range_scan import PrefixScan, RangeScan, SamplingScan, ScanTerm
    scan = RangeScan(ScanTerm("a"), ScanTerm("b", exclusive=True))
    assert scan.start.to_dict() == {"term": "a", "exclusive": None}
    assert scan.end.to_dict() == {"term": "b", "exclusive": True}
    assert PrefixScan("user::").prefix == "user::"
    assert (SamplingScan(10, seed=3).limit, SamplingScan(10, seed=3).seed) == (10, 3)
    with pytest.raises(InvalidArgumentException):
        ScanTerm(5)


def test_metadata():
    import json

    import couchbase
    meta = couchbase.get_metadata()
    assert "version" in meta and "openssl_runtime" in meta
    assert json.loads(couchbase.get_metadata(as_str=True)) == meta
    assert couchbase.PYCBC_VERSION.startswith("python/")
