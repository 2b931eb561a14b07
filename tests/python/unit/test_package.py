"""Official module paths import, and the package is typed."""
import os

import couchbase


def test_official_import_paths():
    from couchbase.auth import PasswordAuthenticator  # noqa: F401
    from couchbase.constants import FMT_JSON  # noqa: F401
    from couchbase.durability import DurabilityLevel, ServerDurability  # noqa: F401
    from couchbase.exceptions import CouchbaseException, DocumentNotFoundException  # noqa: F401
    from couchbase.options import (ClusterOptions, DeltaValue, SignedInt64,  # noqa: F401
                                   UpsertOptions)
    from couchbase.subdocument import LookupInMacro, MutationMacro, StoreSemantics  # noqa: F401
    from couchbase.transcoder import JSONTranscoder, RawBinaryTranscoder  # noqa: F401


def test_version_and_py_typed():
    assert isinstance(couchbase.__version__, str) and couchbase.__version__
    assert os.path.exists(os.path.join(os.path.dirname(couchbase.__file__), "py.typed"))
    assert couchbase.__file__.endswith(os.path.join("python", "couchbase", "__init__.py"))


def test_every_package_is_typed():
    import acouchbase
    import divan
    import txcouchbase
    for pkg in (acouchbase, txcouchbase, divan):
        assert os.path.exists(os.path.join(os.path.dirname(pkg.__file__), "py.typed")), pkg


def test_an_official_sdk_in_the_same_environment_is_reported(tmp_path):
    """The official SDK's distribution metadata beside divan's couchbase package (what pip leaves
    after installing one over the other): importing couchbase says so instead of breaking later."""
    import subprocess
    import sys
    info = tmp_path / "couchbase-4.6.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: couchbase\nVersion: 4.6.3\n")
    here = os.path.dirname(os.path.dirname(couchbase.__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([here, str(tmp_path)]))
    run = subprocess.run([sys.executable, "-c", "import couchbase"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "ImportError" in run.stderr and "couchbase 4.6.3" in run.stderr, run.stderr
    assert "pip uninstall -y couchbase divan-couchbase" in run.stderr, run.stderr
    plain = subprocess.run([sys.executable, "-c", "import couchbase"],
                           env=dict(os.environ, PYTHONPATH=here), capture_output=True, text=True,
                           timeout=60)
    assert plain.returncode == 0, plain.stderr
