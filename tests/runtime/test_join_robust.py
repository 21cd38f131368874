"""Joining that survives the real world: bad seeds, several addresses, retry-join."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import pytest
from conftest import fast_config, wait_until

import swimlib
from swimlib.events import JoinCompleted
from swimlib.runtime import seeds
from swimlib.runtime.seeds import Seed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unresolvable_seed_is_reported_while_another_answers(
    make_cluster: Callable[..., list[swimlib.Cluster]],
) -> None:
    a, _ = make_cluster(2)
    c = make_cluster(1)[0]
    got = c.join(["no-such-host.invalid:7946", f"127.0.0.1:{a.port}"])
    assert got == 1
    wait_until(lambda: len(c.alive_members()) == 3, 10, "join through the live seed")


def test_no_seed_reachable_lists_every_reason(
    make_cluster: Callable[..., list[swimlib.Cluster]],
) -> None:
    (c,) = make_cluster(1)
    dead = f"127.0.0.1:{_free_port()}"
    with pytest.raises(swimlib.NoSeedsReachableError) as info:
        c.join(["no-such-host.invalid:7946", dead], timeout=5.0)
    reasons = info.value.reasons
    assert set(reasons) == {"no-such-host.invalid:7946", dead}
    assert "resolve" in reasons["no-such-host.invalid:7946"]


def test_every_address_of_a_name_is_tried(
    make_cluster: Callable[..., list[swimlib.Cluster]], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = make_cluster(2)
    dead = _free_port()
    calls: list[str] = []

    def two_addresses(seed: Seed) -> list[tuple[str, int]]:
        calls.append(seed.host)
        if seed.host == "seed.test":
            return [("127.0.0.1", dead), ("127.0.0.1", a.port)]  # first one refuses
        return seeds.resolve(seed)

    monkeypatch.setattr(seeds, "resolve", two_addresses)
    (c,) = make_cluster(1)
    assert c.join(["seed.test:1"]) == 1
    assert c.join(["seed.test:1"]) == 1
    assert calls == ["seed.test", "seed.test"]  # resolved again at every attempt
    wait_until(lambda: len(c.alive_members()) == 3, 10, "joined through the second address")


def test_retry_join_reaches_a_seed_that_starts_later() -> None:
    port = _free_port()
    late = fast_config("late-joiner", retry_join=(f"127.0.0.1:{port}",), retry_interval=1.0)
    c = swimlib.Cluster(late).start()
    seed: list[swimlib.Cluster] = []
    timer = threading.Timer(
        5.0, lambda: seed.append(swimlib.Cluster(fast_config("seed", bind_port=port)).start())
    )
    timer.start()
    try:
        events: list[object] = []

        def completed() -> bool:
            while not c.events.empty():
                events.append(c.events.get_nowait())
            return any(isinstance(e, JoinCompleted) for e in events)

        wait_until(completed, 20, "retry-join completed")
        done = next(e for e in events if isinstance(e, JoinCompleted))
        assert done.seeds == 1 and done.attempts >= 4
        wait_until(lambda: len(c.alive_members()) == 2, 10, "both see each other")
    finally:
        timer.cancel()
        timer.join()
        c.shutdown()
        for s in seed:
            s.shutdown()
