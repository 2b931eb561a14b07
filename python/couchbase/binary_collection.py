"""The official module path of the blocking BinaryCollection (defined in couchbase.cluster)."""

from couchbase.cluster import BinaryCollection

__all__ = ["BinaryCollection"]
