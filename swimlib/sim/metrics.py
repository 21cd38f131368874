"""What a simulation run measured, and the trace digest that proves it is reproducible.

Owns every figure the simulator reports: traffic counters, per-observer membership views
(for convergence), failure-detection times of crashed nodes, false positives (healthy nodes
suspected or declared dead), first-delivery times of user broadcasts, and a blake2b digest over
every delivered packet and every published event. Everything is updated incrementally, O(1)
per packet or event, so measuring never needs a scan over all nodes.

Ground truth (which nodes crashed, were paused, left) is written here by the simulator; the
metrics compare what nodes *believe* (their events) against it.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Callable, Sequence
from typing import Any

from swimlib.events import AliveEvent, JoinEvent, LeaveEvent, MemberEvent, SuspectEvent, UpdateEvent
from swimlib.node import NodeState

__all__ = ["Metrics", "TraceDigest", "percentile", "summarize"]

_PACKET_HEAD = struct.Struct("<BdII")
_EVENT_HEAD = struct.Struct("<BdIBBQ")
_EVENT_CODES: dict[type, int] = {
    JoinEvent: 1,
    LeaveEvent: 2,
    SuspectEvent: 3,
    AliveEvent: 4,
    UpdateEvent: 5,
}
EventListener = Callable[[float, int, MemberEvent], None]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an already sorted, non-empty sequence."""
    if not sorted_values:
        raise ValueError("percentile of nothing")
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """count/min/median/p90/p99/max/mean of some latencies, rounded to the microsecond."""
    if not values:
        return {"count": 0}
    s = sorted(values)
    return {
        "count": len(s),
        "min": round(s[0], 6),
        "median": round(percentile(s, 50), 6),
        "p90": round(percentile(s, 90), 6),
        "p99": round(percentile(s, 99), 6),
        "max": round(s[-1], 6),
        "mean": round(sum(s) / len(s), 6),
    }


class TraceDigest:
    """blake2b over (time, src, dst, bytes) of delivered packets and every published event.

    Times are hashed as exact IEEE doubles and names as UTF-8, so nothing depends on
    hash randomisation or float formatting: the same seed gives the same digest anywhere.
    """

    __slots__ = ("_h", "items")

    def __init__(self) -> None:
        self._h = hashlib.blake2b(digest_size=16)
        self.items = 0

    def packet(self, t: float, src: int, dst: int, data: bytes) -> None:
        self._h.update(_PACKET_HEAD.pack(0, t, src, dst))
        self._h.update(len(data).to_bytes(4, "little"))
        self._h.update(data)
        self.items += 1

    def event(self, t: float, observer: int, event: MemberEvent) -> None:
        node = event.node
        code = _EVENT_CODES.get(type(event), 0)
        self._h.update(
            _EVENT_HEAD.pack(1, t, observer, code, int(node.state), node.incarnation & (2**64 - 1))
        )
        self._h.update(node.name.encode("utf-8", "surrogateescape"))
        self.items += 1

    def note(self, t: float, text: str) -> None:
        """Fold a driver action (crash, pause, partition...) into the trace."""
        self._h.update(_PACKET_HEAD.pack(2, t, 0, 0))
        self._h.update(text.encode("utf-8"))
        self.items += 1

    def hexdigest(self) -> str:
        return self._h.copy().hexdigest()


