"""The distillation updaters on synthetic minibatches: the loss term, its gradient, lambda = 0, metrics, DDP."""

from __future__ import annotations

import copy
import dataclasses
import math
from collections import defaultdict

import pytest
import torch
from habitat_baselines.common.baseline_registry import baseline_registry
from habitat_baselines.rl.ppo.ppo import PPO

from distill_fakes import NUM_ACTIONS, PPO_CONFIG, STATE, make_minibatch, student_log_probs_of, tiny_policy
from habitat_llm4teach.distill.optimizer import FusedAdamPPO
from habitat_llm4teach.distill.updater import (
    DISTILL_GUIDED_FRAC,
    DISTILL_LAMBDA,
    DISTILL_LOSS,
    TRAINER_STATE_KEY,
    L4TDistillDDPPO,
    L4TDistillPPO,
    distillation_loss,
)
from habitat_llm4teach.keys import TEACHER_GUIDED, TEACHER_PROBS


def _updater(cls, policy, distill_coef=None, config=PPO_CONFIG):
    updater = cls.from_config(copy.deepcopy(policy), config)
    if distill_coef is not None:
        updater.distill_coef = distill_coef
    total_losses = []
    updater.after_backward = total_losses.append  # habitat hands the total loss to after_backward
    return updater, total_losses


def _params(updater):
    return [p.detach().clone() for p in updater.actor_critic.parameters()]


def test_registered_names_resolve():
    assert baseline_registry.get_updater("L4TDistillPPO") is L4TDistillPPO
    assert baseline_registry.get_updater("L4TDistillDDPPO") is L4TDistillDDPPO


def test_distillation_loss_is_teacher_to_student_cross_entropy_on_guided_steps():
    teacher_probs = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])  # [B, A]
    teacher_guided = torch.tensor([[True], [True], [False]])  # [B, 1]
    student_log_probs = torch.log(torch.tensor([[0.25, 0.25, 0.5], [0.1, 0.1, 0.8], [0.2, 0.3, 0.5]]))
    loss, num_guided = distillation_loss(teacher_probs, teacher_guided, student_log_probs)
    assert num_guided == 2
    assert loss.item() == pytest.approx((-math.log(0.25) - math.log(0.8)) / 2)


def test_distillation_gradient_moves_the_student_toward_the_teacher():
    teacher_probs = torch.tensor([[0.7, 0.2, 0.1, 0.0]] * 3)  # [B, A]
    teacher_guided = torch.ones(3, 1, dtype=torch.bool)
    student_logits = torch.zeros(3, 4, requires_grad=True)

    def kl_to_teacher():
        student_log_probs = torch.log_softmax(student_logits, -1)
        mask = teacher_probs > 0
        return (teacher_probs[mask] * (teacher_probs[mask].log() - student_log_probs[mask])).sum().item()

    before = kl_to_teacher()
    for _ in range(20):
        loss, _ = distillation_loss(teacher_probs, teacher_guided, torch.log_softmax(student_logits, -1))
        (grad,) = torch.autograd.grad(loss, student_logits)
        with torch.no_grad():
            student_logits -= 1.0 * grad
    assert kl_to_teacher() < 0.2 * before
    assert torch.softmax(student_logits, -1)[0].argmax() == 0


def test_unguided_steps_contribute_nothing():
    student_logits = torch.randn(4, 5, requires_grad=True)
    teacher_guided = torch.tensor([[True], [False], [True], [False]])
    teacher_probs = torch.softmax(torch.randn(4, 5), -1)
    other_probs = teacher_probs.clone()
    other_probs[~teacher_guided.squeeze(1)] = torch.softmax(torch.randn(2, 5), -1)  # only unguided rows differ

    loss, _ = distillation_loss(teacher_probs, teacher_guided, torch.log_softmax(student_logits, -1))
    other, _ = distillation_loss(other_probs, teacher_guided, torch.log_softmax(student_logits, -1))
    (grad,) = torch.autograd.grad(loss, student_logits)
    (other_grad,) = torch.autograd.grad(other, student_logits)
    assert torch.equal(loss, other) and torch.equal(grad, other_grad)
    assert torch.all(grad[~teacher_guided.squeeze(1)] == 0)

    none_guided, num_guided = distillation_loss(teacher_probs, torch.zeros(4, 1, dtype=torch.bool), student_logits)
    assert num_guided == 0 and none_guided.item() == 0.0 and not none_guided.requires_grad


