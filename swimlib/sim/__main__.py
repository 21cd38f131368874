"""``python -m swimlib.sim``: run a scenario on a simulated cluster and print its figures.

Owns argument parsing, the JSON / human-table output, and the only wall-clock reads in the
simulator package: elapsed time and events per second, for reporting speed. The simulation
itself never sees the wall clock. ``--compare-lifeguard`` runs the same seed with and without
Lifeguard. Profiling (cProfile hot spots, bytes per member entry) is not part of the package:
see ``python3 -m studies.sim_profile`` in the repository.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from typing import Any

from swimlib.sim.lifeguard import PRESETS
from swimlib.sim.scenarios import SCENARIOS, ScenarioParams, run_scenario


def _parser() -> argparse.ArgumentParser:
    d = ScenarioParams()
    ap = argparse.ArgumentParser(
        prog="python -m swimlib.sim",
        description="Deterministic simulation of a swimlib (memberlist-compatible) cluster.",
    )
    ap.add_argument("--scenario", choices=sorted(SCENARIOS), default=d.scenario)
    ap.add_argument("--nodes", type=int, default=d.nodes)
    ap.add_argument("--seconds", type=float, default=d.seconds, help="virtual seconds to run")
    ap.add_argument("--loss", type=float, default=d.loss, help="datagram loss probability")
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--config", choices=sorted(PRESETS), default=d.preset, help="preset")
    ap.add_argument("--no-lifeguard", action="store_true", help="turn Lifeguard off")
    ap.add_argument("--compare-lifeguard", action="store_true", help="run with and without")
    ap.add_argument("--json", action="store_true", help="print the full JSON summary")
    ap.add_argument("--latency-ms", type=float, default=d.latency * 1000)
    ap.add_argument("--jitter-ms", type=float, default=d.jitter * 1000)
    ap.add_argument("--duplicate", type=float, default=d.duplicate, help="duplication prob.")
    ap.add_argument("--compress", action="store_true", help="LZW every datagram (slow)")
    ap.add_argument("--encode-streams", action="store_true", help="push/pull through codec")
    ap.add_argument("--merge-bootstrap", action="store_true", help="join via push/pull merges")
    ap.add_argument("--crash-count", type=int, default=d.crash_count)
    ap.add_argument("--crash-at", type=float, default=d.crash_at)
    ap.add_argument("--join-window", type=float, default=d.join_window)
    ap.add_argument("--no-rebroadcast", action="store_true", help="broadcast: no Serf relay")
    ap.add_argument("--pause-count", type=int, default=d.pause_count)
    ap.add_argument("--pause-seconds", type=float, default=d.pause_seconds)
    ap.add_argument("--pause-at", type=float, default=d.pause_at)
    ap.add_argument("--pause-spread", type=float, default=d.pause_spread)
    ap.add_argument("--slow-count", type=int, default=d.slow_count)
    ap.add_argument("--slow-delay", type=float, default=d.slow_delay)
    ap.add_argument("--slow-seconds", type=float, default=d.slow_seconds)
    ap.add_argument("--partition-at", type=float, default=d.partition_at)
    ap.add_argument("--partition-seconds", type=float, default=d.partition_seconds)
    ap.add_argument("--partition-fraction", type=float, default=d.partition_fraction)
    ap.add_argument("--reconnect", type=float, default=None, help="Serf reconnect period")
    ap.add_argument("--verbose", action="store_true", help="show the core's log warnings")
    return ap


def _params(a: argparse.Namespace) -> ScenarioParams:
    return ScenarioParams(
        scenario=a.scenario,
        nodes=a.nodes,
        seconds=a.seconds,
        loss=a.loss,
        seed=a.seed,
        lifeguard=not a.no_lifeguard,
        preset=a.config,
        latency=a.latency_ms / 1000.0,
        jitter=a.jitter_ms / 1000.0,
        duplicate=a.duplicate,
        compress=a.compress,
        encode_streams=a.encode_streams,
        fast_bootstrap=not a.merge_bootstrap,
        crash_count=a.crash_count,
        crash_at=a.crash_at,
        join_window=a.join_window,
        rebroadcast=not a.no_rebroadcast,
        pause_count=a.pause_count,
        pause_seconds=a.pause_seconds,
        pause_at=a.pause_at,
        pause_spread=a.pause_spread,
        slow_count=a.slow_count,
        slow_delay=a.slow_delay,
        slow_seconds=a.slow_seconds,
        partition_at=a.partition_at,
        partition_seconds=a.partition_seconds,
        partition_fraction=a.partition_fraction,
        reconnect=a.reconnect,
    )


def _timed(p: ScenarioParams) -> dict[str, Any]:
    started = time.perf_counter()
    cpu_started = time.process_time()
    out = run_scenario(p)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    events = out["sim_events"]
    out["speed"] = {
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "events_per_cpu_second": round(events / cpu) if cpu > 0 else None,
        "events_per_second": round(events / wall) if wall > 0 else None,
        "virtual_to_wall": round(out["virtual_seconds"] / wall, 3) if wall > 0 else None,
    }
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, dict) and "median" in v:
        return (
            f"n={v['count']} min={v['min']:.3f} med={v['median']:.3f} "
            f"p99={v['p99']:.3f} max={v['max']:.3f}"
        )
    if isinstance(v, dict) and v.get("count") == 0:
        return "n=0"
    return str(v)


def _table(out: dict[str, Any]) -> str:
    p = out["params"]
    rows: list[tuple[str, Any]] = [
        ("scenario", p["scenario"]),
        ("nodes / preset / lifeguard", f"{p['nodes']} / {p['preset']} / {p['lifeguard']}"),
        ("loss / seed", f"{p['loss']} / {p['seed']}"),
        ("virtual seconds", out["virtual_seconds"]),
        ("trace digest", out["digest"]),
        (
            "packets sent / bytes",
            f"{out['traffic']['packets_sent']} / {out['traffic']['bytes_sent']}",
        ),
        (
            "push/pull ok / failed",
            f"{out['traffic']['push_pull_ok']} / {out['traffic']['push_pull_failed']}",
        ),
        ("false dead declarations", out["false_positives"]["dead_declarations"]),
        ("  distinct nodes", out["false_positives"]["distinct_nodes_declared_dead"]),
        ("suspicions of healthy nodes", out["false_positives"]["suspicions"]),
        ("  about paused/slow nodes", out["false_positives"]["suspicions_about_impaired_nodes"]),
        ("max health score", out["health_score"]["max"]),
    ]
    if "detection" in out:
        det = out["detection"]
        rows += [
            ("crashed / undetected pairs", f"{det['crashed']} / {det['undetected_pairs']}"),
            ("first detection (s)", det["first_detection"]),
            ("last detection (s)", det["last_detection"]),
            ("all detections (s)", det["all_detections"]),
        ]
    if "join" in out:
        rows += [(f"join: {k}", v) for k, v in out["join"].items()]
    if "broadcast" in out:
        b = out["broadcast"]
        rows += [
            ("broadcast reached / wanted", f"{b['reached']} / {b['wanted']}"),
            ("broadcast latency (s)", b["latency"]),
            ("all reached after (s)", b["all_reached_after"]),
        ]
    if "impaired" in out:
        rows += [(f"impaired: {k}", v) for k, v in out["impaired"].items()]
    if "partition" in out:
        rows += [
            (f"partition: {k}", v) for k, v in out["partition"].items() if k != "alive_view_at_end"
        ]
    if "speed" in out:
        s = out["speed"]
        rows += [
            ("wall / cpu seconds", f"{s['wall_seconds']} / {s['cpu_seconds']}"),
            ("events / wall second", s["events_per_second"]),
        ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {_fmt(v)}" for k, v in rows)


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    logger = logging.getLogger("swimlib")
    level = logger.level
    if not a.verbose:
        # Refutation and suspicion warnings are the expected output of most scenarios.
        logger.setLevel(logging.ERROR)
    try:
        return _run(a)
    finally:
        logger.setLevel(level)


def _run(a: argparse.Namespace) -> int:
    p = _params(a)
    if a.compare_lifeguard:
        runs = {
            "lifeguard": _timed(replace(p, lifeguard=True)),
            "no_lifeguard": _timed(replace(p, lifeguard=False)),
        }
        if a.json:
            print(json.dumps(runs, indent=2))
        else:
            for label, out in runs.items():
                print(f"--- {label}")
                print(_table(out))
        return 0
    out = _timed(p)
    print(json.dumps(out, indent=2) if a.json else _table(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
