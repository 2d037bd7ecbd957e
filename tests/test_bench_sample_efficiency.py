"""scripts/bench_sample_efficiency.py: the level rule, steps to it from each run's episodes, the PPO ratio and its
lower bound, the issue's targets, resuming from records, and --report-only on a folder with nothing run."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from helpers import REPO

sys.path.insert(0, str(REPO / "scripts"))
import bench_sample_efficiency as bench  # noqa: E402


def _args(tmp_path, **kw):
    values = dict(seeds=[1, 2], budget=1000, ppo_factor=5.0, eval_episodes=10, results=tmp_path, student="resnet18_64",
                  teacher_kind=bench.DEFAULT_TEACHER_KIND, sharpen_temperature=bench.DEFAULT_SHARPEN, arms="both", schedule="adaptive", margin=-0.05, fade_updates=50, overrides=[])
    values.update(kw)
    return argparse.Namespace(**values)


def _run(folder, successes, steps_per_episode=10):
    """A run folder with one finished episode per ``steps_per_episode`` steps and a training record."""
    folder.mkdir(parents=True)
    rows = [f"{(i + 1) * steps_per_episode},{s},{0.5 * s}" for i, s in enumerate(successes)]
    (folder / "episodes.rank0.csv").write_text("step,success,reward\n" + "\n".join(rows) + "\n")
    return {"run_dir": str(folder), "steps": len(successes) * steps_per_episode, "final_success": 0.0,
            "final_return": 0.0, "fps": 100.0}


def test_the_level_is_ninety_percent_or_a_weaker_teachers_own_success():
    assert bench.level_for(1.0) == 0.9
    assert bench.level_for(0.92) == 0.9
    assert bench.level_for(0.85) == 0.85


def test_report_times_both_arms_to_the_teachers_level_and_bounds_the_ratio_when_ppo_stops_short(tmp_path):
    task = bench.TaskBench("TwoDoor", _args(tmp_path), {})
    task.teacher_eval = {"success": 0.85, "return": 0.4}
    # LLM4Teach: 100 failures then successes; the 100-episode window reaches 0.85 at episode 185 (step 1850).
    task.llm4teach = [_run(tmp_path / f"l{seed}", [0] * 100 + [1] * 200) for seed in (1, 2)]
    task.student_evals = [{"success": 0.95, "return": 0.5}, {"success": 0.87, "return": 0.45}]
    # PPO seed 1 reaches 0.85 at step 10,850 (episode 1,085), seed 2 never does in its 20,000 steps.
    task.ppo = [_run(tmp_path / "p1", [0] * 1000 + [1] * 1000, 10), _run(tmp_path / "p2", [0] * 2000, 10)]
    report = task.report()
    assert report["level"] == 0.85 and report["level_is"] == "teacher"
    assert report["llm4teach_steps_to_level_per_seed"] == [1850, 1850]
    assert report["ppo_steps_to_level_per_seed"] == [10850, None]
    assert report["ratio"] == pytest.approx((10850 + 20000) / 2 / 1850)
    assert report["ratio_is_lower_bound"] is True and report["ratio_is_upper_bound"] is False
    assert report["llm4teach_seeds_at_level"] == 2
    assert report["llm4teach_eval_success"] == pytest.approx(0.91)
    assert report["targets"] == {"ratio_ge_5": True, "student_ge_teacher": True, "student_ge_teacher_plus_5": True}
    assert report["complete"] is True


def test_a_ppo_seed_that_stopped_short_counts_at_the_steps_habitat_trained_not_its_last_episodes_end(tmp_path):
    """PPO trains its budget rounded up to whole rollouts, and its last episode ends before that: the lower bound
    is the steps trained (a 5x budget must give ratio >= 5), with the last episode's end only for old records."""
    task = bench.TaskBench("SimpleDoorKey", _args(tmp_path, seeds=[1]), {})
    task.teacher_eval = {"success": 1.0, "return": 0.8}
    task.llm4teach = [_run(tmp_path / "l1", [0] * 100 + [1] * 200)]  # 90 % at episode 190: step 1900
    task.student_evals = [{"success": 1.0, "return": 0.8}]
    ppo = _run(tmp_path / "p1", [0] * 949, 10)  # last episode ends at 9490, short of 5 x 1900 = 9500
    task.ppo = [{**ppo, "steps_trained": 9728}]  # 19 rollouts of 512
    report = task.report()
    assert report["ratio"] == pytest.approx(9728 / 1900) and report["ratio"] >= 5.0
    assert report["ratio_is_lower_bound"] is True and report["targets"]["ratio_ge_5"] is True
    task.ppo = [ppo]  # a record from before steps_trained was kept
    assert task.report()["ratio"] == pytest.approx(9490 / 1900)