def test_lambda_zero_is_exactly_habitats_ppo():
    # Against habitat's PPO with the same fused Adam step (the PPO arm's updater; optimizer.py): the loss is
    # habitat's PPO loss bit for bit, and so are the updated weights.
    policy = tiny_policy()
    batch = make_minibatch(policy)
    ppo, ppo_losses = _updater(FusedAdamPPO, policy)
    distill, distill_losses = _updater(L4TDistillPPO, policy, distill_coef=0.0)
    ppo._update_from_batch(batch, 0, None, defaultdict(list))
    metrics = defaultdict(list)
    distill._update_from_batch(batch, 0, None, metrics)
    assert torch.equal(ppo_losses[0], distill_losses[0])
    assert all(torch.equal(a, b) for a, b in zip(_params(ppo), _params(distill)))
    assert metrics[DISTILL_LAMBDA] == [0.0] and metrics[DISTILL_LOSS][0] > 0  # still measured


def test_total_loss_is_ppo_loss_plus_lambda_times_distillation():
    policy = tiny_policy()
    batch = make_minibatch(policy)
    ppo, ppo_losses = _updater(PPO, policy)
    distill, distill_losses = _updater(L4TDistillPPO, policy, distill_coef=2.5)
    ppo._update_from_batch(batch, 0, None, defaultdict(list))
    metrics = defaultdict(list)
    distill._update_from_batch(batch, 0, None, metrics)

    guided = batch[TEACHER_GUIDED].squeeze(1)
    with torch.no_grad():
        student_log_probs = student_log_probs_of(policy, batch["observations"][STATE])
    expected = -(batch[TEACHER_PROBS][guided] * student_log_probs[guided]).sum(-1).mean()
    assert (distill_losses[0] - ppo_losses[0]).item() == pytest.approx(2.5 * expected.item(), rel=1e-5)
    assert metrics[DISTILL_LOSS][0].item() == pytest.approx(expected.item(), rel=1e-5)
    assert metrics[DISTILL_GUIDED_FRAC] == [0.5]


def test_a_distillation_update_raises_the_teachers_action_on_guided_steps():
    policy = tiny_policy()
    teacher_action = 2
    batch = make_minibatch(policy, teacher_action=teacher_action)
    guided = batch[TEACHER_GUIDED].squeeze(1)
    observations = batch["observations"][STATE]

    def teacher_action_prob(updater):
        with torch.no_grad():
            return student_log_probs_of(updater.actor_critic, observations)[guided, teacher_action].exp().mean().item()

    config = dataclasses.replace(PPO_CONFIG, lr=1e-2)
    plain, _ = _updater(L4TDistillPPO, policy, distill_coef=0.0, config=config)
    distill, _ = _updater(L4TDistillPPO, policy, distill_coef=10.0, config=config)
    before = teacher_action_prob(plain)
    for _ in range(5):
        plain._update_from_batch(batch, 0, None, defaultdict(list))
        distill._update_from_batch(batch, 0, None, defaultdict(list))
    assert teacher_action_prob(distill) > before + 0.05
    assert teacher_action_prob(distill) > teacher_action_prob(plain) + 0.05


def test_unguided_minibatch_leaves_the_ppo_update_unchanged():
    policy = tiny_policy()
    batch = make_minibatch(policy)
    batch[TEACHER_GUIDED] = torch.zeros_like(batch[TEACHER_GUIDED])
    ppo, ppo_losses = _updater(FusedAdamPPO, policy)  # the same optimizer, as above
    distill, distill_losses = _updater(L4TDistillPPO, policy, distill_coef=10.0)
    ppo._update_from_batch(batch, 0, None, defaultdict(list))
    distill._update_from_batch(batch, 0, None, defaultdict(list))
    assert torch.equal(ppo_losses[0], distill_losses[0])
    assert all(torch.equal(a, b) for a, b in zip(_params(ppo), _params(distill)))


