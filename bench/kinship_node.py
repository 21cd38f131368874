"""One kinship benchmark node: ``python3 -m bench.kinship_node --name n1 --preset lan``.

kinship (PyPI) is SWIM + Lifeguard in Rust with a Python API. It has its own presets, so the
runner sets every timing that has a memberlist counterpart to memberlist's preset values
(:data:`bench.noderun.PRESETS`). Encryption is kinship's own (XChaCha20-Poly1305, 32-byte key);
broadcasts are disseminated by kinship itself (each member reads one once).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import threading
from typing import Any

import kinship

from bench import noderun


def make_config(name: str, preset: str, key: str) -> Any:
    p = noderun.PRESETS[preset]
    fields: dict[str, Any] = dict(
        name=name,
        bind="127.0.0.1:0",
        probe_interval=p["protocol_interval"],
        probe_timeout=p["probe_timeout"],
        indirect_checks=int(p["indirect_checks"]),
        suspicion_mult=int(p["suspicion_mult"]),
        suspicion_max_mult=int(p["suspicion_max_timeout_mult"]),
        expected_confirmations=max(0, int(p["suspicion_mult"]) - 2),
        awareness_max=int(p["awareness_max_multiplier"]),
        gossip_interval=p["gossip_interval"],
        gossip_nodes=int(p["gossip_nodes"]),
        retransmit_mult=int(p["retransmit_mult"]),
        push_pull_interval=p["push_pull_interval"],
        gossip_to_the_dead=p["gossip_to_the_dead_time"],
        tcp_fallback_ping=True,
        tcp_timeout=p["tcp_timeout"],
    )
    if key:
        fields["keys"] = [key]
    else:
        fields["insecure_plaintext"] = True
    make = kinship.Config.lan if preset == "lan" else kinship.Config.local
    return make(**fields)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--preset", choices=("lan", "local"), default="lan")
    ap.add_argument("--key", default="", help="base64 32-byte key: encrypt")
    args = ap.parse_args()

    cluster = kinship.blocking.Cluster(make_config(args.name, args.preset, args.key)).start()
    out = noderun.Output()
    counts = noderun.Counters()
    stop = threading.Event()

    def pump_events() -> None:
        for ev in cluster.events(timeout=0.5):
            if stop.is_set():
                return
            if ev is None:
                continue
            if isinstance(ev, kinship.UserMessage):
                counts.received(ev.data, out)
                continue
            state = {
                kinship.MemberJoined: "alive",
                kinship.MemberRecovered: "alive",
                kinship.MemberSuspect: "suspect",
                kinship.MemberDead: "dead",
                kinship.MemberLeft: "left",
            }.get(type(ev))
            if state is not None:
                out.emit("member", node=ev.member.name, state=state)  # type: ignore[union-attr]

    threading.Thread(target=pump_events, name="bench-events", daemon=True).start()
    port = int(cluster.local.addr.rsplit(":", 1)[1])
    out.emit("start", name=args.name, port=port, pid=os.getpid())

    lib = noderun.Library(
        join=lambda seeds: cluster.join(seeds, timeout=30),
        broadcast=lambda data, probe: cluster.broadcast(data),
        send=cluster.send,
        stats=lambda: {
            "members": len(cluster.members()),
            "lib": dataclasses.asdict(cluster.stats()),
        },
        errors=(kinship.KinshipError, TimeoutError),
    )
    try:
        noderun.serve(lib, out, counts)
    finally:
        stop.set()
        cluster.close(0.5)
        out.emit("exit")


if __name__ == "__main__":
    main()
