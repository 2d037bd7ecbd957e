"""Observation -> :class:`Perception`: what the teacher knows about a MiniGrid episode.

Owns the reading of the adapter's ``minigrid_symbolic`` vector (the remembered
map plus the agent's pose, carried object and the env's mission) and the vocabulary of object
kinds and door states that description, parsing and skills share.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from minigrid.core.constants import IDX_TO_COLOR, IDX_TO_OBJECT, STATE_TO_IDX

from habitat_llm4teach.envs.minigrid.symbolic import AGENT_FIELDS, decode_symbolic
from habitat_llm4teach.teacher.minigrid.types import PerceivedObject, Perception

# Object kinds the teacher names, in the order descriptions list them.
KEY = "key"
DOOR = "door"
BALL = "ball"
BOX = "box"
GOAL = "goal"
LAVA = "lava"
KINDS = (KEY, DOOR, BALL, BOX, GOAL, LAVA)
PICKABLE_KINDS = (KEY, BALL, BOX)
COLORLESS_KINDS = (LAVA,)

# Door states, as MiniGrid encodes them in the third channel.
DOOR_OPEN = "open"
DOOR_CLOSED = "closed"
DOOR_LOCKED = "locked"
IDX_TO_STATE = {STATE_TO_IDX[name]: name for name in (DOOR_OPEN, DOOR_CLOSED, DOOR_LOCKED)}

# Channels of a map cell and indices into the agent vector.
TYPE_CHANNEL, COLOR_CHANNEL, STATE_CHANNEL = 0, 1, 2
AGENT_X, AGENT_Y, AGENT_DIR, CARRIED_TYPE, CARRIED_COLOR, CARRIED_STATE = range(AGENT_FIELDS)
NOTHING_CARRIED = 0  # MiniGrid's "unseen" type index marks an empty hand


def _object_at(cell: np.ndarray, position: tuple[int, int]) -> Optional[PerceivedObject]:
    kind = IDX_TO_OBJECT[int(cell[TYPE_CHANNEL])]
    if kind not in KINDS:
        return None
    color = "" if kind in COLORLESS_KINDS else IDX_TO_COLOR[int(cell[COLOR_CHANNEL])]
    state = IDX_TO_STATE[int(cell[STATE_CHANNEL])] if kind == DOOR else None
    return PerceivedObject(kind, color, position, state)


def perceive_minigrid(symbolic: np.ndarray, mission: Optional[str] = None) -> Perception:
    """Every remembered key, door, ball, box, goal and lava cell, the held object, the pose and the mission: the
    env's own (carried by the observation) unless ``mission`` overrides it. ValueError if ``symbolic`` is not a
    ``minigrid_symbolic`` vector."""
    grid, agent, env_mission = decode_symbolic(symbolic)
    objects = []
    # np.argwhere walks x-major then y: a fixed order for equal observations.
    for x, y in np.argwhere(grid[:, :, TYPE_CHANNEL] > 0):
        obj = _object_at(grid[x, y], (int(x), int(y)))
        if obj is not None:
            objects.append(obj)
    agent_pos = (int(agent[AGENT_X]), int(agent[AGENT_Y]))
    holding = None
    if agent[CARRIED_TYPE] != NOTHING_CARRIED:
        holding = _object_at(agent[[CARRIED_TYPE, CARRIED_COLOR, CARRIED_STATE]], agent_pos)
    return Perception(tuple(objects), holding, agent_pos, int(agent[AGENT_DIR]), grid, env_mission if mission is None else mission)
