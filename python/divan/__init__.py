"""divan's own Python helpers, beside its ``couchbase`` and ``acouchbase`` packages.

``divan.server`` starts a private divan-server for tests and scripts; ``divan.pytest_plugin``
gives pytest the ``divan_server`` fixture.
"""

__version__ = "0.1.0"
