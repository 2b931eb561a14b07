"""The official Python SDK's query API (cluster.query, scope.query, the query index manager)
against divan-server's query service: rows, metadata and exception classes as the SDK's own
tests expect them from Couchbase Server (query-service.md 11, management-api.md 5).

The module starts its own server with a bucket `travel`, a scope `inv` with a collection
`hotels`, and a user without query roles.
"""

import uuid
from datetime import timedelta

import pytest
from couchbase.auth import PasswordAuthenticator
from couchbase.cluster import Cluster
from couchbase.exceptions import (
    AmbiguousTimeoutException,
    AuthenticationException,
    DocumentExistsException,
    InternalServerFailureException,
    KeyspaceNotFoundException,
    ParsingFailedException,
    QueryIndexAlreadyExistsException,
    QueryIndexNotFoundException,
    ScopeNotFoundException,
    UnAmbiguousTimeoutException,
    WatchQueryIndexTimeoutException,
)
from couchbase.management.options import (
    CreatePrimaryQueryIndexOptions,
    CreateQueryIndexOptions,
    DropPrimaryQueryIndexOptions,
)
from couchbase.mutation_state import MutationState
from couchbase.n1ql import QueryProfile, QueryScanConsistency, QueryStatus
from couchbase.options import ClusterOptions, QueryOptions, UpsertOptions
from divan.server import DivanServer

from conftest import ADMIN, TIMEOUTS

BATCH = "b%s" % uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def qserver():
    srv = DivanServer(*ADMIN, args=("--threads", "2", "--bucket", "travel",
                                    "--user", "nobody:password:data_reader[travel]"))
    srv.start()
    assert srv.query_port > 0
    yield srv
    assert srv.running(), "divan-server died during the tests"
    assert srv.stop() == 0


def _connect(srv, user=ADMIN[0], password=ADMIN[1]):
    opts = ClusterOptions(PasswordAuthenticator(user, password), timeout_options=TIMEOUTS)
    c = Cluster(srv.connstr, opts)
    c.wait_until_ready(timedelta(seconds=10))
    return c


@pytest.fixture(scope="module")
def qc(qserver):
    c = _connect(qserver)
    bucket = c.bucket("travel")
    coll = bucket.default_collection()
    for i in range(5):
        coll.upsert("doc-%d" % i, {"batch": "%s-%d" % (BATCH, i), "id": i, "kind": "a" if i % 2 else "b"})
    cm = bucket.collections()
    cm.create_scope("inv")
    cm.create_collection("inv", "hotels")
    hotels = bucket.scope("inv").collection("hotels")
    for name, city in (("grand", "oslo"), ("plaza", "rome"), ("ritz", "oslo")):
        hotels.upsert("h-" + name, {"name": name, "city": city})
    c.query_indexes().create_primary_index("travel")
    yield c
    c.close()


def u(v):
    """The number inside the SDK's UnsignedInt64."""
    return getattr(v, "value", v)


def rows(result):
    return list(result.rows())


def test_simple_query_and_metadata(qc):
    result = qc.query("SELECT * FROM `travel` LIMIT 2")
    got = rows(result)
    assert len(got) == 2 and all(set(r) == {"travel"} for r in got)
    meta = result.metadata()
    assert isinstance(meta.request_id(), str) and meta.request_id()
    assert isinstance(meta.client_context_id(), str) and meta.client_context_id()
    assert meta.status() == QueryStatus.SUCCESS
    assert meta.signature() in ({"*": "*"}, '{"*":"*"}')
    assert meta.metrics() is None  # the SDK sends metrics: false by default


def test_metrics_and_profile(qc):
    result = qc.query("SELECT RAW 1", QueryOptions(metrics=True, profile=QueryProfile.TIMINGS))
    assert rows(result) == [1]
    m = result.metadata().metrics()
    assert u(m.result_count()) == 1 and u(m.result_size()) > 0
    assert m.elapsed_time() > timedelta(0) and m.execution_time() > timedelta(0)
    assert u(m.error_count()) == 0 and u(m.mutation_count()) == 0
    assert result.metadata().profile() is not None


def test_fromless_and_parameters(qc):
    assert rows(qc.query("SELECT 1=1")) == [{"$1": True}]
    assert rows(qc.query("SELECT $named_param as param", named_parameters={"named_param": 5})) == [{"param": 5}]
    assert rows(qc.query("SELECT $1 as param", QueryOptions(positional_parameters=["x"]))) == [{"param": "x"}]
    q = "SELECT * FROM `travel` WHERE batch LIKE $batch LIMIT 1"
    assert len(rows(qc.query(q, QueryOptions(named_parameters={"batch": BATCH + "%"})))) == 1
    assert len(rows(qc.query(q, batch=BATCH + "%"))) == 1
    q = "SELECT * FROM `travel` WHERE batch LIKE $1 LIMIT 2"
    assert len(rows(qc.query(q, BATCH + "%"))) == 2
    assert len(rows(qc.query(q, QueryOptions(positional_parameters=[BATCH + "%"])))) == 2
    raw = qc.query("SELECT * FROM `travel` WHERE batch LIKE $batch LIMIT $1",
                   QueryOptions(raw={"$batch": BATCH + "%", "args": [2]}))
    assert len(rows(raw)) == 2


