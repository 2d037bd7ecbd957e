"""The simulator-optional import: placeholders only when habitat-sim is missing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from helpers import GYM_NOTICE, REAL_SIM, REPO, TINY_TRAINING, output_of, run_cli

needs_no_sim = pytest.mark.skipif(REAL_SIM, reason="habitat-sim is installed: placeholders are never used")

MODE_LINE = "habitat-sim not found: inert placeholder modules active"


def python(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """A fresh interpreter of this environment (site-packages .pth files included)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, cwd="/", env={**os.environ, **(env or {})}, timeout=120,
    )


@needs_no_sim
def test_finder_is_appended_last_at_interpreter_start():
    result = python("""
        import sys
        print(type(sys.meta_path[-1]).__name__)
    """)
    assert result.stdout.strip() == "SimulatorPlaceholderFinder", result.stderr


@needs_no_sim
def test_habitat_baselines_imports_on_placeholders():
    result = python("""
        import habitat_baselines.rl.ppo.ppo_trainer, habitat_baselines.rl.ddppo.policy.resnet_policy
        import habitat_sim, magnum, corrade
        from habitat_llm4teach.sim_optional import PLACEHOLDER_FLAG
        print(all(getattr(m, PLACEHOLDER_FLAG, False) for m in (habitat_sim, magnum, corrade)))
    """)
    assert result.stdout.strip().endswith("True"), result.stderr


def test_real_module_wins_over_placeholder(tmp_path):
    (tmp_path / "magnum").mkdir()
    (tmp_path / "magnum" / "__init__.py").write_text("REAL = True\n")
    result = python(
        """
        import magnum
        from habitat_llm4teach.sim_optional import PLACEHOLDER_FLAG
        print(getattr(magnum, "REAL", False), getattr(magnum, PLACEHOLDER_FLAG, False))
        """,
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert result.stdout.strip() == "True False", result.stderr


@needs_no_sim
def test_profiling_wrapper_takes_its_own_noop_path():
    from habitat.utils import profiling_wrapper

    assert profiling_wrapper.profiling_utils is None
    with profiling_wrapper.RangeContext("noop"):
        profiling_wrapper.on_start_step()


@needs_no_sim
@pytest.mark.parametrize("name", ["Sim-v0", "RearrangeSim-v0"])
def test_constructing_a_habitat_simulator_raises_with_install_command(name):
    import habitat  # noqa: F401  (registers simulators)
    from habitat.core.registry import registry
    from habitat.sims import make_sim

    from habitat_llm4teach.sim_optional import HabitatSimNotInstalledError

    with pytest.raises(HabitatSimNotInstalledError, match=f"'{name}'.*install_habitat_sim.sh"):
        make_sim(name, config=None)
    with pytest.raises(HabitatSimNotInstalledError, match="environment.yml"):
        registry.get_simulator(name)()


@needs_no_sim
@pytest.mark.parametrize("name", ["Nav-v0", "RearrangePickTask-v0"])
def test_constructing_a_habitat_task_raises_with_install_command(name):
    import habitat.tasks.rearrange  # noqa: F401  (registers rearrange tasks)
    from habitat.core.registry import registry

    from habitat_llm4teach.sim_optional import HabitatSimNotInstalledError

    with pytest.raises(HabitatSimNotInstalledError, match=f"task '{name}'"):
        registry.get_task(name)(config=None, sim=None, dataset=None)


@needs_no_sim
def test_placeholders_active_in_vector_env_workers():
    """Workers are forkserver processes whose parent here is pytest, not our CLI."""
    from habitat import VectorEnv

    import worker_probe

    envs = VectorEnv(make_env_fn=worker_probe.make_probe_env, env_fn_args=((), ()))
    try:
        probes = [envs.call_at(i, "probe") for i in range(2)]
    finally:
        envs.close()
    assert all(pid != os.getpid() for pid, _ in probes)
    assert all(flag for _, flag in probes)


@needs_no_sim
def test_mode_line_logged_once_per_torchrun_rank(tmp_path):
    result = run_cli(
        [
            "--config-name=minigrid/ppo",
            "habitat_baselines.trainer_name=ddppo",
            "habitat_baselines.total_num_steps=64",
            f"llm4teach.run_dir={tmp_path}",
            *TINY_TRAINING,
        ],
        torchrun_procs=2,
    )
    out = output_of(result)
    assert result.returncode == 0, out[-3000:]
    assert out.count(MODE_LINE) == 2
    assert out.count(GYM_NOTICE) <= 1  # rank 0 at most, not once per rank and env worker
    assert "Initialized DD-PPO with 2 workers" in out
    assert (tmp_path / "checkpoints" / "latest.pth").is_file()
