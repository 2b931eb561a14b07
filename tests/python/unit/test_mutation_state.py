"""MutationState: the official API (tokens from results, quiet, missing tokens)."""
import pytest

from couchbase.exceptions import MissingTokenException
from couchbase.mutation_state import MutationState
from couchbase.result import MutationToken


class FakeResult:
    def __init__(self, token):
        self._token = token

    def mutation_token(self):
        return self._token


def test_tokens_from_results_and_tokens():
    t1 = MutationToken((11, 7, 115, "default"))
    t2 = MutationToken((12, 3, 4, "default"))
    state = MutationState(FakeResult(t1))
    state.add_mutation_token(t2)
    state.add_mutation_token("not a token")  # ignored, as upstream
    assert state._sv == {t1, t2}
    assert state.add_results(FakeResult(t1)) is True and len(state._sv) == 2
    assert repr(state).startswith("MutationState:")


def test_missing_tokens():
    with pytest.raises(MissingTokenException):
        MutationState().add_results()
    with pytest.raises(MissingTokenException):
        MutationState(FakeResult(None))
    assert MutationState().add_results(FakeResult(None), quiet=True) is False
    with pytest.raises(NotImplementedError):
        MutationState().add_all(None)
