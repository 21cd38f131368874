"""swimlib: SWIM cluster membership for Python, byte-compatible with HashiCorp memberlist."""

import logging

from swimlib.cluster import Cluster
from swimlib.config import Config
from swimlib.errors import (
    AddressInUseError,
    BindError,
    ConfigError,
    InvalidKeyError,
    MessageTooLargeError,
    NoSeedsReachableError,
    NotRunningError,
    SwimError,
    UnknownNodeError,
    UsedAfterForkError,
)
from swimlib.events import (
    AliveEvent,
    ConflictEvent,
    Event,
    EventsLost,
    JoinCompleted,
    JoinEvent,
    JoinFailed,
    LeaveEvent,
    SuspectEvent,
    UpdateEvent,
)
from swimlib.keyring_manager import KeyringManager
from swimlib.node import Node, NodeState

__version__ = "0.1.0"

# A library must not print through the root logger's last-resort handler: the host decides.
logging.getLogger("swimlib").addHandler(logging.NullHandler())

__all__ = [
    "AddressInUseError",
    "AliveEvent",
    "BindError",
    "Cluster",
    "Config",
    "ConfigError",
    "ConflictEvent",
    "Event",
    "EventsLost",
    "InvalidKeyError",
    "JoinCompleted",
    "JoinEvent",
    "JoinFailed",
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
    "UsedAfterForkError",
    "__version__",
]
