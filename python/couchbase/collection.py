"""The official module path of the blocking Collection (defined in couchbase.cluster), with the
names 3.x code still imports from here: the options classes, DeltaValue and SignedInt64."""

from couchbase.cluster import CBCollection, Collection
from couchbase.management.queries import CollectionQueryIndexManager
from couchbase.options import *  # noqa: F401,F403 - the 3.x import path of every options class
from couchbase.options import DeltaValue, SignedInt64

__all__ = ["Collection", "CBCollection", "DeltaValue", "SignedInt64",
           "CollectionQueryIndexManager"]
