#!/usr/bin/env bash
# Evaluate a pick or place checkpoint and write videos (head depth + third-person camera) with the teacher's current
# skill written on every frame (llm4teach configs; needs the teacher model).
#   scripts/eval_rearrange.sh pick|place [CHECKPOINT] [hydra overrides...]
# CHECKPOINT defaults to the run folder's checkpoints/latest.pth; videos go to data/runs/rearrange/<task>_llm4teach/videos.
set -euo pipefail
cd "$(dirname "$0")/.."
TASK=${1:?usage: $0 pick|place [checkpoint] [overrides...]}
shift
case "$TASK" in pick|place) ;; *) echo "error: task must be pick or place, got '$TASK'" >&2; exit 2 ;; esac
CKPT_ARGS=()
if [ $# -gt 0 ] && [[ "$1" != *=* ]]; then
    CKPT_ARGS=("habitat_baselines.eval_ckpt_path_dir=$1")
    shift
fi
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}
exec "$PYTHON" -m habitat_llm4teach.run --config-name="rearrange/${TASK}_llm4teach" habitat_baselines.evaluate=True \
    llm4teach.teacher.plan_overlay=true "${CKPT_ARGS[@]}" "$@"
