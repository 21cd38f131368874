"""``python -m swimlib.sim.study``: the failure-detection study in docs/failure-detection.md.

Owns the study grid (false positives under loss, pauses and slow nodes with and without
Lifeguard; crash-detection latency against SWIM's theory; dissemination time against log N
gossip rounds; memory per member entry; simulator speed), running it on the simulator's Python
API, the raw-results JSON, the PNG figures and the whole markdown document, whose prose lives
in the template at the bottom of this module. One command regenerates everything::

    python -m swimlib.sim.study [--quick] [--out docs] [--jobs 2] [--big 3000]

Each cell of the grid is one seeded simulator run and a pure function of its :class:`Cell`;
cells run in ``--jobs`` spawned worker processes, one fresh process per group of cells, so the
peak RSS recorded for a group is that group's own. Only timings differ between two runs of
the study. matplotlib is needed for the figures only and is imported (and, if missing,
pip-installed) inside :func:`plot`; swimlib does not depend on it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import multiprocessing
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from studies.sim_profile.measure import GIB, largest_n, memory_per_entry
from swimlib.core.formulas import retransmit_limit, suspicion_timeout
from swimlib.events import AliveEvent, Event, JoinEvent, LeaveEvent, SuspectEvent
from swimlib.node import NodeState
from swimlib.sim.lifeguard import sim_config
from swimlib.sim.metrics import percentile
from swimlib.sim.network import NetworkParams
from swimlib.sim.simulator import SimOptions, Simulator

__all__ = ["Cell", "main", "plan", "run_cell", "summarize_study"]

PAYLOAD = b"swimlib-study-broadcast"
E_FACTOR = math.e / (math.e - 1.0)  # SWIM: expected protocol periods until a first failed probe
IMPAIRED_GRACE = 5.0  # seconds after an impairment (and its backlog) ends that still count

# Display names and order of the false-positive conditions.
CONDITIONS: dict[str, str] = {
    "loss0": "no loss",
    "loss1": "1% loss",
    "loss5": "5% loss",
    "loss10": "10% loss",
    "pause5": "5 s pauses",
    "pause20": "20 s pauses",
    "slow2": "slow nodes, 2 s",
    "slow15": "slow nodes, 15 s",
    "slow15b": "slow nodes, 15 s, burst",
}


@dataclass(frozen=True)
class Cell:
    """One simulator run of the study; every figure it yields is a function of these fields."""

    section: str  # "fp", "fp_udp", "detect", "spread", "speed"
    row: str  # condition key (CONDITIONS) for fp rows, "" elsewhere
    n: int
    seconds: float  # virtual seconds (upper bound for runs that stop when done)
    seed: int = 1
    preset: str = "lan"
    lifeguard: bool = True
    loss: float = 0.0
    tcp_pings: bool = True
    pause_count: int = 0
    pause_seconds: float = 0.0
    slow_count: int = 0
    slow_delay: float = 0.0
    slow_seconds: float = 0.0
    impair_from: float = 2.0  # impairments start uniformly in [impair_from, impair_until]
    impair_until: float = 2.0
    crash_count: int = 0
    crash_at: float = 5.0
    broadcast_at: float = -1.0  # < 0: no user broadcast
    stop_when_done: bool = False  # stop once every crash is detected everywhere and the
    # broadcast has reached everybody


# ---------------------------------------------------------------------------- one run


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

    def __init__(self, sim: Simulator, windows: dict[int, tuple[float, float]]) -> None:
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
        w = self.windows.get(subject)
        return w is not None and w[0] <= t <= w[1]

    def __call__(self, t: float, observer: int, event: Event) -> None:
        subject = self.index.get(event.node.name, -1)
        if subject < 0 or subject == observer:
            return
        if subject in self.crashed:
            if (
                isinstance(event, LeaveEvent)
                and event.node.state == NodeState.DEAD
                and observer not in self.crashed
                and (subject, observer) not in self._seen_pairs
            ):
                self._seen_pairs.add((subject, observer))
                self.detected_pairs += 1
            return
        c = self.counts
        claim = (subject, event.node.incarnation)
        if self.impaired(subject, t):
            tag = "impaired"
            if isinstance(event, SuspectEvent | LeaveEvent):
                self.impaired_claims.add(claim)
        else:
            tag = "impaired" if claim in self.impaired_claims else "healthy"
        if isinstance(event, SuspectEvent):
            holders = self.sus.setdefault(subject, set())
            if not holders and (False, *claim) not in self.counted:
                self.counted.add((False, *claim))
                c[f"suspect_episodes_{tag}"] += 1
            holders.add(observer)
            if tag == "healthy":
                c["suspect_declarations_healthy"] += 1
        elif isinstance(event, AliveEvent):
            self.sus.get(subject, set()).discard(observer)
        elif isinstance(event, LeaveEvent):
            self.sus.get(subject, set()).discard(observer)
            if event.node.state != NodeState.DEAD or subject in self.left:
                return
            holders = self.dead.setdefault(subject, set())
            if not holders and (True, *claim) not in self.counted:
                self.counted.add((True, *claim))
                c[f"dead_episodes_{tag}"] += 1
                if tag == "healthy":
                    self.dead_healthy_subjects.add(subject)
            holders.add(observer)
            c[f"dead_declarations_{tag}"] += 1
            if self.impaired(observer, t):
                c["dead_declarations_by_impaired_observers"] += 1
        elif isinstance(event, JoinEvent):
            self.dead.get(subject, set()).discard(observer)


def _schedule_impairments(sim: Simulator, c: Cell) -> dict[int, tuple[float, float]]:
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
    windows: dict[int, tuple[float, float]] = {}
    for v, t in zip(paused, starts, strict=False):
        sim.at(t, lambda v=v: sim.pause(v, c.pause_seconds))  # type: ignore[misc]
        windows[v] = (t, t + c.pause_seconds + IMPAIRED_GRACE)
    for v, t in zip(slowed, starts[len(paused) :], strict=True):
        sim.at(t, lambda v=v: sim.slow(v, c.slow_delay, c.slow_seconds))  # type: ignore[misc]
        windows[v] = (t, t + c.slow_seconds + c.slow_delay + IMPAIRED_GRACE)
    return windows


def _most_at_once(c: Cell, windows: dict[int, tuple[float, float]]) -> int:
    """The largest number of nodes paused or slow at the same moment."""
    length = c.pause_seconds if c.pause_count else c.slow_seconds
    edges = sorted((t, d) for a, _ in windows.values() for t, d in ((a, 1), (a + length, -1)))
    most = cur = 0
    for _, d in edges:
        cur += d
        most = max(most, cur)
    return most


def run_cell(c: Cell) -> dict[str, Any]:
    """Run one cell in this process and return its raw figures (JSON-ready)."""
    if c.crash_count and (c.pause_count or c.slow_count):
        raise ValueError("a cell crashes nodes or impairs them, not both")
    started = time.perf_counter()
    cpu_started = time.process_time()
    cfg = sim_config(c.preset, disable_tcp_pings=not c.tcp_pings)
    net = NetworkParams(loss=c.loss)
    opts = SimOptions(lifeguard=c.lifeguard, rebroadcast_user=c.broadcast_at >= 0)
    sim = Simulator(c.n, cfg, c.seed, net, opts)
    sim.bootstrap(True)
    boot_cpu = time.process_time() - cpu_started
    m = sim.metrics
    victims: list[int] = []
    if c.crash_count:
        victims = sorted(sim.rng.sample(range(c.n), min(c.crash_count, c.n - 1)))

        def crash_all() -> None:
            for v in victims:
                sim.crash(v)

        sim.at(c.crash_at, crash_all)
    windows = _schedule_impairments(sim, c)
    watch = _Watch(sim, windows)
    m.listeners.append(watch)
    if c.broadcast_at >= 0:
        sim.at(c.broadcast_at, lambda: sim.broadcast(0, PAYLOAD))
    if c.stop_when_done:
        want_pairs = len(victims) * (c.n - len(victims))
        want_delivered = c.n if c.broadcast_at >= 0 else 0

        def keep_going() -> bool:
            if len(m.delivered.get(PAYLOAD, ())) < want_delivered:
                return True
            return not victims or watch.detected_pairs < want_pairs

        sim.run_while(keep_going, c.seconds)
    else:
        sim.run_until(c.seconds)
    end = sim.now
    node_seconds = c.n * end - sum(end - t for t in m.crashed_at.values())
    out: dict[str, Any] = {
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
    if victims:
        out["detection"] = _detection(sim, victims)
    if c.broadcast_at >= 0:
        seen = m.delivered.get(PAYLOAD, {})
        lats = sorted(t - c.broadcast_at for i, t in seen.items() if i != 0)
        out["broadcast"] = {
            "reached": len(lats),
            "wanted": c.n - 1 - sum(1 for v in victims if v != 0),
            "median": percentile(lats, 50) if lats else None,
            "all_reached": lats[-1] if len(lats) >= c.n - 1 - len(victims) and lats else None,
            "deliveries_total": m.deliveries_total,
        }
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    out["timing"] = {
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "bootstrap_cpu_seconds": round(boot_cpu, 3),
        "events_per_wall_second": round(m.sim_events / wall) if wall > 0 else None,
        "events_per_cpu_second": round(m.sim_events / cpu) if cpu > 0 else None,
    }
    return out


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


def _run_group(cells: list[Cell]) -> dict[str, Any]:
    """Worker entry: run some cells; report their results and this process's peak RSS."""
    logging.getLogger("swimlib").setLevel(logging.ERROR)
    results = [run_cell(c) for c in cells]
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"results": results, "peak_rss_bytes": rss_kib * 1024}


