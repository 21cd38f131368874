"""Simulation configs, and switching memberlist's Lifeguard extensions off for comparison.

Owns the preset lookup (lan/wan/local) for simulated nodes. "No Lifeguard" is the core's own
``Config(lifeguard=False)``: no awareness scaling, no nacks, no buddy suspect on probes, and a
fixed suspicion timeout (``SuspicionMult * log10(n) * interval``) that confirmations neither
shorten nor re-gossip, as memberlist behaved before Lifeguard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from swimlib.config import Config

__all__ = ["PRESETS", "sim_config", "without_lifeguard"]

PRESETS: dict[str, Callable[..., Config]] = {
    "lan": Config.lan,
    "wan": Config.wan,
    "local": Config.local,
}


def sim_config(preset: str = "lan", lifeguard: bool = True, **overrides: Any) -> Config:
    """A preset config for simulated nodes (the node name is set per node by the simulator)."""
    try:
        make = PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}") from None
    # Reconnect is off unless asked for: the study's reference cells predate it.
    overrides.setdefault("reconnect_interval", 0.0)
    cfg = make(node_name="sim", **overrides)
    return cfg if lifeguard else without_lifeguard(cfg)


def without_lifeguard(cfg: Config) -> Config:
    """The same config with Lifeguard off (plain SWIM with suspicion)."""
    return cfg.with_changes(lifeguard=False)
