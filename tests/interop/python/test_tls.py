"""The official Python SDK over TLS (couchbases://) against divan-server's TLS listeners.

The certificates are made here, at test time, by the openssl command: a CA, a server
certificate for 127.0.0.1 (IP SAN) and localhost, a client certificate naming a read-only user,
and a second CA that the server does not trust, with a client certificate of its own."""

import subprocess
from datetime import timedelta

import pytest
from couchbase.auth import CertificateAuthenticator, PasswordAuthenticator
from couchbase.cluster import Cluster
from couchbase.exceptions import AuthenticationException, UnAmbiguousTimeoutException
from couchbase.options import ClusterOptions, ClusterTimeoutOptions
from divan.server import DivanServer

from conftest import ADMIN

TIMEOUTS = ClusterTimeoutOptions(connect_timeout=timedelta(seconds=2),
                                 bootstrap_timeout=timedelta(seconds=2),
                                 kv_timeout=timedelta(seconds=2.5),
                                 management_timeout=timedelta(seconds=5),
                                 query_timeout=timedelta(seconds=5))


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
            "/CN=%s" % name, "-keyout", str(d / (name + ".key")), "-out", str(d / (name + ".pem")))


def make_cert(d, ca, name, subject, ext=None):
    key, csr, pem = d / (name + ".key"), d / (name + ".csr"), d / (name + ".pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", str(key),
            "-out", str(csr))
    args = ["x509", "-req", "-in", str(csr), "-CA", str(d / (ca + ".pem")), "-CAkey",
            str(d / (ca + ".key")), "-CAcreateserial", "-days", "1", "-out", str(pem)]
    if ext:
        (d / (name + ".ext")).write_text(ext + "\n")
        args += ["-extfile", str(d / (name + ".ext"))]
    openssl(*args)
    return str(pem), str(key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "ca")
    make_ca(d, "otherca")
    p = {"ca": str(d / "ca.pem"), "otherca": str(d / "otherca.pem")}
    p["server"] = make_cert(d, "ca", "server", "/CN=divan-server",
                            "subjectAltName=IP:127.0.0.1,DNS:localhost")
    p["reader"] = make_cert(d, "ca", "reader", "/CN=reader")
    p["stranger"] = make_cert(d, "ca", "stranger", "/CN=nobody-known")
    p["forged"] = make_cert(d, "otherca", "forged", "/CN=Administrator")
    return p


@pytest.fixture(scope="module")
def tls_server(pki):
    cert, key = pki["server"]
    srv = DivanServer(*ADMIN, users=["reader:unused-password:data_reader[default]"],
                      args=("--threads", "1", "--tls-cert", cert, "--tls-key", key,
                            "--tls-ca", pki["ca"]))
    srv.start()
    yield srv
    assert srv.running(), "divan-server died during the tests"
    assert srv.stop() == 0


def connect(connstr, auth, **kw):
    c = Cluster(connstr, ClusterOptions(auth, timeout_options=TIMEOUTS, **kw))
    c.wait_until_ready(timedelta(seconds=5))
    return c


def admin():
    return PasswordAuthenticator(*ADMIN)


def test_kv_query_and_management_over_tls(tls_server, pki):
    c = connect(tls_server.tls_connstr, admin(), trust_store_path=pki["ca"])
    try:
        coll = c.bucket("default").default_collection()
        coll.upsert("tls-doc", {"over": "tls"})
        assert coll.get("tls-doc").content_as[dict] == {"over": "tls"}
        rows = list(c.query("SELECT d.`over` FROM default AS d USE KEYS 'tls-doc'").rows())
        assert rows == [{"over": "tls"}]
        assert [b.name for b in c.buckets().get_all_buckets()] == ["default"]
    finally:
        c.close()


def test_config_advertises_every_tls_port(tls_server):
    import json
    import urllib.request
    req = urllib.request.Request("http://127.0.0.1:%d/pools/default/nodeServices"
                                 % tls_server.http_port)
    req.add_header("Authorization", "Basic QWRtaW5pc3RyYXRvcjpwYXNzd29yZA==")
    services = json.load(urllib.request.urlopen(req, timeout=5))["nodesExt"][0]["services"]
    assert services["kvSSL"] == tls_server.tls_kv_port
    assert services["mgmtSSL"] == tls_server.https_port
    assert services["n1qlSSL"] == tls_server.tls_query_port


@pytest.mark.parametrize("how", ["ssl=no_verify", "tls_verify"])
def test_no_verify(tls_server, how):
    if how == "ssl=no_verify":
        c = connect(tls_server.tls_connstr + "?ssl=no_verify", admin())
    else:
        c = connect(tls_server.tls_connstr, admin(), tls_verify="none")
    try:
        coll = c.bucket("default").default_collection()
        coll.upsert("nv-" + how, 1)
        assert coll.get("nv-" + how).content_as[int] == 1
    finally:
        c.close()


def test_wrong_ca_fails_to_connect(tls_server, pki):
    # The SDK's documented failure: the handshake fails on every attempt, the bootstrap times out.
    with pytest.raises(UnAmbiguousTimeoutException):
        c = connect(tls_server.tls_connstr, admin(), trust_store_path=pki["otherca"])
        c.bucket("default").default_collection().get("x")


def test_certificate_authentication(tls_server, pki):
    cert, key = pki["reader"]
    c = connect(tls_server.tls_connstr,
                CertificateAuthenticator(cert_path=cert, key_path=key,
                                         trust_store_path=pki["ca"]))
    try:
        coll = c.bucket("default").default_collection()
        admin_c = connect(tls_server.tls_connstr, admin(), trust_store_path=pki["ca"])
        admin_c.bucket("default").default_collection().upsert("cert-doc", {"v": 1})
        admin_c.close()
        # The certificate's CN names `reader`, who may read and not write.
        assert coll.get("cert-doc").content_as[dict] == {"v": 1}
        # EACCESS (0x24), which this SDK reports as AuthenticationException.
        with pytest.raises(AuthenticationException) as e:
            coll.upsert("cert-doc", {"v": 2})
        assert "'status_code': 36" in str(e.value)
    finally:
        c.close()


@pytest.mark.parametrize("who", ["stranger", "forged"])
def test_refused_certificates(tls_server, pki, who):
    # A certificate naming no known user, and one from a CA the server does not trust.
    cert, key = pki[who]
    with pytest.raises((UnAmbiguousTimeoutException, AuthenticationException)):
        c = connect(tls_server.tls_connstr,
                    CertificateAuthenticator(cert_path=cert, key_path=key,
                                             trust_store_path=pki["ca"]))
        c.bucket("default").default_collection().get("x")


def test_plain_refused_without_tls(pki):
    cert, key = pki["server"]
    with DivanServer(*ADMIN, args=("--threads", "1", "--tls-cert", cert, "--tls-key", key,
                                   "--plain-auth", "tls")) as srv:
        # PLAIN (the LDAP-compatible authenticator) over plain TCP is refused ...
        with pytest.raises((AuthenticationException, UnAmbiguousTimeoutException)):
            c = connect(srv.connstr, PasswordAuthenticator.ldap_compatible(*ADMIN))
            c.bucket("default").default_collection().get("x")
        # ... over TLS it is the SDK's default, and SCRAM still works on plain TCP.
        for connstr, auth, kw in ((srv.tls_connstr, admin(), {"trust_store_path": pki["ca"]}),
                                  (srv.connstr, admin(), {})):
            c = connect(connstr, auth, **kw)
            c.bucket("default").default_collection().upsert("plain-ok", 1)
            c.close()
