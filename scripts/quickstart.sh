#!/usr/bin/env bash
# README command 1, the main job: train an LLM4Teach student on the paper's SimpleDoorKey with the
# embedded default LLM teacher (fetched once from PyPI), evaluate it, write videos with the teacher's
# plan and skill on every frame, and plot success vs env steps (student, teacher alone, and a plain
# PPO baseline when $BASELINE holds one). Training stops once the student's success over its last 100
# training episodes reaches $STOP_AT (0.9), or after $STEPS env steps (200k) when it does not: the
# steps a run needs vary by seed and by when the non-blocking teacher's answers arrive (68k-100k+).
# Extra arguments are Hydra overrides for training and evaluation, e.g. habitat_baselines.num_environments=8.
#   STOP_AT=none STEPS=150000 scripts/quickstart.sh   # train the whole budget
#   CONFIG=minigrid/ppo STEPS=8192 scripts/quickstart.sh   # stock habitat PPO smoke run
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh

config=${CONFIG:-minigrid/llm4teach}
steps=${STEPS:-200000}
stop_at=${STOP_AT:-0.9}
run_dir=${RUN_DIR:-data/runs/quickstart/simpledoorkey_$(basename "$config")}
baseline=${BASELINE:-data/runs/quickstart/simpledoorkey_plain_ppo}
teacher_episodes=${TEACHER_EPISODES:-50}
common=(--config-name="$config" "llm4teach.run_dir=$run_dir")
py=.venv/bin/python

uses_teacher=0
[[ "$config" == */llm4teach ]] && uses_teacher=1
if (( uses_teacher )); then
  echo "== The teacher model (downloaded and verified once) =="
  $py scripts/fetch_model.py
fi

stop=()
if [[ "$stop_at" == none ]]; then
  echo "== Training $config for $steps environment steps (CPU is fine) =="
else
  stop=("llm4teach.stop_at_success=$stop_at")
  echo "== Training $config until its last 100 episodes reach success $stop_at, at most $steps env steps (CPU is fine) =="
fi
$py -m habitat_llm4teach.run "${common[@]}" "habitat_baselines.total_num_steps=$steps" "${stop[@]}" "$@"

echo "== Evaluating the latest checkpoint and writing videos =="
overlay=()
(( uses_teacher )) && overlay=(llm4teach.teacher.plan_overlay=true)
$py -m habitat_llm4teach.run "${common[@]}" habitat_baselines.evaluate=True "${overlay[@]}" "$@" 2>&1 | tee "$run_dir/eval.log"

abs=$(cd "$run_dir" && pwd)
if (( uses_teacher )); then
  echo "== The teacher alone on $teacher_episodes episodes (plan cache warm from training) =="
  $py -m habitat_llm4teach.run --config-name=minigrid/teacher "llm4teach.run_dir=$run_dir/teacher_only" \
    "habitat_baselines.test_episode_count=$teacher_episodes" "habitat_baselines.eval.video_option=[]" 2>&1 \
    | tee "$run_dir/teacher_only.log"
  teacher=$(sed -n 's/.*Average episode success: \([0-9.]*\).*/\1/p' "$run_dir/teacher_only.log" | tail -1)
  runs=("LLM4Teach=$run_dir")
  [[ -n "$(ls "$baseline"/episodes.rank*.csv 2>/dev/null)" ]] && runs+=("PPO=$baseline")
  $py scripts/plot_runs.py "${runs[@]}" --hline "teacher only=${teacher:-0}" --out "$abs/success_vs_steps.png" \
    --title "SimpleDoorKey: success vs environment steps"
fi

student=$(sed -n 's/.*Average episode success: \([0-9.]*\).*/\1/p' "$run_dir/eval.log" | tail -1)
# The episodes an evaluation counted, from habitat's progress bar (MiniGrid rounds the count up to a multiple
# of the envs: every env plays the same number).
counted() { tr '\r' '\n' < "$1" | sed -n 's/^.* \([0-9][0-9]*\)\/\([0-9][0-9]*\) \[.*/\2/p' | tail -1; }
evaluated=$(counted "$run_dir/eval.log")
level=$([[ "$stop_at" == none ]] && echo 0.9 || echo "$stop_at")
# Steps trained: habitat's count in the final checkpoint (the stop at $STOP_AT, or the budget rounded up to whole
# rollouts); the episodes file's last step is where its last episode ended, at or before that.
reached=$($py -c "import sys; from habitat_llm4teach.checkpoints import load_checkpoint_file
from habitat_llm4teach.distill.episodes import load_episodes
e, level = load_episodes(sys.argv[1]), float(sys.argv[2]); s = e.steps_to(level); w = e.success[-100:]
trained = load_checkpoint_file(sys.argv[1] + '/checkpoints/latest.pth')['extra_state']['step']
print(f'{trained} env steps; success over the last {len(w)} episodes {w.mean():.2f}; '
      + (f'{level} first reached at {s} env steps' if s is not None else f'{level} not reached (STEPS=... trains longer)'))" \
  "$abs" "$level")
echo
echo "Run folder:   $abs"
echo "Checkpoints:  $abs/checkpoints"
echo "TensorBoard:  $py -m tensorboard.main --logdir $abs/tb"
echo "Videos:       $(find "$abs/videos" -name '*.mp4' | wc -l) mp4 files in $abs/videos"
echo "Training:     $reached"
echo "Student eval: success ${student:-?} over ${evaluated:-?} episodes"
if (( uses_teacher )); then
  echo "Teacher only: success ${teacher:-?} over $(counted "$run_dir/teacher_only.log") episodes"
  echo "Plot:         $abs/success_vs_steps.png"
  echo "Episodes:     $abs/episodes.rank0.csv (step, success, reward of every training episode)"
fi
