"""Measuring the simulator itself: memory per member entry and where the time goes.

Owns the tracemalloc measurement of a bootstrapped cluster (N nodes each holding N member
records) with a fit ``bytes(N) = per_node * N + per_entry * N^2`` over two sizes, the
extrapolation to a memory budget, and a cProfile wrapper that ranks hot spots, singling out
those inside ``swimlib/core`` and ``swimlib/wire``. Used by the failure-detection study and
by ``python3 -m studies.sim_profile``; nothing here influences a simulation, which is why it
lives outside the package (it was ``swimlib.sim.bench``).
"""

from __future__ import annotations

import cProfile
import gc
import math
import pstats
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

from swimlib.sim.lifeguard import sim_config
from swimlib.sim.simulator import Simulator

__all__ = ["largest_n", "memory_per_entry", "profile_call"]

GIB = 1 << 30


def _traced_bytes(n: int, preset: str, fast: bool, seconds: float) -> int:
    """Python heap held by an n-node bootstrapped simulator (after ``seconds`` of running)."""
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        sim = Simulator(n, sim_config(preset), seed=1)
        sim.bootstrap(fast)
        if seconds > 0:
            sim.run_until(seconds)
        gc.collect()
        used, _ = tracemalloc.get_traced_memory()
        del sim
    finally:
        tracemalloc.stop()
    return used - base


def largest_n(per_node: float, per_entry: float, budget: float) -> int:
    """Largest N with ``per_entry * N^2 + per_node * N <= budget``."""
    if per_entry <= 0:
        return 0
    return int(
        (-per_node + math.sqrt(per_node * per_node + 4 * per_entry * budget)) / (2 * per_entry)
    )


def memory_per_entry(
    sizes: Sequence[int] = (200, 500),
    preset: str = "lan",
    fast: bool = True,
    seconds: float = 0.0,
    budget_gib: float = 24.0,
) -> dict[str, Any]:
    """Bytes per member entry and per node, fitted over two cluster sizes, plus the largest N."""
    if len(sizes) != 2 or sizes[0] >= sizes[1]:
        raise ValueError("give two increasing sizes")
    n1, n2 = sizes
    b1 = _traced_bytes(n1, preset, fast, seconds)
    b2 = _traced_bytes(n2, preset, fast, seconds)
    per_entry = (b2 / n2 - b1 / n1) / (n2 - n1)
    per_node = b1 / n1 - per_entry * n1
    return {
        "bootstrap": "direct install" if fast else "push/pull merge",
        "after_seconds": seconds,
        "traced_bytes": {str(n1): b1, str(n2): b2},
        "naive_bytes_per_entry": {str(n1): round(b1 / n1**2, 1), str(n2): round(b2 / n2**2, 1)},
        "fit_bytes_per_entry": round(per_entry, 1),
        "fit_bytes_per_node": round(per_node, 1),
        "budget_gib": budget_gib,
        "largest_n_in_budget": largest_n(per_node, per_entry, budget_gib * GIB),
    }


def profile_call(fn: Callable[[], Any], top: int = 25) -> tuple[Any, list[dict[str, Any]]]:
    """Run ``fn`` under cProfile; return its result and the ``top`` functions by own time."""
    prof = cProfile.Profile()
    result = prof.runcall(fn)
    stats = pstats.Stats(prof)
    total = max(stats.total_tt, 1e-9)  # type: ignore[attr-defined]
    rows: list[dict[str, Any]] = []
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in raw.items():
        rows.append(
            {
                "function": f"{_short(filename)}:{line}({func})",
                "calls": ncalls,
                "own_s": round(tottime, 3),
                "own_pct": round(100.0 * tottime / total, 1),
                "cum_s": round(cumtime, 3),
                "in_core_or_wire": "swimlib/core/" in filename or "swimlib/wire/" in filename,
            }
        )
    rows.sort(key=lambda r: (-r["own_s"], r["function"]))
    return result, rows[:top]


def _short(filename: str) -> str:
    """A profiled file name from ``swimlib/`` on, or just its base name."""
    i = filename.find("swimlib/")
    return filename[i:] if i >= 0 else filename.rsplit("/", 1)[-1]
