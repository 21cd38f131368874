"""Label header framing and memberlist's inbound label rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swimlib.errors import ConfigError
from swimlib.wire.errors import DecodeError
from swimlib.wire.label import (
    LABEL_TYPE,
    MAX_LABEL_LEN,
    add_label_header,
    check_label,
    label_overhead,
    strip_and_check_label,
    strip_label_header,
)

CAPTURED = Path(__file__).resolve().parent.parent / "data" / "golden" / "captured.json"


def test_constants() -> None:
    assert LABEL_TYPE == 0xF4
    assert MAX_LABEL_LEN == 255


def test_add_header_layout() -> None:
    # Spec Appendix A: label "prod" is the header f4 04 70726f64.
    assert add_label_header(b"\x01rest", b"prod") == bytes.fromhex("f40470726f64") + b"\x01rest"


def test_empty_label_adds_nothing() -> None:
    assert add_label_header(b"\x00abc", b"") == b"\x00abc"
    assert label_overhead(b"") == 0
    assert label_overhead(b"prod") == 6


def test_max_label_length() -> None:
    label = b"x" * 255
    framed = add_label_header(b"msg", label)
    assert strip_label_header(framed) == (label, b"msg")
    with pytest.raises(ConfigError):
        add_label_header(b"msg", b"x" * 256)
    with pytest.raises(ValueError):  # ConfigError is a ValueError: local misuse
        add_label_header(b"msg", b"x" * 256)


def test_strip_without_header() -> None:
    assert strip_label_header(b"") == (b"", b"")
    assert strip_label_header(b"\x00ping") == (b"", b"\x00ping")
    assert strip_label_header(b"\x01encrypted") == (b"", b"\x01encrypted")


def test_strip_label_filling_the_whole_buffer() -> None:
    assert strip_label_header(b"\xf4\x03abc") == (b"abc", b"")


@pytest.mark.parametrize(
    "bad",
    [b"\xf4", b"\xf4\x00", b"\xf4\x00rest", b"\xf4\x05abc", b"\xf4\xffx"],
    ids=["type-only", "zero-length", "zero-length-with-rest", "truncated", "truncated-max"],
)
def test_bad_headers(bad: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        strip_label_header(bad)
    assert info.value.reason == "bad_label"


@given(st.binary(min_size=1, max_size=255), st.binary(max_size=100))
def test_round_trip(label: bytes, rest: bytes) -> None:
    assert strip_label_header(add_label_header(rest, label)) == (label, rest)


@given(st.binary(max_size=300))
def test_any_bytes_strip_or_decode_error(data: bytes) -> None:
    try:
        label, rest = strip_label_header(data)
    except DecodeError as exc:
        assert exc.reason == "bad_label"
    else:
        assert add_label_header(rest, label) == data


@pytest.mark.parametrize(
    ("received", "configured"),
    [(b"", b""), (b"prod", b"prod")],
)
def test_check_label_accepts_exact_match(received: bytes, configured: bytes) -> None:
    check_label(received, bool(received), configured, skip_inbound_check=False)


@pytest.mark.parametrize(
    ("received", "configured"),
    [(b"", b"prod"), (b"prod", b""), (b"prod", b"Prod"), (b"prod", b"prod2")],
)
def test_check_label_rejects_mismatch(received: bytes, configured: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        check_label(received, bool(received), configured, skip_inbound_check=False)
    assert info.value.reason == "label_mismatch"


@pytest.mark.parametrize("configured", [b"", b"prod"])
def test_skip_inbound_check(configured: bytes) -> None:
    # An unlabelled packet counts as carrying the configured label...
    check_label(b"", False, configured, skip_inbound_check=True)
    # ...and one that still has a header is dropped, whatever it says.
    for received in (b"prod", b"other"):
        with pytest.raises(DecodeError) as info:
            check_label(received, True, configured, skip_inbound_check=True)
        assert info.value.reason == "label_mismatch"


def test_strip_and_check_label() -> None:
    framed = add_label_header(b"\x00ping", b"prod")
    assert strip_and_check_label(framed, b"prod", False) == b"\x00ping"
    assert strip_and_check_label(b"\x00ping", b"prod", True) == b"\x00ping"
    with pytest.raises(DecodeError):
        strip_and_check_label(framed, b"", False)
    with pytest.raises(DecodeError):
        strip_and_check_label(b"\x00ping", b"prod", False)
    with pytest.raises(DecodeError):
        strip_and_check_label(framed, b"prod", True)
    with pytest.raises(DecodeError) as info:
        strip_and_check_label(b"\xf4\x00", b"prod", False)
    assert info.value.reason == "bad_label"


@pytest.mark.skipif(not CAPTURED.exists(), reason=f"{CAPTURED} is absent")
def test_memberlist_captured_label_headers() -> None:
    seen = 0
    for rec in json.loads(CAPTURED.read_text()):
        data = bytes.fromhex(rec["hex"])
        label, rest = strip_label_header(data)
        if rec["shape"].startswith("label>"):
            assert label == rec["config"]["label"].encode() == b"golden-label"
            assert add_label_header(rest, label) == data
            seen += 1
        else:
            # Unlabelled traffic, including a TCP listener's replies in labelled clusters.
            assert (label, rest) == (b"", data)
    assert seen
