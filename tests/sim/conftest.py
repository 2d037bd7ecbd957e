"""The real-simulator tier: habitat-sim and rearrangement data, or skipped with the reason.

Every test here is marked ``sim`` and runs on habitat-sim itself (on a machine without
a GPU it renders through Mesa, ``gpu_device_id=-1``): expected values come from the
simulator, never from our own models. The data is found in ``$LLM4TEACH_HABITAT_DATA``
(a folder holding ``data/``, as habitat's episodes name their files relative to it)
or in the repository root; ``scripts/build_rearrange_data.py`` builds a small set from
public assets and ``scripts/download_rearrange_data.sh`` fetches the official one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import pytest

from helpers import REPO

DATA_ENV = "LLM4TEACH_HABITAT_DATA"
EPISODES = Path("data/datasets/replica_cad/rearrange/v2/{split}/rearrange_easy.json.gz")


def _skip_reason() -> str | None:
    from habitat_llm4teach.sim_optional import placeholders_active

    if placeholders_active():
        return "habitat-sim is not installed (scripts/install_habitat_sim.sh)"
    root = data_root()
    if not (root / str(EPISODES).format(split="train")).exists():
        return (f"no rearrangement data under {root}/data (set {DATA_ENV} to the folder holding data/, or run "
                "scripts/build_rearrange_data.py --assets DIR)")
    return None


def data_root() -> Path:
    return Path(os.environ.get(DATA_ENV, REPO)).resolve()


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    sim_items = [item for item in items if here in Path(str(item.fspath)).parents]
    if not sim_items:
        return
    reason = _skip_reason()
    for item in sim_items:
        item.add_marker(pytest.mark.sim)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=f"real-simulator tier: {reason}"))


@pytest.fixture(autouse=True)
def in_data_root(monkeypatch):
    """habitat's episodes name scenes relative to the folder holding data/."""
    monkeypatch.chdir(data_root())


def compose_config(name: str, overrides: Sequence[str] = ()):
    """A config from configs/habitat, composed the way run.py does."""
    from habitat.config.default import patch_config
    from habitat.config.default_structured_configs import HabitatConfigPlugin, register_hydra_plugin
    from habitat_baselines.config.default_structured_configs import HabitatBaselinesConfigPlugin
    from hydra import compose, initialize_config_dir

    from habitat_llm4teach import registration
    from habitat_llm4teach.config.structured import CONFIG_DIR, L4TConfigPlugin

    registration.register_all()
    for plugin in (HabitatConfigPlugin, HabitatBaselinesConfigPlugin, L4TConfigPlugin):
        register_hydra_plugin(plugin)
    with initialize_config_dir(version_base=None, config_dir=str(CONFIG_DIR)):
        return patch_config(compose(config_name=name, overrides=list(overrides)))


CPU = ("habitat.simulator.habitat_sim_v0.gpu_device_id=-1", "habitat.dataset.split=train")


def _gym_env(config_name: str):  # type: ignore[no-untyped-def]
    """A habitat.gym env of one of our configs, built from the folder holding data/."""
    from habitat.gym import make_gym_from_config

    old = os.getcwd()
    os.chdir(data_root())
    try:
        return make_gym_from_config(compose_config(config_name, CPU))
    finally:
        os.chdir(old)


@pytest.fixture(scope="session")
def pick_env():
    """One pick env with the teacher's l4t_scene sensor (the config our trainer uses)."""
    env = _gym_env("rearrange/pick_llm4teach")
    yield env
    env.close()


@pytest.fixture(scope="session")
def place_env():
    env = _gym_env("rearrange/place_llm4teach")
    yield env
    env.close()
