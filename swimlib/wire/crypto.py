"""AES-GCM payload sealing and stream framing (memberlist ``security.go``, ``net.go``).

A sealed payload is ``[version][nonce 12][ciphertext][tag 16]``. Version 1 (what memberlist
sends by default, and what we send) encrypts the message as is; version 0 (protocol 1 senders)
first pads it PKCS#7-style to a multiple of 16. Receivers accept both. UDP uses the label as
AAD; TCP frames the payload as ``[0x0A][u32 BE length][sealed]`` and authenticates those five
header bytes followed by the label.

Nonces come from the caller (this module stays free of randomness so it is deterministic and
testable); every call to :func:`seal` must use a fresh 12-byte random nonce.

Speed: pycryptodome binds the nonce when a GCM object is created, and building one (three key
schedules plus GHASH tables) costs ~80 us, far more than encrypting a packet. So for payloads up
to 64 KiB we compose GCM from a cached per-key ECB cipher and pycryptodome's GHASH primitive,
about 5x faster. That primitive is private API, so it is self-tested at import against the
public GCM and the public path is used whenever it is missing or disagrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from hmac import compare_digest
from typing import Any

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
    return bytes((version,)) + bytes(nonce) + _gcm_seal(bytes(key), bytes(nonce), plaintext, aad)


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
    data = bytes(data)
    nonce = data[1:_HEADER]
    ct = data[_HEADER:-TAG_SIZE]
    tag = data[-TAG_SIZE:]
    for key in keys:
        _check_key(key)
        plain = _gcm_open(bytes(key), nonce, ct, tag, aad)
        if plain is not None:
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


# --- AES-GCM (96-bit nonce, 128-bit tag): the public pycryptodome path and the cached one ---


def _gcm_seal_reference(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """``ct + tag`` via pycryptodome's GCM object: always correct, slow to set up."""
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
    if aad:
        cipher.update(aad)
    ct, tag = cipher.encrypt_and_digest(plaintext)
    return bytes(ct) + bytes(tag)


def _gcm_open_reference(
    key: bytes, nonce: bytes, ct: bytes, tag: bytes, aad: bytes
) -> bytes | None:
    """Plaintext, or None if ``key`` does not authenticate the message."""
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
    if aad:
        cipher.update(aad)
    try:
        return bytes(cipher.decrypt_and_verify(ct, tag))
    except ValueError:  # MAC check failed
        return None


try:  # pycryptodome's GHASH primitive: private, hence the self-test below
    from Crypto.Cipher import _mode_gcm

    _GHASH: Any = _mode_gcm._GHASH
    _GHASH_IMPL: Any = _mode_gcm._ghash_clmul or _mode_gcm._ghash_portable
except (ImportError, AttributeError):  # pragma: no cover - depends on the pycryptodome build
    _GHASH = _GHASH_IMPL = None

_FAST_MAX = 64 * 1024
# Counter suffixes for J0 (1) and the keystream blocks (2, 3, ...) of a _FAST_MAX payload.
_COUNTERS = tuple(i.to_bytes(4, "big") for i in range(1, _FAST_MAX // _BLOCK + 3))


class _KeySchedule:
    """GCM for one key with the per-key work (AES schedule, hash subkey H) done once.

    Follows NIST SP 800-38D for 96-bit nonces: J0 = nonce || 1, the keystream is AES of
    nonce || 2, 3, ..., and tag = AES(J0) xor GHASH_H(aad, ct) with both parts zero-padded to
    blocks and followed by their bit lengths.
    """

    __slots__ = ("_ecb", "_h")

    def __init__(self, key: bytes) -> None:
        self._ecb: Any = AES.new(key, AES.MODE_ECB)
        self._h: bytes = self._ecb.encrypt(bytes(_BLOCK))

    def _ghash(self, aad: bytes, ct: bytes) -> int:
        blob = b"".join(
            (
                aad,
                bytes(-len(aad) % _BLOCK),
                ct,
                bytes(-len(ct) % _BLOCK),
                (len(aad) * 8).to_bytes(8, "big"),
                (len(ct) * 8).to_bytes(8, "big"),
            )
        )
        ghash = _GHASH(self._h, _GHASH_IMPL)
        ghash.update(blob)
        return int.from_bytes(ghash.digest(), "big")

    def _blocks(self, nonce: bytes, length: int) -> bytes:
        """AES(J0) followed by at least ``length`` keystream bytes."""
        count = (length + _BLOCK - 1) // _BLOCK + 1
        return bytes(self._ecb.encrypt(b"".join([nonce + c for c in _COUNTERS[:count]])))

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        n = len(plaintext)
        blocks = self._blocks(nonce, n)
        stream = int.from_bytes(blocks[_BLOCK : _BLOCK + n], "big")
        ct = (int.from_bytes(plaintext, "big") ^ stream).to_bytes(n, "big")
        tag = self._ghash(aad, ct) ^ int.from_bytes(blocks[:_BLOCK], "big")
        return ct + tag.to_bytes(_BLOCK, "big")

    def open(self, nonce: bytes, ct: bytes, tag: bytes, aad: bytes) -> bytes | None:
        n = len(ct)
        blocks = self._blocks(nonce, n)
        expected = self._ghash(aad, ct) ^ int.from_bytes(blocks[:_BLOCK], "big")
        if not compare_digest(expected.to_bytes(_BLOCK, "big"), tag):
            return None
        stream = int.from_bytes(blocks[_BLOCK : _BLOCK + n], "big")
        return (int.from_bytes(ct, "big") ^ stream).to_bytes(n, "big")


_SCHEDULES: dict[bytes, _KeySchedule] = {}
_MAX_SCHEDULES = 16  # a keyring holds a handful of keys; forget everything if it churns


def _schedule(key: bytes) -> _KeySchedule:
    sched = _SCHEDULES.get(key)
    if sched is None:
        if len(_SCHEDULES) >= _MAX_SCHEDULES:
            _SCHEDULES.clear()
        sched = _SCHEDULES[key] = _KeySchedule(key)
    return sched


def _fast_path_works() -> bool:
    """Whether the private GHASH exists here and our composition matches the public GCM."""
    if _GHASH is None or _GHASH_IMPL is None:
        return False
    try:
        for key_size, n, aad in ((16, 0, b""), (24, 17, b"x" * 20), (32, 100, b"label")):
            key = bytes(range(key_size))
            nonce = bytes(range(40, 40 + NONCE_SIZE))
            plain = bytes(range(n))
            sealed = _KeySchedule(key).seal(nonce, plain, aad)
            if sealed != _gcm_seal_reference(key, nonce, plain, aad):
                return False
            if _KeySchedule(key).open(nonce, sealed[:n], sealed[n:], aad) != plain:
                return False
    except Exception:  # any surprise from private internals: use the public path
        return False
    return True


_FAST_PATH = _fast_path_works()


def _gcm_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    if _FAST_PATH and len(plaintext) <= _FAST_MAX:
        return _schedule(key).seal(nonce, bytes(plaintext), bytes(aad))
    return _gcm_seal_reference(key, nonce, plaintext, aad)


def _gcm_open(key: bytes, nonce: bytes, ct: bytes, tag: bytes, aad: bytes) -> bytes | None:
    if _FAST_PATH and len(ct) <= _FAST_MAX:
        return _schedule(key).open(nonce, ct, tag, bytes(aad))
    return _gcm_open_reference(key, nonce, ct, tag, aad)


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
