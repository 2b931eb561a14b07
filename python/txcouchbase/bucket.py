"""The official module path of the Twisted Bucket (defined in txcouchbase.cluster)."""

from txcouchbase.cluster import Bucket, TxBucket

__all__ = ["Bucket", "TxBucket"]
