"""What every env's teacher shares on the way from plans to the trainer: plan bookkeeping and statistics.

Owns a plan's *current step* (the first step whose skill is not DONE; the MiniGrid
and pick/place teachers both act through it), the guidance handed to the trainer
(``TeacherGuidance``), the teacher's statistics for logging (plan-cache hit rate,
guided fraction) and the optional trace of descriptions. The teachers themselves
live with their env: teacher/minigrid/guidance.py, teacher/rearrange/guidance.py.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

import torch

from habitat_llm4teach.teacher.types import Plan, SkillCall, SkillStatus

if TYPE_CHECKING:
    from habitat_llm4teach.teacher.cache import PlanCache

# Teacher statistics, logged under the module's name.
PLAN_CACHE_HIT_RATE = "teacher/plan_cache_hit_rate"
GUIDED_FRAC = "teacher/guided_frac"


def current_step(plan: Plan, verdict_of: Callable[[SkillCall], Any], verdicts: dict[SkillCall, Any]) -> Optional[tuple[SkillCall, Any]]:
    """The plan's first step that is not DONE, with its verdict; None if none or if it FAILED.

    ``verdict_of(call)`` runs the skill (anything with a ``status``); ``verdicts`` memoises it across the
    plans of one perception (plans share steps). The MiniGrid and pick/place teachers both act through it.
    """
    for call in plan.steps:
        if call not in verdicts:
            verdicts[call] = verdict_of(call)
        verdict = verdicts[call]
        if verdict.status is SkillStatus.DONE:
            continue
        return (call, verdict) if verdict.status is SkillStatus.RUNNING else None
    return None


class DescriptionTrace:
    """Appends the descriptions the teacher is asked, one JSON line per env step:
    ``{"t": seconds since the trace opened, "descriptions": [one per env]}`` (scripts/bench_teacher_server.py replays it)."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._file = open(path, "a")
        self._start = time.monotonic()

    def record(self, descriptions: list[str]) -> None:
        self._file.write(json.dumps({"t": round(time.monotonic() - self._start, 3), "descriptions": descriptions}) + "\n")

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class TeacherGuidance:
    teacher_probs: torch.Tensor  # [N, A] float32, uniform where not guided
    teacher_guided: torch.Tensor  # [N, 1] bool, whether some plan gave an action


class TeacherStats:
    """Plan-cache hit rate and guided fraction of an in-process teacher, between two ``pop`` calls."""

    def __init__(self, cache: "PlanCache") -> None:
        self.cache = cache
        self._steps = self._guided_steps = 0
        self._hits_seen, self._misses_seen = cache.hits, cache.misses

    def count(self, steps: int, guided_steps: int) -> None:
        self._steps += steps
        self._guided_steps += guided_steps

    def pop(self) -> dict[str, float]:
        hits, misses = self.cache.hits - self._hits_seen, self.cache.misses - self._misses_seen
        stats = {
            PLAN_CACHE_HIT_RATE: hits / (hits + misses) if hits + misses else float("nan"),
            GUIDED_FRAC: self._guided_steps / self._steps if self._steps else float("nan"),
        }
        self._hits_seen, self._misses_seen = self.cache.hits, self.cache.misses
        self._steps = self._guided_steps = 0
        return stats
