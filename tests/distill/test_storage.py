"""L4TRolloutStorage: teacher buffers beside the observations they describe, carried into PPO minibatches."""

from __future__ import annotations

import pytest
import torch
from gym import spaces
from habitat_baselines.common.baseline_registry import baseline_registry

from distill_fakes import ACTION_SPACE, NUM_ACTIONS, OBSERVATION_SPACE, STATE, tiny_policy
from habitat_llm4teach.distill.storage import L4TRolloutStorage
from habitat_llm4teach.keys import TEACHER_GUIDED, TEACHER_PROBS

NUM_STEPS, NUM_ENVS = 5, 4


def _storage(double_buffered: bool = False) -> L4TRolloutStorage:
    return L4TRolloutStorage(NUM_STEPS, NUM_ENVS, OBSERVATION_SPACE, ACTION_SPACE, tiny_policy(), double_buffered)


def _code(step: int, env: int) -> float:
    return 10.0 * step + env


def _teacher_for(step: int, envs: range) -> tuple[torch.Tensor, torch.Tensor]:
    """teacher_probs whose first entry encodes (step, env), guided on odd envs."""
    teacher_probs = torch.zeros(len(envs), NUM_ACTIONS)  # [n, A]
    teacher_probs[:, 0] = torch.tensor([_code(step, e) for e in envs])
    teacher_guided = torch.tensor([[e % 2 == 1] for e in envs])  # [n, 1]
    return teacher_probs, teacher_guided


def _observations(step: int) -> dict:
    state = torch.zeros(NUM_ENVS, 4)
    state[:, 0] = torch.tensor([_code(step, e) for e in range(NUM_ENVS)])
    return {STATE: state}


def _fill(storage: L4TRolloutStorage) -> None:
    """One rollout the way PPOTrainer drives it: act (+ teacher) at t, observe at t+1, advance."""
    storage.insert_first_observations(_observations(0))
    for step in range(NUM_STEPS):
        storage.insert(actions=torch.full((NUM_ENVS, 1), step), action_log_probs=torch.zeros(NUM_ENVS, 1),
                       value_preds=torch.zeros(NUM_ENVS, 1))
        teacher_probs, teacher_guided = _teacher_for(step, range(NUM_ENVS))
        storage.insert(teacher_probs=teacher_probs, teacher_guided=teacher_guided)
        storage.insert(next_observations=_observations(step + 1), rewards=torch.zeros(NUM_ENVS, 1),
                       next_masks=torch.ones(NUM_ENVS, 1, dtype=torch.bool))
        storage.advance_rollout()


def test_registered_name_resolves():
    assert baseline_registry.get_storage("L4TRolloutStorage") is L4TRolloutStorage


def test_buffers_have_one_row_per_step_and_a_column_per_action():
    storage = _storage()
    assert storage.buffers[TEACHER_PROBS].shape == (NUM_STEPS + 1, NUM_ENVS, NUM_ACTIONS)
    assert storage.buffers[TEACHER_GUIDED].shape == (NUM_STEPS + 1, NUM_ENVS, 1)
    assert storage.buffers[TEACHER_GUIDED].dtype == torch.bool


def test_teacher_guidance_sits_at_the_step_of_the_observation_it_describes():
    storage = _storage()
    _fill(storage)
    observed = storage.buffers["observations"][STATE][:NUM_STEPS, :, 0]  # [T, N]
    described = storage.buffers[TEACHER_PROBS][:NUM_STEPS, :, 0]  # [T, N]
    assert torch.equal(observed, described)
    assert torch.equal(storage.buffers["actions"][:NUM_STEPS, :, 0].float(), torch.arange(NUM_STEPS).float()[:, None].expand(-1, NUM_ENVS))


def test_minibatches_carry_teacher_buffers_aligned_with_observations():
    storage = _storage()
    _fill(storage)
    batches = list(storage.data_generator(torch.zeros(NUM_STEPS + 1, NUM_ENVS, 1), num_mini_batch=2))
    assert len(batches) == 2
    for batch in batches:
        batch_size = NUM_STEPS * NUM_ENVS // 2
        assert batch[TEACHER_PROBS].shape == (batch_size, NUM_ACTIONS)
        assert batch[TEACHER_GUIDED].shape == (batch_size, 1)
        codes = batch["observations"][STATE][:, 0]  # [B]
        assert torch.equal(batch[TEACHER_PROBS][:, 0], codes)
        envs = codes.long() % 10
        assert torch.equal(batch[TEACHER_GUIDED][:, 0], envs % 2 == 1)


def test_after_update_moves_the_last_row_to_the_first():
    storage = _storage()
    _fill(storage)
    storage.buffers[TEACHER_PROBS][NUM_STEPS] = 7.0
    storage.after_update()
    assert storage.current_rollout_step_idx == 0
    assert torch.all(storage.buffers[TEACHER_PROBS][0] == 7.0)


def test_double_buffered_insert_writes_only_its_half_of_the_envs():
    storage = _storage(double_buffered=True)
    teacher_probs, teacher_guided = _teacher_for(0, range(2, 4))
    storage.insert(teacher_probs=teacher_probs, teacher_guided=teacher_guided, buffer_index=1)
    assert torch.all(storage.buffers[TEACHER_PROBS][0, :2] == 0)
    assert torch.equal(storage.buffers[TEACHER_PROBS][0, 2:], teacher_probs)
    assert torch.equal(storage.buffers[TEACHER_GUIDED][0, 2:], teacher_guided)


def test_probs_and_guided_go_together_and_actions_must_be_discrete():
    storage = _storage()
    with pytest.raises(ValueError, match="together"):
        storage.insert(teacher_probs=torch.zeros(NUM_ENVS, NUM_ACTIONS))
    with pytest.raises(ValueError, match="discrete"):
        L4TRolloutStorage(NUM_STEPS, NUM_ENVS, OBSERVATION_SPACE, spaces.Box(-1, 1, (2,)), tiny_policy())
