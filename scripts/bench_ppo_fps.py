#!/usr/bin/env python
"""PPO training throughput of MiniGrid set-ups, side by side: today's default against the old one.

Trains each set-up with the real CLI (``python -m habitat_llm4teach.run
--config-name=minigrid/ppo`` plus its overrides) on the same task, seed, env count
and step budget, one after the other, and reads habitat-baselines' own
``perf/fps`` (env steps per second of training, start-up excluded) and its
per-phase timers from TensorBoard; the wall time includes start-up (env workers,
imports). The set-ups (``SETUPS``):

- ``old``: the MiniGrid default before the CPU work (the ``resnet18_64`` student, envs in worker processes,
  habitat's Adam);
- ``new``: today's default (no overrides: the ``resnet18_64_pointwise`` student, envs in process, fused Adam);
- ``habitat_pooling``: the default with habitat's own image scaling and pooling: what one-pass pooling buys;
- ``resnet18_64``: the default with the ``resnet18_64`` student (the default until 2026-12-06): what the
  pointwise student and the rest buy;
- ``habitat_adam``: the default with habitat's own Adam in place of the fused step.

Prints one line per set-up and, last, one JSON object with ``fps_old``,
``fps_new``, ``ratio`` = fps_new / fps_old and ``fps_<set-up>`` for the others asked for (None when not).

    .venv/bin/python scripts/bench_ppo_fps.py [--task SimpleDoorKey] [--envs 16] [--steps 16384]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parents[1]
SETUPS = {
    "old": ["minigrid/student=resnet18_64", "habitat_baselines.vector_env_factory.workers=processes",
            "habitat_baselines.updater_name=PPO", "habitat_baselines.distrib_updater_name=DDPPO"],
    "new": [],
    "habitat_pooling": ["llm4teach.student.pool_images_in_one_pass=false"],
    "resnet18_64": ["minigrid/student=resnet18_64"],
    # today's default with habitat's own Adam instead of the fused step (distill/optimizer.py): what fusing buys
    "habitat_adam": ["habitat_baselines.updater_name=PPO", "habitat_baselines.distrib_updater_name=DDPPO"],
}
TIMERS = ("trainer.rollout_collect", "trainer.update_agent")


def train_fps(setup: str, task: str, num_envs: int, steps: int, seed: int, extra: Sequence[str]) -> dict:
    """One PPO training run of ``setup``; habitat's perf/fps and phase timers at its last log."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with tempfile.TemporaryDirectory() as run_dir:
        cmd = [
            sys.executable, "-m", "habitat_llm4teach.run", "--config-name=minigrid/ppo", *SETUPS[setup],
            f"minigrid/task={task.lower()}", f"habitat.seed={seed}", f"llm4teach.run_dir={run_dir}",
            f"habitat_baselines.num_environments={num_envs}", f"habitat_baselines.total_num_steps={steps}",
            "habitat_baselines.eval.video_option=[]", *extra,
        ]
        start = time.perf_counter()
        result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"training {setup} failed (exit {result.returncode}):\n{(result.stdout + result.stderr)[-3000:]}")
        events = EventAccumulator(glob.glob(os.path.join(run_dir, "tb", "events.*"))[0])
        events.Reload()
        scalar = lambda tag: events.Scalars(tag)[-1].value  # noqa: E731
        return {
            "setup": setup,
            "overrides": [*SETUPS[setup], *extra],
            "fps": round(scalar("perf/fps"), 1),
            **{f"{name.split('.')[1]}_s": round(scalar(f"perf/{name}"), 3) for name in TIMERS},
            "wall_s": round(wall, 1),
        }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="SimpleDoorKey", choices=["SimpleDoorKey", "LavaDoorKey", "ColoredDoorKey", "TwoDoor"])
    parser.add_argument("--envs", type=int, default=16, help="the MiniGrid configs' own default")
    parser.add_argument("--steps", type=int, default=16384, help="env steps per set-up")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--setups", nargs="+", choices=sorted(SETUPS), default=list(SETUPS))
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every set-up")
    args = parser.parse_args(argv)
    if args.envs < 1 or args.steps < args.envs * 32:
        parser.error("need at least one env and one update's worth of steps (envs x 32)")
    if not {"old", "new"} <= set(args.setups):
        parser.error("--setups must include old and new (the ratio)")

    import torch

    runs = {}
    for setup in args.setups:
        print(f"PPO, {setup} set-up {SETUPS[setup]}: {args.task}, {args.envs} envs, {args.steps} steps ...", flush=True)
        runs[setup] = train_fps(setup, args.task, args.envs, args.steps, args.seed, args.overrides)
        print(f"  {json.dumps(runs[setup])}", flush=True)
    print(json.dumps({
        "task": args.task, "num_envs": args.envs, "steps": args.steps, "seed": args.seed,
        "fps_old": runs["old"]["fps"], "fps_new": runs["new"]["fps"],
        "ratio": round(runs["new"]["fps"] / runs["old"]["fps"], 2),
        "wall_ratio": round(runs["old"]["wall_s"] / runs["new"]["wall_s"], 2),
        **{f"fps_{setup}": runs[setup]["fps"] if setup in runs else None for setup in SETUPS if setup not in ("old", "new")},
        **runs,
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
