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


class DefaultJsonSerializer(Serializer):
    """UTF-8 JSON, non-ASCII characters kept as they are."""

    def serialize(self, value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")

    def deserialize(self, value: bytes) -> Any:
        return json.loads(value)
