"""Scaling formulas against values worked out from memberlist's definitions (``util.go``)."""

from __future__ import annotations

import pytest

from swimlib.core.formulas import (
    push_pull_scale,
    retransmit_limit,
    seconds_to_ns,
    suspicion_confirmations_wanted,
    suspicion_timeout,
)


@pytest.mark.parametrize(
    ("mult", "n", "expected"),
    [
        # mult * ceil(log10(n + 1))
        (4, 1, 4),
        (4, 9, 4),
        (4, 10, 8),
        (4, 99, 8),
        (4, 100, 12),
        (4, 999, 12),
        (4, 1000, 16),
        (2, 1, 2),
        (2, 2, 2),  # Local config, two nodes: the same gossip packet is seen twice [spec 5.6]
        (2, 9, 2),
        (2, 10, 4),
        (2, 99, 4),
        (2, 100, 6),
        # memberlist's own TestRetransmitLimit
        (3, 0, 0),
        (3, 1, 3),
        (3, 99, 6),
    ],
)
def test_retransmit_limit(mult: int, n: int, expected: int) -> None:
    assert retransmit_limit(mult, n) == expected


def test_retransmit_limit_negative_n_is_zero() -> None:
    assert retransmit_limit(4, -5) == 0


@pytest.mark.parametrize(
    ("n", "expected"),
    [(-3, 4.0), (0, 4.0), (1, 4.0), (2, 4.0), (10, 4.0), (100, 8.0), (1000, 12.0)],
)
def test_suspicion_timeout_lan(n: int, expected: float) -> None:
    assert suspicion_timeout(4, n, 1.0) == expected


@pytest.mark.parametrize(
    ("n", "expected_ms"),
    # memberlist's TestSuspicionTimeout: suspicionTimeout(3, n, 1s) / 3
    [(5, 1000), (10, 1000), (50, 1698), (100, 2000), (500, 2698), (1000, 3000)],
)
def test_suspicion_timeout_go_table(n: int, expected_ms: int) -> None:
    assert seconds_to_ns(suspicion_timeout(3, n, 1.0)) == 3 * expected_ms * 1_000_000


@pytest.mark.parametrize(
    ("mult", "n", "interval", "expected_ns"),
    [
        # log10(50) = 1.69897 -> 1698 thousandths, not 1699: the scale is truncated
        (4, 50, 1.0, 6_792_000_000),
        (4, 316, 1.0, 9_996_000_000),
        (6, 10, 5.0, 30_000_000_000),  # WAN, small cluster
        (6, 500, 5.0, 80_940_000_000),
        # an interval that is not a whole number of ms: Go's int64 nanosecond arithmetic
        (5, 2, 1.234567, 6_172_835_000),
        (5, 50, 1.234567, 10_481_473_830),
        (5, 31623, 1.234567, 27_777_757_500),
        # 1698 * 1 ns / 1000 truncates to 1 ns
        (1, 50, 1e-9, 1),
    ],
)
def test_suspicion_timeout_integer_arithmetic(
    mult: int, n: int, interval: float, expected_ns: int
) -> None:
    assert seconds_to_ns(suspicion_timeout(mult, n, interval)) == expected_ns


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, 30.0),
        (1, 30.0),
        (32, 30.0),
        (33, 60.0),
        (64, 60.0),
        (65, 90.0),
        (128, 90.0),
        (129, 120.0),
        (256, 120.0),
        (257, 150.0),
    ],
)
def test_push_pull_scale(n: int, expected: float) -> None:
    assert push_pull_scale(30.0, n) == expected


def test_push_pull_scale_go_ranges() -> None:
    # memberlist's TestPushPullScale: x1 up to 32, x2 for 33..64, x3 for 65..128
    for n in range(33):
        assert push_pull_scale(1.0, n) == 1.0
    for n in range(33, 65):
        assert push_pull_scale(1.0, n) == 2.0
    for n in range(65, 129):
        assert push_pull_scale(1.0, n) == 3.0


@pytest.mark.parametrize(
    ("mult", "n", "expected"),
    [
        (4, 1, 0),
        (4, 3, 0),
        (4, 4, 2),  # LAN: k = 2 once n >= 4
        (4, 100, 2),
        (3, 2, 0),
        (3, 3, 1),
        (6, 5, 0),
        (6, 6, 4),
        (2, 1, 0),
    ],
)
def test_suspicion_confirmations_wanted(mult: int, n: int, expected: int) -> None:
    assert suspicion_confirmations_wanted(mult, n) == expected
