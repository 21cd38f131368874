"""Protocol timers as data: a heap of (deadline, seq, kind, key); memberlist's tickers and
``time.AfterFunc`` calls, unrolled.

A timer is never cancelled. Its key names the object it belongs to (a probe, a relay, a
suspicion), and the handler ignores it when that object is no longer current; ``seq`` breaks
ties by insertion order, so two entries are never compared by key.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Iterator
from typing import Any


class TimerKind(enum.IntEnum):
    """What a timer entry does when it fires (its key type in brackets)."""

    PROBE_TICK = 0  # the probe ticker (None)
    PROBE_DIRECT = 1  # direct ack not back: go indirect (Probe)
    PROBE_END = 2  # the whole probe is over (Probe)
    RELAY_NACK = 3  # an indirect ping we relay got no ack: nack (Relay)
    RELAY_END = 4  # forget a relay (seq_no: int)
    SUSPICION = 5  # a suspicion timer (SuspicionKey)
    PUSH_PULL = 6  # the periodic push/pull (None)
    PING_END = 7  # a user ping timed out (seq_no: int)
    RECONNECT = 8  # try one failed member again (None)


class Timers:
    """The heap; the core pops due entries and dispatches on their kind."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerKind, Any]] = []
        self._seq = 0

    def schedule(self, when: float, kind: TimerKind, key: object = None) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, kind, key))

    def next_deadline(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def due(self, now: float) -> Iterator[tuple[TimerKind, Any]]:
        """Pop every entry due at ``now``, earliest first (handlers may schedule more)."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, kind, key = heapq.heappop(heap)
            yield kind, key
