"""``swimlib debug recv``: bind UDP (and TCP) and print every packet or stream message decoded.

With ``--ack`` it answers pings as a memberlist node would, over UDP and on a TCP stream. A
TCP connection is read with the library's stream reader (so the tool knows when one message
is complete) and the captured bytes are then shown layer by layer.
"""

from __future__ import annotations

import argparse
import logging
import os
import selectors
import socket
import time
from collections.abc import Sequence
from typing import Any

from swimlib.tools.common import (
    UDP_RECV_SIZE,
    CliError,
    addr_text,
    check_positive,
    err,
    out,
    out_json,
    parse_crypto,
    resolve,
    sending_framer,
)
from swimlib.tools.layers import decode_packet, decode_stream
from swimlib.tools.render import Report, ip_or_hex, quote, show_report
from swimlib.wire import codec
from swimlib.wire.errors import DecodeError
from swimlib.wire.messages import Ack, Message, Ping
from swimlib.wire.stream import encode_stream, read_label, read_stream

log = logging.getLogger("swimlib")


def cmd_recv(args: argparse.Namespace) -> int:
    keys, label = parse_crypto(args)
    check_positive(args.seconds, "--seconds")
    if args.count is not None and args.count < 1:
        raise CliError("--count must be at least 1")
    family, host, port = resolve(args.bind, "--bind", allow_zero=True)
    udp, tcp = _bind(family, host, port, args.tcp)
    bound = udp.getsockname()[1]
    kinds = "udp+tcp" if tcp is not None else "udp"
    if args.json:
        out_json({"event": "listening", "addr": host, "port": bound, "tcp": tcp is not None})
    else:
        out(f"listening on {addr_text((host, bound))} ({kinds}) for {args.seconds:g} s")
    deadline = time.monotonic() + args.seconds
    got = 0
    sel = selectors.DefaultSelector()
    try:
        sel.register(udp, selectors.EVENT_READ, "udp")
        if tcp is not None:
            sel.register(tcp, selectors.EVENT_READ, "tcp")
        while args.count is None or got < args.count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in sel.select(timeout=min(left, 0.5)):
                if args.count is not None and got >= args.count:
                    break
                if key.data == "udp":
                    try:
                        data, sender = udp.recvfrom(UDP_RECV_SIZE)
                    except OSError as exc:  # e.g. an ICMP error for an earlier send
                        log.debug("recvfrom: %s", exc)
                        continue
                    got += 1
                    _show_packet(udp, data, sender, keys, label, args)
                else:
                    assert tcp is not None
                    try:
                        conn, peer = tcp.accept()
                    except OSError as exc:
                        log.debug("accept: %s", exc)
                        continue
                    got += 1
                    with conn:
                        _serve_stream(conn, peer, keys, label, args, deadline)
    finally:
        sel.close()
        udp.close()
        if tcp is not None:
            tcp.close()
    if args.count is not None and got < args.count:
        err(f"error: timeout after {args.seconds:g} s: received {got} of {args.count}")
        return 1
    return 0


def _bind(
    family: int, host: str, port: int, tcp: bool
) -> tuple[socket.socket, socket.socket | None]:
    """UDP (and TCP) on one port; with port 0 retry until both get the same one."""
    last: OSError | None = None
    for _ in range(20 if port == 0 and tcp else 1):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        listener: socket.socket | None = None
        try:
            udp.bind((host, port))
            if tcp:
                listener = socket.socket(family, socket.SOCK_STREAM)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((host, udp.getsockname()[1]))
                listener.listen(16)
            return udp, listener
        except OSError as exc:
            udp.close()
            if listener is not None:
                listener.close()
            last = exc
    raise CliError(f"cannot bind {host}:{port}: {last.strerror if last else '?'}")


