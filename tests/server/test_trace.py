"""The shipped request trace (scripts/bench_teacher_server.py replays it) is a readable recording of a real run."""

from __future__ import annotations

import gzip
import json

from helpers import REPO
from habitat_llm4teach.teacher.minigrid.scene import scene_from_description

TRACE = REPO / "tests" / "data" / "teacher_server_trace.jsonl.gz"


def test_trace_has_one_line_per_step_with_every_envs_readable_description():
    with gzip.open(TRACE, "rt") as f:
        steps = [json.loads(line) for line in f]
    assert len(steps) >= 1000 and all(len(s["descriptions"]) == 4 for s in steps)  # 4 envs, a few thousand env steps
    times = [s["t"] for s in steps]
    assert times == sorted(times)
    descriptions = {d for s in steps for d in s["descriptions"]}
    for description in descriptions:
        scene_from_description(description)  # raises on text the server would refuse
    assert len(descriptions) > 1