def _run_memory(sizes: tuple[int, int]) -> dict[str, Any]:
    logging.getLogger("swimlib").setLevel(logging.ERROR)
    cpu = time.process_time()
    res = memory_per_entry(sizes, preset="lan")
    res["cpu_seconds"] = round(time.process_time() - cpu, 3)
    return res


# ---------------------------------------------------------------------------- the grid


@dataclass
class Plan:
    """The study grid: groups of cells (one worker process each) and the sizes used."""

    quick: bool
    fp_sizes: list[int]
    detect_sizes: list[int]
    spread_sizes: list[int]
    big: int
    memory_sizes: tuple[int, int]
    groups: list[list[Cell]] = field(default_factory=list)


def _fp_cells(
    n: int, seconds: float, episodes: int, rows: Iterable[str], lifeguard: bool, seed: int
) -> list[Cell]:
    """False-positive cells for one size, one Lifeguard mode."""
    out: list[Cell] = []
    for row in rows:
        base = Cell("fp", row, n, seconds, seed=seed, lifeguard=lifeguard)
        if row.startswith("loss"):
            cell = replace_cell(base, loss=int(row[4:]) / 100.0)
        elif row.startswith("pause"):
            length = float(row[5:])
            cell = replace_cell(
                base,
                pause_count=episodes,
                pause_seconds=length,
                impair_from=2.0,
                impair_until=max(2.0, seconds - length - 10.0),
            )
        elif row.startswith("slow"):
            burst = row.endswith("b")
            delay = float(row[4:].rstrip("b"))
            cell = replace_cell(
                base,
                slow_count=episodes,
                slow_delay=delay,
                slow_seconds=20.0,
                impair_from=2.0,
                impair_until=4.0 if burst else max(2.0, seconds - 20.0 - delay - 10.0),
            )
        else:
            raise ValueError(row)
        out.append(cell)
    return out


def replace_cell(c: Cell, **changes: Any) -> Cell:
    d = asdict(c)
    d.update(changes)
    return Cell(**d)


def plan(quick: bool = False, big: int = 3000) -> Plan:
    """The grid. Full: about 25-35 CPU-minutes on this project's 2-core machine."""
    if quick:
        # The same shape as the full grid at toy sizes: a smoke test of the driver, not data.
        p = Plan(True, [20, 50], [20, 50], [20, 30, 50], big=50, memory_sizes=(30, 60))
        g = p.groups
        for lg in (True, False):
            g.append(_fp_cells(20, 30.0, 2, list(CONDITIONS), lg, 1))
            g.append(_fp_cells(50, 40.0, 3, ["slow15b"], lg, 1))
            g.append(
                [
                    Cell("fp_udp", "loss10", 20, 30.0, lifeguard=lg, loss=0.1, tcp_pings=False),
                    Cell(
                        "detect",
                        "",
                        20,
                        30.0,
                        seed=1,
                        lifeguard=lg,
                        crash_count=2,
                        broadcast_at=1.0,
                        stop_when_done=True,
                    ),
                    Cell(
                        "detect",
                        "",
                        50,
                        30.0,
                        seed=1,
                        lifeguard=lg,
                        crash_count=2,
                        broadcast_at=1.0,
                        stop_when_done=True,
                    ),
                ]
            )
        g.append(
            [
                Cell("spread", "", 30, 10.0, seed=1, broadcast_at=1.0, stop_when_done=True),
                Cell("detect", "", 20, 90.0, preset="local", crash_count=1, stop_when_done=True),
                Cell("detect", "", 20, 90.0, preset="wan", crash_count=1, stop_when_done=True),
                Cell("speed", "", 50, 10.0),
            ]
        )
        return p

    p = Plan(
        False,
        fp_sizes=[100, 1000, big],
        detect_sizes=[100, 1000, big],
        spread_sizes=[50, 100, 300, 1000, big],
        big=big,
        memory_sizes=(200, 500),
    )
    g = p.groups
    spread_rows = [r for r in CONDITIONS if r != "slow15b"]
    for lg in (True, False):
        # N = 100: 600 virtual seconds per row (16.7 node-hours); 20 impairment episodes
        # spread over the run, so rarely two at once.
        g.append(_fp_cells(100, 600.0, 20, spread_rows, lg, 1))
        # ... and bursts: 4 nodes slow at once, 10 seeds x 60 s.
        g.append([c for s in range(1, 11) for c in _fp_cells(100, 60.0, 4, ["slow15b"], lg, s)])
        # N = 1,000: 30 s per loss row (8.3 node-hours), 45 s with 15 impairment episodes,
        # which overlap (a 45 s run cannot spread them out).
        for row in CONDITIONS:
            if row != "slow15":
                secs = 30.0 if row.startswith("loss") else 45.0
                g.append(_fp_cells(1000, secs, 15, [row], lg, 1))
        # Largest N: the slow burst only (the row that separates the modes at smaller N);
        # its no-loss row comes from the crash runs below.
        g.append(_fp_cells(big, 40.0, 6, ["slow15b"], lg, 1))
        # Without the TCP fallback probe, loss alone causes suspicions: N = 100, 300 s.
        g.append(
            [
                Cell("fp_udp", f"loss{x}", 100, 300.0, lifeguard=lg, loss=x / 100, tcp_pings=False)
                for x in (1, 5, 10)
            ]
        )
        g.append([Cell("fp_udp", "loss5", 1000, 20.0, lifeguard=lg, loss=0.05, tcp_pings=False)])
        # Crash detection (plus a broadcast at t = 1 s, done before the crash at t = 5 s).
        g.append(
            [
                Cell(
                    "detect",
                    "",
                    100,
                    60.0,
                    seed=s,
                    lifeguard=lg,
                    crash_count=2,
                    broadcast_at=1.0,
                    stop_when_done=True,
                )
                for s in range(1, 21)
            ]
        )
        for s in (1, 2):
            g.append(
                [
                    Cell(
                        "detect",
                        "",
                        1000,
                        60.0,
                        seed=s,
                        lifeguard=lg,
                        crash_count=15,
                        broadcast_at=1.0,
                        stop_when_done=True,
                    )
                ]
            )
        g.append(
            [
                Cell(
                    "detect",
                    "",
                    big,
                    60.0,
                    seed=1,
                    lifeguard=lg,
                    crash_count=30,
                    broadcast_at=1.0,
                    stop_when_done=True,
                )
            ]
        )
    # Other presets at N = 100, Lifeguard on (WAN's minimum suspicion timeout is 60 s here).
    for preset in ("local", "wan"):
        g.append(
            [
                Cell(
                    "detect",
                    "",
                    100,
                    150.0,
                    seed=s,
                    preset=preset,
                    crash_count=2,
                    broadcast_at=1.0,
                    stop_when_done=True,
                )
                for s in range(1, 11)
            ]
        )
    # Dissemination only, at sizes the crash runs do not cover, and more runs at 1,000.
    g.append(
        [
            Cell("spread", "", n, 20.0, seed=s, broadcast_at=1.0, stop_when_done=True)
            for n in (50, 300)
            for s in range(1, 11)
        ]
    )
    g.append(
        [
            Cell("spread", "", 1000, 20.0, seed=s, broadcast_at=1.0, stop_when_done=True)
            for s in range(11, 15)
        ]
    )
    # Speed: the headline 1,000 nodes x 60 virtual seconds, no faults.
    g.append([Cell("speed", "", 1000, 60.0)])
    return p


