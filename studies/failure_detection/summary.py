"""From raw results to tables as plain data, with the theory each measurement is held against.

Kept apart from the rendering so that ``--from-json`` can re-summarise an old study.json, and
the figures and the document read the same numbers.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from studies.failure_detection.grid import CONDITIONS
from studies.sim_profile.measure import GIB, largest_n
from swimlib.core.formulas import retransmit_limit, suspicion_timeout
from swimlib.sim.lifeguard import sim_config
from swimlib.sim.metrics import percentile

__all__ = ["summarize_study"]

E_FACTOR = math.e / (math.e - 1.0)  # SWIM: expected protocol periods until a first failed probe

Agg = dict[str, Any]


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
    """Count, extremes, median, p99 and mean; just the count when there is nothing.

    Not ``swimlib.sim.metrics.summarize``: that one rounds to the microsecond, and the
    document's figures are computed from these unrounded values.
    """
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


def _counts_fp(c: dict[str, Any], big: int) -> bool:
    """False-positive rows, plus the big-N LAN crash runs as that size's no-loss row."""
    if c["section"] in ("fp", "fp_udp"):
        return True
    return bool(c["section"] == "detect" and c["n"] == big and c["preset"] == "lan")


def _fp_aggregates(results: list[dict[str, Any]], big: int) -> dict[str, Agg]:
    """False-positive counts summed per (section, condition, N, Lifeguard mode)."""
    fp: dict[str, Agg] = {}
    for r in results:
        c = r["cell"]
        if not _counts_fp(c, big):
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
    return fp


def _add_detection(d: Agg, detection: dict[str, Any]) -> None:
    """Append one run's per-victim detection times to its (preset, N, mode) aggregate."""
    d["runs"] += 1
    for v in detection["victims"]:
        if v["first_suspicion"] is not None:
            d["first_suspicion"].append(v["first_suspicion"])
        if v["first"] is not None:
            d["first"].append(v["first"])
        if v["last"] is not None:
            d["last"].append(v["last"])
            d["spread_after_first"].append(v["last"] - v["first"])
        d["missing_pairs"] += v["missing"]


def _detect_aggregates(results: list[dict[str, Any]]) -> list[Agg]:
    """Crash-detection times per (preset, N, Lifeguard mode), with their statistics."""
    detect: dict[str, Agg] = {}
    for r in results:
        if "detection" not in r:
            continue
        c = r["cell"]
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
        _add_detection(d, r["detection"])
    for d in detect.values():
        for k in ("first_suspicion", "first", "last", "spread_after_first"):
            d[k + "_stats"] = _stats(d[k])
    return sorted(
        detect.values(),
        key=lambda d: (d["preset"] != "lan", d["preset"], d["n"], not d["lifeguard"]),
    )


def _spread_aggregates(results: list[dict[str, Any]]) -> list[Agg]:
    """Broadcast delivery times per (preset, N), with their statistics and gossip theory."""
    spread: dict[str, Agg] = {}
    for r in results:
        if "broadcast" not in r:
            continue
        c, b = r["cell"], r["broadcast"]
        s = spread.setdefault(
            f"{c['preset']}|{c['n']}",
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
    for s in spread.values():
        s["median_stats"] = _stats(s["median"])
        s["all_reached_stats"] = _stats(s["all_reached"])
    return sorted(spread.values(), key=lambda s: (s["preset"] != "lan", s["preset"], s["n"]))


def summarize_study(raw: dict[str, Any], big: int) -> dict[str, Any]:
    """Tables (as plain data) from the raw results."""
    results: list[dict[str, Any]] = raw["results"]
    fp = _fp_aggregates(results, big)
    speed = [r for r in results if r["cell"]["section"] == "speed"]
    mem = raw["memory"]
    big_rss = [x for x in raw["peak_rss"] if x["n"] == big]
    rss_per_entry = max(x["peak_rss_bytes"] for x in big_rss) / (big * big) if big_rss else None
    return {
        "fp": sorted(fp.values(), key=_fp_order),
        "detect": _detect_aggregates(results),
        "spread": _spread_aggregates(results),
        "speed": speed[0] if speed else None,
        "memory": mem,
        "rss_per_entry_at_big": rss_per_entry,
        "largest_n_rss": (
            largest_n(0.0, rss_per_entry, mem["budget_gib"] * GIB) if rss_per_entry else None
        ),
        "reduction": _reduction(list(fp.values())),
    }


def _fp_order(a: Agg) -> tuple[Any, ...]:
    """Table order: section, condition as in CONDITIONS, N, Lifeguard on before off."""
    order = list(CONDITIONS)
    return (a["section"], order.index(a["row"]), a["n"], not a["lifeguard"])


def _reduction(aggs: list[Agg]) -> dict[str, Any]:
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
