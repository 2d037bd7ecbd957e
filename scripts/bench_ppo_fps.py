"""PPO training throughput on a MiniGrid paper task through habitat-baselines' trainer.

Runs the real CLI (``python -m habitat_llm4teach.run``) for a fixed budget and
reads habitat-baselines' own ``perf/fps`` from TensorBoard; for context it also
measures, in the same run, the raw stepping rate of the same VectorEnv with
random actions (the ceiling the trainer could reach). Prints one JSON object as
its last line.

    .venv/bin/python scripts/bench_ppo_fps.py [--task SimpleDoorKey] [--envs 4] [--steps 4096]
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

REPO = Path(__file__).resolve().parents[1]


def env_only_fps(task: str, num_envs: int, image_size: int, steps: int) -> float:
    import numpy as np
    from habitat import VectorEnv

    from habitat_llm4teach.envs.minigrid.adapter import MiniGridEnvSpec, make_minigrid_env
    from habitat_llm4teach.envs.minigrid.factory import resolve_task

    specs = [(MiniGridEnvSpec(resolve_task(task), "historical", image_size, 0, i, f"b{i}-"),) for i in range(num_envs)]
    envs = VectorEnv(make_env_fn=make_minigrid_env, env_fn_args=specs)
    try:
        envs.reset()
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        for _ in range(steps // num_envs):
            envs.step(rng.integers(0, 7, num_envs).tolist())
        return steps // num_envs * num_envs / (time.perf_counter() - start)
    finally:
        envs.close()


def trainer_fps(task: str, num_envs: int, image_size: int, steps: int, backbone: str) -> tuple[float, float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with tempfile.TemporaryDirectory() as run_dir:
        cmd = [
            sys.executable, "-m", "habitat_llm4teach.run", "--config-name=minigrid/ppo",
            f"llm4teach.run_dir={run_dir}", f"habitat_baselines.vector_env_factory.task={task}",
            f"habitat_baselines.num_environments={num_envs}", f"habitat_baselines.total_num_steps={steps}",
            f"habitat_baselines.vector_env_factory.image_size={image_size}", f"habitat_baselines.rl.ddppo.backbone={backbone}",
            "habitat_baselines.eval.video_option=[]",
        ]
        start = time.perf_counter()
        result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"training failed:\n{result.stderr[-3000:]}")
        events = EventAccumulator(glob.glob(os.path.join(run_dir, "tb", "events.*"))[0])
        events.Reload()
        return events.Scalars("perf/fps")[-1].value, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="SimpleDoorKey")
    parser.add_argument("--envs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=4096)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--backbone", default="resnet18")
    args = parser.parse_args()

    import torch

    print(f"PPO fps: {args.task}, {args.envs} envs, {args.backbone}, {args.image_size}x{args.image_size}, {args.steps} steps ...", flush=True)
    ppo_fps, wall = trainer_fps(args.task, args.envs, args.image_size, args.steps, args.backbone)
    print(f"  habitat-baselines PPOTrainer perf/fps: {ppo_fps:.1f} (wall {wall:.1f} s incl. start-up)", flush=True)
    raw_fps = env_only_fps(args.task, args.envs, args.image_size, args.steps)
    print(f"  VectorEnv random-action stepping:     {raw_fps:.1f} steps/s", flush=True)
    print(json.dumps({
        "task": args.task, "num_envs": args.envs, "backbone": args.backbone, "image_size": args.image_size,
        "steps": args.steps, "ppo_fps": round(ppo_fps, 1), "env_only_steps_per_s": round(raw_fps, 1),
        "ppo_over_env_only": round(ppo_fps / raw_fps, 3), "wall_s": round(wall, 1),
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
