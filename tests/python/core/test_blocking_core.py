"""couchbase._core.BlockingCluster on its own: results, errors, close (the public Cluster's
threads test is tests/python/frontends/test_threads.py)."""

import threading

import pytest

from couchbase import _core
from couchbase.exceptions import (DocumentLockedException, DocumentNotFoundException,
                                  RequestCanceledException)
from couchbase.result import GetResult, MutationResult
from couchbase.transcoder import JSONTranscoder

GET, UPSERT = 0, 6  # dv_op_kind
JSON = dict(flags=0x2000000, datatype=1)


def connect(server):
    core = _core.BlockingCluster(server.connstr, "user", "password")
    core.connect()
    core.open_bucket("default")
    return core


def test_results_and_errors(divan_server):
    core = connect(divan_server)
    up = core.submit(UPSERT, "default", None, None, "b1", value=b'{"a":1}', **JSON,
                     result_type=MutationResult)
    got = core.submit(GET, "default", None, None, "b1", result_type=GetResult,
                      extra=JSONTranscoder())
    assert got.cas == up.cas and got.content_as[dict] == {"a": 1}
    with pytest.raises(DocumentNotFoundException):
        core.submit(GET, "default", None, None, "b-missing")
    core.close()
    with pytest.raises(RuntimeError, match="closed cluster"):
        core.submit(GET, "default", None, None, "b1")
    core.close()


def test_close_cancels_waiting_threads(divan_server):
    core = connect(divan_server)
    core.submit(UPSERT, "default", None, None, "b-locked", value=b"1", **JSON)
    core.submit(2, "default", None, None, "b-locked", lock_time=10)  # get_and_lock
    outcome = []
    started = threading.Barrier(2)

    def writer():
        started.wait()
        try:  # retried while locked: pending until the close
            core.submit(UPSERT, "default", None, None, "b-locked", value=b"2", **JSON,
                        timeout_ms=30_000)
            outcome.append("written")
        except Exception as exc:
            outcome.append(type(exc))

    t = threading.Thread(target=writer)
    t.start()
    started.wait()
    core.close()
    t.join(30)
    assert not t.is_alive()
    # cancelled while waiting to retry (the lock) or in flight: never written
    # (or, if the close came first, refused as on a closed cluster)
    assert outcome and outcome[0] in (RequestCanceledException, DocumentLockedException,
                                      RuntimeError)


def test_a_batch_with_a_bad_request_sends_nothing(divan_server):
    core = connect(divan_server)
    good = ((UPSERT, "default", None, None, "batch-good"), dict(value=b"1", **JSON))
    bad = ((UPSERT, "default", None, None, "batch-bad"), dict(value=b"1", cas="not a cas"))
    with pytest.raises(TypeError):
        core.submit_all([good, bad])
    with pytest.raises(DocumentNotFoundException):
        core.submit(GET, "default", None, None, "batch-good")
    assert core.submit_all([good]) == [None]  # no result_type: None
    assert core.submit(GET, "default", None, None, "batch-good", result_type=GetResult,
                       extra=JSONTranscoder()).content_as[int] == 1
    core.close()
