#!/usr/bin/env python3
"""One interop scenario between swimlib and real Go memberlist nodes; PASS or FAIL.

    scenario.py basic|encrypted|udp-only|go-joins [--peer interop/bin/peer]

Run by interop/scripts/test_interop*.sh, which build the Go peer first. Go nodes are
interop/bin/peer subprocesses (JSON events on stdout, JSON commands on stdin); Python nodes
are swimlib.Cluster objects in this process. Everything binds 127.0.0.1. The last line
printed is ``PASS <scenario>: ...`` (exit 0) or ``FAIL <scenario>: <reason>`` (exit 1).
"""

from __future__ import annotations

import argparse
import base64
import os
import queue
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import swimlib

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from gopeer import GO_TIMING, PY_TIMING, GoPeer, PeerTimeout  # noqa: E402  (interop/gopeer.py)

KEY = bytes(range(32))  # AES-256, shared by both sides in the encrypted scenario
KEY_B64 = base64.b64encode(KEY).decode()

# The shared timings, plus a retransmit multiplier with which Go broadcasts reach every node
# with near certainty (memberlist itself does not relay them).
GO_ARGS = [*GO_TIMING, "-retransmit-mult", "6"]

T0 = time.monotonic()


class Failed(Exception):
    """A scenario step did not happen in time; the message is the FAIL reason."""


def say(text: str) -> None:
    sys.stdout.write(f"[{time.monotonic() - T0:5.1f}s] {text}\n")
    sys.stdout.flush()


class World:
    """Every node of one scenario, torn down together."""

    def __init__(self, binary: Path, log_dir: Path) -> None:
        self.binary = binary
        self.log_dir = log_dir
        self.go: list[GoPeer] = []
        self.py: list[swimlib.Cluster] = []
        self.inboxes: dict[str, queue.Queue[tuple[str | None, str | None, bytes]]] = {}

    def go_node(self, name: str, *args: str) -> GoPeer:
        g = GoPeer(self.binary, name, [*GO_ARGS, *args], self.log_dir)
        self.go.append(g)
        say(f"Go node {name} (memberlist {g.version}) on {g.address}")
        return g

    def py_node(self, name: str, **overrides: Any) -> swimlib.Cluster:
        opts = dict(PY_TIMING)
        opts.update(overrides)
        cfg = swimlib.Config.local(node_name=name, bind_addr="127.0.0.1", bind_port=0, **opts)
        c = swimlib.Cluster(cfg).start()
        self.py.append(c)
        box: queue.Queue[tuple[str | None, str | None, bytes]] = queue.Queue()
        c.on_message(lambda s, t, p: box.put((s.name if s else None, t, p)))
        self.inboxes[name] = box
        say(f"Python node {name} on 127.0.0.1:{c.port}")
        return c

    def got_message(self, c: swimlib.Cluster, text: str, timeout: float) -> None:
        box = self.inboxes[c.config.node_name]
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed(f"{c.config.node_name}: no message {text!r} within {timeout:g} s")
            try:
                _, _, payload = box.get(timeout=left)
            except queue.Empty:
                continue
            if payload == text.encode():
                return

    def close(self) -> None:
        for c in self.py:
            c.shutdown()
        for g in self.go:
            g.stop()


