"""The scan types of ``Collection.scan`` (KV range scans): RangeScan between two ScanTerms,
PrefixScan, SamplingScan; and RangeScanRequest, the blocking iterator ``scan`` returns (inside a
``ScanResultIterable``). libdivan's dv_kvscan (include/divan/scan.h) scans the vbuckets; items
come in vbucket order, each vbucket's in key order."""

import random
from abc import ABC
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, Optional, Tuple

from couchbase._utils import timedelta_as_milliseconds
from couchbase.exceptions import (AlreadyQueriedException,  # noqa: F401 - official path
                                  CouchbaseException, InvalidArgumentException,
                                  RangeScanCompletedException)
from couchbase.result import ScanResult
from couchbase.transcoder import Transcoder

if TYPE_CHECKING:
    from couchbase._core import _Scan


class ScanTerm:
    """One end of a RangeScan: a key, inclusive unless ``exclusive``."""

    def __init__(self, term: str, exclusive: Optional[bool] = None) -> None:
        if not isinstance(term, str):
            raise InvalidArgumentException("Invalid term value provided.  Expected str.")
        self._term = term
        self._exclusive = exclusive

    @property
    def term(self) -> str:
        return self._term

    @property
    def exclusive(self) -> Optional[bool]:
        return self._exclusive

    def to_dict(self) -> Dict[str, Any]:
        return {"term": self._term, "exclusive": self._exclusive}


class ScanType(ABC):
    """The base of the scan types."""


class RangeScan(ScanType):
    """The keys from ``start`` to ``end`` (None: from the first, to the last)."""

    def __init__(self, start: Optional[ScanTerm] = None, end: Optional[ScanTerm] = None) -> None:
        self._start = start
        self._end = end

    @property
    def start(self) -> Optional[ScanTerm]:
        return self._start

    @property
    def end(self) -> Optional[ScanTerm]:
        return self._end


