"""Ping and diagnostics reports: the official enumerations and per-endpoint reports.

A report's source is a dict with the official keys (id, local, remote, namespace or bucket,
latency or last_activity in microseconds, state, error), built by the front ends from what the
engine reports for each KV connection.
"""

from datetime import timedelta
from enum import Enum
from typing import Any, Dict, Optional

__all__ = ["ClusterState", "EndpointDiagnosticsReport", "EndpointPingReport", "EndpointState",
           "PingState", "ServiceType"]


class EndpointState(Enum):
    Disconnected = "disconnected"
    Connecting = "connecting"
    Connected = "connected"
    Disconnecting = "disconnecting"


class ClusterState(Enum):
    Online = "online"
    Degraded = "degraded"
    Offline = "offline"


class ServiceType(Enum):
    Analytics = "analytics"
    KeyValue = "key_value"
    Eventing = "eventing"
    Management = "management"
    Query = "query"
    Search = "search"
    View = "view"


class PingState(Enum):
    OK = "ok"
    TIMEOUT = "timeout"
    ERROR = "error"


def _us(value: Optional[int]) -> Optional[timedelta]:
    return None if value is None else timedelta(microseconds=value)


class _EndpointReport:
    """What ping and diagnostics report alike for one connection."""

    def __init__(self, service_type: ServiceType, source: Dict[str, Any]) -> None:
        self._src = source
        self._service_type = service_type

    @property
    def service_type(self) -> ServiceType:
        return self._service_type

    @property
    def id(self) -> Optional[str]:
        return self._src.get("id")

    @property
    def local(self) -> Optional[str]:
        return self._src.get("local")

    @property
    def remote(self) -> Optional[str]:
        return self._src.get("remote")

    def _as_dict(self, micros: str) -> Dict[str, Any]:
        """The source without None values, ``micros`` renamed ``<micros>_us`` when non-zero."""
        out = {k: v for k, v in self._src.items() if v is not None}
        value = out.pop(micros, None)
        if value:
            out[micros + "_us"] = value
        return out


class EndpointDiagnosticsReport(_EndpointReport):
    """One connection in a DiagnosticsResult."""

    @property
    def type(self) -> ServiceType:
        """Deprecated name of ``service_type``."""
        return self._service_type

    @property
    def namespace(self) -> Optional[str]:
        return self._src.get("bucket")

    @property
    def last_activity(self) -> Optional[timedelta]:
        """Deprecated name of ``last_activity_us``."""
        return _us(self._src.get("last_activity"))

    @property
    def last_activity_us(self) -> Optional[timedelta]:
        return _us(self._src.get("last_activity"))

    @property
    def state(self) -> EndpointState:
        return EndpointState(self._src.get("state"))

    def as_dict(self) -> Dict[str, Any]:
        return self._as_dict("last_activity")

    def __repr__(self) -> str:
        return "EndpointDiagnosticsReport:%r" % (self.as_dict(),)


class EndpointPingReport(_EndpointReport):
    """One connection in a PingResult."""

    @property
    def namespace(self) -> Optional[str]:
        namespace: Optional[str] = self._src.get("namespace", self._src.get("scope"))
        return namespace

    @property
    def error(self) -> Optional[str]:
        return self._src.get("error")

    @property
    def latency(self) -> Optional[timedelta]:
        return _us(self._src.get("latency"))

    @property
    def state(self) -> PingState:
        return PingState(self._src.get("state"))

    def as_dict(self) -> Dict[str, Any]:
        return self._as_dict("latency")

    def __repr__(self) -> str:
        return "EndpointPingReport:%r" % (self.as_dict(),)
