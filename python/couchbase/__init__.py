"""divan's ``couchbase`` package: call-compatible with the official Couchbase Python SDK 4.x.

The pure-Python modules (options, exceptions, transcoders, durability, sub-document specs) live
here; the I/O runs in divan's C engine through the extension ``couchbase._core``.
"""

__version__ = "0.1.0"
