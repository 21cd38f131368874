"""Joining that survives the real world: every seed, every address, retries, rejoin.

``join_seeds`` tries each seed, resolving its name afresh and trying every address it has;
a seed that fails is a reason, not an abort. ``Joiner`` is the optional background thread
(``swimlib-join``): with ``Config.retry_join`` it keeps trying those seeds every
``retry_interval`` until one answers (``retry_max`` attempts, 0 for no limit), then puts a
:class:`~swimlib.events.JoinCompleted` on the events queue; with ``rejoin_interval`` it
re-contacts every seed it ever joined through whenever the core says the node has lost its
cluster (alone, or fewer than half the members it had).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from swimlib.config import Config
from swimlib.errors import NoSeedsReachableError
from swimlib.events import JoinCompleted, JoinFailed
from swimlib.runtime import seeds as seeds_mod
from swimlib.runtime.engine import Engine, PeerRejected
from swimlib.runtime.seeds import Seed
from swimlib.runtime.streams import RemoteError
from swimlib.wire.errors import DecodeError

log = logging.getLogger("swimlib")

JOIN_ERRORS = (OSError, DecodeError, RemoteError, PeerRejected)


def join_seeds(engine: Engine, seeds: Sequence[Seed], timeout: float | None) -> int:
    """Push/pull with every seed; the number that answered, or NoSeedsReachableError."""
    deadline = None if timeout is None else time.monotonic() + timeout
    ok = 0
    reasons: dict[str, str] = {}
    for seed in seeds:
        reason = _join_one(engine, seed, deadline)
        if reason is None:
            ok += 1
        else:
            reasons[seed.text] = reason
            log.warning("%s: failed to join %s: %s", engine.config.node_name, seed.text, reason)
    if ok == 0:
        detail = "; ".join(f"{k}: {v}" for k, v in reasons.items())
        raise NoSeedsReachableError(f"no seed could be reached: {detail}", reasons)
    return ok


def _join_one(engine: Engine, seed: Seed, deadline: float | None) -> str | None:
    """None if some address of the seed answered, else why none did."""
    try:
        addrs = seeds_mod.resolve(seed)
    except OSError as err:
        return f"cannot resolve {seed.host!r}: {err}"
    problems: list[str] = []
    for addr in addrs:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            problems.append(f"{addr[0]}:{addr[1]}: join timeout")
            break
        try:
            engine.join(addr, left)
            return None
        except JOIN_ERRORS as err:
            problems.append(f"{addr[0]}:{addr[1]}: {err or type(err).__name__}")
    return ", ".join(problems) or "no address"


class Joiner:
    """The background retry-join and rejoin loop of one node."""

    def __init__(self, engine: Engine, config: Config) -> None:
        self._engine = engine
        self._config = config
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._known: dict[str, Seed] = {}
        self._retry = [seeds_mod.parse_seed(s, config.bind_port) for s in config.retry_join]
        self._thread: threading.Thread | None = None

    def remember(self, seeds: Sequence[Seed]) -> None:
        """Seeds a join went through: the ones to re-contact if the cluster is lost."""
        with self._lock:
            for s in seeds:
                self._known[s.text] = s

    def start(self) -> None:
        if not self._retry and self._config.rejoin_interval <= 0:
            return
        name = f"swimlib-join-{self._config.node_name}"[:60]
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            if self._retry:
                self._retry_join()
            while self._config.rejoin_interval > 0:
                if self._stop.wait(self._config.rejoin_interval):
                    return
                self._rejoin_if_lost()
        except Exception:  # never a silent dead thread
            log.exception("%s: the join thread failed", self._config.node_name)

    def _retry_join(self) -> None:
        cfg = self._config
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            try:
                n = join_seeds(self._engine, self._retry, cfg.tcp_timeout)
            except NoSeedsReachableError as err:
                if cfg.retry_max and attempt >= cfg.retry_max:
                    self._engine.publish(JoinFailed(attempt, dict(err.reasons)))
                    return
                if self._stop.wait(cfg.retry_interval):
                    return
                continue
            self.remember(self._retry)
            self._engine.publish(JoinCompleted(n, attempt))
            return

    def _rejoin_if_lost(self) -> None:
        if not self._engine.running or not self._engine.isolated():
            return
        with self._lock:
            known = list(self._known.values()) or list(self._retry)
        if not known:
            return
        log.info(
            "%s: lost the cluster; rejoining through %d seeds", self._config.node_name, len(known)
        )
        try:
            join_seeds(self._engine, known, self._config.tcp_timeout)
        except NoSeedsReachableError as err:
            log.warning("%s: rejoin failed: %s", self._config.node_name, err)
