"""The official module path of AsyncBucket, Bucket (defined in acouchbase.cluster)."""

from acouchbase.cluster import AsyncBucket, Bucket

__all__ = ["AsyncBucket", "Bucket"]
