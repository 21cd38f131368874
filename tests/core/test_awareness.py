"""Local health score: clamping and timeout scaling (``awareness.go``)."""

from __future__ import annotations

import pytest

from swimlib.core.awareness import Awareness


def test_starts_healthy() -> None:
    a = Awareness(8)
    assert a.score == 0
    assert a.max_multiplier == 8
    assert a.scale_timeout(1.0) == 1.0


def test_go_table() -> None:
    # memberlist's TestAwareness: (delta, score after, ScaleTimeout(1s) after)
    cases = [
        (0, 0, 1.0),
        (-1, 0, 1.0),
        (-10, 0, 1.0),
        (1, 1, 2.0),
        (-1, 0, 1.0),
        (10, 7, 8.0),
        (-1, 6, 7.0),
        (-1, 5, 6.0),
        (-1, 4, 5.0),
        (-1, 3, 4.0),
        (-1, 2, 3.0),
        (-1, 1, 2.0),
        (-1, 0, 1.0),
        (-1, 0, 1.0),
    ]
    a = Awareness(8)
    for delta, score, timeout in cases:
        assert a.apply_delta(delta) == score
        assert a.score == score
        assert a.scale_timeout(1.0) == timeout


def test_clamps_at_both_ends() -> None:
    a = Awareness(3)
    assert a.apply_delta(2) == 2
    assert a.apply_delta(1) == 2
    assert a.scale_timeout(0.5) == 1.5
    assert a.apply_delta(-5) == 0


def test_max_one_never_scales() -> None:
    a = Awareness(1)
    assert a.apply_delta(5) == 0
    assert a.scale_timeout(2.0) == 2.0


def test_rejects_max_below_one() -> None:
    with pytest.raises(ValueError):
        Awareness(0)


def test_repr() -> None:
    assert repr(Awareness(8)) == "Awareness(score=0, max_multiplier=8)"
