"""One cell, one seeded simulator run: what it counts and how.

Owns the event watcher that tells false positives about healthy nodes from those about
impaired ones, the impairment schedule (the same RNG calls as the simulator CLI's scenarios,
so a cell replays with ``python -m swimlib.sim``) and the raw, JSON-ready figures of a run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from studies.failure_detection.grid import Cell
from swimlib.events import AliveEvent, JoinEvent, LeaveEvent, MemberEvent, SuspectEvent
from swimlib.node import NodeState
from swimlib.sim.lifeguard import sim_config
from swimlib.sim.metrics import percentile
from swimlib.sim.network import NetworkParams
from swimlib.sim.simulator import SimOptions, Simulator

__all__ = ["IMPAIRED_GRACE", "PAYLOAD", "run_cell"]

PAYLOAD = b"swimlib-study-broadcast"
IMPAIRED_GRACE = 5.0  # seconds after an impairment (and its backlog) ends that still count

Windows = dict[int, tuple[float, float]]


class _Watch:
    """Episodes of false suspicion and false death per subject, and detection progress.

    An *episode* starts when the number of observers that hold a non-crashed subject suspect
    (or dead) goes from zero to one at an incarnation not counted before, so a healthy node
    wrongly killed once counts once, not once per observer that heard about it. A subject
    counts as impaired while it is paused or slow, plus its backlog and a grace period;
    everything else is healthy. A suspicion or death at an incarnation that was first
    suspected or declared dead while the subject was impaired stays an impaired one, even
    when it surfaces later (a paused observer replaying its backlog on resume sees the old
    death and, at once, the refutation).
    """

    def __init__(self, sim: Simulator, windows: Windows) -> None:
        self.index = sim.metrics.index
        self.crashed = sim.metrics.crashed_at
        self.left = sim.metrics.left
        self.windows = windows
        self.sus: dict[int, set[int]] = {}
        self.dead: dict[int, set[int]] = {}
        self.counts: dict[str, int] = {
            "suspect_episodes_healthy": 0,
            "suspect_episodes_impaired": 0,
            "dead_episodes_healthy": 0,
            "dead_episodes_impaired": 0,
            "suspect_declarations_healthy": 0,
            "dead_declarations_healthy": 0,
            "dead_declarations_impaired": 0,
            "dead_declarations_by_impaired_observers": 0,
        }
        self.dead_healthy_subjects: set[int] = set()
        self.impaired_claims: set[tuple[int, int]] = set()  # (subject, incarnation)
        self.counted: set[tuple[bool, int, int]] = set()  # (dead?, subject, incarnation)
        self.detected_pairs = 0
        self._seen_pairs: set[tuple[int, int]] = set()

    def impaired(self, subject: int, t: float) -> bool:
        """Whether ``subject`` is paused or slow (or within its grace period) at ``t``."""
        w = self.windows.get(subject)
        return w is not None and w[0] <= t <= w[1]

    def __call__(self, t: float, observer: int, event: MemberEvent) -> None:
        subject = self.index.get(event.node.name, -1)
        if subject < 0 or subject == observer:
            return
        if subject in self.crashed:
            self._crashed(observer, subject, event)
            return
        tag = self._tag(subject, t, event)
        if isinstance(event, SuspectEvent):
            self._suspected(observer, subject, event, tag)
        elif isinstance(event, AliveEvent):
            self.sus.get(subject, set()).discard(observer)
        elif isinstance(event, LeaveEvent):
            self.sus.get(subject, set()).discard(observer)
            if event.node.state == NodeState.DEAD and subject not in self.left:
                self._declared_dead(t, observer, subject, event, tag)
        elif isinstance(event, JoinEvent):
            self.dead.get(subject, set()).discard(observer)

    def _crashed(self, observer: int, subject: int, event: MemberEvent) -> None:
        """Count a surviving observer's first dead declaration of a crashed subject."""
        if (
            isinstance(event, LeaveEvent)
            and event.node.state == NodeState.DEAD
            and observer not in self.crashed
            and (subject, observer) not in self._seen_pairs
        ):
            self._seen_pairs.add((subject, observer))
            self.detected_pairs += 1

    def _tag(self, subject: int, t: float, event: MemberEvent) -> str:
        """Whom a suspicion or death of ``subject`` is about: "impaired" or "healthy"."""
        claim = (subject, event.node.incarnation)
        if self.impaired(subject, t):
            if isinstance(event, SuspectEvent | LeaveEvent):
                self.impaired_claims.add(claim)
            return "impaired"
        return "impaired" if claim in self.impaired_claims else "healthy"

    def _suspected(self, observer: int, subject: int, event: MemberEvent, tag: str) -> None:
        holders = self.sus.setdefault(subject, set())
        key = (False, subject, event.node.incarnation)
        if not holders and key not in self.counted:
            self.counted.add(key)
            self.counts[f"suspect_episodes_{tag}"] += 1
        holders.add(observer)
        if tag == "healthy":
            self.counts["suspect_declarations_healthy"] += 1

    def _declared_dead(
        self, t: float, observer: int, subject: int, event: MemberEvent, tag: str
    ) -> None:
        c = self.counts
        holders = self.dead.setdefault(subject, set())
        key = (True, subject, event.node.incarnation)
        if not holders and key not in self.counted:
            self.counted.add(key)
            c[f"dead_episodes_{tag}"] += 1
            if tag == "healthy":
                self.dead_healthy_subjects.add(subject)
        holders.add(observer)
        c[f"dead_declarations_{tag}"] += 1
        if self.impaired(observer, t):
            c["dead_declarations_by_impaired_observers"] += 1


