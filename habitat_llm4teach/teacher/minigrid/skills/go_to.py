"""The ``go to`` skill: stand in front of an object facing it, or on it for a goal square."""

from __future__ import annotations

from typing import Optional

from habitat_llm4teach.teacher.minigrid.perception import GOAL
from habitat_llm4teach.teacher.minigrid.skills.base import (
    SKILL_DONE,
    SKILL_FAILED,
    Skill,
    SkillStep,
    objects_named,
    plan_to_face,
    plan_to_stand,
    running,
)
from habitat_llm4teach.teacher.minigrid.types import Perception


class GoTo(Skill):
    def step(self, perception: Perception, target: Optional[str]) -> SkillStep:
        objects = objects_named(perception, target)
        if not objects:
            return SKILL_FAILED
        cells = [o.position for o in objects]
        # Objects of one name share a kind; goals are walked onto, everything else faced.
        actions = plan_to_stand(perception, cells) if objects[0].kind == GOAL else plan_to_face(perception, cells)
        if actions is None:
            return SKILL_FAILED
        return running(actions[0]) if actions else SKILL_DONE
