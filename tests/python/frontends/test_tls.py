"""couchbases:// on the three front ends, against divan-server's TLS port: a trusted CA, no
verification, a CA that did not sign the server's certificate, a certificate for another name,
and client certificates (CertificateAuthenticator). Certificates are made at test time
(tests/python/pki.py)."""

import os
import shutil
import subprocess
import tempfile
from datetime import timedelta

import pytest
from couchbase.auth import CertificateAuthenticator, PasswordAuthenticator
from couchbase.exceptions import AuthenticationException, UnAmbiguousTimeoutException
from couchbase.options import ClusterOptions, ClusterTimeoutOptions
from divan.server import DivanServer

import pki
from sdk_under_test import SDK

ADMIN = ("Administrator", "password")
# Bootstrap fails within seconds, not the default ten, when the handshake cannot succeed.
QUICK = ClusterTimeoutOptions(connect_timeout=timedelta(seconds=2),
                              bootstrap_timeout=timedelta(seconds=2),
                              kv_timeout=timedelta(seconds=5))


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="divan-pki-")
    yield pki.make(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def tls(certs):
    with DivanServer(*ADMIN, users=["reader:unused:data_reader[default]"],
                     args=["--threads", "1", *pki.server_args(certs)]) as s:
        yield s
        assert s.running(), "divan-server died during the tests"


def opts(auth=None, **kw):
    return ClusterOptions(auth or PasswordAuthenticator(*ADMIN), timeout_options=QUICK, **kw)


def round_trip(fe, connstr, options, key):
    """Connect, upsert and get back; closes the cluster."""
    cluster = fe.cluster(connstr, options)
    try:
        b = fe.bucket(cluster, "default")
        coll = fe.sync(b.default_collection())
        coll.upsert(key, {"over": "tls"})
        return coll.get(key).content_as[dict]
    finally:
        fe.sync(cluster).close()


def test_trusted_ca(fe, tls, certs):
    assert round_trip(fe, tls.tls_connstr, opts(trust_store_path=certs["ca"]),
                      "trusted-" + fe.name) == {"over": "tls"}


def test_password_authenticator_cert_path_is_the_trust_store(fe, tls, certs):
    auth = PasswordAuthenticator(*ADMIN, cert_path=certs["ca"])
    assert round_trip(fe, tls.tls_connstr, opts(auth), "certpath-" + fe.name) == {"over": "tls"}


@pytest.mark.parametrize("how", ["ssl=no_verify", "tls_verify=none"])
def test_without_verification(fe, tls, how):
    if how == "ssl=no_verify":
        connstr, o = tls.tls_connstr + "?ssl=no_verify", opts()
    else:
        connstr, o = tls.tls_connstr, opts(tls_verify="none")
    assert round_trip(fe, connstr, o, "nv-%s-%s" % (how, fe.name)) == {"over": "tls"}


def test_untrusted_ca_fails(fe, tls, certs):
    with pytest.raises(UnAmbiguousTimeoutException) as e:
        round_trip(fe, tls.tls_connstr, opts(trust_store_path=certs["otherca"]), "x")
    if SDK == "divan":  # says why (the official SDK says "Failed to connect")
        assert "certificate verify failed" in str(e.value)


@pytest.mark.divan_only(reason="the released official core checks the chain, not the name")
def test_certificate_for_another_name_fails(fe, certs):
    with DivanServer(*ADMIN, args=["--threads", "1", *pki.server_args(certs, "elsewhere")]) as s:
        with pytest.raises(UnAmbiguousTimeoutException, match="IP address mismatch"):
            round_trip(fe, s.tls_connstr, opts(trust_store_path=certs["ca"]), "x")


def test_client_certificate_authenticates_as_its_user(fe, tls, certs):
    admin = fe.cluster(tls.tls_connstr, opts(trust_store_path=certs["ca"]))
    try:
        coll = fe.sync(fe.bucket(admin, "default").default_collection())
        coll.upsert("cert-doc", {"v": 1})
    finally:
        fe.sync(admin).close()
    cert, key = certs["reader"]
    auth = CertificateAuthenticator(cert_path=cert, key_path=key, trust_store_path=certs["ca"])
    cluster = fe.cluster(tls.tls_connstr, opts(auth))
    try:
        coll = fe.sync(fe.bucket(cluster, "default").default_collection())
        # The certificate's CN names `reader`, who may read and not write.
        assert coll.get("cert-doc").content_as[dict] == {"v": 1}
        with pytest.raises(AuthenticationException):
            coll.upsert("cert-doc", {"v": 2})
    finally:
        fe.sync(cluster).close()


@pytest.mark.parametrize("who", ["stranger", "forged"])
def test_refused_client_certificates(fe, tls, certs, who):
    # One naming no user, one from a CA the server does not trust: the server ends the handshake.
    cert, key = certs[who]
    auth = CertificateAuthenticator(cert_path=cert, key_path=key, trust_store_path=certs["ca"])
    with pytest.raises(UnAmbiguousTimeoutException):
        round_trip(fe, tls.tls_connstr, opts(auth), "x")



@pytest.mark.divan_only(reason="the divan tool, built with divan's SDK")
def test_divan_tool_over_tls(tls, certs):
    tool = os.path.join(os.path.dirname(os.environ["DIVAN_SERVER"]), "divan")

    def divan(*args):
        return subprocess.run([tool, *args, "-U", tls.tls_connstr, "--timeout", "3000"],
                              capture_output=True, text=True, timeout=60)
    r = divan("upsert", "tool-doc", '{"n":1}', "--trust-store", certs["ca"])
    assert r.returncode == 0, r.stderr
    r = divan("get", "tool-doc", "--no-verify")
    assert r.returncode == 0 and '"value":{"n":1}' in r.stdout, r.stderr
    cert, key = certs["reader"]
    r = divan("get", "tool-doc", "--cert", cert, "--key", key, "--trust-store", certs["ca"])
    assert r.returncode == 0 and '"n":1' in r.stdout, r.stderr
    r = divan("upsert", "tool-doc", "2", "--cert", cert, "--key", key, "--trust-store", certs["ca"])
    assert r.returncode == 1 and "EACCESS" in r.stderr
    r = divan("get", "tool-doc", "--trust-store", certs["otherca"])
    assert r.returncode == 1 and "certificate verify failed" in r.stderr
