"""AES-GCM payload sealing and stream framing (memberlist ``security.go``, ``net.go``).

A sealed payload is ``[version][nonce 12][ciphertext][tag 16]``. Version 1 (what memberlist
sends by default, and what we send) encrypts the message as is; version 0 (protocol 1 senders)
first pads it PKCS#7-style to a multiple of 16. Receivers accept both. UDP uses the label as
AAD; TCP frames the payload as ``[0x0A][u32 BE length][sealed]`` and authenticates those five
header bytes followed by the label.

Nonces come from the caller (this module stays free of randomness so it is deterministic and
testable); every call to :func:`seal` must use a fresh 12-byte random nonce.

pycryptodome binds the nonce when a GCM cipher object is created, so nothing per key can be
cached: each seal/open builds one cipher object, which is most of the cost.
"""

from __future__ import annotations

from collections.abc import Sequence

from Crypto.Cipher import AES

from swimlib.errors import InvalidKeyError
from swimlib.wire.errors import DecodeError

__all__ = [
    "ENCRYPT_STREAM_TYPE",
    "KEY_SIZES",
    "MAX_ENCRYPT_VERSION",
    "MAX_STREAM_SEALED_BYTES",
    "NONCE_SIZE",
    "TAG_SIZE",
    "encrypt_overhead",
    "encrypted_length",
    "open_sealed",
    "open_stream_payload",
    "parse_stream_header",
    "seal",
    "seal_stream",
]

#: Message type byte that starts an encrypted stream message (Go's ``encryptMsg``).
ENCRYPT_STREAM_TYPE = 10
NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZES = (16, 24, 32)
MAX_ENCRYPT_VERSION = 1
#: Go's ``maxPushStateBytes``: the largest sealed stream payload a receiver will read.
MAX_STREAM_SEALED_BYTES = 20 * 1024 * 1024

_BLOCK = 16
_HEADER = 1 + NONCE_SIZE  # version byte + nonce
_STREAM_HEADER = 5


def encrypt_overhead(version: int) -> int:
    """Worst-case bytes sealing adds: 29 for version 1, 45 for version 0 (a full pad block)."""
    _check_version(version)
    return _HEADER + TAG_SIZE + (_BLOCK if version == 0 else 0)


def encrypted_length(version: int, plaintext_len: int) -> int:
    """Exact sealed size for a plaintext of ``plaintext_len`` bytes (Go's ``encryptedLength``)."""
    _check_version(version)
    if version == 0:
        plaintext_len += _BLOCK - plaintext_len % _BLOCK
    return _HEADER + plaintext_len + TAG_SIZE


def seal(key: bytes, plaintext: bytes, nonce: bytes, aad: bytes, version: int = 1) -> bytes:
    """Encrypt and authenticate: ``[version][nonce][ct][tag]`` (Go's ``encryptPayload``)."""
    _check_key(key)
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"nonce must be {NONCE_SIZE} bytes, got {len(nonce)}")
    _check_version(version)
    if version == 0:
        pad = _BLOCK - len(plaintext) % _BLOCK
        plaintext = bytes(plaintext) + bytes((pad,)) * pad
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
    if aad:
        cipher.update(aad)
    ct, tag = cipher.encrypt_and_digest(plaintext)
    return bytes((version,)) + bytes(nonce) + ct + tag


def open_sealed(keys: Sequence[bytes], data: bytes, aad: bytes) -> bytes:
    """Authenticate and decrypt with the first key that works (Go's ``decryptPayload``).

    Keys are tried in ring order (primary first). Errors: ``too_short``,
    ``bad_encrypt_version`` (above 1), ``decrypt_failed`` (no key authenticates, or no keys),
    ``bad_padding`` (version 0 plaintext that is not whole blocks with valid PKCS#7 padding).
    """
    if not data:
        raise DecodeError("too_short", "empty encrypted payload")
    version = data[0]
    if version > MAX_ENCRYPT_VERSION:
        raise DecodeError("bad_encrypt_version", str(version))
    if len(data) < encrypted_length(version, 0):
        raise DecodeError("too_short", f"{len(data)} bytes")
    view = memoryview(data)
    nonce = view[1:_HEADER]
    ct = view[_HEADER:-TAG_SIZE]
    tag = view[-TAG_SIZE:]
    for key in keys:
        _check_key(key)
        cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
        if aad:
            cipher.update(aad)
        try:
            plain: bytes = cipher.decrypt_and_verify(ct, tag)
        except ValueError:  # MAC check failed: try the next key
            continue
        return _unpad(plain) if version == 0 else plain
    raise DecodeError("decrypt_failed", f"none of {len(keys)} keys could decrypt")


def seal_stream(
    key: bytes, plaintext: bytes, nonce: bytes, label: bytes, version: int = 1
) -> bytes:
    """Return a whole encrypted stream message ``[0x0A][u32 BE len][sealed]``.

    The AAD is the five header bytes followed by the label (Go's ``encryptLocalState``), so the
    length field and the cluster label are both authenticated.
    """
    header = _stream_header(encrypted_length(version, len(plaintext)))
    return header + seal(key, plaintext, nonce, header + label, version)


def parse_stream_header(header5: bytes, max_sealed: int = MAX_STREAM_SEALED_BYTES) -> int:
    """Validate ``[0x0A][u32 len]`` and return how many sealed bytes follow.

    Raises ``stream_too_large`` above ``max_sealed`` (checked before reading them, as Go does)
    and ``bad_stream_header`` if the bytes are not an encrypted-stream header.
    """
    if len(header5) != _STREAM_HEADER or header5[0] != ENCRYPT_STREAM_TYPE:
        raise DecodeError("bad_stream_header", bytes(header5[:_STREAM_HEADER]).hex())
    size = int.from_bytes(header5[1:], "big")
    if size > max_sealed:
        raise DecodeError("stream_too_large", str(size))
    return size


def open_stream_payload(
    keys: Sequence[bytes], header5: bytes, sealed: bytes, label: bytes
) -> bytes:
    """Open the payload of an encrypted stream message whose header was ``header5``.

    ``sealed`` must be exactly the length the header announced (``bad_stream_header``
    otherwise); the rest is :func:`open_sealed` with AAD = header + label.
    """
    size = parse_stream_header(header5, max_sealed=1 << 32)
    if size != len(sealed):
        raise DecodeError("bad_stream_header", f"length {size}, got {len(sealed)} bytes")
    return open_sealed(keys, sealed, bytes(header5) + label)


def _unpad(plain: bytes) -> bytes:
    """Strip version-0 padding, checking it fully (stricter than Go, which only drops bytes).

    The version byte is outside the AEAD, so flipping a version-1 packet to 0 still
    authenticates; Go then silently cuts the message short (or panics). Go's own version-0
    packets always carry whole blocks of valid padding, so checking it costs no compatibility
    and turns most such tampering into a drop.
    """
    pad = plain[-1] if plain else 0
    if not 1 <= pad <= _BLOCK or len(plain) % _BLOCK or plain[-pad:] != bytes((pad,)) * pad:
        raise DecodeError("bad_padding", f"{len(plain)}-byte plaintext, pad byte {pad}")
    return plain[:-pad]


def _stream_header(size: int) -> bytes:
    return bytes((ENCRYPT_STREAM_TYPE,)) + size.to_bytes(4, "big")


def _check_key(key: bytes) -> None:
    if len(key) not in KEY_SIZES:
        raise InvalidKeyError(f"encryption key must be 16, 24 or 32 bytes, got {len(key)}")


def _check_version(version: int) -> None:
    if version not in (0, 1):
        raise ValueError(f"encryption version must be 0 or 1, got {version}")
