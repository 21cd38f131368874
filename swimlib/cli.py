"""The ``swimlib`` command line: debug tools for memberlist traffic, and a small agent.

    swimlib debug codec [HEX ...] [--file F] [--stream] [--key K ...] [--label L] [--json]
    swimlib debug codec --sample KIND|all [--stream] [--key K] [--label L]
    swimlib debug recv --bind 127.0.0.1:PORT [--tcp] [--ack] [--count N] [--seconds S]
    swimlib debug ping HOST:PORT [--name NODE] [--timeout S] [--count N] [--key K] [--label L]
    swimlib agent --name N --bind 127.0.0.1:PORT [--join HOST:PORT ...] [--seconds S]

Keys are standard base64 with padding (as serf's ``-encrypt`` and the Go peer's ``-key``) or
``hex:<hex digits>``; the first one is the primary. Labels are text. Every command exits 0 on
success and 1 on failure (bad input, bytes that do not decode, a timeout), printing a one-line
``error: ...`` on stderr rather than a traceback; usage errors exit 2.

Messages print one per line with memberlist's type and field names (``ping SeqNo=7
Node="go-1" ...``), below one line per layer (label, encryption, CRC, compression, compound);
``--json`` prints one JSON object per packet instead.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import logging
import os
import queue
import selectors
import socket
import sys
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from swimlib.cluster import Cluster
from swimlib.config import Config
from swimlib.errors import InvalidKeyError, SwimError
from swimlib.events import AliveEvent, Event, JoinEvent, LeaveEvent, SuspectEvent, UpdateEvent
from swimlib.node import Node
from swimlib.wire import codec, envelope
from swimlib.wire.compression import lzw_compress, lzw_decompress
from swimlib.wire.crc import CRC_TYPE
from swimlib.wire.crypto import ENCRYPT_STREAM_TYPE, open_sealed, open_stream_payload
from swimlib.wire.errors import DecodeError
from swimlib.wire.keyring import Keyring
from swimlib.wire.label import MAX_LABEL_LEN, strip_label_header
from swimlib.wire.messages import (
    Ack,
    Alive,
    Compound,
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
    WireState,
)
from swimlib.wire.packet import PacketFramer, unpack_messages
from swimlib.wire.stream import (
    decode_stream_buffer,
    encode_stream,
    label_header,
    read_label,
    read_stream,
)

log = logging.getLogger("swimlib")

MAX_NESTING = 4  # compound/compress levels unwrapped, as swimlib.wire.packet
MAX_DECOMPRESSED = 40 * 1024 * 1024
UDP_RECV_SIZE = 65536
TEXT_LIMIT = 160  # characters of a byte field shown in text output


class CliError(Exception):
    """A user-facing failure: printed as ``error: <message>``, exit status 1."""


# --------------------------------------------------------------------------- output


def _out(line: str) -> None:
    """Write one result line to stdout, flushed so a reading pipe sees it at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _err(line: str) -> None:
    """Write one diagnostic line to stderr."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _out_json(obj: dict[str, Any]) -> None:
    _out(json.dumps(obj))


# --------------------------------------------------------------------------- input parsing


def parse_keys(values: Sequence[str]) -> list[bytes]:
    """``--key`` values to raw keys, primary first: base64 text or ``hex:<digits>``."""
    keys: list[bytes] = []
    for i, text in enumerate(values, 1):
        try:
            if text.startswith("hex:"):
                key = Keyring.parse_key(bytes.fromhex(text[4:]))
            else:
                key = Keyring.parse_key(text)
        except InvalidKeyError as err:
            raise CliError(f"--key #{i}: {err}") from None
        except ValueError as err:
            raise CliError(f"--key #{i}: not hex digits after 'hex:' ({err})") from None
        if key not in keys:
            keys.append(key)
    return keys


def parse_label(text: str) -> bytes:
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) > MAX_LABEL_LEN:
        raise CliError(f"--label is {len(raw)} bytes; the maximum is {MAX_LABEL_LEN}")
    return raw


def parse_hex(text: str, where: str) -> bytes:
    """Hex digits, optionally with a 0x prefix and spaces or colons between bytes."""
    t = text.strip()
    if t[:2].lower() == "0x":
        t = t[2:]
    t = "".join(t.replace(":", " ").split())
    if not t:
        raise CliError(f"{where}: empty, expected hex digits")
    try:
        return bytes.fromhex(t)
    except ValueError:
        shown = text if len(text) <= 40 else text[:40] + "..."
        if len(t) % 2 and all(c in "0123456789abcdefABCDEF" for c in t):
            raise CliError(f"{where}: odd number of hex digits in {shown!r}") from None
        raise CliError(f"{where}: not hex: {shown!r}") from None


def read_hex_file(path: str) -> list[tuple[str, bytes]]:
    """Hex packets one per line; blank lines and lines starting with '#' are skipped."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except OSError as err:
        raise CliError(f"cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not a text file of hex lines") from None
    out: list[tuple[str, bytes]] = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        where = f"{path}:{n}"
        out.append((where, parse_hex(s, where)))
    return out


def resolve(text: str, what: str, *, allow_zero: bool = False) -> tuple[int, str, int]:
    """``host:port`` or ``[v6]:port`` to (family, numeric IP, port)."""
    host, port_text = "", ""
    if text.startswith("["):
        end = text.find("]")
        if end > 0 and text[end + 1 : end + 2] == ":":
            host, port_text = text[1:end], text[end + 2 :]
    else:
        host, _, port_text = text.rpartition(":")
    if not host or not port_text:
        raise CliError(f"{what}: expected HOST:PORT, got {text!r}")
    try:
        port = int(port_text)
    except ValueError:
        raise CliError(f"{what}: bad port {port_text!r}") from None
    if not (0 if allow_zero else 1) <= port <= 65535:
        raise CliError(f"{what}: port {port} out of range")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as err:
        raise CliError(f"{what}: cannot resolve {host!r}: {err}") from None
    family, _, _, _, sockaddr = infos[0]
    return int(family), str(sockaddr[0]), port


