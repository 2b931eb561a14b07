"""The asyncio query request (acouchbase's ``QueryResult`` runs on it): the rows stream as the
blocking ones do (couchbase.n1ql.QueryStream), each batch awaited on the loop; cancelling the
task that waits, or leaving the ``async for``, cancels the request in the engine.

``fetch`` reads a whole response instead (txcouchbase's Deferred fires with it)."""

from typing import Any, AsyncIterator, Callable, List, Optional

from couchbase.exceptions import AlreadyQueriedException, CouchbaseException
from couchbase.n1ql import (QUERY_PATH, QueryMetaData, QueryOutcome, QueryRequest,
                            QueryStream, batch_decoder)


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

    def __init__(self, loop: Any, query_rows: Callable[..., Any], request: QueryRequest) -> None:
        self._loop = loop
        self._query_rows = query_rows
        self._request = request
        self._meta: Optional[QueryMetaData] = None
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
        decode = batch_decoder(self._request)
        while self._meta is None:
            stream = QueryStream(self._query_rows, self._request, decode)
            try:
                while (rows := stream.take()) is not None:
                    if not rows:
                        await stream.rows.wait(self._loop)
                    for row in rows:
                        yield row
            except BaseException:
                stream.rows.close()  # a reader that stops, or a cancelled task
                raise
            self._meta = stream.finish()
        self._done = True

    async def _execute(self) -> List[Any]:
        return [row async for row in self]

    def execute(self) -> "Any":
        """A task of the list of rows (``await result.execute()``)."""
        return self._loop.create_task(self._execute())

    def metadata(self) -> Optional[QueryMetaData]:
        return self._meta if self._done else None


__all__ = ["AsyncN1QLRequest"]
