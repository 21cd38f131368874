"""Member records and address helpers (memberlist ``nodeState``).

A :class:`Member` is the core's mutable, slotted record of one node; :meth:`Member.snapshot`
gives the immutable public :class:`~swimlib.node.Node`.
"""

from __future__ import annotations

import ipaddress
import sys
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
        v = self.vsn
        return Node(
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
