"""Perception -> description text and candidate skills: exact format, deterministic order."""

from __future__ import annotations

import numpy as np
import pytest

from habitat_llm4teach.teacher.minigrid.describe import candidate_skills, describe, mission_object, skill_effects
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


# Effects, written by hand from MiniGrid's rules (a key opens the locked door of its colour; one object in hand;
# the mission names what to pick up), for each kind of candidate.
@pytest.mark.parametrize(
    "perception,effects",
    [
        (scene(), ""),  # explore alone: nothing to state
        (scene(YELLOW_KEY, RED_KEY, YELLOW_DOOR),
         "Effects: pick up red key not needed; pick up yellow key gets the key of the locked yellow door."),
        (scene(YELLOW_KEY), "Effects: pick up yellow key gets a key for a door not seen yet."),
        (scene(YELLOW_DOOR, BLUE_BALL, holding=YELLOW_KEY),
         "Effects: open yellow door opens it with the key you hold; drop yellow key not needed."),
        (scene(PerceivedObject("door", "blue", (0, 6), "closed"), RED_KEY),
         "Effects: pick up red key gets a key for a door not seen yet; open blue door opens it, no key needed."),
        (scene(YELLOW_KEY, YELLOW_DOOR, holding=RED_KEY),
         "Effects: drop red key frees your hands to pick up the yellow key."),
        (scene(PURPLE_BOX, holding=RED_KEY, mission="pick up the purple box"),
         "Effects: drop red key frees your hands to pick up the purple box."),
        (scene(BLUE_BALL, PURPLE_BOX, YELLOW_KEY, mission="pick up the blue ball"),
         "Effects: pick up yellow key gets a key for a door not seen yet; pick up blue ball does what the goal asks; "
         "pick up purple box not needed."),
        (scene(BLUE_BALL, mission="pick up a ball"), "Effects: pick up blue ball does what the goal asks."),
        (scene(GOAL, LAVA, mission="avoid the lava and get to the green goal square"),
         "Effects: go to green goal reaches the goal square."),
    ],
)
def test_skill_effects_state_what_each_candidate_does_for_the_mission(perception, effects):
    assert skill_effects(perception, candidate_skills(perception)) == effects


def test_dropping_the_key_of_a_seen_locked_door_is_not_needed():
    # the held yellow key opens the seen yellow door, so it is kept although the red door's key is in view too
    red_door = PerceivedObject("door", "red", (0, 4), "locked")
    perception = scene(YELLOW_DOOR, red_door, RED_KEY, holding=YELLOW_KEY)
    assert skill_effects(perception, candidate_skills(perception)) == (
        "Effects: open yellow door opens it with the key you hold; drop yellow key not needed."
    )


def _reset(env_id: str, seed: int):
    import gymnasium as gym
    import minigrid  # noqa: F401  (registers the MiniGrid and BabyAI ids)

    env = gym.make(env_id)
    env.reset(seed=seed)
    return env.unwrapped


# The object each env itself checks for success, against what mission_object reads from its mission string alone.
TAKE_TARGETS = {
    "MiniGrid-Fetch-8x8-N3-v0": lambda env: (env.targetType, env.targetColor),
    "MiniGrid-PutNear-8x8-N3-v0": lambda env: (env.move_type, env.moveColor),
    "MiniGrid-KeyCorridorS3R3-v0": lambda env: (env.obj.type, env.obj.color),
    "MiniGrid-UnlockPickup-v0": lambda env: (env.obj.type, env.obj.color),
    "MiniGrid-LockedRoom-v0": lambda env: next(("key", o.color) for o in env.grid.grid if o is not None and o.type == "key"),
}


@pytest.mark.parametrize("env_id", sorted(TAKE_TARGETS))
def test_mission_object_is_what_the_env_checks_for(env_id):
    missions = set()
    for seed in range(40):
        env = _reset(env_id, seed)
        missions.add(env.mission.rsplit(" ", 2)[0])
        assert mission_object(env.mission) == TAKE_TARGETS[env_id](env), env.mission
    if env_id.startswith("MiniGrid-Fetch"):
        assert missions == {"get a", "go get a", "fetch a", "go fetch a", "you must fetch a"}, "all five phrasings drawn"


@pytest.mark.parametrize("env_id", ["MiniGrid-DoorKey-8x8-v0", "MiniGrid-MultiRoom-N2-S4-v0", "MiniGrid-LavaGapS7-v0",
                                    "MiniGrid-FourRooms-v0", "MiniGrid-RedBlueDoors-6x6-v0", "MiniGrid-Unlock-v0"])
def test_missions_that_name_no_object_to_take(env_id):
    env = _reset(env_id, 0)
    assert mission_object(env.mission) is None, env.mission


def test_fetch_mission_effects_name_the_object_to_get():
    perception = scene(RED_KEY, BLUE_BALL, mission="you must fetch a blue ball")
    assert skill_effects(perception, candidate_skills(perception)) == (
        "Effects: pick up red key gets a key for a door not seen yet; pick up blue ball does what the goal asks."
    )
