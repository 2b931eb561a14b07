"""The official module path of AsyncCollection, Collection (defined in acouchbase.cluster)."""

from acouchbase.cluster import AsyncCollection, Collection

__all__ = ["AsyncCollection", "Collection"]
