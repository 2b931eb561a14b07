"""The official SDK's UserManager (cluster.users()) against divan-server's RBAC endpoints:
users, groups whose roles reach their members, the role list and the exception classes the
SDK picks from the server's texts."""

import uuid

import pytest
from conftest import connect
from couchbase.exceptions import (AuthenticationException, CouchbaseException,
                                  GroupNotFoundException, InvalidArgumentException,
                                  UserNotFoundException)
from couchbase.management.users import Group, Role, User


def name(prefix):
    return prefix + "-" + uuid.uuid4().hex[:6]


def test_user_round_trip(server, cluster):
    users = cluster.users()
    n = name("u")
    users.upsert_user(User(username=n, display_name="Test User", password="secret1",
                           roles={Role("data_reader", bucket="default"), Role("ro_admin")}))
    try:
        got = users.get_user(n)
        assert got.user.username == n
        assert got.user.display_name == "Test User"
        assert got.user.roles == {Role("data_reader", bucket="default"), Role("ro_admin")}
        assert got.password_changed is not None
        assert n in [u.user.username for u in users.get_all_users()]
        # A change without a password keeps the password.
        users.upsert_user(User(username=n, roles={Role("data_writer", bucket="default")}))
        assert users.get_user(n).user.roles == {Role("data_writer", bucket="default")}
        c = connect(server, n, "secret1")
        c.close()
    finally:
        users.drop_user(n)
    with pytest.raises(UserNotFoundException):
        users.get_user(n)


def test_missing_user_and_group(cluster):
    users = cluster.users()
    with pytest.raises(UserNotFoundException):
        users.get_user("no-such-user")
    with pytest.raises(CouchbaseException):
        users.drop_user("no-such-user")
    with pytest.raises(GroupNotFoundException):
        users.get_group("no-such-group")


def test_role_on_a_missing_bucket_is_refused(cluster):
    with pytest.raises(InvalidArgumentException):
        cluster.users().upsert_user(User(username=name("u"), password="secret1",
                                         roles={Role("data_reader", bucket="no-such-bucket")}))


def test_group_roles_reach_members(server, cluster):
    users = cluster.users()
    g, n = name("g"), name("m")
    users.upsert_group(Group(g, description="readers of default",
                             roles={Role("data_reader", bucket="default")}))
    try:
        got = users.get_group(g)
        assert got.name == g
        assert got.description == "readers of default"
        assert got.roles == {Role("data_reader", bucket="default")}
        assert g in [x.name for x in users.get_all_groups()]
        users.upsert_user(User(username=n, password="secret1", groups={g},
                               roles={Role("query_select", bucket="default")}))
        meta = users.get_user(n)
        assert meta.user.groups == {g}
        assert meta.user.roles == {Role("query_select", bucket="default")}
        inherited = [r for r in meta.effective_roles
                     if any(o.type == "group" and o.name == g for o in r.origins)]
        assert [r.role for r in inherited] == [Role("data_reader", bucket="default")]

        # The member reads through the group's role; without the group it cannot.
        admin_coll = cluster.bucket("default").default_collection()
        admin_coll.upsert("users-doc", {"v": 1})
        c = connect(server, n, "secret1")
        try:
            coll = c.bucket("default").default_collection()
            assert coll.get("users-doc").content_as[dict] == {"v": 1}
            users.drop_group(g)
            with pytest.raises((AuthenticationException, CouchbaseException)):
                coll.get("users-doc")
        finally:
            c.close()
    finally:
        try:
            users.drop_group(g)
        except CouchbaseException:
            pass
        users.drop_user(n)
    with pytest.raises(GroupNotFoundException):
        users.get_group(g)


def test_roles_list(cluster):
    roles = cluster.users().get_roles()
    by_name = {r.role.name: r for r in roles}
    assert "admin" in by_name and "data_reader" in by_name
    assert by_name["admin"].display_name
    assert by_name["data_reader"].role.bucket == "*"
