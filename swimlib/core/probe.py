"""Failure detection: the probe round, indirect probes, relays, acks, nacks and user pings.

memberlist counterparts: ``state.go`` ``probe`` / ``probeNode`` (here unrolled into timer
steps: ping -> probe_timeout -> indirect pings and TCP fallback -> scaled interval -> verdict)
and ``net.go`` ``handlePing`` / ``handleIndirectPing`` / ``handleAck`` / ``handleNack``.
Go's probe ticker buffers one tick while a probe runs; so does :class:`Prober`.
"""

from __future__ import annotations

import logging

from swimlib.config import Config
from swimlib.core.awareness import Awareness
from swimlib.core.effects import Addr, Notice, PingResult, TcpPing
from swimlib.core.members import Member, MemberTable, ip_to_str
from swimlib.core.outbox import Outbox
from swimlib.core.state import LocalNode, StateRules
from swimlib.core.timers import TimerKind, Timers
from swimlib.node import NodeState
from swimlib.wire import codec
from swimlib.wire.messages import Ack, IndirectPing, Nack, Ping, Suspect


class Probe:
    """One probe in flight (memberlist ``probeNode``)."""

    __slots__ = ("acked", "end", "expected_nacks", "nacks", "ping", "sent", "target", "tcp_ok")

    def __init__(self, target: Member, ping: Ping, sent: float, end: float) -> None:
        self.target = target
        self.ping = ping
        self.sent = sent
        self.end = end
        self.acked = False
        self.expected_nacks = 0
        self.nacks = 0
        self.tcp_ok = False


class Relay:
    """An indirect ping we relay for someone else (memberlist ``handleIndirectPing``)."""

    __slots__ = ("done", "nack", "reply_to", "seq_no")

    def __init__(self, seq_no: int, reply_to: Addr, nack: bool) -> None:
        self.seq_no = seq_no
        self.reply_to = reply_to
        self.nack = nack
        self.done = False


class UserPing:
    """A ping requested through the API (memberlist ``Ping``), for RTT measurement."""

    __slots__ = ("request_id", "sent")

    def __init__(self, request_id: int, sent: float) -> None:
        self.request_id = request_id
        self.sent = sent


