"""The official module path of the Twisted Collection (defined in txcouchbase.cluster)."""

from txcouchbase.cluster import Collection, TxCollection

__all__ = ["Collection", "TxCollection"]
