"""Local health score (Lifeguard); memberlist counterpart: ``awareness.go``.

Owns the integer score in ``[0, max_multiplier - 1]`` that rises when this node seems to be the
slow one (missed nacks, having to refute) and falls on successful probes (spec section 6.1). A
higher score stretches probe deadlines so an overloaded node accuses others less eagerly.
``ProbeTimeout`` itself is not scaled; the caller decides what to pass to ``scale_timeout``.
"""

from __future__ import annotations

__all__ = ["Awareness"]


class Awareness:
    """Health score; 0 means healthy (``GetHealthScore`` in Go)."""

    __slots__ = ("_max", "_score")

    def __init__(self, max_multiplier: int) -> None:
        """Start healthy. ``max_multiplier`` is ``AwarenessMaxMultiplier`` (default 8)."""
        if max_multiplier < 1:
            # Go would clamp to -1 and scale every timeout to zero; refuse instead.
            raise ValueError(f"max_multiplier must be >= 1, got {max_multiplier}")
        self._max = max_multiplier
        self._score = 0

    @property
    def score(self) -> int:
        """Current score, 0 (healthy) to ``max_multiplier - 1``."""
        return self._score

    @property
    def max_multiplier(self) -> int:
        """The configured ``AwarenessMaxMultiplier``."""
        return self._max

    def apply_delta(self, delta: int) -> int:
        """Add ``delta``, clamp into ``[0, max_multiplier - 1]`` and return the new score."""
        score = self._score + delta
        if score < 0:
            score = 0
        elif score > self._max - 1:
            score = self._max - 1
        self._score = score
        return score

    def scale_timeout(self, timeout: float) -> float:
        """Stretch ``timeout`` by ``score + 1`` (1x when healthy, up to ``max_multiplier``x)."""
        return timeout * (self._score + 1)

    def __repr__(self) -> str:
        return f"Awareness(score={self._score}, max_multiplier={self._max})"
