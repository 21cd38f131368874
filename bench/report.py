"""results.json -> results.md (tables, targets) and PNG plots (matplotlib, when installed).

python3 -m bench.report [bench/results]      # re-render from an existing results.json
"""

from __future__ import annotations

import json
import math
import random
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ORDER = ["swimlib", "memberlist", "kinship", "swim-protocol"]


def _f(v: Any, digits: int = 2, unit: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}{unit}"
    return f"{v}{unit}"


def _spread(values: list[float], digits: int = 2) -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def _sort_key(c: dict[str, Any]) -> tuple[Any, ...]:
    sysname = c.get("system", "")
    rank = ORDER.index(sysname) if sysname in ORDER else 99
    return (c.get("preset", ""), c.get("n", 0), rank)


def _field(rows: list[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in rows if isinstance(r, dict) and r.get(key) is not None]


def cluster_tables(clusters: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## 1. Failure detection (SIGKILL one node)",
        "",
        "Seconds from the kill until the first survivor, and until every survivor, declared "
        "the node dead: median (min-max) over the kills. `first suspect` is the first "
        "suspicion reported (memberlist has no suspect callback: its node reports the "
        'prober\'s "Suspect <node> has failed" log line).',
        "",
        "| preset | N | system | first dead | all dead | first suspect | kills (all declared) |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in sorted(clusters, key=_sort_key):
        det = c.get("detection") or []
        if c.get("error") and not det:
            lines.append(
                f"| {c['preset']} | {c['n']} | {c['system']} | error: {c['error'][:80]} | | | |"
            )
            continue
        complete = sum(1 for d in det if d.get("all") is not None)
        lines.append(
            f"| {c['preset']} | {c['n']} | {c['system']} | {_spread(_field(det, 'first'))} | "
            f"{_spread(_field(det, 'all'))} | {_spread(_field(det, 'first_suspect'))} | "
            f"{len(det)} ({complete}) |"
        )
    lines += [
        "",
        "## 2. Convergence and 3. dissemination",
        "",
        "Convergence: all N processes started, then N-1 join through node 0 at once; seconds "
        "until every node counts all N members: median (min-max) over several freshly started "
        "clusters. `slow` counts the runs that took 1 s or more: some node missed an alive "
        "broadcast and waited for a periodic push/pull (extra runs stop at the cap and count "
        "as slower than every finished run). Dissemination: one 100-byte broadcast from a "
        "random node; seconds until every other node delivered it, median (min-max).",
        "",
        "| preset | N | system | convergence | broadcast to all | broadcast to half | delivered |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in sorted(clusters, key=_sort_key):
        conv = c.get("convergence") or {}
        dis = c.get("dissemination") or []
        got = sum(d.get("received", 0) for d in dis)
        want = sum(d.get("receivers", 0) for d in dis)
        conv_s = _f(conv.get("all")) if conv.get("converged") else "not converged"
        samples = c.get("convergence_samples") or {}
        if samples.get("runs", 0) > 1:
            conv_s = _conv_cell(samples)
        lines.append(
            f"| {c['preset']} | {c['n']} | {c['system']} | {conv_s} | "
            f"{_spread(_field(dis, 'all'))} | {_spread(_field(dis, 'p50'))} | {got}/{want} |"
        )
    lines += [
        "",
        "## 4. Steady-state cost per node (idle cluster)",
        "",
        "CPU is % of one core from /proc/<pid>/stat over the window (mean over nodes, max in "
        "brackets). `UDP B/s` is what the node itself counted as sent (swimlib "
        "`udp.sent_bytes`, the Go node's wrapped transport, swim-protocol's packer). "
        "`wire B/s` is the loopback interface's bytes divided by N (private network "
        "namespace only): IP/UDP/TCP headers and TCP push/pull included; in brackets UDP + "
        "TCP apart, where iptables could count them. The window starts 2 s after the join, "
        "when TCP is the periodic push/pull: swimlib's first one comes within one interval "
        "of start (docs/architecture.md), memberlist's one to two intervals after start, so "
        "the TCP share here is swimlib's early exchange, not a steady-state difference (both "
        "then make one per node per interval). `health` is the highest Lifeguard health "
        "score at the end of the window (0: no node slowed its probes).",
        "",
        "| preset | N | system | CPU % / node | UDP B/s / node | UDP pkts/s | wire B/s / node "
        "| RSS MiB | false positives (dead/suspect) | health |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in sorted(clusters, key=_sort_key):
        idle = c.get("idle") or {}
        cpu = idle.get("cpu_pct") or {}
        fp = c.get("false_positives") or {}
        lines.append(
            f"| {c['preset']} | {c['n']} | {c['system']} | {_f(idle.get('cpu_pct_mean'))} "
            f"({_f(cpu.get('max'))}) | {_f(idle.get('udp_bytes_per_s_mean'), 0)} | "
            f"{_f(idle.get('udp_packets_per_s_mean'), 1)} | "
            f"{_wire(idle)} | {_f(idle.get('rss_mib_mean'), 1)} "
            f"| {fp.get('dead', '-')}/{fp.get('suspect', '-')} | {_f(idle.get('health_max'), 0)} |"
        )
    return lines


def _by_size(counts: Any) -> str:
    """'N=10: 5, N=30: 3' from a {size: count} mapping (JSON turns the sizes to strings)."""
    items = sorted((counts or {}).items(), key=lambda kv: int(kv[0]))
    return ", ".join(f"N={k}: {v}" for k, v in items)


def _wire(idle: dict[str, Any]) -> str:
    total = _f(idle.get("lo_bytes_per_s_per_node"), 0)
    udp, tcp = idle.get("lo_udp_bytes_per_s_per_node"), idle.get("lo_tcp_bytes_per_s_per_node")
    if udp is None or tcp is None:
        return total
    return f"{total} ({udp:.0f} + {tcp:.0f})"


def throughput_tables(direct: list[dict[str, Any]], bcast: list[dict[str, Any]]) -> list[str]:
    lines = [
        "",
        "## 5. Message throughput (100-byte payloads, LAN preset)",
        "",
        "Direct: one node sends best-effort messages to another at a fixed rate (doubling, "
        "then bisecting); `max lossless` is the highest rate the sender kept up with and the "
        "receiver delivered every message. `flat out` sends as fast as the sender can.",
        "",
        "| system | encrypted | max lossless msg/s | flat-out sent/s | flat-out delivered |",
        "|---|---|---|---|---|",
    ]
    for r in sorted(direct, key=lambda r: (ORDER.index(r["system"]), r["encrypted"])):
        if "error" in r:
            lines.append(f"| {r['system']} | {r['encrypted']} | error: {r['error'][:80]} | | |")
            continue
        flat = r.get("flat_out") or {}
        sent = flat.get("sent") or 0
        got = flat.get("received") or 0
        frac = f"{got}/{sent} ({100 * got / sent:.1f}%)" if sent else "-"
        lines.append(
            f"| {r['system']} | {r['encrypted']} | {_f(r.get('max_lossless_rate'), 0)} | "
            f"{_f(flat.get('send_rate'), 0)} | {frac} |"
        )
    lines += [
        "",
        "Broadcasts: one node of a cluster broadcasts at a fixed rate for the step's duration; "
        "lossless = every other node delivered every broadcast within the drain time.",
        "",
        "| system | encrypted | cluster | max lossless broadcasts/s | first lossy rate |",
        "|---|---|---|---|---|",
    ]
    for r in sorted(bcast, key=lambda r: (ORDER.index(r["system"]), r["encrypted"])):
        if "error" in r:
            lines.append(f"| {r['system']} | {r['encrypted']} | | error: {r['error'][:80]} | |")
            continue
        lines.append(
            f"| {r['system']} | {r['encrypted']} | {r.get('cluster')} | "
            f"{_f(r.get('max_lossless_rate'), 0)} | {_f(r.get('first_lossy_rate'), 0)} |"
        )
    return lines


def largest_table(largest: list[dict[str, Any]]) -> list[str]:
    lines = [
        "",
        "## 6. Largest cluster without false positives (one process per node, LAN preset)",
        "",
        "Nodes join ten a second, each through an already-joined node (retrying failed "
        "joins); then a quiet window. `ok` = no dead verdict about a live node during the "
        "window and every node sees all N. Verdicts while joining are shown separately.",
        "",
        "| system | N | window s | ok | dead verdicts on live nodes (window) | suspicions "
        "(window) | dead/suspect while joining | CPU % / node | CPU % total (200 = both "
        "cores) | convergence s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in largest:
        fp = r.get("false_positives") or {}
        fj = r.get("false_positives_joining") or {}
        conv = r.get("convergence") or {}
        lines.append(
            f"| {r['system']} | {r['n']} | {_f(r.get('window_s'), 0)} | {r.get('ok')} | "
            f"{fp.get('dead', '-')} | {fp.get('suspect', '-')} | "
            f"{fj.get('dead', '-')}/{fj.get('suspect', '-')} | "
            f"{_f(r.get('cpu_pct_per_node_mean'))} | {_f(r.get('cpu_pct_total'), 0)} | "
            f"{_f(conv.get('all'))} |" + (f" {r['error'][:60]}" if r.get("error") else "")
        )
    return lines


def codec_table(codec: dict[str, Any]) -> list[str]:
    lines = ["", "## 7. Codec micro-benchmarks (swimlib.wire, one core)", ""]
    if "error" in codec:
        return [*lines, f"error: {codec['error']}"]
    lines += ["| operation | ops/s | us/op |", "|---|---|---|"]
    for name, v in codec.items():
        if name in ("loadavg_1m", "harness_cpu_s"):
            continue
        if isinstance(v, (int, float)) and v > 0:
            lines.append(f"| {name} | {v:,.0f} | {1e6 / v:.2f} |")
        else:
            lines.append(f"| {name} | {v} | |")
    return lines


def targets(results: dict[str, Any]) -> list[str]:
    """The issue's targets, computed from the same numbers (never adjusted)."""
    lines = [
        "",
        "## Targets",
        "",
        "`met` compares the medians as measured. The interval is a 95% bootstrap interval of the "
        f"ratio of medians ({BOOT_DRAWS:,} resamples of the kills / runs of each system; crude "
        "with 3-5 samples): a **no** whose interval reaches below the limit is within the "
        "sampling noise of this run, one whose interval lies wholly above it is a real gap.",
        "",
        "| target | measured | 95% interval | met |",
        "|---|---|---|---|",
    ]
    by: dict[tuple[str, int, str], dict[str, Any]] = {}
    for c in results.get("clusters", []):
        by[(c.get("preset", ""), c.get("n", 0), c.get("system", ""))] = c
    for (preset, n, system), c in sorted(by.items()):
        if system != "swimlib":
            continue
        go = by.get((preset, n, "memberlist"))
        if go is None:
            continue
        rows: list[tuple[str, Callable[[dict[str, Any]], list[float]], bool, float]] = [
            ("detection (all dead) <= 1.1x memberlist", _detection_samples, True, 1.1),
            ("convergence <= 1.1x memberlist", _convergence_samples, True, 1.1),
            ("idle CPU <= 2x memberlist", _idle_cpu, False, 2.0),
        ]
        for what, samples, interval, limit in rows:
            label = f"{what} ({preset}, N={n})"
            lines.append(_ratio_row(label, samples(c), samples(go), interval, limit))
    for r in results.get("direct", []):
        if r.get("system") == "swimlib" and "max_lossless_rate" in r:
            rate = r["max_lossless_rate"]
            enc = "encrypted" if r.get("encrypted") else "plaintext"
            ok = "yes" if rate >= 4000 else "**no**"
            lines.append(f"| direct messages &ge; 4,000/s ({enc}) | {rate:,.0f}/s | - | {ok} |")
    sizes = [r["n"] for r in results.get("largest", []) if r.get("system") == "swimlib"]
    ok_sizes = [
        r["n"] for r in results.get("largest", []) if r.get("system") == "swimlib" and r.get("ok")
    ]
    if sizes:
        best = max(ok_sizes) if ok_sizes else 0
        met = "yes" if best >= 100 else "**no**"
        lines.append(f"| 100-node cluster, zero false positives | largest ok: {best} | - | {met} |")
    return lines


BOOT_DRAWS = 2000


def _detection_samples(cell: dict[str, Any]) -> list[float]:
    return _field(cell.get("detection") or [], "all")


def _convergence_samples(cell: dict[str, Any]) -> list[float]:
    """Every convergence run; a censored one as +inf (slower than every finished run).
    Older results, and cells with one run: the single run."""
    samples = cell.get("convergence_samples") or {}
    if samples.get("runs", 0) > 1:
        done = [float(v) for v in samples.get("values") or []]
        return done + [math.inf] * int(samples.get("censored", 0))
    v = (cell.get("convergence") or {}).get("all")
    return [float(v)] if v is not None else []


def _idle_cpu(cell: dict[str, Any]) -> list[float]:
    v = (cell.get("idle") or {}).get("cpu_pct_mean")
    return [float(v)] if v is not None else []


def _ratio(a: float, b: float) -> float:
    if math.isinf(a) and math.isinf(b):
        return 1.0  # neither finished within the cap: no difference to see
    return math.inf if b <= 0 else a / b


def ratio_interval(
    ours: list[float], theirs: list[float], draws: int = BOOT_DRAWS
) -> tuple[float, float] | None:
    """95% percentile-bootstrap interval of median(ours) / median(theirs); seeded."""
    if len(ours) < 2 or len(theirs) < 2:
        return None
    rng = random.Random(1)
    ratios = sorted(
        _ratio(
            statistics.median(rng.choices(ours, k=len(ours))),
            statistics.median(rng.choices(theirs, k=len(theirs))),
        )
        for _ in range(draws)
    )
    return ratios[int(0.025 * draws)], ratios[int(0.975 * draws) - 1]


def _ratio_row(
    label: str, ours: list[float], theirs: list[float], interval: bool, limit: float
) -> str:
    if not ours or not theirs:
        return f"| {label} | - | - | - |"
    a, b = statistics.median(ours), statistics.median(theirs)
    ratio = _ratio(a, b)
    ok = "yes" if ratio <= limit else "**no**"
    ci = ratio_interval(ours, theirs) if interval else None
    ci_s = f"{_x(ci[0])}-{_x(ci[1])}" if ci else "-"
    return f"| {label} | {_secs(a)} vs {_secs(b)} = {_x(ratio)} | {ci_s} | {ok} |"


def _x(r: float) -> str:
    return "&infin;" if math.isinf(r) else f"{r:.2f}x"


def _secs(v: float) -> str:
    return "&gt;cap" if math.isinf(v) else f"{v:.2f}"


def _convergence_values(cell: dict[str, Any]) -> list[float]:
    """:func:`_convergence_samples` for the plots: censored runs drawn at the cap."""
    cap = float((cell.get("convergence_samples") or {}).get("cap", 0.0))
    return [cap if math.isinf(v) else v for v in _convergence_samples(cell)]


def _conv_cell(samples: dict[str, Any]) -> str:
    runs, censored = int(samples["runs"]), int(samples.get("censored", 0))
    above = samples.get("median_above_cap")
    med_s = f"&gt;{samples['cap']:.0f}" if above else f"{float(samples['median']):.2f}"
    lo, hi = samples.get("min"), samples.get("max")
    spread = f" ({lo:.2f}-{hi:.2f}{'+' if censored else ''})" if lo is not None else ""
    return f"{med_s}{spread}, {runs} runs, slow {samples.get('slow', 0)}"


def markdown(results: dict[str, Any]) -> str:
    meta = results.get("meta", {})
    st = meta.get("settings", {})
    kills_by_size = f" ({_by_size(st['reps_by_size'])})" if st.get("reps_by_size") else ""
    lines = [
        "# swimlib benchmarks",
        "",
        f"Command: `{meta.get('command', '').strip()}` — mode **{meta.get('mode')}**, "
        f"started {meta.get('started')}, took {meta.get('duration_s')} s on {meta.get('cpus')} "
        f"CPUs; private network namespace: {meta.get('netns')}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in (meta.get("versions") or {}).items()) + ".",
        "",
        f"Settings: presets {st.get('presets')}, sizes {st.get('sizes')} (alternatives "
        f"{st.get('alt_sizes')}), {st.get('reps')} kills{kills_by_size} and "
        f"{st.get('bcast_reps')} broadcasts per cluster, convergence runs per cell "
        f"{_by_size(st.get('conv_reps')) or 1} (extra runs capped at {st.get('conv_cap')} s), "
        f"idle window {st.get('idle_window')} s, largest-cluster window "
        f"{st.get('largest_window')} s. Every node is its own OS process on 127.0.0.1; every "
        "system runs memberlist's preset values (LAN: probe 1 s / 500 ms, suspicion mult 4, "
        "gossip 200 ms; Local: probe 1 s / 200 ms, mult 3, gossip 100 ms).",
        "",
        "### Systems",
        "",
    ]
    for name, s in (results.get("systems") or {}).items():
        state = "ran" if s.get("available") else f"**not run**: {s.get('unavailable')}"
        notes = " ".join(s.get("notes") or [])
        lines.append(f"* **{name}** — {state}. {notes}")
    lines.append("")
    lines += targets(results)
    lines.append("")
    lines += cluster_tables(results.get("clusters", []))
    lines += throughput_tables(results.get("direct", []), results.get("broadcast", []))
    if results.get("largest"):
        lines += largest_table(results["largest"])
        if meta.get("largest_note"):
            lines += ["", f"Note: {meta['largest_note']}"]
    if results.get("codec"):
        lines += codec_table(results["codec"])
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots


def make_plots(results: dict[str, Any], out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: list[str] = []
    clusters = [c for c in results.get("clusters", []) if "error" not in c]
    presets = sorted({c["preset"] for c in clusters})
    metrics: list[tuple[str, str, Callable[[dict[str, Any]], list[float]]]] = [
        ("detection", "s until all survivors say dead",
         lambda c: _field(c.get("detection") or [], "all")),
        ("convergence", "s until every node sees N", _convergence_values),
        ("dissemination", "s until all nodes have it",
         lambda c: _field(c.get("dissemination") or [], "all")),
        ("idle_cpu", "CPU % of one core per node",
         lambda c: (c.get("idle") or {}).get("cpu_pct", {}).get("values") or []),
        ("idle_bytes", "UDP bytes/s sent per node",
         lambda c: (c.get("idle") or {}).get("udp_bytes_per_s", {}).get("values") or []),
    ]  # fmt: skip
    for key, ylabel, get in metrics:
        if not presets:
            break
        fig, axes = plt.subplots(1, len(presets), figsize=(5.5 * len(presets), 4), squeeze=False)
        for ax, preset in zip(axes[0], presets, strict=True):
            for system in ORDER:
                rows = sorted(
                    (c for c in clusters if c["system"] == system and c["preset"] == preset),
                    key=lambda c: c["n"],
                )
                pts = [(c["n"], get(c)) for c in rows]
                pts = [(n, v) for n, v in pts if v]
                if not pts:
                    continue
                shift = 0.006 * (ORDER.index(system) - 1.5)  # keep equal points apart
                xs = [n * (1 + shift) for n, _ in pts]
                center = statistics.fmean if key.startswith("idle") else statistics.median
                med = [center(v) for _, v in pts]
                lo = [m - min(v) for m, (_, v) in zip(med, pts, strict=True)]
                hi = [max(v) - m for m, (_, v) in zip(med, pts, strict=True)]
                ax.errorbar(xs, med, yerr=[lo, hi], marker="o", capsize=3, label=system)
            ax.set_title(f"{key} — {preset} preset")
            ax.set_xlabel("cluster size N")
            ax.set_xticks(sorted({c["n"] for c in clusters if c["preset"] == preset}))
            ax.set_ylabel(ylabel)
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        name = f"{key}.png"
        fig.savefig(out_dir / name, dpi=90)
        plt.close(fig)
        made.append(name)
    direct = [r for r in results.get("direct", []) if "max_lossless_rate" in r]
    bcast = [r for r in results.get("broadcast", []) if "max_lossless_rate" in r]
    if direct or bcast:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), squeeze=False)
        for ax, rows, title in (
            (axes[0][0], direct, "direct messages/s, no loss"),
            (axes[0][1], bcast, "broadcasts/s, no loss"),
        ):
            labels = [f"{r['system']}\n{'enc' if r['encrypted'] else 'plain'}" for r in rows]
            ax.bar(labels, [r["max_lossless_rate"] for r in rows], color="tab:blue")
            ax.set_title(title + " (100-byte payloads)")
            ax.grid(axis="y", alpha=0.3)
            if rows is direct:
                ax.axhline(4000, color="tab:red", ls="--", lw=1, label="target 4,000/s")
                ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "throughput.png", dpi=90)
        plt.close(fig)
        made.append("throughput.png")
    return made


def write(results: dict[str, Any], out_dir: Path, plots: bool = True, log: Any = print) -> None:
    """Write results.md and, if matplotlib is importable, the PNG plots."""
    md = markdown(results)
    made: list[str] = []
    if plots:
        try:
            made = make_plots(results, out_dir)
        except ImportError:
            log("matplotlib is not installed: no plots")
    if made:
        md += "\n## Plots\n\n" + "\n".join(f"![{m}]({m})" for m in made) + "\n"
    (out_dir / "results.md").write_text(md)
    log(f"wrote {out_dir / 'results.md'} and {len(made)} plots")


def main() -> None:
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results")
    results = json.loads((out_dir / "results.json").read_text())
    write(results, out_dir)


if __name__ == "__main__":
    main()
