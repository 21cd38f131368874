"""CRC32 packet layer: spec vector, pass-through rules and corruption detection."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swimlib.wire.crc import CRC_TYPE, add_crc, strip_crc
from swimlib.wire.errors import DecodeError

CAPTURED = Path(__file__).resolve().parent.parent / "data" / "golden" / "captured.json"

ACK = bytes.fromhex("0282a75061796c6f6164c0a55365714e6f01")
ACK_WITH_CRC = bytes.fromhex("0c41a888da0282a75061796c6f6164c0a55365714e6f01")


def test_appendix_a_vector() -> None:
    assert CRC_TYPE == 12
    assert zlib.crc32(ACK) == 0x41A888DA
    assert add_crc(ACK) == ACK_WITH_CRC
    assert strip_crc(ACK_WITH_CRC) == ACK


def test_packet_without_crc_is_returned_unchanged() -> None:
    assert strip_crc(ACK) is ACK
    assert strip_crc(b"") == b""


@pytest.mark.parametrize("short", [b"\x0c", b"\x0c\x00", b"\x0c\x00\x00\x00"])
def test_short_packet_starting_with_0c_passes_through(short: bytes) -> None:
    # Go only treats >= 5 bytes as CRC-wrapped; shorter ones fail later as messages.
    assert strip_crc(short) == short


def test_empty_body_round_trip() -> None:
    assert add_crc(b"") == b"\x0c\x00\x00\x00\x00"
    assert strip_crc(add_crc(b"")) == b""


def test_mismatch_is_decode_error() -> None:
    bad = ACK_WITH_CRC[:-1] + bytes([ACK_WITH_CRC[-1] ^ 1])
    with pytest.raises(DecodeError) as info:
        strip_crc(bad)
    assert info.value.reason == "bad_crc"


def test_every_single_bit_flip_after_type_byte_is_detected() -> None:
    wrapped = add_crc(bytes(range(100)))
    for i in range(1, len(wrapped)):
        for bit in range(8):
            corrupt = bytearray(wrapped)
            corrupt[i] ^= 1 << bit
            with pytest.raises(DecodeError):
                strip_crc(bytes(corrupt))


@given(st.binary(max_size=2000))
def test_round_trip(msg: bytes) -> None:
    assert strip_crc(add_crc(msg)) == msg


@given(st.binary(max_size=200))
def test_any_bytes_strip_or_decode_error(data: bytes) -> None:
    try:
        out = strip_crc(data)
    except DecodeError as exc:
        assert exc.reason == "bad_crc"
    else:
        assert out == data or out == data[5:]


@pytest.mark.skipif(not CAPTURED.exists(), reason=f"{CAPTURED} is absent")
def test_memberlist_captured_crc_packets_verify() -> None:
    seen = 0
    for rec in json.loads(CAPTURED.read_text()):
        if rec["transport"] != "udp" or rec["config"]["key_hex"]:
            continue
        data = bytes.fromhex(rec["hex"])
        if rec["shape"].startswith("label>"):
            data = data[2 + data[1] :]
        if "crc>" in rec["shape"]:
            body = strip_crc(data)
            assert body == data[5:]
            assert add_crc(body) == data
            seen += 1
        else:
            assert data[0] != CRC_TYPE
    assert seen
