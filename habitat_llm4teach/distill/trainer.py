"""``L4TTrainer`` (``habitat_baselines.trainer_name: llm4teach``): habitat's PPOTrainer with a teacher.

Owns the wiring of the teacher and the lambda schedule into habitat-baselines'
own training loop, which it does not copy. Like habitat's ``ppo``/``ddppo``
(one class under two names), the same config trains in one process or as
DD-PPO under torchrun: PPOTrainer detects the world size, and the agent then
builds ``distrib_updater_name`` (L4TDistillDDPPO) instead of ``updater_name``
(L4TDistillPPO).

The teacher (teacher/guidance.py's ``Teacher``, of the kind ``llm4teach.teacher.env``
names in teachers.py) gets its plans from the node's teacher server
(server/remote.py: local rank 0 starts it, every rank asks it without waiting)
or, with ``llm4teach.teacher.server.enabled=false``, from a blocking planner in
each rank; only rank 0 writes (or asks the server to write) the plan cache file. What each override adds to PPOTrainer (each calls
habitat's method):

- ``_init_train``: refuses a resume state written by another trainer (before
  anything is written), checks the updater/storage names, builds the teacher
  (checking its action space against the env's) and the schedule, and restores
  the schedule's state on resume.
- ``_compute_actions_and_step_envs``: after the student acted and the envs
  started stepping, the teacher describes the same observations; its guidance
  goes into the storage next to them.
- ``_update_agent``: feeds the schedule the student's windowed success, sets
  lambda on the updater, and adds the teacher's statistics to the losses (so
  DD-PPO averages them over ranks like habitat's own). It runs on every core
  torch uses; rollouts leave a CPU teacher server its threads while it
  computes this rank's queries (``llm4teach.rollout_cpu_threads``).
- ``_training_log``: keeps every TensorBoard scalar habitat writes, adds the
  teacher statistics as ``teacher/*``, skips NaN (nothing measured), and
  replaces habitat's text lines with one progress line (distill/training_log.py).
- ``save_checkpoint``: adds the trainer state to ``extra_state``.
- ``train``: saves a final checkpoint when training finished.

The trainer state (``TRAINER_STATE_KEY``: schedule state, plan cache path, last
lambda) goes into checkpoints' ``extra_state`` and, through the updater's
``get_resume_state`` (the only part of habitat's resume state an extension
controls), into resume states. Step and update counters are habitat's own
``requeue_stats``, so lambda = schedule.value(num_updates_done) continues exactly.
"""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any, Optional

import torch

from habitat import logger
from habitat_baselines.common.baseline_registry import baseline_registry
from habitat_baselines.rl.ddppo import ddp_utils
from habitat_baselines.rl.ddppo.ddp_utils import EXIT, rank0_only, resume_state_filename
from habitat_baselines.rl.ppo.ppo_trainer import PPOTrainer
from habitat_baselines.utils.timing import g_timer
from tqdm import tqdm

from habitat_llm4teach import keys
from habitat_llm4teach.checkpoints import CheckpointError
from habitat_llm4teach.distill.continuous import L4TContinuousDistillPPO
from habitat_llm4teach.distill.episodes import EpisodeLog
from habitat_llm4teach.distill.schedules import DistillSchedule, build_schedule
from habitat_llm4teach.distill.storage import set_at_current_step
from habitat_llm4teach.distill.training_log import ScalarsWithoutNaN, habitat_text_lines_hidden, progress_line
from habitat_llm4teach.distill.updater import (
    DISTILL_AGREEMENT,
    DISTILL_GUIDED_FRAC,
    DISTILL_LAMBDA,
    DISTILL_LOSS,
    TRAINER_STATE_KEY,
)
from habitat_llm4teach.errors import ConfigError
from habitat_llm4teach.server.process import ServerProcess
from habitat_llm4teach.server.remote import build_training_teacher, server_cpu_threads, server_shares_cpu, start_server
from habitat_llm4teach.teacher.guidance import Teacher
from habitat_llm4teach.teachers import teacher_kind

TRAINER_NAME = "llm4teach"
TEACHER_STATS_PREFIX = "teacher/"
_CHECKPOINT_NAME = re.compile(r"ckpt\.(\d+)\.pth")


