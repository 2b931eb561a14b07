"""The asyncio bucket manager (``await cluster.buckets().create_bucket(...)``)."""

from couchbase.management._run import front_end_methods
from couchbase.management.buckets import (BucketManagerLogic, BucketSettings,  # noqa: F401
                                          CreateBucketSettings)


class BucketManager(BucketManagerLogic):
    """Each method is a coroutine."""


front_end_methods(BucketManager, BucketManagerLogic._METHODS, "asyncio")

__all__ = ["BucketManager"]
