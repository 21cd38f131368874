"""The optional CRC32 packet layer (memberlist ``net.go``: ``hasCrcMsg``, ``ingestPacket``).

Layout: ``[0x0C][CRC-32/IEEE of the rest, big-endian u32][message]``. It sits inside encryption
and outside compression, and only on UDP. Go adds it only for peers advertising protocol max
>= 5 and only on some paths, so receivers must accept packets with and without it.
"""

from __future__ import annotations

import zlib

from swimlib.wire.errors import DecodeError

__all__ = ["CRC_TYPE", "add_crc", "strip_crc"]

#: Message type byte of the CRC wrapper (Go's ``hasCrcMsg``).
CRC_TYPE = 12

_CRC_HEADER = 5


def add_crc(msg: bytes) -> bytes:
    """Wrap ``msg`` as ``[0x0C][crc32 BE][msg]``; only send it to peers with PMax >= 5."""
    return b"\x0c" + zlib.crc32(msg).to_bytes(4, "big") + msg


def strip_crc(packet: bytes) -> bytes:
    """Verify and remove a CRC wrapper if there is one; otherwise return ``packet`` unchanged.

    Mirrors Go: only a packet of at least 5 bytes starting with 0x0C is treated as wrapped, so a
    shorter one falls through and is later rejected as an unknown or truncated message.
    """
    if len(packet) >= _CRC_HEADER and packet[0] == CRC_TYPE:
        body = packet[_CRC_HEADER:]
        if zlib.crc32(body) != int.from_bytes(packet[1:_CRC_HEADER], "big"):
            raise DecodeError("bad_crc", f"{len(body)}-byte body")
        return body
    return packet
