"""Lifeguard on vs off on the same seed, and the pieces of the "off" emulation.

Measured on a 200-node LAN cluster with 5% loss, two GC-paused nodes (5 s) and four slow
nodes (inputs handled 10 s late, longer than the 9.2 s minimum suspicion timeout, for 16 s).
Seed 1 measured: Lifeguard 787 dead declarations (7 distinct nodes, 3 of them healthy),
3,991 suspicions; without Lifeguard 816 (33 distinct), 11,657 suspicions. The slow nodes
themselves are declared dead either way (they cannot refute within the timeout); the gain is
in healthy nodes that the slow nodes would otherwise accuse and kill.
"""

from __future__ import annotations

from typing import Any

from swimlib.sim import SimOptions, Simulator, sim_config, without_lifeguard
from swimlib.sim.lifeguard import strip_buddy
from swimlib.sim.scenarios import ScenarioParams, run_scenario
from swimlib.wire import codec
from swimlib.wire.crc import strip_crc
from swimlib.wire.messages import Ping, Suspect


def _impaired(lifeguard: bool) -> dict[str, Any]:
    p = ScenarioParams(
        scenario="pause",
        nodes=200,
        seconds=22,
        loss=0.05,
        seed=1,
        lifeguard=lifeguard,
        pause_count=2,
        pause_seconds=5,
        pause_at=2,
        pause_spread=3,
        slow_count=4,
        slow_delay=10,
        slow_seconds=16,
    )
    return run_scenario(p)["false_positives"]  # type: ignore[no-any-return]


def test_lifeguard_reduces_false_positives() -> None:
    on = _impaired(True)
    off = _impaired(False)
    # Healthy nodes declared dead: the false positives Lifeguard exists to prevent.
    assert (
        on["distinct_unimpaired_nodes_declared_dead"]
        < off["distinct_unimpaired_nodes_declared_dead"]
    )
    assert on["dead_about_unimpaired_nodes"] < off["dead_about_unimpaired_nodes"]
    assert on["distinct_nodes_declared_dead"] < off["distinct_nodes_declared_dead"]
    assert on["dead_declarations"] < off["dead_declarations"]
    # Local health keeps the slow nodes from accusing everybody they probe.
    assert on["suspicions_about_unimpaired_nodes"] * 2 < off["suspicions_about_unimpaired_nodes"]


def test_without_lifeguard_config() -> None:
    cfg = without_lifeguard(sim_config("lan"))
    assert cfg.awareness_max_multiplier == 1
    assert cfg.suspicion_max_timeout_mult == 1
    assert sim_config("lan", lifeguard=False) == cfg
    sim = Simulator(3, sim_config("lan"), seed=1, options=SimOptions(lifeguard=False))
    assert sim.nodes[0].core.config.awareness_max_multiplier == 1


def test_strip_buddy_only_touches_the_buddy_compound() -> None:
    ping = codec.encode(Ping(5, "b", b"\x0a\x00\x00\x01", 7946, "a"))
    buddy = codec.make_compound([ping, codec.encode(Suspect(3, "b", "a"))])
    assert strip_buddy(buddy, "a") == ping
    # Someone else's suspicion, or about another node: a piggyback, left alone.
    other = codec.make_compound([ping, codec.encode(Suspect(3, "b", "c"))])
    assert strip_buddy(other, "a") == other
    about_c = codec.make_compound([ping, codec.encode(Suspect(3, "c", "a"))])
    assert strip_buddy(about_c, "a") == about_c
    assert strip_buddy(ping, "a") == ping
    assert strip_buddy(b"\x07\x02\x00", "a") == b"\x07\x02\x00"


def _buddy_packets_at_paused_node(lifeguard: bool) -> list[bytes]:
    """Probes of a paused (soon suspect) node, queued unread at it: which were buddy pings."""
    sim = Simulator(6, sim_config("lan"), seed=2, options=SimOptions(lifeguard=lifeguard))
    sim.bootstrap()
    sim.at(1.0, lambda: sim.pause(3, 60.0))
    sim.run_until(12.0)
    found = []
    for kind, _dst, src, data in sim.nodes[3].pending:
        plain = strip_crc(data) if kind == 0 else b""
        if plain and strip_buddy(plain, sim.nodes[src].name) != plain:
            found.append(plain)
    return found


def test_buddy_system_follows_the_toggle() -> None:
    """A suspect target gets [ping, suspect] with Lifeguard, a bare ping without."""
    assert _buddy_packets_at_paused_node(True)
    assert not _buddy_packets_at_paused_node(False)
