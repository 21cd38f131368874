"""Keyring semantics (memberlist keyring.go) and key parsing (serf's base64 keys)."""

from __future__ import annotations

import base64

import pytest

from swimlib.errors import InvalidKeyError
from swimlib.wire.keyring import Keyring

K1 = bytes(range(16))
K2 = bytes(range(1, 25))
K3 = bytes(range(2, 34))
K4 = bytes([7]) * 16


def test_empty_ring_means_encryption_off() -> None:
    ring = Keyring()
    assert not ring
    assert len(ring) == 0
    assert ring.keys() == []
    assert ring.primary_key() is None
    assert ring.version == 0


def test_first_installed_key_becomes_primary() -> None:
    ring = Keyring()
    ring.install(K1)
    ring.install(K2)
    assert ring.primary_key() == K1
    assert ring.keys() == [K1, K2]
    assert ring
    assert len(ring) == 2


def test_install_existing_key_is_noop() -> None:
    ring = Keyring([K1, K2])
    version = ring.version
    ring.install(K2)
    ring.install(bytearray(K1))  # type: ignore[arg-type]
    assert ring.keys() == [K1, K2]
    assert ring.version == version


def test_use_moves_key_to_front_keeping_order() -> None:
    ring = Keyring([K1, K2, K3, K4])
    ring.use(K3)
    assert ring.keys() == [K3, K1, K2, K4]
    assert ring.primary_key() == K3


def test_use_unknown_key_fails() -> None:
    ring = Keyring([K1])
    with pytest.raises(InvalidKeyError, match="not installed"):
        ring.use(K2)
    assert ring.keys() == [K1]


def test_remove() -> None:
    ring = Keyring([K1, K2, K3])
    ring.remove(K2)
    assert ring.keys() == [K1, K3]
    ring.remove(K4)  # absent: not an error
    assert ring.keys() == [K1, K3]


def test_remove_primary_refused() -> None:
    ring = Keyring([K1, K2])
    with pytest.raises(InvalidKeyError, match="primary"):
        ring.remove(K1)
    assert ring.keys() == [K1, K2]


def test_rotation_sequence() -> None:
    # install everywhere, use everywhere, remove the old key (serf keys).
    ring = Keyring([K1])
    ring.install(K2)
    ring.use(K2)
    ring.remove(K1)
    assert ring.keys() == [K2]


def test_version_changes_only_on_real_changes() -> None:
    ring = Keyring()
    seen = [ring.version]

    def changed() -> bool:
        seen.append(ring.version)
        return seen[-1] != seen[-2]

    ring.install(K1)
    assert changed()
    ring.install(K2)
    assert changed()
    ring.install(K2)
    assert not changed()
    ring.use(K1)  # already primary
    assert not changed()
    ring.use(K2)
    assert changed()
    ring.remove(K3)  # absent
    assert not changed()
    ring.remove(K1)
    assert changed()
    assert seen == sorted(seen)


def test_constructor_with_primary() -> None:
    ring = Keyring([K1, K2, K3], primary=K2)
    assert ring.keys() == [K2, K1, K3]
    assert Keyring(primary=K3).keys() == [K3]
    assert Keyring([K1, K1, K2]).keys() == [K1, K2]


def test_keys_returns_a_copy() -> None:
    ring = Keyring([K1])
    ring.keys().append(K2)
    assert ring.keys() == [K1]
    assert list(ring) == [K1]
    assert K1 in ring
    assert K2 not in ring


def test_repr_does_not_leak_key_material() -> None:
    ring = Keyring([K1])
    text = repr(ring)
    assert K1.hex() not in text
    assert "1 keys" in text


@pytest.mark.parametrize("size", [0, 1, 8, 15, 17, 23, 25, 31, 33, 64])
def test_bad_sizes_rejected_everywhere(size: int) -> None:
    ring = Keyring([K1])
    bad = bytes(size)
    for op in (ring.install, ring.use, ring.remove):
        with pytest.raises(InvalidKeyError, match="16, 24 or 32"):
            op(bad)
    with pytest.raises(ValueError):  # InvalidKeyError is a ValueError
        Keyring([bad])
    with pytest.raises(InvalidKeyError):
        Keyring.parse_key(bad)
    assert ring.keys() == [K1]


def test_str_key_points_to_parse_key() -> None:
    with pytest.raises(InvalidKeyError, match="parse_key"):
        Keyring().install(base64.b64encode(K1).decode())  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [K1, K2, K3], ids=["aes128", "aes192", "aes256"])
def test_parse_key_accepts_raw_and_base64(key: bytes) -> None:
    assert Keyring.parse_key(key) == key
    assert Keyring.parse_key(bytearray(key)) == key  # type: ignore[arg-type]
    text = base64.b64encode(key).decode()
    assert Keyring.parse_key(text) == key
    assert Keyring.parse_key(f"  {text}\n") == key


def test_parse_key_serf_keygen_output() -> None:
    # serf keygen prints standard base64 of 32 random bytes.
    text = "cg8StVXbQJ0gPvMd9o7yrg7Y4qJ5lC/Obw6A2JmOw8M="
    assert len(Keyring.parse_key(text)) == 32


def test_raw_bytes_are_never_base64_decoded() -> None:
    # 24 raw bytes that happen to be base64 text of a 16-byte key: an AES-192 key as given.
    raw = base64.b64encode(K1)
    assert len(raw) == 24
    assert Keyring.parse_key(raw) == raw


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("AAECAwQFBgcICQoLDA0ODw", "base64"),  # padding missing
        ("AAECAwQFBgcICQoLDA0ODw==x", "base64"),
        ("AAECAwQFBgcICQoLDA0OD_-=", "base64"),  # URL-safe alphabet
        ("not base64 at all!", "base64"),
        ("AAECAwQFBgcICQoLDA0ODwé=", "ASCII"),
        ("", "0 bytes"),
        (base64.b64encode(bytes(20)).decode(), "20 bytes"),
        (base64.b64encode(bytes(64)).decode(), "64 bytes"),
    ],
)
def test_parse_key_rejects_bad_text(text: str, match: str) -> None:
    with pytest.raises(InvalidKeyError, match=match):
        Keyring.parse_key(text)


def test_parse_key_rejects_other_types() -> None:
    with pytest.raises(InvalidKeyError, match="bytes"):
        Keyring.parse_key(12345)  # type: ignore[arg-type]
