"""The threaded runtime on real loopback sockets."""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import threading
import time
from collections.abc import Callable

import pytest
from conftest import fast_config, state_of, wait_until

import swimlib
from swimlib import NodeState

MEMBER_EVENTS = (
    swimlib.JoinEvent,
    swimlib.LeaveEvent,
    swimlib.UpdateEvent,
    swimlib.SuspectEvent,
    swimlib.AliveEvent,
)
Inbox = list[tuple[str | None, str | None, bytes]]


def _collect_into(box: Inbox) -> Callable[[swimlib.Node | None, str | None, bytes], None]:
    def collect(sender: swimlib.Node | None, topic: str | None, payload: bytes) -> None:
        box.append((sender.name if sender else None, topic, payload))

    return collect

def test_eight_nodes_converge(make_cluster: Callable[..., list[swimlib.Cluster]]) -> None:
    nodes = make_cluster(8)
    wait_until(lambda: all(len(c.alive_members()) == 8 for c in nodes), 20, "convergence")
    names = {c.config.node_name for c in nodes}
    for c in nodes:
        assert {m.name for m in c.members()} == names


def test_broadcast_with_topic_reaches_every_node_once(
    make_cluster: Callable[..., list[swimlib.Cluster]],
) -> None:
    nodes = make_cluster(6)
    wait_until(lambda: all(len(c.alive_members()) == 6 for c in nodes), 20, "convergence")
    inbox: dict[str, list[tuple[str | None, str | None, bytes]]] = {
        c.config.node_name: [] for c in nodes
    }
    for c in nodes:
        c.on_message(_collect_into(inbox[c.config.node_name]))
    nodes[2].broadcast(topic="cfg", payload=b"v2")
    others = [c.config.node_name for c in nodes if c is not nodes[2]]
    wait_until(lambda: all(inbox[n] for n in others), 10, "broadcast delivery")
    time.sleep(1.0)  # let every retransmission land: still exactly one delivery each
    for n in others:
        assert inbox[n] == [(nodes[2].config.node_name, "cfg", b"v2")]
    assert inbox[nodes[2].config.node_name] == []


def test_raw_broadcast_is_delivered_unchanged(
    make_cluster: Callable[..., list[swimlib.Cluster]],
) -> None:
    a, b = make_cluster(2)
    got: queue.Queue[tuple[str | None, bytes]] = queue.Queue()
    b.on_message(lambda s, t, p: got.put((t, p)))
    a.broadcast(payload=b"\x00raw bytes\xff")
    assert got.get(timeout=5) == (None, b"\x00raw bytes\xff")


def test_direct_messages_udp_and_tcp(make_cluster: Callable[..., list[swimlib.Cluster]]) -> None:
    a, b = make_cluster(2)
    got: queue.Queue[tuple[str | None, str | None, bytes]] = queue.Queue()
    b.on_message(lambda s, t, p: got.put((s.name if s else None, t, p)))
    a.send(target=b.config.node_name, topic="ping", payload=b"hello")
    assert got.get(timeout=5) == (a.config.node_name, "ping", b"hello")
    a.send(target=b.local_node, payload=b"x" * 100_000, reliable=True)
    assert got.get(timeout=5) == (None, None, b"x" * 100_000)
    a.send(target=b.config.node_name, payload=b"y" * 60_000)  # one large datagram
    assert got.get(timeout=5) == (a.config.node_name, None, b"y" * 60_000)


def test_crashed_node_is_declared_dead_by_everyone(
    make_cluster: Callable[..., list[swimlib.Cluster]],
) -> None:
    nodes = make_cluster(5)
    wait_until(lambda: all(len(c.alive_members()) == 5 for c in nodes), 20, "convergence")
    victim = nodes.pop()
    name = victim.config.node_name
    victim.shutdown()
    wait_until(lambda: all(state_of(c, name) == NodeState.DEAD for c in nodes), 20, "detection")


