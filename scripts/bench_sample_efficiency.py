#!/usr/bin/env python
"""LLM4Teach vs plain PPO sample efficiency on a paper task, several seeds, one results folder.

Both arms use the same trainer (``llm4teach``) and config; PPO is the same run
with ``llm4teach.distill.schedule=none`` (no teacher, lambda = 0). For each seed:

1. LLM4Teach trains for ``--budget`` env steps;
2. PPO trains until its success over the last 100 episodes reaches 90 %, or it
   has used ``--ppo-factor`` times the steps LLM4Teach needed to get there
   (the whole LLM4Teach budget when LLM4Teach did not get there);
3. the teacher acting alone is evaluated once, and each LLM4Teach student's final
   checkpoint once, on ``--eval-episodes`` episodes through habitat's evaluator.

steps_to_90: env steps until the moving success over the last 100 training
episodes first reaches 0.9 (habitat_llm4teach/distill/episodes.py), averaged
over the seeds that reached it. When PPO stops short, the ratio is a lower bound
(``ratio_is_lower_bound``). fps is habitat's ``perf/fps`` at the end of each run
(teacher on vs plain PPO, same machine, one run after the other).

Writes ``<results>/sample_efficiency.json`` and ``<results>/success_vs_steps.png``;
the last line printed is the JSON object. Each finished run leaves
``<run>/bench_record.json``; running the same command again reuses finished runs
(same seed and step budget), so an interrupted benchmark picks up where it stopped.

    python scripts/bench_sample_efficiency.py --task SimpleDoorKey --seeds 1 2 3 --budget 120000
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from plot_runs import plot_runs  # noqa: E402

from habitat_llm4teach.distill.episodes import load_episodes  # noqa: E402
from habitat_llm4teach.distill.training_log import parse_progress_lines  # noqa: E402

THRESHOLD = 0.9


def finished(record_path: Path, settings: dict, label: str) -> Optional[dict]:
    """The record an earlier benchmark left at ``record_path`` when it was made with the same ``settings``."""
    if not record_path.exists():
        return None
    record = json.loads(record_path.read_text())
    if any(record.get(key) != value for key, value in settings.items()):
        return None
    print(f"reusing {label} {record_path.parent}: {json.dumps(record)}", flush=True)
    return record


def train(config: str, run_dir: Path, seed: int, steps: int, extra: Sequence[str], teacher: Optional[dict] = None) -> dict:
    """One training run; returns its steps_to_90, final success and return, steps done and fps. ``teacher``
    (prompt version and model, for runs that use it) is part of what a record must match to be reused."""
    record_path = run_dir / "bench_record.json"
    settings = {"seed": seed, "budget": steps, "overrides": list(extra), **(teacher or {})}
    record = finished(record_path, settings, "finished run")
    if record:
        return record
    cmd = [
        sys.executable, "-m", "habitat_llm4teach.run", f"--config-name={config}", f"habitat.seed={seed}",
        f"habitat_baselines.total_num_steps={steps}", f"llm4teach.run_dir={run_dir}", *extra,
    ]
    print(f"$ {' '.join(cmd[1:])}", flush=True)
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    out = result.stdout + result.stderr
    (run_dir / "bench_output.txt").write_text(out)
    if result.returncode != 0:
        sys.exit(f"training failed (exit {result.returncode}), see {run_dir / 'bench_output.txt'}:\n{out[-3000:]}")
    episodes = load_episodes(str(run_dir))
    fps = [line["fps"] for line in parse_progress_lines(out) if line["fps"] is not None]
    final_window = episodes.success[-100:]
    record = {
        "run_dir": str(run_dir),
        "seed": seed,
        "budget": steps,
        "overrides": list(extra),
        **(teacher or {}),
        "steps_to_90": episodes.steps_to(THRESHOLD),
        "final_success": float(final_window.mean()) if len(final_window) else 0.0,
        "final_return": float(episodes.reward[-100:].mean()) if len(final_window) else 0.0,
        "steps": int(episodes.step[-1]) if len(episodes.step) else 0,
        "episodes": len(episodes.step),
        "fps": fps[-1] if fps else None,
        "wall_s": round(time.perf_counter() - start, 1),
    }
    record_path.write_text(json.dumps(record, indent=2))
    print(json.dumps(record), flush=True)
    return record


def evaluate(config: str, episodes: int, run_dir: Path, extra: Sequence[str], label: str, teacher: Optional[dict] = None) -> dict:
    """Habitat's evaluator on ``episodes`` episodes (no videos): ``{"success", "return", "episodes"}``.

    Used for the teacher acting alone and for each student's final checkpoint
    (habitat samples actions at evaluation, as in training). Kept in
    ``<run_dir>/bench_eval.json`` and reused like training records.
    """
    record_path = run_dir / "bench_eval.json"
    settings = {"config": config, "episodes": episodes, "overrides": list(extra), **(teacher or {})}
    record = finished(record_path, settings, f"{label} evaluation")
    if record:
        return record
    cmd = [
        sys.executable, "-m", "habitat_llm4teach.run", f"--config-name={config}",
        "habitat_baselines.evaluate=True", f"habitat_baselines.test_episode_count={episodes}",
        "habitat_baselines.eval.video_option=[]", *extra,
    ]
    print(f"$ {' '.join(cmd[1:])}", flush=True)
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    out = result.stdout + result.stderr
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "bench_eval_output.txt").write_text(out)
    success = re.search(r"Average episode success: ([0-9.]+)", out)
    reward = re.search(r"Average episode reward: ([-0-9.]+)", out)
    if result.returncode != 0 or success is None or reward is None:
        sys.exit(f"{label} evaluation failed (exit {result.returncode}), see {run_dir / 'bench_eval_output.txt'}:\n{out[-3000:]}")
    record = {**settings, "success": float(success.group(1)), "return": float(reward.group(1))}
    record_path.write_text(json.dumps(record, indent=2))
    print(json.dumps(record), flush=True)
    return record


def mean_reached(records: list[dict]) -> Optional[float]:
    reached = [r["steps_to_90"] for r in records if r["steps_to_90"] is not None]
    return float(np.mean(reached)) if reached else None


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="SimpleDoorKey", choices=["SimpleDoorKey", "LavaDoorKey", "ColoredDoorKey", "TwoDoor"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--budget", type=int, default=120_000, help="LLM4Teach env steps per seed")
    parser.add_argument("--ppo-factor", type=float, default=5.0, help="PPO budget = this x LLM4Teach's steps_to_90")
    parser.add_argument("--eval-episodes", type=int, default=100, help="episodes for the teacher alone and for each student")
    parser.add_argument("--results", type=Path, default=None, help="default: data/results/sample_efficiency_<task>")
    parser.add_argument("--student", default="resnet18_64",
                        help="minigrid/student option for both arms (named in every record, so runs of another student are never reused)")
    parser.add_argument("--arms", choices=["both", "llm4teach"], default="both",
                        help="llm4teach: LLM4Teach, its evaluations and the teacher alone only (PPO figures null); "
                             "a later run with both reuses them")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for both arms, e.g. habitat_baselines.num_environments=8")
    args = parser.parse_args(argv)
    if len(args.seeds) < 1 or args.budget < 1:
        parser.error("need at least one seed and a positive budget")

    results = args.results or REPO / "data" / "results" / f"sample_efficiency_{args.task.lower()}"
    results.mkdir(parents=True, exist_ok=True)
    config = "minigrid/llm4teach"
    # The config groups choosing the task and the student (configs/habitat/minigrid/task/, student/); the teacher
    # alone has no student, so its evaluation takes only the task and is shared by every student's benchmark.
    task = f"minigrid/task={args.task.lower()}"
    groups = [task, f"minigrid/student={args.student}"]
    cache = str(REPO / "data" / "plan_cache" / "minigrid.json")
    # Runs and evaluations that use the teacher are reused only when made with the same prompt and model.
    from habitat_llm4teach.config.structured import TeacherConfig
    from habitat_llm4teach.teacher.minigrid.prompts import PROMPT_VERSION

    teacher_identity = {"teacher_prompt": PROMPT_VERSION, "teacher_model": Path(TeacherConfig.model).name}

    llm4teach = [
        train(config, results / f"llm4teach_seed{seed}", seed, args.budget, [*groups, f"llm4teach.teacher.cache_path={cache}", *args.overrides],
              teacher_identity)
        for seed in args.seeds
    ]
    llm4teach_steps = mean_reached(llm4teach)
    ppo_budget = int(args.ppo_factor * (llm4teach_steps if llm4teach_steps is not None else args.budget))
    ppo = [
        train(config, results / f"ppo_seed{seed}", seed, ppo_budget,
              [*groups, "llm4teach.distill.schedule=none", f"llm4teach.stop_at_success={THRESHOLD}", *args.overrides])
        for seed in args.seeds
    ] if args.arms == "both" else []
    teacher_dir = results / "teacher_only"
    teacher_eval = evaluate("minigrid/teacher", args.eval_episodes, teacher_dir,
                            [task, f"llm4teach.run_dir={teacher_dir}", f"llm4teach.teacher.cache_path={cache}"], "teacher-only",
                            teacher_identity)
    teacher = teacher_eval["success"]
    student_evals = [
        evaluate(config, args.eval_episodes, Path(r["run_dir"]), [*groups, f"llm4teach.run_dir={r['run_dir']}"], "student",
                 teacher_identity)
        for r in llm4teach
    ]

    ppo_steps = mean_reached(ppo)
    all_ppo_reached = all(r["steps_to_90"] is not None for r in ppo)
    if llm4teach_steps is None or not ppo:
        ratio, lower_bound = None, False
    elif all_ppo_reached:
        ratio, lower_bound = ppo_steps / llm4teach_steps, False
    else:  # some PPO seeds stopped short: count them at their budget
        ppo_counted = [r["steps_to_90"] if r["steps_to_90"] is not None else r["steps"] for r in ppo]
        ratio, lower_bound = float(np.mean(ppo_counted)) / llm4teach_steps, True
    fps_on = [r["fps"] for r in llm4teach if r["fps"]]
    fps_off = [r["fps"] for r in ppo if r["fps"]]

    plot = results / "success_vs_steps.png"
    try:
        plot_runs(
            {"LLM4Teach": [r["run_dir"] for r in llm4teach], **({"PPO": [r["run_dir"] for r in ppo]} if ppo else {})},
            str(plot), hlines={"teacher only": teacher}, title=f"{args.task}: success vs env steps",
        )
    except ValueError as error:  # no run finished an episode: a budget too small to plot
        print(f"no plot: {error}", flush=True)
        plot = None
    report = {
        "task": args.task,
        "student": args.student,
        "arms": args.arms,
        "seeds": args.seeds,
        "budget": args.budget,
        "llm4teach_steps_to_90": llm4teach_steps,
        "llm4teach_seeds_reached_90": sum(r["steps_to_90"] is not None for r in llm4teach),
        "ppo_steps_to_90": ppo_steps,
        "ppo_seeds_reached_90": sum(r["steps_to_90"] is not None for r in ppo),
        "ppo_budget": ppo_budget if ppo else None,
        "ratio": ratio,
        "ratio_is_lower_bound": lower_bound,
        "llm4teach_final_success": float(np.mean([r["final_success"] for r in llm4teach])),
        "ppo_final_success": float(np.mean([r["final_success"] for r in ppo])) if ppo else None,
        "teacher_success": teacher,
        "llm4teach_final_return": float(np.mean([r["final_return"] for r in llm4teach])),
        "ppo_final_return": float(np.mean([r["final_return"] for r in ppo])) if ppo else None,
        "teacher_return": teacher_eval["return"],
        "llm4teach_eval_success": float(np.mean([e["success"] for e in student_evals])),
        "llm4teach_eval_return": float(np.mean([e["return"] for e in student_evals])),
        "llm4teach_fps": float(np.mean(fps_on)) if fps_on else None,
        "ppo_fps": float(np.mean(fps_off)) if fps_off else None,
        "fps_ratio": float(np.mean(fps_on) / np.mean(fps_off)) if fps_on and fps_off else None,
        "runs": {"llm4teach": llm4teach, "ppo": ppo},
        "plot": str(plot) if plot else None,
    }
    (results / "sample_efficiency.json").write_text(json.dumps(report, indent=2))
    print(f"Results: {results}", flush=True)
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
