"""The CLI end to end: real PPO training through habitat-baselines, eval videos, resume, bad input."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import imageio.v2 as imageio
import numpy as np
import pytest
import torch

from helpers import GYM_NOTICE, REAL_SIM, REPO, TINY_TRAINING, output_of, run_cli
from habitat_llm4teach.checkpoints import load_checkpoint_file
from habitat_llm4teach.run import prepare_distributed_env

CONFIG = "--config-name=minigrid/ppo"


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A short real PPO run (3 updates), trained without eval videos configured."""
    run_dir = tmp_path_factory.mktemp("run")
    result = run_cli(
        [CONFIG, f"llm4teach.run_dir={run_dir}", "habitat_baselines.total_num_steps=96",
         "habitat_baselines.num_checkpoints=2", "habitat_baselines.eval.video_option=[]", *TINY_TRAINING]
    )
    assert result.returncode == 0, output_of(result)[-3000:]
    return run_dir, output_of(result)


def test_training_writes_checkpoints_tensorboard_and_logs(trained_run):
    run_dir, out = trained_run
    assert f"Run folder: {run_dir}" in out
    assert out.count(GYM_NOTICE) <= 1  # by the main process at most, not once per env worker
    assert "update: 3" in (run_dir / "train.log").read_text()
    assert list((run_dir / "tb").glob("events.out.tfevents.*"))
    state = load_checkpoint_file(run_dir / "checkpoints" / "latest.pth")
    assert state["extra_state"]["step"] > 0
    # The ResNet sees only the RGB image: 3 input channels, no symbolic map.
    weights = state["state_dict"]
    first_conv = next(v for k, v in weights.items() if "visual_encoder.backbone" in k and v.dim() == 4)
    assert first_conv.shape[1] == 3
    assert any("running_mean_and_var" in k for k in weights)


def test_eval_writes_videos_with_agent_view_and_third_person_grid(trained_run):
    run_dir, _ = trained_run
    # Videos were not configured at training time: eval must build its envs from this config.
    result = run_cli(
        [CONFIG, f"llm4teach.run_dir={run_dir}", "habitat_baselines.evaluate=True",
         "habitat_baselines.test_episode_count=2", "habitat_baselines.num_environments=2",
         "habitat_baselines.eval.video_option=[disk]"]
    )
    out = output_of(result)
    assert result.returncode == 0, out[-3000:]
    assert "Average episode success" in out
    videos = sorted((run_dir / "videos").glob("*.mp4"))
    assert len(videos) == 2
    frames = [f for f in imageio.get_reader(videos[0])]
    assert len(frames) > 5
    frame = frames[len(frames) // 2]
    assert frame.shape[0] >= 256 and frame.shape[1] > 256  # 256px grid beside the 64px agent view
    third = frame[:256, :256].astype(int)
    agent_red = (third[..., 0] > 180) & (third[..., 1] < 80) & (third[..., 2] < 80)
    assert agent_red.sum() > 20  # the red agent triangle is drawn on the grid
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 20
    assert any(not np.array_equal(frames[1], f) for f in frames[2:])


def test_ctrl_c_saves_resume_state_and_rerun_resumes(tmp_path):
    args = [CONFIG, f"llm4teach.run_dir={tmp_path}", "habitat_baselines.total_num_steps=640", *TINY_TRAINING]
    with open(tmp_path / "first.out", "w") as first_out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "habitat_llm4teach.run", *args], cwd=REPO, stdout=first_out, stderr=subprocess.STDOUT
        )
        log = tmp_path / "train.log"
        deadline = time.time() + 240
        while time.time() < deadline and not (log.exists() and "update: 2\t" in log.read_text()):
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 0
    out = (tmp_path / "first.out").read_text()
    assert "saving a resume state" in out
    resume = load_checkpoint_file(tmp_path / "checkpoints" / ".habitat-resume-state.pth")
    stopped_at = resume["requeue_stats"]["num_updates_done"]
    assert 2 <= stopped_at < 20  # stopped early, at an update boundary

    result = run_cli(args)  # the same command resumes
    out = output_of(result)
    assert result.returncode == 0, out[-3000:]
    assert "Loading resume state" in out
    updates = [int(line.split("update: ")[1].split("\t")[0]) for line in log.read_text().splitlines() if "\tfps:" in line]
    resumed = updates[updates.index(stopped_at) + 1 :]
    assert resumed[0] == stopped_at + 1 and resumed[-1] == 20  # continued to 640 steps = 20 updates, not restarted


