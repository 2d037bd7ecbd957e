"""``L4TResNetPolicy``: habitat's PointNavResNetPolicy without the teacher-only observations.

habitat's ResNet policy feeds every 1-D observation to its RNN and drops only
the ``eval.extra_sim_sensors`` cameras; the teacher's ``l4t_scene`` vector is a
lab sensor, so this subclass removes ``keys.TEACHER_ONLY`` from the observation
space before habitat builds the network (nothing else changes).
"""

from __future__ import annotations

from typing import Any

from gym import spaces
from habitat_baselines.common.baseline_registry import baseline_registry
from habitat_baselines.rl.ddppo.policy.resnet_policy import PointNavResNetPolicy

from habitat_llm4teach import keys


@baseline_registry.register_policy
class L4TResNetPolicy(PointNavResNetPolicy):
    @classmethod
    def from_config(cls, config: Any, observation_space: spaces.Dict, action_space: spaces.Space, **kwargs: Any):
        student_space = spaces.Dict({k: v for k, v in observation_space.spaces.items() if k not in keys.TEACHER_ONLY})
        return super().from_config(config, student_space, action_space, **kwargs)
