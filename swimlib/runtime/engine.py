"""Engine: the threads, sockets and lock around one :class:`SwimCore`.

Threads (names start with ``swimlib-``): UDP listener, TCP listener, prober (protocol timers),
gossip timer, message delivery (user callbacks run here, never under the lock), and a bounded
pool for TCP exchanges. One lock guards the core; it is held only for core calls, never for
socket I/O or user code. Peer garbage is counted in :meth:`stats` and logged at debug level
with rate limiting; it never raises out of a listener.
"""

from __future__ import annotations

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
from typing import Any

from swimlib.config import Config
from swimlib.core.effects import (
    DeliverMessage,
    Effect,
    LeaveFinished,
    PingResult,
    PublishEvent,
    PushPullRequest,
    SendPacket,
    TcpPing,
)
from swimlib.core.protocol import MergeRejected, SwimCore
from swimlib.runtime import streams
from swimlib.runtime.transport import UDP_RECV_BUFFER, Transport
from swimlib.wire import codec
from swimlib.wire.errors import DecodeError
from swimlib.wire.keyring import Keyring
from swimlib.wire.messages import ErrResp
from swimlib.wire.packet import PacketFramer, verify_label
from swimlib.wire.stream import read_label

log = logging.getLogger("swimlib")

MAX_INBOUND_STREAMS = 128  # memberlist's concurrent push/pull guard
_STOP = object()


