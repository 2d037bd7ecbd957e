"""Perception -> prompt text and the candidate skills for rearrangement.

Owns the description format, e.g. ``Robot sees <apple> (1.2 m ahead, left),
<kitchen counter> (2.0 m right); holds <nothing>. Task: pick the apple.``, and
the skill vocabulary the LLM chooses from: ``navigate to <x>``, ``pick <x>``,
``place <x> on <y>`` and ``look around``. Both are deterministic, so the plan
cache can key on the text; distances are rounded to ``DISTANCE_STEP_M`` and
directions fall into a few sectors, which bounds how many distinct texts a
training run produces.
"""

from __future__ import annotations

import math

from habitat_llm4teach.envs.rearrange.perception import RearrangePerception, SeenObject
from habitat_llm4teach.teacher.types import SkillCall

# Skill vocabulary.
LOOK_AROUND = "look around"
NAVIGATE_TO = "navigate to"
PICK = "pick"
PLACE = "place"
SKILL_NAMES = (LOOK_AROUND, NAVIGATE_TO, PICK, PLACE)
PLACE_ON = " on "  # a place call's target is "<object> on <receptacle>"

NOTHING = "nothing"
DISTANCE_STEP_M = 0.1
# The arm reaches what is this close (floor distance from the head camera, ~0.16 m ahead of the base centre, to the
# object's near edge) and ahead: in the simulator the Fetch arm brings its suction cup to objects ~1.1 m ahead of the
# base centre at table height (tests/sim), and a table edge often keeps the base ~1 m from objects on it.
REACH_M = 1.0
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


def within_reach(obj: SeenObject) -> bool:
    return obj.distance - obj.radius <= REACH_M and abs(math.degrees(obj.bearing)) <= SIDE_DEG


def where(obj: SeenObject) -> str:
    distance = round(obj.distance / DISTANCE_STEP_M) * DISTANCE_STEP_M
    text = f"{distance:.1f} m {direction(obj.bearing)}"
    return f"{text}, within reach" if within_reach(obj) else text


def _in_view(perception: RearrangePerception) -> list[SeenObject]:
    seen = list(perception.objects)
    if perception.goal is not None and perception.goal.visible:
        seen.append(perception.goal)
    return sorted(seen, key=lambda o: (round(o.distance, 3), o.name))


def describe(perception: RearrangePerception) -> str:
    """What the head camera sees (nearest first, with where), what the robot holds, and the task."""
    seen = [f"<{o.name}> ({where(o)})" for o in _in_view(perception)] or [f"<{NOTHING}>"]
    held = perception.holding.name if perception.holding is not None else NOTHING
    text = f"Robot sees {', '.join(seen)}; holds <{held}>."
    for located in (perception.target_object, perception.goal):  # the task's sensors locate these, seen or not
        if located is not None and not located.visible:
            text += f" <{located.name}> is out of view ({where(located)})."
    return f"{text} Task: {perception.mission}."


def candidate_skills(perception: RearrangePerception) -> list[SkillCall]:
    """Every skill a plan may name here (the parser's vocabulary): ``look around`` first; ``navigate to``
    every seen object and the goal; ``pick`` seen objects with free hands; ``place`` the held object on
    the goal and on seen receptacles."""
    in_view = _in_view(perception)
    calls = [SkillCall(LOOK_AROUND)]
    located = [o for o in (perception.target_object, perception.goal) if o is not None and not o.visible]
    targets = [o.name for o in in_view + located]
    calls += [SkillCall(NAVIGATE_TO, name) for name in dict.fromkeys(targets)]
    if perception.holding is None:
        calls += [SkillCall(PICK, o.name) for o in in_view + located if not o.is_receptacle]
    else:
        receptacles = [perception.goal.name] if perception.goal is not None else []
        receptacles += [o.name for o in in_view if o.is_receptacle]
        calls += [SkillCall(PLACE, f"{perception.holding.name}{PLACE_ON}{r}") for r in dict.fromkeys(receptacles)]
    return calls


def next_skills(perception: RearrangePerception) -> list[SkillCall]:
    """The candidates that can run now (SayCan-style affordances), offered to the LLM as its next skill.

    ``pick X`` and ``place ... on Y`` need X or Y within reach (the skills' own precondition); without
    this the 1.5B model placed on goals metres away. Any object, task-relevant or not, passes the same
    test: choosing among them stays the LLM's job.
    """
    def runnable(call: SkillCall) -> bool:
        if call.skill not in (PICK, PLACE):
            return True
        name = call.target.split(PLACE_ON, 1)[1] if call.skill == PLACE else call.target
        target = perception.find(name)
        return target is not None and within_reach(target)

    return [call for call in candidate_skills(perception) if runnable(call)]
