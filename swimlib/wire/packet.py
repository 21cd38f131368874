"""The outer layers of a UDP packet: compression, CRC, encryption, label (``net.go``).

Sending builds message -> compress (only if smaller) -> CRC -> encrypt -> label header.

memberlist runs LZW on every packet and keeps the result only when it is smaller. swimlib
skips the attempt below :data:`COMPRESS_MIN_BYTES`: in a recorded 10-node cluster no packet
under 101 bytes ever came out smaller (the compress wrapper alone costs ~14 bytes and LZW's
9-bit codes need repetition to pay off), while the attempt was half the CPU of sending a
probe. The receiver cannot tell the difference: plain and compressed packets are both valid.
Receiving undoes label and encryption here; CRC, compression and compounds are undone by the
core while it dispatches, because they can nest inside each other.
"""

from __future__ import annotations

from collections import deque

from swimlib.wire import codec
from swimlib.wire.compression import lzw_compress, lzw_decompress
from swimlib.wire.crc import add_crc, strip_crc
from swimlib.wire.crypto import encrypt_overhead, open_sealed, seal
from swimlib.wire.errors import DecodeError
from swimlib.wire.keyring import Keyring
from swimlib.wire.label import LABEL_TYPE
from swimlib.wire.limits import COMPRESS_MIN_BYTES, MAX_NESTING
from swimlib.wire.messages import Compound, Compress, Message, MessageType

#: Nonces of accepted encrypted datagrams remembered (about 1 MB); a packet whose nonce is
#: among them is a replay and is dropped. At 1,000 packets/s that is the last 16 s.
REPLAY_WINDOW = 16384


class ReplayWindow:
    """The last ``capacity`` nonces accepted: beyond memberlist, which accepts replays.

    Senders draw a fresh random 96-bit nonce per packet, so an honest repeat never happens.
    Only authenticated packets are recorded, so an outsider cannot flush the window.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._order: deque[bytes] = deque()
        self._seen: set[bytes] = set()

    def first_time(self, nonce: bytes) -> bool:
        """Record ``nonce``; False if it is already in the window. One receiving thread."""
        if nonce in self._seen:
            return False
        self._seen.add(nonce)
        self._order.append(nonce)
        if len(self._order) > self._capacity:
            self._seen.discard(self._order.popleft())
        return True


class PacketFramer:
    """Seals outgoing and opens incoming UDP packets for one node's settings."""

    def __init__(
        self,
        *,
        label: bytes = b"",
        skip_inbound_label_check: bool = False,
        compression: bool = True,
        keyring: Keyring | None = None,
        encrypt_version: int = 1,
        verify_incoming: bool = True,
        verify_outgoing: bool = True,
    ) -> None:
        self.label = label
        self.skip_inbound_label_check = skip_inbound_label_check
        self.compression = compression
        self.keyring = keyring if keyring is not None else Keyring()
        self.encrypt_version = encrypt_version
        self.verify_incoming = verify_incoming
        self.verify_outgoing = verify_outgoing
        self.replays = ReplayWindow(REPLAY_WINDOW)

    @property
    def encrypting(self) -> bool:
        return bool(self.keyring) and self.verify_outgoing

    @property
    def overhead(self) -> int:
        """Bytes added around a message: what the core must leave free when packing."""
        n = 2 + len(self.label) if self.label else 0
        if self.keyring:
            n += encrypt_overhead(self.encrypt_version)
        return n

    def seal(self, data: bytes, crc: bool, nonce: bytes | None) -> bytes:
        data = pack_inner(data, crc=crc, compress=self.compression)
        if self.encrypting:
            key = self.keyring.primary_key()
            if key is None or nonce is None:
                raise ValueError("encryption needs a primary key and a nonce")
            data = seal(key, data, nonce, self.label, self.encrypt_version)
        if self.label:
            data = bytes((LABEL_TYPE, len(self.label))) + self.label + data
        return data

    def open(self, packet: bytes) -> bytes:
        """Strip label and decryption; DecodeError (with a counter key) if the packet is bad."""
        received: bytes | None = None
        if packet and packet[0] == LABEL_TYPE:
            if len(packet) < 2 or packet[1] == 0 or len(packet) < 2 + packet[1]:
                raise DecodeError("bad_label", "truncated or empty label header")
            n = packet[1]
            received = packet[2 : 2 + n]
            packet = packet[2 + n :]
        verify_label(received, self.label, self.skip_inbound_label_check)
        if self.keyring:
            try:
                plain = open_sealed(self.keyring.keys(), packet, self.label)
            except DecodeError as err:
                if not self.verify_incoming:
                    return packet
                if err.reason == "bad_encrypt_version":
                    raise DecodeError("unencrypted_packet", err.detail) from None
                raise
            if not self.replays.first_time(packet[1:13]):
                raise DecodeError("replayed", "nonce seen in the replay window")
            return plain
        return packet


