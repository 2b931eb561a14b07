"""Expiry and duration conversions (couchbase._utils): the 30-day rule and its errors."""
import time
from datetime import datetime, timedelta

import pytest

from couchbase._utils import (timedelta_as_milliseconds, timedelta_as_seconds,
                              timedelta_as_timestamp)
from couchbase.exceptions import InvalidArgumentException

THIRTY_DAYS = 30 * 24 * 3600


def test_zero_means_no_expiry():
    assert timedelta_as_timestamp(timedelta(0)) == 0


def test_below_thirty_days_is_relative():
    assert timedelta_as_timestamp(timedelta(seconds=10)) == 10
    assert timedelta_as_timestamp(timedelta(seconds=THIRTY_DAYS - 1)) == THIRTY_DAYS - 1
    assert timedelta_as_timestamp(timedelta(seconds=1.9)) == 1


def test_thirty_days_and_more_is_absolute():
    before = int(time.time())
    got = timedelta_as_timestamp(timedelta(days=30))
    after = int(time.time())
    assert before + THIRTY_DAYS <= got <= after + THIRTY_DAYS
    got = timedelta_as_timestamp(timedelta(days=365))
    assert got >= before + 365 * 24 * 3600


@pytest.mark.parametrize("bad", [10, 10.0, "10", None, datetime.now()])
def test_only_timedelta_is_accepted(bad):
    with pytest.raises(InvalidArgumentException, match="timedelta"):
        timedelta_as_timestamp(bad)


def test_negative_expiry_raises():
    with pytest.raises(InvalidArgumentException, match="negative"):
        timedelta_as_timestamp(timedelta(seconds=-1))


def test_expiry_past_the_protocol_field_is_cut_to_32_bits():
    # the official SDK's behaviour: the absolute time wraps around
    before = int(time.time())
    got = timedelta_as_timestamp(timedelta(days=365 * 200))
    assert got in {(before + d + 365 * 200 * 86400) & 0xFFFFFFFF for d in range(3)}


def test_milliseconds_and_seconds():
    assert timedelta_as_milliseconds(timedelta(seconds=2.5)) == 2500
    assert timedelta_as_seconds(timedelta(seconds=15, milliseconds=900)) == 15
    with pytest.raises(InvalidArgumentException):
        timedelta_as_milliseconds(2500)
    with pytest.raises(InvalidArgumentException):
        timedelta_as_seconds(15)
    with pytest.raises(InvalidArgumentException):
        timedelta_as_milliseconds(timedelta(seconds=-1))
