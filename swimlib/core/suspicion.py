"""Suspicion timer with independent confirmations (Lifeguard); memberlist: ``suspicion.go``.

Owns one suspicion's deadline and the set of nodes that have confirmed it (spec section 6.2).
Go runs a ``time.AfterFunc`` timer and resets it on each confirmation; here the timer is data:
the core reads :attr:`Suspicion.deadline` and declares the node dead once ``deadline <= now``.
Because the deadline is always ``start + timeout`` (counted from when suspicion began), a
confirmation that shrinks the timeout below the time already elapsed yields a deadline in the
past, which the caller treats as "expired now", like Go's immediate ``timeoutFn`` call.

Timeouts are kept in integer nanoseconds, like Go's ``time.Duration``, so the whole-millisecond
flooring matches Go exactly; they are converted to float seconds only for the deadline.
"""

from __future__ import annotations

import math

from swimlib.core.formulas import NS_PER_SECOND, seconds_to_ns

__all__ = ["Suspicion"]

_NS_PER_MS = 1_000_000


def _go_seconds(ns: int) -> float:
    """``time.Duration.Seconds()``: whole seconds plus the fraction, as Go rounds it."""
    sec, nsec = divmod(ns, NS_PER_SECOND)
    return float(sec) + nsec / 1e9


def _timeout_after(n: int, k: int, min_ns: int, max_ns: int) -> int:
    """Total timeout in ns after ``n`` of ``k`` confirmations (``remainingSuspicionTime``).

    ``max - (max - min) * ln(n + 1) / ln(k + 1)``, floored to whole milliseconds, never below
    ``min``: each independent confirmation makes the suspicion more credible, so the node is
    given less time to refute, logarithmically so the first confirmations count the most.
    """
    frac = math.log(n + 1.0) / math.log(k + 1.0)
    max_s = _go_seconds(max_ns)
    raw = max_s - frac * (max_s - _go_seconds(min_ns))
    timeout = math.floor(1000.0 * raw) * _NS_PER_MS
    return min_ns if timeout < min_ns else timeout


class Suspicion:
    """One suspect node's timer; created on the first suspect message, dropped on refutation."""

    __slots__ = (
        "_confirmed",
        "_deadline",
        "_from",
        "_k",
        "_max_ns",
        "_min_ns",
        "_n",
        "_start",
        "_timeout_ns",
    )

    def __init__(
        self, from_node: str, k: int, min_timeout: float, max_timeout: float, start: float
    ) -> None:
        """Start timing at ``start``; ``from_node`` (the accuser) can never confirm.

        The timer begins at ``max_timeout``, or at ``min_timeout`` when ``k < 1`` because no
        confirmations are expected to shorten it.
        """
        self._from = from_node
        self._k = k
        self._min_ns = seconds_to_ns(min_timeout)
        self._max_ns = seconds_to_ns(max_timeout)
        self._start = start
        self._n = 0
        self._confirmed: set[str] = {from_node}
        self._timeout_ns = self._max_ns if k >= 1 else self._min_ns
        self._deadline = start + self._timeout_ns / NS_PER_SECOND

    def confirm(self, from_node: str, now: float) -> bool:
        """Count an independent confirmation; True only if it was new (the caller re-gossips).

        Ignored (False) once ``k`` confirmations are in, for the originator, and for a node that
        already confirmed. ``now`` is accepted for symmetry with the rest of the core; the new
        deadline is counted from :attr:`start`, so it may already lie at or before ``now``.
        """
        del now  # the deadline is anchored at start, not at the confirmation time
        if self._n >= self._k:
            return False
        confirmed = self._confirmed
        if from_node in confirmed:
            return False
        confirmed.add(from_node)
        self._n += 1
        self._timeout_ns = _timeout_after(self._n, self._k, self._min_ns, self._max_ns)
        self._deadline = self._start + self._timeout_ns / NS_PER_SECOND
        return True

    @property
    def deadline(self) -> float:
        """Monotonic time at which the suspect is declared dead: ``start + timeout``."""
        return self._deadline

    @property
    def timeout(self) -> float:
        """Current total timeout in seconds, counted from :attr:`start`."""
        return self._timeout_ns / NS_PER_SECOND

    @property
    def confirmations(self) -> int:
        """Independent confirmations counted so far (at most ``k``)."""
        return self._n

    @property
    def k(self) -> int:
        """Confirmations wanted before the timeout reaches its minimum."""
        return self._k

    @property
    def start(self) -> float:
        """Monotonic time at which suspicion began."""
        return self._start

    @property
    def from_node(self) -> str:
        """The node whose suspect message started this suspicion."""
        return self._from

    @property
    def min_timeout(self) -> float:
        """Shortest possible total timeout, in seconds."""
        return self._min_ns / NS_PER_SECOND

    @property
    def max_timeout(self) -> float:
        """Total timeout with no confirmations (when ``k >= 1``), in seconds."""
        return self._max_ns / NS_PER_SECOND

    def __repr__(self) -> str:
        return (
            f"Suspicion(from_node={self._from!r}, k={self._k}, confirmations={self._n}, "
            f"start={self._start}, deadline={self._deadline})"
        )
