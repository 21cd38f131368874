"""``python3 -m studies.failure_detection``: run the study and write the document and figures.

Checks for matplotlib before running anything, so a missing package costs a second, not a
40-minute study whose figures then fail.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from studies.failure_detection.document import render
from studies.failure_detection.grid import Plan, plan
from studies.failure_detection.plots import MissingMatplotlib, plot, require_matplotlib
from studies.failure_detection.summary import summarize_study
from studies.failure_detection.workers import run_plan

__all__ = ["main"]

PROG = "python3 -m studies.failure_detection"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=PROG,
        description="The failure-detection study behind docs/failure-detection.md.",
        epilog="The figures need matplotlib: python3 -m pip install -r studies/requirements.txt",
    )
    ap.add_argument("--quick", action="store_true", help="tiny clusters, seconds not minutes")
    ap.add_argument("--out", default="docs", help="document folder (figures go in OUT/img)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes; 0: in this process")
    ap.add_argument("--big", type=int, default=3000, help="largest N actually simulated")
    ap.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    ap.add_argument(
        "--from-json", metavar="PATH", help="re-render tables and figures from a study.json"
    )
    return ap


def _raw(a: argparse.Namespace, p: Plan, img: Path) -> dict[str, Any]:
    """The raw results: read from ``--from-json``, or run the grid and write study.json."""
    if a.from_json:
        raw: dict[str, Any] = json.loads(Path(a.from_json).read_text())
        return raw
    raw = run_plan(p, a.jobs, log=sys.stderr)
    raw["plan"] = {"quick": p.quick, "big": p.big, "jobs": a.jobs}
    (img / "study.json").write_text(json.dumps(raw, indent=1, sort_keys=True) + "\n")
    return raw


def main(argv: list[str] | None = None) -> int:
    """Run (or re-render) the study; 2 if figures are wanted and matplotlib is missing."""
    a = _parser().parse_args(argv)
    if not a.no_plots:
        try:
            require_matplotlib()
        except MissingMatplotlib as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return 2
    out = Path(a.out)
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    p = plan(a.quick, a.big)
    command = f"{PROG} --quick" if a.quick else PROG
    raw = _raw(a, p, img)
    summary = summarize_study(raw, p.big)
    if not a.no_plots:
        plot(summary, img)
    (out / "failure-detection.md").write_text(render(summary, raw, p, command))
    print(f"wrote {out / 'failure-detection.md'} and {img}/ in {raw['wall_seconds']:.0f} s wall")
    return 0
