"""The datastructures (couchbase_list, couchbase_map, couchbase_set, couchbase_queue) on the
blocking and asyncio front ends (the official txcouchbase has none), and the deprecated
Collection methods of the blocking one."""

import pytest

from couchbase.exceptions import (DocumentNotFoundException, InvalidArgumentException,
                                  QueueEmpty)


@pytest.fixture
def ds(kv, fe):
    """ds(kind, key): the front end's datastructure, every call waited for."""
    if fe.name == "twisted":
        pytest.skip("txcouchbase has no datastructures (as the official SDK)")
    _, _, coll = kv
    return lambda kind, key: fe.sync(getattr(coll, "couchbase_" + kind)(key))


def aslist(fe, structure):
    """What iterating the structure gives (``async for`` on asyncio)."""
    obj = structure._obj

    async def collect():
        return [item async for item in obj]
    return fe.run(collect) if fe.name == "asyncio" else list(obj)


def test_list(ds, fe, kv, key):
    _, _, coll = kv
    items = ds("list", key())
    items.append(1)  # the first use creates the document
    items.append(2)
    items.prepend(0)
    assert items.get_all() == [0, 1, 2]
    assert coll.get(key()).content_as[list] == [0, 1, 2]
    assert items.size() == 3
    assert items.get_at(1) == 1
    assert items.get_at(10) is None  # past the end: None, as the official SDK gives
    assert items.index_of(2) == 2 and items.index_of("x") == -1
    assert aslist(fe, items) == [0, 1, 2]
    items.set_at(0, "z")
    items.remove_at(1)
    assert items.get_all() == ["z", 2]
    with pytest.raises(InvalidArgumentException, match="out of range"):
        items.set_at(5, 1)
    with pytest.raises(InvalidArgumentException, match="out of range"):
        items.remove_at(5)
    items.clear()
    with pytest.raises(DocumentNotFoundException):
        coll.get(key())
    items.clear()  # a missing list is fine
    assert items.size() == 0


def test_map(ds, key):
    m = ds("map", key())
    m.add("a", 1)
    m.add("b", [2])
    assert m.get_all() == {"a": 1, "b": [2]}
    assert m.size() == 2
    assert m.exists("a") and not m.exists("x")
    assert m.get("b") == [2] and m.get("x") is None
    assert sorted(m.keys()) == ["a", "b"]
    assert sorted(map(str, m.values())) == ["1", "[2]"]
    assert dict(m.items()) == {"a": 1, "b": [2]}
    m.remove("a")
    assert m.get_all() == {"b": [2]}
    with pytest.raises(InvalidArgumentException, match="not in the map"):
        m.remove("a")


def test_set(ds, key):
    s = ds("set", key())
    assert s.add(1) is True
    assert s.add(1) is False
    assert s.add("x") is True
    assert s.values() == [1, "x"] and s.size() == 2
    assert s.contains(1) and not s.contains(2)
    s.remove(1)
    s.remove(42)  # not there: nothing happens
    assert s.values() == ["x"]


def test_queue(ds, fe, key):
    q = ds("queue", key())
    q.push(1)
    q.push(2)
    assert q.size() == 2
    assert aslist(fe, q) == [2, 1]
    assert q.pop() == 1  # first in, first out
    assert q.pop() == 2
    with pytest.raises(QueueEmpty):
        q.pop()


def test_deprecated_collection_methods(kv, fe, key):
    if fe.name != "blocking":
        pytest.skip("the official SDK has them on the blocking Collection only")
    _, _, coll = kv
    with pytest.raises(DocumentNotFoundException):
        coll.list_append(key(), 1)
    first = coll.list_append(key(), 1, create=True)
    assert first.cas and first.mutation_token() is not None
    coll.list_prepend(key(), 0)
    coll.list_set(key(), 1, "one")
    assert coll.list_get(key(), 1) == "one" and coll.list_size(key()) == 2
    coll.list_remove(key(), 0)
    assert coll.get(key()).content_as[list] == ["one"]
    coll.map_add(key("m"), "k", "v", create=True)
    assert coll.map_get(key("m"), "k") == "v" and coll.map_size(key("m")) == 1
    coll.map_remove(key("m"), "k")
    assert coll.map_size(key("m")) == 0
    assert coll.set_add(key("s"), 5, create=True) is not None
    assert coll.set_add(key("s"), 5) is None
    assert coll.set_contains(key("s"), 5) and coll.set_size(key("s")) == 1
    coll.set_remove(key("s"), 5)
    assert not coll.set_contains(key("s"), 5)
    coll.queue_push(key("q"), "a", create=True)
    coll.queue_push(key("q"), "b")
    assert coll.queue_size(key("q")) == 2
    assert coll.queue_pop(key("q")) == "a"
    assert coll.queue_pop(key("q")) == "b"
    with pytest.raises(QueueEmpty):
        coll.queue_pop(key("q"))