def test_cross_product_count(qc):
    # the statement of the SDK's test_query_timeout: a 1.3 M-row cross product, counted
    q = "SELECT COUNT (1) AS c FROM ARRAY_RANGE(0,110) AS d1, ARRAY_RANGE(0,110) AS d2, ARRAY_RANGE(0,110) AS d3"
    assert rows(qc.query(q)) == [{"c": 1331000}]


@pytest.mark.parametrize("read_only,exc", [(False, AmbiguousTimeoutException),
                                           (True, UnAmbiguousTimeoutException)])
def test_query_timeout(qc, read_only, exc):
    # test_query_timeout's shape with a cross product divan cannot finish in time (10^9 rows:
    # divan counts the SDK's 1.3 M rows in well under its 1.5 s): the client's timeout wins,
    # ambiguous unless the query is read-only, and the server stops the work at the deadline
    # the SDK sent (`timeout`), so the next query is answered.
    q = ("SELECT COUNT (1) AS c FROM ARRAY_RANGE(0,1000) AS d1, ARRAY_RANGE(0,1000) AS d2, "
         "ARRAY_RANGE(0,1000) AS d3")
    with pytest.raises(exc):
        qc.query(q, QueryOptions(timeout=timedelta(milliseconds=300), read_only=read_only)).execute()
    assert rows(qc.query("SELECT 1=1 AS x")) == [{"x": True}]


def test_where_order_group(qc):
    got = rows(qc.query("SELECT RAW id FROM travel WHERE batch LIKE $1 AND id BETWEEN 1 AND 3 ORDER BY id DESC",
                        BATCH + "%"))
    assert got == [3, 2, 1]
    got = rows(qc.query("SELECT kind, COUNT(*) AS n FROM travel WHERE batch LIKE $1 GROUP BY kind ORDER BY kind",
                        BATCH + "%"))
    assert got == [{"kind": "a", "n": 2}, {"kind": "b", "n": 3}]
    got = rows(qc.query("SELECT META().id FROM travel WHERE META().id IN $1 ORDER BY META().id ASC",
                        QueryOptions(positional_parameters=[["doc-1", "doc-0"]])))
    assert got == [{"id": "doc-0"}, {"id": "doc-1"}]
    got = rows(qc.query("SELECT DISTINCT RAW kind FROM travel WHERE batch LIKE $1 ORDER BY kind", BATCH + "%"))
    assert got == ["a", "b"]


def test_scope_query_and_context(qc):
    scope = qc.bucket("travel").scope("inv")
    scope.collection("hotels").query_indexes().create_primary_index()
    got = rows(scope.query("SELECT * FROM hotels LIMIT 2"))
    assert len(got) == 2 and all("hotels" in r for r in got)
    got = rows(qc.query("SELECT RAW name FROM hotels WHERE city = 'oslo' ORDER BY name",
                        QueryOptions(query_context="`travel`.`inv`")))
    assert got == ["grand", "ritz"]
    got = rows(qc.query("SELECT RAW name FROM `travel`.`inv`.`hotels` ORDER BY name"))
    assert got == ["grand", "plaza", "ritz"]
    got = rows(qc.query("SELECT RAW h.name FROM default:travel.inv.hotels h USE KEYS 'h-plaza'"))
    assert got == ["plaza"]


def test_errors(qc):
    with pytest.raises(ParsingFailedException):
        rows(qc.query("I'm not N1QL!"))
    with pytest.raises(KeyspaceNotFoundException):
        rows(qc.query("SELECT * FROM no_such_bucket"))
    with pytest.raises(KeyspaceNotFoundException) as e:
        rows(qc.query("SELECT * FROM hotels LIMIT 1"))  # no context: `hotels` is a bucket name
    assert e.value.context.first_error_code == 12003
    with pytest.raises(ScopeNotFoundException):
        rows(qc.query("SELECT * FROM hotels", QueryOptions(query_context="travel.`fake-scope`")))
    with pytest.raises(KeyspaceNotFoundException):
        rows(qc.query("SELECT * FROM hotels", QueryOptions(query_context="`fake-bucket`.inv")))


def test_no_index_available(qc):
    cm = qc.bucket("travel").collections()
    cm.create_collection("inv", "bare")
    with pytest.raises(QueryIndexNotFoundException) as e:
        rows(qc.query("SELECT * FROM `travel`.`inv`.`bare` LIMIT 1"))
    assert "No index available" in e.value.context.first_error_message
    # USE KEYS needs no index
    assert rows(qc.query("SELECT * FROM `travel`.`inv`.`bare` USE KEYS 'x'")) == []


