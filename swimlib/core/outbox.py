"""The outbox: effects waiting for the driver, broadcast queues, packing and CRC policy.

memberlist counterparts: ``net.go`` ``sendMsg`` (piggyback queued broadcasts on a direct
message), ``state.go`` ``gossip`` (pack broadcasts for a few random nodes) and the CRC choice
of ``rawSendMsgPacket``. Every core part writes its effects here; the core flushes them as the
return value of each input.
"""

from __future__ import annotations

from collections.abc import Callable

from swimlib.config import Config
from swimlib.core.broadcast_queue import TransmitLimitedQueue
from swimlib.core.effects import Addr, Effect, SendPacket
from swimlib.core.members import Member, MemberTable
from swimlib.node import NodeState
from swimlib.wire import codec
from swimlib.wire.messages import Message, MessageType

_USER_TYPE = bytes((MessageType.USER,))
_COMPOUND_OVERHEAD = 2  # per part: the u16 length in a compound header


class Outbox:
    """Collects effects; owns what rides on each packet."""

    __slots__ = ("broadcasts", "config", "effects", "packet_overhead", "table", "user_broadcasts")

    def __init__(self, config: Config, table: MemberTable, packet_overhead: int) -> None:
        self.config = config
        self.table = table
        # Label and encryption bytes the driver adds around every packet (budgeting only).
        self.packet_overhead = packet_overhead
        self.effects: list[Effect] = []
        count = table.__len__
        self.broadcasts = TransmitLimitedQueue(config.retransmit_mult, count)
        self.user_broadcasts = TransmitLimitedQueue(
            config.broadcast_retransmit_mult or 2 * config.retransmit_mult, count
        )

    def flush(self) -> list[Effect]:
        out = self.effects
        self.effects = []
        return out

    def emit(self, effect: Effect) -> None:
        self.effects.append(effect)

    @property
    def packet_budget(self) -> int:
        """Bytes of one datagram left for messages once the driver's layers are added."""
        return self.config.udp_buffer_size - self.packet_overhead

    # ------------------------------------------------------------------ queues

    def broadcast(self, name: str, msg: Message, on_done: Callable[[], None] | None = None) -> None:
        """Queue membership news about ``name``; it replaces older news about the same node."""
        self.broadcasts.queue(codec.encode(msg), name, on_done)

    def user_broadcast(self, payload: bytes) -> None:
        """Queue a user broadcast for piggyback and gossip (memberlist's delegate queue)."""
        self.user_broadcasts.queue(payload)

    def _take_broadcasts(self, overhead: int, limit: int) -> list[bytes]:
        """Protocol broadcasts first, then user broadcasts framed as user messages."""
        msgs = self.broadcasts.get_broadcasts(overhead, limit) if self.broadcasts else []
        if self.user_broadcasts:
            used = sum(len(m) + overhead for m in msgs)
            remaining = limit - used
            if remaining > 3:
                for blob in self.user_broadcasts.get_broadcasts(overhead + 1, remaining):
                    msgs.append(_USER_TYPE + blob)
        return msgs

    # ------------------------------------------------------------------ sending

    def send(self, addr: Addr, data: bytes, crc: bool) -> None:
        self.effects.append(SendPacket(addr, data, crc))

    def send_user(self, member: Member, payload: bytes) -> None:
        """A best-effort user message (``SendBestEffort``): no piggyback, CRC by PMax."""
        self.effects.append(SendPacket(member.address, _USER_TYPE + payload, member.pmax >= 5))

    def send_with_piggyback(self, addr: Addr, msg: bytes) -> None:
        """A direct message with as many queued broadcasts as fit (``sendMsg``)."""
        budget = self.packet_budget - len(msg) - _COMPOUND_OVERHEAD
        extra = self._take_broadcasts(_COMPOUND_OVERHEAD, budget) if budget > 0 else []
        data = msg
        if extra:
            data = codec.make_compound([msg, *extra[: codec.MAX_COMPOUND_PARTS - 1]])
        self.effects.append(SendPacket(addr, data, self.crc_by_address(addr)))

    def crc_by_address(self, addr: Addr) -> bool:
        """Whether memberlist's ``sendMsg`` path would add a CRC for a packet to ``addr``.

        Go passes no node on that path (pings, acks, indirect pings, nacks) and looks one up
        by the destination's bare IP *as a node name*, so the CRC appears only in clusters
        whose nodes are named by IP. Doing the same keeps 5 bytes off every probe packet, as
        in memberlist; gossip, buddy pings and best-effort messages carry the CRC by PMax.
        """
        m = self.table.get(addr[0])
        return m is not None and m.pmax >= 5

    def gossip(self, now: float) -> None:
        """The gossip tick (memberlist ``gossip``): queued broadcasts to a few nodes."""
        if not self.broadcasts and not self.user_broadcasts:
            return
        dead_window = self.config.gossip_to_the_dead_time
        local = self.table.local_name

        def exclude(m: Member) -> bool:
            if m.name == local:
                return True
            if m.state <= NodeState.SUSPECT:
                return False
            if m.state == NodeState.DEAD:
                return now - m.state_change > dead_window
            return True

        avail = self.packet_budget - _COMPOUND_OVERHEAD
        for node in self.table.k_random(self.config.gossip_nodes, exclude):
            msgs = self._take_broadcasts(_COMPOUND_OVERHEAD, avail)
            if not msgs:
                break
            crc = node.pmax >= 5
            if len(msgs) == 1:
                self.send(node.address, msgs[0], crc)
                continue
            for i in range(0, len(msgs), codec.MAX_COMPOUND_PARTS):
                chunk = msgs[i : i + codec.MAX_COMPOUND_PARTS]
                data = chunk[0] if len(chunk) == 1 else codec.make_compound(chunk)
                self.send(node.address, data, crc)
