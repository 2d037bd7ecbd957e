"""The trainer's client against real server processes (tiny random LLM): non-blocking and blocking guidance,
restart after a crash or a hang with the persisted cache reloaded, giving up, model mismatch, version mismatch,
no orphans; and the pick/place teacher through a real server (no simulator: observations from a scene file)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX
from omegaconf import OmegaConf

from habitat_llm4teach.config.structured import TeacherConfig
from habitat_llm4teach.envs.minigrid.symbolic import encode_symbolic
from habitat_llm4teach.server import client as client_module
from habitat_llm4teach.server.client import TeacherClient
from habitat_llm4teach.server.connection import free_loopback_address
from habitat_llm4teach.server.process import ServerProcess
from habitat_llm4teach.server.remote import DROPPED, ERRORS, RESTARTS, UP, RemotePlanSource
from habitat_llm4teach.teacher.guidance import GUIDED_FRAC, PLAN_CACHE_HIT_RATE
from habitat_llm4teach.teacher.llm import model_name
from habitat_llm4teach.teacher.minigrid.guidance import MiniGridTeacher
from habitat_llm4teach.teacher.minigrid.prompts import query_from_description
from helpers import pid_alive

NOTHING = "Agent sees <nothing>, holds <nothing>. Goal: open the door."
NOTHING_QUERY = query_from_description(NOTHING)


def symbolic_scene() -> np.ndarray:
    """5x5 room with a yellow key and a locked yellow door; the agent at (1, 1) facing east, hands empty."""
    grid = np.zeros((5, 5, 3), dtype=np.uint8)
    grid[:, :, 0] = OBJECT_TO_IDX["empty"]
    grid[[0, -1], :, 0] = grid[:, [0, -1], 0] = OBJECT_TO_IDX["wall"]
    grid[3, 1] = (OBJECT_TO_IDX["key"], COLOR_TO_IDX["yellow"], 0)
    grid[4, 2] = (OBJECT_TO_IDX["door"], COLOR_TO_IDX["yellow"], STATE_TO_IDX["locked"])
    return encode_symbolic(grid, np.array([1, 1, 0, 0, 0, 0]), "open the door")


def teacher_config(model, tmp_path, **server):
    config = OmegaConf.structured(TeacherConfig(model=str(model), dtype="float32", cache_path=str(tmp_path / "plans.json")))
    config.server.update({"timeout_s": 5.0, "heartbeat_s": 0.2, "ready_timeout_s": 120.0, "restart_backoff_s": 0.2, **server})
    return config


def start_client(config, prompts: str = "minigrid") -> TeacherClient:
    address = free_loopback_address()
    process = ServerProcess(address, OmegaConf.to_container(config))
    return TeacherClient(address, model_name(config.model), prompts, config.server, process)


def minigrid_teacher(client: TeacherClient, blocking: bool = False) -> MiniGridTeacher:
    return MiniGridTeacher(RemotePlanSource(client, blocking), "open the door")


def pump_until(client: TeacherClient, condition, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        client.pump(0.05)


def test_non_blocking_guidance_arrives_later_and_close_stops_the_server(tiny_model_dir, tmp_path):
    config = teacher_config(tiny_model_dir, tmp_path)
    client = start_client(config)
    teacher = minigrid_teacher(client)
    symbolic = torch.from_numpy(np.stack([symbolic_scene()] * 3))  # [N, S]
    teacher_probs, teacher_guided = teacher.guide(symbolic)  # the server is still loading: no answer yet, no waiting
    assert not teacher_guided.any() and torch.allclose(teacher_probs, torch.full((3, 7), 1 / 7))
    assert teacher.last_plans == [""] * 3 and teacher.last_skills == [""] * 3
    assert client.in_flight == 1 and teacher.llm_at_work()  # one description asked once for the 3 envs
    pump_until(client, lambda: len(client.answers) == 1)
    assert client.in_flight == 0 and not teacher.llm_at_work()  # answered: the server has nothing of ours to compute
    teacher_probs, teacher_guided = teacher.guide(symbolic)
    assert teacher_guided.all() and torch.allclose(teacher_probs.sum(-1), torch.ones(3))
    assert not teacher.llm_at_work()
    stats = teacher.pop_stats()
    # 6 lookups: the first 3 waited for the LLM (misses), the last 3 read the answer table (hits).
    assert stats[GUIDED_FRAC] == 0.5 and stats[PLAN_CACHE_HIT_RATE] == 0.5 and stats[UP] == 1.0
    assert stats[RESTARTS] == 0 and stats[DROPPED] == 0 and stats[ERRORS] == 0
    assert set(stats) == set(teacher.pop_stats())  # the same keys every time (DD-PPO reduces them as one vector)
    pid = client.process.pid
    teacher.close()
    assert not pid_alive(pid) and (tmp_path / "plans.json").is_file()  # stopped cleanly, cache saved


def test_blocking_mode_waits_for_the_answer(tiny_model_dir, tmp_path):
    client = start_client(teacher_config(tiny_model_dir, tmp_path))
    teacher = minigrid_teacher(client, blocking=True)
    try:
        assert teacher.guide(torch.from_numpy(symbolic_scene()[None]))[1].all()
    finally:
        teacher.close()


@pytest.mark.parametrize("fault", ["crash", "hang"])
def test_a_dead_or_hung_server_is_restarted_and_reloads_its_cache(tiny_model_dir, tmp_path, fault):
    client = start_client(teacher_config(tiny_model_dir, tmp_path, timeout_s=3.0))
    try:
        client.request(NOTHING_QUERY)
        pump_until(client, lambda: NOTHING in client.answers)
        client.save()
        pump_until(client, lambda: (tmp_path / "plans.json").is_file(), 10)
        first_pid = client.process.pid
        os.kill(first_pid, signal.SIGKILL if fault == "crash" else signal.SIGSTOP)
        client.answers.clear()
        client.request(NOTHING_QUERY)  # in flight when the server fails: dropped, asked again after the restart
        pump_until(client, lambda: client.restarts == 1)
        assert client.dropped >= 1 and not pid_alive(first_pid)
        assert (client.timeouts >= 1) == (fault == "hang")  # a hang is noticed by timeouts, a crash by the exit
        pump_until(client, lambda: client.ready)
        client.request(NOTHING_QUERY)
        pump_until(client, lambda: NOTHING in client.answers)
        assert client.answers[NOTHING].source == "cache"  # the new server loaded the persisted cache
    finally:
        client.close()


def test_a_server_that_never_becomes_ready_means_no_teacher(tmp_path, caplog):
    client = start_client(teacher_config(tmp_path / "no-such-model", tmp_path, max_restarts=1))
    teacher = minigrid_teacher(client)
    pump_until(client, lambda: client.gave_up, timeout_s=120)
    assert client.restarts == 1 and client.process.exit_code is not None
    assert not teacher.guide(torch.from_numpy(symbolic_scene()[None]))[1].any()
    teacher.close()


def test_attaching_to_a_server_of_another_model_gives_up_with_a_clear_message(tiny_model_dir, tmp_path, monkeypatch):
    owner = start_client(teacher_config(tiny_model_dir, tmp_path))
    warnings = []
    monkeypatch.setattr(client_module.logger, "warning", warnings.append)
    try:
        pump_until(owner, lambda: owner.ready)
        other = TeacherClient(owner.connection.address, "qwen-9000b", "minigrid", owner.config)
        pump_until(other, lambda: other.gave_up, 30)
        assert any(f"serves '{model_name(str(tiny_model_dir))}', not 'qwen-9000b'" in w for w in warnings)
        other.close()
    finally:
        owner.close()


def test_the_server_exits_when_the_process_that_started_it_dies(tiny_model_dir, tmp_path):
    script = f"""
