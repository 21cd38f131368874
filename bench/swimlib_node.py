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
from typing import Any

import swimlib
from bench import noderun
from swimlib.events import AliveEvent, EventsLost, JoinEvent, LeaveEvent, SuspectEvent
from swimlib.node import NodeState

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

    cluster.on_message(lambda sender, topic, data: counts.received(data, out))

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
            if state is not None and not isinstance(ev, EventsLost):
                out.emit("member", node=ev.node.name, state=state)

    threading.Thread(target=pump_events, name="bench-events", daemon=True).start()
    out.emit("start", name=args.name, port=cluster.port, pid=os.getpid())

    def stats() -> dict[str, Any]:
        s = cluster.stats()
        return {
            "udp_sent_bytes": s.get("udp.sent_bytes", 0),
            "udp_sent": s.get("udp.sent", 0),
            "members": len(cluster.alive_members()),
            "health": cluster.health_score(),
        }

    lib = noderun.Library(
        join=cluster.join,
        broadcast=lambda data, probe: cluster.broadcast(
            data, topic=PROBE_TOPIC if probe else BCAST_TOPIC
        ),
        send=cluster.send,
        stats=stats,
        errors=(swimlib.SwimError,),
    )
    try:
        noderun.serve(lib, out, counts)
    finally:
        stop.set()
        cluster.shutdown()
        out.emit("exit")


if __name__ == "__main__":
    main()
