"""Text and JSON forms of memberlist messages and of decode reports.

A message prints on one line with memberlist's Go type and field names (``ping SeqNo=7
Node="go-1" ...``) and as a JSON object with the same keys; a :class:`Report` collects the
layers, messages, errors and notes found in one packet or stream message and prints them
indented one line per layer (or as one JSON object).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

from swimlib.tools.common import out, out_json
from swimlib.wire import envelope
from swimlib.wire.errors import DecodeError
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
    WireState,
)

TEXT_LIMIT = 160  # characters of a byte field shown in text output


# --------------------------------------------------------------------------- fields


def quote(text: str) -> str:
    """A Go string field as a quoted literal (invalid UTF-8 shows as escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(text)
    return json.dumps(text, ensure_ascii=False)


def show_bytes(data: bytes) -> str:
    """A Go []byte field: quoted text when it is printable UTF-8, else 0x-hex."""
    if not data:
        return '""'
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and text.isprintable():
        if len(text) > TEXT_LIMIT:
            return quote(text[:TEXT_LIMIT]) + f"...({len(data)} bytes)"
        return quote(text)
    if len(data) > TEXT_LIMIT // 2:
        return "0x" + data[: TEXT_LIMIT // 2].hex() + f"...({len(data)} bytes)"
    return "0x" + data.hex()


def ip_or_hex(raw: bytes) -> str:
    if len(raw) in (4, 16):
        return str(ipaddress.ip_address(raw))
    return raw.hex()


def _ip_text(raw: bytes) -> str:
    return ip_or_hex(raw) if len(raw) in (4, 16) else show_bytes(raw)


def _vsn(raw: bytes) -> str:
    return "[" + ",".join(str(b) for b in raw) + "]" if raw else "[]"


def _state_name(state: int) -> str:
    try:
        return WireState(state).name.lower()
    except ValueError:
        return f"unknown({state})"


# A field: Go name, text form, JSON value.
Field = tuple[str, str, Any]


def _num(name: str, value: int) -> Field:
    return (name, str(value), value)


def _flag(name: str, value: bool) -> Field:
    return (name, str(value).lower(), value)


def _str(name: str, value: str) -> Field:
    return (name, quote(value), value)


def _raw(name: str, value: bytes) -> Field:
    return (name, show_bytes(value), value.hex())


def _addr(name: str, value: bytes) -> Field:
    return (name, _ip_text(value), ip_or_hex(value))


def _vsn_field(value: bytes) -> Field:
    return ("Vsn", _vsn(value), list(value))


def _source(addr: bytes, port: int, node: str) -> list[Field]:
    """The omitempty Source* fields of ping and indirectPingReq."""
    fields: list[Field] = []
    if addr:
        fields.append(_addr("SourceAddr", addr))
    if port:
        fields.append(_num("SourcePort", port))
    if node:
        fields.append(_str("SourceNode", node))
    return fields


def _user_fields(payload: bytes) -> tuple[list[Field], dict[str, Any]]:
    env = envelope.unwrap(payload)
    try:
        text: str | None = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    extra: dict[str, Any] = {"payload_text": text, "envelope": None}
    fields: list[Field] = [_raw("Payload", payload)]
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
                f"swimlib-envelope(topic={quote(env.topic)} origin={quote(env.origin)} "
                f"id={env.msg_id} broadcast={str(env.broadcast).lower()} "
                f"payload={show_bytes(env.payload)})",
                payload.hex(),
            ),
        ]
    return fields, extra


def _node_state_fields(n: PushNodeState) -> list[Field]:
    return [
        _str("Name", n.name),
        _addr("Addr", n.addr),
        _num("Port", n.port),
        _raw("Meta", n.meta),
        _num("Incarnation", n.incarnation),
        ("State", f"{n.state}({_state_name(n.state)})", n.state),
        _vsn_field(n.vsn),
    ]


