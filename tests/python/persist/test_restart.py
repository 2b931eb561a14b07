"""What a restart keeps: documents with every field, mutation tokens that go on (the same
vbucket uuid after a clean stop, a new one after SIGKILL), buckets and collections created over
REST with their settings; what it drops: flushed and deleted buckets' data, expired documents,
ephemeral buckets. Where the data goes by default, and --ephemeral."""

import datetime
import json
import os
import subprocess
import time

import pytest

from couchbase.durability import DurabilityLevel, ServerDurability
from couchbase.options import UpsertOptions

from conftest import connect, rest
from divan.server import DivanServer, find_binary


def persist_level():
    return UpsertOptions(durability=ServerDurability(DurabilityLevel.PERSIST_TO_MAJORITY))


def test_documents_keep_every_field(node, run):
    from couchbase.subdocument import get as sd_get
    from couchbase.subdocument import upsert as sd_upsert
    from couchbase.transcoder import RawBinaryTranscoder

    async def write():
        cluster, bucket = await connect(node.start())
        coll = bucket.default_collection()
        out = {}
        out["json"] = (await coll.upsert("json", {"a": [1, 2]})).cas
        res = await coll.upsert("bin", b"\x00\x01raw", UpsertOptions(
            transcoder=RawBinaryTranscoder(), expiry=datetime.timedelta(days=3)))
        out["bin"] = res.cas
        await coll.upsert("xattr", {"body": 1})
        out["xattr"] = (await coll.mutate_in("xattr", [sd_upsert("meta.tag", "t1", xattr=True,
                                                                 create_parents=True)])).cas
        await coll.upsert("gone", {"x": 1})
        await coll.remove("gone")
        tok = (await coll.upsert("token", {"t": 1}, persist_level())).mutation_token()
        out["token"] = (tok.partition_id, tok.partition_uuid, tok.sequence_number)
        await cluster.close()
        return out

    async def read():
        cluster, bucket = await connect(node.start())
        coll = bucket.default_collection()
        got = {}
        r = await coll.get("json")
        got["json"] = (r.content_as[dict], r.cas)
        r = await coll.get("bin", transcoder=RawBinaryTranscoder(), with_expiry=True)
        got["bin"] = (r.value, r.cas, r.expiry_time)
        r = await coll.lookup_in("xattr", [sd_get("meta.tag", xattr=True)])
        got["xattr"] = (r.content_as[str](0), r.cas)
        got["gone"] = (await coll.exists("gone")).exists
        tok = (await coll.upsert("token", {"t": 2}, persist_level())).mutation_token()
        got["token"] = (tok.partition_id, tok.partition_uuid, tok.sequence_number)
        await cluster.close()
        return got

    before = run(write())
    assert node.stop() == 0  # a clean stop
    after = run(read())
    assert after["json"] == ({"a": [1, 2]}, before["json"])
    value, cas, expiry = after["bin"]
    assert (value, cas) == (b"\x00\x01raw", before["bin"])
    assert expiry is not None and expiry > datetime.datetime.now() + datetime.timedelta(days=2)
    assert after["xattr"] == ("t1", before["xattr"])
    assert after["gone"] is False
    vb, uuid, seqno = before["token"]
    # Same vbucket history after a clean stop: the uuid is kept and seqnos go on.
    assert after["token"][0] == vb and after["token"][1] == uuid and after["token"][2] > seqno

    node.kill()
    tok = run(read())["token"]
    assert tok[1] != uuid, "a SIGKILL must start a new vbucket history"
    assert tok[2] > after["token"][2]


