"""LLM text -> validated skill calls: tolerant of formatting, strict about skills and objects, never raising."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from habitat_llm4teach.teacher.minigrid.parse import MAX_CHARS, MAX_STEPS, parse_plan
from habitat_llm4teach.teacher.minigrid.types import PerceivedObject, Perception
from habitat_llm4teach.teacher.types import SkillCall

YELLOW_KEY = PerceivedObject("key", "yellow", (1, 1))
RED_KEY = PerceivedObject("key", "red", (3, 1))
YELLOW_DOOR = PerceivedObject("door", "yellow", (4, 2), "locked")
GREY_BOX = PerceivedObject("box", "grey", (1, 3))
LAVA = PerceivedObject("lava", "", (2, 3))
GOAL = PerceivedObject("goal", "green", (3, 3))
GRID = np.zeros((5, 5, 3), dtype=np.int64)  # parsing never looks at the map
SCENE = Perception((YELLOW_KEY, RED_KEY, YELLOW_DOOR, GREY_BOX, LAVA, GOAL), None, (2, 2), 0, GRID, "open the door")
HOLDING = Perception((YELLOW_DOOR,), PerceivedObject("key", "red", (2, 2)), (2, 2), 0, GRID, "open the door")

PICK_YELLOW = SkillCall("pick up", "yellow key")
OPEN_YELLOW = SkillCall("open", "yellow door")


@pytest.mark.parametrize(
    "text,steps",
    [
        ("1. go to the yellow key\n2. pick up yellow key", [SkillCall("go to", "yellow key"), PICK_YELLOW]),
        ("pick up yellow key, then open the yellow door", [PICK_YELLOW, OPEN_YELLOW]),
        ("Next skill: open yellow door", [OPEN_YELLOW]),
        ('"pick up yellow key"', [PICK_YELLOW]),
        ("`open the yellow door.`", [OPEN_YELLOW]),
        ("PICK UP THE YELLOW KEY.", [PICK_YELLOW]),
        ("toggle yellow door", [OPEN_YELLOW]),
        ("Unlock the yellow door (locked).", [OPEN_YELLOW]),
        ("grab the red key; pickup yellow key", [SkillCall("pick up", "red key"), PICK_YELLOW]),
        ("explore", [SkillCall("explore")]),
        ("Explore the room -> go to the green goal", [SkillCall("explore"), SkillCall("go to", "green goal")]),
        ("1) pick up <yellow key>\n2) open <yellow door>", [PICK_YELLOW, OPEN_YELLOW]),
        ("1. pick up yellow key 2. open yellow door", [PICK_YELLOW, OPEN_YELLOW]),
        ("- pick up gray box", [SkillCall("pick up", "grey box")]),
        ("open the door", [OPEN_YELLOW]),  # the only door
        ("go to lava", [SkillCall("go to", "lava")]),
        ("The agent should go to the yellow key to pick it up.", [SkillCall("go to", "yellow key")]),
    ],
)
def test_accepts_the_ways_llms_write_plans(text, steps):
    assert parse_plan(text, SCENE) == (steps, 0)


def test_drop_only_the_held_object():
    steps = [SkillCall("drop", "red key"), OPEN_YELLOW]
    assert parse_plan("drop the red key, then open yellow door", HOLDING) == (steps, 0)
    assert parse_plan("drop yellow key", HOLDING) == ([], 1)
    assert parse_plan("drop yellow key", SCENE) == ([], 1)  # holding nothing


@pytest.mark.parametrize(
    "text,steps,rejected",
    [
        ("pick up the purple key", [], 1),  # hallucinated object
        ("open the red door, pick up yellow key", [PICK_YELLOW], 1),  # one hallucinated step of two
        ("pick up yellow door", [], 1),  # doors cannot be picked up
        ("open yellow key", [], 1),  # keys cannot be opened
        ("pick up key", [], 1),  # ambiguous: two keys
        ("pick up the yel", [], 1),  # truncated
        ("pick up the yellow", [], 1),  # truncated before the kind
        ("dance around the yellow key", [], 1),  # unknown skill
        ("fly to the moon, teleport", [], 2),
        ("asdkjh qwe zzz", [], 1),
        ("do nothing", [], 1),  # the fallback is not the LLM's to choose
    ],
)
def test_rejects_and_counts_invalid_steps(text, steps, rejected):
    assert parse_plan(text, SCENE) == (steps, rejected)


@pytest.mark.parametrize("text", ["", "   \n\n ", "1.\n2.\n", "\x00\x01\x02 ###", "```\n```", "..., ;;; ->"])
def test_empty_or_symbol_only_output_is_no_plan_and_no_rejection(text):
    assert parse_plan(text, SCENE) == ([], 0)


def test_over_long_output_is_capped():
    steps, rejected = parse_plan("open yellow door, " * 1000, SCENE)
    assert steps == [OPEN_YELLOW] * MAX_STEPS and rejected == 0
    steps, rejected = parse_plan("x" * (MAX_CHARS * 5) + " pick up yellow key", SCENE)
    assert (steps, rejected) == ([], 1)  # the step after the cut is never read
    steps, rejected = parse_plan("blah, " * 100, SCENE)
    assert (steps, rejected) == ([], MAX_STEPS)


def test_random_bytes_never_raise():
    rng = np.random.default_rng(0)
    for _ in range(200):
        text = bytes(rng.integers(0, 256, rng.integers(0, 300))).decode("latin-1")
        steps, rejected = parse_plan(text, SCENE)
        assert all(isinstance(s, SkillCall) for s in steps) and rejected >= 0


def test_every_rejection_is_logged_with_the_raw_text(caplog):
    text = "pick up the purple key\nteleport now"
    with caplog.at_level(logging.DEBUG, logger="habitat_llm4teach.teacher.minigrid.parse"):
        assert parse_plan(text, SCENE) == ([], 2)
    rejections = [r for r in caplog.records if r.levelno == logging.DEBUG and "rejected" in r.getMessage()]
    assert len(rejections) == 2
    assert all(repr(text) in r.getMessage() for r in rejections)
