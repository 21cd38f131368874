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
from swimlib.sim.scenarios import ScenarioParams, run_scenario
from swimlib.wire import codec
from swimlib.wire.crc import strip_crc
from swimlib.wire.errors import DecodeError
from swimlib.wire.messages import Compound, Ping, Suspect


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
    assert cfg.lifeguard is False
    assert sim_config("lan", lifeguard=False) == cfg
    sim = Simulator(3, sim_config("lan"), seed=1, options=SimOptions(lifeguard=False))
    assert sim.nodes[0].core.config.lifeguard is False


def _is_buddy(data: bytes, sender: str) -> bool:
    """A ``[ping(X), suspect(X, from sender)]`` compound: the buddy-system probe."""
    try:
        msg = codec.decode(data)
    except DecodeError:
        return False
    if not isinstance(msg, Compound) or len(msg.parts) != 2:
        return False
    ping, sus = (codec.decode(p) for p in msg.parts)
    return (
        isinstance(ping, Ping)
        and isinstance(sus, Suspect)
        and sus.node == ping.node
        and sus.from_node == sender
    )


def _buddy_packets_at_paused_node(lifeguard: bool) -> list[bytes]:
    """Probes of a paused (soon suspect) node, queued unread at it: which were buddy pings."""
    sim = Simulator(6, sim_config("lan"), seed=2, options=SimOptions(lifeguard=lifeguard))
    sim.bootstrap()
    sim.at(1.0, lambda: sim.pause(3, 60.0))
    sim.run_until(12.0)
    found = []
    for kind, _dst, src, data in sim.nodes[3].pending:
        plain = strip_crc(data) if kind == 0 else b""
        if plain and _is_buddy(plain, sim.nodes[src].name):
            found.append(plain)
    return found


def test_buddy_system_follows_the_toggle() -> None:
    """A suspect target gets [ping, suspect] with Lifeguard, a bare ping without."""
    assert _buddy_packets_at_paused_node(True)
    assert not _buddy_packets_at_paused_node(False)
