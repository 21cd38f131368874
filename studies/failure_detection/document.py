"""The markdown document: headline sentences and tables from the summary, prose from the template.

Each headline sentence is a small function so that a sentence with no data behind it (a
grid that did not run that cell) reads "not run" rather than failing the whole document.
"""

from __future__ import annotations

import math
from typing import Any

from studies.failure_detection.grid import Plan
from studies.failure_detection.run import IMPAIRED_GRACE
from studies.failure_detection.tables import detect_table, fp_table, sec, spread_table
from studies.failure_detection.template import TEMPLATE

__all__ = ["render"]

Summary = dict[str, Any]
Agg = dict[str, Any]


def _det(summary: Summary, preset: str, n: int, key: str) -> str:
    """Median first or last detection (Lifeguard on) as text, "n/a" if not run."""
    for d in summary["detect"]:
        if d["preset"] == preset and d["n"] == n and d["lifeguard"]:
            st = d[key + "_stats"]
            if st.get("count"):
                return f"{st['median']:.1f} s"
    return "n/a"


def _factor(x: dict[str, Any]) -> str:
    """A Lifeguard reduction factor with the counts behind it."""
    if x["factor"] is not None:
        return f"{x['factor']:.1f}x ({x['no_lifeguard']:,} without, {x['lifeguard']:,} with)"
    if x["no_lifeguard"]:
        return f"∞ ({x['no_lifeguard']:,} without, none with)"
    return "none observed in either mode"


def _det_line(summary: Summary) -> str:
    """Headline: crash detection at N = 1,000, LAN, Lifeguard on, against the model."""
    d1000 = next(
        (
            d
            for d in summary["detect"]
            if d["preset"] == "lan" and d["n"] == 1000 and d["lifeguard"]
        ),
        None,
    )
    if not d1000 or not d1000["first_stats"]["count"]:
        return "not run"
    f, la = d1000["first_stats"], d1000["last_stats"]
    th = d1000["theory"]
    return (
        f"first detection median {f['median']:.2f} s, p99 {f['p99']:.2f} s "
        f"({f['count']} crashes; model {th['model_median']:.2f} / {th['model_p99']:.2f} s); "
        f"every survivor knows after median {sec(la.get('median'))} s, "
        f"p99 {sec(la.get('p99'))} s"
    )


def _speed_line(summary: Summary) -> str:
    """Headline: simulator events per second in the speed cell."""
    speed = summary["speed"]
    if not speed:
        return "not run"
    t = speed["timing"]
    return (
        f"{t['events_per_wall_second']:,} events per wall second "
        f"({t['events_per_cpu_second']:,} per CPU second); {speed['cell']['n']:,} nodes x "
        f"{speed['virtual_seconds']:.0f} virtual s took {t['wall_seconds']:.1f} s wall "
        f"({t['cpu_seconds']:.1f} s CPU, of which {t['bootstrap_cpu_seconds']:.1f} s "
        f"bootstrap), {speed['sim_events']:,} events"
    )


def _mem_line(summary: Summary, p: Plan) -> str:
    """Headline: the memory fit, and the big-N worker's RSS as a cross-check."""
    mem = summary["memory"]
    rss_e = summary["rss_per_entry_at_big"]
    line = (
        f"{mem['fit_bytes_per_entry']:.0f} B per member entry "
        f"(+{mem['fit_bytes_per_node'] / 1024:.1f} KiB per node), tracemalloc fit over "
        f"N = {' and '.join(mem['traced_bytes'])}; "
        f"largest N in {mem['budget_gib']:.0f} GiB: **{mem['largest_n_in_budget']:,}**"
    )
    if rss_e:
        line += (
            f". Cross-check: the N = {p.big:,} worker peaked at "
            f"{rss_e * p.big * p.big / 2**20:,.0f} MiB RSS, {rss_e:.0f} B per entry all "
            f"included, which would put the limit at {summary['largest_n_rss']:,}"
        )
    return line


def _per_death(fp_rows: list[Agg], lg: bool) -> str:
    """Dead declarations per false death: how far one false death spread."""
    eps = sum(x["dead_episodes_healthy"] for x in fp_rows if x["lifeguard"] == lg)
    decl = sum(x["dead_declarations_healthy"] for x in fp_rows if x["lifeguard"] == lg)
    return f"{decl / eps:.2f}" if eps else "n/a"


