"""Membership events put on ``Cluster.events`` (memberlist's EventDelegate, and a bit more).

Unlike Go's delegate, each event carries the node's state *after* the change, so a graceful
leave (``NodeState.LEFT``) can be told from a failure (``NodeState.DEAD``).
"""

from __future__ import annotations

from dataclasses import dataclass

from swimlib.node import Node


@dataclass(frozen=True, slots=True)
class JoinEvent:
    """A node became alive: new, or back after being dead or having left (NotifyJoin).

    ``rejoined`` is True when the name was known as dead or left before: a restart, or the
    other side of a healed partition.
    """

    node: Node
    rejoined: bool = False


@dataclass(frozen=True, slots=True)
class LeaveEvent:
    """A node was declared dead or left gracefully (NotifyLeave); see ``node.state``."""

    node: Node


@dataclass(frozen=True, slots=True)
class UpdateEvent:
    """A node's metadata changed (NotifyUpdate)."""

    node: Node


@dataclass(frozen=True, slots=True)
class SuspectEvent:
    """A node is suspected of having failed; it may still refute."""

    node: Node


@dataclass(frozen=True, slots=True)
class AliveEvent:
    """A suspected node refuted the suspicion and is alive again."""

    node: Node


@dataclass(frozen=True, slots=True)
class ConflictEvent:
    """Another address claims a member's name (memberlist NotifyConflict).

    ``node`` is the member as known (kept: the claim is refused, as memberlist does, unless
    the known entry left or is dead past ``dead_node_reclaim_time``); ``other`` is the
    claiming address. For our own name it means a second node runs with the same name.
    """

    node: Node
    other: tuple[str, int]


@dataclass(frozen=True, slots=True)
class EventsLost:
    """``count`` events were dropped because ``Cluster.events`` was full (not read in time).

    Membership itself is intact: ``Cluster.members()`` has the current view.
    """

    count: int


@dataclass(frozen=True, slots=True)
class JoinCompleted:
    """The background retry-join (``Config.retry_join``) reached ``seeds`` seeds."""

    seeds: int
    attempts: int


@dataclass(frozen=True, slots=True)
class JoinFailed:
    """The background retry-join gave up after ``retry_max`` attempts; why, per seed."""

    attempts: int
    reasons: dict[str, str]


MemberEvent = JoinEvent | LeaveEvent | UpdateEvent | SuspectEvent | AliveEvent | ConflictEvent
Event = MemberEvent | EventsLost | JoinCompleted | JoinFailed
