"""Figures for a 10-node loopback cluster with Config.local() timings (one process).

    python bench/local_cluster.py [--nodes 10] [--runs 3]

Measures, per run: time until every node sees every other after the joins, time until a
topic broadcast reached every node, and time from a crash (shutdown without leave) until
each survivor marks the node DEAD (first and last survivor).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import swimlib


def wait(pred: object, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pred():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.005)
    raise TimeoutError


def one_run(n: int) -> dict[str, float]:
    nodes = [
        swimlib.Cluster(
            swimlib.Config.local(node_name=f"n{i}", bind_addr="127.0.0.1", bind_port=0)
        ).start()
        for i in range(n)
    ]
    try:
        t0 = time.monotonic()
        for c in nodes[1:]:
            c.join([f"127.0.0.1:{nodes[0].port}"])
        wait(lambda: all(len(c.alive_members()) == n for c in nodes), 60)
        converge = time.monotonic() - t0

        got: dict[str, float] = {}
        lock = threading.Lock()
        for c in nodes:
            name = c.config.node_name

            def on_msg(s: object, t: object, p: bytes, name: str = name) -> None:
                with lock:
                    got.setdefault(name, time.monotonic())

            c.on_message(on_msg)
        t0 = time.monotonic()
        nodes[3].broadcast(topic="bench", payload=b"x" * 100)
        wait(lambda: len(got) == n - 1, 30)
        broadcast = max(got.values()) - t0

        victim = nodes.pop()
        vname = victim.config.node_name
        victim.shutdown()
        t0 = time.monotonic()
        seen: dict[str, float] = {}
        while len(seen) < len(nodes) and time.monotonic() - t0 < 60:
            for c in nodes:
                if c.config.node_name not in seen and any(
                    m.name == vname and m.state == swimlib.NodeState.DEAD for m in c.members()
                ):
                    seen[c.config.node_name] = time.monotonic() - t0
            time.sleep(0.005)
        return {
            "converge": converge,
            "broadcast_all": broadcast,
            "dead_first": min(seen.values()),
            "dead_all": max(seen.values()),
        }
    finally:
        for c in nodes:
            c.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    runs = [one_run(args.nodes) for _ in range(args.runs)]
    print(f"{args.nodes} nodes, Config.local(), {args.runs} runs (seconds: median [min-max])")
    for key in runs[0]:
        vals = [r[key] for r in runs]
        print(f"  {key:14s} {statistics.median(vals):7.3f}  [{min(vals):.3f}-{max(vals):.3f}]")


if __name__ == "__main__":
    main()