def test_leaving_node_is_seen_as_left_and_events_arrive_in_order(
    make_cluster: Callable[..., list[swimlib.Cluster]],
) -> None:
    nodes = make_cluster(4)
    wait_until(lambda: all(len(c.alive_members()) == 4 for c in nodes), 20, "convergence")
    leaver = nodes.pop()
    name = leaver.config.node_name
    assert leaver.leave(timeout=5)
    leaver.shutdown()
    wait_until(lambda: all(state_of(c, name) == NodeState.LEFT for c in nodes), 10, "left")
    seen: list[tuple[str, str, NodeState]] = []
    while True:
        try:
            ev = nodes[0].events.get_nowait()
        except queue.Empty:
            break
        assert isinstance(ev, MEMBER_EVENTS)
        seen.append((type(ev).__name__, ev.node.name, ev.node.state))
    mine = [e for e in seen if e[1] == name]
    assert mine[0] == ("JoinEvent", name, NodeState.ALIVE)
    assert mine[-1] == ("LeaveEvent", name, NodeState.LEFT)
    assert seen[0] == ("JoinEvent", nodes[0].config.node_name, NodeState.ALIVE)


def test_meta_update_reaches_peers_as_update_event(
    make_cluster: Callable[..., list[swimlib.Cluster]],
) -> None:
    a, b = make_cluster(2)
    a.update_meta(b"role=web")
    wait_until(
        lambda: any(m.name == a.config.node_name and m.meta == b"role=web" for m in b.members()),
        10,
        "meta update",
    )
    kinds = []
    while not b.events.empty():
        ev = b.events.get_nowait()
        assert isinstance(ev, MEMBER_EVENTS)
        kinds.append((type(ev).__name__, ev.node.name))
    assert ("UpdateEvent", a.config.node_name) in kinds


def test_refutes_false_suspicion(make_cluster: Callable[..., list[swimlib.Cluster]]) -> None:
    a, b = make_cluster(2)
    engine = a._engine
    assert engine is not None
    before = b.local_node.incarnation
    from swimlib.wire import codec
    from swimlib.wire.messages import Suspect

    engine.send_packet(b.address, codec.encode(Suspect(before, b.config.node_name, "n0")), False)
    wait_until(lambda: b.local_node.incarnation > before, 5, "refutation")
    wait_until(
        lambda: any(
            m.name == b.config.node_name and m.incarnation > before and m.state == NodeState.ALIVE
            for m in a.members()
        ),
        5,
        "alive again",
    )


def test_garbage_never_kills_listeners(make_cluster: Callable[..., list[swimlib.Cluster]]) -> None:
    a, b = make_cluster(2)
    rnd = __import__("random").Random(5)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(500):
            junk = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 200)))
            if i % 3 == 0:
                junk = b"\x07\xff" + junk  # compound claiming 255 parts
            s.sendto(junk, a.address)
    for payload in (
        b"",
        b"\x06\x83",
        b"\x0a\xff\xff\xff\xff",
        b"\xf4\x00",
        b"\x09\x82\xa4Algo",
        os.urandom(3000),
    ):
        # The listener may hang up first; that is fine.
        with socket.create_connection(a.address, timeout=2) as c, contextlib.suppress(OSError):
            c.sendall(payload)
            c.shutdown(socket.SHUT_WR)
            c.recv(100)
    wait_until(
        lambda: sum(v for k, v in a.stats().items() if k.startswith("drop.")) > 100,
        5,
        "drops counted",
    )
    assert a._engine is not None and all(a._engine.threads_alive().values())
    got: queue.Queue[bytes] = queue.Queue()
    a.on_message(lambda s, t, p: got.put(p))
    b.send(target=a.config.node_name, payload=b"still alive")
    # Random bytes starting with 0x08 are valid raw user messages, so skip those.
    deadline = time.monotonic() + 5
    while got.get(timeout=max(0.01, deadline - time.monotonic())) != b"still alive":
        pass
    assert state_of(a, b.config.node_name) == NodeState.ALIVE


def test_shutdown_is_fast_and_leaks_nothing() -> None:
    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    baseline_threads = threading.active_count()
    baseline_fds = fds()
    for i in range(100):
        c = swimlib.Cluster(fast_config(f"cycle{i}")).start()
        start = time.monotonic()
        c.shutdown()
        assert time.monotonic() - start < 2.0
    assert threading.active_count() <= baseline_threads
    assert fds() <= baseline_fds


