"""distill/optimizer.py: the fused Adam step is habitat's Adam update, and the configs use it."""

from __future__ import annotations

import copy

import torch
from habitat_baselines.common.baseline_registry import baseline_registry
from habitat_baselines.rl.ddppo.algo.ddppo import DDPPO
from habitat_baselines.rl.ppo.ppo import PPO

from habitat_llm4teach.distill.optimizer import FusedAdam, FusedAdamDDPPO, FusedAdamPPO, fused_adam_supported
from habitat_llm4teach.distill.updater import L4TDistillDDPPO, L4TDistillPPO


def _updater(cls, seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    return cls(net, clip_param=0.2, ppo_epoch=1, num_mini_batch=1, value_loss_coef=0.5, entropy_coef=0.01, lr=1e-2, eps=1e-5)


def _train(updater, steps, seed=1):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(32, 8, generator=generator)
        updater.optimizer.zero_grad()
        updater.actor_critic(x).pow(2).mean().backward()
        updater.optimizer.step()


def test_updaters_build_a_fused_adam_on_the_cpu_with_habitats_hyper_parameters():
    for cls in (FusedAdamPPO, L4TDistillPPO):
        optimizer = _updater(cls).optimizer
        assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["fused"] is True
        assert optimizer.defaults["lr"] == 1e-2 and optimizer.defaults["eps"] == 1e-5
    stock = _updater(PPO).optimizer
    assert stock.defaults["foreach"] is True and not stock.defaults["fused"]
    assert baseline_registry.get_updater("FusedAdamPPO") is FusedAdamPPO
    assert baseline_registry.get_updater("FusedAdamDDPPO") is FusedAdamDDPPO
    # The distributed updaters take the fused step and keep DD-PPO's own behaviour.
    for cls in (FusedAdamDDPPO, L4TDistillDDPPO):
        assert cls._create_optimizer is FusedAdam._create_optimizer
        assert cls.init_distributed is DDPPO.init_distributed
    assert FusedAdamDDPPO._evaluate_actions is DDPPO._evaluate_actions  # the forward through DDP


def test_fused_steps_match_habitats_adam_and_their_states_load_into_each_other():
    fused, stock = _updater(FusedAdamPPO), _updater(PPO)
    _train(fused, 20)
    _train(stock, 20)
    for a, b in zip(fused.parameters(), stock.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)  # same update, float order apart
    # A resume state written with habitat's optimizer goes on with the fused one, and back.
    resumed = _updater(FusedAdamPPO)
    resumed.actor_critic.load_state_dict(stock.actor_critic.state_dict())
    resumed.load_state_dict({"optim_state": copy.deepcopy(stock.optimizer.state_dict())})  # as habitat resumes
    assert all(group["fused"] is True and not group["foreach"] for group in resumed.optimizer.param_groups)
    _train(resumed, 5, seed=2)
    _train(stock, 5, seed=2)
    for a, b in zip(resumed.parameters(), stock.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_fused_adam_is_used_only_where_it_runs():
    assert fused_adam_supported([torch.zeros(2), torch.zeros(3)])
    assert not fused_adam_supported([torch.zeros(2, dtype=torch.int64)])
    assert not fused_adam_supported([torch.zeros(2, device="meta")])
