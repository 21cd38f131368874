"""Remote-input decode errors: a typed value for every way peer bytes can be bad."""

from __future__ import annotations


class DecodeError(Exception):
    """Peer bytes that cannot be decoded. `reason` is a short stable key for drop counters."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
