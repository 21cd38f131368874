"""``swimlib debug codec``: decode packets or stream messages given in hex, or print samples.

Decoding is :mod:`swimlib.tools.layers`; the samples are one of each message kind, encoded
with the library's own framing (``PacketFramer.seal``, ``encode_stream``) so that the output
decodes again with the same ``--key`` and ``--label``, and a real memberlist node accepts it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from swimlib.tools.common import (
    CliError,
    err,
    out,
    out_json,
    parse_crypto,
    parse_hex,
    read_hex_file,
    sending_framer,
)
from swimlib.tools.layers import decode_packet, decode_stream
from swimlib.tools.render import message_text, show_report
from swimlib.wire import codec, envelope
from swimlib.wire.compression import lzw_compress
from swimlib.wire.messages import (
    Ack,
    Alive,
    Compress,
    Dead,
    ErrResp,
    IndirectPing,
    Message,
    Nack,
    Ping,
    PushNodeState,
    PushPull,
    Suspect,
    User,
    Vsn,
)
from swimlib.wire.stream import encode_stream, label_header

_ADDR_A = bytes((127, 0, 0, 1))
_VSN = Vsn().to_bytes()

UDP_SAMPLES = (
    "ping",
    "indirectPing",
    "ack",
    "nack",
    "suspect",
    "alive",
    "dead",
    "user",
    "envelope",
    "compound",
    "compress",
    "crc",
)
STREAM_SAMPLES = ("pushPull", "user", "ping", "ack", "err", "compress")


def _sample_messages() -> dict[str, Message]:
    alive = Alive(1, "node-a", _ADDR_A, 7001, b"role=web", _VSN)
    return {
        "ping": Ping(1, "node-b", _ADDR_A, 7001, "node-a"),
        "indirectPing": IndirectPing(
            2, bytes((127, 0, 0, 3)), 7003, "node-c", True, _ADDR_A, 7001, "node-a"
        ),
        "ack": Ack(1),
        "nack": Nack(2),
        "suspect": Suspect(3, "node-c", "node-a"),
        "alive": alive,
        "dead": Dead(3, "node-c", "node-a"),
        "user": User(b"hello from swimlib"),
        "envelope": User(envelope.wrap("news", "node-a", b"hello with a topic")),
        "err": ErrResp("remote error: unknown message type"),
        "pushPull": PushPull(
            True,
            (
                PushNodeState("node-a", _ADDR_A, 7001, b"role=web", 1, 0, _VSN),
                PushNodeState("node-b", bytes((127, 0, 0, 2)), 7002, b"", 4, 1, _VSN),
            ),
            b"user-state:node-a",
        ),
    }


def sample_packets(
    kind: str, stream: bool, keys: Sequence[bytes], label: bytes
) -> list[tuple[str, bytes]]:
    """Encoded samples ``(kind, bytes)``: UDP packets, or stream messages as a dialer writes.

    They carry the label and are encrypted with the first key when given, so the output
    decodes with the same options.
    """
    msgs = _sample_messages()
    kinds = STREAM_SAMPLES if stream else UDP_SAMPLES
    chosen = list(kinds) if kind == "all" else [k for k in kinds if k.lower() == kind.lower()]
    if not chosen:
        where = "--stream " if stream else ""
        raise CliError(f"unknown {where}sample kind {kind!r}; one of: all, {', '.join(kinds)}")
    samples: list[tuple[str, bytes]] = []
    primary = keys[0] if keys else None
    framer = sending_framer(keys, label)
    for k in chosen:
        if stream:
            if k == "user":
                body = codec.encode_reliable_user(b"hello over tcp")
            else:
                body = codec.encode(msgs["pushPull" if k == "compress" else k])
            data = label_header(label) + encode_stream(
                body, compress=k == "compress", key=primary, nonce=os.urandom(12), label=label
            )
        else:
            if k == "compound":
                body = codec.make_compound(
                    [codec.encode(msgs[n]) for n in ("alive", "suspect", "user")]
                )
            elif k == "compress":
                body = codec.encode(Compress(0, lzw_compress(codec.encode(msgs["alive"]))))
            elif k == "crc":
                body = codec.encode(msgs["ping"])
            else:
                body = codec.encode(msgs[k])
            data = framer.seal(body, crc=k == "crc", nonce=os.urandom(12))
        samples.append((k, data))
    return samples


def _print_samples(args: argparse.Namespace, keys: Sequence[bytes], label: bytes) -> None:
    for kind, data in sample_packets(args.sample, args.stream, keys, label):
        if args.json:
            out_json(
                {"kind": kind, "transport": "tcp" if args.stream else "udp", "hex": data.hex()}
            )
        else:
            rep = (
                decode_stream(data, keys, label)
                if args.stream
                else decode_packet(data, keys, label)
            )
            out(f"# {kind}: {rep.shape}: " + "; ".join(message_text(m) for m in rep.messages))
            out(data.hex())


def cmd_codec(args: argparse.Namespace) -> int:
    keys, label = parse_crypto(args)
    if args.sample is not None:
        if args.hex or args.file:
            raise CliError("--sample cannot be combined with input to decode")
        _print_samples(args, keys, label)
        return 0
    inputs = [(f"argument {i}", parse_hex(h, f"argument {i}")) for i, h in enumerate(args.hex, 1)]
    if args.file:
        inputs.extend(read_hex_file(args.file))
    if not inputs:
        raise CliError("nothing to decode: give hex, --file FILE or --sample KIND (see --help)")
    bad = 0
    what = "stream" if args.stream else "packet"
    for n, (source, data) in enumerate(inputs, 1):
        rep = decode_stream(data, keys, label) if args.stream else decode_packet(data, keys, label)
        show_report(rep, f"{what} {n}", args.json, index=n, source=source)
        bad += bool(rep.errors)
    if bad:
        err(f"error: {bad} of {len(inputs)} {what}s could not be decoded completely")
        return 1
    return 0
