"""User messaging: broadcasts and direct messages, the topic envelope, relay and dedup.

memberlist leaves user messages to the application (``SendBestEffort``, ``SendReliable``, the
delegate's broadcast queue). swimlib adds topics in a small envelope (docs/envelope.md): a
topic broadcast carries (origin, id), every swimlib node delivers it once and relays it once,
so it reaches the whole cluster. A raw message (no topic) is the payload byte for byte and is
never relayed, so plain memberlist applications interoperate. Ids come from the core's RNG,
so a simulated run stays a function of its seed.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable

from swimlib.config import Config
from swimlib.core.effects import Addr, DeliverMessage, SendReliable
from swimlib.core.members import Member, MemberTable
from swimlib.core.outbox import Outbox
from swimlib.errors import MessageTooLargeError, UnknownNodeError
from swimlib.node import Node
from swimlib.wire import envelope
from swimlib.wire.limits import MAX_RELIABLE_PAYLOAD, MAX_UDP_PAYLOAD

#: How many (origin, id) pairs a node remembers to deliver each relayed broadcast once.
SEEN_CAPACITY = 8192
#: Room kept free in a datagram beside a user broadcast (compound header, user type byte).
_BROADCAST_SLACK = 64
#: What a queued user broadcast costs in a packet beyond its bytes: the compound part
#: length (2), the user message type (1) and the compound header of the gossip packet (2).
_RELAY_OVERHEAD = 5


class SeenBroadcasts:
    """Bounded memory of (origin, id) pairs already delivered, oldest forgotten first."""

    __slots__ = ("_capacity", "_seen")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()

    def add(self, origin: str, msg_id: int) -> bool:
        """Remember the pair; False if it was already known."""
        key = (origin, msg_id)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._seen)


class Messaging:
    """Frames, sends, delivers and relays user messages for one node."""

    def __init__(
        self,
        config: Config,
        table: MemberTable,
        outbox: Outbox,
        rng: random.Random,
        drop: Callable[[str], None],
    ) -> None:
        self.config = config
        self.table = table
        self.outbox = outbox
        self.rng = rng
        self.seen = SeenBroadcasts(SEEN_CAPACITY)
        self._drop = drop

    def _frame(self, payload: bytes, topic: str | None, msg_id: int, broadcast: bool) -> bytes:
        if topic is None:
            return payload
        return envelope.wrap(topic, self.table.local_name, payload, msg_id, broadcast)

    def broadcast(self, payload: bytes, topic: str | None) -> None:
        """Queue a broadcast; MessageTooLargeError if it cannot fit one datagram."""
        msg_id = 0
        if topic is not None:
            msg_id = self.rng.getrandbits(64) or 1
        data = self._frame(payload, topic, msg_id, broadcast=True)
        room = self.config.udp_buffer_size - _BROADCAST_SLACK
        if len(data) > room:
            raise MessageTooLargeError(
                f"broadcast of {len(data)} bytes does not fit udp_buffer_size "
                f"({self.config.udp_buffer_size}); send it reliably to each node instead"
            )
        if msg_id:
            self.seen.add(self.table.local_name, msg_id)
        self.outbox.user_broadcast(data)

    def send(self, target: str, payload: bytes, topic: str | None, reliable: bool) -> None:
        """A direct message: best-effort UDP, or a SendReliable effect for TCP."""
        member = self.table.get(target)
        if member is None:
            raise UnknownNodeError(f"no member named {target!r}")
        data = self._frame(payload, topic, 0, broadcast=False)
        if reliable:
            if len(data) > MAX_RELIABLE_PAYLOAD:
                raise MessageTooLargeError("reliable messages are limited to 20 MiB")
            self.outbox.emit(SendReliable(member.address, data))
            return
        if len(data) > MAX_UDP_PAYLOAD:
            raise MessageTooLargeError(
                f"{len(data)} bytes do not fit a UDP datagram; use reliable=True"
            )
        self.outbox.send_user(member, data)

    def received(self, payload: bytes, addr: Addr) -> None:
        """A user message arrived (UDP or TCP): deliver it, relaying new topic broadcasts."""
        if not payload:
            return
        env = envelope.unwrap(payload)
        if env is None:
            self._deliver(self.table.by_addr.get(addr), None, payload, addr)
            return
        if env.broadcast and env.msg_id:
            if not self.seen.add(env.origin, env.msg_id):
                return  # a copy we already delivered (broadcasts are relayed epidemically)
            self._relay(payload)
        self._deliver(self.table.get(env.origin), env.topic, env.payload, addr)

    def _relay(self, payload: bytes) -> None:
        """Queue a received broadcast for relay, if it can ever leave in one of our packets.

        A sender with a larger udp_buffer_size (or a forger) can hand us an envelope our
        packets cannot carry; queued, it would never be sent and never leave the queue.
        """
        if len(payload) + _RELAY_OVERHEAD > self.outbox.packet_budget:
            self._drop("relay_too_large")
            return
        self.outbox.user_broadcast(payload)

    def _deliver(self, sender: Member | None, topic: str | None, body: bytes, addr: Addr) -> None:
        node: Node | None = sender.snapshot() if sender is not None else None
        self.outbox.emit(DeliverMessage(node, topic, body, addr))
