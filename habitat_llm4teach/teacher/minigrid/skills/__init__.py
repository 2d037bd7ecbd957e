"""Skill controllers, one file each, and the registry from skill name to controller."""

from __future__ import annotations

from habitat_llm4teach.teacher.minigrid.skills.base import Skill, SkillStatus, SkillStep
from habitat_llm4teach.teacher.minigrid.skills.do_nothing import DO_NOTHING, DoNothing
from habitat_llm4teach.teacher.minigrid.skills.drop import Drop
from habitat_llm4teach.teacher.minigrid.skills.explore import Explore
from habitat_llm4teach.teacher.minigrid.skills.go_to import GoTo
from habitat_llm4teach.teacher.minigrid.skills.open import Open
from habitat_llm4teach.teacher.minigrid.skills.pick_up import PickUp
from habitat_llm4teach.teacher.minigrid.types import DROP, EXPLORE, GO_TO, OPEN, PICK_UP

SKILLS: dict[str, Skill] = {
    EXPLORE: Explore(),
    GO_TO: GoTo(),
    PICK_UP: PickUp(),
    DROP: Drop(),
    OPEN: Open(),
    DO_NOTHING: DoNothing(),
}


def get_skill(name: str) -> Skill:
    """The controller for a skill name; unknown names raise instead of returning None."""
    if name not in SKILLS:
        raise KeyError(f"unknown skill '{name}'; registered: {sorted(SKILLS)}")
    return SKILLS[name]


__all__ = ["DO_NOTHING", "SKILLS", "Skill", "SkillStatus", "SkillStep", "get_skill"]
