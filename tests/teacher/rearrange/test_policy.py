"""The pick/place teacher-alone policy: the per-step plan accuracy it reports through habitat's evaluator."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from gym import spaces

from habitat_llm4teach import keys
from habitat_llm4teach.keys import TEACHER_ACTIONS, TEACHER_GUIDED, TEACHER_WEIGHTS
from habitat_llm4teach.teacher.rearrange import policy as policy_module
from habitat_llm4teach.teacher.rearrange.skills import ACTION_DIM


class ScriptedTeacher:
    """Gives the skill each env's script names at each step; perceptions carry the skill the task wants."""

    def __init__(self, script):
        self.script, self.step = script, 0  # script[step] = [(skill or None, expected skill), ...] one per env

    def guide_batch(self, observations):
        rows = self.script[self.step]
        self.step += 1
        n = len(rows)
        self.last_skills = [skill for skill, _ in rows]
        self.last_perceptions = [SimpleNamespace(expected=expected) for _, expected in rows]
        self.last_plans = ["plan"] * n
        return {
            TEACHER_ACTIONS: torch.zeros(n, 1, ACTION_DIM), TEACHER_WEIGHTS: torch.ones(n, 1),
            TEACHER_GUIDED: torch.tensor([[skill is not None] for skill, _ in rows]),
        }

    def save_cache(self):
        pass


@pytest.fixture
def make_policy(monkeypatch):
    monkeypatch.setattr(policy_module, "expected_skill", lambda perception: perception.expected)

    def make(script):
        space = spaces.Box(-1.0, 1.0, (ACTION_DIM,), dtype=np.float32)
        return policy_module.L4TRearrangeTeacherPolicy(ScriptedTeacher(script), space)

    return make


def _act(policy, hidden, masks):
    n = hidden.shape[0]
    obs = {keys.IS_HOLDING: torch.zeros(n, 1)}
    data = policy.act(obs, hidden, None, torch.tensor(masks).view(n, 1))
    return data.rnn_hidden_states, [info["teacher_skill_correct"] for info in data.policy_info]


def test_skill_correct_is_the_share_of_the_episode_steps_and_restarts_with_each_episode(make_policy):
    nav, pick = "navigate to apple", "pick apple"
    policy = make_policy([
        [(nav, nav), (pick, nav)],
        [(pick, nav), (pick, pick)],
        [(pick, pick), (None, pick)],  # env 1: unguided counts as wrong
        [(nav, nav), (pick, pick)],    # env 0 starts a new episode here
    ])
    assert policy.hidden_state_shape == (1, 2)
    hidden = torch.zeros(2, *policy.hidden_state_shape)
    hidden, shares = _act(policy, hidden, [False, False])
    assert shares == [1.0, 0.0]
    hidden, shares = _act(policy, hidden, [True, True])
    assert shares == [0.5, 0.5]
    hidden, shares = _act(policy, hidden, [True, True])
    assert shares == pytest.approx([2 / 3, 1 / 3])
    hidden, shares = _act(policy, hidden, [False, True])
    assert shares == pytest.approx([1.0, 2 / 4])


def test_counts_follow_an_env_when_the_evaluator_pauses_another(make_policy):
    """habitat's pause_envs drops paused rows of the hidden state; the counts of the env left keep going."""
    nav = "navigate to apple"
    policy = make_policy([[(nav, nav), ("x", nav)], [(nav, nav)]])
    hidden = torch.zeros(2, *policy.hidden_state_shape)
    hidden, _ = _act(policy, hidden, [False, False])
    hidden, shares = _act(policy, hidden[[1]], [True])  # env 0 paused: env 1 is now row 0
    assert shares == [0.5]
