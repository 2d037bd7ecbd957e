"""Synthetic pieces for the distillation tests: a tiny categorical NetPolicy and hand-built PPO minibatches."""

from __future__ import annotations

import numpy as np
import torch
from gym import spaces
from habitat_baselines.config.default_structured_configs import PPOConfig
from habitat_baselines.rl.ppo.policy import NetPolicy
from torch import nn

from habitat_llm4teach.distill.storage import TEACHER_GUIDED, TEACHER_PROBS

OBS_DIM = 4
NUM_ACTIONS = 7
STATE = "state"
OBSERVATION_SPACE = spaces.Dict({STATE: spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32)})
ACTION_SPACE = spaces.Discrete(NUM_ACTIONS)
PPO_CONFIG = PPOConfig(ppo_epoch=1, num_mini_batch=1, use_normalized_advantage=False)


class TinyNet(nn.Module):
    """One linear layer on the ``state`` observation; no RNN (the hidden state is passed through)."""

    output_size = 16
    num_recurrent_layers = 1
    recurrent_hidden_size = 2
    is_blind = True
    visual_encoder = None

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(OBS_DIM, self.output_size)

    def forward(self, observations, rnn_hidden_states, prev_actions, masks, rnn_build_seq_info=None):
        return torch.tanh(self.body(observations[STATE])), rnn_hidden_states, {}


class TinyPolicy(NetPolicy):
    def __init__(self) -> None:
        super().__init__(TinyNet(), ACTION_SPACE)

    @classmethod
    def from_config(cls, config, observation_space, action_space, **kwargs):
        return cls()


def tiny_policy(seed: int = 0) -> TinyPolicy:
    torch.manual_seed(seed)
    return TinyPolicy()


def student_log_probs_of(policy: TinyPolicy, observations: torch.Tensor) -> torch.Tensor:
    """log pi(a|s) [B, A] straight from the policy's layers."""
    features, _, _ = policy.net({STATE: observations}, None, None, None)
    return torch.log_softmax(policy.action_distribution.linear(features), -1)


def make_minibatch(policy: TinyPolicy, batch_size: int = 12, guided_every: int = 2, teacher_action: int = 2,
                   seed: int = 1) -> dict:
    """A PPO minibatch as ``RolloutStorage.data_generator`` yields it, with teacher buffers.

    Every ``guided_every``-th step is guided with a one-hot teacher on ``teacher_action``;
    the other steps carry a uniform teacher_probs and teacher_guided=False.
    """
    generator = torch.Generator().manual_seed(seed)
    observations = torch.randn(batch_size, OBS_DIM, generator=generator)  # [B, S]
    actions = torch.randint(0, NUM_ACTIONS, (batch_size, 1), generator=generator)  # [B, 1]
    with torch.no_grad():
        old_log_probs = student_log_probs_of(policy, observations).gather(1, actions)  # [B, 1]
    teacher_guided = (torch.arange(batch_size) % guided_every == 0).unsqueeze(1)  # [B, 1]
    teacher_probs = torch.full((batch_size, NUM_ACTIONS), 1.0 / NUM_ACTIONS)  # [B, A]
    teacher_probs[teacher_guided.squeeze(1)] = nn.functional.one_hot(torch.tensor(teacher_action), NUM_ACTIONS).float()
    return {
        "observations": {STATE: observations},
        "recurrent_hidden_states": torch.zeros(1, 1, 2),
        "prev_actions": torch.zeros(batch_size, 1, dtype=torch.long),
        "masks": torch.ones(batch_size, 1, dtype=torch.bool),
        "actions": actions,
        "action_log_probs": old_log_probs,
        "value_preds": torch.zeros(batch_size, 1),
        "returns": torch.randn(batch_size, 1, generator=generator),
        "advantages": torch.randn(batch_size, 1, generator=generator),
        TEACHER_PROBS: teacher_probs,
        TEACHER_GUIDED: teacher_guided,
    }
