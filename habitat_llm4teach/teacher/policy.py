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
from habitat_llm4teach.teacher.describe import describe
from habitat_llm4teach.teacher.perception import grid_size_from_symbolic_length, perceive_minigrid
from habitat_llm4teach.teacher.planner import Planner, build_planner
from habitat_llm4teach.teacher.skills import DO_NOTHING, SKILLS
from habitat_llm4teach.teacher.teacher import teacher_action_distribution


@baseline_registry.register_policy
class L4TTeacherPolicy(nn.Module, Policy):
    def __init__(self, planner: Planner, action_space: spaces.Discrete, grid_size: tuple[int, int], mission: str,
                 greedy: bool = True) -> None:
        nn.Module.__init__(self)
        Policy.__init__(self, action_space)
        self.planner = planner
        self.num_actions = int(action_space.n)
        self.grid_size = grid_size
        self.mission = mission
        self.greedy = greedy
        self.steps = 0
        self.guided_steps = 0
        # habitat's PPO updater reads its device from the first parameter; the teacher trains none.
        self.device_anchor = nn.Parameter(torch.zeros(0), requires_grad=False)

    @classmethod
    def from_config(cls, config: Any, observation_space: spaces.Dict, action_space: spaces.Space, **kwargs: Any):
        if keys.MINIGRID_SYMBOLIC not in observation_space.spaces:
            raise ValueError(f"L4TTeacherPolicy needs the '{keys.MINIGRID_SYMBOLIC}' observation (MiniGrid envs)")
        if not isinstance(action_space, spaces.Discrete):
            raise ValueError(f"L4TTeacherPolicy needs a discrete action space, got {action_space}")
        teacher_cfg = config.llm4teach.teacher
        grid_size = grid_size_from_symbolic_length(observation_space[keys.MINIGRID_SYMBOLIC].shape[0])
        return cls(build_planner(teacher_cfg), action_space, grid_size, teacher_cfg.mission, teacher_cfg.greedy)

    @property
    def should_load_agent_state(self) -> bool:
        return False

    @property
    def hidden_state_shape(self) -> tuple[int, int]:
        return (0, 0)

    @property
    def hidden_state_shape_lens(self) -> list[int]:
        return [0]

    def act(self, observations, rnn_hidden_states, prev_actions, masks, deterministic: bool = False) -> PolicyActionData:
        symbolic = observations[keys.MINIGRID_SYMBOLIC].cpu().numpy()
        actions, infos = [], []
        for flat in symbolic:
            perception = perceive_minigrid(flat, *self.grid_size, self.mission)
            plans = self.planner.plan(describe(perception), perception)
            out = teacher_action_distribution(plans, perception, self.num_actions)
            self.steps += 1
            if out.guided:
                self.guided_steps += 1
                action = int(np.argmax(out.probs)) if self.greedy else int(np.random.choice(self.num_actions, p=out.probs))
            else:
                action = SKILLS[DO_NOTHING].step(perception, None).action
            actions.append(action)
            infos.append({"teacher_guided": float(out.guided)})
        self.planner.cache.save()
        return PolicyActionData(
            actions=torch.tensor(actions, dtype=torch.long).unsqueeze(1),
            rnn_hidden_states=rnn_hidden_states,
            policy_info=infos,
        )

    def get_value(self, *args: Any, **kwargs: Any) -> Optional[torch.Tensor]:
        return None
