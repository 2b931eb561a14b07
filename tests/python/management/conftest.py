"""The management suite on the three front ends (the frontends suite's fixtures: fe, server,
kv, key): a manager wrapped by fe.sync() runs each method where its front end runs it."""

from frontends.conftest import *  # noqa: F401,F403 - fe, server, kv, key, options, ...
from frontends.conftest import _front_ends  # noqa: F401 - the session fixture stopping them

pytest_plugins = ["sdk_under_test"]
