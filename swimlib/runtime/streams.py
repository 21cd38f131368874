"""TCP exchanges as memberlist runs them: push/pull, fallback ping, reliable user message.

Each function opens one connection, writes one stream message (label header first when a
label is set), optionally reads one reply, and closes. Errors surface as ``OSError`` (network)
or :class:`~swimlib.wire.errors.DecodeError` (bad bytes from the peer).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from swimlib.wire import codec
from swimlib.wire.errors import DecodeError
from swimlib.wire.keyring import Keyring
from swimlib.wire.messages import Ack, ErrResp, Message, Ping, PushPull
from swimlib.wire.packet import PacketFramer, verify_label
from swimlib.wire.stream import StreamDecoder, encode_stream, label_header

Addr = tuple[str, int]


class RemoteError(Exception):
    """The peer answered with an err message (memberlist ``errResp``)."""


class SocketRegistry:
    """Open connections, so shutdown can close them and unblock threads waiting on them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.closed = False

    @contextmanager
    def track(self, sock: socket.socket) -> Iterator[socket.socket]:
        with self._lock:
            if self.closed:
                sock.close()
                raise OSError("shutting down")
            self._open.add(sock)
        try:
            yield sock
        finally:
            with self._lock:
                self._open.discard(sock)
            sock.close()

    def close_all(self) -> None:
        with self._lock:
            self.closed = True
            socks = list(self._open)
        for s in socks:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                s.close()


@dataclass
class StreamSettings:
    """What framing a stream needs; the keyring is shared and may change at runtime."""

    label: bytes
    compression: bool
    keyring: Keyring
    encrypt_version: int
    verify_incoming: bool
    verify_outgoing: bool
    skip_inbound_label_check: bool = False
    sockets: SocketRegistry = field(default_factory=SocketRegistry)

    @classmethod
    def like(cls, framer: PacketFramer) -> StreamSettings:
        """The stream side of the datagram envelope: one label, keyring and set of flags."""
        return cls(
            label=framer.label,
            compression=framer.compression,
            keyring=framer.keyring,
            encrypt_version=framer.encrypt_version,
            verify_incoming=framer.verify_incoming,
            verify_outgoing=framer.verify_outgoing,
            skip_inbound_label_check=framer.skip_inbound_label_check,
        )

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

    def decoder(self, listener: bool = False) -> StreamDecoder:
        """A decoder for one inbound message; the listener also reads the label header."""
        check = None
        if listener:
            label, skip = self.label, self.skip_inbound_label_check

            def check(received: bytes | None) -> None:
                verify_label(received, label, skip)

        return StreamDecoder(
            keys=self.keyring.keys(),
            label=self.label,
            require_encryption=bool(self.keyring) and self.verify_incoming,
            read_label=listener,
            check_label=check,
        )


def receive(sock: socket.socket, decoder: StreamDecoder, deadline: float) -> Message:
    """Feed the decoder from the socket until a message is complete or ``deadline`` passes.

    One deadline for the whole exchange, as memberlist sets one: a peer trickling a byte at
    a time cannot hold a connection for longer than that.
    """
    while True:
        msg = decoder.next_message()
        if msg is not None:
            return msg
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("stream deadline passed")
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            raise DecodeError("stream_truncated", "connection closed before a whole message")
        decoder.feed(chunk)


@contextmanager
def _dial(addr: Addr, timeout: float, settings: StreamSettings) -> Iterator[socket.socket]:
    family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    with settings.sockets.track(sock):
        sock.settimeout(max(timeout, 0.001))
        sock.connect(addr)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        yield sock


def _send(sock: socket.socket, settings: StreamSettings, message: bytes) -> None:
    sock.sendall(label_header(settings.label) + settings.frame(message))


def push_pull(addr: Addr, request: PushPull, settings: StreamSettings, timeout: float) -> PushPull:
    """Send our state and read the peer's (``sendAndReceiveState``), within ``timeout``."""
    deadline = time.monotonic() + timeout
    with _dial(addr, timeout, settings) as sock:
        _send(sock, settings, codec.encode(request))
        reply = receive(sock, settings.decoder(), deadline)
    if isinstance(reply, ErrResp):
        raise RemoteError(reply.error)
    if not isinstance(reply, PushPull):
        raise DecodeError("unexpected_stream_type", type(reply).__name__)
    return reply


def tcp_ping(addr: Addr, ping: Ping, settings: StreamSettings, timeout: float) -> bool:
    """Fallback ping over TCP (``sendPingAndWaitForAck``): True if the right ack came back."""
    deadline = time.monotonic() + timeout
    with _dial(addr, timeout, settings) as sock:
        _send(sock, settings, codec.encode(ping))
        reply = receive(sock, settings.decoder(), deadline)
    return isinstance(reply, Ack) and reply.seq_no == ping.seq_no


def send_reliable(addr: Addr, payload: bytes, settings: StreamSettings, timeout: float) -> None:
    """A user message over TCP (``SendReliable``); no reply is expected."""
    with _dial(addr, timeout, settings) as sock:
        _send(sock, settings, codec.encode_reliable_user(payload))
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
