"""The user manager (``cluster.users()``): RBAC users, groups and roles over the management REST
API (management-api.md §4), with the official classes and error texts."""

import copy
from datetime import datetime
from enum import IntEnum
from typing import Any, Dict, Iterable, List, Optional, Set, Type

from couchbase.exceptions import (CouchbaseException, FeatureUnavailableException,
                                  GroupNotFoundException, InvalidArgumentException,
                                  RateLimitedException, UserNotFoundException)
from couchbase.management._run import (HttpCall, Logic, ManagerBase, check_name, esc,
                                       front_end_methods, merge, mgmt_error, parse_json,
                                       timeout_ms)
from couchbase.management.options import (ChangePasswordOptions,  # noqa: F401 - official
                                          DropGroupOptions, DropUserOptions, GetAllGroupsOptions,
                                          GetAllUsersOptions, GetGroupOptions, GetRolesOptions,
                                          GetUserOptions, UpsertGroupOptions, UpsertUserOptions)


class AuthDomain(IntEnum):
    Local = 0
    External = 1

    @classmethod
    def to_str(cls, value: Any) -> str:
        if value in (AuthDomain.Local, "local"):
            return "local"
        if value in (AuthDomain.External, "external"):
            return "external"
        raise InvalidArgumentException(message="Unknown Authentication Domain")

    @classmethod
    def from_str(cls, value: str) -> "AuthDomain":
        return AuthDomain.External if value == "external" else AuthDomain.Local


class Role:
    def __init__(self, name: Optional[str] = None, bucket: Optional[str] = None,
                 scope: Optional[str] = None, collection: Optional[str] = None) -> None:
        if not name:
            raise InvalidArgumentException(message="A role must have a name")
        self._name = name
        self._bucket = bucket
        self._scope = scope
        self._collection = collection

    @property
    def name(self) -> str:
        return self._name

    @property
    def bucket(self) -> Optional[str]:
        return self._bucket

    @property
    def scope(self) -> Optional[str]:
        return self._scope

    @property
    def collection(self) -> Optional[str]:
        return self._collection

    def as_dict(self) -> Dict[str, Optional[str]]:
        return {"name": self._name, "bucket": self._bucket, "scope": self._scope,
                "collection": self._collection}

    def _wire(self) -> str:
        """``name``, ``name[bucket]``, ``name[bucket:scope]``, ``name[bucket:scope:coll]``."""
        parts = [p for p in (self._bucket, self._scope, self._collection) if p]
        return self._name + ("[%s]" % ":".join(esc(p) for p in parts) if parts else "")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Role) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash((self._name, self._bucket, self._scope, self._collection))

    def __repr__(self) -> str:
        return "Role(%s)" % ", ".join("%s=%r" % kv for kv in self.as_dict().items() if kv[1])

    @classmethod
    def create_role(cls, raw_data: Dict[str, Any]) -> "Role":
        return cls(name=raw_data.get("role") or raw_data.get("name"),
                   bucket=raw_data.get("bucket_name") or None,
                   scope=raw_data.get("scope_name") or None,
                   collection=raw_data.get("collection_name") or None)


class RoleAndDescription:
    def __init__(self, role: Optional[Role] = None, display_name: Optional[str] = None,
                 description: Optional[str] = None, ce: Optional[bool] = None) -> None:
        self._role = role
        self._display_name = display_name
        self._description = description
        self._ce = ce

    @property
    def role(self) -> Optional[Role]:
        return self._role

    @property
    def display_name(self) -> Optional[str]:
        return self._display_name

    @property
    def description(self) -> Optional[str]:
        return self._description

    @property
    def ce(self) -> Optional[bool]:
        return self._ce

    @classmethod
    def create_role_and_description(cls, raw: Dict[str, Any]) -> "RoleAndDescription":
        return cls(Role.create_role(raw), raw.get("name"), raw.get("desc"), raw.get("ce"))


