"""scripts/plot_runs.py: groups seeds, samples moving success on a step grid, writes a PNG, clear errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from helpers import REPO

sys.path.insert(0, str(REPO / "scripts"))
from plot_runs import parse_groups, success_curve  # noqa: E402


def _run(folder, successes, steps_per_episode=10):
    folder.mkdir()
    rows = [f"{(i + 1) * steps_per_episode},{s},{float(s)}" for i, s in enumerate(successes)]
    (folder / "episodes.rank0.csv").write_text("step,success,reward\n" + "\n".join(rows) + "\n")
    return str(folder)


def test_parse_groups_puts_seeds_with_the_same_label_together():
    assert parse_groups(["a=x", "a=y", "z"]) == {"a": ["x", "y"], "z": ["z"]}


def test_success_curve_is_nan_before_the_first_episode_then_the_moving_success(tmp_path):
    run = _run(tmp_path / "r", [0, 1, 1, 1])
    curve = success_curve(run, np.array([5, 10, 25, 40]), window=2)
    assert np.isnan(curve[0])
    assert curve[1:].tolist() == [0.0, 0.5, 1.0]


def test_cli_writes_a_png_and_rejects_a_folder_without_episodes(tmp_path):
    runs = [f"good={_run(tmp_path / f'g{i}', [i % 2, 1, 1])}" for i in range(2)] + [_run(tmp_path / "b", [0, 0, 1])]
    out = tmp_path / "curves.png"
    cmd = [sys.executable, str(REPO / "scripts" / "plot_runs.py"), *runs, "--out", str(out), "--hline", "teacher=0.9"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "empty").mkdir()
    bad = subprocess.run([*cmd[:2], str(tmp_path / "empty"), "--out", str(out)], capture_output=True, text=True)
    assert bad.returncode == 2 and "no episodes.rank" in bad.stderr


def test_runs_without_finished_episodes_are_an_error_not_a_crash(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "episodes.rank0.csv").write_text("step,success,reward\n")
    cmd = [sys.executable, str(REPO / "scripts" / "plot_runs.py"), str(run), "--out", str(tmp_path / "p.png")]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 2
    assert "no finished episodes" in result.stderr
    assert not (tmp_path / "p.png").exists()
