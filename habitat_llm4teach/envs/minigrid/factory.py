"""MiniGrid as a habitat-baselines ``VectorEnvFactory``.

Selected with ``habitat_baselines.vector_env_factory._target_``; builds a habitat
``VectorEnv`` the way ``HabitatVectorEnvFactory`` does, one MiniGrid env per
worker. ``workers`` picks the transport: ``in_process`` (default; every env
stepped in the trainer's process, no start-up and no hand-off, the fastest for
envs this cheap, see envs/in_process.py) or ``processes`` (habitat's own worker
processes). ``HABITAT_ENV_DEBUG=1`` still selects habitat's ``ThreadedVectorEnv``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Optional

import gymnasium
import torch
from habitat import ThreadedVectorEnv, VectorEnv
from habitat_baselines.common.env_factory import VectorEnvFactory

from habitat_llm4teach import keys
from habitat_llm4teach.envs.in_process import InProcessVectorEnv
from habitat_llm4teach.envs.minigrid.adapter import VIEWS, MiniGridEnvSpec, make_minigrid_env
from habitat_llm4teach.envs.minigrid.tasks import PAPER_TASKS

from habitat_llm4teach.errors import ConfigError

if TYPE_CHECKING:
    from omegaconf import DictConfig


WORKER_KINDS = {"in_process": InProcessVectorEnv, "processes": VectorEnv}


def resolve_task(task: str) -> str:
    """Paper task name or any registered MiniGrid id -> gymnasium id (clear error otherwise)."""
    if task in PAPER_TASKS:
        return PAPER_TASKS[task]
    if task in gymnasium.registry:
        return task
    known_minigrid = sorted(i for i in gymnasium.registry if i.startswith("MiniGrid-"))
    raise ConfigError(
        f"Unknown MiniGrid task '{task}'. Paper tasks: {sorted(PAPER_TASKS)}; "
        f"or any registered id, e.g. {known_minigrid[:5]} ({len(known_minigrid)} registered)."
    )


def eval_episodes_per_env(test_episode_count: int, num_envs: int) -> int:
    """Each env's quota when ``num_envs`` envs evaluate ``test_episode_count`` episodes (rounded up).

    habitat's evaluator stops once it has counted that many episodes, dropping the ones still running: with
    unbounded envs those are the long ones (timeouts), which biases success up. Equal quotas remove that bias
    when ``test_episode_count`` is a multiple of ``num_envs`` (:func:`unbiased_eval_counts` makes it one).
    """
    return -(-test_episode_count // num_envs)


def unbiased_eval_counts(test_episode_count: int, num_envs: int) -> tuple[int, int]:
    """``(test_episode_count, num_envs)`` for an evaluation where every env plays the same number of episodes.

    No more envs than episodes; then the env count from ``num_envs`` down to half of it (fewer would slow the
    evaluation down by more than 2x) that needs the fewest extra episodes, the most envs among those. 100 episodes
    asked of 16 envs are played 10 in each of 10 envs (exactly 100); a prime 97 becomes 98, 7 in each of 14.
    """
    if test_episode_count < 1:
        raise ConfigError(
            f"habitat_baselines.test_episode_count must be >= 1 for MiniGrid (its episodes are generated without "
            f"end), got {test_episode_count}"
        )
    most = min(num_envs, test_episode_count)
    fewest = -(-most // 2)
    num_envs = min(
        range(fewest, most + 1),
        key=lambda envs: (eval_episodes_per_env(test_episode_count, envs) * envs - test_episode_count, -envs),
    )
    return eval_episodes_per_env(test_episode_count, num_envs) * num_envs, num_envs


class MiniGridVectorEnvFactory(VectorEnvFactory):
    def __init__(
        self,
        task: str = "SimpleDoorKey",
        view: str = "egocentric",
        image_size: int = 64,
        max_steps: Optional[int] = None,
        ego_window: int = 11,
        workers: str = "in_process",
    ) -> None:
        if view not in VIEWS:
            raise ConfigError(f"Unknown MiniGrid view '{view}'; expected one of {VIEWS}")
        if image_size < 8:
            raise ConfigError(f"image_size must be >= 8, got {image_size}")
        if ego_window < 3 or ego_window % 2 == 0:
            raise ConfigError(f"ego_window must be an odd number of cells >= 3, got {ego_window}")
        if workers not in WORKER_KINDS:
            raise ConfigError(f"Unknown MiniGrid vector env workers '{workers}'; expected one of {sorted(WORKER_KINDS)}")
        self.env_id = resolve_task(task)
        self.workers = workers
        self.view = view
        self.image_size = image_size
        self.max_steps = max_steps
        self.ego_window = ego_window

    def construct_envs(
        self,
        config: "DictConfig",
        workers_ignore_signals: bool = False,
        enforce_scenes_greater_eq_environments: bool = False,
        is_first_rank: bool = True,
    ) -> VectorEnv:
        num_envs = config.habitat_baselines.num_environments
        if num_envs < 1:
            raise ConfigError(f"habitat_baselines.num_environments must be >= 1, got {num_envs}")
        policy_hidden = {s.uuid: s for s in config.habitat_baselines.eval.extra_sim_sensors.values()}
        if keys.MINIGRID_SYMBOLIC not in policy_hidden:
            raise ConfigError(
                f"The teacher-only observation '{keys.MINIGRID_SYMBOLIC}' must be hidden from the policy: "
                f"add habitat_baselines.eval.extra_sim_sensors.{keys.MINIGRID_SYMBOLIC}.uuid={keys.MINIGRID_SYMBOLIC} "
                "(the MiniGrid configs under configs/habitat/minigrid/ do this)."
            )
        third_person_size = 0
        if config.habitat_baselines.evaluate and len(config.habitat_baselines.eval.video_option) > 0:
            third = policy_hidden.get(keys.THIRD_RGB)
            third_person_size = int(third.height) if third is not None else 0
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        episodes_per_env = 0
        if config.habitat_baselines.evaluate and config.habitat_baselines.test_episode_count > 0:
            episodes_per_env = eval_episodes_per_env(config.habitat_baselines.test_episode_count, num_envs)
        specs = [
            (
                MiniGridEnvSpec(
                    env_id=self.env_id,
                    view=self.view,
                    image_size=self.image_size,
                    third_person_size=third_person_size,
                    seed=config.habitat.seed + index,
                    episode_prefix=f"r{rank}e{index}-",
                    max_steps=self.max_steps,
                    ego_window=self.ego_window,
                    episodes=episodes_per_env,
                ),
            )
            for index in range(num_envs)
        ]
        vector_env_cls = ThreadedVectorEnv if int(os.environ.get("HABITAT_ENV_DEBUG", 0)) else WORKER_KINDS[self.workers]
        return vector_env_cls(
            make_env_fn=make_minigrid_env, env_fn_args=specs, workers_ignore_signals=workers_ignore_signals
        )
