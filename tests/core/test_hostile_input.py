"""Hostile peers against the core: forged accusations, oversized envelopes, bad identities.

Each test is a defect from the adversarial review (issue 13) that the previous code had.
"""

from __future__ import annotations

import random

from harness import Net

from swimlib.config import Config
from swimlib.core.protocol import SwimCore
from swimlib.node import NodeState
from swimlib.wire import codec, envelope
from swimlib.wire.limits import MAX_INCARNATION, MAX_INCARNATION_JUMP
from swimlib.wire.messages import Alive, Dead, Suspect, User

A = ("127.0.0.1", 9000)
VSN = b"\x01\x05\x02\x00\x00\x00"
TOP = MAX_INCARNATION


def make_core(name: str = "me", **kw: object) -> SwimCore:
    core = SwimCore(Config.local(node_name=name, **kw), random.Random(7), "127.0.0.1", 7946)
    core.start(0.0)
    return core


def three_nodes() -> tuple[Net, SwimCore, SwimCore, SwimCore]:
    net = Net()
    a, b, c = net.add("a"), net.add("b"), net.add("c")
    net.join(b, a)
    net.join(c, a)
    net.run_until(3.0)
    assert all(net.state(x, y) == NodeState.ALIVE for x in (a, b, c) for y in "abc")
    return net, a, b, c


def test_forged_accusation_at_top_incarnation_sent_to_one_peer_evicts_nobody() -> None:
    net, a, b, c = three_nodes()
    for forged in (Suspect(TOP, "c", "evil"), Dead(TOP, "c", "evil")):
        a.receive_packet(codec.encode(forged), A, net.now)
    net.run_until(net.now + 30.0)
    assert all(net.state(x, "c") == NodeState.ALIVE for x in (a, b, c))
    assert a.drops["implausible_incarnation"] == 2


def test_forged_accusation_sent_to_the_victim_is_dropped_not_refuted() -> None:
    net, a, b, c = three_nodes()
    before = c.incarnation
    c.receive_packet(codec.encode(Suspect(TOP, "c", "evil")), A, net.now)
    assert c.incarnation == before and c.drops["implausible_incarnation"] == 1
    net.run_until(net.now + 20.0)
    assert all(net.state(x, "c") == NodeState.ALIVE for x in (a, b, c))


def test_plausible_accusation_is_still_refuted() -> None:
    core = make_core()
    core.receive_packet(codec.encode(Suspect(1 + MAX_INCARNATION_JUMP, "me", "x")), A, 1.0)
    assert core.incarnation == 2 + MAX_INCARNATION_JUMP


def test_refutation_never_puts_an_incarnation_above_u32_on_the_wire() -> None:
    core = make_core()
    for _ in range(TOP // MAX_INCARNATION_JUMP + 2):
        accused = min(core.incarnation + MAX_INCARNATION_JUMP, TOP)
        core.receive_packet(codec.encode(Suspect(accused, "me", "x")), A, 1.0)
        assert core.incarnation <= TOP
    assert core.incarnation > TOP - 2 * MAX_INCARNATION_JUMP  # it did climb to the ceiling
    assert core.drops["incarnation_exhausted"] >= 1
    for raw in core.broadcasts.get_broadcasts(2, 1 << 20):
        msg = codec.decode(raw)  # a Go peer decodes what we queue: uint32 incarnations
        assert isinstance(msg, Alive) and msg.incarnation <= TOP


def test_alive_far_above_the_known_incarnation_is_dropped() -> None:
    core = make_core()
    core.receive_packet(codec.encode(Alive(1, "b", b"\x7f\x00\x00\x01", 9000, b"", VSN)), A, 0.0)
    core.receive_packet(codec.encode(Alive(TOP, "b", b"\x7f\x00\x00\x01", 9000, b"", VSN)), A, 1.0)
    node = core.member("b")
    assert node is not None and node.incarnation == 1
    assert core.drops["implausible_incarnation"] == 1


def _relayed_envelope(size: int, msg_id: int) -> bytes:
    return envelope.wrap("t", "far", b"x" * size, msg_id=msg_id, broadcast=True)


def test_envelope_too_large_for_our_packets_is_delivered_but_not_relayed() -> None:
    core = make_core()
    big = _relayed_envelope(8400, 1)
    effects = core.handle_stream(User(big), A, 1.0)
    assert [type(e).__name__ for e in effects] == ["DeliverMessage"]
    assert core.user_backlog() == 0 and core.drops["relay_too_large"] == 1
    small = _relayed_envelope(100, 2)
    core.handle_stream(User(small), A, 1.0)
    assert core.user_backlog() == 1


def test_identity_limits_on_names_and_meta_from_peers() -> None:
    core = make_core()
    addr = b"\x7f\x00\x00\x01"
    cases = {
        "bad_name": [
            Alive(1, "n" * 10_000, addr, 9000, b"", VSN),
            Alive(1, b"\xff\xfe".decode("utf-8", "surrogateescape"), addr, 9001, b"", VSN),
        ],
        "meta_too_large": [Alive(1, "m", addr, 9002, b"x" * 513, VSN)],
    }
    for reason, msgs in cases.items():
        for msg in msgs:
            core.receive_packet(codec.encode(msg), A, 1.0)
        assert core.drops[reason] == len(msgs)
    assert [n.name for n in core.members()] == ["me"]
    assert [name for name, _ in core.broadcasts.pending()] == ["me"]  # nothing re-gossiped
