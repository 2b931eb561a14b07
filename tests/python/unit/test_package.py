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
