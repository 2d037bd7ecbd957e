"""The planner's prompt set for pick and place: system prompt, worked examples, candidates, parser.

Owns what the LLM is told for rearrangement (MiniGrid's lives in
teacher/minigrid/prompts.py). The examples are perceptions, not hand-typed text: their
descriptions and candidate lists come from describe.py exactly as a query's
do, so examples and queries cannot drift apart. Bump ``PROMPT_VERSION`` on any
change: it is part of the plan-cache key.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from habitat_llm4teach.envs.rearrange.scene import PICK, PLACE, TaskObservations
from habitat_llm4teach.teacher.planner import PromptSet
from habitat_llm4teach.teacher.rearrange.describe import PICK as PICK_SKILL
from habitat_llm4teach.teacher.rearrange.describe import PLACE as PLACE_SKILL
from habitat_llm4teach.teacher.rearrange.describe import PLACE_ON, SKILL_NAMES, describe, next_skills
from habitat_llm4teach.teacher.rearrange.parse import allowed_targets, parse_steps
from habitat_llm4teach.teacher.rearrange.perception import RearrangePerception, SeenObject
from habitat_llm4teach.teacher.rearrange.skills import control
from habitat_llm4teach.teacher.types import PlanQuery, SkillCall, SkillStatus

PROMPT_SET_NAME = "rearrange"
PROMPT_VERSION = "rearrange-v6"  # v6: within / out of reach only, other objects only when within reach

SYSTEM_PROMPT = """You plan for a mobile robot with one arm in a house. You get its task, what it holds, whether the task's objects are within reach, what else is within reach, and the skills it can use now. Answer with the skill the robot should do next, written exactly as in the list.
Skills: navigate to X drives until X is within reach; pick X picks X up, then brings the arm back to rest; place X on Y puts the held X on Y, then brings the arm back to rest; look around turns in place.
Only the objects named in the task matter: never pick, place on or navigate to any other object, however near.
Decide with these rules; the first rule that matches gives the answer:
1. Pick task and you hold the task object: pick the task object (the pick is finishing).
2. Pick task and the task object is within reach: pick the task object.
3. Pick task and the task object is listed: navigate to the task object.
4. Place task and you hold nothing: place the task object on the goal (the place is finishing).
5. Place task and the goal is within reach: place the task object on the goal.
6. Place task and the goal is listed: navigate to the goal.
7. Otherwise: look around."""

_REST = TaskObservations(np.zeros(3), np.zeros(7), False, np.zeros(3))
# The arm away from rest after a grasp / a release: the task's pick / place is still running (finishing).
_ARM_OUT_HOLDING = TaskObservations(np.zeros(3), np.zeros(7), True, np.array([0.3, 0.0, 0.2]))
_ARM_OUT_EMPTY = TaskObservations(np.zeros(3), np.zeros(7), False, np.array([0.3, 0.0, 0.2]))


def _obj(name: str, distance: float, bearing_deg: float, receptacle: bool = False, radius: float = 0.1,
         visible: bool = True) -> SeenObject:
    return SeenObject(name, name, receptacle, distance, math.radians(bearing_deg), visible, radius)


def _perception(task: str, objects: tuple[SeenObject, ...], target: str, holding: bool = False,
                goal: Optional[SeenObject] = None, target_object: Optional[SeenObject] = None,
                obs: TaskObservations = _REST) -> RearrangePerception:
    """An example situation; the target object is the seen one of that name unless given (e.g. out of view)."""
    held = SeenObject(target, target, False, 0.0, 0.0, False) if holding else None
    if target_object is None and not holding:
        target_object = next((o for o in objects if o.name == target), None)
    return RearrangePerception(task, objects, held, goal, target, obs, target_object=target_object)


# (perception, next skill, whole plan): one per rule, with nearer or within-reach decoys.
_EXAMPLES = (
    (_perception(PICK, (_obj("lemon", 0.6, 5), _obj("banana", 2.4, -20)), "banana"),
     "navigate to banana", "navigate to banana, pick banana"),
    (_perception(PICK, (_obj("pear", 0.6, 3), _obj("mug", 0.7, -5), _obj("kitchen counter", 1.9, -40, True, 0.5)), "pear"),
     "pick pear", "pick pear"),
    (_perception(PICK, (_obj("chair", 1.5, 0, True, 0.3),), "tomato soup can",
                 target_object=_obj("tomato soup can", 2.2, 150, visible=False)),
     "navigate to tomato soup can", "navigate to tomato soup can, pick tomato soup can"),
    (_perception(PICK, (_obj("apple", 0.5, 2), _obj("sofa", 2.0, 30, True, 0.8)), "orange", holding=True,
                 obs=_ARM_OUT_HOLDING),
     "pick orange", "pick orange"),
    (_perception(PLACE, (_obj("plate", 0.5, 4),), "plate", goal=_obj("desk", 0.8, 2, True, 0.4), obs=_ARM_OUT_EMPTY),
     "place plate on desk", "place plate on desk"),
    (_perception(PLACE, (_obj("stool", 0.6, 0, True, 0.3),), "cup", holding=True, goal=_obj("counter", 2.2, -30, True, 0.5)),
     "navigate to counter", "navigate to counter, place cup on counter"),
    (_perception(PLACE, (_obj("cracker box", 1.1, 30),), "sugar box", holding=True,
                 goal=_obj("shelf", 3.4, 150, True, 0.4, visible=False)),
     "navigate to shelf", "navigate to shelf, place sugar box on shelf"),
    (_perception(PLACE, (_obj("plum", 0.6, -35), _obj("mug", 1.1, 25)), "sponge", holding=True,
                 goal=_obj("sink", 0.7, 4, True, 0.3)),
     "place sponge on sink", "place sponge on sink"),
    # Where the task's sensors do not locate the target (hand-built scenes): find it first.
    (_perception(PICK, (_obj("bowl", 0.6, 4), _obj("table", 1.6, -10, True, 0.5)), "fork"),
     "look around", "look around, navigate to fork, pick fork"),
)
EXAMPLE_SCENES = {describe(p): p for p, _, _ in _EXAMPLES}


def offered_skills(perception: RearrangePerception) -> list:
    """``next_skills``; but while the task's own pick / place finishes, that skill alone.

    After the grasp / release the skill brings the arm back to rest (pick_success / place_success need it). An
    option that has begun runs to its end, as in the paper's option framework, and the base must not drive with
    the arm out (it sweeps into furniture: force_terminate). Measured on situations recorded in the simulator,
    the 1.5B model otherwise answered another skill (mostly "navigate to <a nearby object>") in 7 of the 9
    pick-finishing and 13 of the 14 place-finishing states.
    """
    finishing = _finishing_call(perception)
    return [finishing] if finishing is not None else next_skills(perception)


def _finishing_call(perception: RearrangePerception) -> Optional[SkillCall]:
    if perception.task == PICK and perception.holding is not None and perception.holding.name == perception.target:
        call = SkillCall(PICK_SKILL, perception.target)
    elif perception.task == PLACE and perception.holding is None and perception.goal is not None:
        call = SkillCall(PLACE_SKILL, f"{perception.target}{PLACE_ON}{perception.goal.name}")
    else:
        return None
    return call if control(call.skill, perception, call.target).status is SkillStatus.RUNNING else None


def query_of(perception: RearrangePerception) -> PlanQuery:
    """What the planner is asked for ``perception``: its description, the offered skills, the nameable targets."""
    return PlanQuery.make(describe(perception), offered_skills(perception), allowed_targets(perception))


REARRANGE_PROMPTS = PromptSet(
    PROMPT_SET_NAME, PROMPT_VERSION, SKILL_NAMES, SYSTEM_PROMPT,
    tuple((query_of(p), next_skill, plan) for p, next_skill, plan in _EXAMPLES),
    parse_steps, query_of,
)
