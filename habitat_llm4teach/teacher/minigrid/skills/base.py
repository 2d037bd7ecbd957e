"""What a skill is, and the path planner every moving skill shares.

A skill is a stateless controller: ``step(perception, target)`` looks only at
the current perception, so the teacher can re-evaluate every plan step at every
environment step and ask "is this step done, failed, or what is its next
primitive action?".

The planner is a breadth-first search over agent poses (cell, direction) on
the remembered map with MiniGrid's turn-left / turn-right / forward actions, so
its first action starts a shortest action sequence. Walls, unseen cells,
closed or locked doors, lava and objects block; open doors, empty floor and
goals do not, nor does the agent's own cell.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Optional

import numpy as np
from minigrid.core.actions import Actions
from minigrid.core.constants import DIR_TO_VEC, OBJECT_TO_IDX, STATE_TO_IDX

from habitat_llm4teach.teacher.minigrid.perception import DOOR_OPEN, STATE_CHANNEL, TYPE_CHANNEL
from habitat_llm4teach.teacher.minigrid.types import PerceivedObject, Perception
from habitat_llm4teach.teacher.types import SkillStatus

Cell = tuple[int, int]
Pose = tuple[Cell, int]  # (cell, MiniGrid direction)

UNSEEN = OBJECT_TO_IDX["unseen"]
EMPTY = OBJECT_TO_IDX["empty"]
_WALKABLE = {EMPTY, OBJECT_TO_IDX["floor"], OBJECT_TO_IDX["goal"]}
_DOOR = OBJECT_TO_IDX["door"]
_DOOR_OPEN_STATE = STATE_TO_IDX[DOOR_OPEN]
_NUM_DIRS = len(DIR_TO_VEC)
_DIR_VECS = [(int(dx), int(dy)) for dx, dy in DIR_TO_VEC]
_FORWARD, _LEFT, _RIGHT = int(Actions.forward), int(Actions.left), int(Actions.right)


@dataclass(frozen=True)
class SkillStep:
    """A skill's verdict for one perception: the next primitive action while RUNNING, else none."""

    action: Optional[int]
    status: SkillStatus

    def __post_init__(self) -> None:
        if (self.action is None) == (self.status is SkillStatus.RUNNING):
            need = "needs" if self.action is None else "must not have"
            raise ValueError(f"a {self.status.value} skill step {need} an action, got {self.action}")


SKILL_DONE = SkillStep(None, SkillStatus.DONE)
SKILL_FAILED = SkillStep(None, SkillStatus.FAILED)


def running(action: int) -> SkillStep:
    """Still working; ``action`` is the next MiniGrid action (an ``Actions`` member or its index)."""
    return SkillStep(int(action), SkillStatus.RUNNING)


class Skill(ABC):
    """A controller for one skill name; ``target`` is the object name of the skill call."""

    @abstractmethod
    def step(self, perception: Perception, target: Optional[str]) -> SkillStep: ...


def front_cell(cell: Cell, direction: int) -> Cell:
    dx, dy = DIR_TO_VEC[direction]
    return cell[0] + int(dx), cell[1] + int(dy)


def cell_type(grid: np.ndarray, cell: Cell) -> int:
    """The remembered object type of a cell; cells off the map read as unseen."""
    x, y = cell
    if 0 <= x < grid.shape[0] and 0 <= y < grid.shape[1]:
        return int(grid[x, y, TYPE_CHANNEL])
    return UNSEEN


def is_walkable(grid: np.ndarray, cell: Cell) -> bool:
    kind = cell_type(grid, cell)
    if kind == _DOOR:
        return int(grid[cell[0], cell[1], STATE_CHANNEL]) == _DOOR_OPEN_STATE
    return kind in _WALKABLE


def objects_named(perception: Perception, name: Optional[str]) -> list[PerceivedObject]:
    return [o for o in perception.objects if o.name == name]


@dataclass(frozen=True)
class _Search:
    """One breadth-first search from the agent's pose over every pose it can reach."""

    perception: Perception  # whose search this is (compared by identity)
    reached: dict[Pose, tuple[int, Optional[int]]]  # in discovery order: (distance in actions, first action)
    parents: dict[Pose, Optional[tuple[Pose, int]]]  # (previous pose, action from it); None for the start


