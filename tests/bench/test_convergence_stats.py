"""How convergence samples are summarised and compared: censored runs must count as slow."""

from __future__ import annotations

import math
from typing import Any

from bench import report
from bench.scenarios import convergence_summary


def run(seconds: float | None) -> dict[str, Any]:
    return {"converged": seconds is not None, "all": seconds}


def cell(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"convergence_samples": convergence_summary(runs, cap=8.0)}


def test_finished_runs_give_their_median_and_slow_count() -> None:
    s = convergence_summary([run(0.1), run(0.2), run(4.0)], cap=8.0)
    assert s["median"] == 0.2
    assert (s["runs"], s["censored"], s["slow"]) == (3, 0, 1)
    assert report._convergence({"convergence_samples": s}) == 0.2


def test_censored_runs_count_as_slower_than_every_finished_one() -> None:
    c = cell([run(0.1), run(None), run(None), run(0.3)])
    # sorted: 0.1, 0.3, inf, inf -> median is (0.3 + inf) / 2 = inf, above the cap
    assert report._convergence(c) == math.inf
    assert report._conv_cell(c["convergence_samples"]).startswith("&gt;8")
    c = cell([run(0.1), run(None), run(0.2), run(0.3), run(0.4)])
    assert report._convergence(c) == 0.3  # not 0.25, the median of the finished runs only
    assert c["convergence_samples"]["slow"] == 1
    assert report._convergence_values(c) == [0.1, 0.2, 0.3, 0.4, 8.0]


def test_a_censored_median_fails_the_target() -> None:
    ours = cell([run(None), run(None), run(0.1)])
    theirs = cell([run(0.1), run(0.1), run(0.1)])
    row = report._ratio_row("convergence", report._convergence, ours, theirs, 1.1)
    assert row.endswith("**no** |")
