"""Sub-document spec builders: official tuple layouts, wire opcodes, flags and encodings."""
import pytest

import couchbase.subdocument as SD
from couchbase.exceptions import InvalidArgumentException
from couchbase.transcoder import RawStringTranscoder


@pytest.mark.parametrize("spec, op, path, flags", [
    (SD.get("a.b"), 0xC5, "a.b", 0),
    (SD.get("meta", xattr=True), 0xC5, "meta", 0x04),
    (SD.exists("a"), 0xC6, "a", 0),
    (SD.count("arr"), 0xD2, "arr", 0),
    (SD.get_full(), 0x00, "", 0),
    (SD.with_expiry(), 0xC5, "$document.exptime", 0x04),
])
def test_lookup_specs(spec, op, path, flags):
    assert isinstance(spec, tuple) and len(spec) == 3 and spec.is_lookup
    assert spec[0] == op and spec[1] == path
    assert spec.to_wire() == (op, flags, path, b"")


def test_lookup_tuple_layout():
    assert tuple(SD.get("x", xattr=True)) == (SD.SubDocOp.GET, "x", True)


def test_get_of_empty_path_is_sent_as_a_get():
    spec = SD.get("")  # as in the official SDK: the server refuses it
    assert tuple(spec) == (SD.SubDocOp.GET, "", False)
    assert spec.to_wire().opcode == 0xC5
    assert SD.get_full().to_wire().opcode == 0x00


@pytest.mark.parametrize("spec, op, flags, value", [
    (SD.insert("a", {"x": 1}), 0xC7, 0, b'{"x": 1}'),
    (SD.insert("a.b", 1, create_parents=True), 0xC7, 0x01, b"1"),
    (SD.upsert("a", "s", xattr=True, create_parents=True), 0xC8, 0x05, b'"s"'),
    (SD.replace("a", None), 0xCA, 0, b"null"),
    (SD.replace("", {"whole": True}), 0x01, 0, b'{"whole": true}'),
    (SD.remove("a"), 0xC9, 0, b""),
    (SD.remove(""), 0x04, 0, b""),
    (SD.array_append("arr", 8, 9, 10), 0xCB, 0, b"8, 9, 10"),
    (SD.array_prepend("arr", "x"), 0xCC, 0, b'"x"'),
    (SD.array_insert("arr[1]", {"a": 1}, [2], create_parents=True), 0xCD, 0x01, b'{"a": 1}, [2]'),
    (SD.array_addunique("arr", 5), 0xCE, 0, b"5"),
    (SD.increment("n", 5), 0xCF, 0, b"5"),
    (SD.decrement("n", 50), 0xCF, 0, b"-50"),
    (SD.counter("n", -3), 0xCF, 0, b"-3"),
    (SD.counter("n", 3, create_parents=True), 0xCF, 0x01, b"3"),
])
def test_mutation_specs(spec, op, flags, value):
    assert not spec.is_lookup
    w = spec.to_wire()
    assert (w.opcode, w.flags, w.value) == (op, flags, value)


def test_mutation_tuple_layouts():
    assert tuple(SD.remove("a", xattr=True)) == (SD.SubDocOp.REMOVE, "a", False, True, False)
    assert tuple(SD.upsert("a", 1)) == (SD.SubDocOp.DICT_UPSERT, "a", False, False, False, 1)
    spec = SD.array_append("a", 1, 2)
    assert isinstance(spec[5], SD.ArrayValues) and tuple(spec[5]) == (1, 2)


def test_mutation_macros_force_xattr_and_expansion():
    spec = SD.upsert("meta.cas", SD.MutationMacro.cas())
    assert spec.xattr and spec.expand_macros
    assert spec.to_wire() == (0xC8, 0x14, "meta.cas", b'"${Mutation.CAS}"')
    assert SD.MutationMacro.seq_no().value == "${Mutation.seqno}"
    assert SD.MutationMacro.value_crc32c().value == "${Mutation.value_crc32c}"
    spec = SD.insert("m", "${Mutation.CAS}", xattr=True, expand_macros=True)
    assert spec.flags == 0x14


