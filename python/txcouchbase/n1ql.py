"""The Twisted query: ``query()`` gives a Deferred fired once the whole response arrived, with a
QueryResult whose rows iterate synchronously (its error, if any, is raised on iteration, as in
the blocking API)."""

from typing import Any, Callable

from acouchbase.n1ql import fetch
from couchbase.n1ql import FetchedRequest, QueryRequest
from couchbase.result import QueryResult


async def fetch_result(http_request: Callable[..., Any], req: QueryRequest) -> QueryResult:
    try:
        outcome = await fetch(http_request, req)
    except Exception as exc:  # delivered on iteration
        return QueryResult(FetchedRequest(None, exc))
    return QueryResult(FetchedRequest(outcome, None))


__all__ = ["fetch_result"]
