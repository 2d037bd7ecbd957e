"""Plan distribution + perception -> the teacher's continuous actions for one env step.

Each plan acts through its current step (the first step whose skill is not
DONE; a FAILED current step or an all-DONE plan says nothing), as in
teacher/minigrid/teacher.py for MiniGrid. Instead of a mixed categorical, the output
keeps one action vector per contributing plan with its renormalised plan
probability: the continuous distillation loss weighs the student's likelihood
of each (``distill/continuous.py``). At most ``max_plans`` plans are kept (the
most probable); the rest are dropped before renormalising.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from habitat_llm4teach.teacher.guidance import current_step
from habitat_llm4teach.teacher.rearrange.perception import RearrangePerception
from habitat_llm4teach.teacher.rearrange.skills import ACTION_DIM, ControlStep, control
from habitat_llm4teach.teacher.types import PlanDistribution, SkillCall


@dataclass(frozen=True)
class ContinuousTeacherOutput:
    actions: np.ndarray  # [K, A] one action per contributing plan (zero rows past the last)
    weights: np.ndarray  # [K] renormalised plan probabilities (0 past the last); sums to 1 when guided
    guided: bool
    skill: str  # current step of the most probable contributing plan, for overlays

    @property
    def mean_action(self) -> np.ndarray:
        """The plan-probability-weighted mean action [A] (zeros when not guided)."""
        return self.weights @ self.actions


def teacher_actions(plans: PlanDistribution, perception: RearrangePerception, max_plans: int) -> ContinuousTeacherOutput:
    if max_plans < 1:
        raise ValueError(f"max_plans must be >= 1, got {max_plans}")
    actions = np.zeros((max_plans, ACTION_DIM), dtype=np.float32)  # [K, A]
    weights = np.zeros(max_plans, dtype=np.float32)  # [K]
    verdicts: dict[SkillCall, ControlStep] = {}
    contributing: list[tuple[float, SkillCall, np.ndarray]] = []

    def verdict_of(call: SkillCall) -> ControlStep:
        return control(call.skill, perception, call.target)

    for plan in plans.plans:
        current = current_step(plan, verdict_of, verdicts) if plan.prob > 0 else None
        if current is not None:
            contributing.append((plan.prob, current[0], current[1].action))
    contributing.sort(key=lambda c: -c[0])  # stable: equal probabilities keep the planner's order
    contributing = contributing[:max_plans]
    if not contributing:
        return ContinuousTeacherOutput(actions, weights, guided=False, skill="")
    total = sum(p for p, _, _ in contributing)
    for k, (prob, _, action) in enumerate(contributing):
        actions[k], weights[k] = action, prob / total
    return ContinuousTeacherOutput(actions, weights, guided=True, skill=str(contributing[0][1]))
