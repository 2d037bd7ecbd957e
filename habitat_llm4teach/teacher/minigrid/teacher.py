"""Plan distribution + perception -> the teacher's distribution over the student's actions.

Each plan acts through its *current step* (teacher/guidance.py's ``current_step``):
the first step whose skill is not DONE for this perception. A plan whose steps
are all DONE, or whose current step FAILED, has nothing to say. The remaining
plans' next primitive actions are mixed by plan probability, renormalised over
those plans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from habitat_llm4teach.teacher.guidance import current_step
from habitat_llm4teach.teacher.minigrid.skills import SkillStep, get_skill
from habitat_llm4teach.teacher.minigrid.types import Perception
from habitat_llm4teach.teacher.types import PlanDistribution, SkillCall


@dataclass(frozen=True)
class TeacherOutput:
    probs: np.ndarray  # [A] teacher's action probabilities; uniform when not guided
    guided: bool  # some plan contributed
    skill: str  # current step of the most probable contributing plan ("" when not guided), for video overlays


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
