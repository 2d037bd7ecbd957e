"""The labelled MiniGrid sets that scripts/bench_teacher.py measures the prompt on: valid, disjoint, not in the prompt."""

import json
from pathlib import Path

import pytest

from habitat_llm4teach.teacher.minigrid.describe import candidate_skills, describe
from habitat_llm4teach.teacher.minigrid.prompts import EXAMPLES
from habitat_llm4teach.teacher.minigrid.scene import scene_from_description

DATA = Path(__file__).resolve().parents[2] / "data"
SETS = ("minigrid_plan_labels.jsonl", "minigrid_plan_labels_heldout.jsonl")


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("name", SETS)
def test_every_label_is_a_candidate_of_its_description(name):
    assert len(rows(name)) >= 20
    for row in rows(name):
        scene = scene_from_description(row["description"])
        assert describe(scene) == row["description"], "descriptions are in describe.py's canonical form"
        assert row["label"] in [str(c) for c in candidate_skills(scene)], row


def test_sets_are_disjoint_and_not_prompt_examples():
    dev, heldout = ({r["description"] for r in rows(name)} for name in SETS)
    examples = {e[0] for e in EXAMPLES}
    assert not dev & heldout
    assert not (dev | heldout) & examples
