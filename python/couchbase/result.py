"""Results of KV operations (a first slice: GetResult, MutationResult, MutationToken).

Each wraps the C ``couchbase._core.Result`` the engine produced; a document's content is decoded
by the transcoder on first access, not when the reply arrives.
"""

from typing import Any, Optional, Tuple

from couchbase.transcoder import Transcoder


class MutationToken:
    """The vbucket sequence number a mutation was given (for consistency and durability)."""

    def __init__(self, token: Tuple[int, int, int, Optional[str]]) -> None:
        self._token = token

    @property
    def partition_uuid(self) -> int:
        return self._token[0]

    @property
    def sequence_number(self) -> int:
        return self._token[1]

    @property
    def partition_id(self) -> int:
        return self._token[2]

    @property
    def bucket_name(self) -> Optional[str]:
        return self._token[3]

    def as_tuple(self) -> Tuple[int, int, int, Optional[str]]:
        return self._token

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MutationToken) and self._token == other._token

    def __hash__(self) -> int:
        return hash(self._token)

    def __repr__(self) -> str:
        return "MutationToken(%r)" % (self._token,)


class Result:
    """Common to every result: the document's CAS."""

    __slots__ = ("_core",)

    def __init__(self, core: Any, _extra: Any = None) -> None:
        self._core = core

    @property
    def cas(self) -> int:
        return self._core.cas

    @property
    def success(self) -> bool:
        return True


class MutationResult(Result):
    __slots__ = ()

    def mutation_token(self) -> Optional[MutationToken]:
        token = self._core.token
        return MutationToken(token) if token is not None else None

    def __repr__(self) -> str:
        return "MutationResult(cas=%d)" % self.cas


class _ContentProxy:
    """``result.content_as[T]``: the content converted by T (``dict``, ``str``, ``int``, ...)."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def __getitem__(self, kind: Any) -> Any:
        return kind(self._value)


class GetResult(Result):
    """A document read: ``content_as[T]``, ``value``, ``content`` (the 3.x API), ``flags``."""

    __slots__ = ("_transcoder", "_decoded", "_has_value")

    def __init__(self, core: Any, transcoder: Transcoder) -> None:
        super().__init__(core)
        self._transcoder = transcoder
        self._has_value = False

    @property
    def value(self) -> Any:
        if not self._has_value:
            self._decoded = self._transcoder.decode_value(self._core.value, self._core.flags)
            self._has_value = True
        return self._decoded

    content = value

    @property
    def content_as(self) -> _ContentProxy:
        return _ContentProxy(self.value)

    @property
    def flags(self) -> int:
        return self._core.flags

    @property
    def expiry_time(self) -> Any:
        from datetime import datetime
        expiry = self._core.expiry
        return datetime.fromtimestamp(expiry) if expiry else None

    def __repr__(self) -> str:
        return "GetResult(cas=%d, flags=0x%x)" % (self.cas, self.flags)
