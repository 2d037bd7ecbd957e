"""A teacher as a habitat-baselines policy, for the paper's teacher-only baseline: the base of every env's.

habitat-baselines' own evaluator runs a :class:`TeacherPolicy` like any student
(``habitat_baselines.rl.policy.main_agent.name=L4TTeacherPolicy``,
``habitat_baselines.eval.should_load_ckpt=False``), so teacher and student
success are measured the same way. Each env's teacher registers its own
subclass: ``L4TTeacherPolicy`` (teacher/minigrid/policy.py) and
``L4TRearrangeTeacherPolicy`` (teacher/rearrange/policy.py).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from gym import spaces
from habitat_baselines.rl.ppo.policy import Policy
from torch import nn


class TeacherPolicy(nn.Module, Policy):
    """What a teacher needs to be run by habitat's evaluator as a policy: no weights, no hidden state, no critic.

    Subclasses (one per environment's teacher) name their teacher class and give ``act``.
    """

    teacher_class: Any  # the env's Teacher (teacher/guidance.py), over the planner in this process
    # Variants of it (other prompt sets), chosen when llm4teach.teacher.env names their prompt set.
    teacher_variants: tuple[Any, ...] = ()
    # Per-env state [layers, size] that habitat's evaluator keeps for the policy as its "hidden state":
    # zeroed through the masks at each new episode and sliced when it pauses envs. None by default.
    state_shape: tuple[int, int] = (0, 0)

    @classmethod
    def from_config(cls, config: Any, observation_space: spaces.Dict, action_space: spaces.Space, **kwargs: Any):
        teacher_cfg = config.llm4teach.teacher
        chosen = next((t for t in cls.teacher_variants if t.prompt_set.name == teacher_cfg.env), cls.teacher_class)
        teacher = chosen.from_config(teacher_cfg, observation_space, action_space)
        return cls(teacher, action_space, teacher_cfg.greedy)

    def __init__(self, teacher: Any, action_space: spaces.Space, greedy: bool = True) -> None:
        nn.Module.__init__(self)
        Policy.__init__(self, action_space)
        self.teacher = teacher
        self.greedy = greedy
        # habitat's PPO updater reads its device from the first parameter; the teacher trains none.
        self.device_anchor = nn.Parameter(torch.zeros(0), requires_grad=False)

    @property
    def should_load_agent_state(self) -> bool:
        return False

    @property
    def hidden_state_shape(self) -> tuple[int, int]:
        return self.state_shape

    @property
    def hidden_state_shape_lens(self) -> list[int]:
        return [self.state_shape[1]]

    def get_value(self, *args: Any, **kwargs: Any) -> Optional[torch.Tensor]:
        return None
