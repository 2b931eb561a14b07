"""``MutationState``: the mutation tokens a query (``consistent_with``) or a scan waits for, as
the official SDK's ``couchbase.mutation_state`` has it.

A state is a set of :class:`~couchbase.result.MutationToken`; ``_sv`` (the official attribute
name) holds them for the code that turns them into a request's scan vectors."""

from typing import Any, Set

from couchbase.exceptions import MissingTokenException
from couchbase.result import MutationResult, MutationToken


class MutationState:
    """``MutationState(*results, quiet=False)``: the tokens of these mutation results."""

    def __init__(self, *docs: MutationResult, **kwargs: Any) -> None:
        self._sv: Set[MutationToken] = set()
        if docs:
            self.add_results(*docs, **kwargs)

    def add_mutation_token(self, mut_token: MutationToken) -> None:
        """Add one token (anything else is ignored, as in the official SDK)."""
        if isinstance(mut_token, MutationToken):
            self._sv.add(mut_token)

    def add_results(self, *rvs: MutationResult, **kwargs: Any) -> bool:
        """Add the token of each result: True; a result without one raises
        MissingTokenException, or returns False with ``quiet=True``."""
        if not rvs:
            raise MissingTokenException(message="No results passed")
        for rv in rvs:
            token = rv.mutation_token()
            if not isinstance(token, MutationToken):
                if kwargs.get("quiet", False) is True:
                    return False
                raise MissingTokenException(message="Result does not contain token")
            self._sv.add(token)
        return True

    def add_all(self, bucket: Any, quiet: bool = False) -> bool:
        """Not implemented in the official SDK 4.x either."""
        raise NotImplementedError(
            "Feature currently not implemented in 4.x series of the Python SDK")

    def __repr__(self) -> str:
        return "MutationState:{}".format(self._sv)


__all__ = ["MutationState"]