class _RateLimitedLog:
    """At most one debug line per reason per interval, so garbage cannot flood the log."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def __call__(self, reason: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(reason, -1e9) >= self.interval:
            self._last[reason] = now
            log.debug(msg, *args)


class Engine:
    """Runs one node: call :meth:`start`, then the blocking operations, then :meth:`stop`."""

    def __init__(
        self,
        config: Config,
        keyring: Keyring,
        on_event: Callable[[Any], None],
        on_message: Callable[[str | None, tuple[str, int], bytes], None],
    ) -> None:
        self.config = config
        self.keyring = keyring
        self._on_event = on_event
        self._on_message = on_message
        self.lock = threading.Lock()
        self._timer_cond = threading.Condition(self.lock)
        # The protocol deadline the timer thread sleeps until (inf: no deadline; -inf: not
        # asleep, it re-reads the deadline before sleeping). Guarded by ``lock``.
        self._timer_sleeps_until = -math.inf
        self._gossip_cond = threading.Condition(self.lock)
        self._stopping = threading.Event()
        self._left = threading.Event()
        self._threads: list[threading.Thread] = []
        self._deliveries: queue.Queue[Any] = queue.Queue()
        self._counters: dict[str, int] = {}
        self._counter_lock = threading.Lock()
        self._debug = _RateLimitedLog()
        self._pings: dict[int, tuple[threading.Event, list[float | None]]] = {}
        self._inbound = threading.BoundedSemaphore(MAX_INBOUND_STREAMS)
        self._pool_slots = threading.BoundedSemaphore(config.tcp_workers * 8)
        label = config.label_bytes
        self.framer = PacketFramer(
            label=label,
            skip_inbound_label_check=config.skip_inbound_label_check,
            compression=config.enable_compression,
            keyring=keyring,
            encrypt_version=config.encryption_version,
            verify_incoming=config.gossip_verify_incoming,
            verify_outgoing=config.gossip_verify_outgoing,
        )
        self.stream_settings = streams.StreamSettings(
            label=label,
            compression=config.enable_compression,
            keyring=keyring,
            encrypt_version=config.encryption_version,
            verify_incoming=config.gossip_verify_incoming,
            verify_outgoing=config.gossip_verify_outgoing,
        )
        self.transport: Transport | None = None
        self.core: SwimCore | None = None
        self._pool: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        cfg = self.config
        self.transport = Transport(cfg.bind_addr, cfg.bind_port)
        host, port = cfg.advertise()
        if not cfg.advertise_port:
            port = self.transport.port
        seed = int.from_bytes(os.urandom(8), "big")
        self.core = SwimCore(
            cfg,
            random.Random(seed),
            time.monotonic(),
            host,
            port,
            packet_overhead=self.framer.overhead,
        )
        with self.lock:
            self._locked(self.core.startup_effects)
        self._pool = ThreadPoolExecutor(cfg.tcp_workers, thread_name_prefix="swimlib-tcp")
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
        log.info(
            "node %s listening on %s:%d (advertising %s:%d)",
            cfg.node_name,
            cfg.bind_addr,
            self.transport.port,
            host,
            port,
        )

    def stop(self, timeout: float = 2.0) -> None:
        """Stop every thread and close every socket (no goodbye: peers see a failure)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        with self.lock:
            self._timer_cond.notify_all()
            self._gossip_cond.notify_all()
        if self.transport is not None:
            self.transport.close()
        self.stream_settings.sockets.close_all()  # unblock TCP exchanges in flight
        self._deliveries.put(_STOP)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(max(0.0, deadline - time.monotonic()))
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self.transport is not None:
            self.transport.release()
        for ev, _ in list(self._pings.values()):
            ev.set()
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            log.error("threads still running after shutdown: %s", stuck)

    @property
    def running(self) -> bool:
        return self.core is not None and not self._stopping.is_set()

    def threads_alive(self) -> dict[str, bool]:
        return {t.name: t.is_alive() for t in self._threads}

    # ------------------------------------------------------------------ counters

    def count(self, key: str, n: int = 1) -> None:
        with self._counter_lock:
            self._counters[key] = self._counters.get(key, 0) + n

    def stats(self) -> dict[str, int]:
        with self._counter_lock:
            out = dict(self._counters)
        if self.core is not None:
            with self.lock:
                for reason, n in self.core.drops.items():
                    key = f"drop.{reason}"
                    out[key] = out.get(key, 0) + n
        return out

    def _drop(self, reason: str, detail: str, peer: object) -> None:
        self.count(f"drop.{reason}")
        self._debug(reason, "dropped input from %s: %s %s", peer, reason, detail)

    # ------------------------------------------------------------------ effects

    def call(self, fn: Callable[[SwimCore, float], list[Effect]]) -> None:
        """Run ``fn`` on the core under the lock, then carry out its effects."""
        assert self.core is not None
        with self.lock:
            effects = self._locked(fn(self.core, time.monotonic()))
        self.execute(effects)

    def _locked(self, effects: list[Effect]) -> list[Effect]:
        """Called with the lock held: publish events now, so the queue keeps core order."""
        for eff in effects:
            if isinstance(eff, PublishEvent):
                self._on_event(eff.event)
        # Wake the timer thread only when the core now has an earlier deadline than the one
        # it sleeps until: most packets (acks, gossip) add none, and a needless wake-up per
        # packet cost about a sixth of the receive path.
        assert self.core is not None
        deadline = self.core.next_deadline()
        if deadline is not None and deadline < self._timer_sleeps_until:
            self._timer_cond.notify()
        return effects

    def execute(self, effects: list[Effect]) -> None:
        for eff in effects:
            try:
                self._execute_one(eff)
            except Exception:  # an effect must never take a thread down
                log.exception("failed to carry out %s", type(eff).__name__)

    def _execute_one(self, eff: Effect) -> None:
        if isinstance(eff, SendPacket):
            self.send_packet(eff.addr, eff.data, eff.crc)
        elif isinstance(eff, PublishEvent):
            pass  # already published under the lock, in order (see _locked)
        elif isinstance(eff, DeliverMessage):
            self._deliveries.put(("message", eff.sender, eff.addr, eff.payload))
        elif isinstance(eff, PushPullRequest):
            self._submit(self._periodic_push_pull, eff)
        elif isinstance(eff, TcpPing):
            self._submit(self._tcp_ping, eff)
        elif isinstance(eff, LeaveFinished):
            self._left.set()
        elif isinstance(eff, PingResult):
            waiter = self._pings.get(eff.seq_no)
            if waiter is not None:
                waiter[1].append(eff.rtt)
                waiter[0].set()

    def send_packet(self, addr: tuple[str, int], data: bytes, crc: bool) -> None:
        if self.transport is None or self.transport.closed:
            return
        nonce = os.urandom(12) if self.framer.encrypting else None
        packet = self.framer.seal(data, crc, nonce)
        try:
            self.transport.send_to(packet, addr)
            self.count("udp.sent")
            self.count("udp.sent_bytes", len(packet))
        except OSError as err:
            self.count("udp.send_errors")
            self._debug("udp_send", "UDP send to %s failed: %s", addr, err)

    def _submit(self, fn: Callable[[Any], None], arg: Any) -> None:
        if self._pool is None or self._stopping.is_set():
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
        self._merge(reply, req.addr)

    def _merge(self, reply: Any, addr: tuple[str, int]) -> bool:
        assert self.core is not None
        try:
            with self.lock:
                effects = self._locked(self.core.merge_remote_state(reply, time.monotonic()))
        except MergeRejected as err:
            self.count("drop.version_mismatch")
            log.warning("push/pull with %s:%d rejected: %s", addr[0], addr[1], err)
            return False
        self.execute(effects)
        return True

    def _tcp_ping(self, req: TcpPing) -> None:
        ok = False
        try:
            ok = streams.tcp_ping(
                req.addr, req.ping, self.stream_settings, req.deadline - time.monotonic()
            )
        except (OSError, DecodeError) as err:
            log.debug("TCP fallback ping to %s failed: %s", req.addr, err)
        seq = req.ping.seq_no
        self.call(lambda core, now: core.tcp_ping_result(seq, ok, now))

    def push_pull_join(self, addr: tuple[str, int]) -> None:
        """One join exchange (blocking); raises on any failure."""
        assert self.core is not None
        with self.lock:
            request = self.core.local_state(True)
        reply = streams.push_pull(addr, request, self.stream_settings, self.config.tcp_timeout)
        if not self._merge(reply, addr):
            raise MergeRejected(f"protocol version mismatch with {addr[0]}:{addr[1]}")

    def send_reliable(self, addr: tuple[str, int], payload: bytes) -> None:
        streams.send_reliable(addr, payload, self.stream_settings, self.config.tcp_timeout)

    def ping(self, addr: tuple[str, int], node_name: str, timeout: float) -> float | None:
        """Round-trip time of one direct UDP ping, or None on timeout."""
        assert self.core is not None
        ev = threading.Event()
        result: list[float | None] = []
        with self.lock:
            seq, effects = self.core.ping(addr, node_name, time.monotonic())
            self._pings[seq] = (ev, result)
            self._locked(effects)
        try:
            self.execute(effects)
            ev.wait(timeout)
        finally:
            self._pings.pop(seq, None)
        return result[0] if result else None

    def wait_left(self, timeout: float) -> bool:
        return self._left.wait(timeout)

    # ------------------------------------------------------------------ thread loops

    def _udp_loop(self) -> None:
        assert self.transport is not None and self.core is not None
        tr = self.transport
        core = self.core
        while not self._stopping.is_set():
            if not tr.wait_readable(tr.udp):
                break
            try:
                data, addr = tr.udp.recvfrom(UDP_RECV_BUFFER)
            except OSError as err:
                if self._stopping.is_set():
                    break
                self._debug("udp_recv", "UDP receive error: %s", err)
                continue
            self.count("udp.received")
            try:
                self._handle_packet(core, data, (addr[0], addr[1]))
            except Exception:  # never let one packet kill the listener
                self.count("drop.internal_error")
                log.exception("unexpected error handling a packet from %s", addr)

    def _handle_packet(self, core: SwimCore, data: bytes, addr: tuple[str, int]) -> None:
        try:
            inner = self.framer.open(data)
        except DecodeError as err:
            self._drop(err.reason, err.detail, addr)
            return
        with self.lock:
            effects = self._locked(core.receive_packet(inner, addr, time.monotonic()))
        self.execute(effects)

    def _tcp_loop(self) -> None:
        assert self.transport is not None
        tr = self.transport
        while not self._stopping.is_set():
            if not tr.wait_readable(tr.tcp):
                break
            try:
                conn, addr = tr.tcp.accept()
            except OSError as err:
                if self._stopping.is_set():
                    break
                self._debug("tcp_accept", "accept failed: %s", err)
                continue
            if not self._inbound.acquire(blocking=False):
                self.count("drop.too_many_streams")
                conn.close()
                continue
            self.count("tcp.accepted")
            self._submit_inbound(conn, (addr[0], addr[1]))

    def _submit_inbound(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        def run() -> None:
            try:
                self._serve_stream(conn, addr)
            except OSError:
                self.count("tcp.errors")  # the peer went away, or we are shutting down
            except Exception:
                self.count("drop.internal_error")
                log.exception("unexpected error serving a stream from %s", addr)
            finally:
                self._inbound.release()
                conn.close()

        try:
            assert self._pool is not None
            self._pool.submit(run)
        except RuntimeError:
            self._inbound.release()
            conn.close()

    def _serve_stream(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        with self.stream_settings.sockets.track(conn):
            self._serve_tracked(conn, addr)

    def _serve_tracked(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        assert self.core is not None
        conn.settimeout(self.config.tcp_timeout)
        settings = self.stream_settings
        try:
            received, first = read_label(conn.recv)
            verify_label(received or None, settings.label, self.config.skip_inbound_label_check)
        except DecodeError as err:
            self._drop(err.reason, err.detail, addr)
            return  # label trouble: close without a word, as memberlist does
        except OSError:
            self.count("tcp.errors")
            return
        try:
            msg = settings.read(conn, first)
        except DecodeError as err:
            self._drop(err.reason, err.detail, addr)
            self._reply(conn, codec.encode(ErrResp(str(err))))
            return
        except OSError:
            self.count("tcp.errors")
            return
        with self.lock:
            reply, effects = self.core.handle_stream(msg, addr, time.monotonic())
            self._locked(effects)
        if reply is not None:
            self._reply(conn, codec.encode(reply))
        self.execute(effects)

    def _reply(self, conn: socket.socket, message: bytes) -> None:
        try:
            conn.sendall(self.stream_settings.frame(message))
        except OSError:
            self.count("tcp.errors")

    def _timer_loop(self) -> None:
        assert self.core is not None
        core = self.core
        self._clock_loop(self._timer_cond, core.next_deadline, core.handle_timers, True)

    def _gossip_loop(self) -> None:
        assert self.core is not None
        core = self.core
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
            with self.lock:
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
            if item is _STOP:
                return
            try:
                self._on_message(item[1], item[2], item[3])
            except Exception:
                log.exception("a message or event callback raised")
