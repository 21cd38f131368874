"""TCP exchanges as memberlist runs them: push/pull, fallback ping, reliable user message.

Each function opens one connection, writes one stream message (label header first when a
label is set), optionally reads one reply, and closes. Errors surface as ``OSError`` (network)
or :class:`~swimlib.wire.errors.DecodeError` (bad bytes from the peer).
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass

from swimlib.wire import codec
from swimlib.wire.errors import DecodeError
from swimlib.wire.keyring import Keyring
from swimlib.wire.messages import Ack, ErrResp, Message, Ping, PushPull
from swimlib.wire.stream import encode_stream, label_header, read_stream

Addr = tuple[str, int]


class RemoteError(Exception):
    """The peer answered with an err message (memberlist ``errResp``)."""


@dataclass
class StreamSettings:
    """What framing a stream needs; the keyring is shared and may change at runtime."""

    label: bytes
    compression: bool
    keyring: Keyring
    encrypt_version: int
    verify_incoming: bool
    verify_outgoing: bool

    def frame(self, message: bytes) -> bytes:
        encrypt = bool(self.keyring) and self.verify_outgoing
        key = self.keyring.primary_key() if encrypt else None
        return encode_stream(
            message,
            compress=self.compression,
            key=key,
            nonce=os.urandom(12) if key is not None else None,
            label=self.label,
            encrypt_version=self.encrypt_version,
        )

    def read(self, sock: socket.socket, first: bytes | None = None) -> Message:
        if first is None:
            first = sock.recv(1)
            if not first:
                raise DecodeError("stream_truncated", "connection closed before a reply")
        return read_stream(
            sock.recv,
            first,
            keys=self.keyring.keys(),
            label=self.label,
            require_encryption=bool(self.keyring) and self.verify_incoming,
        )


def _dial(addr: Addr, timeout: float) -> socket.socket:
    sock = socket.create_connection(addr, timeout=max(timeout, 0.001))
    sock.settimeout(max(timeout, 0.001))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _send(sock: socket.socket, settings: StreamSettings, message: bytes) -> None:
    sock.sendall(label_header(settings.label) + settings.frame(message))


def push_pull(addr: Addr, request: PushPull, settings: StreamSettings, timeout: float) -> PushPull:
    """Send our state and read the peer's (``sendAndReceiveState``)."""
    with _dial(addr, timeout) as sock:
        _send(sock, settings, codec.encode(request))
        reply = settings.read(sock)
    if isinstance(reply, ErrResp):
        raise RemoteError(reply.error)
    if not isinstance(reply, PushPull):
        raise DecodeError("unexpected_stream_type", type(reply).__name__)
    return reply


def tcp_ping(addr: Addr, ping: Ping, settings: StreamSettings, timeout: float) -> bool:
    """Fallback ping over TCP (``sendPingAndWaitForAck``): True if the right ack came back."""
    with _dial(addr, timeout) as sock:
        _send(sock, settings, codec.encode(ping))
        reply = settings.read(sock)
    return isinstance(reply, Ack) and reply.seq_no == ping.seq_no


def send_reliable(addr: Addr, payload: bytes, settings: StreamSettings, timeout: float) -> None:
    """A user message over TCP (``SendReliable``); no reply is expected."""
    with _dial(addr, timeout) as sock:
        _send(sock, settings, codec.encode_reliable_user(payload))
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
