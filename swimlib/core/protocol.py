"""SwimCore: the SWIM + Lifeguard state machine of one node, with no I/O inside.

The one entry point to the core, as h11's ``Connection`` is to HTTP: every input takes ``now``
(monotonic seconds) and returns a list of :mod:`~swimlib.core.effects`; queries return
snapshots. The work is done by its parts, each in its own module (memberlist file in
brackets): :class:`~swimlib.core.members.MemberTable` (``nodes``/``nodeMap``),
:class:`~swimlib.core.state.StateRules` (``state.go`` alive/suspect/dead, merge),
:class:`~swimlib.core.probe.Prober` (``probeNode``, ``net.go`` handlers),
:class:`~swimlib.core.outbox.Outbox` (``sendMsg``, ``gossip``, ``queue.go``),
:class:`~swimlib.core.messaging.Messaging` (user messages; swimlib's own),
:class:`~swimlib.core.timers.Timers`. Randomness comes from the ``random.Random`` passed in,
so a run is reproducible. Peer input never raises: bad input is a counted drop.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from swimlib.config import Config
from swimlib.core.awareness import Awareness
from swimlib.core.broadcast_queue import TransmitLimitedQueue
from swimlib.core.effects import (
    Addr,
    Effect,
    Notice,
    PushPullRejected,
    PushPullRequest,
    StreamReply,
)
from swimlib.core.formulas import push_pull_scale
from swimlib.core.members import MemberTable, PreloadRecord
from swimlib.core.messaging import Messaging
from swimlib.core.outbox import Outbox
from swimlib.core.probe import Prober
from swimlib.core.state import LocalNode, StateRules
from swimlib.core.timers import TimerKind, Timers
from swimlib.errors import NotRunningError, UnknownNodeError
from swimlib.node import Node, NodeState
from swimlib.wire import codec
from swimlib.wire.messages import (
    Ack,
    Alive,
    Dead,
    ErrResp,
    IndirectPing,
    Message,
    Nack,
    Ping,
    PushPull,
    Suspect,
    User,
)
from swimlib.wire.packet import unpack_messages

__all__ = ["PreloadRecord", "SwimCore"]


class SwimCore:
    """The protocol state of one node. Single-threaded: the driver serialises every call."""

    def __init__(
        self,
        config: Config,
        rng: random.Random,
        host: str,
        port: int,
        packet_overhead: int = 0,
    ) -> None:
        self.config = config
        self.name = config.node_name
        self.me = LocalNode(config, host, port)
        self.awareness = Awareness(config.awareness_max_multiplier)
        self._rng = rng
        self._table = MemberTable(self.name, rng)
        self._timers = Timers()
        self._outbox = Outbox(config, self._table, packet_overhead)
        self._rules = StateRules(
            config, self.me, self._table, self._outbox, self._timers, self.awareness
        )
        self._prober = Prober(
            config, self.me, self._table, self._outbox, self._timers, self.awareness, self._rules
        )
        self._messaging = Messaging(config, self._table, self._outbox, rng, self._rules.drop)
        self._next_gossip = 0.0
        self._started = False
        self._peak_alive = 1

    def start(self, now: float) -> list[Effect]:
        """Announce ourselves (memberlist ``setAlive``) and arm the periodic timers."""
        if self._started:
            return []
        self._started = True
        cfg, rng = self.config, self._rng
        self._next_gossip = now + rng.random() * cfg.gossip_interval
        self.me.incarnation = 1
        self._rules.alive(self.me.alive(cfg.meta), now, bootstrap=True)
        self._timers.schedule(now + rng.random() * cfg.protocol_interval, TimerKind.PROBE_TICK)
        if cfg.push_pull_interval > 0:
            first = now + rng.random() * cfg.push_pull_interval
            self._timers.schedule(first, TimerKind.PUSH_PULL)
        if cfg.reconnect_interval > 0:
            first = now + rng.random() * cfg.reconnect_interval
            self._timers.schedule(first, TimerKind.RECONNECT)
        return self._outbox.flush()  # our own JoinEvent (memberlist notifies it too)

    # ------------------------------------------------------------------ queries

    @property
    def incarnation(self) -> int:
        return self.me.incarnation

    @property
    def vsn(self) -> bytes:
        return self.me.vsn

    @property
    def host(self) -> str:
        return self.me.host

    @property
    def port(self) -> int:
        return self.me.port

    @property
    def left(self) -> bool:
        return self.me.left

    @property
    def num_nodes(self) -> int:
        return len(self._table)

    @property
    def drops(self) -> dict[str, int]:
        """Peer input dropped by the core, by reason."""
        return self._rules.drops

    @property
    def broadcasts(self) -> TransmitLimitedQueue:
        """Membership news waiting to be gossiped (inspection and simulator bootstrap)."""
        return self._outbox.broadcasts

    def isolated(self) -> bool:
        """Has this node lost its cluster? Alone, or under half the most members it had.

        The peak is what this query saw before, so callers poll it at a steady rate.
        """
        alive = sum(1 for m in self._table.nodes if not m.dead_or_left())
        self._peak_alive = max(self._peak_alive, alive)
        return self._peak_alive > 1 and (alive <= 1 or alive * 2 < self._peak_alive)

    def failed_count(self) -> int:
        """Failed members remembered for reconnecting."""
        return len(self._rules.failed)

    def user_backlog(self) -> int:
        return len(self._outbox.user_broadcasts)

    def local_node(self) -> Node:
        return self._table.by_name[self.name].snapshot()

    def members(self) -> list[Node]:
        """Every known entry, self included, dead and left ones until reaped."""
        return [m.snapshot() for m in self._table.nodes]

    def member(self, name: str) -> Node | None:
        m = self._table.get(name)
        return m.snapshot() if m is not None else None

    def health_score(self) -> int:
        return self.awareness.score

    def next_deadline(self) -> float | None:
        """The earliest protocol timer (probe, suspicion, relay, push/pull); gossip apart."""
        return self._timers.next_deadline()

    def next_gossip(self) -> float | None:
        if self.config.gossip_interval <= 0 or self.config.gossip_nodes <= 0:
            return None
        return self._next_gossip

    def local_state(self, join: bool) -> PushPull:
        """Our full table for a push/pull (``sendLocalState``)."""
        return self._rules.local_state(join)

    # ------------------------------------------------------------------ clocks

    def handle_timers(self, now: float) -> list[Effect]:
        """Fire every protocol timer due at ``now``."""
        for kind, key in self._timers.due(now):
            self._fire(kind, key, now)
        return self._outbox.flush()

    def _fire(self, kind: TimerKind, key: Any, now: float) -> None:
        prober = self._prober
        match kind:
            case TimerKind.PROBE_TICK:
                prober.tick(now)
            case TimerKind.PROBE_DIRECT:
                prober.go_indirect(key)
            case TimerKind.PROBE_END:
                prober.end(key, now)
            case TimerKind.RELAY_NACK:
                prober.relay_nack(key)
            case TimerKind.RELAY_END:
                prober.relay_expired(key)
            case TimerKind.SUSPICION:
                self._rules.suspicion_fired(key, now)
            case TimerKind.PUSH_PULL:
                self._push_pull_tick(now)
            case TimerKind.PING_END:
                prober.user_ping_expired(key)
            case TimerKind.RECONNECT:
                self._reconnect_tick(now)

    def gossip(self, now: float) -> list[Effect]:
        """The gossip tick (memberlist ``gossip``): send queued broadcasts to a few nodes."""
        self._next_gossip = now + self.config.gossip_interval
        self._outbox.gossip(now)
        return self._outbox.flush()

    def _push_pull_tick(self, now: float) -> None:
        interval = push_pull_scale(self.config.push_pull_interval, len(self._table))
        self._timers.schedule(now + interval, TimerKind.PUSH_PULL)
        name = self.name
        peers = self._table.k_random(1, lambda m: m.name == name or m.state != NodeState.ALIVE)
        if peers:
            self._outbox.emit(PushPullRequest(peers[0].address, self.local_state(False)))

    def _reconnect_tick(self, now: float) -> None:
        """Try one failed member again (see :mod:`swimlib.core.reconnect`)."""
        self._timers.schedule(now + self.config.reconnect_interval, TimerKind.RECONNECT)
        failed = self._rules.failed
        failed.expire(now)
        alive = sum(1 for m in self._table.nodes if not m.dead_or_left())
        addr = failed.pick(self._rng, alive)
        if addr is not None:
            self._outbox.emit(PushPullRequest(addr, self.local_state(True)))

    # ------------------------------------------------------------------ datagrams

    def receive_packet(self, data: bytes, addr: Addr, now: float) -> list[Effect]:
        """A UDP payload with label and encryption removed: unpack it, then handle it."""
        msgs, errors = unpack_messages(data)
        for err in errors:
            self._rules.drop(err.reason)
        return self.receive_messages(msgs, addr, now)

    def receive_messages(self, msgs: list[Message], addr: Addr, now: float) -> list[Effect]:
        """The messages of one datagram, already unpacked by the driver (``handleCommand``)."""
        for msg in msgs:
            self._dispatch(msg, addr, now)
        return self._outbox.flush()

    def _dispatch(self, msg: Message, addr: Addr, now: float) -> None:
        match msg:
            case Ping():
                self._prober.on_ping(msg, addr)
            case Ack():
                self._prober.on_ack(msg, now)
            case IndirectPing():
                self._prober.on_indirect_ping(msg, addr, now)
            case Nack():
                self._prober.on_nack(msg)
            case Alive():
                self._rules.alive(msg, now)
            case Suspect():
                self._rules.suspect(msg, now)
            case Dead():
                self._rules.dead(msg, now)
            case User():
                self._messaging.received(msg.payload, addr)
            case _:
                self._rules.drop("unexpected_type")

    # ------------------------------------------------------------------ streams

    def handle_stream(self, msg: Message, addr: Addr, now: float) -> list[Effect]:
        """A TCP stream message from a dialer; a StreamReply effect carries any answer."""
        out = self._outbox
        match msg:
            case PushPull():
                out.emit(StreamReply(self.local_state(msg.join)))
                reason = self._rules.merge(msg, now)
                if reason is not None:
                    out.emit(
                        Notice(
                            "version_mismatch",
                            logging.WARNING,
                            f"push/pull from {addr[0]}:{addr[1]} rejected: {reason}",
                        )
                    )
            case Ping():
                if msg.node and msg.node != self.name:
                    self._rules.drop("ping_wrong_node")
                else:
                    out.emit(StreamReply(Ack(msg.seq_no)))
            case User():
                self._messaging.received(msg.payload, addr)
            case ErrResp():
                self._rules.drop("remote_error")
            case _:
                self._rules.drop("unexpected_stream_type")
        return out.flush()

    def push_pull_reply(
        self, remote: PushPull, addr: Addr, request_id: int, now: float
    ) -> list[Effect]:
        """The peer's answer to our PushPullRequest (``mergeRemoteState``)."""
        reason = self._rules.merge(remote, now)
        if reason is not None:
            self._outbox.emit(PushPullRejected(addr, reason, request_id))
        return self._outbox.flush()

    def tcp_ping_result(self, seq_no: int, ok: bool, now: float) -> list[Effect]:
        """The driver finished a TcpPing."""
        self._prober.tcp_ping_result(seq_no, ok)
        return self._outbox.flush()

    # ------------------------------------------------------------------ commands

    def join(self, addr: Addr, request_id: int, now: float) -> list[Effect]:
        """Push/pull with a seed (memberlist ``pushPullNode`` with join = true)."""
        self._not_left()
        return [PushPullRequest(addr, self.local_state(True), request_id)]

    def ping(self, target: str, request_id: int, now: float) -> list[Effect]:
        """One direct ping to a member (memberlist ``Ping``); a PingResult follows.

        Raises UnknownNodeError for a name we do not know (a caller's mistake).
        """
        m = self._table.get(target)
        if m is None:
            raise UnknownNodeError(f"no member named {target!r}")
        self._prober.user_ping(m.address, m.name, request_id, now)
        return self._outbox.flush()

    def _not_left(self) -> None:
        if self.me.leaving:
            raise NotRunningError("this node has left the cluster; start a new one")

    def broadcast(self, payload: bytes, topic: str | None, now: float) -> list[Effect]:
        """A user broadcast to every member (see :mod:`swimlib.core.messaging`)."""
        self._not_left()
        self._messaging.broadcast(payload, topic)
        return self._outbox.flush()

    def send(
        self, target: str, payload: bytes, topic: str | None, reliable: bool, now: float
    ) -> list[Effect]:
        """A direct user message: SendPacket (best effort) or SendReliable (TCP)."""
        self._not_left()
        self._messaging.send(target, payload, topic, reliable)
        return self._outbox.flush()

    def update_meta(self, meta: bytes, now: float) -> list[Effect]:
        """New metadata under a new incarnation (memberlist ``UpdateNode``)."""
        self._not_left()
        self.me.incarnation += 1
        self._rules.alive(self.me.alive(meta), now, bootstrap=True)
        return self._outbox.flush()

    def leave(self, now: float) -> list[Effect]:
        """Broadcast our graceful departure; LeaveFinished follows once it is out."""
        me = self.me
        if me.leaving:
            return self._outbox.flush()
        me.leaving = True
        self._rules.dead(Dead(me.incarnation, self.name, self.name), now, self._rules.leave_done)
        # Besides gossiping it (as memberlist does), tell every live member directly: with a
        # small retransmit limit the gossip alone can lose the race against failure detection
        # when the process exits right after leave(), and a leave must not look like a crash.
        msg = codec.encode(Dead(me.incarnation, self.name, self.name))
        others = [m for m in self._table.nodes if m.name != self.name and not m.dead_or_left()]
        for m in others:
            self._outbox.send(m.address, msg, self._outbox.crc_by_address(m.address))
        if not others:
            self._rules.leave_done()
        return self._outbox.flush()

    def preload(self, records: list[PreloadRecord], now: float) -> None:
        """Known-alive members in bulk, no events or broadcasts (simulator bootstrap)."""
        self._table.preload(records, now)

    def clear_broadcasts(self) -> None:
        """Forget queued membership news (simulator bootstrap: a converged cluster)."""
        self._outbox.broadcasts.reset()
