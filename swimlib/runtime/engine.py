"""Engine: the threads, sockets and lock around one :class:`SwimCore`.

Constructing an Engine binds its sockets and builds the core; :meth:`start` starts the
threads (names start with ``swimlib-``): UDP listener, TCP listener, prober (protocol timers),
gossip timer, message delivery (user callbacks run here, never under the lock), and a bounded
pool for TCP exchanges. One lock guards the core; it is held only for core calls, never for
socket I/O or user code. Every command and query of the public API is one typed method here.
Peer garbage is counted in :meth:`stats` and logged at debug level with rate limiting; it
never raises out of a listener.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import queue
import random
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from swimlib.config import Config
from swimlib.core.effects import (
    Addr,
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
from swimlib.events import Event
from swimlib.node import Node
from swimlib.runtime import streams
from swimlib.runtime.stream_server import StreamServer
from swimlib.runtime.transport import UDP_RECV_BUFFER, Transport
from swimlib.wire import codec
from swimlib.wire.errors import DecodeError
from swimlib.wire.keyring import Keyring
from swimlib.wire.limits import MAX_INBOUND_STREAMS
from swimlib.wire.messages import Message, PushPull
from swimlib.wire.packet import PacketFramer, unpack_messages

log = logging.getLogger("swimlib")

_STOP = object()
_E = TypeVar("_E")

MessageSink = Callable[[Node | None, str | None, bytes], None]


class PeerRejected(Exception):
    """A peer's push/pull failed the protocol-version check (nothing was merged)."""


