"""The planner's prompt set for pick and place: system prompt, worked examples, candidates, parser.

Owns what the LLM is told for rearrangement (MiniGrid's lives in
teacher/planner.py). The examples are perceptions, not hand-typed text: their
descriptions and candidate lists come from describe.py exactly as a query's
do, so examples and queries cannot drift apart. Bump ``PROMPT_VERSION`` on any
change: it is part of the plan-cache key.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from habitat_llm4teach.envs.rearrange.describe import NAVIGATE_TO, PLACE_ON, describe, next_skills
from habitat_llm4teach.envs.rearrange.describe import PICK as PICK_SKILL
from habitat_llm4teach.envs.rearrange.describe import PLACE as PLACE_SKILL
from habitat_llm4teach.envs.rearrange.parse import parse_plan
from habitat_llm4teach.envs.rearrange.perception import RearrangePerception, SeenObject
from habitat_llm4teach.envs.rearrange.scene import PICK, PLACE, TaskObservations
from habitat_llm4teach.envs.rearrange.skills import control, navigate_to
from habitat_llm4teach.teacher.planner import PromptSet
from habitat_llm4teach.teacher.skills.base import SkillStatus
from habitat_llm4teach.teacher.types import SkillCall

PROMPT_VERSION = "rearrange-v4"  # v4: navigation not offered where the robot already is

SYSTEM_PROMPT = """You plan for a mobile robot with one arm in a house. You get what its head camera sees (with distance and direction), what it holds, its task, and the skills it can use now. Answer with the skill the robot should do next, written exactly as in the list.
Facts: the robot holds at most one object. pick X works only when X is within reach; place X on Y works only when Y is within reach; navigate to X drives until X is within reach; look around turns in place to find things not in view. Only the objects named in the task matter: every other object, however near, is never picked, placed on or navigated to.
Decide with these rules; the first rule that matches gives the answer:
1. You hold the task object and the goal is within reach: place it on the goal.
2. You hold the task object: navigate to the goal.
3. The task object is within reach and you hold nothing: pick the task object.
4. You see the task object: navigate to the task object.
5. Otherwise: look around."""

_REST = TaskObservations(np.zeros(3), np.zeros(7), False, np.zeros(3))


def _obj(name: str, distance: float, bearing_deg: float, receptacle: bool = False, radius: float = 0.1) -> SeenObject:
    return SeenObject(name, name, receptacle, distance, math.radians(bearing_deg), True, radius)


def _perception(task: str, objects: tuple[SeenObject, ...], target: str, holding: bool = False,
                goal: SeenObject | None = None) -> RearrangePerception:
    held = SeenObject(target, target, False, 0.0, 0.0, False) if holding else None
    return RearrangePerception(task, objects, held, goal, target, _REST)


_hidden_shelf = SeenObject("shelf", "shelf", True, 3.4, math.radians(150), False, 0.4)
# (perception, next skill, whole plan), one per rule and a decoy or two.
_EXAMPLES = (
    (_perception(PLACE, (), "bowl", True, _obj("table", 0.9, 10, True, 0.4)),
     "place bowl on table", "place bowl on table"),
    (_perception(PLACE, (_obj("cracker box", 1.1, 30),), "sugar box", True, _hidden_shelf),
     "navigate to shelf", "navigate to shelf, place sugar box on shelf"),
    (_perception(PICK, (_obj("banana", 2.4, -20), _obj("lemon", 0.6, 5)), "lemon"),
     "pick lemon", "pick lemon"),
    (_perception(PICK, (_obj("mug", 0.7, -10), _obj("kitchen counter", 1.9, -40, True, 0.5), _obj("pear", 2.6, 35)), "pear"),
     "navigate to pear", "navigate to pear, pick pear"),
    (_perception(PICK, (_obj("chair", 1.5, 0, True, 0.3),), "tomato soup can"),
     "look around", "look around, navigate to tomato soup can, pick tomato soup can"),
    # A nearer unnamed object and a nearer decoy receptacle: the answer follows the task, not the distance.
    (_perception(PICK, (_obj("object 5e21", 0.9, -15), _obj("cup", 1.2, 5), _obj("orange", 1.8, 30)), "orange"),
     "navigate to orange", "navigate to orange, pick orange"),
    (_perception(PLACE, (_obj("stool", 0.6, 0, True, 0.3),), "cup", True, _obj("counter", 2.2, -30, True, 0.5)),
     "navigate to counter", "navigate to counter, place cup on counter"),
)
EXAMPLE_SCENES = {describe(p): p for p, _, _ in _EXAMPLES}


def offered_skills(perception: RearrangePerception) -> list:
    """``next_skills`` less ``navigate to X`` where the robot already is (navigation would end at once).

    The affordance navigation lacked: on the real simulator the 1.5B model's top choice was often
    "navigate to <the target>" with the target already in the arm's reach; such a plan has no
    runnable step, so the teacher acted on the next plan instead (another object's navigation).
    """
    offered = [
        call for call in next_skills(perception)
        if call.skill != NAVIGATE_TO or navigate_to(perception, call.target).status is not SkillStatus.DONE
    ]
    # The task's own pick / place goes on after the grasp / release (the arm returns to rest, which success needs):
    # keep offering it while it runs, although the hand is no longer free / full.
    finishing = _finishing_call(perception)
    if finishing is not None and finishing not in offered:
        offered.append(finishing)
    return offered


def _finishing_call(perception: RearrangePerception) -> Optional[SkillCall]:
    if perception.task == PICK and perception.holding is not None and perception.holding.name == perception.target:
        call = SkillCall(PICK_SKILL, perception.target)
    elif perception.task == PLACE and perception.holding is None and perception.goal is not None:
        call = SkillCall(PLACE_SKILL, f"{perception.target}{PLACE_ON}{perception.goal.name}")
    else:
        return None
    return call if control(call.skill, perception, call.target).status is SkillStatus.RUNNING else None

REARRANGE_PROMPTS = PromptSet(
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    tuple((describe(p), next_skill, plan) for p, next_skill, plan in _EXAMPLES),
    EXAMPLE_SCENES.__getitem__,
    offered_skills,
    parse_plan,
)