def test_buckets_and_collections_created_over_rest(node, run):
    srv = node.start()
    st, body = rest(srv, "POST", "/pools/default/buckets",
                    {"name": "made", "ramQuotaMB": "256", "flushEnabled": "1", "bucketType":
                     "couchbase", "replicaNumber": "0"})
    assert st in (200, 202), body
    assert rest(srv, "POST", "/pools/default/buckets/made/scopes", {"name": "inv"})[0] == 200
    assert rest(srv, "POST", "/pools/default/buckets/made/scopes/inv/collections",
                {"name": "hotels"})[0] == 200
    uid = json.loads(rest(srv, "GET", "/pools/default/buckets/made/scopes")[1])["uid"]

    async def write():
        cluster, bucket = await connect(srv, "made")
        coll = bucket.scope("inv").collection("hotels")
        cas = (await coll.upsert("h1", {"name": "grand"}, persist_level())).cas
        await cluster.close()
        return cas

    cas = run(write())
    node.kill()
    srv = node.start()
    st, body = rest(srv, "GET", "/pools/default/buckets/made")
    assert st == 200
    info = json.loads(body)
    assert info["quota"]["ram"] == 256 * 1024 * 1024
    assert info["controllers"].get("flush")
    scopes = json.loads(rest(srv, "GET", "/pools/default/buckets/made/scopes")[1])
    assert scopes["uid"] == uid
    names = {s["name"]: [c["name"] for c in s["collections"]] for s in scopes["scopes"]}
    assert names["inv"] == ["hotels"]

    async def read():
        cluster, bucket = await connect(srv, "made")
        r = await bucket.scope("inv").collection("hotels").get("h1")
        await cluster.close()
        return r.content_as[dict], r.cas

    assert run(read()) == ({"name": "grand"}, cas)


def test_flush_and_delete_remove_the_data(node, run):
    srv = node.start()
    assert rest(srv, "POST", "/pools/default/buckets",
                {"name": "doomed", "ramQuotaMB": "100", "replicaNumber": "0"})[0] in (200, 202)

    async def write(name):
        cluster, bucket = await connect(srv, name)
        await bucket.default_collection().upsert("k", {"v": 1}, persist_level())
        await cluster.close()

    run(write("default"))
    run(write("doomed"))
    assert rest(srv, "POST", "/pools/default/buckets/default/controller/doFlush")[0] == 200
    assert rest(srv, "DELETE", "/pools/default/buckets/doomed")[0] == 200
    assert not os.path.exists(os.path.join(node.data_dir, "buckets", "doomed"))
    node.kill()  # both were on disk when REST answered
    srv = node.start()
    assert rest(srv, "GET", "/pools/default/buckets/doomed")[0] == 404

    async def exists():
        cluster, bucket = await connect(srv)
        found = (await bucket.default_collection().exists("k")).exists
        await cluster.close()
        return found

    assert run(exists()) is False


def test_expired_documents_are_not_served_after_restart(node, run):
    async def write():
        cluster, bucket = await connect(node.start())
        coll = bucket.default_collection()
        await coll.upsert("short", {"v": 1}, UpsertOptions(expiry=datetime.timedelta(seconds=1)))
        await coll.upsert("long", {"v": 1}, UpsertOptions(expiry=datetime.timedelta(hours=1)))
        await cluster.close()

    async def read():
        cluster, bucket = await connect(node.start())
        coll = bucket.default_collection()
        found = [(await coll.exists(k)).exists for k in ("short", "long")]
        await cluster.close()
        return found

    run(write())
    node.stop()
    time.sleep(1.2)  # past the document's expiry: that is what is tested
    assert run(read()) == [False, True]


def test_ephemeral_buckets_stay_in_memory_and_refuse_persistence(node, run):
    from couchbase.exceptions import DurabilityInvalidLevelException
    node.args = ["--bucket", "default", "--bucket", "eph:type=ephemeral"]
    srv = node.start()

    async def write():
        cluster, bucket = await connect(srv, "eph")
        coll = bucket.default_collection()
        await coll.upsert("k", {"v": 1},
                          UpsertOptions(durability=ServerDurability(DurabilityLevel.MAJORITY)))
        with pytest.raises(DurabilityInvalidLevelException):
            await coll.upsert("k", {"v": 2}, persist_level())
        await cluster.close()

    run(write())
    assert os.listdir(os.path.join(node.data_dir, "buckets")) == ["default"]
    node.stop()
    srv = node.start()

    async def read():
        cluster, bucket = await connect(srv, "eph")
        found = (await bucket.default_collection().exists("k")).exists
        await cluster.close()
        return found

    assert run(read()) is False


