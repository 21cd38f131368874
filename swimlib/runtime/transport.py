"""UDP and TCP sockets bound to one address and port (memberlist ``net_transport.go``)."""

from __future__ import annotations

import contextlib
import errno
import logging
import select
import socket

from swimlib.errors import AddressInUseError, BindError

log = logging.getLogger("swimlib.runtime")

UDP_RECV_BUFFER = 65536
UDP_SOCKET_BUFFER = 2 * 1024 * 1024


class Transport:
    """The node's UDP socket (send and receive) and TCP listening socket on the same port.

    A socketpair lets ``close`` wake the listener threads blocked in ``select``.
    """

    def __init__(self, bind_addr: str, bind_port: int) -> None:
        family = socket.AF_INET6 if ":" in bind_addr else socket.AF_INET
        self.udp, self.tcp = _bind_pair(family, bind_addr, bind_port)
        self.port: int = self.udp.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self.closed = False

    @property
    def wake_reader(self) -> socket.socket:
        """Readable once :meth:`close` was called: for listeners that select themselves."""
        return self._wake_r

    def send_to(self, data: bytes, addr: tuple[str, int]) -> None:
        self.udp.sendto(data, addr)

    def wait_readable(self, sock: socket.socket) -> bool:
        """Block until ``sock`` is readable; False once the transport is closing."""
        while not self.closed:
            try:
                r, _, _ = select.select([sock, self._wake_r], [], [])
            except (OSError, ValueError):
                return False
            if self._wake_r in r or self.closed:
                return False
            if sock in r:
                return True
        return False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def release(self) -> None:
        """Close every socket; call after the listener threads have stopped."""
        for s in (self.udp, self.tcp, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                s.close()


def _bind_pair(family: int, addr: str, port: int) -> tuple[socket.socket, socket.socket]:
    """Bind TCP then UDP to the same port; with port 0 retry until both get one port."""
    last: OSError | None = None
    for _ in range(20 if port == 0 else 1):
        tcp = socket.socket(family, socket.SOCK_STREAM)
        udp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((addr, port))
            chosen = tcp.getsockname()[1]
            udp.bind((addr, chosen))
            tcp.listen(128)
            _grow_recv_buffer(udp)
            return udp, tcp
        except OSError as err:
            tcp.close()
            udp.close()
            last = err
            if port != 0 or err.errno != errno.EADDRINUSE:
                break
    assert last is not None
    where = f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
    if last.errno == errno.EADDRINUSE:
        raise AddressInUseError(
            last.errno, f"cannot bind {where}: address already in use (UDP or TCP)"
        ) from None
    raise BindError(last.errno, f"cannot bind {where}: {last.strerror}") from None


def _grow_recv_buffer(udp: socket.socket) -> None:
    size = UDP_SOCKET_BUFFER
    while size >= 65536:
        try:
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            return
        except OSError:
            size //= 2
