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


REARRANGE_TRACE = REPO / "tests" / "data" / "teacher_server_trace_rearrange.jsonl.gz"


def test_rearrange_trace_is_a_recording_of_pick_and_place_queries_the_server_accepts():
    """Recorded from llm4teach pick and place runs on the real simulator (README: Performance)."""
    from habitat_llm4teach.server import protocol
    from habitat_llm4teach.teachers import PROMPT_SETS

    with gzip.open(REARRANGE_TRACE, "rt") as f:
        steps = [json.loads(line) for line in f]
    assert len(steps) >= 500 and {s["prompts"] for s in steps} == {"rearrange"}
    skills = PROMPT_SETS["rearrange"].skills
    tasks = set()
    for step in steps:
        assert len(step["descriptions"]) == len(step["queries"]) == 2  # 2 envs
        for description, query in zip(step["descriptions"], step["queries"]):
            protocol.query_from_wire({"description": description, **query}, skills)  # raises where the server would refuse
            tasks.add(description.split(".")[0])
    assert any(t.startswith("Task: pick") for t in tasks) and any(t.startswith("Task: place") for t in tasks)
