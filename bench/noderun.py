"""Shared plumbing for the Python node runners (one benchmark node per OS process).

Every runner (swimlib, kinship, swim-protocol) and the Go node speak one protocol, so the
orchestrator drives them all alike:

* stdout: one JSON object per line; ``t`` is ``time.monotonic()`` (CLOCK_MONOTONIC, shared by
  every process on the machine, so times compare across processes);
* stdin: one JSON command per line (``join``, ``bcast``, ``blast``, ``stats``, ``quit``).

Benchmark payloads start with a kind byte and a big-endian u64 id (see :func:`payload`).
"""

from __future__ import annotations

import json
import os
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KIND_PROBE = ord("P")  # one broadcast whose arrival time is reported
KIND_DIRECT = ord("D")  # throughput: direct best-effort message, counted
KIND_BCAST = ord("Q")  # throughput: broadcast, counted once per id

_ID = struct.Struct(">Q")
MAX_BLAST_SECONDS = 120.0

# Keeps runner defaults in step with memberlist's presets (config.go): the runners of systems
# with other defaults (kinship, swim-protocol) are given these values explicitly.
PRESETS: dict[str, dict[str, float]] = {
    "lan": {
        "protocol_interval": 1.0,
        "probe_timeout": 0.5,
        "indirect_checks": 3,
        "suspicion_mult": 4,
        "suspicion_max_timeout_mult": 6,
        "retransmit_mult": 4,
        "gossip_interval": 0.2,
        "gossip_nodes": 3,
        "gossip_to_the_dead_time": 30.0,
        "push_pull_interval": 30.0,
        "tcp_timeout": 10.0,
        "awareness_max_multiplier": 8,
    },
    "local": {
        "protocol_interval": 1.0,
        "probe_timeout": 0.2,
        "indirect_checks": 1,
        "suspicion_mult": 3,
        "suspicion_max_timeout_mult": 6,
        "retransmit_mult": 2,
        "gossip_interval": 0.1,
        "gossip_nodes": 3,
        "gossip_to_the_dead_time": 15.0,
        "push_pull_interval": 15.0,
        "tcp_timeout": 1.0,
        "awareness_max_multiplier": 8,
    },
}


def payload(kind: int, ident: int, size: int = 100) -> bytes:
    """``kind`` byte, u64 id, then filler up to ``size`` bytes."""
    head = bytes((kind,)) + _ID.pack(ident & 0xFFFFFFFFFFFFFFFF)
    return head + b"x" * max(0, size - len(head))


def parse(data: bytes) -> tuple[int, int] | None:
    """(kind, id) of a benchmark payload, or None."""
    if len(data) < 9:
        return None
    return data[0], _ID.unpack_from(data, 1)[0]


class Output:
    """Thread-safe JSON-lines writer on stdout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._out = sys.stdout

    def emit(self, ev: str, **fields: Any) -> None:
        fields.setdefault("t", time.monotonic())
        line = json.dumps({"ev": ev, **fields}, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                self._out.write(line)
                self._out.flush()
            except (BrokenPipeError, ValueError):
                pass  # the orchestrator went away; the runner exits on stdin EOF


def commands() -> Any:
    """Yield parsed commands from stdin until EOF or ``quit``."""
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
        except json.JSONDecodeError:
            continue
        if cmd.get("cmd") == "quit":
            return
        yield cmd


def paced(rate: float, duration: float, send: Callable[[int], None]) -> tuple[float, float, int]:
    """Call ``send(i)`` ``rate`` times a second (0: flat out) for ``duration`` seconds.

    Returns (start, end, how many were sent). Bounded by :data:`MAX_BLAST_SECONDS`.
    """
    duration = min(max(duration, 0.0), MAX_BLAST_SECONDS)
    start = time.monotonic()
    end = start + duration
    sent = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = int((now - start) * rate) + 1 if rate > 0 else sent + 64
        if sent >= due:
            time.sleep(0.0002)
            continue
        for _ in range(min(due - sent, 64)):
            send(sent)
            sent += 1
    return start, time.monotonic(), sent


class Counters:
    """Message counters updated from library callback threads (GIL-atomic int updates)."""

    def __init__(self) -> None:
        self.recv_direct = 0
        self.recv_bcast = 0
        self.recv_probe = 0
        self.sent_direct = 0
        self.sent_bcast = 0
        self.send_errors = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))

    def received(self, data: bytes, out: Output) -> None:
        """Count a delivered benchmark payload; report a probe broadcast's arrival."""
        parsed = parse(data)
        if parsed is None:
            return
        kind, ident = parsed
        if kind == KIND_DIRECT:
            self.recv_direct += 1
        elif kind == KIND_BCAST:
            self.recv_bcast += 1
        elif kind == KIND_PROBE:
            self.recv_probe += 1
            out.emit("bcast", id=ident)


@dataclass
class Library:
    """What one membership library does for :func:`serve` (the runner adapts its API)."""

    join: Callable[[list[str]], int]  # seeds -> how many were reached
    broadcast: Callable[[bytes, bool], None]  # (data, is the timed probe broadcast)
    send: Callable[[str, bytes], None]  # (address, data): direct best-effort message
    stats: Callable[[], dict[str, Any]]  # the library's own figures for the stats event
    errors: tuple[type[BaseException], ...]  # what join and send raise on failure


def serve(lib: Library, out: Output, counts: Counters) -> None:
    """The command loop every Python runner shares; returns on stdin EOF or ``quit``."""
    for cmd in commands():
        name = cmd.get("cmd")
        if name == "join":
            t0 = time.monotonic()
            try:
                out.emit("joined", t0=t0, n=lib.join(list(cmd["seeds"])))
            except lib.errors as err:
                out.emit("joined", t0=t0, n=0, error=str(err))
        elif name == "bcast":
            ident = int(cmd["id"])
            lib.broadcast(payload(KIND_PROBE, ident, int(cmd.get("size", 100))), True)
            out.emit("bcast_sent", id=ident)
        elif name == "blast":
            threading.Thread(target=_blast, args=(lib, out, counts, cmd), daemon=True).start()
        elif name == "stats":
            out.emit("stats", **lib.stats(), **counts.as_dict())


def _blast(lib: Library, out: Output, counts: Counters, cmd: dict[str, Any]) -> None:
    """Throughput: direct messages to ``to`` or broadcasts, paced (see :func:`paced`)."""
    size = int(cmd.get("size") or 100)
    direct = cmd.get("kind") == "direct"
    target = str(cmd.get("to"))
    base = int.from_bytes(os.urandom(4), "big") << 24  # broadcast ids unique per blast

    def send(i: int) -> None:
        try:
            if direct:
                lib.send(target, payload(KIND_DIRECT, i, size))
                counts.sent_direct += 1
            else:
                lib.broadcast(payload(KIND_BCAST, base + i, size), False)
                counts.sent_bcast += 1
        except lib.errors:
            counts.send_errors += 1

    rate, duration = float(cmd.get("rate") or 0), float(cmd.get("duration") or 2)
    t0, t1, sent = paced(rate, duration, send)
    out.emit("blast_done", t0=t0, t1=t1, sent=sent, errors=counts.send_errors)
