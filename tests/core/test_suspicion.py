"""Suspicion timer as data: confirmations and deadlines (``suspicion.go``)."""

from __future__ import annotations

import pytest

from swimlib.core.suspicion import Suspicion

START = 100.0


def lan() -> Suspicion:
    # LAN, small cluster: min 4 s, max 6 * 4 s, k = 4 - 2
    return Suspicion("accuser", 2, 4.0, 24.0, START)


def test_starts_at_max() -> None:
    s = lan()
    assert s.deadline == START + 24.0
    assert s.timeout == 24.0
    assert s.confirmations == 0
    assert s.k == 2
    assert s.start == START
    assert s.from_node == "accuser"
    assert (s.min_timeout, s.max_timeout) == (4.0, 24.0)


def test_lan_worked_numbers() -> None:
    s = lan()
    # 24 - 20 * ln 2 / ln 3 = 11.3814..., floored to whole ms
    assert s.confirm("b", START + 1.0)
    assert s.confirmations == 1
    assert s.timeout == pytest.approx(11.381, abs=1e-12)
    assert s.deadline == pytest.approx(START + 11.381, abs=1e-9)
    assert s.confirm("c", START + 2.0)
    assert s.confirmations == 2
    assert s.timeout == 4.0
    assert s.deadline == START + 4.0


def test_originator_excluded() -> None:
    s = lan()
    assert not s.confirm("accuser", START)
    assert s.confirmations == 0
    assert s.deadline == START + 24.0


def test_duplicates_ignored() -> None:
    s = lan()
    assert s.confirm("b", START)
    deadline = s.deadline
    assert not s.confirm("b", START + 1.0)
    assert s.confirmations == 1
    assert s.deadline == deadline


def test_beyond_k_ignored() -> None:
    s = lan()
    assert s.confirm("b", START)
    assert s.confirm("c", START)
    assert not s.confirm("d", START)
    assert s.confirmations == 2
    assert s.deadline == START + 4.0


@pytest.mark.parametrize("k", [0, -1])
def test_no_confirmations_wanted_starts_at_min(k: int) -> None:
    s = Suspicion("accuser", k, 4.0, 24.0, START)
    assert s.deadline == START + 4.0
    assert not s.confirm("b", START)
    assert s.confirmations == 0
    assert s.deadline == START + 4.0


def test_go_remaining_table() -> None:
    # memberlist's TestSuspicion_remainingSuspicionTime (k=3, min 2 s, max 30 s): the remaining
    # time there is our total timeout minus elapsed, so totals are 16 s, 7.81 s, then min.
    s = Suspicion("a", 3, 2.0, 30.0, 0.0)
    assert s.timeout == 30.0
    assert s.confirm("b", 2.0)
    assert s.timeout == 16.0
    assert s.confirm("c", 3.0)
    assert s.timeout == pytest.approx(7.81, abs=1e-12)
    assert s.confirm("d", 4.0)
    assert s.timeout == 2.0
    assert not s.confirm("e", 5.0)


def test_deadline_may_already_have_passed() -> None:
    # Confirmations arriving late shrink the deadline into the past: the caller expires it now.
    s = lan()
    now = START + 15.0
    assert s.confirm("b", now)
    assert s.deadline <= now


def test_floor_is_to_whole_milliseconds() -> None:
    # k=7, min 30 s, max 180 s, 3 confirmations: 180 - 150 * ln 4 / ln 8 is exactly 80 in reals,
    # but in float64 it is 79.99999999999999, and Go floors that to 79.999 s (checked against Go).
    s = Suspicion("a", 7, 30.0, 180.0, 0.0)
    for node in ("b", "c", "d"):
        assert s.confirm(node, 0.0)
    assert s.timeout == 79.999
    # and 24 - 20 * ln 24 / ln 29 = 5.1239998... gives 5.123 s, not 5.124
    s = Suspicion("a", 28, 4.0, 24.0, 0.0)
    for i in range(23):
        assert s.confirm(f"n{i}", 0.0)
    assert s.timeout == 5.123


def test_repr() -> None:
    assert "confirmations=0" in repr(lan())
