"""State rules: alive, suspect, dead, refute, and the push/pull merge with its version check.

memberlist counterparts: ``state.go`` ``aliveNode``, ``suspectNode``, ``deadNode``,
``refute``, ``mergeState`` and ``util.go``/``net.go`` ``verifyProtocol``. Suspicion timers are
:class:`~swimlib.core.suspicion.Suspicion` objects scheduled on the core's timer heap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from swimlib.config import Config
from swimlib.core.awareness import Awareness
from swimlib.core.effects import LeaveFinished, Notice, PublishEvent
from swimlib.core.formulas import suspicion_confirmations_wanted, suspicion_timeout
from swimlib.core.members import Member, MemberTable, ip_to_bytes, ip_to_str, shared_vsn
from swimlib.core.outbox import Outbox
from swimlib.core.reconnect import FailedMembers
from swimlib.core.suspicion import Suspicion
from swimlib.core.timers import TimerKind, Timers
from swimlib.events import (
    AliveEvent,
    ConflictEvent,
    JoinEvent,
    LeaveEvent,
    MemberEvent,
    SuspectEvent,
    UpdateEvent,
)
from swimlib.node import NodeState
from swimlib.wire.limits import (
    MAX_INCARNATION,
    MAX_INCARNATION_JUMP,
    MAX_NAME_BYTES,
    META_MAX_SIZE,
)
from swimlib.wire.messages import Alive, Dead, PushNodeState, PushPull, Suspect, WireState

SuspicionKey = tuple[str, Suspicion]


class LocalNode:
    """Who we are: name, advertised address, versions, incarnation and leave progress."""

    __slots__ = ("addr_bytes", "host", "incarnation", "leaving", "left", "name", "port", "vsn")

    def __init__(self, config: Config, host: str, port: int) -> None:
        self.name = config.node_name
        self.host = host
        self.port = port
        self.addr_bytes = ip_to_bytes(host)
        self.vsn = bytes(
            (
                1,
                5,
                config.protocol_version,
                config.delegate_protocol_min,
                config.delegate_protocol_max,
                config.delegate_protocol_version,
            )
        )
        self.incarnation = 0
        self.leaving = False
        self.left = False

    def alive(self, meta: bytes) -> Alive:
        return Alive(self.incarnation, self.name, self.addr_bytes, self.port, meta, self.vsn)


class StateRules:
    """Applies alive/suspect/dead news to the member table, publishing events and gossip."""

    def __init__(
        self,
        config: Config,
        me: LocalNode,
        table: MemberTable,
        outbox: Outbox,
        timers: Timers,
        awareness: Awareness,
    ) -> None:
        self.config = config
        self.me = me
        self.table = table
        self.outbox = outbox
        self.timers = timers
        self.awareness = awareness
        self.suspicions: dict[str, Suspicion] = {}
        self.drops: dict[str, int] = {}
        self.failed = FailedMembers(config.reconnect_timeout)

    def drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def _publish(self, event: MemberEvent) -> None:
        self.outbox.emit(PublishEvent(event))

    def _notice(self, key: str, level: int, message: str) -> None:
        self.outbox.emit(Notice(key, level, message))

    # ------------------------------------------------------------------ alive

    def alive(self, a: Alive, now: float, bootstrap: bool = False) -> None:
        """memberlist ``aliveNode``."""
        is_local = a.node == self.me.name
        if self.me.leaving and is_local:
            return
        if len(a.vsn) >= 3 and (a.vsn[0] == 0 or a.vsn[1] == 0 or a.vsn[0] > a.vsn[1]):
            self.drop("bad_version")
            return
        if len(a.addr) not in (4, 16):
            self.drop("bad_address")
            return
        if not bootstrap and not self._acceptable_identity(a):
            return
        m = self.table.get(a.node)
        if not bootstrap and self._implausible(m, a.incarnation):
            return
        reclaim = False
        new_entry = m is None
        if m is None:
            m = self.table.add(a.node, a.addr, a.port, now)
            if len(a.vsn) >= 6:
                m.vsn = shared_vsn(bytes(a.vsn[:6]))
        elif m.addr != a.addr or m.port != a.port:
            reclaim = self._may_reclaim(m, now)
            if not reclaim:
                self._address_conflict(m, a)
                return
        if a.incarnation <= m.incarnation and not is_local and not reclaim:
            return
        if a.incarnation < m.incarnation and is_local:
            return
        self.suspicions.pop(a.node, None)
        if not bootstrap and is_local:
            if a.incarnation == m.incarnation and a.meta == m.meta and a.vsn == self.me.vsn:
                return
            self.refute(m, a.incarnation)
            self._notice(
                "refute_alive",
                logging.WARNING,
                f"refuting an alive message about ourselves (incarnation {a.incarnation})",
            )
            return
        self._apply_alive(m, a, now, new_entry)

    def _acceptable_identity(self, a: Alive) -> bool:
        """Receive-side limits on what a peer may claim as a name and metadata."""
        size = _utf8_size(a.node)
        if size is None or not 0 < size <= MAX_NAME_BYTES:
            self.drop("bad_name")
            return False
        if len(a.meta) > META_MAX_SIZE:
            self.drop("meta_too_large")
            return False
        return True

    def _implausible(self, m: Member | None, incarnation: int) -> bool:
        """An incarnation no honest peer can know (see MAX_INCARNATION_JUMP): drop it."""
        if m is None or incarnation <= m.incarnation + MAX_INCARNATION_JUMP:
            return False
        self.drop("implausible_incarnation")
        return True

    def _may_reclaim(self, m: Member, now: float) -> bool:
        """A new address may take a name that left, or died long enough ago."""
        reclaim_time = self.config.dead_node_reclaim_time
        can_reclaim = reclaim_time > 0 and now - m.state_change > reclaim_time
        return m.state == NodeState.LEFT or (m.state == NodeState.DEAD and can_reclaim)

    def _address_conflict(self, m: Member, a: Alive) -> None:
        self.drop("address_conflict")
        self._publish(ConflictEvent(m.snapshot(), (ip_to_str(a.addr), a.port)))
        self._notice(
            "address_conflict",
            logging.WARNING,
            f"conflicting address for {a.node}: {m.host}:{m.port} vs {ip_to_str(a.addr)}:{a.port}",
        )

    def _apply_alive(self, m: Member, a: Alive, now: float, new_entry: bool) -> None:
        old_state = m.state
        old_meta = m.meta
        self.outbox.broadcast(a.node, a)
        if len(a.vsn) >= 6:
            m.vsn = shared_vsn(bytes(a.vsn[:6]))
        m.incarnation = a.incarnation
        m.meta = a.meta
        if m.addr != a.addr or m.port != a.port:
            self.table.readdress(m, a.addr, a.port)
        if m.state != NodeState.ALIVE:
            m.state = NodeState.ALIVE
            m.state_change = now
        came_back = self.failed.forget(m.name)
        if old_state >= NodeState.DEAD:
            self._publish(JoinEvent(m.snapshot(), rejoined=came_back or not new_entry))
            return
        if old_state == NodeState.SUSPECT:
            self._publish(AliveEvent(m.snapshot()))
        if old_meta != m.meta:
            self._publish(UpdateEvent(m.snapshot()))

    # ------------------------------------------------------------------ suspect and dead

    def suspect(self, s: Suspect, now: float) -> None:
        """memberlist ``suspectNode``."""
        m = self.table.get(s.node)
        if m is None or s.incarnation < m.incarnation or self._implausible(m, s.incarnation):
            return
        timer = self.suspicions.get(s.node)
        if timer is not None:
            if self.config.lifeguard and timer.confirm(s.from_node, now):
                self.outbox.broadcast(s.node, s)
                self.timers.schedule(timer.deadline, TimerKind.SUSPICION, (s.node, timer))
            return
        if m.state != NodeState.ALIVE:
            return
        if s.node == self.me.name:
            self.refute(m, s.incarnation)
            self._notice(
                "refute_suspect", logging.WARNING, f"refuting a suspect message from {s.from_node}"
            )
            return
        self.outbox.broadcast(s.node, s)
        m.incarnation = s.incarnation
        m.state = NodeState.SUSPECT
        m.state_change = now
        timer = self._new_suspicion(s.from_node, now)
        self.suspicions[s.node] = timer
        self.timers.schedule(timer.deadline, TimerKind.SUSPICION, (s.node, timer))
        self._publish(SuspectEvent(m.snapshot()))

    def _new_suspicion(self, from_node: str, now: float) -> Suspicion:
        n = len(self.table)
        cfg = self.config
        k = suspicion_confirmations_wanted(cfg.suspicion_mult, n)
        lo = suspicion_timeout(cfg.suspicion_mult, n, cfg.protocol_interval)
        hi = cfg.suspicion_max_timeout_mult * lo
        if not cfg.lifeguard:
            k, hi = 0, lo  # plain SWIM: a fixed timeout, confirmations change nothing
        return Suspicion(from_node, k, lo, hi, now)

    def suspicion_fired(self, key: SuspicionKey, now: float) -> None:
        name, timer = key
        if self.suspicions.get(name) is not timer or timer.deadline > now:
            return
        del self.suspicions[name]
        m = self.table.get(name)
        if m is None or m.state != NodeState.SUSPECT or m.state_change != timer.start:
            return
        self._notice(
            "suspect_timeout",
            logging.INFO,
            f"marking {name} as failed, suspect timeout reached "
            f"({timer.confirmations} confirmations)",
        )
        self.dead(Dead(m.incarnation, name, self.me.name), now)

    def dead(self, d: Dead, now: float, on_done: Callable[[], None] | None = None) -> None:
        """memberlist ``deadNode``; ``on_done`` runs when our own leave is fully sent."""
        m = self.table.get(d.node)
        if m is None or d.incarnation < m.incarnation or self._implausible(m, d.incarnation):
            return
        self.suspicions.pop(d.node, None)
        if m.dead_or_left():
            return
        if d.node == self.me.name:
            if not self.me.leaving:
                self.refute(m, d.incarnation)
                self._notice(
                    "refute_dead", logging.WARNING, f"refuting a dead message from {d.from_node}"
                )
                return
            self.outbox.broadcast(d.node, d, on_done)
        else:
            self.outbox.broadcast(d.node, d)
        m.incarnation = d.incarnation
        m.state = NodeState.LEFT if d.node == d.from_node else NodeState.DEAD
        m.state_change = now
        if m.state == NodeState.DEAD and d.node != self.me.name:
            self.failed.remember(m, now)
        else:
            self.failed.forget(d.node)
        self._publish(LeaveEvent(m.snapshot()))

    def refute(self, me: Member, accused: int) -> None:
        """Claim a higher incarnation than the accusation and broadcast it (``refute``).

        Never past 2^32-1, which a Go peer could not decode: at the ceiling the accusation
        is dropped and counted (reaching it takes 2^16 forged accusations in a row).
        """
        new = max(self.me.incarnation + 1, accused + 1)
        if new > MAX_INCARNATION:
            self.drop("incarnation_exhausted")
            self._notice(
                "incarnation_exhausted", logging.ERROR, "cannot refute: incarnation at 2^32-1"
            )
            return
        self.me.incarnation = new
        me.incarnation = self.me.incarnation
        if self.config.lifeguard:
            self.awareness.apply_delta(1)
        self.outbox.broadcast(self.me.name, self.me.alive(me.meta))

    def leave_done(self) -> None:
        self.me.left = True
        self.outbox.emit(LeaveFinished())

    # ------------------------------------------------------------------ push/pull

    def local_state(self, join: bool) -> PushPull:
        """Our full table for a push/pull (``sendLocalState``)."""
        return PushPull(join=join, nodes=tuple(m.to_push_state() for m in self.table.nodes))

    def merge(self, remote: PushPull, now: float) -> str | None:
        """Merge a peer's push/pull (``mergeRemoteState``); the reason if it was rejected."""
        clash = self._version_clash(remote)
        if clash is not None:
            self.drop("version_mismatch")
            return clash
        for r in remote.nodes:
            self._merge_one(r, now)
        return None

    def _merge_one(self, r: PushNodeState, now: float) -> None:
        port = r.port or self.me.port
        if r.state == WireState.ALIVE:
            m = self.table.get(r.name)
            if (
                m is not None
                and r.incarnation <= m.incarnation
                and r.name != self.me.name
                and m.port == port
                and m.addr == r.addr
            ):
                return  # nothing new: alive() would ignore it (the common case)
            self.alive(Alive(r.incarnation, r.name, r.addr, port, r.meta, r.vsn), now)
        elif r.state == WireState.LEFT:
            self.dead(Dead(r.incarnation, r.name, r.name), now)
        elif r.state in (WireState.DEAD, WireState.SUSPECT):
            self.suspect(Suspect(r.incarnation, r.name, self.me.name), now)
        else:
            self.drop("bad_node_state")

    def _version_clash(self, remote: PushPull) -> str | None:
        """memberlist ``verifyProtocol``: every version must fit every alive node's range.

        Works on the distinct version strings (usually one or two), not on every entry.
        """
        nodes = self.table.nodes
        local_alive = {m.vsn for m in nodes if m.state == NodeState.ALIVE}
        remote_alive = {r.vsn for r in remote.nodes if r.state == WireState.ALIVE}
        alive = {v for v in local_alive | remote_alive if len(v) >= 6}
        if not alive:
            return None
        hi_min = max(v[0] for v in alive)
        lo_max = min(v[1] for v in alive)
        hi_dmin = max(v[3] for v in alive)
        lo_dmax = min(v[4] for v in alive)
        every = {m.vsn for m in nodes} | {r.vsn for r in remote.nodes if len(r.vsn) >= 6}
        for v in every:
            if hi_min <= v[2] <= lo_max and hi_dmin <= v[5] <= lo_dmax:
                continue
            name = next((r.name for r in remote.nodes if r.vsn == v), None) or next(
                m.name for m in nodes if m.vsn == v
            )
            if not hi_min <= v[2] <= lo_max:
                return (
                    f"node {name!r} protocol version ({v[2]}) is incompatible: [{hi_min}, {lo_max}]"
                )
            return (
                f"node {name!r} delegate protocol version ({v[5]}) is incompatible: "
                f"[{hi_dmin}, {lo_dmax}]"
            )
        return None


def _utf8_size(name: str) -> int | None:
    """Bytes of a name; None if it is not valid UTF-8 (names arrive surrogate-escaped)."""
    try:
        return len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return None