class Origin:
    def __init__(self, type: Optional[str] = None, name: Optional[str] = None) -> None:
        self._type = type
        self._name = name

    @property
    def type(self) -> Optional[str]:
        return self._type

    @property
    def name(self) -> Optional[str]:
        return self._name


class RoleAndOrigins:
    def __init__(self, role: Optional[Role] = None,
                 origins: Optional[List[Origin]] = None) -> None:
        self._role = role
        self._origins = origins or []

    @property
    def role(self) -> Optional[Role]:
        return self._role

    @property
    def origins(self) -> List[Origin]:
        return self._origins

    @classmethod
    def create_role_and_origins(cls, raw: Dict[str, Any]) -> "RoleAndOrigins":
        return cls(Role.create_role(raw), [Origin(o.get("type"), o.get("name"))
                                           for o in raw.get("origins") or []])


def _to_set(value: Any, kind: type, what: str) -> Set[Any]:
    if not value:
        return set()
    if isinstance(value, kind):
        return {value}
    if isinstance(value, (set, list, tuple, frozenset)):
        if not all(isinstance(v, kind) for v in value):
            raise InvalidArgumentException(
                message="%s must contain only objects of type %s." % (what, kind.__name__))
        return set(value)
    raise InvalidArgumentException(message="%s must be of type %s." % (what, kind.__name__))


class User:
    def __init__(self, username: Optional[str] = None, display_name: Optional[str] = None,
                 groups: Optional[Iterable[str]] = None, roles: Optional[Iterable[Role]] = None,
                 password: Optional[str] = None) -> None:
        if not username:
            raise InvalidArgumentException(message="A user must have a username")
        self._username = username
        self._display_name = display_name
        self._groups = _to_set(groups, str, "Groups")
        self._roles = _to_set(roles, Role, "Roles")
        self._password = password

    @property
    def username(self) -> str:
        return self._username

    @property
    def display_name(self) -> Optional[str]:
        return self._display_name

    @display_name.setter
    def display_name(self, value: str) -> None:
        self._display_name = value

    @property
    def groups(self) -> Set[str]:
        return self._groups

    @groups.setter
    def groups(self, value: Set[str]) -> None:
        self._groups = _to_set(value, str, "Groups")

    @property
    def roles(self) -> Set[Role]:
        return self._roles

    @roles.setter
    def roles(self, value: Set[Role]) -> None:
        self._roles = _to_set(value, Role, "Roles")

    def _set_password(self, value: str) -> None:
        self._password = value

    password = property(None, _set_password, doc="write-only")

    def as_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"username": self._username, "display_name": self._display_name,
                               "groups": list(self._groups),
                               "roles": [r.as_dict() for r in self._roles]}
        if self._password:
            out["password"] = self._password
        return out

    def __repr__(self) -> str:
        return "User(%r, display_name=%r, groups=%r, roles=%r)" % (
            self._username, self._display_name, self._groups, self._roles)


def _parse_time(text: Any) -> Optional[datetime]:
    if not isinstance(text, str):
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    return None


class UserAndMetadata:
    def __init__(self, raw_data: Dict[str, Any]) -> None:
        self._raw = raw_data
        own = [r for r in raw_data.get("roles") or []
               if not r.get("origins") or any(o.get("type") == "user" for o in r["origins"])]
        self._user = User(username=raw_data.get("id"), display_name=raw_data.get("name"),
                          groups=raw_data.get("groups") or None,
                          roles={Role.create_role(r) for r in own} or None)
        self._effective = [RoleAndOrigins.create_role_and_origins(r)
                           for r in raw_data.get("roles") or []]

    @property
    def domain(self) -> AuthDomain:
        return AuthDomain.from_str(str(self._raw.get("domain", "local")))

    @property
    def user(self) -> User:
        return copy.deepcopy(self._user)

    @property
    def effective_roles(self) -> List[RoleAndOrigins]:
        return self._effective

    @property
    def password_changed(self) -> Optional[datetime]:
        return _parse_time(self._raw.get("password_change_date"))

    @property
    def external_groups(self) -> Set[str]:
        return set(self._raw.get("external_groups") or [])

    @property
    def raw_data(self) -> Dict[str, Any]:
        return self._raw

    @classmethod
    def create_user_and_metadata(cls, raw_data: Dict[str, Any]) -> "UserAndMetadata":
        return cls(raw_data)


