"""Drive interop/main.go (the Go memberlist peer) as a subprocess: JSON commands in, events out.

One driver for both users of the peer: the pytest interop suite (tests/interop/conftest.py)
and the stand-alone scenarios behind interop/scripts/*.sh (interop/scripts/scenario.py).
Both import it by putting this directory on ``sys.path``. The peer exits on its own when its
stdin closes, so a crashed driver leaves no Go process behind.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# memberlist's Local preset sped up, identical on both sides, so scenarios stay short.
PY_TIMING: dict[str, Any] = dict(
    protocol_interval=0.3,
    probe_timeout=0.1,
    gossip_interval=0.05,
    suspicion_mult=3,
    push_pull_interval=3.0,
    tcp_timeout=1.0,
)
GO_TIMING = [
    "-preset", "local",
    "-probe-interval", "300ms",
    "-probe-timeout", "100ms",
    "-gossip-interval", "50ms",
    "-suspicion-mult", "3",
    "-push-pull-interval", "3s",
]  # fmt: skip

Event = dict[str, Any]


class PeerTimeout(AssertionError):
    """An expected event did not come from the Go peer in time (a test failure)."""


class GoPeer:
    """A running Go peer bound to 127.0.0.1 on a free port; events are kept in order."""

    def __init__(
        self, binary: Path, name: str, args: list[str], log_dir: Path, start_timeout: float = 30
    ) -> None:
        self.name = name
        self.events: list[Event] = []
        self._cond = threading.Condition()
        self._stderr = open(log_dir / f"{name}.stderr", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(binary), "-name", name, "-bind", "127.0.0.1", "-port", "0", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, name=f"interop-{name}", daemon=True)
        self._reader.start()
        try:
            start = self.wait_for(
                lambda e: e["event"] in ("start", "exit"), start_timeout, what="start"
            )
            if start["event"] != "start":
                raise RuntimeError(f"go peer {name} failed to start: {self.events}")
        except BaseException:
            self.stop()
            raise
        self.port: int = start["port"]
        self.version: str = start.get("memberlist_version", "?")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            with self._cond:
                self.events.append(ev)
                self._cond.notify_all()

    def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def mark(self) -> int:
        """Index of the next event: pass it as ``since`` to wait only for newer ones."""
        with self._cond:
            return len(self.events)

    def wait_for(
        self,
        pred: Callable[[Event], bool],
        timeout: float,
        since: int = 0,
        what: str = "matching event",
    ) -> Event:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self.events[since:]:
                    if pred(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PeerTimeout(
                        f"{self.name}: no {what} within {timeout:g} s; last: {self.events[-3:]}"
                    )
                self._cond.wait(left)

    def members(self) -> dict[str, Event]:
        """The newest member list the peer printed, by name."""
        with self._cond:
            for ev in reversed(self.events):
                if ev["event"] == "members":
                    return {m["name"]: m for m in ev["members"]}
        return {}

    def messages(self) -> list[Event]:
        with self._cond:
            return [e for e in self.events if e["event"] == "message"]

    def wait_members(self, pred: Callable[[dict[str, Event]], bool], timeout: float) -> float:
        """Wait for a member list printed from now on that satisfies ``pred``; seconds taken."""
        start = time.monotonic()
        self.wait_for(
            lambda e: e["event"] == "members" and pred({m["name"]: m for m in e["members"]}),
            timeout,
            self.mark(),
            "member list as expected",
        )
        return time.monotonic() - start

    def sees_alive(self, names: set[str], timeout: float) -> float:
        return self.wait_members(
            lambda ms: all(ms.get(n, {}).get("state") == "alive" for n in names), timeout
        )

    def got_message(self, text: str, timeout: float) -> Event:
        return self.wait_for(
            lambda e: e["event"] == "message" and e.get("payload_text") == text,
            timeout,
            what=f"message {text!r}",
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM (SIGKILL after 5 s), then close every pipe and the log."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                f.close()
        self._stderr.close()
