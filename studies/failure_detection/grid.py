"""The study grid: what one run is (:class:`Cell`) and which runs the study makes (:func:`plan`).

Every figure in the document is a function of the cells listed here, so changing the grid is
changing the study; the quick grid has the full grid's shape at toy sizes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CONDITIONS", "Cell", "Plan", "plan", "replace_cell"]

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


def replace_cell(c: Cell, **changes: Any) -> Cell:
    """A copy of ``c`` with some fields changed (cells are frozen so they can be dict keys)."""
    d = asdict(c)
    d.update(changes)
    return Cell(**d)


def _fp_cell(base: Cell, row: str, episodes: int) -> Cell:
    """The false-positive condition ``row`` (loss, pauses or slow nodes) applied to ``base``."""
    seconds = base.seconds
    if row.startswith("loss"):
        return replace_cell(base, loss=int(row[4:]) / 100.0)
    if row.startswith("pause"):
        length = float(row[5:])
        return replace_cell(
            base,
            pause_count=episodes,
            pause_seconds=length,
            impair_from=2.0,
            impair_until=max(2.0, seconds - length - 10.0),
        )
    if row.startswith("slow"):
        burst = row.endswith("b")
        delay = float(row[4:].rstrip("b"))
        return replace_cell(
            base,
            slow_count=episodes,
            slow_delay=delay,
            slow_seconds=20.0,
            impair_from=2.0,
            impair_until=4.0 if burst else max(2.0, seconds - 20.0 - delay - 10.0),
        )
    raise ValueError(row)


def _fp_cells(
    n: int, seconds: float, episodes: int, rows: Iterable[str], lifeguard: bool, seed: int
) -> list[Cell]:
    """False-positive cells for one size, one Lifeguard mode."""
    return [
        _fp_cell(Cell("fp", row, n, seconds, seed=seed, lifeguard=lifeguard), row, episodes)
        for row in rows
    ]


def _crash_cell(
    n: int,
    seconds: float,
    crashes: int,
    seed: int = 1,
    lifeguard: bool = True,
    preset: str = "lan",
    broadcast: bool = True,
) -> Cell:
    """A crash-detection run (optionally with a broadcast at t = 1 s) that stops when done."""
    return Cell(
        "detect",
        "",
        n,
        seconds,
        seed=seed,
        preset=preset,
        lifeguard=lifeguard,
        crash_count=crashes,
        broadcast_at=1.0 if broadcast else -1.0,
        stop_when_done=True,
    )


def _spread_cell(n: int, seconds: float, seed: int) -> Cell:
    """A dissemination-only run: one broadcast at t = 1 s, stopped once everybody has it."""
    return Cell("spread", "", n, seconds, seed=seed, broadcast_at=1.0, stop_when_done=True)


def _udp_cell(n: int, seconds: float, percent: int, lifeguard: bool) -> Cell:
    """A loss row without the TCP fallback probe, where loss alone causes suspicions."""
    return Cell(
        "fp_udp",
        f"loss{percent}",
        n,
        seconds,
        lifeguard=lifeguard,
        loss=percent / 100,
        tcp_pings=False,
    )


def plan(quick: bool = False, big: int = 3000) -> Plan:
    """The grid. Full: about 25-35 CPU-minutes on this project's 2-core machine."""
    return _quick_plan() if quick else _full_plan(big)


def _quick_plan() -> Plan:
    """The same shape as the full grid at toy sizes: a smoke test of the driver, not data."""
    p = Plan(True, [20, 50], [20, 50], [20, 30, 50], big=50, memory_sizes=(30, 60))
    for lg in (True, False):
        p.groups.append(_fp_cells(20, 30.0, 2, list(CONDITIONS), lg, 1))
        p.groups.append(_fp_cells(50, 40.0, 3, ["slow15b"], lg, 1))
        p.groups.append(
            [
                _udp_cell(20, 30.0, 10, lg),
                _crash_cell(20, 30.0, 2, lifeguard=lg),
                _crash_cell(50, 30.0, 2, lifeguard=lg),
            ]
        )
    p.groups.append(
        [
            _spread_cell(30, 10.0, 1),
            _crash_cell(20, 90.0, 1, preset="local", broadcast=False),
            _crash_cell(20, 90.0, 1, preset="wan", broadcast=False),
            Cell("speed", "", 50, 10.0),
        ]
    )
    return p


