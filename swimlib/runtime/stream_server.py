"""Inbound TCP streams: one thread reads every connection without blocking on any of them.

memberlist gives each inbound connection a goroutine and one deadline. A Python thread per
connection would let a few hundred slow dialers (a byte now and then) occupy every worker
and deny joins. Here the ``swimlib-tcp-listener`` thread accepts and reads all connections
through a selector, feeding each one's :class:`~swimlib.wire.stream.StreamDecoder`; only a
complete message is handed to the inbound worker pool. A connection costs a socket and its
buffered bytes until its one deadline (``tcp_timeout`` after accept), and at most
``MAX_OPEN_STREAMS`` are held; every refusal is counted.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from swimlib.runtime.streams import StreamSettings
from swimlib.wire import codec
from swimlib.wire.errors import DecodeError
from swimlib.wire.messages import ErrResp, Message
from swimlib.wire.stream import StreamDecoder

Addr = tuple[str, int]
#: Inbound connections held open at once (each one a file descriptor).
MAX_OPEN_STREAMS = 512

#: Hand a complete message to a worker: (connection, peer, message) -> accepted?
Dispatch = Callable[[socket.socket, Addr, Message], bool]


@dataclass
class _Pending:
    sock: socket.socket
    addr: Addr
    decoder: StreamDecoder
    deadline: float


class StreamServer:
    """Accepts and reads inbound streams until ``stop`` (run it on its own thread)."""

    def __init__(
        self,
        listener: socket.socket,
        wake: socket.socket,
        settings: StreamSettings,
        timeout: float,
        dispatch: Dispatch,
        count: Callable[[str], None],
        drop: Callable[[str, str, object], None],
    ) -> None:
        self._listener = listener
        self._wake = wake
        self._settings = settings
        self._timeout = timeout
        self._dispatch = dispatch
        self._count = count  # counter key
        self._drop = drop  # (drop reason, detail, peer)
        self._sel = selectors.DefaultSelector()
        self._open: dict[socket.socket, _Pending] = {}
        self._running = True

    def run(self) -> None:
        self._sel.register(self._listener, selectors.EVENT_READ)
        self._sel.register(self._wake, selectors.EVENT_READ)
        try:
            while self._running:
                for key, _ in self._sel.select(self._next_timeout()):
                    sock = key.fileobj
                    if sock is self._wake:
                        self._running = False
                    elif sock is self._listener:
                        self._accept()
                    else:
                        assert isinstance(sock, socket.socket)
                        self._read(sock)
                self._expire(time.monotonic())
        finally:
            for sock in list(self._open):
                self._close(sock)
            self._sel.close()

    def _next_timeout(self) -> float | None:
        if not self._open:
            return None
        soonest = min(p.deadline for p in self._open.values())
        return max(0.0, soonest - time.monotonic())

    def _accept(self) -> None:
        try:
            conn, addr = self._listener.accept()
        except OSError:
            self._count("tcp.accept_errors")
            return
        peer = (addr[0], addr[1])
        if len(self._open) >= MAX_OPEN_STREAMS:
            self._drop("too_many_streams", "open-connection cap", peer)
            conn.close()
            return
        conn.setblocking(False)
        decoder = self._settings.decoder(listener=True)
        self._open[conn] = _Pending(conn, peer, decoder, time.monotonic() + self._timeout)
        self._sel.register(conn, selectors.EVENT_READ)
        self._count("tcp.accepted")

    def _read(self, sock: socket.socket) -> None:
        p = self._open[sock]
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self._count("tcp.errors")
            self._close(sock)
            return
        if not chunk:
            self._drop("stream_truncated", "closed before a whole message", p.addr)
            self._close(sock)
            return
        try:
            p.decoder.feed(chunk)
            msg = p.decoder.next_message()
        except DecodeError as err:
            self._refuse(p, err)
            return
        if msg is not None:
            self._hand_over(p, msg)

    def _refuse(self, p: _Pending, err: DecodeError) -> None:
        self._drop(err.reason, err.detail, p.addr)
        if err.reason not in ("label_mismatch", "bad_label"):  # label trouble: no word
            with contextlib.suppress(OSError):
                p.sock.setblocking(True)
                p.sock.settimeout(1.0)
                p.sock.sendall(self._settings.frame(_err_body(str(err))))
        self._close(p.sock)

    def _hand_over(self, p: _Pending, msg: Message) -> None:
        self._sel.unregister(p.sock)
        del self._open[p.sock]
        p.sock.setblocking(True)
        p.sock.settimeout(max(0.001, p.deadline - time.monotonic()))
        if not self._dispatch(p.sock, p.addr, msg):
            self._drop("too_many_streams", "inbound workers busy", p.addr)
            p.sock.close()

    def _expire(self, now: float) -> None:
        for sock, p in list(self._open.items()):
            if p.deadline <= now:
                self._drop("stream_deadline", "no whole message in time", p.addr)
                self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        if self._open.pop(sock, None) is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(sock)
        sock.close()


def _err_body(text: str) -> bytes:
    return codec.encode(ErrResp(text))
