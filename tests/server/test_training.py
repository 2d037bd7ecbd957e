"""Real few-update llm4teach trainings with the teacher server (tiny random LLM): the server killed mid-run,
a server that never becomes ready, and the in-process teacher still selectable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

from helpers import REPO, TINY_TRAINING, output_of, pid_alive, run_cli, tensorboard_scalars
from habitat_llm4teach.checkpoints import load_checkpoint_file
from habitat_llm4teach.server.remote import RESTARTS, UP
from habitat_llm4teach.teacher.guidance import GUIDED_FRAC

READY = re.compile(r"teacher server ready at \S+ \(pid (\d+)")


def _args(run_dir, model, *extra):
    return [
        "--config-name=minigrid/llm4teach", f"llm4teach.run_dir={run_dir}", f"llm4teach.teacher.model={model}",
        "llm4teach.teacher.dtype=float32", f"llm4teach.teacher.cache_path={run_dir / 'plans.json'}",
        "habitat_baselines.eval.video_option=[]", "habitat_baselines.num_checkpoints=1", *TINY_TRAINING, *extra,
    ]


def test_killing_the_server_mid_training_restarts_it_and_training_finishes(tmp_path, tiny_model_dir):
    """SIGKILL the server as soon as it is ready; 10 updates later training has every step and counted the restart."""
    steps = 320
    cmd = [sys.executable, "-m", "habitat_llm4teach.run", *_args(
        tmp_path, tiny_model_dir, f"habitat_baselines.total_num_steps={steps}",
        # blocking: the first step waits for the server, so the kill surely falls inside the run
        "llm4teach.teacher.server.blocking=true", "llm4teach.teacher.server.restart_backoff_s=0.2",
    )]
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    server_pids: list[int] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            found = READY.search(line)
            if found:
                server_pids.append(int(found.group(1)))
                if len(server_pids) == 1:
                    os.kill(server_pids[0], 9)

    reader = threading.Thread(target=read)
    reader.start()
    assert proc.wait(600) == 0, "".join(lines)[-4000:]
    reader.join()
    out = "".join(lines)
    assert len(server_pids) == 2, out[-4000:]  # the first server and its restart
    assert "the teacher server exited with code -9" in out and "restarting it in" in out
    assert load_checkpoint_file(tmp_path / "checkpoints" / "latest.pth")["extra_state"]["step"] == steps
    scalars = tensorboard_scalars(tmp_path)
    assert max(v for _, v in scalars[RESTARTS]) == 1
    assert scalars[UP][-1][1] == 1.0 and any(v > 0 for _, v in scalars[GUIDED_FRAC])  # guided again after the restart
    assert not any(pid_alive(pid) for pid in server_pids)  # no orphan


def test_a_teacher_that_never_answers_means_plain_ppo_and_says_so(tmp_path):
    result = run_cli(_args(
        tmp_path, tmp_path / "no-such-model", "habitat_baselines.total_num_steps=64",
        "llm4teach.teacher.server.max_restarts=0",
    ), timeout=600)
    out = output_of(result)
    assert result.returncode == 0, out[-4000:]
    # Whether the failed start is noticed during these few steps or only at the end, the log says so.
    assert "as plain PPO (no guidance)" in out
    assert load_checkpoint_file(tmp_path / "checkpoints" / "latest.pth")["extra_state"]["step"] == 64
    assert all(v == 0 for _, v in tensorboard_scalars(tmp_path)["learner/distill/guided_frac"])


def test_the_in_process_teacher_stays_selectable(tmp_path, tiny_model_dir):
    result = run_cli(_args(
        tmp_path, tiny_model_dir, "habitat_baselines.total_num_steps=64", "llm4teach.teacher.server.enabled=false",
        f"llm4teach.teacher.trace_path={tmp_path / 'trace.jsonl'}",
    ), timeout=600)
    out = output_of(result)
    assert result.returncode == 0, out[-4000:]
    assert "teacher server" not in out
    assert all(v > 0 for _, v in tensorboard_scalars(tmp_path)[GUIDED_FRAC])
    trace = (tmp_path / "trace.jsonl").read_text().splitlines()
    assert len(trace) == 64 // 2 and all('"descriptions": ["Agent sees' in line for line in trace)  # one line per step, 2 envs
