"""Perception -> prompt text and the skills the LLM may choose from.

Owns the description format (``Agent sees <yellow key>, <yellow door (locked)>,
holds <nothing>. Goal: open the door.``), which ``scene.py`` reads back, the
candidate next skills offered with it and what each of them does toward the
mission (``skill_effects``: relations a 1.5B model misreads from colour words
alone, stated for any mission). All are deterministic: equal perceptions give
equal text, so the plan cache can key on it.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

from minigrid.core.constants import COLOR_NAMES

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


# What a mission names for the agent to take, in the phrasings of MiniGrid's and BabyAI's own mission grammars:
# "pick up the purple ball" / "pick up a key" (KeyCorridor, UnlockPickup, BabyAI Pickup), Fetch's five "get a",
# "go get a", "fetch a", "go fetch a", "you must fetch a" + colour + kind, "get the red key from the ..." (LockedRoom)
# and "put the yellow ball near/next to ..." (PutNear, BabyAI PutNext: the object to move is taken first). "get to the
# goal" names no object: an article or a colour must follow the verb.
_TAKE_MISSION = re.compile(
    rf"\b(?:pick up|get|fetch|put) (?:the |a |an )?"
    rf"(?:(?P<color>{'|'.join(COLOR_NAMES)}) )?(?P<kind>{'|'.join(PICKABLE_KINDS)})\b"
)


def mission_object(mission: str) -> Optional[tuple[str, str]]:
    """(kind, colour or "") of the object the mission says to pick up, fetch, get or move, if it says so."""
    match = _TAKE_MISSION.search(mission.lower())
    return (match["kind"], match["color"] or "") if match else None


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


def skill_effects(perception: Perception, candidates: Sequence[SkillCall]) -> str:
    """``Effects: ...``: what each of ``candidates`` (:func:`candidate_skills` of ``perception``) but explore does
    toward the mission (``""`` if none but explore is offered).

    Each effect follows from what is seen and held and from the mission text alone, for any MiniGrid mission:
    picking up what the mission names "does what the goal asks"; a key whose locked door is seen "gets the key of"
    it, any key while no locked door is seen "gets a key for a door not seen yet"; every other ball, box or key is
    "not needed"; ``open`` opens a locked door "with the key you hold" or a closed one with "no key needed" (it is
    offered only when it can); ``go to`` "reaches the goal square"; ``drop`` "frees your hands to pick up" a seen key
    of a locked door or the mission's object, unless the held key opens a seen locked door. The 1.5B model misread
    these relations from colour words alone (minigrid-v5) and from facts about the objects rather than the skills
    (minigrid-v6), on the dev set.
    """
    held = perception.holding
    ordered = sorted(perception.objects, key=_order)
    locked_doors = {o.name for o in ordered if o.kind == DOOR and o.state == DOOR_LOCKED}
    keys_of_locked = {door.replace(DOOR, KEY) for door in locked_doors}
    target = mission_object(perception.mission)

    def named_by_mission(obj: PerceivedObject) -> bool:
        return target is not None and obj.kind == target[0] and (not target[1] or obj.color == target[1])

    wanted = [o.name for o in ordered if named_by_mission(o) or (o.kind == KEY and o.name in keys_of_locked)]
    effects = []
    for call in candidates:
        if call.skill == PICK_UP:
            obj = next(o for o in ordered if o.name == call.target)
            if named_by_mission(obj):
                effect = "does what the goal asks"
            elif obj.kind == KEY and obj.name in keys_of_locked:
                effect = f"gets the key of the locked {obj.name.replace(KEY, DOOR)}"
            elif obj.kind == KEY and not keys_of_locked:
                effect = "gets a key for a door not seen yet"
            else:
                effect = "not needed"
        elif call.skill == OPEN:
            effect = "opens it with the key you hold" if call.target in locked_doors else "opens it, no key needed"
        elif call.skill == GO_TO:
            effect = "reaches the goal square"
        elif call.skill == DROP:
            freed_for = [name for name in wanted if name != held.name]
            keeps_a_door_key = held.name in keys_of_locked
            effect = f"frees your hands to pick up the {freed_for[0]}" if freed_for and not keeps_a_door_key else "not needed"
        else:  # explore: what it finds is unknown
            continue
        effects.append(f"{call} {effect}")
    return f"Effects: {'; '.join(effects)}." if effects else ""
