"""Undo a UDP packet's or TCP stream message's layers one at a time, recording each.

The library's receive path (``PacketFramer.open`` then ``unpack_messages``, or ``read_label``
then ``read_stream``) yields only the messages; a debug tool must also show which layers were
there, with their details (label, encryption version and the key that opened it, CRC value,
compressed sizes, compound part counts), and carry on past a bad part. So this module walks
the layers itself, but every check and transformation is the library's: label stripping,
decryption, CRC verification, LZW, message and stream decoding.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any

from swimlib.tools.render import Report, explain, quote
from swimlib.wire import codec
from swimlib.wire.compression import lzw_decompress
from swimlib.wire.crc import CRC_TYPE, strip_crc
from swimlib.wire.crypto import (
    ENCRYPT_STREAM_TYPE,
    encrypt_overhead,
    open_sealed,
    open_stream_payload,
    parse_stream_header,
)
from swimlib.wire.errors import DecodeError
from swimlib.wire.label import strip_label_header
from swimlib.wire.limits import MAX_DECOMPRESSED, MAX_NESTING
from swimlib.wire.messages import Compound, Compress, MessageType
from swimlib.wire.stream import decode_stream_buffer


def decode_packet(data: bytes, keys: Sequence[bytes] = (), label: bytes = b"") -> Report:
    """Undo every layer of a UDP packet as memberlist's ``ingestPacket`` does, recording each."""
    rep = Report(len(data), "udp")
    unlabelled = _label_layer(rep, data, label)
    if unlabelled is None:
        return rep
    rest, aad = unlabelled
    if keys:
        try:
            plain = _decrypt_layer(
                rep,
                keys,
                lambda ks: open_sealed(ks, rest, aad),
                rest,
                f", nonce {rest[1:13].hex()}",
            )
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
        _walk(rep, plain, 1, 0, True)
        return rep
    _walk(rep, rest, 1, 0, True)
    if rep.errors and rest[:1] in (b"\x00", b"\x01") and len(rest) >= encrypt_overhead(1):
        rep.note(1, "this may be an encrypted packet: pass --key")
    elif rep.errors and rest[:1] == bytes((ENCRYPT_STREAM_TYPE,)):
        rep.note(1, "this looks like an encrypted stream message: pass --stream and --key")
    return rep


def decode_stream(data: bytes, keys: Sequence[bytes] = (), label: bytes = b"") -> Report:
    """Undo the layers of one TCP stream message (as written by one side of a connection)."""
    rep = Report(len(data), "tcp")
    unlabelled = _label_layer(rep, data, label)
    if unlabelled is None:
        return rep
    rest, aad = unlabelled
    if not rest:
        rep.error(1, DecodeError("empty", "no message after the label"))
        return rep
    if rest[0] == ENCRYPT_STREAM_TYPE:
        if len(rest) < 5:
            rep.error(1, DecodeError("stream_truncated", "encrypted-stream header"))
            return rep
        header = rest[:5]
        size = parse_stream_header(header, max_sealed=1 << 32)  # any u32: report, don't refuse
        sealed = rest[5 : 5 + size]
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
            rest = _decrypt_layer(
                rep,
                keys,
                lambda ks: open_stream_payload(ks, header, sealed, aad),
                sealed,
                f" stream, {size} bytes sealed",
                sealed=size,
            )
        except DecodeError as err:
            rep.error(1, err)
            return rep
    elif keys:
        rep.note(1, "the stream is not encrypted; a node requiring encryption refuses it")
    if rest[:1] == bytes((MessageType.COMPRESS,)):
        try:
            outer = codec.decode(rest)
            if not isinstance(outer, Compress):
                raise DecodeError("bad_msgpack", "compress header")
        except DecodeError as err:
            rep.error(1, err)
            return rep
        inner = _decompress_layer(rep, 1, outer)
        if inner is None:
            return rep
        rest = inner
    try:
        rep.message(1, decode_stream_buffer(rest))
    except DecodeError as err:
        rep.error(1, err)
    except Exception as exc:  # the msgpack unpacker raises several unrelated types
        rep.error(1, DecodeError("bad_msgpack", type(exc).__name__))
    return rep