# ---------------------------------------------------------------------------- running


def _cost(cells: Sequence[Cell]) -> tuple[int, float]:
    """Sort key to start the biggest clusters, then the longest groups, first."""
    return (max(c.n for c in cells), sum(c.n * c.seconds for c in cells))


def run_plan(p: Plan, jobs: int, log: Any = None) -> dict[str, Any]:
    """Run every group (``jobs`` spawned workers; 0 runs in this process) and the memory fit.

    The speed cells run last and alone, so that no other study worker shares the CPU with them.
    """
    solo = [grp for grp in p.groups if any(c.section == "speed" for c in grp)]
    groups = sorted((grp for grp in p.groups if grp not in solo), key=_cost, reverse=True)
    groups += solo
    results: list[dict[str, Any]] = []
    rss: list[dict[str, Any]] = []
    started = time.perf_counter()
    memory: dict[str, Any]

    def note(done: int, res: dict[str, Any]) -> None:
        rs = res["results"]
        c = rs[0]["cell"]
        cpu = sum(r["timing"]["cpu_seconds"] for r in rs)
        rss.append({"n": max(r["cell"]["n"] for r in rs), "peak_rss_bytes": res["peak_rss_bytes"]})
        results.extend(rs)
        if log is not None:
            print(
                f"[{time.perf_counter() - started:7.1f}s] {done}/{len(groups)} "
                f"{c['section']} {c['row'] or '-'} n={c['n']} lifeguard={c['lifeguard']} "
                f"cells={len(rs)} cpu={cpu:.1f}s",
                file=log,
                flush=True,
            )

    if jobs <= 0:
        memory = _run_memory(p.memory_sizes)
        for i, grp in enumerate(groups, start=1):
            note(i, _run_group(grp))
    else:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(jobs, maxtasksperchild=1) as pool:
            mem_async = pool.apply_async(_run_memory, (p.memory_sizes,))
            shared = groups[: len(groups) - len(solo)]
            for i, res in enumerate(pool.imap_unordered(_run_group, shared), start=1):
                note(i, res)
            memory = mem_async.get()
        with ctx.Pool(1, maxtasksperchild=1) as pool:
            for i, res in enumerate(pool.imap(_run_group, solo), start=len(shared) + 1):
                note(i, res)
    order = {k: i for i, k in enumerate(CONDITIONS)}
    results.sort(
        key=lambda r: (
            r["cell"]["section"],
            order.get(r["cell"]["row"], 99),
            r["cell"]["preset"],
            r["cell"]["n"],
            not r["cell"]["lifeguard"],
            r["cell"]["seed"],
        )
    )
    return {
        "wall_seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(sum(r["timing"]["cpu_seconds"] for r in results), 1),
        "results": results,
        "memory": memory,
        "peak_rss": sorted(rss, key=lambda r: r["n"]),
    }


# ---------------------------------------------------------------------------- summaries


def _theory(preset: str, n: int) -> dict[str, float]:
    """Expected detection times for a crash (see the "Theory" paragraph of the document)."""
    cfg = sim_config(preset)
    period = cfg.protocol_interval
    lo = suspicion_timeout(cfg.suspicion_mult, n, period)
    return {
        "period": period,
        "timeout_min": lo,
        "timeout_max": lo * cfg.suspicion_max_timeout_mult,
        "swim_mean": E_FACTOR * period + lo,
        "swim_mean_plus_probe": E_FACTOR * period + period + lo,
        "model_mean": 2.0 * period + lo,
        "model_median": period * math.log(2.0) + period + lo,
        "model_p99": period * math.log(100.0) + period + lo,
        "first_suspicion_median": period * math.log(2.0) + period,
        "first_suspicion_p99": period * math.log(100.0) + period,
    }


def _spread_theory(preset: str, n: int) -> dict[str, float]:
    """Asynchronous push gossip: every informed node pushes to f members per interval G.

    The informed set grows like a logistic curve at rate f/G, so half the nodes are reached
    after about ln(N)/f intervals, and the last one about ln(N)/f intervals later (each
    uninformed node is hit at rate f/G once nearly everybody gossips). The synchronous-round
    figure log_(f+1) N is what the same fanout gives when rounds are aligned.
    """
    cfg = sim_config(preset)
    f = cfg.gossip_nodes
    ln_n = math.log(n)
    return {
        "gossip_interval": cfg.gossip_interval,
        "fanout": f,
        "retransmit_limit": retransmit_limit(cfg.retransmit_mult, n),
        "rounds_median": ln_n / f,
        "rounds_all": 2.0 * ln_n / f,
        "rounds_synchronous": ln_n / math.log(f + 1),
        "log2_n": math.log2(n),
    }


