"""Continuous-action distillation (Habitat pick/place): storage, loss and updaters for Gaussian students.

Owns what the discrete path (storage.py, updater.py) does for categorical
students, for a student whose policy is habitat's Gaussian (``GaussianNet``):

- ``L4TContinuousRolloutStorage``: per step the teacher's K plan actions
  ``teacher_actions`` [T+1, N, K, A], their plan probabilities
  ``teacher_weights`` [T+1, N, K] (renormalised over the plans whose current
  skill runs; 0 for unused slots) and ``teacher_guided`` [T+1, N, 1]. Keeping
  the K actions rather than their mean keeps a bimodal teacher bimodal (the
  mean of "turn left" and "turn right" is "go straight", which no plan wants).
- ``continuous_distillation_loss``, two ways (``llm4teach.distill.continuous_loss``):
  ``nll``: sum_k w_k * -log pi(a_k | s), the plan-probability-weighted
  negative log-likelihood of the teacher's actions under the student;
  ``kl``: sum_k w_k * KL(N(a_k, teacher_std^2) || pi(. | s)), a Gaussian of
  width ``teacher_std`` around each teacher action (an upper bound on the KL
  from the mixture, by convexity). Both are averaged over guided steps; unguided
  steps contribute nothing, and no guided step gives a constant 0.
- ``L4TContinuousDistillPPO`` / ``L4TContinuousDistillDDPPO``: the discrete
  updaters with ``distill`` overridden; lambda comes from the same schedules.
  ``distill/agreement`` counts guided steps whose student mean is within
  ``AGREEMENT_TOLERANCE`` (max-norm) of the most probable plan's action.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from gym import spaces
from habitat_baselines.common.baseline_registry import baseline_registry
from habitat_baselines.common.rollout_storage import RolloutStorage
from habitat_baselines.rl.ddppo.algo.ddppo import DDPPO
from habitat_baselines.utils.common import inference_mode
from torch import Tensor

from habitat_llm4teach.distill.storage import set_at_current_step
from habitat_llm4teach.distill.updater import L4TDistillPPO
from habitat_llm4teach.keys import MAX_TEACHER_PLANS, TEACHER_ACTIONS, TEACHER_GUIDED, TEACHER_WEIGHTS

LOSSES = ("nll", "kl")
AGREEMENT_TOLERANCE = 0.2


def gaussian_kl(teacher_mean: Tensor, teacher_std: float, student_mean: Tensor, student_std: Tensor) -> Tensor:
    """KL(N(teacher_mean, teacher_std^2) || N(student_mean, student_std^2)) summed over the last (action) dim."""
    variance_ratio = (teacher_std / student_std) ** 2
    kl = 0.5 * (variance_ratio + ((teacher_mean - student_mean) / student_std) ** 2 - 1.0 - torch.log(variance_ratio))
    return kl.sum(-1)


def continuous_distillation_loss(
    teacher_actions: Tensor, teacher_weights: Tensor, teacher_guided: Tensor, student: torch.distributions.Normal,
    loss: str = "nll", teacher_std: float = 0.1,
) -> tuple[Tensor, int]:
    """Plan-weighted NLL (or KL) of the teacher's actions under the student, averaged over guided steps.

    ``teacher_actions`` [B, K, A], ``teacher_weights`` [B, K], ``teacher_guided`` [B, 1] (bool),
    ``student`` a Normal with mean/std [B, A]. Returns (loss, number of guided steps).
    """
    if loss not in LOSSES:
        raise ValueError(f"continuous distillation loss must be one of {LOSSES}, got '{loss}'")
    guided = teacher_guided.reshape(-1).bool()  # [B]
    num_guided = int(guided.sum())
    if num_guided == 0:
        return student.mean.new_zeros(()), 0
    mean = student.mean[guided].unsqueeze(1)  # [G, 1, A]
    std = student.stddev[guided].unsqueeze(1)  # [G, 1, A]
    actions = teacher_actions[guided]  # [G, K, A]
    if loss == "nll":
        per_plan = -torch.distributions.Normal(mean, std).log_prob(actions).sum(-1)  # [G, K]
    else:
        if teacher_std <= 0:
            raise ValueError(f"teacher_std must be > 0 for the kl loss, got {teacher_std}")
        per_plan = gaussian_kl(actions, teacher_std, mean, std)  # [G, K]
    return (teacher_weights[guided] * per_plan).sum(-1).mean(), num_guided


@baseline_registry.register_storage
class L4TContinuousRolloutStorage(RolloutStorage):
    """habitat's rollout storage plus the teacher's K plan actions, weights and guided flag at every step."""

    def __init__(
        self, numsteps: int, num_envs: int, observation_space: spaces.Dict, action_space: spaces.Space,
        actor_critic: Any, is_double_buffered: bool = False,
    ) -> None:
        super().__init__(numsteps, num_envs, observation_space, action_space, actor_critic, is_double_buffered)
        if not isinstance(action_space, spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(f"L4TContinuousRolloutStorage needs a 1-D Box action space, got {action_space}")
        action_dim = action_space.shape[0]
        self.buffers[TEACHER_ACTIONS] = torch.zeros(numsteps + 1, num_envs, MAX_TEACHER_PLANS, action_dim)  # [T+1, N, K, A]
        self.buffers[TEACHER_WEIGHTS] = torch.zeros(numsteps + 1, num_envs, MAX_TEACHER_PLANS)  # [T+1, N, K]
        self.buffers[TEACHER_GUIDED] = torch.zeros(numsteps + 1, num_envs, 1, dtype=torch.bool)  # [T+1, N, 1]

    def insert(
        self, *args: Any, teacher_actions: Optional[Tensor] = None, teacher_weights: Optional[Tensor] = None,
        teacher_guided: Optional[Tensor] = None, buffer_index: int = 0, **kwargs: Any,
    ) -> None:
        """habitat's ``insert``, plus the teacher's guidance ([n, K, A], [n, K], [n, 1]) for the current step."""
        super().insert(*args, buffer_index=buffer_index, **kwargs)
        given = [t is not None for t in (teacher_actions, teacher_weights, teacher_guided)]
        if any(given) and not all(given):
            raise ValueError("teacher_actions, teacher_weights and teacher_guided are inserted together")
        if not any(given):
            return
        set_at_current_step(
            self, buffer_index,
            {TEACHER_ACTIONS: teacher_actions, TEACHER_WEIGHTS: teacher_weights, TEACHER_GUIDED: teacher_guided},
        )


@baseline_registry.register_updater
class L4TContinuousDistillPPO(L4TDistillPPO):
    """habitat's PPO plus lambda * continuous distillation into a Gaussian policy."""

    distribution_type = "gaussian"
    teacher_keys = (TEACHER_ACTIONS, TEACHER_WEIGHTS, TEACHER_GUIDED)
    storage_name = "L4TContinuousRolloutStorage"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # habitat builds updaters from the PPO config only; the trainer calls configure() with ours.
        self.distill_loss_name = "nll"
        self.teacher_std = 0.1

    def configure(self, loss: str, teacher_std: float) -> None:
        if loss not in LOSSES:
            raise ValueError(f"llm4teach.distill.continuous_loss must be one of {LOSSES}, got '{loss}'")
        if loss == "kl" and teacher_std <= 0:
            raise ValueError(f"llm4teach.distill.teacher_std must be > 0 for the kl loss, got {teacher_std}")
        self.distill_loss_name, self.teacher_std = loss, teacher_std

    def distill(self, batch: dict[str, Any], distribution: Any) -> tuple[Tensor, int, int]:
        teacher_actions = batch[TEACHER_ACTIONS]  # [B, K, A]
        teacher_weights = batch[TEACHER_WEIGHTS]  # [B, K]
        teacher_guided = batch[TEACHER_GUIDED]  # [B, 1]
        loss, num_guided = continuous_distillation_loss(
            teacher_actions, teacher_weights, teacher_guided, distribution, self.distill_loss_name, self.teacher_std
        )
        with inference_mode():
            guided = teacher_guided.reshape(-1).bool()  # [B]
            best = teacher_weights.argmax(-1)  # [B]
            best_action = teacher_actions[torch.arange(len(best)), best]  # [B, A]
            close = (distribution.mean - best_action).abs().amax(-1) <= AGREEMENT_TOLERANCE  # [B]
            num_agreeing = int((close & guided).sum())
        return loss, num_guided, num_agreeing


@baseline_registry.register_updater
class L4TContinuousDistillDDPPO(L4TContinuousDistillPPO, DDPPO):
    """DD-PPO variant (MRO as for L4TDistillDDPPO)."""
