"""Options classes: dict behaviour, "opts[0] then kwargs win", conversions and counter checks."""
from datetime import timedelta

import pytest

from couchbase.auth import PasswordAuthenticator
from couchbase.durability import (ClientDurability, DurabilityLevel, PersistTo, ReplicateTo,
                                  ServerDurability)
from couchbase.exceptions import InvalidArgumentException
from couchbase.options import (AppendOptions, ClusterOptions, ClusterTimeoutOptions, DeltaValue,
                               DecrementOptions, ExistsOptions, GetAllReplicasOptions,
                               GetAndLockOptions, GetAndTouchOptions, GetAnyReplicaOptions,
                               GetMultiOptions, GetOptions, IncrementOptions, InsertOptions,
                               LookupInAllReplicasOptions, LookupInAnyReplicaOptions,
                               LookupInOptions, MutateInOptions, PrependOptions, RemoveOptions,
                               ReplaceOptions, ScanOptions, SignedInt64, TouchOptions,
                               UnlockOptions, UpsertMultiOptions, UpsertOptions,
                               check_expiry_and_preserve, forward_args, forward_counter_args,
                               merge_options, mutate_in_store_semantics)
from couchbase.replica_reads import ReadPreference
from couchbase.subdocument import StoreSemantics
from couchbase.transcoder import RawBinaryTranscoder

ALL_KV = [GetOptions, GetAnyReplicaOptions, GetAllReplicasOptions, ExistsOptions, InsertOptions,
          UpsertOptions, ReplaceOptions, RemoveOptions, TouchOptions, GetAndTouchOptions,
          GetAndLockOptions, UnlockOptions, LookupInOptions, LookupInAnyReplicaOptions,
          LookupInAllReplicasOptions, MutateInOptions, ScanOptions, IncrementOptions,
          DecrementOptions, AppendOptions, PrependOptions]


@pytest.mark.parametrize("cls", ALL_KV, ids=lambda c: c.__name__)
def test_options_are_dicts_without_none(cls):
    opts = cls(timeout=timedelta(seconds=1))
    assert isinstance(opts, dict)
    assert opts == {"timeout": timedelta(seconds=1)}
    assert cls() == {}
    opts["timeout"] = timedelta(seconds=2)  # mutable like a dict
    assert opts["timeout"] == timedelta(seconds=2)


def test_positional_signatures():
    t = RawBinaryTranscoder()
    assert UpsertOptions(timedelta(seconds=1), timedelta(seconds=5), True, None, t) == {
        "timeout": timedelta(seconds=1), "expiry": timedelta(seconds=5),
        "preserve_expiry": True, "transcoder": t}
    assert ReplaceOptions(cas=7)["cas"] == 7
    assert GetOptions(with_expiry=True, project=["a"]) == {"with_expiry": True, "project": ["a"]}


def test_kwargs_override_options_object():
    opts = UpsertOptions(timeout=timedelta(seconds=1), expiry=timedelta(seconds=10))
    merged = merge_options((opts,), {"timeout": timedelta(seconds=3)})
    assert merged == {"timeout": timedelta(seconds=3), "expiry": timedelta(seconds=10)}
    assert opts["timeout"] == timedelta(seconds=1)  # the caller's object is untouched


def test_only_first_options_object_is_read():
    merged = merge_options((GetOptions(with_expiry=True), GetOptions(project=["x"])), {})
    assert merged == {"with_expiry": True}
    assert merge_options((), {"a": 1, "b": None}) == {"a": 1}
    with pytest.raises(InvalidArgumentException):
        merge_options((42,), {})


def test_forward_args_conversions():
    args = forward_args({"lock_time": timedelta(seconds=15.7)},
                        GetAndLockOptions(timeout=timedelta(milliseconds=2500)))
    assert args == {"timeout": 2500, "lock_time": 15}
    args = forward_args({}, InsertOptions(expiry=timedelta(minutes=1),
                                          durability=ServerDurability(DurabilityLevel.MAJORITY)))
    assert args == {"expiry": 60, "durability_level": 1}
    args = forward_args({"durability": ClientDurability(ReplicateTo.ONE, PersistTo.ONE)})
    assert args == {"replicate_to": 1, "persist_to": 2}
    # another type is ignored, as the official SDK ignores it
    assert forward_args({"durability": DurabilityLevel.MAJORITY}) == {}
    args = forward_args({"read_preference": ReadPreference.SELECTED_SERVER_GROUP})
    assert args == {"read_preference": "selected_server_group"}


@pytest.mark.parametrize("kwargs", [
    {"timeout": 10}, {"expiry": 10}, {"expiry": timedelta(seconds=-5)}, {"lock_time": 5},
    {"read_preference": "no_preference"},
    {"transcoder": object()},
])
def test_forward_args_type_errors(kwargs):
    with pytest.raises(InvalidArgumentException):
        forward_args(kwargs)