def _positive(value: float | None, flag: str) -> None:
    if value is not None and value <= 0:
        raise CliError(f"{flag} must be positive")


# --------------------------------------------------------------------------- formatting


def _q(text: str) -> str:
    """A Go string field as a quoted literal (invalid UTF-8 shows as escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(text)
    return json.dumps(text, ensure_ascii=False)


def _b(data: bytes) -> str:
    """A Go []byte field: quoted text when it is printable UTF-8, else 0x-hex."""
    if not data:
        return '""'
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and text.isprintable():
        if len(text) > TEXT_LIMIT:
            return _q(text[:TEXT_LIMIT]) + f"...({len(data)} bytes)"
        return _q(text)
    if len(data) > TEXT_LIMIT // 2:
        return "0x" + data[: TEXT_LIMIT // 2].hex() + f"...({len(data)} bytes)"
    return "0x" + data.hex()


def _ip(raw: bytes) -> str:
    if len(raw) in (4, 16):
        return str(ipaddress.ip_address(raw))
    return raw.hex()


def _ip_text(raw: bytes) -> str:
    return _ip(raw) if len(raw) in (4, 16) else _b(raw)


def _vsn(raw: bytes) -> str:
    return "[" + ",".join(str(b) for b in raw) + "]" if raw else "[]"


def _state_name(state: int) -> str:
    try:
        return WireState(state).name.lower()
    except ValueError:
        return f"unknown({state})"


# A field: Go name, text form, JSON value.
Field = tuple[str, str, Any]


def _source(addr: bytes, port: int, node: str) -> list[Field]:
    """The omitempty Source* fields of ping and indirectPingReq."""
    out: list[Field] = []
    if addr:
        out.append(("SourceAddr", _ip_text(addr), _ip(addr)))
    if port:
        out.append(("SourcePort", str(port), port))
    if node:
        out.append(("SourceNode", _q(node), node))
    return out


def _user_fields(payload: bytes) -> tuple[list[Field], dict[str, Any]]:
    env = envelope.unwrap(payload)
    try:
        text: str | None = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    extra: dict[str, Any] = {"payload_text": text, "envelope": None}
    fields: list[Field] = [("Payload", _b(payload), payload.hex())]
    if env is not None:
        extra["envelope"] = {
            "topic": env.topic,
            "origin": env.origin,
            "msg_id": env.msg_id,
            "broadcast": env.broadcast,
            "payload_hex": env.payload.hex(),
        }
        fields = [
            (
                "Payload",
                f"swimlib-envelope(topic={_q(env.topic)} origin={_q(env.origin)} "
                f"id={env.msg_id} broadcast={str(env.broadcast).lower()} "
                f"payload={_b(env.payload)})",
                payload.hex(),
            ),
        ]
    return fields, extra


def _node_state_fields(n: PushNodeState) -> list[Field]:
    return [
        ("Name", _q(n.name), n.name),
        ("Addr", _ip_text(n.addr), _ip(n.addr)),
        ("Port", str(n.port), n.port),
        ("Meta", _b(n.meta), n.meta.hex()),
        ("Incarnation", str(n.incarnation), n.incarnation),
        ("State", f"{n.state}({_state_name(n.state)})", n.state),
        ("Vsn", _vsn(n.vsn), list(n.vsn)),
    ]


def describe(msg: Message) -> tuple[str, list[Field], dict[str, Any], list[str]]:
    """(memberlist type name, fields, extra JSON, extra text lines) of one message."""
    if isinstance(msg, Ping):
        return (
            "ping",
            [
                ("SeqNo", str(msg.seq_no), msg.seq_no),
                ("Node", _q(msg.node), msg.node),
                *_source(msg.source_addr, msg.source_port, msg.source_node),
            ],
            {},
            [],
        )
    if isinstance(msg, IndirectPing):
        return (
            "indirectPing",
            [
                ("SeqNo", str(msg.seq_no), msg.seq_no),
                ("Target", _ip_text(msg.target), _ip(msg.target)),
                ("Port", str(msg.port), msg.port),
                ("Node", _q(msg.node), msg.node),
                ("Nack", str(msg.nack).lower(), msg.nack),
                *_source(msg.source_addr, msg.source_port, msg.source_node),
            ],
            {},
            [],
        )
    if isinstance(msg, Ack):
        return (
            "ack",
            [
                ("SeqNo", str(msg.seq_no), msg.seq_no),
                ("Payload", _b(msg.payload), msg.payload.hex()),
            ],
            {},
            [],
        )
    if isinstance(msg, Nack):
        return "nack", [("SeqNo", str(msg.seq_no), msg.seq_no)], {}, []
    if isinstance(msg, (Suspect, Dead)):
        return (
            "suspect" if isinstance(msg, Suspect) else "dead",
            [
                ("Incarnation", str(msg.incarnation), msg.incarnation),
                ("Node", _q(msg.node), msg.node),
                ("From", _q(msg.from_node), msg.from_node),
            ],
            {},
            [],
        )
    if isinstance(msg, Alive):
        return (
            "alive",
            [
                ("Incarnation", str(msg.incarnation), msg.incarnation),
                ("Node", _q(msg.node), msg.node),
                ("Addr", _ip_text(msg.addr), _ip(msg.addr)),
                ("Port", str(msg.port), msg.port),
                ("Meta", _b(msg.meta), msg.meta.hex()),
                ("Vsn", _vsn(msg.vsn), list(msg.vsn)),
            ],
            {},
            [],
        )
    if isinstance(msg, PushPull):
        states = []
        lines = []
        for n in msg.nodes:
            fs = _node_state_fields(n)
            states.append({k: v for k, _, v in fs} | {"StateName": _state_name(n.state)})
            lines.append("pushNodeState " + " ".join(f"{k}={t}" for k, t, _ in fs))
        if msg.user_state:
            lines.append(f"userState {_b(msg.user_state)}")
        return (
            "pushPull",
            [
                ("Join", str(msg.join).lower(), msg.join),
                ("Nodes", str(len(msg.nodes)), len(msg.nodes)),
                ("UserStateLen", str(len(msg.user_state)), len(msg.user_state)),
            ],
            {"states": states, "user_state_hex": msg.user_state.hex()},
            lines,
        )
    if isinstance(msg, User):
        fields, extra = _user_fields(msg.payload)
        return "user", fields, extra, []
    if isinstance(msg, ErrResp):
        return "err", [("Error", _q(msg.error), msg.error)], {}, []
    if isinstance(msg, Compress):
        return (
            "compress",
            [
                ("Algo", str(msg.algo), msg.algo),
                ("Buf", _b(msg.buf), msg.buf.hex()),
            ],
            {},
            [],
        )
    return "compound", [("Parts", str(len(msg.parts)), len(msg.parts))], {}, []


def message_text(msg: Message) -> str:
    name, fields, _, _ = describe(msg)
    return " ".join([name, *(f"{k}={t}" for k, t, _ in fields)])


def message_json(msg: Message) -> dict[str, Any]:
    name, fields, extra, _ = describe(msg)
    return {"type": name, **{k: v for k, _, v in fields}, **extra}


# --------------------------------------------------------------------------- decoding

_REASONS = {
    "empty": "empty message",
    "unknown_type": "unknown message type byte",
    "bad_msgpack": "message body is not valid msgpack",
    "bad_field": "a field has the wrong type",
    "bad_compound": "malformed compound message",
    "compound_truncated": "compound message cut short",
    "bad_push_pull": "malformed push/pull message",
    "bad_user": "malformed user message",
    "bad_label": "malformed label header",
    "decrypt_failed": "decryption failed (wrong key, or wrong label as AAD?)",
    "too_short": "too short to be an encrypted payload",
    "bad_encrypt_version": "unknown encryption version byte",
    "bad_padding": "bad version-0 padding",
    "bad_crc": "CRC mismatch",
    "bad_lzw": "bad LZW data",
    "stream_truncated": "stream ends in the middle of a message",
    "stream_too_large": "stream message too large",
    "bad_stream_header": "malformed encrypted-stream header",
    "unexpected_stream_type": "message type not valid at the start of a stream",
    "unknown_compression": "unknown compression algorithm",
    "nesting_too_deep": "compound/compress nested too deeply",
}


def explain(err: DecodeError) -> str:
    what = _REASONS.get(err.reason, err.reason.replace("_", " "))
    return f"{what} [{err}]"


@dataclass
class Report:
    """Everything learnt from one packet or stream message, in display order."""

    size: int
    transport: str
    label: bytes = b""  # the label in effect (received header, else the configured one)
    lines: list[tuple[int, str]] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def layer(self, depth: int, name: str, text: str, **info: Any) -> None:
        self.layers.append({"layer": name, **info})
        self.lines.append((depth, text))

    def message(self, depth: int, msg: Message) -> None:
        self.messages.append(msg)
        _, _, _, extra = describe(msg)
        self.lines.append((depth, message_text(msg)))
        self.lines.extend((depth + 1, line) for line in extra)

    def error(self, depth: int, err: DecodeError | str) -> None:
        text = explain(err) if isinstance(err, DecodeError) else err
        self.errors.append(text)
        self.lines.append((depth, "error: " + text))

    def note(self, depth: int, text: str) -> None:
        self.notes.append(text)
        self.lines.append((depth, "note: " + text))

    def adopt(self, other: Report) -> None:
        self.lines.extend(other.lines)
        self.layers.extend(other.layers)
        self.messages.extend(other.messages)
        self.errors.extend(other.errors)
        self.notes.extend(other.notes)

    @property
    def shape(self) -> str:
        """Layers outermost first, then the set of message types: ``label>crc>{alive,ping}``.

        The same notation as the golden captures (tests/data/golden).
        """
        names: list[str] = []
        for layer in self.layers:
            if layer["layer"] not in names:
                names.append(layer["layer"])
        leaves = set()
        for m in self.messages:
            name = describe(m)[0]
            leaves.add(name + "(join)" if isinstance(m, PushPull) and m.join else name)
        return ">".join([*names, "{" + ",".join(sorted(leaves)) + "}"])

    def to_json(self) -> dict[str, Any]:
        return {
            "transport": self.transport,
            "bytes": self.size,
            "shape": self.shape,
            "layers": self.layers,
            "messages": [message_json(m) for m in self.messages],
            "errors": self.errors,
            "notes": self.notes,
        }


def _label_layer(rep: Report, received: bytes, configured: bytes) -> bytes:
    """Show the label header; return the label to use as encryption AAD."""
    if received:
        text = received.decode("utf-8", "replace")
        rep.layer(1, "label", f"label {_q(text)}", label=text)
        if received != configured:
            want = _q(configured.decode("utf-8", "replace")) if configured else "no label"
            rep.note(1, f"a node configured with {want} drops this (label mismatch)")
        rep.label = received
        return received
    if configured and rep.transport == "udp":
        rep.note(1, "no label header; a node configured with this --label drops it")
    elif configured:
        rep.note(
            1,
            "no label header: fine from the accepting side of a connection; a dialer must send one",
        )
    rep.label = configured
    return configured


def _open_with_each(
    keys: Sequence[bytes], opener: Callable[[Sequence[bytes]], bytes]
) -> tuple[bytes, int]:
    """Decrypt with the first key that works; return (plaintext, key index)."""
    last = DecodeError("decrypt_failed", "no keys")
    for i, key in enumerate(keys):
        try:
            return opener([key]), i
        except DecodeError as err:
            last = err
            if err.reason != "decrypt_failed":
                raise
    if len(keys) > 1 and last.reason == "decrypt_failed":
        raise DecodeError("decrypt_failed", f"none of {len(keys)} keys could decrypt")
    raise last


def decode_packet(data: bytes, keys: Sequence[bytes] = (), label: bytes = b"") -> Report:
    """Undo every layer of a UDP packet as memberlist's ``ingestPacket`` does, recording each."""
    rep = Report(len(data), "udp")
    try:
        received, rest = strip_label_header(data)
    except DecodeError as err:
        rep.error(1, err)
        return rep
    aad = _label_layer(rep, received, label)
    if keys:
        try:
            plain, idx = _open_with_each(keys, lambda ks: open_sealed(ks, rest, aad))
        except DecodeError as err:
            # Not encrypted after all? memberlist with GossipVerifyIncoming drops it; show why.
            trial = Report(len(data), "udp")
            _walk(trial, rest, 1, 0, True)
            if trial.messages and not trial.errors:
                rep.note(1, f"not encrypted ({explain(err)}); a node requiring encryption drops it")
                rep.adopt(trial)
            else:
                rep.error(1, err)
            return rep
        rep.layer(
            1,
            f"encrypt(v{rest[0]})",
            f"encrypt v{rest[0]}, nonce {rest[1:13].hex()}, decrypted with key {idx + 1} "
            f"of {len(keys)} (AES-{len(keys[idx]) * 8})",
            version=rest[0],
            key_index=idx,
        )
        _walk(rep, plain, 1, 0, True)
        return rep
    _walk(rep, rest, 1, 0, True)
    if rep.errors and rest[:1] in (b"\x00", b"\x01") and len(rest) >= 29:
        rep.note(1, "this may be an encrypted packet: pass --key")
    elif rep.errors and rest[:1] == bytes((ENCRYPT_STREAM_TYPE,)):
        rep.note(1, "this looks like an encrypted stream message: pass --stream and --key")
    return rep