def pack_inner(data: bytes, *, crc: bool, compress: bool) -> bytes:
    """The inner layers of an outgoing datagram: compression (only from COMPRESS_MIN_BYTES
    and only if smaller), then the CRC. :func:`unpack_messages` is the inverse; the runtime,
    the simulator and the test harness all use this pair."""
    if compress and len(data) >= COMPRESS_MIN_BYTES:
        packed = codec.encode(Compress(0, lzw_compress(data)))
        if len(packed) < len(data):
            data = packed
    return add_crc(data) if crc else data


def verify_label(received: bytes | None, configured: bytes, skip_check: bool) -> None:
    """memberlist's inbound label rule; ``received`` is None when there was no label header.

    With ``skip_check`` a labelled packet is refused and an unlabelled one counts as carrying
    the configured label; otherwise the label must equal the configured one exactly.
    """
    if skip_check:
        if received is not None:
            raise DecodeError("label_mismatch", "labelled traffic while skipping label checks")
        return
    if (received or b"") != configured:
        raise DecodeError("label_mismatch", repr(received))


#: Total decompressed bytes one datagram may expand to, across every nested compress. A
#: datagram is at most 64 KiB and memberlist compresses one packet's worth, so 1 MiB is far
#: above any honest packet and far below what a bomb would need.
MAX_PACKET_DECOMPRESSED = 1 << 20


class _Budget:
    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left


def unpack_messages(data: bytes) -> tuple[list[Message], list[DecodeError]]:
    """Undo CRC, compression and compounds: the messages inside a packet, plus the errors.

    Complete parts before a bad one are kept, as memberlist does; every problem is returned
    as a :class:`DecodeError` so the caller can count it. The errors carry no traceback, so
    a refused decompression bomb cannot keep its buffer alive through them.
    """
    out: list[Message] = []
    errors: list[DecodeError] = []
    try:
        data = strip_crc(data)
    except DecodeError as err:
        return out, [_bare(err)]
    _unpack(data, 0, out, errors, _Budget(MAX_PACKET_DECOMPRESSED))
    return out, errors


def _bare(err: DecodeError) -> DecodeError:
    """The same error without its traceback (which holds the failing frames' locals)."""
    return DecodeError(err.reason, err.detail)


# Gossip repeats itself: the same alive/suspect/dead bytes reach a node several times, and in
# the simulator every node decodes the same packets. Messages are immutable, so a small memo of
# recent bytes -> message is safe to share; it is cleared when full rather than kept in order.
_MEMO: dict[bytes, Message] = {}
_MEMO_MAX = 4096
_MEMO_TYPES = frozenset((MessageType.ALIVE, MessageType.SUSPECT, MessageType.DEAD))


def _decode_leaf(data: bytes) -> Message:
    if data[:1] and data[0] in _MEMO_TYPES:
        msg = _MEMO.get(data)
        if msg is None:
            msg = codec.decode(data)
            if len(_MEMO) >= _MEMO_MAX:
                _MEMO.clear()
            _MEMO[data] = msg
        return msg
    return codec.decode(data)


def _unpack(
    data: bytes, depth: int, out: list[Message], errors: list[DecodeError], budget: _Budget
) -> None:
    try:
        msg = _decode_leaf(data)
    except DecodeError as err:
        errors.append(_bare(err))
        return
    if isinstance(msg, (Compound, Compress)) and depth >= MAX_NESTING:
        errors.append(DecodeError("nesting_too_deep"))
        return
    if isinstance(msg, Compound):
        if msg.truncated:
            errors.append(DecodeError("compound_truncated"))
        for part in msg.parts:
            _unpack(part, depth + 1, out, errors, budget)
    elif isinstance(msg, Compress):
        inner = _inflate(msg, errors, budget)
        if inner is not None:
            _unpack(inner, depth + 1, out, errors, budget)
    else:
        out.append(msg)


def _inflate(msg: Compress, errors: list[DecodeError], budget: _Budget) -> bytes | None:
    if msg.algo != 0:
        errors.append(DecodeError("unknown_compression", str(msg.algo)))
        return None
    if budget.left <= 0:
        errors.append(DecodeError("decompressed_too_large", "packet budget spent"))
        return None
    try:
        inner = lzw_decompress(msg.buf, budget.left)
    except DecodeError as err:
        errors.append(_bare(err))
        return None
    budget.left -= len(inner)
    return inner
