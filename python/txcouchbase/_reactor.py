"""The part of the asyncio loop interface that ``couchbase._core``'s engine adapter uses, made of
a Twisted reactor: whichever reactor is installed (epoll, select, asyncio...) drives libdivan's
engine on its own thread, as an asyncio loop does for acouchbase.

- ``call_soon`` queues callbacks run in order by one ``callLater(0)`` per reactor iteration;
- ``call_at``/``call_later`` are ``callLater``, on the reactor's clock (``time``);
- ``create_future`` gives ``asyncio.Future(loop=self)``: the engine resolves those, and
  ``gather``, ``shield`` and Tasks work on them;
- ``create_connection`` connects with ``connectTCP`` and feeds the engine's connection (an
  asyncio Protocol) from a Twisted Protocol.
"""

import asyncio
import contextvars
from collections import deque
from typing import Any, Callable, Deque, List, Optional, Tuple

from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IReactorTCP
from twisted.internet.protocol import ClientFactory, Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

_log = Logger(namespace="txcouchbase")


class _Handle:
    """What call_soon returns: cancel() before it ran skips it."""

    __slots__ = ("fn", "args", "context", "cancelled")

    def __init__(self, fn: Callable[..., Any], args: Tuple[Any, ...],
                 context: Optional[contextvars.Context]) -> None:
        self.fn = fn
        self.args = args
        self.context = context
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class _TimerHandle:
    """What call_at and call_later return: cancel() is a no-op once it ran."""

    __slots__ = ("_call",)

    def __init__(self, call: Any) -> None:
        self._call = call

    def cancel(self) -> None:
        if self._call.active():
            self._call.cancel()


class ReactorLoop:
    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._ready: Deque[_Handle] = deque()
        self._draining: Optional[Any] = None

    # ---- time and callbacks

    def time(self) -> float:
        return float(self._reactor.seconds())

    def get_debug(self) -> bool:
        return False

    def is_closed(self) -> bool:
        return False

    def call_soon(self, fn: Callable[..., Any], *args: Any,
                  context: Optional[contextvars.Context] = None) -> _Handle:
        handle = _Handle(fn, args, context)
        self._ready.append(handle)
        if self._draining is None:
            self._draining = self._reactor.callLater(0, self._drain)
        return handle

    def _drain(self) -> None:
        """Run what was queued before this iteration (what these queue runs in the next)."""
        self._draining = None
        try:
            for _ in range(len(self._ready)):
                handle = self._ready.popleft()
                if handle.cancelled:
                    continue
                try:
                    if handle.context is not None:
                        handle.context.run(handle.fn, *handle.args)
                    else:
                        handle.fn(*handle.args)
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException:  # noqa: B902 - one callback must not stop the others
                    _log.failure("callback {fn!r} failed", fn=handle.fn)
        finally:
            if self._ready and self._draining is None:
                self._draining = self._reactor.callLater(0, self._drain)

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any,
                   context: Optional[contextvars.Context] = None) -> _TimerHandle:
        if context is not None:
            return _TimerHandle(self._reactor.callLater(max(0.0, delay), context.run, fn,
                                                        *args))
        return _TimerHandle(self._reactor.callLater(max(0.0, delay), fn, *args))

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any,
                context: Optional[contextvars.Context] = None) -> _TimerHandle:
        return self.call_later(when - self.time(), fn, *args, context=context)

    def call_exception_handler(self, context: Any) -> None:
        _log.error("{message}", message=context.get("message", "unhandled error"),
                   exception=context.get("exception"))

    # ---- futures and tasks

    def create_future(self) -> "asyncio.Future[Any]":
        return asyncio.Future(loop=self)  # type: ignore[arg-type]

    def create_task(self, coro: Any) -> Any:
        if isinstance(coro, _Connecting):  # create_connection already started it
            return coro
        return asyncio.Task(coro, loop=self)  # type: ignore[arg-type]

    # ---- connections

    def create_connection(self, factory: Callable[[], Any], host: str,
                          port: int) -> "_Connecting":
        return _Connecting(IReactorTCP(self._reactor), factory(), host, port)


class _Transport:
    """The asyncio transport calls the engine's connection makes."""

    __slots__ = ("write", "close", "_transport")

    def __init__(self, transport: Any) -> None:
        self.write = transport.write
        self.close = transport.loseConnection
        self._transport = transport

    def get_extra_info(self, name: str) -> Any:
        """``sockname``: (host, port) of this end, as asyncio's transports give it."""
        if name != "sockname":
            return None
        host = self._transport.getHost()
        return (host.host, host.port)


class _Protocol(Protocol):
    def __init__(self, conn: Any, connecting: "_Connecting") -> None:
        self._conn = conn
        self._connecting = connecting

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.setTcpNoDelay(True)
        self._conn.connection_made(_Transport(self.transport))
        self.dataReceived = self._conn.data_received  # type: ignore[method-assign]
        self._connecting._finish(None)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        clean = isinstance(reason.value, ConnectionDone)
        self._conn.connection_lost(None if clean else reason.value)


class _Factory(ClientFactory):
    def __init__(self, conn: Any, connecting: "_Connecting") -> None:
        self._conn = conn
        self._connecting = connecting

    def buildProtocol(self, addr: Any) -> _Protocol:
        return _Protocol(self._conn, self._connecting)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self._connecting._finish(reason.value)


class _Connecting:
    """A connect in progress, with the part of the asyncio Task interface the engine adapter
    uses: cancel, add_done_callback, cancelled, exception."""

    def __init__(self, reactor: Any, conn: Any, host: str, port: int) -> None:
        self._done = False
        self._cancelled = False
        self._exception: Optional[BaseException] = None
        self._callbacks: List[Callable[[Any], Any]] = []
        self._connector = reactor.connectTCP(host, port, _Factory(conn, self))

    def _finish(self, exception: Optional[BaseException]) -> None:
        if self._done:
            return
        self._done = True
        self._exception = exception
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def cancel(self) -> None:
        if not self._done:
            self._cancelled = True
            self._connector.stopConnecting()

    def add_done_callback(self, fn: Callable[[Any], Any]) -> None:
        if self._done:
            fn(self)
        else:
            self._callbacks.append(fn)

    def cancelled(self) -> bool:
        return self._cancelled

    def exception(self) -> Optional[BaseException]:
        return self._exception
