"""The asyncio collection manager (``bucket.collections()``)."""

from couchbase.management._run import front_end_methods
from couchbase.management.options import (CreateCollectionOptions,  # noqa: F401 - official
                                          CreateScopeOptions, DropCollectionOptions,
                                          DropScopeOptions, GetAllScopesOptions,
                                          UpdateCollectionOptions)
from couchbase.management.collections import (CollectionManagerLogic,  # noqa: F401
                                              CollectionSpec, CreateCollectionSettings,
                                              ScopeSpec, UpdateCollectionSettings)


class CollectionManager(CollectionManagerLogic):
    """Each method is a coroutine."""


front_end_methods(CollectionManager, CollectionManagerLogic._METHODS, "asyncio")

__all__ = ["CollectionManager"]