def check_components(config: Any) -> None:
    """The updater and storage names must resolve to the distillation classes of the teacher's kind (teachers.py),
    or registered subclasses of them (clear error otherwise)."""
    hb = config.habitat_baselines
    kind = teacher_kind(config.llm4teach.teacher)
    for key, get, expected in (
        ("updater_name", baseline_registry.get_updater, kind.updater),
        ("distrib_updater_name", baseline_registry.get_updater, kind.distrib_updater),
        ("rollout_storage_name", baseline_registry.get_storage, kind.rollout_storage),
    ):
        found, base = get(hb[key]), get(expected)
        # The discrete classes are bases of the continuous ones: a continuous component does not fit a discrete kind.
        wrong_kind = not kind.continuous and found is not None and issubclass(found, L4TContinuousDistillPPO)
        if found is None or not issubclass(found, base) or wrong_kind:
            raise ConfigError(
                f"habitat_baselines.trainer_name={TRAINER_NAME} with llm4teach.teacher.env={kind.name} needs "
                f"habitat_baselines.{key}={expected} (or a registered subclass), got {hb[key]!r}; the config group "
                f"llm4teach/teacher_kind={kind.name} sets them together"
            )


def rollout_thread_count(run_config: Any, teacher_asked: bool) -> int:
    """``llm4teach.rollout_cpu_threads`` resolved (its comment in config/structured.py says why): the count set,
    else every core torch uses, less the server's threads while a teacher is asked from a server on this CPU."""
    if run_config.rollout_cpu_threads < 0:
        raise ConfigError(f"llm4teach.rollout_cpu_threads must be >= 0 (0: automatic), got {run_config.rollout_cpu_threads}")
    if run_config.rollout_cpu_threads:
        return int(run_config.rollout_cpu_threads)
    cores = torch.get_num_threads()
    if teacher_asked and server_shares_cpu(run_config.teacher):
        return max(1, cores - server_cpu_threads(run_config.teacher.server))
    return cores


def trainer_state_of(resume_state: Optional[dict], path: str) -> Optional[dict]:
    """Our state in a habitat resume state, or a clear error if another trainer wrote it."""
    if resume_state is None:
        return None
    state = resume_state.get(TRAINER_STATE_KEY)
    if not isinstance(state, dict) or state.get("trainer") != TRAINER_NAME:
        try:
            writer = resume_state["config"].habitat_baselines.trainer_name
        except (KeyError, AttributeError):
            writer = "unknown"
        raise CheckpointError(
            f"resume state '{path}' was written by trainer '{writer}', not '{TRAINER_NAME}' (it has no "
            f"'{TRAINER_STATE_KEY}' state): refusing to resume from it; nothing was changed. Train in a new "
            f"folder (llm4teach.run_dir=...) or move '{os.path.dirname(path)}' away."
        )
    return state


def _window_delta(window: Any) -> float:
    """What PPOTrainer._training_log sums over a window of cumulative episode stats."""
    return (window[-1] - window[0]).sum().item() if len(window) > 1 else window[0].sum().item()


def _rank_and_world_size() -> tuple[int, int]:
    if torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def next_checkpoint_index(folder: str) -> int:
    indices = [int(m.group(1)) for name in os.listdir(folder) if (m := _CHECKPOINT_NAME.fullmatch(name))]
    return max(indices, default=-1) + 1


