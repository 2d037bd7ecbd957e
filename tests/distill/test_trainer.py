"""The llm4teach trainer: its pieces on hand-built inputs, then real few-update trainings through the CLI."""

from __future__ import annotations

import math
import os
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from gym import spaces
from habitat.config.read_write import read_write
from habitat_baselines.common.baseline_registry import baseline_registry
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX
from omegaconf import OmegaConf

from helpers import GYM_NOTICE, TINY_TRAINING, output_of, run_cli, tensorboard_scalars
from habitat_llm4teach import keys
from habitat_llm4teach.checkpoints import CheckpointError, extend_resume_state, load_checkpoint_file
from habitat_llm4teach.distill.episodes import load_episodes
from habitat_llm4teach.distill.schedules import PaperSchedule
from habitat_llm4teach.distill.training_log import parse_progress_lines
from habitat_llm4teach.distill.trainer import (
    TRAINER_NAME,
    L4TTrainer,
    check_components,
    next_checkpoint_index,
    rollout_thread_count,
    trainer_state_of,
)
from habitat_llm4teach.distill.updater import TRAINER_STATE_KEY
from habitat_llm4teach.envs.minigrid.symbolic import encode_symbolic, symbolic_size
from habitat_llm4teach.errors import ConfigError
from habitat_llm4teach.teacher.cache import CacheKey, PlanCache
from habitat_llm4teach.teacher.guidance import GUIDED_FRAC, PLAN_CACHE_HIT_RATE
from habitat_llm4teach.teacher.minigrid.guidance import TEACHER_ACTION_SPACE, MiniGridTeacher, check_action_space
from habitat_llm4teach.teacher.source import LocalPlanSource
from habitat_llm4teach.teacher.types import Plan, PlanDistribution, SkillCall

CONFIG = "--config-name=minigrid/llm4teach"
TASKS = {"simpledoorkey": "SimpleDoorKey", "lavadoorkey": "LavaDoorKey", "coloreddoorkey": "ColoredDoorKey", "twodoor": "TwoDoor"}


# -- pieces, on hand-built inputs ---------------------------------------------------------------------


def test_trainer_name_resolves():
    assert baseline_registry.get_trainer(TRAINER_NAME) is L4TTrainer


@pytest.mark.parametrize("task", sorted(TASKS))
def test_llm4teach_configs_compose_with_the_distillation_components(composed, task):
    config = composed("minigrid/llm4teach", [f"minigrid/task={task}"])
    hb = config.habitat_baselines
    assert hb.trainer_name == TRAINER_NAME
    assert (hb.updater_name, hb.distrib_updater_name, hb.rollout_storage_name) == (
        "L4TDistillPPO", "L4TDistillDDPPO", "L4TRolloutStorage"
    )
    assert hb.vector_env_factory.task == TASKS[task]
    assert config.llm4teach.run_dir == f"data/runs/minigrid/{task}_llm4teach"
    assert config.llm4teach.teacher.cache_path == "data/plan_cache/minigrid.json"
    assert config.llm4teach.distill.schedule == "paper"
    check_components(config)


def test_wrong_updater_or_storage_name_is_a_clear_error(composed):
    config = composed("minigrid/llm4teach", ["habitat_baselines.distrib_updater_name=DDPPO"])
    with pytest.raises(ConfigError, match="distrib_updater_name=L4TDistillDDPPO.*got 'DDPPO'"):
        check_components(config)
    config = composed("minigrid/llm4teach", ["habitat_baselines.rollout_storage_name=RolloutStorage"])
    with pytest.raises(ConfigError, match="rollout_storage_name=L4TRolloutStorage"):
        check_components(config)


def test_action_space_mismatch_names_both_spaces():
    check_action_space(spaces.Discrete(TEACHER_ACTION_SPACE.n))
    with pytest.raises(ConfigError, match=r"teacher's action space is Discrete\(7\).*env's action space is Discrete\(3\)"):
        check_action_space(spaces.Discrete(3))
    with pytest.raises(ConfigError, match="env's action space is Box"):
        check_action_space(spaces.Box(-1, 1, (2,)))


