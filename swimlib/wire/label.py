"""The label header and the inbound label rule (memberlist ``label.go``, ``net.go`` ingest).

Layout: ``[0xF4][len u8][label]``, the outermost bytes of a UDP packet and the first bytes a
TCP dialer writes. 0xF4 cannot be confused with a message type (0-13) or an encryption version
byte (0-1). The label is never encrypted but always goes into the encryption AAD, so a packet
from another cluster fails even if a middlebox rewrote the header.
"""

from __future__ import annotations

from swimlib.errors import ConfigError
from swimlib.wire.errors import DecodeError
from swimlib.wire.limits import MAX_LABEL_LEN

__all__ = [
    "LABEL_TYPE",
    "MAX_LABEL_LEN",
    "add_label_header",
    "check_label",
    "label_overhead",
    "strip_and_check_label",
    "strip_label_header",
]

#: Type byte of the label header (Go's ``hasLabelMsg``).
LABEL_TYPE = 0xF4
#: The length is one byte; Go refuses longer labels in its config check.


def label_overhead(label: bytes) -> int:
    """Bytes the header adds to a packet; memberlist subtracts this from the UDP budget."""
    return 2 + len(label) if label else 0


def add_label_header(buf: bytes, label: bytes) -> bytes:
    """Prefix ``buf`` with the header; an empty label means no header (Go does the same).

    A label longer than 255 bytes is local misuse (``ConfigError``): it cannot be encoded.
    """
    if not label:
        return buf
    if len(label) > MAX_LABEL_LEN:
        raise ConfigError(f"label is {len(label)} bytes; the maximum is {MAX_LABEL_LEN}")
    return bytes((LABEL_TYPE, len(label))) + label + buf


def strip_label_header(buf: bytes) -> tuple[bytes, bytes]:
    """Split ``buf`` into ``(label, rest)``; the label is ``b""`` when there is no header.

    A header with length 0, or one cut short, is ``DecodeError("bad_label")`` as in Go's
    ``RemoveLabelHeaderFromPacket``. Since a valid header always carries a non-empty label,
    ``label != b""`` tells the caller that a header was present.
    """
    if not buf or buf[0] != LABEL_TYPE:
        return b"", buf
    if len(buf) < 2:
        raise DecodeError("bad_label", "truncated label header")
    size = buf[1]
    if size == 0:
        raise DecodeError("bad_label", "empty label header")
    end = 2 + size
    if len(buf) < end:
        raise DecodeError("bad_label", "truncated label")
    return bytes(buf[2:end]), buf[end:]


def check_label(
    received: bytes, had_header: bool, configured: bytes, skip_inbound_check: bool
) -> None:
    """Apply memberlist's inbound label rule; ``DecodeError("label_mismatch")`` means drop.

    Normally the received label (``b""`` without a header) must equal ``configured`` exactly.
    With ``skip_inbound_check`` (for transports that strip labels themselves) a packet that
    still has a header is dropped and an unlabelled one counts as carrying ``configured``.
    After a successful check the label to use as encryption AAD is always ``configured``.
    ``had_header`` is implied by ``received != b""`` (headers cannot be empty); either one
    marks a labelled packet.
    """
    if skip_inbound_check:
        if had_header or received:
            raise DecodeError("label_mismatch", "label header present while skipping checks")
        return
    if received != configured:
        raise DecodeError("label_mismatch", f"got {received!r}")


def strip_and_check_label(buf: bytes, configured: bytes, skip_inbound_check: bool) -> bytes:
    """Receive-side step 1 in one call: strip the header, check it, return the rest."""
    received, rest = strip_label_header(buf)
    check_label(received, bool(received), configured, skip_inbound_check)
    return rest
