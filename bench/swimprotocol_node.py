"""One swim-protocol benchmark node: ``python3 -m bench.swimprotocol_node --name n1``.

swim-protocol (PyPI, asyncio) implements plain SWIM without Lifeguard. What it cannot do is
reported by the orchestrator, not faked here:

* no user messages: no direct-message or broadcast throughput; the dissemination probe is a
  metadata change (key ``p``), the only thing it gossips;
* no encryption (packets are HMAC-signed pickles);
* a fixed suspicion timeout: set to memberlist's *minimum* suspicion timeout for the expected
  cluster size (``suspicion_mult * max(1, log10(n)) * protocol_interval``).

Its peers must be known when it is configured, so the node binds and reports a port at once but
only builds the cluster on the ``join`` command. Bytes sent are counted by wrapping its packer.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import socket
import sys
import threading
import time
from contextlib import AsyncExitStack
from typing import Any

from swimprotocol.members import Member, Members
from swimprotocol.status import Status
from swimprotocol.udp import UdpTransport
from swimprotocol.udp.config import UdpConfig
from swimprotocol.worker import Worker

from bench import noderun

STATES = {Status.ONLINE: "alive", Status.SUSPECT: "suspect", Status.OFFLINE: "dead"}


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (swim-protocol binds with SO_REUSEPORT)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise OSError("no free port")


class Node:
    def __init__(self, args: argparse.Namespace, out: noderun.Output) -> None:
        self.args = args
        self.out = out
        self.port = free_port()
        self.name = f"127.0.0.1:{self.port}"
        self.counts = noderun.Counters()
        self.sent_bytes = 0
        self.sent_packets = 0
        self.members: Members | None = None
        self._states: dict[str, str] = {}
        self._probe_ids: dict[str, str] = {}
        self._stack = AsyncExitStack()

    async def start(self, seeds: list[str]) -> None:
        p = noderun.PRESETS[self.args.preset]
        n = max(1, self.args.expect_n)
        interval = p["protocol_interval"]
        config = UdpConfig(
            local_name=self.name,
            peers=seeds,
            secret=b"bench",
            ping_interval=interval,
            ping_timeout=p["probe_timeout"],
            ping_req_count=int(p["indirect_checks"]),
            ping_req_timeout=interval - p["probe_timeout"],
            suspect_timeout=p["suspicion_mult"] * max(1.0, math.log10(n)) * interval,
            sync_interval=p["gossip_interval"],
        )
        members = Members(config)
        worker = Worker(config, members)
        transport = UdpTransport(config, worker)
        pack = transport.udp_pack.pack

        def counting_pack(packet: Any) -> Any:
            data = pack(packet)
            self.sent_bytes += len(data)
            self.sent_packets += 1
            return data

        transport.udp_pack.pack = counting_pack  # type: ignore[method-assign]
        await self._stack.enter_async_context(transport)
        await self._stack.enter_async_context(worker)
        await self._stack.enter_async_context(members.listener.on_notify(self._changed))
        self.members = members

    async def _changed(self, member: Member) -> None:
        if member.local:
            return
        state = STATES.get(member.status)
        if state is not None and self._states.get(member.name) != state:
            self._states[member.name] = state
            self.out.emit("member", node=self._node_name(member.name), state=state)
        probe = member.metadata.get("p")
        if probe is not None:
            text = probe.decode()
            if self._probe_ids.get(member.name) != text:
                self._probe_ids[member.name] = text
                self.counts.recv_probe += 1
                self.out.emit("bcast", id=int(text))

    def _node_name(self, addr: str) -> str:
        return str(self.args.names.get(addr, addr))

    def broadcast(self, ident: int) -> None:
        assert self.members is not None
        self.members.update(self.members.local, new_metadata={"p": str(ident).encode()})
        self.out.emit("bcast_sent", id=ident)

    def stats(self) -> None:
        online = 0
        if self.members is not None:
            online = 1 + len(self.members.get_status(Status.ONLINE))
        self.out.emit(
            "stats",
            udp_sent_bytes=self.sent_bytes,
            udp_sent=self.sent_packets,
            members=online,
            **self.counts.as_dict(),
        )

    async def close(self) -> None:
        await self._stack.aclose()


async def run(args: argparse.Namespace) -> None:
    out = noderun.Output()
    node = Node(args, out)
    out.emit("start", name=args.name, port=node.port, pid=os.getpid(), addr=node.name)
    loop = asyncio.get_running_loop()
    cmds: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def read() -> None:
        for cmd in noderun.commands():
            loop.call_soon_threadsafe(cmds.put_nowait, cmd)
        loop.call_soon_threadsafe(cmds.put_nowait, None)

    threading.Thread(target=read, name="bench-stdin", daemon=True).start()
    try:
        while True:
            cmd = await cmds.get()
            if cmd is None:
                break
            name = cmd.get("cmd")
            if name == "join":
                t0 = time.monotonic()
                # Orchestrator names (n0, n1, ...) for the addresses it passes, so events use
                # the same names as every other system.
                args.names.update(cmd.get("names", {}))
                await node.start(list(cmd["seeds"]))
                out.emit("joined", t0=t0, n=len(cmd["seeds"]))
            elif name == "bcast" and node.members is not None:
                node.broadcast(int(cmd["id"]))
            elif name == "stats":
                node.stats()
            elif name == "blast":
                out.emit("blast_done", error="swim-protocol has no user messages", sent=0)
    finally:
        await node.close()
        out.emit("exit")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--preset", choices=("lan", "local"), default="lan")
    ap.add_argument("--expect-n", type=int, default=10, help="cluster size (suspicion timeout)")
    ap.add_argument("--key", default="")
    args = ap.parse_args()
    if args.key:
        sys.exit("swim-protocol has no encryption")
    args.names = {}
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