def test_targets_a_student_below_its_teacher_and_no_plus_five_rule_for_a_strong_teacher(tmp_path):
    task = bench.TaskBench("ColoredDoorKey", _args(tmp_path, seeds=[1], arms="llm4teach"), {})
    task.teacher_eval = {"success": 0.95, "return": 0.8}
    task.llm4teach = [_run(tmp_path / "l1", [1] * 150)]
    task.student_evals = [{"success": 0.94, "return": 0.7}]
    report = task.report()
    assert report["level"] == 0.9 and report["level_is"] == "90%"
    assert report["targets"] == {"ratio_ge_5": None, "student_ge_teacher": False, "student_ge_teacher_plus_5": None}
    assert report["ratio"] is None and report["ratio_is_lower_bound"] is None
    assert report["complete"] is True  # LLM4Teach arm only


def test_the_adaptive_schedule_is_handed_the_teachers_measured_success(tmp_path):
    task = bench.TaskBench("LavaDoorKey", _args(tmp_path), {})
    task.teacher_eval = {"success": 0.92, "return": 0.8}
    assert task.schedule_overrides() == [
        "llm4teach.distill.schedule=adaptive", "llm4teach.distill.teacher_success=0.92",
        "llm4teach.distill.margin=-0.05", "llm4teach.distill.fade_updates=50",
    ]
    assert bench.TaskBench("LavaDoorKey", _args(tmp_path, schedule="paper"), {}).schedule_overrides() == []


def test_a_record_is_reused_only_with_the_same_settings(tmp_path, capsys):
    record_path = tmp_path / "bench_record.json"
    record_path.write_text(json.dumps({"seed": 1, "budget": 1000, "overrides": ["a=1"], "final_success": 0.5}))
    assert bench.finished(record_path, {"seed": 1, "budget": 1000, "overrides": ["a=1"]}, "run")["final_success"] == 0.5
    assert bench.finished(record_path, {"seed": 1, "budget": 2000, "overrides": ["a=1"]}, "run") is None
    assert bench.finished(record_path, {"seed": 1, "budget": 1000, "overrides": ["a=2"]}, "run") is None
    # report_only never starts a run: no record, no run.
    assert bench.train("minigrid/llm4teach", tmp_path / "new", 1, 1000, [], None, "run", report_only=True) is None
    assert not (tmp_path / "new").exists()


