"""Node and NodeState: the immutable member snapshots the public API hands out."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class NodeState(enum.IntEnum):
    """A member's state; the numbers are memberlist's (``state.go``)."""

    ALIVE = 0
    SUSPECT = 1
    DEAD = 2
    LEFT = 3


@dataclass(frozen=True, slots=True)
class Node:
    """A member as one node sees it at one moment. Safe to keep and share across threads."""

    name: str
    addr: str
    port: int
    meta: bytes
    state: NodeState
    incarnation: int
    pmin: int = 1
    pmax: int = 5
    pcur: int = 2
    dmin: int = 0
    dmax: int = 0
    dcur: int = 0

    @property
    def address(self) -> tuple[str, int]:
        return (self.addr, self.port)

    def __str__(self) -> str:
        return f"{self.name}@{self.addr}:{self.port}"
