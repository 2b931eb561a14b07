"""Authenticators."""
import pytest

from couchbase.auth import CertificateAuthenticator, JwtAuthenticator, PasswordAuthenticator
from couchbase.exceptions import FeatureUnavailableException, InvalidArgumentException


def test_password_authenticator():
    auth = PasswordAuthenticator("user", "password")
    assert isinstance(auth, dict)
    assert auth["username"] == "user" and auth["password"] == "password"


def test_sasl_mechanisms_list_or_string():
    auth = PasswordAuthenticator("u", "p", allowed_sasl_mechanisms="SCRAM-SHA512, PLAIN")
    assert auth["allowed_sasl_mechanisms"] == ["SCRAM-SHA512", "PLAIN"]
    auth = PasswordAuthenticator("u", "p", allowed_sasl_mechanisms=["PLAIN"])
    assert auth["allowed_sasl_mechanisms"] == ["PLAIN"]
    assert PasswordAuthenticator.ldap_compatible("u", "p")["allowed_sasl_mechanisms"] == ["PLAIN"]
    with pytest.raises(InvalidArgumentException):
        PasswordAuthenticator("u", "p", allowed_sasl_mechanisms=5)


@pytest.mark.parametrize("args", [(1, "p"), ("u", None), ("u", b"p")])
def test_non_str_arguments_raise(args):
    with pytest.raises(InvalidArgumentException):
        PasswordAuthenticator(*args)


def test_certificate_authenticator_gives_the_engine_its_files():
    cert = CertificateAuthenticator(cert_path="c.pem", key_path="k.pem", trust_store_path="ca.pem")
    assert cert.as_dict() == {"cert_path": "c.pem", "key_path": "k.pem",
                              "trust_store_path": "ca.pem"}
    assert not hasattr(cert, "check_supported")


def test_jwt_authenticator_says_it_is_unsupported():
    with pytest.raises(FeatureUnavailableException, match="not supported"):
        JwtAuthenticator("token").check_supported()
