"""Cluster: the public, blocking, thread-safe facade over one node.

``Cluster(cfg)`` validates and does no I/O; ``start()`` binds and starts the background threads;
``join`` / ``send`` / ``leave`` block; membership changes arrive on the ``events`` queue and
user messages on the callbacks registered with ``on_message``. The facade only validates
arguments, parses seeds and delegates: every protocol decision is the core's, every thread
and socket the engine's.
"""

from __future__ import annotations

import logging
import os
import queue
import weakref
from collections.abc import Iterable
from types import TracebackType

from swimlib.config import Config
from swimlib.errors import (
    ConfigError,
    NotRunningError,
    UsedAfterForkError,
)
from swimlib.events import Event
from swimlib.keyring_manager import KeyringManager
from swimlib.node import Node, NodeState
from swimlib.runtime.callbacks import Callbacks, MessageCallback
from swimlib.runtime.engine import Engine
from swimlib.runtime.joiner import Joiner, join_seeds
from swimlib.runtime.seeds import parse_seed
from swimlib.runtime.sink import EventSink
from swimlib.wire.keyring import Keyring
from swimlib.wire.messages import META_MAX_SIZE

log = logging.getLogger("swimlib")


# Clusters started in this process: a child of os.fork() inherits them without their threads.
_STARTED: weakref.WeakSet[Cluster] = weakref.WeakSet()


def _forget_started_in_child() -> None:
    for c in list(_STARTED):
        c._forked = True
    _STARTED.clear()


os.register_at_fork(after_in_child=_forget_started_in_child)


