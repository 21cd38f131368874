"""TCP stream messages: framing, compression, encryption and incremental reading (``net.go``).

A plaintext stream message has no length prefix: :class:`StreamDecoder` parses msgpack as the
bytes are fed to it and learns the size of any raw tail from a header (push/pull, reliable
user message).
``[0x09]`` wraps a compressed message, ``[0x0A][u32 len]`` an encrypted one; the label header
``[0xF4][len][label]`` is written once by the dialer only.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Generator, Sequence
from typing import Any

import msgpack

from swimlib.wire import codec
from swimlib.wire.compression import lzw_compress, lzw_decompress
from swimlib.wire.crypto import open_stream_payload, seal_stream
from swimlib.wire.errors import DecodeError
from swimlib.wire.label import LABEL_TYPE
from swimlib.wire.limits import MAX_DECOMPRESSED, MAX_STREAM_BYTES
from swimlib.wire.messages import Compress, Message, MessageType, PushPull, User

__all__ = ["MAX_DECOMPRESSED", "MAX_STREAM_BYTES", "StreamDecoder", "encode_stream"]

Recv = Callable[[int], bytes]


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


class StreamDecoder:
    """Incremental reader of one stream message, in the manner of h11: ``feed`` bytes as
    they arrive, then ``next_message`` gives the message once it is complete (None while
    more bytes are needed). Bad input raises DecodeError; never more than ``max_bytes``
    (plus the frame headers) is buffered.

    With ``read_label`` (the listener side) an optional label header comes first; it is
    handed to ``check_label`` (which raises DecodeError to refuse it) before any byte of the
    message is interpreted, since the label is also the encryption's additional data.
    Plaintext bodies are parsed object by object from one fed msgpack ``Unpacker``, which
    resumes at the object it could not finish, so a 20 MiB push/pull in small chunks is
    parsed in linear time.
    """

    def __init__(
        self,
        *,
        keys: Sequence[bytes],
        label: bytes,
        require_encryption: bool,
        read_label: bool = False,
        check_label: Callable[[bytes | None], None] | None = None,
        max_bytes: int = MAX_STREAM_BYTES,
    ) -> None:
        self._keys = keys
        self._label = label
        self._require_encryption = require_encryption
        self._check_label = check_label
        self._max_bytes = max_bytes
        self._limit = max_bytes + 2 + 255 + 5
        self._fed = 0
        self._buf = bytearray()
        self._want_label = read_label
        self.label: bytes | None = None  # the label header received, once read
        self._unpacker: Any = None
        self._body: Generator[None, None, Message] | None = None
        self._done = False

    def feed(self, data: bytes) -> None:
        self._fed += len(data)
        if self._fed > self._limit:
            raise DecodeError("stream_too_large", f"more than {self._max_bytes} bytes")
        if self._unpacker is not None:
            self._unpacker.feed(data)
        else:
            self._buf += data

    def next_message(self) -> Message | None:
        """The message once complete; None while it needs more bytes."""
        if self._done:
            raise DecodeError("stream_extra", "one message per stream")
        if self._want_label and not self._take_label():
            return None
        if self._body is None and not self._start_body():
            return None
        return self._step_body() if self._body is not None else self._take_sealed()

    def _take_label(self) -> bool:
        buf = self._buf
        if not buf:
            return False
        if buf[0] == LABEL_TYPE:
            if len(buf) < 2 or len(buf) < 2 + buf[1]:
                return False
            if buf[1] == 0:
                raise DecodeError("bad_label", "empty label header")
            self.label = bytes(buf[2 : 2 + buf[1]])
            del buf[: 2 + buf[1]]
        if self._check_label is not None:
            self._check_label(self.label)
        self._want_label = False
        return True

    def _start_body(self) -> bool:
        """Choose the frame by its first byte; False while even that is missing."""
        buf = self._buf
        if not buf:
            return False
        t = buf[0]
        if t == MessageType.ENCRYPT:
            if not self._keys:
                raise DecodeError("encrypted_stream_no_key", "remote state is encrypted")
            return True  # sealed frames are length-prefixed: _take_sealed waits for all
        if self._require_encryption:
            raise DecodeError(
                "unencrypted_stream", "encryption is configured but remote state is not encrypted"
            )
        self._unpacker = msgpack.Unpacker(
            raw=True, strict_map_key=False, max_buffer_size=self._max_bytes
        )
        self._unpacker.feed(bytes(buf[1:]))
        self._buf = bytearray()
        self._body = _plain_body(t, self._unpacker)
        return True

    def _step_body(self) -> Message | None:
        assert self._body is not None
        msg = _step(self._body)
        self._done = msg is not None
        return msg

    def _take_sealed(self) -> Message | None:
        buf = self._buf
        if len(buf) < 5:
            return None
        (size,) = struct.unpack_from(">I", buf, 1)
        if size > self._max_bytes:
            raise DecodeError("stream_too_large", str(size))
        if len(buf) < 5 + size:
            return None
        plain = open_stream_payload(
            self._keys, bytes(buf[:5]), bytes(buf[5 : 5 + size]), self._label
        )
        self._done = True
        return decode_stream_buffer(plain)


def _step(body: Generator[None, None, Message]) -> Message | None:
    """Advance a body reader: its message once complete, None while it needs more bytes."""
    try:
        next(body)
    except StopIteration as done:
        msg: Message = done.value
        return msg
    except DecodeError:
        raise
    except Exception as exc:  # the C unpacker raises several unrelated types
        raise DecodeError("bad_msgpack", type(exc).__name__) from None
    return None


def _unpack_one(u: Any) -> Generator[None, None, Any]:
    while True:
        try:
            return u.unpack()
        except msgpack.OutOfData:
            yield


def _read_raw(u: Any, n: int) -> Generator[None, None, bytes]:
    got = bytearray()
    while len(got) < n:
        chunk = u.read_bytes(n - len(got))
        if chunk:
            got += chunk
        else:
            yield
    return bytes(got)


def _plain_body(t: int, u: Any) -> Generator[None, None, Message]:
    """Read one plaintext stream message body of type ``t``, yielding when out of data."""
    if t == MessageType.PUSH_PULL:
        join, n_nodes, user_len = codec.push_pull_header((yield from _unpack_one(u)))
        nodes = []
        for _ in range(n_nodes):
            nodes.append(codec.push_node_state_from_map((yield from _unpack_one(u))))
        user_state = (yield from _read_raw(u, user_len)) if user_len else b""
        return PushPull(join=join, nodes=tuple(nodes), user_state=user_state)
    if t == MessageType.USER:
        n = codec.reliable_user_header((yield from _unpack_one(u)))
        return User((yield from _read_raw(u, n)) if n else b"")
    if t == MessageType.COMPRESS:
        d = yield from _unpack_one(u)
        if not isinstance(d, dict):
            raise DecodeError("bad_msgpack", "body is not a map")
        return _decompressed(d)
    if t in (MessageType.PING, MessageType.ACK, MessageType.ERR):
        d = yield from _unpack_one(u)
        if not isinstance(d, dict):
            raise DecodeError("bad_msgpack", "body is not a map")
        return codec.message_from_map(t, d)
    raise DecodeError("unexpected_stream_type", str(t))


def _decompressed(d: dict[bytes, Any]) -> Message:
    algo = codec.get_uint(d, b"Algo", 0xFF)
    if algo != 0:
        raise DecodeError("unknown_compression", str(algo))
    inner = lzw_decompress(codec.get_bytes(d, b"Buf"), MAX_DECOMPRESSED)
    if not inner:
        raise DecodeError("empty", "decompressed stream is empty")
    if inner[0] == MessageType.COMPRESS:
        raise DecodeError("unexpected_stream_type", "compressed twice")
    return decode_stream_buffer(inner)


def read_label(recv: Recv) -> tuple[bytes, bytes]:
    """Blocking helper for tools: an optional label header, then the first message byte."""
    first = _recv_some(recv, 1)
    if first[0] != LABEL_TYPE:
        return b"", first
    n = _recv_some(recv, 1)[0]
    if n == 0:
        raise DecodeError("bad_label", "empty label header")
    label = _recv_some(recv, n)
    return label, _recv_some(recv, 1)


def _recv_some(recv: Recv, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = recv(n - len(out))
        if not chunk:
            raise DecodeError("stream_truncated")
        out += chunk
    return out


def read_stream(
    recv: Recv,
    first: bytes,
    *,
    keys: Sequence[bytes],
    label: bytes,
    require_encryption: bool,
    max_bytes: int = MAX_STREAM_BYTES,
) -> Message:
    """Blocking helper: a StreamDecoder fed from ``recv`` (first byte already read)."""
    dec = StreamDecoder(
        keys=keys, label=label, require_encryption=require_encryption, max_bytes=max_bytes
    )
    dec.feed(first)
    while True:
        msg = dec.next_message()
        if msg is not None:
            return msg
        chunk = recv(65536)
        if not chunk:
            raise DecodeError("stream_truncated")
        dec.feed(chunk)


def decode_stream_buffer(data: bytes) -> Message:
    """Parse a complete in-memory stream message (after decryption or decompression)."""
    if not data:
        raise DecodeError("empty")
    unpacker = msgpack.Unpacker(raw=True, strict_map_key=False, max_buffer_size=len(data) + 1)
    unpacker.feed(data[1:])
    msg = _step(_plain_body(data[0], unpacker))
    if msg is None:
        raise DecodeError("stream_truncated")
    return msg
