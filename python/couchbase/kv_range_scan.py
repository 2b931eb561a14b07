"""The scan types of ``Collection.scan`` (KV range scans): RangeScan between two ScanTerms,
PrefixScan, SamplingScan. divan's SDK has the classes; ``scan`` itself is not built yet (see
docs/python.md)."""

from abc import ABC
from typing import Any, Dict, Optional

from couchbase.exceptions import InvalidArgumentException


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


__all__ = ["ScanTerm", "ScanType", "RangeScan", "PrefixScan", "SamplingScan"]
