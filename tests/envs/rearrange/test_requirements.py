"""The checks before a pick/place run: habitat-sim version and render device (no simulator needed)."""

from __future__ import annotations

import sys
import types

import pytest
from omegaconf import OmegaConf

from habitat_llm4teach.envs.rearrange.factory import CPU_RENDERING, render_device
from habitat_llm4teach.envs.rearrange.requirements import check_render_device, check_sim_version
from habitat_llm4teach.errors import ConfigError


def test_habitat_sim_033_is_refused_with_the_install_command(monkeypatch):
    old = types.SimpleNamespace(__version__="0.3.3", Simulator=type("Simulator", (), {}))  # 0.3.3 lacks Simulator.sensors
    monkeypatch.setitem(sys.modules, "habitat_sim", old)
    with pytest.raises(ConfigError, match=r"habitat-sim 0\.3\.3 is installed, but .*needs habitat-sim 0\.3\.4.*install_habitat_sim\.sh"):
        check_sim_version()
    new = types.SimpleNamespace(__version__="0.3.4", Simulator=type("Simulator", (), {"sensors": property(lambda s: {})}))
    monkeypatch.setitem(sys.modules, "habitat_sim", new)
    check_sim_version()


def _config(gpu_device_id: int):
    return OmegaConf.create({"habitat": {"simulator": {"habitat_sim_v0": {"gpu_device_id": gpu_device_id}}}})


@pytest.mark.parametrize("requested,cuda_devices,fails", [
    (0, 0, False),  # habitat's default on a machine without a GPU: rendered on the CPU instead
    (-1, 0, False), (-1, 2, False), (1, 2, False),
    (1, 0, True), (2, 2, True), (-3, 2, True),
])
def test_a_gpu_that_does_not_exist_is_a_clear_error(requested, cuda_devices, fails):
    if fails:
        with pytest.raises(ConfigError, match=f"gpu_device_id={requested}"):
            check_render_device(_config(requested), cuda_devices)
    else:
        check_render_device(_config(requested), cuda_devices)


def test_render_device_falls_back_to_the_cpu_only_without_that_gpu():
    assert render_device(0, 0) == CPU_RENDERING
    assert render_device(1, 1) == CPU_RENDERING  # a DD-PPO rank's local rank on a one-GPU machine
    assert render_device(1, 2) == 1
    assert render_device(-1, 4) == CPU_RENDERING
