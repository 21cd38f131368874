"""The failure-detection study driver (``python3 -m studies.failure_detection``) at toy sizes.

Runs ``--quick`` in this process without figures (a few seconds), and checks that a study cell
is the same simulation as the CLI scenario with the same parameters (same trace digest), so the
study's numbers can be replayed with ``python -m swimlib.sim``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from studies.failure_detection import Cell, main, run_cell
from swimlib.sim.scenarios import ScenarioParams, run_scenario


def test_quick_study_writes_document_and_json(tmp_path: Path) -> None:
    assert main(["--quick", "--out", str(tmp_path), "--jobs", "0", "--no-plots"]) == 0
    doc = (tmp_path / "failure-detection.md").read_text()
    raw = json.loads((tmp_path / "img" / "study.json").read_text())
    assert "## False positives" in doc and "## Detection latency" in doc
    assert "| slow nodes, 15 s | 20 |" in doc
    assert "0 in " in doc  # zero counts carry their node-hours
    sections = {r["cell"]["section"] for r in raw["results"]}
    assert sections == {"fp", "fp_udp", "detect", "spread", "speed"}
    detect = [r for r in raw["results"] if "detection" in r]
    assert detect and all(v["missing"] == 0 for r in detect for v in r["detection"]["victims"])
    assert raw["memory"]["fit_bytes_per_entry"] > 0


def test_cells_replay_the_cli_scenarios() -> None:
    crash = run_cell(Cell("detect", "", 20, 15.0, seed=3, crash_count=2, crash_at=4.0))
    p = ScenarioParams(scenario="crash", nodes=20, seconds=15.0, seed=3, crash_count=2, crash_at=4)
    assert crash["digest"] == run_scenario(p)["digest"]
    cell = Cell(
        "fp",
        "slow2",
        20,
        15.0,
        seed=2,
        lifeguard=False,
        slow_count=2,
        slow_delay=2.0,
        slow_seconds=5.0,
        impair_from=3.0,
        impair_until=6.0,
    )
    p = ScenarioParams(
        scenario="slow",
        nodes=20,
        seconds=15.0,
        seed=2,
        lifeguard=False,
        slow_count=2,
        slow_delay=2.0,
        slow_seconds=5.0,
        pause_at=3.0,
        pause_spread=3.0,
    )
    assert run_cell(cell)["digest"] == run_scenario(p)["digest"]


def test_missing_matplotlib_is_one_message_not_an_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now raises ImportError
    assert main(["--quick", "--out", str(tmp_path), "--jobs", "0"]) == 2
    err = capsys.readouterr().err
    assert "python3 -m pip install matplotlib" in err and "--no-plots" in err
    assert not (tmp_path / "failure-detection.md").exists()  # failed before running anything
