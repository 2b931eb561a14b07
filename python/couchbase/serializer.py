"""JSON serializers used by :class:`couchbase.transcoder.JSONTranscoder`."""

import importlib
import json
import json.encoder
from abc import ABC, abstractmethod
from typing import Any, Callable


class Serializer(ABC):
    """Turns a value into bytes and back."""

    @abstractmethod
    def serialize(self, value: Any) -> bytes: ...

    @abstractmethod
    def deserialize(self, value: bytes) -> Any: ...


# One encoder and one decoder for every call, the standard library's C ones called directly:
# json.dumps with an option builds a new encoder each time, JSONEncoder.encode builds its C
# encoder per call, and JSONDecoder.decode wraps the C scanner in two regex matches. The output
# is json.dumps's, the values json.loads's; what the fast paths do not take (leading or
# trailing whitespace, malformed text) goes through the standard calls for their errors.
_py_encode = json.JSONEncoder(ensure_ascii=False).encode
_decode = json.JSONDecoder().decode


def _make_encode() -> Callable[[Any], str]:
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _py_encode
    enc = json.JSONEncoder(ensure_ascii=False)
    # No markers: a shared dict would be shared between threads; a cycle recurses instead,
    # and the standard call then says what json.dumps says of it.
    c_encode = make(None, enc.default, json.encoder.encode_basestring, None,
                    enc.key_separator, enc.item_separator, False, False, True)

    def encode(value: Any) -> str:
        try:
            return "".join(c_encode(value, 0))
        except RecursionError:
            return _py_encode(value)
    sample = {"a": [1, 2.5, None, True, "\u00e9\n"], "b": {"c": -1e300}}
    return encode if encode(sample) == _py_encode(sample) else _py_encode


def _make_decode() -> Callable[[str], Any]:
    make = getattr(importlib.import_module("json.scanner"), "c_make_scanner", None)
    if make is None:
        return _decode
    scan = make(json.JSONDecoder())

    def decode(text: str) -> Any:
        try:
            value, end = scan(text, 0)
        except (StopIteration, ValueError):
            return _decode(text)
        return value if end == len(text) else _decode(text)
    return decode


_encode = _make_encode()
_fast_decode = _make_decode()
# First bytes that make json.loads pick another encoding than UTF-8 (BOMs, UTF-16/32's NULs).
_NOT_PLAIN_UTF8 = (b"\xef", b"\xfe", b"\xff", b"\x00")


class DefaultJsonSerializer(Serializer):
    """UTF-8 JSON, non-ASCII characters kept as they are (the bytes of
    ``json.dumps(value, ensure_ascii=False)``; parsed as ``json.loads`` parses them)."""

    def serialize(self, value: Any) -> bytes:
        return _encode(value).encode("utf-8")

    def deserialize(self, value: bytes) -> Any:
        if (isinstance(value, bytes) and value[:1] not in _NOT_PLAIN_UTF8
                and b"\x00" not in value[1:4]):
            return _fast_decode(value.decode("utf-8", "surrogatepass"))
        return json.loads(value)
