"""divan's ``acouchbase``: the asyncio API of the Couchbase Python SDK.

Operations run in libdivan's engine on the running loop's own thread (``couchbase._core``), and
each returns an ``asyncio.Future``.

divan's adapter is an ``asyncio.Protocol`` on the loop's own transports, so it works on any
asyncio loop (the standard ones, uvloop, the Proactor loop). ``get_event_loop`` is the official
helper: it returns the loop given, else the current one, else a new one set as current.
"""

import asyncio
import selectors
from typing import Optional


class LoopValidator:
    """The official SDK's loop check. Every loop that has transports suits divan, so a loop is
    valid when it exists and is not closed."""

    @staticmethod
    def _is_valid_loop(evloop: Optional[asyncio.AbstractEventLoop]) -> bool:
        return evloop is not None and not evloop.is_closed()

    @staticmethod
    def _get_working_loop() -> asyncio.AbstractEventLoop:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            pass
        policy = asyncio.get_event_loop_policy()
        try:
            loop = policy.get_event_loop()
        except RuntimeError:  # none set in this thread (Python 3.12+ after a close)
            loop = None
        if not LoopValidator._is_valid_loop(loop):
            loop = policy.new_event_loop()
            asyncio.set_event_loop(loop)
        assert loop is not None
        return loop

    @staticmethod
    def get_event_loop(evloop: Optional[asyncio.AbstractEventLoop]) -> asyncio.AbstractEventLoop:
        if LoopValidator._is_valid_loop(evloop):
            assert evloop is not None
            return evloop
        return LoopValidator._get_working_loop()

    @staticmethod
    def close_loop() -> None:
        try:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            return
        if not loop.is_closed():
            loop.close()


def couchbase_loop_factory() -> asyncio.AbstractEventLoop:
    """A new SelectorEventLoop, as the official factory gives (for ``asyncio.run``'s
    ``loop_factory`` on Python 3.12+)."""
    return asyncio.SelectorEventLoop(selectors.SelectSelector())


def get_event_loop(evloop: Optional[asyncio.AbstractEventLoop] = None) -> asyncio.AbstractEventLoop:
    """evloop if it is open, else the running or current loop, else a new current one."""
    return LoopValidator.get_event_loop(evloop)
