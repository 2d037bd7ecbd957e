"""Checkpoint loading under torch >= 2.6, and clear errors for bad files."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from habitat_llm4teach.checkpoints import CheckpointError, install, load_checkpoint_file


def test_loads_a_checkpoint_holding_a_dictconfig(tmp_path, composed):
    config = composed("minigrid/ppo")
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": {"w": torch.ones(2)}, "config": config}, path)
    with pytest.raises(Exception):
        torch.load(path)  # the stock weights_only default refuses habitat checkpoints
    state = load_checkpoint_file(path)
    assert OmegaConf.to_container(state["config"]) == OmegaConf.to_container(config)
    assert torch.equal(state["state_dict"]["w"], torch.ones(2))


def test_habitat_loaders_are_routed_through_ours(tmp_path, composed):
    from habitat_baselines.rl.ddppo import ddp_utils
    from habitat_baselines.rl.ppo import ppo_trainer

    install()
    config = composed("minigrid/ppo", [f"llm4teach.run_dir={tmp_path}"])
    assert ppo_trainer.load_resume_state(config) is None  # no resume state yet
    (tmp_path / "checkpoints").mkdir()
    ddp_utils.save_resume_state({"config": config, "requeue_stats": {"num_steps_done": 7}}, config)
    assert ppo_trainer.load_resume_state(config)["requeue_stats"]["num_steps_done"] == 7
    assert ppo_trainer.PPOTrainer.load_checkpoint(None, ddp_utils.resume_state_filename(config))["config"] == config


def test_missing_corrupt_truncated_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint_file(tmp_path / "nope.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint_file(garbage)
    good = tmp_path / "good.pth"
    torch.save({"w": torch.zeros(1000)}, good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint_file(truncated)
    foreign = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), foreign)
    with pytest.raises(CheckpointError, match="not a habitat-baselines state dict"):
        load_checkpoint_file(foreign)
