"""Seeds: parsing ``[name/]host[:port]`` and resolving names, afresh at every attempt.

memberlist resolves a seed name to every address it has and tries each; so does this module.
An unresolvable or refused seed is a reason recorded for the caller, not an exception that
aborts the whole join, as long as another seed answers.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from swimlib.errors import ConfigError

Addr = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Seed:
    """One seed as the user wrote it, with the port filled in."""

    text: str
    host: str
    port: int


def parse_seed(text: object, default_port: int) -> Seed:
    """Syntax only (no DNS): ConfigError for a malformed seed."""
    if not isinstance(text, str) or not text:
        raise ConfigError(f"join: seed must be 'host:port', got {text!r}")
    rest = text.split("/", 1)[1] if "/" in text else text
    host, port = rest, default_port
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise ConfigError(f"join: bad IPv6 seed {text!r}")
        host = rest[1:end]
        if rest[end + 1 :].startswith(":"):
            port = _port(rest[end + 2 :], text)
    elif rest.count(":") == 1:
        host, p = rest.split(":")
        port = _port(p, text)
    if not host:
        raise ConfigError(f"join: seed {text!r} has no host")
    return Seed(text, host, port)


def resolve(seed: Seed) -> list[Addr]:
    """Every address of the seed's host, in resolver order (an IP resolves to itself).

    Raises OSError when the name does not resolve. Tests replace this function to give a
    name several addresses.
    """
    try:
        ipaddress.ip_address(seed.host)
        return [(seed.host, seed.port)]
    except ValueError:
        pass
    infos = socket.getaddrinfo(seed.host, seed.port, type=socket.SOCK_STREAM)
    out: list[Addr] = []
    for info in infos:
        addr = (str(info[4][0]), seed.port)
        if addr not in out:
            out.append(addr)
    return out


def _port(text: str, seed: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ConfigError(f"join: bad port in {seed!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"join: bad port in {seed!r}")
    return port
