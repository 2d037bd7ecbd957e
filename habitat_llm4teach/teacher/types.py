"""Data passed along every teacher's path, whatever the env: skill calls, their verdicts, plan distributions.

What an env's teacher perceives and the skill names it offers live with that teacher
(teacher/minigrid/types.py, teacher/rearrange/perception.py and describe.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional


class SkillStatus(enum.Enum):
    """A skill's verdict for one perception: still working (with a next action), done, or impossible."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class SkillCall:
    """One step of a plan, e.g. ``SkillCall("pick up", "yellow key")``; ``explore`` has no target."""

    skill: str
    target: Optional[str] = None

    def __str__(self) -> str:
        return self.skill if self.target is None else f"{self.skill} {self.target}"


@dataclass(frozen=True)
class Plan:
    steps: tuple[SkillCall, ...]
    prob: float

    @property
    def text(self) -> str:
        return ", ".join(str(s) for s in self.steps)


@dataclass(frozen=True)
class PlanDistribution:
    """The planner's answer for one description. No plans means no guidance."""

    plans: tuple[Plan, ...]
    invalid: int = 0  # LLM outputs / steps rejected by validation
    source: str = "llm"  # "llm" or "cache"

    @property
    def has_guidance(self) -> bool:
        return len(self.plans) > 0