def py_sees_alive(c: swimlib.Cluster, names: set[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = {m.name for m in c.members() if m.state == swimlib.NodeState.ALIVE}
        if names <= alive:
            return
        time.sleep(0.05)
    raise Failed(f"{c.config.node_name} does not see {sorted(names)} alive within {timeout:g} s")


def py_sees_state(c: swimlib.Cluster, name: str, states: set[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in c.members():
            if m.name == name and m.state.name.lower() in states:
                return m.state.name.lower()
        time.sleep(0.05)
    raise Failed(f"{c.config.node_name} does not see {name} {'/'.join(states)} in {timeout:g} s")


def converge(w: World, names: set[str], timeout: float = 15.0) -> float:
    start = time.monotonic()
    for c in w.py:
        py_sees_alive(c, names, timeout)
    for g in w.go:
        g.sees_alive(names, timeout)
    took = time.monotonic() - start
    say(f"all {len(names)} nodes see each other alive ({took:.1f} s)")
    return took


def messages_both_ways(w: World, g: GoPeer, p: swimlib.Cluster, tag: str) -> None:
    """Broadcasts and direct messages (UDP and TCP) from Go to Python and back."""
    pname = p.config.node_name
    g.send(cmd="broadcast", payload=f"{tag}: broadcast from Go", topic="news")
    w.got_message(p, f"{tag}: broadcast from Go", 10)
    g.send(cmd="send", to=pname, payload=f"{tag}: UDP from Go")
    w.got_message(p, f"{tag}: UDP from Go", 10)
    g.send(cmd="send", to=pname, payload=f"{tag}: TCP from Go", reliable=True)
    w.got_message(p, f"{tag}: TCP from Go", 10)
    say(f"{pname} received a broadcast, a UDP and a TCP message from {g.name}")
    p.broadcast(topic="news", payload=f"{tag}: broadcast from Python".encode())
    for other in w.go:
        other.got_message(f"{tag}: broadcast from Python", 10)
    p.send(target=g.name, payload=f"{tag}: UDP from Python".encode())
    g.got_message(f"{tag}: UDP from Python", 10)
    p.send(target=g.name, payload=f"{tag}: TCP from Python".encode(), reliable=True)
    g.got_message(f"{tag}: TCP from Python", 10)
    say(f"every Go node got {pname}'s broadcast; {g.name} got its UDP and TCP messages")


# --------------------------------------------------------------------------- scenarios


def basic(w: World) -> str:
    """A Python node joins a two-node Go cluster; messages flow both ways."""
    g1 = w.go_node("go-1")
    g2 = w.go_node("go-2", "-join", g1.address)
    g2.wait_for(lambda e: e["event"] == "joined" and e["n"] == 1, 10, what="join of go-1")
    p = w.py_node("py-1", meta=b"role=python")
    n = p.join([g1.address])
    say(f"py-1 joined through {g1.address} ({n} seed)")
    took = converge(w, {"go-1", "go-2", "py-1"})
    ev = g2.wait_for(
        lambda e: e["event"] == "join" and e["node"]["name"] == "py-1",
        5,
        what="join event for py-1",
    )
    if ev["node"]["meta"] != "role=python":
        raise Failed(f"go-2 sees py-1 meta {ev['node']['meta']!r}")
    messages_both_ways(w, g2, p, "basic")
    return f"Python joined a Go cluster of 2 (converged in {took:.1f} s), messages both ways"


def encrypted(w: World) -> str:
    """The same with one AES-256 key on every node; a keyless node cannot get in."""
    g1 = w.go_node("go-1", "-key", KEY_B64)
    g2 = w.go_node("go-2", "-key", KEY_B64, "-join", g1.address)
    g2.wait_for(lambda e: e["event"] == "joined" and e["n"] == 1, 10, what="join of go-1")
    p = w.py_node("py-1", secret_key=KEY_B64)
    p.join([g1.address])
    took = converge(w, {"go-1", "go-2", "py-1"})
    messages_both_ways(w, g1, p, "encrypted")
    intruder = w.py_node("py-nokey")
    try:
        intruder.join([g1.address])
    except swimlib.NoSeedsReachableError:
        say("a Python node without the key is refused by go-1")
    else:
        raise Failed("a node without the key joined the encrypted cluster")
    g3 = w.go_node("go-nokey", "-join", f"127.0.0.1:{p.port}")
    ev = g3.wait_for(lambda e: e["event"] == "joined", 10, what="join result")
    if ev["n"] != 0:
        raise Failed("a Go node without the key joined through py-1")
    say("a Go node without the key is refused by py-1")
    return f"AES-256 cluster of 2 Go + 1 Python (converged in {took:.1f} s), keyless nodes refused"


def udp_only(w: World) -> str:
    """No TCP pings, no periodic push/pull: after each join, membership spreads by UDP gossip.

    Only joins use TCP. py-1 joins first, so it learns of go-2 and py-2 (which join later
    through go-1) only from gossip; it must accept no TCP connection at all.
    """
    go_flags = ["-disable-tcp-pings", "-push-pull-interval", "0"]
    py_flags: dict[str, Any] = dict(disable_tcp_pings=True, push_pull_interval=0.0)
    g1 = w.go_node("go-1", *go_flags)
    p1 = w.py_node("py-1", **py_flags)
    p1.join([g1.address])
    g2 = w.go_node("go-2", *go_flags, "-join", g1.address)
    g2.wait_for(lambda e: e["event"] == "joined" and e["n"] == 1, 10, what="join of go-1")
    p2 = w.py_node("py-2", **py_flags)
    p2.join([g1.address])
    names = {"go-1", "go-2", "py-1", "py-2"}
    took = converge(w, names)
    accepted = p1.stats().get("tcp.accepted", 0)
    if accepted:
        raise Failed(f"py-1 accepted {accepted} TCP connection(s); expected gossip only")
    say("py-1 learnt go-2 and py-2 by UDP gossip alone (0 TCP connections accepted)")
    g2.send(cmd="send", to="py-1", payload="udp-only: UDP from Go")
    w.got_message(p1, "udp-only: UDP from Go", 10)
    p1.broadcast(topic="news", payload=b"udp-only: broadcast from Python")
    for g in (g1, g2):
        g.got_message("udp-only: broadcast from Python", 10)
    say("UDP messages flow both ways")
    g2.proc.kill()
    start = time.monotonic()
    state = py_sees_state(p1, "go-2", {"dead"}, 20)
    g1.wait_for(
        lambda e: e["event"] == "leave" and e["node"]["name"] == "go-2",
        20,
        what="go-2 declared dead",
    )
    detect = time.monotonic() - start
    say(f"go-2 killed: py-1 sees it {state} and go-1 too, by UDP probes ({detect:.1f} s)")
    accepted = p1.stats().get("tcp.accepted", 0)
    if accepted:
        raise Failed(f"py-1 accepted {accepted} TCP connection(s) during failure detection")
    return (
        f"4 nodes converged by UDP gossip in {took:.1f} s, crash detected in {detect:.1f} s "
        "without TCP"
    )


def go_joins(w: World) -> str:
    """A Go node joins a Python seed of a two-node Python cluster, then leaves gracefully."""
    p1 = w.py_node("py-1")
    p2 = w.py_node("py-2")
    p2.join([f"127.0.0.1:{p1.port}"])
    g = w.go_node("go-1", "-join", f"127.0.0.1:{p1.port}")
    ev = g.wait_for(lambda e: e["event"] == "joined", 10, what="join result")
    if ev["n"] != 1 or ev.get("error"):
        raise Failed(f"go-1 could not join py-1: {ev.get('error')}")
    say("go-1 joined through py-1")
    took = converge(w, {"py-1", "py-2", "go-1"})
    messages_both_ways(w, g, p2, "go-joins")
    g.send(cmd="leave", timeout="2s")
    g.wait_for(lambda e: e["event"] == "left", 10, what="leave to finish")
    for p in (p1, p2):
        py_sees_state(p, "go-1", {"left"}, 10)
    say("go-1 left gracefully: both Python nodes see it as left")
    return f"Go joined a Python cluster of 2 (converged in {took:.1f} s), messages, graceful leave"


SCENARIOS: dict[str, Callable[[World], str]] = {
    "basic": basic,
    "encrypted": encrypted,
    "udp-only": udp_only,
    "go-joins": go_joins,
}


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Failed(f"interrupted by signal {signum}")


def main() -> int:
    ap = argparse.ArgumentParser(description="One swimlib / Go memberlist interop scenario.")
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--peer", default=str(HERE.parent / "bin" / "peer"), help="Go peer binary")
    ap.add_argument("--logs", default="", help="directory for Go stderr logs (default: temp)")
    args = ap.parse_args()
    binary = Path(args.peer)
    if not os.access(binary, os.X_OK):
        print(f"FAIL {args.scenario}: Go peer {binary} not built")
        return 1
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with tempfile.TemporaryDirectory(prefix="swimlib-interop-") as tmp:
        log_dir = Path(args.logs) if args.logs else Path(tmp)
        log_dir.mkdir(parents=True, exist_ok=True)
        world = World(binary, log_dir)
        doc = (SCENARIOS[args.scenario].__doc__ or "").strip().splitlines()
        say(f"scenario {args.scenario}: {doc[0] if doc else ''}")
        try:
            summary = SCENARIOS[args.scenario](world)
        except (Failed, PeerTimeout) as err:
            result, ok = f"FAIL {args.scenario}: {err}", False
        except Exception as err:  # any other surprise is a failure with its reason
            result, ok = f"FAIL {args.scenario}: {type(err).__name__}: {err}", False
        else:
            result, ok = f"PASS {args.scenario}: {summary}", True
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            world.close()
        if not ok:
            for g in world.go:  # the end of each Go log helps explain a failure
                tail = (log_dir / f"{g.name}.stderr").read_text().splitlines()[-3:]
                for line in tail:
                    say(f"{g.name} stderr: {line}")
    print(f"{result} ({time.monotonic() - T0:.1f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
