"""How a batch of query rows becomes values (couchbase.n1ql.batch_decoder): the default parses
the batch at once and gives exactly what parsing each row gives; a custom serializer sees each
row; a row that is not JSON raises ParsingFailedException."""

import json

import pytest

from couchbase.exceptions import ParsingFailedException
from couchbase.n1ql import QueryRequest, batch_decoder
from couchbase.options import QueryOptions
from couchbase.serializer import Serializer

ROWS = [b'{"a":1,"b":[true,null,2.5]}', b'"caf\xc3\xa9 \xf0\x9f\x98\x80"', b"12345678901234567890",
        b"-0.0", b"1e400", b'{"dup":1,"dup":2}', b"[]", b'"\\ud800"', b"null"]


def request(*opts):
    return QueryRequest("SELECT 1", opts, {})


def test_default_batch_equals_row_by_row():
    got = batch_decoder(request())(ROWS)
    want = [json.loads(r) for r in ROWS]
    assert json.dumps(got) == json.dumps(want)
    assert [type(x) for x in got] == [type(x) for x in want]


def test_bad_row_raises_parsing_failed():
    with pytest.raises(ParsingFailedException):
        batch_decoder(request())([b"1", b"{nope", b"2"])
    with pytest.raises(ParsingFailedException):
        batch_decoder(request())([b"1", b"\xff\xfe"])


def test_two_values_in_one_row_are_not_two_rows():
    with pytest.raises(ParsingFailedException):
        batch_decoder(request())([b"1,2"])


def test_custom_serializer_sees_each_row():
    seen = []

    class Upper(Serializer):
        def serialize(self, value):
            return json.dumps(value).encode()

        def deserialize(self, value):
            seen.append(value)
            return json.loads(value.upper())

    assert batch_decoder(request(QueryOptions(serializer=Upper())))([b'"x"', b'"y"']) == ["X", "Y"]
    assert seen == [b'"x"', b'"y"']
