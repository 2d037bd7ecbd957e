"""``L4TResNetPolicy``: the student, habitat's PointNavResNetPolicy without the teacher-only observations.

habitat's ResNet policy feeds every 1-D observation to its RNN and drops only
the ``eval.extra_sim_sensors`` cameras; the teacher's ``l4t_scene`` vector
(Habitat pick/place) is a lab sensor, so this subclass removes
``keys.TEACHER_ONLY`` from the observation space before habitat builds the
network, which is otherwise unchanged.

With ``llm4teach.teacher.plan_overlay=true`` (evaluation videos: the
quickstart for MiniGrid, scripts/eval_rearrange.sh for pick/place) it also runs
the teacher of ``llm4teach.teacher.env`` on the same observations and reports
its most probable plan and that plan's current skill as ``policy_info``
(``teacher_plan``, ``teacher_skill``), which habitat's evaluator writes onto
every video frame; the student's actions are unchanged.
"""

from __future__ import annotations

from typing import Any, Optional

from gym import spaces
from habitat_baselines.common.baseline_registry import baseline_registry
from habitat_baselines.rl.ddppo.policy.resnet_policy import PointNavResNetPolicy

from habitat_llm4teach import keys
from habitat_llm4teach.teacher.guidance import Teacher
from habitat_llm4teach.teachers import build_teacher


@baseline_registry.register_policy
class L4TResNetPolicy(PointNavResNetPolicy):
    overlay_teacher: Optional[Teacher] = None  # the env's teacher (planner in process) when plan_overlay is on

    @classmethod
    def from_config(cls, config: Any, observation_space: spaces.Dict, action_space: spaces.Space, **kwargs: Any):
        student_space = spaces.Dict({k: v for k, v in observation_space.spaces.items() if k not in keys.TEACHER_ONLY})
        policy = super().from_config(config, student_space, action_space, **kwargs)
        teacher_config = config.llm4teach.teacher
        if teacher_config.get("plan_overlay", False):
            policy.overlay_teacher = build_teacher(teacher_config, observation_space, action_space)
        return policy

    def act(self, observations: Any, *args: Any, **kwargs: Any):
        action_data = super().act(observations, *args, **kwargs)
        if self.overlay_teacher is not None:
            self.overlay_teacher.guide_batch(observations)
            action_data.policy_info = [
                {"teacher_plan": plan or "(none)", "teacher_skill": skill or "(no guidance)"}
                for plan, skill in zip(self.overlay_teacher.last_plans, self.overlay_teacher.last_skills)
            ]
        return action_data
