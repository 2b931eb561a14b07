"""divan's helpers for running divan-server (the distribution ``divan-server``, which holds no
``couchbase`` module, so it goes beside the official SDK or divan's own).

``divan.server`` starts a private divan-server for tests and scripts (and ``python -m divan.server``
runs one in the foreground); ``divan.pytest_plugin`` gives pytest the ``divan_server`` fixture;
``divan.tool`` runs the ``divan`` command-line tool.
"""

__version__ = "0.1.0"
