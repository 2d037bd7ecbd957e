"""Teacher benchmark: speed, plan accuracy and calibration, teacher-only success.

For the default model on this machine it prints, measured in one run:
- seconds per novel description in score and in sample mode;
- first-skill accuracy on the labelled descriptions in tests/data/minigrid_plan_labels.jsonl,
  for mean and sum length normalisation, and calibration (mean probability on the correct
  skill) at the configured sharpening temperature and at the temperature fitted on the set;
- teacher-only success and return over N episodes on each paper task, through
  habitat-baselines' evaluator (configs/habitat/minigrid/<task>_teacher.yaml).
The last line is one JSON object.

    .venv/bin/python scripts/bench_teacher.py [--model PATH] [--episodes 100] [--sample-rows 10]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LABELS = REPO / "tests" / "data" / "minigrid_plan_labels.jsonl"
TASKS = ("simpledoorkey", "lavadoorkey", "coloreddoorkey", "twodoor")
TEMPERATURES = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0)


def softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max())
    return z / z.sum()


def score_mode(model: str, rows: list[dict], sharpen: float) -> dict:
    from habitat_llm4teach.teacher.describe import candidate_skills
    from habitat_llm4teach.teacher.llm import CausalLM
    from habitat_llm4teach.teacher.planner import ScorePlanner
    from habitat_llm4teach.teacher.scene import scene_from_description

    planner = ScorePlanner(CausalLM(model), sharpen_temperature=sharpen)
    planner.plan(rows[0]["description"] + " ", scene_from_description(rows[0]["description"]))  # warm-up: static prefix
    seconds, records = [], []
    for row in rows:
        scene = scene_from_description(row["description"])
        start = time.perf_counter()
        answer = planner.plan(row["description"], scene)
        seconds.append(time.perf_counter() - start)
        candidates = [str(c) for c in candidate_skills(scene)]
        both = planner.llm.score(planner.prompt(row["description"], scene), candidates, static_prefix=planner.static_prefix)
        records.append((candidates.index(row["label"]), both, answer.plans[0].text))
    result = {"score_s_per_description": float(np.mean(seconds))}
    for column, norm in ((1, "mean"), (0, "sum")):
        correct = [int(np.argmax(s[:, column]) == i) for i, s, _ in records]
        fitted = min(TEMPERATURES, key=lambda t: -np.mean([np.log(softmax(s[:, column] / t)[i]) for i, s, _ in records]))
        result[f"accuracy_{norm}"] = float(np.mean(correct))
        result[f"p_correct_{norm}_T1"] = float(np.mean([softmax(s[:, column])[i] for i, s, _ in records]))
        result[f"fitted_T_{norm}"] = fitted
        result[f"p_correct_{norm}_fitted"] = float(np.mean([softmax(s[:, column] / fitted)[i] for i, s, _ in records]))
    result["planner_accuracy"] = float(np.mean([top == row["label"] for (_, _, top), row in zip(records, rows)]))
    result["p_correct_configured_T"] = float(
        np.mean([softmax(s[:, 1 if planner.length_norm == "mean" else 0] / sharpen)[i] for i, s, _ in records])
    )
    result["mean_top1_prob"] = float(np.mean([softmax(s[:, 1] / sharpen).max() for _, s, _ in records]))
    result["uniform_prob"] = float(np.mean([1 / len(s) for _, s, _ in records]))
    return result


def sample_mode(model: str, rows: list[dict]) -> dict:
    from habitat_llm4teach.teacher.llm import CausalLM
    from habitat_llm4teach.teacher.planner import SamplePlanner
    from habitat_llm4teach.teacher.scene import scene_from_description

    planner = SamplePlanner(CausalLM(model))
    seconds, correct, invalid = [], [], 0
    for row in rows:
        start = time.perf_counter()
        answer = planner.plan(row["description"], scene_from_description(row["description"]))
        seconds.append(time.perf_counter() - start)
        correct.append(bool(answer.plans) and str(answer.plans[0].steps[0]) == row["label"])
        invalid += answer.invalid
    return {"sample_s_per_description": float(np.mean(seconds)), "sample_accuracy": float(np.mean(correct)),
            "sample_rows": len(rows), "sample_invalid_steps": invalid}


def teacher_only(task: str, episodes: int, model: str, cache: Path) -> dict:
    cmd = [
        sys.executable, "-m", "habitat_llm4teach.run", f"--config-name=minigrid/{task}_teacher",
        f"habitat_baselines.test_episode_count={episodes}", f"llm4teach.teacher.model={model}",
        f"llm4teach.teacher.cache_path={cache}", f"llm4teach.run_dir={cache.parent / task}",
    ]
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"teacher-only eval on {task} failed:\n{result.stderr[-3000:]}")
    out = result.stdout + result.stderr
    success = float(re.search(r"Average episode success: ([0-9.]+)", out).group(1))
    reward = float(re.search(r"Average episode reward: ([0-9.]+)", out).group(1))
    return {"success": success, "return": reward, "wall_s": round(time.perf_counter() - start, 1)}


def main() -> None:
    from habitat_llm4teach.config.structured import TeacherConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=TeacherConfig.model)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--sample-rows", type=int, default=10, help="labelled rows to run in sample mode (slow)")
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    args = parser.parse_args()
    rows = [json.loads(line) for line in LABELS.read_text().splitlines() if line.strip()]

    report = {"model": args.model, "labelled_descriptions": len(rows)}
    print(f"score mode on {len(rows)} labelled descriptions ...", flush=True)
    report.update(score_mode(args.model, rows, TeacherConfig.sharpen_temperature))
    print(json.dumps(report), flush=True)
    if args.sample_rows:
        print(f"sample mode on {args.sample_rows} labelled descriptions ...", flush=True)
        report.update(sample_mode(args.model, rows[: args.sample_rows]))
        print(json.dumps(report), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "plans.json"
        for task in args.tasks:
            print(f"teacher-only {task}, {args.episodes} episodes ...", flush=True)
            report[f"teacher_only_{task}"] = teacher_only(task, args.episodes, args.model, cache)
            print(json.dumps(report[f"teacher_only_{task}"]), flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
