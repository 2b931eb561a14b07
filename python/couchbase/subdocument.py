"""Sub-document specs for ``lookup_in`` and ``mutate_in``, as in the official SDK.

A spec is a :class:`Spec` tuple with the official layouts (lookup ``(op, path, xattr)``;
mutation ``(op, path, create_parents, xattr, expand_macros[, value])``), so code that inspects
specs keeps working. For divan's engine, :meth:`Spec.to_wire` gives the multi-path entry the
protocol needs: the wire opcode, the path flags, the path and the encoded value.
"""

import json
from enum import IntEnum, IntFlag
from typing import Any, Iterable, NamedTuple, Optional, Sequence, Tuple

from couchbase.exceptions import InvalidArgumentException
from couchbase.transcoder import JSONTranscoder, Transcoder


class SubDocOp(IntEnum):
    """Spec opcodes of the multi-path commands (kv-protocol §2.7)."""

    GET_DOC = 0x00
    SET_DOC = 0x01
    REMOVE_DOC = 0x04
    GET = 0xC5
    EXISTS = 0xC6
    DICT_ADD = 0xC7
    DICT_UPSERT = 0xC8
    REMOVE = 0xC9
    REPLACE = 0xCA
    ARRAY_PUSH_LAST = 0xCB
    ARRAY_PUSH_FIRST = 0xCC
    ARRAY_INSERT = 0xCD
    ARRAY_ADD_UNIQUE = 0xCE
    COUNTER = 0xCF
    GET_COUNT = 0xD2
    REPLACE_BODY_WITH_XATTR = 0xD3


class PathFlags(IntFlag):
    CREATE_PARENTS = 0x01
    XATTR = 0x04
    EXPAND_MACROS = 0x10
    BINARY_VALUE = 0x20


class StoreSemantics(IntEnum):
    """What mutate_in does with the document: REPLACE (must exist), UPSERT or INSERT (must not)."""

    REPLACE = 0
    UPSERT = 1
    INSERT = 2


_LOOKUP_OPS = frozenset({SubDocOp.GET_DOC, SubDocOp.GET, SubDocOp.EXISTS, SubDocOp.GET_COUNT})
_ARRAY_MULTI_OPS = frozenset({SubDocOp.ARRAY_PUSH_LAST, SubDocOp.ARRAY_PUSH_FIRST,
                              SubDocOp.ARRAY_INSERT})


def build_lookup_in_path_flags(xattr: bool, binary: bool = False) -> int:
    flags = 0
    if xattr:
        flags |= PathFlags.XATTR
    if binary:
        if not xattr:
            raise InvalidArgumentException("A binary value is only allowed on an xattr path.")
        flags |= PathFlags.BINARY_VALUE
    return int(flags)


def build_mutate_in_path_flags(xattr: bool, create_path: bool, expand_macro: bool,
                               binary: bool = False) -> int:
    """Path flags of a mutation spec; macros and binary values need an xattr path (the server
    rejects them otherwise), so those combinations raise InvalidArgumentException here."""
    flags = 0
    if create_path:
        flags |= PathFlags.CREATE_PARENTS
    if xattr:
        flags |= PathFlags.XATTR
    if expand_macro:
        if not xattr:
            raise InvalidArgumentException("Macro expansion is only allowed on an xattr path.")
        flags |= PathFlags.EXPAND_MACROS
    if binary:
        if not xattr:
            raise InvalidArgumentException("A binary value is only allowed on an xattr path.")
        flags |= PathFlags.BINARY_VALUE
    return int(flags)


class ArrayValues(Tuple[Any, ...]):
    """The values of a multi-value array operation."""


class WireSpec(NamedTuple):
    """One entry of a multi-path request as divan's engine sends it."""

    opcode: int
    flags: int
    path: str
    value: bytes


