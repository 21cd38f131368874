"""SwimCore rules with explicit time and seeded randomness (no sockets, no threads)."""

from __future__ import annotations

import random

import pytest
from harness import Net, decode_sent

from swimlib.config import Config
from swimlib.core.effects import (
    Effect,
    LeaveFinished,
    Notice,
    PublishEvent,
    PushPullRejected,
    PushPullRequest,
    SendPacket,
)
from swimlib.core.protocol import SwimCore
from swimlib.events import (
    AliveEvent,
    ConflictEvent,
    JoinEvent,
    LeaveEvent,
    SuspectEvent,
    UpdateEvent,
)
from swimlib.node import Node, NodeState
from swimlib.wire import codec
from swimlib.wire.crc import strip_crc
from swimlib.wire.messages import (
    Ack,
    Alive,
    Compound,
    Dead,
    IndirectPing,
    Message,
    Nack,
    Ping,
    PushNodeState,
    PushPull,
    Suspect,
)

A = ("127.0.0.1", 9000)


def make_core(name: str = "me", **kw: object) -> SwimCore:
    cfg = Config.local(node_name=name, **kw)
    core = SwimCore(cfg, random.Random(7), "127.0.0.1", 7946)
    core.start(0.0)
    return core


def known(core: SwimCore, name: str) -> Node:
    """The core's record of ``name``, which the test expects to exist."""
    node = core.member(name)
    assert node is not None, name
    return node


def merge(core: SwimCore, remote: PushPull, now: float) -> list[Effect]:
    """The core merges a push/pull answer to a request of its own."""
    return core.push_pull_reply(remote, A, 1, now)


def alive(name: str, inc: int = 1, port: int = 9000, meta: bytes = b"") -> Alive:
    return Alive(inc, name, b"\x7f\x00\x00\x01", port, meta, b"\x01\x05\x02\x00\x00\x00")


def sent_msgs(
    effects: list[Effect], probes_only: bool = True
) -> list[tuple[tuple[str, int], Message]]:
    """Messages in SendPacket effects; by default only probe traffic (no gossip)."""
    out: list[tuple[tuple[str, int], Message]] = []
    for e in effects:
        if isinstance(e, SendPacket):
            m = codec.decode(e.data)
            if isinstance(m, Compound):
                out.extend((e.addr, codec.decode(p)) for p in m.parts)
            else:
                out.append((e.addr, m))
    if probes_only:
        out = [(a, m) for a, m in out if isinstance(m, (Ping, Ack, Nack, IndirectPing))]
    return out


def test_ping_is_answered_with_ack_to_source_fields() -> None:
    core = make_core()
    eff = core.receive_packet(codec.encode(Ping(42, "me", b"\x7f\x00\x00\x02", 5555, "x")), A, 1.0)
    msgs = sent_msgs(eff)
    assert msgs[0] == (("127.0.0.2", 5555), Ack(42))


def test_ping_for_another_node_is_dropped() -> None:
    core = make_core()
    assert core.receive_packet(codec.encode(Ping(1, "someone-else")), A, 1.0) == []
    assert core.drops["ping_wrong_node"] == 1


def test_unknown_alive_creates_member_and_join_event_and_rebroadcast() -> None:
    core = make_core()
    eff = core.receive_packet(codec.encode(alive("b")), A, 1.0)
    assert [type(e.event) for e in eff if hasattr(e, "event")] == [JoinEvent]
    assert core.member("b") is not None and known(core, "b").state == NodeState.ALIVE
    assert ("b", 0) in core.broadcasts.pending()


def test_alive_with_old_incarnation_is_ignored_and_meta_change_is_update() -> None:
    core = make_core()
    core.receive_packet(codec.encode(alive("b", 5)), A, 1.0)
    assert core.receive_packet(codec.encode(alive("b", 5, meta=b"x")), A, 1.1) == []
    eff = core.receive_packet(codec.encode(alive("b", 6, meta=b"x")), A, 1.2)
    assert [type(e.event) for e in eff if hasattr(e, "event")] == [UpdateEvent]


def test_alive_with_conflicting_address_is_ignored() -> None:
    core = make_core()
    core.receive_packet(codec.encode(alive("b", 1, port=9000)), A, 1.0)
    eff = core.receive_packet(codec.encode(alive("b", 9, port=9999)), A, 1.0)
    events = [e.event for e in eff if isinstance(e, PublishEvent)]
    assert events == [ConflictEvent(events[0].node, ("127.0.0.1", 9999))]
    assert events[0].node.port == 9000  # the known member is kept
    assert [e.key for e in eff if isinstance(e, Notice)] == ["address_conflict"]
    assert known(core, "b").port == 9000
    assert core.drops["address_conflict"] == 1


