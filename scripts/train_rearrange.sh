#!/usr/bin/env bash
# Train Habitat pick or place with habitat-sim and the rearrangement data: on N GPUs one DD-PPO process per GPU;
# without a GPU one process that renders on the CPU (Mesa; slow, for trying things out: use few envs).
#   scripts/train_rearrange.sh pick|place [llm4teach|ppo] [hydra overrides...]
#   GPUS=8 scripts/train_rearrange.sh pick llm4teach habitat_baselines.num_environments=16
#   scripts/train_rearrange.sh pick llm4teach habitat_baselines.num_environments=2      # a CPU-only machine
# Run from the folder holding data/. The llm4teach configs need the teacher model (scripts/fetch_model.py); each rank
# runs its own in-process teacher on the last visible GPU, else the CPU. Ctrl-C saves a resume state; rerun to resume.
set -euo pipefail
cd "$(dirname "$0")/.."
TASK=${1:?usage: $0 pick|place [llm4teach|ppo] [overrides...]}
KIND=${2:-llm4teach}
shift $(( $# >= 2 ? 2 : 1 ))
case "$TASK" in pick|place) ;; *) echo "error: task must be pick or place, got '$TASK'" >&2; exit 2 ;; esac
case "$KIND" in llm4teach|ppo) ;; *) echo "error: kind must be llm4teach or ppo, got '$KIND'" >&2; exit 2 ;; esac
GPUS=${GPUS:-$(nvidia-smi -L 2>/dev/null | wc -l)}
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}
TRAINER=$([ "$KIND" = ppo ] && echo ddppo || echo llm4teach)
if [ "${GPUS:-0}" -lt 1 ]; then
    echo "No GPU found: one training process, rendering on the CPU (set GPUS=N on a GPU machine)." >&2
    exec "$PYTHON" -m habitat_llm4teach.run --config-name="rearrange/${TASK}_${KIND}" habitat_baselines.trainer_name="$TRAINER" "$@"
fi
exec "$PYTHON" -m torch.distributed.run --standalone --nproc_per_node "$GPUS" -m habitat_llm4teach.run \
    --config-name="rearrange/${TASK}_${KIND}" habitat_baselines.trainer_name="$TRAINER" \
    habitat_baselines.rl.ddppo.distrib_backend=NCCL "$@"
