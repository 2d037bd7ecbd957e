"""The VectorEnvFactory: habitat's VectorEnv, its envs in process (default) or in real worker processes."""

from __future__ import annotations

import pytest
from habitat import VectorEnv
from habitat.config.read_write import read_write

from habitat_llm4teach import keys
from habitat_llm4teach.envs.in_process import InProcessVectorEnv
from habitat_llm4teach.envs.minigrid.factory import MiniGridVectorEnvFactory, resolve_task
from habitat_llm4teach.errors import ConfigError


def test_resolve_task_names():
    assert resolve_task("TwoDoor") == "MiniGrid-TwoDoor-Min20-Max20"
    assert resolve_task("MiniGrid-Empty-5x5-v0") == "MiniGrid-Empty-5x5-v0"
    with pytest.raises(ConfigError, match="Unknown MiniGrid task 'SimpleDorKey'"):
        resolve_task("SimpleDorKey")


@pytest.mark.parametrize("workers", ["in_process", "processes"])
def test_construct_envs_steps_real_workers(composed, workers):
    config = composed("minigrid/ppo", ["habitat_baselines.num_environments=2"])
    envs = MiniGridVectorEnvFactory(workers=workers).construct_envs(config)
    try:
        assert isinstance(envs, VectorEnv) and envs.num_envs == 2
        assert isinstance(envs, InProcessVectorEnv) == (workers == "in_process")
        observations = envs.reset()
        assert set(observations[0]) == {keys.RGB, keys.MINIGRID_SYMBOLIC}
        results = envs.step([2, 2])
        assert all(keys.SUCCESS in info for _, _, _, info in results)
        episodes = envs.current_episodes()
        assert episodes[0].episode_id != episodes[1].episode_id
        assert envs.number_of_episodes == [-1, -1]
    finally:
        envs.close()


def test_third_person_frame_for_eval_videos_only(composed):
    config = composed(
        "minigrid/ppo",
        ["habitat_baselines.num_environments=1", "habitat_baselines.evaluate=True"],
    )
    envs = MiniGridVectorEnvFactory().construct_envs(config)
    try:
        assert envs.observation_spaces[0][keys.THIRD_RGB].shape == (256, 256, 3)
    finally:
        envs.close()


def test_symbolic_observation_must_be_hidden_from_policy(composed):
    config = composed("minigrid/ppo")
    with read_write(config):
        del config.habitat_baselines.eval.extra_sim_sensors["minigrid_symbolic_sensor"]
    with pytest.raises(ConfigError, match="must be hidden from the policy"):
        MiniGridVectorEnvFactory().construct_envs(config)


def test_bad_factory_arguments():
    with pytest.raises(ConfigError, match="view 'top'"):
        MiniGridVectorEnvFactory(view="top")
    with pytest.raises(ConfigError, match="image_size"):
        MiniGridVectorEnvFactory(image_size=4)
    with pytest.raises(ConfigError, match="workers 'threads'"):
        MiniGridVectorEnvFactory(workers="threads")


def test_evaluation_counts_give_every_env_the_same_quota():
    from habitat_llm4teach.envs.minigrid.factory import unbiased_eval_counts

    assert unbiased_eval_counts(8, 16) == (8, 8)  # no more envs than episodes
    assert unbiased_eval_counts(100, 16) == (100, 10)  # the most envs that divide the count
    assert unbiased_eval_counts(100, 10) == (100, 10)
    assert unbiased_eval_counts(64, 16) == (64, 16)
    assert unbiased_eval_counts(97, 16) == (98, 14)  # prime: the fewest extra episodes, 7 in each of 14 envs
    assert unbiased_eval_counts(3, 16) == (3, 3)
    assert unbiased_eval_counts(101, 16) == (104, 13)  # never fewer than half the envs (1 would be exact)
    assert unbiased_eval_counts(5, 4) == (6, 3)
    assert unbiased_eval_counts(3, 2) == (3, 1)
    with pytest.raises(ConfigError, match="test_episode_count must be >= 1"):
        unbiased_eval_counts(-1, 16)