def test_resume_state_of_another_trainer_is_refused_with_a_clear_error():
    foreign = {"state_dict": {}, "config": OmegaConf.create({"habitat_baselines": {"trainer_name": "ppo"}})}
    with pytest.raises(CheckpointError, match="written by trainer 'ppo', not 'llm4teach'.*nothing was changed"):
        trainer_state_of(foreign, "/run/checkpoints/.habitat-resume-state.pth")
    ours = {TRAINER_STATE_KEY: {"trainer": TRAINER_NAME, "schedule": {"name": "paper"}}}
    assert trainer_state_of(ours, "x")["schedule"] == {"name": "paper"}
    assert trainer_state_of(None, "x") is None


def test_rollouts_leave_a_cpu_teacher_server_its_threads_unless_told_otherwise(monkeypatch):
    from habitat_llm4teach.config.structured import L4TRunConfig

    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    config = OmegaConf.structured(L4TRunConfig)
    config.teacher.device = "cpu"
    config.teacher.server.cpu_threads = 3
    assert rollout_thread_count(config, teacher_asked=True) == 5  # 8 cores less the server's 3
    assert rollout_thread_count(config, teacher_asked=False) == 8  # schedule "none": no server runs
    config.teacher.server.cpu_threads = 12
    assert rollout_thread_count(config, teacher_asked=True) == 1  # at least one
    config.teacher.server.cpu_threads = 3
    for where in ({"device": "cuda:1"}, {"spawn": False, "address": "tcp://10.0.0.2:5555"}, {"enabled": False}):
        config.teacher.server.update(where)  # the LLM on a GPU, a server elsewhere, the rank's own planner
        assert rollout_thread_count(config, teacher_asked=True) == 8
        config.teacher.server.update({"device": "", "spawn": True, "address": "", "enabled": True})
    config.rollout_cpu_threads = 2
    assert rollout_thread_count(config, teacher_asked=True) == 2
    config.rollout_cpu_threads = -1
    with pytest.raises(ConfigError, match="rollout_cpu_threads must be >= 0"):
        rollout_thread_count(config, teacher_asked=True)


def test_next_checkpoint_index_follows_habitats_numbering(tmp_path):
    assert next_checkpoint_index(tmp_path) == 0
    for name in ("ckpt.0.pth", "ckpt.3.pth", "latest.pth", ".habitat-resume-state.pth"):
        (tmp_path / name).touch()
    assert next_checkpoint_index(tmp_path) == 4


def test_windowed_student_success_matches_habitats_window():
    trainer = object.__new__(L4TTrainer)
    trainer.window_episode_stats = {}
    assert trainer._windowed_student_success() is None
    cumulative = lambda *values: [torch.tensor([[v]]) for v in values]  # noqa: E731
    trainer.window_episode_stats = {"count": cumulative(2.0, 6.0), keys.SUCCESS: cumulative(1.0, 4.0)}
    assert trainer._windowed_student_success() == pytest.approx(3 / 4)
    trainer.window_episode_stats = {"count": cumulative(2.0, 2.0), keys.SUCCESS: cumulative(1.0, 1.0)}
    assert trainer._windowed_student_success() is None  # no episode ended in the window
    # Habitat tasks name their success measure (pick_success): the window is read under that key.
    trainer._success_key = "pick_success"
    trainer.window_episode_stats = {"count": cumulative(2.0, 6.0), "pick_success": cumulative(0.0, 2.0), keys.SUCCESS: cumulative(0.0, 0.0)}
    assert trainer._windowed_student_success() == pytest.approx(2 / 4)


def _symbolic_scene() -> np.ndarray:
    """A 5x5 room: walls around, a yellow key and a locked yellow door; the agent at (1, 1) facing east."""
    width = height = 5
    grid = np.zeros((width, height, 3), dtype=np.uint8)
    grid[:, :, 0] = OBJECT_TO_IDX["empty"]
    grid[[0, -1], :, 0] = grid[:, [0, -1], 0] = OBJECT_TO_IDX["wall"]
    grid[3, 1] = (OBJECT_TO_IDX["key"], COLOR_TO_IDX["yellow"], 0)
    grid[4, 2] = (OBJECT_TO_IDX["door"], COLOR_TO_IDX["yellow"], STATE_TO_IDX["locked"])
    agent = np.array([1, 1, 0, 0, 0, 0], dtype=np.uint8)
    flat = encode_symbolic(grid, agent, "open the door")
    assert flat.shape == (symbolic_size(width, height),)
    return flat


