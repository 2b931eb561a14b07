"""Durability requirements of mutations: server-side (synchronous replication, server 6.5+) or
client-side (the client polls replicas, the 'legacy' durability)."""

from enum import IntEnum
from typing import Any, Dict, Optional, TypeVar, Union

from couchbase.exceptions import InvalidArgumentException


class DurabilityLevel(IntEnum):
    """Server durability levels; the value is what travels in the durability frame info."""

    NONE = 0
    MAJORITY = 1
    MAJORITY_AND_PERSIST_TO_ACTIVE = 2
    PERSIST_TO_MAJORITY = 3

    def to_server_str(self) -> str:
        """The REST API's name of the level (``DurabilityLevel.to_server_str(level)`` works too)."""
        return self.name.lower()

    @classmethod
    def from_server_str(cls, value: str) -> "DurabilityLevel":
        """The level a REST API name denotes; an unknown name gives NONE, as upstream."""
        try:
            return cls[value.upper()]
        except (KeyError, AttributeError):
            return cls.NONE


class Durability(IntEnum):
    """Deprecated: use :class:`DurabilityLevel`."""

    NONE = 0
    MAJORITY = 1
    MAJORITY_AND_PERSIST_TO_ACTIVE = 2
    PERSIST_TO_MAJORITY = 3


class ReplicateTo(IntEnum):
    NONE = 0
    ONE = 1
    TWO = 2
    THREE = 3


class PersistTo(IntEnum):
    """Replica persistence count (3.x values, already shifted to the core's numbering)."""

    NONE = 0
    ONE = 2
    TWO = 3
    THREE = 4


class PersistToExtended(IntEnum):
    NONE = 0
    ACTIVE = 1
    ONE = 2
    TWO = 3
    THREE = 4
    FOUR = 5


def _enum_value(enum: Any, value: Any, what: str) -> Any:
    """``value`` as a member of ``enum``: a member, or (as upstream accepts) its int value."""
    if isinstance(value, enum):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return enum(int(value))
        except ValueError:
            pass
    raise InvalidArgumentException("Invalid %s: %r." % (what, value))


class ServerDurability:
    """Synchronous replication enforced by the server at ``level``."""

    def __init__(self, level: DurabilityLevel) -> None:
        self._level: DurabilityLevel = _enum_value(DurabilityLevel, level, "ServerDurability level")

    @property
    def level(self) -> DurabilityLevel:
        return self._level

    def __repr__(self) -> str:
        return "ServerDurability(level=%s)" % self._level.name


class ClientDurability:
    """Durability observed by the client: wait until ``replicate_to`` / ``persist_to`` nodes hold it."""

    def __init__(self, replicate_to: ReplicateTo = ReplicateTo.NONE,
                 persist_to: Union[PersistTo, PersistToExtended] = PersistTo.NONE) -> None:
        self._replicate_to: ReplicateTo = _enum_value(ReplicateTo, replicate_to, "replicate_to")
        if not isinstance(persist_to, (PersistTo, PersistToExtended)):
            persist_to = _enum_value(PersistToExtended, persist_to, "persist_to")
        self._persist_to = persist_to

    @property
    def replicate_to(self) -> ReplicateTo:
        return self._replicate_to

    @property
    def persist_to(self) -> Union[PersistTo, PersistToExtended]:
        return self._persist_to

    def __repr__(self) -> str:
        return "ClientDurability(replicate_to=%s, persist_to=%s)" % (
            self._replicate_to.name, self._persist_to.name)


DurabilityType = TypeVar("DurabilityType", bound=Union[ClientDurability, ServerDurability])


class DurabilityParser:
    """Turns a durability option into what the request carries."""

    @staticmethod
    def parse_durability(durability: Any) -> Optional[Union[int, Dict[str, int]]]:
        """``ServerDurability`` -> the level's int; ``ClientDurability`` ->
        ``{'replicate_to': int, 'persist_to': int}``; anything else -> None: as in the official
        SDK, a value of another type (an int, a string, a bare DurabilityLevel) is ignored and
        the write is sent without durability."""
        if isinstance(durability, ServerDurability):
            return int(durability.level.value)
        if isinstance(durability, ClientDurability):
            return {"replicate_to": int(durability.replicate_to.value),
                    "persist_to": int(durability.persist_to.value)}
        return None


__all__ = ["DurabilityLevel", "Durability", "ReplicateTo", "PersistTo", "PersistToExtended",
           "ServerDurability", "ClientDurability", "DurabilityType", "DurabilityParser"]
