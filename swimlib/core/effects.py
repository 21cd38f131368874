"""Effects: what the protocol core asks its driver to do (send, dial, publish, deliver, reply).

The core never performs I/O. Every input returns a list of these values (treated as
immutable; not frozen only because a frozen dataclass costs 0.8 us more to build, on every
packet); the threaded runtime
and the simulator each carry them out, with one ``match`` over :data:`Effect`. Results of
blocking calls (a ping's RTT, a join's rejection, a stream reply) are effects too, tagged with
the request id the caller passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from swimlib.events import MemberEvent
from swimlib.node import Node
from swimlib.wire.messages import Message, Ping, PushPull

Addr = tuple[str, int]


@dataclass(slots=True)
class SendPacket:
    """Send ``data`` (a plaintext message or compound) by UDP; add a CRC when ``crc``."""

    addr: Addr
    data: bytes
    crc: bool = False


@dataclass(slots=True)
class SendReliable:
    """Send a user message over TCP (memberlist ``SendReliable``); blocking for the caller."""

    addr: Addr
    payload: bytes


@dataclass(slots=True)
class TcpPing:
    """Run a fallback ping over TCP; report with ``SwimCore.tcp_ping_result``."""

    addr: Addr
    ping: Ping
    deadline: float


@dataclass(slots=True)
class PushPullRequest:
    """Exchange state with ``addr`` over TCP; hand the reply to ``SwimCore.push_pull_reply``.

    ``request_id`` is the caller's (a join) or 0 for the periodic exchange.
    """

    addr: Addr
    message: PushPull
    request_id: int = 0


@dataclass(slots=True)
class PushPullRejected:
    """A peer's state failed the protocol-version check; nothing of it was merged."""

    addr: Addr
    reason: str
    request_id: int = 0


@dataclass(slots=True)
class StreamReply:
    """Write ``message`` back on the inbound stream being served."""

    message: Message


@dataclass(slots=True)
class PublishEvent:
    """Put a membership event on the user's queue (in order)."""

    event: MemberEvent


@dataclass(slots=True)
class DeliverMessage:
    """A user message for the application: topic None for a raw memberlist message.

    ``sender`` is the origin's member record when known (the envelope's origin, or the member
    at the source address for a raw message).
    """

    sender: Node | None
    topic: str | None
    payload: bytes
    addr: Addr


@dataclass(slots=True)
class LeaveFinished:
    """The graceful leave is out: sent its full retransmit count, or nobody was left to tell."""


@dataclass(slots=True)
class PingResult:
    """Outcome of ``SwimCore.ping``: ``rtt`` in seconds, or None on timeout."""

    request_id: int
    rtt: float | None


@dataclass(slots=True)
class Notice:
    """Something an operator should hear about; the runtime logs it, rate-limited by ``key``.

    The core itself never logs: peer input could otherwise flood the host's log.
    """

    key: str
    level: int
    message: str


Effect = (
    SendPacket
    | SendReliable
    | TcpPing
    | PushPullRequest
    | PushPullRejected
    | StreamReply
    | PublishEvent
    | DeliverMessage
    | LeaveFinished
    | PingResult
    | Notice
)


def assert_never(effect: NoReturn) -> NoReturn:
    """The end of an effect ``match``: mypy fails if a kind of :data:`Effect` is unhandled.

    (``typing.assert_never`` is Python 3.11+; swimlib supports 3.10.)
    """
    raise AssertionError(f"unhandled effect {effect!r}")
