"""Continuous-action distillation on synthetic batches: loss, masking, gradient direction, storage, updater."""

from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np
import pytest
import torch
from gym import spaces
from habitat_baselines.common.baseline_registry import baseline_registry
from habitat_baselines.config.default_structured_configs import ActionDistributionConfig, PolicyConfig, PPOConfig
from habitat_baselines.rl.ppo.policy import NetPolicy

from distill_fakes import OBS_DIM, OBSERVATION_SPACE, PPO_CONFIG, STATE, TinyNet
from habitat_llm4teach.distill.continuous import (
    L4TContinuousDistillDDPPO,
    L4TContinuousDistillPPO,
    L4TContinuousRolloutStorage,
    continuous_distillation_loss,
    gaussian_kl,
)
from habitat_llm4teach.distill.updater import DISTILL_AGREEMENT, DISTILL_LOSS
from habitat_llm4teach.keys import MAX_TEACHER_PLANS, TEACHER_ACTIONS, TEACHER_GUIDED, TEACHER_WEIGHTS

ACTION_DIM = 3
FAST_PPO_CONFIG = PPOConfig(ppo_epoch=1, num_mini_batch=1, use_normalized_advantage=False, lr=1e-2)
BOX = spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)


class TinyGaussianPolicy(NetPolicy):
    def __init__(self, action_space: spaces.Space, policy_config: PolicyConfig | None = None) -> None:
        super().__init__(TinyNet(), action_space, policy_config=policy_config)

    @classmethod
    def from_config(cls, config, observation_space, action_space, **kwargs):
        raise NotImplementedError


def gaussian_policy(seed: int = 0) -> NetPolicy:
    torch.manual_seed(seed)
    config = PolicyConfig(action_distribution_type="gaussian", action_dist=ActionDistributionConfig(std_init=-1.0, use_std_param=True))
    return TinyGaussianPolicy(BOX, config)


def _student(mean, std=0.5):
    mean = torch.as_tensor(mean, dtype=torch.float32).requires_grad_(True)
    return mean, torch.distributions.Normal(mean, torch.full_like(mean, std))


@pytest.mark.parametrize("loss", ["nll", "kl"])
def test_gradient_moves_the_student_mean_toward_the_teacher_action(loss):
    mean, student = _student([[0.0, 0.0, 0.0], [0.5, -0.5, 0.0]])
    teacher_actions = torch.zeros(2, 2, ACTION_DIM)
    teacher_actions[:, 0] = torch.tensor([0.8, -0.4, 0.3])
    teacher_weights = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    value, num_guided = continuous_distillation_loss(teacher_actions, teacher_weights, torch.ones(2, 1, dtype=torch.bool), student, loss)
    value.backward()
    assert num_guided == 2
    step = -mean.grad  # gradient descent direction
    to_teacher = teacher_actions[:, 0] - mean.detach()
    assert torch.all((step * to_teacher).sum(-1) > 0)
    # A small step lowers the loss.
    _, moved = _student(mean.detach() + 0.1 * step)
    assert continuous_distillation_loss(teacher_actions, teacher_weights, torch.ones(2, 1, dtype=torch.bool), moved, loss)[0] < value


def test_plan_weights_pull_toward_the_more_probable_plan():
    mean, student = _student([[0.0]])
    actions = torch.tensor([[[1.0], [-1.0]]])  # [1, K=2, A=1]: two plans, opposite actions
    loss, _ = continuous_distillation_loss(actions, torch.tensor([[0.8, 0.2]]), torch.ones(1, 1, dtype=torch.bool), student)
    loss.backward()
    assert mean.grad.item() < 0  # descent moves the mean toward +1, the 0.8 plan


def test_unguided_steps_are_masked_out():
    mean, student = _student([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    actions = torch.ones(2, 1, ACTION_DIM)
    weights = torch.ones(2, 1)
    guided = torch.tensor([[True], [False]])
    loss, num_guided = continuous_distillation_loss(actions, weights, guided, student)
    loss.backward()
    assert num_guided == 1
    assert torch.all(mean.grad[1] == 0) and torch.all(mean.grad[0] != 0)
    none, zero = continuous_distillation_loss(actions, weights, torch.zeros(2, 1, dtype=torch.bool), student)
    assert zero == 0 and none.item() == 0 and not none.requires_grad


def test_nll_matches_the_normal_log_likelihood_and_kl_is_zero_at_the_teacher():
    mean, student = _student([[0.2, -0.1, 0.4]], std=0.3)
    action = torch.tensor([[[0.5, 0.0, 0.1]]])
    nll, _ = continuous_distillation_loss(action, torch.ones(1, 1), torch.ones(1, 1, dtype=torch.bool), student)
    expected = -torch.distributions.Normal(mean, 0.3).log_prob(action[:, 0]).sum()
    assert nll.item() == pytest.approx(expected.item(), rel=1e-6)
    same = gaussian_kl(torch.tensor([0.3, 0.1]), 0.2, torch.tensor([0.3, 0.1]), torch.tensor([0.2, 0.2]))
    assert same.item() == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="nll.*kl"):
        continuous_distillation_loss(action, torch.ones(1, 1), torch.ones(1, 1, dtype=torch.bool), student, "mse")


def test_storage_holds_the_teachers_plans_per_step():
    policy = gaussian_policy()
    storage = L4TContinuousRolloutStorage(4, 2, OBSERVATION_SPACE, BOX, policy)
    assert storage.buffers[TEACHER_ACTIONS].shape == (5, 2, MAX_TEACHER_PLANS, ACTION_DIM)
    assert storage.buffers[TEACHER_WEIGHTS].shape == (5, 2, MAX_TEACHER_PLANS)
    actions = torch.rand(2, MAX_TEACHER_PLANS, ACTION_DIM)
    weights = torch.tensor([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0]])
    storage.insert(teacher_actions=actions, teacher_weights=weights, teacher_guided=torch.tensor([[True], [False]]))
    assert torch.equal(storage.buffers[TEACHER_ACTIONS][0], actions)
    assert storage.buffers[TEACHER_GUIDED][0, :, 0].tolist() == [True, False]
    with pytest.raises(ValueError, match="together"):
        storage.insert(teacher_actions=actions)
    with pytest.raises(ValueError, match="Box"):
        L4TContinuousRolloutStorage(4, 2, OBSERVATION_SPACE, spaces.Discrete(3), policy)