class PrefixScan(ScanType):
    """The keys that start with ``prefix``."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix

    @property
    def prefix(self) -> str:
        return self._prefix


class SamplingScan(ScanType):
    """At most ``limit`` documents chosen at random (``seed`` makes the choice repeatable)."""

    def __init__(self, limit: int, seed: Optional[int] = None) -> None:
        self._limit = limit
        self._seed = seed

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def seed(self) -> Optional[int]:
        return self._seed


# The official defaults: each continue's limits, and the range-scan timeout of the official core
# (key_value_scan_timeout, 75 s) for each create and continue.
DEFAULT_ITEM_LIMIT = 50
DEFAULT_BYTE_LIMIT = 15000
DEFAULT_TIMEOUT_MS = 75000
_MIN_TERM = b"\x00"
_MAX_TERM = b"\xff"  # above any byte of a UTF-8 key
_BATCH = 256  # items taken from the core per call


def _term(term: Optional[ScanTerm], default: bytes) -> Tuple[bytes, bool]:
    if term is None:
        return default, False
    if not isinstance(term, ScanTerm):
        raise InvalidArgumentException("RangeScan bounds must be ScanTerm instances.")
    data = term.term.encode("utf-8") or default
    return data, bool(term.exclusive)


def scan_spec(scan_type: Any, args: Dict[str, Any]) -> Dict[str, Any]:
    """The keyword arguments of the core's scan() for this scan type and these ScanOptions,
    checked as the official SDK checks them."""
    spec: Dict[str, Any] = {}
    if isinstance(scan_type, RangeScan):
        spec["start"], spec["excl_start"] = _term(scan_type.start, _MIN_TERM)
        spec["end"], spec["excl_end"] = _term(scan_type.end, _MAX_TERM)
    elif isinstance(scan_type, PrefixScan):
        if not isinstance(scan_type.prefix, str):
            raise InvalidArgumentException("The prefix must be a str.")
        prefix = scan_type.prefix.encode("utf-8")
        spec["start"] = prefix or _MIN_TERM
        spec["end"] = prefix + _MAX_TERM
    elif isinstance(scan_type, SamplingScan):
        if not isinstance(scan_type.limit, int) or scan_type.limit <= 0:
            raise InvalidArgumentException("Sampling scan limit must be positive")
        spec["sampling"] = True
        spec["samples"] = scan_type.limit
        seed = scan_type.seed
        spec["seed"] = random.getrandbits(63) if seed is None else int(seed) & (2 ** 63 - 1)
    else:
        raise InvalidArgumentException(
            "scan_type must be Union[RangeScan, PrefixScan, SamplingScan]")
    concurrency = args.get("concurrency")
    if concurrency is not None and concurrency < 1:
        raise InvalidArgumentException("Concurrency option must be positive")
    state = args.get("consistent_with")
    if state is not None:
        from couchbase.mutation_state import MutationState
        if not isinstance(state, MutationState) or not state._sv:
            raise InvalidArgumentException("Passed empty or invalid mutation state")
        spec["tokens"] = [(t.partition_uuid, t.sequence_number, t.partition_id, t.bucket_name)
                          for t in state._sv]
    spec["ids_only"] = bool(args.get("ids_only"))
    spec["item_limit"] = int(args.get("batch_item_limit") or DEFAULT_ITEM_LIMIT)
    spec["byte_limit"] = int(args.get("batch_byte_limit") or DEFAULT_BYTE_LIMIT)
    time_limit = args.get("batch_time_limit")
    if time_limit is not None:
        spec["time_limit_ms"] = timedelta_as_milliseconds(time_limit)
    spec["concurrency"] = int(concurrency or 1)
    timeout = args.get("timeout")
    spec["timeout_ms"] = DEFAULT_TIMEOUT_MS if timeout is None else max(1, int(timeout))
    return spec


class _ScanRequest:
    """One scan's iteration state, its start, end and cancellation, for both front ends."""

    def __init__(self, start: Callable[[], "_Scan"], ids_only: bool,
                 transcoder: Transcoder) -> None:
        self._start = start
        self._ids_only = ids_only
        self._transcoder = transcoder
        self._scan: Optional["_Scan"] = None
        self._items: Deque[Tuple[Any, ...]] = deque()
        self._started_streaming = False
        self._done_streaming = False

    @property
    def transcoder(self) -> Transcoder:
        return self._transcoder

    @property
    def started_streaming(self) -> bool:
        return self._started_streaming

    @property
    def done_streaming(self) -> bool:
        return self._done_streaming

    def _submit_scan(self) -> None:
        if not self._started_streaming:
            self._started_streaming = True
            self._scan = self._start()

    def _finish(self) -> None:
        self._done_streaming = True
        if self._scan is not None:
            self._scan.close()
            self._scan = None

    def cancel_scan(self) -> None:
        """Stop the scan; the iteration then ends."""
        if self._scan is not None:
            self._scan.cancel()
            self._scan.close()
            self._scan = None
        self._items.clear()  # the iteration ends at its next step



class RangeScanRequest(_ScanRequest):
    """The blocking iteration of one scan: started by the first ``iter()``, cancelled by
    ``cancel_scan()`` or when dropped (the server's scans are released either way)."""

    def __iter__(self) -> "RangeScanRequest":
        if self._done_streaming:
            raise AlreadyQueriedException()
        self._submit_scan()
        return self

    def __next__(self) -> ScanResult:
        if not self._items:
            if self._scan is None:
                self._done_streaming = True
                raise StopIteration
            try:
                batch = self._scan.next_batch(_BATCH)
            except BaseException:
                self._finish()
                raise
            if batch is None:
                self._finish()
                raise StopIteration
            self._items.extend(batch)
        return ScanResult(self._items.popleft(), self._ids_only, self._transcoder)

    def __del__(self) -> None:
        scan = getattr(self, "_scan", None)
        if scan is not None:
            scan.close()


__all__ = ["ScanTerm", "ScanType", "RangeScan", "PrefixScan", "SamplingScan"]
