"""The official module path of BinaryCollection (defined in acouchbase.cluster)."""

from acouchbase.cluster import BinaryCollection

__all__ = ["BinaryCollection"]
