"""The ``pick up`` skill: face a key, ball or box of that name, then pick it up."""

from __future__ import annotations

from typing import Optional

from minigrid.core.actions import Actions

from habitat_llm4teach.teacher.minigrid.perception import PICKABLE_KINDS
from habitat_llm4teach.teacher.minigrid.skills.base import (
    SKILL_DONE,
    SKILL_FAILED,
    Skill,
    SkillStep,
    objects_named,
    plan_to_face,
    running,
)
from habitat_llm4teach.teacher.minigrid.types import Perception


class PickUp(Skill):
    def step(self, perception: Perception, target: Optional[str]) -> SkillStep:
        held = perception.holding
        if held is not None:
            # MiniGrid hands hold one object: holding another one makes this step impossible.
            return SKILL_DONE if held.name == target else SKILL_FAILED
        cells = [o.position for o in objects_named(perception, target) if o.kind in PICKABLE_KINDS]
        actions = plan_to_face(perception, cells)
        if actions is None:
            return SKILL_FAILED
        return running(actions[0] if actions else Actions.pickup)
