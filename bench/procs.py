"""Node processes: the systems under test, spawning, JSON-line events, CPU and loopback counters."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GO_DIR = ROOT / "bench" / "go"
GO_BIN = GO_DIR / "bin" / "node"
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class System:
    """One implementation under test and what it can do."""

    name: str
    module: str = ""  # python -m module (Python runners)
    go: bool = False
    direct: bool = True  # direct best-effort messages
    broadcast: bool = True  # user broadcasts
    encrypt: bool = True
    self_bytes: bool = True  # counts its own bytes sent
    seed_needs_peer: bool = False  # cannot start without another peer configured
    lifeguard: bool = True
    notes: list[str] = field(default_factory=list)
    unavailable: str = ""  # why it cannot run here, if it cannot

    def argv(self, name: str, preset: str, key: str, n: int) -> list[str]:
        if self.go:
            args = [str(GO_BIN), "-name", name, "-preset", preset]
            return args + (["-key", key] if key else [])
        args = [sys.executable, "-m", self.module, "--name", name, "--preset", preset]
        if key:
            args += ["--key", key]
        if self.module == "bench.swimprotocol_node":
            args += ["--expect-n", str(n)]
        return args


SYSTEMS: dict[str, System] = {
    "swimlib": System("swimlib", module="bench.swimlib_node"),
    "memberlist": System(
        "memberlist",
        go=True,
        notes=[
            "Go hashicorp/memberlist v0.7.0 (bench/go); broadcasts are relayed once by every "
            "node through its TransmitLimitedQueue, as serf relays user events",
        ],
    ),
    "kinship": System(
        "kinship",
        module="bench.kinship_node",
        self_bytes=False,
        notes=[
            "kinship (Rust core, Python API): timings set to memberlist's preset values; "
            "encryption is its own XChaCha20-Poly1305; exposes no byte counter (loopback "
            "counters only)",
        ],
    ),
    "swim-protocol": System(
        "swim-protocol",
        module="bench.swimprotocol_node",
        direct=False,
        broadcast=False,
        encrypt=False,
        seed_needs_peer=True,
        lifeguard=False,
        notes=[
            "swim-protocol: plain SWIM (no Lifeguard), fixed suspicion timeout set to "
            "memberlist's minimum for the cluster size; no user messages (dissemination is "
            "measured with a metadata change), no encryption",
        ],
    ),
}


def check_available(system: System) -> str:
    """Why ``system`` cannot run here ('' if it can)."""
    if system.go:
        return "" if GO_BIN.exists() else "Go node not built (needs Go >= 1.25)"
    mod = {"bench.kinship_node": "kinship", "bench.swimprotocol_node": "swimprotocol"}.get(
        system.module
    )
    if mod is None:
        return ""
    proc = subprocess.run(
        [sys.executable, "-c", f"import {mod}"], capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0:
        return f"import {mod} failed: {proc.stderr.strip().splitlines()[-1:]}"
    return ""


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process from /proc/<pid>/stat, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None


PROTOCOLS = {"6": "tcp", "17": "udp", "tcp": "tcp", "udp": "udp"}


def install_protocol_counters() -> bool:
    """Count loopback TCP and UDP output apart (two iptables rules that only count).

    Only inside the benchmark's private network namespace; False if iptables is missing or
    refused, and then only the interface totals are reported."""
    iptables = shutil.which("iptables")
    if iptables is None:
        return False
    for proto in ("tcp", "udp"):
        rule = [iptables, "-A", "OUTPUT", "-o", "lo", "-p", proto]
        try:
            if subprocess.run(rule, capture_output=True, timeout=30).returncode != 0:
                return False
        except (OSError, subprocess.TimeoutExpired):
            return False
    return protocol_counters() is not None


def protocol_counters() -> dict[str, tuple[int, int]] | None:
    """{"tcp"|"udp": (packets, bytes)} sent on loopback, from the counting rules."""
    iptables = shutil.which("iptables")
    if iptables is None:
        return None
    try:
        proc = subprocess.run(
            [iptables, "-L", "OUTPUT", "-v", "-x", "-n"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    out: dict[str, tuple[int, int]] = {}
    for line in proc.stdout.splitlines()[2:]:
        cols = line.split()
        # pkts bytes [target] prot opt ...: the rules have no target, so prot is third
        proto = next((PROTOCOLS[c] for c in cols[2:4] if c in PROTOCOLS), None)
        if proto is not None and cols[0].isdigit() and cols[1].isdigit():
            out[proto] = (int(cols[0]), int(cols[1]))
    return out if len(out) == 2 else None


def loopback_counters() -> tuple[int, int]:
    """(tx bytes, tx packets) of ``lo`` in this network namespace."""
    with open("/proc/net/dev") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name.strip() == "lo":
                cols = rest.split()
                return int(cols[8]), int(cols[9])
    return 0, 0


class NodeProc:
    """One node process: commands to stdin, JSON events from stdout (kept in order)."""

    def __init__(self, system: System, name: str, argv: list[str], log_dir: Path) -> None:
        self.system = system
        self.name = name
        self.events: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self.port = 0
        self.pid = 0
        self.killed_at: float | None = None
        # Membership as this node reports it, kept up to date by the reader thread so the
        # orchestrator never rescans event lists (it shares the two cores with the nodes).
        self.view: set[str] = {name}
        self.target = 0
        self.full_at: float | None = None  # when len(view) first reached target
        self._stderr = open(log_dir / f"{system.name}-{name}.stderr", "w")  # noqa: SIM115
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self.pid = self.proc.pid
        self._reader = threading.Thread(target=self._read, name=f"read-{name}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            with self.cond:
                self.events.append(ev)
                if ev.get("ev") == "member":
                    if ev["state"] in ("alive", "suspect"):
                        self.view.add(ev["node"])
                    else:
                        self.view.discard(ev["node"])
                    if self.target and self.full_at is None and len(self.view) >= self.target:
                        self.full_at = float(ev["t"])
                self.cond.notify_all()
        with self.cond:
            self.events.append({"ev": "eof", "t": time.monotonic()})
            self.cond.notify_all()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.killed_at is None and self.proc.poll() is None

    def send(self, **cmd: Any) -> None:
        if self.proc.stdin is None or self.proc.poll() is not None:
            return
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):  # the process died, or its stdin is already closed
            pass

    def expect(self, n: int) -> None:
        """Start watching for a view of ``n`` members (see :attr:`full_at`)."""
        with self.cond:
            self.target = n
            self.full_at = time.monotonic() if len(self.view) >= n else None

    def view_size(self) -> int:
        with self.cond:
            return len(self.view)

    def mark(self) -> int:
        with self.cond:
            return len(self.events)

    def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float, since: int = 0
    ) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            i = since
            while True:
                while i < len(self.events):
                    ev = self.events[i]
                    i += 1
                    if pred(ev):
                        return ev
                    if ev["ev"] == "eof":
                        return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 1.0))

    def select(self, pred: Callable[[dict[str, Any]], bool], since: int = 0) -> list[Any]:
        with self.cond:
            return [e for e in self.events[since:] if pred(e)]

    def request_stats(self, timeout: float = 10.0) -> dict[str, Any] | None:
        m = self.mark()
        self.send(cmd="stats")
        return self.wait_for(lambda e: e["ev"] == "stats", timeout, m)

    def kill(self) -> float:
        """SIGKILL; returns the monotonic time just before the signal."""
        t = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.killed_at = t
        return t

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.send(cmd="quit")
            if self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(2)
        self._stderr.close()
        if self.proc.stdout is not None:
            with contextlib.suppress(OSError):
                self.proc.stdout.close()


def spawn(
    system: System, names: list[str], preset: str, key: str, log_dir: Path, timeout: float = 180
) -> list[NodeProc]:
    """Start one process per name and wait until each has reported ``start``."""
    n = len(names)
    nodes: list[NodeProc] = []
    try:
        for name in names:
            nodes.append(NodeProc(system, name, system.argv(name, preset, key, n), log_dir))
        deadline = time.monotonic() + timeout
        for node in nodes:
            ev = node.wait_for(
                lambda e: e["ev"] in ("start", "error"), max(1.0, deadline - time.monotonic())
            )
            if ev is None or ev["ev"] != "start":
                err = (log_dir / f"{system.name}-{node.name}.stderr").read_text()[-2000:]
                raise RuntimeError(f"{system.name} node {node.name} did not start: {ev} {err}")
            node.port = int(ev["port"])
        return nodes
    except BaseException:
        stop_all(nodes)
        raise


def stop_all(nodes: list[NodeProc]) -> None:
    for node in nodes:
        if node.proc.poll() is None:
            node.send(cmd="quit")
            if node.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    node.proc.stdin.close()
    deadline = time.monotonic() + 10
    for node in nodes:
        try:
            node.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            node.proc.kill()
    for node in nodes:
        node.stop(timeout=2)
