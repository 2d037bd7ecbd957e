"""The habitat VectorEnv adapter: API shape, observations, remembered map, episode ids."""

from __future__ import annotations

import numpy as np
import pytest
from gym import spaces
from minigrid.core.constants import OBJECT_TO_IDX

from habitat_llm4teach import keys
from habitat_llm4teach.envs.minigrid.adapter import MiniGridEnvSpec, decode_symbolic, make_minigrid_env
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
    width, height = env.grid_size
    seen_counts = []
    for obs in walk(env, 60):
        grid, agent = decode_symbolic(obs[keys.MINIGRID_SYMBOLIC], width, height)
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
    grid, _ = decode_symbolic(obs[keys.MINIGRID_SYMBOLIC], width, height)
    assert (grid[:, :, 0] != OBJECT_TO_IDX["unseen"]).sum() <= 9  # a fresh episode forgets the map


def test_carried_object_reported_in_agent_vector():
    env = make()
    env.reset()
    key_obj = next(o for o in env._env.grid.grid if o is not None and o.type == "key")
    env._env.carrying = key_obj  # hand the agent the key (test only)
    obs, *_ = env.step(0)
    _, agent = decode_symbolic(obs[keys.MINIGRID_SYMBOLIC], *env.grid_size)
    assert agent[3] == OBJECT_TO_IDX["key"]


def test_historical_view_greys_unseen_cells_partial_view_does_not():
    historical, partial = make("historical"), make("partial")
    h, p = historical.reset()[keys.RGB], partial.reset()[keys.RGB]
    grey = np.all(h == 100, axis=-1).mean()
    assert grey > 0.5  # most of the map is unseen at the start
    assert np.all(p == 100, axis=-1).mean() < 0.05
    assert not np.array_equal(h, p)


def test_any_registered_minigrid_id():
    env = make(task="MiniGrid-DoorKey-5x5-v0")
    obs = env.reset()
    assert obs[keys.RGB].shape == (64, 64, 3)


def test_unknown_view_rejected():
    with pytest.raises(ValueError, match="unknown MiniGrid view 'fisheye'"):
        make(view="fisheye")
