# Types of the C extension couchbase._core (python/_core/*.c).
import asyncio
from typing import Any, Optional, Sequence, Tuple

Endpoint = Tuple[int, str, Optional[str], int, int, int, int]
Spec = Tuple[int, int, str, bytes]

class Result:
    cas: int
    flags: int
    expiry: int
    counter: int
    datatype: int
    value: Optional[bytes]
    token: Optional[Tuple[int, int, int, Optional[str]]]
    specs: Optional[Tuple[Tuple[int, int, Optional[bytes]], ...]]
    exists: bool
    deleted: bool

class AsyncCluster:
    def __init__(self, loop: asyncio.AbstractEventLoop, connstr: str, username: Optional[str],
                 password: Optional[str], kv_timeout_ms: int = ..., kv_durable_timeout_ms: int = ...,
                 connect_timeout_ms: int = ..., bootstrap_timeout_ms: int = ...) -> None: ...
    def connect(self) -> "asyncio.Future[None]": ...
    def open_bucket(self, name: str) -> "asyncio.Future[None]": ...
    def ping(self, bucket: Optional[str] = ...) -> "asyncio.Future[Tuple[Endpoint, ...]]": ...
    def diagnostics(self) -> "asyncio.Future[Tuple[Endpoint, ...]]": ...
    def submit(self, kind: int, bucket: str, scope: Optional[str], collection: Optional[str],
               key: str, **fields: Any) -> "asyncio.Future[Any]": ...
    def close(self) -> None: ...
    def pending(self) -> int: ...

def _alloc_live() -> int: ...
