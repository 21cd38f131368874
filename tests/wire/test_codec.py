"""Codec: spec vectors, round trips for every message, and total decoding of any bytes."""

from __future__ import annotations

import contextlib
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from swimlib.wire import codec
from swimlib.wire.errors import DecodeError
from swimlib.wire.messages import (
    Ack,
    Alive,
    Compound,
    Compress,
    Dead,
    ErrResp,
    IndirectPing,
    Message,
    Nack,
    Ping,
    PushNodeState,
    PushPull,
    Suspect,
    User,
)
from swimlib.wire.packet import unpack_messages
from swimlib.wire.stream import decode_stream_buffer, read_stream

# Hex vectors from the protocol spec (checked there against Go memberlist's encoder).
SPEC_VECTORS: dict[Message, str] = {
    Ping(
        1, "node-b", bytes([10, 0, 0, 1]), 7946, "node-a"
    ): "0085a44e6f6465a66e6f64652d62a55365714e6f01aa536f7572636541646472a40a000001"
    "aa536f757263654e6f6465a66e6f64652d61aa536f75726365506f7274cd1f0a",
    Ping(1, "node-b"): "0082a44e6f6465a66e6f64652d62a55365714e6f01",
    Alive(
        1, "node-a", bytes([10, 0, 0, 1]), 7946, b"", bytes([1, 5, 2, 0, 0, 0])
    ): "0486a441646472a40a000001ab496e6361726e6174696f6e01a44d657461c0a44e6f6465a66e6f6465"
    "2d61a4506f7274cd1f0aa356736ea6010502000000",
    Ack(1): "0282a75061796c6f6164c0a55365714e6f01",
    Suspect(
        5, "node-b", "node-a"
    ): "0383a446726f6da66e6f64652d61ab496e6361726e6174696f6e05a44e6f6465a66e6f64652d62",
    Dead(
        5, "node-a", "node-a"
    ): "0583a446726f6da66e6f64652d61ab496e6361726e6174696f6e05a44e6f6465a66e6f64652d61",
    Nack(70000): "0b81a55365714e6fce00011170",
    ErrResp("boom"): "0d81a54572726f72a4626f6f6d",
    IndirectPing(
        300, bytes([10, 0, 0, 2]), 7946, "node-b", True, bytes([10, 0, 0, 1]), 7946, "node-a"
    ): "0188a44e61636bc3a44e6f6465a66e6f64652d62a4506f7274cd1f0aa55365714e6fcd012c"
    "aa536f7572636541646472a40a000001aa536f757263654e6f6465a66e6f64652d61"
    "aa536f75726365506f7274cd1f0aa6546172676574a40a000002",
}


def test_spec_vectors_both_ways() -> None:
    for msg, hx in SPEC_VECTORS.items():
        assert codec.encode(msg).hex() == hx
        assert codec.decode(bytes.fromhex(hx)) == msg


def test_compound_vector() -> None:
    assert codec.make_compound([b"\x01\x02\x03", b"\x04\x05"]).hex() == "0702000300020102030405"


def test_push_pull_header_uses_v2_signed_ints_above_127() -> None:
    # go-msgpack v2 (memberlist >= v0.5.1) writes Go ints above 127 as signed.
    node = PushNodeState("n", b"\x7f\x00\x00\x01", 1, b"", 1, 0, b"\x01\x05\x02\x00\x00\x00")
    data = codec.encode(PushPull(True, (node,) * 200, b"x" * 40000))
    assert bytes.fromhex("a54e6f646573d100c8") in data
    assert bytes.fromhex("ac5573657253746174654c656ed200009c40") in data
    # ... and both signed and unsigned forms are accepted on input (v0.2.2 wrote unsigned).
    legacy = (
        bytes.fromhex("0683a44a6f696ec3a54e6f64657300ac5573657253746174654c656ecd0003") + b"abc"
    )
    assert codec.decode(legacy) == PushPull(True, (), b"abc")


def test_long_strings_use_raw16_never_str8() -> None:
    data = codec.encode(Ping(1, "n" * 40))
    assert b"\xda\x00\x28" in data and b"\xd9" not in data


names = st.text(max_size=40)
blobs = st.binary(max_size=80)
u32 = st.integers(0, 2**32 - 1)
u16 = st.integers(0, 2**16 - 1)
addrs = st.sampled_from([b"\x7f\x00\x00\x01", bytes(range(16))])
vsns = st.binary(min_size=6, max_size=6)

messages = st.one_of(
    st.builds(Ping, u32, names, st.one_of(st.just(b""), addrs), u16, names),
    st.builds(
        IndirectPing,
        u32,
        addrs,
        u16,
        names,
        st.booleans(),
        st.one_of(st.just(b""), addrs),
        u16,
        names,
    ),
    st.builds(Ack, u32, blobs),
    st.builds(Nack, u32),
    st.builds(Suspect, u32, names, names),
    st.builds(Dead, u32, names, names),
    st.builds(Alive, u32, names, addrs, u16, blobs, vsns),
    st.builds(User, blobs),
    st.builds(ErrResp, names),
    st.builds(Compress, st.integers(0, 255), blobs),
    st.builds(
        PushPull,
        st.booleans(),
        st.lists(
            st.builds(PushNodeState, names, addrs, u16, blobs, u32, st.integers(0, 3), vsns),
            max_size=4,
        ).map(tuple),
        blobs,
    ),
)


@given(messages)
@settings(max_examples=400)
def test_every_message_round_trips(msg: object) -> None:
    assert codec.decode(codec.encode(msg)) == msg  # type: ignore[arg-type]


@given(st.lists(st.binary(min_size=1, max_size=50), max_size=10))
def test_compound_round_trips(parts: list[bytes]) -> None:
    assert codec.decode(codec.make_compound(parts)) == Compound(tuple(parts))


@given(st.binary(max_size=300))
@settings(max_examples=2000)
def test_any_bytes_decode_to_message_or_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        codec.decode(data)
    _msgs, errors = unpack_messages(data)
    assert all(isinstance(e, DecodeError) for e in errors)
    with contextlib.suppress(DecodeError):
        decode_stream_buffer(data)
    if data:
        with contextlib.suppress(DecodeError):
            read_stream(
                io.BytesIO(data[1:]).read, data[:1], keys=[], label=b"", require_encryption=False
            )


@given(st.sampled_from(list(SPEC_VECTORS.values())), st.integers(0, 200), st.integers(0, 255))
def test_corrupted_vectors_never_raise_other_errors(hx: str, pos: int, byte: int) -> None:
    data = bytearray(bytes.fromhex(hx))
    data[pos % len(data)] = byte
    with contextlib.suppress(DecodeError):
        codec.decode(bytes(data))


def test_truncated_compound_keeps_complete_parts() -> None:
    data = codec.make_compound([codec.encode(Nack(1)), codec.encode(Nack(2))])[:-3]
    msgs, errors = unpack_messages(data)
    assert msgs == [Nack(1)] and [e.reason for e in errors] == ["compound_truncated"]


def test_reliable_user_stream_round_trip() -> None:
    data = codec.encode_reliable_user(b"hello")
    assert read_stream(
        io.BytesIO(data[1:]).read, data[:1], keys=[], label=b"", require_encryption=False
    ) == User(b"hello")
