"""LZW codec: byte-exact with Go's compress/lzw (LSB, 8) and total on hostile input."""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swimlib.wire import codec
from swimlib.wire.compression import DEFAULT_MAX_DECOMPRESSED, lzw_compress, lzw_decompress
from swimlib.wire.errors import DecodeError
from swimlib.wire.limits import COMPRESS_MIN_BYTES
from swimlib.wire.messages import Compress, MessageType, User
from swimlib.wire.packet import PacketFramer, unpack_messages

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden"
LZW_VECTORS = GOLDEN / "lzw_vectors.json"
CAPTURED = GOLDEN / "captured.json"

# Spec Appendix A (Go 1.19 output).
APPENDIX_A = [
    (
        "hello",
        "68656c6c6f2068656c6c6f2068656c6c6f2068656c6c6f",
        "00d19461c3e60d0881040d222c787060c180",
    ),
    ("empty", "", "000302"),
    ("a", "61", "00c30404"),
]


def _pack(codes: list[tuple[int, int]]) -> bytes:
    """Pack (code, width) pairs LSB-first, as a hand-made encoder would."""
    acc = 0
    nbits = 0
    for code, width in codes:
        acc |= code << nbits
        nbits += width
    return acc.to_bytes((nbits + 7) // 8, "little")


def _low_entropy(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    words = [rng.randbytes(rng.randrange(1, 8)) for _ in range(40)]
    out = bytearray()
    while len(out) < n:
        out += rng.choice(words)
    return bytes(out[:n])


@pytest.mark.parametrize(("name", "plain_hex", "packed_hex"), APPENDIX_A)
def test_appendix_a_vectors(name: str, plain_hex: str, packed_hex: str) -> None:
    plain = bytes.fromhex(plain_hex)
    packed = bytes.fromhex(packed_hex)
    assert lzw_compress(plain) == packed
    assert lzw_decompress(packed) == plain


def _golden_records() -> list[dict[str, Any]]:
    if not LZW_VECTORS.exists():
        return []
    records: list[dict[str, Any]] = json.loads(LZW_VECTORS.read_text())
    return records


@pytest.mark.skipif(
    not LZW_VECTORS.exists(),
    reason=f"{LZW_VECTORS} is absent (regenerate with: cd interop && go run ./lzwvectors)",
)
@pytest.mark.parametrize("record", _golden_records(), ids=lambda r: str(r["name"]))
def test_go_golden_vectors_both_ways(record: dict[str, Any]) -> None:
    plain = bytes.fromhex(record["input_hex"])
    packed = bytes.fromhex(record["output_hex"])
    assert lzw_compress(plain) == packed
    assert lzw_decompress(packed) == plain


def _captured_compress_bufs() -> list[bytes]:
    """LZW streams written by real memberlist nodes: ``[0x09][msgpack {Algo, Buf}]`` layers."""
    if not CAPTURED.exists():
        return []
    bufs = []
    for rec in json.loads(CAPTURED.read_text()):
        data = bytes.fromhex(rec["hex"])
        cfg = rec["config"]
        if cfg["key_hex"] or "compress" not in rec["shape"]:
            continue
        if data[:1] == b"\xf4":  # label header
            data = data[2 + data[1] :]
        if data[:1] == b"\x0c":  # CRC
            data = data[5:]
        assert data[0] == 9, rec["shape"]
        body = msgpack.Unpacker(raw=True)
        body.feed(data[1:])
        wrapper = next(body)
        assert wrapper[b"Algo"] == 0
        bufs.append(wrapper[b"Buf"])
    return bufs


@pytest.mark.skipif(not CAPTURED.exists(), reason=f"{CAPTURED} is absent")
def test_memberlist_captured_streams_decompress_and_recompress_identically() -> None:
    bufs = _captured_compress_bufs()
    assert bufs
    for buf in bufs:
        plain = lzw_decompress(buf)
        assert plain  # always a whole message, never empty
        assert lzw_compress(plain) == buf


@pytest.mark.parametrize(
    "data",
    [
        bytes(70_000),  # one long run: KwKwK everywhere
        bytes(range(256)) * 300,  # many table resets
        _low_entropy(70_000, 1),  # resets at every width
        random.Random(2).randbytes(20_000),  # expands; width 12 reached quickly
        b"ab" * 10_000,
    ],
    ids=["zeros", "ramp", "low-entropy", "random", "ab"],
)
def test_round_trip_large_inputs(data: bytes) -> None:
    assert lzw_decompress(lzw_compress(data)) == data


@settings(max_examples=300)
@given(st.binary(max_size=3000))
def test_round_trip_random_bytes(data: bytes) -> None:
    assert lzw_decompress(lzw_compress(data)) == data


@settings(max_examples=100)
@given(st.lists(st.sampled_from([b"a", b"b", b"ab", bytes(7), b"node-", b"\xff"]), max_size=3000))
def test_round_trip_low_entropy(parts: list[bytes]) -> None:
    data = b"".join(parts)
    assert lzw_decompress(lzw_compress(data)) == data


def test_accepts_stream_without_leading_clear() -> None:
    # Older Go encoders did not emit CLEAR first: literal 'a', literal 'b', code 258 ('ab').
    assert lzw_decompress(_pack([(97, 9), (98, 9), (258, 9), (257, 9)])) == b"abab"


def test_kwkwk_code() -> None:
    # 258 is being defined while it is read: previous expansion + its own first byte.
    assert lzw_decompress(_pack([(256, 9), (97, 9), (258, 9), (257, 9)])) == b"aaa"


def test_clear_mid_stream_resets_table() -> None:
    codes = [(256, 9), (97, 9), (98, 9), (256, 9), (99, 9), (258, 9), (257, 9)]
    assert lzw_decompress(_pack(codes)) == b"abccc"


def test_trailing_bytes_after_eof_are_ignored() -> None:
    assert lzw_decompress(bytes.fromhex("00c30404") + b"garbage") == b"a"


def test_code_after_clear_must_be_literal() -> None:
    with pytest.raises(DecodeError) as info:
        lzw_decompress(_pack([(256, 9), (258, 9), (257, 9)]))
    assert info.value.reason == "decompress_failed"


def test_undefined_code_rejected() -> None:
    with pytest.raises(DecodeError) as info:
        lzw_decompress(_pack([(256, 9), (97, 9), (300, 9), (257, 9)]))
    assert info.value.reason == "decompress_failed"


@pytest.mark.parametrize("packed_hex", [v[2] for v in APPENDIX_A])
def test_every_truncation_rejected(packed_hex: str) -> None:
    packed = bytes.fromhex(packed_hex)
    for cut in range(len(packed)):
        with pytest.raises(DecodeError) as info:
            lzw_decompress(packed[:cut])
        assert info.value.reason == "decompress_failed"


def test_eof_must_lie_within_real_bytes() -> None:
    # An EOF whose top bit would come from padding: Go needs a whole byte there and fails.
    stream = _pack([(256, 9), (97, 9), (257, 9)])
    assert lzw_decompress(stream) == b"a"
    assert len(stream) == 4  # 27 bits; cutting the last byte loses EOF's top bits
    with pytest.raises(DecodeError):
        lzw_decompress(stream[:3])


def test_table_full_stops_defining_until_clear() -> None:
    # A non-Go encoder may run the 12-bit table full without a CLEAR; Go's reader then
    # decodes every further code from the frozen table.
    codes: list[tuple[int, int]] = [(256, 9)]
    hi, width = 257, 9
    for i in range(3840):
        codes.append((i % 256, width))
        hi += 1
        if hi == 1 << width and width < 12:
            width += 1
    # Code i (i >= 1) defined entry 257 + i as literals i-1, i, so the table filled up at
    # i = 3838 with entry 4095 = fd fe; code 3839 defined nothing. Go's reader agrees (fdfe41).
    codes += [(4095, 12), (65, 12), (257, 12)]
    out = lzw_decompress(_pack(codes))
    assert out[:3840] == bytes(i % 256 for i in range(3840))
    assert out[3840:] == b"\xfd\xfeA"


def test_output_limit() -> None:
    data = bytes(100_000)
    packed = lzw_compress(data)
    assert lzw_decompress(packed, max_size=len(data)) == data
    with pytest.raises(DecodeError) as info:
        lzw_decompress(packed, max_size=len(data) - 1)
    assert info.value.reason == "decompressed_too_large"


def test_default_limit_is_memberlists() -> None:
    assert DEFAULT_MAX_DECOMPRESSED == 40 * 1024 * 1024


def test_bomb_is_stopped() -> None:
    bomb = lzw_compress(bytes(4 * 1024 * 1024))  # ~6 kB that expand to 4 MiB
    with pytest.raises(DecodeError) as info:
        lzw_decompress(bomb, max_size=64 * 1024)
    assert info.value.reason == "decompressed_too_large"


def test_accepts_bytes_like_input() -> None:
    # Typed as bytes, but buffers from sockets (bytearray, memoryview) work too.
    packed = lzw_compress(bytearray(b"hello hello"))  # type: ignore[arg-type]
    assert lzw_decompress(memoryview(packed)) == b"hello hello"  # type: ignore[arg-type]
    assert lzw_decompress(bytearray(packed)) == b"hello hello"  # type: ignore[arg-type]


@settings(max_examples=500)
@given(st.binary(max_size=600))
def test_any_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    try:
        out = lzw_decompress(data)
    except DecodeError as exc:
        assert exc.reason in ("decompress_failed", "decompressed_too_large")
    else:
        assert isinstance(out, bytes)


@settings(max_examples=300)
@given(st.binary(min_size=1, max_size=400), st.data())
def test_mutated_streams_decode_or_raise_decode_error(plain: bytes, data: st.DataObject) -> None:
    packed = bytearray(lzw_compress(plain))
    index = data.draw(st.integers(0, len(packed) - 1))
    packed[index] ^= data.draw(st.integers(1, 255))
    with contextlib.suppress(DecodeError):
        lzw_decompress(bytes(packed), max_size=10 * len(plain) + 100)


# --------------------------------------------------------------- PacketFramer's use of LZW


def _is_compressed(packet: bytes) -> bool:
    return packet[0] == MessageType.COMPRESS


def test_framer_sends_small_packets_uncompressed_without_trying() -> None:
    """Below COMPRESS_MIN_BYTES the packet goes out as is, even when LZW would win: the
    attempt would cost more CPU than the few bytes it could save (see swimlib.wire.packet)."""
    framer = PacketFramer(compression=True)
    small = codec.encode(User(b"\x00" * (COMPRESS_MIN_BYTES - 10)))
    assert len(small) < COMPRESS_MIN_BYTES
    assert len(codec.encode(Compress(0, lzw_compress(small)))) < len(small)  # LZW would win
    assert framer.seal(small, False, None) == small


def test_framer_compresses_large_packets_when_it_pays() -> None:
    framer = PacketFramer(compression=True)
    big = codec.encode(User(b"\x00" * 400))
    sealed = framer.seal(big, False, None)
    assert _is_compressed(sealed) and len(sealed) < len(big)
    assert unpack_messages(sealed)[0] == [User(b"\x00" * 400)]
    # Incompressible data of any size stays as it is.
    noise = codec.encode(User(bytes(range(256))))
    assert framer.seal(noise, False, None) == noise
    assert PacketFramer(compression=False).seal(big, False, None) == big


def test_decompressed_bytes_are_capped_per_packet_across_parts() -> None:
    from swimlib.wire.messages import Compress
    from swimlib.wire.packet import MAX_PACKET_DECOMPRESSED

    bomb = codec.encode(Compress(0, lzw_compress(b"\x00" * (700 * 1024))))
    packet = codec.make_compound([bomb] * 8)
    assert len(packet) < 65_000
    _, errors = unpack_messages(packet)
    reasons = [e.reason for e in errors]
    # the first expansion fits the 1 MiB budget; every later one is refused
    assert reasons.count("decompressed_too_large") == 7
    assert all(e.__traceback__ is None for e in errors)  # no frames (and buffers) kept alive
    assert MAX_PACKET_DECOMPRESSED == 1 << 20