def _walk(rep: Report, data: bytes, depth: int, nesting: int, top: bool) -> None:
    if top and len(data) >= 5 and data[0] == CRC_TYPE:
        want = int.from_bytes(data[1:5], "big")
        got = zlib.crc32(data[5:])
        if want != got:
            rep.layer(
                depth,
                "crc",
                f"crc 0x{want:08x} MISMATCH (computed 0x{got:08x})",
                crc=f"{want:08x}",
                ok=False,
            )
            rep.error(depth, DecodeError("bad_crc", f"{len(data) - 5}-byte body"))
            return
        rep.layer(depth, "crc", f"crc 0x{want:08x} ok", crc=f"{want:08x}", ok=True)
        data = data[5:]
    try:
        msg = codec.decode(data)
    except DecodeError as err:
        rep.error(depth, err)
        return
    if isinstance(msg, (Compound, Compress)) and nesting >= MAX_NESTING:
        rep.error(depth, DecodeError("nesting_too_deep"))
        return
    if isinstance(msg, Compound):
        cut = ", truncated" if msg.truncated else ""
        rep.layer(
            depth,
            "compound",
            f"compound, {len(msg.parts)} parts{cut}",
            parts=len(msg.parts),
            truncated=msg.truncated,
        )
        for part in msg.parts:
            _walk(rep, part, depth + 1, nesting + 1, False)
        if msg.truncated:
            rep.error(depth + 1, DecodeError("compound_truncated", f"after {len(msg.parts)}"))
    elif isinstance(msg, Compress):
        if msg.algo != 0:
            rep.error(depth, DecodeError("unknown_compression", str(msg.algo)))
            return
        try:
            inner = lzw_decompress(msg.buf, MAX_DECOMPRESSED)
        except DecodeError as err:
            rep.error(depth, err)
            return
        rep.layer(
            depth,
            "compress",
            f"compress lzw, {len(msg.buf)} -> {len(inner)} bytes",
            algo=msg.algo,
            compressed=len(msg.buf),
            decompressed=len(inner),
        )
        _walk(rep, inner, depth, nesting + 1, False)
    else:
        rep.message(depth, msg)


