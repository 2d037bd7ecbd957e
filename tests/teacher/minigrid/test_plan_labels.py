"""The labelled MiniGrid sets that scripts/bench_teacher.py measures the prompt on: valid, disjoint, not in the prompt."""

import json
from pathlib import Path

import pytest

from habitat_llm4teach.teacher.minigrid.describe import candidate_skills, describe
from habitat_llm4teach.teacher.minigrid.prompts import EXAMPLES
from habitat_llm4teach.teacher.minigrid.scene import scene_from_description

DATA = Path(__file__).resolve().parents[2] / "data"
# dev (the prompt is chosen on it), held out (written after prompt v5), missions (other MiniGrid tasks' missions,
# written before prompt v6 and never used to choose one), missions2 (more of them, written after v6 and before any
# later prompt change), missions3 (more, BabyAI's among them, written after v7 and before the mission-grammar change).
SETS = ("minigrid_plan_labels.jsonl", "minigrid_plan_labels_heldout.jsonl", "minigrid_plan_labels_missions.jsonl",
        "minigrid_plan_labels_missions2.jsonl", "minigrid_plan_labels_missions3.jsonl")
MISSION_SETS = SETS[2:]


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("name", SETS)
def test_every_label_is_a_candidate_of_its_description(name):
    assert len(rows(name)) >= (30 if name in MISSION_SETS else 20)
    for row in rows(name):
        scene = scene_from_description(row["description"])
        assert describe(scene) == row["description"], "descriptions are in describe.py's canonical form"
        assert row["label"] in [str(c) for c in candidate_skills(scene)], row


def test_sets_are_disjoint_and_not_prompt_examples():
    described = [{r["description"] for r in rows(name)} for name in SETS]
    examples = {e[0] for e in EXAMPLES}
    for i, first in enumerate(described):
        assert not first & examples, SETS[i]
        for j, second in enumerate(described[i + 1:], start=i + 1):
            assert not first & second, (SETS[i], SETS[j])


@pytest.mark.parametrize("name", MISSION_SETS)
def test_the_missions_sets_cover_other_minigrid_tasks_with_their_own_mission_strings(name):
    """Each row names the registered MiniGrid task whose mission its Goal states, verbatim (issue 14: DoorKey,
    KeyCorridor, Unlock/UnlockPickup and a goal-square task at least)."""
    gymnasium = pytest.importorskip("gymnasium")
    pytest.importorskip("minigrid")
    mission_spaces = {task: gymnasium.make(task).unwrapped.observation_space["mission"] for task in {r["task"] for r in rows(name)}}
    for row in rows(name):
        assert mission_spaces[row["task"]].contains(scene_from_description(row["description"]).mission), row
    families = {task.split("-")[1] for task in mission_spaces}
    assert "DoorKey" in families and any(f.startswith("KeyCorridor") for f in families)
    assert families & {"Unlock", "UnlockPickup"}
    assert families & {"Empty", "FourRooms", "LavaCrossingS9N1", "SimpleCrossingS9N1", "MultiRoom"}
