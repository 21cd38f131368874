"""Smoke test of the benchmark suite: ``python3 -m bench --quick`` runs and produces numbers.

swimlib only (no Go build, no pip install), so it fits in well under a minute; the full
comparison with memberlist and the Python alternatives is ``python3 -m bench``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_mode_runs_and_produces_numbers(tmp_path: Path) -> None:
    out = tmp_path / "results"
    argv = ["--quick", "--no-install", "--no-plots", "--systems", "swimlib", "--out", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "bench", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert (out / "results.md").read_text().startswith("# swimlib benchmarks")

    (cluster,) = results["clusters"]
    assert "error" not in cluster, cluster
    assert cluster["convergence"]["converged"]
    assert cluster["convergence"]["all"] > 0
    assert cluster["idle"]["cpu_pct_mean"] >= 0
    assert cluster["idle"]["udp_bytes_per_s_mean"] > 0
    assert all(d["all"] is not None for d in cluster["dissemination"])
    (kill,) = cluster["detection"]
    assert 0 < kill["first"] <= kill["all"]

    (direct,) = results["direct"]
    assert direct["max_lossless_rate"] > 0, direct
    (bcast,) = results["broadcast"]
    assert bcast["ladder"] and bcast["ladder"][0]["sent"] > 0, bcast
    codec = results["codec"]
    numbers = [v for v in codec.values() if isinstance(v, int) and v > 0]
    assert len(numbers) >= 10, codec