class Metrics:
    """Counters, views and detection times of one run; see the module docstring."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self.index = {name: i for i, name in enumerate(self.names)}
        n = len(self.names)
        self.n = n
        self.digest = TraceDigest()
        self.listeners: list[EventListener] = []
        # Ground truth, written by the simulator.
        self.crashed_at: dict[int, float] = {}
        self.impaired: set[int] = set()  # paused or slowed at some point
        self.left: set[int] = set()
        # Traffic.
        self.packets_sent = 0
        self.bytes_sent = 0
        self.packets_delivered = 0
        self.bytes_delivered = 0
        self.dropped_dst_down = 0
        self.dropped_unknown_addr = 0
        self.queued_while_paused = 0
        self.push_pull_ok = 0
        self.push_pull_failed = 0
        self.push_pull_entries = 0
        self.push_pull_bytes = 0
        self.tcp_ping_ok = 0
        self.tcp_ping_failed = 0
        self.sim_events = 0  # heap events that did work (deliveries, wakeups, TCP legs)
        self.event_counts: dict[str, int] = {}
        # Views: members (not dead or left, self included) and suspects, per observer.
        self.members = [0] * n
        self.suspects: list[set[str]] = [set() for _ in range(n)]
        self.full_views = 0  # observers whose view has all n nodes alive
        self.converged_at: list[float] = []  # each time every observer reached a full view
        self.diverged_at: list[float] = []
        # Failure detection of crashed nodes: subject -> observer -> first time.
        self.dead_at: dict[int, dict[int, float]] = {}
        self.suspect_at: dict[int, dict[int, float]] = {}
        # False positives about nodes that had not crashed.
        self.fp_dead = 0
        self.fp_dead_subjects: dict[int, int] = {}
        self.fp_dead_by_observer: dict[int, int] = {}
        self.fp_dead_first: float | None = None
        self.fp_suspect = 0
        self.fp_suspect_subjects: dict[int, int] = {}
        self.refuted = 0  # AliveEvents: suspicion withdrawn
        # User broadcasts: payload -> node -> first delivery time.
        self.delivered: dict[bytes, dict[int, float]] = {}
        self.deliveries_total = 0
        self.leave_finished: dict[int, float] = {}
        # Optional full log: (time, observer, event kind, subject name, new state).
        self.event_log: list[tuple[float, int, str, str, int]] | None = None

    # ------------------------------------------------------------------ views

    def reset_views(self, members: Sequence[int], suspects: Sequence[set[str]]) -> None:
        """Set every observer's view directly (after a bootstrap that published no events)."""
        self.members = list(members)
        self.suspects = [set(s) for s in suspects]
        self.full_views = sum(
            1 for i in range(self.n) if self.members[i] - len(self.suspects[i]) == self.n
        )

    def alive_view(self, observer: int) -> int:
        """How many nodes ``observer`` believes alive (not suspect, dead or left)."""
        return self.members[observer] - len(self.suspects[observer])

    def converged(self) -> bool:
        return self.full_views == self.n

    # ------------------------------------------------------------------ inputs

    def on_event(self, t: float, observer: int, event: MemberEvent) -> None:
        """A node published a membership event."""
        self.digest.event(t, observer, event)
        kind = type(event).__name__
        self.event_counts[kind] = self.event_counts.get(kind, 0) + 1
        before = self.members[observer] - len(self.suspects[observer])
        node = event.node
        name = node.name
        if self.event_log is not None:
            self.event_log.append((t, observer, kind, name, int(node.state)))
        subject = self.index.get(name, -1)
        if isinstance(event, JoinEvent):
            self.members[observer] += 1
        elif isinstance(event, SuspectEvent):
            self.suspects[observer].add(name)
            if subject >= 0:
                if subject in self.crashed_at:
                    self.suspect_at.setdefault(subject, {}).setdefault(observer, t)
                else:
                    self.fp_suspect += 1
                    self.fp_suspect_subjects[subject] = self.fp_suspect_subjects.get(subject, 0) + 1
        elif isinstance(event, AliveEvent):
            self.suspects[observer].discard(name)
            self.refuted += 1
        elif isinstance(event, LeaveEvent):
            self.members[observer] -= 1
            self.suspects[observer].discard(name)
            if node.state == NodeState.DEAD and subject >= 0:
                if subject in self.crashed_at:
                    self.dead_at.setdefault(subject, {}).setdefault(observer, t)
                elif subject not in self.left:
                    self.fp_dead += 1
                    self.fp_dead_subjects[subject] = self.fp_dead_subjects.get(subject, 0) + 1
                    self.fp_dead_by_observer[observer] = (
                        self.fp_dead_by_observer.get(observer, 0) + 1
                    )
                    if self.fp_dead_first is None:
                        self.fp_dead_first = t
        after = self.members[observer] - len(self.suspects[observer])
        if before != after:
            n = self.n
            if after == n:
                self.full_views += 1
                if self.full_views == n:
                    self.converged_at.append(t)
            elif before == n:
                if self.full_views == n:
                    self.diverged_at.append(t)
                self.full_views -= 1
        for listener in self.listeners:
            listener(t, observer, event)

    def on_deliver(self, t: float, node: int, payload: bytes) -> bool:
        """A user message reached ``node``; True if it is the first copy there."""
        self.deliveries_total += 1
        seen = self.delivered.setdefault(payload, {})
        if node in seen:
            return False
        seen[node] = t
        return True

    # ------------------------------------------------------------------ reports

    def detection_report(self, survivors: Sequence[int]) -> dict[str, Any]:
        """Dead-declaration latency of each crashed node at every survivor, and overall."""
        per_node: list[dict[str, Any]] = []
        all_lat: list[float] = []
        first_lat: list[float] = []
        last_lat: list[float] = []
        suspect_lat: list[float] = []
        undetected = 0
        for subject in sorted(self.crashed_at):
            t0 = self.crashed_at[subject]
            seen = self.dead_at.get(subject, {})
            lats = [seen[o] - t0 for o in survivors if o in seen]
            missing = sum(1 for o in survivors if o not in seen)
            undetected += missing
            sus = self.suspect_at.get(subject, {})
            if sus:
                suspect_lat.append(min(sus.values()) - t0)
            entry: dict[str, Any] = {"node": self.names[subject], "crashed_at": t0}
            if lats:
                lats.sort()
                entry.update(
                    first=round(lats[0], 6),
                    last=round(lats[-1], 6),
                    median=round(percentile(lats, 50), 6),
                    detected_by=len(lats),
                    missing=missing,
                )
                first_lat.append(lats[0])
                if not missing:
                    last_lat.append(lats[-1])
                all_lat.extend(lats)
            else:
                entry.update(detected_by=0, missing=missing)
            per_node.append(entry)
        return {
            "crashed": len(self.crashed_at),
            "survivors": len(survivors),
            "undetected_pairs": undetected,
            "first_suspicion": summarize(suspect_lat),
            "first_detection": summarize(first_lat),
            "last_detection": summarize(last_lat),
            "all_detections": summarize(all_lat),
            "per_node": per_node,
        }

    def false_positive_report(self) -> dict[str, Any]:
        """Non-crashed nodes suspected or declared dead, and whether paused/slowed ones."""
        impaired = self.impaired
        about_impaired = sum(c for s, c in self.fp_dead_subjects.items() if s in impaired)
        by_impaired = sum(c for o, c in self.fp_dead_by_observer.items() if o in impaired)
        sus_about = sum(c for s, c in self.fp_suspect_subjects.items() if s in impaired)
        return {
            "dead_declarations": self.fp_dead,
            "distinct_nodes_declared_dead": len(self.fp_dead_subjects),
            "dead_about_impaired_nodes": about_impaired,
            "dead_about_unimpaired_nodes": self.fp_dead - about_impaired,
            "distinct_unimpaired_nodes_declared_dead": sum(
                1 for s in self.fp_dead_subjects if s not in impaired
            ),
            "dead_declared_by_impaired_nodes": by_impaired,
            "first_at": self.fp_dead_first,
            "suspicions": self.fp_suspect,
            "distinct_nodes_suspected": len(self.fp_suspect_subjects),
            "suspicions_about_impaired_nodes": sus_about,
            "suspicions_about_unimpaired_nodes": self.fp_suspect - sus_about,
            "refutations_seen": self.refuted,
        }

    def broadcast_report(self, payload: bytes, t0: float, origin: int) -> dict[str, Any]:
        """How long a user broadcast took to reach every other node."""
        seen = self.delivered.get(payload, {})
        lats = [t - t0 for node, t in seen.items() if node != origin]
        want = self.n - 1 - sum(1 for i in self.crashed_at if i != origin)
        report: dict[str, Any] = {
            "reached": len(lats),
            "wanted": want,
            "latency": summarize(lats),
            "deliveries_total": self.deliveries_total,
        }
        report["all_reached_after"] = round(max(lats), 6) if len(lats) >= want and lats else None
        return report

    def traffic_report(self) -> dict[str, Any]:
        return {
            "packets_sent": self.packets_sent,
            "bytes_sent": self.bytes_sent,
            "packets_delivered": self.packets_delivered,
            "bytes_delivered": self.bytes_delivered,
            "dropped_destination_down": self.dropped_dst_down,
            "dropped_unknown_address": self.dropped_unknown_addr,
            "queued_while_paused": self.queued_while_paused,
            "push_pull_ok": self.push_pull_ok,
            "push_pull_failed": self.push_pull_failed,
            "push_pull_entries": self.push_pull_entries,
            "push_pull_bytes": self.push_pull_bytes,
            "tcp_ping_ok": self.tcp_ping_ok,
            "tcp_ping_failed": self.tcp_ping_failed,
        }
