"""The divan_server fixture configured by the module's marker: its buckets instead of default,
a second user with only data_reader on one of them."""

import pytest

from couchbase.auth import PasswordAuthenticator
from couchbase.cluster import Cluster
from couchbase.exceptions import (BucketNotFoundException, CouchbaseException,
                                  DocumentNotFoundException)
from couchbase.options import ClusterOptions

pytestmark = pytest.mark.divan_server(username="admin", password="adminpw",
                                      buckets=["travel", "cache:type=ephemeral"],
                                      users=["reader:readerpw:data_reader[travel]"])


def connect(server, user, password):
    return Cluster(server.connstr, ClusterOptions(PasswordAuthenticator(user, password)))


def test_the_marker_s_buckets_and_admin(divan_server):
    assert divan_server.username == "admin" and divan_server.buckets == ["travel", "cache"]
    cluster = connect(divan_server, "admin", "adminpw")
    try:
        cluster.bucket("travel").default_collection().upsert("t1", {"a": 1})
        cluster.bucket("cache").default_collection().upsert("c1", {"b": 2})
        with pytest.raises(BucketNotFoundException):
            cluster.bucket("default").default_collection().get("t1")
    finally:
        cluster.close()


def test_the_marker_s_reader(divan_server):
    cluster = connect(divan_server, "reader", "readerpw")
    try:
        travel = cluster.bucket("travel").default_collection()
        with pytest.raises(DocumentNotFoundException):
            travel.get("never-written")
        with pytest.raises(CouchbaseException) as e:  # data_reader only: no write
            travel.upsert("r1", 1)
        assert not isinstance(e.value, DocumentNotFoundException)
    finally:
        cluster.close()