def _same_line(fp_rows: list[Agg]) -> str:
    """Whether loss and pauses gave both modes the same healthy-node counts."""
    pairs: dict[tuple[str, int], dict[bool, Agg]] = {}
    for x in fp_rows:
        pairs.setdefault((x["row"], x["n"]), {})[x["lifeguard"]] = x
    keys = ("dead_episodes_healthy", "suspect_episodes_healthy")
    same = all(
        len(m) == 2 and all(m[True][k] == m[False][k] for k in keys)
        for (row, _), m in pairs.items()
        if not row.startswith("slow")
    )
    if same:
        return "Loss and pauses gave the two modes the same healthy-node counts."
    return "Loss and pauses did not give the two modes the same counts: see the table."


def _slow2_line(fp_rows: list[Agg]) -> str:
    """The 2 s slow-node row in words: suspicions and deaths with and without Lifeguard."""
    slow2 = [x for x in fp_rows if x["row"] == "slow2"]

    def total(key: str, lg: bool) -> int:
        return sum(x[key] for x in slow2 if x["lifeguard"] == lg)

    sus, dead = "suspect_episodes_healthy", "dead_episodes_healthy"
    sus_off, sus_on = total(sus, False), total(sus, True)
    dead_off, dead_on = total(dead, False), total(dead, True)
    return (
        f"2 s delays caused {sus_off:,} false suspicions without Lifeguard and "
        f"{sus_on:,} with it; {dead_off} of them (without) and {dead_on} "
        "(with) became deaths."
    )


def _spread_ratios(summary: Summary) -> list[float]:
    """Measured all-reached time over the 2 ln N / f theory, per LAN size."""
    return [
        s["all_reached_stats"]["median"]
        / (s["theory"]["rounds_all"] * s["theory"]["gossip_interval"])
        for s in summary["spread"]
        if s["preset"] == "lan" and s["all_reached_stats"].get("count")
    ]


def _tables(summary: Summary) -> dict[str, str]:
    return {
        "fp_table": fp_table(summary["fp"], "fp"),
        "fp_udp_table": fp_table(summary["fp"], "fp_udp"),
        "detect_table": detect_table(summary["detect"], "lan"),
        "preset_table": detect_table(summary["detect"], None),
        "spread_table": spread_table(summary["spread"]),
    }


def _detection_medians(summary: Summary) -> dict[str, str]:
    """The median detection times the prose quotes."""
    return {
        "lan_last_100": _det(summary, "lan", 100, "last"),
        "lan_last_1000": _det(summary, "lan", 1000, "last"),
        "lan_first_100": _det(summary, "lan", 100, "first"),
        "local_first_100": _det(summary, "local", 100, "first"),
        "wan_first_100": _det(summary, "wan", 100, "first"),
        "wan_last_100": _det(summary, "wan", 100, "last"),
    }


_QUICK_NOTE = (
    "\n> **This is a `--quick` run** (tiny clusters, for testing the driver); the numbers "
    "below mean little.\n"
)


def render(summary: Summary, raw: dict[str, Any], p: Plan, command: str) -> str:
    """The whole markdown document: prose from the template, tables from the data."""
    red = summary["reduction"]
    fp_rows = [x for x in summary["fp"] if x["section"] == "fp"]
    ratios = _spread_ratios(summary)
    return TEMPLATE.format(
        command=command,
        wall_minutes=raw["wall_seconds"] / 60.0,
        cpu_minutes=raw["cpu_seconds"] / 60.0,
        cells=len(raw["results"]),
        node_hours=sum(r["node_hours"] for r in raw["results"]),
        big=p.big,
        quick_note=_QUICK_NOTE if p.quick else "",
        dead_factor=_factor(red["dead_episodes_healthy"]),
        sus_factor=_factor(red["suspect_episodes_healthy"]),
        det_line=_det_line(summary),
        speed_line=_speed_line(summary),
        mem_line=_mem_line(summary, p),
        largest=summary["memory"]["largest_n_in_budget"],
        grace=IMPAIRED_GRACE,
        same_line=_same_line(fp_rows),
        slow2_line=_slow2_line(fp_rows),
        per_death_on=_per_death(fp_rows, True),
        per_death_off=_per_death(fp_rows, False),
        spread_lo=min(ratios, default=math.nan),
        spread_hi=max(ratios, default=math.nan),
        **_detection_medians(summary),
        **_tables(summary),
    )
