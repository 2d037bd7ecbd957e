"""LLM plan text -> validated skill calls.

Owns the tolerant reading of what an LLM writes ("1. go to the yellow key",
"pick up yellow key, then open the yellow door", "Next skill: `toggle the
Yellow door.`") and its validation against the perception: every step must
name a known skill and an object the agent perceives (for ``drop``: holds).

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
from typing import Optional

from habitat_llm4teach.teacher.minigrid.perception import DOOR, KINDS, PICKABLE_KINDS
from habitat_llm4teach.teacher.minigrid.types import DROP, EXPLORE, GO_TO, OPEN, PICK_UP, PerceivedObject, Perception
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


def _targets(skill: str, perception: Perception) -> list[PerceivedObject]:
    """The objects a call of ``skill`` may name in this perception."""
    if skill == DROP:
        return [perception.holding] if perception.holding is not None else []
    if skill == PICK_UP:
        return [o for o in perception.objects if o.kind in PICKABLE_KINDS]
    if skill == OPEN:
        return [o for o in perception.objects if o.kind == DOOR]
    return list(perception.objects)


def _resolve(words: list[str], objects: list[PerceivedObject]) -> Optional[str]:
    """The object name the words start with, or the only name of a bare kind."""
    names = {o.name: o.kind for o in objects}
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


def _parse_step(fragment: str, perception: Perception) -> tuple[Optional[SkillCall], str]:
    """The skill call in one step fragment, or None and why not."""
    found = _find_skill(_words(fragment))
    if found is None:
        return None, "no known skill"
    skill, rest = found
    if skill == EXPLORE:
        return SkillCall(EXPLORE), ""
    objects = _targets(skill, perception)
    target = _resolve(rest, objects)
    if target is None:
        allowed = sorted({o.name for o in objects})
        return None, f"'{' '.join(rest)}' names no object to {skill} (could be: {allowed})"
    return SkillCall(skill, target), ""


def parse_plan(text: str, perception: Perception) -> tuple[list[SkillCall], int]:
    """The valid steps of an LLM plan, in order, and how many steps were rejected."""
    text = text[:MAX_CHARS]
    fragments = [f for f in _STEP_SEPARATORS.split(text) if _WORD.search(f.lower())]
    if len(fragments) > MAX_STEPS:
        logger.debug("plan has %d steps; reading the first %d of LLM output %r", len(fragments), MAX_STEPS, text)
        fragments = fragments[:MAX_STEPS]
    steps: list[SkillCall] = []
    rejected = 0
    for fragment in fragments:
        call, reason = _parse_step(fragment, perception)
        if call is None:
            rejected += 1
            logger.debug("rejected plan step %r: %s; LLM output %r", fragment.strip(), reason, text)
        else:
            steps.append(call)
    return steps, rejected
