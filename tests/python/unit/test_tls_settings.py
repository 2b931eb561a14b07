"""What a Cluster hands the engine for TLS: the trust store, the verify mode and a client
certificate, from ClusterOptions and the authenticators, as the official SDK reads them."""

import pytest

from couchbase._kv import ClusterSettings
from couchbase.auth import CertificateAuthenticator, PasswordAuthenticator
from couchbase.exceptions import InvalidArgumentException
from couchbase.options import ClusterOptions, TLSVerifyMode

CONNSTR = "couchbases://127.0.0.1"


def tls_kwargs(opts):
    kw = ClusterSettings(CONNSTR, [opts], {}).core_kwargs
    return {k: v for k, v in kw.items() if not k.endswith("_timeout_ms")}


def test_nothing_given_leaves_the_engine_its_defaults():
    assert tls_kwargs(ClusterOptions(PasswordAuthenticator("u", "p"))) == {}


def test_trust_store_from_options_or_the_legacy_cert_path():
    opts = ClusterOptions(PasswordAuthenticator("u", "p"), trust_store_path="ca.pem")
    assert tls_kwargs(opts) == {"trust_store_path": "ca.pem"}
    # PasswordAuthenticator's cert_path is a trust store, not a client certificate.
    opts = ClusterOptions(PasswordAuthenticator("u", "p", cert_path="old-ca.pem"))
    assert tls_kwargs(opts) == {"trust_store_path": "old-ca.pem"}


@pytest.mark.parametrize("mode, sent", [(TLSVerifyMode.NONE, "none"),
                                        (TLSVerifyMode.NO_VERIFY, "none"),
                                        (TLSVerifyMode.PEER, "peer"), ("no_verify", "none"),
                                        ("none", "none"), ("peer", "peer")])
def test_tls_verify(mode, sent):
    opts = ClusterOptions(PasswordAuthenticator("u", "p"), tls_verify=mode)
    assert tls_kwargs(opts) == {"tls_verify": sent}


def test_bad_tls_verify_is_refused():
    with pytest.raises(InvalidArgumentException):
        ClusterSettings(CONNSTR, [ClusterOptions(PasswordAuthenticator("u", "p"),
                                                 tls_verify="sometimes")], {})


def test_certificate_authenticator():
    auth = CertificateAuthenticator(cert_path="c.pem", key_path="k.pem", trust_store_path="ca.pem")
    s = ClusterSettings(CONNSTR, [ClusterOptions(auth)], {})
    assert s.core_args == (CONNSTR, None, None)
    assert tls_kwargs(ClusterOptions(auth)) == {"trust_store_path": "ca.pem",
                                                 "cert_path": "c.pem", "key_path": "k.pem"}