def _full_plan(big: int) -> Plan:
    """The grid behind docs/failure-detection.md; ``big`` is the largest N simulated."""
    p = Plan(
        False,
        fp_sizes=[100, 1000, big],
        detect_sizes=[100, 1000, big],
        spread_sizes=[50, 100, 300, 1000, big],
        big=big,
        memory_sizes=(200, 500),
    )
    for lg in (True, False):
        p.groups += _fp_groups(lg, big)
        p.groups += _crash_groups(lg, big)
    p.groups += _shared_groups()
    return p


def _fp_groups(lg: bool, big: int) -> list[list[Cell]]:
    """False-positive groups for one Lifeguard mode."""
    spread_rows = [r for r in CONDITIONS if r != "slow15b"]
    # N = 100: 600 virtual seconds per row (16.7 node-hours); 20 impairment episodes
    # spread over the run, so rarely two at once.
    g = [_fp_cells(100, 600.0, 20, spread_rows, lg, 1)]
    # ... and bursts: 4 nodes slow at once, 10 seeds x 60 s.
    g.append([c for s in range(1, 11) for c in _fp_cells(100, 60.0, 4, ["slow15b"], lg, s)])
    # N = 1,000: 30 s per loss row (8.3 node-hours), 45 s with 15 impairment episodes,
    # which overlap (a 45 s run cannot spread them out).
    for row in CONDITIONS:
        if row != "slow15":
            secs = 30.0 if row.startswith("loss") else 45.0
            g.append(_fp_cells(1000, secs, 15, [row], lg, 1))
    # Largest N: the slow burst only (the row that separates the modes at smaller N);
    # its no-loss row comes from the crash runs.
    g.append(_fp_cells(big, 40.0, 6, ["slow15b"], lg, 1))
    # Without the TCP fallback probe, loss alone causes suspicions: N = 100, 300 s.
    g.append([_udp_cell(100, 300.0, x, lg) for x in (1, 5, 10)])
    g.append([_udp_cell(1000, 20.0, 5, lg)])
    return g


def _crash_groups(lg: bool, big: int) -> list[list[Cell]]:
    """Crash detection for one Lifeguard mode (plus a broadcast at t = 1 s, before the crash
    at t = 5 s)."""
    g = [[_crash_cell(100, 60.0, 2, seed=s, lifeguard=lg) for s in range(1, 21)]]
    g += [[_crash_cell(1000, 60.0, 15, seed=s, lifeguard=lg)] for s in (1, 2)]
    g.append([_crash_cell(big, 60.0, 30, lifeguard=lg)])
    return g


def _shared_groups() -> list[list[Cell]]:
    """Groups run once, Lifeguard on: other presets, dissemination and speed."""
    # Other presets at N = 100 (WAN's minimum suspicion timeout is 60 s here).
    g = [
        [_crash_cell(100, 150.0, 2, seed=s, preset=preset) for s in range(1, 11)]
        for preset in ("local", "wan")
    ]
    # Dissemination only, at sizes the crash runs do not cover, and more runs at 1,000.
    g.append([_spread_cell(n, 20.0, s) for n in (50, 300) for s in range(1, 11)])
    g.append([_spread_cell(1000, 20.0, s) for s in range(11, 15)])
    # Speed: the headline 1,000 nodes x 60 virtual seconds, no faults.
    g.append([Cell("speed", "", 1000, 60.0)])
    return g
