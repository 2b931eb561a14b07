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



def _refuse_official_sdk() -> None:
    """divan-couchbase replaces the official SDK (the distribution ``couchbase``): both install
    the package ``couchbase``, so with both in one environment its files are a mix of the two
    and fail in ways that say nothing of why. Say why instead, and how to keep one."""
    import importlib.metadata as metadata

    try:
        official = metadata.distribution("couchbase")
    except metadata.PackageNotFoundError:
        return
    raise ImportError(
        "divan-couchbase and the official Couchbase Python SDK (couchbase %s) are installed in "
        "the same environment (%s). Both provide the package 'couchbase', so its files are now a "
        "mix of the two. Keep one: 'pip uninstall -y couchbase divan-couchbase', then "
        "'pip install divan-couchbase' (divan's SDK) or 'pip install couchbase' (the official "
        "one; to test it against divan-server, 'pip install divan-server', which has no "
        "couchbase package)." % (official.version, official.locate_file("")))


_refuse_official_sdk()

import json as _json  # noqa: E402
import platform as _platform  # noqa: E402
import ssl as _ssl  # noqa: E402
from typing import Any as _Any, Dict as _Dict, List as _List, Optional as _Optional  # noqa: E402
from typing import Tuple as _Tuple, Union as _Union  # noqa: E402

PYCBC_VERSION = "python/" + __version__
USER_AGENT_EXTRA = "python/" + _platform.python_version()


def get_metadata(as_str: bool = False, detailed: bool = False) -> _Union[str, _Dict[str, _Any]]:
    """The keys the official SDK gives by default: divan's version, and the OpenSSL of the
    interpreter's ``ssl`` module with its default certificate paths (``detailed`` adds the
    platform). A JSON string with ``as_str``."""
    paths = _ssl.get_default_verify_paths()
    meta: _Dict[str, _Any] = {"version": __version__,
                              "openssl_default_cert_dir": paths.openssl_capath,
                              "openssl_default_cert_file": paths.openssl_cafile,
                              "openssl_headers": _ssl.OPENSSL_VERSION,
                              "openssl_runtime": _ssl.OPENSSL_VERSION}
    if detailed:
        meta.update({"platform": _platform.platform(), "cpu": _platform.machine(),
                     "semver": __version__, "name": "divan"})
    return _json.dumps(meta) if as_str else meta


def get_transactions_protocol() -> _Optional[_Tuple[_Optional[float], _Optional[_List[str]]]]:
    """None: divan's SDK has no transactions."""
    return None


def configure_logging(name: str, level: int = 20, parent_logger: _Any = None) -> None:
    """libdivan's log lines (connections refused or lost, authentication failures, config
    changes) to the ``logging`` logger ``name`` (a child of ``parent_logger`` if given), at
    ``level`` and above (``logging.INFO`` by default), as the official SDK's function of this
    name. Without it, libdivan writes warnings and errors to stderr."""
    from couchbase._logging import configure

    configure(name, level, parent_logger)
