"""``swimlib debug ping``: send memberlist UDP pings to any node and report acks and round trips.

Pings are sealed and acks opened with the library's ``PacketFramer`` and ``unpack_messages``;
a packet that is not the awaited ack is reported as ignored, with the reason.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import socket
import time
from dataclasses import dataclass

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
from swimlib.tools.render import explain, message_json, message_text, quote, show_bytes
from swimlib.wire import codec
from swimlib.wire.errors import DecodeError
from swimlib.wire.messages import Ack, Message, Ping
from swimlib.wire.packet import PacketFramer, unpack_messages

log = logging.getLogger("swimlib")


@dataclass
class _Reply:
    ack: Ack
    sender: str
    rtt: float
    others: list[Message]


def cmd_ping(args: argparse.Namespace) -> int:
    keys, label = parse_crypto(args)
    check_positive(args.timeout, "--timeout")
    if args.count < 1:
        raise CliError("--count must be at least 1")
    if args.interval < 0:
        raise CliError("--interval must not be negative")
    family, host, port = resolve(args.target, "HOST:PORT")
    target = addr_text((host, port))
    local_ip = _local_ip_for(family, host, port)
    framer = sending_framer(keys, label)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    rtts: list[float] = []
    try:
        try:
            sock.bind((local_ip, 0))
        except OSError as exc:
            raise CliError(f"cannot bind a UDP socket on {local_ip}: {exc}") from None
        src_port = int(sock.getsockname()[1])
        src_addr = ipaddress.ip_address(local_ip).packed
        seq = int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF
        if not args.json:
            extras = [f"Node={quote(args.name)}"]
            if label:
                extras.append(f"label {quote(args.label)}")
            if keys:
                extras.append(f"encrypted (AES-{len(keys[0]) * 8})")
            out(f"PING {target} from {addr_text((local_ip, src_port))}, " + ", ".join(extras))
        for i in range(args.count):
            if i:
                time.sleep(args.interval)
            seq = (seq + 1) & 0xFFFFFFFF
            ping = Ping(seq, args.name, src_addr, src_port, args.source_node)
            packet = framer.seal(codec.encode(ping), crc=False, nonce=os.urandom(12))
            sent = time.monotonic()
            reply: _Reply | None = None
            try:
                sock.sendto(packet, (host, port))
            except OSError as exc:
                out(f"send to {target} failed: {exc}")
            else:
                reply = _await_ack(sock, framer, seq, sent, sent + args.timeout, args.json)
            if reply is None:
                if args.json:
                    out_json(
                        {"event": "timeout", "seq_no": seq, "to": target, "timeout_s": args.timeout}
                    )
                else:
                    out(f"timeout: no ack for SeqNo={seq} from {target} within {args.timeout:g} s")
                continue
            rtts.append(reply.rtt)
            _show_reply(reply, args.json)
    finally:
        sock.close()
    if args.count > 1:
        _show_summary(args.count, rtts, args.json)
    lost = args.count - len(rtts)
    if lost:
        err(f"error: {lost} of {args.count} pings to {target} got no ack within {args.timeout:g} s")
        return 1
    return 0


def _local_ip_for(family: int, host: str, port: int) -> str:
    """The local address the kernel would send from to reach ``host`` (nothing is sent)."""
    probe = socket.socket(family, socket.SOCK_DGRAM)
    try:
        probe.connect((host, port))
        return str(probe.getsockname()[0])
    except OSError as exc:
        raise CliError(f"no route to {host}:{port}: {exc}") from None
    finally:
        probe.close()


def _await_ack(
    sock: socket.socket,
    framer: PacketFramer,
    seq: int,
    sent: float,
    deadline: float,
    as_json: bool,
) -> _Reply | None:
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data, sender = sock.recvfrom(UDP_RECV_SIZE)
        except TimeoutError:
            return None
        except OSError as exc:  # e.g. ICMP port unreachable on some systems
            log.debug("recvfrom: %s", exc)
            continue
        now = time.monotonic()
        try:
            msgs, errors = unpack_messages(framer.open(data))
        except DecodeError as exc:
            msgs, errors = [], [exc]
        for m in msgs:
            if isinstance(m, Ack) and m.seq_no == seq:
                return _Reply(m, addr_text(sender), now - sent, [x for x in msgs if x is not m])
        why = "; ".join(explain(e) for e in errors) or "no matching ack in it"
        if as_json:
            out_json({"event": "ignored", "from": addr_text(sender), "reason": why})
        else:
            out(f"ignored a packet from {addr_text(sender)}: {why}")


def _show_reply(reply: _Reply, as_json: bool) -> None:
    ms = reply.rtt * 1000
    if as_json:
        out_json(
            {
                "event": "ack",
                "seq_no": reply.ack.seq_no,
                "from": reply.sender,
                "rtt_ms": round(ms, 3),
                "payload_hex": reply.ack.payload.hex(),
                "piggybacked": [message_json(m) for m in reply.others],
            }
        )
    else:
        out(
            f"ack from {reply.sender}: SeqNo={reply.ack.seq_no} "
            f"Payload={show_bytes(reply.ack.payload)} rtt={ms:.3f} ms"
        )
        for m in reply.others:
            out(f"  piggybacked: {message_text(m)}")


def _show_summary(sent: int, rtts: list[float], as_json: bool) -> None:
    if as_json:
        out_json(
            {
                "event": "summary",
                "sent": sent,
                "acked": len(rtts),
                "rtt_ms": [round(r * 1000, 3) for r in rtts],
            }
        )
        return
    stats = ""
    if rtts:
        lo, hi, avg = min(rtts) * 1000, max(rtts) * 1000, sum(rtts) / len(rtts) * 1000
        stats = f", rtt min/avg/max = {lo:.3f}/{avg:.3f}/{hi:.3f} ms"
    out(f"{sent} pings sent, {len(rtts)} acked{stats}")
