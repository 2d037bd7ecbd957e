"""The four LLM4Teach paper tasks (Zhou et al., IJCAI 2024) as MiniGrid environments.

Definitions follow the paper's reference environments: a walled room of random
size inside a ``max_room_size`` grid, one locked door in the outer wall, and a
key of the door's colour. The mission is always "open the door": the episode
succeeds (and ends with MiniGrid's time-discounted reward) when a toggle leaves a
door open, which needs the matching key.

- SimpleDoorKey: room 5-10, one key.
- LavaDoorKey: as SimpleDoorKey plus one lava cell (stepping on it ends the episode).
- ColoredDoorKey: a blue door, its blue key and a red decoy key.
- TwoDoor: a 20x20 room with two locked doors on opposite walls, key near the centre.

All use agent view 3 and 150 steps, as in the paper.
"""

from __future__ import annotations

import gymnasium
from minigrid.core.constants import COLOR_NAMES
from minigrid.core.grid import Grid
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Door, Key, Lava
from minigrid.minigrid_env import MiniGridEnv

MISSION = "open the door"

# Paper task name -> registered gymnasium id.
PAPER_TASKS = {
    "SimpleDoorKey": "MiniGrid-SimpleDoorKey-Min5-Max10-View3",
    "LavaDoorKey": "MiniGrid-LavaDoorKey-Min5-Max10-View3",
    "ColoredDoorKey": "MiniGrid-ColoredDoorKey-Min5-Max10-View3",
    "TwoDoor": "MiniGrid-TwoDoor-Min20-Max20",
}


