"""The layout of the ``minigrid_symbolic`` observation, shared by the adapter that writes it and the teacher that reads it.

The remembered (W, H, 3) map in MiniGrid's symbolic encoding, flattened, then the
agent vector (x, y, direction, carried type/colour/state), the grid size (W, H:
KeyCorridor and Unlock grids are not square) and the env's own mission string
(UTF-8, zero-padded), so the teacher describes each env's goal as the env states
it ("pick up the purple ball", "reach the goal", ...). Plain numpy, no env.
"""

from __future__ import annotations

import numpy as np

# Agent vector appended to the flattened map: x, y, direction, carried type/colour/state.
AGENT_FIELDS = 6
# Then the grid's width and height, at a fixed distance from the end (the map's size is not known before).
SIZE_FIELDS = 2
# Then the mission: MiniGrid's missions are under 60 characters, BabyAI's longest under 200.
MISSION_BYTES = 256
TAIL = AGENT_FIELDS + SIZE_FIELDS + MISSION_BYTES


def symbolic_size(width: int, height: int) -> int:
    return width * height * 3 + TAIL


def encode_mission(mission: str) -> np.ndarray:
    """``mission`` as zero-padded UTF-8 bytes [MISSION_BYTES]; ValueError if it does not fit."""
    data = mission.encode("utf-8")
    if len(data) > MISSION_BYTES:
        raise ValueError(
            f"the mission '{mission[:80]}...' is {len(data)} bytes; minigrid_symbolic carries at most {MISSION_BYTES} "
            "(raise habitat_llm4teach.envs.minigrid.symbolic.MISSION_BYTES)"
        )
    return np.frombuffer(data.ljust(MISSION_BYTES, b"\0"), dtype=np.uint8)


def encode_symbolic(grid: np.ndarray, agent: np.ndarray, mission: str) -> np.ndarray:
    """(W, H, 3) map, agent vector [AGENT_FIELDS] and mission -> the ``minigrid_symbolic`` vector [symbolic_size]."""
    grid = np.asarray(grid)
    width, height = grid.shape[:2]
    if grid.shape != (width, height, 3) or max(width, height) > 255 or np.shape(agent) != (AGENT_FIELDS,):
        raise ValueError(f"expected a (W, H, 3) map with W, H <= 255 and an agent vector [{AGENT_FIELDS}]; "
                         f"got {grid.shape} and {np.shape(agent)}")
    parts = [grid.reshape(-1), np.asarray(agent), np.array([width, height]), encode_mission(mission)]
    return np.concatenate(parts).astype(np.uint8)


def grid_size_of(flat: np.ndarray) -> tuple[int, int]:
    """(W, H) of the map in a ``minigrid_symbolic`` vector; ValueError if the vector is not one."""
    n = len(flat)
    if n <= TAIL:
        raise ValueError(f"minigrid_symbolic length {n} is not W*H*3+{TAIL} (map, agent, size, mission)")
    width, height = (int(v) for v in flat[n - MISSION_BYTES - SIZE_FIELDS : n - MISSION_BYTES])
    if width < 1 or height < 1 or symbolic_size(width, height) != n:
        raise ValueError(
            f"minigrid_symbolic length {n} does not hold the {width}x{height} map it declares "
            f"({symbolic_size(width, height)} = W*H*3+{TAIL})"
        )
    return width, height


def decode_symbolic(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Split a ``minigrid_symbolic`` vector into the (W, H, 3) map, the agent vector and the mission."""
    flat = np.asarray(flat)
    width, height = grid_size_of(flat)
    cells = width * height * 3
    grid = flat[:cells].astype(np.int64).reshape(width, height, 3)
    agent = flat[cells : cells + AGENT_FIELDS].astype(np.int64)
    mission = flat[len(flat) - MISSION_BYTES :].astype(np.uint8).tobytes().rstrip(b"\0").decode("utf-8", errors="replace")
    return grid, agent, mission
