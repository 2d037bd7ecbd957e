"""The ``explore`` skill: frontier exploration of the remembered map.

Heads for the nearest reachable pose whose view would show unseen cells;
among equally near ones, the pose that would show most, then the one facing
most unseen cells anywhere ahead (the half of the map in front of it). The
last tie-break walks the agent through the middle of large unknown areas
instead of spiralling along their edge: in TwoDoor's 18x18 room that is the
difference between finding key and door within 150 steps or not.

The view is the paper's 3x3 (larger MiniGrid views only see more), with
MiniGrid's occlusion: the far row is seen only through a clear cell of the
middle row, so unseen cells behind walls never attract the agent. It never
reports DONE (the teacher moves on when the description changes) and FAILS
once nothing unseen can be brought into view.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Optional

import numpy as np
from minigrid.core.constants import DIR_TO_VEC, OBJECT_TO_IDX, STATE_TO_IDX

from habitat_llm4teach.teacher.minigrid.perception import DOOR_OPEN, STATE_CHANNEL, TYPE_CHANNEL
from habitat_llm4teach.teacher.minigrid.skills.base import SKILL_FAILED, UNSEEN, Skill, SkillStep, reachable_poses, running
from habitat_llm4teach.teacher.minigrid.types import Perception

_PAD = 2  # the view reaches two cells ahead
_LATERAL = (-1, 0, 1)
_NEAR_DEPTHS = (0, 1)  # always visible
_FAR_DEPTH = 2
# Middle-row cells (by lateral offset) through which each far-row cell is seen (MiniGrid's process_vis).
_SEEN_THROUGH = {-1: (-1, 0), 0: (-1, 0, 1), 1: (0, 1)}


def view_gains(grid: np.ndarray) -> np.ndarray:
    """[W, H, 4]: how many unseen cells a 3x3 view from each pose would show."""
    types, states = grid[:, :, TYPE_CHANNEL], grid[:, :, STATE_CHANNEL]
    width, height = types.shape
    opaque = (types == OBJECT_TO_IDX["wall"]) | ((types == OBJECT_TO_IDX["door"]) & (states != STATE_TO_IDX[DOOR_OPEN]))
    unseen = np.pad(types == UNSEEN, _PAD, constant_values=False)  # off the map is nothing to see
    opaque = np.pad(opaque, _PAD, constant_values=True)  # MiniGrid views show walls off the map
    gains = np.zeros((width, height, len(DIR_TO_VEC)), dtype=np.int64)
    for direction, (fx, fy) in enumerate(DIR_TO_VEC):
        rx, ry = -fy, fx

        def at(mask: np.ndarray, depth: int, lateral: int) -> np.ndarray:
            ox, oy = _PAD + fx * depth + rx * lateral, _PAD + fy * depth + ry * lateral
            return mask[ox : ox + width, oy : oy + height]

        for lateral in _LATERAL:
            gain = sum(at(unseen, depth, lateral).astype(np.int64) for depth in _NEAR_DEPTHS)
            through = np.zeros((width, height), dtype=bool)
            for middle in _SEEN_THROUGH[lateral]:
                through |= ~at(opaque, 1, middle)
            gains[:, :, direction] += gain + (at(unseen, _FAR_DEPTH, lateral) & through)
    return gains


def unseen_ahead(grid: np.ndarray) -> np.ndarray:
    """[W, H, 4]: unseen cells strictly ahead of each pose (east of x, south of y, west of x, north of y)."""
    unseen = grid[:, :, TYPE_CHANNEL] == UNSEEN
    width, height = unseen.shape
    per_column, per_row = unseen.sum(axis=1), unseen.sum(axis=0)
    upto_column, upto_row = np.cumsum(per_column), np.cumsum(per_row)
    east, west = upto_column[-1] - upto_column, upto_column - per_column
    south, north = upto_row[-1] - upto_row, upto_row - per_row
    by_direction = (east[:, None], south[None, :], west[:, None], north[None, :])  # DIR_TO_VEC order
    return np.stack([np.broadcast_to(d, (width, height)) for d in by_direction], axis=-1)


# Gains and unseen cells ahead of recent maps, keyed by the map's bytes: an env's remembered map changes only on
# the steps that see new cells, so most explore steps ask again for a map their env asked for last step. Room for
# a few maps per env of a 16-env (or larger) run; the least recently used goes first.
_MAPS_KEPT = 128
_recent_maps: OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = OrderedDict()


def _gains_and_ahead(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    key = repr(grid.shape).encode() + grid.tobytes()
    found = _recent_maps.get(key)
    if found is None:
        found = _recent_maps[key] = (view_gains(grid), unseen_ahead(grid))
        if len(_recent_maps) > _MAPS_KEPT:
            _recent_maps.popitem(last=False)
    else:
        _recent_maps.move_to_end(key)
    return found


class Explore(Skill):
    def step(self, perception: Perception, target: Optional[str]) -> SkillStep:
        """``target`` is unused: explore takes none."""
        gains, ahead = _gains_and_ahead(perception.grid)
        best: Optional[tuple[tuple[int, int, int], int]] = None  # ((distance, -gain, -ahead), first action)
        for ((x, y), direction), (distance, first_action) in reachable_poses(perception).items():
            gain = int(gains[x, y, direction])
            # The current pose's view is already on the map; only moving shows more.
            if first_action is None or gain == 0:
                continue
            rank = (distance, -gain, -int(ahead[x, y, direction]))
            if best is None or rank < best[0]:
                best = (rank, first_action)
        return SKILL_FAILED if best is None else running(best[1])
