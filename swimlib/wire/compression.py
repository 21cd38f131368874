"""LZW codec for the ``compress`` message body (memberlist ``util.go`` over Go ``compress/lzw``).

Memberlist compresses with Go's ``lzw.NewWriter(w, lzw.LSB, 8)``: the GIF flavour of LZW with
8-bit literals, codes packed least-significant-bit first, 256 = CLEAR, 257 = EOF, widths 9-12.
There is no stdlib codec for it, so this module is a byte-exact port of Go's encoder and an
equally strict decoder (it accepts exactly what Go's reader accepts). The msgpack ``compress``
wrapper around these bytes is the message codec's job, not this module's.

Both directions run on every compressed packet, so the hot loops are written for CPython speed:
the encoder keys its dictionary by ``code << 8 | byte`` integers, and the decoder pulls 32-bit
words (one C-level conversion) and expands codes through a list of ``bytes`` entries.
"""

from __future__ import annotations

import sys
from array import array

from swimlib.wire.errors import DecodeError

__all__ = ["DEFAULT_MAX_DECOMPRESSED", "lzw_compress", "lzw_decompress"]

#: memberlist HEAD's ``maxDecompressedBytes``; older Go versions have no limit.
DEFAULT_MAX_DECOMPRESSED = 40 * 1024 * 1024

_CLEAR = 256
_EOF = 257
_MAX_CODE = 4095  # Go's maxCode: the encoder resets when its next code would reach this
_TABLE_FULL = 4096  # 12-bit codes: the decoder stops defining entries at this table size

# Input words handled between two output-size checks. One word yields at most four codes and a
# code expands to at most ~3.8 kB, so the output can overshoot the limit by at most ~4 MB
# before the check fires; the final length is checked exactly.
_CHECK_EVERY_WORDS = 256

_LITERALS: tuple[bytes, ...] = tuple(bytes((i,)) for i in range(256))
# Decoder table template: literals expand to themselves; CLEAR and EOF are ``None`` markers so
# the hot path needs a single ``is None`` test to spot them.
_BASE_TABLE: list[bytes | None] = [*_LITERALS, None, None]

_WORD_TYPECODE = next(t for t in ("I", "L") if array(t).itemsize == 4)


def lzw_compress(data: bytes) -> bytes:
    """Compress ``data`` exactly as Go's ``compress/lzw`` LSB/8 writer does (one Write + Close).

    Byte-exactness matters only for tests and vectors (Go accepts any valid stream), but being
    identical to Go means golden vectors from Go can be checked in both directions.
    """
    out_words: list[int] = []
    push = out_words.append
    # Go's first Write emits CLEAR; for empty input Close emits it instead. Same bits either way.
    bits = _CLEAR
    nbits = 9
    width = 9
    if data:
        code = data[0]
        hi = 257  # last code assigned; the next entry gets hi + 1
        # ``threshold`` is the next hi value that needs attention: the width overflow (512,
        # 1024, 2048) or, at 12 bits, the table-full point where Go emits CLEAR and resets.
        threshold = 512
        table: dict[int, int] = {}
        lookup = table.get
        it = iter(data)
        next(it)
        for x in it:
            key = code << 8 | x
            found = lookup(key)
            if found is not None:
                code = found
                continue
            bits |= code << nbits
            nbits += width
            if nbits >= 32:
                push(bits & 0xFFFFFFFF)
                bits >>= 32
                nbits -= 32
            code = x
            hi += 1
            if hi == threshold:
                if hi == _MAX_CODE:
                    # Out of codes: CLEAR at the current (12-bit) width, then start afresh.
                    # Go does not insert ``key`` in this case.
                    bits |= _CLEAR << nbits
                    nbits += width
                    if nbits >= 32:
                        push(bits & 0xFFFFFFFF)
                        bits >>= 32
                        nbits -= 32
                    width = 9
                    hi = 257
                    threshold = 512
                    table.clear()
                    continue
                width += 1
                threshold = min(threshold << 1, _MAX_CODE)
            table[key] = hi
        # Close: flush the pending code and do Go's incHi bookkeeping, which can widen the
        # code or even emit a CLEAR right before EOF.
        bits |= code << nbits
        nbits += width
        if nbits >= 32:
            push(bits & 0xFFFFFFFF)
            bits >>= 32
            nbits -= 32
        hi += 1
        if hi == threshold:
            if hi == _MAX_CODE:
                bits |= _CLEAR << nbits
                nbits += width
                if nbits >= 32:
                    push(bits & 0xFFFFFFFF)
                    bits >>= 32
                    nbits -= 32
                width = 9
            else:
                width += 1
    bits |= _EOF << nbits
    nbits += width
    if nbits >= 32:
        push(bits & 0xFFFFFFFF)
        bits >>= 32
        nbits -= 32
    head = array(_WORD_TYPECODE, out_words)
    if sys.byteorder == "big":
        head.byteswap()
    return head.tobytes() + bits.to_bytes((nbits + 7) >> 3, "little")


