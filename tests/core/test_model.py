"""Model-based test: random schedules of faults and hostile messages over a few real cores.

Invariants checked after every step: no input raises, a node never drops its own incarnation,
a node that has not left always sees itself alive, and member tables hold one entry per name.
"""

from __future__ import annotations

from harness import Net
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from swimlib.node import NodeState
from swimlib.wire import codec
from swimlib.wire.messages import Alive, Dead, Suspect

NAMES = ["a", "b", "c", "d"]


class ClusterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.net = Net(latency=0.002)
        self.cores = [self.net.add(n) for n in NAMES]
        for c in self.cores[1:]:
            self.net.join(c, self.cores[0])
        self.incarnations = {c.name: c.incarnation for c in self.cores}

    @rule(dt=st.floats(0.01, 3.0))
    def advance(self, dt: float) -> None:
        self.net.run_until(self.net.now + dt)

    @rule(i=st.integers(0, 3))
    def crash_or_recover(self, i: int) -> None:
        addr = self.net.addr(self.cores[i])
        if addr in self.net.crashed:
            self.net.crashed.discard(addr)
        elif len(self.net.crashed) < 2:
            self.net.crashed.add(addr)

    @rule(i=st.integers(0, 3), j=st.integers(0, 3))
    def toggle_link(self, i: int, j: int) -> None:
        link = (self.net.addr(self.cores[i]), self.net.addr(self.cores[j]))
        if link in self.net.blocked:
            self.net.blocked.discard(link)
        else:
            self.net.blocked.add(link)

    @rule(
        who=st.integers(0, 3),
        about=st.sampled_from([*NAMES, "stranger"]),
        kind=st.sampled_from(["suspect", "dead", "alive"]),
        inc=st.integers(0, 20),
    )
    def hostile_message(self, who: int, about: str, kind: str, inc: int) -> None:
        core = self.cores[who]
        if kind == "suspect":
            msg = codec.encode(Suspect(inc, about, "mallory"))
        elif kind == "dead":
            msg = codec.encode(Dead(inc, about, "mallory"))
        else:
            msg = codec.encode(
                Alive(inc, about, b"\x7f\x00\x00\x09", 9999, b"", b"\x01\x05\x02\x00\x00\x00")
            )
        self.net.apply(core, core.receive_packet(msg, ("127.0.0.9", 9999), self.net.now))

    @rule(who=st.integers(0, 3), data=st.binary(max_size=64))
    def garbage(self, who: int, data: bytes) -> None:
        core = self.cores[who]
        self.net.apply(core, core.receive_packet(data, ("127.0.0.9", 9999), self.net.now))

    @invariant()
    def own_view_is_sane(self) -> None:
        for c in self.cores:
            assert c.incarnation >= self.incarnations[c.name]
            self.incarnations[c.name] = c.incarnation
            assert c.local_node().state == NodeState.ALIVE
            names = [m.name for m in c.members()]
            assert len(names) == len(set(names))


ClusterMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
TestClusterModel = ClusterMachine.TestCase
