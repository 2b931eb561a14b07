"""The management options classes (the official ``couchbase.management.options``): dicts of
their keyword arguments with None values dropped; each takes ``timeout`` (timedelta) and
``parent_span`` besides the ones named."""

from typing import Any

from couchbase.options import OptionsBase


class _MgmtOptions(OptionsBase):
    _VALID_OPTS = {"timeout", "parent_span"}


# buckets
class CreateBucketOptions(_MgmtOptions): pass  # noqa: E701
class UpdateBucketOptions(_MgmtOptions): pass  # noqa: E701
class DropBucketOptions(_MgmtOptions): pass  # noqa: E701
class GetAllBucketOptions(_MgmtOptions): pass  # noqa: E701
class GetBucketOptions(_MgmtOptions): pass  # noqa: E701
class FlushBucketOptions(_MgmtOptions): pass  # noqa: E701
class BucketDescribeOptions(_MgmtOptions): pass  # noqa: E701


# collections
class GetAllScopesOptions(_MgmtOptions): pass  # noqa: E701
class CreateCollectionOptions(_MgmtOptions): pass  # noqa: E701
class DropCollectionOptions(_MgmtOptions): pass  # noqa: E701
class CreateScopeOptions(_MgmtOptions): pass  # noqa: E701
class DropScopeOptions(_MgmtOptions): pass  # noqa: E701
class UpdateCollectionOptions(_MgmtOptions): pass  # noqa: E701


# users
class UserOptions(_MgmtOptions):
    """``domain_name``: "local" (default) or "external"."""

    _VALID_OPTS = _MgmtOptions._VALID_OPTS | {"domain_name"}

    def __init__(self, domain_name: Any = "local", **kwargs: Any) -> None:
        super().__init__(domain_name=domain_name, **kwargs)


class GetUserOptions(UserOptions): pass  # noqa: E701
class GetAllUsersOptions(UserOptions): pass  # noqa: E701
class UpsertUserOptions(UserOptions): pass  # noqa: E701
class DropUserOptions(UserOptions): pass  # noqa: E701
class ChangePasswordOptions(_MgmtOptions): pass  # noqa: E701
class GetRolesOptions(_MgmtOptions): pass  # noqa: E701
class DropGroupOptions(_MgmtOptions): pass  # noqa: E701
class GetGroupOptions(_MgmtOptions): pass  # noqa: E701
class GetAllGroupsOptions(_MgmtOptions): pass  # noqa: E701
class UpsertGroupOptions(_MgmtOptions): pass  # noqa: E701


# query indexes
class GetAllQueryIndexOptions(_MgmtOptions):
    _VALID_OPTS = _MgmtOptions._VALID_OPTS | {"scope_name", "collection_name"}


class CreateQueryIndexOptions(_MgmtOptions):
    _VALID_OPTS = _MgmtOptions._VALID_OPTS | {"ignore_if_exists", "num_replicas", "deferred",
                                              "condition", "scope_name", "collection_name"}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("ignore_if_exists", False)
        super().__init__(**kwargs)


class CreatePrimaryQueryIndexOptions(CreateQueryIndexOptions):
    _VALID_OPTS = CreateQueryIndexOptions._VALID_OPTS | {"index_name"}


class DropQueryIndexOptions(_MgmtOptions):
    _VALID_OPTS = _MgmtOptions._VALID_OPTS | {"ignore_if_not_exists", "scope_name",
                                              "collection_name"}


class DropPrimaryQueryIndexOptions(DropQueryIndexOptions):
    _VALID_OPTS = DropQueryIndexOptions._VALID_OPTS | {"index_name"}


class WatchQueryIndexOptions(_MgmtOptions):
    _VALID_OPTS = _MgmtOptions._VALID_OPTS | {"watch_primary", "scope_name", "collection_name"}


class BuildDeferredQueryIndexOptions(_MgmtOptions):
    _VALID_OPTS = _MgmtOptions._VALID_OPTS | {"scope_name", "collection_name"}


__all__ = [n for n in dir() if n.endswith("Options") and not n.startswith("_")]
