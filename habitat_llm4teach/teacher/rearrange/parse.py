"""LLM plan text -> validated rearrangement skill calls (the sample planner's reader).

Owns the tolerant reading of "1. navigate to the apple, then pick up apple":
the text is cut into steps at line breaks, ``;``, ``,``, sentence ends, arrows
and "then"; in each step the first skill phrase counts (synonyms such as
``go to``, ``pick up``, ``put``), articles are ignored, and the target must be
one of the targets that skill may name (:func:`allowed_targets`: the candidate
skills' targets in this perception; the inference server uses the targets a
request carries, :func:`parse_steps`). Rejected steps are counted and logged at
debug level; nothing raises.
"""

from __future__ import annotations

import logging
import re
from typing import Mapping, Sequence

from habitat_llm4teach.teacher.rearrange.describe import LOOK_AROUND, NAVIGATE_TO, PICK, PLACE, PLACE_ON, candidate_skills
from habitat_llm4teach.teacher.rearrange.perception import RearrangePerception
from habitat_llm4teach.teacher.types import SkillCall

logger = logging.getLogger(__name__)

MAX_CHARS = 4000
_STEPS = re.compile(r"[\n;,]|\.(?=\s|$)|->|=>|\u2192|\bthen\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")
_ARTICLES = frozenset({"the", "a", "an"})
# Phrase words -> skill; at one position the longest phrase wins.
_PHRASES: dict[tuple[str, ...], str] = {
    ("look", "around"): LOOK_AROUND,
    ("navigate", "to"): NAVIGATE_TO,
    ("go", "to"): NAVIGATE_TO,
    ("move", "to"): NAVIGATE_TO,
    ("walk", "to"): NAVIGATE_TO,
    ("pick", "up"): PICK,
    ("pick",): PICK,
    ("grab",): PICK,
    ("place",): PLACE,
    ("put",): PLACE,
}
_LONGEST = max(len(p) for p in _PHRASES)


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _ARTICLES]


def _step(fragment: str, allowed: dict[str, list[str]]) -> SkillCall | None:
    words = _words(fragment)
    for start in range(len(words)):
        for length in range(_LONGEST, 0, -1):
            skill = _PHRASES.get(tuple(words[start : start + length]))
            if skill is None:
                continue
            rest = " ".join(words[start + length :])
            if skill == LOOK_AROUND:
                return SkillCall(LOOK_AROUND)
            if skill == PLACE:
                rest = rest.replace(" onto ", PLACE_ON).replace(" in ", PLACE_ON)
            # The longest allowed target the rest starts with.
            for target in sorted(allowed.get(skill, []), key=len, reverse=True):
                if rest == target or rest.startswith(target + " "):
                    return SkillCall(skill, target)
            return None
    return None


def allowed_targets(perception: RearrangePerception) -> dict[str, list[str]]:
    """The targets each skill may name in this perception: those of its candidate skills (``look around`` none)."""
    targets: dict[str, list[str]] = {LOOK_AROUND: []}
    for call in candidate_skills(perception):
        if call.target is not None:
            targets.setdefault(call.skill, []).append(call.target)
    return targets


def parse_plan(text: str, perception: RearrangePerception) -> tuple[list[SkillCall], int]:
    """The valid steps of an LLM plan, in order, and how many steps were rejected, read against a perception."""
    return parse_steps(text, allowed_targets(perception))


def parse_steps(text: str, targets: Mapping[str, Sequence[str]]) -> tuple[list[SkillCall], int]:
    """The valid steps of an LLM plan, in order, and how many steps were rejected; ``targets``: per skill, the
    targets a step may name (:func:`allowed_targets`)."""
    allowed = {skill: [" ".join(_words(t)) for t in names] for skill, names in targets.items()}
    names = {" ".join(_words(t)): t for skill_targets in targets.values() for t in skill_targets}
    steps, rejected = [], 0
    for fragment in _STEPS.split(text[:MAX_CHARS]):
        if not re.search("[a-z]", fragment.lower()):
            continue  # list numbers and punctuation
        call = _step(fragment, allowed)
        if call is None:
            rejected += 1
            logger.debug("rejected plan step %r of LLM output %r", fragment.strip(), text)
        else:
            steps.append(call if call.target is None else SkillCall(call.skill, names[call.target]))
    return steps, rejected
