"""The divan_server fixture configured by indirect parametrization: one server per parameter."""

import pytest

from couchbase.auth import PasswordAuthenticator
from couchbase.cluster import Cluster
from couchbase.exceptions import BucketNotFoundException
from couchbase.options import ClusterOptions


@pytest.mark.parametrize("divan_server", [{"buckets": ["one"]},
                                          {"args": ["--bucket", "two", "--threads", "1"]}],
                         indirect=True)
def test_each_parameter_gets_its_server(divan_server):
    (name,) = ["one"] if "one" in divan_server.buckets else ["two"]
    cluster = Cluster(divan_server.connstr, ClusterOptions(PasswordAuthenticator("user",
                                                                                 "password")))
    try:
        cluster.bucket(name).default_collection().upsert("k", name)
        assert cluster.bucket(name).default_collection().get("k").content_as[str] == name
        with pytest.raises(BucketNotFoundException):
            cluster.bucket("default").default_collection().get("k")
    finally:
        cluster.close()


def test_unknown_settings_are_refused(pytestconfig):
    from divan.pytest_plugin import _settings

    class Request:
        param = {"bucket": ["typo"]}

        class node:
            @staticmethod
            def get_closest_marker(name):
                return None

    with pytest.raises(pytest.UsageError, match="unknown setting.*bucket"):
        _settings(Request())  # type: ignore[arg-type]
