"""Teacher benchmark: speed, plan accuracy and calibration, teacher-only success.

For the default model on this machine it prints, measured in one run:
- seconds per novel description in score and in sample mode;
- first-skill accuracy on the labelled descriptions in tests/data/minigrid_plan_labels.jsonl (dev:
  the prompt is chosen and the temperature fitted on it) and minigrid_plan_labels_heldout.jsonl
  (held out: evaluated at the dev temperature), minigrid_plan_labels_missions.jsonl and
  minigrid_plan_labels_missions2.jsonl and minigrid_plan_labels_missions3.jsonl (held out: other MiniGrid and
  BabyAI tasks' missions), for mean and sum length
  normalisation, and
  calibration (mean probability on the correct skill) at the configured sharpening temperature
  and at the fitted one;
- with --rearrange, accuracy on the labelled pick/place situations: the hand-made
  rearrange_plan_labels.jsonl and the ones recorded on the simulator
  (rearrange_plan_labels_sim_{pick,place}.jsonl; --only-rearrange skips MiniGrid);
- teacher-only success and return over N episodes on each paper task, through
  habitat-baselines' evaluator (configs/habitat/minigrid/teacher.yaml with minigrid/task=<task>).
The last line is one JSON object.

    .venv/bin/python scripts/bench_teacher.py [--model PATH] [--episodes 100] [--sample-rows 10] [--rearrange] [--only-rearrange]
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
DATA = REPO / "tests" / "data"
# dev: the prompt is chosen and the temperature fitted on it; heldout: written after prompt v5; missions: other
# MiniGrid tasks' own mission strings (DoorKey, KeyCorridor, Unlock(Pickup), goal squares), written before v6;
# missions2: 35 more (12 task families, Fetch, LockedRoom, RedBlueDoors, ObstructedMaze among them), written on
# 2026-12-07 after v6 and before any later prompt change, never used to choose one; missions3: 39 more (21 task
# families, BabyAI's Pickup, OpenDoor and UnlockLocal and all five Fetch phrasings among them), written on 2026-12-07
# after v7 and before the mission-grammar change that followed it, never used to choose one.
LABELS = {
    "dev": DATA / "minigrid_plan_labels.jsonl",
    "heldout": DATA / "minigrid_plan_labels_heldout.jsonl",
    "missions": DATA / "minigrid_plan_labels_missions.jsonl",
    "missions2": DATA / "minigrid_plan_labels_missions2.jsonl",
    "missions3": DATA / "minigrid_plan_labels_missions3.jsonl",
}
REARRANGE_LABELS = DATA / "rearrange_plan_labels.jsonl"
# Situations recorded on the simulator (train episodes of the test pack) by probe_rearrange_skills.py --record-labels.
REARRANGE_SIM_LABELS = (DATA / "rearrange_plan_labels_sim_pick.jsonl", DATA / "rearrange_plan_labels_sim_place.jsonl")
TASKS = ("simpledoorkey", "lavadoorkey", "coloreddoorkey", "twodoor")
TEMPERATURES = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0)


def softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max())
    return z / z.sum()


def _records(planner, rows: list[dict], scene_of) -> tuple[list, list[float]]:
    """Per row: (index of the label, [C, 2] (sum, mean) scores, planner's top skill); and seconds per row."""
    seconds, records = [], []
    for row in rows:
        query = planner.prompts.query_of(scene_of(row))
        start = time.perf_counter()
        answer = planner.plan(query)
        seconds.append(time.perf_counter() - start)
        candidates = [str(c) for c in query.candidates]
        both = planner.llm.score(planner.prompt(query), candidates, static_prefix=planner.static_prefix)
        records.append((candidates.index(row["label"]), both, answer.plans[0].text))
    return records, seconds


def _metrics(records: list, sharpen: float, length_norm: str, temperatures: dict[str, float] | None = None) -> dict:
    """Accuracy per length normalisation, calibration (mean probability on the label) at T=1, at the
    configured T and at a temperature fitted here (or, for a held-out set, the one fitted on dev)."""
    result = {}
    for column, norm in ((1, "mean"), (0, "sum")):
        correct = [int(np.argmax(s[:, column]) == i) for i, s, _ in records]
        fitted = (temperatures or {}).get(norm) or min(
            TEMPERATURES, key=lambda t: -np.mean([np.log(softmax(s[:, column] / t)[i]) for i, s, _ in records])
        )
        result[f"accuracy_{norm}"] = float(np.mean(correct))
        result[f"p_correct_{norm}_T1"] = float(np.mean([softmax(s[:, column])[i] for i, s, _ in records]))
        result[f"fitted_T_{norm}"] = fitted
        result[f"p_correct_{norm}_fitted"] = float(np.mean([softmax(s[:, column] / fitted)[i] for i, s, _ in records]))
    configured = 1 if length_norm == "mean" else 0
    result["p_correct_configured_T"] = float(np.mean([softmax(s[:, configured] / sharpen)[i] for i, s, _ in records]))
    result["mean_top1_prob"] = float(np.mean([softmax(s[:, configured] / sharpen).max() for _, s, _ in records]))
    result["uniform_prob"] = float(np.mean([1 / len(s) for _, s, _ in records]))
    return result


def score_mode(model: str, sets: dict[str, list[dict]], sharpen: float, prompts_name: str = "minigrid",
               dtype: str = "auto") -> dict:
    """Score mode on the MiniGrid labelled sets: the first is the dev set (prompt chosen and T fitted on
    it), the others are held out and evaluated at the dev set's fitted temperatures."""
    import dataclasses

    from habitat_llm4teach.teacher.llm import CausalLM
    from habitat_llm4teach.teacher.minigrid.prompts import query_from_description
    from habitat_llm4teach.teacher.minigrid.scene import scene_from_description
    from habitat_llm4teach.teacher.planner import ScorePlanner
    from habitat_llm4teach.teachers import PROMPT_SETS

    prompts = PROMPT_SETS[prompts_name]
    planner = ScorePlanner(CausalLM(model, dtype=dtype), sharpen_temperature=sharpen, prompts=prompts)
    first = next(iter(sets.values()))[0]["description"]
    warm_up = query_from_description(first, prompts)
    planner.plan(dataclasses.replace(warm_up, description=first + " "))  # warm-up (static prefix), never cached for a row
    result, dev_temperatures, seconds = {}, None, []
    for name, rows in sets.items():
        records, row_seconds = _records(planner, rows, lambda r: scene_from_description(r["description"]))
        seconds += row_seconds
        metrics = _metrics(records, sharpen, planner.length_norm, dev_temperatures)
        metrics["planner_accuracy"] = float(np.mean([top == row["label"] for (_, _, top), row in zip(records, rows)]))
        metrics["rows"] = len(rows)
        metrics["misses"] = [f"{row['description']} -> {top} (label: {row['label']})"
                             for (_, _, top), row in zip(records, rows) if top != row["label"]]
        if dev_temperatures is None:
            dev_temperatures = {"mean": metrics["fitted_T_mean"], "sum": metrics["fitted_T_sum"]}
        result[name] = metrics
    result["score_s_per_description"] = float(np.mean(seconds))
    return result


def rearrange_mode(model: str, sharpen: float, paths: list[Path], dtype: str = "auto") -> dict:
    """Score mode on labelled pick/place situations with the rearrange prompt set, one figure set per file.

    One LLM call per row scores every candidate; per length normalisation (mean: the default, sum): accuracy
    of the top skill, the mean probability on the label at the configured sharpening temperature, and (mean)
    accuracy per kind of label (navigate to / pick / place / look around).
    """
    from habitat_llm4teach.teacher.llm import CausalLM
    from habitat_llm4teach.teacher.planner import ScorePlanner
    from habitat_llm4teach.teacher.rearrange.describe import SKILL_NAMES, describe
    from habitat_llm4teach.teacher.rearrange.labels import load_rows, perception_from_row
    from habitat_llm4teach.teacher.rearrange.prompts import REARRANGE_PROMPTS, query_of

    planner = ScorePlanner(CausalLM(model, dtype=dtype), sharpen_temperature=sharpen, prompts=REARRANGE_PROMPTS)
    result: dict = {"prompt_version": REARRANGE_PROMPTS.version}
    for path in paths:
        rows = load_rows(path)
        correct: dict[str, list[bool]] = {"mean": [], "sum": []}
        label_probs: dict[str, list[float]] = {"mean": [], "sum": []}
        seconds, per_kind = [], {}
        for row in rows:
            query = query_of(perception_from_row(row))
            text = query.description
            candidates = [str(c) for c in query.candidates]
            start = time.perf_counter()
            scores = planner.llm.score(planner.prompt(query), candidates, static_prefix=planner.static_prefix)
            seconds.append(time.perf_counter() - start)
            label = candidates.index(row["label"])
            for column, norm in ((1, "mean"), (0, "sum")):
                correct[norm].append(int(np.argmax(scores[:, column])) == label)
                label_probs[norm].append(float(softmax(scores[:, column] / sharpen)[label]))
            kind = next(name for name in sorted(SKILL_NAMES, key=len, reverse=True) if row["label"].startswith(name))
            per_kind.setdefault(kind, []).append(correct["mean"][-1])
            if not correct["mean"][-1]:
                print(f"  miss: {text} -> {candidates[int(np.argmax(scores[:, 1]))]} (label {row['label']})", flush=True)
        result[path.stem] = {
            "rows": len(rows), "accuracy": round(float(np.mean(correct["mean"])), 3),
            "accuracy_sum_norm": round(float(np.mean(correct["sum"])), 3),
            "mean_label_prob": round(float(np.mean(label_probs["mean"])), 3),
            "mean_label_prob_sum_norm": round(float(np.mean(label_probs["sum"])), 3),
            "accuracy_by_label": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(per_kind.items())},
            "distinct_descriptions": len({describe(perception_from_row(r)) for r in rows}),
            "s_per_row": round(float(np.mean(seconds)), 2),
        }
        print(f"{path.name}: {json.dumps(result[path.stem])}", flush=True)
    return result