class Spec(Tuple[Any, ...]):
    """A sub-document spec (a tuple with the official layout)."""

    @property
    def op(self) -> SubDocOp:
        return SubDocOp(self[0])

    @property
    def path(self) -> str:
        path: str = self[1]
        return path

    @property
    def is_lookup(self) -> bool:
        return len(self) == 3

    @property
    def xattr(self) -> bool:
        return bool(self[2] if self.is_lookup else self[3])

    @property
    def create_parents(self) -> bool:
        return False if self.is_lookup else bool(self[2])

    @property
    def expand_macros(self) -> bool:
        return False if self.is_lookup else bool(self[4])

    @property
    def has_value(self) -> bool:
        return len(self) == 6

    @property
    def value(self) -> Any:
        return self[5] if self.has_value else None

    @property
    def flags(self) -> int:
        if self.is_lookup:
            return build_lookup_in_path_flags(self.xattr)
        return build_mutate_in_path_flags(self.xattr, self.create_parents, self.expand_macros)

    def encoded_value(self, transcoder: Optional[Transcoder] = None) -> bytes:
        """The value bytes: array multi-values as JSON without the outer brackets (``8, 9``),
        macros (also among array values) as their JSON string, anything else through ``transcoder`` (JSON by default)."""
        if not self.has_value:
            return b""
        value = self.value
        if isinstance(value, MutationMacro):
            return json.dumps(value.value).encode("utf-8")
        if self.op in _ARRAY_MULTI_OPS and isinstance(value, ArrayValues):
            items = [v.value if isinstance(v, MutationMacro) else v for v in value]
            return json.dumps(items, ensure_ascii=False)[1:-1].encode("utf-8")
        encoded, _flags = (transcoder or _DEFAULT_TRANSCODER).encode_value(value)
        return encoded

    def to_wire(self, transcoder: Optional[Transcoder] = None) -> WireSpec:
        """The protocol entry. Builders accept what the official SDK accepts; combinations the
        server would refuse raise InvalidArgumentException here, before anything is sent
        (xattr on a whole-document op, macros or binary values off an xattr path, a non-str
        path). As in the official SDK, a GET of the empty path is sent as it is (the server
        refuses it: InvalidArgumentException); ``get_full()`` reads the whole document."""
        path = _check_path(self.path)
        op = self.op
        if op in (SubDocOp.GET_DOC, SubDocOp.SET_DOC, SubDocOp.REMOVE_DOC) and self.xattr:
            raise InvalidArgumentException("A whole-document operation cannot use xattr.")
        return WireSpec(int(op), self.flags, path, self.encoded_value(transcoder))


_DEFAULT_TRANSCODER = JSONTranscoder()

# --------------------------------------------------------------------------------------------
# macros


class LookupInMacro:
    """Virtual-xattr paths of document metadata; read with ``get(macro, xattr=True)``."""

    @staticmethod
    def document() -> str:
        return "$document"

    @staticmethod
    def expiry_time() -> str:
        return "$document.exptime"

    @staticmethod
    def cas() -> str:
        return "$document.CAS"

    @staticmethod
    def seq_no() -> str:
        return "$document.seqno"

    @staticmethod
    def last_modified() -> str:
        return "$document.last_modified"

    @staticmethod
    def is_deleted() -> str:
        return "$document.deleted"

    @staticmethod
    def value_size_bytes() -> str:
        return "$document.value_bytes"

    @staticmethod
    def rev_id() -> str:
        return "$document.revid"


