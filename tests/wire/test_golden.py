"""Bytes captured from real Go memberlist nodes (tests/data/golden, made by interop/capture).

Every packet and stream must decode through the full pipeline (label, decryption, CRC,
compression, compound) to exactly the fields Go's side recorded, and every plaintext message
we re-encode must be byte-identical to what Go wrote.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from swimlib.wire import codec
from swimlib.wire.compression import lzw_compress, lzw_decompress
from swimlib.wire.errors import DecodeError
from swimlib.wire.keyring import Keyring
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
    PushPull,
    Suspect,
    User,
)
from swimlib.wire.packet import PacketFramer, unpack_messages
from swimlib.wire.stream import read_label, read_stream

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "captured.json"
RECORDS: list[dict[str, Any]] = json.loads(GOLDEN.read_text())


def _hex(b: bytes) -> str | None:
    return b.hex() if b else None


def to_go(msg: Message) -> dict[str, Any]:
    """Our message in the shape the capture program recorded (Go field names)."""
    if isinstance(msg, Ping):
        d: dict[str, Any] = {"type": "ping", "Node": msg.node, "SeqNo": msg.seq_no}
        if msg.source_addr:
            d["SourceAddr"] = msg.source_addr.hex()
        if msg.source_node:
            d["SourceNode"] = msg.source_node
        if msg.source_port:
            d["SourcePort"] = msg.source_port
        return d
    if isinstance(msg, IndirectPing):
        d = {
            "type": "indirectPing",
            "Nack": msg.nack,
            "Node": msg.node,
            "Port": msg.port,
            "SeqNo": msg.seq_no,
            "Target": msg.target.hex(),
        }
        if msg.source_addr:
            d["SourceAddr"] = msg.source_addr.hex()
        if msg.source_node:
            d["SourceNode"] = msg.source_node
        if msg.source_port:
            d["SourcePort"] = msg.source_port
        return d
    if isinstance(msg, Ack):
        return {"type": "ack", "SeqNo": msg.seq_no, "Payload": _hex(msg.payload)}
    if isinstance(msg, Nack):
        return {"type": "nack", "SeqNo": msg.seq_no}
    if isinstance(msg, (Suspect, Dead)):
        return {
            "type": "suspect" if isinstance(msg, Suspect) else "dead",
            "From": msg.from_node,
            "Incarnation": msg.incarnation,
            "Node": msg.node,
        }
    if isinstance(msg, Alive):
        return {
            "type": "alive",
            "Addr": msg.addr.hex(),
            "Incarnation": msg.incarnation,
            "Meta": _hex(msg.meta),
            "Node": msg.node,
            "Port": msg.port,
            "Vsn": _hex(msg.vsn),
        }
    if isinstance(msg, User):
        return {"type": "user", "payload_hex": msg.payload.hex()}
    if isinstance(msg, ErrResp):
        return {"type": "err", "Error": msg.error}
    if isinstance(msg, PushPull):
        return {
            "type": "pushPull",
            "Join": msg.join,
            "Nodes": len(msg.nodes),
            "UserStateLen": len(msg.user_state),
            "user_state_hex": _hex(msg.user_state),
            "states": [
                {
                    "Addr": n.addr.hex(),
                    "Incarnation": n.incarnation,
                    "Meta": _hex(n.meta),
                    "Name": n.name,
                    "Port": n.port,
                    "State": n.state,
                    "Vsn": _hex(n.vsn),
                }
                for n in msg.nodes
            ],
        }
    raise AssertionError(f"unexpected {msg!r}")


def normalise(go: dict[str, Any]) -> dict[str, Any]:
    """Drop the recorder's annotations and treat empty byte fields like nil, as Go does."""
    out = {k: v for k, v in go.items() if k not in ("path", "StateName")}
    for k, v in list(out.items()):
        if v == "":
            out[k] = None
    if "states" in out:
        out["states"] = [normalise(s) for s in out["states"]]
    if out.get("type") == "user":
        out.setdefault("payload_hex", "")
        if "UserMsgLen" in out:  # the TCP form's header must agree with the payload
            assert out.pop("UserMsgLen") == len(out["payload_hex"]) // 2
    return out


