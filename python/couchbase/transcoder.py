"""Transcoders: how a Python value becomes the stored bytes plus format flags, and back.

Flag values and the accepted types follow the official SDK (see ``couchbase.constants``); a
value of the wrong type, or stored bytes whose flags a transcoder does not handle, raise
:class:`~couchbase.exceptions.ValueFormatException`.
"""

import json
import pickle
from abc import ABC, abstractmethod
from typing import Any, Optional, Tuple, Union

from couchbase.constants import (FMT_BYTES, FMT_COMMON_MASK, FMT_JSON, FMT_LEGACY_MASK,
                                 FMT_PICKLE, FMT_UTF8)
from couchbase.exceptions import ValueFormatException
from couchbase.serializer import DefaultJsonSerializer, Serializer

_JSON_TYPES = (str, dict, list, tuple, bool, int, float, type(None))
_FORMAT_NAMES = {FMT_JSON: "FMT_JSON", FMT_BYTES: "FMT_BYTES", FMT_UTF8: "FMT_UTF8",
                 FMT_PICKLE: "FMT_PICKLE"}


def get_decode_format(flags: Optional[int]) -> Optional[int]:
    """The FMT_* constant the stored ``flags`` denote, or None when unknown.

    A non-zero common byte decides; otherwise the legacy low bits do, so flags 0 mean JSON.
    """
    if flags is None:
        return None
    common = flags & FMT_COMMON_MASK
    if common:
        for fmt in (FMT_JSON, FMT_BYTES, FMT_UTF8, FMT_PICKLE):
            if common == fmt & FMT_COMMON_MASK:
                return fmt
        return None
    legacy = flags & FMT_LEGACY_MASK
    for fmt in (FMT_JSON, FMT_BYTES, FMT_UTF8, FMT_PICKLE):
        if legacy == fmt & FMT_LEGACY_MASK:
            return fmt
    return None


def _format_name(flags: Optional[int]) -> str:
    fmt = get_decode_format(flags)
    return _FORMAT_NAMES.get(fmt, "unknown format") if fmt is not None else "unknown format"


class Transcoder(ABC):
    """Interface of a transcoder; any object with callable ``encode_value`` and
    ``decode_value`` counts as one (``isinstance`` checks the methods)."""

    @abstractmethod
    def encode_value(self, value: Any) -> Tuple[bytes, int]: ...

    @abstractmethod
    def decode_value(self, value: bytes, flags: int) -> Any: ...

    @classmethod
    def __subclasshook__(cls, other: type) -> Any:
        if cls is Transcoder:
            if all(callable(getattr(other, m, None)) for m in ("encode_value", "decode_value")):
                return True
        return NotImplemented


class JSONTranscoder(Transcoder):
    """The default: JSON through ``serializer`` (a str is stored as a JSON string literal).

    bytes are refused (use RawBinaryTranscoder); stored JSON that does not parse comes back as
    the raw bytes; stored binary or UTF-8 documents raise ValueFormatException.
    """

    def __init__(self, serializer: Optional[Serializer] = None) -> None:
        self._serializer = serializer if serializer is not None else DefaultJsonSerializer()

    def encode_value(self, value: Any) -> Tuple[bytes, int]:
        if isinstance(value, (bytes, bytearray)):
            raise ValueFormatException(
                "The JSONTranscoder (default transcoder) does not support binary data; "
                "use RawBinaryTranscoder for bytes.")
        if not isinstance(value, _JSON_TYPES):
            raise ValueFormatException(
                "The JSONTranscoder cannot encode a value of type %s." % type(value).__name__)
        try:
            return self._serializer.serialize(value), FMT_JSON
        except Exception as exc:  # serializer-specific errors
            raise ValueFormatException("Unable to serialize value: %s" % exc) from exc

    def decode_value(self, value: bytes, flags: int) -> Any:
        fmt = get_decode_format(flags)
        if flags is None or fmt == FMT_JSON:
            try:
                return self._serializer.deserialize(value)
            except Exception:
                return value
        raise ValueFormatException(
            "The JSONTranscoder cannot decode a %s document." % _format_name(flags))


class RawJSONTranscoder(Transcoder):
    """JSON text stored and returned as is: str or bytes in, bytes out (no parsing)."""

    def encode_value(self, value: Union[str, bytes, bytearray]) -> Tuple[bytes, int]:
        if isinstance(value, str):
            return value.encode("utf-8"), FMT_JSON
        if isinstance(value, (bytes, bytearray)):
            return bytes(value), FMT_JSON
        raise ValueFormatException(
            "The RawJSONTranscoder only encodes str, bytes or bytearray, not %s." % type(value).__name__)

    def decode_value(self, value: bytes, flags: int) -> bytes:
        if get_decode_format(flags) == FMT_JSON:
            return value
        raise ValueFormatException(
            "The RawJSONTranscoder cannot decode a %s document." % _format_name(flags))


class RawStringTranscoder(Transcoder):
    """UTF-8 text documents (FMT_UTF8): str in, str out."""

    def encode_value(self, value: str) -> Tuple[bytes, int]:
        if isinstance(value, str):
            return value.encode("utf-8"), FMT_UTF8
        raise ValueFormatException(
            "The RawStringTranscoder only encodes str, not %s." % type(value).__name__)

    def decode_value(self, value: bytes, flags: int) -> str:
        if get_decode_format(flags) == FMT_UTF8:
            return bytes(value).decode("utf-8")
        raise ValueFormatException(
            "The RawStringTranscoder cannot decode a %s document." % _format_name(flags))


class RawBinaryTranscoder(Transcoder):
    """Binary documents (FMT_BYTES): bytes in, bytes out."""

    def encode_value(self, value: Union[bytes, bytearray]) -> Tuple[bytes, int]:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value), FMT_BYTES
        raise ValueFormatException(
            "The RawBinaryTranscoder only encodes bytes or bytearray, not %s." % type(value).__name__)

    def decode_value(self, value: bytes, flags: int) -> bytes:
        if get_decode_format(flags) == FMT_BYTES:
            return bytes(value)
        raise ValueFormatException(
            "The RawBinaryTranscoder cannot decode a %s document." % _format_name(flags))


class LegacyTranscoder(Transcoder):
    """The 3.x behaviour: str as UTF-8, bytes as binary, JSON-able values as JSON, anything
    else pickled; decoding follows the stored flags."""

    def encode_value(self, value: Any) -> Tuple[bytes, int]:
        if isinstance(value, str):
            return value.encode("utf-8"), FMT_UTF8
        if isinstance(value, (bytes, bytearray)):
            return bytes(value), FMT_BYTES
        if isinstance(value, _JSON_TYPES):
            try:
                return json.dumps(value, ensure_ascii=False).encode("utf-8"), FMT_JSON
            except (TypeError, ValueError):
                pass
        return pickle.dumps(value), FMT_PICKLE

    def decode_value(self, value: bytes, flags: int) -> Any:
        fmt = get_decode_format(flags)
        if flags is None or fmt == FMT_JSON:
            try:
                return json.loads(value)
            except (TypeError, ValueError):
                return value
        if fmt == FMT_BYTES:
            return bytes(value)
        if fmt == FMT_UTF8:
            return bytes(value).decode("utf-8")
        if fmt == FMT_PICKLE:
            return pickle.loads(value)
        return value
