"""libdivan's log hook to Python's ``logging`` (couchbase.configure_logging)."""

import logging
from typing import Any, Optional

# dv_log_level (include/divan/base.h): error, warn, info, debug, trace.
_LEVELS = (logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG, 5)


def _max_level(level: int) -> int:
    """The most verbose dv_log_level that ``level`` lets through."""
    for dv in range(len(_LEVELS) - 1, -1, -1):
        if _LEVELS[dv] >= level:
            return dv
    return 0


def configure(name: str, level: int, parent_logger: Optional[Any] = None) -> None:
    from couchbase import _core

    if parent_logger is not None:
        name = "%s.%s" % (parent_logger.name, name)
    logger = logging.getLogger(name)
    logger.setLevel(level)

    def emit(dv_level: int, subsystem: str, message: str) -> None:
        logger.log(_LEVELS[min(max(dv_level, 0), 4)], "%s: %s", subsystem, message)

    _core.set_log_hook(emit, _max_level(level))
