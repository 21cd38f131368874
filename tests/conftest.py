"""Shared fixtures: every test must leave no swimlib thread running."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import settings

# Property tests judge results, not speed: a loaded CI machine must not fail them on timing.
# In CI (CI=true) examples are derandomized so a run is repeatable.
settings.register_profile("swimlib", deadline=None, derandomize=bool(os.environ.get("CI")))
settings.load_profile("swimlib")


def _swimlib_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("swimlib-") and t.is_alive()]


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    before = set(_swimlib_threads())
    yield
    deadline = time.monotonic() + 3.0
    leaked = [t for t in _swimlib_threads() if t not in before]
    while leaked and time.monotonic() < deadline:
        time.sleep(0.05)
        leaked = [t for t in _swimlib_threads() if t not in before]
    assert not leaked, f"test leaked threads: {[t.name for t in leaked]}"
