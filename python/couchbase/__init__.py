"""divan's ``couchbase`` package: call-compatible with the official Couchbase Python SDK 4.x.

The pure-Python modules (options, exceptions, transcoders, durability, sub-document specs) live
here; the I/O runs in divan's C engine through the extension ``couchbase._core``.
"""

__version__ = "0.1.0"

# The C extension ``couchbase._core`` is built by CMake into <build>/python/couchbase, outside this
# source tree: extending __path__ over every ``couchbase`` directory on sys.path lets
# ``PYTHONPATH=python:<build>/python`` import the sources and the built module as one package.
# (An installed wheel has both in one directory; then this changes nothing.)
from pkgutil import extend_path as _extend_path

__path__ = _extend_path(__path__, __name__)
del _extend_path