class ScriptedPlanner:
    """Stands in for the LLM planner: one fixed answer, looked up in a real PlanCache first."""

    def __init__(self, answer: PlanDistribution) -> None:
        self.answer = answer
        self.cache = PlanCache()

    def plan(self, query) -> PlanDistribution:
        key = CacheKey(query.description, "scripted", "v1", "score")
        found = self.cache.get(key)
        if found is None:
            self.cache.put(key, self.answer)
            found = self.answer
        return found


def test_the_minigrid_facts_kind_asks_with_effects_and_the_default_without():
    """Teacher kind minigrid_facts builds the MiniGrid teacher over the minigrid_facts prompt set: its queries carry the
    effects line; the default kind's do not (the observation's mission, "open the door", is the Goal of both)."""
    from habitat_llm4teach.teachers import build_teacher

    pick_up_key = PlanDistribution((Plan((SkillCall("pick up", "yellow key"),), 1.0),))
    obs_space = spaces.Dict({keys.MINIGRID_SYMBOLIC: spaces.Box(0, 255, (symbolic_size(5, 5),), np.uint8)})
    symbolic = torch.from_numpy(_symbolic_scene()[None])  # [1, S]
    asked: dict[str, list[str]] = {}

    class Recording(ScriptedPlanner):
        def plan(self, query):
            asked.setdefault(kind, []).append(query.description)
            return super().plan(query)

    for kind in ("minigrid", "minigrid_facts"):
        planner = Recording(pick_up_key)
        config = SimpleNamespace(env=kind, mission=None, trace_path=None)
        teacher = build_teacher(config, obs_space, spaces.Discrete(7), lambda cfg, prompts: LocalPlanSource(planner))
        assert teacher.prompt_set.name == kind
        teacher.guide(symbolic)
    scene = "Agent sees <yellow key>, <yellow door (locked)>, holds <nothing>. Goal: open the door."
    effects = "\nEffects: pick up yellow key gets the key of the locked yellow door."
    assert asked == {"minigrid": [scene], "minigrid_facts": [scene + effects]}


def test_minigrid_teacher_in_process_turns_observations_into_teacher_probs_and_stats():
    pick_up_key = PlanDistribution((Plan((SkillCall("pick up", "yellow key"),), 1.0),))
    teacher = MiniGridTeacher(LocalPlanSource(ScriptedPlanner(pick_up_key)), "open the door")
    symbolic = torch.from_numpy(np.stack([_symbolic_scene()] * 3))  # [N, S]
    teacher_probs, teacher_guided = teacher.guide(symbolic)
    assert teacher_probs.shape == (3, TEACHER_ACTION_SPACE.n) and teacher_probs.dtype == torch.float32
    assert teacher_guided.shape == (3, 1) and teacher_guided.all()
    assert torch.allclose(teacher_probs.sum(-1), torch.ones(3))
    assert teacher_probs.max() == 1.0  # one plan: a one-hot next action
    assert teacher.last_plans == ["pick up yellow key (1.00)"] * 3 and teacher.last_skills == ["pick up yellow key"] * 3
    stats = teacher.pop_stats()
    assert stats == {PLAN_CACHE_HIT_RATE: pytest.approx(2 / 3), GUIDED_FRAC: 1.0}

    silent = MiniGridTeacher(LocalPlanSource(ScriptedPlanner(PlanDistribution(()))), "open the door")
    teacher_probs, teacher_guided = silent.guide(symbolic)
    assert not teacher_guided.any()
    assert torch.allclose(teacher_probs, torch.full((3, 7), 1 / 7))
    assert silent.pop_stats()[GUIDED_FRAC] == 0.0


