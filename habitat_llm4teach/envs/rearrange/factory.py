"""Habitat pick/place envs for habitat-baselines' trainers, rendering on the CPU where no GPU is visible.

Owns ``L4TRearrangeEnvFactory`` (the rearrange configs' ``habitat_baselines.vector_env_factory``):
habitat's own ``HabitatVectorEnvFactory`` after one decision, which device renders. Without a
visible CUDA device habitat-sim's default ``gpu_device_id=0`` fails ("unable to find CUDA device 0
among 1 EGL devices"), and DD-PPO sets it to each rank's local rank; ``-1`` makes Magnum take Mesa's
software EGL device (llvmpipe), so pick/place runs on a laptop, slowly but for real. The check of a
user's explicit choice (a GPU that does not exist) is ``requirements.check_render_device``, made
before any process starts.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from unittest import mock

import torch
from habitat.config import read_write
from habitat.gym import make_gym_from_config
from habitat_baselines.common import habitat_env_factory
from habitat_baselines.common.habitat_env_factory import HabitatVectorEnvFactory

from habitat_llm4teach.sim_optional import NO_TRITON_ENV

logger = logging.getLogger(__name__)

CPU_RENDERING = -1  # habitat_sim_v0.gpu_device_id that selects Mesa's software EGL device


def render_device(requested: int, cuda_devices: int) -> int:
    """The gpu_device_id to render on: ``requested`` where that GPU exists, else the CPU."""
    return requested if 0 <= requested < cuda_devices else CPU_RENDERING


def make_env(config: Any) -> Any:
    """habitat's ``make_gym_from_config`` in an env worker, after registering our lab sensor and simulator there.

    Workers are fresh interpreters: they know ``L4TSceneSensor`` and ``L4TRearrangeSim-v0`` only when they import us.
    Under ``python -m habitat_llm4teach.run`` the forkserver's preloaded ``__main__`` did that;
    from any other entry point (a benchmark, a test, a user's script) this does.
    """
    from habitat_llm4teach.envs.rearrange import adapter  # noqa: F401  (registers L4TSceneSensor)
    from habitat_llm4teach.envs.rearrange import sim  # noqa: F401  (registers L4TRearrangeSim-v0)

    return make_gym_from_config(config)


class L4TRearrangeEnvFactory(HabitatVectorEnvFactory):
    def construct_envs(self, config: Any, *args: Any, **kwargs: Any) -> Any:
        sim_config = config.habitat.simulator.habitat_sim_v0
        device = render_device(sim_config.gpu_device_id, torch.cuda.device_count())
        if device != sim_config.gpu_device_id:
            logger.info(
                "no CUDA device %d visible: rendering on the CPU through Mesa (habitat_sim_v0.gpu_device_id=-1), "
                "with triton kept out of the env processes (its LLVM clashes with Mesa's)", sim_config.gpu_device_id,
            )
            with read_write(config):
                sim_config.gpu_device_id = device
        if device == CPU_RENDERING:
            os.environ[NO_TRITON_ENV] = "1"  # read by every new interpreter (the .pth hook): env workers, forkserver
        # habitat's factory names its env function as a module global: point it at ours for this call only.
        with mock.patch.object(habitat_env_factory, "make_gym_from_config", make_env):
            return super().construct_envs(config, *args, **kwargs)
