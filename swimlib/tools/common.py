"""What every command shares: the user-facing error type, output lines, and argument parsing.

Parsing covers ``--key`` (base64 or ``hex:``), ``--label``, hex packets from arguments or a
file, and ``HOST:PORT`` addresses; every problem is a :class:`CliError` naming the argument.
Also the one way the tools build outgoing UDP packets (:func:`sending_framer`).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from collections.abc import Sequence
from typing import Any

from swimlib.errors import InvalidKeyError
from swimlib.wire.keyring import Keyring
from swimlib.wire.label import MAX_LABEL_LEN
from swimlib.wire.packet import PacketFramer

UDP_RECV_SIZE = 65536


class CliError(Exception):
    """A user-facing failure: printed as ``error: <message>``, exit status 1."""


# --------------------------------------------------------------------------- output


def out(line: str) -> None:
    """Write one result line to stdout, flushed so a reading pipe sees it at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def err(line: str) -> None:
    """Write one diagnostic line to stderr."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def out_json(obj: dict[str, Any]) -> None:
    out(json.dumps(obj))


def addr_text(addr: Any) -> str:
    """``host:port``, with the host bracketed when it is IPv6."""
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --------------------------------------------------------------------------- input parsing


def parse_crypto(args: argparse.Namespace) -> tuple[list[bytes], bytes]:
    """The ``--key`` and ``--label`` options every command takes: (keys, label)."""
    return parse_keys(args.key), parse_label(args.label)


def parse_keys(values: Sequence[str]) -> list[bytes]:
    """``--key`` values to raw keys, primary first: base64 text or ``hex:<digits>``."""
    keys: list[bytes] = []
    for i, text in enumerate(values, 1):
        try:
            if text.startswith("hex:"):
                key = Keyring.parse_key(bytes.fromhex(text[4:]))
            else:
                key = Keyring.parse_key(text)
        except InvalidKeyError as exc:
            raise CliError(f"--key #{i}: {exc}") from None
        except ValueError as exc:
            raise CliError(f"--key #{i}: not hex digits after 'hex:' ({exc})") from None
        if key not in keys:
            keys.append(key)
    return keys


def parse_label(text: str) -> bytes:
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) > MAX_LABEL_LEN:
        raise CliError(f"--label is {len(raw)} bytes; the maximum is {MAX_LABEL_LEN}")
    return raw


def parse_hex(text: str, where: str) -> bytes:
    """Hex digits, optionally with a 0x prefix and spaces or colons between bytes."""
    t = text.strip()
    if t[:2].lower() == "0x":
        t = t[2:]
    t = "".join(t.replace(":", " ").split())
    if not t:
        raise CliError(f"{where}: empty, expected hex digits")
    try:
        return bytes.fromhex(t)
    except ValueError:
        shown = text if len(text) <= 40 else text[:40] + "..."
        if len(t) % 2 and all(c in "0123456789abcdefABCDEF" for c in t):
            raise CliError(f"{where}: odd number of hex digits in {shown!r}") from None
        raise CliError(f"{where}: not hex: {shown!r}") from None


def read_hex_file(path: str) -> list[tuple[str, bytes]]:
    """Hex packets one per line; blank lines and lines starting with '#' are skipped."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not a text file of hex lines") from None
    found: list[tuple[str, bytes]] = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        where = f"{path}:{n}"
        found.append((where, parse_hex(s, where)))
    return found


def resolve(text: str, what: str, *, allow_zero: bool = False) -> tuple[int, str, int]:
    """``host:port`` or ``[v6]:port`` to (family, numeric IP, port)."""
    host, port_text = "", ""
    if text.startswith("["):
        end = text.find("]")
        if end > 0 and text[end + 1 : end + 2] == ":":
            host, port_text = text[1:end], text[end + 2 :]
    else:
        host, _, port_text = text.rpartition(":")
    if not host or not port_text:
        raise CliError(f"{what}: expected HOST:PORT, got {text!r}")
    try:
        port = int(port_text)
    except ValueError:
        raise CliError(f"{what}: bad port {port_text!r}") from None
    if not (0 if allow_zero else 1) <= port <= 65535:
        raise CliError(f"{what}: port {port} out of range")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise CliError(f"{what}: cannot resolve {host!r}: {exc}") from None
    family, _, _, _, sockaddr = infos[0]
    return int(family), str(sockaddr[0]), port


def check_positive(value: float | None, flag: str) -> None:
    if value is not None and value <= 0:
        raise CliError(f"{flag} must be positive")


# --------------------------------------------------------------------------- sending


def sending_framer(keys: Sequence[bytes], label: bytes) -> PacketFramer:
    """The framer the tools seal UDP packets with (and ``ping`` opens acks with).

    It carries the label and the primary key only, and never compresses: what is sent is
    exactly the message the tool built.
    """
    return PacketFramer(label=label, keyring=Keyring(keys[:1]), compression=False)
