"""Deterministic simulator: many real SwimCore nodes, a virtual clock and a virtual network.

Owns nothing itself; it names the public pieces: :class:`Simulator` (clock, event heap, nodes,
faults), :class:`NetworkParams` (latency, jitter, loss, duplication), :class:`Metrics`, the
Lifeguard toggle helpers and the scenario runners behind ``python -m swimlib.sim``.
"""

from swimlib.sim.lifeguard import sim_config, without_lifeguard
from swimlib.sim.metrics import Metrics, TraceDigest
from swimlib.sim.network import Network, NetworkParams
from swimlib.sim.simulator import SimNode, SimOptions, Simulator

__all__ = [
    "Metrics",
    "Network",
    "NetworkParams",
    "SimNode",
    "SimOptions",
    "Simulator",
    "TraceDigest",
    "sim_config",
    "without_lifeguard",
]
