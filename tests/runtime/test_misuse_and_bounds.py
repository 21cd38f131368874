"""Local misuse gets a clear error; the user's queues are bounded with visible overflow."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Callable

import pytest
from conftest import fast_config, wait_until

import swimlib
from swimlib.events import EventsLost, JoinEvent
from swimlib.node import Node, NodeState
from swimlib.runtime.sink import EventSink

KEY = base64.b64encode(b"k" * 32).decode()


def test_keyring_operations_on_a_plaintext_node_raise() -> None:
    c = swimlib.Cluster(fast_config("plain"))
    for op in (c.keyring.install, c.keyring.use, c.keyring.remove):
        with pytest.raises(swimlib.ConfigError, match="encryption is not configured"):
            op(KEY)
    encrypted = swimlib.Cluster(fast_config("enc", secret_key=KEY))
    encrypted.keyring.install(base64.b64encode(b"j" * 32).decode())
    assert len(encrypted.keyring.keys()) == 2


def test_topic_that_is_not_valid_unicode_is_a_value_error(
    make_cluster: Callable[..., list[swimlib.Cluster]],
) -> None:
    (a,) = make_cluster(1)
    for bad in ("\udcff", "t" * 70_000):
        with pytest.raises(ValueError):
            a.broadcast(b"x", topic=bad)
        with pytest.raises(ValueError):
            a.send(a.config.node_name, b"x", topic=bad)


def test_commands_after_leave_raise(make_cluster: Callable[..., list[swimlib.Cluster]]) -> None:
    (a,) = make_cluster(1)
    assert a.leave(timeout=1.0)
    with pytest.raises(swimlib.NotRunningError, match="left"):
        a.broadcast(b"late")
    with pytest.raises(swimlib.NotRunningError, match="left"):
        a.update_meta(b"late")
    assert a.local_node.state == NodeState.LEFT  # queries still answer


def _join(name: str) -> JoinEvent:
    return JoinEvent(Node(name, "127.0.0.1", 1, b"", NodeState.ALIVE, 1))


def test_event_sink_counts_overflow_and_reports_it_when_there_is_room() -> None:
    sink = EventSink(2)
    for i in range(5):
        sink.put(_join(f"n{i}"))
    assert sink.lost_total == 3
    got = [sink.queue.get_nowait() for _ in range(2)]
    assert [e.node.name for e in got if isinstance(e, JoinEvent)] == ["n0", "n1"]
    sink.put(_join("n5"))
    assert sink.queue.get_nowait() == EventsLost(3)
    assert sink.queue.get_nowait() == _join("n5")


def test_unread_events_queue_stays_bounded(
    make_cluster: Callable[..., list[swimlib.Cluster]],
) -> None:
    a, *_ = make_cluster(4, events_maxsize=2)
    wait_until(lambda: len(a.alive_members()) == 4, 10, "convergence")
    assert a.events.maxsize == 2 and a.events.qsize() <= 2
    assert a.stats()["events.lost"] >= 2  # four joins (one our own) into two slots


def test_a_trickling_dialer_is_cut_off_at_one_deadline(
    make_cluster: Callable[..., list[swimlib.Cluster]],
) -> None:
    (a,) = make_cluster(1)  # tcp_timeout 1 s
    with socket.create_connection(("127.0.0.1", a.port), timeout=5) as s:
        started = time.monotonic()
        closed_after = None
        push_pull_start = b"\x06\x83"  # a push/pull whose header never completes
        for i in range(40):
            try:
                s.sendall(push_pull_start[i : i + 1] or b"\xa1")
            except OSError:
                closed_after = time.monotonic() - started
                break
            time.sleep(0.1)  # every recv gets a byte within the per-recv timeout
            s.settimeout(0.01)
            try:
                if s.recv(1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except (TimeoutError, BlockingIOError):
                pass
    assert closed_after is not None and closed_after < 2.5
    wait_until(lambda: a.stats().get("drop.stream_deadline", 0) == 1, 5, "deadline counted")


def test_joins_and_own_push_pulls_work_under_a_slow_connection_flood(
    make_cluster: Callable[..., list[swimlib.Cluster]],
) -> None:
    (victim,) = make_cluster(1, tcp_timeout=5.0)
    flood = []
    try:
        for _ in range(300):  # each sends one byte of a push/pull, then nothing
            s = socket.create_connection(("127.0.0.1", victim.port), timeout=5)
            s.sendall(b"\x06")
            flood.append(s)
        time.sleep(0.3)
        newcomer = swimlib.Cluster(fast_config("newcomer", tcp_timeout=5.0)).start()
        try:
            started = time.monotonic()
            assert newcomer.join([f"127.0.0.1:{victim.port}"]) == 1  # served at once
            assert time.monotonic() - started < 2.0
            other = swimlib.Cluster(fast_config("other", tcp_timeout=5.0)).start()
            try:
                # the victim's own outbound join, while its inbound side is flooded
                assert victim.join([f"127.0.0.1:{other.port}"]) == 1
                wait_until(lambda: len(victim.alive_members()) == 3, 10, "all three")
            finally:
                other.shutdown()
        finally:
            newcomer.shutdown()
        assert victim._engine is not None and all(victim._engine.threads_alive().values())
    finally:
        for s in flood:
            s.close()
