"""The plain call (a str key, no options object, no keyword), the one divan's SDK sends on its
shortest path, on the three front ends: the cluster's transcoder and its serializer are still
the ones that encode and decode, and bad arguments still raise the official exceptions before
anything reaches the server."""

import json

import pytest
from conftest import options

from couchbase.exceptions import (DocumentNotFoundException, InvalidArgumentException,
                                  ValueFormatException)
from couchbase.serializer import Serializer
from couchbase.transcoder import (JSONTranscoder, RawBinaryTranscoder, RawJSONTranscoder,
                                  Transcoder)

FMT_BYTES = 3 << 24  # the common flags of a binary document


class Tagging(Transcoder):
    """Stores str values as b"<value>", binary; counts its calls."""

    def __init__(self):
        self.encoded = 0
        self.decoded = 0

    def encode_value(self, value):
        self.encoded += 1
        return ("<%s>" % value).encode(), FMT_BYTES

    def decode_value(self, value, flags):
        self.decoded += 1
        assert flags == FMT_BYTES
        return bytes(value).decode()[1:-1]


class Sorting(Serializer):
    """JSON with sorted keys and no spaces; counts its calls."""

    def __init__(self):
        self.serialized = 0
        self.deserialized = 0

    def serialize(self, value):
        self.serialized += 1
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()

    def deserialize(self, value):
        self.deserialized += 1
        return json.loads(value)


def _open(fe, server, transcoder):
    opts = options()
    opts["transcoder"] = transcoder
    cluster = fe.cluster(server.connstr, opts)
    bucket = fe.bucket(cluster, "default")
    return fe.sync(cluster), fe.sync(bucket.default_collection())


def test_cluster_transcoder_on_plain_calls(fe, server, key):
    t = Tagging()
    cluster, coll = _open(fe, server, t)
    try:
        coll.upsert(key("a"), "one")
        coll.insert(key("b"), "two")
        coll.replace(key("a"), "three")
        assert t.encoded == 3
        assert coll.get(key("a")).value == "three"
        assert coll.get(key("b")).value == "two"
        assert t.decoded == 2
        raw = coll.get(key("a"), transcoder=RawBinaryTranscoder())
        assert raw.value == b"<three>" and raw.flags == FMT_BYTES
        assert coll.exists(key("b")).exists
        coll.remove(key("b"))
        assert not coll.exists(key("b")).exists
        assert t.encoded == 3 and t.decoded == 2  # exists and remove transcode nothing
    finally:
        cluster.close()


def test_cluster_serializer_on_plain_calls(fe, server, key):
    s = Sorting()
    cluster, coll = _open(fe, server, JSONTranscoder(serializer=s))
    try:
        coll.upsert(key(), {"b": 1, "a": [1, 2]})
        assert s.serialized == 1
        assert coll.get(key()).content_as[dict] == {"a": [1, 2], "b": 1}
        assert s.deserialized == 1
        raw = coll.get(key(), transcoder=RawJSONTranscoder())
        assert bytes(raw.value) == b'{"a":[1,2],"b":1}'
    finally:
        cluster.close()


def test_bad_plain_calls_send_nothing(kv, key):
    _, _, coll = kv
    with pytest.raises(ValueFormatException):
        coll.upsert(key(), object())
    with pytest.raises(ValueFormatException):
        coll.insert(key(), {1j})
    with pytest.raises(DocumentNotFoundException):
        coll.get(key())
    with pytest.raises(InvalidArgumentException):
        coll.get(42)
    with pytest.raises(InvalidArgumentException):
        coll.upsert(42, {"a": 1})