def decode_stream(data: bytes, keys: Sequence[bytes] = (), label: bytes = b"") -> Report:
    """Undo the layers of one TCP stream message (as written by one side of a connection)."""
    rep = Report(len(data), "tcp")
    try:
        received, rest = strip_label_header(data)
    except DecodeError as err:
        rep.error(1, err)
        return rep
    aad = _label_layer(rep, received, label)
    if not rest:
        rep.error(1, DecodeError("empty", "no message after the label"))
        return rep
    if rest[0] == ENCRYPT_STREAM_TYPE:
        if len(rest) < 5:
            rep.error(1, DecodeError("stream_truncated", "encrypted-stream header"))
            return rep
        size = int.from_bytes(rest[1:5], "big")
        header, sealed = rest[:5], rest[5 : 5 + size]
        if len(sealed) < size:
            rep.error(
                1,
                DecodeError(
                    "stream_truncated", f"{size} sealed bytes announced, {len(sealed)} present"
                ),
            )
            return rep
        if not keys:
            rep.error(
                1, DecodeError("encrypted_stream_no_key", "the stream is encrypted: pass --key")
            )
            return rep
        try:
            plain, idx = _open_with_each(
                keys, lambda ks: open_stream_payload(ks, header, sealed, aad)
            )
        except DecodeError as err:
            rep.error(1, err)
            return rep
        rep.layer(
            1,
            f"encrypt(v{sealed[0]})",
            f"encrypt v{sealed[0]} stream, {size} bytes sealed, decrypted with key {idx + 1} "
            f"of {len(keys)} (AES-{len(keys[idx]) * 8})",
            version=sealed[0],
            key_index=idx,
            sealed=size,
        )
        rest = plain
    elif keys:
        rep.note(1, "the stream is not encrypted; a node requiring encryption refuses it")
    if rest[:1] == b"\x09":
        try:
            outer = codec.decode(rest)
            if not isinstance(outer, Compress):
                raise DecodeError("bad_msgpack", "compress header")
            if outer.algo != 0:
                raise DecodeError("unknown_compression", str(outer.algo))
            inner = lzw_decompress(outer.buf, MAX_DECOMPRESSED)
        except DecodeError as err:
            rep.error(1, err)
            return rep
        rep.layer(
            1,
            "compress",
            f"compress lzw, {len(outer.buf)} -> {len(inner)} bytes",
            algo=0,
            compressed=len(outer.buf),
            decompressed=len(inner),
        )
        rest = inner
    try:
        rep.message(1, decode_stream_buffer(rest))
    except DecodeError as err:
        rep.error(1, err)
    except Exception as exc:  # the msgpack unpacker raises several unrelated types
        rep.error(1, DecodeError("bad_msgpack", type(exc).__name__))
    return rep


