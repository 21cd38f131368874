"""Interop fixtures: build the Go memberlist peer from interop/ and drive it as a subprocess.

The peer is built once per session with ``go build`` from interop/go.mod, which pins the
memberlist release under test (modules come from the Go module proxy). Set
``SWIMLIB_SKIP_INTEROP=1`` to skip these tests on a machine without Go; CI never sets it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import swimlib

INTEROP = Path(__file__).resolve().parents[2] / "interop"
sys.path.insert(0, str(INTEROP))
from gopeer import GO_TIMING, PY_TIMING, GoPeer  # noqa: E402  (interop/gopeer.py)

FIGURES: dict[str, Any] = {}


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
        opts: dict[str, Any] = dict(PY_TIMING)
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
