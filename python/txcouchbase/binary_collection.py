"""The official module path of the Twisted BinaryCollection (defined in txcouchbase.cluster)."""

from txcouchbase.cluster import BinaryCollection

__all__ = ["BinaryCollection"]