import os, sys, time
from omegaconf import OmegaConf
sys.path[:0] = [{str(os.path.dirname(__file__))!r}, {str(os.path.dirname(os.path.dirname(__file__)))!r}]  # test_client, helpers
from test_client import start_client, teacher_config, pump_until
from pathlib import Path
client = start_client(teacher_config(Path({str(tiny_model_dir)!r}), Path({str(tmp_path)!r})))
pump_until(client, lambda: client.ready)
print(client.process.pid, flush=True)
os._exit(0)  # no atexit, no clean-up: like a crash
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    server_pid = int(out.stdout.split()[-1])
    deadline = time.monotonic() + 15
    while pid_alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pid_alive(server_pid)


def test_a_server_of_another_protocol_version_is_given_up_on_at_once_with_the_reason(tmp_path, monkeypatch):
    """An old (version 1) server answers every message with a version-1 error: no waiting for readiness timeouts."""
    import json
    import threading

    import zmq

    warnings: list[str] = []
    monkeypatch.setattr(client_module.logger, "warning", warnings.append)
    router = zmq.Context.instance().socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    stop = threading.Event()

    def old_server() -> None:
        while not stop.is_set():
            if router.poll(50):
                identity, frame = router.recv_multipart()
                reply = {"v": 1, "type": "error", "id": json.loads(frame)["id"], "code": "malformed",
                         "message": "protocol version 2, this side speaks 1"}
                router.send_multipart([identity, json.dumps(reply).encode()])

    thread = threading.Thread(target=old_server, daemon=True)
    thread.start()
    config = teacher_config(tmp_path / "unused", tmp_path, ready_timeout_s=600.0)
    client = TeacherClient(f"tcp://127.0.0.1:{port}", "m", "minigrid", config.server)
    try:
        started = time.monotonic()
        pump_until(client, lambda: client.gave_up, timeout_s=10)
        assert time.monotonic() - started < 5  # not the 600 s readiness timeout
        assert any("speaks teacher-server protocol version 1, this side speaks 2" in w for w in warnings), warnings
    finally:
        client.close()
        stop.set()
        thread.join(5)
        router.close(linger=0)