def show_report(rep: Report, title: str, as_json: bool, **extra: Any) -> None:
    if as_json:
        _out_json({**extra, **rep.to_json()})
        return
    _out(f"{title}: {rep.size} bytes, {rep.shape}")
    for depth, text in rep.lines:
        _out("  " * depth + text)


# --------------------------------------------------------------------------- debug codec

_ADDR_A = bytes((127, 0, 0, 1))
_VSN = Vsn().to_bytes()


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
    out: list[tuple[str, bytes]] = []
    primary = keys[0] if keys else None
    framer = PacketFramer(label=label, keyring=Keyring(keys[:1]), compression=False)
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
        out.append((k, data))
    return out


def cmd_codec(args: argparse.Namespace) -> int:
    keys = parse_keys(args.key)
    label = parse_label(args.label)
    if args.sample is not None:
        if args.hex or args.file:
            raise CliError("--sample cannot be combined with input to decode")
        for kind, data in sample_packets(args.sample, args.stream, keys, label):
            if args.json:
                _out_json(
                    {"kind": kind, "transport": "tcp" if args.stream else "udp", "hex": data.hex()}
                )
            else:
                rep = (
                    decode_stream(data, keys, label)
                    if args.stream
                    else decode_packet(data, keys, label)
                )
                _out(f"# {kind}: {rep.shape}: " + "; ".join(message_text(m) for m in rep.messages))
                _out(data.hex())
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
        _err(f"error: {bad} of {len(inputs)} {what}s could not be decoded completely")
        return 1
    return 0


# --------------------------------------------------------------------------- debug recv


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
        except OSError as err:
            udp.close()
            if listener is not None:
                listener.close()
            last = err
    raise CliError(f"cannot bind {host}:{port}: {last.strerror if last else '?'}")


def _addr_text(addr: Any) -> str:
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _answer_pings(
    udp: socket.socket, rep: Report, sender: Any, keys: Sequence[bytes], args: argparse.Namespace
) -> None:
    """``--ack``: reply to each ping as memberlist's handlePing would."""
    framer = PacketFramer(label=rep.label, keyring=Keyring(keys[:1]), compression=False)
    for m in rep.messages:
        if not isinstance(m, Ping):
            continue
        if m.node and args.name and m.node != args.name:
            _out(f"  (not answering: ping is for {_q(m.node)}, not {_q(args.name)})")
            continue
        to = sender
        if m.source_addr and m.source_port and len(m.source_addr) in (4, 16):
            to = (_ip(m.source_addr), m.source_port)
        packet = framer.seal(codec.encode(Ack(m.seq_no)), crc=False, nonce=os.urandom(12))
        try:
            udp.sendto(packet, (to[0], to[1]))
        except OSError as err:
            _out(f"  (ack to {_addr_text(to)} failed: {err})")
            continue
        if args.json:
            _out_json({"event": "ack_sent", "seq_no": m.seq_no, "to": _addr_text(to)})
        else:
            _out(f"  -> ack SeqNo={m.seq_no} sent to {_addr_text(to)}")


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
    except OSError as err:
        problem = f"connection: {err or type(err).__name__}"
    rep = decode_stream(bytes(captured), keys, label)
    if problem:
        rep.error(1, problem)
    show_report(
        rep,
        f"tcp from {_addr_text(peer)}",
        args.json,
        event="stream",
        **{"from": _addr_text(peer)},
        hex=captured.hex(),
    )
    if args.hex and not args.json:
        _out(f"  hex {captured.hex()}")
    if args.ack and isinstance(msg, Ping):
        reply = encode_stream(
            codec.encode(Ack(msg.seq_no)),
            compress=False,
            key=keys[0] if keys else None,
            nonce=os.urandom(12),
            label=aad,
        )
        try:
            conn.sendall(reply)
            if args.json:
                _out_json({"event": "ack_sent", "seq_no": msg.seq_no, "to": _addr_text(peer)})
            else:
                _out(f"  -> ack SeqNo={msg.seq_no} sent on the stream")
        except OSError as err:
            _out(f"  (ack on the stream failed: {err})")