def test_report_only_on_an_empty_folder_runs_nothing_and_reports_every_task_incomplete(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_sample_efficiency.py"), "--report-only", "--results", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(summary["tasks"]) == bench.TASKS
    assert all(not task["complete"] and task["teacher_success"] is None for task in summary["tasks"].values())
    assert json.loads((tmp_path / "sample_efficiency.json").read_text())["schedule"] == "adaptive"


def test_a_run_keeps_its_whole_output_and_echoes_its_progress_lines(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "PROGRESS_EVERY_S", 0.0)
    script = "print('loading'); print('2026-01-01 12:00:00,000 update 5  step 2560  fps 65.5  success 0.00'); raise SystemExit(3)"
    returncode, out = bench.run_logged([sys.executable, "-c", script], tmp_path / "out.txt", "run")
    assert returncode == 3
    assert out == (tmp_path / "out.txt").read_text() and out.startswith("loading\n")
    echoed = capsys.readouterr().out.splitlines()
    assert echoed[-1] == "  [run] update 5  step 2560  fps 65.5  success 0.00"
    assert "loading" not in echoed  # only progress lines (and the command) are echoed


def _fake_run(monkeypatch, steps_done, successes):
    """run_logged stand-in: the run folder a training exiting 0 after ``steps_done`` env steps leaves."""
    import torch

    def fake(cmd, log_path, label):
        run_dir = log_path.parent
        _run(run_dir / "tmp", successes)
        (run_dir / "tmp" / "episodes.rank0.csv").rename(run_dir / "episodes.rank0.csv")
        (run_dir / "checkpoints").mkdir(exist_ok=True)
        torch.save({"extra_state": {"step": steps_done}}, run_dir / "checkpoints" / "latest.pth")
        return 0, ""

    monkeypatch.setattr(bench, "run_logged", fake)


def test_a_run_stopped_part_way_is_not_recorded_as_finished(tmp_path, monkeypatch):
    _fake_run(monkeypatch, steps_done=500, successes=[0] * 50)
    with pytest.raises(SystemExit, match="stopped before its 1000 env steps .interrupted.; last checkpoint at 500"):
        bench.train("minigrid/llm4teach", tmp_path / "run", 1, 1000, [], None, "run", report_only=False)
    assert not (tmp_path / "run" / "bench_record.json").exists()


def test_a_ppo_run_that_reached_its_stop_level_early_is_finished(tmp_path, monkeypatch):
    _fake_run(monkeypatch, steps_done=1500, successes=[1] * 150)
    record = bench.train("minigrid/llm4teach", tmp_path / "run", 1, 5000, [], None, "run", report_only=False, stop_at=0.9)
    assert record["steps_to_90"] == 1000 and (tmp_path / "run" / "bench_record.json").exists()


def test_a_record_keeps_the_steps_habitat_trained_and_an_old_one_gains_them_from_its_checkpoint(tmp_path, monkeypatch, capsys):
    _fake_run(monkeypatch, steps_done=1024, successes=[0] * 99)
    record = bench.train("minigrid/llm4teach", tmp_path / "run", 1, 1000, [], None, "run", report_only=False)
    assert record["steps_trained"] == 1024 and record["steps"] == 990
    record_path = tmp_path / "run" / "bench_record.json"
    old = {k: v for k, v in json.loads(record_path.read_text()).items() if k != "steps_trained"}
    record_path.write_text(json.dumps(old))
    reused = bench.train("minigrid/llm4teach", tmp_path / "run", 1, 1000, [], None, "run", report_only=True)
    assert reused["steps_trained"] == 1024 and json.loads(record_path.read_text())["steps_trained"] == 1024
    assert "steps_trained 1024 added from" in capsys.readouterr().out


def test_a_run_made_with_a_smaller_budget_trains_on_from_its_resume_state(tmp_path, monkeypatch, composed, capsys):
    import torch

    from habitat_llm4teach.checkpoints import load_checkpoint_file

    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    old = {"seed": 1, "budget": 1000, "overrides": ["a=1"]}
    (run_dir / "bench_started.json").write_text(json.dumps(old))
    (run_dir / "bench_record.json").write_text(json.dumps({**old, "final_success": 0.2}))
    config = composed("minigrid/llm4teach", ["habitat_baselines.total_num_steps=1000"])
    resume = run_dir / "checkpoints" / ".habitat-resume-state.pth"
    torch.save({"config": config, "requeue_stats": {"_last_checkpoint_percent": 0.5}}, resume)
    _fake_run(monkeypatch, steps_done=2000, successes=[1] * 150)
    record = bench.train("minigrid/llm4teach", run_dir, 1, 2000, ["a=1"], None, "run", report_only=False)
    assert "training on the run in" in capsys.readouterr().out
    assert record["budget"] == 2000 and json.loads((run_dir / "bench_started.json").read_text())["budget"] == 2000
    state = load_checkpoint_file(resume)
    assert state["config"].habitat_baselines.total_num_steps == 2000
    assert state["requeue_stats"]["_last_checkpoint_percent"] == 0.25  # the same steps between checkpoints
    # Other settings, or a smaller budget, are not trained on.
    assert not bench.extendable(old, {"seed": 1, "budget": 2000, "overrides": ["a=2"]})
    assert not bench.extendable({**old, "budget": 3000}, {**old, "budget": 2000})


def test_an_unfinished_run_asked_for_with_a_smaller_budget_is_kept_not_cleared(tmp_path, monkeypatch):
    # PPO's budget is a mean over the seeds asked for: `--seeds 2` alone gives seed 2 another budget than
    # `--seeds 1 2 3` did, and must not throw away the steps that run already trained.
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    started = {"seed": 2, "budget": 456586, "overrides": ["a=1"]}
    (run_dir / "bench_started.json").write_text(json.dumps(started))
    (run_dir / "checkpoints" / ".habitat-resume-state.pth").write_bytes(b"resume state")
    _fake_run(monkeypatch, steps_done=435920, successes=[0] * 150)
    with pytest.raises(SystemExit, match=r"started with a budget of 456586 env steps, now 435920.*--seeds 1 2 3"):
        bench.train("minigrid/llm4teach", run_dir, 2, 435920, ["a=1"], None, "PPO seed 2", report_only=False)
    assert (run_dir / "checkpoints" / ".habitat-resume-state.pth").read_bytes() == b"resume state"
    assert json.loads((run_dir / "bench_started.json").read_text()) == started
    # Other overrides are other settings: that run is cleared and started over.
    (run_dir / "checkpoints" / ".habitat-resume-state.pth").write_bytes(b"resume state")
    _fake_run(monkeypatch, steps_done=1000, successes=[0] * 150)
    bench.train("minigrid/llm4teach", run_dir, 2, 1000, ["a=2"], None, "PPO seed 2", report_only=False)
    assert not (run_dir / "checkpoints" / ".habitat-resume-state.pth").exists()


def test_a_finished_run_made_with_other_settings_is_kept_not_cleared(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    made = {"seed": 1, "budget": 1000, "overrides": ["minigrid/student=resnet18_64"]}
    (run_dir / "bench_started.json").write_text(json.dumps(made))
    (run_dir / "bench_record.json").write_text(json.dumps({**made, "final_success": 0.9}))
    _fake_run(monkeypatch, steps_done=1000, successes=[1] * 150)
    with pytest.raises(SystemExit, match="holds a finished run made with other settings.*it is kept"):
        bench.train("minigrid/llm4teach", run_dir, 1, 1000, ["minigrid/student=resnet18_64_pointwise"], None, "run",
                    report_only=False)
    assert json.loads((run_dir / "bench_record.json").read_text())["final_success"] == 0.9


def test_each_student_has_its_results_folder_and_the_default_is_the_configs():
    from omegaconf import OmegaConf

    assert bench.RESULTS["resnet18_64"] == "sample_efficiency"  # where the records made with it are
    assert len(set(bench.RESULTS.values())) == len(bench.RESULTS)
    defaults = OmegaConf.to_container(OmegaConf.load(REPO / "configs" / "habitat" / "minigrid" / "_base.yaml").defaults)
    assert {"/minigrid/student": bench.DEFAULT_STUDENT} in defaults
    assert bench.DEFAULT_STUDENT == "resnet18_64_pointwise"  # the configs' choice since 2026-12-06
    for student in bench.RESULTS:
        assert (REPO / "configs" / "habitat" / "minigrid" / "student" / f"{student}.yaml").exists()


def test_a_students_evaluation_is_tied_to_the_budget_its_checkpoint_was_trained_to(tmp_path, capsys):
    record = {"config": "c", "episodes": 10, "overrides": [], "trained_steps": 1000, "success": 0.5, "return": 0.1,
              "evaluator": bench.EQUAL_QUOTAS}
    (tmp_path / "bench_eval.json").write_text(json.dumps(record))
    assert bench.evaluate("c", 10, tmp_path, [], "eval", None, report_only=True, trained_steps=1000)["success"] == 0.5
    assert bench.evaluate("c", 10, tmp_path, [], "eval", None, report_only=True, trained_steps=2000) is None


def test_an_evaluation_from_before_equal_quotas_is_kept_and_named_for_what_it_is(tmp_path, capsys):
    # Before equal quotas habitat's evaluator counted the first episodes to end. Such a record stays (a teacher's sets
    # the level and schedule of the runs made with it), flagged, so the report says which evaluator made each figure.
    record = {"config": "c", "episodes": 10, "overrides": [], "trained_steps": 1000, "success": 0.5, "return": 0.1}
    (tmp_path / "bench_eval.json").write_text(json.dumps(record))
    kept = bench.evaluate("c", 10, tmp_path, [], "eval", None, report_only=True, trained_steps=1000)
    assert kept["evaluator"] == bench.FIRST_TO_END and kept["success"] == 0.5
    assert "evaluated by habitat's first 10 episodes to end" in capsys.readouterr().out
    assert bench.evaluate("c", 10, tmp_path, [], "eval", None, report_only=True, trained_steps=2000) is None
    (tmp_path / "bench_eval.json").write_text(json.dumps({**record, "evaluator": "another"}))
    assert bench.evaluate("c", 10, tmp_path, [], "eval", None, report_only=True, trained_steps=1000) is None


def test_recheck_evaluates_again_with_equal_quotas_what_has_a_checkpoint_and_reports_it(tmp_path, monkeypatch):
    task = bench.TaskBench("LavaDoorKey", _args(tmp_path), {})
    task.teacher_eval = {"success": 0.85, "return": 0.7, "evaluator": bench.FIRST_TO_END}
    kept, redone = _run(tmp_path / "s1", [1] * 5), _run(tmp_path / "s2", [1] * 5)
    task.llm4teach = [{**kept, "seed": 1, "budget": 1000}, {**redone, "seed": 2, "budget": 1000}]
    task.student_evals = [{"success": 0.94, "return": 0.6, "evaluator": bench.FIRST_TO_END}] * 2
    (tmp_path / "s2" / "checkpoints").mkdir()
    (tmp_path / "s2" / "checkpoints" / "latest.pth").write_bytes(b"weights")  # only seed 2's checkpoint is here
    made = []

    def fake(config, episodes, run_dir, extra, label, teacher, report_only, trained_steps=None, record_name=""):
        assert record_name == bench.RECHECK
        made.append((run_dir.name, report_only))
        return None if report_only else {"success": 0.81 if trained_steps is None else 0.86, "return": 0.5}

    monkeypatch.setattr(bench, "evaluate", fake)
    task.recheck_evals(run=True)
    assert made == [("teacher_only", False), ("s1", True), ("s2", False)]
    report = task.report()
    assert report["teacher_success"] == 0.85 and report["teacher_success_equal_quotas"] == 0.81
    assert report["llm4teach_eval_success_equal_quotas_per_seed"] == [None, 0.86]


def test_each_task_has_its_budget_unless_one_is_given(tmp_path):
    assert bench.TaskBench("TwoDoor", _args(tmp_path, budget=None), {}).budget == 1_000_000
    assert bench.TaskBench("SimpleDoorKey", _args(tmp_path, budget=None), {}).budget == 300_000
    assert bench.TaskBench("TwoDoor", _args(tmp_path, budget=5000), {}).budget == 5000


def test_a_students_evaluation_builds_the_network_the_command_line_trained(tmp_path, monkeypatch):
    network, training_only = "habitat_baselines.rl.ddppo.rnn_type=GRU", "habitat_baselines.num_environments=8"
    task = bench.TaskBench("SimpleDoorKey", _args(tmp_path, schedule="paper", seeds=[1], overrides=[network, training_only]), {})
    trained, evaluated = [], []

    def fake_train(config, run_dir, seed, budget, extra, *args, **kwargs):
        trained.append(list(extra))
        return {"run_dir": str(run_dir), "seed": seed, "budget": budget}

    def fake_evaluate(config, episodes, run_dir, extra, *args, **kwargs):
        evaluated.append((run_dir.name, list(extra)))
        return {"success": 1.0, "return": 0.8, "evaluator": bench.EQUAL_QUOTAS}

    monkeypatch.setattr(bench, "train", fake_train)
    monkeypatch.setattr(bench, "evaluate", fake_evaluate)
    task.run_llm4teach(report_only=False)
    assert network in trained[0] and training_only in trained[0]
    (teacher, teacher_extra), (student, student_extra) = evaluated
    assert teacher == "teacher_only" and network not in teacher_extra  # the teacher alone has no student network
    assert student == "llm4teach_seed1"
    assert student_extra == [*task.groups, *task.teacher_kind, network, f"llm4teach.run_dir={tmp_path / 'simpledoorkey' / 'llm4teach_seed1'}"]


def test_an_llm4teach_seed_that_stopped_short_counts_at_its_budget_and_bounds_the_ratio_from_above(tmp_path, monkeypatch):
    task = bench.TaskBench("SimpleDoorKey", _args(tmp_path), {})
    task.teacher_eval = {"success": 1.0, "return": 0.8}
    # LLM4Teach seed 1 reaches 90 % at step 1,900; seed 2 never does in its 3,000 steps.
    task.llm4teach = [_run(tmp_path / "l1", [0] * 100 + [1] * 200), {**_run(tmp_path / "l2", [0] * 300), "steps_trained": 3008}]
    task.student_evals = [{"success": 0.95, "return": 0.5}, {"success": 0.4, "return": 0.2}]

    def ppo_reaching_at(*steps):
        return [_run(tmp_path / f"p{i}_{s}", [0] * (s // 10 - 90) + [1] * 90) for i, s in enumerate(steps)]

    task.ppo = ppo_reaching_at(10_000, 12_000)  # both PPO seeds reach 90 %
    report = task.report()
    assert report["llm4teach_steps_to_level_per_seed"] == [1900, None] and report["llm4teach_seeds_at_level"] == 1
    assert report["llm4teach_steps_to_level"] == 1900  # the seeds that got there
    assert report["ratio"] == pytest.approx(11_000 / ((1900 + 3008) / 2))  # seed 2 at the steps it trained
    assert report["ratio_is_upper_bound"] is True and report["ratio_is_lower_bound"] is False
    assert report["targets"]["ratio_ge_5"] is False  # an upper bound below 5
    task.ppo = ppo_reaching_at(20_000, 30_000)
    assert task.report()["ratio"] >= 5 and task.report()["targets"]["ratio_ge_5"] is None  # at or above: unknown
    # The PPO budget: 5 x the mean with seed 2 at its budget, not 5 x the one seed that got there.
    task.ppo, budgets = [], []
    monkeypatch.setattr(bench, "train", lambda *args, **kwargs: budgets.append(args[3]))
    task.run_ppo(report_only=True)
    assert task.ppo_budget == int(5.0 * (1900 + 3008) / 2) and budgets == [task.ppo_budget] * 2


def test_the_keys_a_students_evaluation_drops_from_the_command_line_are_those_every_evaluation_sets(tmp_path, monkeypatch):
    commands = []

    def fake_run(cmd, output, label):
        commands.append(cmd)
        return 0, "Average episode success: 1.0\nAverage episode reward: 0.5\n"

    monkeypatch.setattr(bench, "run_logged", fake_run)
    bench.evaluate("minigrid/teacher", 100, tmp_path, [f"llm4teach.run_dir={tmp_path}"], "teacher", None, False)
    (cmd,) = commands
    keys_set = {arg.split("=", 1)[0] for arg in cmd[3:]}  # after the interpreter, -m and the module
    assert keys_set == {*bench.EVALUATION_KEYS, "--config-name"}
    # Every evaluation offers the same envs whatever the training used; the factory picks its equal quotas.
    assert "habitat_baselines.num_environments=16" in cmd
    # A student trained on 4 envs is still evaluated with the same offer: the training's count is dropped.
    task = bench.TaskBench("SimpleDoorKey", _args(tmp_path, overrides=["habitat_baselines.num_environments=4"]), {})
    (tmp_path / "student").mkdir()
    bench.evaluate("minigrid/llm4teach", 100, tmp_path / "student", task.student_eval_overrides(tmp_path / "student"),
                   "student", None, False)
    assert [arg for arg in commands[1] if arg.startswith(bench.NUM_ENVS_KEY)] == ["habitat_baselines.num_environments=16"]


def test_with_no_llm4teach_seed_at_the_level_the_ratio_is_an_upper_bound_from_the_steps_trained(tmp_path):
    task = bench.TaskBench("TwoDoor", _args(tmp_path), {})
    task.teacher_eval = {"success": 0.8, "return": 0.37}
    task.llm4teach = [{**_run(tmp_path / f"l{seed}", [0] * 300), "steps_trained": 3008} for seed in (1, 2)]
    task.student_evals = [{"success": 0.5, "return": 0.2}] * 2
    task.ppo = [{**_run(tmp_path / f"p{seed}", [0] * 1500), "steps_trained": 15_040} for seed in (1, 2)]
    report = task.report()
    assert report["llm4teach_seeds_at_level"] == 0 and report["llm4teach_steps_to_level"] is None
    assert report["ratio"] == pytest.approx(15_040 / 3008)
    assert report["ratio_is_upper_bound"] is True and report["ratio_is_lower_bound"] is True
    assert report["targets"]["ratio_ge_5"] is None  # bounded from both sides: proves nothing


def _report_only(tmp_path, *argv):
    assert bench.main(["--report-only", "--results", str(tmp_path), *argv]) == 0
    return json.loads((tmp_path / "sample_efficiency.json").read_text())


def test_a_call_on_some_tasks_keeps_the_other_tasks_of_the_folders_report_with_their_own_seeds(tmp_path):
    first = _report_only(tmp_path, "--tasks", "SimpleDoorKey", "LavaDoorKey", "--seeds", "2", "--budget", "5000",
                         "habitat_baselines.num_environments=8")
    assert list(first["tasks"]) == ["SimpleDoorKey", "LavaDoorKey"]
    second = _report_only(tmp_path, "--tasks", "TwoDoor", "LavaDoorKey", "--seeds", "1", "3")
    assert list(second["tasks"]) == ["SimpleDoorKey", "LavaDoorKey", "TwoDoor"]  # the benchmark's task order
    kept, redone = second["tasks"]["SimpleDoorKey"], second["tasks"]["LavaDoorKey"]
    assert kept["seeds"] == [2] and kept["budget"] == 5000 and kept["overrides"] == ["habitat_baselines.num_environments=8"]
    assert redone["seeds"] == [1, 3] and redone["budget"] == bench.BUDGETS["LavaDoorKey"] and redone["overrides"] == []
    assert second["budget"] == {"SimpleDoorKey": 5000, "LavaDoorKey": bench.BUDGETS["LavaDoorKey"],
                                "TwoDoor": bench.BUDGETS["TwoDoor"]}
    # A call with other shared settings (here the schedule) replaces the report instead of mixing into it.
    third = _report_only(tmp_path, "--tasks", "TwoDoor", "--schedule", "paper")
    assert list(third["tasks"]) == ["TwoDoor"]
    (tmp_path / "sample_efficiency.json").write_text("{not json")
    assert list(_report_only(tmp_path, "--tasks", "ColoredDoorKey")["tasks"]) == ["ColoredDoorKey"]


def test_another_teacher_kind_reaches_every_command_and_names_its_prompt_in_the_records(tmp_path, monkeypatch):
    assert bench.DEFAULT_TEACHER_KIND == "minigrid"  # configs/habitat/minigrid/llm4teach.yaml's choice
    task = bench.TaskBench("SimpleDoorKey", _args(tmp_path, schedule="paper", seeds=[1], teacher_kind="minigrid_facts"), {})
    commands, train, evaluate = [], bench.train, bench.evaluate
    monkeypatch.setattr(bench, "train", lambda config, run_dir, seed, budget, extra, *a, **k: (
        commands.append(("train", list(extra))) or {"run_dir": str(run_dir), "seed": seed, "budget": budget}))
    monkeypatch.setattr(bench, "evaluate", lambda config, episodes, run_dir, extra, *a, **k: (
        commands.append((run_dir.name, list(extra))) or {"success": 1.0, "return": 0.8, "evaluator": bench.EQUAL_QUOTAS}))
    task.run_llm4teach(report_only=False)
    (_, teacher_alone), (_, trained), (_, student) = commands
    assert "llm4teach.teacher.env=minigrid_facts" in teacher_alone
    assert "llm4teach/teacher_kind=minigrid_facts" in trained and "llm4teach/teacher_kind=minigrid_facts" in student
    monkeypatch.setattr(bench, "train", train)
    monkeypatch.setattr(bench, "evaluate", evaluate)
    # The prompt version every record must match, and the report's settings, follow the kind.
    from habitat_llm4teach.teacher.minigrid.prompts import FACTS_PROMPT_VERSION, PROMPT_VERSION

    identities = []
    init = bench.TaskBench.__init__
    monkeypatch.setattr(bench.TaskBench, "__init__", lambda self, name, args, identity: (
        identities.append(identity), init(self, name, args, identity))[1])
    report = _report_only(tmp_path, "--tasks", "SimpleDoorKey", "--teacher-kind", "minigrid_facts")
    assert report["teacher_kind"] == "minigrid_facts" and identities[-1]["teacher_prompt"] == FACTS_PROMPT_VERSION
    assert _report_only(tmp_path, "--tasks", "LavaDoorKey", "--teacher-kind", "minigrid")["teacher_kind"] == "minigrid"
    assert identities[-1]["teacher_prompt"] == PROMPT_VERSION
    # A report from before the option (no teacher_kind) was made with the minigrid kind (RECORDS_KIND): its tasks are kept.
    earlier = json.loads((tmp_path / "sample_efficiency.json").read_text())
    del earlier["teacher_kind"]
    (tmp_path / "sample_efficiency.json").write_text(json.dumps(earlier))
    assert list(_report_only(tmp_path, "--tasks", "TwoDoor", "--teacher-kind", "minigrid")["tasks"]) == ["LavaDoorKey", "TwoDoor"]
    assert list(_report_only(tmp_path, "--tasks", "TwoDoor", "--teacher-kind", "minigrid_facts")["tasks"]) == ["TwoDoor"]


def test_a_record_made_before_the_teacher_kind_was_named_matches_a_run_that_names_the_same_teacher(tmp_path, capsys):
    from habitat_llm4teach.teacher.minigrid.prompts import FACTS_PROMPT_VERSION, PROMPT_VERSION

    run_dir = tmp_path / "run"
    _run(run_dir, [1.0] * 10)
    old = {"seed": 1, "budget": 1000, "overrides": ["minigrid/task=simpledoorkey"], "teacher_prompt": PROMPT_VERSION}
    (run_dir / "bench_record.json").write_text(json.dumps({**old, "final_success": 1.0}))
    named = ["minigrid/task=simpledoorkey", "llm4teach/teacher_kind=minigrid"]
    teacher = {"teacher_prompt": PROMPT_VERSION}
    assert bench.train("minigrid/llm4teach", run_dir, 1, 1000, named, teacher, "run", report_only=True)["final_success"] == 1.0
    # The same overrides with another teacher's prompt version do not match: the record is kept, nothing is reused.
    other = {"teacher_prompt": FACTS_PROMPT_VERSION}
    assert bench.train("minigrid/llm4teach", run_dir, 1, 1000, named, other, "run", report_only=True) is None
    # A record that names its kind is returned as stored (train() may write it back), though compared without it.
    facts = ["minigrid/task=simpledoorkey", "llm4teach/teacher_kind=minigrid_facts"]
    (run_dir / "bench_record.json").write_text(json.dumps({**old, "overrides": facts, **other, "final_success": 0.9}))
    assert bench.train("minigrid/llm4teach", run_dir, 1, 1000, facts, other, "run", report_only=True)["overrides"] == facts
    # Choosing the teacher by a plain override would leave the records naming the default kind's prompt.
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_sample_efficiency.py"), "--report-only",
                             "--results", str(tmp_path), "llm4teach/teacher_kind=minigrid_facts"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "--teacher-kind" in result.stderr


def test_a_sharpen_temperature_reaches_every_teacher_command_and_records_before_it_were_at_one_half(tmp_path, monkeypatch):
    from habitat_llm4teach.teacher.minigrid.prompts import PROMPT_VERSION

    assert bench.DEFAULT_SHARPEN == bench.RECORDS_SHARPEN == 0.5  # the configs' llm4teach.teacher.sharpen_temperature
    task = bench.TaskBench("SimpleDoorKey", _args(tmp_path, schedule="paper", seeds=[1], sharpen_temperature=1.0), {})
    commands = []
    monkeypatch.setattr(bench, "train", lambda config, run_dir, seed, budget, extra, *a, **k: (
        commands.append(list(extra)) or {"run_dir": str(run_dir), "seed": seed, "budget": budget}))
    monkeypatch.setattr(bench, "evaluate", lambda config, episodes, run_dir, extra, *a, **k: (
        commands.append(list(extra)) or {"success": 1.0, "return": 0.8, "evaluator": bench.EQUAL_QUOTAS}))
    task.run_llm4teach(report_only=False)
    assert len(commands) == 3 and all("llm4teach.teacher.sharpen_temperature=1.0" in extra for extra in commands)
    monkeypatch.undo()
    # A record from before the option names no temperature: it was made at 0.5, so a run at 1.0 does not reuse it.
    run_dir = tmp_path / "run"
    _run(run_dir, [1.0] * 10)
    overrides = ["minigrid/task=simpledoorkey", "llm4teach/teacher_kind=minigrid"]
    old = {"seed": 1, "budget": 1000, "overrides": overrides, "teacher_prompt": PROMPT_VERSION}
    (run_dir / "bench_record.json").write_text(json.dumps({**old, "final_success": 1.0}))
    at = lambda t: {"teacher_prompt": PROMPT_VERSION, "teacher_sharpen_temperature": t}  # noqa: E731
    named = [*overrides, "llm4teach.teacher.sharpen_temperature=0.5"]
    assert bench.train("minigrid/llm4teach", run_dir, 1, 1000, named, at(0.5), "run", report_only=True)["final_success"] == 1.0
    softer = [*overrides, "llm4teach.teacher.sharpen_temperature=1.0"]
    assert bench.train("minigrid/llm4teach", run_dir, 1, 1000, softer, at(1.0), "run", report_only=True) is None
    # The report names its temperature, and one made at another temperature is replaced, not merged.
    assert _report_only(tmp_path, "--tasks", "LavaDoorKey")["sharpen_temperature"] == 0.5
    assert list(_report_only(tmp_path, "--tasks", "TwoDoor", "--sharpen-temperature", "1.0")["tasks"]) == ["TwoDoor"]
    for bad in (["--sharpen-temperature", "0"], ["llm4teach.teacher.sharpen_temperature=1.0"]):
        result = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_sample_efficiency.py"), "--report-only",
                                 "--results", str(tmp_path), *bad], capture_output=True, text=True)
        assert result.returncode != 0 and "--sharpen-temperature" in result.stderr