def test_answers_the_server_had_cached_count_as_plan_cache_hits(tiny_model_dir, tmp_path):
    """plan_cache_hit_rate means the same as in process: a lookup the server answers from its cache is a hit."""
    client = start_client(teacher_config(tiny_model_dir, tmp_path))
    source = RemotePlanSource(client, blocking=True)
    try:
        source.plans([NOTHING_QUERY])  # computed by the LLM: a miss
        assert source.pop_stats()[PLAN_CACHE_HIT_RATE] == 0.0
        client.answers.clear()  # this rank forgets; the server's cache still has it
        source.plans([NOTHING_QUERY])
        assert source.pop_stats()[PLAN_CACHE_HIT_RATE] == 1.0
    finally:
        source.close()


def test_the_servers_cpu_threads_default_to_half_the_cores_and_a_negative_count_is_refused():
    from habitat_llm4teach.errors import ConfigError
    from habitat_llm4teach.server.remote import remote_source, server_cpu_threads
    from habitat_llm4teach.teachers import PROMPT_SETS

    config = OmegaConf.structured(TeacherConfig)
    assert server_cpu_threads(config.server) == max(1, len(os.sched_getaffinity(0)) // 2)
    config.server.cpu_threads = 3
    assert server_cpu_threads(config.server) == 3
    config.server.cpu_threads = -1
    with pytest.raises(ConfigError, match="cpu_threads"):  # before any server process starts
        remote_source(config, PROMPT_SETS["minigrid"])


def _nice_values(pid: int) -> set[int]:
    """The nice value of every thread of process ``pid`` (field 19 of /proc/<pid>/task/<tid>/stat)."""
    values = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        values.add(int(task.joinpath("stat").read_text().rsplit(")", 1)[1].split()[16]))
    return values


def test_a_cpu_server_shares_the_trainers_session_in_a_group_of_its_own_at_its_nice_value(tiny_model_dir, tmp_path):
    config = teacher_config(tiny_model_dir, tmp_path, cpu_nice=17)
    config.device = "cpu"
    client = start_client(config)
    try:
        pump_until(client, lambda: client.ready)
        pid = client.process.pid
        # Same session: Linux's autogroup scheduling shares the CPU fairly between sessions whatever the nice values.
        assert os.getsid(pid) == os.getsid(0)
        assert os.getpgid(pid) == pid != os.getpgid(0)  # a terminal's Ctrl-C reaches the trainer's group only
        assert _nice_values(pid) == {17}  # every thread, those started before the LLM loaded included
    finally:
        client.close()


@pytest.mark.parametrize("nice", [-1, 20])
def test_a_nice_value_out_of_range_is_refused_before_any_server_starts(nice):
    from habitat_llm4teach.errors import ConfigError
    from habitat_llm4teach.server.remote import start_server

    config = OmegaConf.structured(TeacherConfig)
    config.server.cpu_nice = nice
    with pytest.raises(ConfigError, match="cpu_nice must be a nice value from 0 to 19"):
        start_server(config)


def test_a_server_started_before_the_envs_is_the_one_the_source_connects_to(tiny_model_dir, tmp_path, monkeypatch):
    """The trainer starts its server before building envs (start_server) and connects to that same process later."""
    from habitat_llm4teach.server.remote import remote_source, start_server
    from habitat_llm4teach.teachers import PROMPT_SETS

    config = teacher_config(tiny_model_dir, tmp_path)
    monkeypatch.setenv("LOCAL_RANK", "1")  # not the node's owner: starts nothing
    assert start_server(config) is None
    monkeypatch.setenv("LOCAL_RANK", "0")
    process = start_server(config)
    assert process is not None and process.started and pid_alive(process.pid)
    pid = process.pid
    source = remote_source(config, PROMPT_SETS["minigrid"], started=process)
    try:
        assert source.client.process is process and process.pid == pid  # not started a second time
        pump_until(source.client, lambda: source.client.ready)
    finally:
        source.close()
    assert not pid_alive(pid)
    config.server.enabled = False
    assert start_server(config) is None  # the in-process teacher: no server
