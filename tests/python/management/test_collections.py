"""bucket.collections(): scopes and collections against divan-server, on the three front ends
and both SDKs; a new collection is usable for KV at once."""

import uuid
from datetime import timedelta

import pytest

from couchbase.exceptions import (CollectionAlreadyExistsException,
                                  CollectionNotFoundException, ScopeAlreadyExistsException,
                                  ScopeNotFoundException)
from couchbase.management.collections import CreateCollectionSettings


def test_scopes_and_collections(fe, kv):
    cluster, bucket, _ = kv
    mgr = fe.sync(bucket.collections())
    scope = "s" + uuid.uuid4().hex[:8]
    mgr.create_scope(scope)
    with pytest.raises(ScopeAlreadyExistsException):
        mgr.create_scope(scope)
    mgr.create_collection(scope, "c1")
    mgr.create_collection(scope, "c2", CreateCollectionSettings(max_expiry=timedelta(seconds=5)))
    with pytest.raises(CollectionAlreadyExistsException):
        mgr.create_collection(scope, "c1")
    with pytest.raises(ScopeNotFoundException):
        mgr.create_collection("no-such-scope", "c1")
    found = {s.name: s for s in mgr.get_all_scopes()}
    assert "_default" in found
    colls = {c.name: c for c in found[scope].collections}
    assert set(colls) == {"c1", "c2"}
    assert colls["c2"].max_expiry == timedelta(seconds=5)
    assert colls["c1"].scope_name == scope
    # the new collection takes documents
    coll = fe.sync(bucket.scope(scope).collection("c1"))
    coll.upsert("k", {"in": scope})
    assert coll.get("k").content_as[dict] == {"in": scope}
    mgr.drop_collection(scope, "c1")
    with pytest.raises(CollectionNotFoundException):
        mgr.drop_collection(scope, "c1")
    mgr.drop_scope(scope)
    with pytest.raises(ScopeNotFoundException):
        mgr.drop_scope(scope)
    assert scope not in [s.name for s in mgr.get_all_scopes()]
