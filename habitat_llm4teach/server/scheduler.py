"""Dynamic batching and coalescing policy of the teacher server; it never runs the model.

Owns which descriptions wait, which run next, and who gets each answer. A
description is keyed by whatever identifies its answer (the server uses
(prompt set, description)): identical keys in flight (waiting or running) share one computation
(coalescing); a batch starts once ``max_batch`` descriptions wait or the oldest
has waited ``max_wait_ms``, whichever comes first, and only while no other batch
runs (one backend, one batch at a time); at most ``max_queue`` distinct
descriptions wait.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, Hashable, Optional, TypeVar

W = TypeVar("W")  # whoever waits for an answer (the server's reply address)


class QueueFull(RuntimeError):
    """More distinct descriptions waiting than ``max_queue``."""


@dataclass
class _Entry(Generic[W]):
    payload: object  # what the backend needs (the server: the plan query)
    arrived: float
    waiters: list[W]


class Scheduler(Generic[W]):
    def __init__(self, max_batch: int, max_wait_ms: float, max_queue: int) -> None:
        if max_batch < 1 or max_wait_ms < 0 or max_queue < 1:
            raise ValueError(
                f"need max_batch >= 1, max_wait_ms >= 0, max_queue >= 1; got {max_batch}, {max_wait_ms}, {max_queue}"
            )
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000
        self.max_queue = max_queue
        self._waiting: OrderedDict[Hashable, _Entry[W]] = OrderedDict()
        self._running: dict[Hashable, _Entry[W]] = {}

    @property
    def depth(self) -> int:
        """Distinct descriptions waiting or running."""
        return len(self._waiting) + len(self._running)

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def add(self, description: Hashable, payload: object, waiter: W, now: float) -> bool:
        """Queue a request; True when it joined one already in flight (coalesced)."""
        entry = self._running.get(description) or self._waiting.get(description)
        if entry is not None:
            entry.waiters.append(waiter)
            return True
        if len(self._waiting) >= self.max_queue:
            raise QueueFull(f"{len(self._waiting)} descriptions are waiting (max_queue={self.max_queue})")
        self._waiting[description] = _Entry(payload, now, [waiter])
        return False

    def seconds_until_due(self, now: float) -> Optional[float]:
        """How long until the next batch is due (0: now), None when nothing waits or a batch runs."""
        if self.busy or not self._waiting:
            return None
        if len(self._waiting) >= self.max_batch:
            return 0.0
        oldest = next(iter(self._waiting.values())).arrived
        return max(0.0, oldest + self.max_wait_s - now)

    def take_batch(self, now: float) -> list[tuple[Hashable, object]]:
        """The next batch (description, payload) if one is due, else []; it is running until :meth:`finish`."""
        if self.seconds_until_due(now) != 0.0:
            return []
        batch = []
        while self._waiting and len(batch) < self.max_batch:
            description, entry = self._waiting.popitem(last=False)
            self._running[description] = entry
            batch.append((description, entry.payload))
        return batch

    def finish(self) -> dict[Hashable, list[W]]:
        """End the running batch: who waits for each of its descriptions."""
        done = {description: entry.waiters for description, entry in self._running.items()}
        self._running = {}
        return done