def lzw_decompress(data: bytes, max_size: int = DEFAULT_MAX_DECOMPRESSED) -> bytes:
    """Decompress a Go ``compress/lzw`` LSB/8 stream, enforcing ``max_size`` on the output.

    Accepts exactly the streams Go's reader accepts: a leading CLEAR is optional, bytes after
    EOF are ignored, and a missing EOF, an undefined code or a cut-off code is an error
    (``DecodeError("decompress_failed")``). More than ``max_size`` output bytes raises
    ``DecodeError("decompressed_too_large")``; the check runs while decoding, so a
    decompression bomb is stopped early instead of filling memory.
    """
    raw = bytes(data)
    total_bits = len(raw) * 8
    pad = -len(raw) % 4
    if pad:
        raw += bytes(pad)  # zero bits can only read as literal 0, never as a false EOF
    words = array(_WORD_TYPECODE)
    words.frombytes(raw)
    if sys.byteorder == "big":
        words.byteswap()

    table = _BASE_TABLE[:]
    table_append = table.append
    out = bytearray()
    # ``n`` is the number of defined codes (== len(table), Go's ``hi``) except right after a
    # CLEAR or at the start, where it is -1 so that the first code falls through to the cold
    # branch: that code must be a literal (or CLEAR/EOF) and defines nothing.
    n = -1
    width = 9
    mask = 0x1FF
    limit = 512
    prev = b""  # expansion of the previous code
    bits = 0
    nbits = 0
    word_index = 0
    n_words = len(words)
    while word_index < n_words:
        stop = min(word_index + _CHECK_EVERY_WORDS, n_words)
        for w in words[word_index:stop]:
            word_index += 1
            bits |= w << nbits
            nbits += 32
            while nbits >= width:
                code = bits & mask
                bits >>= width
                nbits -= width
                if code < n:
                    entry = table[code]
                    if entry is None:
                        if code == _CLEAR:
                            del table[258:]
                            table_append = table.append
                            n = -1
                            width = 9
                            mask = 0x1FF
                            limit = 512
                            continue
                        return _finish(out, word_index * 32 - nbits, total_bits, max_size)
                    table_append(prev + entry[:1])
                elif code == n:
                    # KwKwK: the code being defined right now.
                    entry = prev + prev[:1]
                    table_append(entry)
                elif n < 0 and code < 258:
                    # First code after CLEAR (or at the start): Go's decoder permits a
                    # literal, CLEAR or EOF here and defines no entry.
                    if code == _EOF:
                        return _finish(out, word_index * 32 - nbits, total_bits, max_size)
                    if code != _CLEAR:
                        prev = _LITERALS[code]
                        out += prev
                        n = 258
                    continue
                else:
                    raise DecodeError("decompress_failed", f"invalid code {code}")
                out += entry
                prev = entry
                n += 1
                if n == limit:
                    if width < 12:
                        width += 1
                        mask = (mask << 1) | 1
                        limit <<= 1
                    else:
                        # Table full (only a non-Go encoder gets here): Go's decoder defines
                        # nothing more until a CLEAR. ``n`` now only grows past 4096, so no
                        # code can be KwKwK; appends go nowhere.
                        table_append = _discard
        if len(out) > max_size:
            raise _too_large(max_size)
    raise DecodeError("decompress_failed", "no EOF code")


def _discard(_entry: bytes | None) -> None:
    """Stands in for ``table.append`` once the code table is full."""


def _finish(out: bytearray, used_bits: int, total_bits: int, max_size: int) -> bytes:
    """Checks at EOF: Go reads whole bytes, so the EOF code must lie within the real input."""
    if used_bits > total_bits:
        raise DecodeError("decompress_failed", "truncated before EOF")
    if len(out) > max_size:
        raise _too_large(max_size)
    return bytes(out)


def _too_large(max_size: int) -> DecodeError:
    return DecodeError("decompressed_too_large", f"more than {max_size} bytes")
