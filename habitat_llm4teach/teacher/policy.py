"""The teacher as a habitat-baselines policy, for the paper's teacher-only baseline.

Registered as ``L4TTeacherPolicy``: habitat-baselines' own evaluator runs it like
any student (``habitat_baselines.rl.policy.main_agent.name=L4TTeacherPolicy``,
``habitat_baselines.eval.should_load_ckpt=False``), so teacher and student
success are measured the same way. Each step it decodes the symbolic
observation, describes it, asks the planner (cache first), and acts with the
teacher's action distribution; without guidance it does nothing. The current
skill is reported through ``policy_info`` so evaluation videos show it.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from gym import spaces
from habitat_baselines.common.baseline_registry import baseline_registry
from habitat_baselines.rl.ppo.policy import Policy, PolicyActionData
from torch import nn

from habitat_llm4teach import keys
from habitat_llm4teach.teacher.guidance import InprocTeacher
from habitat_llm4teach.teacher.skills import DO_NOTHING, SKILLS


class TeacherPolicy(nn.Module, Policy):
    """What a teacher needs to be run by habitat's evaluator as a policy: no weights, no hidden state, no critic.

    Subclasses (one per environment's teacher) name their teacher class and give ``act``.
    """

    teacher_class: Any  # the in-process teacher it runs: its from_config(teacher config, observation space, action space)

    @classmethod
    def from_config(cls, config: Any, observation_space: spaces.Dict, action_space: spaces.Space, **kwargs: Any):
        teacher_cfg = config.llm4teach.teacher
        teacher = cls.teacher_class.from_config(teacher_cfg, observation_space, action_space)
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
        return (0, 0)

    @property
    def hidden_state_shape_lens(self) -> list[int]:
        return [0]

    def get_value(self, *args: Any, **kwargs: Any) -> Optional[torch.Tensor]:
        return None


@baseline_registry.register_policy
class L4TTeacherPolicy(TeacherPolicy):
    teacher_class = InprocTeacher

    def act(self, observations, rnn_hidden_states, prev_actions, masks, deterministic: bool = False) -> PolicyActionData:
        guidance = self.teacher.guide(observations[keys.MINIGRID_SYMBOLIC])
        teacher_probs = guidance.teacher_probs.numpy()  # [N, A]
        guided = guidance.teacher_guided[:, 0].tolist()  # [N]
        do_nothing = SKILLS[DO_NOTHING].step(None, None).action
        actions = [
            (int(np.argmax(p)) if self.greedy else int(np.random.choice(len(p), p=p))) if g else do_nothing
            for p, g in zip(teacher_probs, guided)
        ]
        self.teacher.save_cache()
        return PolicyActionData(
            actions=torch.tensor(actions, dtype=torch.long).unsqueeze(1),
            rnn_hidden_states=rnn_hidden_states,
            policy_info=[{"teacher_guided": float(g)} for g in guided],
        )