def test_left_node_name_can_be_reclaimed_by_new_address() -> None:
    core = make_core()
    core.receive_packet(codec.encode(alive("b", 1, port=9000)), A, 1.0)
    core.receive_packet(codec.encode(Dead(1, "b", "b")), A, 2.0)
    assert known(core, "b").state == NodeState.LEFT
    eff = core.receive_packet(codec.encode(alive("b", 1, port=9999)), A, 3.0)
    assert known(core, "b").port == 9999
    assert [type(e.event) for e in eff if hasattr(e, "event")] == [JoinEvent]


def test_suspect_about_self_is_refuted_with_higher_incarnation() -> None:
    # memberlist TestMemberList_SuspectNode_Refute / state_test.go
    core = make_core()
    eff = core.receive_packet(codec.encode(Suspect(5, "me", "b")), A, 1.0)
    assert core.incarnation == 6
    assert core.local_node().state == NodeState.ALIVE
    assert core.health_score() == 1
    # the refutation is queued for gossip; the only effect is the operator notice
    assert [(type(e), getattr(e, "key", None)) for e in eff] == [(Notice, "refute_suspect")]
    queued = core.broadcasts.get_broadcasts(2, 1400)
    assert codec.decode(queued[0]) == Alive(6, "me", b"\x7f\x00\x00\x01", 7946, b"", core.vsn)


def test_dead_about_self_is_refuted_unless_leaving() -> None:
    core = make_core()
    core.receive_packet(codec.encode(Dead(3, "me", "b")), A, 1.0)
    assert core.incarnation == 4 and core.local_node().state == NodeState.ALIVE


def test_suspect_then_timeout_declares_dead() -> None:
    core = make_core()
    core.receive_packet(codec.encode(alive("b")), A, 0.0)
    eff = core.receive_packet(codec.encode(Suspect(1, "b", "c")), A, 0.0)
    assert [type(e.event) for e in eff if hasattr(e, "event")] == [SuspectEvent]
    # n=2 members: k=0 confirmations wanted, so the timer runs at the minimum:
    # suspicion_mult(3) * max(1, log10(2)) * 1 s = 3 s.
    assert [e for e in core.handle_timers(2.99) if hasattr(e, "event")] == []
    assert known(core, "b").state == NodeState.SUSPECT
    eff = core.handle_timers(3.0)
    assert [type(e.event) for e in eff if hasattr(e, "event")] == [LeaveEvent]
    assert known(core, "b").state == NodeState.DEAD


def test_alive_with_higher_incarnation_clears_suspicion() -> None:
    core = make_core()
    core.receive_packet(codec.encode(alive("b")), A, 0.0)
    core.receive_packet(codec.encode(Suspect(1, "b", "c")), A, 0.0)
    eff = core.receive_packet(codec.encode(alive("b", 2)), A, 1.0)
    assert [type(e.event) for e in eff if hasattr(e, "event")] == [AliveEvent]
    core.handle_timers(100.0)
    assert known(core, "b").state == NodeState.ALIVE


def test_dead_with_from_equal_node_means_left() -> None:
    core = make_core()
    core.receive_packet(codec.encode(alive("b")), A, 0.0)
    eff = core.receive_packet(codec.encode(Dead(1, "b", "b")), A, 1.0)
    ev = [e.event for e in eff if hasattr(e, "event")]
    assert isinstance(ev[0], LeaveEvent) and ev[0].node.state == NodeState.LEFT


def test_old_dead_is_ignored() -> None:
    core = make_core()
    core.receive_packet(codec.encode(alive("b", 5)), A, 0.0)
    core.receive_packet(codec.encode(Dead(4, "b", "c")), A, 1.0)
    assert known(core, "b").state == NodeState.ALIVE


def test_indirect_ping_is_relayed_and_ack_forwarded() -> None:
    core = make_core()
    ind = IndirectPing(77, b"\x7f\x00\x00\x03", 9003, "t", True, b"\x7f\x00\x00\x02", 9002, "r")
    msgs = sent_msgs(core.receive_packet(codec.encode(ind), A, 1.0))
    ((addr, ping),) = msgs
    assert addr == ("127.0.0.3", 9003) and isinstance(ping, Ping) and ping.node == "t"
    msgs = sent_msgs(core.receive_packet(codec.encode(Ack(ping.seq_no)), addr, 1.05))
    assert msgs == [(("127.0.0.2", 9002), Ack(77))]
    assert sent_msgs(core.handle_timers(5.0)) == []  # no nack after an ack


