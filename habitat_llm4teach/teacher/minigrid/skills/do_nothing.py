"""The ``do nothing`` skill: the paper's fallback when the acting teacher has no guidance.

It sends MiniGrid's ``done`` action, which changes nothing in these tasks, and
never finishes. Planners never offer it; only the acting teacher picks it.
"""

from __future__ import annotations

from typing import Optional

from minigrid.core.actions import Actions

from habitat_llm4teach.teacher.minigrid.skills.base import Skill, SkillStep, running
from habitat_llm4teach.teacher.minigrid.types import Perception

DO_NOTHING = "do nothing"


class DoNothing(Skill):
    def step(self, perception: Perception, target: Optional[str]) -> SkillStep:
        return running(Actions.done)
