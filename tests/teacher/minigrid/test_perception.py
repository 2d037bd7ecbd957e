"""Symbolic observation -> Perception: objects, held object, pose and grid, on hand-built and real observations."""

from __future__ import annotations

import numpy as np
import pytest
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX
from minigrid.core.world_object import Door

from habitat_llm4teach import keys
from habitat_llm4teach.envs.minigrid.adapter import MiniGridEnvSpec, make_minigrid_env
from habitat_llm4teach.envs.minigrid.symbolic import MISSION_BYTES, TAIL, encode_symbolic, grid_size_of, symbolic_size
from habitat_llm4teach.envs.minigrid.tasks import MISSION, PAPER_TASKS
from habitat_llm4teach.teacher.minigrid.perception import perceive_minigrid
from habitat_llm4teach.teacher.minigrid.types import PerceivedObject

W = H = 5


def encode(kind: str, color: str = "red", state: str = "open") -> tuple[int, int, int]:
    return OBJECT_TO_IDX[kind], COLOR_TO_IDX[color], STATE_TO_IDX[state] if kind == "door" else 0


def symbolic(cells: dict[tuple[int, int], tuple[int, int, int]], agent=(2, 2, 1), carried=(0, 0, 0), mission=MISSION) -> np.ndarray:
    grid = np.zeros((W, H, 3), dtype=np.uint8)
    for (x, y), cell in cells.items():
        grid[x, y] = cell
    return encode_symbolic(grid, np.array([*agent, *carried]), mission)


@pytest.mark.parametrize("size", [(1, 1), (5, 5), (7, 3), (11, 6), (20, 20)])
def test_each_observation_states_its_map_size(size):
    """KeyCorridor (7x3) and Unlock (11x6) maps are not square."""
    flat = encode_symbolic(np.zeros((*size, 3)), np.zeros(6), MISSION)
    assert len(flat) == symbolic_size(*size) and grid_size_of(flat) == size


@pytest.mark.parametrize("n", [0, 5, 6, TAIL, TAIL + 1, TAIL + 3 * 25 - 1])
def test_vectors_that_are_not_minigrid_symbolic_are_rejected(n):
    with pytest.raises(ValueError, match=str(n)):
        perceive_minigrid(np.full(n, 5, dtype=np.uint8))


def test_objects_doors_lava_and_pose():
    cells = {
        (0, 0): encode("wall", "grey"),
        (1, 1): encode("key", "yellow"),
        (4, 1): encode("door", "yellow", "locked"),
        (4, 2): encode("door", "blue", "closed"),
        (4, 3): encode("door", "green", "open"),
        (1, 3): encode("ball", "purple"),
        (2, 3): encode("box", "grey"),
        (3, 3): encode("goal", "green"),
        (3, 1): encode("lava", "red"),
        (2, 2): encode("empty"),
    }
    perception = perceive_minigrid(symbolic(cells, agent=(2, 2, 3)))
    assert set(perception.objects) == {
        PerceivedObject("key", "yellow", (1, 1)),
        PerceivedObject("door", "yellow", (4, 1), "locked"),
        PerceivedObject("door", "blue", (4, 2), "closed"),
        PerceivedObject("door", "green", (4, 3), "open"),
        PerceivedObject("ball", "purple", (1, 3)),
        PerceivedObject("box", "grey", (2, 3)),
        PerceivedObject("goal", "green", (3, 3)),
        PerceivedObject("lava", "", (3, 1)),
    }
    assert perception.find("lava").name == "lava"
    assert perception.holding is None
    assert (perception.agent_pos, perception.agent_dir, perception.mission) == ((2, 2), 3, MISSION)
    assert perception.grid.shape == (W, H, 3) and perception.grid[0, 0, 0] == OBJECT_TO_IDX["wall"]


def test_holding_is_the_carried_object_not_a_map_object():
    perception = perceive_minigrid(symbolic({}, agent=(1, 2, 0), carried=encode("key", "red")))
    assert perception.holding == PerceivedObject("key", "red", (1, 2))
    assert perception.objects == ()


def test_the_mission_is_the_observations_unless_overridden():
    obs = symbolic({}, mission="pick up the purple ball")
    assert perceive_minigrid(obs).mission == "pick up the purple ball"
    assert perceive_minigrid(obs, "open the door").mission == "open the door"


def test_a_mission_too_long_for_the_observation_is_a_clear_error():
    with pytest.raises(ValueError, match="MISSION_BYTES"):
        encode_symbolic(np.zeros((W, H, 3)), np.zeros(6), "x" * (MISSION_BYTES + 1))


@pytest.mark.parametrize("task", ["MiniGrid-KeyCorridorS3R1-v0", "MiniGrid-DoorKey-5x5-v0", "MiniGrid-FourRooms-v0"])
def test_real_observations_carry_the_envs_own_mission(task):
    env = make_minigrid_env(MiniGridEnvSpec(task, "egocentric", 64, 0, 1, "t-"))
    for _ in range(3):
        obs = env.reset()
        assert perceive_minigrid(obs[keys.MINIGRID_SYMBOLIC]).mission == env._env.mission


def test_equal_observations_give_equal_perceptions():
    obs = symbolic({(1, 1): encode("key", "blue"), (3, 3): encode("ball", "red")})
    assert perceive_minigrid(obs, MISSION) == perceive_minigrid(obs.copy(), MISSION)


def test_wrong_length_raises():
    with pytest.raises(ValueError, match="5x5"):
        perceive_minigrid(np.delete(symbolic({}), 0))


@pytest.mark.parametrize("task", sorted(PAPER_TASKS))
def test_real_observations_match_the_env(task):
    """Every perceived object is what the env has at that cell; pose and hands match along a random walk."""
    env = make_minigrid_env(MiniGridEnvSpec(PAPER_TASKS[task], "historical", 64, 0, 3, "t-"))
    rng = np.random.default_rng(0)
    obs = env.reset()
    for _ in range(40):
        perception = perceive_minigrid(obs[keys.MINIGRID_SYMBOLIC])
        world = env._env
        assert perception.mission == MISSION == world.mission
        assert perception.agent_pos == tuple(world.agent_pos) and perception.agent_dir == world.agent_dir
        carried = None if world.carrying is None else f"{world.carrying.color} {world.carrying.type}"
        assert (perception.holding and perception.holding.name) == carried
        for obj in perception.objects:
            true = world.grid.get(*obj.position)
            assert true is not None and true.type == obj.kind
            if obj.kind == "door":
                assert isinstance(true, Door) and obj.color == true.color and obj.state == "locked"
        obs, _, done, _ = env.step(int(rng.choice([0, 1, 2, 2, 3, 3])))
        if done:
            break