def keyring_for(rec: dict[str, Any]) -> Keyring:
    key = rec["config"]["key_hex"]
    return Keyring([bytes.fromhex(key)] if key else [])


def ids(rec: dict[str, Any]) -> str:
    return f"{rec['scenario']}-{rec['transport']}-{rec['shape']}"


UDP = [r for r in RECORDS if r["transport"] == "udp"]
TCP = [r for r in RECORDS if r["transport"] == "tcp"]


def test_captures_cover_every_message_kind() -> None:
    kinds = {m["type"] for r in RECORDS for m in r.get("messages") or []}
    assert {
        "ping",
        "indirectPing",
        "ack",
        "nack",
        "suspect",
        "alive",
        "dead",
        "pushPull",
        "user",
        "err",
    } <= kinds
    shapes = " ".join(r["shape"] for r in RECORDS)
    for layer in ("label", "encrypt(v0)", "encrypt(v1)", "crc", "compress", "compound"):
        assert layer in shapes


@pytest.mark.parametrize("rec", UDP, ids=ids)
def test_udp_capture_decodes_to_go_fields(rec: dict[str, Any]) -> None:
    cfg = rec["config"]
    framer = PacketFramer(label=cfg["label"].encode(), keyring=keyring_for(rec))
    inner = framer.open(bytes.fromhex(rec["hex"]))
    msgs, errors = unpack_messages(inner)
    assert errors == []
    assert [to_go(m) for m in msgs] == [normalise(m) for m in rec["messages"]]


def _leaves(data: bytes) -> list[bytes]:
    """The plaintext bytes of each message inside CRC/compress/compound wrappers."""
    if data[:1] == b"\x0c":
        data = data[5:]
    msg = codec.decode(data)
    if isinstance(msg, Compound):
        return [leaf for p in msg.parts for leaf in _leaves(p)]
    if isinstance(msg, Compress):
        inner = lzw_decompress(msg.buf)
        assert lzw_compress(inner) == msg.buf, "our LZW must reproduce Go's bytes"
        return _leaves(inner)
    return [data]


@pytest.mark.parametrize("rec", UDP, ids=ids)
def test_udp_capture_reencodes_byte_identical(rec: dict[str, Any]) -> None:
    cfg = rec["config"]
    framer = PacketFramer(label=cfg["label"].encode(), keyring=keyring_for(rec))
    for leaf in _leaves(framer.open(bytes.fromhex(rec["hex"]))):
        assert codec.encode(codec.decode(leaf)) == leaf


def _read_tcp(rec: dict[str, Any]) -> Message:
    cfg = rec["config"]
    stream = io.BytesIO(bytes.fromhex(rec["hex"]))
    label, first = read_label(stream.read)
    assert label in (b"", cfg["label"].encode())
    return read_stream(
        stream.read,
        first,
        keys=keyring_for(rec).keys(),
        label=cfg["label"].encode(),
        require_encryption=False,
    )


@pytest.mark.parametrize("rec", TCP, ids=ids)
def test_tcp_capture_decodes_to_go_fields(rec: dict[str, Any]) -> None:
    try:
        msg = _read_tcp(rec)
    except DecodeError:
        pytest.fail(f"could not decode {rec['shape']}")
    assert [to_go(msg)] == [normalise(m) for m in rec["messages"]]


def test_plaintext_stream_reencodes_byte_identical() -> None:
    checked = 0
    for rec in TCP:
        if rec["config"]["compression"] or rec["config"]["key_hex"]:
            continue
        raw = bytes.fromhex(rec["hex"])
        if raw[0] == 0xF4:
            raw = raw[2 + raw[1] :]
        msg = _read_tcp(rec)
        if isinstance(msg, User):
            assert codec.encode_reliable_user(msg.payload) == raw
        else:
            assert codec.encode(msg) == raw
        checked += 1
    assert checked >= 3


def test_go_rejects_nothing_we_would_send_for_the_same_messages() -> None:
    """Our encoding of every captured Go message decodes back to the same message."""
    for rec in UDP:
        framer = PacketFramer(label=rec["config"]["label"].encode(), keyring=keyring_for(rec))
        msgs, _ = unpack_messages(framer.open(bytes.fromhex(rec["hex"])))
        for m in msgs:
            assert codec.decode(codec.encode(m)) == m
