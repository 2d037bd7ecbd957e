"""Habitat pick/place on the real simulator: the teacher alone, and what the teacher costs training.

    scripts/bench_rearrange.py [--episodes 20] [--envs 2] [--updates 5] [--sps-repeats 3] [--out data/results/bench_rearrange]

Run from the folder that holds the rearrangement ``data/`` (the repository root after
``scripts/build_rearrange_data.py`` or ``scripts/download_rearrange_data.sh``). Every part
is a real ``python -m habitat_llm4teach.run`` on habitat-sim (rendering on the CPU where
no GPU is visible) and leaves ``<out>/<part>.json``; a rerun reuses finished parts
(``--fresh`` redoes them), so the benchmark survives an interrupted session:

- ``teacher_pick`` / ``teacher_place``: the teacher alone (configs ``rearrange/*_teacher``,
  the default LLM, greedy) through habitat-baselines' evaluator on ``--episodes``
  episodes of ``--split``: habitat's ``pick_success`` / ``place_success``, and the share of
  steps whose teacher skill is the one the task calls for (``teacher_skill_correct``);
- ``sps_teacher_on`` / ``sps_teacher_off``: habitat's own training ``fps`` (env steps per
  second, updates included) of the ``llm4teach`` trainer on pick with ``--envs`` envs for
  ``--updates`` updates, with the teacher (plan cache starting empty) and without it
  (``llm4teach.distill.schedule=none``: plain PPO through the same trainer). The two arms run
  interleaved ``--sps-repeats`` times (on, off, then off, on, ...: each arm as often first as
  second), every teacher-on run from an empty plan cache, since this machine's speed drifts
  between runs by more than the teacher costs; each figure is the mean over its arm's runs, the
  ratio is the ratio of those means, and ``sps_ratio_pairs`` gives each pair's own ratio;
- ``sps_teacher_on_warm``: the teacher-on run again, as the next run of a study would be: another
  seed (other episodes, other actions), starting from the plan cache ``sps_teacher_on`` left.
  A cold cache is a one-off cost of the first thousand steps of a study (a pick/place scene
  has few distinct descriptions: within reach or not, and what else is); the warm run shows
  what the teacher costs after it.

Every teacher-on record also gives the guided fraction averaged over its updates and the
plan cache's size at the start and the end. Each teacher-alone success comes with its 95 % Wilson
interval (``teacher_pick_success_ci95``): over 20 episodes one episode is 0.05, and habitat's pick task
draws the robot's start pose at random on every reset, so a figure near a target needs its spread beside it.

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from habitat_llm4teach.distill.training_log import parse_progress_lines
from habitat_llm4teach.teacher.guidance import GUIDED_FRAC, PLAN_CACHE_HIT_RATE

EPISODES = "data/datasets/replica_cad/rearrange/v2/{split}/rearrange_easy.json.gz"
AVERAGE = re.compile(r"Average episode (\S+): ([-\d.]+)")


def wilson_interval(successes: int, episodes: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % (z) Wilson score interval of a success rate of ``successes`` out of ``episodes``."""
    if episodes < 1 or not 0 <= successes <= episodes:
        raise ValueError(f"need 0 <= successes <= episodes and episodes >= 1, got {successes} of {episodes}")
    rate = successes / episodes
    centre = (rate + z * z / (2 * episodes)) / (1 + z * z / episodes)
    half = z / (1 + z * z / episodes) * (rate * (1 - rate) / episodes + z * z / (4 * episodes * episodes)) ** 0.5
    return max(0.0, centre - half), min(1.0, centre + half)


def episodes_in_split(split: str) -> int:
    with gzip.open(EPISODES.format(split=split), "rt") as f:
        return len(json.load(f)["episodes"])


