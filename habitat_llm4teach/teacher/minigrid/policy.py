"""The MiniGrid teacher as a habitat-baselines policy (``L4TTeacherPolicy``), for the paper's teacher-only baseline.

Each step it decodes the symbolic observation, describes it, asks the planner
(cache first), and acts with the teacher's action distribution; without guidance
it does nothing. The current skill is reported through ``policy_info`` so
evaluation videos show it. The evaluator plumbing is teacher/policy.py's.
"""

from __future__ import annotations

import numpy as np
import torch
from habitat_baselines.common.baseline_registry import baseline_registry
from habitat_baselines.rl.ppo.policy import PolicyActionData

from habitat_llm4teach import keys
from habitat_llm4teach.teacher.minigrid.guidance import MiniGridFactsTeacher, MiniGridTeacher
from habitat_llm4teach.teacher.minigrid.skills import DO_NOTHING, SKILLS
from habitat_llm4teach.teacher.policy import TeacherPolicy


@baseline_registry.register_policy
class L4TTeacherPolicy(TeacherPolicy):
    teacher_class = MiniGridTeacher
    teacher_variants = (MiniGridFactsTeacher,)

    def act(self, observations, rnn_hidden_states, prev_actions, masks, deterministic: bool = False) -> PolicyActionData:
        probs, teacher_guided = self.teacher.guide(observations[keys.MINIGRID_SYMBOLIC])
        teacher_probs = probs.numpy()  # [N, A]
        guided = teacher_guided[:, 0].tolist()  # [N]
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
