"""Per-episode records: what the trainer writes, and the curves and steps_to_90 read from them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from habitat_llm4teach import keys
from habitat_llm4teach.distill.episodes import EpisodeLog, Episodes, load_episodes


def _stats(count, reward, success):
    return {
        "count": torch.tensor(count, dtype=torch.float).reshape(-1, 1),
        "reward": torch.tensor(reward, dtype=torch.float).reshape(-1, 1),
        keys.SUCCESS: torch.tensor(success, dtype=torch.float).reshape(-1, 1),
    }


def test_episode_log_writes_one_row_per_finished_episode_at_its_global_step(tmp_path):
    log = EpisodeLog(str(tmp_path), rank=1, world_size=2)
    # Two envs; the second finishes a successful episode on this rank's 3rd step of the rollout.
    s0 = _stats([0, 0], [0, 0], [0, 0])
    log.record(100, 2, s0, s0)
    log.record(100, 2, s0, s0)
    log.record(100, 2, s0, _stats([0, 1], [0, 0.7], [0, 1]))
    log.end_rollout()
    log.record(200, 2, _stats([0, 1], [0, 0.7], [0, 1]), _stats([1, 1], [0.0, 0.7], [0, 1]))  # env 0 fails
    log.close()
    assert (tmp_path / "episodes.rank1.csv").read_text().splitlines() == [
        "step,success,reward", "112,1,0.7000", "204,0,0.0000",  # 100 + 3 steps x 2 envs x 2 ranks; 200 + 2 x 2
    ]
    assert list(log.recent_success) == [1, 0]


def test_resumed_log_appends_and_ranks_merge_in_step_order(tmp_path):
    first = EpisodeLog(str(tmp_path), rank=0)
    first.record(0, 1, _stats([0], [0], [0]), _stats([1], [1.0], [1]))
    first.close()
    resumed = EpisodeLog(str(tmp_path), rank=0, resume=True)
    resumed.record(50, 1, _stats([1], [1.0], [1]), _stats([2], [1.0], [1]))
    resumed.close()
    other = EpisodeLog(str(tmp_path), rank=1, world_size=2)
    other.record(10, 1, _stats([0], [0], [0]), _stats([1], [0.0], [0]))
    other.close()
    episodes = load_episodes(str(tmp_path))
    assert episodes.step.tolist() == [1, 12, 51]
    assert episodes.success.tolist() == [1, 0, 0]


def test_resume_drops_rows_logged_after_the_resume_step(tmp_path):
    # The resume state is from step 100; episodes that ended at 120 and 150 came from updates that run again.
    (tmp_path / "episodes.rank0.csv").write_text("step,success,reward\n40,0,0.0\n100,1,0.5\n120,1,0.6\n150,0,0.0\n")
    resumed = EpisodeLog(str(tmp_path), rank=0, resume=True, resume_step=100)
    assert resumed.dropped_rows == 2
    resumed.record(100, 10, _stats([0], [0.0], [0]), _stats([1], [0.7], [1]))
    resumed.close()
    episodes = load_episodes(str(tmp_path))
    assert episodes.step.tolist() == [40, 100, 110]
    assert episodes.reward.tolist() == [0.0, 0.5, 0.7]
    # A resume state at the file's end drops nothing.
    assert EpisodeLog(str(tmp_path), rank=0, resume=True, resume_step=110).dropped_rows == 0
    assert load_episodes(str(tmp_path)).step.tolist() == [40, 100, 110]


def test_fresh_log_replaces_an_old_file(tmp_path):
    (tmp_path / "episodes.rank0.csv").write_text("step,success,reward\n5,1,1.0\n")
    EpisodeLog(str(tmp_path)).close()
    episodes = load_episodes(str(tmp_path))
    assert episodes.step.size == 0 and episodes.steps_to(0.9) is None


def test_moving_success_and_steps_to_threshold_count_only_full_windows():
    success = np.array([1.0] * 5 + [0.0] * 5 + [1.0] * 10)
    episodes = Episodes(step=np.arange(20) * 10, success=success, reward=success)
    assert episodes.moving_success(window=4)[:6].tolist() == [1, 1, 1, 1, 1, 0.75]
    assert episodes.steps_to(1.0, window=4) == 30  # the 4th episode completes the first full window
    assert episodes.steps_to(0.9, window=10) == 180  # episodes 9..18: one failure in ten
    assert Episodes(step=np.arange(3), success=np.ones(3), reward=np.ones(3)).steps_to(0.9, window=100) is None


def test_load_episodes_without_files_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no episodes.rank"):
        load_episodes(str(tmp_path))
