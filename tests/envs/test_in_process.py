"""InProcessVectorEnv answers exactly as habitat's process VectorEnv does, on the same MiniGrid envs."""

from __future__ import annotations

import numpy as np
import pytest
from habitat import VectorEnv

from habitat_llm4teach import keys
from habitat_llm4teach.envs.in_process import InProcessVectorEnv
from habitat_llm4teach.envs.minigrid.adapter import MiniGridEnvSpec, make_minigrid_env
from habitat_llm4teach.envs.minigrid.factory import resolve_task


def _specs(num_envs: int = 3) -> list[tuple[MiniGridEnvSpec]]:
    return [(MiniGridEnvSpec(resolve_task("SimpleDoorKey"), "egocentric", 22, 0, 7 + i, f"e{i}-"),) for i in range(num_envs)]


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def test_steps_resets_and_calls_match_worker_processes():
    rng = np.random.default_rng(0)
    with VectorEnv(make_env_fn=make_minigrid_env, env_fn_args=_specs()) as processes, InProcessVectorEnv(
        make_env_fn=make_minigrid_env, env_fn_args=_specs()
    ) as in_process:
        assert in_process.num_envs == processes.num_envs == 3
        assert _same(in_process.observation_spaces, processes.observation_spaces)
        assert in_process.number_of_episodes == processes.number_of_episodes
        assert _same(in_process.reset(), processes.reset())
        dones = 0
        for _ in range(400):  # 150-step episodes: several auto-resets per env
            actions = rng.integers(0, 7, 3).tolist()
            expected, got = processes.step(actions), in_process.step(actions)
            assert _same(got, expected)
            dones += sum(done for _, _, done, _ in got)
        assert dones >= 6
        expected_ids = [e.episode_id for e in processes.current_episodes()]
        assert [e.episode_id for e in in_process.current_episodes()] == expected_ids
        assert in_process.call_at(1, "grid_size") == processes.call_at(1, "grid_size")
        assert _same(in_process.render(mode="rgb_array"), processes.render(mode="rgb_array"))


def test_pause_resume_and_close():
    envs = InProcessVectorEnv(make_env_fn=make_minigrid_env, env_fn_args=_specs())
    first = envs.reset()
    envs.pause_at(0)
    assert envs.num_envs == 2
    stepped = envs.step([0, 0])
    assert len(stepped) == 2 and keys.RGB in stepped[0][0]
    envs.resume_all()
    assert envs.num_envs == 3 and len(envs.step([0, 0, 0])) == 3
    envs.close()
    envs.close()  # idempotent, as habitat's
    assert keys.RGB in first[0]


def test_unknown_command_is_refused():
    envs = InProcessVectorEnv(make_env_fn=make_minigrid_env, env_fn_args=_specs(1))
    try:
        with pytest.raises(NotImplementedError, match="Unknown VectorEnv command"):
            envs._connection_write_fns[0](("teleport", None))
    finally:
        envs._connection_read_fns[0].is_waiting = False
        envs.close()
