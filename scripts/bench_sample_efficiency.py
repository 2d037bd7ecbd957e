#!/usr/bin/env python
"""The paper's two claims on the MiniGrid tasks: LLM4Teach needs far fewer samples than PPO, and its student
surpasses its teacher. Several tasks, several seeds, one resumable results folder.

Both arms use the same trainer (``llm4teach``) and config; PPO is the same run with
``llm4teach.distill.schedule=none`` (no teacher, lambda = 0). For each task:

1. the teacher acting alone is evaluated on ``--eval-episodes`` episodes through habitat's evaluator, each env
   playing an equal share (habitat's own stops at the first N episodes to end and drops the long ones still
   running, which flatters success: envs/minigrid/factory.py; records made before say ``first_to_end``). Its
   success sets the task's *level*: 90 %, or the teacher's own success where that is lower (the issue's rule:
   a student cannot be asked to reach 90 % sooner than a teacher that never gets there);
2. LLM4Teach trains for the task's budget of env steps per seed (``BUDGETS``: 300k, and 1M for TwoDoor, whose
   20x20 room the student learns far more slowly; ``--budget`` sets one for every task). With ``--schedule
   adaptive`` (the default) lambda follows the paper's schedule until the student's windowed success comes
   within ``-margin`` of the teacher's measured success, then fades to the floor (0.1) over ``--fade-updates``
   updates and stays there: environment reward now dominates the loss, which is where the student can
   surpass its teacher, while the floor keeps it from collapsing (at lambda 0 it does, README).
   ``--schedule paper`` keeps the paper's schedule (lambda still ~8.5 at 300k steps);
3. each student's final checkpoint is evaluated like the teacher;
4. PPO trains until its success over the last 100 episodes reaches the level, or it has used ``--ppo-factor``
   times the mean steps LLM4Teach needed to get there (the whole LLM4Teach budget when it did not). That mean
   is over the seeds asked for, so resume an unfinished PPO run with the seeds it was started with: with other
   seeds its budget differs, and the run is kept and refused with that advice rather than started over.

PPO runs come after every task's LLM4Teach runs, since they are the long part.

steps to level: env steps until the moving success over the last 100 training episodes first reaches the
level (habitat_llm4teach/distill/episodes.py); ``*_steps_to_level`` averages the seeds that reached it and
``llm4teach_seeds_at_level`` counts them. A seed that stops short counts at the env steps it trained (habitat's count
in its final checkpoint, ``steps_trained``: its budget rounded up to whole rollouts) in the PPO budget and the ratio,
``ppo_steps / llm4teach_steps``: a PPO seed short makes the ratio a lower bound (``ratio_is_lower_bound``), an
LLM4Teach seed short an upper bound (``ratio_is_upper_bound``), and with both the ratio decides no target. Return is the mean
episode reward (MiniGrid's 1 - 0.9 * steps / max_steps on success), so a student that solves a task in fewer
steps than its teacher has the higher return. fps is habitat's ``perf/fps`` at the end of each run.

Writes ``<results>/sample_efficiency.json`` and ``<results>/success_vs_steps.png`` (one panel per task, mean
over seeds with a min-max band, the teacher alone as a dashed line); the last line printed is the JSON
summary. Each finished run or evaluation leaves a record in its folder; running the same command again
reuses every record made with the same settings, so an interrupted benchmark picks up where it stopped.
A folder holding a finished run made with other settings is never cleared: the benchmark stops and says so.
``--student`` defaults to the MiniGrid configs' default student, and ``--results`` to that student's folder
(``RESULTS``: the records made with ``resnet18_64``, the default until 2026-12-06, are in ``sample_efficiency/``).
Extra Hydra overrides on the command line go to both arms' training and to each student's evaluation, less the
keys the evaluation sets itself (``EVALUATION_KEYS``): one that changes the network, such as
``habitat_baselines.rl.ddppo.rnn_type=GRU``, then also builds the network its checkpoint is loaded into.
``--teacher-kind`` picks the MiniGrid teacher (``llm4teach/teacher_kind``; default: the configs') for the teacher alone
and LLM4Teach, and names its prompt version in every record; the ``minigrid`` kind's results are in the student's folder
(every record made before the option has it), another kind's in ``<student's folder>_<kind>``.
``--sharpen-temperature`` sets the teacher's ``llm4teach.teacher.sharpen_temperature`` (its plans' softmax temperature;
default: the configs') for the same commands, and every record names it; results made at another temperature than 0.5
(every record made before the option) go to ``<folder>_T<temperature>``.
``--report-only`` writes the report from the records there are, running nothing. A run made with a smaller budget
and otherwise the same settings is trained on from its resume state rather than from scratch
(``habitat_llm4teach.checkpoints.extend_resume_state``), and its student evaluated again.

    python scripts/bench_sample_efficiency.py                                   # all four tasks, seeds 1 2 3
    python scripts/bench_sample_efficiency.py --tasks LavaDoorKey --seeds 1 --arms llm4teach
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from plot_runs import plot_panels  # noqa: E402

from habitat_llm4teach.config.structured import TeacherConfig  # noqa: E402
from habitat_llm4teach.distill.episodes import load_episodes  # noqa: E402
from habitat_llm4teach.distill.training_log import parse_progress_lines  # noqa: E402

TASKS = ["SimpleDoorKey", "LavaDoorKey", "ColoredDoorKey", "TwoDoor"]
THRESHOLD = 0.9
PROGRESS_EVERY_S = 60.0
EVAL_ENVS = 16  # offered to every evaluation: the MiniGrid factory takes as many as give equal quotas (100 -> 10)
RATIO_TARGET = 5.0
SURPASS_MARGIN = 0.05  # student >= teacher + 5 points where the teacher is below SURPASS_BELOW
SURPASS_BELOW = 0.95


def configs_default(config: str, group: str) -> str:
    """The option of config group ``group`` (e.g. ``/minigrid/student``) that configs/habitat/minigrid/<config>.yaml's
    defaults list picks: read there, not written twice."""
    from omegaconf import OmegaConf

    defaults = OmegaConf.to_container(OmegaConf.load(REPO / "configs" / "habitat" / "minigrid" / f"{config}.yaml").defaults)
    return next(entry[group] for entry in defaults if isinstance(entry, dict) and group in entry)


def override_key(override: str) -> str:
    """The config key a Hydra override sets (``+a.b=1`` -> ``a.b``)."""
    return override.split("=", 1)[0].lstrip("+~")


# The MiniGrid configs' default student, and each student's results folder under data/benchmarks/: the records made
# with resnet18_64, the default until 2026-12-06, stay where they were made.
DEFAULT_STUDENT = configs_default("_base", "/minigrid/student")
RESULTS = {"resnet18_64": "sample_efficiency", "resnet18_64_pointwise": "sample_efficiency_pointwise"}
# The MiniGrid configs' default teacher kind (--teacher-kind's default), and the kind of every record made before the
# option (then the configs' default, named by no override): its results stay in RESULTS' folders, another kind's go to
# "<folder>_<kind>".
DEFAULT_TEACHER_KIND = configs_default("llm4teach", "/llm4teach/teacher_kind")
RECORDS_KIND = "minigrid"
# The teacher's sharpening temperature (--sharpen-temperature's default), and the one of every record made before the
# option (the configs' default then, named by no override and no record).
DEFAULT_SHARPEN = TeacherConfig.sharpen_temperature
RECORDS_SHARPEN = 0.5
# Overrides that choose the teacher: only --teacher-kind and --sharpen-temperature write them, into every command that
# uses the teacher. A record names the teacher by its prompt version and temperature (what it must match to be
# reused), so they are left out when records are compared: records made before the options, without them, match the
# runs that name their kind and temperature.
TEACHER_KIND_KEYS = ("llm4teach/teacher_kind", "llm4teach.teacher.env", "llm4teach.teacher.sharpen_temperature")


def chooses_teacher(override: str) -> bool:
    return override_key(override) in TEACHER_KIND_KEYS


def comparable(settings: dict) -> dict:
    """``settings`` as records are compared: without the overrides that choose the teacher (its prompt version and
    temperature are there), and a teacher named without a temperature at the one every such record was made at."""
    if "teacher_prompt" in settings and "teacher_sharpen_temperature" not in settings:
        settings = {**settings, "teacher_sharpen_temperature": RECORDS_SHARPEN}
    if not isinstance(settings.get("overrides"), list):
        return settings
    return {**settings, "overrides": [o for o in settings["overrides"] if not chooses_teacher(o)]}


# LLM4Teach env steps per seed. TwoDoor's student reached 0.2 success in 270k steps (lambda still ~7.4): 1M is where
# the paper's lambda schedule (10 - 0.005 per update of 512 steps) reaches its floor.
BUDGETS = {"SimpleDoorKey": 300_000, "LavaDoorKey": 300_000, "ColoredDoorKey": 300_000, "TwoDoor": 1_000_000}
_PROGRESS = re.compile(r"\bupdate \d+  step \d+.*")  # the trainer's one-line report (distill/training_log.py)


def in_repo(path: Path) -> Path:
    """``path`` relative to the checkout when inside it: records, overrides and run folders then name the same
    runs in any clone (every run starts in the checkout), so a benchmark committed part-way resumes elsewhere."""
    path = path.resolve()
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def level_for(teacher_success: float) -> float:
    """The success level both arms are timed to: 90 %, or the teacher's own success where that is lower."""
    return min(THRESHOLD, teacher_success)


