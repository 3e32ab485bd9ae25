"""Request counters, readable from other threads and over HTTP (``GET /__emulator__/counters``)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import TypedDict


class CounterSnapshot(TypedDict):
    requests: int
    get: int
    post: int
    pages: int
    by_action: dict[str, int]
    by_outcome: dict[str, int]


class Counters:
    """Updated on the emulator's event loop; a lock keeps snapshots taken from other threads consistent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: Counter[str] = Counter()
        self._by_action: Counter[str] = Counter()
        self._by_outcome: Counter[str] = Counter()

    def request(self, method: str) -> None:
        with self._lock:
            self._totals["requests"] += 1
            if method in ("GET", "POST"):
                self._totals[method.lower()] += 1

    def page(self) -> None:
        with self._lock:
            self._totals["pages"] += 1

    def action(self, action: str) -> None:
        with self._lock:
            self._by_action[action or "(none)"] += 1

    def outcome(self, outcome: str) -> None:
        with self._lock:
            self._by_outcome[outcome] += 1

    def reset(self) -> None:
        with self._lock:
            self._totals.clear()
            self._by_action.clear()
            self._by_outcome.clear()

    def snapshot(self) -> CounterSnapshot:
        with self._lock:
            return {
                "requests": self._totals["requests"],
                "get": self._totals["get"],
                "post": self._totals["post"],
                "pages": self._totals["pages"],
                "by_action": dict(self._by_action),
                "by_outcome": dict(self._by_outcome),
            }
