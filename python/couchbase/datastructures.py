"""The blocking datastructures: ``collection.couchbase_list(key)`` and the others, each a JSON
document used through sub-document operations (couchbase._datastructures has the rules)."""

from typing import Any, Iterator

from couchbase._datastructures import (ListLogic, MapLogic, QueueLogic, SetLogic, Steps,
                                       run_blocking)
from couchbase.exceptions import QueueEmpty  # noqa: F401 - the official import path


class _Blocking:
    _collection: Any

    def _run(self, steps: Steps) -> Any:
        return run_blocking(self._collection, steps)


class CouchbaseList(_Blocking, ListLogic):
    """A list in one document: append, prepend, set_at, get_at, remove_at, size, index_of,
    get_all, clear; iterating reads the whole list once."""

    def __iter__(self) -> Iterator[Any]:
        return iter(self.get_all())


class CouchbaseMap(_Blocking, MapLogic):
    """A map in one document: add, get, remove, size, exists, keys, values, get_all, items,
    clear."""


class CouchbaseSet(_Blocking, SetLogic):
    """A set in one document: add, remove, contains, size, values, clear."""


class CouchbaseQueue(_Blocking, QueueLogic):
    """A FIFO queue in one document: push, pop, size, clear; iterating reads it once, newest
    first."""

    def __iter__(self) -> Iterator[Any]:
        return iter(self._run(self._content()))


__all__ = ["CouchbaseList", "CouchbaseMap", "CouchbaseSet", "CouchbaseQueue"]
