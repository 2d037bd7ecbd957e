"""The ``Teacher`` the trainer and the student depend on, and what every env's teacher shares on its way.

Owns the :class:`Teacher` interface (guide a batch of observations, statistics,
the plan cache, close, and the latest plans and skills for video overlays) with
the bookkeeping common to every env: asking the plan source (teacher/source.py,
in process or the inference server), the guided fraction, the optional trace of
queries, and a plan's *current step* (the first step whose skill is not DONE;
the MiniGrid and pick/place teachers both act through it). The teachers
themselves live with their env: teacher/minigrid/guidance.py,
teacher/rearrange/guidance.py, each one class over a plan source.
"""

from __future__ import annotations

import json
import os
import time
from abc import ABC, abstractmethod
from typing import Any, Callable, Optional, Sequence

import torch

from habitat_llm4teach.teacher.source import PLAN_CACHE_HIT_RATE, PlanSource
from habitat_llm4teach.teacher.types import Plan, PlanDistribution, PlanQuery, SkillCall, SkillStatus

__all__ = ["GUIDED_FRAC", "PLAN_CACHE_HIT_RATE", "DescriptionTrace", "Teacher", "current_step"]

# The share of env steps the teacher guided, logged beside the plan source's statistics.
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
    """Appends the queries the teacher asks, one JSON line per env step (scripts/bench_teacher_server.py replays it):
    ``{"t": seconds since the trace opened, "prompts": prompt set, "descriptions": [one per env],
    "queries": [{"candidates": [[skill, target]], "targets": {skill: [target]}} per env]}``."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._file = open(path, "a")
        self._start = time.monotonic()

    def record(self, prompts: str, queries: Sequence[PlanQuery]) -> None:
        line = {
            "t": round(time.monotonic() - self._start, 3), "prompts": prompts,
            "descriptions": [q.description for q in queries],
            "queries": [
                {"candidates": [[c.skill, c.target] for c in q.candidates], "targets": dict(q.targets)} for q in queries
            ],
        }
        self._file.write(json.dumps(line) + "\n")

    def close(self) -> None:
        self._file.close()




class Teacher(ABC):
    """The teacher as the trainer and the student see it, whatever the env and wherever its plans come from.

    A subclass (one per env) reads its observations, builds one :class:`PlanQuery` per env with its prompt set,
    gets their plans through :meth:`_plans` and turns them into the rollout-storage fields of its guidance. A
    query the source has not answered yet (the non-blocking server) leaves its step unguided.
    """

    def __init__(self, source: PlanSource, prompts: str, trace: Optional[DescriptionTrace] = None) -> None:
        self.source = source
        self.prompts = prompts  # the prompt set's name, as the trace records it
        self.trace = trace
        # Per env of the latest batch, for video overlays: the most probable plan with its probability, and the
        # current skill of the most probable contributing plan ("" when unguided or not answered yet).
        self.last_plans: list[str] = []
        self.last_skills: list[str] = []
        self._steps = self._guided_steps = 0

    @abstractmethod
    def guide_batch(self, observations: Any) -> dict[str, torch.Tensor]:
        """A batch of observations (habitat's TensorDict) -> the rollout-storage fields of the teacher's guidance."""

    def _plans(self, queries: Sequence[PlanQuery]) -> list[Optional[PlanDistribution]]:
        """The plan source's answers (None: not answered yet), traced, with each env's top plan kept."""
        if self.trace is not None:
            self.trace.record(self.prompts, queries)
        answers = self.source.plans(queries)
        self.last_plans = []
        for answer in answers:
            top = max(answer.plans, key=lambda plan: plan.prob, default=None) if answer is not None else None
            self.last_plans.append(f"{top.text} ({top.prob:.2f})" if top is not None else "")
        return answers

    def _count(self, steps: int, guided_steps: int) -> None:
        self._steps += steps
        self._guided_steps += guided_steps

    def pop_stats(self) -> dict[str, float]:
        """The guided fraction and the plan source's statistics since the last call."""
        stats = {GUIDED_FRAC: self._guided_steps / self._steps if self._steps else float("nan")}
        stats.update(self.source.pop_stats())
        self._steps = self._guided_steps = 0
        return stats

    def llm_at_work(self) -> bool:
        """Whether the plan source's LLM is computing answers for this teacher now (a server's, elsewhere)."""
        return self.source.llm_at_work()

    @property
    def cache_path(self) -> Optional[str]:
        return self.source.cache_path

    def save_cache(self) -> None:
        self.source.save()

    def close(self) -> None:
        """The trainer's end-of-training call: saves the plan cache, stops a server this rank started."""
        self.source.close()
        if self.trace is not None:
            self.trace.close()
