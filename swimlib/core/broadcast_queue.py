"""Piggyback broadcast queue; memberlist counterpart: ``queue.go`` ``TransmitLimitedQueue``.

Owns the messages waiting to be gossiped and the choice of which ones ride on each outgoing
packet (spec section 5.6):

* a broadcast is sent at most ``retransmit_limit(mult, num_nodes())`` times, then dropped and
  its ``on_done`` called; the limit is computed once per :meth:`get_broadcasts` call;
* selection for one packet walks transmit-count tiers from fewest sends up; within a tier it
  repeatedly takes the largest message that still fits in ``limit - used - overhead``, the newest
  (highest id) among equal sizes; each taken message counts ``overhead + len`` against the limit
  and moves up one tier only after the whole selection, so it is never taken twice per packet;
* queueing a named broadcast invalidates the queued one with the same name (memberlist names
  its broadcasts after the node they are about, so newer news about X replaces older news).

Data structure. Go keeps one B-tree ordered by (transmits asc, length desc, id desc). Here each
transmit count ``t`` has a *tier*: two parallel Python lists, ``keys[t]`` (ints, ascending) and
``items[t]`` (the :class:`Broadcast` objects), where ``key = len(message) << 64 | id``. Packing
(length, id) into one int lets ``bisect`` compare single ints instead of tuples, and "largest
message that fits, newest among equals" is the key just left of ``bisect_left((free + 1) << 64)``.
Tiers are indexed by transmit count in a plain list (a few dozen at most). Removal and insertion
are a bisect plus a list memmove, far cheaper in CPython than a pure-Python balanced tree for
queues of thousands. Fast paths for the hot cases:

* empty queue: one integer test, ``num_nodes`` is not even called;
* a tier whose entries all fit (``count * (overhead + largest) <= free``, the usual near-empty
  case) is taken whole, in one slice, and its lists are handed to tier ``t + 1`` as they are
  when that tier is empty, so no per-item bisect or insert happens at all;
* otherwise the largest remaining entry is checked before bisecting, and after each take the
  search bound shrinks to the left of it (everything to its right was already too big), and
  taking from the right end of a list moves no memory.

Ids grow for as long as the queue holds anything and restart when it empties (Go restarts its
id generator at the same point, but also mid-selection, which can briefly make a newer broadcast
look older than a re-inserted one; here ``newest`` always means most recently queued).

Callbacks: every ``on_done`` runs after the queue is back in a consistent state, so a callback
may safely call :meth:`TransmitLimitedQueue.queue` again.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable

from swimlib.core.formulas import retransmit_limit

__all__ = ["Broadcast", "TransmitLimitedQueue"]

_ID_BITS = 64  # ids stay far below 2**64, so (length, id) packs into one sortable int


class Broadcast:
    """One queued message and its send count (``limitedBroadcast`` in Go)."""

    __slots__ = ("id", "message", "name", "on_done", "transmits")

    def __init__(
        self,
        name: str | None,
        message: bytes,
        transmits: int,
        id: int,
        on_done: Callable[[], None] | None,
    ) -> None:
        self.name = name
        self.message = message
        self.transmits = transmits
        self.id = id
        self.on_done = on_done

    def __repr__(self) -> str:
        return (
            f"Broadcast(name={self.name!r}, len={len(self.message)}, "
            f"transmits={self.transmits}, id={self.id})"
        )


def _run_done(done: list[Broadcast]) -> None:
    """Fire the ``on_done`` callbacks of broadcasts that have left the queue, in order."""
    for b in done:
        cb = b.on_done
        if cb is not None:
            cb()


class TransmitLimitedQueue:
    """Broadcasts waiting to be piggybacked, each sent a cluster-size-dependent number of times."""

    __slots__ = ("_count", "_items", "_keys", "_mult", "_names", "_next_id", "_num_nodes")

    def __init__(self, retransmit_mult: int, num_nodes: Callable[[], int]) -> None:
        """``num_nodes`` returns the current node-count estimate; it is asked once per selection."""
        self._mult = retransmit_mult
        self._num_nodes = num_nodes
        self._keys: list[list[int]] = [[]]
        self._items: list[list[Broadcast]] = [[]]
        self._names: dict[str, Broadcast] = {}
        self._count = 0
        self._next_id = 0

    @property
    def retransmit_mult(self) -> int:
        """``RetransmitMult``: the per-decade-of-nodes send count."""
        return self._mult

    def __len__(self) -> int:
        """Number of queued broadcasts (``NumQueued``)."""
        return self._count

    def _remove(self, b: Broadcast) -> None:
        """Take ``b`` out of its tier (not out of the name index)."""
        t = b.transmits
        tier_keys = self._keys[t]
        i = bisect_left(tier_keys, (len(b.message) << _ID_BITS) | b.id)
        del tier_keys[i]
        del self._items[t][i]
        self._count -= 1

    def _forget_name(self, b: Broadcast) -> None:
        """Drop ``b`` from the name index if it is the entry there."""
        name = b.name
        if name and self._names.get(name) is b:
            del self._names[name]

    def queue(
        self,
        message: bytes,
        name: str | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        """Queue ``message`` with zero transmits (``QueueBroadcast``).

        A non-empty ``name`` replaces any queued broadcast of that name, whose ``on_done`` is
        then called: it will never be sent again. Unnamed broadcasts (``None`` or ``""``, the
        latter as in Go) never invalidate anything.
        """
        self._next_id += 1
        b = Broadcast(name, message, 0, self._next_id, on_done)
        old: Broadcast | None = None
        if name:
            old = self._names.get(name)
            if old is not None:
                self._remove(old)
            self._names[name] = b
        # New broadcasts go into tier 0, which always exists (it is never dropped).
        tier_keys = self._keys[0]
        key = (len(message) << _ID_BITS) | b.id
        i = bisect_left(tier_keys, key)
        tier_keys.insert(i, key)
        self._items[0].insert(i, b)
        self._count += 1
        if old is not None and old.on_done is not None:
            old.on_done()

    def get_broadcasts(self, overhead: int, limit: int) -> list[bytes]:
        """Messages to piggyback on one packet of ``limit`` bytes (``GetBroadcasts``).

        Each message costs ``overhead + len(message)``; the total never exceeds ``limit``.
        Taken messages gain one transmit; those reaching the retransmit limit leave the queue.
        """
        if not self._count:
            return []
        if limit - overhead <= 0:
            return []
        transmit_limit = retransmit_limit(self._mult, self._num_nodes())
        out: list[bytes] = []
        # (tier, keys, items) taken from each tier; keys/items ascending when the whole tier
        # was taken (the lists themselves), descending (selection order) otherwise.
        groups: list[tuple[int, list[int], list[Broadcast], bool]] = []
        used = 0
        free = limit - overhead
        all_keys = self._keys
        all_items = self._items
        for t, tier_keys in enumerate(all_keys):
            hi = len(tier_keys)
            if not hi:
                continue
            tier_items = all_items[t]
            if hi * (overhead + (tier_keys[-1] >> _ID_BITS)) <= free:
                # Even the largest fits hi times over, so the greedy pass would take the whole
                # tier, largest and newest first: hand the lists over instead of bisecting.
                msgs = [b.message for b in reversed(tier_items)]
                out.extend(msgs)
                used += hi * overhead + sum(map(len, msgs))
                groups.append((t, tier_keys, tier_items, True))
                all_keys[t] = []
                all_items[t] = []
                free = limit - used - overhead
                if free <= 0:
                    break
                continue
            gk: list[int] = []
            gi: list[Broadcast] = []
            while True:
                # Largest key with length <= free is just left of the first key >= (free+1)<<64.
                bound = (free + 1) << _ID_BITS
                i = hi - 1
                if tier_keys[i] >= bound:  # the largest candidate does not fit: search
                    i = bisect_left(tier_keys, bound, 0, i)
                    if not i:
                        break
                    i -= 1
                gk.append(tier_keys.pop(i))
                b = tier_items.pop(i)
                gi.append(b)
                hi = i  # everything right of i was already too large for a bigger budget
                msg = b.message
                out.append(msg)
                used += overhead + len(msg)
                free = limit - used - overhead
                if free <= 0 or not hi:
                    break
            if gi:
                groups.append((t, gk, gi, False))
            if free <= 0:
                break
        if not groups:
            return out
        done: list[Broadcast] = []
        for t, gk, gi, whole in groups:
            nt = t + 1
            if nt >= transmit_limit:
                for b in gi:
                    b.transmits = nt
                    self._forget_name(b)
                done.extend(gi if not whole else reversed(gi))
                self._count -= len(gi)
                continue
            for b in gi:
                b.transmits = nt
            if nt == len(all_keys):
                all_keys.append([])
                all_items.append([])
            dest_keys = all_keys[nt]
            if not dest_keys:
                if whole:
                    all_keys[nt] = gk
                    all_items[nt] = gi
                else:
                    all_keys[nt] = gk[::-1]
                    all_items[nt] = gi[::-1]
                continue
            dest_items = all_items[nt]
            for k, b in zip(gk, gi):  # noqa: B905 - equal lengths by construction
                i = bisect_left(dest_keys, k)
                dest_keys.insert(i, k)
                dest_items.insert(i, b)
        if not self._count:
            self._next_id = 0  # ids only order live entries; restart them like Go does
        if done:
            _run_done(done)
        return out

    def prune(self, max_retain: int) -> None:
        """Drop broadcasts until at most ``max_retain`` remain, calling their ``on_done``.

        Victims are taken from the end of Go's order, as ``Prune`` does: most transmits first,
        then the smallest message, then the oldest. With equal sizes and counts this keeps the
        newest ``max_retain``.
        """
        excess = self._count - max(max_retain, 0)
        if excess <= 0:
            return
        done: list[Broadcast] = []
        for t in range(len(self._keys) - 1, -1, -1):
            tier_keys = self._keys[t]
            if not tier_keys:
                continue
            m = min(excess, len(tier_keys))
            tier_items = self._items[t]
            victims = tier_items[:m]
            del tier_keys[:m]
            del tier_items[:m]
            for b in victims:
                self._forget_name(b)
            done.extend(victims)
            excess -= m
            if not excess:
                break
        self._count -= len(done)
        if not self._count:
            self._next_id = 0
        _run_done(done)

    def reset(self) -> None:
        """Empty the queue, calling every ``on_done`` (``Reset``), fewest transmits first."""
        done = [b for tier in self._items for b in reversed(tier)]
        self._keys = [[]]
        self._items = [[]]
        self._names = {}
        self._count = 0
        self._next_id = 0
        _run_done(done)

    def pending(self) -> list[tuple[str | None, int]]:
        """``(name, transmits)`` of every entry in send-priority order, for tests and debugging."""
        return [(b.name, b.transmits) for tier in self._items for b in reversed(tier)]

    def __repr__(self) -> str:
        return f"TransmitLimitedQueue(retransmit_mult={self._mult}, queued={self._count})"
