"""The asyncio query index managers (``cluster.query_indexes()``, ``collection.query_indexes()``)."""

from couchbase.management._run import front_end_methods
from couchbase.management.queries import QueryIndex, QueryIndexManagerLogic  # noqa: F401


class QueryIndexManager(QueryIndexManagerLogic):
    """Each method is a coroutine."""


class CollectionQueryIndexManager(QueryIndexManagerLogic):
    """A collection's indexes; each method is a coroutine."""


front_end_methods(QueryIndexManager, QueryIndexManagerLogic._METHODS, "asyncio")
front_end_methods(CollectionQueryIndexManager, QueryIndexManagerLogic._METHODS, "asyncio")

__all__ = ["QueryIndexManager", "CollectionQueryIndexManager"]
