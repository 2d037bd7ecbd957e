"""The pick/place teacher through a real teacher server process (tiny random LLM; observations from the shipped
scene file, no simulator): non-blocking masking, queries the server refuses, the server killed and restarted, and a
server that never answers. The same teacher in a real pick training on the simulator: tests/sim."""

from __future__ import annotations

import os
import signal

import numpy as np
import torch
from gym import spaces

from habitat_llm4teach import keys
from habitat_llm4teach.server import client as client_module
from habitat_llm4teach.server import protocol
from habitat_llm4teach.server.remote import ERRORS, RESTARTS, UP, RemotePlanSource, build_training_teacher
from habitat_llm4teach.teacher.guidance import GUIDED_FRAC, PLAN_CACHE_HIT_RATE
from habitat_llm4teach.teacher.rearrange.guidance import RearrangeTeacher
from habitat_llm4teach.teacher.rearrange.skills import ACTION_DIM
from habitat_llm4teach.teacher.types import PlanDistribution, PlanQuery, SkillCall
from helpers import pid_alive
from teacher.rearrange.test_guidance import _observations, _spaces
from test_client import pump_until, start_client, teacher_config


def rearrange_config(model, tmp_path, **server):
    config = teacher_config(model, tmp_path, **server)
    config.env = "rearrange"
    return config


def assert_unguided(fields: dict[str, torch.Tensor]) -> None:
    assert not fields[keys.TEACHER_GUIDED].any()
    assert not fields[keys.TEACHER_WEIGHTS].any() and not fields[keys.TEACHER_ACTIONS].any()


def test_non_blocking_steps_are_masked_until_the_answer_arrives_then_guided(tiny_model_dir, tmp_path):
    client = start_client(rearrange_config(tiny_model_dir, tmp_path), prompts="rearrange")
    teacher = RearrangeTeacher(RemotePlanSource(client))
    observations = _observations(2)
    try:
        first = teacher.guide_batch(observations)  # the server is still loading: masked, and no waiting
        assert_unguided(first)
        assert teacher.last_skills == ["", ""] and teacher.last_plans == ["", ""]
        pump_until(client, lambda: len(client.answers) == 1)  # both envs' same description: asked once
        later = teacher.guide_batch(observations)
        assert later[keys.TEACHER_GUIDED].all()
        assert later[keys.TEACHER_ACTIONS].shape == (2, keys.MAX_TEACHER_PLANS, ACTION_DIM)
        assert torch.allclose(later[keys.TEACHER_WEIGHTS].sum(-1), torch.ones(2))
        assert all(skill for skill in teacher.last_skills) and all(plan.endswith(")") for plan in teacher.last_plans)
        stats = teacher.pop_stats()
        assert stats[GUIDED_FRAC] == 0.5 and stats[PLAN_CACHE_HIT_RATE] == 0.5 and stats[UP] == 1.0
    finally:
        pid = client.process.pid
        teacher.close()
    assert not pid_alive(pid) and (tmp_path / "plans.json").is_file()


def test_queries_the_server_refuses_are_counted_unguided_and_not_asked_again(tiny_model_dir, tmp_path):
    client = start_client(rearrange_config(tiny_model_dir, tmp_path), prompts="rearrange")
    source = RemotePlanSource(client)
    # MiniGrid's skill names are not pick/place's: the env-agnostic server refuses them by the prompt set's vocabulary.
    alien = PlanQuery.make("Task: pick the apple.", [SkillCall("pick up", "apple")], {"pick up": ["apple"]})
    try:
        pump_until(client, lambda: client.ready)
        assert source.plans([alien]) == [None]
        pump_until(client, lambda: alien.description in client.answers)
        assert source.plans([alien]) == [PlanDistribution(())]  # no guidance, from the table: not sent again
        assert client.errors == {protocol.BAD_CANDIDATES: 1}
        assert source.pop_stats()[ERRORS] == 1 and source.pop_stats()[ERRORS] == 0  # counted once, shown once
    finally:
        source.close()


def test_a_killed_server_is_restarted_and_the_teacher_guides_again(tiny_model_dir, tmp_path):
    client = start_client(rearrange_config(tiny_model_dir, tmp_path, timeout_s=3.0), prompts="rearrange")
    teacher = RearrangeTeacher(RemotePlanSource(client))
    observations = _observations(1)
    try:
        teacher.guide_batch(observations)
        pump_until(client, lambda: len(client.answers) == 1)
        client.save()
        pump_until(client, lambda: (tmp_path / "plans.json").is_file(), 10)
        first_pid = client.process.pid
        os.kill(first_pid, signal.SIGKILL)
        client.answers.clear()  # as if this description were new: it must come from the restarted server
        assert_unguided(teacher.guide_batch(observations))  # the server is down: masked, training goes on
        pump_until(client, lambda: client.restarts == 1 and client.ready)
        assert not pid_alive(first_pid)
        teacher.guide_batch(observations)
        pump_until(client, lambda: len(client.answers) == 1)
        assert teacher.guide_batch(observations)[keys.TEACHER_GUIDED].all()
        assert next(iter(client.answers.values())).source == "cache"  # the new server loaded the persisted cache
        assert teacher.pop_stats()[RESTARTS] == 1
    finally:
        teacher.close()


def test_a_server_that_never_answers_leaves_pick_place_unguided_and_says_so(tmp_path, monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr(client_module.logger, "warning", warnings.append)
    config = rearrange_config(tmp_path / "no-such-model", tmp_path, max_restarts=0)
    observations = _observations(2)
    box = spaces.Box(-1, 1, (ACTION_DIM,), np.float32)
    teacher = build_training_teacher(config, _spaces(observations), box)  # the default: through the server
    assert isinstance(teacher, RearrangeTeacher) and isinstance(teacher.source, RemotePlanSource)
    client = teacher.source.client
    pump_until(client, lambda: client.gave_up, timeout_s=120)
    assert_unguided(teacher.guide_batch(observations))
    assert teacher.pop_stats()[GUIDED_FRAC] == 0.0
    teacher.close()
    assert any("training continues as plain PPO (no guidance)" in w for w in warnings), warnings