def test_indirect_ping_sends_nack_after_probe_timeout() -> None:
    core = make_core()
    ind = IndirectPing(77, b"\x7f\x00\x00\x03", 9003, "t", True, b"\x7f\x00\x00\x02", 9002, "r")
    core.receive_packet(codec.encode(ind), A, 1.0)
    assert sent_msgs(core.handle_timers(1.19)) == []
    assert sent_msgs(core.handle_timers(1.2)) == [(("127.0.0.2", 9002), Nack(77))]


def test_probe_ack_keeps_member_alive_and_lowers_health() -> None:
    net = Net()
    a, b = net.add("a"), net.add("b")
    net.join(b, a)
    a.awareness.apply_delta(2)
    net.run_until(5.0)
    assert known(a, "b").state == NodeState.ALIVE
    assert a.health_score() == 0
    pings = [m for _, _, m in decode_sent(net) if isinstance(m, Ping)]
    assert pings, "a probe must have been sent"


def test_probe_failure_goes_indirect_then_suspect_then_dead() -> None:
    net = Net()
    a, b, c = net.add("a"), net.add("b"), net.add("c")
    net.join(b, a)
    net.join(c, a)
    net.run_until(3.0)
    assert all(net.state(x, "c") == NodeState.ALIVE for x in (a, b))
    net.crashed.add(net.addr(c))
    net.run_until(14.0)
    assert net.state(a, "c") == NodeState.DEAD and net.state(b, "c") == NodeState.DEAD
    kinds = set()
    for _, _, data in net.sent:
        m = codec.decode(strip_crc(data))
        parts = m.parts if isinstance(m, Compound) else ()
        kinds |= {type(codec.decode(p)).__name__ for p in parts} | {type(m).__name__}
    assert {"IndirectPing", "Suspect", "Dead"} <= kinds


def test_indirect_probe_rescues_node_behind_one_way_block() -> None:
    net = Net()
    a, b, c = net.add("a"), net.add("b"), net.add("c")
    net.join(b, a)
    net.join(c, a)
    net.run_until(2.0)
    net.blocked.add((net.addr(a), net.addr(c)))  # a cannot reach c directly, b can
    net.run_until(30.0)
    assert net.state(a, "c") == NodeState.ALIVE
    relayed = [m for s, d, m in decode_sent(net) if isinstance(m, IndirectPing)]
    assert relayed, "a must have asked for an indirect probe"


def test_graceful_leave_is_seen_as_left() -> None:
    net = Net()
    a, b, c = net.add("a"), net.add("b"), net.add("c")
    net.join(b, a)
    net.join(c, a)
    net.run_until(3.0)
    eff = c.leave(net.now)
    assert not any(isinstance(e, LeaveFinished) for e in eff)  # peers to tell: wait for it
    net.apply(c, eff)
    net.run_until(6.0)
    assert net.state(a, "c") == NodeState.LEFT and net.state(b, "c") == NodeState.LEFT
    assert c.left


def test_leave_alone_needs_no_wait() -> None:
    core = make_core()
    eff = core.leave(1.0)
    assert LeaveFinished() in eff and core.local_node().state == NodeState.LEFT


def test_push_pull_merge_rules() -> None:
    core = make_core()
    vsn = b"\x01\x05\x02\x00\x00\x00"
    a = b"\x7f\x00\x00\x01"
    remote = PushPull(
        False,
        (
            PushNodeState("x", a, 1, b"", 3, 0, vsn),  # alive -> join
            PushNodeState("y", a, 2, b"", 1, 0, vsn),
            PushNodeState("z", a, 3, b"", 1, 3, vsn),  # left: unknown, ignored
            PushNodeState("me", a, 7946, b"", 9, 1, vsn),  # suspect about us -> refute
        ),
    )
    merge(core, remote, 1.0)
    assert known(core, "x").state == NodeState.ALIVE and known(core, "x").incarnation == 3
    assert core.member("z") is None
    assert core.incarnation == 10
    # dead in push/pull is only a suspicion (push/pull never kills directly)
    merge(core, PushPull(False, (PushNodeState("x", a, 1, b"", 3, 2, vsn),)), 2.0)
    assert known(core, "x").state == NodeState.SUSPECT
    merge(core, PushPull(False, (PushNodeState("y", a, 2, b"", 1, 3, vsn),)), 2.0)
    assert known(core, "y").state == NodeState.LEFT