# The last search. One perception's skills (explore, pick up, open, ... for each offered plan) all plan from the
# same pose on the same map, so the teacher searches once per env step instead of once per skill (the search was
# ~10 % of a MiniGrid LLM4Teach run's time). Keyed by identity: a Perception compares without its grid.
_last_search: Optional[_Search] = None


def _walkable(grid: np.ndarray) -> list[list[bool]]:
    """[W][H] :func:`is_walkable` for every cell of the map, as nested lists (the search's inner loop reads them)."""
    types, states = grid[:, :, TYPE_CHANNEL], grid[:, :, STATE_CHANNEL]
    return (np.isin(types, list(_WALKABLE)) | ((types == _DOOR) & (states == _DOOR_OPEN_STATE))).tolist()


def _search_all(perception: Perception) -> _Search:
    """Every pose reachable with MiniGrid's moves, discovered pose by pose in the order forward (onto a walkable cell
    or the agent's own), left, right: the order every skill's tie-breaks were written for."""
    global _last_search
    if _last_search is not None and _last_search.perception is perception:
        return _last_search
    walkable = _walkable(perception.grid)
    width, height = len(walkable), len(walkable[0]) if walkable else 0
    start: Pose = (perception.agent_pos, perception.agent_dir)
    start_cell = start[0]
    reached: dict[Pose, tuple[int, Optional[int]]] = {start: (0, None)}
    parents: dict[Pose, Optional[tuple[Pose, int]]] = {start: None}
    queue = deque([start])
    while queue:
        pose = queue.popleft()
        (x, y), direction = pose
        depth, first = reached[pose]
        dx, dy = _DIR_VECS[direction]
        ahead = (x + dx, y + dy)
        moves = [(_LEFT, ((x, y), (direction - 1) % _NUM_DIRS)), (_RIGHT, ((x, y), (direction + 1) % _NUM_DIRS))]
        if ahead == start_cell or (0 <= ahead[0] < width and 0 <= ahead[1] < height and walkable[ahead[0]][ahead[1]]):
            moves.insert(0, (_FORWARD, (ahead, direction)))
        for action, nxt in moves:
            if nxt not in reached:
                reached[nxt] = (depth + 1, action if first is None else first)
                parents[nxt] = (pose, action)
                queue.append(nxt)
    _last_search = _Search(perception, reached, parents)
    return _last_search


def _search(perception: Perception, is_goal: Callable[[Pose], bool]) -> Optional[list[int]]:
    """Shortest action sequence from the agent's pose to a goal pose (the first one discovered); [] if already
    there, None if none."""
    start: Pose = (perception.agent_pos, perception.agent_dir)
    if is_goal(start):
        return []
    search = _search_all(perception)
    for pose in search.reached:
        if pose != start and is_goal(pose):
            return _actions_to(pose, search.parents)
    return None


def _actions_to(pose: Pose, parents: dict[Pose, Optional[tuple[Pose, int]]]) -> list[int]:
    actions = []
    link = parents[pose]
    while link is not None:
        pose, action = link
        actions.append(action)
        link = parents[pose]
    return actions[::-1]


def reachable_poses(perception: Perception) -> dict[Pose, tuple[int, Optional[int]]]:
    """Every reachable pose with its distance in actions and the first action toward it (None for the start), in
    the order the search discovers them. Shared with the perception's other skills: do not modify."""
    return _search_all(perception).reached


def plan_to_face(perception: Perception, targets: Collection[Cell]) -> Optional[list[int]]:
    """Actions that leave the agent facing one of ``targets`` (the nearest); [] if it already does."""
    targets = set(targets)
    return _search(perception, lambda pose: front_cell(*pose) in targets) if targets else None


def plan_to_stand(perception: Perception, cells: Collection[Cell]) -> Optional[list[int]]:
    """Actions that put the agent on one of ``cells`` (the nearest); [] if it is on one."""
    cells = set(cells)
    return _search(perception, lambda pose: pose[0] in cells) if cells else None
