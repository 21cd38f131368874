"""Starting a simulation from an already-joined cluster: everybody knows everybody, alive.

Owns the two ways to give N cores a full member table at t = 0 without running the join:

* :func:`merge_full_membership` feeds each core one push/pull holding every node, through the
  public ``push_pull_reply``. Faithful, but O(N^2) full ``aliveNode`` runs (each encodes a
  re-broadcast and builds a JoinEvent): about 17 us per entry, 17 s for 1,000 nodes.
* :func:`install_full_membership` bulk-loads alive records with ``SwimCore.preload`` (no
  events, no broadcasts); names, addresses and versions are shared objects. A test checks that
  both paths give the same tables.

Both leave the broadcast queues empty, as in a cluster whose join gossip has died down.
"""

from __future__ import annotations

from collections.abc import Sequence

from swimlib.core.protocol import SwimCore
from swimlib.wire.messages import PushNodeState, PushPull, WireState

__all__ = ["install_full_membership", "merge_full_membership"]


def merge_full_membership(cores: Sequence[SwimCore], now: float) -> None:
    """Each core merges one push/pull listing every core as alive at its incarnation."""
    states = tuple(
        PushNodeState(
            name=c.name,
            addr=c.me.addr_bytes,
            port=c.port,
            meta=c.config.meta,
            incarnation=c.incarnation,
            state=int(WireState.ALIVE),
            vsn=c.vsn,
        )
        for c in cores
    )
    everyone = PushPull(join=False, nodes=states)
    for core in cores:
        core.push_pull_reply(everyone, ("0.0.0.0", 0), 0, now)  # JoinEvents dropped on purpose
        core.clear_broadcasts()


def install_full_membership(cores: Sequence[SwimCore], now: float) -> None:
    """Give every core an alive record of every other core (``SwimCore.preload``)."""
    records = [
        (c.name, c.me.addr_bytes, c.port, c.config.meta, c.vsn, c.incarnation) for c in cores
    ]
    for core in cores:
        core.preload(records, now)
        core.clear_broadcasts()
