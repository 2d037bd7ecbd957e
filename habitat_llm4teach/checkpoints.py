"""Loading habitat-baselines checkpoints and resume states under torch >= 2.6.

torch 2.6 made ``torch.load`` default to ``weights_only=True``. habitat-baselines
0.3.3 pickles its OmegaConf ``DictConfig`` into every checkpoint and resume
state, and OmegaConf's metadata holds a ``defaultdict`` that the weights-only
unpickler refuses by design, so allow-listing types cannot work. This module
owns the one loader for those files: a full unpickle (these are files your own
training wrote; load checkpoints only from sources you trust), with a clear
error for missing, truncated or foreign files. :func:`install` routes
habitat-baselines' loaders (``PPOTrainer.load_checkpoint`` and
``load_resume_state``, as imported by the trainers) through it; it is checked
against the pinned habitat-baselines version.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from typing import Any, Optional, Union

import torch
from omegaconf import DictConfig


class CheckpointError(RuntimeError):
    """A checkpoint or resume state is missing, corrupt, or not a habitat checkpoint."""


def load_checkpoint_file(path: Union[str, os.PathLike], map_location: Any = "cpu") -> dict:
    """Load a habitat-baselines checkpoint / resume state, or raise :class:`CheckpointError`."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, RuntimeError, AttributeError, ModuleNotFoundError) as error:
        raise CheckpointError(
            f"cannot read checkpoint '{path}' ({type(error).__name__}: {error}); "
            "the file is truncated, corrupt or not a habitat-baselines checkpoint"
        ) from error
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint '{path}' holds a {type(state).__name__}, not a habitat-baselines state dict")
    return state


def _load_checkpoint(self: Any, checkpoint_path: str, *args: Any, **kwargs: Any) -> dict:
    return load_checkpoint_file(checkpoint_path, kwargs.get("map_location", args[0] if args else "cpu"))


def _load_resume_state(filename_or_config: Union[DictConfig, str], filename_key: str = "") -> Optional[dict]:
    from habitat import logger
    from habitat_baselines.rl.ddppo.ddp_utils import rank0_only, resume_state_filename

    filename = (
        resume_state_filename(filename_or_config, filename_key)
        if isinstance(filename_or_config, DictConfig)
        else filename_or_config
    )
    if not os.path.exists(filename):
        return None
    if rank0_only():
        logger.info(f"Loading resume state: {filename}")
    return load_checkpoint_file(filename)


def install() -> None:
    """Route habitat-baselines' checkpoint and resume-state loading through :func:`load_checkpoint_file`."""
    from habitat_baselines.common import base_trainer
    from habitat_baselines.rl.ddppo import ddp_utils
    from habitat_baselines.rl.ppo import ppo_trainer

    ppo_trainer.PPOTrainer.load_checkpoint = _load_checkpoint
    for module in (ddp_utils, ppo_trainer, base_trainer):
        module.load_resume_state = _load_resume_state


def extend_resume_state(path: Union[str, os.PathLike], total_num_steps: int) -> int:
    """Raise the step budget saved in the resume state at ``path`` to ``total_num_steps``; the old budget.

    Training on from a finished run is then the same as having asked for the larger budget from the start,
    since nothing in PPO or our schedules reads the budget before it is reached (``use_linear_lr_decay`` and
    ``use_linear_clip_decay`` do: they are refused). Habitat checkpoints at fractions of the budget, so the
    last checkpoint's fraction is rescaled to keep the same steps between checkpoints. The file is replaced
    atomically; a resume state from a run with another budget is refused with :class:`CheckpointError`.
    """
    from omegaconf import OmegaConf, open_dict

    path = os.fspath(path)
    state = load_checkpoint_file(path)
    if "config" not in state or "requeue_stats" not in state:
        raise CheckpointError(f"'{path}' is a checkpoint, not a habitat-baselines resume state")
    config = state["config"]
    baselines = config.habitat_baselines
    ppo = baselines.rl.ppo
    if ppo.use_linear_lr_decay or ppo.use_linear_clip_decay:
        raise CheckpointError(
            f"cannot extend '{path}': its learning rate or clip range decays over the budget "
            "(habitat_baselines.rl.ppo.use_linear_lr_decay / use_linear_clip_decay), so a longer budget "
            "would have trained differently from the start"
        )
    old = int(baselines.total_num_steps)
    if baselines.num_updates != -1 or old <= 0:
        raise CheckpointError(f"cannot extend '{path}': its run is budgeted in updates, not env steps")
    if total_num_steps < old:
        raise CheckpointError(f"cannot extend '{path}' to {total_num_steps} env steps: it already has {old}")
    readonly = OmegaConf.is_readonly(config)
    OmegaConf.set_readonly(config, False)
    with open_dict(config):
        baselines.total_num_steps = total_num_steps
    OmegaConf.set_readonly(config, readonly)
    stats = state["requeue_stats"]
    stats["_last_checkpoint_percent"] = stats["_last_checkpoint_percent"] * old / total_num_steps
    partial = f"{path}.partial"
    torch.save(state, partial)
    os.replace(partial, path)
    return old
