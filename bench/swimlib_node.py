"""One swimlib benchmark node: ``python3 -m bench.swimlib_node --name n1 --preset lan``.

Starts a :class:`swimlib.Cluster` with the preset (memberlist's LAN or Local values, exactly),
reports membership changes and probe-broadcast arrivals as JSON lines with monotonic times,
and obeys the commands of :mod:`bench.noderun`. Broadcasts use a topic, so every swimlib node
relays them once (as the Go node relays its broadcasts); direct messages are raw UDP sends.
"""

from __future__ import annotations

import argparse
import os
import queue
import threading
import time
from typing import Any

import swimlib
from bench import noderun
from swimlib.events import AliveEvent, JoinEvent, LeaveEvent, SuspectEvent
from swimlib.node import Node, NodeState

PROBE_TOPIC = "p"
BCAST_TOPIC = "q"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--preset", choices=("lan", "local"), default="lan")
    ap.add_argument("--key", default="", help="base64 AES key: encrypt")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()

    overrides: dict[str, object] = {}
    if args.key:
        overrides["secret_key"] = args.key
    make = swimlib.Config.lan if args.preset == "lan" else swimlib.Config.local
    cfg = make(node_name=args.name, bind_addr="127.0.0.1", bind_port=args.port, **overrides)
    cluster = swimlib.Cluster(cfg).start()
    out = noderun.Output()
    counts = noderun.Counters()
    stop = threading.Event()

    def on_message(sender: Node | None, topic: str | None, data: bytes) -> None:
        parsed = noderun.parse(data)
        if parsed is None:
            return
        kind, ident = parsed
        if kind == noderun.KIND_DIRECT:
            counts.recv_direct += 1
        elif kind == noderun.KIND_BCAST:
            counts.recv_bcast += 1
        elif kind == noderun.KIND_PROBE:
            counts.recv_probe += 1
            out.emit("bcast", id=ident)

    cluster.on_message(on_message)

    def pump_events() -> None:
        while not stop.is_set():
            try:
                ev = cluster.events.get(timeout=0.5)
            except queue.Empty:
                continue
            state = None
            if isinstance(ev, (JoinEvent, AliveEvent)):
                state = "alive"
            elif isinstance(ev, SuspectEvent):
                state = "suspect"
            elif isinstance(ev, LeaveEvent):
                state = "left" if ev.node.state == NodeState.LEFT else "dead"
            if state is not None:
                out.emit("member", node=ev.node.name, state=state)

    threading.Thread(target=pump_events, name="bench-events", daemon=True).start()
    out.emit("start", name=args.name, port=cluster.port, pid=os.getpid())

    def stats() -> None:
        s = cluster.stats()
        out.emit(
            "stats",
            udp_sent_bytes=s.get("udp.sent_bytes", 0),
            udp_sent=s.get("udp.sent", 0),
            members=len(cluster.alive_members()),
            health=cluster.health_score(),
            **counts.as_dict(),
        )

    def blast(cmd: dict[str, Any]) -> None:
        size = int(cmd.get("size") or 100)
        rate = float(cmd.get("rate") or 0)
        duration = float(cmd.get("duration") or 2)
        base = int.from_bytes(os.urandom(4), "big") << 24
        if cmd.get("kind") == "direct":
            target = str(cmd["to"])

            def send(i: int) -> None:
                try:
                    cluster.send(target, noderun.payload(noderun.KIND_DIRECT, i, size))
                except swimlib.SwimError:
                    counts.send_errors += 1
                counts.sent_direct += 1

        else:

            def send(i: int) -> None:
                data = noderun.payload(noderun.KIND_BCAST, base + i, size)
                cluster.broadcast(data, topic=BCAST_TOPIC)
                counts.sent_bcast += 1

        t0, t1, sent = noderun.paced(rate, duration, send)
        out.emit("blast_done", t0=t0, t1=t1, sent=sent, errors=counts.send_errors)

    try:
        for cmd in noderun.commands():
            name = cmd.get("cmd")
            if name == "join":
                t0 = time.monotonic()
                try:
                    n = cluster.join(cmd["seeds"])
                    out.emit("joined", t0=t0, n=n)
                except swimlib.SwimError as err:
                    out.emit("joined", t0=t0, n=0, error=str(err))
            elif name == "bcast":
                ident = int(cmd["id"])
                data = noderun.payload(noderun.KIND_PROBE, ident, int(cmd.get("size", 100)))
                cluster.broadcast(data, topic=PROBE_TOPIC)
                out.emit("bcast_sent", id=ident)
            elif name == "blast":
                threading.Thread(target=blast, args=(cmd,), daemon=True).start()
            elif name == "stats":
                stats()
    finally:
        stop.set()
        cluster.shutdown()
        out.emit("exit")


if __name__ == "__main__":
    main()