class Group:
    def __init__(self, name: Optional[str] = None, description: Optional[str] = None,
                 roles: Optional[Iterable[Role]] = None,
                 ldap_group_reference: Optional[str] = None, **kwargs: Any) -> None:
        if not name:
            raise InvalidArgumentException(message="A group must have a name")
        self._name = name
        self._description = description
        self._roles = _to_set(roles, Role, "Roles")
        self._ldap_group_reference = ldap_group_reference
        self._raw_data = kwargs.get("raw_data")

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> Optional[str]:
        return self._description

    @description.setter
    def description(self, value: str) -> None:
        self._description = value

    @property
    def roles(self) -> Set[Role]:
        return self._roles

    @roles.setter
    def roles(self, value: Set[Role]) -> None:
        self._roles = _to_set(value, Role, "Roles")

    @property
    def ldap_group_reference(self) -> Optional[str]:
        return self._ldap_group_reference

    @ldap_group_reference.setter
    def ldap_group_reference(self, value: str) -> None:
        self._ldap_group_reference = value

    @property
    def raw_data(self) -> Optional[Dict[str, Any]]:
        return self._raw_data

    @classmethod
    def create_group(cls, raw: Dict[str, Any]) -> "Group":
        return cls(raw.get("id"), raw.get("description"),
                   {Role.create_role(r) for r in raw.get("roles") or []} or None,
                   raw.get("ldap_group_ref"), raw_data=raw)


USER_MGMT_ERROR_MAP: Dict[str, Type[CouchbaseException]] = {
    r"Unknown group.*": GroupNotFoundException,
    r"Unknown user.*": UserNotFoundException,
    r"Not found.*": FeatureUnavailableException,
    r"Method Not Allowed.*": FeatureUnavailableException,
    r".*Limit\(s\) exceeded\s+\[.*\].*": RateLimitedException,
}


