"""Before a Habitat pick/place run: habitat-sim, the rearrangement data and the render device must be right.

Owns the checks ``run.py`` makes for configs whose task is a habitat-lab
rearrangement task, before any env process starts, each one clear error naming
the fix: habitat-sim missing (install command) or too old for our habitat-lab
(0.3.3 lacks ``Simulator.sensors``); missing data files (episodes, scene dataset,
robot URDF and every mesh it names) name the download / build script; a
``gpu_device_id`` naming a GPU that does not exist.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from typing import Any, Optional

from habitat_llm4teach.errors import ConfigError
from habitat_llm4teach.sim_optional import INSTALL_HINT, placeholders_active

DOWNLOAD_HINT = (
    "download the rearrangement data into data/ with `scripts/download_rearrange_data.sh` "
    "(habitat-sim's `python -m habitat_sim.utils.datasets_download --uids rearrange_task_assets --data-path data/`), "
    "or build the small test data from public assets with `scripts/build_rearrange_data.py --assets DIR`; "
    "run from the folder that holds data/ (episodes name their scenes relative to it)"
)
SIM_VERSION_HINT = (
    "habitat-lab 0.3.4 (PyPI 0.3.320260507) needs habitat-sim 0.3.4 (it uses Simulator.sensors, new in 0.3.4): "
    "install it with `scripts/install_habitat_sim.sh` or `conda env create -f environment.yml`"
)


def is_rearrange_config(config: Any) -> bool:
    return str(config.habitat.task.type).startswith("Rearrange")


def required_files(config: Any) -> dict[str, str]:
    """What the run reads from disk: episodes of the split, scene dataset config, robot URDF."""
    habitat = config.habitat
    files = {"episodes": habitat.dataset.data_path.format(split=habitat.dataset.split)}
    if habitat.simulator.scene_dataset and habitat.simulator.scene_dataset != "default":
        files["scene dataset"] = habitat.simulator.scene_dataset
    for name, agent in habitat.simulator.agents.items():
        if agent.get("articulated_agent_urdf"):
            files[f"robot of {name}"] = agent.articulated_agent_urdf
    return files


def urdf_meshes(urdf_path: str) -> list[str]:
    """Every mesh file a URDF names, as paths relative to the working directory."""
    folder = os.path.dirname(urdf_path)
    root = ET.parse(urdf_path).getroot()
    return sorted({os.path.normpath(os.path.join(folder, m.get("filename", ""))) for m in root.iter("mesh")})


def check_sim_version() -> None:
    """habitat-sim 0.3.3 imports, but habitat-lab 0.3.4's env workers then die building the robot."""
    import habitat_sim

    if not hasattr(habitat_sim.Simulator, "sensors"):
        raise ConfigError(f"habitat-sim {getattr(habitat_sim, '__version__', '?')} is installed, but {SIM_VERSION_HINT}")


def check_render_device(config: Any, cuda_devices: int) -> None:
    """A ``gpu_device_id`` the user chose must exist (habitat's default 0 falls back to CPU rendering without a GPU)."""
    requested = config.habitat.simulator.habitat_sim_v0.gpu_device_id
    if requested < -1 or (requested >= cuda_devices and not (requested == 0 and cuda_devices == 0)):
        raise ConfigError(
            f"habitat.simulator.habitat_sim_v0.gpu_device_id={requested}, but {cuda_devices} CUDA device(s) are visible: "
            f"use 0..{cuda_devices - 1} or -1 (render on the CPU through Mesa)" if cuda_devices else
            f"habitat.simulator.habitat_sim_v0.gpu_device_id={requested}, but no CUDA device is visible: "
            "use -1 (render on the CPU through Mesa) or leave the default"
        )


def check_rearrange_ready(config: Any, sim_installed: Optional[bool] = None, cuda_devices: Optional[int] = None) -> None:
    """Raise ConfigError when habitat-sim is missing or too old, a data file is missing (relative paths
    from the working directory) or the render device does not exist."""
    if sim_installed is None:
        sim_installed = not placeholders_active()
    if not sim_installed:
        raise ConfigError(f"task {config.habitat.task.type} needs the simulator: {INSTALL_HINT}")
    check_sim_version()
    if cuda_devices is None:
        import torch

        cuda_devices = torch.cuda.device_count()
    check_render_device(config, cuda_devices)
    files = required_files(config)
    for what, path in list(files.items()):
        if what.startswith("robot") and os.path.exists(path):
            files.update({f"{what}'s mesh {os.path.basename(mesh)}": mesh for mesh in urdf_meshes(path)})
    missing = {what: path for what, path in files.items() if not os.path.exists(path)}
    if missing:
        listed = ", ".join(f"{what} '{path}'" for what, path in missing.items())
        raise ConfigError(f"missing rearrangement data ({listed}): {DOWNLOAD_HINT}")
