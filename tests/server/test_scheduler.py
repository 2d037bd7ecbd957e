"""Dynamic batching policy: max_batch or max_wait_ms first, coalescing in flight, one batch at a time, full queue."""

from __future__ import annotations

import pytest

from habitat_llm4teach.server.scheduler import QueueFull, Scheduler


def test_a_batch_is_due_at_max_batch_or_after_max_wait():
    s = Scheduler(max_batch=3, max_wait_ms=100, max_queue=10)
    assert s.seconds_until_due(0.0) is None and s.take_batch(0.0) == []
    s.add("a", "pa", "w1", now=0.0)
    s.add("b", "pb", "w2", now=0.05)
    assert s.seconds_until_due(0.05) == pytest.approx(0.05)
    assert s.take_batch(0.05) == []  # neither full nor old enough
    assert [d for d, _ in s.take_batch(0.1)] == ["a", "b"]  # the oldest waited max_wait_ms
    s.finish()
    for i, d in enumerate("cdefg"):
        s.add(d, None, f"w{i}", now=1.0)
    assert s.seconds_until_due(1.0) == 0.0
    assert [d for d, _ in s.take_batch(1.0)] == ["c", "d", "e"]  # max_batch, oldest first


def test_identical_descriptions_in_flight_are_coalesced_and_one_batch_runs_at_a_time():
    s = Scheduler(max_batch=2, max_wait_ms=0, max_queue=10)
    assert s.add("a", None, "w1", now=0.0) is False
    assert s.add("a", None, "w2", now=0.0) is True  # waiting
    assert s.take_batch(0.0) == [("a", None)]
    assert s.add("a", None, "w3", now=0.0) is True  # running
    s.add("b", None, "w4", now=0.0)
    assert s.busy and s.depth == 2 and s.take_batch(1.0) == []  # the backend is busy
    assert s.finish() == {"a": ["w1", "w2", "w3"]}
    assert s.take_batch(1.0) == [("b", None)]


def test_full_queue_and_bad_settings():
    s = Scheduler(max_batch=4, max_wait_ms=10, max_queue=2)
    s.add("a", None, 1, now=0.0)
    s.add("b", None, 2, now=0.0)
    assert s.add("a", None, 3, now=0.0) is True  # joining one in flight never overflows
    with pytest.raises(QueueFull, match="max_queue=2"):
        s.add("c", None, 4, now=0.0)
    with pytest.raises(ValueError, match="max_batch >= 1"):
        Scheduler(0, 10, 10)