class MutationMacro:
    """A value the server replaces by the mutation's CAS, seqno or CRC32C (xattrs only); passing
    one as a value sets ``xattr`` and ``expand_macros``."""

    def __init__(self, value: str) -> None:
        self._value = value

    @property
    def value(self) -> str:
        return self._value

    @classmethod
    def cas(cls) -> "MutationMacro":
        return cls("${Mutation.CAS}")

    @classmethod
    def seq_no(cls) -> "MutationMacro":
        return cls("${Mutation.seqno}")

    @classmethod
    def value_crc32c(cls) -> "MutationMacro":
        return cls("${Mutation.value_crc32c}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MutationMacro) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "MutationMacro(%r)" % self._value


def convert_macro_cas_to_cas(cas: str) -> int:
    """The CAS as an int from the ``0x...`` string a CAS macro wrote (little-endian hex bytes)."""
    hexstr = cas[2:] if cas.startswith("0x") else cas
    return int.from_bytes(bytes.fromhex(hexstr.rjust(16, "0")), "little")


# --------------------------------------------------------------------------------------------
# builders


def _check_path(path: Any) -> str:
    if not isinstance(path, str):
        raise InvalidArgumentException("A sub-document path must be a str.")
    return path


def _lookup(op: SubDocOp, path: str, xattr: bool) -> Spec:
    return Spec((op, path, bool(xattr)))


def _mutation(op: SubDocOp, path: str, create_parents: bool, xattr: bool, expand_macros: bool,
              *value: Any) -> Spec:
    if value and isinstance(value[0], MutationMacro):
        xattr = expand_macros = True
    if value and isinstance(value[0], ArrayValues) and any(isinstance(v, MutationMacro) for v in value[0]):
        xattr = expand_macros = True
    return Spec((op, path, bool(create_parents), bool(xattr), bool(expand_macros))
                + tuple(value))


def get(path: str, xattr: bool = False) -> Spec:
    """Read the value at ``path`` (for the whole document, ``get_full()``)."""
    return _lookup(SubDocOp.GET, path, xattr)


def exists(path: str, xattr: bool = False) -> Spec:
    return _lookup(SubDocOp.EXISTS, path, xattr)


def count(path: str, xattr: bool = False) -> Spec:
    return _lookup(SubDocOp.GET_COUNT, path, xattr)


def get_full() -> Spec:
    return _lookup(SubDocOp.GET_DOC, "", False)


def with_expiry() -> Spec:
    return _lookup(SubDocOp.GET, LookupInMacro.expiry_time(), True)


def insert(path: str, value: Any, create_parents: bool = False, xattr: bool = False,
           **kwargs: Any) -> Spec:
    return _mutation(SubDocOp.DICT_ADD, path, create_parents, xattr,
                     bool(kwargs.get("expand_macros", False)), value)


def upsert(path: str, value: Any, create_parents: bool = False, xattr: bool = False,
           **kwargs: Any) -> Spec:
    return _mutation(SubDocOp.DICT_UPSERT, path, create_parents, xattr,
                     bool(kwargs.get("expand_macros", False)), value)


def replace(path: str, value: Any, xattr: bool = False, **kwargs: Any) -> Spec:
    """Replace the value at ``path``; an empty path replaces the whole body (SET_DOC)."""
    op = SubDocOp.SET_DOC if path == "" else SubDocOp.REPLACE
    return _mutation(op, path, False, xattr, bool(kwargs.get("expand_macros", False)), value)


def remove(path: str, xattr: bool = False, **kwargs: Any) -> Spec:
    """Remove ``path``; an empty path deletes the document (REMOVE_DOC)."""
    op = SubDocOp.REMOVE_DOC if path == "" else SubDocOp.REMOVE
    return _mutation(op, path, False, xattr, False)


def array_append(path: str, *values: Any, create_parents: bool = False, xattr: bool = False,
                 **kwargs: Any) -> Spec:
    return _mutation(SubDocOp.ARRAY_PUSH_LAST, path, create_parents, xattr, False,
                     ArrayValues(values))


def array_prepend(path: str, *values: Any, create_parents: bool = False, xattr: bool = False,
                  **kwargs: Any) -> Spec:
    return _mutation(SubDocOp.ARRAY_PUSH_FIRST, path, create_parents, xattr, False,
                     ArrayValues(values))


def array_insert(path: str, *values: Any, create_parents: bool = False, xattr: bool = False,
                 **kwargs: Any) -> Spec:
    """Insert at the position the path ends with (``arr[2]``)."""
    return _mutation(SubDocOp.ARRAY_INSERT, path, create_parents, xattr, False,
                     ArrayValues(values))


def array_addunique(path: str, value: Any, create_parents: bool = False, xattr: bool = False,
                    **kwargs: Any) -> Spec:
    return _mutation(SubDocOp.ARRAY_ADD_UNIQUE, path, create_parents, xattr, False, value)


def _check_delta(delta: Any) -> int:
    if not isinstance(delta, int) or delta <= 0:
        raise InvalidArgumentException("Delta must be an integer greater than 0, got %r." % (delta,))
    return delta


def increment(path: str, delta: int, xattr: bool = False, create_parents: bool = False,
              **kwargs: Any) -> Spec:
    return _mutation(SubDocOp.COUNTER, path, create_parents, xattr, False, _check_delta(delta))


def decrement(path: str, delta: int, xattr: bool = False, create_parents: bool = False,
              **kwargs: Any) -> Spec:
    return _mutation(SubDocOp.COUNTER, path, create_parents, xattr, False, -_check_delta(delta))


def counter(path: str, delta: int, xattr: bool = False, create_parents: bool = False,
            **kwargs: Any) -> Spec:
    """increment for ``delta >= 0`` (0 raises), decrement by ``abs(delta)`` otherwise."""
    if isinstance(delta, int) and delta < 0:
        return decrement(path, -delta, xattr=xattr, create_parents=create_parents)
    return increment(path, delta, xattr=xattr, create_parents=create_parents)


# --------------------------------------------------------------------------------------------
# whole-request checks


def check_lookup_in_specs(specs: Any) -> Sequence[Spec]:
    """The specs of a lookup_in as a list: a tuple or list of lookup specs (1 to 16)."""
    return _check_specs(specs, lookup=True)


def check_mutate_in_specs(specs: Any, preserve_expiry: bool = False) -> Sequence[Spec]:
    """The specs of a mutate_in; ``preserve_expiry`` cannot be combined with an insert spec."""
    checked = _check_specs(specs, lookup=False)
    if preserve_expiry and any(s.op == SubDocOp.DICT_ADD for s in checked):
        raise InvalidArgumentException(
            "The preserve_expiry option cannot be set for mutate_in with insert operations.")
    return checked


def _check_specs(specs: Any, lookup: bool) -> Sequence[Spec]:
    if isinstance(specs, Spec):
        specs = [specs]
    if not isinstance(specs, (list, tuple)) or not specs:
        raise InvalidArgumentException("Expected a non-empty list or tuple of sub-document specs.")
    out = []
    for s in specs:
        if not isinstance(s, Spec):
            raise InvalidArgumentException("Not a sub-document spec: %r." % (s,))
        if s.is_lookup != lookup:
            raise InvalidArgumentException(
                "%s spec in a %s." % ("Mutation" if lookup else "Lookup",
                                      "lookup_in" if lookup else "mutate_in"))
        out.append(s)
    if len(out) > 16:
        raise InvalidArgumentException("At most 16 sub-document specs are allowed, got %d." % len(out))
    return out


def specs_to_wire(specs: Iterable[Spec], transcoder: Optional[Transcoder] = None) -> Sequence[WireSpec]:
    return [s.to_wire(transcoder) for s in specs]
