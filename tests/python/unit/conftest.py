"""Unit tests of divan's pure-Python ``couchbase`` modules (no server, no C extension).

The tree's python/ directory is put first on sys.path so these tests exercise the working copy.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PYDIR = os.path.join(ROOT, "python")
if PYDIR not in sys.path:
    sys.path.insert(0, PYDIR)
