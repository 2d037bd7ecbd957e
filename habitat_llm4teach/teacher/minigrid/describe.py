"""Perception -> prompt text and the skills the LLM may choose from.

Owns the description format (``Agent sees <yellow key>, <yellow door (locked)>,
holds <nothing>. Goal: open the door.``), which ``scene.py`` reads back, the
facts the LLM is told with it (which seen key opens which locked door, whether
what the mission names is seen: relations a 1.5B model misreads from colour
words alone, stated for any mission) and the candidate next skills offered
with it. All are deterministic: equal perceptions give equal text, so the plan
cache can key on it.
"""

from __future__ import annotations

import re
from typing import Optional

from habitat_llm4teach.teacher.minigrid.perception import DOOR, DOOR_CLOSED, DOOR_LOCKED, DOOR_OPEN, GOAL, KEY, KINDS, PICKABLE_KINDS
from habitat_llm4teach.teacher.minigrid.skills.open import can_open
from habitat_llm4teach.teacher.minigrid.types import DROP, EXPLORE, GO_TO, OPEN, PICK_UP, PerceivedObject, Perception
from habitat_llm4teach.teacher.types import SkillCall

NOTHING = "nothing"
_STATE_ORDER = (DOOR_OPEN, DOOR_CLOSED, DOOR_LOCKED, None)


def _order(obj: PerceivedObject) -> tuple[int, str, int]:
    return KINDS.index(obj.kind), obj.color, _STATE_ORDER.index(obj.state)


def _token(obj: PerceivedObject) -> str:
    return f"<{obj.name} ({obj.state})>" if obj.kind == DOOR else f"<{obj.name}>"


def _unique_names(objects: list[PerceivedObject]) -> list[str]:
    """Names in the given order, each once (two yellow doors make one ``open yellow door``)."""
    return list(dict.fromkeys(o.name for o in objects))


def describe(perception: Perception) -> str:
    """Objects by kind then colour, each shown once (doors with their state), the held object and the goal."""
    ordered = sorted(perception.objects, key=_order)
    seen = list(dict.fromkeys(_token(o) for o in ordered)) or [f"<{NOTHING}>"]
    held = perception.holding.name if perception.holding is not None else NOTHING
    text = f"Agent sees {', '.join(seen)}, holds <{held}>."
    mission = perception.mission.strip().rstrip(".")
    return f"{text} Goal: {mission}." if mission else text


# What a MiniGrid mission names for the agent to pick up ("pick up the purple ball", "pick up a key") or reach.
_PICK_MISSION = re.compile(r"\bpick up (?:the |a |an )?(?:(?P<color>red|green|blue|purple|yellow|grey) )?(?P<kind>key|ball|box)\b")
_GOAL_MISSION = re.compile(r"\bgoal\b")


def mission_object(mission: str) -> Optional[tuple[str, str]]:
    """(kind, colour or "") of the object the mission says to pick up, if it says so."""
    match = _PICK_MISSION.search(mission.lower())
    return (match["kind"], match["color"] or "") if match else None


def facts(perception: Perception) -> str:
    """``Facts: ...``: for each seen locked door whether its key is held, seen or not seen; what the mission names,
    when seen ("" if nothing to state)."""
    held = perception.holding
    found: list[str] = []
    locked = _unique_names([o for o in sorted(perception.objects, key=_order) if o.kind == DOOR and o.state == DOOR_LOCKED])
    key_names = {o.name for o in perception.objects if o.kind == KEY}
    for door in locked:
        key = door.replace(DOOR, KEY)
        if held is not None and held.name == key:
            found.append(f"the {key} you hold opens the locked {door}")
        elif key in key_names:
            found.append(f"the {key} you see opens the locked {door}")
        else:
            found.append(f"the key of the locked {door} is not seen")
    # What the mission names is stated only when seen: "not seen" facts drew the model to explore although a key
    # or door it could use was in view (dev set).
    target = mission_object(perception.mission)
    if target is not None:
        kind, color = target
        if any(o.kind == kind and (not color or o.color == color) for o in perception.objects):
            found.append(f"the goal names the {color + ' ' if color else ''}{kind}, which you see")
    elif _GOAL_MISSION.search(perception.mission.lower()) and any(o.kind == GOAL for o in perception.objects):
        found.append("the goal square is seen")
    return f"Facts: {'; '.join(found)}." if found else ""


def candidate_skills(perception: Perception) -> list[SkillCall]:
    """The skills whose preconditions hold now (SayCan-style affordances), in a fixed order.

    ``open`` is offered for a closed door, or a locked one when the agent holds the key of
    its colour (the open skill's own precondition); ``pick up`` only with free hands. The
    order (explore first) is the one the prompt was tuned with (see scripts/bench_teacher.py).
    """
    ordered = sorted(perception.objects, key=_order)
    held = perception.holding
    calls = [SkillCall(EXPLORE)]
    if held is None:
        pickable = [o for o in ordered if o.kind in PICKABLE_KINDS]
        calls += [SkillCall(PICK_UP, name) for name in _unique_names(pickable)]
    openable = [o for o in ordered if o.kind == DOOR and o.state != DOOR_OPEN and can_open(o, held)]
    calls += [SkillCall(OPEN, name) for name in _unique_names(openable)]
    goals = [o for o in ordered if o.kind == GOAL]
    calls += [SkillCall(GO_TO, name) for name in _unique_names(goals)]
    if held is not None:
        calls.append(SkillCall(DROP, held.name))
    return calls
