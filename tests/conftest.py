"""Shared helpers: run the real CLI in a subprocess, compose real configs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

# A few-update budget: 2 envs x 16 steps = 32 env steps per PPO update.
TINY_TRAINING = (
    "habitat_baselines.num_environments=2",
    "habitat_baselines.rl.ppo.num_steps=16",
    "habitat_baselines.rl.ppo.num_mini_batch=1",
    "habitat_baselines.rl.ppo.ppo_epoch=1",
    "habitat_baselines.log_interval=1",
)


def run_cli(args: Sequence[str], timeout: float = 300, torchrun_procs: int = 0) -> subprocess.CompletedProcess:
    """Run ``python -m habitat_llm4teach.run`` (or under torchrun) and capture its output."""
    if torchrun_procs:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={torchrun_procs}"]
        cmd += ["-m", "habitat_llm4teach.run", *args]
    else:
        cmd = [sys.executable, "-m", "habitat_llm4teach.run", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def output_of(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


@pytest.fixture
def composed():
    """Compose a config from configs/habitat the way run.py does."""
    from habitat.config.default import patch_config
    from habitat.config.default_structured_configs import HabitatConfigPlugin, register_hydra_plugin
    from habitat_baselines.config.default_structured_configs import HabitatBaselinesConfigPlugin
    from hydra import compose, initialize_config_dir

    from habitat_llm4teach import registration
    from habitat_llm4teach.config.structured import CONFIG_DIR, L4TConfigPlugin

    registration.register_all()
    for plugin in (HabitatConfigPlugin, HabitatBaselinesConfigPlugin, L4TConfigPlugin):
        register_hydra_plugin(plugin)

    def _compose(name: str, overrides: Sequence[str] = ()):
        with initialize_config_dir(version_base=None, config_dir=str(CONFIG_DIR)):
            return patch_config(compose(config_name=name, overrides=list(overrides)))

    return _compose
