"""Running the grid: worker processes, their order, and the raw results of the whole study.

Each group of cells runs in a fresh spawned process (``maxtasksperchild=1``), so the peak RSS
recorded for a group is that group's own; the speed cells run last and alone so that no other
worker shares the CPU with them.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
import time
from collections.abc import Sequence
from typing import Any, TextIO

from studies.failure_detection.grid import CONDITIONS, Cell, Plan
from studies.failure_detection.run import run_cell
from studies.sim_profile.measure import memory_per_entry

__all__ = ["run_plan"]


def _run_group(cells: list[Cell]) -> dict[str, Any]:
    """Worker entry: run some cells; report their results and this process's peak RSS."""
    logging.getLogger("swimlib").setLevel(logging.ERROR)
    results = [run_cell(c) for c in cells]
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"results": results, "peak_rss_bytes": rss_kib * 1024}


def _run_memory(sizes: tuple[int, int]) -> dict[str, Any]:
    """Worker entry: the tracemalloc fit of bytes per member entry."""
    logging.getLogger("swimlib").setLevel(logging.ERROR)
    cpu = time.process_time()
    res = memory_per_entry(sizes, preset="lan")
    res["cpu_seconds"] = round(time.process_time() - cpu, 3)
    return res


def _cost(cells: Sequence[Cell]) -> tuple[int, float]:
    """Sort key to start the biggest clusters, then the longest groups, first."""
    return (max(c.n for c in cells), sum(c.n * c.seconds for c in cells))


class _Progress:
    """Collects group results and peak RSS, and logs one line per finished group."""

    def __init__(self, total: int, log: TextIO | None) -> None:
        self.total = total
        self.log = log
        self.started = time.perf_counter()
        self.results: list[dict[str, Any]] = []
        self.rss: list[dict[str, Any]] = []

    def __call__(self, done: int, res: dict[str, Any]) -> None:
        rs = res["results"]
        self.rss.append(
            {"n": max(r["cell"]["n"] for r in rs), "peak_rss_bytes": res["peak_rss_bytes"]}
        )
        self.results.extend(rs)
        if self.log is None:
            return
        c = rs[0]["cell"]
        cpu = sum(r["timing"]["cpu_seconds"] for r in rs)
        print(
            f"[{time.perf_counter() - self.started:7.1f}s] {done}/{self.total} "
            f"{c['section']} {c['row'] or '-'} n={c['n']} lifeguard={c['lifeguard']} "
            f"cells={len(rs)} cpu={cpu:.1f}s",
            file=self.log,
            flush=True,
        )


def _in_process(p: Plan, groups: list[list[Cell]], note: _Progress) -> dict[str, Any]:
    """``--jobs 0``: everything in this process (the tests; peak RSS is then cumulative)."""
    memory = _run_memory(p.memory_sizes)
    for i, grp in enumerate(groups, start=1):
        note(i, _run_group(grp))
    return memory


def _in_workers(
    p: Plan, shared: list[list[Cell]], solo: list[list[Cell]], jobs: int, note: _Progress
) -> dict[str, Any]:
    """``jobs`` spawned workers for the shared groups and the memory fit, then one for solo."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(jobs, maxtasksperchild=1) as pool:
        mem_async = pool.apply_async(_run_memory, (p.memory_sizes,))
        for i, res in enumerate(pool.imap_unordered(_run_group, shared), start=1):
            note(i, res)
        memory: dict[str, Any] = mem_async.get()
    with ctx.Pool(1, maxtasksperchild=1) as pool:
        for i, res in enumerate(pool.imap(_run_group, solo), start=len(shared) + 1):
            note(i, res)
    return memory


def _result_order(r: dict[str, Any]) -> tuple[Any, ...]:
    """Results sorted by what they are, not by when their worker finished."""
    c = r["cell"]
    order = {k: i for i, k in enumerate(CONDITIONS)}
    return (
        c["section"],
        order.get(c["row"], 99),
        c["preset"],
        c["n"],
        not c["lifeguard"],
        c["seed"],
    )


def run_plan(p: Plan, jobs: int, log: TextIO | None = None) -> dict[str, Any]:
    """Run every group (``jobs`` spawned workers; 0 runs in this process) and the memory fit.

    The speed cells run last and alone, so that no other study worker shares the CPU with them.
    """
    solo = [grp for grp in p.groups if any(c.section == "speed" for c in grp)]
    shared = sorted((grp for grp in p.groups if grp not in solo), key=_cost, reverse=True)
    note = _Progress(len(shared) + len(solo), log)
    if jobs <= 0:
        memory = _in_process(p, shared + solo, note)
    else:
        memory = _in_workers(p, shared, solo, jobs, note)
    results = sorted(note.results, key=_result_order)
    return {
        "wall_seconds": round(time.perf_counter() - note.started, 1),
        "cpu_seconds": round(sum(r["timing"]["cpu_seconds"] for r in results), 1),
        "results": results,
        "memory": memory,
        "peak_rss": sorted(note.rss, key=lambda r: r["n"]),
    }
