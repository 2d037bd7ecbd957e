"""The pick/place teacher as a habitat-baselines policy: the teacher-only baseline on the real simulator.

Registered as ``L4TRearrangeTeacherPolicy`` (configs ``rearrange/{pick,place}_teacher``):
habitat-baselines' own evaluator runs it like a student, so the teacher's
``pick_success`` / ``place_success`` are measured the same way as the student's.
Each step the in-process teacher (guidance.py) perceives, describes, plans (cache
first) and gives one action per plan; the policy takes the most probable plan's
action (``llm4teach.teacher.greedy``) or samples a plan by probability. Without
guidance it keeps still, holding on to what it holds. The plan and current skill go
into ``policy_info``, which habitat's evaluator writes onto video frames, with
``teacher_skill_correct``: the share of the episode's steps so far on which that skill was
the one the task calls for (:func:`expected_skill`, judged from the task's own sensors; an
unguided step counts as wrong). habitat's evaluator keeps an episode's last-step info, so
its "Average episode teacher_skill_correct" is the per-step plan accuracy averaged over
episodes. The running counts ride in the policy's hidden state, which the evaluator zeroes
through the masks at each new episode and keeps aligned when it pauses envs.
"""

from __future__ import annotations

import numpy as np
import torch
from habitat_baselines.common.baseline_registry import baseline_registry
from habitat_baselines.rl.ppo.policy import PolicyActionData

from habitat_llm4teach import keys
from habitat_llm4teach.envs.rearrange.scene import PICK as PICK_TASK
from habitat_llm4teach.teacher.policy import TeacherPolicy
from habitat_llm4teach.teacher.rearrange.describe import NAVIGATE_TO, PICK, PLACE, PLACE_ON
from habitat_llm4teach.teacher.rearrange.guidance import RearrangeTeacher
from habitat_llm4teach.teacher.rearrange.perception import RearrangePerception
from habitat_llm4teach.teacher.rearrange.skills import ACTION_DIM, GRIP, GRIP_HOLD, GRIP_RELEASE, navigate_to
from habitat_llm4teach.teacher.types import SkillStatus


def expected_skill(perception: RearrangePerception) -> str:
    """The skill the task calls for now: go to the target (pick) or goal (place) until there, then pick / place
    (which includes returning the arm to rest afterwards)."""
    if perception.task == PICK_TASK:
        act, there = f"{PICK} {perception.target}", perception.target
        done_acting = perception.holding is not None
    else:
        goal = perception.goal.name if perception.goal is not None else ""
        act, there = f"{PLACE} {perception.target}{PLACE_ON}{goal}", goal
        done_acting = perception.holding is None
    if done_acting or navigate_to(perception, there).status is SkillStatus.DONE:
        return act
    return f"{NAVIGATE_TO} {there}"


# Hidden state per env: [steps judged, steps whose skill was the task's] of the current episode.
STEPS_JUDGED, STEPS_CORRECT = 0, 1


@baseline_registry.register_policy
class L4TRearrangeTeacherPolicy(TeacherPolicy):
    teacher_class = RearrangeTeacher
    state_shape = (1, 2)  # [STEPS_JUDGED, STEPS_CORRECT]

    def act(self, observations, rnn_hidden_states, prev_actions, masks, deterministic: bool = False) -> PolicyActionData:
        guidance = self.teacher.guide_batch(observations)
        plan_actions = guidance[keys.TEACHER_ACTIONS].numpy()  # [N, K, A]
        plan_weights = guidance[keys.TEACHER_WEIGHTS].numpy()  # [N, K]
        guided = guidance[keys.TEACHER_GUIDED][:, 0].tolist()  # [N]
        holding = observations[keys.IS_HOLDING][:, 0].cpu().numpy() > 0.5  # [N]
        actions = np.zeros((len(guided), ACTION_DIM), dtype=np.float32)  # [N, A]
        for i, is_guided in enumerate(guided):
            if not is_guided:
                actions[i, GRIP] = GRIP_HOLD if holding[i] else GRIP_RELEASE
                continue
            weights = plan_weights[i]
            plan = int(np.argmax(weights)) if self.greedy else int(np.random.choice(len(weights), p=weights / weights.sum()))
            actions[i] = plan_actions[i, plan]
        self.teacher.save_cache()
        correct = torch.tensor(  # [N]
            [float(skill is not None and skill == expected_skill(perception))
             for skill, perception in zip(self.teacher.last_skills, self.teacher.last_perceptions)]
        )
        # Zeroed where masks say a new episode starts, then this step counted.
        step_counts = rnn_hidden_states[:, 0, :].cpu() * masks.cpu().float()  # [N, 2]
        step_counts[:, STEPS_JUDGED] += 1.0
        step_counts[:, STEPS_CORRECT] += correct
        share_correct = (step_counts[:, STEPS_CORRECT] / step_counts[:, STEPS_JUDGED]).tolist()  # [N]
        return PolicyActionData(
            actions=torch.from_numpy(actions),
            rnn_hidden_states=step_counts.unsqueeze(1).to(rnn_hidden_states.device),  # [N, 1, 2]
            policy_info=[
                {"teacher_guided": float(g), "teacher_plan": plan or "(none)", "teacher_skill": skill or "(no guidance)",
                 "teacher_skill_correct": share}
                for g, plan, skill, share in zip(guided, self.teacher.last_plans, self.teacher.last_skills, share_correct)
            ],
        )
