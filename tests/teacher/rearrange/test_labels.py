"""Labelled pick/place situations -> perceptions (habitat_llm4teach/teacher/rearrange/labels.py)."""

import dataclasses
import json
from pathlib import Path

import pytest

from habitat_llm4teach.teacher.rearrange.describe import candidate_skills, describe, next_skills
from habitat_llm4teach.teacher.rearrange.labels import LabelError, load_rows, perception_from_row, row_from_perception
from habitat_llm4teach.teacher.rearrange.prompts import EXAMPLE_SCENES, REARRANGE_PROMPTS

LABELS = Path(__file__).resolve().parents[2] / "data" / "rearrange_plan_labels.jsonl"


def test_labelled_set_is_valid_and_not_in_the_prompt():
    rows = load_rows(LABELS)
    assert len(rows) >= 12
    descriptions = set()
    for row in rows:
        perception = perception_from_row(row)
        assert row["label"] in [str(c) for c in REARRANGE_PROMPTS.query_of(perception).candidates], row
        descriptions.add(describe(perception))
    assert len(descriptions) == len(rows)
    assert not descriptions & set(EXAMPLE_SCENES)


def test_row_becomes_the_perception_it_describes():
    row = {"task": "place", "target": "mug", "holding": True, "label": "navigate to table",
           "objects": [{"name": "chair", "distance": 0.7, "bearing_deg": -5, "radius": 0.3, "receptacle": True}],
           "goal": {"name": "table", "distance": 3.0, "bearing_deg": 160, "radius": 0.4, "visible": False}}
    perception = perception_from_row(row)
    assert describe(perception) == (
        "Task: place the mug on the table. You hold <mug>. <table>: out of reach. Also within reach: <chair>."
    )


def test_recorded_rows_round_trip_and_keep_what_the_skills_read():
    """A row written from a perception (what probe_rearrange_skills.py --record-labels stores) reads back to it."""
    rows = load_rows(LABELS.with_name("rearrange_plan_labels_sim_pick.jsonl"))
    assert len(rows) >= 40 and {r["label"].split(" ")[0] for r in rows} == {"navigate", "pick"}
    for row in rows:
        perception = perception_from_row(row)
        assert perception.target_base is not None and perception.target_object is not None or row["holding"]
        again = perception_from_row(row_from_perception(perception, row["label"], row["why"]))
        assert describe(again) == describe(perception)
        assert again.obs.joint == pytest.approx(perception.obs.joint)
        assert again.target_base == pytest.approx(perception.target_base)


@pytest.mark.parametrize("row, message", [
    ({"task": "fly", "target": "mug"}, "task must be"),
    ({"task": "pick"}, "no target"),
    ({"task": "place", "target": "mug", "holding": True}, "needs a goal"),
    ({"task": "pick", "target": "mug", "objects": [{"name": "mug"}]}, "needs name, distance and bearing_deg"),
])
def test_bad_rows_are_named(row, message):
    with pytest.raises(LabelError, match=message):
        perception_from_row(row)


def test_bad_file_lines_are_named(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({"task": "pick", "target": "mug"}) + "\n")
    with pytest.raises(LabelError, match="no label"):
        load_rows(path)
    path.write_text("{not json\n")
    with pytest.raises(LabelError, match=":1: not JSON"):
        load_rows(path)


def test_next_skills_offer_pick_and_place_only_within_reach():
    row = {"task": "place", "target": "cup", "holding": True,
           "objects": [{"name": "stool", "distance": 0.6, "bearing_deg": 0, "radius": 0.3, "receptacle": True},
                       {"name": "mug", "distance": 0.5, "bearing_deg": 0}],
           "goal": {"name": "table", "distance": 2.5, "bearing_deg": 10, "radius": 0.4, "visible": True}}
    perception = perception_from_row(row)
    offered = [str(c) for c in next_skills(perception)]
    # At the mug and the stool: no navigation there; not at the table: no placing there.
    # In the order the description names them (the goal first), looking around last.
    assert offered == ["navigate to table", "place cup on stool", "look around"]
    assert "place cup on table" in [str(c) for c in candidate_skills(perception)]  # still parseable in a plan
    picking = perception_from_row({"task": "pick", "target": "pear", "objects": [
        {"name": "pear", "distance": 2.0, "bearing_deg": 0}, {"name": "object 9a0c", "distance": 0.5, "bearing_deg": 0}]})
    assert [str(c) for c in next_skills(picking)] == ["navigate to pear", "pick object 9a0c", "look around"]


def test_navigation_is_not_offered_where_the_robot_already_is():
    from habitat_llm4teach.teacher.rearrange.labels import perception_from_row
    from habitat_llm4teach.teacher.rearrange.prompts import offered_skills

    def offered(distance: float, bearing_deg: float) -> set[str]:
        row = {"task": "pick", "target": "apple", "holding": False, "goal": None,
               "objects": [{"name": "apple", "distance": distance, "bearing_deg": bearing_deg, "radius": 0.05}]}
        return {str(call) for call in offered_skills(perception_from_row(row))}

    assert "navigate to apple" not in offered(0.5, 0) and "pick apple" in offered(0.5, 0)  # there: pick it
    assert "navigate to apple" in offered(0.5, 40)  # within reach but to the side: turn to it first
    assert "navigate to apple" in offered(2.5, 0) and "pick apple" not in offered(2.5, 0)


def test_the_tasks_own_skill_stays_offered_while_it_finishes():
    """After the grasp, pick goes on (the arm returns to rest, which pick_success needs): offered alone."""
    import numpy as np

    from habitat_llm4teach.envs.rearrange.scene import TaskObservations
    from habitat_llm4teach.teacher.rearrange.labels import perception_from_row
    from habitat_llm4teach.teacher.rearrange.prompts import offered_skills

    row = {"task": "pick", "target": "apple", "holding": True, "goal": None,
           "objects": [{"name": "table", "distance": 0.6, "bearing_deg": 0, "radius": 0.3, "receptacle": True}]}
    holding = perception_from_row(row)
    away_from_rest = TaskObservations(np.zeros(3), np.zeros(7), True, np.array([0.3, 0.0, 0.2]))
    holding = dataclasses.replace(holding, obs=away_from_rest)
    assert [str(c) for c in offered_skills(holding)] == ["pick apple"]
    at_rest = dataclasses.replace(holding, obs=TaskObservations(np.zeros(3), np.zeros(7), True, np.zeros(3)))
    assert "pick apple" not in {str(c) for c in offered_skills(at_rest)}  # done: nothing left to run
    assert "place apple on table" in {str(c) for c in offered_skills(at_rest)}  # the table within reach, again