def _show_packet(
    udp: socket.socket,
    data: bytes,
    sender: Any,
    keys: Sequence[bytes],
    label: bytes,
    args: argparse.Namespace,
) -> None:
    """Print one received UDP packet and, with ``--ack``, answer the pings in it."""
    rep = decode_packet(data, keys, label)
    _show_received(rep, "packet", sender, data, args)
    if args.ack:
        _answer_pings(udp, rep, sender, keys, args)


def _show_received(
    rep: Report, event: str, sender: Any, data: bytes, args: argparse.Namespace
) -> None:
    """Print a received packet or stream message; with ``--hex`` also its bytes."""
    show_report(
        rep,
        f"{rep.transport} from {addr_text(sender)}",
        args.json,
        event=event,
        **{"from": addr_text(sender)},
        hex=data.hex(),
    )
    if args.hex and not args.json:
        out(f"  hex {data.hex()}")


def _answer_pings(
    udp: socket.socket, rep: Report, sender: Any, keys: Sequence[bytes], args: argparse.Namespace
) -> None:
    """``--ack``: reply to each ping as memberlist's handlePing would."""
    framer = sending_framer(keys, rep.label)
    for m in rep.messages:
        if not isinstance(m, Ping):
            continue
        if m.node and args.name and m.node != args.name:
            out(f"  (not answering: ping is for {quote(m.node)}, not {quote(args.name)})")
            continue
        to = sender
        if m.source_addr and m.source_port and len(m.source_addr) in (4, 16):
            to = (ip_or_hex(m.source_addr), m.source_port)
        packet = framer.seal(codec.encode(Ack(m.seq_no)), crc=False, nonce=os.urandom(12))
        try:
            udp.sendto(packet, (to[0], to[1]))
        except OSError as exc:
            out(f"  (ack to {addr_text(to)} failed: {exc})")
            continue
        if args.json:
            out_json({"event": "ack_sent", "seq_no": m.seq_no, "to": addr_text(to)})
        else:
            out(f"  -> ack SeqNo={m.seq_no} sent to {addr_text(to)}")


def _serve_stream(
    conn: socket.socket,
    peer: Any,
    keys: Sequence[bytes],
    label: bytes,
    args: argparse.Namespace,
    deadline: float,
) -> None:
    """Read one stream message, print it, and with ``--ack`` answer a TCP ping."""
    captured = bytearray()
    now = time.monotonic()
    conn_deadline = now + max(1.0, min(10.0, deadline - now))  # bounds a slow sender

    def recv(n: int) -> bytes:
        left = conn_deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete message within the time allowed")
        conn.settimeout(left)
        chunk = conn.recv(n)
        captured.extend(chunk)
        return chunk

    problem = ""
    msg: Message | None = None
    aad = label
    try:
        received, first = read_label(recv)
        aad = received or label
        msg = read_stream(recv, first, keys=keys, label=aad, require_encryption=False)
    except DecodeError:
        pass  # decode_stream below reports it with the layers around it
    except OSError as exc:
        problem = f"connection: {exc or type(exc).__name__}"
    rep = decode_stream(bytes(captured), keys, label)
    if problem:
        rep.error(1, problem)
    _show_received(rep, "stream", peer, bytes(captured), args)
    if args.ack and isinstance(msg, Ping):
        _ack_on_stream(conn, peer, msg, keys, aad, args.json)


def _ack_on_stream(
    conn: socket.socket, peer: Any, ping: Ping, keys: Sequence[bytes], label: bytes, as_json: bool
) -> None:
    reply = encode_stream(
        codec.encode(Ack(ping.seq_no)),
        compress=False,
        key=keys[0] if keys else None,
        nonce=os.urandom(12),
        label=label,
    )
    try:
        conn.sendall(reply)
        if as_json:
            out_json({"event": "ack_sent", "seq_no": ping.seq_no, "to": addr_text(peer)})
        else:
            out(f"  -> ack SeqNo={ping.seq_no} sent on the stream")
    except OSError as exc:
        out(f"  (ack on the stream failed: {exc})")
