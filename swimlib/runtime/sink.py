"""The user's bounded events queue: overflow is counted and reported, never blocking.

Events are put while the engine holds the core lock (so the queue keeps core order), so a put
must never wait for a slow reader. When the queue is full the event is counted as lost; at
the next put that finds room, an :class:`~swimlib.events.EventsLost` with the count goes
first, so the reader learns that its view of the history has a gap (``members()`` is still
exact).
"""

from __future__ import annotations

import queue

from swimlib.events import Event, EventsLost


class EventSink:
    """Puts events on a bounded ``queue.Queue`` without ever blocking."""

    __slots__ = ("_pending_lost", "lost_total", "queue")

    def __init__(self, maxsize: int) -> None:
        self.queue: queue.Queue[Event] = queue.Queue(maxsize)
        self._pending_lost = 0
        self.lost_total = 0

    def put(self, event: Event) -> None:
        q = self.queue
        try:
            if self._pending_lost:
                q.put_nowait(EventsLost(self._pending_lost))
                self._pending_lost = 0
            q.put_nowait(event)
        except queue.Full:
            self._pending_lost += 1
            self.lost_total += 1
