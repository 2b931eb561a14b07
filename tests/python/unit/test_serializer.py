"""DefaultJsonSerializer: the bytes json.dumps(ensure_ascii=False) gives and the values
json.loads gives, through its direct calls of the standard library's C encoder and scanner, with
the standard errors for what those do not take."""

import json
import threading

import pytest

from couchbase.serializer import DefaultJsonSerializer

VALUES = [{"a": [1, 2.5, None, True, False, "é\n\u2028\U0001f600"], "b": {"c": -1e300}},
          {1: "int key", 2.5: "float key", None: "none key", True: "bool key"},
          "just a string", 12345678901234567890, -0.0, float("inf"), float("nan"), [], {},
          [[[[]]]], ("tuple", 1), {"nested": {"deep": [{"x": "y"}]}}]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_serialize_is_json_dumps(value):
    assert DefaultJsonSerializer().serialize(value) == json.dumps(
        value, ensure_ascii=False).encode()


@pytest.mark.parametrize("text", [b'{"a": 1}', b' {"a": 1}', b'{"a": 1}\n', b"[1,2]", b'"x"',
                                  b"NaN", b"-Infinity", b"12345678901234567890", b"1e400",
                                  b'"\\ud800"', '{"é": "ü"}'.encode()])
def test_deserialize_is_json_loads(text):
    got, want = DefaultJsonSerializer().deserialize(text), json.loads(text)
    assert json.dumps(got) == json.dumps(want)


@pytest.mark.parametrize("text", [b'{"a": 1}x', b"", b"{", b"[1,]", b"nope"])
def test_malformed_text_raises_what_json_loads_raises(text):
    with pytest.raises(json.JSONDecodeError) as got:
        DefaultJsonSerializer().deserialize(text)
    with pytest.raises(json.JSONDecodeError) as want:
        json.loads(text)
    assert str(got.value) == str(want.value)


def test_errors_are_json_dumps_errors():
    cyclic = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="Circular reference detected"):
        DefaultJsonSerializer().serialize(cyclic)
    with pytest.raises(TypeError, match="not JSON serializable"):
        DefaultJsonSerializer().serialize({"s": {1, 2}})
    # and the encoder is still right afterwards
    assert DefaultJsonSerializer().serialize([cyclic[:0]]) == b"[[]]"


def test_one_document_encoded_by_many_threads_at_once():
    doc = {"k%d" % i: [i, {"v": "x" * i}] for i in range(50)}
    want = json.dumps(doc, ensure_ascii=False).encode()
    bad = []

    def run():
        s = DefaultJsonSerializer()
        for _ in range(2000):
            if s.serialize(doc) != want:
                bad.append(1)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad
