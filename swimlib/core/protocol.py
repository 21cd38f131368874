"""SwimCore: the SWIM + Lifeguard state machine of one node, with no I/O inside.

memberlist counterparts: ``state.go`` (probing, gossip, push/pull schedule, the alive/suspect/
dead rules), ``net.go`` (packet handlers), ``memberlist.go`` (create, leave, update).

Every input takes ``now`` (monotonic seconds) and returns a list of effects
(:mod:`swimlib.core.effects`). Timers are data in a heap, keyed by tokens so stale entries are
ignored. Randomness comes from the ``random.Random`` passed in, so a run is reproducible.
"""

from __future__ import annotations

import heapq
import logging
import random
from collections.abc import Callable
from typing import Any

from swimlib.config import Config
from swimlib.core.awareness import Awareness
from swimlib.core.broadcast_queue import TransmitLimitedQueue
from swimlib.core.effects import (
    Addr,
    DeliverMessage,
    Effect,
    LeaveFinished,
    PingResult,
    PublishEvent,
    PushPullRequest,
    SendPacket,
    TcpPing,
)
from swimlib.core.formulas import (
    push_pull_scale,
    suspicion_confirmations_wanted,
    suspicion_timeout,
)
from swimlib.core.members import Member, ip_to_bytes, ip_to_str, shared_vsn
from swimlib.core.suspicion import Suspicion
from swimlib.events import AliveEvent, JoinEvent, LeaveEvent, SuspectEvent, UpdateEvent
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
    WireState,
)
from swimlib.wire.packet import unpack_messages

log = logging.getLogger("swimlib.core")


# Timer kinds, in the heap as (deadline, seq, kind, key).
_T_PROBE_TICK = 0
_T_PROBE_DIRECT = 1
_T_PROBE_END = 2
_T_RELAY_NACK = 3
_T_RELAY_END = 4
_T_SUSPICION = 5
_T_PUSH_PULL = 6
_T_PING_END = 7


PreloadRecord = tuple[str, bytes, int, bytes, bytes, int]


class MergeRejected(Exception):
    """A remote push/pull failed the protocol-version check; nothing was merged."""


class _Probe:
    """One probe in flight (memberlist ``probeNode``, unrolled into timer steps)."""

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


class _Relay:
    """An indirect ping we relay for someone else (memberlist ``handleIndirectPing``)."""

    __slots__ = ("done", "nack", "reply_to", "seq_no")

    def __init__(self, seq_no: int, reply_to: Addr, nack: bool) -> None:
        self.seq_no = seq_no
        self.reply_to = reply_to
        self.nack = nack
        self.done = False


class _UserPing:
    """A ping requested through the API (memberlist ``Ping``), for RTT measurement."""

    __slots__ = ("sent", "seq_no")

    def __init__(self, seq_no: int, sent: float) -> None:
        self.seq_no = seq_no
        self.sent = sent


class SwimCore:
    """The protocol state of one node. Single-threaded: the driver serialises every call."""

    def __init__(
        self,
        config: Config,
        rng: random.Random,
        now: float,
        host: str,
        port: int,
        packet_overhead: int = 0,
    ) -> None:
        self.config = config
        self.name = config.node_name
        self.rng = rng
        self.host = host
        self.port = port
        self.addr_bytes = ip_to_bytes(host)
        # Label and encryption bytes the driver adds around every packet (budgeting only).
        self.packet_overhead = packet_overhead
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
        self.awareness = Awareness(config.awareness_max_multiplier)
        self.broadcasts = TransmitLimitedQueue(config.retransmit_mult, self._num_nodes_fn)
        self.user_broadcasts = TransmitLimitedQueue(
            config.broadcast_retransmit_mult or 2 * config.retransmit_mult, self._num_nodes_fn
        )
        self.drops: dict[str, int] = {}
        self.leaving = False
        self.left = False
        self._out: list[Effect] = []
        self._nodes: list[Member] = []  # probe order
        self._by_name: dict[str, Member] = {}
        self._by_addr: dict[Addr, Member] = {}
        self._num_nodes = 0
        self._probe_index = 0
        self._incarnation = 0
        self._seq_no = 0
        self._timers: list[tuple[float, int, int, Any]] = []
        self._timer_seq = 0
        self._handlers: dict[int, _Probe | _Relay | _UserPing] = {}
        self._probe: _Probe | None = None
        self._tick_pending = False
        self._suspicions: dict[str, Suspicion] = {}
        self._next_gossip = now + rng.random() * config.gossip_interval
        self.user_state: Callable[[bool], bytes] = lambda join: b""
        self.merge_user_state: Callable[[bytes, bool], None] = lambda data, join: None

        # Announce ourselves: the bootstrap alive (memberlist setAlive).
        self._incarnation = 1
        self._alive(
            Alive(1, self.name, self.addr_bytes, port, config.meta, self.vsn),
            now,
            bootstrap=True,
        )
        self._schedule(now + rng.random() * config.protocol_interval, _T_PROBE_TICK, None)
        if config.push_pull_interval > 0:
            self._schedule(now + rng.random() * config.push_pull_interval, _T_PUSH_PULL, None)
        # Our own JoinEvent (memberlist notifies the local node's join too).
        self.startup_effects: list[Effect] = self._flush()

    # ------------------------------------------------------------------ plumbing

    def _num_nodes_fn(self) -> int:
        return self._num_nodes

    def _flush(self) -> list[Effect]:
        out = self._out
        self._out = []
        return out

    def _drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def _schedule(self, when: float, kind: int, key: Any) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, (when, self._timer_seq, kind, key))

    def _next_seq(self) -> int:
        self._seq_no = (self._seq_no + 1) & 0xFFFFFFFF
        return self._seq_no

    def _publish(self, event: Any) -> None:
        self._out.append(PublishEvent(event))

    # ------------------------------------------------------------------ queries

    @property
    def incarnation(self) -> int:
        return self._incarnation

    @property
    def num_nodes(self) -> int:
        return self._num_nodes

    def local_node(self) -> Node:
        return self._by_name[self.name].snapshot()

    def members(self) -> list[Node]:
        """Every known entry, self included, dead and left ones until reaped."""
        return [m.snapshot() for m in self._nodes]

    def member(self, name: str) -> Member | None:
        return self._by_name.get(name)

    def alive_count(self) -> int:
        return sum(1 for m in self._nodes if not m.dead_or_left())

    def health_score(self) -> int:
        return self.awareness.score

    def next_deadline(self) -> float | None:
        """The earliest protocol timer (probe, suspicion, relay, push/pull); gossip apart."""
        return self._timers[0][0] if self._timers else None

    def next_gossip(self) -> float | None:
        if self.config.gossip_interval <= 0 or self.config.gossip_nodes <= 0:
            return None
        return self._next_gossip

    def sender_of(self, addr: Addr) -> str | None:
        m = self._by_addr.get(addr)
        return m.name if m is not None else None

    # ------------------------------------------------------------------ timers

    def handle_timers(self, now: float) -> list[Effect]:
        """Fire every protocol timer due at ``now``."""
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, kind, key = heapq.heappop(timers)
            if kind == _T_PROBE_TICK:
                self._schedule(now + self.config.protocol_interval, _T_PROBE_TICK, None)
                if self._probe is not None:
                    self._tick_pending = True  # Go's ticker buffers one tick
                else:
                    self._probe_next(now)
            elif kind == _T_PROBE_DIRECT:
                self._probe_indirect(key, now)
            elif kind == _T_PROBE_END:
                self._probe_end(key, now)
            elif kind == _T_RELAY_NACK:
                self._relay_nack(key)
            elif kind == _T_RELAY_END:
                h = self._handlers.get(key)
                if isinstance(h, _Relay):
                    del self._handlers[key]
            elif kind == _T_SUSPICION:
                self._suspicion_fired(key, now)
            elif kind == _T_PUSH_PULL:
                self._push_pull_tick(now)
            elif kind == _T_PING_END:
                h = self._handlers.get(key)
                if isinstance(h, _UserPing):
                    del self._handlers[key]
                    self._out.append(PingResult(key, None))
        return self._flush()

    def gossip(self, now: float) -> list[Effect]:
        """The gossip tick (memberlist ``gossip``): send queued broadcasts to a few nodes."""
        self._next_gossip = now + self.config.gossip_interval
        if not self.broadcasts and not self.user_broadcasts:
            return []
        dead_window = self.config.gossip_to_the_dead_time

        def exclude(m: Member) -> bool:
            if m.name == self.name:
                return True
            if m.state <= NodeState.SUSPECT:
                return False
            if m.state == NodeState.DEAD:
                return now - m.state_change > dead_window
            return True

        avail = self.config.udp_buffer_size - 2 - self.packet_overhead
        for node in self._k_random(self.config.gossip_nodes, exclude):
            msgs = self._get_broadcasts(2, avail)
            if not msgs:
                break
            crc = node.pmax >= 5
            if len(msgs) == 1:
                self._out.append(SendPacket(node.address, msgs[0], crc))
            else:
                for i in range(0, len(msgs), codec.MAX_COMPOUND_PARTS):
                    chunk = msgs[i : i + codec.MAX_COMPOUND_PARTS]
                    data = chunk[0] if len(chunk) == 1 else codec.make_compound(chunk)
                    self._out.append(SendPacket(node.address, data, crc))
        return self._flush()

    def _k_random(self, k: int, exclude: Callable[[Member], bool]) -> list[Member]:
        """Up to k distinct random members not excluded (memberlist ``kRandomNodes``)."""
        nodes = self._nodes
        n = len(nodes)
        if n == 0 or k <= 0:
            return []
        picked: list[Member] = []
        if n < 3 * k:
            order = list(range(n))
            self.rng.shuffle(order)
            for i in order:
                m = nodes[i]
                if not exclude(m):
                    picked.append(m)
                    if len(picked) >= k:
                        break
            return picked
        rand = self.rng.randrange
        for _ in range(3 * n):
            m = nodes[rand(n)]
            if m in picked or exclude(m):
                continue
            picked.append(m)
            if len(picked) >= k:
                break
        return picked

    # ------------------------------------------------------------------ probing

    def _probe_next(self, now: float) -> None:
        """Pick the next round-robin target and probe it (memberlist ``probe``)."""
        checked = 0
        while True:
            if checked >= len(self._nodes):
                return
            if self._probe_index >= len(self._nodes):
                self._reset_nodes(now)
                self._probe_index = 0
                checked += 1
                continue
            node = self._nodes[self._probe_index]
            self._probe_index += 1
            if node.name == self.name or node.dead_or_left():
                checked += 1
                continue
            self._probe_node(node, now)
            return

    def _reset_nodes(self, now: float) -> None:
        """Reap dead/left entries past GossipToTheDeadTime, then reshuffle the probe order."""
        window = self.config.gossip_to_the_dead_time
        keep: list[Member] = []
        for m in self._nodes:
            if m.dead_or_left() and now - m.state_change > window and m.name != self.name:
                del self._by_name[m.name]
                if self._by_addr.get(m.address) is m:
                    del self._by_addr[m.address]
                continue
            keep.append(m)
        self.rng.shuffle(keep)
        self._nodes = keep
        self._num_nodes = len(keep)

    def _probe_node(self, node: Member, now: float) -> None:
        interval = self.awareness.scale_timeout(self.config.protocol_interval)
        ping = Ping(self._next_seq(), node.name, self.addr_bytes, self.port, self.name)
        probe = _Probe(node, ping, now, now + interval)
        self._probe = probe
        self._handlers[ping.seq_no] = probe
        if node.state == NodeState.ALIVE or not self.config.lifeguard:
            self._send_with_piggyback(node.address, codec.encode(ping))
        else:
            # Buddy system: tell a suspect directly so it can refute at once.
            sus = Suspect(node.incarnation, node.name, self.name)
            data = codec.make_compound([codec.encode(ping), codec.encode(sus)])
            self._out.append(SendPacket(node.address, data, node.pmax >= 5))
        self._schedule(now + self.config.probe_timeout, _T_PROBE_DIRECT, probe)
        self._schedule(probe.end, _T_PROBE_END, probe)

    def _probe_indirect(self, probe: _Probe, now: float) -> None:
        if probe is not self._probe or probe.acked:
            return
        node = probe.target
        helpers = self._k_random(
            self.config.indirect_checks,
            lambda m: m.name == self.name or m.name == node.name or m.state != NodeState.ALIVE,
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
                source_addr=self.addr_bytes,
                source_port=self.port,
                source_node=self.name,
            )
            self._send_with_piggyback(peer.address, codec.encode(ind))
        if not self.config.disable_tcp_pings and node.pmax >= 3:
            self._out.append(TcpPing(node.address, probe.ping, probe.end))

    def _probe_end(self, probe: _Probe, now: float) -> None:
        if probe is not self._probe:
            return
        self._handlers.pop(probe.ping.seq_no, None)
        if probe.tcp_ok:
            log.warning(
                "was able to connect to %s over TCP but other probes failed; "
                "network may be misconfigured",
                probe.target.name,
            )
            self._finish_probe(now, -1)
            return
        delta = max(0, probe.expected_nacks - probe.nacks) if probe.expected_nacks > 0 else 1
        node = probe.target
        self._finish_probe(now, delta)
        log.info("suspect %s has failed, no acks received", node.name)
        self._suspect(Suspect(node.incarnation, node.name, self.name), now)

    def _finish_probe(self, now: float, awareness_delta: int) -> None:
        if self.config.lifeguard:
            self.awareness.apply_delta(awareness_delta)
        self._probe = None
        if self._tick_pending:
            self._tick_pending = False
            self._probe_next(now)

    def tcp_ping_result(self, seq_no: int, ok: bool, now: float) -> list[Effect]:
        """The driver finished a :class:`TcpPing`."""
        probe = self._probe
        if ok and probe is not None and probe.ping.seq_no == seq_no:
            probe.tcp_ok = True
        return self._flush()

    def ping(self, addr: Addr, node_name: str, now: float) -> tuple[int, list[Effect]]:
        """Send one direct ping (memberlist ``Ping``); a :class:`PingResult` follows."""
        seq = self._next_seq()
        self._handlers[seq] = _UserPing(seq, now)
        ping = Ping(seq, node_name, self.addr_bytes, self.port, self.name)
        self._out.append(SendPacket(addr, codec.encode(ping)))
        self._schedule(
            now + self.awareness.scale_timeout(self.config.protocol_interval), _T_PING_END, seq
        )
        return seq, self._flush()

    # ------------------------------------------------------------------ sending

    def _send_with_piggyback(self, addr: Addr, msg: bytes) -> None:
        """Send a direct message with as many queued broadcasts as fit (``sendMsg``)."""
        budget = self.config.udp_buffer_size - len(msg) - 2 - self.packet_overhead
        extra = self._get_broadcasts(2, budget) if budget > 0 else []
        data = msg
        if extra:
            data = codec.make_compound([msg, *extra[: codec.MAX_COMPOUND_PARTS - 1]])
        self._out.append(SendPacket(addr, data, self._crc_by_address(addr)))

    def _crc_by_address(self, addr: Addr) -> bool:
        """Whether memberlist's ``sendMsg`` path would add a CRC for a packet to ``addr``.

        Go passes no node on that path (pings, acks, indirect pings, nacks) and looks one up
        by the destination's bare IP *as a node name*, so the CRC appears only in clusters
        whose nodes are named by IP. Doing the same keeps 5 bytes off every probe packet, as
        in memberlist; gossip, buddy pings and best-effort messages carry the CRC by PMax.
        """
        m = self._by_name.get(addr[0])
        return m is not None and m.pmax >= 5

    def _get_broadcasts(self, overhead: int, limit: int) -> list[bytes]:
        """Protocol broadcasts first, then user broadcasts framed as user messages."""
        msgs = self.broadcasts.get_broadcasts(overhead, limit) if self.broadcasts else []
        if self.user_broadcasts:
            used = sum(len(m) + overhead for m in msgs)
            remaining = limit - used
            if remaining > 3:
                for blob in self.user_broadcasts.get_broadcasts(overhead + 1, remaining):
                    msgs.append(b"\x08" + blob)
        return msgs

    def _broadcast(
        self, name: str, msg: Message, on_done: Callable[[], None] | None = None
    ) -> None:
        self.broadcasts.queue(codec.encode(msg), name, on_done)

    def queue_user_broadcast(self, payload: bytes) -> None:
        """A user broadcast, disseminated by piggyback and gossip like memberlist's delegate."""
        self.user_broadcasts.queue(payload)

    def send_user(self, addr: Addr, payload: bytes, node: Member | None) -> list[Effect]:
        """A best-effort direct user message (``SendBestEffort``): no piggybacking."""
        crc = node is not None and node.pmax >= 5
        self._out.append(SendPacket(addr, b"\x08" + payload, crc))
        return self._flush()

    # ------------------------------------------------------------------ receiving

    def receive_packet(self, data: bytes, addr: Addr, now: float) -> list[Effect]:
        """A UDP payload, label and encryption already removed by the driver."""
        msgs, errors = unpack_messages(data)
        for err in errors:
            self._drop(err.reason)
        for msg in msgs:
            self.handle_message(msg, addr, now)
        return self._flush()

    def handle_message(self, msg: Message, addr: Addr, now: float) -> None:
        """Dispatch one decoded UDP message (``handleCommand``)."""
        if isinstance(msg, Ping):
            self._on_ping(msg, addr)
        elif isinstance(msg, Ack):
            self._on_ack(msg, now)
        elif isinstance(msg, IndirectPing):
            self._on_indirect_ping(msg, addr, now)
        elif isinstance(msg, Nack):
            h = self._handlers.get(msg.seq_no)
            if isinstance(h, _Probe):
                h.nacks += 1
        elif isinstance(msg, Alive):
            self._alive(msg, now)
        elif isinstance(msg, Suspect):
            self._suspect(msg, now)
        elif isinstance(msg, Dead):
            self._dead(msg, now)
        elif isinstance(msg, User):
            if msg.payload:
                self._out.append(DeliverMessage(msg.payload, addr, self.sender_of(addr)))
        else:
            self._drop("unexpected_type")

    def _reply_addr(self, src_addr: bytes, src_port: int, addr: Addr) -> Addr:
        if src_addr and src_port > 0 and len(src_addr) in (4, 16):
            return (ip_to_str(src_addr), src_port)
        return addr

    def _on_ping(self, ping: Ping, addr: Addr) -> None:
        if ping.node and ping.node != self.name:
            self._drop("ping_wrong_node")
            return
        to = self._reply_addr(ping.source_addr, ping.source_port, addr)
        self._send_with_piggyback(to, codec.encode(Ack(ping.seq_no)))

    def _on_ack(self, ack: Ack, now: float) -> None:
        h = self._handlers.pop(ack.seq_no, None)
        if h is None:
            return
        if isinstance(h, _Probe):
            if h is self._probe and not h.acked:
                h.acked = True
                self._finish_probe(now, -1)
        elif isinstance(h, _Relay):
            h.done = True
            self._send_with_piggyback(h.reply_to, codec.encode(Ack(h.seq_no)))
        else:
            self._out.append(PingResult(h.seq_no, now - h.sent))

    def _on_indirect_ping(self, ind: IndirectPing, addr: Addr, now: float) -> None:
        if len(ind.target) not in (4, 16):
            self._drop("bad_indirect_target")
            return
        reply_to = self._reply_addr(ind.source_addr, ind.source_port, addr)
        seq = self._next_seq()
        relay = _Relay(ind.seq_no, reply_to, ind.nack)
        self._handlers[seq] = relay
        ping = Ping(seq, ind.node, self.addr_bytes, self.port, self.name)
        target = (ip_to_str(ind.target), ind.port or self.port)
        self._send_with_piggyback(target, codec.encode(ping))
        self._schedule(now + self.config.probe_timeout, _T_RELAY_END, seq)
        if ind.nack:
            self._schedule(now + self.config.probe_timeout, _T_RELAY_NACK, relay)

    def _relay_nack(self, relay: _Relay) -> None:
        if not relay.done:
            relay.done = True
            self._send_with_piggyback(relay.reply_to, codec.encode(Nack(relay.seq_no)))

    # ------------------------------------------------------------------ state rules

    def _add_member(self, name: str, addr: bytes, port: int, now: float) -> Member:
        m = Member(name, addr, port, b"", now)
        self._by_name[name] = m
        self._by_addr[m.address] = m
        n = len(self._nodes)
        self._nodes.insert(self.rng.randint(0, n) if n else 0, m)
        self._num_nodes += 1
        return m

    def _alive(self, a: Alive, now: float, bootstrap: bool = False) -> None:
        """memberlist ``aliveNode``."""
        is_local = a.node == self.name
        if self.leaving and is_local:
            return
        if len(a.vsn) >= 3 and (a.vsn[0] == 0 or a.vsn[1] == 0 or a.vsn[0] > a.vsn[1]):
            self._drop("bad_version")
            return
        if len(a.addr) not in (4, 16):
            self._drop("bad_address")
            return
        m = self._by_name.get(a.node)
        reclaim = False
        if m is None:
            m = self._add_member(a.node, a.addr, a.port, now)
            if len(a.vsn) >= 6:
                m.vsn = shared_vsn(bytes(a.vsn[:6]))
        elif m.addr != a.addr or m.port != a.port:
            reclaim_time = self.config.dead_node_reclaim_time
            can_reclaim = reclaim_time > 0 and now - m.state_change > reclaim_time
            if m.state == NodeState.LEFT or (m.state == NodeState.DEAD and can_reclaim):
                reclaim = True
            else:
                self._drop("address_conflict")
                log.warning(
                    "conflicting address for %s: %s:%d vs %s:%d",
                    a.node,
                    m.host,
                    m.port,
                    ip_to_str(a.addr),
                    a.port,
                )
                return
        if a.incarnation <= m.incarnation and not is_local and not reclaim:
            return
        if a.incarnation < m.incarnation and is_local:
            return
        self._suspicions.pop(a.node, None)
        old_state = m.state
        old_meta = m.meta
        if not bootstrap and is_local:
            if a.incarnation == m.incarnation and a.meta == m.meta and a.vsn == self.vsn:
                return
            self._refute(m, a.incarnation)
            log.warning("refuting an alive message about ourselves (incarnation %d)", a.incarnation)
            return
        self._broadcast(a.node, a)
        if len(a.vsn) >= 6:
            m.vsn = shared_vsn(bytes(a.vsn[:6]))
        m.incarnation = a.incarnation
        m.meta = a.meta
        if m.addr != a.addr or m.port != a.port:
            if self._by_addr.get(m.address) is m:
                del self._by_addr[m.address]
            m.set_address(a.addr, a.port)
            self._by_addr[m.address] = m
        if m.state != NodeState.ALIVE:
            m.state = NodeState.ALIVE
            m.state_change = now
        if old_state >= NodeState.DEAD:
            self._publish(JoinEvent(m.snapshot()))
        else:
            if old_state == NodeState.SUSPECT:
                self._publish(AliveEvent(m.snapshot()))
            if old_meta != m.meta:
                self._publish(UpdateEvent(m.snapshot()))

    def _suspect(self, s: Suspect, now: float) -> None:
        """memberlist ``suspectNode``."""
        m = self._by_name.get(s.node)
        if m is None or s.incarnation < m.incarnation:
            return
        timer = self._suspicions.get(s.node)
        if timer is not None:
            if self.config.lifeguard and timer.confirm(s.from_node, now):
                self._broadcast(s.node, s)
                self._schedule(timer.deadline, _T_SUSPICION, (s.node, timer))
            return
        if m.state != NodeState.ALIVE:
            return
        if s.node == self.name:
            self._refute(m, s.incarnation)
            log.warning("refuting a suspect message from %s", s.from_node)
            return
        self._broadcast(s.node, s)
        m.incarnation = s.incarnation
        m.state = NodeState.SUSPECT
        m.state_change = now
        n = self._num_nodes
        k = suspicion_confirmations_wanted(self.config.suspicion_mult, n)
        lo = suspicion_timeout(self.config.suspicion_mult, n, self.config.protocol_interval)
        hi = self.config.suspicion_max_timeout_mult * lo
        if not self.config.lifeguard:
            k, hi = 0, lo  # plain SWIM: a fixed timeout, confirmations change nothing
        timer = Suspicion(s.from_node, k, lo, hi, now)
        self._suspicions[s.node] = timer
        self._schedule(timer.deadline, _T_SUSPICION, (s.node, timer))
        self._publish(SuspectEvent(m.snapshot()))

    def _suspicion_fired(self, key: tuple[str, Suspicion], now: float) -> None:
        name, timer = key
        if self._suspicions.get(name) is not timer or timer.deadline > now:
            return
        del self._suspicions[name]
        m = self._by_name.get(name)
        if m is None or m.state != NodeState.SUSPECT or m.state_change != timer.start:
            return
        log.info(
            "marking %s as failed, suspect timeout reached (%d confirmations)",
            name,
            timer.confirmations,
        )
        self._dead(Dead(m.incarnation, name, self.name), now)

    def _dead(self, d: Dead, now: float) -> None:
        """memberlist ``deadNode``."""
        m = self._by_name.get(d.node)
        if m is None or d.incarnation < m.incarnation:
            return
        self._suspicions.pop(d.node, None)
        if m.dead_or_left():
            return
        if d.node == self.name:
            if not self.leaving:
                self._refute(m, d.incarnation)
                log.warning("refuting a dead message from %s", d.from_node)
                return
            self._broadcast(d.node, d, self._leave_done)
        else:
            self._broadcast(d.node, d)
        m.incarnation = d.incarnation
        m.state = NodeState.LEFT if d.node == d.from_node else NodeState.DEAD
        m.state_change = now
        self._publish(LeaveEvent(m.snapshot()))

    def _refute(self, me: Member, accused: int) -> None:
        """Claim a higher incarnation than the accusation and broadcast it (``refute``)."""
        self._incarnation = max(self._incarnation + 1, accused + 1)
        me.incarnation = self._incarnation
        if self.config.lifeguard:
            self.awareness.apply_delta(1)
        a = Alive(me.incarnation, self.name, self.addr_bytes, self.port, me.meta, self.vsn)
        self._broadcast(self.name, a)

    # ------------------------------------------------------------------ commands

    def update_meta(self, meta: bytes, now: float) -> list[Effect]:
        """New metadata under a new incarnation (memberlist ``UpdateNode``)."""
        self._incarnation += 1
        a = Alive(self._incarnation, self.name, self.addr_bytes, self.port, meta, self.vsn)
        self._alive(a, now, bootstrap=True)
        return self._flush()

    def leave(self, now: float) -> tuple[bool, list[Effect]]:
        """Broadcast our graceful departure. Returns whether the caller should wait for it."""
        if self.leaving:
            return (not self.left, self._flush())
        self.leaving = True
        me = self._by_name[self.name]
        dead = Dead(me.incarnation, self.name, self.name)
        self._dead(dead, now)
        # Besides gossiping it (as memberlist does), tell every live member directly: with a
        # small retransmit limit the gossip alone can lose the race against failure detection
        # when the process exits right after leave(), and a leave must not look like a crash.
        msg = codec.encode(dead)
        others = [m for m in self._nodes if m.name != self.name and not m.dead_or_left()]
        for m in others:
            self._out.append(SendPacket(m.address, msg, self._crc_by_address(m.address)))
        if not others:
            self.left = True
        return (bool(others), self._flush())

    def _leave_done(self) -> None:
        self.left = True
        self._out.append(LeaveFinished())

    # ------------------------------------------------------------------ push/pull

    def local_state(self, join: bool) -> PushPull:
        """Our full table for a push/pull (``sendLocalState``)."""
        return PushPull(
            join=join,
            nodes=tuple(m.to_push_state() for m in self._nodes),
            user_state=self.user_state(join),
        )

    def _push_pull_tick(self, now: float) -> None:
        interval = push_pull_scale(self.config.push_pull_interval, self._num_nodes)
        self._schedule(now + interval, _T_PUSH_PULL, None)
        peers = self._k_random(1, lambda m: m.name == self.name or m.state != NodeState.ALIVE)
        if peers:
            self._out.append(PushPullRequest(peers[0].address, self.local_state(False)))

    def merge_remote_state(self, remote: PushPull, now: float) -> list[Effect]:
        """Merge a peer's push/pull (``mergeRemoteState``); MergeRejected on version clash."""
        self._verify_protocol(remote)
        by_name = self._by_name
        for r in remote.nodes:
            port = r.port or self.port
            if r.state == WireState.ALIVE:
                m = by_name.get(r.name)
                if (
                    m is not None
                    and r.incarnation <= m.incarnation
                    and r.name != self.name
                    and m.port == port
                    and m.addr == r.addr
                ):
                    continue  # nothing new: _alive would ignore it (the common case)
                self._alive(Alive(r.incarnation, r.name, r.addr, port, r.meta, r.vsn), now)
            elif r.state == WireState.LEFT:
                self._dead(Dead(r.incarnation, r.name, r.name), now)
            elif r.state in (WireState.DEAD, WireState.SUSPECT):
                self._suspect(Suspect(r.incarnation, r.name, self.name), now)
            else:
                self._drop("bad_node_state")
        if remote.user_state:
            self.merge_user_state(remote.user_state, remote.join)
        return self._flush()

    def _verify_protocol(self, remote: PushPull) -> None:
        """memberlist ``verifyProtocol``: every version must fit every alive node's range.

        Works on the distinct version strings (usually one or two), not on every entry.
        """
        local_alive = {m.vsn for m in self._nodes if m.state == NodeState.ALIVE}
        local_all = {m.vsn for m in self._nodes}
        remote_alive = {r.vsn for r in remote.nodes if r.state == WireState.ALIVE}
        remote_all = {r.vsn for r in remote.nodes}
        alive = {v for v in local_alive | remote_alive if len(v) >= 6}
        if not alive:
            return
        hi_min = max(v[0] for v in alive)
        lo_max = min(v[1] for v in alive)
        hi_dmin = max(v[3] for v in alive)
        lo_dmax = min(v[4] for v in alive)
        for v in local_all | {v for v in remote_all if len(v) >= 6}:
            if hi_min <= v[2] <= lo_max and hi_dmin <= v[5] <= lo_dmax:
                continue
            name = next((r.name for r in remote.nodes if r.vsn == v), None) or next(
                m.name for m in self._nodes if m.vsn == v
            )
            if not hi_min <= v[2] <= lo_max:
                raise MergeRejected(
                    f"node {name!r} protocol version ({v[2]}) is incompatible: [{hi_min}, {lo_max}]"
                )
            raise MergeRejected(
                f"node {name!r} delegate protocol version ({v[5]}) is incompatible: "
                f"[{hi_dmin}, {lo_dmax}]"
            )

    def preload(self, records: list[PreloadRecord], now: float) -> None:
        """Add known-alive members in bulk, with no events or broadcasts (simulator bootstrap).

        Each record is (name, addr bytes, port, meta, vsn, incarnation). Existing names are
        left alone; the probe order is reshuffled afterwards.
        """
        for name, addr, port, meta, vsn, incarnation in records:
            if name in self._by_name:
                continue
            m = Member(name, addr, port, meta, now)
            m.vsn = vsn
            m.incarnation = incarnation
            m.state = NodeState.ALIVE
            self._by_name[name] = m
            self._by_addr[m.address] = m
            self._nodes.append(m)
        self.rng.shuffle(self._nodes)
        self._num_nodes = len(self._nodes)
        self._probe_index = 0

    def handle_stream(
        self, msg: Message, addr: Addr, now: float
    ) -> tuple[Message | None, list[Effect]]:
        """A TCP stream message from a dialer: returns the reply to write and the effects."""
        if isinstance(msg, PushPull):
            reply = self.local_state(msg.join)
            try:
                return reply, self.merge_remote_state(msg, now)
            except MergeRejected as err:
                self._drop("version_mismatch")
                log.warning("push/pull from %s:%d rejected: %s", addr[0], addr[1], err)
                return reply, self._flush()
        if isinstance(msg, Ping):
            if msg.node and msg.node != self.name:
                self._drop("ping_wrong_node")
                return None, self._flush()
            return Ack(msg.seq_no), self._flush()
        if isinstance(msg, User):
            if msg.payload:
                self._out.append(DeliverMessage(msg.payload, addr, self.sender_of(addr)))
            return None, self._flush()
        if isinstance(msg, ErrResp):
            self._drop("remote_error")
            return None, self._flush()
        self._drop("unexpected_stream_type")
        return None, self._flush()