def _stats(values: Sequence[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0}
    s = sorted(values)
    return {
        "count": len(s),
        "min": s[0],
        "median": percentile(s, 50),
        "p99": percentile(s, 99),
        "max": s[-1],
        "mean": statistics.fmean(s),
    }


def summarize_study(raw: dict[str, Any], big: int) -> dict[str, Any]:
    """Tables (as plain data) from the raw results."""
    results: list[dict[str, Any]] = raw["results"]
    fp: dict[str, dict[str, Any]] = {}
    for r in results:
        c = r["cell"]
        if c["section"] not in ("fp", "fp_udp") and not (
            c["section"] == "detect" and c["n"] == big and c["preset"] == "lan"
        ):
            continue
        section = "fp_udp" if c["section"] == "fp_udp" else "fp"
        row = c["row"] or "loss0"
        key = f"{section}|{row}|{c['n']}|{int(c['lifeguard'])}"
        agg = fp.setdefault(
            key,
            {
                "section": section,
                "row": row,
                "n": c["n"],
                "lifeguard": c["lifeguard"],
                "node_hours": 0.0,
                "runs": 0,
                "impairment_episodes": 0,
                "impaired_at_once": 0,
                "from_crash_runs": c["section"] == "detect",
                "cpu_seconds": 0.0,
                **{k: 0 for k in r["fp"]},
            },
        )
        agg["node_hours"] += r["node_hours"]
        agg["runs"] += 1
        agg["impairment_episodes"] += r["impairment_episodes"]
        agg["impaired_at_once"] = max(agg["impaired_at_once"], r.get("impaired_at_once", 0))
        agg["cpu_seconds"] += r["timing"]["cpu_seconds"]
        for k, v in r["fp"].items():
            agg[k] += v
    detect: dict[str, dict[str, Any]] = {}
    spread: dict[str, dict[str, Any]] = {}
    for r in results:
        c = r["cell"]
        if "detection" in r:
            key = f"{c['preset']}|{c['n']}|{int(c['lifeguard'])}"
            d = detect.setdefault(
                key,
                {
                    "preset": c["preset"],
                    "n": c["n"],
                    "lifeguard": c["lifeguard"],
                    "runs": 0,
                    "first_suspicion": [],
                    "first": [],
                    "last": [],
                    "spread_after_first": [],
                    "missing_pairs": 0,
                    "theory": _theory(c["preset"], c["n"]),
                },
            )
            d["runs"] += 1
            for v in r["detection"]["victims"]:
                if v["first_suspicion"] is not None:
                    d["first_suspicion"].append(v["first_suspicion"])
                if v["first"] is not None:
                    d["first"].append(v["first"])
                if v["last"] is not None:
                    d["last"].append(v["last"])
                    d["spread_after_first"].append(v["last"] - v["first"])
                d["missing_pairs"] += v["missing"]
        if "broadcast" in r:
            b = r["broadcast"]
            key = f"{c['preset']}|{c['n']}"
            s = spread.setdefault(
                key,
                {
                    "preset": c["preset"],
                    "n": c["n"],
                    "runs": 0,
                    "median": [],
                    "all_reached": [],
                    "incomplete_runs": 0,
                    "theory": _spread_theory(c["preset"], c["n"]),
                },
            )
            s["runs"] += 1
            if b["median"] is not None:
                s["median"].append(b["median"])
            if b["all_reached"] is not None:
                s["all_reached"].append(b["all_reached"])
            else:
                s["incomplete_runs"] += 1
    for d in detect.values():
        for k in ("first_suspicion", "first", "last", "spread_after_first"):
            d[k + "_stats"] = _stats(d[k])
    for s in spread.values():
        s["median_stats"] = _stats(s["median"])
        s["all_reached_stats"] = _stats(s["all_reached"])
    speed = [r for r in results if r["cell"]["section"] == "speed"]
    mem = raw["memory"]
    big_rss = [x for x in raw["peak_rss"] if x["n"] == big]
    rss_per_entry = max(x["peak_rss_bytes"] for x in big_rss) / (big * big) if big_rss else None
    return {
        "fp": sorted(fp.values(), key=_fp_order),
        "detect": sorted(
            detect.values(),
            key=lambda d: (d["preset"] != "lan", d["preset"], d["n"], not d["lifeguard"]),
        ),
        "spread": sorted(
            spread.values(), key=lambda s: (s["preset"] != "lan", s["preset"], s["n"])
        ),
        "speed": speed[0] if speed else None,
        "memory": mem,
        "rss_per_entry_at_big": rss_per_entry,
        "largest_n_rss": (
            largest_n(0.0, rss_per_entry, mem["budget_gib"] * GIB) if rss_per_entry else None
        ),
        "reduction": _reduction(list(fp.values())),
    }


def _fp_order(a: dict[str, Any]) -> tuple[Any, ...]:
    order = list(CONDITIONS)
    return (a["section"], order.index(a["row"]), a["n"], not a["lifeguard"])


def _reduction(aggs: list[dict[str, Any]]) -> dict[str, Any]:
    """Lifeguard's false-positive reduction over every fp row where both modes ran."""
    on = {(a["section"], a["row"], a["n"]): a for a in aggs if a["lifeguard"]}
    out: dict[str, Any] = {}
    for metric in (
        "dead_episodes_healthy",
        "suspect_episodes_healthy",
        "dead_declarations_healthy",
    ):
        tot_on = tot_off = 0
        per_row: dict[str, Any] = {}
        for a in aggs:
            if a["lifeguard"] or a["section"] != "fp":
                continue
            b = on.get((a["section"], a["row"], a["n"]))
            if b is None:
                continue
            tot_on += b[metric]
            tot_off += a[metric]
            if b[metric] or a[metric]:
                per_row[f"{a['row']}|{a['n']}"] = [b[metric], a[metric]]
        out[metric] = {
            "lifeguard": tot_on,
            "no_lifeguard": tot_off,
            "factor": (tot_off / tot_on) if tot_on else None,
            "rows": per_row,
        }
    return out


# ---------------------------------------------------------------------------- formatting


def _num(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.2g}"


def _rate(count: int, node_hours: float) -> str:
    if count == 0:
        return f"0 in {node_hours:,.1f} node-h"
    return f"{_num(count / node_hours)} ({count:,})"


def _sec(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _fp_table(aggs: list[dict[str, Any]], section: str) -> str:
    rows = [a for a in aggs if a["section"] == section]
    pairs: dict[tuple[str, int], dict[bool, dict[str, Any]]] = {}
    for a in rows:
        pairs.setdefault((a["row"], a["n"]), {})[a["lifeguard"]] = a
    head = (
        "| condition | N | node-hours (each mode) | impairment episodes (most at once) | "
        "healthy nodes declared dead, LG | … no LG | false suspicions, LG | … no LG | "
        "impaired nodes declared dead, LG | … no LG |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for (row, n), modes in pairs.items():
        on, off = modes.get(True), modes.get(False)
        ref = on or off
        assert ref is not None
        nh = ref["node_hours"]

        def cell(a: dict[str, Any] | None, k: str) -> str:
            return "not run" if a is None else _rate(a[k], a["node_hours"])

        name = CONDITIONS[row] + (" ¹" if ref["from_crash_runs"] else "")
        episodes = str(ref["impairment_episodes"])
        if ref["impairment_episodes"]:
            episodes += f" ({ref['impaired_at_once']})"
        lines.append(
            f"| {name} | {n:,} | {nh:,.1f} | {episodes} | "
            f"{cell(on, 'dead_episodes_healthy')} | {cell(off, 'dead_episodes_healthy')} | "
            f"{cell(on, 'suspect_episodes_healthy')} | {cell(off, 'suspect_episodes_healthy')} | "
            f"{cell(on, 'dead_episodes_impaired')} | {cell(off, 'dead_episodes_impaired')} |"
        )
    return "\n".join(lines)


def _detect_table(dets: list[dict[str, Any]], preset: str | None) -> str:
    head = (
        "| preset | N | Lifeguard | crashes | first suspicion median | first detection "
        "median / p99 / mean | model median / p99 / mean | SWIM e/(e-1)·T + min | "
        "min / max timeout | last detection median / p99 | last - first median | "
        "missed pairs |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for d in dets:
        if preset is not None and d["preset"] != preset:
            continue
        if preset is None and d["preset"] == "lan":
            continue
        th = d["theory"]
        f, la, sp, fs = (
            d["first_stats"],
            d["last_stats"],
            d["spread_after_first_stats"],
            d["first_suspicion_stats"],
        )
        lines.append(
            f"| {d['preset'].upper()} | {d['n']:,} | {'on' if d['lifeguard'] else 'off'} | "
            f"{f.get('count', 0)} | {_sec(fs.get('median'))} | "
            f"{_sec(f.get('median'))} / {_sec(f.get('p99'))} / {_sec(f.get('mean'))} | "
            f"{th['model_median']:.2f} / {th['model_p99']:.2f} / {th['model_mean']:.2f} | "
            f"{th['swim_mean']:.2f} | {th['timeout_min']:.2f} / {th['timeout_max']:.1f} | "
            f"{_sec(la.get('median'))} / {_sec(la.get('p99'))} | {_sec(sp.get('median'))} | "
            f"{d['missing_pairs']} |"
        )
    return "\n".join(lines)


def _spread_table(spreads: list[dict[str, Any]]) -> str:
    head = (
        "| preset | N | runs | median delivery (s) | all reached: median / max (s) | "
        "median / all reached in rounds | theory rounds: ln N / f, 2 ln N / f | "
        "synchronous rounds log_(f+1) N | log₂N |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for s in spreads:
        th = s["theory"]
        g = th["gossip_interval"]
        ms, al = s["median_stats"], s["all_reached_stats"]
        r_med = f"{ms['median'] / g:.1f}" if ms.get("count") else "-"
        r_all = f"{al['median'] / g:.1f}" if al.get("count") else "-"
        lines.append(
            f"| {s['preset'].upper()} | {s['n']:,} | {s['runs']} | {_sec(ms.get('median'))} | "
            f"{_sec(al.get('median'))} / {_sec(al.get('max'))} | {r_med} / {r_all} | "
            f"{th['rounds_median']:.1f}, {th['rounds_all']:.1f} (f = {th['fanout']}) | "
            f"{th['rounds_synchronous']:.1f} | {th['log2_n']:.1f} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------- plots


def _matplotlib() -> Any:
    """Import matplotlib (Agg backend), pip-installing it first if it is missing."""
    try:
        mpl = importlib.import_module("matplotlib")
    except ImportError:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "matplotlib"], check=True
        )
        mpl = importlib.import_module("matplotlib")
    mpl.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def plot(summary: dict[str, Any], img: Path) -> list[str]:
    """Write the PNG figures; returns their file names."""
    plt = _matplotlib()
    img.mkdir(parents=True, exist_ok=True)
    names = [
        _plot_fp(plt, summary, img / "fp.png"),
        _plot_detection(plt, summary, img / "detection.png"),
        _plot_spread(plt, summary, img / "dissemination.png"),
    ]
    return names


def _plot_fp(plt: Any, summary: dict[str, Any], path: Path) -> str:
    aggs = [a for a in summary["fp"] if a["section"] == "fp"]
    rows = [r for r in CONDITIONS if any(a["row"] == r for a in aggs)]
    sizes = sorted({a["n"] for a in aggs})
    metrics = [
        ("dead_episodes_healthy", "healthy nodes declared dead\nper node-hour"),
        ("suspect_episodes_healthy", "healthy nodes suspected\nper node-hour"),
    ]
    fig, axes = plt.subplots(2, 1, figsize=(11, 8), sharex=True)
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
    floor = 1e-3
    width = 0.8 / (2 * len(sizes))
    for ax, (metric, label) in zip(axes, metrics, strict=True):
        for si, n in enumerate(sizes):
            for li, lg in enumerate((True, False)):
                xs: list[float] = []
                ys: list[float] = []
                zx: list[float] = []
                for ri, row in enumerate(rows):
                    a = next(
                        (
                            b
                            for b in aggs
                            if b["row"] == row and b["n"] == n and b["lifeguard"] == lg
                        ),
                        None,
                    )
                    if a is None:
                        continue
                    x = ri - 0.4 + width * (2 * si + li + 0.5)
                    v = a[metric] / a["node_hours"]
                    if v > 0:
                        xs.append(x)
                        ys.append(v)
                    else:
                        zx.append(x)
                kw: dict[str, Any] = {
                    "color": colors[si % len(colors)],
                    "width": width,
                    "edgecolor": colors[si % len(colors)],
                }
                if not lg:
                    kw.update(color="white", hatch="///")
                ax.bar(xs, ys, label=f"N={n:,}, Lifeguard {'on' if lg else 'off'}", **kw)
                ax.scatter(
                    zx, [floor * 1.5] * len(zx), marker="_", s=60, color=colors[si % len(colors)]
                )
        ax.set_yscale("log")
        ax.set_ylim(floor, None)
        ax.set_ylabel(label)
        ax.grid(axis="y", which="major", alpha=0.3)
    axes[0].set_title("False positives, LAN preset (dash at the bottom: none observed)")
    axes[0].legend(fontsize=8, ncol=len(sizes), loc="upper left")
    axes[-1].set_xticks(range(len(rows)))
    axes[-1].set_xticklabels([CONDITIONS[r] for r in rows], rotation=15)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _plot_detection(plt: Any, summary: dict[str, Any], path: Path) -> str:
    dets = [d for d in summary["detect"] if d["preset"] == "lan"]
    sizes = sorted({d["n"] for d in dets})
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 4.2), squeeze=False)
    for ax, n in zip(axes[0], sizes, strict=True):
        th: dict[str, float] = {}
        for d in dets:
            if d["n"] != n:
                continue
            th = d["theory"]
            style = "-" if d["lifeguard"] else "--"
            tag = "LG on" if d["lifeguard"] else "LG off"
            for key, color, what in (("first", "tab:blue", "first"), ("last", "tab:red", "last")):
                xs = sorted(d[key])
                if not xs:
                    continue
                ys = [(i + 1) / len(xs) for i in range(len(xs))]
                ax.step(
                    xs,
                    ys,
                    where="post",
                    linestyle=style,
                    color=color,
                    label=f"{what} detection, {tag} ({len(xs)})",
                )
        if th:
            period, lo = th["period"], th["timeout_min"]
            start = period + lo
            grid = [start + i * 0.05 for i in range(int(8 * period / 0.05))]
            ax.plot(
                grid,
                [1 - math.exp(-(t - start) / period) for t in grid],
                ":",
                color="black",
                label="model: T + min + Exp(T)",
            )
            ax.axvline(th["swim_mean"], color="grey", linewidth=1)
            ax.text(
                th["swim_mean"],
                0.03,
                " SWIM e/(e-1)·T + min",
                color="grey",
                fontsize=8,
                rotation=90,
                va="bottom",
            )
        ax.set_title(f"N = {n:,} (LAN)")
        ax.set_xlabel("seconds after the crash")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("fraction of crashes")
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Crash detection latency: empirical CDF vs theory")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _plot_spread(plt: Any, summary: dict[str, Any], path: Path) -> str:
    sp = [s for s in summary["spread"] if s["preset"] == "lan" and s["all_reached"]]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ns = [s["n"] for s in sp]
    g = sp[0]["theory"]["gossip_interval"] if sp else 0.2
    med = [s["median_stats"]["median"] / g for s in sp]
    alls = [s["all_reached_stats"]["median"] / g for s in sp]
    lo = [a - s["all_reached_stats"]["min"] / g for a, s in zip(alls, sp, strict=True)]
    hi = [s["all_reached_stats"]["max"] / g - a for a, s in zip(alls, sp, strict=True)]
    ax.errorbar(
        ns,
        alls,
        yerr=[lo, hi],
        fmt="o-",
        color="tab:red",
        capsize=3,
        label="measured: all reached (median, min-max over runs)",
    )
    ax.plot(ns, med, "s-", color="tab:blue", label="measured: median node reached")
    if ns:
        grid = [ns[0] * (ns[-1] / ns[0]) ** (i / 50) for i in range(51)]
        ax.plot(
            grid,
            [2 * math.log(n) / 3 for n in grid],
            ":",
            color="tab:red",
            label="theory, all: 2 ln N / 3 rounds",
        )
        ax.plot(
            grid,
            [math.log(n) / 3 for n in grid],
            ":",
            color="tab:blue",
            label="theory, median: ln N / 3 rounds",
        )
        ax.plot(
            grid,
            [math.log(n) / math.log(4) for n in grid],
            "--",
            color="grey",
            linewidth=1,
            label="synchronous rounds: log₄ N",
        )
    ax.set_xscale("log")
    ax.set_xlabel("cluster size N (log scale)")
    ax.set_ylabel(f"gossip rounds ({g * 1000:.0f} ms each)")
    ax.set_title("Dissemination of one broadcast (LAN: fanout 3, Serf-style relay)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


# ---------------------------------------------------------------------------- the document


def _det(summary: dict[str, Any], preset: str, n: int, key: str) -> str:
    """Median first or last detection (Lifeguard on) as text, "n/a" if not run."""
    for d in summary["detect"]:
        if d["preset"] == preset and d["n"] == n and d["lifeguard"]:
            st = d[key + "_stats"]
            if st.get("count"):
                return f"{st['median']:.1f} s"
    return "n/a"


def render(summary: dict[str, Any], raw: dict[str, Any], p: Plan, command: str) -> str:
    """The whole markdown document: prose from the template below, tables from the data."""
    red = summary["reduction"]
    dead, sus = red["dead_episodes_healthy"], red["suspect_episodes_healthy"]

    def factor(x: dict[str, Any]) -> str:
        if x["factor"] is not None:
            return f"{x['factor']:.1f}x ({x['no_lifeguard']:,} without, {x['lifeguard']:,} with)"
        if x["no_lifeguard"]:
            return f"∞ ({x['no_lifeguard']:,} without, none with)"
        return "none observed in either mode"

    d1000 = next(
        (
            d
            for d in summary["detect"]
            if d["preset"] == "lan" and d["n"] == 1000 and d["lifeguard"]
        ),
        None,
    )
    det_line = "not run"
    if d1000 and d1000["first_stats"]["count"]:
        f, la = d1000["first_stats"], d1000["last_stats"]
        th = d1000["theory"]
        det_line = (
            f"first detection median {f['median']:.2f} s, p99 {f['p99']:.2f} s "
            f"({f['count']} crashes; model {th['model_median']:.2f} / {th['model_p99']:.2f} s); "
            f"every survivor knows after median {_sec(la.get('median'))} s, "
            f"p99 {_sec(la.get('p99'))} s"
        )
    speed = summary["speed"]
    speed_line = "not run"
    if speed:
        t = speed["timing"]
        speed_line = (
            f"{t['events_per_wall_second']:,} events per wall second "
            f"({t['events_per_cpu_second']:,} per CPU second); {speed['cell']['n']:,} nodes x "
            f"{speed['virtual_seconds']:.0f} virtual s took {t['wall_seconds']:.1f} s wall "
            f"({t['cpu_seconds']:.1f} s CPU, of which {t['bootstrap_cpu_seconds']:.1f} s "
            f"bootstrap), {speed['sim_events']:,} events"
        )
    mem = summary["memory"]
    rss_e = summary["rss_per_entry_at_big"]
    mem_line = (
        f"{mem['fit_bytes_per_entry']:.0f} B per member entry "
        f"(+{mem['fit_bytes_per_node'] / 1024:.1f} KiB per node), tracemalloc fit over "
        f"N = {' and '.join(mem['traced_bytes'])}; "
        f"largest N in {mem['budget_gib']:.0f} GiB: **{mem['largest_n_in_budget']:,}**"
    )
    if rss_e:
        mem_line += (
            f". Cross-check: the N = {p.big:,} worker peaked at "
            f"{rss_e * p.big * p.big / 2**20:,.0f} MiB RSS, {rss_e:.0f} B per entry all "
            f"included, which would put the limit at {summary['largest_n_rss']:,}"
        )
    tables = {
        "fp_table": _fp_table(summary["fp"], "fp"),
        "fp_udp_table": _fp_table(summary["fp"], "fp_udp"),
        "detect_table": _detect_table(summary["detect"], "lan"),
        "preset_table": _detect_table(summary["detect"], None),
        "spread_table": _spread_table(summary["spread"]),
    }
    node_hours = sum(r["node_hours"] for r in raw["results"])
    fp_rows = [x for x in summary["fp"] if x["section"] == "fp"]

    def per_death(lg: bool) -> str:
        eps = sum(x["dead_episodes_healthy"] for x in fp_rows if x["lifeguard"] == lg)
        decl = sum(x["dead_declarations_healthy"] for x in fp_rows if x["lifeguard"] == lg)
        return f"{decl / eps:.2f}" if eps else "n/a"

    pairs: dict[tuple[str, int], dict[bool, dict[str, Any]]] = {}
    for x in fp_rows:
        pairs.setdefault((x["row"], x["n"]), {})[x["lifeguard"]] = x
    keys = ("dead_episodes_healthy", "suspect_episodes_healthy")
    same = all(
        len(m) == 2 and all(m[True][k] == m[False][k] for k in keys)
        for (row, _), m in pairs.items()
        if not row.startswith("slow")
    )
    same_line = (
        "Loss and pauses gave the two modes the same healthy-node counts."
        if same
        else "Loss and pauses did not give the two modes the same counts: see the table."
    )
    slow2 = [x for x in fp_rows if x["row"] == "slow2"]
    s2_dead = {
        lg: sum(x["dead_episodes_healthy"] for x in slow2 if x["lifeguard"] == lg)
        for lg in (True, False)
    }
    s2_sus = {
        lg: sum(x["suspect_episodes_healthy"] for x in slow2 if x["lifeguard"] == lg)
        for lg in (True, False)
    }
    slow2_line = (
        f"2 s delays caused {s2_sus[False]:,} false suspicions without Lifeguard and "
        f"{s2_sus[True]:,} with it; {s2_dead[False]} of them (without) and {s2_dead[True]} "
        "(with) became deaths."
    )
    ratios = [
        s["all_reached_stats"]["median"]
        / (s["theory"]["rounds_all"] * s["theory"]["gossip_interval"])
        for s in summary["spread"]
        if s["preset"] == "lan" and s["all_reached_stats"].get("count")
    ]
    return TEMPLATE.format(
        command=command,
        wall_minutes=raw["wall_seconds"] / 60.0,
        cpu_minutes=raw["cpu_seconds"] / 60.0,
        cells=len(raw["results"]),
        node_hours=node_hours,
        big=p.big,
        quick_note=(
            "\n> **This is a `--quick` run** (tiny clusters, for testing the driver); the numbers "
            "below mean little.\n"
            if p.quick
            else ""
        ),
        dead_factor=factor(dead),
        sus_factor=factor(sus),
        det_line=det_line,
        speed_line=speed_line,
        mem_line=mem_line,
        largest=mem["largest_n_in_budget"],
        grace=IMPAIRED_GRACE,
        same_line=same_line,
        slow2_line=slow2_line,
        per_death_on=per_death(True),
        per_death_off=per_death(False),
        spread_lo=min(ratios, default=math.nan),
        spread_hi=max(ratios, default=math.nan),
        lan_last_100=_det(summary, "lan", 100, "last"),
        lan_last_1000=_det(summary, "lan", 1000, "last"),
        lan_first_100=_det(summary, "lan", 100, "first"),
        local_first_100=_det(summary, "local", 100, "first"),
        wan_first_100=_det(summary, "wan", 100, "first"),
        wan_last_100=_det(summary, "wan", 100, "last"),
        **tables,
    )


TEMPLATE = """\
# Failure detection: false positives, detection latency, dissemination

*Generated by `{command}` ({cells} simulator runs, {node_hours:,.0f} simulated node-hours,
{wall_minutes:.1f} min wall on 2 workers, {cpu_minutes:.1f} CPU-min; the wall time depends on
what else the machine is doing, the CPU time much less). Do not edit by hand:
change the template in `swimlib/sim/study.py` and rerun. Raw results, with every run's
parameters, trace digest, counts and timings: [img/study.json](img/study.json).*
{quick_note}
Every number here comes from the deterministic simulator (`swimlib.sim`), which drives the
real protocol core (`swimlib.core`, the code the threaded runtime ships) over a virtual
clock and a virtual network: 0.5 ms ± 0.2 ms one-way latency, independent per-datagram loss,
TCP exchanges that get through random loss (TCP retransmits) but not a paused or crashed
peer. Each run is a pure function of its parameters and seed. "LG" is Lifeguard
(memberlist's behaviour); "no LG" is `Config(lifeguard=False)`: plain SWIM with suspicion,
no local-health scaling of the probe interval, no nacks, no buddy probes, and a fixed
suspicion timeout equal to Lifeguard's minimum. Clusters start fully joined (every node
knows every other, alive), so no run includes a join storm.

## Headline figures

* **Lifeguard's false-positive reduction**: healthy nodes declared dead, {dead_factor};
  healthy nodes suspected, {sus_factor}. Totals over every false-positive row where both
  modes ran; the difference comes from *slow* nodes (below). {same_line}
* **Detection at 1,000 nodes (LAN, Lifeguard)**: {det_line}.
* **Simulator speed**: {speed_line}. Measured alone, after the rest of the study.
* **Memory**: {mem_line}. The big-N cells ran at N = {big:,}, not {largest:,}: one
  {big:,}-node run already takes minutes (building and bootstrapping the tables is O(N²),
  and every node's first push/pull, staggered over the first 30 s, moves N entries), so the
  largest N that *fits in memory* is not the largest N that fits this study's 40-minute
  budget.

## False positives

A *false positive* is counted as an **episode**: a node that has not crashed goes from
"nobody holds it dead" to "some member holds it dead" (or suspect, in the suspicion
columns) at an incarnation not counted before. One wrong death heard by 1,000 members counts
once. *Healthy* nodes are those not paused or slow at the time (nor within {grace:.0f} s after
the impairment and its backlog ended). A death of an impaired node, or a late echo of it (a
paused member replaying its backlog on resume sees the old death, then at once the
refutation), is counted in the *impaired* columns: a node that answers nothing for longer
than the suspicion timeout is *meant* to be declared dead. Rates are per node-hour of
simulated cluster time; a cell reads `rate (count)`, or `0 in X node-h` when nothing
happened. LAN preset, TCP fallback probes on (the default).

Faults. *Pauses* freeze a node for 5 s (shorter than every minimum suspicion timeout here:
8 s at N = 100, 12 s at 1,000, 13.9 s at 3,000) or 20 s (longer); its input queues up and
is handled on resume, timers first. *Slow* nodes handle every input 2 s or 15 s late for
20 s while their timers fire on time: Lifeguard's "slow message processing" anomaly (a
CPU-starved receive loop). 15 s is longer than the minimum timeout at every N here but
shorter than Lifeguard's maximum (6 x the minimum). At N = 100 the 20 episodes per run are
spread over 600 s, so they rarely overlap; the *burst* row makes 4 nodes slow at once
(10 seeds x 60 s). At N = 1,000 and {big:,} the runs are 45 s and 40 s long, so their 15
and 6 episodes overlap: the number in parentheses is the most nodes impaired at one
moment.

{fp_table}

¹ At N = {big:,} the no-loss row is counted in the crash-detection runs below (crashed
nodes excluded); only the slow burst was run separately there, for cost.

![False positives](img/fp.png)

**What it shows.**

* *Loss alone causes nothing.* With the TCP fallback probe, a probe fails only if the
  direct ping, all three indirect probes and a TCP ping fail; TCP rides through random
  loss, so up to 10% loss produced no suspicion at all, with or without Lifeguard.
* *Pauses do not separate the modes.* A paused node is suspected by its probers; with
  Lifeguard their confirmations bring the timeout down to the same minimum plain SWIM uses.
  A pause shorter than the minimum is refuted in time in both modes; a longer one gets the
  paused node (and only it) declared dead in both: same counts in the *impaired* columns.
  This is why the simulator also has slow nodes.
* *Slow nodes are where Lifeguard matters.* A slow node's probes all "fail" (the acks come
  back late), so it accuses healthy peers. Plain SWIM lets it do so every protocol period,
  and its fixed timeout expires before the refutation reaches it: with 15 s delays it
  declares healthy peers dead. Lifeguard raises the slow node's local-health score (missed
  nacks), which stretches its probe interval up to 8x, and starts a suspicion nobody
  confirms at the maximum timeout (6x the minimum), so the refutation arrives first.
  {slow2_line}
* *Lifeguard's limit: several slow nodes at once.* Lifeguard shortens a suspicion with each
  independent confirmation, and slow nodes confirm each other: once three or more are slow
  together (SuspicionMult - 1 = 3 on LAN: the accuser plus k = 2 confirmers), a slow node
  can see its suspicion of a healthy peer confirmed, its timeout falls to the minimum, and
  it declares the peer dead. Every healthy-node death *with* Lifeguard in the table is in
  a burst row (4, 15 and 6 nodes slow at once); where the slow episodes were spread out
  (N = 100: 20 episodes of 20 s over 600 s, at most 3 at once) there were none.
* In both modes such a false death stays local: {per_death_on} (LG) and {per_death_off}
  (no LG) members per false death on average, almost always the slow accuser alone: the rest
  of the cluster has already seen the refutation's higher incarnation. The cost is at that
  member: its application sees a peer leave and come back.

### Loss without the TCP fallback

With `disable_tcp_pings=True` (or peers too old for TCP pings), a probe fails when the
direct round trip and every indirect one lose a datagram: 1 - 0.9² = 19% of direct probes
at 10% loss, times (1 - 0.9⁴)³ = 4% for all three indirect paths, so about 0.8% of probes.
Lifeguard does not change that (the probers are healthy), and the suspicions are refuted in
time: none became a death here.

{fp_udp_table}

## Detection latency

Crash runs: 2 nodes of 100, 15 of 1,000 and 30 of {big:,} crash together at t = 5 s (20, 2
and 1 seeds per mode); each run stops once every survivor has declared every crashed node
dead. *First detection* is the earliest dead declaration of a crashed node by any member,
*last detection* the moment the last survivor declares it. p99 is the nearest-rank
percentile, so with fewer than 100 crashes it is the largest value.

**Theory.** Every member probes one member per protocol period T (1 s on LAN), in a
shuffled round-robin, so some member probes a crashed node about once per period: in one
period nobody picks it with probability (1 - 1/(N-1))^(N-1) ≈ 1/e, which gives SWIM's
expectation of e/(e-1) ≈ 1.58 periods until a failed probe. memberlist's probers are not
synchronised, so the wait until the first probe *starts* is close to exponential with mean
T; that probe fails T later (the ack handler's deadline at health score 0, after the
indirect and TCP attempts), and the prober suspects the node. Other probers' failures
arrive as independent confirmations; with k = SuspicionMult - 2 = 2 of them (about 2T
later, long before the timeout runs out) Lifeguard's timeout falls to its **minimum**,
SuspicionMult · log10(N) · T, counted from the start of the suspicion. Without Lifeguard
the timeout is that same minimum, fixed. The model is therefore *first detection = Exp(T)
+ T + min*: median T·ln 2 + T + min, p99 T·ln 100 + T + min, mean 2T + min. SWIM's own
figure, e/(e-1)·T + min, counts whole synchronous rounds with the probe inside the round;
it lands between the model's median and mean. The **maximum** timeout (6 x min) applies
only to a suspicion nobody confirms, which does not happen to a crashed node in a cluster
of more than 3 members. Last detection is first detection plus the time the dead message
(or the other members' own timers) takes to reach everybody: the dissemination time below.

{detect_table}

![Detection latency](img/detection.png)

The measured CDFs follow the model: a hard floor at T + min (nobody can be declared dead
sooner) and an exponential tail of mean T from the wait for a first probe. Lifeguard makes
no difference for crashes, as intended: its timeout reaches the same minimum once two
confirmations arrive, and a crashed node is confirmed within a few periods. With the same
seeds the first detections are identical in both modes (the first suspicion happens at the
same moment, and its timer ends at start + min either way); only the last detections
differ slightly. Detection grows
with log10 N (the minimum timeout); the extra time until the last member knows grows with
log N (gossip) and stays under a second on LAN.

### Other presets (N = 100, Lifeguard on, 10 seeds x 2 crashes)

{preset_table}

WAN's 5 s period and SuspicionMult 6 put its floor at T + 6 · 2 · 5 s = 65 s at N = 100;
Local's SuspicionMult 3 gives 1 + 6 = 7 s.

## Dissemination

One user broadcast from node 0 at t = 1 s, relayed Serf-style (each node re-queues a new
message once), until every node has it. Each node's gossip tick pushes its queued messages
to f random members every G (LAN: f = 3, G = 200 ms), each message at most RetransmitMult ·
⌈log10(N+1)⌉ times. Ticks are not aligned across nodes, so infection compounds within a
round: the informed set grows like a logistic curve at rate f/G, half the nodes have the
message after about ln N / f rounds, and the last one after about as long again (each
uninformed node is hit at rate f/G once nearly everybody gossips): **2 ln N / f rounds**.
With aligned rounds the same fanout would need log_(f+1) N rounds to reach half. Runs at
N = 100, 1,000 and {big:,} are the crash runs' broadcasts (sent before the crash, both
Lifeguard modes); 50 and 300, and 4 more at 1,000, are broadcast-only runs.

{spread_table}

![Dissemination](img/dissemination.png)

Time to reach everybody grows with log N and is {spread_lo:.2f}-{spread_hi:.2f}x the model's
2 ln N / f rounds across the sizes run: close up to N = 300, somewhat faster than the model
at 1,000 and {big:,}. The model is a continuous-time approximation; it leaves out the
broadcasts piggybacked on probes and acks, and the larger retransmit limit from N = 999 on
(16 sends instead of 12). The two largest sizes have few runs (8 and 2), and the
{big:,}-node runs fall inside the spread of the 1,000-node ones, so the table does not pin
down the slope above 1,000.
On LAN the whole cluster has a message within a second even at {big:,} nodes: dissemination
is never the slow part of failure detection; the suspicion timeout is.

## What this means for choosing a preset

* **LAN** (T = 1 s, SuspicionMult 4): every member knows of a crash about T + 4 · log10(N)
  · T plus a second or two after it happens ({lan_last_100} at 100 nodes, {lan_last_1000}
  at 1,000, medians). Random loss up to 10% costs no false positives, with or without
  Lifeguard. Keep Lifeguard on (it is memberlist's only mode): it is what stops members
  that are alive but slow (CPU starvation, swapping, long GC) from killing healthy peers.
* **Local** (T = 1 s, SuspicionMult 3, 200 ms probe timeout, one indirect check): first
  detection {local_first_100} against LAN's {lan_first_100} at 100 nodes, for hosts whose
  round trips are reliably far below 200 ms. Any member that stalls for longer than
  3 · log10(N) s (6 s at 100 nodes) will be declared dead.
* **WAN** (T = 5 s, SuspicionMult 6, 3 s probe timeout): first detection {wan_first_100},
  last {wan_last_100} at 100 nodes, in exchange for tolerating round trips and stalls of
  seconds. Choose it for members far apart or heavily loaded, not for a LAN with some loss:
  LAN already absorbs 10% loss.
* Cluster size barely matters for the choice: detection grows with log10 N (the timeout)
  and dissemination with log N. What matters is how long a healthy member can stall. Any
  stall longer than the minimum suspicion timeout gets that member declared dead under
  every preset, with or without Lifeguard; Lifeguard protects the *other* members from the
  stalled one, as long as fewer than three members are slow at the same time. If members can
  stall for longer, raise SuspicionMult (or ProbeInterval) instead of switching presets.

## How to reproduce, and what was not done

`python -m swimlib.sim.study` runs everything and rewrites this file, its PNGs and
`img/study.json` (`--quick` for a toy version that takes seconds, `--jobs N` for the worker count,
`--big N` for the largest size, `--from-json PATH` to re-render without rerunning). A
single cell can be replayed with the simulator CLI; for example the N = 1,000 slow burst is
`python -m swimlib.sim --scenario slow --nodes 1000 --seconds 45 --slow-count 15
--slow-delay 15 --slow-seconds 20 --pause-at 2 --pause-spread 2 --compare-lifeguard`
(same victims, same trace digest as the study's run).

* The largest N that fits in 24 GiB ({largest:,}) comes from the memory fit; it was not
  run. At N = {big:,} one run takes minutes.
* At N = {big:,} only no loss (from the crash runs) and the slow burst were run for false
  positives; loss and pauses were not, since they produced nothing at the smaller sizes.
* The N = 1,000 and {big:,} false-positive runs are short (30-45 s of virtual time, a few
  node-hours), so they include the start-up transient of every node's first push/pull, and
  their impairments overlap; zero counts there bound the rate less tightly than at N = 100.
* Impairments are injected, not sampled from production: the rates per node-hour depend on
  how many impairment episodes there were, so compare Lifeguard with no Lifeguard on the
  same row rather than reading the rates as forecasts.
* Uniform independent loss only; one-way loss and partitions are in the simulator
  (`--scenario partition`) but not in this study.
"""


# ---------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m swimlib.sim.study", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="tiny clusters, seconds not minutes")
    ap.add_argument("--out", default="docs", help="document folder (figures go in OUT/img)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes; 0: in this process")
    ap.add_argument("--big", type=int, default=3000, help="largest N actually simulated")
    ap.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    ap.add_argument(
        "--from-json", metavar="PATH", help="re-render tables and figures from a study.json"
    )
    a = ap.parse_args(argv)
    out = Path(a.out)
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    p = plan(a.quick, a.big)
    args = " ".join(x for x in (["--quick"] if a.quick else []))
    command = f"python -m swimlib.sim.study {args}".strip()
    if a.from_json:
        raw = json.loads(Path(a.from_json).read_text())
    else:
        raw = run_plan(p, a.jobs, log=sys.stderr)
        raw["plan"] = {"quick": p.quick, "big": p.big, "jobs": a.jobs}
        (img / "study.json").write_text(json.dumps(raw, indent=1, sort_keys=True) + "\n")
    summary = summarize_study(raw, p.big)
    if not a.no_plots:
        plot(summary, img)
    doc = render(summary, raw, p, command)
    (out / "failure-detection.md").write_text(doc)
    print(f"wrote {out / 'failure-detection.md'} and {img}/ in {raw['wall_seconds']:.0f} s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
