"""Markdown tables of the document and the number formats they share.

Kept apart from the prose so that a table can change shape without touching the template.
"""

from __future__ import annotations

from typing import Any

from studies.failure_detection.grid import CONDITIONS

__all__ = ["detect_table", "fp_table", "sec", "spread_table"]


def _num(x: float) -> str:
    """Three significant-ish figures, thousands separated, "0" for zero."""
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
    """A rate per node-hour with its count; a zero carries the node-hours it is out of."""
    if count == 0:
        return f"0 in {node_hours:,.1f} node-h"
    return f"{_num(count / node_hours)} ({count:,})"


def sec(x: float | None) -> str:
    """Seconds to two decimals, "-" when not measured."""
    return "-" if x is None else f"{x:.2f}"


def _rate_cell(a: dict[str, Any] | None, k: str) -> str:
    return "not run" if a is None else _rate(a[k], a["node_hours"])


_FP_HEAD = (
    "| condition | N | node-hours (each mode) | impairment episodes (most at once) | "
    "healthy nodes declared dead, LG | … no LG | false suspicions, LG | … no LG | "
    "impaired nodes declared dead, LG | … no LG |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def fp_table(aggs: list[dict[str, Any]], section: str) -> str:
    """False positives per condition and size, Lifeguard on and off side by side."""
    pairs: dict[tuple[str, int], dict[bool, dict[str, Any]]] = {}
    for a in aggs:
        if a["section"] == section:
            pairs.setdefault((a["row"], a["n"]), {})[a["lifeguard"]] = a
    lines = [_FP_HEAD]
    for (row, n), modes in pairs.items():
        on, off = modes.get(True), modes.get(False)
        ref = on or off
        assert ref is not None
        name = CONDITIONS[row] + (" ¹" if ref["from_crash_runs"] else "")
        episodes = str(ref["impairment_episodes"])
        if ref["impairment_episodes"]:
            episodes += f" ({ref['impaired_at_once']})"
        cells = [
            _rate_cell(a, k)
            for k in ("dead_episodes_healthy", "suspect_episodes_healthy", "dead_episodes_impaired")
            for a in (on, off)
        ]
        head = f"| {name} | {n:,} | {ref['node_hours']:,.1f} | {episodes} | "
        lines.append(head + " | ".join(cells) + " |")
    return "\n".join(lines)


_DETECT_HEAD = (
    "| preset | N | Lifeguard | crashes | first suspicion median | first detection "
    "median / p99 / mean | model median / p99 / mean | SWIM e/(e-1)·T + min | "
    "min / max timeout | last detection median / p99 | last - first median | "
    "missed pairs |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _detect_row(d: dict[str, Any]) -> str:
    th = d["theory"]
    f, la, sp, fs = (
        d["first_stats"],
        d["last_stats"],
        d["spread_after_first_stats"],
        d["first_suspicion_stats"],
    )
    return (
        f"| {d['preset'].upper()} | {d['n']:,} | {'on' if d['lifeguard'] else 'off'} | "
        f"{f.get('count', 0)} | {sec(fs.get('median'))} | "
        f"{sec(f.get('median'))} / {sec(f.get('p99'))} / {sec(f.get('mean'))} | "
        f"{th['model_median']:.2f} / {th['model_p99']:.2f} / {th['model_mean']:.2f} | "
        f"{th['swim_mean']:.2f} | {th['timeout_min']:.2f} / {th['timeout_max']:.1f} | "
        f"{sec(la.get('median'))} / {sec(la.get('p99'))} | {sec(sp.get('median'))} | "
        f"{d['missing_pairs']} |"
    )


def detect_table(dets: list[dict[str, Any]], preset: str | None) -> str:
    """Detection latency against theory for one preset, or (None) every preset but LAN."""
    keep = [
        d for d in dets if (d["preset"] == preset if preset is not None else d["preset"] != "lan")
    ]
    return "\n".join([_DETECT_HEAD] + [_detect_row(d) for d in keep])


_SPREAD_HEAD = (
    "| preset | N | runs | median delivery (s) | all reached: median / max (s) | "
    "median / all reached in rounds | theory rounds: ln N / f, 2 ln N / f | "
    "synchronous rounds log_(f+1) N | log₂N |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def spread_table(spreads: list[dict[str, Any]]) -> str:
    """Broadcast dissemination time, in seconds and in gossip rounds, against theory."""
    lines = [_SPREAD_HEAD]
    for s in spreads:
        th = s["theory"]
        g = th["gossip_interval"]
        ms, al = s["median_stats"], s["all_reached_stats"]
        r_med = f"{ms['median'] / g:.1f}" if ms.get("count") else "-"
        r_all = f"{al['median'] / g:.1f}" if al.get("count") else "-"
        lines.append(
            f"| {s['preset'].upper()} | {s['n']:,} | {s['runs']} | {sec(ms.get('median'))} | "
            f"{sec(al.get('median'))} / {sec(al.get('max'))} | {r_med} / {r_all} | "
            f"{th['rounds_median']:.1f}, {th['rounds_all']:.1f} (f = {th['fanout']}) | "
            f"{th['rounds_synchronous']:.1f} | {th['log2_n']:.1f} |"
        )
    return "\n".join(lines)
