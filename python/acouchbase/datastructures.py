"""The asyncio datastructures: ``collection.couchbase_list(key)`` and the others; each method
is a coroutine (couchbase._datastructures has the rules)."""

from typing import Any, AsyncIterator, Awaitable

from couchbase._datastructures import (ListLogic, MapLogic, QueueLogic, SetLogic, Steps,
                                       run_async)
from couchbase.exceptions import QueueEmpty  # noqa: F401 - the official import path


class _Async:
    _collection: Any

    def _run(self, steps: Steps) -> Awaitable[Any]:
        return run_async(self._collection, steps, self._collection._sleep)

    async def _aiter(self) -> AsyncIterator[Any]:
        for item in await self._run(getattr(self, "_content")()):
            yield item

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._aiter()


class CouchbaseList(_Async, ListLogic):
    """A list in one document; ``async for`` reads the whole list once."""


class CouchbaseMap(_Async, MapLogic):
    """A map in one document."""


class CouchbaseSet(_Async, SetLogic):
    """A set in one document."""


class CouchbaseQueue(_Async, QueueLogic):
    """A FIFO queue in one document; ``async for`` reads it once, newest first."""


__all__ = ["CouchbaseList", "CouchbaseMap", "CouchbaseSet", "CouchbaseQueue"]