def test_teacher_guidance_is_stored_at_the_step_the_student_acts_on():
    """PPOTrainer's own _compute_actions_and_step_envs on a tiny policy and recording envs, plus our teacher."""
    from distill_fakes import STATE, tiny_policy

    from habitat_llm4teach.distill.storage import L4TRolloutStorage
    from habitat_llm4teach.keys import TEACHER_GUIDED, TEACHER_PROBS

    num_envs, num_steps = 2, 3
    obs_space = spaces.Dict({
        STATE: spaces.Box(-np.inf, np.inf, (4,), np.float32),
        keys.MINIGRID_SYMBOLIC: spaces.Box(0, 255, (symbolic_size(5, 5),), np.uint8),
    })
    policy = tiny_policy()
    storage = L4TRolloutStorage(num_steps, num_envs, obs_space, spaces.Discrete(7), policy)
    guided_scene = torch.from_numpy(_symbolic_scene())
    # nothing perceived: the scripted planner has no plan for it
    empty_scene = torch.from_numpy(encode_symbolic(np.zeros((5, 5, 3)), np.zeros(6), "open the door"))

    class Envs:
        num_envs = 2

        def __init__(self):
            self.stepped = []

        def async_step_at(self, index, action):
            self.stepped.append(index)

    class Planner(ScriptedPlanner):
        def plan(self, query):  # the empty scene offers explore alone: no plan for it
            return super().plan(query) if len(query.candidates) > 1 else PlanDistribution(())

    trainer = object.__new__(L4TTrainer)
    trainer.envs = Envs()
    trainer._agent = SimpleNamespace(nbuffers=1, rollouts=storage, actor_critic=policy)
    trainer._env_spec = SimpleNamespace(action_space=spaces.Discrete(7))
    trainer._schedule, trainer.num_updates_done, trainer._teacher_retired = PaperSchedule(), 0, False
    trainer._rollout_threads = trainer._retired_rollout_threads = torch.get_num_threads()
    trainer._teacher = MiniGridTeacher(
        LocalPlanSource(Planner(PlanDistribution((Plan((SkillCall("pick up", "yellow key"),), 1.0),)))), "open the door",
    )
    for step in range(num_steps):
        # step t: env 0 sees the key scene on even steps, env 1 on odd steps
        symbolic = torch.stack([guided_scene, empty_scene] if step % 2 == 0 else [empty_scene, guided_scene])
        storage.buffers["observations"][keys.MINIGRID_SYMBOLIC][step] = symbolic
        trainer._compute_actions_and_step_envs()
        storage.advance_rollout()
    assert trainer.envs.stepped == [0, 1] * num_steps
    teacher_guided = storage.buffers[TEACHER_GUIDED][:num_steps, :, 0]  # [T, N]
    assert teacher_guided.tolist() == [[True, False], [False, True], [True, False]]
    teacher_probs = storage.buffers[TEACHER_PROBS][:num_steps]  # [T, N, A]
    assert torch.all(teacher_probs[~teacher_guided] == 1 / 7)
    assert torch.all(teacher_probs[teacher_guided].max(-1).values == 1.0)

    # A teacher whose server computes this rank's queries gets its cores during the student's act, and only then.
    threads = torch.get_num_threads()
    trainer._rollout_threads, trainer._retired_rollout_threads = 1, 2
    at_work = []
    trainer._teacher.llm_at_work = lambda: at_work[-1]
    acted_on = []
    storage.after_update()
    act = trainer._agent.actor_critic.act
    trainer._agent.actor_critic.act = lambda *args, **kwargs: acted_on.append(torch.get_num_threads()) or act(*args, **kwargs)
    try:
        for step, busy in enumerate((True, False, True)):
            at_work.append(busy)
            storage.buffers["observations"][keys.MINIGRID_SYMBOLIC][step] = torch.stack([guided_scene, empty_scene])
            trainer._compute_actions_and_step_envs()
            storage.advance_rollout()
        assert acted_on == [1, 2, 1]
    finally:
        trainer._agent.actor_critic.act = act
        del trainer._teacher.llm_at_work
        torch.set_num_threads(threads)
    storage.after_update()

    # Once lambda is 0 for good the teacher is not asked: every later step is unguided, and the rollouts take back
    # the threads they left a teacher server.
    trainer._schedule, trainer._teacher_retired = PaperSchedule(off_after=0), False
    threads = torch.get_num_threads()
    trainer._rollout_threads, trainer._retired_rollout_threads = 1, threads
    storage.buffers[TEACHER_GUIDED][:] = True
    storage.after_update()
    try:
        torch.set_num_threads(1)
        for step in range(num_steps):
            trainer._compute_actions_and_step_envs()
            storage.advance_rollout()
        assert torch.get_num_threads() == threads == trainer._rollout_threads
    finally:
        torch.set_num_threads(threads)
    assert not storage.buffers[TEACHER_GUIDED][:num_steps].any()


