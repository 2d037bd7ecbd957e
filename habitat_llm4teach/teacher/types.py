"""Data passed along every teacher's path, whatever the env: skill calls, their verdicts, plan queries and
plan distributions.

What an env's teacher perceives and the skill names it offers live with that teacher
(teacher/minigrid/types.py, teacher/rearrange/perception.py and describe.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence


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


@dataclass(frozen=True)
class PlanQuery:
    """Everything a planner needs to answer for one perception, whatever the env: no perception, only text.

    An env's teacher builds it (its prompt set's ``query_of``); the inference server receives it whole, so the
    server never parses a description back into a scene.
    """

    description: str
    candidates: tuple[SkillCall, ...]  # the next skills offered (score mode ranks exactly these)
    # Per skill, the targets a plan step may name (sample mode validates plans against them); a skill without
    # targets (e.g. ``explore``) maps to ().
    targets: tuple[tuple[str, tuple[str, ...]], ...]

    @staticmethod
    def make(description: str, candidates: Sequence[SkillCall], targets: Mapping[str, Sequence[str]]) -> "PlanQuery":
        return PlanQuery(
            description, tuple(candidates), tuple((skill, tuple(names)) for skill, names in targets.items())
        )

    @property
    def targets_by_skill(self) -> dict[str, tuple[str, ...]]:
        return dict(self.targets)
