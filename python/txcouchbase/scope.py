"""The official module path of the Twisted Scope (defined in txcouchbase.cluster)."""

from txcouchbase.cluster import Scope, TxScope

__all__ = ["Scope", "TxScope"]
