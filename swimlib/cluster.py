"""Cluster: the public, blocking, thread-safe facade over one node.

``Cluster(cfg)`` validates and does no I/O; ``start()`` binds and starts the background threads;
``join`` / ``send`` / ``leave`` block; membership changes arrive on the ``events`` queue and
user messages on the callbacks registered with ``on_message``.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import queue
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from types import TracebackType

from swimlib.config import Config, parse_key
from swimlib.core.protocol import MergeRejected
from swimlib.errors import (
    ConfigError,
    MessageTooLargeError,
    NoSeedsReachableError,
    NotRunningError,
    UnknownNodeError,
)
from swimlib.events import Event
from swimlib.node import Node, NodeState
from swimlib.runtime.engine import Engine
from swimlib.runtime.streams import RemoteError
from swimlib.wire import envelope
from swimlib.wire.errors import DecodeError
from swimlib.wire.keyring import Keyring
from swimlib.wire.messages import META_MAX_SIZE

log = logging.getLogger("swimlib")

MessageCallback = Callable[[Node | None, str | None, bytes], None]
MAX_UDP_PAYLOAD = 65_000  # what fits one datagram after our framing
MAX_RELIABLE_PAYLOAD = 20 * 1024 * 1024


class KeyringManager:
    """Runtime key rotation (``cluster.keyring``): install, use, remove, keys."""

    def __init__(self, ring: Keyring, lock: threading.Lock) -> None:
        self._ring = ring
        self._lock = lock

    def install(self, key: bytes | str) -> None:
        k = parse_key(key, "key")
        with self._lock:
            self._ring.install(k)

    def use(self, key: bytes | str) -> None:
        k = parse_key(key, "key")
        with self._lock:
            self._ring.use(k)

    def remove(self, key: bytes | str) -> None:
        k = parse_key(key, "key")
        with self._lock:
            self._ring.remove(k)

    def keys(self) -> list[bytes]:
        with self._lock:
            return list(self._ring.keys())


class Cluster:
    """One member of a memberlist-compatible cluster."""

    def __init__(self, config: Config) -> None:
        if not isinstance(config, Config):
            raise ConfigError(f"config: expected swimlib.Config, got {type(config)!r}")
        config.validate()
        self.config = config
        self.events: queue.Queue[Event] = queue.Queue()
        self._callbacks: list[MessageCallback] = []
        self._ring = Keyring(config.keys() if config.encrypted else [])
        self._engine = Engine(config, self._ring, self.events.put, self._deliver)
        self.keyring = KeyringManager(self._ring, self._engine.lock)
        self._seen = _SeenBroadcasts(8192)
        self._started = False
        self._shut = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Cluster:
        """Bind UDP and TCP, start the background threads, and return."""
        if self._shut:
            raise NotRunningError("this cluster was shut down; create a new one")
        if self._started:
            raise NotRunningError("already started")
        self._engine.start()
        self._started = True
        return self

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop without leaving (peers will see a failure). Idempotent."""
        if self._started and not self._shut:
            self._engine.stop(timeout)
        self._shut = True

    def leave(self, timeout: float = 5.0) -> bool:
        """Tell the cluster we are leaving and wait until the news has been sent out.

        Returns True if the leave broadcast was fully transmitted (or nobody was left to
        tell) within ``timeout``. Sockets stay open until :meth:`shutdown`.
        """
        engine = self._running()
        with engine.lock:
            assert engine.core is not None
            wait, effects = engine.core.leave(time.monotonic())
            engine._locked(effects)
        engine.execute(effects)
        if not wait:
            return True
        return engine.wait_left(timeout)

    def __enter__(self) -> Cluster:
        if not self._started:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._started and not self._shut:
                self.leave(timeout=min(5.0, max(1.0, self.config.gossip_interval * 20)))
        finally:
            self.shutdown()

    def _running(self) -> Engine:
        if not self._started or self._shut or not self._engine.running:
            raise NotRunningError("the cluster is not running (call start())")
        return self._engine

    # ------------------------------------------------------------------ membership

    def join(self, seeds: Iterable[str]) -> int:
        """Push/pull with every seed (``host:port``, optionally ``name/host:port``).

        Returns how many seeds answered; raises NoSeedsReachableError if none did.
        """
        engine = self._running()
        if isinstance(seeds, str):
            seeds = [seeds]
        addrs = [self._parse_seed(s) for s in seeds]
        if not addrs:
            raise ConfigError("join: no seeds given")
        ok = 0
        errors: list[str] = []
        for addr in addrs:
            try:
                engine.push_pull_join(addr)
                ok += 1
            except (OSError, DecodeError, RemoteError, MergeRejected) as err:
                errors.append(f"{addr[0]}:{addr[1]}: {err}")
                log.warning("failed to join %s:%d: %s", addr[0], addr[1], err)
        if ok == 0:
            raise NoSeedsReachableError("no seed could be reached: " + "; ".join(errors))
        return ok

    def _parse_seed(self, seed: str) -> tuple[str, int]:
        if not isinstance(seed, str) or not seed:
            raise ConfigError(f"join: seed must be 'host:port', got {seed!r}")
        if "/" in seed:
            seed = seed.split("/", 1)[1]
        host, port = seed, self.config.bind_port
        if seed.startswith("["):
            end = seed.find("]")
            host = seed[1:end]
            if seed[end + 1 :].startswith(":"):
                port = _port(seed[end + 2 :], seed)
        elif seed.count(":") == 1:
            host, p = seed.split(":")
            port = _port(p, seed)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            try:
                host = str(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0])
            except OSError as err:
                raise ConfigError(f"join: cannot resolve {host!r}: {err}") from None
        return host, port

    def members(self) -> list[Node]:
        """Self and every known node with its state (dead and left ones until reaped)."""
        engine = self._running()
        with engine.lock:
            assert engine.core is not None
            return engine.core.members()

    def alive_members(self) -> list[Node]:
        """Alive and suspect members, as memberlist's ``Members()``."""
        return [m for m in self.members() if m.state <= NodeState.SUSPECT]

    @property
    def local_node(self) -> Node:
        engine = self._running()
        with engine.lock:
            assert engine.core is not None
            return engine.core.local_node()

    def update_meta(self, meta: bytes) -> None:
        """Publish new node metadata (at most 512 bytes) under a new incarnation."""
        if not isinstance(meta, (bytes, bytearray)) or len(meta) > META_MAX_SIZE:
            raise ConfigError(f"meta: must be bytes of at most {META_MAX_SIZE}")
        engine = self._running()
        data = bytes(meta)
        engine.call(lambda core, now: core.update_meta(data, now))

    def health_score(self) -> int:
        """Lifeguard local health (0 is healthy; higher means probes are slowed down)."""
        engine = self._running()
        with engine.lock:
            assert engine.core is not None
            return engine.core.health_score()

    def stats(self) -> dict[str, int]:
        """Counters: packets, bytes, and dropped input by reason (``drop.<reason>``)."""
        return self._engine.stats() if self._started else {}

    @property
    def port(self) -> int:
        """The bound port (useful with ``bind_port=0``)."""
        engine = self._running()
        assert engine.transport is not None
        return engine.transport.port

    @property
    def address(self) -> tuple[str, int]:
        n = self.local_node
        return (n.addr, n.port)

    def ping(self, target: str | Node, timeout: float = 1.0) -> float | None:
        """Round-trip time in seconds of one UDP ping to a member, or None on timeout."""
        engine = self._running()
        node = self._resolve(target)
        return engine.ping((node.addr, node.port), node.name, timeout)

    # ------------------------------------------------------------------ messaging

    def on_message(self, callback: MessageCallback) -> None:
        """Register ``callback(sender, topic, payload)``; it runs on the delivery thread."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        self._callbacks.append(callback)

    def broadcast(self, payload: bytes, topic: str | None = None) -> None:
        """Gossip a message to every member.

        With a topic, every swimlib node relays the message once (deduplicated), so it spreads
        epidemically to the whole cluster. Without a topic it is a raw memberlist user
        broadcast: sent ``retransmit_mult * ceil(log10(n+1))`` times by this node only, as a
        memberlist application's TransmitLimitedQueue would.
        """
        engine = self._running()
        msg_id = 0
        if topic is not None:
            msg_id = int.from_bytes(os.urandom(8), "big") or 1
            self._seen.add(self.config.node_name, msg_id)
        data = self._frame(payload, topic, msg_id, broadcast=True)
        if len(data) > self.config.udp_buffer_size - 64:
            raise MessageTooLargeError(
                f"broadcast of {len(data)} bytes does not fit udp_buffer_size "
                f"({self.config.udp_buffer_size}); send it reliably to each node instead"
            )
        with engine.lock:
            assert engine.core is not None
            engine.core.queue_user_broadcast(data)
        engine.call(lambda core, now: [])

    def send(
        self,
        target: str | Node,
        payload: bytes,
        topic: str | None = None,
        reliable: bool = False,
    ) -> None:
        """A direct message: best-effort UDP, or TCP with ``reliable=True`` (blocking)."""
        engine = self._running()
        if not reliable:
            # The hot path: one lock round for lookup and send, no Node snapshot.
            name = self._target_name(target)
            data = self._frame(payload, topic)
            if len(data) > MAX_UDP_PAYLOAD:
                raise MessageTooLargeError(
                    f"{len(data)} bytes do not fit a UDP datagram; use reliable=True"
                )
            with engine.lock:
                assert engine.core is not None
                member = engine.core.member(name)
                if member is None:
                    raise UnknownNodeError(f"no member named {name!r}")
                effects = engine.core.send_user((member.host, member.port), data, member)
            engine.execute(effects)
            return
        node = self._resolve(target)
        data = self._frame(payload, topic)
        if len(data) > MAX_RELIABLE_PAYLOAD:
            raise MessageTooLargeError("reliable messages are limited to 20 MiB")
        engine.send_reliable((node.addr, node.port), data)

    def _frame(
        self, payload: bytes, topic: str | None, msg_id: int = 0, broadcast: bool = False
    ) -> bytes:
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise TypeError("payload must be bytes")
        data = bytes(payload)
        if topic is None:
            return data
        if not isinstance(topic, str) or not topic:
            raise ValueError("topic must be a non-empty str, or None for a raw message")
        return envelope.wrap(topic, self.config.node_name, data, msg_id, broadcast)

    @staticmethod
    def _target_name(target: str | Node) -> str:
        name = target.name if isinstance(target, Node) else target
        if not isinstance(name, str):
            raise TypeError("target must be a node name or a Node")
        return name

    def _resolve(self, target: str | Node) -> Node:
        name = self._target_name(target)
        engine = self._running()
        with engine.lock:
            assert engine.core is not None
            m = engine.core.member(name)
            node = m.snapshot() if m is not None else None
        if node is None:
            raise UnknownNodeError(f"no member named {name!r}")
        return node

    def _deliver(self, sender: str | None, addr: tuple[str, int], payload: bytes) -> None:
        env = envelope.unwrap(payload)
        topic: str | None = None
        body = payload
        name = sender
        if env is not None:
            topic, body, name = env.topic, env.payload, env.origin
            if env.broadcast and env.msg_id:
                if not self._seen.add(env.origin, env.msg_id):
                    return  # a copy we already delivered (broadcasts are relayed epidemically)
                engine = self._engine
                if engine.core is not None and engine.running:
                    with engine.lock:
                        engine.core.queue_user_broadcast(payload)
        node: Node | None = None
        if name is not None and self._engine.core is not None:
            with self._engine.lock:
                m = self._engine.core.member(name)
                node = m.snapshot() if m is not None else None
        for cb in list(self._callbacks):
            try:
                cb(node, topic, body)
            except Exception:
                log.exception("on_message callback %r raised", cb)


class _SeenBroadcasts:
    """Bounded memory of (origin, id) pairs already delivered, oldest forgotten first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, origin: str, msg_id: int) -> bool:
        """Remember the pair; False if it was already known."""
        key = (origin, msg_id)
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return True


def _port(text: str, seed: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ConfigError(f"join: bad port in {seed!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"join: bad port in {seed!r}")
    return port
