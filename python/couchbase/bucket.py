"""The official module path of the blocking Bucket (defined in couchbase.cluster)."""

from couchbase.cluster import Bucket
from couchbase.management.collections import CollectionManager

__all__ = ["Bucket", "CollectionManager"]
