"""Named experiments on a simulated cluster, each returning a JSON-ready summary.

Owns the scripts behind ``python -m swimlib.sim --scenario NAME``: steady (no failures, count
false positives), crash (detection latency of crashed nodes at every survivor), join
(convergence through one seed), broadcast (dissemination of a user message), pause (false
positives caused by GC-like pauses), slow (the same for nodes whose inputs are handled late,
Lifeguard's anomaly) and partition (detection across a split, re-merge after
healing). Victims and fault times come from the simulator's scenario RNG, so a summary is a
pure function of its :class:`ScenarioParams`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from swimlib.core.formulas import suspicion_confirmations_wanted, suspicion_timeout
from swimlib.events import JoinEvent, LeaveEvent, MemberEvent
from swimlib.node import NodeState
from swimlib.sim.lifeguard import sim_config
from swimlib.sim.metrics import summarize
from swimlib.sim.network import NetworkParams
from swimlib.sim.simulator import SimOptions, Simulator

__all__ = ["SCENARIOS", "ScenarioParams", "build", "run_scenario"]


@dataclass
class ScenarioParams:
    """Everything a scenario run depends on (and nothing else)."""

    scenario: str = "steady"
    nodes: int = 100
    seconds: float = 60.0
    loss: float = 0.0
    seed: int = 1
    lifeguard: bool = True
    preset: str = "lan"
    latency: float = 0.0005
    jitter: float = 0.0002
    duplicate: float = 0.0
    compress: bool = False
    encode_streams: bool = False
    fast_bootstrap: bool = True
    # crash
    crash_count: int = 0  # 0: max(1, nodes // 100)
    crash_at: float = 10.0
    # join
    join_window: float = 1.0  # joins are spread uniformly over this many seconds
    # broadcast
    broadcast_at: float = 1.0
    rebroadcast: bool = True  # a topic broadcast, relayed by every node; False: raw, origin only
    # pause
    pause_count: int = 0  # 0: max(1, nodes // 50)
    pause_seconds: float = 5.0
    pause_at: float = 5.0
    pause_spread: float = 10.0  # pauses start uniformly in [pause_at, pause_at + spread]
    # slow nodes (inputs handled late, timers on time), in the pause and slow scenarios
    slow_count: int = 0  # slow scenario: 0 means max(1, nodes // 50)
    slow_delay: float = 2.0
    slow_seconds: float = 20.0
    # partition
    partition_at: float = 5.0
    partition_seconds: float = 30.0
    partition_fraction: float = 0.5
    # Serf-style reconnect period; None: 30 s (Serf's default) for partition, off elsewhere
    reconnect: float | None = None


def build(p: ScenarioParams, reconnect: float = 0.0) -> Simulator:
    """The simulator a scenario runs on (nodes created, not yet joined)."""
    net = NetworkParams(latency=p.latency, jitter=p.jitter, loss=p.loss, duplicate=p.duplicate)
    opts = SimOptions(lifeguard=p.lifeguard, compress=p.compress, encode_streams=p.encode_streams)
    interval = reconnect if p.reconnect is None else p.reconnect
    cfg = sim_config(p.preset, reconnect_interval=interval)
    return Simulator(p.nodes, cfg, p.seed, net, opts)


def _common(sim: Simulator, p: ScenarioParams) -> dict[str, Any]:
    m = sim.metrics
    cfg = sim.config
    n = p.nodes
    scores = [node.core.health_score() for node in sim.nodes if not node.down]
    lo = suspicion_timeout(cfg.suspicion_mult, n, cfg.protocol_interval)
    net = sim.network.counters
    return {
        "params": asdict(p),
        "digest": m.digest.hexdigest(),
        "virtual_seconds": sim.now,
        "sim_events": m.sim_events,
        "traffic": m.traffic_report(),
        "network": {
            "lost": net.loss,
            "lost_one_way": net.one_way,
            "lost_partition": net.partition,
            "duplicated": net.duplicated,
        },
        "false_positives": m.false_positive_report(),
        "events": dict(sorted(m.event_counts.items())),
        "health_score": {
            "max": max(scores, default=0),
            "nonzero_nodes": sum(1 for s in scores if s),
        },
        "expected": {
            "suspicion_min_timeout": lo,
            "suspicion_max_timeout": round(lo * cfg.suspicion_max_timeout_mult, 6),
            "confirmations_wanted": suspicion_confirmations_wanted(cfg.suspicion_mult, n),
            "probe_interval": cfg.protocol_interval,
        },
    }


def _steady(p: ScenarioParams) -> dict[str, Any]:
    sim = build(p)
    sim.bootstrap(p.fast_bootstrap)
    sim.run_until(p.seconds)
    out = _common(sim, p)
    out["converged_at_end"] = sim.metrics.converged()
    return out


def _crash(p: ScenarioParams) -> dict[str, Any]:
    sim = build(p)
    sim.bootstrap(p.fast_bootstrap)
    k = p.crash_count or max(1, p.nodes // 100)
    victims = sorted(sim.rng.sample(range(p.nodes), min(k, p.nodes - 1)))

    def crash_all() -> None:
        for v in victims:
            sim.crash(v)

    sim.at(p.crash_at, crash_all)
    sim.run_until(p.seconds)
    out = _common(sim, p)
    out["detection"] = sim.metrics.detection_report(sim.live_nodes())
    return out


def _join(p: ScenarioParams) -> dict[str, Any]:
    sim = build(p)
    times = sorted(sim.rng.uniform(0.0, p.join_window) for _ in range(p.nodes - 1))
    for i, t in enumerate(times, start=1):
        sim.at(t, lambda i=i: sim.join(i, 0))  # type: ignore[misc]
    m = sim.metrics
    sim.run_while(lambda: not m.converged(), p.seconds)
    out = _common(sim, p)
    last = times[-1] if times else 0.0
    conv = m.converged_at[0] if m.converged_at else None
    out["join"] = {
        "last_join_at": round(last, 6),
        "converged_at": conv,
        "after_last_join": round(conv - last, 6) if conv is not None else None,
    }
    return out


def _broadcast(p: ScenarioParams) -> dict[str, Any]:
    sim = build(p)
    sim.bootstrap(p.fast_bootstrap)
    payload = b"swimlib-sim-broadcast"
    m = sim.metrics
    topic = "sim" if p.rebroadcast else None
    sim.at(p.broadcast_at, lambda: sim.broadcast(0, payload, topic))
    want = p.nodes

    def not_done() -> bool:
        return len(m.delivered.get(payload, {})) < want

    sim.run_while(not_done, p.seconds)
    out = _common(sim, p)
    out["broadcast"] = m.broadcast_report(payload, p.broadcast_at, 0)
    return out


def _impair(p: ScenarioParams, pauses: int, slows: int) -> dict[str, Any]:
    """Pause some nodes (GC-like) and slow others; count the false positives they cause."""
    sim = build(p)
    sim.bootstrap(p.fast_bootstrap)
    victims = sorted(sim.rng.sample(range(p.nodes), min(pauses + slows, p.nodes)))
    sim.rng.shuffle(victims)
    paused, slowed = sorted(victims[:pauses]), sorted(victims[pauses:])
    starts = [p.pause_at + sim.rng.random() * p.pause_spread for _ in victims]
    for v, t in zip(paused, starts, strict=False):
        sim.at(t, lambda v=v: sim.pause(v, p.pause_seconds))  # type: ignore[misc]
    for v, t in zip(slowed, starts[len(paused) :], strict=True):
        sim.at(t, lambda v=v: sim.slow(v, p.slow_delay, p.slow_seconds))  # type: ignore[misc]
    sim.run_until(p.seconds)
    out = _common(sim, p)
    out["impaired"] = {
        "paused_nodes": len(paused),
        "pause_seconds": p.pause_seconds,
        "slow_nodes": len(slowed),
        "slow_delay": p.slow_delay,
        "slow_seconds": p.slow_seconds,
        "first_start": round(min(starts), 6) if starts else None,
        "last_start": round(max(starts), 6) if starts else None,
    }
    return out


def _pause(p: ScenarioParams) -> dict[str, Any]:
    return _impair(p, p.pause_count or max(1, p.nodes // 50), p.slow_count)


def _slow(p: ScenarioParams) -> dict[str, Any]:
    return _impair(p, p.pause_count, p.slow_count or max(1, p.nodes // 50))


class _PartitionWatch:
    """Per observer: which nodes across the split it believes dead, and when all of them."""

    def __init__(self, sim: Simulator, side: list[int]) -> None:
        self.side = side
        self.other_size = [0] * len(side)
        n = len(side)
        size_a = sum(side)
        for i in range(n):
            self.other_size[i] = size_a if side[i] == 0 else n - size_a
        self.dead_across: list[set[str]] = [set() for _ in range(n)]
        self.first_dead: float | None = None
        self.all_dead_at: dict[int, float] = {}
        self.index = sim.metrics.index

    def __call__(self, t: float, observer: int, event: MemberEvent) -> None:
        subject = self.index.get(event.node.name, -1)
        if subject < 0 or self.side[subject] == self.side[observer]:
            return
        seen = self.dead_across[observer]
        if isinstance(event, LeaveEvent) and event.node.state == NodeState.DEAD:
            seen.add(event.node.name)
            if self.first_dead is None:
                self.first_dead = t
            if len(seen) == self.other_size[observer]:
                self.all_dead_at.setdefault(observer, t)
        elif isinstance(event, JoinEvent):
            seen.discard(event.node.name)


def _partition(p: ScenarioParams) -> dict[str, Any]:
    sim = build(p, reconnect=30.0)
    sim.bootstrap(p.fast_bootstrap)
    size_a = max(1, min(p.nodes - 1, round(p.nodes * p.partition_fraction)))
    group_a = sorted(sim.rng.sample(range(p.nodes), size_a))
    side = [1] * p.nodes
    for i in group_a:
        side[i] = 0
    group_b = [i for i in range(p.nodes) if side[i] == 1]
    watch = _PartitionWatch(sim, side)
    m = sim.metrics
    m.listeners.append(watch)
    heal_at = p.partition_at + p.partition_seconds
    sim.at(p.partition_at, lambda: sim.partition([group_a, group_b]))
    sim.at(heal_at, sim.heal)
    sim.run_until(p.seconds)
    out = _common(sim, p)
    done = [t - p.partition_at for t in watch.all_dead_at.values()]
    remerged = [t for t in m.converged_at if t >= heal_at]
    out["partition"] = {
        "sizes": [len(group_a), len(group_b)],
        "reconnect_interval": sim.config.reconnect_interval,
        "split_at": p.partition_at,
        "healed_at": heal_at,
        "first_dead_across_after": (
            round(watch.first_dead - p.partition_at, 6) if watch.first_dead is not None else None
        ),
        "observers_with_all_across_dead": len(done),
        "all_across_dead_after": summarize(done),
        "remerged_after_heal": round(remerged[0] - heal_at, 6) if remerged else None,
        "converged_at_end": m.converged(),
        "alive_view_at_end": summarize([float(m.alive_view(i)) for i in range(p.nodes)]),
    }
    return out


SCENARIOS: dict[str, Callable[[ScenarioParams], dict[str, Any]]] = {
    "steady": _steady,
    "crash": _crash,
    "join": _join,
    "broadcast": _broadcast,
    "pause": _pause,
    "slow": _slow,
    "partition": _partition,
}


def run_scenario(p: ScenarioParams) -> dict[str, Any]:
    """Run the scenario named in ``p``; the summary carries the params and the trace digest."""
    try:
        runner = SCENARIOS[p.scenario]
    except KeyError:
        raise ValueError(f"unknown scenario {p.scenario!r}; one of {sorted(SCENARIOS)}") from None
    return runner(p)
