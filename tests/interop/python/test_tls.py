"""The official Python SDK's query and management over TLS (couchbases://) against divan-server's
TLS listeners, the TLS ports in the configs, and --plain-auth tls. (KV over TLS, verification and
client certificates run on both SDKs in tests/python/frontends/test_tls.py.)"""

import json
import urllib.request
from datetime import timedelta

import pytest
from couchbase.auth import PasswordAuthenticator
from couchbase.cluster import Cluster
from couchbase.exceptions import AuthenticationException, UnAmbiguousTimeoutException
from couchbase.options import ClusterOptions, ClusterTimeoutOptions
from divan.server import DivanServer

import pki
from conftest import ADMIN

TIMEOUTS = ClusterTimeoutOptions(connect_timeout=timedelta(seconds=2),
                                 bootstrap_timeout=timedelta(seconds=2),
                                 kv_timeout=timedelta(seconds=2.5),
                                 management_timeout=timedelta(seconds=5),
                                 query_timeout=timedelta(seconds=5))


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return pki.make(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="module")
def tls_server(certs):
    srv = DivanServer(*ADMIN, args=("--threads", "1", *pki.server_args(certs)))
    srv.start()
    yield srv
    assert srv.running(), "divan-server died during the tests"
    assert srv.stop() == 0


def connect(connstr, auth, **kw):
    c = Cluster(connstr, ClusterOptions(auth, timeout_options=TIMEOUTS, **kw))
    c.wait_until_ready(timedelta(seconds=5))
    return c


def test_query_and_management_over_tls(tls_server, certs):
    c = connect(tls_server.tls_connstr, PasswordAuthenticator(*ADMIN), trust_store_path=certs["ca"])
    try:
        coll = c.bucket("default").default_collection()
        coll.upsert("tls-doc", {"over": "tls"})
        rows = list(c.query("SELECT d.`over` FROM default AS d USE KEYS 'tls-doc'").rows())
        assert rows == [{"over": "tls"}]
        assert [b.name for b in c.buckets().get_all_buckets()] == ["default"]
        c.buckets().get_bucket("default")
    finally:
        c.close()


def test_configs_advertise_every_tls_port(tls_server):
    req = urllib.request.Request("http://127.0.0.1:%d/pools/default/nodeServices"
                                 % tls_server.http_port)
    req.add_header("Authorization", "Basic QWRtaW5pc3RyYXRvcjpwYXNzd29yZA==")
    services = json.load(urllib.request.urlopen(req, timeout=5))["nodesExt"][0]["services"]
    assert services["kvSSL"] == tls_server.tls_kv_port
    assert services["mgmtSSL"] == tls_server.https_port
    assert services["n1qlSSL"] == tls_server.tls_query_port


def test_plain_refused_without_tls(certs):
    with DivanServer(*ADMIN, args=("--threads", "1", *pki.server_args(certs),
                                   "--plain-auth", "tls")) as srv:
        # PLAIN (the LDAP-compatible authenticator) over plain TCP is refused ...
        with pytest.raises((AuthenticationException, UnAmbiguousTimeoutException)):
            c = connect(srv.connstr, PasswordAuthenticator.ldap_compatible(*ADMIN))
            c.bucket("default").default_collection().get("x")
        # ... over TLS it is the SDK's default, and SCRAM still works on plain TCP.
        for connstr, kw in ((srv.tls_connstr, {"trust_store_path": certs["ca"]}),
                            (srv.connstr, {})):
            c = connect(connstr, PasswordAuthenticator(*ADMIN), **kw)
            c.bucket("default").default_collection().upsert("plain-ok", 1)
            c.close()
