"""The ordered set of encryption keys (memberlist ``keyring.go``).

Index 0 is the primary key: it alone encrypts, and it is tried first when decrypting; the rest
exist so a cluster can rotate keys (install everywhere, use everywhere, remove the old one)
without dropping traffic. Not thread-safe: the runtime holds its lock around every call.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator

from swimlib.errors import InvalidKeyError

__all__ = ["KEY_SIZES", "Keyring"]

#: AES-128, AES-192 and AES-256; memberlist rejects every other size.
KEY_SIZES = (16, 24, 32)


class Keyring:
    """Encryption keys, primary first; ``version`` changes whenever the ring does.

    ``Keyring(keys, primary)`` installs ``primary`` (if given) and then ``keys`` in order, so
    ``primary`` or else the first key is the primary. Go's ``NewKeyring`` instead refuses keys
    without a primary; taking the first one is the friendlier reading of the same intent.
    """

    __slots__ = ("_keys", "_version")

    def __init__(self, keys: Iterable[bytes] = (), primary: bytes | None = None) -> None:
        self._keys: list[bytes] = []
        self._version = 0
        if primary is not None:
            self.install(primary)
        for key in keys:
            self.install(key)

    @property
    def version(self) -> int:
        """Bumped on every change, so callers can cache what they derive from the keys."""
        return self._version

    def install(self, key: bytes) -> None:
        """Add ``key`` (memberlist ``AddKey``); it becomes primary only if the ring was empty."""
        key = _checked(key)
        if key in self._keys:
            return
        self._keys.append(key)
        self._version += 1

    def use(self, key: bytes) -> None:
        """Make an installed key the primary; the others keep their order (``UseKey``)."""
        key = _checked(key)
        try:
            index = self._keys.index(key)
        except ValueError:
            raise InvalidKeyError("cannot use a key that is not installed") from None
        if index:
            self._keys.insert(0, self._keys.pop(index))
            self._version += 1

    def remove(self, key: bytes) -> None:
        """Drop ``key`` if present (``RemoveKey``); removing the primary is refused.

        Without a primary nothing could be sent, so rotate with :meth:`use` first.
        """
        key = _checked(key)
        if self._keys and self._keys[0] == key:
            raise InvalidKeyError("cannot remove the primary key; use another key first")
        if key in self._keys:
            self._keys.remove(key)
            self._version += 1

    def keys(self) -> list[bytes]:
        """A copy of the keys, primary first (the order decryption tries them in)."""
        return list(self._keys)

    def primary_key(self) -> bytes | None:
        """The key that encrypts, or None when encryption is off (empty ring)."""
        return self._keys[0] if self._keys else None

    def __len__(self) -> int:
        return len(self._keys)

    def __bool__(self) -> bool:
        """True when encryption is enabled: memberlist's "keyring exists and is non-empty"."""
        return bool(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __iter__(self) -> Iterator[bytes]:
        return iter(list(self._keys))

    def __repr__(self) -> str:
        # Never print key material.
        return f"Keyring(<{len(self._keys)} keys>, version={self._version})"

    @staticmethod
    def parse_key(value: str | bytes) -> bytes:
        """Turn user input into a key: ``bytes`` are raw key material, ``str`` is base64.

        ``str`` is standard base64 with padding, as serf's ``-encrypt`` and ``keygen`` use;
        surrounding whitespace is ignored. The two cannot be guessed apart from content (a
        24-byte raw key can look like the base64 of a 16-byte one), hence the split by type.
        """
        if isinstance(value, str):
            try:
                raw = base64.b64decode(value.strip().encode("ascii"), validate=True)
            except UnicodeEncodeError:
                raise InvalidKeyError("key text is not ASCII base64") from None
            except binascii.Error as exc:
                raise InvalidKeyError(f"key text is not valid standard base64 ({exc})") from None
            if len(raw) not in KEY_SIZES:
                raise InvalidKeyError(
                    f"base64 key decodes to {len(raw)} bytes; it must be 16, 24 or 32"
                )
            return raw
        return _checked(value)


def _checked(key: object) -> bytes:
    if not isinstance(key, (bytes, bytearray, memoryview)):
        hint = "; pass base64 text through Keyring.parse_key" if isinstance(key, str) else ""
        raise InvalidKeyError(f"key must be bytes, not {type(key).__name__}{hint}")
    raw = bytes(key)
    if len(raw) not in KEY_SIZES:
        raise InvalidKeyError(f"key is {len(raw)} bytes; it must be 16, 24 or 32 (AES-128/192/256)")
    return raw
