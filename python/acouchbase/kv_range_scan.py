"""The asyncio iteration of ``AsyncCollection.scan`` (the official module path): an async
iterator over the scan's ScanResults, the items taken from libdivan's dv_kvscan on the loop's
own thread (no worker thread); dropping it, or ``cancel_scan()``, cancels the scan."""

import asyncio
from typing import TYPE_CHECKING, Callable, Optional

from couchbase.exceptions import (AlreadyQueriedException,  # noqa: F401 - official path
                                  CouchbaseException, RangeScanCompletedException)
from couchbase.kv_range_scan import _BATCH, _ScanRequest
from couchbase.result import ScanResult
from couchbase.transcoder import Transcoder

if TYPE_CHECKING:
    from couchbase._core import _Scan


class AsyncRangeScanRequest(_ScanRequest):
    """``async for`` over one scan (started by the first ``__aiter__``)."""

    def __init__(self, start: Callable[[], "_Scan"], ids_only: bool, transcoder: Transcoder,
                 loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(start, ids_only, transcoder)
        self._loop = loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def __aiter__(self) -> "AsyncRangeScanRequest":
        if self._done_streaming:
            raise AlreadyQueriedException()
        self._submit_scan()
        return self

    async def __anext__(self) -> ScanResult:
        while not self._items:
            if self._scan is None:
                self._done_streaming = True
                raise StopAsyncIteration
            try:
                batch = self._scan.next_batch(_BATCH)
            except BaseException:
                self._finish()
                raise
            if batch is None:
                self._finish()
                raise StopAsyncIteration
            if batch:
                self._items.extend(batch)
                break
            await self._scan.wait(self._loop)
        return ScanResult(self._items.popleft(), self._ids_only, self._transcoder)

    def __del__(self) -> None:
        # A dropped iteration is collected wherever the garbage collector runs; the scan is
        # the engine's, which only the loop's thread may touch while the loop runs.
        scan = getattr(self, "_scan", None)
        if scan is None:
            return
        self._scan = None
        try:
            here: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is self._loop or not self._loop.is_running():
            scan.close()  # no loop runs the engine meanwhile
        else:
            self._loop.call_soon_threadsafe(scan.close)


__all__ = ["AsyncRangeScanRequest"]
