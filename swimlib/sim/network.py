"""The simulated network's physics: latency, jitter, loss, duplication, partitions.

Owns the decision of what happens to one datagram between two node indices (dropped, or
delivered once or twice after some delay) and whether a TCP exchange can connect. It knows
nothing about nodes being crashed or paused: that is the simulator's business, checked at
delivery time. All chance comes from the ``random.Random`` handed in, so the fate of every
packet is a pure function of the seed and the order of calls.

memberlist has no counterpart: this replaces the kernel and the wire.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["NetCounters", "Network", "NetworkParams"]

_MIN_DELAY = 1e-6  # jitter never makes a packet arrive before (or when) it was sent


@dataclass
class NetworkParams:
    """Link defaults applied to every pair of nodes unless overridden per link."""

    latency: float = 0.0005  # one-way, seconds
    jitter: float = 0.0002  # uniform +/- around the latency; reorders packets naturally
    loss: float = 0.0  # per-datagram loss probability, every direction
    duplicate: float = 0.0  # probability a delivered datagram arrives twice


@dataclass
class NetCounters:
    """What the network did to datagrams: losses by cause, and duplicates made."""

    loss: int = 0
    one_way: int = 0
    partition: int = 0
    duplicated: int = 0


class Network:
    """Per-pair fate of datagrams and reachability of TCP exchanges, by node index."""

    def __init__(self, params: NetworkParams, rng: random.Random) -> None:
        self.params = params
        self.rng = rng
        self.counters = NetCounters()
        # (src, dst) -> loss probability for that direction only; 1.0 blocks it.
        self.one_way: dict[tuple[int, int], float] = {}
        # (src, dst) -> one-way latency replacing the default for that direction.
        self.link_latency: dict[tuple[int, int], float] = {}
        # Partition group per node index; only consulted while a partition is active.
        self._group: dict[int, int] = {}
        self._partitioned = False

    # ------------------------------------------------------------------ configuration

    def set_one_way_loss(self, src: int, dst: int, probability: float) -> None:
        """Lose ``probability`` of the datagrams from ``src`` to ``dst`` (not the reverse)."""
        if probability <= 0.0:
            self.one_way.pop((src, dst), None)
        else:
            self.one_way[(src, dst)] = probability

    def set_link_latency(self, src: int, dst: int, latency: float, both: bool = True) -> None:
        """Override the base latency of one link (both directions unless told otherwise)."""
        self.link_latency[(src, dst)] = latency
        if both:
            self.link_latency[(dst, src)] = latency

    def partition(self, groups: list[list[int]]) -> None:
        """Split the network: nodes in different groups cannot reach each other.

        Nodes listed in no group form one more group together (group 0).
        """
        self._group = {}
        for g, members in enumerate(groups, start=1):
            for i in members:
                self._group[i] = g
        self._partitioned = True

    def heal(self) -> None:
        """Remove every partition."""
        self._group = {}
        self._partitioned = False

    @property
    def partitioned(self) -> bool:
        return self._partitioned

    def group_of(self, i: int) -> int:
        return self._group.get(i, 0)

    # ------------------------------------------------------------------ decisions

    def can_connect(self, a: int, b: int) -> bool:
        """Whether a TCP connection between ``a`` and ``b`` can complete.

        TCP retransmits through random loss, so only partitions and fully blocked directions
        (one-way loss of 1.0) break it; a connection needs both directions.
        """
        if self._partitioned and self._group.get(a, 0) != self._group.get(b, 0):
            return False
        ow = self.one_way
        return not ow or (ow.get((a, b), 0.0) < 1.0 and ow.get((b, a), 0.0) < 1.0)

    def delay(self, src: int, dst: int) -> float:
        """One-way delay for one datagram or one leg of a TCP exchange."""
        p = self.params
        base = self.link_latency.get((src, dst), p.latency) if self.link_latency else p.latency
        if p.jitter > 0.0:
            base += (2.0 * self.rng.random() - 1.0) * p.jitter
        return base if base > _MIN_DELAY else _MIN_DELAY

    def fate(self, src: int, dst: int) -> tuple[float, ...]:
        """Delays of the copies of one datagram that will arrive; empty when it is lost."""
        if self._partitioned and self._group.get(src, 0) != self._group.get(dst, 0):
            self.counters.partition += 1
            return ()
        rng = self.rng
        p = self.params
        if p.loss > 0.0 and rng.random() < p.loss:
            self.counters.loss += 1
            return ()
        if self.one_way:
            q = self.one_way.get((src, dst))
            if q is not None and (q >= 1.0 or rng.random() < q):
                self.counters.one_way += 1
                return ()
        first = self.delay(src, dst)
        if p.duplicate > 0.0 and rng.random() < p.duplicate:
            self.counters.duplicated += 1
            return (first, self.delay(src, dst))
        return (first,)
