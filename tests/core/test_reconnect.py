"""Self-healing: failed members are retried, so a healed partition merges again."""

from __future__ import annotations

import random

from harness import Net

from swimlib.config import Config
from swimlib.core.effects import PushPullRequest
from swimlib.core.members import Member
from swimlib.core.protocol import SwimCore
from swimlib.core.reconnect import MAX_REMEMBERED_FAILED, FailedMembers
from swimlib.events import JoinEvent
from swimlib.node import NodeState
from swimlib.wire import codec
from swimlib.wire.messages import Alive, Dead

VSN = b"\x01\x05\x02\x00\x00\x00"
A = ("127.0.0.1", 9000)


def _split_and_reaped(n: int, reconnect: float) -> tuple[Net, list[SwimCore]]:
    """n nodes joined, then cut in two halves for 55 s: each side reaps the other."""
    net = Net()
    cfg = Config.local(node_name="x", reconnect_interval=reconnect, gossip_to_the_dead_time=5.0)
    nodes = [net.add(f"n{i}", cfg) for i in range(n)]
    for node in nodes[1:]:
        net.join(node, nodes[0])
    net.run_until(5.0)
    left, right = nodes[: n // 2], nodes[n // 2 :]
    for a in left:
        for b in right:
            net.blocked |= {(net.addr(a), net.addr(b)), (net.addr(b), net.addr(a))}
    net.run_until(60.0)
    for a in left:
        assert all(net.state(a, b.name) is None for b in right)
    net.blocked.clear()
    return net, nodes


def test_partition_longer_than_reaping_merges_again_after_heal() -> None:
    net, nodes = _split_and_reaped(6, reconnect=5.0)
    net.run_until(60.0 + 5.0 + 10.0)
    for a in nodes:
        assert all(net.state(a, b.name) == NodeState.ALIVE for b in nodes), a.name
    joins = [e for e in net.events["n0"] if isinstance(e, JoinEvent) and e.node.name == "n3"]
    assert joins[-1].rejoined  # back from the other side of the partition


def test_without_reconnect_the_halves_stay_apart() -> None:
    net, nodes = _split_and_reaped(4, reconnect=0.0)
    net.run_until(120.0)
    assert net.state(nodes[0], "n3") is None  # the memberlist behaviour the reconnect fixes


def test_reconnect_targets_only_failed_not_left_members() -> None:
    core = SwimCore(
        Config.local(node_name="me", reconnect_interval=1.0), random.Random(3), "127.0.0.1", 7946
    )
    core.start(0.0)
    for i, name in enumerate(("dead", "gone")):
        alive = Alive(1, name, b"\x7f\x00\x00\x01", 9000 + i, b"", VSN)
        core.receive_packet(codec.encode(alive), A, 0.0)
    core.receive_packet(codec.encode(Dead(1, "dead", "me")), A, 0.5)
    core.receive_packet(codec.encode(Dead(1, "gone", "gone")), A, 0.5)
    assert core.failed_count() == 1
    targets = set()
    now = 0.0
    while now < 30.0:
        now += 0.5
        for e in core.handle_timers(now):
            if isinstance(e, PushPullRequest) and e.message.join:
                targets.add(e.addr)
    assert targets == {("127.0.0.1", 9000)}


def test_failed_memory_is_bounded_and_expires() -> None:
    failed = FailedMembers(timeout=10.0)
    for i in range(MAX_REMEMBERED_FAILED + 10):
        failed.remember(Member(f"m{i}", b"\x7f\x00\x00\x01", 1, b"", 0.0), float(i) / 1e4)
    assert len(failed) == MAX_REMEMBERED_FAILED and "m0" not in failed
    failed.expire(100.0)
    assert len(failed) == 0
