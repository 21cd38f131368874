"""TCP stream messages: framing, compression, encryption and incremental reading (``net.go``).

A plaintext stream message has no length prefix: the reader parses msgpack straight from the
socket and learns the size of any raw tail from a header (push/pull, reliable user message).
``[0x09]`` wraps a compressed message, ``[0x0A][u32 len]`` an encrypted one; the label header
``[0xF4][len][label]`` is written once by the dialer only.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

import msgpack

from swimlib.wire import codec
from swimlib.wire.compression import lzw_compress, lzw_decompress
from swimlib.wire.crypto import open_stream_payload, seal_stream
from swimlib.wire.errors import DecodeError
from swimlib.wire.label import LABEL_TYPE
from swimlib.wire.messages import Compress, Message, MessageType

MAX_STREAM_BYTES = 20 * 1024 * 1024  # memberlist maxPushStateBytes
MAX_DECOMPRESSED = 40 * 1024 * 1024

Recv = Callable[[int], bytes]


class _Reader:
    """A file-like view of ``recv`` for msgpack's Unpacker: returns what is there, b'' at EOF."""

    def __init__(self, recv: Recv, limit: int) -> None:
        self._recv = recv
        self._left = limit

    def read(self, n: int) -> bytes:
        if self._left <= 0:
            raise DecodeError("stream_too_large")
        data = self._recv(min(n, self._left))
        self._left -= len(data)
        return data

    def read_exact(self, n: int) -> bytes:
        chunks = []
        while n > 0:
            chunk = self.read(n)
            if not chunk:
                raise DecodeError("stream_truncated")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)


def encode_stream(
    message: bytes,
    *,
    compress: bool,
    key: bytes | None,
    nonce: bytes | None,
    label: bytes,
    encrypt_version: int = 1,
) -> bytes:
    """Frame one stream message: compress (memberlist always does when enabled), then seal."""
    body = message
    if compress:
        body = codec.encode(Compress(0, lzw_compress(body)))
    if key is not None:
        if nonce is None:
            raise ValueError("encrypting a stream needs a nonce")
        body = seal_stream(key, body, nonce, label, encrypt_version)
    return body


def label_header(label: bytes) -> bytes:
    return bytes((LABEL_TYPE, len(label))) + label if label else b""


def read_label(recv: Recv) -> tuple[bytes, bytes]:
    """Read an optional label header; returns (label, first byte of the message)."""
    reader = _Reader(recv, 2 + 255 + 1)
    first = reader.read_exact(1)
    if first[0] != LABEL_TYPE:
        return b"", first
    n = reader.read_exact(1)[0]
    if n == 0:
        raise DecodeError("bad_label", "empty label header")
    label = reader.read_exact(n)
    return label, reader.read_exact(1)


def read_stream(
    recv: Recv,
    first: bytes,
    *,
    keys: Sequence[bytes],
    label: bytes,
    require_encryption: bool,
    max_bytes: int = MAX_STREAM_BYTES,
) -> Message:
    """Read one stream message whose first byte was already read into ``first``."""
    reader = _Reader(recv, max_bytes + 5)
    t = first[0]
    if t == MessageType.ENCRYPT:
        if not keys:
            raise DecodeError("encrypted_stream_no_key", "remote state is encrypted")
        header = first + reader.read_exact(4)
        (size,) = struct.unpack(">I", header[1:5])
        if size > max_bytes:
            raise DecodeError("stream_too_large", str(size))
        sealed = reader.read_exact(size)
        plain = open_stream_payload(keys, header, sealed, label)
        return decode_stream_buffer(plain)
    if require_encryption:
        raise DecodeError(
            "unencrypted_stream", "encryption is configured but remote state is not encrypted"
        )
    unpacker = msgpack.Unpacker(
        reader, raw=True, strict_map_key=False, max_buffer_size=max_bytes, read_size=4096
    )
    return _read_typed(t, unpacker, allow_compress=True)


def decode_stream_buffer(data: bytes) -> Message:
    """Parse a complete in-memory stream message (after decryption or decompression)."""
    if not data:
        raise DecodeError("empty")
    unpacker = msgpack.Unpacker(raw=True, strict_map_key=False, max_buffer_size=len(data) + 1)
    unpacker.feed(data[1:])
    return _read_typed(data[0], unpacker, allow_compress=True)


def _read_typed(t: int, unpacker: Any, allow_compress: bool) -> Message:
    try:
        if t == MessageType.COMPRESS and allow_compress:
            d = _map(unpacker)
            algo = codec.get_uint(d, b"Algo", 0xFF)
            if algo != 0:
                raise DecodeError("unknown_compression", str(algo))
            inner = lzw_decompress(codec.get_bytes(d, b"Buf"), MAX_DECOMPRESSED)
            if not inner:
                raise DecodeError("empty", "decompressed stream is empty")
            u2 = msgpack.Unpacker(raw=True, strict_map_key=False, max_buffer_size=len(inner) + 1)
            u2.feed(inner[1:])
            return _read_typed(inner[0], u2, allow_compress=False)
        if t == MessageType.PUSH_PULL:
            return codec.read_push_pull_body(unpacker)
        if t == MessageType.USER:
            return codec.read_reliable_user_body(unpacker)
        if t in (MessageType.PING, MessageType.ACK, MessageType.ERR):
            return codec.message_from_map(t, _map(unpacker))
    except DecodeError:
        raise
    except (msgpack.OutOfData, StopIteration):
        raise DecodeError("stream_truncated") from None
    except OSError:
        raise  # socket timeouts and resets belong to the caller
    except Exception as exc:  # the C unpacker raises several unrelated types
        raise DecodeError("bad_msgpack", type(exc).__name__) from None
    raise DecodeError("unexpected_stream_type", str(t))


def _map(unpacker: Any) -> dict[bytes, Any]:
    obj = unpacker.unpack()
    if not isinstance(obj, dict):
        raise DecodeError("bad_msgpack", "body is not a map")
    return obj