def test_minigrid_teacher_checks_the_env_before_loading_any_model():
    obs_space = spaces.Dict({keys.RGB: spaces.Box(0, 255, (8, 8, 3), np.uint8)})
    config = SimpleNamespace(model="/nonexistent/model", mission="open the door")
    with pytest.raises(ConfigError, match="env's action space is Discrete\\(4\\)"):
        MiniGridTeacher.from_config(config, obs_space, spaces.Discrete(4))
    with pytest.raises(ConfigError, match="'minigrid_symbolic' observation"):
        MiniGridTeacher.from_config(config, obs_space, spaces.Discrete(7))


# -- real trainings through the CLI (a few updates of 2 envs x 16 steps) -------------------------------


@pytest.fixture(scope="module")
def tiny_teacher_model(tiny_model_dir):
    return tiny_model_dir


def _args(run_dir, model_dir, *extra):
    return [
        CONFIG, f"llm4teach.run_dir={run_dir}", f"llm4teach.teacher.model={model_dir}", "llm4teach.teacher.dtype=float32",
        f"llm4teach.teacher.cache_path={run_dir / 'plans.json'}", "habitat_baselines.eval.video_option=[]",
        # The teacher server answers every step before the student's update, like the in-process teacher.
        "llm4teach.teacher.server.blocking=true", *TINY_TRAINING, *extra,
    ]


def _logged_updates(log_text: str) -> list[tuple[int, float]]:
    """(update, lambda) from train.log: the trainer's one progress line per log interval."""
    return [(int(line["update"]), line["lambda"]) for line in parse_progress_lines(log_text)]


@pytest.fixture(scope="module")
def distilled_run(tmp_path_factory, tiny_teacher_model):
    """3 updates (96 env steps), lambda switched off from update 2, one scheduled checkpoint, resume state each update."""
    run_dir = tmp_path_factory.mktemp("llm4teach_run")
    args = _args(
        run_dir, tiny_teacher_model, "habitat_baselines.total_num_steps=96", "habitat_baselines.num_checkpoints=1",
        "llm4teach.distill.off_after=2", "habitat_baselines.rl.preemption.save_resume_state_interval=1",
    )
    result = run_cli(args, timeout=600)
    assert result.returncode == 0, output_of(result)[-4000:]
    return run_dir, args, output_of(result)


def test_training_logs_distill_and_teacher_metrics_and_lambda_follows_the_schedule(distilled_run):
    run_dir, _, out = distilled_run
    scalars = tensorboard_scalars(run_dir)
    assert not [tag for tag, values in scalars.items() if any(math.isnan(v) for _, v in values)]  # skipped, not drawn
    for tag in ("learner/distill/lambda", "learner/distill/loss", "learner/distill/agreement",
                "learner/distill/guided_frac", PLAN_CACHE_HIT_RATE, GUIDED_FRAC):
        assert tag in scalars, sorted(scalars)
    schedule = PaperSchedule(off_after=2)
    assert [step for step, _ in scalars["learner/distill/lambda"]] == [32, 64, 96]
    assert [value for _, value in scalars["learner/distill/lambda"]] == pytest.approx([schedule.value(n) for n in range(3)])
    assert all(0 <= v <= 1 for _, v in scalars[GUIDED_FRAC])
    assert any(v > 0 for _, v in scalars["learner/distill/guided_frac"])
    assert any(v > 0 for _, v in scalars[PLAN_CACHE_HIT_RATE])  # repeated descriptions hit the cache
    log = (run_dir / "train.log").read_text()
    assert _logged_updates(log) == [(1, 10.0), (2, 9.995), (3, 0.0)]
    assert "Num updates" not in log and "Perf Stats" not in log  # habitat's text lines are replaced by ours
    assert out.count(GYM_NOTICE) <= 1  # not once per env worker
    assert (run_dir / "plans.json").is_file()