def test_push_pull_port_zero_means_our_port() -> None:
    core = make_core()
    vsn = b"\x01\x05\x02\x00\x00\x00"
    merge(core, PushPull(False, (PushNodeState("x", b"\x7f\x00\x00\x01", 0, b"", 1, 0, vsn),)), 1.0)
    assert known(core, "x").port == 7946


def test_push_pull_with_incompatible_delegate_version_is_rejected() -> None:
    core = make_core()
    bad = PushNodeState("x", b"\x7f\x00\x00\x01", 1, b"", 1, 0, b"\x01\x05\x02\x02\x05\x05")
    eff = merge(core, PushPull(False, (bad,)), 1.0)
    assert [type(e) for e in eff] == [PushPullRejected]
    assert core.member("x") is None and core.drops["version_mismatch"] == 1


def test_broadcasts_piggyback_on_acks_and_respect_retransmit_limit() -> None:
    core = make_core()
    core.receive_packet(codec.encode(alive("b")), A, 0.0)
    # n=2, retransmit_mult=2 -> limit 2*ceil(log10(3)) = 2 transmissions
    counts = 0
    for i in range(5):
        eff = core.receive_packet(codec.encode(Ping(i, "me")), A, 1.0)
        for _, m in sent_msgs(eff, probes_only=False):
            if isinstance(m, Alive) and m.node == "b":
                counts += 1
    assert counts == 2


def test_suspect_target_gets_buddy_compound() -> None:
    net = Net()
    a, b = net.add("a"), net.add("b")
    net.join(b, a)
    a.receive_packet(codec.encode(Suspect(1, "b", "zz")), A, net.now)
    net.sent.clear()
    net.run_until(net.now + 3.0)
    buddy = []
    for s, d, data in net.sent:
        if s == net.addr(a) and d == net.addr(b):
            m = codec.decode(strip_crc(data))
            if isinstance(m, Compound):
                buddy.append([type(codec.decode(p)).__name__ for p in m.parts])
    assert ["Ping", "Suspect"] in buddy
    assert net.state(a, "b") == NodeState.ALIVE  # b refuted


def test_periodic_push_pull_targets_alive_peer() -> None:
    core = make_core(push_pull_interval=5.0)
    core.receive_packet(codec.encode(alive("b")), A, 0.0)
    eff = core.handle_timers(11.0)
    assert any(isinstance(e, PushPullRequest) and e.addr == A for e in eff)


def test_garbage_packets_are_counted_not_raised() -> None:
    core = make_core()
    rnd = random.Random(3)
    for _ in range(2000):
        data = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 60)))
        core.receive_packet(data, A, 1.0)
    assert sum(core.drops.values()) > 0
    assert core.local_node().state == NodeState.ALIVE


def _probe_failure_awareness(helper_nacks: bool) -> tuple[int, list[IndirectPing]]:
    """Probe c, which never answers; b helps, and may send the nack. Returns (score, reqs)."""
    core = make_core(disable_tcp_pings=True)
    b_addr, c_addr = ("127.0.0.1", 9001), ("127.0.0.1", 9002)
    core.receive_packet(codec.encode(alive("b", port=9001)), b_addr, 0.0)
    core.receive_packet(codec.encode(alive("c", port=9002)), c_addr, 0.0)
    now, reqs = 0.0, []
    while now < 10.0:
        now = round(now + 0.05, 2)
        for addr, m in sent_msgs(core.handle_timers(now)):
            if isinstance(m, Ping) and addr == b_addr:
                core.receive_packet(codec.encode(Ack(m.seq_no)), b_addr, now)  # b is fine
            if isinstance(m, IndirectPing):
                reqs.append(m)
                if helper_nacks:
                    core.receive_packet(codec.encode(Nack(m.seq_no)), b_addr, now)
        if known(core, "c").state == NodeState.SUSPECT:
            break
    return core.health_score(), reqs


def test_failed_probe_with_nack_from_helper_keeps_health() -> None:
    # memberlist probeNode: every expected nack received -> awareness delta 0
    score, reqs = _probe_failure_awareness(helper_nacks=True)
    assert reqs and all(r.nack for r in reqs)  # helpers with PMax >= 4 are asked for nacks
    assert score == 0


def test_failed_probe_with_missing_nack_raises_health_score() -> None:
    # memberlist probeNode: delta = expected nacks - nacks received = 1
    score, reqs = _probe_failure_awareness(helper_nacks=False)
    assert reqs and score == 1


