"""Schedules for the distillation coefficient lambda (``llm4teach.distill``).

Owns how lambda evolves over PPO updates. The trainer asks ``value(num_updates_done)``
before each update (update ``k`` uses ``value(k)``) and hands the result to the
updater; ``observe`` feeds it the student's windowed success rate; ``state_dict`` /
``load_state_dict`` go into checkpoints and resume states so a resumed run
continues with exactly the lambda it would have had.

- ``paper``: the LLM4Teach schedule: ``start`` (10) minus ``decay_per_update``
  (0.005) per update, never below ``floor`` (0.1), and 0 from ``off_after``
  updates on (-1: never switched off).
- ``linear``: ``start`` to ``floor`` in a straight line over ``linear_updates``, then ``floor``.
- ``exponential``: ``start * decay_rate ** updates``, never below ``floor``.
- ``adaptive``: ``paper`` until the first update where the student's windowed success
  exceeds ``teacher_success + margin``; from there lambda fades linearly to ``floor`` over
  ``fade_updates`` and stays there (0 from ``off_after``, as in ``paper``). A negative
  margin starts the fade when the student comes within ``-margin`` of the teacher, so
  that reward carries it past a teacher it cannot beat while imitating (a teacher at
  1.00 can never be exceeded by a positive margin). The floor anchors the student:
  on LavaDoorKey, a student at 0.68 success trained on reward alone (lambda 0, from
  habitat's own PPO trainer too) fell to 0 within 30k env steps, and held ~0.75 with
  lambda at 0.1. With ``floor`` 0 the fade ends at 0 and the teacher is retired.
- ``none``: lambda = 0 throughout: plain PPO through the same trainer (no teacher
  is built), the baseline of scripts/bench_sample_efficiency.py.

``is_off(k)`` says lambda is 0 from update ``k`` on for good, so the trainer stops
asking the teacher.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Optional

CONFIG_PREFIX = "llm4teach.distill"


def _require(ok: bool, name: str, value: Any, expected: str) -> None:
    if not ok:
        raise ValueError(f"{CONFIG_PREFIX}.{name} must be {expected}, got {value!r}")


class DistillSchedule(ABC):
    """lambda as a function of the number of PPO updates done, plus any state it learned while training."""

    name: ClassVar[str]

    def __init__(self, start: float, floor: float) -> None:
        _require(math.isfinite(start) and start >= 0, "start", start, "a finite number >= 0")
        _require(math.isfinite(floor) and 0 <= floor <= start, "floor", floor, f"between 0 and start={start}")
        self.start = float(start)
        self.floor = float(floor)

    @classmethod
    @abstractmethod
    def from_config(cls, config: Any) -> "DistillSchedule":
        """Build from a ``DistillConfig`` (dataclass or composed DictConfig)."""

    @abstractmethod
    def value(self, num_updates_done: int) -> float:
        """lambda for the update that follows ``num_updates_done`` finished updates."""

    def observe(self, student_success: float, num_updates_done: int) -> None:
        """The student's windowed success rate, measured before update ``num_updates_done``. Ignored by default."""

    def is_off(self, num_updates_done: int) -> bool:
        """Whether lambda is 0 for this update and every later one (the teacher is no longer needed)."""
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ValueError(
                f"cannot load the state of distillation schedule '{state.get('name')}' into a '{self.name}' schedule "
                f"({CONFIG_PREFIX}.schedule changed since the checkpoint was written)"
            )


def _check_num_updates(num_updates_done: int) -> None:
    if num_updates_done < 0:
        raise ValueError(f"num_updates_done must be >= 0, got {num_updates_done}")


class PaperSchedule(DistillSchedule):
    name = "paper"

    def __init__(self, start: float = 10.0, floor: float = 0.1, decay_per_update: float = 0.005, off_after: int = -1) -> None:
        super().__init__(start, floor)
        _require(math.isfinite(decay_per_update) and decay_per_update >= 0, "decay_per_update", decay_per_update, "a finite number >= 0")
        _require(off_after >= -1, "off_after", off_after, "-1 (never) or a number of updates >= 0")
        self.decay_per_update = float(decay_per_update)
        self.off_after = int(off_after)

    @classmethod
    def from_config(cls, config: Any) -> "PaperSchedule":
        return cls(config.start, config.floor, config.decay_per_update, config.off_after)

    def value(self, num_updates_done: int) -> float:
        _check_num_updates(num_updates_done)
        if 0 <= self.off_after <= num_updates_done:
            return 0.0
        return max(self.floor, self.start - self.decay_per_update * num_updates_done)

    def is_off(self, num_updates_done: int) -> bool:
        return 0 <= self.off_after <= num_updates_done


