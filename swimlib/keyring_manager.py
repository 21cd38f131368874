"""``cluster.keyring``: runtime key rotation on a node configured with encryption."""

from __future__ import annotations

import threading

from swimlib.config import parse_key
from swimlib.errors import ConfigError
from swimlib.wire.keyring import Keyring


class KeyringManager:
    """Runtime key rotation (``cluster.keyring``): install, use, remove, keys."""

    def __init__(self, ring: Keyring, encrypted: bool) -> None:
        self._ring = ring
        self._encrypted = encrypted
        self._lock = threading.Lock()

    def _check(self, key: bytes | str) -> bytes:
        """memberlist refuses keyring operations when encryption is not configured: keys
        installed at runtime on a plaintext node would switch encryption on one-sidedly."""
        if not self._encrypted:
            raise ConfigError("keyring: encryption is not configured on this node")
        return parse_key(key, "key")

    def install(self, key: bytes | str) -> None:
        k = self._check(key)
        with self._lock:
            self._ring.install(k)

    def use(self, key: bytes | str) -> None:
        k = self._check(key)
        with self._lock:
            self._ring.use(k)

    def remove(self, key: bytes | str) -> None:
        k = self._check(key)
        with self._lock:
            self._ring.remove(k)

    def keys(self) -> list[bytes]:
        with self._lock:
            return list(self._ring.keys())