def test_checkpoints_hold_the_schedule_state_and_a_final_checkpoint_is_saved(distilled_run):
    run_dir, _, _ = distilled_run
    folder = run_dir / "checkpoints"
    assert sorted(p.name for p in folder.glob("ckpt.*.pth")) == ["ckpt.0.pth", "ckpt.1.pth"]  # scheduled + final
    final = load_checkpoint_file(folder / "ckpt.1.pth")
    assert final["extra_state"]["step"] == 96
    state = final["extra_state"][TRAINER_STATE_KEY]
    assert state["trainer"] == TRAINER_NAME
    assert state["schedule"] == {"name": "paper"}
    assert state["distill_coef"] == 0.0
    assert state["plan_cache_path"] == str((run_dir / "plans.json").resolve())
    assert load_checkpoint_file(folder / "latest.pth")["extra_state"]["step"] == 96
    resume = load_checkpoint_file(folder / ".habitat-resume-state.pth")
    assert resume["requeue_stats"]["num_updates_done"] == 2
    assert resume[TRAINER_STATE_KEY]["schedule"] == {"name": "paper"}


def test_resume_continues_lambda_and_the_step_count(distilled_run):
    run_dir, args, _ = distilled_run
    before = (run_dir / "train.log").read_text()
    result = run_cli(args, timeout=600)  # the resume state was saved before update 3: it is redone
    out = output_of(result)
    assert result.returncode == 0, out[-4000:]
    assert "Loading resume state" in out
    resumed = (run_dir / "train.log").read_text()[len(before):]
    assert _logged_updates(resumed) == [(3, 0.0)]  # update 3 with lambda(2) = 0, not a restart at lambda 10
    assert parse_progress_lines(resumed)[-1]["step"] == 96  # 64 steps restored + 32 new


def test_the_distilled_student_evaluates_like_any_habitat_checkpoint(distilled_run):
    run_dir, _, _ = distilled_run
    result = run_cli(
        [CONFIG, f"llm4teach.run_dir={run_dir}", "habitat_baselines.evaluate=True", "habitat_baselines.test_episode_count=1",
         "habitat_baselines.num_environments=1", "habitat_baselines.eval.video_option=[]"],
        timeout=300,
    )
    out = output_of(result)
    assert result.returncode == 0, out[-4000:]
    assert "Average episode success" in out


def test_a_resume_state_from_another_trainer_is_refused_and_nothing_is_overwritten(distilled_run, tmp_path):
    source_dir, _, _ = distilled_run
    foreign = load_checkpoint_file(source_dir / "checkpoints" / ".habitat-resume-state.pth")
    del foreign[TRAINER_STATE_KEY]
    with read_write(foreign["config"]):
        foreign["config"].habitat_baselines.trainer_name = "ppo"
    (tmp_path / "checkpoints").mkdir()
    resume_path = tmp_path / "checkpoints" / ".habitat-resume-state.pth"
    torch.save(foreign, resume_path)
    before = resume_path.read_bytes()

    result = run_cli(_args(tmp_path, "/nonexistent/model", "habitat_baselines.total_num_steps=96"), timeout=300)
    out = output_of(result)
    assert result.returncode != 0
    assert "written by trainer 'ppo', not 'llm4teach'" in out
    assert resume_path.read_bytes() == before
    assert sorted(os.listdir(tmp_path / "checkpoints")) == [".habitat-resume-state.pth"]
    assert not list((tmp_path / "tb").glob("events.*"))
    assert not (tmp_path / "train.log").exists()


def test_same_config_trains_as_dd_ppo_under_torchrun(tmp_path, tiny_teacher_model):
    result = run_cli(_args(tmp_path, tiny_teacher_model, "habitat_baselines.total_num_steps=128"), timeout=600, torchrun_procs=2)
    out = output_of(result)
    assert result.returncode == 0, out[-4000:]
    assert "Initialized DD-PPO with 2 workers" in out
    # DD-PPO may cut a straggler's rollout short (sync_frac), so step counts are not exact multiples.
    lambdas = tensorboard_scalars(tmp_path)["learner/distill/lambda"]
    assert [v for _, v in lambdas] == pytest.approx([10.0, 9.995])
    state = load_checkpoint_file(tmp_path / "checkpoints" / "latest.pth")["extra_state"]
    assert state["step"] == lambdas[-1][0] >= 128
    assert state[TRAINER_STATE_KEY]["schedule"] == {"name": "paper"}