def test_lambda_must_be_set_and_teacher_buffers_present():
    policy = tiny_policy()
    updater, _ = _updater(L4TDistillPPO, policy)
    with pytest.raises(RuntimeError, match="distill_coef.*never set.*trainer_name=llm4teach"):
        updater._update_from_batch(make_minibatch(policy), 0, None, defaultdict(list))
    updater.distill_coef = 1.0
    batch = make_minibatch(policy)
    del batch[TEACHER_PROBS]
    with pytest.raises(KeyError, match="rollout_storage_name=L4TRolloutStorage"):
        updater._update_from_batch(batch, 0, None, defaultdict(list))


def test_gaussian_policies_are_rejected():
    policy = tiny_policy()
    policy.action_distribution_type = "gaussian"
    with pytest.raises(ValueError, match="categorical"):
        L4TDistillPPO.from_config(policy, PPO_CONFIG)


def test_trainer_state_rides_in_the_resume_state():
    updater, _ = _updater(L4TDistillPPO, tiny_policy())
    assert TRAINER_STATE_KEY not in updater.get_resume_state()
    updater.trainer_state = {"trainer": "llm4teach"}
    state = updater.get_resume_state()
    assert state[TRAINER_STATE_KEY] == {"trainer": "llm4teach"} and "optim_state" in state


def test_ddp_variant_distils_through_habitats_ddp_wrapper(tmp_path):
    """One-rank gloo group: L4TDistillDDPPO goes through DDP and matches L4TDistillPPO exactly."""
    policy = tiny_policy()
    batch = make_minibatch(policy)
    single, single_losses = _updater(L4TDistillPPO, policy, distill_coef=3.0)
    single._update_from_batch(batch, 0, None, defaultdict(list))

    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        ddp, ddp_losses = _updater(L4TDistillDDPPO, policy, distill_coef=3.0)
        ddp.init_distributed(find_unused_params=False)  # as PPOTrainer does
        calls = []
        wrapper = ddp._evaluate_actions_wrapper.ddp
        wrapper.register_forward_hook(lambda *args: calls.append(1))
        metrics = defaultdict(list)
        ddp._update_from_batch(batch, 0, None, metrics)
    finally:
        torch.distributed.destroy_process_group()
    assert calls == [1]  # evaluated once, through DDP
    assert torch.allclose(single_losses[0], ddp_losses[0])
    assert all(torch.allclose(a, b) for a, b in zip(_params(single), _params(ddp)))
    assert metrics[DISTILL_LAMBDA] == [3.0]


def test_update_reports_agreement_over_the_update():
    from habitat_llm4teach.distill.updater import DISTILL_AGREEMENT

    policy = tiny_policy()
    batch = make_minibatch(policy, teacher_action=1)
    updater, _ = _updater(L4TDistillPPO, policy, distill_coef=1.0)

    class OneBatchStorage:
        buffers = {"returns": batch["returns"], "value_preds": batch["value_preds"]}

        def data_generator(self, advantages, num_mini_batch):
            yield batch

    metrics = updater.update(OneBatchStorage())
    guided = batch[TEACHER_GUIDED].squeeze(1)
    with torch.no_grad():
        # agreement is measured on the minibatch before its gradient step
        student_argmax = student_log_probs_of(policy, batch["observations"][STATE]).argmax(-1)
    expected = (student_argmax[guided] == 1).float().mean().item()
    assert metrics[DISTILL_AGREEMENT] == pytest.approx(expected)
    assert {DISTILL_LAMBDA, DISTILL_LOSS, DISTILL_GUIDED_FRAC} <= set(metrics)
    assert NUM_ACTIONS == batch[TEACHER_PROBS].shape[1]
