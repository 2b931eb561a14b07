"""The Twisted bucket manager: each method returns a Deferred."""

from couchbase.management._run import front_end_methods
from couchbase.management.buckets import (BucketManagerLogic, BucketSettings,  # noqa: F401
                                          CreateBucketSettings)


class BucketManager(BucketManagerLogic):
    """Each method returns a Deferred of its result."""


front_end_methods(BucketManager, BucketManagerLogic._METHODS, "twisted")

__all__ = ["BucketManager"]
