"""JSON serializers used by :class:`couchbase.transcoder.JSONTranscoder`."""

import json
from abc import ABC, abstractmethod
from typing import Any


class Serializer(ABC):
    """Turns a value into bytes and back."""

    @abstractmethod
    def serialize(self, value: Any) -> bytes: ...

    @abstractmethod
    def deserialize(self, value: bytes) -> Any: ...


# One encoder and one decoder for every call: json.dumps with an option builds a new encoder each
# time, and json.loads of bytes looks for the encoding first. The output is json.dumps's.
_encode = json.JSONEncoder(ensure_ascii=False).encode
_decode = json.JSONDecoder().decode
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
            return _decode(value.decode("utf-8", "surrogatepass"))
        return json.loads(value)
