"""Command-line entry point, habitat-baselines style.

    python -m habitat_llm4teach.run --config-name=minigrid/ppo [minigrid/task=twodoor] [hydra overrides]
    torchrun --nproc_per_node 2 -m habitat_llm4teach.run --config-name=... habitat_baselines.trainer_name=ddppo

Registers our config search path and modules, prepares the process (output
folders on every rank, loopback networking for single-node runs, a distinct
habitat TCPStore port per job, Ctrl-C that saves a resume state), then hands
over to habitat-baselines' own ``execute_exp``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import hydra
from habitat.config.default import patch_config
from habitat.config.default_structured_configs import HabitatConfigPlugin, register_hydra_plugin
from habitat.config.read_write import read_write
from habitat_baselines.config.default_structured_configs import HabitatBaselinesConfigPlugin
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from habitat_llm4teach import gym_notice, registration, sim_optional
from habitat_llm4teach.config.structured import CONFIG_DIR, L4TConfigPlugin
from habitat_llm4teach.envs.minigrid.factory import MiniGridVectorEnvFactory, unbiased_eval_counts
from habitat_llm4teach.envs.rearrange.requirements import check_rearrange_ready, is_rearrange_config
from habitat_llm4teach.errors import ConfigError

logger = logging.getLogger("habitat_llm4teach")


def prepare_distributed_env(environ: "os._Environ[str] | dict[str, str]" = os.environ) -> None:
    """Set habitat's rendezvous variables from torchrun's, before habitat reads them.

    habitat-baselines starts its own TCPStore on ``MAIN_ADDR:MAIN_PORT`` (default
    127.0.0.1:8738), so two concurrent jobs would collide; under torchrun we derive
    it from the job's own ``MASTER_PORT``. gloo binds to the interface habitat
    guesses (eth0); a single-node job uses loopback instead.
    """
    if "LOCAL_RANK" not in environ or "MASTER_PORT" not in environ:
        return
    environ.setdefault("MAIN_ADDR", environ.get("MASTER_ADDR", "127.0.0.1"))
    environ.setdefault("MAIN_PORT", str(int(environ["MASTER_PORT"]) + 1))
    world_size = environ.get("WORLD_SIZE", "1")
    if environ.get("LOCAL_WORLD_SIZE", world_size) == world_size:
        environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
        environ.setdefault("NCCL_SOCKET_IFNAME", "lo")


def install_interrupt_handlers() -> None:
    """First Ctrl-C (or SIGTERM): save a resume state and stop after this update. Second: stop now."""
    from habitat_baselines.rl.ddppo.ddp_utils import EXIT, SAVE_STATE

    def handler(signum: int, frame: Any) -> None:
        if EXIT.is_set():
            raise KeyboardInterrupt
        EXIT.set()
        SAVE_STATE.set()
        print(
            "\nInterrupted: saving a resume state after the current update "
            "(rerun the same command to resume; Ctrl-C again to stop at once).",
            flush=True,
        )

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def prepare_run(cfg: DictConfig) -> DictConfig:
    """Validate the config and create every output folder (on every rank)."""
    hb = cfg.habitat_baselines
    if is_rearrange_config(cfg):
        check_rearrange_ready(cfg)  # habitat-sim and the data, before any env process starts
    env_factory = hydra.utils.instantiate(hb.vector_env_factory)  # validates task/view with a clear error
    for folder in (hb.checkpoint_folder, hb.tensorboard_dir, hb.video_dir, os.path.dirname(hb.log_file)):
        if folder:
            os.makedirs(folder, exist_ok=True)
    if hb.evaluate:
        ckpt = hb.eval_ckpt_path_dir
        if hb.eval.should_load_ckpt and not os.path.exists(ckpt):
            raise ConfigError(
                f"habitat_baselines.eval_ckpt_path_dir='{ckpt}' does not exist: train first "
                "(same command without habitat_baselines.evaluate=True) or point it at a checkpoint."
            )
        # habitat-baselines 0.3.3 builds eval envs from the checkpoint's config but hands
        # this config to the evaluator; building both from this config keeps them consistent.
        with read_write(cfg):
            cfg.habitat_baselines.load_resume_state_config = False
        if isinstance(env_factory, MiniGridVectorEnvFactory):
            episodes, num_envs = unbiased_eval_counts(hb.test_episode_count, hb.num_environments)
            if (episodes, num_envs) != (hb.test_episode_count, hb.num_environments):
                logger.info(
                    f"evaluating {episodes} episodes, {episodes // num_envs} in each of {num_envs} envs (asked: "
                    f"{hb.test_episode_count} with {hb.num_environments} envs): equal quotas keep habitat's "
                    "evaluator from stopping with the long episodes still running"
                )
            with read_write(cfg):
                hb.test_episode_count, hb.num_environments = episodes, num_envs
    return cfg


def available_configs() -> list[str]:
    """The configs one passes as --config-name: ``<env>/<arm>``. Files starting with ``_`` are shared parts, and
    deeper folders are config groups chosen by override (``minigrid/task=twodoor``), not configs of their own."""
    return sorted(
        str(p.relative_to(CONFIG_DIR).with_suffix(""))
        for p in CONFIG_DIR.glob("*/*.yaml")
        if not p.stem.startswith("_")
    )


def minigrid_tasks() -> list[str]:
    """The choices of the minigrid/task config group (configs/habitat/minigrid/task/<name>.yaml)."""
    return sorted(p.stem for p in (CONFIG_DIR / "minigrid" / "task").glob("*.yaml"))


@hydra.main(version_base=None, config_path=str(CONFIG_DIR), config_name=None)
def _main(cfg: DictConfig) -> None:
    from habitat_baselines.run import execute_exp

    try:
        if HydraConfig.get().job.config_name is None:
            raise ConfigError(
                f"no config given: pass --config-name=<name>, one of {available_configs()} "
                f"(MiniGrid: the task with minigrid/task=<{'|'.join(minigrid_tasks())}>)"
            )
        cfg = prepare_run(patch_config(cfg))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    run_dir = Path(cfg.llm4teach.run_dir).resolve()
    is_rank0 = int(os.environ.get("RANK", "0")) == 0
    logger.info(sim_optional.describe_mode())
    if not cfg.habitat_baselines.evaluate:
        install_interrupt_handlers()
    execute_exp(cfg, "eval" if cfg.habitat_baselines.evaluate else "train")
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        # Tear DD-PPO's process group down before the interpreter does: gloo's threads destroyed during interpreter
        # exit can abort a rank that finished its run ("terminate called without an active exception", seen in CI).
        dist.destroy_process_group()
    if is_rank0:
        print(f"Run folder: {run_dir}", flush=True)


def main() -> None:
    gym_notice.mark_shown()  # gym (imported with habitat above) has shown its notice; env workers stay silent
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    prepare_distributed_env()
    registration.register_all()
    for plugin in (HabitatConfigPlugin, HabitatBaselinesConfigPlugin, L4TConfigPlugin):
        register_hydra_plugin(plugin)
    _main()


if __name__ == "__main__":
    main()
