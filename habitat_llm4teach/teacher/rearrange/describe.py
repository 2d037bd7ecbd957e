"""Perception -> prompt text and the candidate skills for rearrangement.

Owns the description format and the skill vocabulary the LLM chooses from:
``navigate to <x>``, ``pick <x>``, ``place <x> on <y>`` and ``look around``. A
description leads with the task, what the robot holds and where the task's own
objects are (its sensors locate them, seen or not), then lists the few nearest
other objects in view::

    Task: pick the apple. You hold nothing. <apple>: 1.5 m ahead, left.
    Also in view: <bowl> (within reach), <kitchen counter> (2.0 m right).

It says only what a plan depends on: "within reach" (the robot is at the object:
``reach.at``, the same test navigation ends on), else the distance in
``DISTANCE_STEP_M`` steps and a direction sector. So the text, which the plan
cache keys on, changes a few times per episode rather than at every step.
"""

from __future__ import annotations

import math

from habitat_llm4teach.teacher.rearrange.perception import RearrangePerception, SeenObject
from habitat_llm4teach.teacher.rearrange.reach import at
from habitat_llm4teach.teacher.types import SkillCall

# Skill vocabulary.
LOOK_AROUND = "look around"
NAVIGATE_TO = "navigate to"
PICK = "pick"
PLACE = "place"
SKILL_NAMES = (LOOK_AROUND, NAVIGATE_TO, PICK, PLACE)
PLACE_ON = " on "  # a place call's target is "<object> on <receptacle>"

NOTHING = "nothing"
DISTANCE_STEP_M = 0.5
MAX_OTHERS = 4  # other objects in view listed (the nearest): more only lengthen the prompt and the candidate list
AHEAD_DEG, SIDE_DEG, BEHIND_SIDE_DEG = 15.0, 60.0, 120.0


def direction(bearing: float) -> str:
    """``ahead``, ``ahead, left``, ``left``, ``behind, left``, ``behind`` (and the right-hand ones)."""
    degrees = math.degrees(bearing)
    side = "left" if degrees > 0 else "right"
    magnitude = abs(degrees)
    if magnitude <= AHEAD_DEG:
        return "ahead"
    if magnitude <= SIDE_DEG:
        return f"ahead, {side}"
    if magnitude <= BEHIND_SIDE_DEG:
        return side
    return f"behind, {side}" if magnitude < 180.0 - AHEAD_DEG else "behind"


def where(perception: RearrangePerception, obj: SeenObject) -> str:
    """``within reach``, else e.g. ``1.5 m ahead, left`` (``out of view, ...`` when the camera does not see it)."""
    if at(perception, obj):
        return "within reach"
    distance = max(DISTANCE_STEP_M, round(obj.distance / DISTANCE_STEP_M) * DISTANCE_STEP_M)
    text = f"{distance:.1f} m {direction(obj.bearing)}"
    return text if obj.visible else f"out of view, {text}"


def task_objects(perception: RearrangePerception) -> list[SeenObject]:
    """The task's own objects the robot does not hold: the target, then (place) the goal."""
    return [o for o in (perception.target_object, perception.goal) if o is not None]


def others_in_view(perception: RearrangePerception) -> list[SeenObject]:
    """The ``MAX_OTHERS`` nearest seen objects that are not the task's own."""
    own = {o.name for o in task_objects(perception)}
    return [o for o in perception.objects if o.name not in own][:MAX_OTHERS]


def describe(perception: RearrangePerception) -> str:
    """The task, what the robot holds, where the task's objects are, and the nearest other objects in view."""
    held = f"<{perception.holding.name}>" if perception.holding is not None else NOTHING
    text = f"Task: {perception.mission}. You hold {held}."
    for obj in task_objects(perception):
        text += f" <{obj.name}>: {where(perception, obj)}."
    others = [f"<{o.name}> ({where(perception, o)})" for o in others_in_view(perception)]
    return f"{text} Also in view: {', '.join(others)}." if others else f"{text} Nothing else in view."


def candidate_skills(perception: RearrangePerception) -> list[SkillCall]:
    """Every skill a plan may name here (the parser's vocabulary): ``look around`` first; ``navigate to`` every
    listed object; ``pick`` listed objects with free hands; ``place`` the held object on the goal and on listed
    receptacles."""
    listed = task_objects(perception) + others_in_view(perception)
    calls = [SkillCall(LOOK_AROUND)]
    calls += [SkillCall(NAVIGATE_TO, name) for name in dict.fromkeys(o.name for o in listed)]
    if perception.holding is None:
        calls += [SkillCall(PICK, o.name) for o in listed if not o.is_receptacle]
    else:
        receptacles = [perception.goal.name] if perception.goal is not None else []
        receptacles += [o.name for o in listed if o.is_receptacle]
        calls += [SkillCall(PLACE, f"{perception.holding.name}{PLACE_ON}{r}") for r in dict.fromkeys(receptacles)]
    return calls


def next_skills(perception: RearrangePerception) -> list[SkillCall]:
    """The candidates that can run now (SayCan-style affordances), offered to the LLM as its next skill.

    ``pick X`` and ``place ... on Y`` need the robot at X or Y, and ``navigate to X`` needs it elsewhere (it
    would end at once): so each listed object offers exactly one of them. Any object, task-relevant or not,
    passes the same test: choosing among them stays the LLM's job.
    """
    def runnable(call: SkillCall) -> bool:
        if call.skill == LOOK_AROUND:
            return True
        name = call.target.split(PLACE_ON, 1)[1] if call.skill == PLACE else call.target
        target = perception.find(name)
        if target is None:
            return False
        return at(perception, target) != (call.skill == NAVIGATE_TO)

    # In the order the description names the objects (the task's own first), looking around last.
    named = [o.name for o in task_objects(perception) + others_in_view(perception)]

    def position(call: SkillCall) -> int:
        if call.skill == LOOK_AROUND:
            return len(named)
        name = call.target.split(PLACE_ON, 1)[1] if call.skill == PLACE else call.target
        return named.index(name) if name in named else len(named)

    return sorted((call for call in candidate_skills(perception) if runnable(call)), key=position)
