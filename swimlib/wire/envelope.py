"""swimlib's topic envelope, carried inside a memberlist user message (see docs/envelope.md).

    F5 'S' 'W' 'L'  magic
    01              version
    flags (u8)      bit 0: broadcast (receivers relay it once, deduplicated by origin + id)
    id (u64 BE)     message id, random per broadcast; 0 for direct messages
    u16 BE + UTF-8  topic (non-empty)
    u16 BE + UTF-8  origin node name
    payload         the rest

A user message without this prefix is a raw message (topic None): raw messages are the
payload bytes unchanged, so plain memberlist applications interoperate.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = b"\xf5SWL"
VERSION = 1
PREFIX = MAGIC + bytes((VERSION,))
FLAG_BROADCAST = 0x01
_HEAD = struct.Struct(">BQH")  # flags, id, topic length
_U16 = struct.Struct(">H")
FIXED_OVERHEAD = len(PREFIX) + _HEAD.size + _U16.size


@dataclass(frozen=True, slots=True)
class Envelope:
    topic: str
    origin: str
    payload: bytes
    msg_id: int = 0
    broadcast: bool = False


def wrap(
    topic: str, origin: str, payload: bytes, msg_id: int = 0, broadcast: bool = False
) -> bytes:
    t = topic.encode("utf-8")
    o = origin.encode("utf-8", "surrogateescape")
    if not t:
        raise ValueError("topic must be a non-empty string (use None for raw messages)")
    if len(t) > 0xFFFF or len(o) > 0xFFFF:
        raise ValueError("topic and origin are limited to 65535 bytes each")
    flags = FLAG_BROADCAST if broadcast else 0
    return PREFIX + _HEAD.pack(flags, msg_id, len(t)) + t + _U16.pack(len(o)) + o + payload


def unwrap(data: bytes) -> Envelope | None:
    """The envelope, or None for a raw (or malformed) message."""
    if not data.startswith(PREFIX) or len(data) < FIXED_OVERHEAD:
        return None
    flags, msg_id, tlen = _HEAD.unpack_from(data, len(PREFIX))
    off = len(PREFIX) + _HEAD.size + tlen
    if tlen == 0 or len(data) < off + 2:
        return None
    (olen,) = _U16.unpack_from(data, off)
    end = off + 2 + olen
    if len(data) < end:
        return None
    try:
        topic = data[off - tlen : off].decode("utf-8")
    except UnicodeDecodeError:
        return None
    origin = data[off + 2 : end].decode("utf-8", "surrogateescape")
    return Envelope(topic, origin, data[end:], msg_id, bool(flags & FLAG_BROADCAST))
