"""Pick/place through habitat-baselines on the real simulator: env construction, llm4teach updates, DD-PPO,
teacher-only evaluation with videos, and the bad input that must stop a run before any env worker starts."""

from __future__ import annotations

import shutil
from pathlib import Path

import imageio.v2 as imageio
import pytest

from conftest import CPU, compose_config, data_root
from helpers import TINY_TRAINING, output_of, run_cli, tensorboard_scalars

SHORT_EPISODES = ("habitat.environment.max_episode_steps=20", "habitat.dataset.split=train")


@pytest.mark.parametrize("task", ["pick", "place"])
def test_construct_envs_builds_our_configs_and_renders_on_the_cpu(task):
    """habitat-baselines' own construct_envs with our config; the default gpu_device_id falls back to Mesa."""
    import torch
    from habitat_baselines.common.env_factory import VectorEnvFactory
    from hydra.utils import instantiate

    config = compose_config(f"rearrange/{task}_llm4teach", ["habitat_baselines.num_environments=2", "habitat.dataset.split=train"])
    assert config.habitat.simulator.habitat_sim_v0.gpu_device_id == 0  # habitat's default, no GPU here
    factory: VectorEnvFactory = instantiate(config.habitat_baselines.vector_env_factory)
    envs = factory.construct_envs(config, workers_ignore_signals=True)
    try:
        if torch.cuda.device_count() == 0:
            assert config.habitat.simulator.habitat_sim_v0.gpu_device_id == -1
        observations = envs.reset()
        assert len(observations) == 2 and observations[0]["l4t_scene"].ndim == 1
        outputs = envs.step([envs.action_spaces[0].sample() for _ in range(2)])
        assert len(outputs) == 2 and f"{task}_success" in outputs[0][3]
    finally:
        envs.close()


def test_the_trainer_reads_the_success_key_the_task_reports(pick_env):
    """habitat-baselines turns infos into episode stats by key; the task reports pick_success, not success."""
    from habitat_baselines.utils.info_dict import extract_scalars_from_info

    from habitat_llm4teach import keys

    pick_env.reset()
    _, _, _, info = pick_env.step(pick_env.action_space.sample())
    config = compose_config("rearrange/pick_llm4teach", CPU)
    assert keys.success_key(config.habitat) == "pick_success"
    assert keys.success_key(config.habitat) in extract_scalars_from_info(info)
    assert keys.SUCCESS not in extract_scalars_from_info(info)


def run_pick_llm4teach(run_dir: Path, updates: int, model: Path, *extra: str) -> str:
    """``updates`` llm4teach updates on pick (2 envs, tiny student, 20-step episodes); the run's output, exit 0."""
    result = run_cli([
        "--config-name=rearrange/pick_llm4teach", *TINY_TRAINING, *SHORT_EPISODES,
        f"habitat_baselines.num_updates={updates}", "habitat_baselines.total_num_steps=-1", f"llm4teach.run_dir={run_dir}",
        f"llm4teach.teacher.model={model}", "llm4teach.teacher.cache_path=null", *extra,
    ], timeout=900, cwd=data_root())
    out = output_of(result)
    assert result.returncode == 0, out[-4000:]
    return out


def test_llm4teach_updates_on_pick_with_two_envs(tmp_path, tiny_model_dir):
    run_dir = tmp_path / "pick"
    # Blocking: every step waits for the server's answer, so guidance does not depend on how fast this
    # machine's server starts (non-blocking, a slow CI machine can spend all 3 updates unguided).
    out = run_pick_llm4teach(run_dir, 3, tiny_model_dir, "llm4teach.teacher.server.blocking=true")
    assert "rendering on the CPU" in out or "gpu_device_id" not in out
    assert "rearrange teacher server at" in out and "teacher server ready at" in out  # the default: the server
    scalars = tensorboard_scalars(run_dir)
    guided = [v for _, v in scalars["learner/distill/guided_frac"]]
    assert len(guided) == 3 and min(guided) > 0  # every update guided
    assert "metrics/pick_success" in scalars  # habitat's window stats carry the task's own success key
    rows = (run_dir / "episodes.rank0.csv").read_text().splitlines()
    assert rows[0] == "step,success,reward" and len(rows) > 1  # 96 steps of 20-step episodes


