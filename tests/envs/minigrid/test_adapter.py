"""The habitat VectorEnv adapter: API shape, observations, remembered map, episode ids."""

from __future__ import annotations

import numpy as np
import pytest
from gym import spaces
from minigrid.core.constants import OBJECT_TO_IDX
from minigrid.core.world_object import Key

from habitat_llm4teach import keys
from habitat_llm4teach.envs.minigrid.adapter import _UNSEEN_GREY, MiniGridEnvSpec, make_minigrid_env
from habitat_llm4teach.envs.minigrid.factory import MiniGridVectorEnvFactory
from habitat_llm4teach.envs.minigrid.symbolic import decode_symbolic
from habitat_llm4teach.envs.minigrid.tasks import PAPER_TASKS


def make(view="historical", third=0, prefix="r0e0-", task="SimpleDoorKey", seed=0):
    return make_minigrid_env(MiniGridEnvSpec(PAPER_TASKS.get(task, task), view, 64, third, seed, prefix))


def test_habitat_api_shape():
    env = make()
    obs = env.reset()
    assert set(obs) == {keys.RGB, keys.MINIGRID_SYMBOLIC}
    assert env.observation_space[keys.RGB].shape == (64, 64, 3)
    assert isinstance(env.action_space, spaces.Discrete) and env.action_space.n == 7
    assert env.original_action_space == env.action_space
    assert env.number_of_episodes == -1
    for key, value in obs.items():
        assert env.observation_space[key].contains(value)
    result = env.step(2)
    assert len(result) == 4
    obs, reward, done, info = result
    assert isinstance(reward, float) and isinstance(done, bool) and info[keys.SUCCESS] == 0.0


def test_third_person_frame_only_when_requested():
    env = make(third=128)
    obs = env.reset()
    assert obs[keys.THIRD_RGB].shape == (128, 128, 3)
    assert obs[keys.THIRD_RGB].std() > 10  # a drawn grid, not a blank image


def test_episode_ids_unique_across_envs_and_episodes():
    ids = set()
    for prefix in ("r0e0-", "r0e1-", "r1e0-"):
        env = make(prefix=prefix)
        for _ in range(3):
            env.reset()
            ids.add((env.current_episode.scene_id, env.current_episode.episode_id))
    assert len(ids) == 9


def test_an_evaluation_quota_repeats_the_first_id_after_it():
    # habitat's evaluator pauses an env whose next episode id it has already counted.
    env = make_minigrid_env(MiniGridEnvSpec("MiniGrid-Empty-5x5-v0", "egocentric", 64, 0, 0, "r0e0-", episodes=3))
    assert env.number_of_episodes == 3
    ids = []
    for _ in range(4):
        env.reset()
        ids.append(env.current_episode.episode_id)
    assert len(set(ids[:3])) == 3 and ids[3] == ids[0]
    assert make().number_of_episodes == -1  # training: no quota, ids never repeat


