"""Starting a simulation from an already-joined cluster: everybody knows everybody, alive.

Owns the two ways to give N cores a full member table at t = 0 without running the join:

* :func:`merge_full_membership` feeds each core one push/pull holding every node, through the
  public ``merge_remote_state``. Faithful, but O(N^2) full ``aliveNode`` runs (each encodes a
  re-broadcast and builds a JoinEvent): about 17 us per entry, 17 s for 1,000 nodes.
* :func:`install_full_membership` writes the member records straight into each core's tables,
  sharing the immutable name/address/meta/version objects between cores: about 1 us per entry.
  It reaches into ``SwimCore`` private fields (``_nodes``, ``_by_name``, ``_by_addr``,
  ``_num_nodes``, ``_probe_index``) because the core has no bulk-load API yet; a test checks
  that both paths give the same tables. The lead is asked for ``SwimCore.preload_members``.

Both leave the broadcast queues empty, as in a cluster whose join gossip has died down.
"""

from __future__ import annotations

from collections.abc import Sequence

from swimlib.core.members import Member
from swimlib.core.protocol import SwimCore
from swimlib.node import NodeState
from swimlib.wire.messages import PushNodeState, PushPull, WireState

__all__ = ["install_full_membership", "merge_full_membership"]


def merge_full_membership(cores: Sequence[SwimCore], now: float) -> None:
    """Each core merges one push/pull listing every core as alive at its incarnation."""
    states = tuple(
        PushNodeState(
            name=c.name,
            addr=c.addr_bytes,
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
        core.merge_remote_state(everyone, now)  # effects (JoinEvents) are dropped on purpose
        core.broadcasts.reset()


def install_full_membership(cores: Sequence[SwimCore], now: float) -> None:
    """Write alive member records for every other core into each core (the fast path)."""
    shared = [
        (
            c.name,
            c.addr_bytes,
            c.host,
            c.port,
            (c.host, c.port),
            c.config.meta,
            c.vsn,
            c.incarnation,
        )
        for c in cores
    ]
    for core in cores:
        me = core._by_name[core.name]
        by_name = core._by_name
        by_addr = core._by_addr
        nodes: list[Member] = [m for m in core._nodes if m is not me]
        nodes.append(me)
        for name, addr, host, port, address, meta, vsn, incarnation in shared:
            if name in by_name:
                continue
            # Empty addr skips the per-record ip_to_str; the shared text is set below.
            m = Member(name, b"", port, meta, now)
            m.addr = addr
            m.host = host
            m.vsn = vsn
            m.incarnation = incarnation
            m.state = NodeState.ALIVE
            by_name[name] = m
            by_addr[address] = m
            nodes.append(m)
        core.rng.shuffle(nodes)
        core._nodes = nodes
        core._num_nodes = len(nodes)
        core._probe_index = 0
        core.broadcasts.reset()
