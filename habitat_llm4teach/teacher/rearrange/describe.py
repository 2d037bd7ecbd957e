"""Perception -> prompt text and the candidate skills for rearrangement.

Owns the description format and the skill vocabulary the LLM chooses from:
``navigate to <x>``, ``pick <x>``, ``place <x> on <y>`` and ``look around``. A
description leads with the task, what the robot holds and whether the task's own
objects (its sensors locate them, seen or not) are within reach, then lists the
other objects in view that are within reach too::

    Task: pick the apple. You hold nothing. <apple>: out of reach.
    Also within reach: <bowl>, <kitchen counter>.

It says only what the next skill depends on: "within reach" is ``reach.at`` (the
robot is at the object, facing it: the test navigation ends on and pick / place
start from), and an object elsewhere is a target only if the task names it.
Distances, directions and the far objects in view change at nearly every step
and choose no skill; the plan cache keys on the text, so leaving them out is what
lets one LLM call serve a whole stretch of an episode. On pick and place
training runs on the simulator (2 envs x 384 steps each), rearrange-v5, which
gave 0.5 m distance steps, direction sectors and the 4 nearest objects in view,
made 843 distinct descriptions of 1536; this format makes 100.
"""

from __future__ import annotations

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
WITHIN_REACH, OUT_OF_REACH = "within reach", "out of reach"
MAX_OTHERS = 4  # other objects within reach listed (the nearest): more only lengthen the prompt and the candidates


def where(perception: RearrangePerception, obj: SeenObject) -> str:
    """``within reach`` (the robot is at ``obj``: ``reach.at``) or ``out of reach``."""
    return WITHIN_REACH if at(perception, obj) else OUT_OF_REACH


def task_objects(perception: RearrangePerception) -> list[SeenObject]:
    """The task's own objects the robot does not hold: the target, then (place) the goal."""
    return [o for o in (perception.target_object, perception.goal) if o is not None]


def others_within_reach(perception: RearrangePerception) -> list[SeenObject]:
    """The ``MAX_OTHERS`` nearest seen objects within reach that are not the task's own, in name order (so the
    text does not change when two of them swap distances)."""
    own = {o.name for o in task_objects(perception)}
    near = [o for o in perception.objects if o.name not in own and at(perception, o)][:MAX_OTHERS]
    return sorted(near, key=lambda o: o.name)


def describe(perception: RearrangePerception) -> str:
    """The task, what the robot holds, whether the task's objects are within reach, and what else is."""
    held = f"<{perception.holding.name}>" if perception.holding is not None else NOTHING
    text = f"Task: {perception.mission}. You hold {held}."
    for obj in task_objects(perception):
        text += f" <{obj.name}>: {where(perception, obj)}."
    others = [f"<{o.name}>" for o in others_within_reach(perception)]
    if others:
        return f"{text} Also within reach: {', '.join(others)}."
    return f"{text} Nothing else within reach." if task_objects(perception) else f"{text} Nothing within reach."


def candidate_skills(perception: RearrangePerception) -> list[SkillCall]:
    """Every skill a plan may name here (the parser's vocabulary): ``look around`` first; ``navigate to`` every
    listed object; ``pick`` listed objects with free hands; ``place`` the held object on the goal and on listed
    receptacles."""
    listed = task_objects(perception) + others_within_reach(perception)
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
    named = [o.name for o in task_objects(perception) + others_within_reach(perception)]

    def position(call: SkillCall) -> int:
        if call.skill == LOOK_AROUND:
            return len(named)
        name = call.target.split(PLACE_ON, 1)[1] if call.skill == PLACE else call.target
        return named.index(name) if name in named else len(named)

    return sorted((call for call in candidate_skills(perception) if runnable(call)), key=position)
