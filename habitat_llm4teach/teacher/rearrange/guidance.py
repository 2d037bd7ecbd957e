"""The rearrangement teacher as the trainer sees it: a batch of observations -> the continuous storage fields.

Owns the blocking, in-process teacher for Habitat pick/place, the counterpart
of teacher/minigrid/guidance.py's ``InprocTeacher``: for each env it decodes the
``l4t_scene`` observation (written by envs/rearrange/adapter.py) with the head depth image and
the task's own observations, perceives, describes, asks the planner (cache
first, rearrangement prompts) and keeps the K most probable plans' actions.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
import torch
from gym import spaces

from habitat_llm4teach import keys
from habitat_llm4teach.envs.rearrange.scene import TaskObservations, decode_scene
from habitat_llm4teach.errors import ConfigError
from habitat_llm4teach.teacher.guidance import TeacherStats
from habitat_llm4teach.teacher.planner import Planner, build_planner
from habitat_llm4teach.teacher.rearrange.describe import describe
from habitat_llm4teach.teacher.rearrange.perception import RearrangePerception, perceive
from habitat_llm4teach.teacher.rearrange.prompts import REARRANGE_PROMPTS
from habitat_llm4teach.teacher.rearrange.skills import ACTION_DIM
from habitat_llm4teach.teacher.rearrange.teacher import teacher_actions

# Observations the teacher reads (habitat's sensor uuids); the target sensor depends on the task.
TASK_KEYS = (keys.L4T_SCENE, keys.HEAD_DEPTH, keys.JOINT, keys.IS_HOLDING, keys.RELATIVE_RESTING_POSITION)


def _target_key(observations: Any) -> str:
    for key in (keys.OBJ_START_SENSOR, keys.OBJ_GOAL_SENSOR):
        if key in observations:
            return key
    raise ConfigError(f"the rearrangement teacher needs '{keys.OBJ_START_SENSOR}' (pick) or '{keys.OBJ_GOAL_SENSOR}' (place)")


def perceive_observation(observation: Mapping[str, Any]) -> RearrangePerception:
    """One env's observation (habitat's sensor uuids -> arrays, as numpy) -> what the teacher perceives."""
    target_key = _target_key(observation)
    obs = TaskObservations(
        np.asarray(observation[target_key])[:3], np.asarray(observation[keys.JOINT]),
        bool(np.asarray(observation[keys.IS_HOLDING])[0] > 0.5), np.asarray(observation[keys.RELATIVE_RESTING_POSITION]),
    )
    return perceive(decode_scene(observation[keys.L4T_SCENE], observation[keys.HEAD_DEPTH], obs))


class RearrangeInprocTeacher:
    """Blocking in-process teacher for pick/place: one planner, queried env by env."""

    def __init__(self, planner: Planner, max_plans: int = keys.MAX_TEACHER_PLANS) -> None:
        self.planner = planner
        self.max_plans = max_plans
        self.stats = TeacherStats(planner.cache)
        # Per env of the latest batch, for video overlays: the most probable plan with its probability and the
        # current skill of the most probable contributing plan ("" when unguided).
        self.last_plans: list[str] = []
        self.last_skills: list[str] = []
        self.last_perceptions: list[RearrangePerception] = []  # what each env's teacher saw (for judging its skill)

    @staticmethod
    def check_env(observation_space: spaces.Dict, action_space: spaces.Space) -> None:
        if not isinstance(action_space, spaces.Box) or action_space.shape != (ACTION_DIM,):
            raise ConfigError(
                f"the rearrangement teacher writes Fetch's {ACTION_DIM}-D action (arm_action, grip_action, base_vel), "
                f"but the env's action space is {action_space}: use the fetch_suction_arm_base actions"
            )
        missing = [k for k in TASK_KEYS if k not in observation_space.spaces]
        if missing:
            raise ConfigError(
                f"the rearrangement teacher reads observations {missing}, which the env does not provide "
                f"(observations: {sorted(observation_space.spaces)}); add them to habitat.gym.obs_keys"
            )
        _target_key(observation_space.spaces)

    @classmethod
    def from_config(cls, teacher_config: Any, observation_space: spaces.Dict, action_space: spaces.Space) -> "RearrangeInprocTeacher":
        cls.check_env(observation_space, action_space)
        return cls(build_planner(teacher_config, REARRANGE_PROMPTS))

    @property
    def cache_path(self) -> Optional[str]:
        path = self.planner.cache.path
        return None if path is None else str(path.resolve())

    def guide_batch(self, observations: Any) -> dict[str, torch.Tensor]:
        """Observations of n envs -> ``teacher_actions`` [n, K, A], ``teacher_weights`` [n, K], ``teacher_guided`` [n, 1]."""
        target_key = _target_key(observations)
        batch = {k: observations[k].cpu().numpy() for k in (*TASK_KEYS, target_key)}
        n = len(batch[keys.L4T_SCENE])
        actions = np.zeros((n, self.max_plans, ACTION_DIM), dtype=np.float32)  # [n, K, A]
        weights = np.zeros((n, self.max_plans), dtype=np.float32)  # [n, K]
        guided = np.zeros((n, 1), dtype=bool)  # [n, 1]
        self.last_plans, self.last_skills, self.last_perceptions = [], [], []
        for i in range(n):
            perception = perceive_observation({k: v[i] for k, v in batch.items()})
            self.last_perceptions.append(perception)
            plans = self.planner.plan(describe(perception), perception)
            output = teacher_actions(plans, perception, self.max_plans)
            actions[i], weights[i], guided[i, 0] = output.actions, output.weights, output.guided
            self.last_skills.append(output.skill)
            top = max(plans.plans, key=lambda p: p.prob, default=None)
            self.last_plans.append(f"{top.text} ({top.prob:.2f})" if top is not None else "")
        self.stats.count(n, int(guided.sum()))
        return {
            keys.TEACHER_ACTIONS: torch.from_numpy(actions), keys.TEACHER_WEIGHTS: torch.from_numpy(weights),
            keys.TEACHER_GUIDED: torch.from_numpy(guided),
        }

    def pop_stats(self) -> dict[str, float]:
        return self.stats.pop()

    def save_cache(self) -> None:
        self.planner.cache.save()

    def close(self) -> None:
        """The trainer's end-of-training call: saves the plan cache (no process or file to release here)."""
        self.planner.cache.save()