class UserManagerLogic(ManagerBase):
    _METHODS = ("get_user", "get_all_users", "upsert_user", "drop_user", "change_password",
                "get_roles", "get_group", "get_all_groups", "upsert_group", "drop_group")

    def _call(self, method: str, path: str, args: Dict[str, Any], result: Any = None,
              form: Any = None, not_found: Optional[int] = None) -> HttpCall:
        def parse(status: int, body: bytes) -> Any:
            if status == 200:
                return result(call, status, body) if result else None
            code = not_found if status == 404 else None
            raise mgmt_error(call, status, body, USER_MGMT_ERROR_MAP, code)
        call = HttpCall(method, path, parse, form=form,
                        timeout_ms=timeout_ms(args, self._timeout_ms), idempotent=method == "GET")
        return call

    @staticmethod
    def _domain(args: Dict[str, Any]) -> str:
        return AuthDomain.to_str(args.get("domain_name", "local"))

    def _get_user(self, username: str, *options: Any,
                  **kwargs: Any) -> "Logic[UserAndMetadata]":
        """A user with its metadata (UserNotFoundException if there is none)."""
        args = merge(options, kwargs)
        path = "/settings/rbac/users/%s/%s" % (self._domain(args),
                                               esc(check_name(username, "username")))
        got: UserAndMetadata = yield self._call(
            "GET", path, args, lambda c, st, b: UserAndMetadata(parse_json(c, st, b)),
            not_found=603)
        return got

    def _get_all_users(self, *options: Any, **kwargs: Any) -> "Logic[List[UserAndMetadata]]":
        """Every user of the domain."""
        args = merge(options, kwargs)
        got: List[UserAndMetadata] = yield self._call(
            "GET", "/settings/rbac/users/" + self._domain(args), args,
            lambda c, st, b: [UserAndMetadata(u) for u in parse_json(c, st, b)])
        return got

    def _upsert_user(self, user: User, *options: Any, **kwargs: Any) -> "Logic[None]":
        """Create or replace a user (its roles must not be empty)."""
        if not isinstance(user, User):
            raise InvalidArgumentException(message="user must be a User.")
        args = merge(options, kwargs)
        domain = self._domain(args)
        if not user.roles:
            raise InvalidArgumentException(message="Roles must be a non-empty list")
        if user._password and domain == "external":
            raise InvalidArgumentException(message="External domain users cannot have passwords.")
        form = []
        if user.display_name:
            form.append(("name", user.display_name))
        if user._password:
            form.append(("password", user._password))
        if user.groups:
            form.append(("groups", ",".join(sorted(user.groups))))
        form.append(("roles", ",".join(sorted(r._wire() for r in user.roles))))
        yield self._call("PUT", "/settings/rbac/users/%s/%s" % (domain, esc(user.username)),
                         args, form=form)

    def _drop_user(self, username: str, *options: Any, **kwargs: Any) -> "Logic[None]":
        """Delete a user (UserNotFoundException if there is none)."""
        args = merge(options, kwargs)
        path = "/settings/rbac/users/%s/%s" % (self._domain(args),
                                               esc(check_name(username, "username")))
        yield self._call("DELETE", path, args, not_found=603)

    def _change_password(self, new_password: str, *options: Any,
                         **kwargs: Any) -> "Logic[None]":
        """Change the password of the user the cluster authenticates as."""
        check_name(new_password, "new_password")
        yield self._call("POST", "/controller/changePassword", merge(options, kwargs),
                         form=[("password", new_password)])

    def _get_roles(self, *options: Any, **kwargs: Any) -> "Logic[List[RoleAndDescription]]":
        """Every role the cluster knows."""
        got: List[RoleAndDescription] = yield self._call(
            "GET", "/settings/rbac/roles", merge(options, kwargs),
            lambda c, st, b: [RoleAndDescription.create_role_and_description(r)
                              for r in parse_json(c, st, b)])
        return got

    def _get_group(self, group_name: str, *options: Any, **kwargs: Any) -> "Logic[Group]":
        """A group (GroupNotFoundException if there is none)."""
        got: Group = yield self._call(
            "GET", "/settings/rbac/groups/" + esc(check_name(group_name, "group_name")),
            merge(options, kwargs), lambda c, st, b: Group.create_group(parse_json(c, st, b)),
            not_found=604)
        return got

    def _get_all_groups(self, *options: Any, **kwargs: Any) -> "Logic[List[Group]]":
        """Every group."""
        got: List[Group] = yield self._call(
            "GET", "/settings/rbac/groups", merge(options, kwargs),
            lambda c, st, b: [Group.create_group(g) for g in parse_json(c, st, b)])
        return got

    def _upsert_group(self, group: Group, *options: Any, **kwargs: Any) -> "Logic[None]":
        """Create or replace a group."""
        if not isinstance(group, Group):
            raise InvalidArgumentException(message="group must be a Group.")
        form = []
        if group.description:
            form.append(("description", group.description))
        if group.ldap_group_reference:
            form.append(("ldap_group_ref", group.ldap_group_reference))
        form.append(("roles", ",".join(sorted(r._wire() for r in group.roles))))
        yield self._call("PUT", "/settings/rbac/groups/" + esc(group.name),
                         merge(options, kwargs), form=form)

    def _drop_group(self, group_name: str, *options: Any, **kwargs: Any) -> "Logic[None]":
        """Delete a group (GroupNotFoundException if there is none)."""
        yield self._call("DELETE",
                         "/settings/rbac/groups/" + esc(check_name(group_name, "group_name")),
                         merge(options, kwargs), not_found=604)


class UserManager(UserManagerLogic):
    """Blocking: each method waits for its answer."""


front_end_methods(UserManager, UserManagerLogic._METHODS, "blocking")

__all__ = ["UserManager", "User", "UserAndMetadata", "Role", "RoleAndDescription", "Origin",
           "RoleAndOrigins", "Group", "AuthDomain", "USER_MGMT_ERROR_MAP"]
