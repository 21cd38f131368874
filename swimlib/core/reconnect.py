"""Reconnecting to failed members, so the halves of a healed partition find each other again.

memberlist has no such thing (hashicorp/memberlist#222): once both sides of a partition have
declared each other dead and reaped the entries, nothing ever contacts the other side again.
Serf's ``reconnect`` fixes it above memberlist, and so does this module, inside the core:
every member declared dead (not left) is remembered, apart from the member table and its
reaping, for ``reconnect_timeout``; every ``reconnect_interval`` one of them is picked at
random and a join push/pull is sent to it. The peer merges our state (which says it is dead,
so it refutes), we merge its state, and the refutations spread on both sides.

As in Serf, a tick goes ahead with probability failed/alive (capped at 1), so a large cluster
with a few failed members does not send one exchange per node per interval; the expected
cost is at most one push/pull per node per interval while failed members exist.
"""

from __future__ import annotations

import random
from collections import OrderedDict

from swimlib.core.members import Member

#: Failed members remembered at most (oldest forgotten first), so forged names cannot grow it.
MAX_REMEMBERED_FAILED = 4096


class FailedMembers:
    """Members declared dead, with where they were and when, until they come back or expire."""

    __slots__ = ("_failed", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._failed: OrderedDict[str, tuple[str, int, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failed)

    def __contains__(self, name: str) -> bool:
        return name in self._failed

    def remember(self, m: Member, now: float) -> None:
        self._failed.pop(m.name, None)
        self._failed[m.name] = (m.host, m.port, now)
        if len(self._failed) > MAX_REMEMBERED_FAILED:
            self._failed.popitem(last=False)

    def forget(self, name: str) -> bool:
        """Forget a member (back alive, or left); True if it was remembered as failed."""
        return self._failed.pop(name, None) is not None

    def expire(self, now: float) -> None:
        while self._failed:
            name, (_, _, since) = next(iter(self._failed.items()))
            if now - since <= self.timeout:
                return
            del self._failed[name]

    def pick(self, rng: random.Random, alive: int) -> tuple[str, int] | None:
        """Serf's choice: with probability failed/alive, one random failed member's address."""
        n = len(self._failed)
        if n == 0 or rng.random() > n / max(alive, 1):
            return None
        host, port, _ = list(self._failed.values())[rng.randrange(n)]
        return (host, port)