def test_read_your_own_write(qc):
    coll = qc.bucket("travel").default_collection()
    key = "ryow-" + uuid.uuid4().hex[:8]
    q = 'SELECT * FROM `travel` USE KEYS "%s"' % key
    assert rows(qc.query(q)) == []
    res = coll.upsert(key, {"v": 1})
    state = MutationState(res)
    assert rows(qc.query(q, QueryOptions(consistent_with=state))) == [{"travel": {"v": 1}}]
    got = rows(qc.query("SELECT RAW v FROM travel USE KEYS $1",
                        QueryOptions(scan_consistency=QueryScanConsistency.REQUEST_PLUS,
                                     positional_parameters=[key])))
    assert got == [1]


def test_explain_and_prepared(qc):
    result = qc.query("EXPLAIN SELECT * FROM `travel` WHERE id = 1", QueryOptions(metrics=True))
    got = rows(result)
    assert len(got) == 1 and "plan" in got[0]
    assert result.metadata().metrics() is not None
    for _ in range(2):  # the first prepares (auto_execute), the second executes by name
        result = qc.query("SELECT RAW id FROM `travel` USE KEYS 'doc-3'", QueryOptions(adhoc=False, metrics=True))
        assert rows(result) == [3]
        assert u(result.metadata().metrics().result_count()) == 1


def test_dml(qc):
    coll = qc.bucket("travel").default_collection()
    k = "dml-" + uuid.uuid4().hex[:8]
    got = rows(qc.query('INSERT INTO `travel` (KEY, VALUE) VALUES ($1, {"n": 1}) RETURNING META().id, n', k))
    assert got == [{"id": k, "n": 1}]
    assert coll.get(k).content_as[dict] == {"n": 1}
    with pytest.raises(DocumentExistsException):
        rows(qc.query('INSERT INTO `travel` VALUES ($1, {"n": 2})', k))
    result = qc.query("UPDATE `travel` AS t USE KEYS $1 SET t.n = t.n + 1, t.sub.x = 'y' RETURNING t.*", k,
                      QueryOptions(metrics=True))
    assert rows(result) == [{"n": 2, "sub": {"x": "y"}}]
    assert u(result.metadata().metrics().mutation_count()) == 1
    assert coll.get(k).content_as[dict] == {"n": 2, "sub": {"x": "y"}}
    assert rows(qc.query("UPSERT INTO travel (KEY, VALUE) VALUES ($1, 'v') RETURNING RAW META().id", k + "-u")) == [k + "-u"]
    assert rows(qc.query("DELETE FROM travel USE KEYS [$1, $2] RETURNING RAW META().id", k, k + "-u")) == [k, k + "-u"]
    assert not coll.exists(k).exists


def test_preserve_expiry(qc):
    coll = qc.bucket("travel").default_collection()
    k = "ttl-" + uuid.uuid4().hex[:8]
    coll.upsert(k, {"a": "x"}, UpsertOptions(expiry=timedelta(days=1)))
    before = coll.get(k, with_expiry=True).expiry_time
    rows(qc.query("UPDATE `travel` AS content USE KEYS '%s' SET content.a = 'aaaa'" % k,
                  QueryOptions(preserve_expiry=True)))
    after = coll.get(k, with_expiry=True)
    assert after.content_as[dict] == {"a": "aaaa"}
    assert after.expiry_time == before
    rows(qc.query("UPDATE `travel` AS content USE KEYS '%s' SET content.a = 'b'" % k))
    assert coll.get(k, with_expiry=True).expiry_time is None


def test_joins_unnest(qc):
    coll = qc.bucket("travel").default_collection()
    coll.upsert("order-1", {"type": "order", "user": "doc-1", "lines": [{"sku": "a", "q": 2}, {"sku": "b", "q": 1}]})
    got = rows(qc.query("SELECT o.`user`, u.id FROM travel o USE KEYS 'order-1' JOIN travel u ON KEYS o.`user`"))
    assert got == [{"user": "doc-1", "id": 1}]
    got = rows(qc.query("SELECT l.sku, l.q FROM travel o USE KEYS 'order-1' UNNEST o.lines AS l ORDER BY l.sku"))
    assert got == [{"sku": "a", "q": 2}, {"sku": "b", "q": 1}]
    got = rows(qc.query("SELECT RAW (SELECT RAW SUM(l.q) FROM o.lines AS l)[0] FROM travel o USE KEYS 'order-1'"))
    assert got == [3]
    # an ANSI join, answered through the primary index of the right side
    got = rows(qc.query("SELECT o.`user`, u.batch FROM travel o USE KEYS 'order-1' "
                        "JOIN travel u ON u.id = 1 AND META(u).id = o.`user`"))
    assert got == [{"user": "doc-1", "batch": BATCH + "-1"}]