def walk(env, steps, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        obs, _, done, _ = env.step(int(rng.choice([0, 1, 2, 2, 2])))
        if done:
            break
        yield obs


def test_remembered_map_grows_and_matches_the_true_grid():
    env = make()
    env.reset()
    seen_counts = []
    for obs in walk(env, 60):
        grid, agent, mission = decode_symbolic(obs[keys.MINIGRID_SYMBOLIC])
        assert grid.shape[:2] == env.grid_size and mission == env._env.mission
        seen = grid[:, :, 0] != OBJECT_TO_IDX["unseen"]
        seen_counts.append(seen.sum())
        truth = env._env.grid.encode()  # full-state check (test only)
        agent_cell = tuple(env._env.agent_pos)
        for x, y in zip(*np.nonzero(seen)):
            if (x, y) != agent_cell:
                assert tuple(grid[x, y]) == tuple(truth[x, y]), (x, y)
        assert tuple(agent[:3]) == (*env._env.agent_pos, env._env.agent_dir)
    assert seen_counts == sorted(seen_counts) and seen_counts[-1] > seen_counts[0]
    obs = env.reset()
    grid, _, _ = decode_symbolic(obs[keys.MINIGRID_SYMBOLIC])
    assert (grid[:, :, 0] != OBJECT_TO_IDX["unseen"]).sum() <= 9  # a fresh episode forgets the map


def test_carried_object_reported_in_agent_vector():
    env = make()
    env.reset()
    key_obj = next(o for o in env._env.grid.grid if o is not None and o.type == "key")
    env._env.carrying = key_obj  # hand the agent the key (test only)
    obs, *_ = env.step(0)
    _, agent, _ = decode_symbolic(obs[keys.MINIGRID_SYMBOLIC])
    assert agent[3] == OBJECT_TO_IDX["key"]


def test_historical_view_greys_unseen_cells_partial_view_does_not():
    historical, partial = make("historical"), make("partial")
    h, p = historical.reset()[keys.RGB], partial.reset()[keys.RGB]
    grey = np.all(h == _UNSEEN_GREY, axis=-1).mean()
    assert grey > 0.5  # most of the map is unseen at the start
    assert np.all(p == _UNSEEN_GREY, axis=-1).mean() < 0.05
    assert not np.array_equal(h, p)


def _empty_room_with_key(direction: int, key_pos: tuple[int, int], tile: int = 6):
    """An egocentric env whose agent stands at (5, 5) facing ``direction`` with a yellow key at ``key_pos``."""
    env = make("egocentric", task="MiniGrid-Empty-16x16-v0")
    env.reset()
    inner = env._env
    inner.agent_pos, inner.agent_dir = (5, 5), direction
    inner.grid.set(*key_pos, Key("yellow"))
    env._seen[:] = True
    return env, env._egocentric_map(tile)


def _yellow_columns(img: np.ndarray) -> np.ndarray:
    yellow = (img[..., 0] > 200) & (img[..., 1] > 200) & (img[..., 2] < 50)
    return np.nonzero(yellow.any(axis=0))[0]


@pytest.mark.parametrize("direction, key_pos", [(3, (3, 5)), (0, (5, 3)), (1, (7, 5)), (2, (5, 7))])
def test_egocentric_view_puts_what_is_on_the_agents_left_on_the_left(direction, key_pos):
    # Facing north, west is on the left; facing east, north; facing south, east; facing west, south.
    _, img = _empty_room_with_key(direction, key_pos)
    columns = _yellow_columns(img)
    assert len(columns) > 0 and columns.max() < img.shape[1] // 2 - 3  # left of the agent's centre cell


def test_egocentric_view_turns_with_the_agent():
    env, facing_east = _empty_room_with_key(0, (8, 2))
    env._env.agent_dir = 1  # turn right: the world turns left in the image
    assert np.array_equal(env._egocentric_map(6), np.rot90(facing_east))


def test_egocentric_view_draws_the_carried_object_at_the_centre():
    env, empty_handed = _empty_room_with_key(3, (1, 1))
    env._env.carrying = Key("yellow")
    holding = env._egocentric_map(6)
    centre = slice(5 * 6, 6 * 6)  # ego_window 11: the agent's cell is the sixth
    assert len(_yellow_columns(holding[centre, centre])) > 0
    assert len(_yellow_columns(empty_handed[centre, centre])) == 0


def test_egocentric_view_is_the_factory_default():
    obs = make_minigrid_env(MiniGridEnvSpec(PAPER_TASKS["SimpleDoorKey"], "egocentric", 64, 0, 0, "e-")).reset()
    assert obs[keys.RGB].shape == (64, 64, 3)
    assert MiniGridVectorEnvFactory().view == "egocentric"


def test_any_registered_minigrid_id():
    env = make(task="MiniGrid-DoorKey-5x5-v0")
    obs = env.reset()
    assert obs[keys.RGB].shape == (64, 64, 3)


def test_unknown_view_rejected():
    with pytest.raises(ValueError, match="unknown MiniGrid view 'fisheye'"):
        make(view="fisheye")


def test_minigrids_own_envs_count_a_rewarded_termination_as_success():
    """MiniGrid's envs put no success in info: reaching Empty-5x5's goal (agent starts at (1, 1) facing east, goal at
    (3, 3)) is success; stepping into LavaGap's lava ends the episode without it."""
    env = make_minigrid_env(MiniGridEnvSpec("MiniGrid-Empty-5x5-v0", "egocentric", 64, 0, 0, "e-"))
    env.reset()
    forward, right = 2, 1
    for action in (forward, forward, right, forward):
        _, _, done, info = env.step(action)
        assert not done and info[keys.SUCCESS] == 0.0
    _, reward, done, info = env.step(forward)
    assert done and reward > 0 and info[keys.SUCCESS] == 1.0
    lava = make_minigrid_env(MiniGridEnvSpec("MiniGrid-LavaGapS5-v0", "egocentric", 64, 0, 0, "l-"))
    lava.reset()
    world = lava._env
    gap = next((x, y) for x in range(world.width) for y in range(world.height)
               if world.grid.get(x, y) is not None and world.grid.get(x, y).type == "lava")
    world.agent_pos, world.agent_dir = np.array((gap[0] - 1, gap[1])), 0  # just west of a lava cell, facing it
    _, reward, done, info = lava.step(forward)
    assert done and reward == 0.0 and info[keys.SUCCESS] == 0.0


def _crop_of_minigrids_whole_render(env, tile: int) -> np.ndarray:
    """The egocentric crop cut from MiniGrid's own render of the whole grid (``Grid.render``), unseen cells grey."""
    inner, window = env._env, env._spec.ego_window
    img = inner.grid.render(tile, agent_pos=None, agent_dir=None)
    tiles = img.reshape(inner.height, tile, inner.width, tile, 3).transpose(0, 2, 1, 3, 4)
    tiles[~env._seen.T] = _UNSEEN_GREY
    x, y = inner.agent_pos
    if inner.carrying is not None:
        img[y * tile : (y + 1) * tile, x * tile : (x + 1) * tile] = _tile_of(inner.carrying, tile)
    half = window // 2
    padded = np.pad(img, ((half * tile, half * tile), (half * tile, half * tile), (0, 0)), constant_values=_UNSEEN_GREY)
    crop = padded[y * tile : (y + window) * tile, x * tile : (x + window) * tile]
    return np.rot90(crop, k=(inner.agent_dir + 1) % 4)


def _tile_of(obj, tile: int) -> np.ndarray:
    """MiniGrid's drawing of one object on a cell: the corner cell of a grid holding it, rendered by ``Grid.render``."""
    from minigrid.core.grid import Grid

    grid = Grid(3, 3)  # MiniGrid's smallest grid
    grid.set(0, 0, obj)
    return grid.render(tile, agent_pos=None)[:tile, :tile]


@pytest.mark.parametrize("task", ["SimpleDoorKey", "TwoDoor", "LavaDoorKey", "MiniGrid-DoorKey-5x5-v0"])
def test_egocentric_view_is_the_crop_of_minigrids_whole_grid_render(task):
    # The window is drawn cell by cell; MiniGrid's render of the whole grid, cropped, is the reference. Random walks
    # reach the grid's borders (padding), pick keys up (the carried object at the centre) and open doors.
    rng = np.random.default_rng(0)
    env = make("egocentric", task=task, seed=3)
    compared = 0
    for episode in range(3):
        env.reset()
        for step in range(120):
            carrying = env._env.carrying
            if step % 7 == 3:  # and every few steps, something carried
                env._env.carrying = Key("purple")
            for tile in (6, 3):
                assert np.array_equal(env._egocentric_map(tile), _crop_of_minigrids_whole_render(env, tile))
            env._env.carrying = carrying
            compared += 1
            _, _, done, _ = env.step(int(rng.choice([0, 1, 2, 2, 3, 5])))
            if done:
                break
    assert compared > 100