def test_schedule_none_is_plain_ppo_without_a_teacher_and_stop_at_success_ends_training(tmp_path):
    """No LLM is loaded (the model path does not exist), episodes are logged, and training stops at the threshold."""
    args = [
        CONFIG, f"llm4teach.run_dir={tmp_path}", "llm4teach.teacher.model=/nonexistent/model",
        "habitat_baselines.eval.video_option=[]", *TINY_TRAINING, "habitat_baselines.total_num_steps=4000",
        "habitat_baselines.vector_env_factory.max_steps=2", "llm4teach.distill.schedule=none",
        "llm4teach.stop_at_success=0.0",
    ]
    result = run_cli(args, timeout=600)
    out = output_of(result)
    assert result.returncode == 0, out[-4000:]
    assert "plain PPO, no teacher" in out
    stopped_at = re.findall(r"stop_at_success=0\.0: stopping at (\d+) steps", out)
    assert len(stopped_at) == 1, out[-4000:]
    episodes = load_episodes(str(tmp_path))
    assert len(episodes.step) >= 100 and episodes.step[-1] < 4000
    final = max((tmp_path / "checkpoints").glob("ckpt.*.pth"), key=lambda p: int(p.name.split(".")[1]))
    # The step logged at the stop is habitat's count of the steps trained (the final checkpoint's), which
    # includes the last rollout: no episode ends after it.
    final_step = load_checkpoint_file(final)["extra_state"]["step"]
    assert int(stopped_at[0]) == final_step < 4000
    assert episodes.step[-1] <= final_step


def test_a_finished_run_trains_on_to_a_larger_budget_from_its_resume_state(tmp_path):
    """extend_resume_state: 3 updates of 32 steps, then on to 6. The resume state is from before the last update, so
    the updates after it run again: their episode rows are dropped, not logged twice."""
    args = [
        CONFIG, f"llm4teach.run_dir={tmp_path}", "llm4teach.teacher.model=/nonexistent/model",
        "habitat_baselines.eval.video_option=[]", *TINY_TRAINING, "habitat_baselines.vector_env_factory.max_steps=2",
        "llm4teach.distill.schedule=none", "habitat_baselines.num_checkpoints=3",
        "habitat_baselines.rl.preemption.save_resume_state_interval=2",
    ]
    first = run_cli([*args, "habitat_baselines.total_num_steps=96"], timeout=600)
    assert first.returncode == 0, output_of(first)[-4000:]
    resume_path = tmp_path / "checkpoints" / ".habitat-resume-state.pth"
    resume_step = load_checkpoint_file(resume_path)["requeue_stats"]["num_steps_done"]
    assert 0 < resume_step < 96  # habitat saves it every 2 updates, before the update runs
    assert load_episodes(str(tmp_path)).step[-1] == 96
    with pytest.raises(CheckpointError, match="already has 96"):
        extend_resume_state(resume_path, 64)

    assert extend_resume_state(resume_path, 192) == 96
    extended = load_checkpoint_file(resume_path)
    assert extended["config"].habitat_baselines.total_num_steps == 192
    second = run_cli([*args, "habitat_baselines.total_num_steps=96"], timeout=600)  # the resume state's config wins
    out = output_of(second)
    assert second.returncode == 0, out[-4000:]
    assert f"after the resume state's step {resume_step}" in out
    steps = load_episodes(str(tmp_path)).step
    raw = [int(line.split(",")[0]) for line in (tmp_path / "episodes.rank0.csv").read_text().splitlines()[1:]]
    assert raw == sorted(raw) and raw[-1] == steps[-1] == 192  # one pass over steps 1..192, in order
    assert load_checkpoint_file(tmp_path / "checkpoints" / "latest.pth")["extra_state"]["step"] == 192


def test_a_budget_that_shapes_training_cannot_be_extended(tmp_path, composed):
    config = composed("minigrid/ppo", ["habitat_baselines.rl.ppo.use_linear_lr_decay=True"])
    path = tmp_path / "resume.pth"
    torch.save({"config": config, "requeue_stats": {"_last_checkpoint_percent": 0.5}}, path)
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match="decays over the budget"):
        extend_resume_state(path, 10**6)
    assert path.read_bytes() == before
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="not a habitat-baselines resume state"):
        extend_resume_state(path, 10**6)