def _minibatch(policy: NetPolicy, teacher_action: torch.Tensor, batch_size: int = 16) -> dict:
    generator = torch.Generator().manual_seed(3)
    observations = torch.randn(batch_size, OBS_DIM, generator=generator)
    with torch.no_grad():
        features, _, _ = policy.net({STATE: observations}, None, None, None)
        actions = policy.action_distribution(features).sample()
        old_log_probs = policy.action_distribution(features).log_probs(actions)
    teacher_actions = torch.zeros(batch_size, MAX_TEACHER_PLANS, ACTION_DIM)
    teacher_actions[:, 0] = teacher_action
    teacher_weights = torch.zeros(batch_size, MAX_TEACHER_PLANS)
    teacher_weights[:, 0] = 1.0
    return {
        "observations": {STATE: observations}, "recurrent_hidden_states": torch.zeros(1, 1, 2),
        "prev_actions": torch.zeros(batch_size, ACTION_DIM), "masks": torch.ones(batch_size, 1, dtype=torch.bool),
        "actions": actions, "action_log_probs": old_log_probs, "value_preds": torch.zeros(batch_size, 1),
        "returns": torch.zeros(batch_size, 1), "advantages": torch.zeros(batch_size, 1),
        "rnn_build_seq_info": {}, TEACHER_ACTIONS: teacher_actions, TEACHER_WEIGHTS: teacher_weights,
        TEACHER_GUIDED: torch.ones(batch_size, 1, dtype=torch.bool),
    }


@pytest.mark.parametrize("loss", ["nll", "kl"])
def test_updater_pulls_the_student_mean_toward_the_teacher(loss):
    policy = gaussian_policy()
    updater = L4TContinuousDistillPPO.from_config(copy.deepcopy(policy), FAST_PPO_CONFIG)
    updater.configure(loss, teacher_std=0.1)
    updater.distill_coef = 10.0
    target = torch.tensor([0.7, -0.5, 0.2])
    batch = _minibatch(updater.actor_critic, target)

    def error() -> float:
        with torch.no_grad():
            features, _, _ = updater.actor_critic.net(batch["observations"], None, None, None)
            return float((updater.actor_critic.action_distribution(features).mean - target).abs().mean())

    before = error()
    metrics = defaultdict(list)
    for _ in range(30):
        updater._update_from_batch(batch, 0, None, metrics)
    assert error() < 0.5 * before
    assert metrics[DISTILL_LOSS] and metrics[DISTILL_LOSS][-1] < metrics[DISTILL_LOSS][0]


def test_updater_checks_policy_and_batch():
    categorical = TinyGaussianPolicy(spaces.Discrete(3))  # no policy config: categorical
    with pytest.raises(ValueError, match="gaussian"):
        L4TContinuousDistillPPO.from_config(categorical, PPO_CONFIG)
    updater = L4TContinuousDistillPPO.from_config(gaussian_policy(), PPO_CONFIG)
    with pytest.raises(ValueError, match="continuous_loss"):
        updater.configure("mse", 0.1)
    updater.distill_coef = 1.0
    batch = _minibatch(updater.actor_critic, torch.zeros(ACTION_DIM))
    del batch[TEACHER_WEIGHTS]
    with pytest.raises(KeyError, match="rollout_storage_name=L4TContinuousRolloutStorage"):
        updater._update_from_batch(batch, 0, None, defaultdict(list))


def test_continuous_components_are_registered():
    assert baseline_registry.get_storage("L4TContinuousRolloutStorage") is L4TContinuousRolloutStorage
    assert baseline_registry.get_updater("L4TContinuousDistillPPO") is L4TContinuousDistillPPO
    assert baseline_registry.get_updater("L4TContinuousDistillDDPPO") is L4TContinuousDistillDDPPO
    assert DISTILL_AGREEMENT  # the agreement metric name is shared with the discrete updater
