"""The ``open`` skill: face a door of that name and toggle it.

A locked door opens only for a key of its colour, so without one the step
FAILS (the plan needs a ``pick up`` first); a closed door opens bare-handed.
"""

from __future__ import annotations

from typing import Optional

from minigrid.core.actions import Actions

from habitat_llm4teach.teacher.minigrid.perception import DOOR, DOOR_CLOSED, DOOR_OPEN, KEY
from habitat_llm4teach.teacher.minigrid.skills.base import (
    SKILL_DONE,
    SKILL_FAILED,
    Skill,
    SkillStep,
    objects_named,
    plan_to_face,
    running,
)
from habitat_llm4teach.teacher.minigrid.types import PerceivedObject, Perception


def can_open(door: PerceivedObject, held: Optional[PerceivedObject]) -> bool:
    """The skill's precondition: a closed door, or a locked one with the key of its colour in hand."""
    return door.state == DOOR_CLOSED or (held is not None and held.kind == KEY and held.color == door.color)


class Open(Skill):
    def step(self, perception: Perception, target: Optional[str]) -> SkillStep:
        doors = [o for o in objects_named(perception, target) if o.kind == DOOR]
        if any(d.state == DOOR_OPEN for d in doors):
            return SKILL_DONE
        cells = [d.position for d in doors if can_open(d, perception.holding)]
        actions = plan_to_face(perception, cells)
        if actions is None:
            return SKILL_FAILED
        return running(actions[0] if actions else Actions.toggle)
