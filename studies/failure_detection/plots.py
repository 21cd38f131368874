"""The study's PNG figures: false positives, detection-latency CDFs, dissemination rounds.

matplotlib is the only package outside swimlib's own dependencies that the study needs, and
only here. It is never installed for the user: :func:`require_matplotlib` fails with one
message saying how to install it (``studies/requirements.txt``) or how to skip the figures.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any

from studies.failure_detection.grid import CONDITIONS

__all__ = ["MissingMatplotlib", "plot", "require_matplotlib"]

COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
FLOOR = 1e-3  # bottom of the log-scale false-positive axes; zero counts are drawn there

Agg = dict[str, Any]


class MissingMatplotlib(RuntimeError):
    """matplotlib is not installed and figures were asked for."""


def require_matplotlib() -> Any:
    """Import matplotlib with the Agg backend; return pyplot, or raise one clear error."""
    try:
        mpl = importlib.import_module("matplotlib")
    except ImportError:
        raise MissingMatplotlib(
            "the study's figures need matplotlib, which is not installed: run "
            "`python3 -m pip install matplotlib` (or `python3 -m pip install -r "
            "studies/requirements.txt`), or pass --no-plots to skip the figures"
        ) from None
    mpl.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def plot(summary: dict[str, Any], img: Path) -> list[str]:
    """Write the PNG figures; returns their file names."""
    plt = require_matplotlib()
    img.mkdir(parents=True, exist_ok=True)
    return [
        _plot_fp(plt, summary, img / "fp.png"),
        _plot_detection(plt, summary, img / "detection.png"),
        _plot_spread(plt, summary, img / "dissemination.png"),
    ]


def _save(plt: Any, fig: Any, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


# ---------------------------------------------------------------------------- false positives


def _find(aggs: list[Agg], row: str, n: int, lg: bool) -> Agg | None:
    return next((b for b in aggs if b["row"] == row and b["n"] == n and b["lifeguard"] == lg), None)


def _fp_series(
    ax: Any, aggs: list[Agg], rows: list[str], metric: str, si: int, n: int, lg: bool
) -> None:
    """One (size, mode) bar series; rows with no event get a dash at the axis floor."""
    width = 0.8 / (2 * len({a["n"] for a in aggs}))
    li = 0 if lg else 1
    xs: list[float] = []
    ys: list[float] = []
    zx: list[float] = []
    for ri, row in enumerate(rows):
        a = _find(aggs, row, n, lg)
        if a is None:
            continue
        x = ri - 0.4 + width * (2 * si + li + 0.5)
        v = a[metric] / a["node_hours"]
        if v > 0:
            xs.append(x)
            ys.append(v)
        else:
            zx.append(x)
    color = COLORS[si % len(COLORS)]
    kw: dict[str, Any] = {"color": color, "width": width, "edgecolor": color}
    if not lg:
        kw.update(color="white", hatch="///")
    ax.bar(xs, ys, label=f"N={n:,}, Lifeguard {'on' if lg else 'off'}", **kw)
    ax.scatter(zx, [FLOOR * 1.5] * len(zx), marker="_", s=60, color=color)


def _plot_fp(plt: Any, summary: dict[str, Any], path: Path) -> str:
    aggs = [a for a in summary["fp"] if a["section"] == "fp"]
    rows = [r for r in CONDITIONS if any(a["row"] == r for a in aggs)]
    sizes = sorted({a["n"] for a in aggs})
    metrics = [
        ("dead_episodes_healthy", "healthy nodes declared dead\nper node-hour"),
        ("suspect_episodes_healthy", "healthy nodes suspected\nper node-hour"),
    ]
    fig, axes = plt.subplots(2, 1, figsize=(11, 8), sharex=True)
    for ax, (metric, label) in zip(axes, metrics, strict=True):
        for si, n in enumerate(sizes):
            for lg in (True, False):
                _fp_series(ax, aggs, rows, metric, si, n, lg)
        ax.set_yscale("log")
        ax.set_ylim(FLOOR, None)
        ax.set_ylabel(label)
        ax.grid(axis="y", which="major", alpha=0.3)
    axes[0].set_title("False positives, LAN preset (dash at the bottom: none observed)")
    axes[0].legend(fontsize=8, ncol=len(sizes), loc="upper left")
    axes[-1].set_xticks(range(len(rows)))
    axes[-1].set_xticklabels([CONDITIONS[r] for r in rows], rotation=15)
    return _save(plt, fig, path)


# ---------------------------------------------------------------------------- detection


def _detection_cdfs(ax: Any, d: Agg) -> None:
    """Empirical CDFs of first and last detection for one Lifeguard mode."""
    style = "-" if d["lifeguard"] else "--"
    tag = "LG on" if d["lifeguard"] else "LG off"
    for key, color in (("first", "tab:blue"), ("last", "tab:red")):
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
            label=f"{key} detection, {tag} ({len(xs)})",
        )


def _detection_theory(ax: Any, th: dict[str, float]) -> None:
    """The model's CDF (T + min timeout + Exp(T)) and SWIM's expected time as a line."""
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


def _plot_detection(plt: Any, summary: dict[str, Any], path: Path) -> str:
    dets = [d for d in summary["detect"] if d["preset"] == "lan"]
    sizes = sorted({d["n"] for d in dets})
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 4.2), squeeze=False)
    for ax, n in zip(axes[0], sizes, strict=True):
        th: dict[str, float] = {}
        for d in dets:
            if d["n"] == n:
                th = d["theory"]
                _detection_cdfs(ax, d)
        if th:
            _detection_theory(ax, th)
        ax.set_title(f"N = {n:,} (LAN)")
        ax.set_xlabel("seconds after the crash")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("fraction of crashes")
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Crash detection latency: empirical CDF vs theory")
    return _save(plt, fig, path)


# ---------------------------------------------------------------------------- dissemination


def _spread_theory_lines(ax: Any, ns: list[int]) -> None:
    """Gossip theory in rounds over the measured size range (LAN fanout 3)."""
    grid = [ns[0] * (ns[-1] / ns[0]) ** (i / 50) for i in range(51)]
    curves = (
        ([2 * math.log(n) / 3 for n in grid], ":", "tab:red", "theory, all: 2 ln N / 3 rounds"),
        ([math.log(n) / 3 for n in grid], ":", "tab:blue", "theory, median: ln N / 3 rounds"),
    )
    for ys, fmt, color, label in curves:
        ax.plot(grid, ys, fmt, color=color, label=label)
    ax.plot(
        grid,
        [math.log(n) / math.log(4) for n in grid],
        "--",
        color="grey",
        linewidth=1,
        label="synchronous rounds: log₄ N",
    )


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
        _spread_theory_lines(ax, ns)
    ax.set_xscale("log")
    ax.set_xlabel("cluster size N (log scale)")
    ax.set_ylabel(f"gossip rounds ({g * 1000:.0f} ms each)")
    ax.set_title("Dissemination of one broadcast (LAN: fanout 3, Serf-style relay)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(plt, fig, path)
