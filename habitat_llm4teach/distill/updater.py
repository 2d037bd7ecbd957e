"""``L4TDistillPPO`` / ``L4TDistillDDPPO``: habitat's PPO update plus the LLM4Teach distillation term.

Owns the distillation loss. Per minibatch of B steps:

    distill_loss = mean over guided steps of  -sum_a teacher_probs[a] * log pi_student(a | s)
    total_loss   = PPO loss (habitat's, unchanged) + lambda * distill_loss

Steps the teacher did not guide contribute nothing; a minibatch without a
guided step, or lambda = 0, leaves habitat's PPO loss exactly as it is. lambda
(``distill_coef``) is set by the trainer before every update from its schedule.

How it hooks into habitat's ``PPO._update_from_batch`` (whose loss math is not copied):

- ``_evaluate_actions`` (named extension point): runs habitat's own evaluation
  (through DDP for ``L4TDistillDDPPO``) and keeps the student's full
  log-probabilities [B, A], read from the categorical distribution the policy's
  ``action_distribution`` head builds in that same forward pass (a forward hook:
  the network runs once, and under DDP every op stays inside DDP's forward).
- ``before_backward`` (named extension point): adds ``lambda * distill_loss``
  and records ``distill/*`` learner metrics.
- ``_update_from_batch``: only keeps the minibatch (teacher buffers) and the
  learner-metrics dict for the two hooks above, then calls habitat's.
- ``update``: adds ``distill/agreement`` over the whole update.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional

import torch
from habitat_baselines.common.baseline_registry import baseline_registry
from habitat_baselines.common.rollout_storage import RolloutStorage
from habitat_baselines.rl.ddppo.algo.ddppo import DDPPO
from habitat_baselines.rl.ppo.ppo import PPO
from habitat_baselines.utils.common import inference_mode
from torch import Tensor

from habitat_llm4teach.distill.optimizer import FusedAdam
from habitat_llm4teach.keys import TEACHER_GUIDED, TEACHER_PROBS

# Learner metrics, logged by habitat as learner/<name>.
DISTILL_LAMBDA = "distill/lambda"
DISTILL_LOSS = "distill/loss"
DISTILL_AGREEMENT = "distill/agreement"
DISTILL_GUIDED_FRAC = "distill/guided_frac"

# Key of the trainer's own state inside habitat's resume state (see L4TDistillPPO.get_resume_state).
TRAINER_STATE_KEY = "llm4teach"


def distillation_loss(teacher_probs: Tensor, teacher_guided: Tensor, student_log_probs: Tensor) -> tuple[Tensor, int]:
    """Cross-entropy from the teacher to the student, averaged over guided steps.

    ``teacher_probs`` [B, A], ``teacher_guided`` [B, 1] (bool), ``student_log_probs`` [B, A].
    Returns (loss, number of guided steps); without guided steps the loss is a
    constant 0 that carries no gradient.
    """
    guided = teacher_guided.reshape(-1).bool()  # [B]
    num_guided = int(guided.sum())
    if num_guided == 0:
        return student_log_probs.new_zeros(()), 0
    cross_entropy = -(teacher_probs[guided] * student_log_probs[guided]).sum(-1)  # [G]
    return cross_entropy.mean(), num_guided


class _CapturedDistribution:
    def __init__(self) -> None:
        self.distributions: list[Any] = []

    def distribution(self) -> Any:
        """The one action distribution the policy built (categorical or Gaussian)."""
        if len(self.distributions) != 1:
            raise RuntimeError(
                f"expected the policy to build its action distribution once per evaluate_actions, got {len(self.distributions)}"
            )
        return self.distributions[0]


@contextlib.contextmanager
def capture_action_distribution(actor_critic: Any) -> Iterator[_CapturedDistribution]:
    """Record what ``actor_critic.action_distribution`` returns while the block runs."""
    captured = _CapturedDistribution()
    handle = actor_critic.action_distribution.register_forward_hook(
        lambda module, inputs, output: captured.distributions.append(output)
    )
    try:
        yield captured
    finally:
        handle.remove()


@baseline_registry.register_updater
class L4TDistillPPO(FusedAdam, PPO):
    """habitat's PPO (with a fused Adam step, optimizer.py) plus ``distill_coef`` (lambda) * distillation on guided steps."""

    # The policy's action distribution this updater distils into, and the minibatch keys it reads.
    distribution_type = "categorical"
    teacher_keys: tuple[str, ...] = (TEACHER_PROBS, TEACHER_GUIDED)
    storage_name = "L4TRolloutStorage"

    @classmethod
    def from_config(cls, actor_critic: Any, config: Any) -> "L4TDistillPPO":
        if getattr(actor_critic, "action_distribution_type", None) != cls.distribution_type:
            raise ValueError(
                f"{cls.__name__} distils into a {cls.distribution_type} policy; "
                f"{type(actor_critic).__name__} has action_distribution_type="
                f"{getattr(actor_critic, 'action_distribution_type', None)!r}"
            )
        return super().from_config(actor_critic, config)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # lambda for the coming update; set by the trainer before each update.
        self.distill_coef: Optional[float] = None
        # The trainer's state (schedule, plan cache path), saved in habitat's resume state with the optimizer.
        self.trainer_state: Optional[dict[str, Any]] = None
        # Per-minibatch context for _evaluate_actions / before_backward.
        self._minibatch: Optional[dict[str, Any]] = None
        self._learner_metrics: Optional[dict[str, list]] = None
        self._student_distribution: Optional[Any] = None  # this minibatch's action distribution
        # Agreement over the current update.
        self._num_agreeing = 0
        self._num_guided = 0

    def update(self, rollouts: RolloutStorage) -> dict[str, float]:
        self._num_agreeing = self._num_guided = 0
        metrics = super().update(rollouts)
        # NaN when the teacher guided no step of this update (agreement is undefined then).
        metrics[DISTILL_AGREEMENT] = self._num_agreeing / self._num_guided if self._num_guided else float("nan")
        return metrics

    def _update_from_batch(self, batch: dict[str, Any], epoch: int, rollouts: RolloutStorage, learner_metrics: dict) -> None:
        # habitat passes the minibatch only here; keep it for _evaluate_actions / before_backward.
        for key in self.teacher_keys:
            if key not in batch:
                raise KeyError(
                    f"the PPO minibatch has no '{key}': {type(self).__name__} needs "
                    f"habitat_baselines.rollout_storage_name={self.storage_name}"
                )
        self._minibatch, self._learner_metrics = batch, learner_metrics
        try:
            super()._update_from_batch(batch, epoch, rollouts, learner_metrics)
        finally:
            self._minibatch = self._learner_metrics = self._student_distribution = None

    def _evaluate_actions(self, *args: Any, **kwargs: Any):
        with capture_action_distribution(self.actor_critic) as captured:
            outputs = super()._evaluate_actions(*args, **kwargs)
        self._student_distribution = captured.distribution()
        return outputs

    def distill(self, batch: dict[str, Any], distribution: Any) -> tuple[Tensor, int, int]:
        """(distillation loss, guided steps, guided steps where the student agrees with the teacher) for a minibatch."""
        teacher_probs = batch[TEACHER_PROBS]  # [B, A]
        teacher_guided = batch[TEACHER_GUIDED]  # [B, 1]
        student_log_probs = distribution.logits  # [B, A]; torch's Categorical stores them normalised: log pi(a|s)
        distill_loss, num_guided = distillation_loss(teacher_probs, teacher_guided, student_log_probs)
        with inference_mode():
            guided = teacher_guided.reshape(-1).bool()  # [B]
            agreeing = student_log_probs.argmax(-1) == teacher_probs.argmax(-1)  # [B]
            num_agreeing = int((agreeing & guided).sum())
        return distill_loss, num_guided, num_agreeing

    def before_backward(self, loss: Tensor) -> Tensor:
        loss = super().before_backward(loss)
        if self.distill_coef is None:
            raise RuntimeError(
                f"{type(self).__name__}.distill_coef (lambda) was never set: use it with "
                "habitat_baselines.trainer_name=llm4teach, which sets it before every update"
            )
        assert self._minibatch is not None and self._learner_metrics is not None
        assert self._student_distribution is not None, "_evaluate_actions did not run for this minibatch"
        distill_loss, num_guided, num_agreeing = self.distill(self._minibatch, self._student_distribution)

        with inference_mode():
            self._num_agreeing += num_agreeing
            self._num_guided += num_guided
            self._learner_metrics[DISTILL_LAMBDA].append(float(self.distill_coef))
            self._learner_metrics[DISTILL_LOSS].append(distill_loss.detach())
            self._learner_metrics[DISTILL_GUIDED_FRAC].append(num_guided / self._minibatch[TEACHER_GUIDED].numel())

        if self.distill_coef == 0 or num_guided == 0:
            return loss  # exactly habitat's PPO loss
        return loss + self.distill_coef * distill_loss

    def get_resume_state(self) -> dict[str, Any]:
        # habitat builds its resume state from the agent, which takes the updater's; PPOTrainer.train has no
        # other hook, so the trainer's state rides along here (restored by the trainer from the resume state).
        state = super().get_resume_state()
        if self.trainer_state is not None:
            state[TRAINER_STATE_KEY] = self.trainer_state
        return state


@baseline_registry.register_updater
class L4TDistillDDPPO(L4TDistillPPO, DDPPO):
    """DD-PPO variant. MRO: L4TDistillPPO -> DDPPO -> DecentralizedDistributedMixin -> PPO, so the
    distillation hooks wrap habitat's DDP-wrapped ``_evaluate_actions`` (habitat's ``DDPPO`` is
    ``DecentralizedDistributedMixin`` + ``PPO``; here the distillation sits in front of it)."""