def test_ephemeral_server_refuses_persistence(run):
    from couchbase.exceptions import DurabilityInvalidLevelException
    with DivanServer(args=["--ephemeral"]) as srv:
        assert srv.data_dir is None

        async def write():
            cluster, bucket = await connect(srv)
            with pytest.raises(DurabilityInvalidLevelException):
                await bucket.default_collection().upsert("k", 1, persist_level())
            await cluster.close()

        run(write())


def test_default_data_dir(tmp_path, run):
    """Without --data-dir the data goes to $XDG_DATA_HOME/divan-server and survives a
    restart."""
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path))

    def start():
        proc = subprocess.Popen([find_binary(), "--kv-port", "0", "--http-port", "0",
                                 "--query-port", "0", "--user", "user:password"],
                                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                env=env)
        fields = dict(f.split("=", 1) for f in proc.stdout.readline().split()[1:])
        srv = type("Srv", (), {})()
        srv.connstr = "couchbase://127.0.0.1:%s" % fields["kv"]
        return proc, srv

    async def upsert(srv):
        cluster, bucket = await connect(srv)
        await bucket.default_collection().upsert("k", {"v": 1}, persist_level())
        await cluster.close()

    async def get(srv):
        cluster, bucket = await connect(srv)
        r = await bucket.default_collection().get("k")
        await cluster.close()
        return r.content_as[dict]

    proc, srv = start()
    try:
        run(upsert(srv))
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert os.path.isdir(tmp_path / "divan-server" / "buckets" / "default")
    proc, srv = start()
    try:
        assert run(get(srv)) == {"v": 1}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_users_and_groups_created_over_rest(node, run):
    srv = node.start()
    st, body = rest(srv, "PUT", "/settings/rbac/groups/readers",
                    {"roles": "data_reader[default]", "description": "they read"})
    assert st == 200, body
    st, body = rest(srv, "PUT", "/settings/rbac/users/local/alice",
                    {"password": "alicepw1", "roles": "data_writer[default]",
                     "groups": "readers", "name": "Alice A"})
    assert st == 200, body
    st, body = rest(srv, "PUT", "/settings/rbac/users/local/bob",
                    {"password": "bobpw123", "roles": "ro_admin"})
    assert st == 200, body
    assert rest(srv, "DELETE", "/settings/rbac/users/local/bob")[0] == 200
    before = json.loads(rest(srv, "GET", "/settings/rbac/users/local/alice")[1])
    node.kill()  # what REST answered 200 to is on disk already
    srv = node.start()
    after = json.loads(rest(srv, "GET", "/settings/rbac/users/local/alice")[1])
    assert after == before
    group = json.loads(rest(srv, "GET", "/settings/rbac/groups/readers")[1])
    assert group["description"] == "they read"
    assert rest(srv, "GET", "/settings/rbac/users/local/bob")[0] == 404
    # The command line's user is not kept: it is the flags' at every start.
    with open(os.path.join(node.data_dir, "users.json")) as f:
        kept = json.load(f)
    assert [u["name"] for u in kept["users"]] == ["alice"]
    assert "password" not in json.dumps(kept).lower().replace("passwordchanged", "")

    async def as_alice():
        from acouchbase.cluster import Cluster
        from couchbase.auth import PasswordAuthenticator
        from couchbase.options import ClusterOptions
        cluster = Cluster(srv.connstr, ClusterOptions(PasswordAuthenticator("alice", "alicepw1")))
        bucket = cluster.bucket("default")
        await bucket.on_connect()
        coll = bucket.default_collection()
        await coll.upsert("by-alice", {"v": 1})          # her own role
        got = (await coll.get("by-alice")).content_as[dict]  # her group's role
        await cluster.close()
        return got

    assert run(as_alice()) == {"v": 1}