def test_a_pick_teacher_server_that_never_answers_means_plain_ppo_and_says_so(tmp_path):
    run_dir = tmp_path / "pick_no_teacher"
    out = run_pick_llm4teach(run_dir, 2, tmp_path / "no-such-model", "llm4teach.teacher.server.max_restarts=0")
    # Whether the failed start is noticed during these few steps or only at the end, the log says so.
    assert "as plain PPO (no guidance)" in out
    guided = [v for _, v in tensorboard_scalars(run_dir)["learner/distill/guided_frac"]]
    assert len(guided) == 2 and all(v == 0 for v in guided)


def test_ddppo_two_ranks_on_pick(tmp_path):
    run_dir = tmp_path / "ddppo"
    result = run_cli([
        "--config-name=rearrange/pick_ppo", "habitat_baselines.trainer_name=ddppo",
        "habitat_baselines.rl.ddppo.distrib_backend=GLOO", "habitat_baselines.num_environments=1",
        "habitat_baselines.rl.ppo.num_steps=8", "habitat_baselines.rl.ppo.num_mini_batch=1", "habitat_baselines.num_updates=2", "habitat_baselines.total_num_steps=-1",
        "habitat_baselines.log_interval=1", *SHORT_EPISODES, f"llm4teach.run_dir={run_dir}",
    ], timeout=900, torchrun_procs=2, cwd=data_root())
    out = output_of(result)
    assert result.returncode == 0, out[-4000:]
    assert "Initialized DD-PPO with 2 workers" in out
    assert "update: 2\t" in out


def test_teacher_alone_evaluation_writes_a_video_with_its_skill(tmp_path, tiny_model_dir):
    run_dir = tmp_path / "teacher"
    result = run_cli([
        "--config-name=rearrange/pick_teacher", "habitat_baselines.num_environments=1", "habitat_baselines.test_episode_count=1",
        "habitat.environment.max_episode_steps=10", "habitat_baselines.eval.video_option=[disk]",
        f"llm4teach.run_dir={run_dir}", f"llm4teach.teacher.model={tiny_model_dir}", "llm4teach.teacher.cache_path=null",
    ], timeout=900, cwd=data_root())
    out = output_of(result)
    assert result.returncode == 0, out[-4000:]
    videos = list((run_dir / "videos").glob("*.mp4"))
    assert len(videos) == 1
    frames = imageio.mimread(videos[0], memtest=False)
    assert len(frames) >= 10 and frames[0].shape[0] >= 256


def test_a_missing_robot_mesh_stops_the_run_before_any_env_worker(tmp_path):
    """The data folder with one mesh of the robot's URDF gone: one error naming the file and the fix."""
    work = tmp_path / "work"
    shutil.copytree(data_root() / "data", work / "data", symlinks=True)
    meshes = work / "data/robots/hab_fetch/meshes"
    victim = next(p for p in sorted(meshes.iterdir()) if p.name.startswith("shoulder_pan"))
    victim.unlink()
    result = run_cli(["--config-name=rearrange/pick_ppo", f"llm4teach.run_dir={tmp_path / 'run'}"], timeout=300, cwd=work)
    out = output_of(result)
    assert result.returncode == 2, out[-3000:]
    assert victim.name in out and "build_rearrange_data.py" in out
    assert "initializing sim" not in out.lower() and "Traceback" not in out


def test_placeholders_never_stand_in_for_parts_of_a_real_habitat_sim():
    import habitat_sim

    from habitat_llm4teach.sim_optional import PLACEHOLDER_FLAG

    assert not getattr(habitat_sim, PLACEHOLDER_FLAG, False)
    with pytest.raises(ImportError):
        __import__("habitat_sim.no_such_module")
