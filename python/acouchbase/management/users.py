"""The asyncio user manager (``cluster.users()``)."""

from couchbase.management._run import front_end_methods
from couchbase.management.users import (AuthDomain, Group, Role, User,  # noqa: F401
                                        UserAndMetadata, UserManagerLogic)


class UserManager(UserManagerLogic):
    """Each method is a coroutine."""


front_end_methods(UserManager, UserManagerLogic._METHODS, "asyncio")

__all__ = ["UserManager"]