def cmd_recv(args: argparse.Namespace) -> int:
    keys = parse_keys(args.key)
    label = parse_label(args.label)
    _positive(args.seconds, "--seconds")
    if args.count is not None and args.count < 1:
        raise CliError("--count must be at least 1")
    family, host, port = resolve(args.bind, "--bind", allow_zero=True)
    udp, tcp = _bind(family, host, port, args.tcp)
    bound = udp.getsockname()[1]
    kinds = "udp+tcp" if tcp is not None else "udp"
    if args.json:
        _out_json({"event": "listening", "addr": host, "port": bound, "tcp": tcp is not None})
    else:
        _out(f"listening on {_addr_text((host, bound))} ({kinds}) for {args.seconds:g} s")
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
                    except OSError as err:  # e.g. an ICMP error for an earlier send
                        log.debug("recvfrom: %s", err)
                        continue
                    got += 1
                    rep = decode_packet(data, keys, label)
                    show_report(
                        rep,
                        f"udp from {_addr_text(sender)}",
                        args.json,
                        event="packet",
                        **{"from": _addr_text(sender)},
                        hex=data.hex(),
                    )
                    if args.hex and not args.json:
                        _out(f"  hex {data.hex()}")
                    if args.ack:
                        _answer_pings(udp, rep, sender, keys, args)
                else:
                    assert tcp is not None
                    try:
                        conn, peer = tcp.accept()
                    except OSError as err:
                        log.debug("accept: %s", err)
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
        _err(f"error: timeout after {args.seconds:g} s: received {got} of {args.count}")
        return 1
    return 0


# --------------------------------------------------------------------------- debug ping


def _local_ip_for(family: int, host: str, port: int) -> str:
    """The local address the kernel would send from to reach ``host`` (nothing is sent)."""
    probe = socket.socket(family, socket.SOCK_DGRAM)
    try:
        probe.connect((host, port))
        return str(probe.getsockname()[0])
    except OSError as err:
        raise CliError(f"no route to {host}:{port}: {err}") from None
    finally:
        probe.close()


@dataclass
class _Reply:
    ack: Ack
    sender: str
    rtt: float
    others: list[Message]


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
        except OSError as err:  # e.g. ICMP port unreachable on some systems
            log.debug("recvfrom: %s", err)
            continue
        now = time.monotonic()
        try:
            msgs, errors = unpack_messages(framer.open(data))
        except DecodeError as err:
            msgs, errors = [], [err]
        for m in msgs:
            if isinstance(m, Ack) and m.seq_no == seq:
                return _Reply(m, _addr_text(sender), now - sent, [x for x in msgs if x is not m])
        why = "; ".join(explain(e) for e in errors) or "no matching ack in it"
        if as_json:
            _out_json({"event": "ignored", "from": _addr_text(sender), "reason": why})
        else:
            _out(f"ignored a packet from {_addr_text(sender)}: {why}")


