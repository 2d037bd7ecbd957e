"""Structured configs stored in Hydra's ConfigStore, and our config search path.

Our YAML configs live in ``configs/habitat/`` at the repository root; they
compose habitat-lab's and habitat-baselines' structured configs with the nodes
defined here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from habitat.config.default_structured_configs import SimulatorSensorConfig
from habitat_baselines.config.default_structured_configs import VectorEnvFactoryConfig
from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.config_store import ConfigStore
from hydra.plugins.search_path_plugin import SearchPathPlugin

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "habitat"


@dataclass
class MiniGridVectorEnvFactoryConfig(VectorEnvFactoryConfig):
    """Arguments of :class:`MiniGridVectorEnvFactory`."""

    _target_: str = "habitat_llm4teach.envs.minigrid.factory.MiniGridVectorEnvFactory"
    # A paper task (SimpleDoorKey, LavaDoorKey, ColoredDoorKey, TwoDoor) or any registered MiniGrid id.
    task: str = "SimpleDoorKey"
    # "historical": map of every cell seen this episode (the paper's view); "partial": egocentric view.
    view: str = "historical"
    # Side of the square RGB image the ResNet sees.
    image_size: int = 64
    # Episode length override; None keeps the task's own (150 for the paper tasks).
    max_steps: Optional[int] = None


@dataclass
class MiniGridSymbolicSensorConfig(SimulatorSensorConfig):
    """Declares the teacher-only symbolic observation so the policy can exclude it.

    Listed under ``habitat_baselines.eval.extra_sim_sensors``, the one place where
    habitat-baselines' ResNet policy drops observations from its input.
    """

    type: str = "MiniGridSymbolicSensor"
    uuid: str = "minigrid_symbolic"


@dataclass
class L4TRunConfig:
    """Where a run writes everything (checkpoints, tensorboard, videos, logs)."""

    run_dir: str = "data/runs/default"


class L4TConfigPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="habitat_llm4teach", path=f"file://{CONFIG_DIR}")


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(group="habitat_baselines/vector_env_factory", name="minigrid", node=MiniGridVectorEnvFactoryConfig)
    cs.store(group="habitat/simulator/sim_sensors", name="minigrid_symbolic_sensor", node=MiniGridSymbolicSensorConfig)
    cs.store(group="llm4teach", name="llm4teach_config_base", node=L4TRunConfig)
