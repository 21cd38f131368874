"""Cluster-size scaling formulas; memberlist counterpart: ``util.go`` and ``state.go``.

Owns the arithmetic that turns the node-count estimate into retransmit limits, suspicion
timeouts, confirmation counts and the push/pull period (spec sections 5.5, 5.6 and 6.2).

Go computes timeouts as ``time.Duration`` values, which are int64 nanoseconds, and truncates
floats when converting. These functions do the same integer arithmetic so that every boundary
(for example when ``log10(n) * 1000`` is cut to a whole number) lands where Go's does, and only
convert back to float seconds at the end. Pure: no clocks, no randomness.
"""

from __future__ import annotations

import math

__all__ = [
    "NS_PER_SECOND",
    "PUSH_PULL_SCALE_THRESHOLD",
    "push_pull_scale",
    "retransmit_limit",
    "seconds_to_ns",
    "suspicion_confirmations_wanted",
    "suspicion_timeout",
]

NS_PER_SECOND = 1_000_000_000
"""Go's ``time.Second`` in its unit, the nanosecond."""

PUSH_PULL_SCALE_THRESHOLD = 32
"""Cluster size up to which the push/pull period is not stretched (``pushPullScaleThreshold``)."""

_LOG2_THRESHOLD = 5.0  # log2(32), exact in binary floating point


def seconds_to_ns(seconds: float) -> int:
    """Convert float seconds to whole nanoseconds, the unit Go's durations are counted in."""
    return round(seconds * NS_PER_SECOND)


def retransmit_limit(retransmit_mult: int, n: int) -> int:
    """How many times one broadcast is sent: ``mult * ceil(log10(n + 1))`` (``retransmitLimit``).

    ``n`` is the node-count estimate. n = 0 gives 0, as in Go; a negative n (never produced by
    memberlist) is treated as 0 rather than reproducing Go's undefined float-to-int conversion.
    """
    if n <= 0:
        return 0
    return retransmit_mult * math.ceil(math.log10(n + 1))


def suspicion_timeout(suspicion_mult: int, n: int, interval: float) -> float:
    """Minimum suspicion timeout in seconds (``suspicionTimeout``).

    ``mult * max(1, log10(max(1, n))) * interval``, with the node scale truncated to whole
    thousandths and the product done in integer nanoseconds with truncating division, exactly as
    Go's ``time.Duration(mult) * time.Duration(scale*1000) * interval / 1000``. LAN: n <= 10
    gives 4 s, n = 100 gives 8 s, n = 1000 gives 12 s.
    """
    node_scale = max(1.0, math.log10(max(1.0, float(n))))
    scale_milli = int(node_scale * 1000)  # Go's float -> Duration conversion truncates
    product = suspicion_mult * scale_milli * seconds_to_ns(interval)
    # Go's integer division truncates toward zero; Python's // floors, so mirror the sign.
    timeout_ns = product // 1000 if product >= 0 else -(-product // 1000)
    return timeout_ns / NS_PER_SECOND


def suspicion_confirmations_wanted(suspicion_mult: int, n: int) -> int:
    """Independent suspect confirmations wanted (``k`` in ``suspectNode``).

    ``suspicion_mult - 2``, or 0 when the cluster is too small to supply them: ``n - 2`` leaves
    out ourselves and the suspect.
    """
    k = suspicion_mult - 2
    if n - 2 < k:
        return 0
    return k


def push_pull_scale(interval: float, n: int) -> float:
    """Push/pull period in seconds for ``n`` nodes (``pushPullScale``).

    Unchanged up to 32 nodes; beyond that ``interval * (ceil(log2(n) - log2(32)) + 1)``, so
    33-64 nodes double it, 65-128 triple it, and so on. Big clusters exchange full state less
    often because each exchange costs O(n).
    """
    if n <= PUSH_PULL_SCALE_THRESHOLD:
        return interval
    multiplier = math.ceil(math.log2(n) - _LOG2_THRESHOLD) + 1
    return multiplier * seconds_to_ns(interval) / NS_PER_SECOND
