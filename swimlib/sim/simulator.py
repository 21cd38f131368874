"""Deterministic discrete-event simulator: many real SwimCore nodes on one virtual clock.

Owns the virtual clock, the event heap, the simulated nodes (crash, pause, leave) and the
carrying-out of core effects: UDP datagrams through :class:`~swimlib.sim.network.Network`,
push/pull and TCP-ping exchanges as two-leg round trips, events and user messages into
:class:`~swimlib.sim.metrics.Metrics`. It drives the cores through exactly the calls the
threaded runtime uses, so what it measures is what ships.

Scheduling. The heap holds ``(time, seq, kind, a, b, payload)``; ``seq`` is a global counter,
so ties are broken by insertion order and never by comparing payloads. Each node has at most
one *live* wake-up entry: after every input the node's earliest timer (``next_deadline()`` or
``next_gossip()``) is re-read and, only if it moved earlier, a new entry is pushed with a fresh
token; superseded entries are skipped when popped. Every step is O(log n); nothing scans all
nodes. Chance comes from seeded ``random.Random`` objects only (one per node, one for the
network), derived from the run seed in node order, so a run is a pure function of its seed.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from swimlib.config import Config
from swimlib.core.effects import (
    DeliverMessage,
    Effect,
    LeaveFinished,
    Notice,
    PingResult,
    PublishEvent,
    PushPullRejected,
    PushPullRequest,
    SendPacket,
    SendReliable,
    StreamReply,
    TcpPing,
    assert_never,
)
from swimlib.core.protocol import SwimCore
from swimlib.sim.bootstrap import install_full_membership, merge_full_membership
from swimlib.sim.lifeguard import without_lifeguard
from swimlib.sim.metrics import Metrics
from swimlib.sim.network import Network, NetworkParams
from swimlib.wire import codec
from swimlib.wire.messages import Ack, PushPull, User
from swimlib.wire.packet import pack_inner

__all__ = ["SimNode", "SimOptions", "Simulator", "node_host"]

Addr = tuple[str, int]
_Entry = tuple[float, int, int, int, int, Any]

# Heap entry kinds: (time, seq, kind, a, b, payload).
_DELIVER = 0  # a = dst, b = src, payload = datagram bytes
_WAKE = 1  # a = node, b = token
_RESUME = 2  # a = node, b = token
_PP_REQUEST = 3  # a = listener, b = dialer, payload = PushPull (or its bytes)
_PP_REPLY = 4  # a = dialer, b = listener, payload = PushPull reply (or its bytes)
_PING_REQUEST = 5  # a = listener, b = dialer, payload = TcpPing
_PING_RESULT = 6  # a = dialer, b = 1 if ok, payload = seq_no
_ACTION = 7  # payload = callable
_STOP = 8  # a = node: a graceful leaver shuts down

_INF = math.inf
PORT = 7946


def node_host(i: int) -> str:
    """The simulated IPv4 address of node ``i`` (10.0.0.1, 10.0.0.2, ...)."""
    j = i + 1
    return f"10.{(j >> 16) & 255}.{(j >> 8) & 255}.{j & 255}"


@dataclass
class SimOptions:
    """How the simulator carries out effects (the network itself is :class:`NetworkParams`)."""

    lifeguard: bool = True
    # LZW like Config.enable_compression, through the runtime's own wire.packet.pack_inner
    # (packets under 96 bytes are not tried); off by default because it is slow.
    compress: bool = False
    encode_streams: bool = False  # push/pull through the real codec, counting its bytes
    pause_timers_first: bool = True  # on resume, expired timers fire before queued packets
    leave_timeout: float = 5.0  # a leaving node stops after LeaveFinished or this long


class SimNode:
    """One simulated process: a SwimCore plus its fate (crashed, paused, queued input)."""

    __slots__ = (
        "addr",
        "core",
        "down",
        "inbound_delay",
        "index",
        "name",
        "paused",
        "pending",
        "resume_token",
        "wake_at",
        "wake_token",
    )

    def __init__(self, index: int, name: str, addr: Addr, core: SwimCore) -> None:
        self.index = index
        self.name = name
        self.addr = addr
        self.core = core
        self.down = False  # crashed or shut down after leaving: inert for good
        self.paused = False
        self.inbound_delay = 0.0  # a slow node handles every input this much later
        self.pending: list[tuple[int, int, int, Any]] = []
        self.resume_token = 0
        self.wake_at = _INF
        self.wake_token = -1


class Simulator:
    """A virtual cluster of ``n`` nodes; see the module docstring for the scheduling model."""

    def __init__(
        self,
        n: int,
        config: Config,
        seed: int,
        network: NetworkParams | None = None,
        options: SimOptions | None = None,
        name_format: str = "node-{:04d}",
    ) -> None:
        self.options = options or SimOptions()
        self.seed = seed
        master = random.Random(seed)
        node_seeds = [master.getrandbits(64) for _ in range(n)]
        self.network = Network(network or NetworkParams(), random.Random(master.getrandbits(64)))
        self.rng = random.Random(master.getrandbits(64))  # for scenarios: victims, timings
        if not self.options.lifeguard:
            config = without_lifeguard(config)
        self.config = config
        self.now = 0.0
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        names = [name_format.format(i) for i in range(n)]
        self.metrics = Metrics(names)
        self.nodes: list[SimNode] = []
        self._by_addr: dict[Addr, int] = {}
        for i, name in enumerate(names):
            host = node_host(i)
            core = SwimCore(
                config.with_changes(node_name=name), random.Random(node_seeds[i]), host, PORT
            )
            node = SimNode(i, name, (host, PORT), core)
            self.nodes.append(node)
            self._by_addr[node.addr] = i
        for node in self.nodes:
            self._apply(node, node.core.start(self.now))
            self._reschedule(node)

    # ------------------------------------------------------------------ scheduling

    def _push(self, t: float, kind: int, a: int, b: int, payload: Any) -> None:
        heapq.heappush(self._heap, (t, next(self._seq), kind, a, b, payload))

    def at(self, t: float, action: Callable[[], None]) -> None:
        """Run ``action`` at virtual time ``t`` (scenario scripting: crash, pause, heal...)."""
        self._push(max(t, self.now), _ACTION, 0, 0, action)

    def _reschedule(self, node: SimNode) -> None:
        """Make sure a wake-up is queued for the node's earliest timer."""
        core = node.core
        d = core.next_deadline()
        g = core.next_gossip()
        if d is None:
            if g is None:
                return
            w = g
        elif g is None or d <= g:
            w = d
        else:
            w = g
        if w < node.wake_at:
            if w < self.now:
                w = self.now
            token = next(self._seq)
            node.wake_at = w
            node.wake_token = token
            heapq.heappush(self._heap, (w, token, _WAKE, node.index, token, None))

    def run_until(self, t_end: float) -> None:
        """Process every event up to and including ``t_end``; the clock then reads ``t_end``."""
        heap = self._heap
        pop = heapq.heappop
        dispatch = self._dispatch
        while heap and heap[0][0] <= t_end:
            t, _, kind, a, b, payload = pop(heap)
            self.now = t
            dispatch(kind, a, b, payload)
        if t_end > self.now:
            self.now = t_end

    def run_for(self, seconds: float) -> None:
        self.run_until(self.now + seconds)

    def run_while(self, keep_going: Callable[[], bool], t_max: float) -> None:
        """Run until ``keep_going()`` is false (checked after every event) or ``t_max``."""
        heap = self._heap
        while heap and heap[0][0] <= t_max and keep_going():
            t, _, kind, a, b, payload = heapq.heappop(heap)
            self.now = t
            self._dispatch(kind, a, b, payload)
        if keep_going() and t_max > self.now:
            self.now = t_max

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, kind: int, a: int, b: int, payload: Any) -> None:
        if kind == _WAKE:
            node = self.nodes[a]
            if b != node.wake_token:
                return  # superseded by an earlier wake-up
            node.wake_at = _INF
            node.wake_token = -1
            if node.down or node.paused:
                return  # a resume reschedules
            self.metrics.sim_events += 1
            self._fire_timers(node)
            return
        if kind == _DELIVER:
            node = self.nodes[a]
            if node.down:
                self.metrics.dropped_dst_down += 1
                return
            if node.paused:
                node.pending.append((kind, a, b, payload))
                self.metrics.queued_while_paused += 1
                return
            m = self.metrics
            m.sim_events += 1
            m.packets_delivered += 1
            m.bytes_delivered += len(payload)
            m.digest.packet(self.now, b, a, payload)
            self._apply(node, node.core.receive_packet(payload, self.nodes[b].addr, self.now))
            self._reschedule(node)
            return
        if kind == _ACTION:
            payload()
            return
        if kind == _RESUME:
            self._resume(a, b)
            return
        if kind == _PP_REQUEST:
            self._push_pull_request(a, b, payload)
            return
        if kind == _PP_REPLY:
            self._push_pull_reply(a, b, payload)
            return
        if kind == _PING_REQUEST:
            self._tcp_ping_request(a, b, payload)
            return
        if kind == _PING_RESULT:
            self._tcp_ping_result(a, b, payload)
            return
        if kind == _STOP:
            self.nodes[a].down = True
            return
        raise AssertionError(f"unknown event kind {kind}")

    def _fire_timers(self, node: SimNode) -> None:
        core = node.core
        now = self.now
        d = core.next_deadline()
        if d is not None and d <= now:
            self._apply(node, core.handle_timers(now))
        g = core.next_gossip()
        if g is not None and g <= now:
            self._apply(node, core.gossip(now))
        self._reschedule(node)

    # ------------------------------------------------------------------ effects

    def _apply(self, node: SimNode, effects: list[Effect]) -> None:
        for eff in effects:
            match eff:
                case SendPacket():
                    self._send(node, eff)
                case PublishEvent():
                    self.metrics.on_event(self.now, node.index, eff.event)
                case DeliverMessage():
                    self.metrics.on_deliver(self.now, node.index, eff.payload)
                case PushPullRequest():
                    self._start_push_pull(node.index, eff.addr, eff.message)
                case TcpPing():
                    self._start_tcp_ping(node.index, eff)
                case SendReliable():
                    self._send_reliable(node.index, eff)
                case LeaveFinished():
                    self.metrics.leave_finished.setdefault(node.index, self.now)
                    self._push(self.now, _STOP, node.index, 0, None)
                case PushPullRejected():
                    self.metrics.push_pull_failed += 1
                case StreamReply() | PingResult() | Notice():
                    pass  # replies are taken by the exchange; scenarios make no user pings
                case _:
                    assert_never(eff)

    def _send(self, node: SimNode, eff: SendPacket) -> None:
        data = pack_inner(eff.data, crc=eff.crc, compress=self.options.compress)
        m = self.metrics
        m.packets_sent += 1
        m.bytes_sent += len(data)
        dst = self._by_addr.get(eff.addr)
        if dst is None:
            m.dropped_unknown_addr += 1
            return
        at = self.now + self.nodes[dst].inbound_delay
        src = node.index
        for delay in self.network.fate(src, dst):
            heapq.heappush(self._heap, (at + delay, next(self._seq), _DELIVER, dst, src, data))

    # ------------------------------------------------------------------ TCP exchanges

    def _reachable(self, a: int, b: int) -> bool:
        node = self.nodes[b]
        return not node.down and not node.paused and self.network.can_connect(a, b)

    def _start_push_pull(self, dialer: int, addr: Addr, msg: PushPull) -> None:
        listener = self._by_addr.get(addr)
        if listener is None or not self.network.can_connect(dialer, listener):
            self.metrics.push_pull_failed += 1
            return
        payload: Any = msg
        if self.options.encode_streams:
            payload = codec.encode(msg)
            self.metrics.push_pull_bytes += len(payload)
        else:
            self.metrics.push_pull_entries += len(msg.nodes)
        delay = self.network.delay(dialer, listener) + self.nodes[listener].inbound_delay
        self._push(self.now + delay, _PP_REQUEST, listener, dialer, payload)

    def _push_pull_request(self, listener: int, dialer: int, payload: Any) -> None:
        """The request leg arrives: the listener merges and answers with its own state."""
        if not self._reachable(dialer, listener):
            self.metrics.push_pull_failed += 1
            return
        self.metrics.sim_events += 1
        node = self.nodes[listener]
        msg = codec.decode_push_pull(payload) if isinstance(payload, bytes) else payload
        effects = node.core.handle_stream(msg, self.nodes[dialer].addr, self.now)
        reply = _stream_reply(effects)
        self._apply(node, effects)
        self._reschedule(node)
        if not isinstance(reply, PushPull):
            self.metrics.push_pull_failed += 1
            return
        out: Any = reply
        if self.options.encode_streams:
            out = codec.encode(reply)
            self.metrics.push_pull_bytes += len(out)
        else:
            self.metrics.push_pull_entries += len(reply.nodes)
        delay = self.network.delay(listener, dialer) + self.nodes[dialer].inbound_delay
        self._push(self.now + delay, _PP_REPLY, dialer, listener, out)

    def _push_pull_reply(self, dialer: int, listener: int, payload: Any) -> None:
        """The reply leg arrives back at the dialer, which merges it."""
        node = self.nodes[dialer]
        if node.down or not self.network.can_connect(dialer, listener):
            self.metrics.push_pull_failed += 1
            return
        if node.paused:
            node.pending.append((_PP_REPLY, dialer, listener, payload))
            return
        self.metrics.sim_events += 1
        msg = codec.decode_push_pull(payload) if isinstance(payload, bytes) else payload
        effects = node.core.push_pull_reply(msg, self.nodes[listener].addr, 0, self.now)
        if not any(isinstance(e, PushPullRejected) for e in effects):
            self.metrics.push_pull_ok += 1
        self._apply(node, effects)
        self._reschedule(node)

    def _start_tcp_ping(self, dialer: int, eff: TcpPing) -> None:
        listener = self._by_addr.get(eff.addr)
        if listener is None or not self.network.can_connect(dialer, listener):
            self._push(max(eff.deadline, self.now), _PING_RESULT, dialer, 0, eff.ping.seq_no)
            return
        delay = self.network.delay(dialer, listener) + self.nodes[listener].inbound_delay
        self._push(self.now + delay, _PING_REQUEST, listener, dialer, eff)

    def _tcp_ping_request(self, listener: int, dialer: int, eff: TcpPing) -> None:
        """The TCP ping reaches its target; it answers unless down, paused or cut off."""
        seq_no = eff.ping.seq_no
        if not self._reachable(dialer, listener):
            self._push(max(eff.deadline, self.now), _PING_RESULT, dialer, 0, seq_no)
            return
        self.metrics.sim_events += 1
        node = self.nodes[listener]
        effects = node.core.handle_stream(eff.ping, self.nodes[dialer].addr, self.now)
        reply = _stream_reply(effects)
        self._apply(node, effects)
        self._reschedule(node)
        back = self.now + self.network.delay(listener, dialer) + self.nodes[dialer].inbound_delay
        ok = isinstance(reply, Ack) and reply.seq_no == seq_no and back <= eff.deadline
        self._push(
            back if ok else max(eff.deadline, self.now), _PING_RESULT, dialer, int(ok), seq_no
        )

    def _tcp_ping_result(self, dialer: int, ok: int, seq_no: int) -> None:
        node = self.nodes[dialer]
        if node.down:
            return
        if node.paused:
            node.pending.append((_PING_RESULT, dialer, ok, seq_no))
            return
        if ok:
            self.metrics.tcp_ping_ok += 1
        else:
            self.metrics.tcp_ping_failed += 1
        self.metrics.sim_events += 1
        self._apply(node, node.core.tcp_ping_result(seq_no, bool(ok), self.now))
        self._reschedule(node)

    def _send_reliable(self, dialer: int, eff: SendReliable) -> None:
        """A reliable user message: delivered after one network delay if a TCP link exists."""
        listener = self._by_addr.get(eff.addr)
        if listener is None or not self.network.can_connect(dialer, listener):
            return
        delay = self.network.delay(dialer, listener) + self.nodes[listener].inbound_delay
        src = self.nodes[dialer].addr
        self.at(self.now + delay, lambda: self._stream_user(listener, src, eff.payload))

    def _stream_user(self, listener: int, src: Addr, payload: bytes) -> None:
        node = self.nodes[listener]
        if node.down or node.paused:
            return
        self._apply(node, node.core.handle_stream(User(payload), src, self.now))
        self._reschedule(node)

    # ------------------------------------------------------------------ faults and commands

    def crash(self, i: int) -> None:
        """Node ``i`` stops for good: no timers, nothing received, nothing sent."""
        node = self.nodes[i]
        if node.down:
            return
        node.down = True
        node.pending = []
        self.metrics.crashed_at[i] = self.now
        self.metrics.digest.note(self.now, f"crash {i}")

    def pause(self, i: int, duration: float) -> None:
        """Freeze node ``i`` for ``duration`` seconds, as a long GC pause would.

        Packets and TCP replies that arrive meanwhile queue up and are processed on resume;
        TCP exchanges it should answer fail (its peers time out).
        """
        node = self.nodes[i]
        if node.down:
            return
        node.paused = True
        node.resume_token += 1
        self.metrics.impaired.add(i)
        self.metrics.digest.note(self.now, f"pause {i} {duration!r}")
        self._push(self.now + duration, _RESUME, i, node.resume_token, None)

    def slow(self, i: int, delay: float, duration: float) -> None:
        """For ``duration`` seconds node ``i`` handles each input ``delay`` seconds late.

        Its timers keep firing on time: this is Lifeguard's "slow message processing"
        anomaly (a CPU-starved receive loop), under which a node wrongly suspects healthy
        peers because their acks reach it too late.
        """
        node = self.nodes[i]
        if node.down:
            return
        node.inbound_delay = delay
        self.metrics.impaired.add(i)
        self.metrics.digest.note(self.now, f"slow {i} {delay!r} {duration!r}")
        self.at(self.now + duration, lambda: self._unslow(i))

    def _unslow(self, i: int) -> None:
        self.nodes[i].inbound_delay = 0.0
        self.metrics.digest.note(self.now, f"unslow {i}")

    def _resume(self, i: int, token: int) -> None:
        node = self.nodes[i]
        if token != node.resume_token or not node.paused:
            return
        node.paused = False
        if node.down:
            return
        pending = node.pending
        node.pending = []
        if self.options.pause_timers_first:
            self._fire_timers(node)
        for kind, a, b, payload in pending:
            self._dispatch(kind, a, b, payload)
        self._fire_timers(node)

    def leave(self, i: int) -> None:
        """Graceful leave; the node shuts down once its dead message is out (or on timeout)."""
        node = self.nodes[i]
        if node.down:
            return
        self.metrics.left.add(i)
        self.metrics.digest.note(self.now, f"leave {i}")
        self._apply(node, node.core.leave(self.now))
        self._reschedule(node)
        self._push(self.now + self.options.leave_timeout, _STOP, i, 0, None)

    def partition(self, groups: Sequence[Sequence[int]]) -> None:
        self.network.partition([list(g) for g in groups])
        self.metrics.digest.note(self.now, f"partition {[len(g) for g in groups]}")

    def heal(self) -> None:
        self.network.heal()
        self.metrics.digest.note(self.now, "heal")

    def join(self, i: int, seed: int) -> None:
        """Node ``i`` joins through node ``seed``: a push/pull with ``join = true``."""
        node = self.nodes[i]
        if node.down:
            return
        self.metrics.digest.note(self.now, f"join {i} via {seed}")
        self._start_push_pull(i, self.nodes[seed].addr, node.core.local_state(True))

    def broadcast(self, i: int, payload: bytes, topic: str | None = "sim") -> None:
        """A user broadcast from node ``i`` (it counts as delivered there at once).

        With a topic it is relayed by every node, exactly as the library relays it; with
        ``topic=None`` it is a raw memberlist broadcast, sent by its origin only.
        """
        self.metrics.digest.note(self.now, f"broadcast {i}")
        self.metrics.on_deliver(self.now, i, payload)
        node = self.nodes[i]
        self._apply(node, node.core.broadcast(payload, topic, self.now))
        self._reschedule(node)

    def bootstrap(self, fast: bool = True) -> None:
        """Every node knows every other as alive (incarnation 1) now, with no traffic.

        The result is the table a converged cluster has right after joining, minus the
        alive gossip still in flight: broadcast queues start empty. ``fast`` installs the
        entries directly; otherwise each node merges one push/pull of everybody.
        """
        cores = [node.core for node in self.nodes]
        if fast:
            install_full_membership(cores, self.now)
        else:
            merge_full_membership(cores, self.now)
        n = len(cores)
        self.metrics.reset_views([n] * n, [set() for _ in range(n)])
        self.metrics.digest.note(self.now, f"bootstrap {n}")

    # ------------------------------------------------------------------ queries

    def live_nodes(self) -> list[int]:
        return [node.index for node in self.nodes if not node.down]

    def index_of(self, name: str) -> int:
        return self.metrics.index[name]

    def pending_events(self) -> int:
        return len(self._heap)


def _stream_reply(effects: list[Effect]) -> object:
    """The message a listener writes back on a stream, if any."""
    for eff in effects:
        if isinstance(eff, StreamReply):
            return eff.message
    return None
