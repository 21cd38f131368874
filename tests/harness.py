"""A tiny deterministic network of SwimCore instances for core unit tests.

Packets are delivered after a fixed latency; TCP exchanges complete instantly; a node can be
crashed (drops everything) and links can be blocked. Time only moves when ``run_until`` says.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from swimlib.config import Config
from swimlib.core.effects import (
    DeliverMessage,
    Effect,
    PublishEvent,
    PushPullRequest,
    SendPacket,
    StreamReply,
    TcpPing,
)
from swimlib.core.protocol import SwimCore
from swimlib.wire.messages import Message, PushPull
from swimlib.wire.packet import pack_inner, unpack_messages

Addr = tuple[str, int]


@dataclass
class Net:
    latency: float = 0.001
    now: float = 0.0
    seed: int = 1
    nodes: dict[Addr, SwimCore] = field(default_factory=dict)
    crashed: set[Addr] = field(default_factory=set)
    blocked: set[tuple[Addr, Addr]] = field(default_factory=set)
    events: dict[str, list[object]] = field(default_factory=dict)
    delivered: dict[str, list[bytes]] = field(default_factory=dict)
    sent: list[tuple[Addr, Addr, bytes]] = field(default_factory=list)
    _queue: list[tuple[float, int, Addr, Addr, bytes]] = field(default_factory=list)
    _seq: int = 0

    def add(self, name: str, cfg: Config | None = None, **overrides: object) -> SwimCore:
        port = 7000 + len(self.nodes)
        base = cfg or Config.local(node_name=name)
        base = base.with_changes(node_name=name, **overrides)
        core = SwimCore(base, random.Random(self.seed * 1000 + port), "127.0.0.1", port)
        self.nodes[("127.0.0.1", port)] = core
        self.events[name] = []
        self.delivered[name] = []
        self.apply(core, core.start(self.now))
        return core

    def addr(self, core: SwimCore) -> Addr:
        return (core.host, core.port)

    def join(self, core: SwimCore, seed: SwimCore) -> None:
        self.apply(core, core.join(self.addr(seed), 1, self.now))

    def _exchange(self, dialer: SwimCore, addr: Addr, msg: Message) -> Message | None:
        """One stream request to the core at ``addr``; its reply, if it wrote one."""
        peer = self.nodes[addr]
        effects = peer.handle_stream(msg, self.addr(dialer), self.now)
        self.apply(peer, effects)
        replies = [e.message for e in effects if isinstance(e, StreamReply)]
        return replies[0] if replies else None

    def apply(self, core: SwimCore, effects: list[Effect]) -> None:
        src = self.addr(core)
        for eff in effects:
            if isinstance(eff, SendPacket):
                data = pack_inner(eff.data, crc=eff.crc, compress=False)
                self.sent.append((src, eff.addr, data))
                if src in self.crashed or (src, eff.addr) in self.blocked:
                    continue
                self._seq += 1
                heapq.heappush(
                    self._queue, (self.now + self.latency, self._seq, src, eff.addr, data)
                )
            elif isinstance(eff, PublishEvent):
                self.events[core.name].append(eff.event)
            elif isinstance(eff, DeliverMessage):
                self.delivered[core.name].append(eff.payload)
            elif isinstance(eff, StreamReply):
                pass  # taken by _exchange
            elif isinstance(eff, PushPullRequest):
                if eff.addr not in self.nodes or eff.addr in self.crashed or src in self.crashed:
                    continue
                if (src, eff.addr) in self.blocked:
                    continue
                reply = self._exchange(core, eff.addr, eff.message)
                if isinstance(reply, PushPull):
                    rid = eff.request_id
                    self.apply(core, core.push_pull_reply(reply, eff.addr, rid, self.now))
            elif isinstance(eff, TcpPing):
                peer = self.nodes.get(eff.addr)
                ok = (
                    peer is not None
                    and eff.addr not in self.crashed
                    and (src, eff.addr) not in self.blocked
                    and src not in self.crashed
                )
                self.apply(core, core.tcp_ping_result(eff.ping.seq_no, ok, self.now))

    def _next_time(self) -> float | None:
        times = [t for _, t in self._deadlines()]
        if self._queue:
            times.append(self._queue[0][0])
        return min(times) if times else None

    def _deadlines(self) -> list[tuple[SwimCore, float]]:
        out = []
        for addr, core in self.nodes.items():
            if addr in self.crashed:
                continue
            for d in (core.next_deadline(), core.next_gossip()):
                if d is not None:
                    out.append((core, d))
        return out

    def run_until(self, t_end: float) -> None:
        while True:
            t = self._next_time()
            if t is None or t > t_end:
                self.now = t_end
                return
            self.now = max(self.now, t)
            while self._queue and self._queue[0][0] <= self.now:
                _, _, src, dst, data = heapq.heappop(self._queue)
                core = self.nodes.get(dst)
                if core is None or dst in self.crashed:
                    continue
                self.apply(core, core.receive_packet(data, src, self.now))
            for addr, core in list(self.nodes.items()):
                if addr in self.crashed:
                    continue
                d = core.next_deadline()
                if d is not None and d <= self.now:
                    self.apply(core, core.handle_timers(self.now))
                g = core.next_gossip()
                if g is not None and g <= self.now:
                    self.apply(core, core.gossip(self.now))

    def state(self, observer: SwimCore, name: str) -> int | None:
        m = observer.member(name)
        return None if m is None else int(m.state)


def decode_sent(net: Net) -> list[tuple[Addr, Addr, object]]:
    """Every message sent, compounds unpacked, through the runtime's own inner layers."""
    return [(s, d, m) for s, d, data in net.sent for m in unpack_messages(data)[0]]