def finished(record_path: Path, settings: dict, label: str) -> Optional[dict]:
    """The record an earlier benchmark left at ``record_path`` when it was made with the same ``settings``."""
    if not record_path.exists():
        return None
    record = json.loads(record_path.read_text())
    stored = comparable(record)
    if any(stored.get(key) != value for key, value in comparable(settings).items()):
        return None
    print(f"reusing {label} {record_path.parent}", flush=True)
    return record


def extendable(started: dict, settings: dict) -> bool:
    """Whether a run started with ``started`` can be trained on to ``settings``: the same but for a smaller budget."""
    return started.get("budget", 0) < settings["budget"] and without_budget(started) == without_budget(settings)


def same_but_budget(started: dict, settings: dict) -> bool:
    """Whether ``started`` and ``settings`` differ in the budget alone."""
    return without_budget(started) == without_budget(settings) and started.get("budget") != settings["budget"]


def without_budget(settings: dict) -> dict:
    return {k: v for k, v in comparable(settings).items() if k != "budget"}


def run_logged(cmd: list[str], log_path: Path, label: str) -> tuple[int, str]:
    """Run ``cmd`` with all its output in ``log_path``; echo its progress line at most once a minute."""
    print(f"$ {' '.join(cmd[1:])}", flush=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    last_echo = time.monotonic()
    with open(log_path, "w") as log:
        process = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            progress = _PROGRESS.search(line)
            if progress and time.monotonic() - last_echo >= PROGRESS_EVERY_S:
                last_echo = time.monotonic()
                print(f"  [{label}] {progress.group(0).strip()}", flush=True)
        returncode = process.wait()
    return returncode, log_path.read_text()


def checkpoint_step(path: Path) -> int:
    """The env steps done when habitat wrote the checkpoint at ``path`` (its ``extra_state``)."""
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=False)["extra_state"]["step"])


