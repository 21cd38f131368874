"""Good citizenship inside a host application: fork, ports, logging, callbacks."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import pytest
from conftest import fast_config, wait_until

import swimlib
from swimlib.node import Node


# Python 3.12+ warns that fork() in a threaded process may deadlock the child; this child
# only calls into swimlib (no locks held across the fork) and exits with os._exit.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_cluster_used_in_a_forked_child_raises_and_parent_is_unaffected(
    make_cluster: Callable[..., list[swimlib.Cluster]],
) -> None:
    (a,) = make_cluster(1)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: every call must raise UsedAfterForkError
        code = 0
        for call in (a.members, a.stats, lambda: a.broadcast(b"x"), a.shutdown):
            try:
                call()
            except swimlib.UsedAfterForkError:
                code += 1
            except BaseException:
                pass
        os.write(w, bytes((code,)))
        os._exit(0)
    os.close(w)
    got = os.read(r, 1)
    os.close(r)
    os.waitpid(pid, 0)
    assert got == bytes((4,))
    assert [n.name for n in a.members()] == [a.config.node_name]  # the parent still works


def test_port_in_use_names_the_address(make_cluster: Callable[..., list[swimlib.Cluster]]) -> None:
    (a,) = make_cluster(1)
    clash = swimlib.Cluster(fast_config("clash", bind_port=a.port))
    with pytest.raises(swimlib.AddressInUseError, match=f"127.0.0.1:{a.port}"):
        clash.start()
    assert isinstance(swimlib.AddressInUseError(98, "x"), OSError)


def test_library_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("swimlib").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_raising_callback_is_counted_and_logged_once(
    make_cluster: Callable[..., list[swimlib.Cluster]], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = make_cluster(2)
    seen: list[bytes] = []

    def bad(sender: Node | None, topic: str | None, payload: bytes) -> int:
        seen.append(payload)
        raise RuntimeError("boom")

    b.on_message(bad)
    with caplog.at_level(logging.WARNING, logger="swimlib"):
        for i in range(20):
            a.send(b.config.node_name, b"m%d" % i)
        wait_until(lambda: b.stats()["callbacks.errors"] >= 20, 10, "20 callback errors")
    assert len(seen) == 20
    lines = [r for r in caplog.records if "raised" in r.getMessage()]
    assert len(lines) == 1 and b.config.node_name in lines[0].getMessage()