def test_eval_gives_every_env_the_same_number_of_episodes(trained_run):
    # habitat's evaluator stops at test_episode_count, dropping the episodes still running (the long ones); with
    # equal quotas it stops only when every env has played its own. 5 episodes asked of 4 envs: 2 in each of 3 (no env
    # count from 4 down to 2 divides 5), all 6 counted.
    run_dir, _ = trained_run
    video_dir = run_dir / "videos_quota"
    result = run_cli(
        [CONFIG, f"llm4teach.run_dir={run_dir}", "habitat_baselines.evaluate=True",
         "habitat_baselines.test_episode_count=5", "habitat_baselines.num_environments=4",
         f"habitat_baselines.video_dir={video_dir}", "habitat_baselines.eval.video_option=[disk]"]
    )
    out = output_of(result)
    assert result.returncode == 0, out[-3000:]
    assert "evaluating 6 episodes, 2 in each of 3 envs (asked: 5 with 4 envs)" in out
    names = sorted(p.name for p in video_dir.glob("*.mp4"))  # one per episode habitat counted
    assert len(names) == 6, names
    assert all(sum(f"r0e{env}-" in n for n in names) == 2 for env in range(3)), names


@pytest.mark.parametrize(
    "args,message",
    [
        ([CONFIG, "habitat_baselines.vector_env_factory.task=SimpleDorKey"], "Unknown MiniGrid task 'SimpleDorKey'"),
        (["--config-name=minigrid/nope"], "minigrid/nope"),
        ([CONFIG, "minigrid/task=nope"], "Available options in 'minigrid/task'"),
        ([CONFIG, "habitat_baselines.tota_num_steps=5"], "tota_num_steps"),
        ([], "no config given"),
        ([CONFIG, "habitat_baselines.evaluate=True", "llm4teach.run_dir=/nonexistent/run"], "does not exist: train first"),
        # Without habitat-sim: the install command; with it, data that is not there: the download / build scripts.
        (["--config-name=rearrange/pick_llm4teach", "habitat.dataset.data_path=/nonexistent/episodes.json.gz"],
         "missing rearrangement data" if REAL_SIM else "scripts/install_habitat_sim.sh"),
        (["--config-name=rearrange/pick_llm4teach", "habitat.simulator.habitat_sim_v0.gpu_device_id=7"],
         "no CUDA device is visible" if REAL_SIM else "scripts/install_habitat_sim.sh"),
    ],
)
def test_bad_input_gives_one_clear_error(args, message):
    result = run_cli(args, timeout=120)
    out = output_of(result)
    assert result.returncode != 0
    assert message in out
    assert "Traceback" not in out


def test_corrupt_checkpoint_at_eval_is_a_clear_error(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "latest.pth").write_bytes(b"garbage")
    result = run_cli([CONFIG, f"llm4teach.run_dir={tmp_path}", "habitat_baselines.evaluate=True"], timeout=120)
    assert result.returncode != 0
    assert "cannot read checkpoint" in output_of(result)


def test_distributed_env_single_node_uses_loopback_and_job_port():
    env = {"LOCAL_RANK": "0", "RANK": "0", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2",
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29411"}
    prepare_distributed_env(env)
    assert env["MAIN_PORT"] == "29412" and env["MAIN_ADDR"] == "127.0.0.1"
    assert env["GLOO_SOCKET_IFNAME"] == "lo"
    other = {**env, "MASTER_PORT": "31000"}
    del other["MAIN_PORT"]
    prepare_distributed_env(other)
    assert other["MAIN_PORT"] != env["MAIN_PORT"]  # concurrent jobs get distinct habitat stores


def test_distributed_env_multi_node_and_user_settings_respected():
    env = {"LOCAL_RANK": "0", "RANK": "3", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4",
           "MASTER_ADDR": "node1", "MASTER_PORT": "29500", "MAIN_PORT": "9000"}
    prepare_distributed_env(env)
    assert "GLOO_SOCKET_IFNAME" not in env
    assert env["MAIN_PORT"] == "9000" and env["MAIN_ADDR"] == "node1"
    plain = {}
    prepare_distributed_env(plain)
    assert plain == {}
