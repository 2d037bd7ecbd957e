"""``L4TRolloutStorage``: habitat's rollout storage plus the teacher's guidance for every step.

Owns two extra buffers and the names they go by in PPO minibatches:

- ``teacher_probs``  [T+1, N, A]: the teacher's action distribution for the
  observation at step t (uniform where the teacher has no guidance);
- ``teacher_guided`` [T+1, N, 1]: whether the teacher guided that step.

Both sit at the same step index as the observation they describe, so
``RolloutStorage.data_generator`` (which slices every buffer) carries them into
the minibatches flattened to [B, A] and [B, 1], aligned with ``observations``
and ``actions``. ``after_update`` copies the last row to row 0 with everything
else.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from gym import spaces
from habitat_baselines.common.baseline_registry import baseline_registry
from habitat_baselines.common.rollout_storage import RolloutStorage

from habitat_llm4teach.keys import TEACHER_GUIDED, TEACHER_PROBS


def set_at_current_step(storage: RolloutStorage, buffer_index: int, fields: dict[str, torch.Tensor]) -> None:
    """Write ``fields`` ([n, ...] for the envs of ``buffer_index``) at the step those envs are acting on."""
    env_slice = slice(
        int(buffer_index * storage._num_envs / storage._nbuffers),
        int((buffer_index + 1) * storage._num_envs / storage._nbuffers),
    )
    storage.buffers.set((storage.current_rollout_step_idxs[buffer_index], env_slice), fields, strict=False)


@baseline_registry.register_storage
class L4TRolloutStorage(RolloutStorage):
    def __init__(
        self,
        numsteps: int,
        num_envs: int,
        observation_space: spaces.Dict,
        action_space: spaces.Space,
        actor_critic: Any,
        is_double_buffered: bool = False,
    ) -> None:
        super().__init__(numsteps, num_envs, observation_space, action_space, actor_critic, is_double_buffered)
        if not isinstance(action_space, spaces.Discrete):
            raise ValueError(f"L4TRolloutStorage needs a discrete action space for teacher_probs, got {action_space}")
        num_actions = int(action_space.n)
        self.buffers[TEACHER_PROBS] = torch.zeros(numsteps + 1, num_envs, num_actions)  # [T+1, N, A]
        self.buffers[TEACHER_GUIDED] = torch.zeros(numsteps + 1, num_envs, 1, dtype=torch.bool)  # [T+1, N, 1]

    def insert(
        self,
        *args: Any,
        teacher_probs: Optional[torch.Tensor] = None,
        teacher_guided: Optional[torch.Tensor] = None,
        buffer_index: int = 0,
        **kwargs: Any,
    ) -> None:
        """habitat's ``insert``, plus the teacher's guidance for the *current* step's observations.

        ``teacher_probs`` [n, A] and ``teacher_guided`` [n, 1] (n: the envs of
        ``buffer_index``) go together, at the step the student is acting on.
        """
        super().insert(*args, buffer_index=buffer_index, **kwargs)
        if (teacher_probs is None) != (teacher_guided is None):
            raise ValueError("teacher_probs and teacher_guided are inserted together")
        if teacher_probs is None:
            return
        set_at_current_step(self, buffer_index, {TEACHER_PROBS: teacher_probs, TEACHER_GUIDED: teacher_guided})
