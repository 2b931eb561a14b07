"""The official module path of AsyncScope, Scope (defined in acouchbase.cluster)."""

from acouchbase.cluster import AsyncScope, Scope

__all__ = ["AsyncScope", "Scope"]