def scalar_values(run_dir: Path, tag: str) -> list[float]:
    """Every value of a TensorBoard scalar the run wrote, in order; empty when never written."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    values: list[float] = []
    for events in sorted((run_dir / "tb").glob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})
        accumulator.Reload()
        if tag in accumulator.Tags()["scalars"]:
            values += [event.value for event in accumulator.Scalars(tag)]
    return values


def last_scalar(run_dir: Path, tag: str) -> Optional[float]:
    """The last value of a TensorBoard scalar the run wrote; None when never written (nothing was measured)."""
    values = scalar_values(run_dir, tag)
    return values[-1] if values else None


def cached_plans(path: Path) -> int:
    """How many plans a plan cache file holds (0 when there is none)."""
    from habitat_llm4teach.teacher.cache import PlanCache

    return len(PlanCache(path, read_only=True)) if path.exists() else 0


def run(args: list[str], log: Path) -> str:
    """One ``habitat_llm4teach.run`` in this folder, its output written to ``log`` as it comes (``tail -f`` it)."""
    cmd = [sys.executable, "-m", "habitat_llm4teach.run", *args]
    print(f"$ {' '.join(cmd)}\n  output: {log}", flush=True)
    start = time.perf_counter()
    with open(log, "w") as out:
        code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}).returncode
    if code != 0:
        sys.exit(f"error: the run failed (exit {code}); its output is in {log}")
    print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    return log.read_text()


def settings_of(args: argparse.Namespace) -> dict:
    """What a finished part must have been measured with to be reused."""
    return {"overrides": args.override, "model": args.model, "envs": args.envs, "episodes": args.episodes,
            "split": args.split, "updates": args.updates, "steps": args.steps}


def part(out: Path, name: str, args: argparse.Namespace, measure) -> dict:  # type: ignore[no-untyped-def]
    """The record of one part: reused when finished before with the same settings, else measured and written."""
    record = out / f"{name}.json"
    settings = settings_of(args)
    if record.exists() and not args.fresh:
        finished = json.loads(record.read_text())
        if finished.get("settings") == settings:
            print(f"{name}: reusing {record}", flush=True)
            return finished
        print(f"{name}: {record} was measured with {finished.get('settings')}, not {settings}: measuring again", flush=True)
    print(f"{name}: measuring", flush=True)
    start = time.perf_counter()
    result = {**measure(out / name), "overrides": args.override, "settings": settings, "wall_s": None}
    result["wall_s"] = round(time.perf_counter() - start, 1)
    record.write_text(json.dumps(result, indent=1))
    print(f"{name}: {json.dumps(result)}", flush=True)
    return result


def teacher_alone(task: str, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    def measure(run_dir: Path) -> dict:
        from habitat_llm4teach.teacher.rearrange.prompts import PROMPT_VERSION  # what the run's teacher was told

        text = run([
            f"--config-name=rearrange/{task}_teacher", f"habitat_baselines.test_episode_count={args.episodes}",
            f"habitat_baselines.num_environments={args.envs}", f"habitat.dataset.split={args.split}",
            f"llm4teach.run_dir={run_dir}", f"llm4teach.teacher.cache_path={run_dir}/plans.json",
            *([f"llm4teach.teacher.model={args.model}"] if args.model else []), *args.override,
        ], run_dir.with_suffix(".log"))
        averages = {k: float(v) for k, v in AVERAGE.findall(text)}
        episodes = min(args.episodes, episodes_in_split(args.split))  # habitat's evaluator stops at the split's end
        return {
            "success": averages[f"{task}_success"], "skill_correct": averages.get("teacher_skill_correct"),
            "guided": averages.get("teacher_guided"), "episodes": episodes, "split": args.split,
            "mean_steps": averages.get("num_steps"), "prompt_version": PROMPT_VERSION,
        }

    return measure


WARM_SEED = 101  # the warm run's seed: other episodes and actions than the cold run's (habitat's default 100)


def training_sps(teacher: bool, args: argparse.Namespace, warm_from: Optional[str] = None):  # type: ignore[no-untyped-def]
    """``warm_from``: the part whose plan cache this run starts with (a second run of a study, another seed)."""
    def measure(run_dir: Path) -> dict:
        cache = run_dir.parent / f"{run_dir.name}_plans.json"
        cache.unlink(missing_ok=True)  # the teacher starts cold: every new description costs an LLM call
        if warm_from is not None:
            # The cache of the part itself, or of its last interleaved run.
            candidates = [run_dir.parent / f"{warm_from}_plans.json", *sorted(run_dir.parent.glob(f"{warm_from}_run*_plans.json"))]
            existing = [path for path in candidates if path.exists()]
            source = existing[-1] if existing else candidates[0]
            if not existing:
                sys.exit(f"error: {run_dir.name} starts from the plan cache of {warm_from}, but {source} is missing: "
                         f"run the part {warm_from} first (--parts {warm_from} {run_dir.name})")
            shutil.copyfile(source, cache)
        plans_at_start = cached_plans(cache)
        text = run([
            "--config-name=rearrange/pick_llm4teach", f"habitat_baselines.num_environments={args.envs}",
            f"habitat_baselines.rl.ppo.num_steps={args.steps}", f"habitat_baselines.num_updates={args.updates}",
            "habitat_baselines.total_num_steps=-1", "habitat_baselines.log_interval=1", "habitat_baselines.num_checkpoints=1",
            "habitat.dataset.split=train", f"llm4teach.run_dir={run_dir}", f"llm4teach.teacher.cache_path={cache}",
            *([] if teacher else ["llm4teach.distill.schedule=none"]),
            *([f"habitat.seed={WARM_SEED}"] if warm_from is not None else []),
            *([f"llm4teach.teacher.model={args.model}"] if args.model else []), *args.override,
        ], run_dir.with_suffix(".log"))
        progress = parse_progress_lines(text)
        sps = last_scalar(run_dir, "perf/fps")  # habitat's own fps, unrounded
        if not progress or sps is None:
            sys.exit(f"error: no training fps in the log or TensorBoard of {run_dir}")
        record = {"sps": sps, "updates": int(progress[-1]["update"]), "envs": args.envs, "steps_per_update": args.steps * args.envs}
        # The teacher's statistics are in TensorBoard only (the log line keeps to what a user watches).
        guided = scalar_values(run_dir, GUIDED_FRAC)
        if teacher and guided:
            record.update(guided_frac=guided[-1], plan_cache_hit_rate=last_scalar(run_dir, PLAN_CACHE_HIT_RATE))
            record["guided_frac_mean"] = round(sum(guided) / len(guided), 4)  # over all updates, not the last
            record.update(plans_cached_at_start=plans_at_start, plans_cached_at_end=cached_plans(cache))
        with open(run_dir / "episodes.rank0.csv") as f:  # the trainer's per-episode record (success: the task's key)
            rows = list(csv.DictReader(f))
        record["episodes_finished"] = len(rows)
        record["episode_success"] = round(sum(float(r["success"]) for r in rows) / len(rows), 3) if rows else None
        return record

    return measure


SPS_ARMS = ("sps_teacher_on", "sps_teacher_off")


def interleaved_sps(out: Path, args: argparse.Namespace, measures: dict) -> dict:
    """Both SPS arms, ``--sps-repeats`` runs each, interleaved (on off, off on, on off, ...).

    Every run is a part of its own (``<arm>_run<k>``, reused on a rerun), so an interrupted benchmark
    goes on where it stopped. Returns each arm's record with ``sps`` the mean over its runs (the
    runs themselves under ``sps_pairs``).
    """
    runs: dict[str, list[dict]] = {arm: [] for arm in SPS_ARMS}
    for k in range(1, args.sps_repeats + 1):
        for arm in (SPS_ARMS if k % 2 else SPS_ARMS[::-1]):
            runs[arm].append(part(out, f"{arm}_run{k}", args, measures[arm]))
    results: dict = {"sps_pairs": runs}
    for arm, records in runs.items():
        mean = {"sps": sum(r["sps"] for r in records) / len(records), "runs": len(records)}
        guided = [r["guided_frac_mean"] for r in records if "guided_frac_mean" in r]
        if guided:
            mean["guided_frac_mean"] = round(sum(guided) / len(guided), 4)
        results[arm] = mean
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=20, help="teacher-alone episodes per task")
    parser.add_argument("--split", default="val")
    parser.add_argument("--envs", type=int, default=2)
    parser.add_argument("--updates", type=int, default=5, help="training updates per SPS run")
    parser.add_argument("--steps", type=int, default=32, help="rollout steps per env per update")
    parser.add_argument("--sps-repeats", type=int, default=3,
                        help="runs of each SPS arm, interleaved (the machine's speed drifts between runs)")
    parser.add_argument("--model", default="", help="teacher model (default: the configs' llm4teach.teacher.model)")
    parser.add_argument("--override", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config overrides for every run (e.g. llm4teach.teacher.server.cpu_nice=0); use another --out")
    parser.add_argument("--out", default="data/results/bench_rearrange")
    parser.add_argument("--fresh", action="store_true", help="redo finished parts")
    parser.add_argument("--parts", nargs="*", default=["teacher_pick", "teacher_place", "sps_teacher_on", "sps_teacher_off", "sps_teacher_on_warm"])
    args = parser.parse_args()
    if not Path("data/datasets/replica_cad/rearrange/v2").is_dir():
        sys.exit("error: no rearrangement episodes under ./data: run from the folder holding data/ "
                 "(scripts/build_rearrange_data.py --assets DIR, or scripts/download_rearrange_data.sh)")
    if args.sps_repeats < 1:
        sys.exit(f"error: --sps-repeats must be >= 1, got {args.sps_repeats}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    measures = {
        "teacher_pick": teacher_alone("pick", args), "teacher_place": teacher_alone("place", args),
        "sps_teacher_on": training_sps(True, args), "sps_teacher_off": training_sps(False, args),
        "sps_teacher_on_warm": training_sps(True, args, warm_from="sps_teacher_on"),
    }
    unknown = set(args.parts) - set(measures)
    if unknown:
        sys.exit(f"error: unknown parts {sorted(unknown)}; known: {sorted(measures)}")
    results = {}
    for name in args.parts:
        if name in SPS_ARMS and "sps_teacher_on" in args.parts and "sps_teacher_off" in args.parts:
            continue  # measured as interleaved pairs below
        results[name] = part(out, name, args, measures[name])
    if "sps_teacher_on" in args.parts and "sps_teacher_off" in args.parts:
        results.update(interleaved_sps(out, args, measures))
    summary: dict = {}
    for task in ("pick", "place"):
        if f"teacher_{task}" in results:
            record = results[f"teacher_{task}"]
            summary[f"teacher_{task}_success"] = record["success"]
            low, high = wilson_interval(round(record["success"] * record["episodes"]), record["episodes"])
            summary[f"teacher_{task}_success_ci95"] = [round(low, 3), round(high, 3)]
            summary[f"teacher_{task}_skill_correct"] = record["skill_correct"]
            summary[f"teacher_{task}_episodes"] = record["episodes"]
    for name in ("sps_teacher_on", "sps_teacher_off", "sps_teacher_on_warm"):
        if name in results:
            summary[name] = results[name]["sps"]
            if "guided_frac_mean" in results[name]:
                summary[f"{name}_guided_frac"] = results[name]["guided_frac_mean"]
    if "sps_teacher_on" in summary and "sps_teacher_off" in summary:
        summary["sps_ratio"] = round(summary["sps_teacher_on"] / summary["sps_teacher_off"], 3)
    if "sps_pairs" in results:
        summary["sps_runs"] = {arm: [r["sps"] for r in results["sps_pairs"][arm]] for arm in SPS_ARMS}
        summary["sps_ratio_pairs"] = [
            round(on["sps"] / off["sps"], 3) for on, off in zip(*(results["sps_pairs"][arm] for arm in SPS_ARMS))
        ]
    if "sps_teacher_on_warm" in summary and "sps_teacher_off" in summary:
        summary["sps_ratio_warm"] = round(summary["sps_teacher_on_warm"] / summary["sps_teacher_off"], 3)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