def _push_pull(msg: PushPull) -> tuple[str, list[Field], dict[str, Any], list[str]]:
    """pushPull's fields, plus one JSON object and one text line per node state."""
    states = []
    lines = []
    for n in msg.nodes:
        fs = _node_state_fields(n)
        states.append({k: v for k, _, v in fs} | {"StateName": _state_name(n.state)})
        lines.append("pushNodeState " + " ".join(f"{k}={t}" for k, t, _ in fs))
    if msg.user_state:
        lines.append(f"userState {show_bytes(msg.user_state)}")
    fields = [
        _flag("Join", msg.join),
        _num("Nodes", len(msg.nodes)),
        _num("UserStateLen", len(msg.user_state)),
    ]
    return "pushPull", fields, {"states": states, "user_state_hex": msg.user_state.hex()}, lines


def _fields(msg: Message) -> tuple[str, list[Field]]:
    """Type name and fields of a message that needs no more than one line."""
    if isinstance(msg, Ping):
        return "ping", [
            _num("SeqNo", msg.seq_no),
            _str("Node", msg.node),
            *_source(msg.source_addr, msg.source_port, msg.source_node),
        ]
    if isinstance(msg, IndirectPing):
        return "indirectPing", [
            _num("SeqNo", msg.seq_no),
            _addr("Target", msg.target),
            _num("Port", msg.port),
            _str("Node", msg.node),
            _flag("Nack", msg.nack),
            *_source(msg.source_addr, msg.source_port, msg.source_node),
        ]
    if isinstance(msg, Ack):
        return "ack", [_num("SeqNo", msg.seq_no), _raw("Payload", msg.payload)]
    if isinstance(msg, Nack):
        return "nack", [_num("SeqNo", msg.seq_no)]
    if isinstance(msg, (Suspect, Dead)):
        return "suspect" if isinstance(msg, Suspect) else "dead", [
            _num("Incarnation", msg.incarnation),
            _str("Node", msg.node),
            _str("From", msg.from_node),
        ]
    if isinstance(msg, Alive):
        return "alive", [
            _num("Incarnation", msg.incarnation),
            _str("Node", msg.node),
            _addr("Addr", msg.addr),
            _num("Port", msg.port),
            _raw("Meta", msg.meta),
            _vsn_field(msg.vsn),
        ]
    if isinstance(msg, ErrResp):
        return "err", [_str("Error", msg.error)]
    if isinstance(msg, Compress):
        return "compress", [_num("Algo", msg.algo), _raw("Buf", msg.buf)]
    if isinstance(msg, Compound):
        return "compound", [_num("Parts", len(msg.parts))]
    raise TypeError(f"{type(msg).__name__} takes more than one line: see describe()")


def describe(msg: Message) -> tuple[str, list[Field], dict[str, Any], list[str]]:
    """(memberlist type name, fields, extra JSON, extra text lines) of one message."""
    if isinstance(msg, PushPull):
        return _push_pull(msg)
    if isinstance(msg, User):
        fields, extra = _user_fields(msg.payload)
        return "user", fields, extra, []
    name, fields = _fields(msg)
    return name, fields, {}, []


def message_text(msg: Message) -> str:
    name, fields, _, _ = describe(msg)
    return " ".join([name, *(f"{k}={t}" for k, t, _ in fields)])


def message_json(msg: Message) -> dict[str, Any]:
    name, fields, extra, _ = describe(msg)
    return {"type": name, **{k: v for k, _, v in fields}, **extra}


# --------------------------------------------------------------------------- decode reports

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


def show_report(rep: Report, title: str, as_json: bool, **extra: Any) -> None:
    """Print ``rep``: a title line and one indented line per layer, or one JSON object."""
    if as_json:
        out_json({**extra, **rep.to_json()})
        return
    out(f"{title}: {rep.size} bytes, {rep.shape}")
    for depth, text in rep.lines:
        out("  " * depth + text)
