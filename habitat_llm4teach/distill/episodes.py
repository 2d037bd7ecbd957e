"""Per-episode training results: ``episodes.csv`` in the run folder, and the curves read from it.

Owns the record that learning curves and sample-efficiency numbers are computed
from. habitat-baselines logs success averaged over a window of updates; the
benchmarks need each episode: the environment step at which it ended, its
success and return. Each rank writes ``episodes.rank<r>.csv`` (DD-PPO ranks
finish episodes independently); readers merge all of a run's files by step.

Step numbers are global environment steps, counted like habitat's
``num_steps_done`` (all ranks together): the steps done before the current
rollout plus this rank's steps in it times the world size, so under DD-PPO they
are exact at rollout boundaries and interpolated inside a rollout.
"""

from __future__ import annotations

import csv
import glob
import os
from collections import deque
from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np
import torch

from habitat_llm4teach import keys

FIELDS = ("step", "success", "reward")


class EpisodeLog:
    """Appends one row per finished episode to ``<run_dir>/episodes.rank<r>.csv``.

    On resume, ``resume_step`` is the resume state's ``num_steps_done``: rows after it belong to updates that
    training will do again (a resume state is written every few updates, so a crash or a longer budget resumes
    from before the file's end). They are dropped, counted in ``dropped_rows``, so every step is logged once.
    """

    def __init__(
        self, run_dir: str, rank: int = 0, world_size: int = 1, resume: bool = False, success_key: str = keys.SUCCESS,
        resume_step: Optional[int] = None,
    ) -> None:
        self.success_key = success_key  # the info key of the task's success measure (keys.success_key)
        self.path = os.path.join(run_dir, f"episodes.rank{rank}.csv")
        self.world_size = world_size
        new_file = not (resume and os.path.exists(self.path))
        self.dropped_rows = 0
        if not new_file and resume_step is not None:
            self.dropped_rows = _truncate_after(self.path, resume_step)
        self._file = open(self.path, "w" if new_file else "a", newline="")
        self._writer = csv.writer(self._file)
        if new_file:
            self._writer.writerow(FIELDS)
        self._rollout_steps = 0  # this rank's steps since the last update
        self.recent_success: deque[int] = deque(maxlen=100)  # this rank's last 100 episodes

    def record(self, steps_before_rollout: int, new_steps: int, before: Mapping[str, torch.Tensor], after: Mapping[str, torch.Tensor]) -> None:
        """Rows for the episodes that ended in the step just collected.

        ``before``/``after``: habitat's ``running_episode_stats`` (cumulative per env, [N, 1]) around it.
        """
        self._rollout_steps += new_steps
        ended = (after["count"] - before["count"]).flatten() > 0  # [N]
        if not ended.any():
            return
        step = steps_before_rollout + self._rollout_steps * self.world_size
        reward = (after["reward"] - before["reward"]).flatten()
        key = self.success_key
        success = (after[key] - before[key]).flatten() if key in before else torch.zeros_like(reward)
        for env in torch.nonzero(ended).flatten().tolist():
            succeeded = int(success[env].item() > 0.5)
            self.recent_success.append(succeeded)
            self._writer.writerow((step, succeeded, f"{reward[env].item():.4f}"))
        self._file.flush()

    def end_rollout(self) -> None:
        self._rollout_steps = 0

    def close(self) -> None:
        self._file.close()


def _truncate_after(path: str, last_step: int) -> int:
    """Drop the rows of ``path`` logged after ``last_step`` (atomically); the number dropped."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[:1], rows[1:]
    kept = [row for row in body if int(row[0]) <= last_step]
    if len(kept) == len(body):
        return 0
    partial = f"{path}.partial"
    with open(partial, "w", newline="") as f:
        csv.writer(f).writerows(header + kept)
    os.replace(partial, path)
    return len(body) - len(kept)


@dataclass(frozen=True)
class Episodes:
    """A run's finished episodes in step order: ``step`` [E], ``success`` [E], ``reward`` [E]."""

    step: np.ndarray
    success: np.ndarray
    reward: np.ndarray

    def moving_success(self, window: int = 100) -> np.ndarray:
        """Success rate over the last ``window`` episodes (fewer at the start), one value per episode."""
        cumulative = np.concatenate([[0.0], np.cumsum(self.success)])
        index = np.arange(1, len(self.success) + 1)
        start = np.maximum(index - window, 0)
        return (cumulative[index] - cumulative[start]) / (index - start)

    def steps_to(self, threshold: float, window: int = 100) -> Optional[int]:
        """The step at which the moving success over the last ``window`` episodes first reaches ``threshold``.

        Only full windows count, so a lucky first episode does not qualify.
        """
        moving = self.moving_success(window)
        reached = np.nonzero((moving >= threshold) & (np.arange(len(moving)) >= window - 1))[0]
        return int(self.step[reached[0]]) if len(reached) else None


def load_episodes(run_dir: str) -> Episodes:
    """All ranks' episodes of a run folder, merged in step order (FileNotFoundError if it has none)."""
    paths = sorted(glob.glob(os.path.join(run_dir, "episodes.rank*.csv")))
    if not paths:
        raise FileNotFoundError(f"no episodes.rank*.csv in '{run_dir}': was it trained with trainer_name=llm4teach?")
    rows = []
    for path in paths:
        with open(path, newline="") as f:
            rows += [(int(r["step"]), int(r["success"]), float(r["reward"])) for r in csv.DictReader(f)]
    rows.sort(key=lambda row: row[0])
    table = np.array(rows, dtype=np.float64).reshape(-1, 3)
    return Episodes(step=table[:, 0].astype(np.int64), success=table[:, 1], reward=table[:, 2])
