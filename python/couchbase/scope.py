"""The official module path of the blocking Scope (defined in couchbase.cluster)."""

from couchbase.cluster import Scope

__all__ = ["Scope"]
