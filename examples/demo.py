"""A five-node swimlib cluster on loopback: join, broadcast, direct message, crash, leave.

Run:  python examples/demo.py        (exits by itself in well under a minute)
"""

from __future__ import annotations

import logging
import queue
import sys
import time

import swimlib

N = 5


def wait_for(what: str, predicate: object, timeout: float) -> float:
    """Poll ``predicate`` until true; return the seconds it took (exit 1 on timeout)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.02)
    print(f"FAILED: {what} did not happen within {timeout:.0f}s")
    sys.exit(1)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    inboxes: dict[str, queue.Queue[tuple[str | None, str | None, bytes]]] = {}
    nodes: list[swimlib.Cluster] = []
    for i in range(N):
        name = f"node-{i}"
        cfg = swimlib.Config.local(node_name=name, bind_addr="127.0.0.1", bind_port=0)
        c = swimlib.Cluster(cfg).start()
        box: queue.Queue[tuple[str | None, str | None, bytes]] = queue.Queue()
        inboxes[name] = box
        c.on_message(lambda s, t, p, box=box: box.put((s.name if s else None, t, p)))
        nodes.append(c)
        print(f"started {name} on 127.0.0.1:{c.port}")

    seed = f"127.0.0.1:{nodes[0].port}"
    for c in nodes[1:]:
        c.join([seed])

    def converged(group: list[swimlib.Cluster], n: int) -> bool:
        return all(len(c.alive_members()) == n for c in group)

    t = wait_for("convergence", lambda: converged(nodes, N), 30)
    print(f"joined: every node sees {N} alive members after {t:.2f}s")

    nodes[1].broadcast(topic="config", payload=b"version=2")
    got = {c.config.node_name: False for c in nodes if c is not nodes[1]}

    def all_got_broadcast() -> bool:
        for name in got:
            try:
                while not got[name]:
                    _sender, topic, payload = inboxes[name].get_nowait()
                    got[name] = topic == "config" and payload == b"version=2"
            except queue.Empty:
                pass
        return all(got.values())

    t = wait_for("broadcast delivery", all_got_broadcast, 15)
    print(f"broadcast 'config'=b'version=2' from node-1 reached all {N - 1} peers in {t:.2f}s")

    nodes[2].send(target="node-3", topic="greeting", payload=b"hello node-3")
    sender, topic, payload = inboxes["node-3"].get(timeout=5)
    print(f"direct message: node-3 got {payload!r} on topic {topic!r} from {sender}")
    nodes[3].send(target="node-2", topic="greeting", payload=b"hi back, over TCP", reliable=True)
    sender, topic, payload = inboxes["node-2"].get(timeout=5)
    print(f"reliable message: node-2 got {payload!r} on topic {topic!r} from {sender}")

    crashed = nodes.pop(4)
    crashed.shutdown()
    print("node-4 crashed (shut down without leaving)")

    def state_of(c: swimlib.Cluster, name: str) -> swimlib.NodeState | None:
        for m in c.members():
            if m.name == name:
                return m.state
        return None

    t = wait_for(
        "crash detection",
        lambda: all(state_of(c, "node-4") == swimlib.NodeState.DEAD for c in nodes),
        40,
    )
    print(f"failure detected: every survivor marks node-4 DEAD after {t:.2f}s")

    leaver = nodes.pop(3)
    leaver.leave(timeout=5)
    leaver.shutdown()
    t = wait_for(
        "leave", lambda: all(state_of(c, "node-3") == swimlib.NodeState.LEFT for c in nodes), 15
    )
    print(f"graceful leave: every remaining node marks node-3 LEFT after {t:.2f}s")

    events: list[str] = []
    while True:
        try:
            ev = nodes[0].events.get_nowait()
        except queue.Empty:
            break
        if isinstance(ev, swimlib.EventsLost):
            events.append(f"EventsLost({ev.count})")
        else:
            events.append(f"{type(ev).__name__}({ev.node.name}:{ev.node.state.name})")
    print("node-0 events:", ", ".join(events))
    for c in nodes:
        c.shutdown()
    print("demo finished OK")


if __name__ == "__main__":
    main()