def test_join_errors_and_misuse() -> None:
    c = swimlib.Cluster(fast_config("lonely"))
    with pytest.raises(swimlib.NotRunningError):
        c.members()
    c.start()
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead_port = s.getsockname()[1]
        with pytest.raises(swimlib.NoSeedsReachableError):
            c.join([f"127.0.0.1:{dead_port}"])
        with pytest.raises(swimlib.ConfigError):
            c.join(["127.0.0.1:notaport"])
        with pytest.raises(swimlib.UnknownNodeError):
            c.send(target="nobody", payload=b"x")
        with pytest.raises(TypeError):
            c.send(target="lonely", payload="text")  # type: ignore[arg-type]
        with pytest.raises(swimlib.MessageTooLargeError):
            c.broadcast(payload=b"x" * 5000)
        with pytest.raises(swimlib.ConfigError):
            c.update_meta(b"m" * 513)
    finally:
        c.shutdown()
    with pytest.raises(swimlib.NotRunningError):
        c.start()


@pytest.mark.parametrize(
    "bad",
    [
        dict(bind_port=70000),
        dict(bind_addr="not-an-ip"),
        dict(probe_timeout=5.0),
        dict(label="x" * 256),
        dict(meta=b"m" * 513),
        dict(protocol_version=9),
        dict(gossip_interval=-1),
        dict(node_name=""),
    ],
)
def test_bad_config_raises_config_error_naming_field(bad: dict[str, object]) -> None:
    with pytest.raises(swimlib.ConfigError) as info:
        swimlib.Cluster(fast_config("x", **bad))
    assert next(iter(bad)) in str(info.value)


@pytest.mark.parametrize(
    "bad",
    [
        dict(secret_key=b"short"),
        dict(secret_key="%%%notbase64"),
        dict(keyring=(b"k" * 20,)),
        dict(encryption_enabled=True),
    ],
)
def test_bad_keys_raise_invalid_key_error(bad: dict[str, object]) -> None:
    with pytest.raises(swimlib.InvalidKeyError):
        swimlib.Cluster(fast_config("x", **bad))


def test_context_manager_leaves_and_shuts_down(
    make_cluster: Callable[..., list[swimlib.Cluster]],
) -> None:
    (a,) = make_cluster(1)
    with swimlib.Cluster(fast_config("ctx")) as c:
        c.join([f"127.0.0.1:{a.port}"])
        wait_until(lambda: state_of(a, "ctx") == NodeState.ALIVE, 5, "join")
    wait_until(lambda: state_of(a, "ctx") == NodeState.LEFT, 5, "left")


def test_presets_match_memberlist_defaults() -> None:
    lan, wan, local = swimlib.Config(), swimlib.Config.wan(), swimlib.Config.local()
    assert (
        lan.protocol_interval,
        lan.probe_timeout,
        lan.suspicion_mult,
        lan.gossip_interval,
        lan.push_pull_interval,
        lan.retransmit_mult,
        lan.indirect_checks,
        lan.tcp_timeout,
    ) == (1.0, 0.5, 4, 0.2, 30.0, 4, 3, 10.0)
    assert (
        wan.protocol_interval,
        wan.probe_timeout,
        wan.suspicion_mult,
        wan.gossip_nodes,
        wan.gossip_interval,
        wan.tcp_timeout,
    ) == (5.0, 3.0, 6, 4, 0.5, 30.0)
    assert (
        local.probe_timeout,
        local.indirect_checks,
        local.retransmit_mult,
        local.suspicion_mult,
        local.gossip_interval,
        local.tcp_timeout,
    ) == (0.2, 1, 2, 3, 0.1, 1.0)
    a, b = swimlib.Config(), swimlib.Config()
    assert a.node_name != b.node_name


def test_shutdown_unblocks_a_tcp_exchange_in_flight() -> None:
    """A peer that accepts and then says nothing must not hold shutdown past 2 s."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        c = swimlib.Cluster(fast_config("blocked", tcp_timeout=30.0)).start()
        errors: list[BaseException] = []

        def join() -> None:
            try:
                c.join([f"127.0.0.1:{silent.getsockname()[1]}"])
            except BaseException as err:  # recorded for the assertion below
                errors.append(err)

        t = threading.Thread(target=join, name="test-join")
        t.start()
        time.sleep(0.5)
        start = time.monotonic()
        c.shutdown()
        assert time.monotonic() - start < 2.0
        t.join(2.0)
        assert not t.is_alive()
        assert errors and isinstance(errors[0], swimlib.NoSeedsReachableError)
