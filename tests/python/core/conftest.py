"""divan's extension couchbase._core on its own, against the private divan-server of the
divan_server fixture (divan's SDK only: PYTHONPATH=python:<build>/python)."""

pytest_plugins = ["divan.pytest_plugin"]
