"""The asyncio query request (acouchbase's ``QueryResult`` runs on it): the HTTP request is a
future of the loop, awaited on the first ``async for`` step or by ``execute()``; cancelling the
task that waits cancels the request in the engine."""

from typing import Any, AsyncIterator, Callable, List, Optional

from couchbase.exceptions import AlreadyQueriedException, CouchbaseException
from couchbase.n1ql import QUERY_PATH, QueryMetaData, QueryOutcome, QueryRequest


async def fetch(http_request: Callable[..., Any], req: QueryRequest) -> QueryOutcome:
    """Send the query (again after a prepared statement was forgotten) until it is done."""
    while True:
        body, timeout_ms = req.attempt()
        try:
            status, data = await http_request("query", "POST", QUERY_PATH, body,
                                              "application/json", timeout_ms=timeout_ms,
                                              idempotent=req.read_only)
        except CouchbaseException as exc:
            raise req.transport_error(exc) from None
        got = req.handle(status, data)
        if got is not None:
            return QueryOutcome(got[0], got[1], req.serializer)


class AsyncN1QLRequest:
    is_async = True

    def __init__(self, loop: Any, http_request: Callable[..., Any], request: QueryRequest) -> None:
        self._loop = loop
        self._http = http_request
        self._request = request
        self._outcome: Optional[QueryOutcome] = None
        self._started = False
        self._done = False

    @property
    def params(self) -> Any:
        return self._request.body

    def __aiter__(self) -> AsyncIterator[Any]:
        if self._started:
            raise AlreadyQueriedException()
        self._started = True
        return self._rows()

    async def _rows(self) -> AsyncIterator[Any]:
        outcome = await fetch(self._http, self._request)
        self._outcome = outcome
        for row in outcome.iter_rows():
            yield row
        self._done = True

    async def _execute(self) -> List[Any]:
        return [row async for row in self]

    def execute(self) -> "Any":
        """A task of the list of rows (``await result.execute()``)."""
        return self._loop.create_task(self._execute())

    def metadata(self) -> Optional[QueryMetaData]:
        return self._outcome.meta if self._outcome is not None and self._done else None


__all__ = ["AsyncN1QLRequest"]
