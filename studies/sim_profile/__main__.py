"""``python3 -m studies.sim_profile``: memory per member entry, or a profiled simulator run.

``memory [N1 N2]`` prints the tracemalloc fit (what ``python -m swimlib.sim --memory`` did);
``profile SIM-ARGS...`` runs ``python -m swimlib.sim SIM-ARGS...`` under cProfile and adds
the hot spots to its output (what ``--profile`` did): a ``profile_top`` list with ``--json``,
otherwise a ranked table after the simulator's own, ``*`` marking swimlib/core and wire.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
from contextlib import redirect_stdout
from typing import Any

from studies.sim_profile.measure import memory_per_entry, profile_call
from swimlib.sim.__main__ import main as sim_main
from swimlib.sim.lifeguard import PRESETS

PROG = "python3 -m studies.sim_profile"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description="Profile the swimlib simulator.")
    sub = ap.add_subparsers(dest="command", required=True)
    mem = sub.add_parser("memory", help="bytes per member entry at two sizes")
    mem.add_argument("sizes", nargs="*", type=int, metavar="N", help="default 200 500")
    mem.add_argument("--config", choices=sorted(PRESETS), default="lan", help="preset")
    mem.add_argument("--merge-bootstrap", action="store_true", help="join via push/pull merges")
    prof = sub.add_parser(
        "profile",
        help="a python -m swimlib.sim run under cProfile",
        description="Other options are passed to python -m swimlib.sim.",
    )
    prof.add_argument("--top", type=int, default=25, help="hot spots to keep (table shows 15)")
    return ap


def _memory(a: argparse.Namespace) -> int:
    """The tracemalloc fit, printed as JSON."""
    logger = logging.getLogger("swimlib")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        sizes = tuple(a.sizes) if a.sizes else (200, 500)
        res = memory_per_entry(sizes, preset=a.config, fast=not a.merge_bootstrap)
    finally:
        logger.setLevel(level)
    print(json.dumps(res, indent=2))
    return 0


def _hot_table(rows: list[dict[str, Any]]) -> str:
    """The 15 hottest functions by own time; ``*`` marks swimlib/core and swimlib/wire."""
    lines = []
    for r in rows[:15]:
        mark = "*" if r["in_core_or_wire"] else " "
        lines.append(
            f"{mark} {r['own_pct']:5.1f}% {r['own_s']:8.3f}s {r['calls']:>9}  {r['function']}"
        )
    return "\n".join(lines)


def _profile(a: argparse.Namespace, args: list[str]) -> int:
    """Run the simulator CLI under cProfile and append its hot spots to what it printed."""
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc, rows = profile_call(lambda: sim_main(args), a.top)
    if "--json" in args:
        out = json.loads(buf.getvalue())
        out["profile_top"] = rows
        print(json.dumps(out, indent=2))
    else:
        print(buf.getvalue() + _hot_table(rows))
    return int(rc)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to ``memory`` or ``profile`` (whose unknown options go to the simulator)."""
    ap = _parser()
    a, rest = ap.parse_known_args(argv)
    if a.command == "profile":
        return _profile(a, [x for x in rest if x != "--"])
    if rest:
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
    return _memory(a)


if __name__ == "__main__":
    sys.exit(main())