def train(
    config: str, run_dir: Path, seed: int, steps: int, extra: Sequence[str], teacher: Optional[dict], label: str,
    report_only: bool, stop_at: Optional[float] = None,
) -> Optional[dict]:
    """One training run: its final success and return, steps done and fps (None: not run yet, report only). It is
    finished when it did its ``steps``, or reached ``stop_at`` (PPO's llm4teach.stop_at_success) before.
    ``teacher`` (prompt version and model, for runs that use it) is part of what a record must match to be reused."""
    record_path = run_dir / "bench_record.json"
    settings = {"seed": seed, "budget": steps, "overrides": list(extra), **(teacher or {})}
    record = finished(record_path, settings, label)
    final_checkpoint = run_dir / "checkpoints" / "latest.pth"
    if record and "steps_trained" not in record and final_checkpoint.exists():
        # Records made before steps_trained was kept: habitat's count, from the checkpoint the run left.
        record["steps_trained"] = checkpoint_step(final_checkpoint)
        record_path.write_text(json.dumps(record, indent=2))
        print(f"  {label}: steps_trained {record['steps_trained']} added from {final_checkpoint}", flush=True)
    if record or report_only:
        return record
    cmd = [
        sys.executable, "-m", "habitat_llm4teach.run", f"--config-name={config}", f"habitat.seed={seed}",
        f"habitat_baselines.total_num_steps={steps}", f"llm4teach.run_dir={run_dir}", *extra,
    ]
    # A run stopped part-way (a session ended) resumes from habitat's resume state when restarted with the same
    # settings, and one made with a smaller budget trains on from it; an unfinished one started with other settings
    # is cleared, since a resume state brings back its own config.
    started_path = run_dir / "bench_started.json"
    started = json.loads(started_path.read_text()) if started_path.exists() else None
    resume_state = run_dir / "checkpoints" / ".habitat-resume-state.pth"
    if run_dir.exists() and started is not None and extendable(started, settings) and resume_state.exists():
        from habitat_llm4teach.checkpoints import extend_resume_state

        old = extend_resume_state(resume_state, steps)
        record_path.unlink(missing_ok=True)
        print(f"training on the run in {run_dir} from {old} to {steps} env steps (its resume state)", flush=True)
    elif run_dir.exists() and started is not None and same_but_budget(started, settings) and resume_state.exists():
        # Only the budget differs, and it is smaller: PPO's budget is a mean over the seeds asked for, so asking for
        # fewer seeds than the run was started with must not cost the steps already trained.
        sys.exit(f"{label}: {run_dir} holds an unfinished run started with a budget of {started['budget']} env steps, "
                 f"now {steps}. PPO's budget is --ppo-factor x the mean over the seeds asked for: rerun with the "
                 f"seeds it was started with (e.g. --seeds 1 2 3) to resume it, or delete {run_dir} to start over.")
    elif run_dir.exists() and (started is None or comparable(started) != comparable(settings)) and record_path.exists():
        # A finished run is a result, whatever it was made with: never thrown away to make another.
        sys.exit(f"{label}: {run_dir} holds a finished run made with other settings ({record_path}); it is kept. "
                 f"Give another --results folder (or the settings it was made with), or delete it to start over.")
    elif run_dir.exists() and (started is None or comparable(started) != comparable(settings)):
        print(f"clearing {run_dir}: an unfinished run with other settings", flush=True)
        shutil.rmtree(run_dir)
    elif run_dir.exists():
        print(f"resuming the unfinished run in {run_dir}", flush=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    started_path.write_text(json.dumps(settings, indent=2))
    start = time.perf_counter()
    returncode, out = run_logged(cmd, run_dir / "bench_output.txt", label)
    if returncode != 0:
        sys.exit(f"{label} failed (exit {returncode}), see {run_dir / 'bench_output.txt'}:\n{out[-3000:]}")
    episodes = load_episodes(str(run_dir))
    # Exit 0 also ends a run stopped part-way (Ctrl-C, SIGTERM: habitat saves a resume state and returns), which
    # must not be recorded as finished; only the budget, or PPO's stop level reached, finishes a run.
    steps_done = checkpoint_step(final_checkpoint)
    if steps_done < steps and (stop_at is None or episodes.steps_to(stop_at) is None):
        sys.exit(f"{label} stopped before its {steps} env steps (interrupted?; last checkpoint at {steps_done}); "
                 "nothing recorded. Run the same command again to resume it from its resume state.")
    fps = [line["fps"] for line in parse_progress_lines(out) if line["fps"] is not None]
    final_window = episodes.success[-100:]
    record = {
        "run_dir": str(run_dir),
        **settings,
        "steps_to_90": episodes.steps_to(THRESHOLD),
        "final_success": float(final_window.mean()) if len(final_window) else 0.0,
        "final_return": float(episodes.reward[-100:].mean()) if len(final_window) else 0.0,
        "steps": int(episodes.step[-1]) if len(episodes.step) else 0,  # where the last episode ended
        "steps_trained": steps_done,  # habitat's count: the budget rounded up to whole rollouts, or the stop
        "episodes": len(episodes.step),
        "fps": fps[-1] if fps else None,
        "wall_s": round(time.perf_counter() - start, 1),
    }
    record_path.write_text(json.dumps(record, indent=2))
    print(f"{label}: {json.dumps({k: record[k] for k in ('steps_to_90', 'final_success', 'final_return', 'steps', 'fps', 'wall_s')})}",
          flush=True)
    return record


NUM_ENVS_KEY = "habitat_baselines.num_environments"


def evaluation_settings(episodes: int) -> dict[str, str]:
    """The overrides evaluate() sets for every evaluation of ``episodes`` episodes."""
    # The env count is the factory's choice (envs/minigrid/factory.py, unbiased_eval_counts: every env plays the
    # same number of episodes, as few extra as possible, logged in the evaluation's output); a fixed offer keeps
    # a training override of num_environments from changing how the evaluation counts.
    return {
        "habitat_baselines.evaluate": "True",
        "habitat_baselines.test_episode_count": str(episodes),
        NUM_ENVS_KEY: str(EVAL_ENVS),
        "habitat_baselines.eval.video_option": "[]",
    }


# What every evaluation sets itself (its run folder too); a command-line override of one of them is for training only.
EVALUATION_KEYS = (*evaluation_settings(1), "llm4teach.run_dir")


def evaluate(
    config: str, episodes: int, run_dir: Path, extra: Sequence[str], label: str, teacher: Optional[dict], report_only: bool,
    trained_steps: Optional[int] = None, record_name: str = "bench_eval.json",
) -> Optional[dict]:
    """Habitat's evaluator on ``episodes`` episodes (no videos): ``{"success", "return", ...}`` (None: not run yet).

    Used for the teacher acting alone and for each student's final checkpoint
    (habitat samples actions at evaluation, as in training). Kept in
    ``<run_dir>/bench_eval.json`` and reused like training records; a student's names the budget its
    checkpoint was trained to (``trained_steps``), so a run trained on is evaluated again.
    """
    record_path = run_dir / record_name
    settings = {"config": config, "episodes": episodes, "overrides": list(extra), **(teacher or {}),
                "evaluator": EQUAL_QUOTAS}
    if trained_steps is not None:
        settings["trained_steps"] = trained_steps
    record = finished(record_path, settings, label)
    if record is None:
        # A record from before equal quotas is kept, named for what it is: a teacher's sets its task's level and
        # the schedule of every run already made, and most students' checkpoints are not kept (not committed).
        record = finished(record_path, {k: v for k, v in settings.items() if k != "evaluator"}, label)
        if record is not None and "evaluator" in record:
            record = None  # made another way than asked: evaluate again
        elif record is not None:
            print(f"  {label}: evaluated by habitat's first {episodes} episodes to end", flush=True)
            record = {**record, "evaluator": FIRST_TO_END}
    if record or report_only:
        return record
    settings_set = evaluation_settings(episodes)
    cmd = [
        sys.executable, "-m", "habitat_llm4teach.run", f"--config-name={config}",
        *(f"{key}={value}" for key, value in settings_set.items()), *extra,
    ]
    output = run_dir / record_name.replace(".json", "_output.txt")
    returncode, out = run_logged(cmd, output, label)
    success = re.search(r"Average episode success: ([0-9.]+)", out)
    reward = re.search(r"Average episode reward: ([-0-9.]+)", out)
    if returncode != 0 or success is None or reward is None:
        sys.exit(f"{label} failed (exit {returncode}), see {output}:\n{out[-3000:]}")
    record = {**settings, "success": float(success.group(1)), "return": float(reward.group(1))}
    record_path.write_text(json.dumps(record, indent=2))
    print(f"{label}: success {record['success']:.2f}, return {record['return']:.3f}", flush=True)
    return record


# How an evaluation record was made: every env plays the same number of episodes (since this was added), or
# habitat's evaluator stopped at the first N episodes to end with the others still running (before).
EQUAL_QUOTAS, FIRST_TO_END = "equal_quotas", "first_to_end"
RECHECK = "bench_eval_equal_quotas.json"  # --recheck-evals: the same evaluation with equal quotas, beside the first


def steps_to_level(records: list[dict], level: float) -> list[Optional[int]]:
    """Each run's env steps to ``level`` (None: never reached), read from its episodes."""
    return [load_episodes(str(REPO / r["run_dir"])).steps_to(level) for r in records]


def counted_at_budget(records: list[dict], steps: list[Optional[int]]) -> list[int]:
    """Each run's steps to the level, or, where it never got there, the env steps it trained (habitat's count; where a
    record lacks it, its last episode's end, a little lower)."""
    return [s if s is not None else r.get("steps_trained", r["steps"]) for s, r in zip(steps, records)]


def mean_or_none(values: Sequence[Optional[float]]) -> Optional[float]:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


class TaskBench:
    """One task's folders, settings and records (``<results>/<task>/``)."""

    def __init__(self, task: str, args: argparse.Namespace, teacher_identity: dict) -> None:
        self.task = task
        self.args = args
        self.teacher_identity = teacher_identity
        self.folder = in_repo(args.results) / task.lower()
        self.groups = [f"minigrid/task={task.lower()}", f"minigrid/student={args.student}"]
        # The teacher kind reaches training and the students' evaluations through its config group, and the teacher
        # alone (minigrid/teacher has no distillation components to set) through the env it names; always named, so
        # a run's teacher does not hang on the configs' default of the day.
        sharpen = f"llm4teach.teacher.sharpen_temperature={args.sharpen_temperature}"
        self.teacher_kind = [f"llm4teach/teacher_kind={args.teacher_kind}", sharpen]
        self.teacher_alone_kind = [f"llm4teach.teacher.env={args.teacher_kind}", sharpen]
        self.cache = "data/plan_cache/minigrid.json"
        self.teacher_eval: Optional[dict] = None
        self.llm4teach: list[Optional[dict]] = []
        self.student_evals: list[Optional[dict]] = []
        self.teacher_recheck: Optional[dict] = None
        self.student_rechecks: list[Optional[dict]] = []
        self.ppo: list[Optional[dict]] = []
        self.ppo_budget: Optional[int] = None
        self.budget: int = args.budget or BUDGETS[task]

    @property
    def level(self) -> Optional[float]:
        return level_for(self.teacher_eval["success"]) if self.teacher_eval else None

    def schedule_overrides(self) -> list[str]:
        if self.args.schedule == "paper":
            return []
        assert self.teacher_eval is not None
        return [
            "llm4teach.distill.schedule=adaptive", f"llm4teach.distill.teacher_success={self.teacher_eval['success']}",
            f"llm4teach.distill.margin={self.args.margin}", f"llm4teach.distill.fade_updates={self.args.fade_updates}",
        ]

    def student_eval_overrides(self, run_dir: Path) -> list[str]:
        """A student's evaluation: its groups and the command line's overrides, which may build its network (e.g.
        ``habitat_baselines.rl.ddppo.rnn_type=GRU``: the checkpoint only loads into the network that trained it),
        less the keys the evaluation sets itself (``EVALUATION_KEYS``)."""
        kept = [o for o in self.args.overrides if override_key(o) not in EVALUATION_KEYS]
        return [*self.groups, *self.teacher_kind, *kept, f"llm4teach.run_dir={run_dir}"]

    def run_llm4teach(self, report_only: bool) -> None:
        """The teacher alone, then each seed's LLM4Teach run and its student's evaluation."""
        teacher_dir = self.folder / "teacher_only"
        # The teacher alone has no student: its evaluation takes only the task and is shared by every student.
        self.teacher_eval = evaluate(
            "minigrid/teacher", self.args.eval_episodes, teacher_dir,
            [self.groups[0], *self.teacher_alone_kind, f"llm4teach.run_dir={teacher_dir}", f"llm4teach.teacher.cache_path={self.cache}"],
            f"{self.task} teacher alone", self.teacher_identity, report_only,
        )
        if self.teacher_eval is None:
            return
        for seed in self.args.seeds:
            run_dir = self.folder / f"llm4teach_seed{seed}"
            extra = [*self.groups, *self.teacher_kind, f"llm4teach.teacher.cache_path={self.cache}", *self.schedule_overrides(),
                     *self.args.overrides]
            record = train("minigrid/llm4teach", run_dir, seed, self.budget, extra, self.teacher_identity,
                           f"{self.task} LLM4Teach seed {seed}", report_only)
            self.llm4teach.append(record)
            if record is None:
                continue
            self.student_evals.append(evaluate(
                "minigrid/llm4teach", self.args.eval_episodes, run_dir, self.student_eval_overrides(run_dir),
                f"{self.task} student seed {seed}", self.teacher_identity, report_only, trained_steps=record["budget"],
            ))

    def recheck_evals(self, run: bool) -> None:
        """Each evaluation made by habitat's first N episodes to end, made again with equal quotas (``RECHECK``
        beside it; ``run``: make the missing ones where the checkpoint is here, else only read them)."""
        if self.teacher_eval is None:
            return
        teacher_dir = self.folder / "teacher_only"
        self.teacher_recheck = self.teacher_eval if self.teacher_eval["evaluator"] == EQUAL_QUOTAS else evaluate(
            "minigrid/teacher", self.args.eval_episodes, teacher_dir,
            [self.groups[0], *self.teacher_alone_kind, f"llm4teach.run_dir={teacher_dir}", f"llm4teach.teacher.cache_path={self.cache}"],
            f"{self.task} teacher alone, equal quotas", self.teacher_identity, not run, record_name=RECHECK,
        )
        records = [r for r in self.llm4teach if r]
        for record, first in zip(records, self.student_evals):
            run_dir = REPO / record["run_dir"]
            if first is not None and first["evaluator"] == EQUAL_QUOTAS:
                self.student_rechecks.append(first)
                continue
            self.student_rechecks.append(evaluate(
                "minigrid/llm4teach", self.args.eval_episodes, run_dir, self.student_eval_overrides(run_dir),
                f"{self.task} student seed {record['seed']}, equal quotas", self.teacher_identity,
                not (run and (run_dir / "checkpoints" / "latest.pth").exists()), trained_steps=record["budget"],
                record_name=RECHECK,
            ))

    def run_ppo(self, report_only: bool) -> None:
        """PPO to the level, or ``--ppo-factor`` x LLM4Teach's mean steps there; only once every LLM4Teach seed ran."""
        if self.level is None or len(self.llm4teach) != len(self.args.seeds) or None in self.llm4teach:
            return
        # Every seed counts (the guard above: all ran), at the steps it trained where it never reached the level.
        llm4teach_steps = np.mean(counted_at_budget(self.llm4teach, steps_to_level(self.llm4teach, self.level)))
        self.ppo_budget = int(self.args.ppo_factor * llm4teach_steps)
        for seed in self.args.seeds:
            self.ppo.append(train(
                "minigrid/llm4teach", self.folder / f"ppo_seed{seed}", seed, self.ppo_budget,
                [*self.groups, "llm4teach.distill.schedule=none", f"llm4teach.stop_at_success={self.level}", *self.args.overrides],
                None, f"{self.task} PPO seed {seed}", report_only, stop_at=self.level,
            ))

    def report(self) -> dict:
        """The task's figures and targets; None where a run has not been made yet."""
        teacher = self.teacher_eval
        llm4teach = [r for r in self.llm4teach if r]
        ppo = [r for r in self.ppo if r]
        evals = [e for e in self.student_evals if e]
        level = self.level
        l4t_steps = steps_to_level(llm4teach, level) if level is not None else []
        ppo_steps = steps_to_level(ppo, level) if level is not None else []
        l4t_mean = mean_or_none(l4t_steps)
        ratio, lower_bound, upper_bound = None, None, None
        if level is not None and llm4teach and ppo and len(ppo) == len(self.args.seeds):
            # A seed that stopped short counts at the steps it trained: a PPO one makes the ratio a lower bound, an
            # LLM4Teach one an upper bound (so there is a ratio even where no LLM4Teach seed reached the level).
            ratio = float(np.mean(counted_at_budget(ppo, ppo_steps))) / float(np.mean(counted_at_budget(llm4teach, l4t_steps)))
            lower_bound, upper_bound = None in ppo_steps, None in l4t_steps
        student = mean_or_none([e["success"] for e in evals])
        complete = (teacher is not None and len(llm4teach) == len(evals) == len(self.args.seeds)
                    and (self.args.arms == "llm4teach" or len(ppo) == len(self.args.seeds)))
        targets = {
            # An upper bound at or above the target, or a ratio that is both kinds of bound, proves nothing.
            "ratio_ge_5": (None if ratio is None or (upper_bound and (lower_bound or ratio >= RATIO_TARGET))
                           else ratio >= RATIO_TARGET),
            "student_ge_teacher": None if student is None or teacher is None else student >= teacher["success"],
            "student_ge_teacher_plus_5": (
                None if student is None or teacher is None or teacher["success"] >= SURPASS_BELOW
                else student >= teacher["success"] + SURPASS_MARGIN - 1e-9
            ),
        }
        fps_on = [r["fps"] for r in llm4teach if r["fps"]]
        fps_off = [r["fps"] for r in ppo if r["fps"]]
        return {
            "task": self.task,
            "complete": complete,
            "seeds": list(self.args.seeds),
            "budget": self.budget,
            "overrides": list(self.args.overrides),
            "teacher_success": teacher["success"] if teacher else None,
            "teacher_return": teacher["return"] if teacher else None,
            "level": level,
            "level_is": None if level is None else ("teacher" if level < THRESHOLD else "90%"),
            "llm4teach_steps_to_level": l4t_mean,
            "llm4teach_steps_to_level_per_seed": l4t_steps,
            "llm4teach_seeds_at_level": sum(steps is not None for steps in l4t_steps),
            "ppo_steps_to_level": mean_or_none(ppo_steps),
            "ppo_steps_to_level_per_seed": ppo_steps,
            "ppo_budget": self.ppo_budget,
            "ratio": ratio,
            "ratio_is_lower_bound": lower_bound,
            "ratio_is_upper_bound": upper_bound,
            "llm4teach_eval_success": student,
            "llm4teach_eval_success_per_seed": [e["success"] for e in evals],
            "llm4teach_eval_evaluator_per_seed": [e.get("evaluator") for e in evals],
            "teacher_evaluator": teacher.get("evaluator") if teacher else None,
            # The same evaluations with equal quotas (--recheck-evals); None where not made (no checkpoint here).
            "teacher_success_equal_quotas": self.teacher_recheck["success"] if self.teacher_recheck else None,
            "llm4teach_eval_success_equal_quotas_per_seed": [r["success"] if r else None for r in self.student_rechecks],
            "llm4teach_eval_return_equal_quotas_per_seed": [r["return"] if r else None for r in self.student_rechecks],
            "llm4teach_eval_return": mean_or_none([e["return"] for e in evals]),
            "llm4teach_final_success": mean_or_none([r["final_success"] for r in llm4teach]),
            "llm4teach_final_return": mean_or_none([r["final_return"] for r in llm4teach]),
            "ppo_final_success": mean_or_none([r["final_success"] for r in ppo]),
            "ppo_final_return": mean_or_none([r["final_return"] for r in ppo]),
            "llm4teach_fps": mean_or_none(fps_on),
            "ppo_fps": mean_or_none(fps_off),
            "targets": targets,
            "runs": {"llm4teach": llm4teach, "student_evals": evals, "ppo": ppo, "teacher_alone": teacher},
        }

    def panel(self) -> Optional[tuple[dict, dict, str]]:
        groups = {
            "LLM4Teach": [str(REPO / r["run_dir"]) for r in self.llm4teach if r],
            "PPO": [str(REPO / r["run_dir"]) for r in self.ppo if r],
        }
        groups = {label: dirs for label, dirs in groups.items() if dirs}
        if not groups:
            return None
        hlines = {"teacher alone": self.teacher_eval["success"]} if self.teacher_eval else {}
        return groups, hlines, f"{self.task}: success vs env steps"


def shared_settings(args: argparse.Namespace) -> dict:
    """The report's settings that every task in it shares, as the report writes them: an earlier report made with
    others is replaced, not merged."""
    adaptive = args.schedule == "adaptive"
    return {
        "student": args.student,
        "teacher_kind": args.teacher_kind,
        "sharpen_temperature": args.sharpen_temperature,
        "schedule": args.schedule,
        "margin": args.margin if adaptive else None,
        "fade_updates": args.fade_updates if adaptive else None,
        "ppo_factor": args.ppo_factor,
        "eval_episodes": args.eval_episodes,
    }


def earlier_tasks(args: argparse.Namespace) -> dict[str, dict]:
    """The tasks of the folder's earlier report that this call leaves out, each with the ``seeds``, ``budget`` and
    ``overrides`` it was reported with; none where that report was made with other shared settings."""
    path = args.results / "sample_efficiency.json"
    try:
        earlier = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        print(f"the earlier report {path} is unreadable ({error}): it is replaced by this call's tasks", flush=True)
        return {}
    # Reports from before --teacher-kind and --sharpen-temperature were all made with RECORDS_KIND and RECORDS_SHARPEN.
    before_options = {"teacher_kind": RECORDS_KIND, "sharpen_temperature": RECORDS_SHARPEN}
    differing = [key for key, value in shared_settings(args).items() if earlier.get(key, before_options.get(key)) != value]
    if differing:
        print(f"the earlier report {path} was made with other {', '.join(differing)}: it is replaced", flush=True)
        return {}
    budgets = earlier.get("budget")
    kept = {}
    for task, report in earlier.get("tasks", {}).items():
        seeds = report.get("seeds", earlier.get("seeds"))
        if task in TASKS and task not in args.tasks and seeds:
            kept[task] = {
                "seeds": seeds,
                # reports from before per-task settings: the budget of the task, or the call's one for every task
                "budget": report.get("budget", budgets.get(task) if isinstance(budgets, dict) else budgets),
                "overrides": report.get("overrides", []),
            }
    return kept


def main(argv: Optional[Sequence[str]] = None) -> int:
    from habitat_llm4teach.teachers import TEACHER_KINDS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", "--task", nargs="+", default=TASKS, choices=TASKS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--budget", type=int, default=None,
                        help="LLM4Teach env steps per seed for every task (default: each task's, BUDGETS)")
    parser.add_argument("--ppo-factor", type=float, default=5.0, help="PPO budget = this x LLM4Teach's mean steps to the level")
    parser.add_argument("--eval-episodes", type=int, default=100, help="episodes for the teacher alone and for each student")
    parser.add_argument("--results", type=Path, default=None,
                        help="records, episode logs, JSON and PNG (checkpoints and TensorBoard there are git-ignored); "
                             "default: data/benchmarks/ and the student's folder (RESULTS)")
    parser.add_argument("--student", default=DEFAULT_STUDENT,
                        help="minigrid/student option for both arms (named in every record, so runs of another student are never reused)")
    parser.add_argument("--teacher-kind", default=DEFAULT_TEACHER_KIND,
                        choices=[name for name, kind in TEACHER_KINDS.items() if not kind.continuous],
                        help="MiniGrid teacher kind (prompt set) for the teacher alone and LLM4Teach; its prompt version is "
                             "named in every record (default: the configs' kind; another one gets its own results folder)")
    parser.add_argument("--sharpen-temperature", type=float, default=DEFAULT_SHARPEN,
                        help="the teacher's llm4teach.teacher.sharpen_temperature for the teacher alone and LLM4Teach, named "
                             f"in every record (default: the configs', {DEFAULT_SHARPEN}; another than {RECORDS_SHARPEN} gets "
                             "its own results folder)")
    parser.add_argument("--arms", choices=["both", "llm4teach"], default="both",
                        help="llm4teach: the teacher alone, LLM4Teach and its evaluations only (PPO figures null); "
                             "a later run with both reuses them")
    parser.add_argument("--schedule", choices=["adaptive", "paper"], default="adaptive",
                        help="LLM4Teach's lambda: adaptive (fade to the floor once the student nears its teacher) or the paper's")
    parser.add_argument("--margin", type=float, default=-0.1,
                        help="adaptive: fade once the student's windowed success exceeds teacher success + this")
    parser.add_argument("--fade-updates", type=int, default=50, help="adaptive: updates over which lambda fades to the floor")
    parser.add_argument("--report-only", action="store_true", help="write the report from existing records; run nothing")
    parser.add_argument("--recheck-evals", action="store_true",
                        help="evaluate again, with equal quotas, what habitat's first-N-to-end evaluator measured (the "
                             "teacher alone; each student whose checkpoint is here); trains nothing")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for both arms, e.g. habitat_baselines.num_environments=8")
    args = parser.parse_args(argv)
    if len(args.seeds) < 1 or (args.budget is not None and args.budget < 1) or args.fade_updates < 1 or not -1 <= args.margin <= 1:
        parser.error("need at least one seed, a positive budget and fade, and a margin in [-1, 1]")
    if not args.sharpen_temperature > 0:
        parser.error(f"--sharpen-temperature must be positive, got {args.sharpen_temperature}")
    choosing = [o for o in args.overrides if chooses_teacher(o)]
    if choosing:
        parser.error(f"{choosing[0]}: choose the teacher with --teacher-kind and --sharpen-temperature, which every "
                     "record then names")
    args.tasks = list(dict.fromkeys(args.tasks))
    if args.results is None:
        folder = RESULTS.get(args.student, f"sample_efficiency_{args.student}")
        folder += "" if args.teacher_kind == RECORDS_KIND else f"_{args.teacher_kind}"
        folder += "" if args.sharpen_temperature == RECORDS_SHARPEN else f"_T{args.sharpen_temperature:g}"
        args.results = REPO / "data" / "benchmarks" / folder
    args.results = args.results.resolve()
    args.results.mkdir(parents=True, exist_ok=True)
    os.chdir(REPO)  # run folders are named relative to the checkout (in_repo)

    # Runs and evaluations that use the teacher are reused only when made with the same prompt, temperature and model.
    teacher_identity = {"teacher_prompt": TEACHER_KINDS[args.teacher_kind].prompts.version,
                        "teacher_sharpen_temperature": args.sharpen_temperature,
                        "teacher_model": Path(TeacherConfig.model).name}
    benches = [TaskBench(task, args, teacher_identity) for task in args.tasks]
    start = time.perf_counter()
    for bench in benches:  # the shorter part first, for every task: a stopped session leaves whole tasks
        bench.run_llm4teach(args.report_only or args.recheck_evals)
        bench.recheck_evals(args.recheck_evals and not args.report_only)
    for bench in benches:  # --arms llm4teach trains no PPO, but reports the PPO records already made
        bench.run_ppo(args.report_only or args.recheck_evals or args.arms != "both")
    # A call on some tasks rewrites the report of the whole folder: the tasks it names with its own seeds, the other
    # tasks of the earlier report again from their records, with the seeds, budget and overrides they were reported with.
    earlier = [TaskBench(task, argparse.Namespace(**{**vars(args), **settings}), teacher_identity)
               for task, settings in earlier_tasks(args).items()]
    for bench in earlier:
        bench.run_llm4teach(report_only=True)
        bench.recheck_evals(run=False)
        bench.run_ppo(report_only=True)
    benches = sorted(benches + earlier, key=lambda bench: TASKS.index(bench.task))

    reports = {bench.task: bench.report() for bench in benches}
    panels = [panel for bench in benches if (panel := bench.panel())]
    plot: Optional[Path] = args.results / "success_vs_steps.png"
    try:
        plot_panels(panels, str(plot))
    except ValueError as error:  # nothing run yet, or no run finished an episode
        print(f"no plot: {error}", flush=True)
        plot = None
    report = {
        "tasks": reports,
        "seeds": args.seeds,
        "budget": {bench.task: bench.budget for bench in benches},
        **shared_settings(args),
        "arms": args.arms,
        "plot": str(plot) if plot else None,
        "wall_s_this_call": round(time.perf_counter() - start, 1),
    }
    (args.results / "sample_efficiency.json").write_text(json.dumps(report, indent=2))
    print(f"Results: {args.results}", flush=True)
    summary = {**report, "tasks": {task: {k: v for k, v in r.items() if k != "runs"} for task, r in reports.items()}}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