class _RateLimitedLog:
    """At most one line per key per interval, so peer input cannot flood the log."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def __call__(self, key: str, level: int, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(key, -1e9) >= self.interval:
            self._last[key] = now
            log.log(level, msg, *args)


def _claim(effects: list[Effect], kind: type[_E]) -> tuple[list[_E], list[Effect]]:
    """Split out the effects of one kind that the calling thread carries out itself."""
    mine: list[_E] = [e for e in effects if isinstance(e, kind)]
    if not mine:
        return [], effects
    return mine, [e for e in effects if not isinstance(e, kind)]


class Engine:
    """One running node: construct (binds), :meth:`start`, blocking calls, :meth:`stop`."""

    def __init__(
        self,
        config: Config,
        keyring: Keyring,
        on_event: Callable[[Event], None],
        on_message: MessageSink,
    ) -> None:
        self.config = config
        self._on_event = on_event
        self._on_message = on_message
        self._lock = threading.Lock()
        self._timer_cond = threading.Condition(self._lock)
        # The protocol deadline the timer thread sleeps until (inf: no deadline; -inf: not
        # asleep, it re-reads the deadline before sleeping). Guarded by ``_lock``.
        self._timer_sleeps_until = -math.inf
        self._gossip_cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._left = threading.Event()
        self._threads: list[threading.Thread] = []
        self._deliveries: queue.Queue[Any] = queue.Queue(config.handoff_queue_depth)
        self._deliveries_abandoned = False
        self._counters: dict[str, int] = {}
        self._counter_lock = threading.Lock()
        self._log = _RateLimitedLog()
        self._request_ids = itertools.count(1)
        self._pings: dict[int, tuple[threading.Event, list[float | None]]] = {}
        self._inbound = threading.BoundedSemaphore(MAX_INBOUND_STREAMS)
        self._pool_slots = threading.BoundedSemaphore(config.tcp_workers * 8)
        # The outer envelope (label, AES-GCM), built once; streams share the datagrams' one.
        self.framer = PacketFramer(
            label=config.label_bytes,
            skip_inbound_label_check=config.skip_inbound_label_check,
            compression=config.enable_compression,
            keyring=keyring,
            encrypt_version=config.encryption_version,
            verify_incoming=config.gossip_verify_incoming,
            verify_outgoing=config.gossip_verify_outgoing,
        )
        self.stream_settings = streams.StreamSettings.like(self.framer)
        self._transport = Transport(config.bind_addr, config.bind_port)
        host, port = config.advertise()
        if not config.advertise_port:
            port = self._transport.port
        self._core = SwimCore(
            config,
            random.Random(int.from_bytes(os.urandom(8), "big")),
            host,
            port,
            packet_overhead=self.framer.overhead,
        )
        # Our own exchanges (push/pull, TCP pings, reliable sends) and peers' streams run on
        # separate pools, so a flood of inbound streams cannot stop our own push/pulls.
        self._pool = ThreadPoolExecutor(config.tcp_workers, thread_name_prefix="swimlib-tcp-out")
        self._inbound_pool = ThreadPoolExecutor(
            config.tcp_workers, thread_name_prefix="swimlib-tcp-in"
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        cfg = self.config
        self._command(self._core.start)
        for name, target in (
            ("swimlib-udp", self._udp_loop),
            ("swimlib-tcp-listener", self._tcp_loop),
            ("swimlib-prober", self._timer_loop),
            ("swimlib-gossip", self._gossip_loop),
            ("swimlib-deliver", self._delivery_loop),
        ):
            t = threading.Thread(target=target, name=f"{name}-{cfg.node_name}"[:60], daemon=True)
            self._threads.append(t)
        for t in self._threads:
            t.start()
        me = self._core.local_node()
        log.info(
            "node %s listening on %s:%d (advertising %s:%d)",
            cfg.node_name,
            cfg.bind_addr,
            self._transport.port,
            me.addr,
            me.port,
        )

    def stop(self, timeout: float = 2.0) -> None:
        """Stop every thread and close every socket (no goodbye: peers see a failure)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        with self._lock:
            self._timer_cond.notify_all()
            self._gossip_cond.notify_all()
        self._transport.close()
        self.stream_settings.sockets.close_all()  # unblock TCP exchanges in flight
        try:
            self._deliveries.put(_STOP, timeout=1.0)
        except queue.Full:  # a callback is stuck and the queue full: end after the current one
            self._deliveries_abandoned = True
        deadline = time.monotonic() + timeout
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(max(0.0, deadline - time.monotonic()))
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._inbound_pool.shutdown(wait=True, cancel_futures=True)
        self._transport.release()
        for ev, _ in list(self._pings.values()):
            ev.set()
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            log.error("threads still running after shutdown: %s", stuck)

    @property
    def running(self) -> bool:
        return not self._stopping.is_set()

    @property
    def port(self) -> int:
        return self._transport.port

    def threads_alive(self) -> dict[str, bool]:
        return {t.name: t.is_alive() for t in self._threads}

    # ------------------------------------------------------------------ queries

    def members(self) -> list[Node]:
        with self._lock:
            return self._core.members()

    def member(self, name: str) -> Node | None:
        with self._lock:
            return self._core.member(name)

    def local_node(self) -> Node:
        with self._lock:
            return self._core.local_node()

    def health_score(self) -> int:
        with self._lock:
            return self._core.health_score()

    def publish(self, event: Event) -> None:
        """Put an event from outside the core on the user's queue, in order with the core's."""
        with self._lock:
            self._on_event(event)

    def isolated(self) -> bool:
        with self._lock:
            return self._core.isolated()

    def stats(self) -> dict[str, int]:
        with self._counter_lock:
            out = dict(self._counters)
        with self._lock:
            for reason, n in self._core.drops.items():
                key = f"drop.{reason}"
                out[key] = out.get(key, 0) + n
            out["queue.user_broadcasts"] = self._core.user_backlog()
        out["queue.deliveries"] = self._deliveries.qsize()
        return out

    # ------------------------------------------------------------------ commands

    def join(self, addr: Addr, timeout: float | None = None) -> None:
        """One join exchange with a seed (blocking); raises on any failure."""
        limit = (
            self.config.tcp_timeout if timeout is None else min(timeout, self.config.tcp_timeout)
        )
        rid = next(self._request_ids)
        effects = self._command(lambda now: self._core.join(addr, rid, now))
        requests, rest = _claim(effects, PushPullRequest)
        self.execute(rest)
        for req in requests:
            reply = streams.push_pull(req.addr, req.message, self.stream_settings, limit)
            for e in self._merge_reply(reply, req):
                if isinstance(e, PushPullRejected):
                    raise PeerRejected(e.reason)

    def leave(self, timeout: float) -> bool:
        """Broadcast our leave; True once it is fully sent (or nobody was left to tell)."""
        self.execute(self._command(self._core.leave))
        return self._left.wait(timeout)

    def update_meta(self, meta: bytes) -> None:
        self.execute(self._command(lambda now: self._core.update_meta(meta, now)))

    def broadcast(self, payload: bytes, topic: str | None) -> None:
        self.execute(self._command(lambda now: self._core.broadcast(payload, topic, now)))

    def send(self, target: str, payload: bytes, topic: str | None, reliable: bool) -> None:
        """A direct message; a reliable one is written over TCP by the calling thread."""
        effects = self._command(lambda now: self._core.send(target, payload, topic, reliable, now))
        if not reliable:
            self.execute(effects)
            return
        mine, rest = _claim(effects, SendReliable)
        self.execute(rest)
        for eff in mine:
            streams.send_reliable(
                eff.addr, eff.payload, self.stream_settings, self.config.tcp_timeout
            )

    def ping(self, target: str, timeout: float) -> float | None:
        """Round-trip time of one direct UDP ping to a member, or None on timeout."""
        rid = next(self._request_ids)
        ev = threading.Event()
        result: list[float | None] = []
        self._pings[rid] = (ev, result)
        try:
            self.execute(self._command(lambda now: self._core.ping(target, rid, now)))
            ev.wait(timeout)
        finally:
            self._pings.pop(rid, None)
        return result[0] if result else None

    def send_packet(self, addr: Addr, data: bytes, crc: bool) -> None:
        """Seal and send one datagram (effects, and tests that inject raw messages)."""
        if self._transport.closed:
            return
        nonce = os.urandom(12) if self.framer.encrypting else None
        packet = self.framer.seal(data, crc, nonce)
        try:
            self._transport.send_to(packet, addr)
            self.count("udp.sent")
            self.count("udp.sent_bytes", len(packet))
        except OSError as err:
            self.count("udp.send_errors")
            self._log("udp_send", logging.DEBUG, "UDP send to %s failed: %s", addr, err)

    # ------------------------------------------------------------------ counters

    def count(self, key: str, n: int = 1) -> None:
        with self._counter_lock:
            self._counters[key] = self._counters.get(key, 0) + n

    def _drop(self, reason: str, detail: str, peer: object) -> None:
        self.count(f"drop.{reason}")
        self._log(reason, logging.DEBUG, "dropped input from %s: %s %s", peer, reason, detail)

    # ------------------------------------------------------------------ effects

    def _command(self, fn: Callable[[float], list[Effect]]) -> list[Effect]:
        """Run one core input under the lock; returns its effects for the caller to run."""
        with self._lock:
            return self._locked(fn(time.monotonic()))

    def _locked(self, effects: list[Effect]) -> list[Effect]:
        """Called with the lock held: publish events now, so the queue keeps core order."""
        for eff in effects:
            if isinstance(eff, PublishEvent):
                self._on_event(eff.event)
        # Wake the timer thread only when the core now has an earlier deadline than the one
        # it sleeps until: most packets (acks, gossip) add none, and a needless wake-up per
        # packet cost about a sixth of the receive path.
        deadline = self._core.next_deadline()
        if deadline is not None and deadline < self._timer_sleeps_until:
            self._timer_cond.notify()
        return effects

    def execute(self, effects: list[Effect]) -> None:
        for eff in effects:
            try:
                self._carry_out(eff)
            except Exception:  # an effect must never take a thread down
                log.exception("failed to carry out %s", type(eff).__name__)

    def _carry_out(self, eff: Effect) -> None:
        match eff:
            case SendPacket():
                self.send_packet(eff.addr, eff.data, eff.crc)
            case PublishEvent():
                pass  # already published under the lock, in order (see _locked)
            case DeliverMessage():
                self._deliver(eff)
            case PushPullRequest():
                self._submit(self._periodic_push_pull, eff)
            case TcpPing():
                self._submit(self._tcp_ping, eff)
            case SendReliable():
                self._submit(self._send_reliable, eff)
            case PushPullRejected():
                self._log(
                    "version_mismatch",
                    logging.WARNING,
                    "push/pull with %s:%d rejected: %s",
                    eff.addr[0],
                    eff.addr[1],
                    eff.reason,
                )
            case StreamReply():
                pass  # written by the thread serving the stream (see _serve_message)
            case LeaveFinished():
                self._left.set()
            case PingResult():
                waiter = self._pings.get(eff.request_id)
                if waiter is not None:
                    waiter[1].append(eff.rtt)
                    waiter[0].set()
            case Notice():
                self._log(eff.key, eff.level, "%s: %s", self.config.node_name, eff.message)
            case _:
                assert_never(eff)

    def _deliver(self, eff: DeliverMessage) -> None:
        try:
            self._deliveries.put_nowait((eff.sender, eff.topic, eff.payload))
        except queue.Full:
            self.count("drop.delivery_queue_full")

    def _submit(self, fn: Callable[[Any], None], arg: Any) -> None:
        if self._stopping.is_set():
            return
        if not self._pool_slots.acquire(blocking=False):
            self.count("tcp.pool_full")
            return

        def run() -> None:
            try:
                fn(arg)
            except Exception:
                log.exception("TCP task failed")
            finally:
                self._pool_slots.release()

        try:
            self._pool.submit(run)
        except RuntimeError:  # pool shut down meanwhile
            self._pool_slots.release()

    # ------------------------------------------------------------------ TCP client work

    def _periodic_push_pull(self, req: PushPullRequest) -> None:
        try:
            reply = streams.push_pull(
                req.addr, req.message, self.stream_settings, self.config.tcp_timeout
            )
        except (OSError, DecodeError, streams.RemoteError) as err:
            self.count("tcp.push_pull_errors")
            log.debug("push/pull with %s failed: %s", req.addr, err)
            return
        self._merge_reply(reply, req)

    def _merge_reply(self, reply: PushPull, req: PushPullRequest) -> list[Effect]:
        core = self._core
        effects = self._command(
            lambda now: core.push_pull_reply(reply, req.addr, req.request_id, now)
        )
        self.execute(effects)
        return effects

    def _tcp_ping(self, req: TcpPing) -> None:
        ok = False
        try:
            ok = streams.tcp_ping(
                req.addr, req.ping, self.stream_settings, req.deadline - time.monotonic()
            )
        except (OSError, DecodeError) as err:
            log.debug("TCP fallback ping to %s failed: %s", req.addr, err)
        seq = req.ping.seq_no
        self.execute(self._command(lambda now: self._core.tcp_ping_result(seq, ok, now)))

    def _send_reliable(self, eff: SendReliable) -> None:
        try:
            streams.send_reliable(
                eff.addr, eff.payload, self.stream_settings, self.config.tcp_timeout
            )
        except OSError as err:
            self.count("tcp.send_errors")
            log.debug("reliable send to %s failed: %s", eff.addr, err)

    # ------------------------------------------------------------------ thread loops

    def _udp_loop(self) -> None:
        tr = self._transport
        while not self._stopping.is_set():
            if not tr.wait_readable(tr.udp):
                break
            try:
                data, addr = tr.udp.recvfrom(UDP_RECV_BUFFER)
            except OSError as err:
                if self._stopping.is_set():
                    break
                self._log("udp_recv", logging.DEBUG, "UDP receive error: %s", err)
                continue
            self.count("udp.received")
            try:
                self._handle_packet(data, (addr[0], addr[1]))
            except Exception:  # never let one packet kill the listener
                self.count("drop.internal_error")
                log.exception("unexpected error handling a packet from %s", addr)

    def _handle_packet(self, data: bytes, addr: Addr) -> None:
        """Outer layers, then inner layers, both outside the lock; then the core."""
        try:
            inner = self.framer.open(data)
        except DecodeError as err:
            self._drop(err.reason, err.detail, addr)
            return
        msgs, errors = unpack_messages(inner)
        for problem in errors:
            self._drop(problem.reason, problem.detail, addr)
        if not msgs:
            return
        core = self._core
        with self._lock:
            effects = self._locked(core.receive_messages(msgs, addr, time.monotonic()))
        self.execute(effects)

    def _tcp_loop(self) -> None:
        StreamServer(
            self._transport.tcp,
            self._transport.wake_reader,
            self.stream_settings,
            self.config.tcp_timeout,
            self._dispatch_stream,
            self.count,
            self._drop,
        ).run()

    def _dispatch_stream(self, conn: socket.socket, addr: Addr, msg: Message) -> bool:
        """A complete inbound message: answer it on the inbound pool, apart from our own
        outbound exchanges, at most MAX_INBOUND_STREAMS queued or running."""
        if self._stopping.is_set() or not self._inbound.acquire(blocking=False):
            return False

        def run() -> None:
            try:
                with self.stream_settings.sockets.track(conn):
                    self._serve_message(conn, addr, msg)
            except OSError:
                self.count("tcp.errors")  # the peer went away, or we are shutting down
            except Exception:
                self.count("drop.internal_error")
                log.exception("unexpected error serving a stream from %s", addr)
            finally:
                self._inbound.release()
                conn.close()

        try:
            self._inbound_pool.submit(run)
        except RuntimeError:  # shut down meanwhile
            self._inbound.release()
            return False
        return True

    def _serve_message(self, conn: socket.socket, addr: Addr, msg: Message) -> None:
        core = self._core
        effects = self._command(lambda now: core.handle_stream(msg, addr, now))
        replies, rest = _claim(effects, StreamReply)
        for reply in replies:
            self._reply(conn, codec.encode(reply.message))
        self.execute(rest)

    def _reply(self, conn: socket.socket, message: bytes) -> None:
        try:
            conn.sendall(self.stream_settings.frame(message))
        except OSError:
            self.count("tcp.errors")

    def _timer_loop(self) -> None:
        core = self._core
        self._clock_loop(self._timer_cond, core.next_deadline, core.handle_timers, True)

    def _gossip_loop(self) -> None:
        core = self._core
        self._clock_loop(self._gossip_cond, core.next_gossip, core.gossip, False)

    def _clock_loop(
        self,
        cond: threading.Condition,
        due: Callable[[], float | None],
        fire: Callable[[float], list[Effect]],
        is_timer: bool,
    ) -> None:
        """Sleep until the core's next deadline of one kind, fire it, carry out the effects.

        The gossip deadline only moves at its own tick, so only the protocol-timer thread
        publishes what it sleeps until (for :meth:`_locked`'s wake-up decision).
        """
        while True:
            with self._lock:
                while not self._stopping.is_set():
                    now = time.monotonic()
                    deadline = due()
                    if deadline is not None and deadline <= now:
                        break
                    if is_timer:
                        self._timer_sleeps_until = math.inf if deadline is None else deadline
                    cond.wait(None if deadline is None else deadline - now)
                if is_timer:
                    self._timer_sleeps_until = -math.inf
                if self._stopping.is_set():
                    return
                effects = self._locked(fire(time.monotonic()))
            self.execute(effects)

    def _delivery_loop(self) -> None:
        while True:
            item = self._deliveries.get()
            if item is _STOP or self._deliveries_abandoned:
                return
            sender, topic, payload = item
            try:
                self._on_message(sender, topic, payload)
            except Exception:
                log.exception("a message callback raised")
