"""How convergence samples are summarised and targets compared: censored runs count as slow,
and the ratio's bootstrap interval is reported beside the point estimate."""

from __future__ import annotations

import math
import statistics
from typing import Any

from bench import report
from bench.scenarios import convergence_summary


def run(seconds: float | None) -> dict[str, Any]:
    return {"converged": seconds is not None, "all": seconds}


def cell(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"convergence_samples": convergence_summary(runs, cap=8.0)}


def conv_median(c: dict[str, Any]) -> float:
    return statistics.median(report._convergence_samples(c))


def test_finished_runs_give_their_median_and_slow_count() -> None:
    s = convergence_summary([run(0.1), run(0.2), run(4.0)], cap=8.0)
    assert s["median"] == 0.2
    assert (s["runs"], s["censored"], s["slow"]) == (3, 0, 1)
    assert conv_median({"convergence_samples": s}) == 0.2


def test_censored_runs_count_as_slower_than_every_finished_one() -> None:
    c = cell([run(0.1), run(None), run(None), run(0.3)])
    # sorted: 0.1, 0.3, inf, inf -> median is (0.3 + inf) / 2 = inf, above the cap
    assert conv_median(c) == math.inf
    assert c["convergence_samples"]["median_above_cap"]
    assert report._conv_cell(c["convergence_samples"]).startswith("&gt;8")
    c = cell([run(0.1), run(None), run(0.2), run(0.3), run(0.4)])
    assert conv_median(c) == 0.3  # not 0.25, the median of the finished runs only
    assert c["convergence_samples"]["median"] == 0.3
    assert c["convergence_samples"]["slow"] == 1
    assert report._convergence_values(c) == [0.1, 0.2, 0.3, 0.4, 8.0]  # plots: at the cap


def test_a_censored_median_fails_the_target() -> None:
    ours = report._convergence_samples(cell([run(None), run(None), run(0.1)]))
    theirs = report._convergence_samples(cell([run(0.1), run(0.1), run(0.1)]))
    row = report._ratio_row("convergence", ours, theirs, True, 1.1)
    assert row.endswith("**no** |") and "&gt;cap vs 0.10" in row


def test_ratio_interval_brackets_the_ratio_and_shrinks_with_agreeing_samples() -> None:
    same = [5.0, 5.1, 5.2, 5.3, 5.4]
    lo, hi = report.ratio_interval(same, same) or (0.0, 0.0)
    assert lo < 1.0 < hi and hi - lo < 0.15
    slower = [v * 1.5 for v in same]
    lo, hi = report.ratio_interval(slower, same) or (0.0, 0.0)
    assert 1.1 < lo <= 1.5 <= hi
    noisy = [4.0, 5.0, 6.0, 9.0, 12.0]
    lo, hi = report.ratio_interval(noisy, same) or (0.0, 0.0)
    assert lo < 1.0 and hi > 1.5  # few, scattered samples: a wide interval
    assert report.ratio_interval([5.0], same) is None  # one sample: no interval
    row = report._ratio_row("detection", slower, same, True, 1.1)
    assert "= 1.50x" in row and row.endswith("**no** |")
