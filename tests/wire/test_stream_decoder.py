"""StreamDecoder: feeding in pieces equals feeding at once; limits and garbage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swimlib.wire import codec
from swimlib.wire.errors import DecodeError
from swimlib.wire.messages import Ack, ErrResp, Message, Ping, PushNodeState, PushPull, User
from swimlib.wire.stream import StreamDecoder, encode_stream, label_header

KEY = b"k" * 32
NONCE = b"n" * 12
VSN = b"\x01\x05\x02\x00\x00\x00"


def _push_pull(n: int, user: bytes = b"") -> PushPull:
    nodes = tuple(
        PushNodeState(f"node-{i}", b"\x7f\x00\x00\x01", 7000 + i, b"m", i, 0, VSN) for i in range(n)
    )
    return PushPull(join=True, nodes=nodes, user_state=user)


# (kind, the message, its encoded body): the expected value is the message itself.
MESSAGES: list[tuple[str, Message, bytes]] = [
    (
        kind,
        msg,
        codec.encode_reliable_user(msg.payload) if isinstance(msg, User) else codec.encode(msg),
    )
    for kind, msg in (
        ("ping", Ping(7, "a")),
        ("ack", Ack(7)),
        ("err", ErrResp("nope")),
        ("push_pull", _push_pull(40, b"user-state")),
        ("user", User(b"payload" * 50)),
    )
]
FRAMINGS: dict[str, tuple[bool, bytes | None]] = {  # (compress, key)
    "plain": (False, None),
    "compressed": (True, None),
    "encrypted": (True, KEY),
}


def _decoder(label: bytes, key: bytes | None, listener: bool) -> StreamDecoder:
    return StreamDecoder(
        keys=[KEY], label=label, require_encryption=key is not None, read_label=listener
    )


def _decode(data: bytes, step: int, label: bytes, key: bytes | None) -> Message:
    dec = _decoder(label, key, listener=True)
    for i in range(0, len(data), step):
        assert dec.next_message() is None  # nothing complete before the last byte
        dec.feed(data[i : i + step])
    msg = dec.next_message()
    assert msg is not None
    return msg


@pytest.mark.parametrize("framing", sorted(FRAMINGS))
@pytest.mark.parametrize("label", [b"", b"cluster-a"])
@pytest.mark.parametrize(("kind", "expected", "body"), MESSAGES, ids=[k for k, _, _ in MESSAGES])
def test_byte_at_a_time_equals_one_shot(
    kind: str, expected: Message, body: bytes, label: bytes, framing: str
) -> None:
    compress, key = FRAMINGS[framing]
    framed = encode_stream(body, compress=compress, key=key, nonce=NONCE, label=label)
    data = label_header(label) + framed
    whole = _decode(data, len(data), label, key)
    assert _decode(data, 1, label, key) == whole == expected
    dec = _decoder(label, key, listener=True)
    dec.feed(data)
    assert dec.next_message() == whole and dec.label == (label or None)


def test_truncated_input_asks_for_more() -> None:
    data = codec.encode(_push_pull(5))
    dec = _decoder(b"", None, listener=False)
    dec.feed(data[:-1])
    assert dec.next_message() is None


def test_more_than_the_limit_is_refused_while_buffering() -> None:
    dec = StreamDecoder(keys=[], label=b"", require_encryption=False, max_bytes=1000)
    with pytest.raises(DecodeError) as info:
        for _ in range(100):
            dec.feed(b"\x06" * 100)
            dec.next_message()
    assert info.value.reason in ("stream_too_large", "bad_msgpack", "bad_push_pull")
    big = StreamDecoder(keys=[], label=b"", require_encryption=False, max_bytes=1000)
    with pytest.raises(DecodeError, match="stream_too_large"):
        big.feed(b"\x0a" + b"\x00" * 2000)


def test_sealed_frame_size_over_the_limit_is_refused() -> None:
    dec = StreamDecoder(keys=[KEY], label=b"", require_encryption=True, max_bytes=1000)
    dec.feed(b"\x0a" + (5000).to_bytes(4, "big"))
    with pytest.raises(DecodeError, match="stream_too_large"):
        dec.next_message()


def test_plaintext_into_an_encrypted_listener_is_refused() -> None:
    dec = _decoder(b"", KEY, listener=False)
    dec.feed(codec.encode(Ping(1, "a")))
    with pytest.raises(DecodeError, match="unencrypted_stream"):
        dec.next_message()


def test_label_check_runs_before_the_message() -> None:
    seen: list[bytes | None] = []

    def check(received: bytes | None) -> None:
        seen.append(received)
        raise DecodeError("label_mismatch")

    dec = StreamDecoder(
        keys=[], label=b"", require_encryption=False, read_label=True, check_label=check
    )
    dec.feed(label_header(b"other") + b"\xff\xff")
    with pytest.raises(DecodeError, match="label_mismatch"):
        dec.next_message()
    assert seen == [b"other"]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=17))
def test_garbage_only_ever_raises_decode_error(data: bytes, step: int) -> None:
    dec = StreamDecoder(keys=[KEY], label=b"", require_encryption=False, read_label=True)
    try:
        for i in range(0, len(data), step):
            dec.feed(data[i : i + step])
            if dec.next_message() is not None:
                return
    except DecodeError:
        pass
