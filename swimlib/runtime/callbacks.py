"""The user's ``on_message`` callbacks, run on the delivery thread, never under the lock.

A callback that raises or is slow is counted (``callbacks.errors``, ``callbacks.slow`` in
``stats()``) and logged at most once every 10 s, so a broken handler in a host application
cannot print a traceback per message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from swimlib.node import Node

log = logging.getLogger("swimlib")

MessageCallback = Callable[[Node | None, str | None, bytes], object]
#: A callback slower than this is counted (``callbacks.slow``) and logged, rate-limited.
SLOW_CALLBACK_SECONDS = 1.0
_LOG_INTERVAL = 10.0


class Callbacks:
    """The registered callbacks and their error and slowness counters."""

    def __init__(self, node_name: str) -> None:
        self._node_name = node_name
        self._callbacks: list[MessageCallback] = []
        self._lock = threading.Lock()
        self.errors = 0
        self.slow = 0
        self._logged = -1e9

    def add(self, callback: MessageCallback) -> None:
        with self._lock:
            self._callbacks = [*self._callbacks, callback]

    def run(self, sender: Node | None, topic: str | None, payload: bytes) -> None:
        for cb in self._callbacks:
            started = time.monotonic()
            try:
                cb(sender, topic, payload)
            except Exception as err:
                self.errors += 1
                self._trouble("on_message callback %r raised %r", cb, err)
            took = time.monotonic() - started
            if took > SLOW_CALLBACK_SECONDS:
                self.slow += 1
                self._trouble("on_message callback %r took %.1f s", cb, took)

    def _trouble(self, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._logged >= _LOG_INTERVAL:
            self._logged = now
            log.warning(
                "%s: " + msg + " (counted in stats(); logged at most every 10 s)",
                self._node_name,
                *args,
            )
