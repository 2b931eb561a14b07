"""The official module path of the blocking Bucket (defined in couchbase.cluster)."""

from couchbase.cluster import Bucket

__all__ = ["Bucket"]
