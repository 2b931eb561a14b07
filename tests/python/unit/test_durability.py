"""Durability enums, wrappers and the parser that feeds requests."""
import pytest

from couchbase.durability import (ClientDurability, Durability, DurabilityLevel, DurabilityParser,
                                  PersistTo, PersistToExtended, ReplicateTo, ServerDurability)
from couchbase.exceptions import InvalidArgumentException


def test_enum_values():
    assert [int(x) for x in DurabilityLevel] == [0, 1, 2, 3]
    assert [int(x) for x in Durability] == [0, 1, 2, 3]
    assert (ReplicateTo.NONE, ReplicateTo.ONE, ReplicateTo.TWO, ReplicateTo.THREE) == (0, 1, 2, 3)
    assert (PersistTo.NONE, PersistTo.ONE, PersistTo.TWO, PersistTo.THREE) == (0, 2, 3, 4)
    assert [int(x) for x in PersistToExtended] == [0, 1, 2, 3, 4, 5]


def test_server_strings_round_trip():
    assert DurabilityLevel.MAJORITY_AND_PERSIST_TO_ACTIVE.to_server_str() == \
        "majority_and_persist_to_active"
    for level in DurabilityLevel:
        assert DurabilityLevel.from_server_str(level.to_server_str()) is level
    assert DurabilityLevel.to_server_str(DurabilityLevel.MAJORITY) == "majority"
    assert DurabilityLevel.from_server_str("most") is DurabilityLevel.NONE


def test_parse_server_durability_to_level_int():
    assert DurabilityParser.parse_durability(ServerDurability(DurabilityLevel.MAJORITY)) == 1
    assert DurabilityParser.parse_durability(ServerDurability(DurabilityLevel.NONE)) == 0
    assert DurabilityParser.parse_durability(
        ServerDurability(DurabilityLevel.PERSIST_TO_MAJORITY)) == 3


def test_parse_client_durability_to_dict():
    d = ClientDurability(replicate_to=ReplicateTo.TWO, persist_to=PersistTo.ONE)
    assert DurabilityParser.parse_durability(d) == {"replicate_to": 2, "persist_to": 2}
    d = ClientDurability(persist_to=PersistToExtended.FOUR)
    assert DurabilityParser.parse_durability(d) == {"replicate_to": 0, "persist_to": 5}
    assert DurabilityParser.parse_durability(ClientDurability()) == \
        {"replicate_to": 0, "persist_to": 0}


@pytest.mark.parametrize("other", [None, 1, "majority", DurabilityLevel.MAJORITY, {"level": 1}])
def test_parse_ignores_other_types(other):
    assert DurabilityParser.parse_durability(other) is None  # as the official SDK does


def test_wrappers_accept_members_and_their_int_values():
    assert ServerDurability(Durability.MAJORITY).level is DurabilityLevel.MAJORITY
    assert ServerDurability(1).level is DurabilityLevel.MAJORITY
    assert ClientDurability(replicate_to=2).replicate_to is ReplicateTo.TWO
    assert ClientDurability(persist_to=5).persist_to is PersistToExtended.FOUR


@pytest.mark.parametrize("kwargs", [{"replicate_to": 4}, {"replicate_to": "one"},
                                    {"persist_to": 9}, {"persist_to": None}])
def test_client_durability_rejects_bad_values(kwargs):
    with pytest.raises(InvalidArgumentException):
        ClientDurability(**kwargs)


@pytest.mark.parametrize("level", [4, "majority", None, True])
def test_server_durability_rejects_bad_levels(level):
    with pytest.raises(InvalidArgumentException):
        ServerDurability(level)
