"""The twisted user manager (``cluster.users()``)."""

from couchbase.management._run import front_end_methods
from couchbase.management.users import (AuthDomain, Group, Role, User,  # noqa: F401
                                        UserAndMetadata, UserManagerLogic)


class UserManager(UserManagerLogic):
    """Each method is a Deferred of its result."""


front_end_methods(UserManager, UserManagerLogic._METHODS, "twisted")

__all__ = ["UserManager"]
