"""Member records and the member table (memberlist ``nodeState``, ``nodes``, ``nodeMap``).

A :class:`Member` is the core's mutable, slotted record of one node; :meth:`Member.snapshot`
gives the immutable public :class:`~swimlib.node.Node`. :class:`MemberTable` owns lookup by
name and address, random selection, the probe order, reaping and bulk preload.
"""

from __future__ import annotations

import ipaddress
import random
import sys
from collections.abc import Callable
from functools import lru_cache

from swimlib.node import Node, NodeState
from swimlib.wire.messages import PushNodeState

_V4_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"


@lru_cache(maxsize=65536)
def socket_address(host: str, port: int) -> tuple[str, int]:
    """Shared (host, port) tuples: thousands of member records point at the same few."""
    return (host, port)


@lru_cache(maxsize=4096)
def shared_vsn(vsn: bytes) -> bytes:
    """One object per distinct six version bytes (clusters have a handful)."""
    return vsn


@lru_cache(maxsize=65536)
def ip_to_str(raw: bytes) -> str:
    """4- or 16-byte IP to text; IPv4-mapped IPv6 is unwrapped so it can be a socket address."""
    if len(raw) == 4:
        return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"
    if len(raw) == 16:
        if raw.startswith(_V4_MAPPED_PREFIX):
            return ip_to_str(raw[12:])
        return ipaddress.IPv6Address(raw).compressed
    raise ValueError(f"not an IP address: {len(raw)} bytes")


def ip_to_bytes(host: str) -> bytes:
    """Text IP to the form memberlist sends for itself: 4 bytes for IPv4."""
    return ipaddress.ip_address(host).packed


class Member:
    """One row of the member table. Only the core mutates it, under the runtime's lock."""

    __slots__ = (
        "_snap",
        "_snap_key",
        "addr",
        "address",
        "host",
        "incarnation",
        "meta",
        "name",
        "port",
        "state",
        "state_change",
        "vsn",
    )

    def __init__(self, name: str, addr: bytes, port: int, meta: bytes, now: float) -> None:
        self.name = sys.intern(name)  # one string per name, however many tables hold it
        self.addr = addr
        self.host = ip_to_str(addr) if len(addr) in (4, 16) else ""
        self.port = port
        self.address = socket_address(self.host, port)
        self.meta = meta
        self.incarnation = 0
        self.state = NodeState.DEAD  # memberlist creates unknown nodes dead, then revives them
        self.state_change = now
        self.vsn = b"\x01\x05\x02\x00\x00\x00"
        self._snap: Node | None = None
        self._snap_key: tuple[object, ...] = ()

    @property
    def pmax(self) -> int:
        return self.vsn[1]

    def set_address(self, addr: bytes, port: int) -> None:
        self.addr = addr
        self.host = ip_to_str(addr) if len(addr) in (4, 16) else ""
        self.port = port
        self.address = socket_address(self.host, port)

    def dead_or_left(self) -> bool:
        return self.state >= NodeState.DEAD

    def snapshot(self) -> Node:
        """The public view; reused while nothing in it changed (building one costs ~4 us,
        and every delivered message and event needs one)."""
        key = (self.state, self.incarnation, self.meta, self.host, self.port, self.vsn)
        if key == self._snap_key and self._snap is not None:
            return self._snap
        v = self.vsn
        self._snap_key = key
        self._snap = Node(
            name=self.name,
            addr=self.host,
            port=self.port,
            meta=self.meta,
            state=NodeState(self.state),
            incarnation=self.incarnation,
            pmin=v[0],
            pmax=v[1],
            pcur=v[2],
            dmin=v[3],
            dmax=v[4],
            dcur=v[5],
        )
        return self._snap

    def to_push_state(self) -> PushNodeState:
        return PushNodeState(
            name=self.name,
            addr=self.addr,
            port=self.port,
            meta=self.meta,
            incarnation=self.incarnation,
            state=int(self.state),
            vsn=self.vsn,
        )


#: One preloaded member: (name, addr bytes, port, meta, vsn, incarnation).
PreloadRecord = tuple[str, bytes, int, bytes, bytes, int]


class MemberTable:
    """The member table (memberlist ``nodes`` / ``nodeMap``): lookup, selection, reaping.

    ``nodes`` is also the probe order: new members go to a random position, and the order is
    reshuffled at the end of every probe round, when dead and left entries past their
    retention are reaped.
    """

    __slots__ = ("by_addr", "by_name", "local_name", "nodes", "probe_index", "rng")

    def __init__(self, local_name: str, rng: random.Random) -> None:
        self.local_name = local_name
        self.rng = rng
        self.nodes: list[Member] = []
        self.by_name: dict[str, Member] = {}
        self.by_addr: dict[tuple[str, int], Member] = {}
        self.probe_index = 0

    def __len__(self) -> int:
        return len(self.nodes)

    def get(self, name: str) -> Member | None:
        return self.by_name.get(name)

    def name_at(self, addr: tuple[str, int]) -> str | None:
        m = self.by_addr.get(addr)
        return m.name if m is not None else None

    def add(self, name: str, addr: bytes, port: int, now: float) -> Member:
        """A new (dead) entry at a random place in the probe order (memberlist aliveNode)."""
        m = Member(name, addr, port, b"", now)
        self.by_name[name] = m
        self.by_addr[m.address] = m
        n = len(self.nodes)
        self.nodes.insert(self.rng.randint(0, n) if n else 0, m)
        return m

    def readdress(self, m: Member, addr: bytes, port: int) -> None:
        if self.by_addr.get(m.address) is m:
            del self.by_addr[m.address]
        m.set_address(addr, port)
        self.by_addr[m.address] = m

    def k_random(self, k: int, exclude: Callable[[Member], bool]) -> list[Member]:
        """Up to k distinct random members not excluded (memberlist ``kRandomNodes``)."""
        nodes = self.nodes
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

    def next_probe_target(self, reap_after: float, now: float) -> Member | None:
        """The next round-robin probe target (memberlist ``probe``), or None if none."""
        checked = 0
        while checked < len(self.nodes):
            if self.probe_index >= len(self.nodes):
                self.reap_and_shuffle(reap_after, now)
                self.probe_index = 0
                checked += 1
                continue
            node = self.nodes[self.probe_index]
            self.probe_index += 1
            if node.name == self.local_name or node.dead_or_left():
                checked += 1
                continue
            return node
        return None

    def reap_and_shuffle(self, reap_after: float, now: float) -> None:
        """Forget dead/left entries older than ``reap_after``; reshuffle (``resetNodes``)."""
        keep: list[Member] = []
        for m in self.nodes:
            expired = m.dead_or_left() and now - m.state_change > reap_after
            if expired and m.name != self.local_name:
                del self.by_name[m.name]
                if self.by_addr.get(m.address) is m:
                    del self.by_addr[m.address]
                continue
            keep.append(m)
        self.rng.shuffle(keep)
        self.nodes = keep

    def preload(self, records: list[PreloadRecord], now: float) -> None:
        """Known-alive members in bulk, no events or broadcasts (simulator bootstrap).

        Existing names are left alone; the probe order is reshuffled afterwards.
        """
        for name, addr, port, meta, vsn, incarnation in records:
            if name in self.by_name:
                continue
            m = Member(name, addr, port, meta, now)
            m.vsn = vsn
            m.incarnation = incarnation
            m.state = NodeState.ALIVE
            self.by_name[name] = m
            self.by_addr[m.address] = m
            self.nodes.append(m)
        self.rng.shuffle(self.nodes)
        self.probe_index = 0