def _schedule_impairments(sim: Simulator, c: Cell) -> Windows:
    """Pause and slow victims exactly as scenarios._impair picks them (same RNG calls)."""
    total = c.pause_count + c.slow_count
    if total == 0:
        return {}
    rng = sim.rng
    victims = sorted(rng.sample(range(c.n), min(total, c.n)))
    rng.shuffle(victims)
    paused, slowed = sorted(victims[: c.pause_count]), sorted(victims[c.pause_count :])
    spread = max(0.0, c.impair_until - c.impair_from)
    starts = [c.impair_from + rng.random() * spread for _ in victims]
    windows: Windows = {}
    for v, t in zip(paused, starts, strict=False):
        sim.at(t, lambda v=v: sim.pause(v, c.pause_seconds))  # type: ignore[misc]
        windows[v] = (t, t + c.pause_seconds + IMPAIRED_GRACE)
    for v, t in zip(slowed, starts[len(paused) :], strict=True):
        sim.at(t, lambda v=v: sim.slow(v, c.slow_delay, c.slow_seconds))  # type: ignore[misc]
        windows[v] = (t, t + c.slow_seconds + c.slow_delay + IMPAIRED_GRACE)
    return windows


def _most_at_once(c: Cell, windows: Windows) -> int:
    """The largest number of nodes paused or slow at the same moment."""
    length = c.pause_seconds if c.pause_count else c.slow_seconds
    edges = sorted((t, d) for a, _ in windows.values() for t, d in ((a, 1), (a + length, -1)))
    most = cur = 0
    for _, d in edges:
        cur += d
        most = max(most, cur)
    return most


def _simulator(c: Cell) -> Simulator:
    """A bootstrapped simulator for ``c`` (every node knows every other, alive)."""
    cfg = sim_config(c.preset, disable_tcp_pings=not c.tcp_pings)
    opts = SimOptions(lifeguard=c.lifeguard)  # topic broadcasts: relayed by every node
    sim = Simulator(c.n, cfg, c.seed, NetworkParams(loss=c.loss), opts)
    sim.bootstrap(True)
    return sim


def _schedule_crashes(sim: Simulator, c: Cell) -> list[int]:
    """Pick the crash victims (before the impairments: the RNG order is part of the cell)."""
    if not c.crash_count:
        return []
    victims = sorted(sim.rng.sample(range(c.n), min(c.crash_count, c.n - 1)))

    def crash_all() -> None:
        for v in victims:
            sim.crash(v)

    sim.at(c.crash_at, crash_all)
    return victims


def _run(sim: Simulator, c: Cell, watch: _Watch, victims: Sequence[int]) -> None:
    """Run for ``c.seconds``, or until every crash is known and the broadcast delivered."""
    if not c.stop_when_done:
        sim.run_until(c.seconds)
        return
    m = sim.metrics
    want_pairs = len(victims) * (c.n - len(victims))
    want_delivered = c.n if c.broadcast_at >= 0 else 0

    def keep_going() -> bool:
        if len(m.delivered.get(PAYLOAD, ())) < want_delivered:
            return True
        return not victims or watch.detected_pairs < want_pairs

    sim.run_while(keep_going, c.seconds)


