"""Fixtures shared by all tests; plain helpers live in helpers.py (importable from any test folder)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import build_tiny_causal_lm  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random causal LM folder, built once per session."""
    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny_lm"))


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