class LinearSchedule(DistillSchedule):
    name = "linear"

    def __init__(self, start: float = 10.0, floor: float = 0.1, linear_updates: int = 2000) -> None:
        super().__init__(start, floor)
        _require(linear_updates >= 1, "linear_updates", linear_updates, "a number of updates >= 1")
        self.linear_updates = int(linear_updates)

    @classmethod
    def from_config(cls, config: Any) -> "LinearSchedule":
        return cls(config.start, config.floor, config.linear_updates)

    def value(self, num_updates_done: int) -> float:
        _check_num_updates(num_updates_done)
        progress = min(num_updates_done / self.linear_updates, 1.0)
        return self.start + (self.floor - self.start) * progress


class ExponentialSchedule(DistillSchedule):
    name = "exponential"

    def __init__(self, start: float = 10.0, floor: float = 0.1, decay_rate: float = 0.995) -> None:
        super().__init__(start, floor)
        _require(0 < decay_rate <= 1, "decay_rate", decay_rate, "in (0, 1]")
        self.decay_rate = float(decay_rate)

    @classmethod
    def from_config(cls, config: Any) -> "ExponentialSchedule":
        return cls(config.start, config.floor, config.decay_rate)

    def value(self, num_updates_done: int) -> float:
        _check_num_updates(num_updates_done)
        return max(self.floor, self.start * self.decay_rate**num_updates_done)


class AdaptiveSchedule(PaperSchedule):
    name = "adaptive"

    def __init__(
        self,
        teacher_success: Optional[float],
        start: float = 10.0,
        floor: float = 0.1,
        decay_per_update: float = 0.005,
        off_after: int = -1,
        margin: float = 0.05,
        fade_updates: int = 100,
    ) -> None:
        super().__init__(start, floor, decay_per_update, off_after)
        _require(
            teacher_success is not None and 0 <= teacher_success <= 1, "teacher_success", teacher_success,
            "the teacher's measured success rate in [0, 1] (required by the adaptive schedule)",
        )
        _require(math.isfinite(margin) and -1 <= margin <= 1, "margin", margin, "a number in [-1, 1]")
        _require(fade_updates >= 1, "fade_updates", fade_updates, "a number of updates >= 1")
        self.teacher_success = float(teacher_success)
        self.margin = float(margin)
        self.fade_updates = int(fade_updates)
        self.fade_start: Optional[int] = None  # the update at which the student first beat the teacher

    @classmethod
    def from_config(cls, config: Any) -> "AdaptiveSchedule":
        return cls(
            config.teacher_success, config.start, config.floor, config.decay_per_update, config.off_after,
            config.margin, config.fade_updates,
        )

    def observe(self, student_success: float, num_updates_done: int) -> None:
        _check_num_updates(num_updates_done)
        if not 0 <= student_success <= 1:
            raise ValueError(f"student_success must be a success rate in [0, 1], got {student_success}")
        if self.fade_start is None and student_success > self.teacher_success + self.margin:
            self.fade_start = int(num_updates_done)

    def value(self, num_updates_done: int) -> float:
        paper_value = super().value(num_updates_done)
        if self.fade_start is None or num_updates_done < self.fade_start or paper_value == 0.0:
            return paper_value
        fade = max(0.0, 1.0 - (num_updates_done - self.fade_start) / self.fade_updates)
        return self.floor + (paper_value - self.floor) * fade

    def is_off(self, num_updates_done: int) -> bool:
        faded = self.fade_start is not None and num_updates_done >= self.fade_start + self.fade_updates
        return (faded and self.floor == 0.0) or super().is_off(num_updates_done)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "fade_start": self.fade_start}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.fade_start = state["fade_start"]


class NoDistillation(DistillSchedule):
    name = "none"

    def __init__(self) -> None:
        super().__init__(0.0, 0.0)

    @classmethod
    def from_config(cls, config: Any) -> "NoDistillation":
        return cls()

    def value(self, num_updates_done: int) -> float:
        _check_num_updates(num_updates_done)
        return 0.0

    def is_off(self, num_updates_done: int) -> bool:
        return True


SCHEDULES: dict[str, type[DistillSchedule]] = {
    cls.name: cls for cls in (PaperSchedule, LinearSchedule, ExponentialSchedule, AdaptiveSchedule, NoDistillation)
}


def build_schedule(config: Any) -> DistillSchedule:
    """The schedule a ``DistillConfig`` names, with its parameters checked (ValueError naming the bad key)."""
    if config.schedule not in SCHEDULES:
        raise ValueError(
            f"{CONFIG_PREFIX}.schedule must be one of {sorted(SCHEDULES)}, got {config.schedule!r}"
        )
    return SCHEDULES[config.schedule].from_config(config)
