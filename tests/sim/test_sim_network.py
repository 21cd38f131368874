"""The virtual network and node faults behave as documented, and the CLI prints figures."""

from __future__ import annotations

import io
import json
import random
from contextlib import redirect_stdout

from swimlib.sim import Network, NetworkParams, Simulator, sim_config
from swimlib.sim.__main__ import main
from swimlib.sim.metrics import percentile, summarize
from swimlib.sim.scenarios import ScenarioParams, run_scenario


def test_loss_rate_and_delays() -> None:
    net = Network(NetworkParams(latency=0.01, jitter=0.002, loss=0.2), random.Random(1))
    fates = [net.fate(0, 1) for _ in range(20000)]
    lost = sum(1 for f in fates if not f)
    assert 0.18 < lost / len(fates) < 0.22
    delays = [d for f in fates for d in f]
    assert min(delays) >= 0.008 and max(delays) <= 0.012


def test_duplicates_partitions_and_one_way_loss() -> None:
    net = Network(NetworkParams(duplicate=0.5), random.Random(2))
    twice = sum(1 for _ in range(1000) if len(net.fate(0, 1)) == 2)
    assert 400 < twice < 600
    net.partition([[0, 1], [2]])
    assert net.fate(0, 2) == () and net.fate(2, 1) == ()
    assert net.fate(0, 1) and net.fate(3, 4)
    assert net.fate(3, 0) == ()  # unlisted nodes form their own group
    assert not net.can_connect(1, 2) and net.can_connect(0, 1)
    net.heal()
    assert net.fate(0, 2) and net.can_connect(1, 2)
    net.set_one_way_loss(5, 6, 1.0)
    assert net.fate(5, 6) == () and net.fate(6, 5)
    assert not net.can_connect(6, 5)  # TCP needs both directions


def test_crashed_node_goes_silent_and_is_declared_dead() -> None:
    sim = Simulator(10, sim_config("lan"), seed=1)
    sim.bootstrap()
    sim.at(1.0, lambda: sim.crash(4))
    sim.run_until(40.0)
    assert sim.metrics.dropped_dst_down > 0
    for node in sim.nodes:
        if node.index != 4:
            m = node.core.member("node-0004")
            assert m is not None and m.state >= 2


def test_paused_node_queues_input_and_catches_up() -> None:
    sim = Simulator(10, sim_config("lan"), seed=1)
    sim.bootstrap()
    sim.at(1.0, lambda: sim.pause(2, 3.0))
    sim.run_until(3.5)
    assert sim.nodes[2].paused and sim.nodes[2].pending
    sim.run_until(4.5)
    assert not sim.nodes[2].paused and not sim.nodes[2].pending
    sim.run_until(20.0)
    assert sim.metrics.fp_dead == 0 and sim.metrics.converged()


def test_graceful_leave_is_not_a_false_positive() -> None:
    sim = Simulator(10, sim_config("lan"), seed=1)
    sim.bootstrap()
    sim.at(1.0, lambda: sim.leave(6))
    sim.run_until(10.0)
    assert sim.nodes[6].down
    assert 6 in sim.metrics.leave_finished
    assert sim.metrics.fp_dead == 0
    assert sim.metrics.event_counts["LeaveEvent"] == 10  # everyone, the leaver included


def test_percentiles() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 99) == 4.0
    assert summarize([]) == {"count": 0}
    assert summarize([3.0, 1.0])["median"] == 1.0


def test_cli_json_and_table() -> None:
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["--scenario", "crash", "--nodes", "20", "--seconds", "25", "--json"]) == 0
    out = json.loads(buf.getvalue())
    assert out["detection"]["undetected_pairs"] == 0
    assert out["speed"]["events_per_second"] > 0
    buf = io.StringIO()
    with redirect_stdout(buf):
        main(["--scenario", "steady", "--nodes", "10", "--seconds", "5", "--no-lifeguard"])
    text = buf.getvalue()
    assert "trace digest" in text and "10 / lan / False" in text


def test_event_log_and_per_observer_detection_times() -> None:
    sim = Simulator(8, sim_config("lan"), seed=3)
    sim.bootstrap()
    sim.metrics.event_log = []
    sim.at(2.0, lambda: sim.crash(5))
    sim.run_until(30.0)
    log = sim.metrics.event_log
    dead = [(t, obs) for t, obs, kind, name, state in log if kind == "LeaveEvent"]
    assert sorted(obs for _, obs in dead) == [0, 1, 2, 3, 4, 6, 7]
    assert all(name == "node-0005" for _, _, _, name, _ in log)
    assert {obs: t for t, obs in dead} == sim.metrics.dead_at[5]


def test_wire_paths_for_streams_and_compression() -> None:
    """Push/pull through the real codec and LZW datagrams change bytes, not behaviour."""
    base = ScenarioParams(scenario="crash", nodes=20, seconds=25, crash_at=3, seed=4)
    plain = run_scenario(base)
    wired = run_scenario(ScenarioParams(**{**vars(base), "encode_streams": True, "compress": True}))
    assert wired["traffic"]["push_pull_bytes"] > 0 and plain["traffic"]["push_pull_bytes"] == 0
    assert wired["detection"]["undetected_pairs"] == plain["detection"]["undetected_pairs"] == 0
    assert wired["traffic"]["push_pull_ok"] == plain["traffic"]["push_pull_ok"]
