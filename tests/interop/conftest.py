"""Interop fixtures: build the Go memberlist peer from interop/ and drive it as a subprocess.

The peer is built once per session with ``go build`` from interop/go.mod, which pins the
memberlist release under test (modules come from the Go module proxy). Set
``SWIMLIB_SKIP_INTEROP=1`` to skip these tests on a machine without Go; CI never sets it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import swimlib

INTEROP = Path(__file__).resolve().parents[2] / "interop"
FIGURES: dict[str, Any] = {}

# One timing profile for both sides: memberlist's Local preset, sped up so tests stay short.
TIMING = dict(
    protocol_interval=0.3,
    probe_timeout=0.1,
    gossip_interval=0.05,
    suspicion_mult=3,
    push_pull_interval=3.0,
    tcp_timeout=1.0,
)
GO_TIMING = [
    "-preset",
    "local",
    "-probe-interval",
    "300ms",
    "-probe-timeout",
    "100ms",
    "-gossip-interval",
    "50ms",
    "-suspicion-mult",
    "3",
    "-push-pull-interval",
    "3s",
]


def record(name: str, value: Any) -> None:
    """Keep a measured figure for the end-of-session summary."""
    FIGURES[name] = value


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("interop figures (seconds unless noted)")
        for k in sorted(FIGURES):
            terminalreporter.write_line(f"{k}: {FIGURES[k]}")


@pytest.fixture(scope="session")
def peer_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("SWIMLIB_SKIP_INTEROP") == "1":
        pytest.skip("SWIMLIB_SKIP_INTEROP=1: interop tests skipped by request")
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if go is None:
        pytest.fail("Go is required for the interop tests (set SWIMLIB_SKIP_INTEROP=1 to skip)")
    out = tmp_path_factory.mktemp("peer") / "peer"
    proc = subprocess.run(
        [go, "build", "-o", str(out), "."], cwd=INTEROP, capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0:
        pytest.fail(f"go build failed:\n{proc.stderr}")
    return out


class GoPeer:
    """A running interop/main.go process: JSON commands in, JSON events out."""

    def __init__(self, binary: Path, name: str, args: list[str], log_dir: Path) -> None:
        self.name = name
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._stderr = open(log_dir / f"{name}.stderr", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(binary), "-name", name, "-port", "0", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, name=f"interop-{name}", daemon=True)
        self._reader.start()
        try:
            start = self.wait_for(lambda e: e["event"] in ("start", "exit"), 30)
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

    def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float, since: int = 0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self.events[since:]:
                    if pred(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{self.name}: no matching event in {timeout}s; last: {self.events[-3:]}"
                    )
                self._cond.wait(left)

    def mark(self) -> int:
        with self._cond:
            return len(self.events)

    def members(self) -> dict[str, dict[str, Any]]:
        """The newest member list the peer printed, by name."""
        with self._cond:
            for ev in reversed(self.events):
                if ev["event"] == "members":
                    return {m["name"]: m for m in ev["members"]}
        return {}

    def messages(self) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.events if e["event"] == "message"]

    def wait_members(
        self, pred: Callable[[dict[str, dict[str, Any]]], bool], timeout: float
    ) -> float:
        start = time.monotonic()
        self.wait_for(
            lambda e: e["event"] == "members" and pred({m["name"]: m for m in e["members"]}),
            timeout,
            self.mark(),
        )
        return time.monotonic() - start

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)
        self._stderr.close()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def go_peer(peer_binary: Path, tmp_path: Path) -> Iterator[Callable[..., GoPeer]]:
    peers: list[GoPeer] = []

    def start(name: str, *args: str, timing: bool = True) -> GoPeer:
        p = GoPeer(peer_binary, name, (GO_TIMING if timing else []) + list(args), tmp_path)
        peers.append(p)
        return p

    yield start
    for p in peers:
        p.stop()


@pytest.fixture
def py_node() -> Iterator[Callable[..., swimlib.Cluster]]:
    nodes: list[swimlib.Cluster] = []

    def start(name: str, **overrides: Any) -> swimlib.Cluster:
        opts: dict[str, Any] = dict(TIMING)
        opts.update(overrides)
        cfg = swimlib.Config.local(node_name=name, bind_addr="127.0.0.1", bind_port=0, **opts)
        c = swimlib.Cluster(cfg).start()
        nodes.append(c)
        return c

    yield start
    for c in nodes:
        c.shutdown()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"{what} not reached within {timeout}s")


def py_state(c: swimlib.Cluster, name: str) -> str | None:
    for m in c.members():
        if m.name == name:
            return m.state.name.lower()
    return None
