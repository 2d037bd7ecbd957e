"""What the MiniGrid teacher perceives (:class:`Perception`, :class:`PerceivedObject`) and its skill vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

# Skill vocabulary (the grammar parse.py accepts and describe.py offers).
EXPLORE = "explore"
GO_TO = "go to"
PICK_UP = "pick up"
DROP = "drop"
OPEN = "open"
SKILL_NAMES = (EXPLORE, GO_TO, PICK_UP, DROP, OPEN)


@dataclass(frozen=True)
class PerceivedObject:
    """An object the agent has seen, named as the LLM reads it (``yellow key``, ``lava``)."""

    kind: str  # key, door, ball, box, goal, lava
    color: str  # MiniGrid colour name; "" where the kind has none worth naming (lava)
    position: tuple[int, int]  # absolute cell
    state: Optional[str] = None  # doors: open / closed / locked

    @property
    def name(self) -> str:
        return f"{self.color} {self.kind}".strip()


@dataclass(frozen=True)
class Perception:
    """What the agent perceives at one step: the input of description and skills."""

    objects: tuple[PerceivedObject, ...]  # seen this episode, not carried
    holding: Optional[PerceivedObject]
    agent_pos: tuple[int, int]
    agent_dir: int  # MiniGrid direction: 0 east, 1 south, 2 west, 3 north
    grid: np.ndarray = field(repr=False, compare=False)  # (W, H, 3) remembered map, 0 = unseen
    mission: str = ""

    def find(self, name: str) -> Optional[PerceivedObject]:
        """The nearest perceived (not carried) object of that name."""
        matches = [o for o in self.objects if o.name == name]
        if not matches:
            return None
        ax, ay = self.agent_pos
        return min(matches, key=lambda o: abs(o.position[0] - ax) + abs(o.position[1] - ay))
