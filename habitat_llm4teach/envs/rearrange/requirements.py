"""Before a Habitat pick/place run: habitat-sim and the rearrangement data must be there (one clear error otherwise).

Owns the check ``run.py`` makes for configs whose task is a habitat-lab
rearrangement task, before any env process starts: without habitat-sim the
error gives the conda install command; with it, missing data files (episodes,
scene dataset, robot) name the download script.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from habitat_llm4teach.errors import ConfigError
from habitat_llm4teach.sim_optional import INSTALL_HINT, placeholders_active

DOWNLOAD_HINT = (
    "download the rearrangement data into data/ with `scripts/download_rearrange_data.sh` "
    "(habitat-sim's `python -m habitat_sim.utils.datasets_download --uids rearrange_task_assets --data-path data/`)"
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


def check_rearrange_ready(config: Any, sim_installed: Optional[bool] = None) -> None:
    """Raise ConfigError when habitat-sim or a data file is missing (relative paths from the working directory)."""
    if sim_installed is None:
        sim_installed = not placeholders_active()
    if not sim_installed:
        raise ConfigError(f"task {config.habitat.task.type} needs the simulator: {INSTALL_HINT}")
    missing = {what: path for what, path in required_files(config).items() if not os.path.exists(path)}
    if missing:
        listed = ", ".join(f"{what} '{path}'" for what, path in missing.items())
        raise ConfigError(f"missing rearrangement data ({listed}): {DOWNLOAD_HINT}")
