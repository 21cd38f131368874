"""Protocol figures measured on simulated clusters: detection, join, broadcast, partitions.

Each test runs one scenario on a fixed seed and checks the figure against what memberlist's
formulas promise (spec sections 5-6), with slack for probe scheduling and gossip.
"""

from __future__ import annotations

from swimlib.core.formulas import suspicion_timeout
from swimlib.node import NodeState
from swimlib.sim import Simulator, sim_config
from swimlib.sim.scenarios import ScenarioParams, run_scenario


def test_crash_detected_by_every_survivor_within_bound() -> None:
    """50 nodes, 2 crashes: all 48 survivors declare both dead within the suspicion
    timeout (after k confirmations) plus a few probe periods: up to ~3 periods until a
    probe of the victim fails and confirmations come in, the rest for gossiping the death.
    """
    p = ScenarioParams(scenario="crash", nodes=50, seconds=30, crash_count=2, crash_at=5, seed=11)
    out = run_scenario(p)
    det = out["detection"]
    cfg = sim_config("lan")
    bound = suspicion_timeout(cfg.suspicion_mult, 50, cfg.protocol_interval)
    bound += 6 * cfg.protocol_interval
    assert det["crashed"] == 2 and det["survivors"] == 48
    assert det["undetected_pairs"] == 0
    assert det["all_detections"]["count"] == 96
    assert det["all_detections"]["max"] <= bound
    # Nobody can be declared dead before the minimum suspicion timeout has run.
    assert det["first_detection"]["min"] >= suspicion_timeout(4, 50, 1.0)
    assert out["false_positives"]["dead_declarations"] == 0


def test_crash_detection_with_loss() -> None:
    p = ScenarioParams(
        scenario="crash", nodes=50, seconds=30, crash_count=1, crash_at=5, loss=0.05, seed=5
    )
    out = run_scenario(p)
    det = out["detection"]
    assert det["undetected_pairs"] == 0
    assert det["all_detections"]["max"] <= suspicion_timeout(4, 50, 1.0) + 6.0
    assert out["false_positives"]["dead_declarations"] == 0


def test_join_through_one_seed_converges() -> None:
    p = ScenarioParams(scenario="join", nodes=60, seconds=30, join_window=1.0, seed=2)
    out = run_scenario(p)
    j = out["join"]
    assert j["converged_at"] is not None
    # Gossip alone can leave a node that missed an alive broadcast; the first periodic
    # push/pulls, staggered over the first interval (docs/architecture.md), repair it within
    # seconds. With memberlist's schedule (stagger + a whole interval) this run takes > 30 s.
    assert j["after_last_join"] < 5.0
    assert out["false_positives"]["suspicions"] == 0


def test_join_tables_are_complete() -> None:
    sim = Simulator(20, sim_config("lan"), seed=9)
    for i in range(1, 20):
        sim.at(0.05 * i, lambda i=i: sim.join(i, 0))  # type: ignore[misc]
    sim.run_until(10.0)
    for node in sim.nodes:
        states = {m.name: m.state for m in node.core.members()}
        assert len(states) == 20
        assert set(states.values()) == {NodeState.ALIVE}


def test_broadcast_reaches_everyone_quickly() -> None:
    p = ScenarioParams(scenario="broadcast", nodes=200, seconds=20, seed=4)
    out = run_scenario(p)
    b = out["broadcast"]
    assert b["reached"] == b["wanted"] == 199
    # Epidemic relay: a handful of 200 ms gossip rounds for log(n) hops.
    assert b["all_reached_after"] is not None and b["all_reached_after"] < 2.0


def test_broadcast_with_loss_still_complete() -> None:
    p = ScenarioParams(scenario="broadcast", nodes=100, seconds=20, loss=0.1, seed=4)
    b = run_scenario(p)["broadcast"]
    assert b["reached"] == b["wanted"]


def test_partition_detected_and_remerged_after_heal() -> None:
    p = ScenarioParams(
        scenario="partition",
        nodes=40,
        seconds=80,
        partition_at=5,
        partition_seconds=30,
        seed=8,
    )
    out = run_scenario(p)
    part = out["partition"]
    assert part["sizes"] == [20, 20]
    # Every node ends up believing the whole other side dead while split...
    assert part["observers_with_all_across_dead"] == 40
    assert part["all_across_dead_after"]["max"] < 30
    assert part["first_dead_across_after"] >= suspicion_timeout(4, 40, 1.0)
    # ...and the two halves merge again after healing (Serf-style reconnect).
    assert part["remerged_after_heal"] is not None
    assert part["remerged_after_heal"] < part["reconnect_interval"] + 5
    assert part["converged_at_end"]


def test_short_partition_heals_without_deaths() -> None:
    """Split for less than the suspicion timeout: suspicions are refuted, nobody dies."""
    p = ScenarioParams(
        scenario="partition",
        nodes=40,
        seconds=25,
        partition_at=5,
        partition_seconds=3,
        seed=8,
    )
    out = run_scenario(p)
    assert out["false_positives"]["dead_declarations"] == 0
    assert out["false_positives"]["suspicions"] > 0
    assert out["partition"]["converged_at_end"]


def test_steady_cluster_with_loss_has_no_false_positives() -> None:
    p = ScenarioParams(scenario="steady", nodes=100, seconds=30, loss=0.05, seed=3)
    out = run_scenario(p)
    assert out["false_positives"]["dead_declarations"] == 0
    assert out["converged_at_end"]
    assert out["network"]["lost"] > 0


def test_pause_shorter_than_timeout_is_survived() -> None:
    p = ScenarioParams(
        scenario="pause", nodes=60, seconds=30, pause_count=3, pause_seconds=4, seed=6
    )
    out = run_scenario(p)
    fp = out["false_positives"]
    assert fp["suspicions_about_impaired_nodes"] > 0  # the paused nodes were noticed...
    assert fp["dead_declarations"] == 0  # ...and refuted in time
    assert out["traffic"]["queued_while_paused"] > 0


def test_pause_longer_than_timeout_is_declared_dead_then_rejoins() -> None:
    p = ScenarioParams(
        scenario="pause", nodes=40, seconds=40, pause_count=1, pause_seconds=15, seed=6
    )
    out = run_scenario(p)
    fp = out["false_positives"]
    assert fp["dead_about_impaired_nodes"] >= 39
    assert fp["dead_about_unimpaired_nodes"] == 0
    assert out["events"]["JoinEvent"] > 40  # it refuted its death and came back