def test_index_manager(qc):
    ixm = qc.query_indexes()
    idx = ixm.get_all_indexes("travel")
    primary = [i for i in idx if i.is_primary and i.scope_name != "inv"]
    assert len(primary) == 1 and primary[0].name == "#primary" and primary[0].bucket_name == "travel"
    with pytest.raises(QueryIndexAlreadyExistsException):
        ixm.create_primary_index("travel")
    ixm.create_primary_index("travel", CreatePrimaryQueryIndexOptions(ignore_if_exists=True))
    ixm.create_index("travel", "ix_cond", ["fld1", "fld2"],
                     CreateQueryIndexOptions(condition="((`fld1` = 1) and (`fld2` = 2))"))
    ixm.create_index("travel", "ix_part", ["fld1"])
    got = {i.name: i for i in ixm.get_all_indexes("travel")}
    assert got["ix_cond"].condition == "((`fld1` = 1) and (`fld2` = 2))"
    assert got["ix_cond"].index_key == ["`fld1`", "`fld2`"]
    assert got["ix_cond"].state == "online"
    with pytest.raises(QueryIndexAlreadyExistsException):
        ixm.create_index("travel", "ix_part", ["fld1"])
    ixm.drop_index("travel", "ix_part")
    with pytest.raises(QueryIndexNotFoundException):
        ixm.drop_index("travel", "ix_part")
    ixm.drop_index("travel", "ix_cond")
    r = qc.query("CREATE INDEX idx_fld1 ON `travel`(fld1) PARTITION BY HASH(fld1)")
    rows(r)
    part = [i for i in ixm.get_all_indexes("travel") if i.name == "idx_fld1"]
    assert part and part[0].partition == "HASH(`fld1`)"
    ixm.drop_index("travel", "idx_fld1")


def test_deferred_indexes_and_watch(qc):
    coll = qc.bucket("travel").scope("inv").collection("hotels")
    cixm = coll.query_indexes()
    for n in ("d1", "d2"):
        cixm.create_index(n, ["city"], CreateQueryIndexOptions(deferred=True))
    states = {i.name: i.state for i in cixm.get_all_indexes()}
    assert states["d1"] == "deferred" and states["d2"] == "deferred"
    with pytest.raises(WatchQueryIndexTimeoutException):
        cixm.watch_indexes(["d1"], timeout=timedelta(seconds=1))
    cixm.build_deferred_indexes()
    cixm.watch_indexes(["d1", "d2"], timeout=timedelta(seconds=10))
    assert {i.name: i.state for i in cixm.get_all_indexes()}["d1"] == "online"
    # the secondary index on city answers an equality query on it
    got = rows(qc.bucket("travel").scope("inv").query("SELECT RAW name FROM hotels WHERE city = 'rome'"))
    assert got == ["plaza"]
    cixm.drop_index("d1")
    cixm.drop_index("d2")


def test_drop_primary_then_no_index(qc):
    coll = qc.bucket("travel").scope("inv").collection("hotels")
    cixm = coll.query_indexes()
    cixm.drop_primary_index()
    with pytest.raises(QueryIndexNotFoundException):
        cixm.drop_primary_index()
    cixm.drop_primary_index(DropPrimaryQueryIndexOptions(ignore_if_not_exists=True))
    with pytest.raises(QueryIndexNotFoundException):
        rows(qc.bucket("travel").scope("inv").query("SELECT * FROM hotels LIMIT 1"))


def test_privileges(qserver):
    c = _connect(qserver, "nobody", "password")
    try:
        with pytest.raises((AuthenticationException, InternalServerFailureException)) as e:
            rows(c.query("SELECT * FROM `travel` USE KEYS 'doc-1'"))
        assert e.value.context.first_error_code == 13014
    finally:
        c.close()


def test_acouchbase_query(qserver, qc):
    """The asyncio front end: AsyncCluster.query is a plain method; rows arrive by async for."""
    import asyncio

    from acouchbase.cluster import Cluster as AsyncCluster

    async def run():
        opts = ClusterOptions(PasswordAuthenticator(*ADMIN), timeout_options=TIMEOUTS)
        c = await AsyncCluster.connect(qserver.connstr, opts)
        try:
            result = c.query("SELECT RAW id FROM travel WHERE batch LIKE $1 ORDER BY id LIMIT 3", BATCH + "%")
            got = [r async for r in result]
            assert got == [0, 1, 2]
            assert result.metadata().status() == QueryStatus.SUCCESS
            with pytest.raises(ParsingFailedException):
                await c.query("SELEC 1").execute()
        finally:
            await c.close()

    asyncio.run(run())