def test_counter_defaults_and_wrappers():
    assert forward_counter_args({}) == {"delta": 1, "initial_value": 0}
    args = forward_counter_args({"delta": DeltaValue(5)}, IncrementOptions(initial=SignedInt64(10)))
    assert args == {"delta": 5, "initial_value": 10}
    # negative initial: do not create the document
    assert forward_counter_args({"initial": SignedInt64(-1)}) == {"delta": 1}


@pytest.mark.parametrize("kwargs", [{"delta": 5}, {"initial": 0}, {"delta": SignedInt64(1)},
                                    {"initial": DeltaValue(1)}])
def test_counter_rejects_bare_ints(kwargs):
    with pytest.raises(InvalidArgumentException):
        forward_counter_args(kwargs)
    with pytest.raises(InvalidArgumentException):
        forward_counter_args({}, DecrementOptions(**kwargs))


def test_counter_wrapper_ranges():
    assert DeltaValue(0).value == 0 and DeltaValue(2**63 - 1).value == 2**63 - 1
    assert SignedInt64(-2**63).value == -2**63 and SignedInt64(2**63 - 1).value == 2**63 - 1
    for bad in (-1, 2**63, 1.0, "1", None):
        with pytest.raises(InvalidArgumentException):
            DeltaValue(bad)
    for bad in (-2**63 - 1, 2**63, 1.5, None):
        with pytest.raises(InvalidArgumentException):
            SignedInt64(bad)


def test_expiry_with_preserve_expiry_is_refused():
    check_expiry_and_preserve({"expiry": 5})
    check_expiry_and_preserve({"preserve_expiry": True})
    with pytest.raises(InvalidArgumentException):
        check_expiry_and_preserve(forward_args({}, ReplaceOptions(expiry=timedelta(seconds=5),
                                                                  preserve_expiry=True)))


def test_mutate_in_store_semantics():
    assert mutate_in_store_semantics({}) is StoreSemantics.REPLACE
    assert mutate_in_store_semantics(dict(MutateInOptions(store_semantics=StoreSemantics.INSERT))) \
        is StoreSemantics.INSERT
    args = {"upsert_doc": True}
    assert mutate_in_store_semantics(args) is StoreSemantics.UPSERT and args == {}
    assert mutate_in_store_semantics({"insert_doc": True}) is StoreSemantics.INSERT
    with pytest.raises(InvalidArgumentException):
        mutate_in_store_semantics({"insert_doc": True, "replace_doc": False})
    with pytest.raises(InvalidArgumentException):
        mutate_in_store_semantics({"store_semantics": 1})


def test_multi_options():
    opts = UpsertMultiOptions(expiry=timedelta(seconds=1), return_exceptions=False,
                              per_key_options={"k": UpsertOptions(expiry=timedelta(seconds=2))})
    assert isinstance(opts, dict) and opts["return_exceptions"] is False
    assert "per_key_options" in GetMultiOptions.get_valid_keys()
    assert "with_expiry" in GetMultiOptions.get_valid_keys()


def test_cluster_options_requires_authenticator():
    with pytest.raises(InvalidArgumentException, match="Authenticator is mandatory"):
        ClusterOptions(None)


def test_cluster_options_flatten_and_drop():
    auth = PasswordAuthenticator("user", "password")
    opts = ClusterOptions(auth, timeout_options=ClusterTimeoutOptions(kv_timeout=timedelta(seconds=5)),
                          enable_tracing=False, lockmode=1, compression=True, network=None)
    assert opts["authenticator"] is auth
    assert opts["kv_timeout"] == timedelta(seconds=5)
    assert opts["enable_tracing"] is False
    for dropped in ("lockmode", "compression", "network", "timeout_options"):
        assert dropped not in opts
    opts["enable_metrics"] = False
    assert opts["enable_metrics"] is False
    assert opts.timeouts().as_core_dict() == {"key_value_timeout": 5000}


def test_cluster_timeout_core_keys():
    t = ClusterTimeoutOptions(kv_timeout=timedelta(seconds=2.5), views_timeout=timedelta(seconds=75),
                              kv_durable_timeout=timedelta(seconds=10),
                              config_total_timeout=timedelta(seconds=1))
    assert t.as_core_dict() == {"key_value_timeout": 2500, "view_timeout": 75000,
                                "key_value_durable_timeout": 10000}


def test_wan_profile():
    opts = ClusterOptions.create_options_with_profile(PasswordAuthenticator("u", "p"),
                                                      "wan_development")
    assert opts["kv_timeout"] == timedelta(seconds=20)
    assert opts["query_timeout"] == timedelta(seconds=120)
    assert opts["bootstrap_timeout"] == timedelta(seconds=120)
    with pytest.raises(InvalidArgumentException):
        opts.apply_profile("lan")
