"""The simulator's profiling tools (``python3 -m studies.sim_profile``, formerly
``swimlib.sim.bench`` and the simulator CLI's ``--memory`` / ``--profile``)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

from studies.sim_profile import largest_n, memory_per_entry
from studies.sim_profile.__main__ import main


def test_memory_measurement_smoke() -> None:
    res = memory_per_entry((20, 40))
    assert res["fit_bytes_per_entry"] > 50
    assert largest_n(0.0, 100.0, 1e6) == 100


def _run(argv: list[str]) -> str:
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(argv) == 0
    return buf.getvalue()


def test_memory_command_prints_the_fit() -> None:
    res = json.loads(_run(["memory", "20", "40"]))
    assert res["traced_bytes"].keys() == {"20", "40"} and res["largest_n_in_budget"] > 0


def test_profile_adds_hot_spots_to_the_simulator_output() -> None:
    sim = ["--scenario", "crash", "--nodes", "10", "--seconds", "25"]
    out = json.loads(_run(["profile", "--top", "20", *sim, "--json"]))
    assert out["detection"]["undetected_pairs"] == 0
    top = out["profile_top"]
    assert len(top) == 20 and any(r["in_core_or_wire"] for r in top)
    text = _run(["profile", *sim])
    assert "trace digest" in text and "swimlib/core/" in text
