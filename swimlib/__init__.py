"""swimlib: SWIM cluster membership for Python, byte-compatible with HashiCorp memberlist."""

from swimlib.cluster import Cluster, KeyringManager
from swimlib.config import Config
from swimlib.errors import (
    ConfigError,
    InvalidKeyError,
    MessageTooLargeError,
    NoSeedsReachableError,
    NotRunningError,
    SwimError,
    UnknownNodeError,
)
from swimlib.events import (
    AliveEvent,
    Event,
    EventsLost,
    JoinEvent,
    LeaveEvent,
    SuspectEvent,
    UpdateEvent,
)
from swimlib.node import Node, NodeState

__version__ = "0.1.0"

__all__ = [
    "AliveEvent",
    "Cluster",
    "Config",
    "ConfigError",
    "Event",
    "EventsLost",
    "InvalidKeyError",
    "JoinEvent",
    "KeyringManager",
    "LeaveEvent",
    "MessageTooLargeError",
    "NoSeedsReachableError",
    "Node",
    "NodeState",
    "NotRunningError",
    "SuspectEvent",
    "SwimError",
    "UnknownNodeError",
    "UpdateEvent",
    "__version__",
]
