"""Authenticators for ``ClusterOptions``; like the official ones they are dicts of settings."""

from enum import IntEnum
from typing import Any, Dict, Iterable, List, Optional, Union

from couchbase.exceptions import FeatureUnavailableException, InvalidArgumentException


class Authenticator(Dict[str, Any]):
    """Base of divan's authenticators."""

    def valid_keys(self) -> List[str]:
        return []

    def as_dict(self) -> Dict[str, Any]:
        """The settings as the official SDK hands them to its core."""
        return dict(self)


def _check_str(value: Any, what: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise InvalidArgumentException("The %s must be a str." % what)


def _sasl_list(mechs: Union[str, Iterable[str]]) -> List[str]:
    if isinstance(mechs, str):
        return [m.strip() for m in mechs.split(",") if m.strip()]
    if isinstance(mechs, (list, tuple, set)) and all(isinstance(m, str) for m in mechs):
        return list(mechs)
    raise InvalidArgumentException(
        "allowed_sasl_mechanisms must be a list of str or a comma-separated str.")


class PasswordAuthenticator(Authenticator):
    """RBAC user name and password (SCRAM-SHA512/256/1, or PLAIN over TLS)."""

    def __init__(self, username: str, password: str, cert_path: Optional[str] = None,
                 **kwargs: Any) -> None:
        _check_str(username, "username")
        _check_str(password, "password")
        _check_str(cert_path, "cert_path", optional=True)
        # other kwargs are ignored, as upstream
        super().__init__(username=username, password=password)
        if cert_path is not None:
            self["cert_path"] = cert_path
        mechs = kwargs.get("allowed_sasl_mechanisms")
        if mechs is not None:
            self["allowed_sasl_mechanisms"] = _sasl_list(mechs)

    @staticmethod
    def ldap_compatible(username: str, password: str) -> "PasswordAuthenticator":
        """An authenticator restricted to SASL PLAIN (needed for LDAP users; use TLS)."""
        return PasswordAuthenticator(username, password, allowed_sasl_mechanisms=["PLAIN"])

    def valid_keys(self) -> List[str]:
        return ["username", "password", "cert_path", "sasl_mech_force", "allowed_sasl_mechanisms"]

    def as_dict(self) -> Dict[str, Any]:
        """username, password, allowed_sasl_mechanisms (None: any), and cert_path as the
        core's trust_store_path."""
        d = {"username": self["username"], "password": self["password"],
             "allowed_sasl_mechanisms": self.get("allowed_sasl_mechanisms")}
        if "cert_path" in self:
            d["trust_store_path"] = self["cert_path"]
        return d


class CertificateAuthenticator(Authenticator):
    """Client-certificate authentication over TLS (``couchbases://``): the certificate chain and
    its key (PEM files) authenticate the connections instead of a password; trust_store_path as
    ClusterOptions'."""

    def __init__(self, cert_path: Optional[str] = None, key_path: Optional[str] = None,
                 trust_store_path: Optional[str] = None) -> None:
        for value, what in ((cert_path, "cert_path"), (key_path, "key_path"),
                            (trust_store_path, "trust_store_path")):
            _check_str(value, what, optional=True)
        super().__init__({k: v for k, v in (("cert_path", cert_path), ("key_path", key_path),
                                             ("trust_store_path", trust_store_path))
                          if v is not None})

    def valid_keys(self) -> List[str]:
        return ["cert_path", "key_path", "trust_store_path"]

    def as_dict(self) -> Dict[str, Any]:
        d = {"cert_path": self.get("cert_path"), "key_path": self.get("key_path")}
        if "trust_store_path" in self:
            d["trust_store_path"] = self["trust_store_path"]
        return d



class JwtAuthenticator(Authenticator):
    """JWT bearer-token authentication; not supported by divan yet (see :meth:`check_supported`)."""

    def __init__(self, token: str) -> None:
        _check_str(token, "token")
        super().__init__(jwt_token=token)

    def valid_keys(self) -> List[str]:
        return ["jwt_token"]

    def check_supported(self) -> None:
        raise FeatureUnavailableException("JwtAuthenticator is not supported by divan yet.")


class AuthDomain(IntEnum):
    """Where a user is managed: Local (by the cluster) or External (LDAP, ...)."""

    Local = 0
    External = 1

    @classmethod
    def to_str(cls, value: "AuthDomain") -> str:
        return "external" if value == cls.External else "local"

    @classmethod
    def from_str(cls, value: str) -> "AuthDomain":
        return cls.External if value == "external" else cls.Local
