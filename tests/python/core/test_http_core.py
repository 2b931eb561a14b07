"""couchbase._core's one HTTP primitive, http_request(service, method, path, body,
content_type, timeout_ms, idempotent) -> (status, body), on the blocking driver and on asyncio
(the Twisted front end runs the asyncio one on its reactor's loop)."""

import asyncio
import json

import pytest

from couchbase import _core
from couchbase.exceptions import AmbiguousTimeoutException, UnAmbiguousTimeoutException

QUERY = b'{"statement":"SELECT 1+1 AS two"}'
EXPIRED = (1 << 64) - 1  # DV_TIMEOUT_EXPIRED: the time is up before it starts


def rows(body):
    doc = json.loads(body)
    assert doc["status"] == "success"
    return doc["results"]


def test_blocking(divan_server):
    core = _core.BlockingCluster(divan_server.connstr, "user", "password")
    core.connect()
    status, body = core.http_request("query", "POST", "/query/service", QUERY, "application/json")
    assert status == 200 and rows(body) == [{"two": 2}]
    status, body = core.http_request("mgmt", "GET", "/pools/default/buckets", idempotent=True)
    assert status == 200 and "default" in [b["name"] for b in json.loads(body)]
    status, body = core.http_request("query", "POST", "/query/service",
                                     '{"statement":"I am not SQL"}', "application/json")
    assert json.loads(body)["errors"][0]["code"] == 3000
    with pytest.raises(AmbiguousTimeoutException):
        core.http_request("query", "POST", "/query/service", QUERY, "application/json",
                          timeout_ms=EXPIRED)
    with pytest.raises(UnAmbiguousTimeoutException):
        core.http_request("query", "POST", "/query/service", QUERY, "application/json",
                          timeout_ms=EXPIRED, idempotent=True)
    with pytest.raises(ValueError):
        core.http_request("search", "GET", "/")
    core.close()
    with pytest.raises(RuntimeError):
        core.http_request("mgmt", "GET", "/pools")


def test_asyncio_and_cancel(divan_server):
    async def main():
        core = _core.AsyncCluster(asyncio.get_running_loop(), divan_server.connstr, "user",
                                  "password")
        await core.connect()
        status, body = await core.http_request("query", "POST", "/query/service", QUERY,
                                               "application/json")
        assert status == 200 and rows(body) == [{"two": 2}]
        future = core.http_request("query", "POST", "/query/service", QUERY, "application/json")
        assert core.pending() == 1
        future.cancel()
        await asyncio.sleep(0)  # the future's done callbacks run in the next loop pass
        assert core.pending() == 0  # the engine dropped the request
        core.close()

    asyncio.run(main())
