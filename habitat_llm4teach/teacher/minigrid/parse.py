"""LLM plan text -> validated skill calls.

Owns the tolerant reading of what an LLM writes ("1. go to the yellow key",
"pick up yellow key, then open the yellow door", "Next skill: `toggle the
Yellow door.`") and its validation against the names each skill may target
(:func:`allowed_targets`: objects the agent perceives; for ``drop``: holds).
The inference server validates with the targets a request carries
(:func:`parse_steps`); :func:`parse_plan` reads against a perception.

The text is cut into steps at line breaks, ``;``, ``,``, sentence ends,
arrows and the words "then" / "and". In each step the first skill phrase
counts, articles and punctuation are ignored, and the target is the longest
run of words after it that names a fitting object (a bare kind such as "door"
names the only object of that kind). Steps that fail are rejected, counted and
logged at debug level with the raw text; nothing raises. Zero valid steps is
how "no guidance" reaches the planner.
"""

from __future__ import annotations

import logging
import re
from typing import Mapping, Optional, Sequence

from habitat_llm4teach.teacher.minigrid.perception import DOOR, KINDS, PICKABLE_KINDS
from habitat_llm4teach.teacher.minigrid.types import DROP, EXPLORE, GO_TO, OPEN, PICK_UP, Perception
from habitat_llm4teach.teacher.types import SkillCall

logger = logging.getLogger(__name__)

MAX_CHARS = 4000  # longer LLM output is cut before parsing
MAX_STEPS = 16  # step fragments read per output; later ones are ignored

_STEP_SEPARATORS = re.compile(r"[\n;,]|\.(?=\s|$)|->|=>|\u2192|\b(?:then|and)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z]+")
_ARTICLES = frozenset({"the", "a", "an"})
_SPELLINGS = {"gray": "grey"}
# Skill phrases as word tuples; at one position the longest phrase wins.
_SKILL_PHRASES: dict[tuple[str, ...], str] = {
    ("explore",): EXPLORE,
    ("go", "to"): GO_TO,
    ("goto",): GO_TO,
    ("move", "to"): GO_TO,
    ("walk", "to"): GO_TO,
    ("pick", "up"): PICK_UP,
    ("pickup",): PICK_UP,
    ("grab",): PICK_UP,
    ("drop",): DROP,
    ("put", "down"): DROP,
    ("open",): OPEN,
    ("toggle",): OPEN,
    ("unlock",): OPEN,
}
_LONGEST_PHRASE = max(len(p) for p in _SKILL_PHRASES)


def _words(fragment: str) -> list[str]:
    words = (_SPELLINGS.get(w, w) for w in _WORD.findall(fragment.lower()))
    return [w for w in words if w not in _ARTICLES]


def _find_skill(words: list[str]) -> Optional[tuple[str, list[str]]]:
    """The first skill phrase in ``words`` and the words after it."""
    for start in range(len(words)):
        for length in range(_LONGEST_PHRASE, 0, -1):
            skill = _SKILL_PHRASES.get(tuple(words[start : start + length]))
            if skill is not None:
                return skill, words[start + length :]
    return None


def allowed_targets(perception: Perception) -> dict[str, list[str]]:
    """The object names each skill may target in this perception (``explore`` none), each name once."""
    def names(objects) -> list[str]:  # noqa: ANN001
        return list(dict.fromkeys(o.name for o in objects))

    return {
        EXPLORE: [],
        GO_TO: names(perception.objects),
        PICK_UP: names(o for o in perception.objects if o.kind in PICKABLE_KINDS),
        DROP: [perception.holding.name] if perception.holding is not None else [],
        OPEN: names(o for o in perception.objects if o.kind == DOOR),
    }


def _kind(name: str) -> str:
    return name.split()[-1]  # "yellow key" -> key, "lava" -> lava


def _resolve(words: list[str], allowed: Sequence[str]) -> Optional[str]:
    """The object name the words start with, or the only name of a bare kind."""
    names = {name: _kind(name) for name in allowed}
    longest = max((len(n.split()) for n in names), default=0)
    for length in range(min(longest, len(words)), 0, -1):
        candidate = " ".join(words[:length])
        if candidate in names:
            return candidate
    if words and words[0] in KINDS:
        of_kind = [name for name, kind in names.items() if kind == words[0]]
        if len(of_kind) == 1:
            return of_kind[0]
    return None


def _parse_step(fragment: str, targets: Mapping[str, Sequence[str]]) -> tuple[Optional[SkillCall], str]:
    """The skill call in one step fragment, or None and why not."""
    found = _find_skill(_words(fragment))
    if found is None:
        return None, "no known skill"
    skill, rest = found
    if skill == EXPLORE:
        return SkillCall(EXPLORE), ""
    allowed = targets.get(skill, ())
    target = _resolve(rest, allowed)
    if target is None:
        return None, f"'{' '.join(rest)}' names no object to {skill} (could be: {sorted(set(allowed))})"
    return SkillCall(skill, target), ""


def parse_plan(text: str, perception: Perception) -> tuple[list[SkillCall], int]:
    """The valid steps of an LLM plan, in order, and how many steps were rejected, read against a perception."""
    return parse_steps(text, allowed_targets(perception))


def parse_steps(text: str, targets: Mapping[str, Sequence[str]]) -> tuple[list[SkillCall], int]:
    """The valid steps of an LLM plan, in order, and how many steps were rejected; ``targets``: per skill, the
    names a step may target (:func:`allowed_targets`)."""
    text = text[:MAX_CHARS]
    fragments = [f for f in _STEP_SEPARATORS.split(text) if _WORD.search(f.lower())]
    if len(fragments) > MAX_STEPS:
        logger.debug("plan has %d steps; reading the first %d of LLM output %r", len(fragments), MAX_STEPS, text)
        fragments = fragments[:MAX_STEPS]
    steps: list[SkillCall] = []
    rejected = 0
    for fragment in fragments:
        call, reason = _parse_step(fragment, targets)
        if call is None:
            rejected += 1
            logger.debug("rejected plan step %r: %s; LLM output %r", fragment.strip(), reason, text)
        else:
            steps.append(call)
    return steps, rejected
