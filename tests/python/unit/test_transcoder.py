"""Transcoders: the official flags, accepted types and decode errors."""
import pickle

import pytest

from couchbase.constants import (FMT_BYTES, FMT_COMMON_MASK, FMT_JSON, FMT_LEGACY_MASK,
                                 FMT_PICKLE, FMT_UTF8)
from couchbase.exceptions import ValueFormatException
from couchbase.serializer import DefaultJsonSerializer, Serializer
from couchbase.transcoder import (JSONTranscoder, LegacyTranscoder, RawBinaryTranscoder,
                                  RawJSONTranscoder, RawStringTranscoder, Transcoder,
                                  get_decode_format)


def test_flag_values():
    assert (FMT_JSON, FMT_PICKLE, FMT_BYTES, FMT_UTF8) == \
        (0x02000000, 0x01000001, 0x03000002, 0x04000004)
    assert (FMT_COMMON_MASK, FMT_LEGACY_MASK) == (0xFF000000, 0x07)


@pytest.mark.parametrize("flags, fmt", [
    (FMT_JSON, FMT_JSON), (0, FMT_JSON), (FMT_BYTES, FMT_BYTES), (0x02, FMT_BYTES),
    (FMT_UTF8, FMT_UTF8), (0x04, FMT_UTF8), (FMT_PICKLE, FMT_PICKLE), (0x01, FMT_PICKLE),
    (0x02000002, FMT_JSON),  # the common byte wins
    (None, None), (0x09000000, None),
])
def test_decode_format(flags, fmt):
    assert get_decode_format(flags) == fmt


def test_json_encode():
    t = JSONTranscoder()
    assert t.encode_value({"a": "é"}) == ('{"a": "é"}'.encode("utf-8"), FMT_JSON)
    assert t.encode_value("text") == (b'"text"', FMT_JSON)
    assert t.encode_value([1, 2]) == (b"[1, 2]", FMT_JSON)
    assert t.encode_value((1, 2)) == (b"[1, 2]", FMT_JSON)
    assert t.encode_value(None) == (b"null", FMT_JSON)
    assert t.encode_value(True) == (b"true", FMT_JSON)
    assert t.encode_value(1.5) == (b"1.5", FMT_JSON)


@pytest.mark.parametrize("bad", [b"bytes", bytearray(b"x"), object(), {1, 2}])
def test_json_encode_refuses(bad):
    with pytest.raises(ValueFormatException):
        JSONTranscoder().encode_value(bad)


def test_json_decode():
    t = JSONTranscoder()
    assert t.decode_value(b'{"a": 1}', FMT_JSON) == {"a": 1}
    assert t.decode_value(b'{"a": 1}', 0) == {"a": 1}
    assert t.decode_value(b'"s"', None) == "s"
    assert t.decode_value(b"not json", FMT_JSON) == b"not json"
    for flags in (FMT_BYTES, FMT_UTF8):
        with pytest.raises(ValueFormatException):
            t.decode_value(b"x", flags)


def test_json_custom_serializer():
    class Upper(Serializer):
        def serialize(self, value):
            return str(value).upper().encode()

        def deserialize(self, value):
            return value.decode().lower()

    t = JSONTranscoder(Upper())
    assert t.encode_value("ab") == (b"AB", FMT_JSON)
    assert t.decode_value(b"AB", FMT_JSON) == "ab"
    assert DefaultJsonSerializer().serialize("é") == '"é"'.encode()


def test_raw_json():
    t = RawJSONTranscoder()
    assert t.encode_value('{"a":1}') == (b'{"a":1}', FMT_JSON)
    assert t.encode_value(b"[1]") == (b"[1]", FMT_JSON)
    assert t.encode_value(bytearray(b"[1]")) == (b"[1]", FMT_JSON)
    with pytest.raises(ValueFormatException):
        t.encode_value({"a": 1})
    assert t.decode_value(b'{"a":1}', FMT_JSON) == b'{"a":1}'
    for flags in (FMT_BYTES, FMT_UTF8, FMT_PICKLE):
        with pytest.raises(ValueFormatException):
            t.decode_value(b"x", flags)


def test_raw_string():
    t = RawStringTranscoder()
    assert t.encode_value("héllo") == ("héllo".encode(), FMT_UTF8)
    for bad in (b"x", 1, {"a": 1}):
        with pytest.raises(ValueFormatException):
            t.encode_value(bad)
    assert t.decode_value("héllo".encode(), FMT_UTF8) == "héllo"
    for flags in (FMT_BYTES, FMT_JSON):
        with pytest.raises(ValueFormatException):
            t.decode_value(b"x", flags)


def test_raw_binary():
    t = RawBinaryTranscoder()
    assert t.encode_value(b"\x00\x01") == (b"\x00\x01", FMT_BYTES)
    assert t.encode_value(bytearray(b"ab")) == (b"ab", FMT_BYTES)
    for bad in ("x", 1, [1]):
        with pytest.raises(ValueFormatException):
            t.encode_value(bad)
    assert t.decode_value(b"\x00", FMT_BYTES) == b"\x00"
    for flags in (FMT_UTF8, FMT_JSON):
        with pytest.raises(ValueFormatException):
            t.decode_value(b"x", flags)


class _Thing:
    def __init__(self, n):
        self.n = n

    def __eq__(self, other):
        return isinstance(other, _Thing) and other.n == self.n


def test_legacy():
    t = LegacyTranscoder()
    assert t.encode_value("s") == (b"s", FMT_UTF8)
    assert t.encode_value(b"b") == (b"b", FMT_BYTES)
    assert t.encode_value({"a": 1}) == (b'{"a": 1}', FMT_JSON)
    data, flags = t.encode_value(_Thing(3))
    assert flags == FMT_PICKLE and pickle.loads(data) == _Thing(3)
    assert t.decode_value(data, FMT_PICKLE) == _Thing(3)
    assert t.decode_value(b'{"a": 1}', 0) == {"a": 1}
    assert t.decode_value(b"oops", FMT_JSON) == b"oops"
    assert t.decode_value(b"b", FMT_BYTES) == b"b"
    assert t.decode_value(b"s", FMT_UTF8) == "s"
    assert t.decode_value(b"?", 0x09000000) == b"?"


def test_duck_typed_transcoder_counts():
    class Mine:
        def encode_value(self, value):
            return b"", 0

        def decode_value(self, value, flags):
            return value

    assert isinstance(Mine(), Transcoder)
    assert not isinstance(object(), Transcoder)
    for t in (JSONTranscoder(), RawJSONTranscoder(), RawStringTranscoder(),
              RawBinaryTranscoder(), LegacyTranscoder()):
        assert isinstance(t, Transcoder)
