#!/usr/bin/env bash
# README command 1: train a PPO student on the paper's SimpleDoorKey through
# habitat-baselines' trainer, evaluate it, write videos; print the run folder.
# Extra arguments are Hydra overrides, e.g. habitat_baselines.total_num_steps=50000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh

config=${CONFIG:-minigrid/simpledoorkey_ppo}
steps=${STEPS:-8192}
run_dir=${RUN_DIR:-data/runs/quickstart/$(basename "$config")}
common=(--config-name="$config" "llm4teach.run_dir=$run_dir")

echo "== Training $config for $steps environment steps (CPU is fine) =="
.venv/bin/python -m habitat_llm4teach.run "${common[@]}" "habitat_baselines.total_num_steps=$steps" "$@"
echo "== Evaluating the latest checkpoint and writing videos =="
.venv/bin/python -m habitat_llm4teach.run "${common[@]}" habitat_baselines.evaluate=True "$@"

abs=$(cd "$run_dir" && pwd)
echo
echo "Run folder:   $abs"
echo "Checkpoints:  $abs/checkpoints"
echo "TensorBoard:  .venv/bin/tensorboard --logdir $abs/tb"
echo "Videos:       $(find "$abs/videos" -name '*.mp4' | wc -l) mp4 files in $abs/videos"
