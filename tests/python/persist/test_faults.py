"""Faults of the disk: a full file system (a small tmpfs made by the test, so root only), a
read-only one, a corrupted data file, and data directories that are not divan's or are newer.
A full disk fails the durable writes it affects with a temporary error, keeps reads and plain
writes served, and loses nothing acknowledged once space is back; a directory the server cannot
use stops it at start with a clear message and is left as it was."""

import datetime
import json
import os
import subprocess

import pytest

from couchbase.durability import DurabilityLevel, ServerDurability
from couchbase.options import UpsertOptions

from conftest import Node, connect
from divan.server import find_binary


def persist_level(timeout=10):
    return UpsertOptions(durability=ServerDurability(DurabilityLevel.PERSIST_TO_MAJORITY),
                         timeout=datetime.timedelta(seconds=timeout))


def start_fails(data_dir):
    """Run the server on data_dir; it must exit at once. Its exit status and stderr."""
    proc = subprocess.run([find_binary(), "--kv-port", "0", "--http-port", "0", "--query-port",
                           "0", "--data-dir", str(data_dir)], capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)
    assert proc.stdout == "", "the server started: " + proc.stdout
    return proc.returncode, proc.stderr


@pytest.fixture
def tmpfs(tmp_path):
    """A 2 MiB tmpfs at a new directory (skipped where mounting is not allowed)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_disk_fails_durable_writes_and_loses_nothing(tmpfs, run):
    from couchbase.exceptions import (AmbiguousTimeoutException, TemporaryFailException,
                                      UnAmbiguousTimeoutException)
    node = Node(tmpfs / "data")
    srv = node.start()
    blob = {"pad": "x" * 60000}

    async def fill():
        cluster, bucket = await connect(srv)
        coll = bucket.default_collection()
        acked, failure = {}, None
        for i in range(200):
            try:
                acked["d%d" % i] = (await coll.upsert("d%d" % i, blob, persist_level(2))).cas
            except (TemporaryFailException, AmbiguousTimeoutException,
                    UnAmbiguousTimeoutException) as e:
                failure = e
                break
        # Reads and plain writes go on while the disk is full.
        first = await coll.get("d0")
        plain = (await coll.upsert("while-full", {"v": 1})).cas
        await cluster.close()
        return acked, failure, first.cas, plain

    acked, failure, first_cas, plain_cas = run(fill())
    assert failure is not None, "the disk never filled up"
    print("full after %d durable writes: %s" % (len(acked), type(failure).__name__))
    assert acked and first_cas == acked["d0"]
    # Space comes back: the writes waiting in memory reach the disk, durable writes succeed.
    subprocess.run(["mount", "-o", "remount,size=64m", str(tmpfs)], check=True)

    async def after():
        cluster, bucket = await connect(srv)
        cas = (await bucket.default_collection().upsert("after", {"v": 2}, persist_level())).cas
        await cluster.close()
        return cas

    after_cas = run(after())
    node.kill()
    srv = node.start()

    async def check():
        cluster, bucket = await connect(srv)
        coll = bucket.default_collection()
        got = {k: (await coll.get(k)).cas for k in list(acked) + ["while-full", "after"]}
        await cluster.close()
        return got

    got = run(check())
    node.stop()
    want = dict(acked)
    want["while-full"] = plain_cas
    want["after"] = after_cas
    assert got == want


def test_read_only_file_system_stops_the_start(tmpfs):
    (tmpfs / "data").mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    code, err = start_fails(tmpfs / "data")
    assert code != 0
    assert "data directory" in err and "Read-only file system" in err, err


def test_corrupt_data_file_stops_the_start_and_is_left_alone(tmp_path, run):
    node = Node(tmp_path / "data")
    srv = node.start()

    async def write():
        cluster, bucket = await connect(srv)
        await bucket.default_collection().upsert("k", {"v": 1}, persist_level())
        await cluster.close()

    run(write())
    node.stop()
    path = tmp_path / "data" / "buckets" / "default" / "data.mdb"
    data = bytearray(path.read_bytes())
    data[0:8192] = b"\xa5" * 8192  # both meta pages
    path.write_bytes(bytes(data))
    code, err = start_fails(tmp_path / "data")
    assert code != 0
    assert "corrupt" in err and "buckets/default" in err, err
    assert path.read_bytes() == bytes(data)


def test_foreign_and_newer_directories_stop_the_start(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("someone else's\n")
    code, err = start_fails(foreign)
    assert code != 0 and "not a divan data directory" in err, err
    assert sorted(os.listdir(foreign)) == ["notes.txt"]

    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "divan-server.json").write_text(json.dumps({"format": 99}))
    code, err = start_fails(newer)
    assert code != 0 and "newer divan-server" in err, err
    assert sorted(os.listdir(newer)) == ["divan-server.json"]


def test_a_second_server_on_the_same_directory_is_refused(node):
    node.start()
    code, err = start_fails(node.data_dir)
    assert code != 0 and "in use by another divan-server" in err, err
