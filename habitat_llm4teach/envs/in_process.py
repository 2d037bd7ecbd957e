"""``InProcessVectorEnv``: habitat's ``VectorEnv`` with every env stepped in the trainer's own process.

habitat's ``VectorEnv`` runs one worker process per env and ``ThreadedVectorEnv``
one thread; both pay a hand-off per env per step, and the processes also pay
start-up (each worker re-imports habitat under ``forkserver``). For envs as cheap
as MiniGrid's (~0.3 ms a step) the hand-off is the cost. Measured on a 2-core
machine with 16 SimpleDoorKey envs (22 px images, random actions): worker processes 6.8 ms a step after
47 s of start-up, threads 23.6 ms, in process 5.8 ms and no start-up.

Only the transport changes: each env is wrapped exactly as habitat's worker wraps
it (``EnvCountEpisodeWrapper(EnvObsDictWrapper(env))``) and answers the same
commands, run synchronously when the trainer writes them; reading returns the
answer. Everything else (pause/resume, ``call``, ``current_episodes``, auto-reset)
is habitat's own ``VectorEnv`` code.
"""

from __future__ import annotations

from typing import Any, Callable, List, Sequence, Tuple

from habitat.core.vector_env import (
    CALL_COMMAND,
    CLOSE_COMMAND,
    COUNT_EPISODES_COMMAND,
    RENDER_COMMAND,
    RESET_COMMAND,
    STEP_COMMAND,
    VectorEnv,
    _ReadWrapper,
    _WriteWrapper,
)
from habitat.gym.gym_env_episode_count_wrapper import EnvCountEpisodeWrapper
from habitat.gym.gym_env_obs_dict_wrapper import EnvObsDictWrapper


class _InProcessWorker:
    """One env and the answer to the last command written to it (habitat's worker loop, one command per write)."""

    def __init__(self, make_env_fn: Callable[..., Any], env_fn_args: Tuple, auto_reset_done: bool) -> None:
        self._env = EnvCountEpisodeWrapper(EnvObsDictWrapper(make_env_fn(*env_fn_args)))
        self._auto_reset_done = auto_reset_done
        self._answer: Any = None

    def send(self, message: Tuple[str, Any]) -> None:
        command, data = message
        env = self._env
        if command == STEP_COMMAND:
            observations, reward, done, info = env.step(data)
            if self._auto_reset_done and done:
                observations = env.reset()
            self._answer = (observations, reward, done, info)
        elif command == RESET_COMMAND:
            self._answer = env.reset()
        elif command == RENDER_COMMAND:
            self._answer = env.render(*data[0], **data[1])
        elif command == CALL_COMMAND:
            function_name, function_args = data
            attribute = getattr(env, function_name)
            self._answer = attribute(**(function_args or {})) if function_args or callable(attribute) else attribute
        elif command == COUNT_EPISODES_COMMAND:
            self._answer = len(env.episodes)
        elif command == CLOSE_COMMAND:
            env.close()
            self._answer = None
        else:
            raise NotImplementedError(f"Unknown VectorEnv command {command!r}")

    def recv(self) -> Any:
        answer, self._answer = self._answer, None
        return answer

    def join(self) -> None:
        """What ``VectorEnv.close`` calls on a worker; there is nothing to wait for."""


class InProcessVectorEnv(VectorEnv):
    def _spawn_workers(
        self,
        env_fn_args: Sequence[Tuple],
        make_env_fn: Callable[..., Any],
        workers_ignore_signals: bool = False,
    ) -> Tuple[List[_ReadWrapper], List[_WriteWrapper]]:
        workers = [_InProcessWorker(make_env_fn, args, self._auto_reset_done) for args in env_fn_args]
        # VectorEnv.pause_at / resume_all / close move and join these alongside the read/write functions.
        self._workers = workers  # type: ignore[assignment]
        read_fns = [_ReadWrapper(worker.recv, rank) for rank, worker in enumerate(workers)]
        write_fns = [_WriteWrapper(worker.send, read_fn) for worker, read_fn in zip(workers, read_fns)]
        return read_fns, write_fns
