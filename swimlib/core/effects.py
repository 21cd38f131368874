"""Effects: what the protocol core asks its driver to do (send, dial, publish, deliver).

The core never performs I/O. Every input returns a list of these values; the threaded runtime
and the simulator each carry them out in their own way.
"""

from __future__ import annotations

from dataclasses import dataclass

from swimlib.events import Event
from swimlib.wire.messages import Ping, PushPull

Addr = tuple[str, int]


@dataclass(frozen=True, slots=True)
class SendPacket:
    """Send ``data`` (a plaintext message or compound) by UDP; add a CRC when ``crc``."""

    addr: Addr
    data: bytes
    crc: bool = False


@dataclass(frozen=True, slots=True)
class TcpPing:
    """Run a fallback ping over TCP; report with ``SwimCore.tcp_ping_result``."""

    addr: Addr
    ping: Ping
    deadline: float


@dataclass(frozen=True, slots=True)
class PushPullRequest:
    """Exchange state with ``addr`` over TCP; merge the reply with ``merge_remote_state``."""

    addr: Addr
    message: PushPull


@dataclass(frozen=True, slots=True)
class PublishEvent:
    """Put a membership event on the user's queue (in order)."""

    event: Event


@dataclass(frozen=True, slots=True)
class DeliverMessage:
    """A user message arrived; ``sender`` is resolved from the source address if possible."""

    payload: bytes
    addr: Addr
    sender: str | None


@dataclass(frozen=True, slots=True)
class LeaveFinished:
    """The graceful-leave broadcast has been sent its full retransmit count."""


@dataclass(frozen=True, slots=True)
class PingResult:
    """Outcome of ``SwimCore.ping``: ``rtt`` in seconds, or None on timeout."""

    seq_no: int
    rtt: float | None


Effect = (
    SendPacket
    | TcpPing
    | PushPullRequest
    | PublishEvent
    | DeliverMessage
    | LeaveFinished
    | PingResult
)
