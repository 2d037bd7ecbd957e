"""Plan distribution + perception -> the teacher's distribution over the student's actions.

Each plan acts through its *current step*: the first step whose skill is not
DONE for this perception. A plan whose steps are all DONE, or whose current
step FAILED, has nothing to say. The remaining plans' next primitive actions
are mixed by plan probability, renormalised over those plans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from habitat_llm4teach.teacher.skills import SkillStatus, SkillStep, get_skill
from habitat_llm4teach.teacher.types import Perception, Plan, PlanDistribution, SkillCall


@dataclass(frozen=True)
class TeacherOutput:
    probs: np.ndarray  # [A] teacher's action probabilities; uniform when not guided
    guided: bool  # some plan contributed
    skill: str  # current step of the most probable contributing plan ("" when not guided), for video overlays


def current_step(plan: Plan, verdict_of: Callable[[SkillCall], Any], verdicts: dict[SkillCall, Any]) -> Optional[tuple[SkillCall, Any]]:
    """The plan's first step that is not DONE, with its verdict; None if none or if it FAILED.

    ``verdict_of(call)`` runs the skill (anything with a ``status``); ``verdicts`` memoises it across the
    plans of one perception (plans share steps). Shared with the pick/place teacher.
    """
    for call in plan.steps:
        if call not in verdicts:
            verdicts[call] = verdict_of(call)
        verdict = verdicts[call]
        if verdict.status is SkillStatus.DONE:
            continue
        return (call, verdict) if verdict.status is SkillStatus.RUNNING else None
    return None


def teacher_action_distribution(plans: PlanDistribution, perception: Perception, num_actions: int) -> TeacherOutput:
    if num_actions < 1:
        raise ValueError(f"num_actions must be >= 1, got {num_actions}")
    teacher_probs = np.zeros(num_actions, dtype=np.float64)  # [A]
    verdicts: dict[SkillCall, SkillStep] = {}
    total = 0.0
    best: Optional[tuple[float, SkillCall]] = None

    def verdict_of(call: SkillCall) -> SkillStep:
        return get_skill(call.skill).step(perception, call.target)

    for plan in plans.plans:
        current = current_step(plan, verdict_of, verdicts) if plan.prob > 0 else None
        if current is None:
            continue
        call, verdict = current
        if not 0 <= verdict.action < num_actions:
            raise ValueError(
                f"skill step '{call}' chose action {verdict.action}, but the student has num_actions={num_actions}"
            )
        teacher_probs[verdict.action] += plan.prob
        total += plan.prob
        if best is None or plan.prob > best[0]:
            best = (plan.prob, call)
    if best is None:
        return TeacherOutput(np.full(num_actions, 1.0 / num_actions), guided=False, skill="")
    return TeacherOutput(teacher_probs / total, guided=True, skill=str(best[1]))
