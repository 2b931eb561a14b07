"""``couchbase.cluster``: for now only the names the asyncio API shares with the blocking one."""

from couchbase.options import ClusterOptions, ClusterTimeoutOptions  # noqa: F401

__all__ = ["ClusterOptions", "ClusterTimeoutOptions"]