def test_awareness_scales_probe_interval() -> None:
    core = make_core()
    core.receive_packet(codec.encode(alive("b")), A, 0.0)
    core.awareness.apply_delta(3)
    eff = core.handle_timers(1.0)  # first probe tick falls within the first interval
    pings = [m for _, m in sent_msgs(eff) if isinstance(m, Ping)]
    assert pings
    # the probe ends after (score+1) x interval = 4 s, not 1 s: no suspicion before that
    assert [e for e in core.handle_timers(4.5) if hasattr(e, "event")] == []
    assert known(core, "b").state == NodeState.ALIVE
    eff = core.handle_timers(5.1)
    assert known(core, "b").state == NodeState.SUSPECT


def test_without_lifeguard_no_nacks_no_buddy_and_fixed_suspicion() -> None:
    core = make_core(lifeguard=False)
    core.receive_packet(codec.encode(alive("b")), A, 0.0)
    core.receive_packet(codec.encode(alive("c", port=9001)), A, 0.0)
    core.receive_packet(codec.encode(Suspect(1, "b", "x")), A, 0.0)
    # suspicion runs at the minimum: 3 x max(1, log10(3)) x 1 s = 3 s, however many confirm
    core.handle_timers(2.9)
    assert known(core, "b").state == NodeState.SUSPECT
    core.handle_timers(3.05)
    assert known(core, "b").state == NodeState.DEAD


def test_leave_is_also_sent_directly_to_every_live_member() -> None:
    core = make_core()
    for i, name in enumerate(["b", "c", "d"]):
        core.receive_packet(codec.encode(alive(name, port=9000 + i)), A, 0.0)
    core.receive_packet(codec.encode(Dead(1, "d", "x")), A, 0.5)  # d is already dead
    eff = core.leave(1.0)
    assert LeaveFinished() not in eff
    direct = {
        addr
        for addr, m in sent_msgs(eff, probes_only=False)
        if isinstance(m, Dead) and m.node == "me" and m.from_node == "me"
    }
    assert direct == {("127.0.0.1", 9000), ("127.0.0.1", 9001)}


def _crc_by_kind(effects: list[Effect]) -> dict[str, set[bool]]:
    """For each first message type in the SendPacket effects: the CRC flags seen."""
    out: dict[str, set[bool]] = {}
    for e in effects:
        if isinstance(e, SendPacket):
            m = codec.decode(e.data)
            if isinstance(m, Compound):
                m = codec.decode(m.parts[0])
            out.setdefault(type(m).__name__, set()).add(e.crc)
    return out


@pytest.mark.parametrize("pmax", [4, 5])
def test_crc_is_placed_where_memberlist_places_it(pmax: int) -> None:
    """Go adds the CRC (PMax >= 5) on gossip and best-effort messages, for which it passes
    the node; pings, acks, indirect pings and nacks go through sendMsg, which finds a node
    only by the destination's bare IP used as a node name."""
    core = make_core()
    vsn = bytes((1, pmax, 2, 0, 0, 0))
    core.receive_packet(codec.encode(Alive(1, "b", b"\x7f\x00\x00\x01", 9000, b"", vsn)), A, 0.0)
    member = core.member("b")
    assert member is not None
    # Gossip tick (the alive about b is queued) and a best-effort user message: CRC by PMax.
    gossip = _crc_by_kind(core.gossip(0.5))
    assert gossip == {"Alive": {pmax >= 5}}
    assert _crc_by_kind(core.send("b", b"hi", None, False, 0.6)) == {"User": {pmax >= 5}}
    # Probe traffic: never a CRC when nodes are not named by IP.
    eff = core.receive_packet(codec.encode(Ping(9, "me", b"\x7f\x00\x00\x01", 9000, "b")), A, 1.0)
    eff += core.handle_timers(5.0)  # probe b (ping), then indirect/nack timers
    kinds = _crc_by_kind(eff)
    assert kinds.get("Ack") == {False} and kinds.get("Ping") == {False}
    # A node named after the destination IP: Go's sendMsg finds it, so the CRC appears.
    core.receive_packet(
        codec.encode(Alive(1, "127.0.0.1", b"\x7f\x00\x00\x01", 9001, b"", vsn)), A, 6.0
    )
    eff = core.receive_packet(codec.encode(Ping(10, "me", b"\x7f\x00\x00\x01", 9000, "b")), A, 6.5)
    assert _crc_by_kind(eff).get("Ack") == {pmax >= 5}