def cmd_ping(args: argparse.Namespace) -> int:
    keys = parse_keys(args.key)
    label = parse_label(args.label)
    _positive(args.timeout, "--timeout")
    if args.count < 1:
        raise CliError("--count must be at least 1")
    if args.interval < 0:
        raise CliError("--interval must not be negative")
    family, host, port = resolve(args.target, "HOST:PORT")
    target = _addr_text((host, port))
    local_ip = _local_ip_for(family, host, port)
    framer = PacketFramer(label=label, keyring=Keyring(keys[:1]), compression=False)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    rtts: list[float] = []
    try:
        try:
            sock.bind((local_ip, 0))
        except OSError as err:
            raise CliError(f"cannot bind a UDP socket on {local_ip}: {err}") from None
        src_port = int(sock.getsockname()[1])
        src_addr = ipaddress.ip_address(local_ip).packed
        seq = int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF
        if not args.json:
            extras = [f"Node={_q(args.name)}"]
            if label:
                extras.append(f"label {_q(args.label)}")
            if keys:
                extras.append(f"encrypted (AES-{len(keys[0]) * 8})")
            _out(f"PING {target} from {_addr_text((local_ip, src_port))}, " + ", ".join(extras))
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
            except OSError as err:
                _out(f"send to {target} failed: {err}")
            else:
                reply = _await_ack(sock, framer, seq, sent, sent + args.timeout, args.json)
            if reply is None:
                if args.json:
                    _out_json(
                        {"event": "timeout", "seq_no": seq, "to": target, "timeout_s": args.timeout}
                    )
                else:
                    _out(f"timeout: no ack for SeqNo={seq} from {target} within {args.timeout:g} s")
                continue
            rtts.append(reply.rtt)
            ms = reply.rtt * 1000
            if args.json:
                _out_json(
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
                _out(
                    f"ack from {reply.sender}: SeqNo={reply.ack.seq_no} "
                    f"Payload={_b(reply.ack.payload)} rtt={ms:.3f} ms"
                )
                for m in reply.others:
                    _out(f"  piggybacked: {message_text(m)}")
    finally:
        sock.close()
    lost = args.count - len(rtts)
    if args.count > 1:
        stats = ""
        if rtts:
            lo, hi, avg = min(rtts) * 1000, max(rtts) * 1000, sum(rtts) / len(rtts) * 1000
            stats = f", rtt min/avg/max = {lo:.3f}/{avg:.3f}/{hi:.3f} ms"
        if args.json:
            _out_json(
                {
                    "event": "summary",
                    "sent": args.count,
                    "acked": len(rtts),
                    "rtt_ms": [round(r * 1000, 3) for r in rtts],
                }
            )
        else:
            _out(f"{args.count} pings sent, {len(rtts)} acked{stats}")
    if lost:
        _err(
            f"error: {lost} of {args.count} pings to {target} got no ack within {args.timeout:g} s"
        )
        return 1
    return 0


# --------------------------------------------------------------------------- agent


def _node_json(n: Node) -> dict[str, Any]:
    return {
        "name": n.name,
        "addr": n.addr,
        "port": n.port,
        "meta": n.meta.decode("utf-8", "replace"),
        "state": n.state.name.lower(),
        "incarnation": n.incarnation,
    }


_EVENT_NAMES: dict[type, str] = {
    JoinEvent: "join",
    LeaveEvent: "leave",
    UpdateEvent: "update",
    SuspectEvent: "suspect",
    AliveEvent: "alive",
}


def _show_event(ev: Event, as_json: bool) -> None:
    name = _EVENT_NAMES.get(type(ev), type(ev).__name__)
    n = ev.node
    if as_json:
        _out_json({"event": name, "node": _node_json(n)})
    else:
        _out(
            f"{name} {n.name} {_addr_text((n.addr, n.port))} state={n.state.name.lower()} "
            f"incarnation={n.incarnation} meta={_b(n.meta)}"
        )


def _read_commands(into: queue.Queue[str]) -> None:
    with contextlib.suppress(Exception):  # stdin closed or not readable: no commands
        for line in sys.stdin:
            into.put(line)


def _agent_command(cluster: Cluster, line: str, as_json: bool) -> bool:
    """Run one stdin command; False means quit. JSON like the Go peer, or plain words."""
    line = line.strip()
    if not line:
        return True
    try:
        if line.startswith("{"):
            cmd = json.loads(line)
            if not isinstance(cmd, dict):
                raise ValueError("a command must be a JSON object")
        else:
            word, _, rest = line.partition(" ")
            cmd = {"cmd": word}
            if word == "send":
                to, _, text = rest.partition(" ")
                cmd.update(to=to, payload=text)
            elif word == "broadcast":
                cmd["payload"] = rest
        name = cmd.get("cmd")
        payload = str(cmd.get("payload", "")).encode("utf-8")
        topic = cmd.get("topic")
        if name == "broadcast":
            cluster.broadcast(payload, topic=topic)
        elif name == "send":
            cluster.send(
                str(cmd.get("to", "")),
                payload,
                topic=topic,
                reliable=bool(cmd.get("reliable", False)),
            )
        elif name == "members":
            ms = [_node_json(m) for m in cluster.members()]
            if as_json:
                _out_json({"event": "members", "members": ms})
            else:
                for m in ms:
                    _out(
                        f"member {m['name']} {m['addr']}:{m['port']} {m['state']} "
                        f"incarnation={m['incarnation']}"
                    )
        elif name == "leave":
            ok = cluster.leave(timeout=float(str(cmd.get("timeout", 2.0)).rstrip("s")))
            _out_json({"event": "left", "ok": ok}) if as_json else _out(f"left (ok={ok})")
        elif name in ("quit", "shutdown", "exit"):
            return False
        else:
            raise ValueError(f"unknown command {name!r} (broadcast, send, members, leave, quit)")
    except (ValueError, TypeError, SwimError, OSError) as err:
        if as_json:
            _out_json({"event": "error", "error": str(err), "line": line})
        else:
            _out(f"command failed: {err}")
    return True


def cmd_agent(args: argparse.Namespace) -> int:
    keys = parse_keys(args.key)
    parse_label(args.label)
    _positive(args.seconds, "--seconds")
    _, host, port = resolve(args.bind, "--bind", allow_zero=True)
    preset = {"lan": Config.lan, "wan": Config.wan, "local": Config.local}[args.preset]
    try:
        cfg = preset(
            node_name=args.name,
            bind_addr=host,
            bind_port=port,
            label=args.label,
            keyring=tuple(keys),
            meta=args.meta.encode("utf-8"),
        )
        cluster = Cluster(cfg)
    except SwimError as err:
        raise CliError(str(err)) from None
    inbox: queue.Queue[tuple[str | None, str | None, bytes]] = queue.Queue()
    cluster.on_message(lambda s, t, p: inbox.put((s.name if s else None, t, p)))
    commands: queue.Queue[str] = queue.Queue()
    try:
        cluster.start()
    except OSError as err:
        raise CliError(f"cannot start on {host}:{port}: {err}") from None
    try:
        if args.json:
            _out_json({"event": "start", "name": args.name, "addr": host, "port": cluster.port})
        else:
            _out(f"started {args.name} on {_addr_text((host, cluster.port))}")
        if args.join:
            try:
                n = cluster.join(args.join)
            except SwimError as err:
                raise CliError(f"join failed: {err}") from None
            _out_json({"event": "joined", "n": n}) if args.json else _out(f"joined {n} seed(s)")
        if not args.no_stdin:
            threading.Thread(
                target=_read_commands, args=(commands,), name="swimlib-cli-stdin", daemon=True
            ).start()
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                _show_event(cluster.events.get(timeout=0.05), args.json)
            while not inbox.empty():
                sender, topic, payload = inbox.get_nowait()
                if args.json:
                    _out_json(
                        {
                            "event": "message",
                            "from": sender,
                            "topic": topic,
                            "payload_b64": _b64(payload),
                            "payload_text": payload.decode("utf-8", "replace"),
                        }
                    )
                else:
                    _out(f"message from {sender} topic={topic} payload={_b(payload)}")
            while not commands.empty():
                if not _agent_command(cluster, commands.get_nowait(), args.json):
                    return 0
        return 0
    finally:
        if args.leave_on_exit:
            with contextlib.suppress(SwimError):
                cluster.leave(timeout=2.0)
        cluster.shutdown()


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------- parser


def _add_crypto(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="K",
        help="AES key: standard base64 or hex:<digits>; repeat for a keyring (first = primary)",
    )
    p.add_argument("--label", default="", metavar="L", help="cluster label")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swimlib",
        description="swimlib: memberlist-compatible SWIM membership tools.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    debug = sub.add_parser(
        "debug",
        help="inspect memberlist traffic",
        description="Debug tools for memberlist traffic (Go or Python).",
    )
    dsub = debug.add_subparsers(dest="tool", metavar="TOOL")

    c = dsub.add_parser(
        "codec",
        help="decode packets or stream messages from hex; print samples",
        description="Decode memberlist packets (label, encryption, CRC, compression, "
        "compound) or, with --stream, TCP stream messages; or print encoded "
        "samples with --sample.",
    )
    c.add_argument("hex", nargs="*", metavar="HEX", help="a packet in hex")
    c.add_argument(
        "--file",
        metavar="F",
        help="hex packets, one per line (# comments and blank lines skipped; - = stdin)",
    )
    c.add_argument(
        "--stream",
        action="store_true",
        help="inputs are TCP stream messages (as written by one side)",
    )
    c.add_argument(
        "--sample",
        metavar="KIND",
        help=f"print encoded samples: all, or one of {', '.join(UDP_SAMPLES)}; "
        f"with --stream: {', '.join(STREAM_SAMPLES)}",
    )
    c.add_argument("--json", action="store_true", help="one JSON object per input")
    _add_crypto(c)
    c.set_defaults(func=cmd_codec)

    r = dsub.add_parser(
        "recv",
        help="bind a port and print every packet received",
        description="Bind UDP (and TCP with --tcp) and print every received "
        "packet or stream message decoded.",
    )
    r.add_argument(
        "--bind",
        required=True,
        metavar="HOST:PORT",
        help="address to bind, e.g. 127.0.0.1:7946 (port 0: any free port)",
    )
    r.add_argument(
        "--tcp",
        action="store_true",
        help="also accept TCP, reading one stream message per connection",
    )
    r.add_argument(
        "--ack",
        action="store_true",
        help="answer pings (UDP and TCP) with acks, as a memberlist node would",
    )
    r.add_argument("--name", default="", help="with --ack, ignore pings naming another node")
    r.add_argument("--count", type=int, metavar="N", help="stop after N packets/messages")
    r.add_argument(
        "--seconds", type=float, default=60.0, metavar="S", help="stop after S seconds (default 60)"
    )
    r.add_argument("--hex", action="store_true", help="also print the raw bytes in hex")
    r.add_argument("--json", action="store_true", help="one JSON object per packet")
    _add_crypto(r)
    r.set_defaults(func=cmd_recv)

    p = dsub.add_parser(
        "ping",
        help="send memberlist pings to a node and wait for acks",
        description="Send memberlist UDP ping(s) to any memberlist node and "
        "print the ack and round-trip time; exit 1 on timeout.",
    )
    p.add_argument("target", metavar="HOST:PORT")
    p.add_argument(
        "--name",
        default="",
        help="the ping's Node field (memberlist ignores pings naming another node; "
        "empty is always accepted)",
    )
    p.add_argument(
        "--source-node", default="swimlib-ping", metavar="NAME", help="the ping's SourceNode field"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds to wait for each ack (default 1)",
    )
    p.add_argument("--count", type=int, default=1, metavar="N", help="pings to send")
    p.add_argument(
        "--interval", type=float, default=0.2, metavar="S", help="pause between pings (default 0.2)"
    )
    p.add_argument("--json", action="store_true", help="JSON lines")
    _add_crypto(p)
    p.set_defaults(func=cmd_ping)

    a = sub.add_parser(
        "agent",
        help="run a node and print its events",
        description="Run one swimlib node, print membership events and "
        "messages; commands on stdin: broadcast TEXT, send NODE "
        "TEXT, members, leave, quit (or the Go peer's JSON).",
    )
    a.add_argument("--name", required=True, help="node name")
    a.add_argument(
        "--bind",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="bind address (default 127.0.0.1:0)",
    )
    a.add_argument("--join", action="append", default=[], metavar="HOST:PORT", help="seed")
    a.add_argument("--preset", choices=("local", "lan", "wan"), default="local")
    a.add_argument("--meta", default="", help="node metadata (text)")
    a.add_argument(
        "--seconds",
        type=float,
        default=600.0,
        metavar="S",
        help="exit after S seconds (default 600)",
    )
    a.add_argument("--no-stdin", action="store_true", help="do not read commands from stdin")
    a.add_argument(
        "--no-leave",
        dest="leave_on_exit",
        action="store_false",
        help="exit without a graceful leave",
    )
    a.add_argument("--json", action="store_true", help="JSON lines")
    _add_crypto(a)
    a.set_defaults(func=cmd_agent)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``swimlib`` and ``python -m swimlib``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    if args.verbose:
        logging.basicConfig(
            level=logging.DEBUG,
            stream=sys.stderr,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
        )
    try:
        return func(args)
    except CliError as err:
        _err(f"error: {err}")
        return 1
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 1
    except Exception as exc:  # a bug, not bad input: still one line unless -v asks for more
        if args.verbose:
            log.exception("swimlib %s failed", args.command)
        _err(f"error: internal error: {type(exc).__name__}: {exc} (run with -v for details)")
        return 1


def _quiet_stdout() -> None:
    """After a broken pipe (e.g. ``| head``), send further output to /dev/null."""
    with contextlib.suppress(Exception):  # stdout's reader went away: exit quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