def test_lookup_macros():
    assert SD.LookupInMacro.document() == "$document"
    assert SD.LookupInMacro.expiry_time() == "$document.exptime"
    assert SD.LookupInMacro.cas() == "$document.CAS"
    assert SD.LookupInMacro.seq_no() == "$document.seqno"
    assert SD.LookupInMacro.last_modified() == "$document.last_modified"
    assert SD.LookupInMacro.is_deleted() == "$document.deleted"
    assert SD.LookupInMacro.value_size_bytes() == "$document.value_bytes"
    assert SD.LookupInMacro.rev_id() == "$document.revid"


def test_convert_macro_cas():
    assert SD.convert_macro_cas_to_cas("0x0100000000000000") == 1
    assert SD.convert_macro_cas_to_cas("0x00002a8b7c6d5e4f") == 0x4f5e6d7c8b2a0000


def test_values_use_the_request_transcoder():
    assert SD.upsert("a", "plain").encoded_value(RawStringTranscoder()) == b"plain"


@pytest.mark.parametrize("delta", [0, -1, 1.5, "1", False])
def test_increment_decrement_need_positive_int(delta):
    with pytest.raises(InvalidArgumentException):
        SD.increment("n", delta)
    with pytest.raises(InvalidArgumentException):
        SD.decrement("n", delta)


def test_counter_zero_raises():
    with pytest.raises(InvalidArgumentException):
        SD.counter("n", 0)


@pytest.mark.parametrize("spec", [
    SD.insert("a", 1, expand_macros=True),  # macros need an xattr path
    SD.remove("", xattr=True),  # whole-document ops have no xattr
    SD.replace("", {}, xattr=True),
    SD.get(5),  # paths are str
], ids=["macro-no-xattr", "remove-doc-xattr", "set-doc-xattr", "int-path"])
def test_flag_combinations_that_raise(spec):
    # built as the official SDK builds them; refused before anything is sent
    with pytest.raises(InvalidArgumentException):
        spec.to_wire()


def test_path_flag_builders():
    with pytest.raises(InvalidArgumentException):
        SD.build_mutate_in_path_flags(False, False, False, True)  # binary needs xattr
    with pytest.raises(InvalidArgumentException):
        SD.build_lookup_in_path_flags(False, True)
    assert SD.build_lookup_in_path_flags(True, True) == 0x24
    assert SD.build_mutate_in_path_flags(True, True, True, True) == 0x35


def test_path_flag_and_semantics_values():
    assert (SD.PathFlags.CREATE_PARENTS, SD.PathFlags.XATTR, SD.PathFlags.EXPAND_MACROS,
            SD.PathFlags.BINARY_VALUE) == (0x01, 0x04, 0x10, 0x20)
    assert (SD.StoreSemantics.REPLACE, SD.StoreSemantics.UPSERT, SD.StoreSemantics.INSERT) == (0, 1, 2)
    assert SD.SubDocOp.REPLACE_BODY_WITH_XATTR == 0xD3


def test_request_checks():
    assert SD.check_lookup_in_specs((SD.get("a"), SD.exists("b")))[1].op == SD.SubDocOp.EXISTS
    assert len(SD.check_mutate_in_specs(SD.upsert("a", 1))) == 1
    with pytest.raises(InvalidArgumentException):
        SD.check_lookup_in_specs([SD.upsert("a", 1)])
    with pytest.raises(InvalidArgumentException):
        SD.check_mutate_in_specs([SD.get("a")])
    with pytest.raises(InvalidArgumentException):
        SD.check_mutate_in_specs([])
    with pytest.raises(InvalidArgumentException):
        SD.check_lookup_in_specs([SD.get("p%d" % i) for i in range(17)])
    with pytest.raises(InvalidArgumentException, match="preserve_expiry"):
        SD.check_mutate_in_specs([SD.upsert("a", 1), SD.insert("b", 2)], preserve_expiry=True)
    SD.check_mutate_in_specs([SD.upsert("a", 1)], preserve_expiry=True)
    wire = SD.specs_to_wire([SD.get("a"), SD.count("b")])
    assert [w.opcode for w in wire] == [0xC5, 0xD2]
