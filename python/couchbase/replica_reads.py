"""Replica read preference."""

from enum import Enum


class ReadPreference(Enum):
    """Which replicas a replica read may use; SELECTED_SERVER_GROUP needs
    ``ClusterOptions(preferred_server_group=...)``."""

    NO_PREFERENCE = "no_preference"
    SELECTED_SERVER_GROUP = "selected_server_group"
