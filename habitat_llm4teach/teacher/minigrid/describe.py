"""Perception -> prompt text and the skills the LLM may choose from.

Owns the description format (``Agent sees <yellow key>, <yellow door (locked)>,
holds <nothing>. Goal: open the door.``), which ``scene.py`` reads back, and the
candidate next skills offered with it. Both are deterministic: equal
perceptions give equal text, so the plan cache can key on it.
"""

from __future__ import annotations

from habitat_llm4teach.teacher.minigrid.perception import DOOR, DOOR_CLOSED, DOOR_LOCKED, DOOR_OPEN, GOAL, KINDS, PICKABLE_KINDS
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