# --------------------------------------------------------------------------- layer helpers


def _label_layer(rep: Report, data: bytes, configured: bytes) -> tuple[bytes, bytes] | None:
    """Strip and show the label header: (the rest, the label to use as encryption AAD).

    None when the header is malformed (the error is recorded).
    """
    try:
        received, rest = strip_label_header(data)
    except DecodeError as err:
        rep.error(1, err)
        return None
    if received:
        text = received.decode("utf-8", "replace")
        rep.layer(1, "label", f"label {quote(text)}", label=text)
        if received != configured:
            want = quote(configured.decode("utf-8", "replace")) if configured else "no label"
            rep.note(1, f"a node configured with {want} drops this (label mismatch)")
        rep.label = received
        return rest, received
    if configured and rep.transport == "udp":
        rep.note(1, "no label header; a node configured with this --label drops it")
    elif configured:
        rep.note(
            1,
            "no label header: fine from the accepting side of a connection; a dialer must send one",
        )
    rep.label = configured
    return rest, configured


def _decrypt_layer(
    rep: Report,
    keys: Sequence[bytes],
    opener: Callable[[Sequence[bytes]], bytes],
    payload: bytes,
    detail: str,
    **info: Any,
) -> bytes:
    """Open ``payload`` (a sealed payload, version byte first) with ``opener`` and record the
    layer with the key that fitted; return the plaintext, or raise ``DecodeError``.

    The library tries a whole keyring at once and does not say which key fitted, so each key
    is tried alone; when none fits, the whole ring is tried once more for the library's error.
    """
    for idx, key in enumerate(keys):
        try:
            plain = opener([key])
        except DecodeError as err:
            if err.reason != "decrypt_failed":
                raise
            continue
        version = payload[0]
        rep.layer(
            1,
            f"encrypt(v{version})",
            f"encrypt v{version}{detail}, decrypted with key {idx + 1} of {len(keys)} "
            f"(AES-{len(key) * 8})",
            version=version,
            key_index=idx,
            **info,
        )
        return plain
    opener(keys)  # no key fits alone, so this raises the library's error for the whole ring
    raise AssertionError("a keyring opened what none of its keys could")


def _decompress_layer(rep: Report, depth: int, msg: Compress) -> bytes | None:
    """Record a compress layer and return what it wraps; None (error recorded) if it is bad."""
    try:
        if msg.algo != 0:
            raise DecodeError("unknown_compression", str(msg.algo))
        inner = lzw_decompress(msg.buf, MAX_DECOMPRESSED)
    except DecodeError as err:
        rep.error(depth, err)
        return None
    rep.layer(
        depth,
        "compress",
        f"compress lzw, {len(msg.buf)} -> {len(inner)} bytes",
        algo=msg.algo,
        compressed=len(msg.buf),
        decompressed=len(inner),
    )
    return inner


def _walk(rep: Report, data: bytes, depth: int, nesting: int, top: bool) -> None:
    """``unpack_messages`` with a record of every layer: CRC (outermost only), compress and
    compound, nested up to the library's limit; parts after a bad one are still shown."""
    if top and len(data) >= 5 and data[0] == CRC_TYPE:
        want = int.from_bytes(data[1:5], "big")
        try:
            body = strip_crc(data)
        except DecodeError as err:
            rep.layer(
                depth,
                "crc",
                f"crc 0x{want:08x} MISMATCH (computed 0x{zlib.crc32(data[5:]):08x})",
                crc=f"{want:08x}",
                ok=False,
            )
            rep.error(depth, err)
            return
        rep.layer(depth, "crc", f"crc 0x{want:08x} ok", crc=f"{want:08x}", ok=True)
        data = body
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
        inner = _decompress_layer(rep, depth, msg)
        if inner is not None:
            _walk(rep, inner, depth, nesting + 1, False)
    else:
        rep.message(depth, msg)