def run_cell(c: Cell) -> dict[str, Any]:
    """Run one cell in this process and return its raw figures (JSON-ready)."""
    if c.crash_count and (c.pause_count or c.slow_count):
        raise ValueError("a cell crashes nodes or impairs them, not both")
    started = time.perf_counter()
    cpu_started = time.process_time()
    sim = _simulator(c)
    boot_cpu = time.process_time() - cpu_started
    victims = _schedule_crashes(sim, c)
    windows = _schedule_impairments(sim, c)
    watch = _Watch(sim, windows)
    sim.metrics.listeners.append(watch)
    if c.broadcast_at >= 0:
        sim.at(c.broadcast_at, lambda: sim.broadcast(0, PAYLOAD))
    _run(sim, c, watch, victims)
    out = _figures(sim, c, watch, windows)
    if victims:
        out["detection"] = _detection(sim, victims)
    if c.broadcast_at >= 0:
        out["broadcast"] = _broadcast(sim, c, victims)
    out["timing"] = _timing(sim, started, cpu_started, boot_cpu)
    return out


def _figures(sim: Simulator, c: Cell, watch: _Watch, windows: Windows) -> dict[str, Any]:
    """Counts every cell reports: size of the run, traffic, digest and false positives."""
    m = sim.metrics
    end = sim.now
    node_seconds = c.n * end - sum(end - t for t in m.crashed_at.values())
    return {
        "cell": asdict(c),
        "virtual_seconds": end,
        "node_hours": node_seconds / 3600.0,
        "digest": m.digest.hexdigest(),
        "sim_events": m.sim_events,
        "packets_sent": m.packets_sent,
        "fp": dict(watch.counts),
        "fp_distinct_healthy_dead": len(watch.dead_healthy_subjects),
        "impairment_episodes": c.pause_count + c.slow_count,
        "impaired_at_once": _most_at_once(c, windows),
        "max_health_score": max((nd.core.health_score() for nd in sim.nodes), default=0),
    }


def _detection(sim: Simulator, victims: Sequence[int]) -> dict[str, Any]:
    """Per victim: first suspicion, first and last dead declaration, survivors that missed it."""
    m = sim.metrics
    survivors = sim.live_nodes()
    per: list[dict[str, Any]] = []
    for v in victims:
        t0 = m.crashed_at[v]
        dead = m.dead_at.get(v, {})
        lats = sorted(dead[o] - t0 for o in survivors if o in dead)
        sus = m.suspect_at.get(v, {})
        per.append(
            {
                "first_suspicion": min(sus.values()) - t0 if sus else None,
                "first": lats[0] if lats else None,
                "last": lats[-1] if len(lats) == len(survivors) else None,
                "median": percentile(lats, 50) if lats else None,
                "missing": len(survivors) - len(lats),
            }
        )
    return {"survivors": len(survivors), "victims": per}


def _broadcast(sim: Simulator, c: Cell, victims: Sequence[int]) -> dict[str, Any]:
    """How far and how fast the cell's one user broadcast got."""
    m = sim.metrics
    seen = m.delivered.get(PAYLOAD, {})
    lats = sorted(t - c.broadcast_at for i, t in seen.items() if i != 0)
    return {
        "reached": len(lats),
        "wanted": c.n - 1 - sum(1 for v in victims if v != 0),
        "median": percentile(lats, 50) if lats else None,
        "all_reached": lats[-1] if len(lats) >= c.n - 1 - len(victims) and lats else None,
        "deliveries_total": m.deliveries_total,
    }


def _timing(sim: Simulator, started: float, cpu_started: float, boot_cpu: float) -> dict[str, Any]:
    """Wall and CPU time of the run: the only figures that differ between two studies."""
    events = sim.metrics.sim_events
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    return {
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "bootstrap_cpu_seconds": round(boot_cpu, 3),
        "events_per_wall_second": round(events / wall) if wall > 0 else None,
        "events_per_cpu_second": round(events / cpu) if cpu > 0 else None,
    }
