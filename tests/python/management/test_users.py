"""cluster.users(): RBAC users, groups and roles against divan-server, on the three front
ends and both SDKs; a new user can connect with its password."""

import uuid

import pytest

from couchbase.exceptions import (DocumentNotFoundException, GroupNotFoundException,
                                  InvalidArgumentException, UserNotFoundException)
from couchbase.management.users import Group, Role, User, UserAndMetadata


def test_users(fe, kv, server):
    cluster, _, _ = kv
    users = fe.sync(cluster.users())
    name = "u" + uuid.uuid4().hex[:8]
    users.upsert_user(User(username=name, display_name="Ted", password="secret1",
                           roles=[Role("data_reader", bucket="default"),
                                  Role("query_select", bucket="default")]))
    got = users.get_user(name)
    assert isinstance(got, UserAndMetadata)
    assert got.user.username == name and got.user.display_name == "Ted"
    assert got.user.roles == {Role("data_reader", bucket="default"),
                              Role("query_select", bucket="default")}
    assert got.domain.name == "Local"
    assert name in [u.user.username for u in users.get_all_users()]
    roles = users.get_roles()
    assert "admin" in [r.role.name for r in roles]
    # the new user reads
    other = fe.cluster(server.connstr, options_for(name, "secret1"))
    coll = fe.sync(fe.bucket(other, "default").default_collection())
    with pytest.raises(DocumentNotFoundException):  # not an authorisation error: it may read
        coll.get("no-such-doc-" + name)
    fe.run(other.close)
    users.drop_user(name)
    with pytest.raises(UserNotFoundException):
        users.get_user(name)
    with pytest.raises(InvalidArgumentException):
        users.upsert_user(User(username=name, password="x", roles=[]))


def options_for(user, password):
    from couchbase.auth import PasswordAuthenticator
    from couchbase.options import ClusterOptions
    from frontends.conftest import options
    extra = dict(options())  # DIVAN_TLS=1: the trust store
    extra.pop("authenticator", None)
    return ClusterOptions(PasswordAuthenticator(user, password), **extra)


def test_groups(fe, kv):
    cluster, _, _ = kv
    users = fe.sync(cluster.users())
    name = "g" + uuid.uuid4().hex[:8]
    users.upsert_group(Group(name, description="readers",
                             roles=[Role("data_reader", bucket="default")]))
    got = users.get_group(name)
    assert got.name == name and got.description == "readers"
    assert got.roles == {Role("data_reader", bucket="default")}
    assert name in [g.name for g in users.get_all_groups()]
    users.drop_group(name)
    with pytest.raises(GroupNotFoundException):
        users.get_group(name)
