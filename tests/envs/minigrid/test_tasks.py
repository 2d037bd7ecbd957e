"""The paper's four tasks: layouts as defined, success only by opening the door with its key."""

from __future__ import annotations

from collections import deque

import gymnasium
import numpy as np
import pytest
from minigrid.core.world_object import Door, Key, Lava, Wall

from habitat_llm4teach.envs.minigrid.tasks import PAPER_TASKS

SEEDS = range(12)


def make(name: str, seed: int):
    env = gymnasium.make(PAPER_TASKS[name]).unwrapped
    env.reset(seed=seed)
    return env


def cells(env, cls):
    return [(x, y, o) for x in range(env.width) for y in range(env.height) if isinstance(o := env.grid.get(x, y), cls)]


@pytest.mark.parametrize("name,size", [("SimpleDoorKey", 10), ("LavaDoorKey", 10), ("ColoredDoorKey", 10), ("TwoDoor", 20)])
def test_paper_settings(name, size):
    env = make(name, 0)
    assert (env.width, env.height) == (size, size)
    assert env.agent_view_size == 3
    assert env.max_steps == 150
    assert env.mission == "open the door"


@pytest.mark.parametrize("seed", SEEDS)
def test_simple_door_key_layout(seed):
    env = make("SimpleDoorKey", seed)
    (door,) = [o for *_, o in cells(env, Door)]
    (key,) = [o for *_, o in cells(env, Key)]
    assert door.is_locked and key.color == door.color


def cell_in_front_of_door(env, dx: int, dy: int) -> tuple[int, int]:
    """The room cell adjacent to a door in the room's outer wall."""
    if dx == 0:
        return (1, dy)
    if dy == 0:
        return (dx, 1)
    on_south_wall = isinstance(env.grid.get(dx - 1, dy), Wall) and isinstance(env.grid.get(dx + 1, dy), Wall)
    return (dx, dy - 1) if on_south_wall else (dx - 1, dy)


@pytest.mark.parametrize("seed", SEEDS)
def test_lava_door_key_has_one_lava_cell_not_blocking_the_door(seed):
    env = make("LavaDoorKey", seed)
    ((lx, ly, _),) = cells(env, Lava)
    ((dx, dy, door),) = cells(env, Door)
    ((_, _, key),) = cells(env, Key)
    assert key.color == door.color and door.is_locked
    assert (lx, ly) != cell_in_front_of_door(env, dx, dy)


@pytest.mark.parametrize("seed", SEEDS)
def test_colored_door_key_has_matching_and_decoy_key(seed):
    env = make("ColoredDoorKey", seed)
    (door,) = [o for *_, o in cells(env, Door)]
    keys = sorted(o.color for *_, o in cells(env, Key))
    assert door.color == "blue" and door.is_locked
    assert keys == ["blue", "red"]


@pytest.mark.parametrize("seed", SEEDS)
def test_two_door_has_two_locked_doors_on_opposite_walls(seed):
    env = make("TwoDoor", seed)
    doors = cells(env, Door)
    assert len(doors) == 2 and all(d.is_locked for *_, d in doors)
    (x1, y1, d1), (x2, y2, d2) = doors
    assert d1.color == d2.color
    assert {x1, x2} == {0, 19} or {y1, y2} == {0, 19}
    ((kx, ky, key),) = cells(env, Key)
    assert key.color == d1.color and {kx, ky} <= {9, 10}  # the 2x2 block at the centre


def solve_with_oracle(env, key_color: str) -> tuple[float, bool, bool]:
    """Test-only full-state BFS: fetch the key of ``key_color`` and toggle a door with it."""
    actions = env.actions

    def path_to_face(target):
        start = (tuple(env.agent_pos), env.agent_dir)
        queue, parent = deque([start]), {start: None}
        while queue:
            (pos, d) = state = queue.popleft()
            front = (pos[0] + (1, 0, -1, 0)[d], pos[1] + (0, 1, 0, -1)[d])
            if front == tuple(target):
                plan = []
                while parent[state] is not None:
                    state, action = parent[state]
                    plan.append(action)
                return plan[::-1]
            nexts = [((pos, (d + 1) % 4), actions.right), ((pos, (d - 1) % 4), actions.left)]
            cell = env.grid.get(*front)
            if cell is None or cell.can_overlap() and not isinstance(cell, Lava):
                nexts.append(((front, d), actions.forward))
            for nxt, action in nexts:
                if nxt not in parent:
                    parent[nxt] = (state, action)
                    queue.append(nxt)
        raise AssertionError("no path")

    ((kx, ky, _),) = [c for c in cells(env, Key) if c[2].color == key_color]
    for action in path_to_face((kx, ky)) + [actions.pickup]:
        env.step(action)
    (dx, dy, _) = cells(env, Door)[0]
    for action in path_to_face((dx, dy)):
        env.step(action)
    _, reward, terminated, _, info = env.step(actions.toggle)
    return reward, terminated, info["success"]


@pytest.mark.parametrize("name", list(PAPER_TASKS))
@pytest.mark.parametrize("seed", range(4))
def test_opening_the_door_with_its_key_succeeds(name, seed):
    env = make(name, seed)
    door_color = cells(env, Door)[0][2].color
    reward, terminated, success = solve_with_oracle(env, door_color)
    assert terminated and success and 0 < reward <= 1


@pytest.mark.parametrize("seed", range(4))
def test_decoy_key_does_not_open_the_door(seed):
    env = make("ColoredDoorKey", seed)
    reward, terminated, success = solve_with_oracle(env, "red")
    assert not terminated and not success and reward == 0
    assert cells(env, Door)[0][2].is_locked


def test_toggle_without_key_is_no_success():
    env = make("SimpleDoorKey", 3)
    for _ in range(20):
        _, reward, terminated, _, info = env.step(env.actions.toggle)
        assert not info["success"] and reward == 0


def test_episode_truncates_at_150_steps():
    env = make("SimpleDoorKey", 0)
    for step in range(150):
        _, _, terminated, truncated, _ = env.step(env.actions.left)
    assert truncated and not terminated and np.isclose(step, 149)
