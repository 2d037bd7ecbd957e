"""Perception -> description text and candidate skills: exact format, deterministic order."""

from __future__ import annotations

import numpy as np
import pytest

from habitat_llm4teach.teacher.minigrid.describe import candidate_skills, describe
from habitat_llm4teach.teacher.minigrid.types import PerceivedObject, Perception
from habitat_llm4teach.teacher.types import SkillCall

YELLOW_KEY = PerceivedObject("key", "yellow", (1, 1))
RED_KEY = PerceivedObject("key", "red", (2, 1))
YELLOW_DOOR = PerceivedObject("door", "yellow", (4, 2), "locked")
LAVA = PerceivedObject("lava", "", (3, 3))
GOAL = PerceivedObject("goal", "green", (5, 5))
BLUE_BALL = PerceivedObject("ball", "blue", (2, 4))
PURPLE_BOX = PerceivedObject("box", "purple", (2, 5))


def scene(*objects: PerceivedObject, holding=None, mission="open the door") -> Perception:
    return Perception(tuple(objects), holding, (1, 2), 0, np.zeros((6, 6, 3), dtype=np.int64), mission)


def test_the_reference_description():
    text = describe(scene(YELLOW_DOOR, YELLOW_KEY))
    assert text == "Agent sees <yellow key>, <yellow door (locked)>, holds <nothing>. Goal: open the door."


def test_nothing_seen_and_something_held():
    text = describe(scene(holding=PerceivedObject("key", "red", (1, 2))))
    assert text == "Agent sees <nothing>, holds <red key>. Goal: open the door."


def test_kind_then_colour_order_lava_without_colour_and_duplicates_once():
    second_yellow_door = PerceivedObject("door", "yellow", (0, 3), "locked")
    objects = [LAVA, GOAL, PURPLE_BOX, BLUE_BALL, YELLOW_DOOR, second_yellow_door, YELLOW_KEY, RED_KEY]
    expected = (
        "Agent sees <red key>, <yellow key>, <yellow door (locked)>, <blue ball>, <purple box>, <green goal>, <lava>, "
        "holds <nothing>. Goal: open the door."
    )
    assert describe(scene(*objects)) == expected
    rng = np.random.default_rng(0)
    for _ in range(5):  # deterministic whatever order perception lists objects in
        assert describe(scene(*rng.permutation(np.array(objects, dtype=object)))) == expected


def test_door_states_are_shown():
    doors = [PerceivedObject("door", "blue", (0, 1), state) for state in ("locked", "closed", "open")]
    text = describe(scene(*doors))
    assert text.startswith("Agent sees <blue door (open)>, <blue door (closed)>, <blue door (locked)>,")


@pytest.mark.parametrize(
    "mission,goal",
    [
        ("open the door", "Goal: open the door."),
        ("get to the green goal square", "Goal: get to the green goal square."),
    ],
)
def test_goal_sentence_from_the_mission(mission, goal):
    assert describe(scene(mission=mission)).endswith(f"holds <nothing>. {goal}")


def skills(perception: Perception) -> list[str]:
    return [str(c) for c in candidate_skills(perception)]


def test_candidates_hands_free_offer_no_locked_door():
    # a locked door cannot be opened without its key, so it is not offered (the open skill's precondition)
    assert skills(scene(YELLOW_KEY, BLUE_BALL, YELLOW_DOOR)) == ["explore", "pick up yellow key", "pick up blue ball"]
    assert skills(scene(RED_KEY, YELLOW_KEY, YELLOW_DOOR)) == ["explore", "pick up red key", "pick up yellow key"]


def test_candidates_while_holding_offer_drop_and_no_pick_up():
    held = PerceivedObject("key", "green", (1, 2))
    purple_key = PerceivedObject("key", "purple", (1, 1))
    purple_door = PerceivedObject("door", "purple", (4, 2), "locked")
    assert skills(scene(purple_key, purple_door, holding=held)) == ["explore", "drop green key"]
    yellow_key = PerceivedObject("key", "yellow", (1, 2))
    assert skills(scene(YELLOW_DOOR, holding=yellow_key)) == ["explore", "open yellow door", "drop yellow key"]


def test_candidates_goal_open_doors_and_duplicates():
    open_door = PerceivedObject("door", "red", (0, 2), "open")
    closed = PerceivedObject("door", "blue", (0, 6), "closed")
    twin = PerceivedObject("door", "yellow", (0, 4), "locked")
    calls = candidate_skills(scene(GOAL, open_door, closed, YELLOW_DOOR, twin, LAVA))
    assert calls == [SkillCall("explore"), SkillCall("open", "blue door"), SkillCall("go to", "green goal")]


def test_nothing_seen_leaves_explore():
    assert candidate_skills(scene()) == [SkillCall("explore")]
