"""Simulation configs, and switching memberlist's Lifeguard extensions off for comparison.

Owns the preset lookup (lan/wan/local) for simulated nodes and the "no Lifeguard" emulation.
The core has Lifeguard always on; without touching it, the simulator turns it off like this:

* local health (awareness): ``awareness_max_multiplier = 1`` pins the score at 0, so probe
  deadlines are never stretched and refutations/missed nacks have no effect;
* dynamic suspicion timeout: ``suspicion_max_timeout_mult = 1`` makes max == min, so every
  suspicion lasts exactly the classic SWIM timeout ``SuspicionMult * log10(n) * interval`` and
  confirmations cannot shorten it (they are still counted and re-gossiped, see below);
* buddy system: :func:`strip_buddy` rewrites the ``[ping, suspect]`` compound that a node sends
  to a suspected probe target into the bare ping, as a pre-Lifeguard node would send it.

What this cannot undo without a core change (reported to the lead): helpers are still asked
for nacks and send them (extra traffic, no behavioural effect with awareness pinned); a new
suspicion confirmation is still re-broadcast (pre-Lifeguard memberlist ignored suspect messages
about an already-suspect node); the buddy ping carries no piggybacked broadcasts, where a
pre-Lifeguard ping would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from swimlib.config import Config
from swimlib.wire import codec
from swimlib.wire.errors import DecodeError
from swimlib.wire.messages import MessageType, Ping, Suspect

__all__ = ["PRESETS", "sim_config", "strip_buddy", "without_lifeguard"]

PRESETS: dict[str, Callable[..., Config]] = {
    "lan": Config.lan,
    "wan": Config.wan,
    "local": Config.local,
}

_COMPOUND = int(MessageType.COMPOUND)
_PING = int(MessageType.PING)
_SUSPECT = int(MessageType.SUSPECT)


def sim_config(preset: str = "lan", lifeguard: bool = True, **overrides: Any) -> Config:
    """A preset config for simulated nodes (the node name is set per node by the simulator)."""
    try:
        make = PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}") from None
    cfg = make(node_name="sim", **overrides)
    return cfg if lifeguard else without_lifeguard(cfg)


def without_lifeguard(cfg: Config) -> Config:
    """The config half of turning Lifeguard off: no awareness scaling, fixed suspicion timeout."""
    return cfg.with_changes(awareness_max_multiplier=1, suspicion_max_timeout_mult=1)


def strip_buddy(data: bytes, sender: str) -> bytes:
    """The bare ping out of a buddy-system ``[ping(X), suspect(X, from sender)]`` compound.

    Any other packet is returned unchanged. Only a two-part compound whose parts are a ping
    and a suspect about the ping's target from ``sender`` matches; that pair is what the core
    sends to a suspect target, and a piggybacked ping to an alive target would not carry our
    own suspicion of that very target (a refutation replaces it in the queue first).
    """
    if len(data) < 6 or data[0] != _COMPOUND or data[1] != 2:
        return data
    first_len = int.from_bytes(data[2:4], "big")
    second_at = 6 + first_len
    if data[6] != _PING or len(data) <= second_at or data[second_at] != _SUSPECT:
        return data
    try:
        ping = codec.decode(data[6:second_at])
        sus = codec.decode(data[second_at:])
    except DecodeError:
        return data
    if (
        isinstance(ping, Ping)
        and isinstance(sus, Suspect)
        and sus.node == ping.node
        and sus.from_node == sender
    ):
        return data[6:second_at]
    return data
