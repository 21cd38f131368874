"""CPU cost of swimlib's per-packet hot paths, for before/after records of optimisations.

    python3 -m bench.hotpath [--seconds 20] [--messages 20000]

Two loopback nodes (``Config.local()``, memberlist's defaults incl. compression) in this
process. Prints microseconds of CPU per operation:

* ``seal ping``: ``PacketFramer.seal`` of an encoded ping (what every probe pays to send);
* ``receive ping``: ``Engine._handle_packet`` for a ping from the peer, incl. the ack it sends;
* ``send direct``: ``Cluster.send`` of a 100-byte best-effort message (calling thread only);
* ``message end to end``: process CPU per message while node A sends ``--messages`` direct
  messages to B as fast as it can (both nodes' threads, delivery included);
* ``idle``: process CPU of a 10-node idle cluster, as % of one core per node.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import swimlib
from swimlib.wire import codec
from swimlib.wire.messages import Ping


def per_op(fn: Callable[[], object], seconds: float = 1.0) -> float:
    """Microseconds of this thread's CPU per call, over about ``seconds``."""
    n = 0
    t0 = time.thread_time()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for _ in range(200):
            fn()
        n += 200
    return (time.thread_time() - t0) / n * 1e6


def start(name: str, **over: object) -> swimlib.Cluster:
    cfg = swimlib.Config.local(node_name=name, bind_addr="127.0.0.1", bind_port=0, **over)
    return swimlib.Cluster(cfg).start()


def wait(pred: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.01)


def packet_paths(results: dict[str, float], messages: int) -> None:
    a, b = start("hp-a"), start("hp-b")
    try:
        b.join([f"127.0.0.1:{a.port}"])
        wait(lambda: len(a.alive_members()) == 2, 10)
        eng_a, eng_b = a._engine, b._engine
        assert eng_a is not None and eng_b is not None
        ping = codec.encode(Ping(7, "hp-a", b"\x7f\x00\x00\x01", b.port, "hp-b"))
        results["seal ping"] = per_op(lambda: eng_b.framer.seal(ping, True, None))
        sealed = eng_b.framer.seal(ping, True, None)
        addr = ("127.0.0.1", b.port)
        results["receive ping"] = per_op(lambda: eng_a._handle_packet(sealed, addr))
        body = b"m" * 100
        results["send direct"] = per_op(lambda: a.send("hp-b", body))
        got = [0]
        b.on_message(lambda s, t, p: got.__setitem__(0, got[0] + 1))
        time.sleep(1.0)
        got[0] = 0
        c0 = time.process_time()
        for i in range(messages):
            a.send("hp-b", body)
            if i % 500 == 499:
                time.sleep(0.005)  # let the receiver keep up: loss is not what this measures
        wait(lambda: got[0] >= messages * 0.99, 30)
        results["message end to end"] = (time.process_time() - c0) / messages * 1e6
        results["received"] = got[0]
    finally:
        a.shutdown()
        b.shutdown()


def idle(results: dict[str, float], seconds: float) -> None:
    nodes = [start(f"idle-{i}") for i in range(10)]
    try:
        for c in nodes[1:]:
            c.join([f"127.0.0.1:{nodes[0].port}"])
        wait(lambda: all(len(c.alive_members()) == 10 for c in nodes), 30)
        time.sleep(2.0)
        c0, w0 = time.process_time(), time.monotonic()
        time.sleep(seconds)
        results["idle"] = (time.process_time() - c0) / (time.monotonic() - w0) * 100 / 10
    finally:
        for c in nodes:
            c.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="idle window")
    ap.add_argument("--messages", type=int, default=20000)
    args = ap.parse_args()
    results: dict[str, float] = {}
    packet_paths(results, args.messages)
    idle(results, args.seconds)
    for key in ("seal ping", "receive ping", "send direct", "message end to end"):
        print(f"{key:20s} {results[key]:8.1f} us/op")
    print(f"{'received':20s} {int(results['received'])}/{args.messages}")
    print(f"{'idle':20s} {results['idle']:8.3f} % of one core per node (10 nodes, local)")


if __name__ == "__main__":
    main()