class OpenTheDoorEnv(MiniGridEnv):
    """A walled room with locked door(s) in its outer wall; success = a door opened."""

    def __init__(
        self,
        min_room_size: int = 5,
        max_room_size: int = 10,
        agent_view_size: int = 3,
        max_steps: int = 150,
        **kwargs,
    ) -> None:
        self.min_room_size = min_room_size
        self.max_room_size = max_room_size
        self.doors: list[Door] = []
        super().__init__(
            mission_space=MissionSpace(mission_func=lambda: MISSION),
            width=max_room_size,
            height=max_room_size,
            agent_view_size=agent_view_size,
            max_steps=max_steps,
            **kwargs,
        )

    def _draw_room(self, width: int, height: int) -> tuple[int, int]:
        self.grid = Grid(width, height)
        size_x = self._rand_int(self.min_room_size, self.max_room_size + 1)
        size_y = self._rand_int(self.min_room_size, self.max_room_size + 1)
        self.grid.wall_rect(0, 0, size_x, size_y)
        return size_x, size_y

    def _door_on_wall(self, wall: int, size_x: int, size_y: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """A door cell on wall 0=east 1=south 2=west 3=north, and the room cell in front of it."""
        if wall in (0, 2):
            y = self._rand_int(1, size_y - 1)
            x, inner_x = (size_x - 1, size_x - 2) if wall == 0 else (0, 1)
            return (x, y), (inner_x, y)
        x = self._rand_int(1, size_x - 1)
        y, inner_y = (size_y - 1, size_y - 2) if wall == 1 else (0, 1)
        return (x, y), (x, inner_y)

    def _place_door(self, pos: tuple[int, int], color: str) -> None:
        door = Door(color, is_locked=True)
        self.grid.set(*pos, door)
        self.doors.append(door)

    def step(self, action):  # type: ignore[override]
        obs, reward, terminated, truncated, info = super().step(action)
        opened = action == self.actions.toggle and any(door.is_open for door in self.doors)
        if opened:
            reward, terminated = self._reward(), True
        info["success"] = opened
        return obs, reward, terminated, truncated, info


class SimpleDoorKeyEnv(OpenTheDoorEnv):
    def _gen_grid(self, width: int, height: int) -> None:
        self.doors = []
        size_x, size_y = self._draw_room(width, height)
        door_pos, _ = self._door_on_wall(self._rand_int(0, 4), size_x, size_y)
        color = self._rand_elem(sorted(COLOR_NAMES))
        self._place_door(door_pos, color)
        self.place_agent((0, 0), (size_x, size_y), rand_dir=True)
        self.place_obj(Key(color), (0, 0), (size_x, size_y))
        self.mission = MISSION


class LavaDoorKeyEnv(OpenTheDoorEnv):
    def _gen_grid(self, width: int, height: int) -> None:
        self.doors = []
        size_x, size_y = self._draw_room(width, height)
        door_pos, front = self._door_on_wall(self._rand_int(0, 4), size_x, size_y)
        color = self._rand_elem(sorted(COLOR_NAMES))
        self._place_door(door_pos, color)
        self.place_agent((0, 0), (size_x, size_y), rand_dir=True)
        self.place_obj(Key(color), (0, 0), (size_x, size_y))
        # Never block the door with lava.
        self.place_obj(Lava(), (0, 0), (size_x, size_y), reject_fn=lambda _env, pos: tuple(pos) == front)
        self.mission = MISSION


class ColoredDoorKeyEnv(OpenTheDoorEnv):
    def __init__(self, min_num_keys: int = 2, max_num_keys: int = 2, **kwargs) -> None:
        if min_num_keys < 1 or max_num_keys < min_num_keys:
            raise ValueError(f"need 1 <= min_num_keys <= max_num_keys, got {min_num_keys}, {max_num_keys}")
        self.min_num_keys = min_num_keys
        self.max_num_keys = max_num_keys
        super().__init__(**kwargs)

    def _gen_grid(self, width: int, height: int) -> None:
        self.doors = []
        size_x, size_y = self._draw_room(width, height)
        door_pos, front = self._door_on_wall(self._rand_int(0, 4), size_x, size_y)
        self._place_door(door_pos, "blue")
        self.place_agent((0, 0), (size_x, size_y), rand_dir=True)
        not_in_front = lambda _env, pos: tuple(pos) == front  # noqa: E731
        self.place_obj(Key("blue"), (0, 0), (size_x, size_y), reject_fn=not_in_front)
        for _ in range(self._rand_int(self.min_num_keys, self.max_num_keys + 1) - 1):
            self.place_obj(Key("red"), (0, 0), (size_x, size_y), reject_fn=not_in_front)
        self.mission = MISSION


class TwoDoorEnv(OpenTheDoorEnv):
    def _gen_grid(self, width: int, height: int) -> None:
        self.doors = []
        size_x, size_y = self._draw_room(width, height)
        first_wall = self._rand_elem([0, 1])  # east+west or south+north
        color = self._rand_elem(sorted(COLOR_NAMES))
        for wall in (first_wall, first_wall + 2):
            self._place_door(self._door_on_wall(wall, size_x, size_y)[0], color)
        self.place_obj(Key(color), (size_x // 2 - 1, size_y // 2 - 1), (2, 2))
        self.place_agent((0, 0), (size_x, size_y), rand_dir=True)
        self.mission = MISSION


def register_paper_tasks() -> None:
    """Register the four tasks with gymnasium (idempotent)."""
    common = {"agent_view_size": 3, "max_steps": 150}
    specs = {
        "SimpleDoorKey": (SimpleDoorKeyEnv, {"min_room_size": 5, "max_room_size": 10}),
        "LavaDoorKey": (LavaDoorKeyEnv, {"min_room_size": 5, "max_room_size": 10}),
        "ColoredDoorKey": (
            ColoredDoorKeyEnv,
            {"min_room_size": 5, "max_room_size": 10, "min_num_keys": 2, "max_num_keys": 2},
        ),
        "TwoDoor": (TwoDoorEnv, {"min_room_size": 20, "max_room_size": 20}),
    }
    for name, (cls, kwargs) in specs.items():
        env_id = PAPER_TASKS[name]
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=f"{cls.__module__}:{cls.__name__}", kwargs={**common, **kwargs})


register_paper_tasks()
