"""Typed memberlist messages: one frozen dataclass per wire struct (memberlist ``net.go`` types).

Field names are snake_case versions of Go's; the codec maps them to the exact msgpack keys.
Strings that Go treats as ``string`` are ``str`` here (decoded with surrogateescape so any
byte sequence survives a round trip); Go ``[]byte`` fields are ``bytes``, with nil and empty
treated as the same value, as Go does.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from swimlib.wire.limits import META_MAX_SIZE as META_MAX_SIZE  # re-exported


class MessageType(enum.IntEnum):
    """The first byte of every memberlist message (the list may only be appended to)."""

    PING = 0
    INDIRECT_PING = 1
    ACK = 2
    SUSPECT = 3
    ALIVE = 4
    DEAD = 5
    PUSH_PULL = 6
    COMPOUND = 7
    USER = 8
    COMPRESS = 9
    ENCRYPT = 10
    NACK = 11
    HAS_CRC = 12
    ERR = 13
    HAS_LABEL = 244


class WireState(enum.IntEnum):
    """Node state numbers as carried in push/pull node entries (``state.go``)."""

    ALIVE = 0
    SUSPECT = 1
    DEAD = 2
    LEFT = 3


@dataclass(frozen=True, slots=True)
class Ping:
    seq_no: int
    node: str
    source_addr: bytes = b""
    source_port: int = 0
    source_node: str = ""


@dataclass(frozen=True, slots=True)
class IndirectPing:
    seq_no: int
    target: bytes
    port: int
    node: str
    nack: bool = False
    source_addr: bytes = b""
    source_port: int = 0
    source_node: str = ""


@dataclass(frozen=True, slots=True)
class Ack:
    seq_no: int
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class Nack:
    seq_no: int


@dataclass(frozen=True, slots=True)
class Suspect:
    incarnation: int
    node: str
    from_node: str


@dataclass(frozen=True, slots=True)
class Alive:
    incarnation: int
    node: str
    addr: bytes
    port: int
    meta: bytes = b""
    vsn: bytes = b""


@dataclass(frozen=True, slots=True)
class Dead:
    incarnation: int
    node: str
    from_node: str


@dataclass(frozen=True, slots=True)
class PushNodeState:
    name: str
    addr: bytes
    port: int
    meta: bytes
    incarnation: int
    state: int
    vsn: bytes


@dataclass(frozen=True, slots=True)
class PushPull:
    """A whole push/pull stream message: header, node states and the raw user-state tail."""

    join: bool
    nodes: tuple[PushNodeState, ...] = ()
    user_state: bytes = b""


@dataclass(frozen=True, slots=True)
class User:
    """A user (delegate) message. Over UDP it is the raw payload after the type byte."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class Compound:
    """Several complete messages in one packet; parts are undecoded message bytes."""

    parts: tuple[bytes, ...]
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Compress:
    algo: int
    buf: bytes


@dataclass(frozen=True, slots=True)
class ErrResp:
    error: str


Message = (
    Ping
    | IndirectPing
    | Ack
    | Nack
    | Suspect
    | Alive
    | Dead
    | PushPull
    | User
    | Compound
    | Compress
    | ErrResp
)

# Six version bytes: [PMin, PMax, PCur, DMin, DMax, DCur] (memberlist.go BuildVsnArray).
PROTOCOL_VERSION_MIN = 1
PROTOCOL_VERSION_MAX = 5


@dataclass(frozen=True, slots=True)
class Vsn:
    """The six version bytes a node advertises."""

    pmin: int = PROTOCOL_VERSION_MIN
    pmax: int = PROTOCOL_VERSION_MAX
    pcur: int = 2
    dmin: int = 0
    dmax: int = 0
    dcur: int = 0

    def to_bytes(self) -> bytes:
        return bytes((self.pmin, self.pmax, self.pcur, self.dmin, self.dmax, self.dcur))

    @classmethod
    def from_bytes(cls, raw: bytes) -> Vsn | None:
        """Parse advertised versions; ``None`` when fewer than six bytes were sent."""
        if len(raw) < 6:
            return None
        return cls(raw[0], raw[1], raw[2], raw[3], raw[4], raw[5])
