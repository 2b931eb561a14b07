"""Conversions of user-facing time values into what the engine and server expect."""

import time
from datetime import timedelta
from typing import Any, Optional

from couchbase.exceptions import InvalidArgumentException

THIRTY_DAYS_IN_SECONDS = 30 * 24 * 60 * 60
# the server's expiry is an unsigned 32-bit Unix time
MAX_EXPIRY = 0xFFFFFFFF


def _require_timedelta(value: Any, what: str) -> timedelta:
    if not isinstance(value, timedelta):
        raise InvalidArgumentException(
            "Expected timedelta for %s, got %s." % (what, type(value).__name__))
    return value


def timedelta_as_timestamp(duration: timedelta) -> int:
    """The server expiry for a relative ``duration`` (the 30-day rule).

    Below 30 days the seconds are sent as a relative TTL; from 30 days on, the server reads the
    number as an absolute Unix time, so ``now + seconds`` is sent. 0 means "no expiry". Only a
    ``timedelta`` is accepted; a negative one raises InvalidArgumentException. As in the
    official SDK, an absolute time past 2106 is cut to its low 32 bits (the protocol's field).
    """
    seconds = int(_require_timedelta(duration, "expiry").total_seconds())
    if seconds < 0:
        raise InvalidArgumentException(
            "Expiry cannot be negative: %s (%d seconds)." % (duration, seconds))
    if seconds < THIRTY_DAYS_IN_SECONDS:
        return seconds
    return (seconds + int(time.time())) & MAX_EXPIRY


def timedelta_as_milliseconds(duration: timedelta) -> int:
    """A timeout as whole milliseconds (timedelta only; negative raises)."""
    ms = int(_require_timedelta(duration, "timeout").total_seconds() * 1000)
    if ms < 0:
        raise InvalidArgumentException("Timeout cannot be negative: %s." % (duration,))
    return ms


def timedelta_as_seconds(duration: timedelta, what: str = "lock_time") -> int:
    """A duration as whole seconds (used for ``lock_time``); negative raises."""
    seconds = int(_require_timedelta(duration, what).total_seconds())
    if seconds < 0:
        raise InvalidArgumentException("%s cannot be negative: %s." % (what, duration))
    return seconds


def validate_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentException("Expected str for %s, got %s." % (what, type(value).__name__))
    return value


def is_null_or_empty(value: Optional[str]) -> bool:
    return not value