@baseline_registry.register_trainer(name=TRAINER_NAME)
class L4TTrainer(PPOTrainer):
    _teacher: Optional[Teacher]  # None: plain PPO (schedule "none")
    _schedule: DistillSchedule
    _success_key: str = keys.SUCCESS  # the task's success info key; __init__ reads it from the config
    # Torch threads while the student acts beside a server computing (rollout_thread_count), while it acts with the
    # server idle or the teacher retired, and while it updates.
    _rollout_threads: int
    _retired_rollout_threads: int
    _update_threads: int

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._distill_coef: Optional[float] = None  # lambda of the latest update
        self._prev_time = 0.0  # training time of earlier sessions (resume)
        self._last_checkpoint_step: Optional[int] = None
        self._teacher_retired = False  # logged once when lambda reaches 0 for good
        self._reached_stop_success = False
        self._progress: Optional[tqdm] = None
        self._teacher = None
        self._episodes: Optional[EpisodeLog] = None
        self._success_key = keys.success_key(self.config.habitat)  # pick_success / place_success / success

    # -- set-up ---------------------------------------------------------------------------------------

    def _init_train(self, resume_state: Optional[dict] = None) -> None:
        if resume_state is None:
            resume_state = ddp_utils.load_resume_state(self.config)
        trainer_state = trainer_state_of(resume_state, resume_state_filename(self.config))
        check_components(self.config)
        build_schedule(self.config.llm4teach.distill)  # fail fast on a bad schedule, before envs and the LLM
        rollout_thread_count(self.config.llm4teach, teacher_asked=False)  # and on a bad thread count

        # The teacher server starts before the envs are built, so its LLM loads while they are.
        server = self._start_teacher_server(resume_state)
        try:
            super()._init_train(resume_state)  # self.config is the resume state's from here on, if any
        except BaseException:
            if server is not None:
                server.stop()
            raise

        self._schedule = build_schedule(self.config.llm4teach.distill)
        self._teacher = None  # schedule "none": plain PPO through this trainer, no LLM loaded
        if not self._schedule.is_off(0):
            try:
                self._teacher = build_training_teacher(
                    self.config.llm4teach.teacher, self._env_spec.observation_space, self._env_spec.action_space,
                    started=server,
                )
            except BaseException:
                self.envs.close()
                if server is not None:
                    server.stop()
                raise
        self._update_threads = torch.get_num_threads()
        self._rollout_threads = rollout_thread_count(self.config.llm4teach, teacher_asked=self._teacher is not None)
        self._retired_rollout_threads = rollout_thread_count(self.config.llm4teach, teacher_asked=False)
        if self._rollout_threads != self._update_threads:
            logger.info(
                f"llm4teach: the student acts on {self._rollout_threads} torch thread(s) while the teacher server "
                f"computes its queries on this CPU, else on {self._retired_rollout_threads}, and updates on "
                f"{self._update_threads} (llm4teach.rollout_cpu_threads)"
            )
        torch.set_num_threads(self._rollout_threads)
        self._progress = self._make_progress_bar()
        self._episodes = EpisodeLog(
            self.config.llm4teach.run_dir, *_rank_and_world_size(), resume=trainer_state is not None,
            success_key=self._success_key,
            resume_step=resume_state["requeue_stats"]["num_steps_done"] if trainer_state is not None else None,
        )
        if self._episodes.dropped_rows:
            logger.info(
                f"llm4teach: dropped {self._episodes.dropped_rows} episode row(s) logged after the resume state's "
                f"step {resume_state['requeue_stats']['num_steps_done']}: those updates run again"
            )
        if isinstance(self._agent.updater, L4TContinuousDistillPPO):
            distill = self.config.llm4teach.distill
            self._agent.updater.configure(distill.continuous_loss, distill.teacher_std)
        if trainer_state is not None:
            self._schedule.load_state_dict(trainer_state["schedule"])
            self._distill_coef = trainer_state["distill_coef"]
            self._prev_time = resume_state["requeue_stats"]["prev_time"]
            if self._teacher is not None and trainer_state["plan_cache_path"] != self._teacher.cache_path:
                # Only with load_resume_state_config=False: the resume state's config would name the same file.
                logger.warning(
                    f"llm4teach: resuming with plan cache {self._teacher.cache_path}; the run so far used "
                    f"{trainer_state['plan_cache_path']}"
                )
        self._agent.updater.trainer_state = self._trainer_state()
        if self._teacher is None:
            logger.info("llm4teach: distillation schedule 'none': plain PPO, no teacher")
        else:
            logger.info(
                f"llm4teach: {self._schedule.name} distillation schedule, plan cache {self._teacher.cache_path or '(in memory)'}"
            )

    def _start_teacher_server(self, resume_state: Optional[dict]) -> Optional[ServerProcess]:
        """The teacher server this rank owns, started before the envs (None: no teacher, or another rank's server).

        Reads the config the run will have: a resume state's, as habitat's ``_init_train`` will use it.
        """
        config = self.config
        if resume_state is not None:
            if not config.habitat_baselines.load_resume_state_config:
                return None  # habitat's _init_train refuses this run
            config = resume_state["config"]  # what habitat's _get_resume_state_config_or_new_config returns then
        if build_schedule(config.llm4teach.distill).is_off(0):
            return None
        return start_server(config.llm4teach.teacher)

    @rank0_only
    def _make_progress_bar(self) -> Optional[tqdm]:
        total = self.config.habitat_baselines.total_num_steps
        if total <= 0:
            return None  # budget in updates: habitat's log lines show progress
        # Not a tty (CI, nohup): one line per ~30 s instead of a redrawn bar.
        return tqdm(total=int(total), initial=int(self.num_steps_done), unit="step", desc="llm4teach", dynamic_ncols=True,
                    mininterval=1.0 if sys.stderr.isatty() else 30.0)

    def _trainer_state(self) -> dict[str, Any]:
        return {
            "trainer": TRAINER_NAME,
            "schedule": self._schedule.state_dict(),
            "plan_cache_path": None if self._teacher is None else self._teacher.cache_path,
            "distill_coef": self._distill_coef,
        }

    # -- rollout --------------------------------------------------------------------------------------

    def _compute_actions_and_step_envs(self, buffer_index: int = 0) -> None:
        self._match_rollout_threads()
        super()._compute_actions_and_step_envs(buffer_index)
        # The envs are stepping now; the teacher reads the observations the student just acted on.
        num_envs = self.envs.num_envs
        env_slice = slice(
            int(buffer_index * num_envs / self._agent.nbuffers),
            int((buffer_index + 1) * num_envs / self._agent.nbuffers),
        )
        rollouts = self._agent.rollouts
        if not self._teacher_needed():
            unguided = torch.zeros(env_slice.stop - env_slice.start, 1, dtype=torch.bool)  # [n, 1]
            set_at_current_step(rollouts, buffer_index, {keys.TEACHER_GUIDED: unguided})
            return
        with g_timer.avg_time("trainer.teacher"):
            step_batch = rollouts.get_current_step(env_slice, buffer_index)
            # MiniGrid: teacher_probs [n, A]; rearrange: teacher_actions [n, K, A], teacher_weights [n, K]; both teacher_guided [n, 1].
            guidance = self._teacher.guide_batch(step_batch["observations"])
        rollouts.insert(**guidance, buffer_index=buffer_index)

    def _match_rollout_threads(self) -> None:
        """The student acts on the cores a CPU teacher server leaves only while it computes this rank's queries.

        A step whose descriptions are all answered leaves the server asleep, and holding a core back for it then only
        slows the student's act. On pick (2 envs, 2 cores, 40 updates from an empty plan cache: 42-56 new
        descriptions in 2,560 env steps) the act took 30-31 ms a step with a core held back on every step, 22-25 ms
        with this, 18-20 ms without a teacher.
        """
        if self._teacher is None or self._teacher_retired:
            return
        threads = self._rollout_threads if self._teacher.llm_at_work() else self._retired_rollout_threads
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)

    def _teacher_needed(self) -> bool:
        """False once lambda is 0 for good: the teacher is not asked any more (its steps count as unguided)."""
        if self._teacher is None:
            return False
        if self._schedule.is_off(self.num_updates_done):
            if not self._teacher_retired:
                logger.info(f"llm4teach: lambda is 0 from update {self.num_updates_done} on; the teacher is no longer asked")
                self._teacher_retired = True
                self._rollout_threads = self._retired_rollout_threads  # automatic: the server's cores are free again
                torch.set_num_threads(self._rollout_threads)
            return False
        return True

    def _collect_environment_result(self, buffer_index: int = 0) -> int:
        stats = self.running_episode_stats
        before = {name: stats[name].clone() for name in ("count", "reward", self._success_key) if name in stats}
        num_steps = super()._collect_environment_result(buffer_index)
        self._episodes.record(self.num_steps_done, num_steps, before, self.running_episode_stats)
        return num_steps

    # -- update ---------------------------------------------------------------------------------------

    def _windowed_student_success(self) -> Optional[float]:
        """Success rate over habitat's reward window (same numbers as metrics/success), None before an episode ends."""
        successes = self.window_episode_stats.get(self._success_key)
        counts = self.window_episode_stats.get("count")
        if not successes or not counts:
            return None
        episodes = _window_delta(counts)
        return _window_delta(successes) / episodes if episodes >= 1 else None

    def _update_agent(self) -> dict[str, float]:
        student_success = self._windowed_student_success()
        if student_success is not None:
            self._schedule.observe(student_success, self.num_updates_done)
        self._distill_coef = self._schedule.value(self.num_updates_done)
        self._agent.updater.distill_coef = self._distill_coef

        torch.set_num_threads(self._update_threads)  # the student does not act during an update: every core for it
        try:
            losses = super()._update_agent()
        finally:
            torch.set_num_threads(self._rollout_threads)
        self._episodes.end_rollout()

        if self._teacher is not None and not self._teacher_retired:
            losses.update(self._teacher.pop_stats())
            if rank0_only():
                self._teacher.save_cache()
        self._agent.updater.trainer_state = self._trainer_state()
        return losses

    def _coalesce_post_step(self, losses: dict[str, float], count_steps_delta: int) -> dict[str, float]:
        # habitat adds the rollout's steps to num_steps_done here, after _update_agent: deciding the stop here
        # (every rank calls it) logs the steps actually trained, the count the final checkpoint saves.
        losses = super()._coalesce_post_step(losses, count_steps_delta)
        self._check_stop_at_success()
        return losses

    def _check_stop_at_success(self) -> None:
        """``llm4teach.stop_at_success``: stop once the last 100 episodes (all ranks together) reach it."""
        threshold = self.config.llm4teach.stop_at_success
        if threshold < 0:
            return
        recent = self._episodes.recent_success
        counts = torch.tensor([float(sum(recent)), float(len(recent))])
        if torch.distributed.is_initialized():
            torch.distributed.all_reduce(counts)  # every rank takes the same decision
        successes, episodes = counts.tolist()
        if episodes >= recent.maxlen and successes / episodes >= threshold and not self._reached_stop_success:
            self._reached_stop_success = True
            logger.info(
                f"llm4teach: success over the last episodes {successes / episodes:.3f} >= stop_at_success={threshold}: "
                f"stopping at {self.num_steps_done} steps"
            )

    def is_done(self) -> bool:
        return self._reached_stop_success or super().is_done()

    @rank0_only
    def _training_log(self, writer: Any, losses: dict[str, float], prev_time: int = 0) -> None:
        # habitat writes its scalars (learner/*, metrics/*, reward, perf/*) through the NaN-skipping writer
        # and its text lines are replaced by one progress line.
        scalars = ScalarsWithoutNaN(writer)
        teacher_stats = {k: v for k, v in losses.items() if k.startswith(TEACHER_STATS_PREFIX)}
        learner_losses = {k: v for k, v in losses.items() if k not in teacher_stats}
        with habitat_text_lines_hidden():
            super()._training_log(scalars, learner_losses, prev_time)
        for name, value in teacher_stats.items():
            scalars.add_scalar(name, value, self.num_steps_done)
        if self._progress is not None:
            self._progress.update(min(self.num_steps_done, self._progress.total) - self._progress.n)
            postfix = {"lambda": losses.get(DISTILL_LAMBDA, 0.0)}
            success = self._windowed_student_success()
            if success is not None:
                postfix["success"] = success
            self._progress.set_postfix(postfix, refresh=False)
        if self.num_updates_done % self.config.habitat_baselines.log_interval == 0:
            logger.info(self._progress_line(scalars.last))

    def _progress_line(self, written: dict[str, float]) -> str:
        """The log interval's line, from the values just written to TensorBoard (full metrics stay there)."""
        counts = self.window_episode_stats.get("count")
        episode_ended = bool(counts) and _window_delta(counts) >= 1  # habitat writes 0 success/return before
        learner = lambda name: written.get(f"learner/{name}")  # noqa: E731
        return progress_line({
            "update": self.num_updates_done,
            "step": self.num_steps_done,
            "fps": written.get("perf/fps"),
            "success": written.get(f"metrics/{self._success_key}") if episode_ended else None,
            "return": written.get("reward") if episode_ended else None,
            "lambda": learner(DISTILL_LAMBDA),
            "guided": learner(DISTILL_GUIDED_FRAC),
            "agree": learner(DISTILL_AGREEMENT),
            "distill_loss": learner(DISTILL_LOSS),
        })

    # -- checkpoints ----------------------------------------------------------------------------------

    @rank0_only
    def save_checkpoint(self, file_name: str, extra_state: Optional[dict] = None) -> None:
        super().save_checkpoint(file_name, {**(extra_state or {}), TRAINER_STATE_KEY: self._trainer_state()})
        self._last_checkpoint_step = self.num_steps_done

    def train(self) -> None:
        try:
            super().train()
        finally:
            if self._teacher is not None:
                self._teacher.close()  # stops the teacher server this rank started (also on a crash)
            if self._episodes is not None:
                self._episodes.close()
            if self._progress is not None:
                self._progress.close()
        if EXIT.is_set() or not self.is_done():
            return  # interrupted: habitat saved a resume state, training is not over
        self._save_final_checkpoint()

    @rank0_only
    def _save_final_checkpoint(self) -> None:
        if self._last_checkpoint_step == self.num_steps_done:
            return  # habitat's schedule already checkpointed the last update
        folder = self.config.habitat_baselines.checkpoint_folder
        self.save_checkpoint(
            f"ckpt.{next_checkpoint_index(folder)}.pth",
            dict(step=self.num_steps_done, wall_time=(time.time() - self.t_start) + self._prev_time),
        )