def test_deleted_documents_keep_their_system_xattrs(node, run):
    from couchbase.options import LookupInOptions
    from couchbase.subdocument import get as sd_get
    from couchbase.subdocument import upsert as sd_upsert

    async def write():
        cluster, bucket = await connect(node.start())
        coll = bucket.default_collection()
        await coll.upsert("tomb", {"body": 1})
        await coll.mutate_in("tomb", [sd_upsert("_keep.by", "me", xattr=True,
                                                create_parents=True)])
        await coll.remove("tomb", durability=ServerDurability(
            DurabilityLevel.PERSIST_TO_MAJORITY))
        await cluster.close()

    async def read():
        cluster, bucket = await connect(node.start())
        coll = bucket.default_collection()
        found = (await coll.exists("tomb")).exists
        r = await coll.lookup_in("tomb", [sd_get("_keep.by", xattr=True)],
                                 LookupInOptions(access_deleted=True))
        await cluster.close()
        return found, r.content_as[str](0)

    run(write())
    node.kill()
    assert run(read()) == (False, "me")


def test_query_indexes_survive_restart(node, run):
    """Index definitions live with the bucket: after SIGKILL and a restart the same indexes are
    listed in the same states, the built ones answer through the index again and keep up with
    new writes; a dropped one stays dropped."""
    from couchbase.n1ql import QueryScanConsistency
    from couchbase.options import QueryOptions

    catalog = ("SELECT name, state, index_key, `condition`, is_primary FROM system:indexes "
               "WHERE keyspace_id = 'default' ORDER BY name")
    g3 = "SELECT RAW META().id FROM `default` WHERE g = 3 AND i >= 0 ORDER BY META().id"

    async def rows(cluster, statement, *opts):
        return [r async for r in cluster.query(statement, *opts)]

    async def before():
        cluster, bucket = await connect(node.start())
        coll = bucket.default_collection()
        for i in range(40):
            await coll.upsert("d%02d" % i, {"i": i, "g": i % 4}, persist_level())
        for st in ("CREATE PRIMARY INDEX ON `default`",
                   "CREATE INDEX ix_g ON `default`(g) WHERE i >= 0",
                   "CREATE INDEX ix_late ON `default`(i) WITH {\"defer_build\": true}",
                   "CREATE INDEX ix_built ON `default`(i, g) WITH {\"defer_build\": true}",
                   "BUILD INDEX ON `default`(ix_built)",
                   "CREATE INDEX ix_gone ON `default`(g)",
                   "DROP INDEX ix_gone ON `default`"):
            await rows(cluster, st)
        out = await rows(cluster, catalog), await rows(cluster, g3)
        await cluster.close()
        return out

    listed, found = run(before())
    assert [r["name"] for r in listed] == ["#primary", "ix_built", "ix_g", "ix_late"]
    assert found == ["d%02d" % i for i in range(3, 40, 4)]
    node.kill()

    async def after():
        cluster, bucket = await connect(node.start())
        got = await rows(cluster, catalog)
        plan = await rows(cluster, "EXPLAIN " + g3)
        found = await rows(cluster, g3)
        await bucket.default_collection().upsert("new", {"i": 100, "g": 3})
        fresh = await rows(cluster, g3, QueryOptions(
            scan_consistency=QueryScanConsistency.REQUEST_PLUS))
        await cluster.close()
        return got, plan, found, fresh

    got, plan, found_after, fresh = run(after())
    assert got == listed
    assert {r["name"]: r["state"] for r in got} == {
        "#primary": "online", "ix_built": "online", "ix_g": "online", "ix_late": "deferred"}
    assert "ix_g" in json.dumps(plan)
    assert found_after == found
    assert fresh == found + ["new"]