class Cluster:
    """One member of a memberlist-compatible cluster."""

    def __init__(self, config: Config) -> None:
        if not isinstance(config, Config):
            raise ConfigError(f"config: expected swimlib.Config, got {type(config)!r}")
        config.validate()
        self.config = config
        self._events = EventSink(config.events_maxsize)
        self.events: queue.Queue[Event] = self._events.queue
        self._callbacks = Callbacks(config.node_name)
        self._ring = Keyring(config.keys() if config.encrypted else [])
        self.keyring = KeyringManager(self._ring, config.encrypted)
        self._engine: Engine | None = None
        self._joiner: Joiner | None = None
        self._shut = False
        self._forked = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Cluster:
        """Bind UDP and TCP, start the background threads, and return."""
        self._not_forked()
        if self._shut:
            raise NotRunningError("this cluster was shut down; create a new one")
        if self._engine is not None:
            raise NotRunningError("already started")
        self._engine = Engine(self.config, self._ring, self._events.put, self._callbacks.run)
        self._engine.start()
        self._joiner = Joiner(self._engine, self.config)
        self._joiner.start()
        _STARTED.add(self)
        return self

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop without leaving (peers will see a failure). Idempotent."""
        self._not_forked()
        if self._engine is not None and not self._shut:
            if self._joiner is not None:
                self._joiner.stop(timeout)
            self._engine.stop(timeout)
        self._shut = True

    def leave(self, timeout: float = 5.0) -> bool:
        """Tell the cluster we are leaving and wait until the news has been sent out.

        Returns True if the leave broadcast was fully transmitted (or nobody was left to
        tell) within ``timeout``. Sockets stay open until :meth:`shutdown`.
        """
        return self._running().leave(timeout)

    def __enter__(self) -> Cluster:
        if self._engine is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._engine is not None and not self._shut:
                self.leave(timeout=min(5.0, max(1.0, self.config.gossip_interval * 20)))
        finally:
            self.shutdown()

    def _not_forked(self) -> None:
        if self._forked:
            raise UsedAfterForkError(
                "this Cluster was started before os.fork() and its threads do not run in the "
                "child process; create the Cluster after the fork (e.g. in gunicorn post_fork)"
            )

    def _running(self) -> Engine:
        self._not_forked()
        engine = self._engine
        if engine is None or self._shut or not engine.running:
            raise NotRunningError("the cluster is not running (call start())")
        return engine

    # ------------------------------------------------------------------ membership

    def join(self, seeds: Iterable[str] | str, timeout: float | None = None) -> int:
        """Push/pull with every seed (``host:port``, optionally ``name/host:port``).

        Every seed is tried, its name resolved afresh and every address tried in turn.
        Returns how many seeds answered; raises NoSeedsReachableError (with the reason per
        seed in ``.reasons``) if none did. ``timeout`` bounds the whole call.
        """
        engine = self._running()
        if isinstance(seeds, str):
            seeds = [seeds]
        parsed = [parse_seed(s, self.config.bind_port) for s in seeds]
        if not parsed:
            raise ConfigError("join: no seeds given")
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
            raise ConfigError(f"join: timeout must be a positive number, got {timeout!r}")
        n = join_seeds(engine, parsed, timeout)
        assert self._joiner is not None
        self._joiner.remember(parsed)
        return n

    def members(self) -> list[Node]:
        """Self and every known node with its state (dead and left ones until reaped)."""
        return self._running().members()

    def alive_members(self) -> list[Node]:
        """Alive and suspect members, as memberlist's ``Members()``."""
        return [m for m in self.members() if m.state <= NodeState.SUSPECT]

    @property
    def local_node(self) -> Node:
        return self._running().local_node()

    def update_meta(self, meta: bytes) -> None:
        """Publish new node metadata (at most 512 bytes) under a new incarnation."""
        if not isinstance(meta, (bytes, bytearray)) or len(meta) > META_MAX_SIZE:
            raise ConfigError(f"meta: must be bytes of at most {META_MAX_SIZE}")
        self._running().update_meta(bytes(meta))

    def health_score(self) -> int:
        """Lifeguard local health (0 is healthy; higher means probes are slowed down)."""
        return self._running().health_score()

    def stats(self) -> dict[str, int]:
        """Counters: packets, bytes, and dropped input by reason (``drop.<reason>``)."""
        self._not_forked()
        out = self._engine.stats() if self._engine is not None else {}
        out["events.lost"] = self._events.lost_total
        out["callbacks.errors"] = self._callbacks.errors
        out["callbacks.slow"] = self._callbacks.slow
        out["queue.events"] = self.events.qsize()
        return out

    @property
    def port(self) -> int:
        """The bound port (useful with ``bind_port=0``)."""
        return self._running().port

    @property
    def address(self) -> tuple[str, int]:
        n = self.local_node
        return (n.addr, n.port)

    def ping(self, target: str | Node, timeout: float = 1.0) -> float | None:
        """Round-trip time in seconds of one UDP ping to a member, or None on timeout."""
        return self._running().ping(_target_name(target), timeout)

    # ------------------------------------------------------------------ messaging

    def on_message(self, callback: MessageCallback) -> None:
        """Register ``callback(sender, topic, payload)``; it runs on the delivery thread."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        self._callbacks.add(callback)

    def broadcast(self, payload: bytes, topic: str | None = None) -> None:
        """Gossip a message to every member.

        With a topic, every swimlib node relays the message once (deduplicated), so it spreads
        epidemically to the whole cluster. Without a topic it is a raw memberlist user
        broadcast: sent ``retransmit_mult * ceil(log10(n+1))`` times by this node only, as a
        memberlist application's TransmitLimitedQueue would.
        """
        self._running().broadcast(_payload(payload), _topic(topic))

    def send(
        self,
        target: str | Node,
        payload: bytes,
        topic: str | None = None,
        reliable: bool = False,
    ) -> None:
        """A direct message: best-effort UDP, or TCP with ``reliable=True`` (blocking)."""
        engine = self._running()
        engine.send(_target_name(target), _payload(payload), _topic(topic), reliable)


def _payload(payload: object) -> bytes:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError("payload must be bytes")
    return bytes(payload)


def _topic(topic: object) -> str | None:
    if topic is None:
        return None
    if not isinstance(topic, str) or not topic:
        raise ValueError("topic must be a non-empty str, or None for a raw message")
    try:
        size = len(topic.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("topic must be valid Unicode text (no lone surrogates)") from None
    if size > 0xFFFF:
        raise ValueError("topic is limited to 65535 bytes of UTF-8")
    return topic


def _target_name(target: str | Node) -> str:
    name = target.name if isinstance(target, Node) else target
    if not isinstance(name, str):
        raise TypeError("target must be a node name or a Node")
    return name
