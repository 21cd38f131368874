"""Same seed, same run: the trace digest is a pure function of the scenario parameters.

Also across processes with different PYTHONHASHSEED values, which would expose any iteration
over a set of str (or other hash-order dependence) in the core or the simulator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from swimlib.node import NodeState
from swimlib.sim import NetworkParams, SimOptions, Simulator, sim_config
from swimlib.sim.scenarios import ScenarioParams, run_scenario

ROOT = Path(__file__).resolve().parents[2]


def _busy_run(seed: int) -> Simulator:
    """A short run that touches every mechanism: loss, jitter, duplicates, faults, TCP."""
    net = NetworkParams(latency=0.001, jitter=0.0008, loss=0.05, duplicate=0.02)
    sim = Simulator(30, sim_config("lan"), seed, net, SimOptions())
    sim.bootstrap()
    sim.network.set_one_way_loss(3, 4, 1.0)
    sim.at(2.0, lambda: sim.crash(7))
    sim.at(3.0, lambda: sim.pause(11, 6.0))
    sim.at(4.0, lambda: sim.slow(12, 1.5, 5.0))
    sim.at(5.0, lambda: sim.broadcast(0, b"hello"))
    sim.at(6.0, lambda: sim.partition([list(range(10))]))
    sim.at(9.0, sim.heal)
    sim.at(10.0, lambda: sim.leave(20))
    sim.run_until(25.0)
    return sim


def test_same_seed_same_digest() -> None:
    a = _busy_run(42)
    b = _busy_run(42)
    assert a.metrics.digest.items > 1000
    assert a.metrics.digest.hexdigest() == b.metrics.digest.hexdigest()
    assert a.metrics.traffic_report() == b.metrics.traffic_report()


def test_different_seed_different_digest() -> None:
    assert _busy_run(1).metrics.digest.hexdigest() != _busy_run(2).metrics.digest.hexdigest()


_CLI = [
    "--scenario",
    "crash",
    "--nodes",
    "30",
    "--seconds",
    "20",
    "--loss",
    "0.05",
    "--duplicate",
    "0.01",
    "--seed",
    "7",
    "--json",
]


def _digest_in_subprocess(hash_seed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-m", "swimlib.sim", *_CLI],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return str(json.loads(out.stdout)["digest"])


def test_digest_independent_of_hash_seed() -> None:
    digests = {_digest_in_subprocess(h) for h in ("0", "1", "12345")}
    assert len(digests) == 1
    here = run_scenario(
        ScenarioParams(scenario="crash", nodes=30, seconds=20, loss=0.05, duplicate=0.01, seed=7)
    )
    assert digests == {here["digest"]}


def test_fast_bootstrap_matches_push_pull_merge() -> None:
    """The direct table install gives the same tables as merging a full push/pull."""
    fast = Simulator(25, sim_config("lan"), seed=3)
    fast.bootstrap(fast=True)
    slow = Simulator(25, sim_config("lan"), seed=3)
    slow.bootstrap(fast=False)
    for a, b in zip(fast.nodes, slow.nodes, strict=True):
        ta = sorted(
            (m.name, m.addr, m.port, m.state, m.incarnation, m.meta) for m in a.core.members()
        )
        tb = sorted(
            (m.name, m.addr, m.port, m.state, m.incarnation, m.meta) for m in b.core.members()
        )
        assert ta == tb
        assert len(ta) == 25 and all(m[3] == NodeState.ALIVE for m in ta)
        assert a.core.num_nodes == b.core.num_nodes == 25
        assert len(a.core.broadcasts) == len(b.core.broadcasts) == 0
        assert a.core.member(b.name) is not None
    for sim in (fast, slow):
        sim.run_until(20.0)
        assert sim.metrics.converged()
        assert sim.metrics.fp_suspect == 0
