"""The rearrangement teacher as the trainer sees it: a batch of observations -> the continuous storage fields.

Owns :class:`RearrangeTeacher`, the pick/place counterpart of teacher/minigrid/guidance.py's
``MiniGridTeacher`` and like it one class over any plan source (the planner in
process, or the node's inference server): for each env it decodes the
``l4t_scene`` observation (written by envs/rearrange/adapter.py) with the head
depth image and the task's own observations, perceives, builds its query
(prompts.py), gets the plans from its source and keeps the K most probable
plans' actions. A query without an answer yet leaves its step unguided.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
import torch
from gym import spaces

from habitat_llm4teach import keys
from habitat_llm4teach.envs.rearrange.scene import TaskObservations, decode_scene
from habitat_llm4teach.errors import ConfigError
from habitat_llm4teach.teacher.guidance import DescriptionTrace, Teacher
from habitat_llm4teach.teacher.rearrange.perception import RearrangePerception, perceive
from habitat_llm4teach.teacher.rearrange.prompts import REARRANGE_PROMPTS, query_of
from habitat_llm4teach.teacher.rearrange.skills import ACTION_DIM
from habitat_llm4teach.teacher.rearrange.teacher import teacher_actions
from habitat_llm4teach.teacher.source import PlanSource, SourceFactory, local_source

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


class RearrangeTeacher(Teacher):
    """Pick/place's teacher over a plan source: observations -> each env's K plan actions and their weights."""

    prompt_set = REARRANGE_PROMPTS

    def __init__(
        self, source: PlanSource, max_plans: int = keys.MAX_TEACHER_PLANS, trace: Optional[DescriptionTrace] = None
    ) -> None:
        super().__init__(source, self.prompt_set.name, trace)
        self.max_plans = max_plans
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
    def from_config(
        cls, teacher_config: Any, observation_space: spaces.Dict, action_space: spaces.Space,
        source_factory: SourceFactory = local_source,
    ) -> "RearrangeTeacher":
        """Check the env against the teacher first (cheap), then make the plan source (which may load the LLM)."""
        cls.check_env(observation_space, action_space)
        trace = DescriptionTrace(teacher_config.trace_path) if teacher_config.trace_path else None
        return cls(source_factory(teacher_config, cls.prompt_set), trace=trace)

    def guide_batch(self, observations: Any) -> dict[str, torch.Tensor]:
        """Observations of n envs -> ``teacher_actions`` [n, K, A], ``teacher_weights`` [n, K], ``teacher_guided`` [n, 1]."""
        target_key = _target_key(observations)
        batch = {k: observations[k].cpu().numpy() for k in (*TASK_KEYS, target_key)}
        n = len(batch[keys.L4T_SCENE])
        self.last_perceptions = [perceive_observation({k: v[i] for k, v in batch.items()}) for i in range(n)]
        answers = self._plans([query_of(p) for p in self.last_perceptions])
        actions = np.zeros((n, self.max_plans, ACTION_DIM), dtype=np.float32)  # [n, K, A]
        weights = np.zeros((n, self.max_plans), dtype=np.float32)  # [n, K]
        guided = np.zeros((n, 1), dtype=bool)  # [n, 1]
        self.last_skills = []
        for i, (plans, perception) in enumerate(zip(answers, self.last_perceptions)):
            skill = ""
            if plans is not None:
                output = teacher_actions(plans, perception, self.max_plans)
                actions[i], weights[i], guided[i, 0] = output.actions, output.weights, output.guided
                skill = output.skill
            self.last_skills.append(skill)
        self._count(n, int(guided.sum()))
        return {
            keys.TEACHER_ACTIONS: torch.from_numpy(actions), keys.TEACHER_WEIGHTS: torch.from_numpy(weights),
            keys.TEACHER_GUIDED: torch.from_numpy(guided),
        }
