"""The ``drop`` skill: put the held object down in an empty cell.

Prefers cells that are not next to a door, so a dropped key never blocks the
only cell from which a door can be opened. Skills are stateless, so "not
holding it" is DONE whether the object was just dropped or never held.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from minigrid.core.actions import Actions

from habitat_llm4teach.teacher.minigrid.perception import DOOR, TYPE_CHANNEL
from habitat_llm4teach.teacher.minigrid.skills.base import (
    EMPTY,
    SKILL_DONE,
    SKILL_FAILED,
    Skill,
    SkillStep,
    plan_to_face,
    running,
)
from habitat_llm4teach.teacher.minigrid.types import Perception


class Drop(Skill):
    def step(self, perception: Perception, target: Optional[str]) -> SkillStep:
        held = perception.holding
        if held is None or held.name != target:
            return SKILL_DONE
        empty = [(int(x), int(y)) for x, y in np.argwhere(perception.grid[:, :, TYPE_CHANNEL] == EMPTY)]
        doors = [o.position for o in perception.objects if o.kind == DOOR]
        away_from_doors = [c for c in empty if all(abs(c[0] - dx) + abs(c[1] - dy) > 1 for dx, dy in doors)]
        for cells in (away_from_doors, empty):
            actions = plan_to_face(perception, cells)
            if actions is not None:
                return running(actions[0] if actions else Actions.drop)
        return SKILL_FAILED