class Prober:
    """Probes one member per tick and answers everybody else's probes."""

    def __init__(
        self,
        config: Config,
        me: LocalNode,
        table: MemberTable,
        outbox: Outbox,
        timers: Timers,
        awareness: Awareness,
        rules: StateRules,
    ) -> None:
        self.config = config
        self.me = me
        self.table = table
        self.outbox = outbox
        self.timers = timers
        self.awareness = awareness
        self.rules = rules
        self.handlers: dict[int, Probe | Relay | UserPing] = {}
        self.probe: Probe | None = None
        self.tick_pending = False
        self._seq_no = 0

    def _next_seq(self) -> int:
        self._seq_no = (self._seq_no + 1) & 0xFFFFFFFF
        return self._seq_no

    def _ping(self, seq: int, node: str) -> Ping:
        return Ping(seq, node, self.me.addr_bytes, self.me.port, self.me.name)

    # ------------------------------------------------------------------ our probes

    def tick(self, now: float) -> None:
        self.timers.schedule(now + self.config.protocol_interval, TimerKind.PROBE_TICK)
        if self.probe is not None:
            self.tick_pending = True  # Go's ticker buffers one tick
            return
        self._probe_next(now)

    def _probe_next(self, now: float) -> None:
        node = self.table.next_probe_target(self.config.gossip_to_the_dead_time, now)
        if node is not None:
            self._probe_node(node, now)

    def _probe_node(self, node: Member, now: float) -> None:
        interval = self.awareness.scale_timeout(self.config.protocol_interval)
        ping = self._ping(self._next_seq(), node.name)
        probe = Probe(node, ping, now, now + interval)
        self.probe = probe
        self.handlers[ping.seq_no] = probe
        if node.state == NodeState.ALIVE or not self.config.lifeguard:
            self.outbox.send_with_piggyback(node.address, codec.encode(ping))
        else:
            # Buddy system: tell a suspect directly so it can refute at once.
            sus = Suspect(node.incarnation, node.name, self.me.name)
            data = codec.make_compound([codec.encode(ping), codec.encode(sus)])
            self.outbox.send(node.address, data, node.pmax >= 5)
        self.timers.schedule(now + self.config.probe_timeout, TimerKind.PROBE_DIRECT, probe)
        self.timers.schedule(probe.end, TimerKind.PROBE_END, probe)

    def go_indirect(self, probe: Probe) -> None:
        """No direct ack in time: ask helpers, and try TCP (memberlist probeNode, part 2)."""
        if probe is not self.probe or probe.acked:
            return
        node = probe.target
        local = self.me.name
        helpers = self.table.k_random(
            self.config.indirect_checks,
            lambda m: m.name == local or m.name == node.name or m.state != NodeState.ALIVE,
        )
        for peer in helpers:
            nack = peer.pmax >= 4 and self.config.lifeguard
            if nack:
                probe.expected_nacks += 1
            ind = IndirectPing(
                seq_no=probe.ping.seq_no,
                target=node.addr,
                port=node.port,
                node=node.name,
                nack=nack,
                source_addr=self.me.addr_bytes,
                source_port=self.me.port,
                source_node=local,
            )
            self.outbox.send_with_piggyback(peer.address, codec.encode(ind))
        if not self.config.disable_tcp_pings and node.pmax >= 3:
            self.outbox.emit(TcpPing(node.address, probe.ping, probe.end))

    def end(self, probe: Probe, now: float) -> None:
        """The probe's time is up: suspect the target unless something vouched for it."""
        if probe is not self.probe:
            return
        self.handlers.pop(probe.ping.seq_no, None)
        node = probe.target
        if probe.tcp_ok:
            self.outbox.emit(
                Notice(
                    "tcp_only",
                    logging.WARNING,
                    f"was able to connect to {node.name} over TCP but other probes failed; "
                    "network may be misconfigured",
                )
            )
            self._finish(now, -1)
            return
        delta = max(0, probe.expected_nacks - probe.nacks) if probe.expected_nacks > 0 else 1
        self._finish(now, delta)
        self.outbox.emit(
            Notice("probe_failed", logging.INFO, f"suspect {node.name} has failed, no acks")
        )
        self.rules.suspect(Suspect(node.incarnation, node.name, self.me.name), now)

    def _finish(self, now: float, awareness_delta: int) -> None:
        if self.config.lifeguard:
            self.awareness.apply_delta(awareness_delta)
        self.probe = None
        if self.tick_pending:
            self.tick_pending = False
            self._probe_next(now)

    def tcp_ping_result(self, seq_no: int, ok: bool) -> None:
        probe = self.probe
        if ok and probe is not None and probe.ping.seq_no == seq_no:
            probe.tcp_ok = True

    def user_ping(self, addr: Addr, node_name: str, request_id: int, now: float) -> None:
        """One direct ping for the API (memberlist ``Ping``); a PingResult follows."""
        seq = self._next_seq()
        self.handlers[seq] = UserPing(request_id, now)
        self.outbox.send(addr, codec.encode(self._ping(seq, node_name)), False)
        timeout = self.awareness.scale_timeout(self.config.protocol_interval)
        self.timers.schedule(now + timeout, TimerKind.PING_END, seq)

    def user_ping_expired(self, seq: int) -> None:
        h = self.handlers.get(seq)
        if isinstance(h, UserPing):
            del self.handlers[seq]
            self.outbox.emit(PingResult(h.request_id, None))

    # ------------------------------------------------------------------ others' probes

    def on_ping(self, ping: Ping, addr: Addr) -> None:
        if ping.node and ping.node != self.me.name:
            self.rules.drop("ping_wrong_node")
            return
        to = _reply_addr(ping.source_addr, ping.source_port, addr)
        self.outbox.send_with_piggyback(to, codec.encode(Ack(ping.seq_no)))

    def on_ack(self, ack: Ack, now: float) -> None:
        h = self.handlers.pop(ack.seq_no, None)
        if h is None:
            return
        if isinstance(h, Probe):
            if h is self.probe and not h.acked:
                h.acked = True
                self._finish(now, -1)
        elif isinstance(h, Relay):
            h.done = True
            self.outbox.send_with_piggyback(h.reply_to, codec.encode(Ack(h.seq_no)))
        else:
            self.outbox.emit(PingResult(h.request_id, now - h.sent))

    def on_nack(self, nack: Nack) -> None:
        h = self.handlers.get(nack.seq_no)
        if isinstance(h, Probe):
            h.nacks += 1

    def on_indirect_ping(self, ind: IndirectPing, addr: Addr, now: float) -> None:
        if len(ind.target) not in (4, 16):
            self.rules.drop("bad_indirect_target")
            return
        reply_to = _reply_addr(ind.source_addr, ind.source_port, addr)
        seq = self._next_seq()
        relay = Relay(ind.seq_no, reply_to, ind.nack)
        self.handlers[seq] = relay
        target = (ip_to_str(ind.target), ind.port or self.me.port)
        self.outbox.send_with_piggyback(target, codec.encode(self._ping(seq, ind.node)))
        self.timers.schedule(now + self.config.probe_timeout, TimerKind.RELAY_END, seq)
        if ind.nack:
            self.timers.schedule(now + self.config.probe_timeout, TimerKind.RELAY_NACK, relay)

    def relay_nack(self, relay: Relay) -> None:
        if not relay.done:
            relay.done = True
            self.outbox.send_with_piggyback(relay.reply_to, codec.encode(Nack(relay.seq_no)))

    def relay_expired(self, seq: int) -> None:
        if isinstance(self.handlers.get(seq), Relay):
            del self.handlers[seq]


def _reply_addr(src_addr: bytes, src_port: int, addr: Addr) -> Addr:
    """Where to answer: the source fields when present, else the packet's source."""
    if src_addr and src_port > 0 and len(src_addr) in (4, 16):
        return (ip_to_str(src_addr), src_port)
    return addr