def sample_mode(model: str, rows: list[dict], dtype: str = "auto") -> dict:
    from habitat_llm4teach.teacher.llm import CausalLM
    from habitat_llm4teach.teacher.minigrid.prompts import MINIGRID_PROMPTS, query_from_description
    from habitat_llm4teach.teacher.planner import SamplePlanner

    planner = SamplePlanner(CausalLM(model, dtype=dtype), prompts=MINIGRID_PROMPTS)
    seconds, correct, invalid = [], [], 0
    for row in rows:
        start = time.perf_counter()
        answer = planner.plan(query_from_description(row["description"]))
        seconds.append(time.perf_counter() - start)
        correct.append(bool(answer.plans) and str(answer.plans[0].steps[0]) == row["label"])
        invalid += answer.invalid
    return {"sample_s_per_description": float(np.mean(seconds)), "sample_accuracy": float(np.mean(correct)),
            "sample_rows": len(rows), "sample_invalid_steps": invalid}


def teacher_only(task: str, episodes: int, model: str, cache: Path, prompts_name: str = "minigrid",
                 dtype: str = "auto") -> dict:
    cmd = [
        sys.executable, "-m", "habitat_llm4teach.run", "--config-name=minigrid/teacher", f"minigrid/task={task.lower()}",
        f"habitat_baselines.test_episode_count={episodes}", f"llm4teach.teacher.model={model}",
        f"llm4teach.teacher.cache_path={cache}", f"llm4teach.run_dir={cache.parent / task.lower()}",
        f"llm4teach.teacher.env={prompts_name}", f"llm4teach.teacher.dtype={dtype}",
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
    parser.add_argument("--rearrange", action="store_true", help="also score the labelled pick/place situations")
    parser.add_argument("--rearrange-labels", type=Path, nargs="+", default=[REARRANGE_LABELS, *REARRANGE_SIM_LABELS],
                        help="labelled pick/place sets for --rearrange (default: the hand-made and the recorded ones)")
    parser.add_argument("--only-rearrange", action="store_true", help="skip every MiniGrid measurement")
    parser.add_argument("--prompts", choices=["minigrid", "minigrid_facts"], default=TeacherConfig.env,
                        help="MiniGrid prompt set (teacher kind) for score mode and the teacher-only runs (default: the "
                             "teacher's, llm4teach.teacher.env)")
    parser.add_argument("--sets", nargs="+", choices=list(LABELS), default=list(LABELS),
                        help="labelled MiniGrid sets to score (dev is always scored first: its fitted temperature is the "
                             "one the others are calibrated at)")
    parser.add_argument("--dtype", default=TeacherConfig.dtype,
                        help="llm4teach.teacher.dtype for every measurement (auto: what the teacher picks on this machine; "
                             "int8: int8 linear layers on a CPU)")
    args = parser.parse_args()
    if args.only_rearrange:
        args.rearrange, args.sample_rows, args.tasks = True, 0, []
    chosen = ["dev"] + [name for name in args.sets if name != "dev"]
    sets = {name: [json.loads(line) for line in LABELS[name].read_text().splitlines() if line.strip()] for name in chosen}
    rows = sets["dev"]

    from habitat_llm4teach.teacher.llm import resolve_device, resolve_precision

    report = {"model": args.model, "dtype": resolve_precision(args.dtype, resolve_device("auto"))}
    if not args.only_rearrange:
        print(f"score mode on {', '.join(f'{len(r)} {n}' for n, r in sets.items())} labelled descriptions ...", flush=True)
        report["prompts"] = args.prompts
        report.update(score_mode(args.model, sets, TeacherConfig.sharpen_temperature, args.prompts, args.dtype))
        print(json.dumps(report), flush=True)
    if args.rearrange:
        print(f"rearrange score mode on {', '.join(p.name for p in args.rearrange_labels)} ...", flush=True)
        report["rearrange"] = rearrange_mode(args.model, TeacherConfig.sharpen_temperature, args.rearrange_labels,
                                             args.dtype)
        print(json.dumps(report["rearrange"]), flush=True)
    if args.sample_rows:
        print(f"sample mode on {args.sample_rows} labelled descriptions ...", flush=True)
        report.update(sample_mode(args.model, rows[: args.sample_rows], args.dtype))
        print(json.dumps(report), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "plans.json"
        for task in args.tasks:
            print(f"teacher-only {task}, {args.episodes} episodes ...", flush=True)
            report[f"teacher_only_{task}"] = teacher_only(task, args.episodes, args.model, cache, args.prompts,
                                                          args.dtype)
            print(json.dumps(report[f"teacher_only_{task}"]), flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
